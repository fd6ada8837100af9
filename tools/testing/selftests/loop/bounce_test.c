// SPDX-License-Identifier: GPL-2.0
/*
 * Bounce memory of transfers: a request through a transfer is moved via
 * pages of the driver's own, in chunks of whole pages.  Checked byte for
 * byte against an XOR computed here (the 2.6 format, see xfer_test.c):
 *
 *  - direct I/O to a backing disk with 4 KiB logical blocks, from buffers
 *    that split the request into segments of 512-byte multiples that are
 *    not 4 KiB ones (before the bounce chunks, each segment was one
 *    direct I/O, which such a disk refuses: EIO);
 *  - one backing-file I/O per chunk (256 KiB) of a request, whatever its
 *    segments: counted on a loop device under ours, whose requests are
 *    our backing I/O;
 *  - requests larger than one chunk, so chunk boundaries fall inside
 *    segments;
 *  - several writers at once, the pages one request gives back serving
 *    the next;
 *  - every request taking the device's reserve, as when memory is short,
 *    from several writers at once: forced with the module's fail_bounce
 *    fault attribute where the kernel has fault injection (the debug
 *    kernel of make check), skipped elsewhere;
 *  - pages given back and reused never show what they held: reads past
 *    the end of a truncated file read zeroes' decoding.
 *
 * The stock driver has no transfers: with LOOP_STOCK=1 everything skips.
 */
#include <pthread.h>
#include <stdbool.h>
#include <linux/fs.h>

#include "loop_util.h"
#include "loop_harness.h"

#define MIB		(1024 * 1024)
#define FILE_SIZE	(8 * MIB)
#define FILE_SEED	5		/* pattern the backing file starts with */
#define DATA_SEED	13		/* pattern written through the device */
#define NR_WRITERS	4
#define FAIL_BOUNCE	"/sys/kernel/debug/loop/fail_bounce"
#define FAIL_TIMES	1000000

static const uint8_t key[] = "bounce-key-23";	/* 13 bytes: not a divisor of 512 */
#define KEY_SIZE	(sizeof(key) - 1)

/* Device byte @d as the backing file stores it. */
static inline uint8_t raw_byte(uint8_t plain, uint64_t d)
{
	return plain ^ key[(d % 512) % KEY_SIZE];
}

/* The fixture's state, as a named type the helpers can take. */
struct bdev {
	int ctl;
	int nr;			/* the device with the transfer */
	int fd;
	int lower_nr;		/* a 4 KiB-block device under it, or -1 */
	int lower_fd;
	int bfd;
	char file[PATH_MAX];
	uint8_t *buf;		/* 2 * FILE_SIZE bytes, page aligned */
	uint8_t *raw;		/* FILE_SIZE bytes, page aligned */
};

FIXTURE(bounce) {
	struct bdev b;
};

FIXTURE_SETUP(bounce)
{
	struct bdev *b = &self->b;
	void *p;

	b->fd = -1;
	b->lower_fd = -1;
	b->lower_nr = -1;
	b->bfd = -1;
	b->nr = -1;
	if (stock_driver())
		SKIP(return, "the stock driver has no transfers");
	b->ctl = ctl_open();
	ASSERT_LE(0, b->ctl);
	b->nr = ctl_add_any(b->ctl);
	ASSERT_LE(0, b->nr);
	b->fd = loop_open(b->nr, O_RDWR);
	ASSERT_LE(0, b->fd);
	b->bfd = make_backing(b->file, sizeof(b->file), FILE_SIZE, FILE_SEED);
	ASSERT_LE(0, b->bfd) TH_LOG("backing file in %s: %s", test_dir(),
				    strerror(-b->bfd));
	ASSERT_EQ(0, posix_memalign(&p, 4096, 2 * FILE_SIZE));
	b->buf = p;
	ASSERT_EQ(0, posix_memalign(&p, 4096, FILE_SIZE));
	b->raw = p;
}

FIXTURE_TEARDOWN(bounce)
{
	struct bdev *b = &self->b;

	if (b->nr < 0)
		return;
	detach_and_remove(b->ctl, b->nr, &b->fd);
	detach_and_remove(b->ctl, b->lower_nr, &b->lower_fd);
	if (b->bfd >= 0)
		close(b->bfd);
	if (b->file[0])
		unlink(b->file);
	free(b->buf);
	free(b->raw);
	close(b->ctl);
}

/* Bind @fd to @bfd with block size @bs, XOR with our key if @xor. */
static int configure(int fd, int bfd, bool xor, unsigned int bs,
		     unsigned int flags)
{
	return loop_configure_xfer(fd, bfd, 0, bs, flags,
				   xor ? LO_CRYPT_XOR : LO_CRYPT_NONE, key,
				   xor ? KEY_SIZE : 0);
}

/*
 * The backing file must hold DATA_SEED's pattern, XORed, in device bytes
 * [@from, @to) and FILE_SEED's elsewhere; and the device must read back
 * DATA_SEED's pattern there through O_DIRECT from @dfd into a buffer at
 * page offset @skew.  Returns the first wrong byte's description in @why.
 */
static bool contents_ok(struct bdev *b, int dfd, size_t from,
			size_t to, size_t skew, char *why, size_t len)
{
	uint8_t *in = b->buf + skew;
	size_t i;

	if (fsync(b->fd) || pread_full(b->bfd, b->raw, FILE_SIZE, 0) !=
	    FILE_SIZE) {
		snprintf(why, len, "cannot read the backing file: %s",
			 strerror(errno));
		return false;
	}
	for (i = 0; i < FILE_SIZE; i++) {
		uint8_t want = i >= from && i < to ?
			raw_byte(pattern_byte(DATA_SEED, i), i) :
			pattern_byte(FILE_SEED, i);

		if (b->raw[i] != want) {
			snprintf(why, len, "backing byte %zu: %#x, not %#x",
				 i, b->raw[i], want);
			return false;
		}
	}
	memset(in, 0, to - from);
	if (pread_full(dfd, in, to - from, from) != (ssize_t)(to - from)) {
		snprintf(why, len, "O_DIRECT read at page offset %zu: %s",
			 skew, strerror(errno));
		return false;
	}
	for (i = 0; i < to - from; i++) {
		if (in[i] != pattern_byte(DATA_SEED, from + i)) {
			snprintf(why, len, "device byte %zu read back %#x",
				 from + i, in[i]);
			return false;
		}
	}
	return true;
}

/*
 * Our device, XOR in direct-I/O mode with block size @bs, over a loop
 * device of that block size bound to the backing file (whose requests
 * are our backing I/O).  Returns our device opened with O_DIRECT.
 */
static int xor_over_loop(struct __test_metadata *_metadata, struct bdev *b,
			 unsigned int bs)
{
	struct loop_info64 info;
	char dev[64];
	int dfd;

	b->lower_nr = ctl_add_any(b->ctl);
	ASSERT_LE(0, b->lower_nr);
	b->lower_fd = loop_open(b->lower_nr, O_RDWR);
	ASSERT_LE(0, b->lower_fd);
	ASSERT_EQ(0, configure(b->lower_fd, b->bfd, false, bs, 0));
	ASSERT_EQ((long long)bs,
		  sysfs_read_ll(b->lower_nr, "queue/logical_block_size"));

	ASSERT_EQ(0, configure(b->fd, b->lower_fd, true, bs,
			       LO_FLAGS_DIRECT_IO));
	ASSERT_EQ(0, loop_get_status64(b->fd, &info));
	ASSERT_TRUE(info.lo_flags & LO_FLAGS_DIRECT_IO)
		TH_LOG("direct I/O not in effect on a disk of %u-byte blocks",
		       bs);
	loop_dev_path(dev, sizeof(dev), b->nr);
	dfd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, dfd);
	return dfd;
}

/*
 * Direct I/O through a transfer to a disk with 4 KiB logical blocks (a
 * loop device of block size 4096 under ours), from buffers 512 bytes off
 * page alignment: each request's segments are 3584 + 4096 * k + 512
 * bytes.  1 MiB requests also cross chunk boundaries mid-segment.
 */
TEST_F_TIMEOUT(bounce, dio_on_4k_disk_unaligned_buffers, 300)
{
	struct bdev *b = &self->b;
	const size_t skews[] = { 512, 3584, 0 };
	const size_t from = 64 * 1024, len = 3 * MIB;
	char why[128];
	size_t i;
	int dfd = xor_over_loop(_metadata, b, 4096);

	for (i = 0; i < ARRAY_SIZE(skews); i++) {
		uint8_t *out = b->buf + skews[i];
		size_t part = len / ARRAY_SIZE(skews);
		size_t at = from + i * part;

		pattern_fill(out, part, DATA_SEED, at);
		EXPECT_EQ((ssize_t)part, pwrite_full(dfd, out, part, at))
			TH_LOG("O_DIRECT write from page offset %zu: %s",
			       skews[i], strerror(errno));
	}
	for (i = 0; i < ARRAY_SIZE(skews); i++) {
		EXPECT_TRUE(contents_ok(b, dfd, from, from + len, skews[i],
					why, sizeof(why)))
			TH_LOG("%s", why);
	}
	close(dfd);
}

/* Requests loopN has completed in one direction (its stat file). */
static long long requests_done(int nr, bool write)
{
	unsigned long long reads, writes;
	char buf[512];

	if (sysfs_read_str(nr, "stat", buf, sizeof(buf)) ||
	    sscanf(buf, "%llu %*u %*u %*u %llu", &reads, &writes) != 2)
		return -1;
	return write ? writes : reads;
}

#define CHUNK		(256 * 1024)	/* the driver's LOOP_BOUNCE_BYTES */
#define PHASE_TRIES	3

static const struct {
	size_t len, skew;
} chunk_ios[] = {
	{ 512 * 1024, 0 }, { 384 * 1024, 0 }, { 260 * 1024, 0 },
	{ CHUNK, 0 }, { 4096, 0 }, { 252 * 1024, 512 },
	{ 100 * 1024 + 512, 3584 },
};

/*
 * Wait until nobody else moves data on loopN: its stat unchanged for
 * 300 ms, within 10 s.  udev probes a device after a bind, and after a
 * writer closes it (its inotify watch): such reads may land in a count.
 * The caller settles udev first.
 */
static void wait_device_idle(int nr)
{
	char was[512] = "", now[512];
	int quiet = 0, i;

	for (i = 0; i < 100 && quiet < 3; i++) {
		if (sysfs_read_str(nr, "stat", now, sizeof(now)))
			return;
		quiet = strcmp(was, now) ? 0 : quiet + 1;
		strcpy(was, now);
		msleep(100);
	}
}

/*
 * Write (@dir 1) or read back (0) chunk_ios[] through @dfd; count the
 * requests of ours and of the device under it meanwhile.  Returns 0, or
 * -1 with the failure logged.
 */
static int chunk_phase(struct __test_metadata *_metadata, struct bdev *b,
		       int dfd, int dir, long long *ours, long long *lower)
{
	long long o0, l0;
	size_t i, at;

	udev_settle();
	wait_device_idle(b->nr);
	wait_device_idle(b->lower_nr);
	o0 = requests_done(b->nr, dir);
	l0 = requests_done(b->lower_nr, dir);
	for (i = 0, at = 0; i < ARRAY_SIZE(chunk_ios); i++) {
		uint8_t *buf = b->buf + chunk_ios[i].skew;
		size_t len = chunk_ios[i].len;
		long long bad = -1;
		ssize_t n;

		if (dir) {
			pattern_fill(buf, len, DATA_SEED, at);
			n = pwrite_full(dfd, buf, len, at);
		} else {
			memset(buf, 0, len);
			n = pread_full(dfd, buf, len, at);
			bad = pattern_check(buf, len, DATA_SEED, at);
		}
		if (n != (ssize_t)len) {
			TH_LOG("%s of %zu bytes at %zu from page offset %zu: %s",
			       dir ? "write" : "read", len, at,
			       chunk_ios[i].skew, strerror(n < 0 ? -n : EIO));
			return -1;
		}
		if (bad != -1) {
			TH_LOG("device byte %lld read back wrong",
			       (long long)at + bad);
			return -1;
		}
		at += (len + 4095) & ~(size_t)4095;
	}
	*ours = requests_done(b->nr, dir);
	*lower = requests_done(b->lower_nr, dir);
	if (o0 < 0 || l0 < 0 || *ours < 0 || *lower < 0) {
		TH_LOG("cannot read the devices' stat files");
		return -1;
	}
	*ours -= o0;
	*lower -= l0;
	return 0;
}

/*
 * A request through a transfer is one backing-file I/O per chunk of it,
 * and a chunk is whole pages whatever the request's segments: with a loop
 * device under ours, in direct-I/O mode, that device counts our backing
 * I/O.  Each write or read is one request of ours (checked): within 128
 * pages, the block layer's default segment limit.  (Whole requests in
 * one I/O were measured slower: loop.rst, "How I/O is done".)
 *
 * Another reader of either device (udev's probe, late on a slow machine)
 * adds requests to the counts: a phase with a count too high runs again,
 * up to PHASE_TRIES times.  A split by the block layer or a
 * chunking bug gives the same wrong counts every time.
 */
TEST_F_TIMEOUT(bounce, one_backing_io_per_chunk, 300)
{
	struct bdev *b = &self->b;
	long long ours, lower, chunks = 0;
	int dir, try, dfd = xor_over_loop(_metadata, b, 512);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(chunk_ios); i++)
		chunks += (chunk_ios[i].len + CHUNK - 1) / CHUNK;

	for (dir = 1; dir >= 0; dir--) {
		for (try = 1; try <= PHASE_TRIES; try++) {
			ASSERT_EQ(0, chunk_phase(_metadata, b, dfd, dir,
						 &ours, &lower));
			if (ours <= (long long)ARRAY_SIZE(chunk_ios) &&
			    lower <= chunks)
				break;
			TH_LOG("%s, try %d: %lld requests of ours for %zu I/Os, %lld below",
			       dir ? "writes" : "reads", try, ours,
			       ARRAY_SIZE(chunk_ios), lower);
		}
		ASSERT_EQ((long long)ARRAY_SIZE(chunk_ios), ours)
			TH_LOG("%s: the block layer split them", dir ? "writes" : "reads");
		EXPECT_EQ(chunks, lower)
			TH_LOG("%s: %lld chunks, %lld backing I/Os",
			       dir ? "writes" : "reads", chunks, lower);
	}
	close(dfd);
}

struct writer {
	int fd;
	uint8_t *buf;
	size_t at, len;
	int err;
};

/* Write one slice of the device, in requests of assorted sizes. */
static void *writer_fn(void *arg)
{
	static const size_t sizes[] = { 4096, 65536, 512 * 1024, 12288 };
	struct writer *w = arg;
	size_t done = 0, k = 0;

	while (done < w->len) {
		size_t n = sizes[k++ % ARRAY_SIZE(sizes)];

		if (n > w->len - done)
			n = w->len - done;
		if (pwrite_full(w->fd, w->buf + done, n, w->at + done) !=
		    (ssize_t)n) {
			w->err = errno ?: EIO;
			break;
		}
		done += n;
	}
	return NULL;
}

static int put_attr(const char *attr, const char *val)
{
	char path[PATH_MAX];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", FAIL_BOUNCE, attr);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		ret = -errno;
	close(fd);
	return ret;
}

static long long get_times(void)
{
	char buf[32] = "";
	ssize_t n;
	int fd = open(FAIL_BOUNCE "/times", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoll(buf) : -EIO;
}

/*
 * NR_WRITERS threads write a slice each through @b's device (opened with
 * O_DIRECT as @dfd), in requests of sizes up to 512 KiB, i.e. two chunks;
 * then the whole range must be in the backing file and read back exactly.
 */
static void write_concurrently(struct __test_metadata *_metadata,
			       struct bdev *b, int dfd)
{
	const size_t slice = MIB, from = MIB;
	struct writer w[NR_WRITERS];
	pthread_t tid[NR_WRITERS];
	char why[128];
	int i;

	for (i = 0; i < NR_WRITERS; i++) {
		w[i].fd = dfd;
		w[i].at = from + i * slice;
		w[i].len = slice;
		w[i].buf = b->buf + i * slice;
		w[i].err = 0;
		pattern_fill(w[i].buf, slice, DATA_SEED, w[i].at);
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, writer_fn, &w[i]));
	}
	for (i = 0; i < NR_WRITERS; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < NR_WRITERS; i++) {
		int err = w[i].err;

		EXPECT_EQ(0, err) TH_LOG("writer %d: %s", i, strerror(err));
	}
	EXPECT_TRUE(contents_ok(b, dfd, from, from + NR_WRITERS * slice,
				0, why, sizeof(why)))
		TH_LOG("%s", why);
}

/*
 * Bounce pages that requests give back serve the next ones: several
 * writers at once, each request's pages its own while it runs.
 */
TEST_F_TIMEOUT(bounce, concurrent_writers, 300)
{
	struct bdev *b = &self->b;
	char dev[64];
	int dfd;

	ASSERT_EQ(0, configure(b->fd, b->bfd, true, 512, 0));
	loop_dev_path(dev, sizeof(dev), b->nr);
	dfd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, dfd);
	write_concurrently(_metadata, b, dfd);
	close(dfd);
}

/*
 * Every request finds no bounce memory of its own and takes the reserve,
 * one request at a time, while the writers of write_concurrently() run
 * (the reads that check them as well).  The attribute's countdown shows
 * it fired.
 */
TEST_F_TIMEOUT(bounce, reserve_under_concurrent_writers, 300)
{
	struct bdev *b = &self->b;
	char dev[64], times[32];
	long long left;
	int dfd;

	if (access(FAIL_BOUNCE, F_OK))
		SKIP(return, "no %s (a kernel without fault injection)",
		     FAIL_BOUNCE);
	ASSERT_EQ(0, configure(b->fd, b->bfd, true, 512, 0));
	loop_dev_path(dev, sizeof(dev), b->nr);
	dfd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, dfd);

	snprintf(times, sizeof(times), "%d", FAIL_TIMES);
	ASSERT_EQ(0, put_attr("task-filter", "N"));
	ASSERT_EQ(0, put_attr("verbose", "0"));
	ASSERT_EQ(0, put_attr("interval", "1"));
	ASSERT_EQ(0, put_attr("times", times));
	ASSERT_EQ(0, put_attr("probability", "100"));
	write_concurrently(_metadata, b, dfd);
	left = get_times();
	put_attr("probability", "0");
	put_attr("times", "1");
	EXPECT_LT(left, FAIL_TIMES) TH_LOG("fail_bounce never fired");
	EXPECT_LE(0, left);
	close(dfd);
}

/*
 * Bounce pages go back to the device holding what they held.  In direct-
 * I/O mode every read goes through them; one that reaches past the end of
 * the file (truncated under the device, which keeps its size) must read
 * the decoding of zeroes there, the key itself, and never what an earlier
 * request left in its pages: each round first writes through the device,
 * so that the pages hold the encoding of DATA_SEED's pattern.
 */
TEST_F_TIMEOUT(bounce, reused_pages_show_nothing_stale, 300)
{
	struct bdev *b = &self->b;
	/* Off chunk and page boundaries; the read spans three chunks. */
	const size_t end = FILE_SIZE - 512 * 1024 + 1536;
	const size_t from = FILE_SIZE - 768 * 1024, len = FILE_SIZE - from;
	uint8_t *in = b->buf + FILE_SIZE;
	struct loop_info64 info;
	char dev[64];
	int round, dfd;
	size_t i;

	ASSERT_EQ(0, configure(b->fd, b->bfd, true, 512, LO_FLAGS_DIRECT_IO));
	ASSERT_EQ(0, loop_get_status64(b->fd, &info));
	ASSERT_TRUE(info.lo_flags & LO_FLAGS_DIRECT_IO);
	loop_dev_path(dev, sizeof(dev), b->nr);
	dfd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, dfd);
	pattern_fill(b->buf, FILE_SIZE, DATA_SEED, 0);
	ASSERT_EQ(FILE_SIZE, pwrite_full(dfd, b->buf, FILE_SIZE, 0));
	ASSERT_EQ(0, ftruncate(b->bfd, end));

	for (round = 0; round < 3; round++) {
		ASSERT_EQ(MIB, pwrite_full(dfd, b->buf, MIB, 0));
		memset(in, 0, len);
		ASSERT_EQ((ssize_t)len, pread_full(dfd, in, len, from));
		for (i = 0; i < len; i++) {
			size_t d = from + i;
			uint8_t want = d < end ? pattern_byte(DATA_SEED, d) :
				raw_byte(0, d);

			ASSERT_EQ(want, in[i])
				TH_LOG("round %d: device byte %zu (file end %zu)",
				       round, d, end);
		}
	}
	close(dfd);
}

TEST_HARNESS_MAIN
