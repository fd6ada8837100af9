// SPDX-License-Identifier: GPL-2.0
/*
 * Data path of the loop driver: what is written through /dev/loopN must
 * land in the backing file at (lo_offset + position), nowhere else, and
 * read back the same, for each logical block size, buffered and O_DIRECT.
 *
 * Every test keeps an in-memory model of the device contents and compares
 * the whole device (through its page cache and with O_DIRECT) and the whole
 * backing file against it.
 */
#include <stdbool.h>
#include <sys/wait.h>
#include <linux/fs.h>

#include "loop_util.h"
#include "loop_harness.h"

#define DATA_NR		242		/* see TEST_NR in ioctl_test.c */
#define MIB		(1024 * 1024)
#define FILE_SIZE	(8 * MIB)
#define FILE_SEED	7		/* pattern the backing file starts with */
#define CHUNK		MIB
#define SLOW_TIMEOUT	600		/* seconds: the VM may be emulated */

/* The fixture's state, as a named type the helpers can take. */
struct ldev {
	int ctl;
	int nr;
	int fd;			/* /dev/loopN, buffered */
	int dfd;		/* /dev/loopN, O_DIRECT */
	int bfd;		/* backing file */
	char file[PATH_MAX];
	off_t file_size;
	off_t offset;		/* lo_offset of the binding */
	size_t size;		/* device size in bytes */
	uint8_t *model;		/* what the device must contain */
	void *buf;		/* CHUNK bytes, page aligned */
};

FIXTURE(ldata) {
	struct ldev d;
};

FIXTURE_VARIANT(ldata) {
	unsigned int bs;	/* logical block size given to LOOP_CONFIGURE */
};

FIXTURE_VARIANT_ADD(ldata, bs512) { .bs = 512 };
FIXTURE_VARIANT_ADD(ldata, bs1024) { .bs = 1024 };
FIXTURE_VARIANT_ADD(ldata, bs4096) { .bs = 4096 };

FIXTURE_SETUP(ldata)
{
	struct ldev *d = &self->d;

	d->fd = -1;
	d->dfd = -1;
	d->bfd = -1;
	d->ctl = ctl_open();
	ASSERT_LE(0, d->ctl);
	d->nr = DATA_NR;
	ASSERT_EQ(DATA_NR, ctl_add_fixed(d->ctl, DATA_NR));
	d->fd = loop_open(d->nr, O_RDWR);
	ASSERT_LE(0, d->fd);
	d->file_size = FILE_SIZE;
	d->bfd = make_backing(d->file, sizeof(d->file), FILE_SIZE, FILE_SEED);
	ASSERT_LE(0, d->bfd) TH_LOG("backing file in %s: %s", test_dir(),
				    strerror(-d->bfd));
	ASSERT_EQ(0, posix_memalign(&d->buf, 4096, CHUNK));
}

FIXTURE_TEARDOWN(ldata)
{
	struct ldev *d = &self->d;

	if (d->dfd >= 0)
		close(d->dfd);
	if (d->fd >= 0) {
		ioctl(d->fd, LOOP_CLR_FD, 0);
		close(d->fd);
	}
	loop_force_detach(d->nr);
	ctl_remove_retry(d->ctl, d->nr);
	close(d->ctl);
	if (d->bfd >= 0)
		close(d->bfd);
	unlink(d->file);
	free(d->model);
	free(d->buf);
}

/* Bind with LOOP_CONFIGURE and load the model from the backing file. */
static void loop_bind(struct __test_metadata *_metadata,
		      struct ldev *d, unsigned int bs,
		      off_t offset, off_t sizelimit)
{
	struct loop_config cfg;
	unsigned long long bytes;

	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = d->bfd;
	cfg.block_size = bs;
	cfg.info.lo_offset = offset;
	cfg.info.lo_sizelimit = sizelimit;
	ASSERT_EQ(0, ioctl_err(d->fd, LOOP_CONFIGURE, (unsigned long)&cfg));
	ASSERT_EQ(0, ioctl(d->fd, BLKGETSIZE64, &bytes));
	d->offset = offset;
	d->size = bytes;
	ASSERT_EQ((long long)(bytes >> 9), sysfs_read_ll(d->nr, "size"));

	d->dfd = loop_open(d->nr, O_RDWR | O_DIRECT);
	ASSERT_LE(0, d->dfd);
	d->model = malloc(d->size);
	ASSERT_NE(NULL, d->model);
	pattern_fill(d->model, d->size, FILE_SEED, offset);
}

static bool aligned(unsigned int bs, off_t pos, size_t len)
{
	return !((pos | len) & (bs - 1));
}

/* Write pattern @seed at device position @pos and record it in the model. */
static void dev_write(struct __test_metadata *_metadata,
		      struct ldev *d, bool direct, off_t pos,
		      size_t len, uint32_t seed)
{
	size_t done, n;

	for (done = 0; done < len; done += n) {
		n = len - done < CHUNK ? len - done : CHUNK;
		pattern_fill(d->buf, n, seed, pos + done);
		ASSERT_EQ((ssize_t)n, pwrite_full(direct ? d->dfd : d->fd,
						  d->buf, n, pos + done))
			TH_LOG("%s write of %zu at %lld", direct ? "direct" :
			       "buffered", n, (long long)(pos + done));
		memcpy(d->model + pos + done, d->buf, n);
	}
}

/* Compare @len bytes of @fd at @pos with @want, in chunks. */
static void compare_fd(struct __test_metadata *_metadata,
		       struct ldev *d, int fd, const char *what,
		       off_t pos, const uint8_t *want, size_t len)
{
	size_t done, n, i;

	for (done = 0; done < len; done += n) {
		n = len - done < CHUNK ? len - done : CHUNK;
		ASSERT_EQ((ssize_t)n, pread_full(fd, d->buf, n, pos + done))
			TH_LOG("%s: read %zu at %lld", what, n,
			       (long long)(pos + done));
		if (!memcmp(d->buf, want + done, n))
			continue;
		for (i = 0; ((uint8_t *)d->buf)[i] == want[done + i]; i++)
			;
		ASSERT_TRUE(false) TH_LOG("%s: first difference at byte %lld",
					  what, (long long)(pos + done + i));
	}
}

/* The backing file outside the window must still hold the start pattern. */
static void check_outside(struct __test_metadata *_metadata,
			  struct ldev *d)
{
	off_t end = d->offset + d->size;
	uint8_t *want;

	want = malloc(d->file_size);
	ASSERT_NE(NULL, want);
	pattern_fill(want, d->file_size, FILE_SEED, 0);
	compare_fd(_metadata, d, d->bfd, "file before window", 0, want,
		   d->offset);
	compare_fd(_metadata, d, d->bfd, "file after window", end,
		   want + end, d->file_size - end);
	free(want);
}

/*
 * Flush the device, drop its page cache, and compare the device (cached and
 * O_DIRECT) and the backing file with the model.
 */
static void verify(struct __test_metadata *_metadata,
		   struct ldev *d)
{
	ASSERT_EQ(0, fsync(d->fd));
	ASSERT_EQ(0, ioctl(d->fd, BLKFLSBUF, 0));
	compare_fd(_metadata, d, d->dfd, "device O_DIRECT", 0,
		   d->model, d->size);
	compare_fd(_metadata, d, d->fd, "device buffered", 0,
		   d->model, d->size);
	compare_fd(_metadata, d, d->bfd, "backing file", d->offset,
		   d->model, d->size);
	check_outside(_metadata, d);
}

static const struct {
	off_t pos;
	size_t len;
} writes[] = {
	{ 0, 512 },
	{ 512 * 7, 1536 },		/* sub-page, straddles a page */
	{ 8192, 1024 },
	{ 4096 * 3, 4096 },
	{ 65536, 4096 * 3 },
	{ 131072 + 512, 65536 },
	{ MIB, MIB },
	{ 3 * MIB + 100, 777 },	/* not even sector aligned */
	{ 5 * MIB, 65536 },
	{ 8 * MIB - 4096, 4096 },	/* the last page */
};

TEST_F_TIMEOUT(ldata, buffered_writes_reach_backing_file, SLOW_TIMEOUT)
{
	struct ldev *d = &self->d;
	unsigned int i;

	loop_bind(_metadata, d, variant->bs, 0, 0);
	ASSERT_EQ(FILE_SIZE, d->size);
	for (i = 0; i < ARRAY_SIZE(writes); i++)
		dev_write(_metadata, d, false, writes[i].pos,
			  writes[i].len, 100 + i);
	verify(_metadata, d);
}

TEST_F_TIMEOUT(ldata, direct_writes_reach_backing_file, SLOW_TIMEOUT)
{
	struct ldev *d = &self->d;
	unsigned int i, done = 0;

	loop_bind(_metadata, d, variant->bs, 0, 0);
	for (i = 0; i < ARRAY_SIZE(writes); i++) {
		if (!aligned(variant->bs, writes[i].pos, writes[i].len))
			continue;
		dev_write(_metadata, d, true, writes[i].pos,
			  writes[i].len, 200 + i);
		done++;
	}
	ASSERT_LE(5, done);
	verify(_metadata, d);
}

/* lo_offset/lo_sizelimit: the device is a window into the file. */
TEST_F_TIMEOUT(ldata, offset_sizelimit_window, SLOW_TIMEOUT)
{
	struct ldev *d = &self->d;

	loop_bind(_metadata, d, variant->bs, MIB, 2 * MIB);
	ASSERT_EQ(2 * MIB, d->size);
	dev_write(_metadata, d, false, 0, d->size, 300);
	verify(_metadata, d);
	dev_write(_metadata, d, true, 0, d->size, 301);
	verify(_metadata, d);
}

/*
 * At the end of the device: reads return 0, writes ENOSPC, and I/O that
 * straddles the end is cut short (block layer, blkdev_{read,write}_iter).
 */
TEST_F_TIMEOUT(ldata, io_at_end_of_device, SLOW_TIMEOUT)
{
	struct ldev *d = &self->d;
	size_t bs = variant->bs;
	off_t end;

	loop_bind(_metadata, d, variant->bs, 0, 4 * MIB);
	end = d->size;
	ASSERT_EQ(4 * MIB, end);

	ASSERT_EQ(0, pread(d->fd, d->buf, 4096, end));
	ASSERT_EQ(0, pread(d->fd, d->buf, 4096, end + MIB));
	ASSERT_EQ(0, pread(d->dfd, d->buf, bs, end));
	ASSERT_EQ(-1, pwrite(d->fd, d->buf, 512, end));
	ASSERT_EQ(ENOSPC, errno);
	ASSERT_EQ(-1, pwrite(d->dfd, d->buf, bs, end));
	ASSERT_EQ(ENOSPC, errno);
	ASSERT_EQ(-1, pwrite(d->fd, d->buf, 512, end + MIB));
	ASSERT_EQ(ENOSPC, errno);

	/* straddling: short read and short write */
	ASSERT_EQ(1024, pread(d->fd, d->buf, 4096, end - 1024));
	ASSERT_EQ((ssize_t)bs, pread(d->dfd, d->buf, 2 * bs, end - bs));
	pattern_fill(d->buf, 4096, 400, end - 1024);
	ASSERT_EQ(1024, pwrite(d->fd, d->buf, 4096, end - 1024));
	memcpy(d->model + end - 1024, d->buf, 1024);
	ASSERT_EQ(0, fsync(d->fd));

	pattern_fill(d->buf, 2 * bs, 401, end - 2 * bs);
	ASSERT_EQ((ssize_t)(2 * bs),
		  pwrite(d->dfd, d->buf, 3 * bs, end - 2 * bs));
	memcpy(d->model + end - 2 * bs, d->buf, 2 * bs);
	verify(_metadata, d);
}

/* O_DIRECT I/O not aligned to the logical block size fails with EINVAL. */
TEST_F_TIMEOUT(ldata, unaligned_direct_io_einval, SLOW_TIMEOUT)
{
	struct ldev *d = &self->d;
	size_t bs = variant->bs;
	size_t small = bs > 512 ? 512 : 256;
	uint8_t *p = d->buf;

	loop_bind(_metadata, d, variant->bs, 0, 0);
	pattern_fill(p, 2 * bs, 500, 0);

	/* misaligned position */
	ASSERT_EQ(-1, pread(d->dfd, p, bs, small));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, pwrite(d->dfd, p, bs, small));
	ASSERT_EQ(EINVAL, errno);
	/* misaligned length */
	ASSERT_EQ(-1, pread(d->dfd, p, small, 0));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, pwrite(d->dfd, p, bs + small, 0));
	ASSERT_EQ(EINVAL, errno);
	/* misaligned memory (the queue's DMA alignment is 512 bytes) */
	ASSERT_EQ(-1, pwrite(d->dfd, p + 1, bs, 0));
	ASSERT_EQ(EINVAL, errno);
	/* aligned works */
	ASSERT_EQ((ssize_t)bs, pwrite(d->dfd, p, bs, bs));
	memcpy(d->model + bs, p, bs);
	verify(_metadata, d);
}

/* Tiny deterministic PRNG, so a failure can be replayed. */
static uint32_t xorshift32(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* Random positions and sizes, buffered and direct mixed, vs. the model. */
TEST_F_TIMEOUT(ldata, random_writes_match_model, SLOW_TIMEOUT)
{
	struct ldev *d = &self->d;
	uint32_t rng = 0x12345678 ^ variant->bs;
	size_t bs = variant->bs;
	unsigned int i;

	loop_bind(_metadata, d, variant->bs, 4096, 0);
	for (i = 0; i < 200; i++) {
		bool direct = xorshift32(&rng) & 1;
		off_t pos = xorshift32(&rng) % d->size;
		size_t len = 1 + xorshift32(&rng) % (256 << 10);

		if (direct) {
			pos &= ~(off_t)(bs - 1);
			len = (len + bs - 1) & ~(bs - 1);
		}
		if (pos + len > d->size)
			len = d->size - pos;
		dev_write(_metadata, d, direct, pos, len, 1000 + i);
		if (i % 50 == 49)
			verify(_metadata, d);
	}
	verify(_metadata, d);
}

/*
 * The size is (file size - offset) rounded down to whole sectors by the
 * stock driver, and to whole logical blocks by ours, which does not expose
 * a last, partial block that no I/O could reach (see the admin guide).
 */
TEST_F(ldata, size_rounds_down_to_whole_units)
{
	struct ldev *d = &self->d;
	static const off_t offsets[] = { 0, 100, 1000 };
	off_t fsize = MIB + 700;
	unsigned int i;

	ASSERT_EQ(0, ftruncate(d->bfd, fsize));
	for (i = 0; i < ARRAY_SIZE(offsets); i++) {
		unsigned long long bytes, expect, unit;
		struct loop_config cfg;

		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = d->bfd;
		cfg.block_size = variant->bs;
		cfg.info.lo_offset = offsets[i];
		ASSERT_EQ(0, ioctl_err(d->fd, LOOP_CONFIGURE,
				       (unsigned long)&cfg));
		unit = stock_driver() ? 512 : variant->bs;
		expect = (fsize - offsets[i]) / unit * unit;
		ASSERT_EQ(expect >> 9, sysfs_read_ll(d->nr, "size"));
		ASSERT_EQ(0, ioctl(d->fd, BLKGETSIZE64, &bytes));
		ASSERT_EQ(expect, bytes);
		ASSERT_EQ(0, loop_detach_reopen(&d->fd, d->nr, O_RDWR));
	}
}

/*
 * The flags the backing file was opened with are not ours to inherit:
 * through an O_APPEND fd, writes still land at their own offset (not at
 * the end of the file), and an O_DIRECT fd on a device without direct
 * I/O (an offset no direct I/O could use) still gets buffered I/O.  The
 * stock driver inherits both.
 */
TEST_F_TIMEOUT(ldata, backing_open_flags_not_inherited, SLOW_TIMEOUT)
{
	struct ldev *d = &self->d;
	static const int flags[] = { O_APPEND, O_DIRECT, O_APPEND | O_DIRECT };
	struct loop_info64 info;
	unsigned int i;
	int plain = d->bfd;

	if (stock_driver())
		SKIP(return, "the stock driver inherits O_APPEND and O_DIRECT");
	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		/* bound through a flagged fd; checked through the plain one */
		d->bfd = open(d->file, O_RDWR | O_CLOEXEC | flags[i]);
		ASSERT_LE(0, d->bfd);
		loop_bind(_metadata, d, variant->bs, 100, 0);
		close(d->bfd);
		d->bfd = plain;
		ASSERT_EQ(0, loop_get_status64(d->fd, &info));
		ASSERT_EQ(0, info.lo_flags & LO_FLAGS_DIRECT_IO);
		dev_write(_metadata, d, false, 4096, 65536, 30 + i);
		dev_write(_metadata, d, true, MIB, 2 * 65536, 40 + i);
		verify(_metadata, d);
		ASSERT_EQ(FILE_SIZE, lseek(d->bfd, 0, SEEK_END));
		/* the next round's model starts from the pattern again */
		pattern_fill(d->model, d->size, FILE_SEED, d->offset);
		ASSERT_EQ((ssize_t)d->size, pwrite_full(d->fd, d->model,
							d->size, 0));
		ASSERT_EQ(0, fsync(d->fd));
		close(d->dfd);
		d->dfd = -1;
		free(d->model);
		d->model = NULL;
		ASSERT_EQ(0, loop_detach_reopen(&d->fd, d->nr, O_RDWR));
	}
}

/*
 * One reader of the whole device, over and over, until @stop has no
 * writer left: O_DIRECT, so every read goes to the backing file.  Exits
 * 0, or 1 on a short or failed read, 2 on wrong data, 3 on no read at all.
 */
static void reader(int nr, int stop, size_t size, size_t chunk)
{
	uint8_t *buf;
	long rounds = 0;
	size_t pos;
	int fd;

	fd = loop_open(nr, O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign((void **)&buf, 4096, chunk))
		_exit(1);
	fcntl(stop, F_SETFL, O_NONBLOCK);
	while (read(stop, buf, 1) < 0 && errno == EAGAIN) {
		for (pos = 0; pos < size; pos += chunk) {
			if (pread_full(fd, buf, chunk, pos) != (ssize_t)chunk)
				_exit(1);
			if (pattern_check(buf, chunk, FILE_SEED, pos) >= 0)
				_exit(2);
		}
		rounds++;
	}
	_exit(rounds ? 0 : 3);
}

/*
 * LOOP_CHANGE_FD between two identical files while readers keep I/O in
 * flight: every read completes, with the right data, across each switch
 * (the queue is drained, not failed, while the file changes).
 */
TEST_F_TIMEOUT(ldata, change_fd_under_readers, SLOW_TIMEOUT)
{
	struct ldev *d = &self->d;
	static const size_t chunks[] = { 4096, 65536 };
	char file2[PATH_MAX];
	int files[2], stop[2], status, i;
	pid_t pids[ARRAY_SIZE(chunks)];
	struct loop_config cfg;
	struct loop_info64 info;
	struct stat st;

	files[0] = open(d->file, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, files[0]);
	files[1] = make_backing(file2, sizeof(file2), FILE_SIZE, FILE_SEED);
	ASSERT_LE(0, files[1]);
	unlink(file2);
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = files[0];
	cfg.block_size = variant->bs;
	cfg.info.lo_flags = LO_FLAGS_READ_ONLY;
	ASSERT_EQ(0, ioctl_err(d->fd, LOOP_CONFIGURE, (unsigned long)&cfg));

	ASSERT_EQ(0, pipe2(stop, O_CLOEXEC));
	for (i = 0; i < (int)ARRAY_SIZE(chunks); i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i]) {
			close(stop[1]);
			reader(d->nr, stop[0], FILE_SIZE, chunks[i]);
		}
	}
	close(stop[0]);

	for (i = 1; i <= 40; i++) {
		ASSERT_EQ(0, ioctl_err(d->fd, LOOP_CHANGE_FD, files[i & 1]));
		ASSERT_EQ(0, loop_get_status64(d->fd, &info));
		ASSERT_EQ(0, fstat(files[i & 1], &st));
		ASSERT_EQ((unsigned long long)st.st_ino, info.lo_inode);
		msleep(20);
	}

	close(stop[1]);
	for (i = 0; i < (int)ARRAY_SIZE(chunks); i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status))
			TH_LOG("reader of %zu-byte chunks: exit %d", chunks[i],
			       WEXITSTATUS(status));
	}
	close(files[0]);
	close(files[1]);
}

TEST_HARNESS_MAIN
