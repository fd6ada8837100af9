// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: a loop device detached, reconfigured, created and removed while
 * I/O is in flight.  Four tests, each bounded in time and driven by one
 * seed (printed, and taken from LOOP_STRESS_SEED to replay a run):
 *
 *  detach_under_io   buffered and O_DIRECT readers and writers, and a
 *                    udev-like opener, while LOOP_CLR_FD or autoclear
 *                    detaches the device; it must be unbound within a
 *                    second of the last close, with the data fsynced
 *                    before the detach in the backing file, and bind again.
 *  reconfigure_under_readers
 *                    offset, capacity, block size, direct I/O and backing
 *                    file changes while readers run: every read returns
 *                    the right data or an error, never wrong data.
 *  control_races     LOOP_CTL_ADD/REMOVE/GET_FREE against opens and binds
 *                    of the same numbers; afterwards every device binds,
 *                    moves data exactly and detaches.
 *  stacked_ioctls    a device with a transfer (cryptoloop's AES if it can
 *                    be loaded, else XOR) on top of another, under I/O
 *                    and fsync, while others send it commands nobody
 *                    knows, the transfer's own, block size changes,
 *                    opens and sync(): nothing hangs, the data is exact.
 *
 * Their devices come from LOOP_CTL_GET_FREE, but control_races races on
 * numbers CTL_NR..CTL_NR+CTL_COUNT-1.  A lost request shows up as
 * a hung task: the tests shorten the kernel's hung-task timeout, and
 * scripts/vm-run fails a run whose kernel log reports one.
 *
 * Environment: LOOP_STRESS_SEED, LOOP_STRESS_SECONDS (time per test,
 * default 15), LOOP_STRESS_ITERS (most detach iterations, default 60).
 */
#include <pthread.h>
#include <sys/time.h>
#include <linux/fs.h>
#include <linux/loop_crypto.h>

#include "loop_util.h"
#include "loop_harness.h"
#include "stress_util.h"

#define MIB		(1024 * 1024)
#define DEV_SIZE	(4 * MIB)	/* device size in the detach test */
#define SAFE_START	4096		/* the first page may hold a partition table */
#define SAFE_LEN	MIB		/* [SAFE_START, SAFE_LEN): fsynced before the detach */
#define MAX_IO		(64 * 1024)
#define NR_IO		4		/* I/O threads per device */
/* The two writers (buffered, direct) each have a region: no overlap. */
#define WRITE_REGION	((DEV_SIZE - SAFE_LEN) / 2)
#define UNBIND_MS	1000		/* a detach completes this soon after the last close */
#define DEBUG_SLOWDOWN	4		/* ... times this on a lockdep/KASAN kernel */
#define CTL_NR		228		/* control_races uses these numbers */
#define CTL_COUNT	4
#define HUNG_TASK_SECS	"20"
#define TEST_TIMEOUT	300		/* seconds, for the harness */

static const char hung_task_knob[] = "/proc/sys/kernel/hung_task_timeout_secs";

/* One seed for every test of a run, picked before the harness forks. */
static uint32_t run_seed;

static void __attribute__((constructor)) pick_seed(void)
{
	run_seed = env_long("LOOP_STRESS_SEED", 0);
	if (!run_seed)
		run_seed = (uint32_t)(time(NULL) ^ (getpid() << 16)) ?: 1;
}

FIXTURE(stress) {
	uint32_t seed;
	long long deadline;	/* now_ms() at which to stop starting rounds */
	char hung_saved[32];
	bool loaded_cryptoloop;	/* by stacked_ioctls: unload it after */
};

FIXTURE_SETUP(stress)
{
	int fd, n;

	self->seed = run_seed;
	self->deadline = now_ms() + 1000 * env_long("LOOP_STRESS_SECONDS", 15);
	TH_LOG("seed %u (replay with LOOP_STRESS_SEED=%u), nr_workers %lld",
	       self->seed, self->seed, loop_param("nr_workers"));

	/* A request that never completes must be reported, and soon. */
	self->hung_saved[0] = '\0';
	fd = open(hung_task_knob, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, self->hung_saved, sizeof(self->hung_saved) - 1);
		self->hung_saved[n > 0 ? n : 0] = '\0';
		if (pwrite(fd, HUNG_TASK_SECS, strlen(HUNG_TASK_SECS), 0) < 0)
			TH_LOG("cannot shorten the hung-task timeout: %s",
			       strerror(errno));
		close(fd);
	}
}

FIXTURE_TEARDOWN(stress)
{
	int fd;

	if (self->loaded_cryptoloop && system("rmmod cryptoloop 2>/dev/null"))
		TH_LOG("cannot unload cryptoloop");
	if (!self->hung_saved[0])
		return;
	fd = open(hung_task_knob, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (pwrite(fd, self->hung_saved, strlen(self->hung_saved), 0) < 0)
			TH_LOG("cannot restore the hung-task timeout");
		close(fd);
	}
}

/* ---- helpers ---------------------------------------------------------- */

static bool bound_sysfs(int nr)
{
	return sysfs_exists(nr, "loop/backing_file");
}

/*
 * The bound on an unbind: UNBIND_MS, but a kernel with lockdep (and, in
 * our debug kernel, KASAN and kmemleak) under an emulated CPU runs the
 * whole detach several times slower.
 */
static long unbind_ms(void)
{
	static long ms;

	if (!ms)
		ms = access("/proc/lockdep", F_OK) ? UNBIND_MS :
						     UNBIND_MS * DEBUG_SLOWDOWN;
	return ms;
}

/*
 * After the last close of our own: the device must be unbound within
 * unbind_ms().  Somebody else (udev's blkid) may hold it open for a moment
 * longer, and then the detach is theirs to complete; that gets 10 s.
 * Returns the milliseconds it took, or -1.
 */
static long wait_detached(int nr)
{
	long long start = now_ms(), t;
	bool looked = false;

	while (bound_sysfs(nr)) {
		t = now_ms() - start;
		if (t >= 10000)
			return -1;
		if (t >= unbind_ms() && !looked) {
			looked = true;
			/* Nobody else has it open: nobody will detach it. */
			if (!log_openers(nr))
				return -1;
		}
		msleep(20);
	}
	return now_ms() - start;
}

/* Bind @bfd to loopN through @fd; returns 0 or -errno. */
static int bind_dev(int fd, int bfd, off_t offset, unsigned int bs,
		    unsigned int flags)
{
	return loop_configure_xfer(fd, bfd, offset, bs,
				   flags | default_bind_flags(), LO_CRYPT_NONE,
				   NULL, 0);
}

/* A device of our own: LOOP_CTL_GET_FREE, opened; fd or -errno. */
static int get_free_dev(int ctl, int *nr, int flags)
{
	int i, fd = -ENOENT;

	/* The node may appear a moment after the device. */
	for (i = 0; i < 100; i++) {
		*nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (*nr < 0)
			return -errno;
		fd = loop_open(*nr, flags);
		if (fd != -ENOENT)
			break;
		msleep(20);
	}
	return fd;
}

/* Open partition 1 of loopN; its node may take @wait_ms to appear. */
static int part_open(int nr, int flags, unsigned int wait_ms)
{
	char path[64];
	unsigned int waited = 0;
	int fd;

	snprintf(path, sizeof(path), "/dev/loop%dp1", nr);
	for (;;) {
		fd = open(path, flags | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || waited >= wait_ms)
			return fd < 0 ? -errno : fd;
		msleep(20);
		waited += 20;
	}
}

/* An MBR at @at in @fd: partition 1 from device byte SAFE_LEN to DEV_SIZE. */
static int write_mbr(int fd, off_t at)
{
	uint8_t mbr[512];
	uint32_t start = SAFE_LEN / 512, count = (DEV_SIZE - SAFE_LEN) / 512;

	memset(mbr, 0, sizeof(mbr));
	mbr[446 + 4] = 0x83;
	memcpy(mbr + 446 + 8, &start, 4);	/* little endian on x86 */
	memcpy(mbr + 446 + 12, &count, 4);
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
	return pwrite(fd, mbr, sizeof(mbr), at) == sizeof(mbr) ? 0 : -EIO;
}

/* ---- detach_under_io ------------------------------------------------- */

enum io_kind { IO_READ, IO_WRITE, IO_OPENER };

struct io_thread {
	pthread_t tid;
	int nr;
	int fd;
	enum io_kind kind;
	bool direct;
	uint32_t rng;
	uint32_t safe_seed;	/* what [0, SAFE_LEN) holds */
	uint32_t write_seed;
	off_t region;		/* writers: where theirs starts */
	off_t base;		/* device position of fd's byte 0 (a partition's) */
	bool parted;		/* the device has partition 1 */
	const int *stop;
	long ops;
	long errors;
	int first_errno;
	long wrong;		/* reads of the safe region with wrong data */
	long long wrong_pos;
};

static void *io_fn(void *arg)
{
	struct io_thread *t = arg;
	void *buf;

	if (posix_memalign(&buf, 4096, MAX_IO)) {
		t->errors++;
		return NULL;
	}
	while (!stop_requested(t->stop)) {
		size_t len = 4096 * (1 + rnd_below(&t->rng, MAX_IO / 4096));
		off_t pos;
		ssize_t n;

		if (t->kind == IO_OPENER) {
			/* As udev's blkid: open, read a little, close. */
			int fd = t->parted && rnd_below(&t->rng, 2) ?
				 part_open(t->nr, O_RDONLY, 0) :
				 loop_open(t->nr, O_RDONLY);

			if (fd >= 0) {
				if (pread(fd, buf, 4096, 0) < 0 && errno != EIO)
					t->errors++;
				close(fd);
				t->ops++;
			}
			msleep(1 + rnd_below(&t->rng, 4));
			continue;
		}
		if (t->kind == IO_WRITE) {
			pos = t->region + 4096 * rnd_below(&t->rng,
				(WRITE_REGION - len) / 4096 + 1);
			pattern_fill(buf, len, t->write_seed, pos);
			n = pwrite(t->fd, buf, len, pos - t->base);
			if (n == (ssize_t)len && !rnd_below(&t->rng, 8) &&
			    fdatasync(t->fd))
				n = -1;
		} else {
			pos = SAFE_START + 4096 * rnd_below(&t->rng,
				(SAFE_LEN - SAFE_START - len) / 4096 + 1);
			n = pread(t->fd, buf, len, pos);
			if (n == (ssize_t)len) {
				long long bad = pattern_check(buf, len,
							      t->safe_seed,
							      pos);
				if (bad >= 0) {
					if (!t->wrong++)
						t->wrong_pos = pos + bad;
				}
			}
		}
		if (n != (ssize_t)len) {
			if (!t->errors++)
				t->first_errno = n < 0 ? errno : 0;
		}
		t->ops++;
	}
	free(buf);
	/* Each thread closes its own descriptor: closes race each other. */
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	return NULL;
}

/* Write pattern @seed over [from, to) of the device through @fd; fsync. */
static int fill_synced(int fd, size_t from, size_t to, uint32_t seed)
{
	void *buf;
	size_t done, n;
	int ret = 0;

	if (posix_memalign(&buf, 4096, MAX_IO))
		return -ENOMEM;
	for (done = from; done < to && !ret; done += n) {
		n = to - done < MAX_IO ? to - done : MAX_IO;
		pattern_fill(buf, n, seed, done);
		if (pwrite_full(fd, buf, n, done) != (ssize_t)n)
			ret = -EIO;
	}
	if (!ret && fsync(fd))
		ret = -errno;
	free(buf);
	return ret;
}

/*
 * Compare device bytes [from, to), read from @fd at @at + position, with
 * pattern @seed.  Returns the first differing position, -1 if equal, -2 on
 * a read error.
 */
static long long compare_pattern(int fd, off_t at, size_t from, size_t to,
				 uint32_t seed)
{
	void *buf;
	size_t done, n;
	long long bad = -1;

	if (posix_memalign(&buf, 4096, MAX_IO))
		return -2;
	for (done = from; done < to && bad == -1; done += n) {
		long long i;

		n = to - done < MAX_IO ? to - done : MAX_IO;
		if (pread_full(fd, buf, n, at + done) != (ssize_t)n) {
			bad = -2;
			break;
		}
		i = pattern_check(buf, n, seed, done);
		if (i >= 0)
			bad = done + i;
	}
	free(buf);
	return bad;
}

/*
 * Somebody else meanwhile: through descriptors of its own, asks for the
 * detach again, sets autoclear, tries to bind the device anew.  Each may
 * fail with ENXIO (detached already) or EBUSY (bound), never otherwise.
 */
struct meddler {
	pthread_t tid;
	int nr;
	int bfd;
	uint32_t rng;
	const int *stop;
	long ops, bad;
	int bad_errno;
	const char *bad_what;
};

static void meddler_bad(struct meddler *m, const char *what, int err)
{
	if (!err || err == -ENXIO || err == -EBUSY)
		return;
	if (!m->bad++) {
		m->bad_what = what;
		m->bad_errno = -err;
	}
}

static void *meddler_fn(void *arg)
{
	struct meddler *m = arg;
	struct loop_info64 info;

	while (!stop_requested(m->stop)) {
		int fd = loop_open(m->nr, O_RDWR);

		msleep(5 + rnd_below(&m->rng, 40));
		if (fd < 0) {	/* ENXIO: detached, waiting for the last close */
			meddler_bad(m, "open", fd);
			continue;
		}
		switch (rnd_below(&m->rng, 4)) {
		case 0:
			meddler_bad(m, "LOOP_CLR_FD",
				    ioctl_err(fd, LOOP_CLR_FD, 0));
			break;
		case 1: {
			int ret = loop_get_status64(fd, &info);

			if (!ret) {
				info.lo_flags |= LO_FLAGS_AUTOCLEAR;
				ret = ioctl_err(fd, LOOP_SET_STATUS64,
						(unsigned long)&info);
			}
			meddler_bad(m, "autoclear", ret);
			break;
		}
		case 2:
			meddler_bad(m, "rebind", bind_dev(fd, m->bfd, 0, 0, 0));
			break;
		case 3:
			meddler_bad(m, "LOOP_GET_STATUS64",
				    loop_get_status64(fd, &info));
			break;
		}
		m->ops++;
		close(fd);
	}
	return NULL;
}

static const char *const detach_how[] = {
	"LOOP_CLR_FD", "autoclear by LOOP_SET_STATUS64",
	"bound with autoclear", "LOOP_CLR_FD twice",
};

TEST_F_TIMEOUT(stress, detach_under_io, TEST_TIMEOUT)
{
	long iters = env_long("LOOP_STRESS_ITERS", 60), it;
	long worst_ms = 0, ops = 0, parted_runs = 0;
	uint32_t rng = self->seed ^ 0xd7ac4;
	char file[PATH_MAX];
	int ctl;

	ctl = ctl_open();
	ASSERT_LE(0, ctl);

	for (it = 0; it < iters && now_ms() < self->deadline; it++) {
		struct io_thread th[NR_IO + 1];
		struct meddler med;
		int stop = 0;
		unsigned int how = rnd_below(&rng, ARRAY_SIZE(detach_how));
		off_t offset = rnd_below(&rng, 2) ? 4096 : 0;
		bool dio_binding = rnd_below(&rng, 2);
		bool parted = rnd_below(&rng, 2);
		uint32_t safe_seed = rnd(&rng);
		struct loop_info64 info;
		int nr, fd, bfd, i, ret;
		long ms;
		long long bad;

		bfd = make_backing(file, sizeof(file), DEV_SIZE + offset,
				   rnd(&rng));
		ASSERT_LE(0, bfd);
		unlink(file);
		if (parted)
			ASSERT_EQ(0, write_mbr(bfd, offset));
		fd = get_free_dev(ctl, &nr, O_RDWR);
		ASSERT_LE(0, fd) TH_LOG("iteration %ld: no free device: %s",
					it, strerror(-fd));
		ret = bind_dev(fd, bfd, offset, 0,
			       (dio_binding ? LO_FLAGS_DIRECT_IO : 0) |
			       (parted ? LO_FLAGS_PARTSCAN : 0) |
			       (how == 2 ? LO_FLAGS_AUTOCLEAR : 0));
		if (ret == -EBUSY) {	/* somebody else took it: next */
			close(fd);
			close(bfd);
			continue;
		}
		ASSERT_EQ(0, ret) TH_LOG("iteration %ld: bind loop%d: %s",
					 it, nr, strerror(-ret));
		ASSERT_EQ(0, fill_synced(fd, SAFE_START, SAFE_LEN, safe_seed));

		for (i = 0; i <= NR_IO; i++) {
			struct io_thread *t = &th[i];

			memset(t, 0, sizeof(*t));
			t->nr = nr;
			t->stop = &stop;
			t->rng = rnd(&rng);
			t->safe_seed = safe_seed;
			t->write_seed = rnd(&rng);
			t->parted = parted;
			t->kind = i == NR_IO ? IO_OPENER :
				  i % 2 ? IO_WRITE : IO_READ;
			t->direct = i >= 2;
			t->region = SAFE_LEN + (t->direct ? WRITE_REGION : 0);
			t->fd = -1;
			if (t->kind == IO_WRITE && parted &&
			    rnd_below(&rng, 2)) {
				/* Partition 1 starts at SAFE_LEN. */
				t->base = SAFE_LEN;
				t->fd = part_open(nr, O_RDWR |
						  (t->direct ? O_DIRECT : 0),
						  5000);
				ASSERT_LE(0, t->fd)
					TH_LOG("loop%dp1: %s", nr,
					       strerror(-t->fd));
			} else if (t->kind != IO_OPENER) {
				t->fd = loop_open(nr, O_RDWR |
						  (t->direct ? O_DIRECT : 0));
				ASSERT_LE(0, t->fd);
			}
			ASSERT_EQ(0, pthread_create(&t->tid, NULL, io_fn, t));
		}
		parted_runs += parted;
		memset(&med, 0, sizeof(med));
		med.nr = nr;
		med.bfd = bfd;
		med.rng = rnd(&rng);
		med.stop = &stop;
		ASSERT_EQ(0, pthread_create(&med.tid, NULL, meddler_fn, &med));

		msleep(30 + rnd_below(&rng, 200));
		switch (how) {
		case 0:
			EXPECT_EQ(0, ioctl_err(fd, LOOP_CLR_FD, 0));
			break;
		case 1:
			ASSERT_EQ(0, loop_get_status64(fd, &info));
			info.lo_flags |= LO_FLAGS_AUTOCLEAR;
			EXPECT_EQ(0, ioctl_err(fd, LOOP_SET_STATUS64,
					       (unsigned long)&info));
			break;
		case 2:
			break;
		case 3:
			EXPECT_EQ(0, ioctl_err(fd, LOOP_CLR_FD, 0));
			ret = ioctl_err(fd, LOOP_CLR_FD, 0);
			EXPECT_TRUE(ret == 0 || ret == -ENXIO)
				TH_LOG("second LOOP_CLR_FD: %s",
				       strerror(-ret));
			break;
		}
		msleep(rnd_below(&rng, 150));

		/* Our descriptor first or last, at random. */
		if (rnd_below(&rng, 2)) {
			close(fd);
			fd = -1;
		}
		request_stop(&stop);
		for (i = 0; i <= NR_IO; i++) {
			struct io_thread *t = &th[i];

			ASSERT_EQ(0, pthread_join(t->tid, NULL));
			ops += t->ops;
			EXPECT_EQ(0, t->wrong)
				TH_LOG("iteration %ld: thread %d read wrong data at %lld",
				       it, i, t->wrong_pos);
			EXPECT_EQ(0, t->errors)
				TH_LOG("round %ld (%s): thread %d (%s%s): %ld failed, first: %s",
				       it, detach_how[how], i,
				       t->direct ? "O_DIRECT " : "",
				       t->kind == IO_WRITE ? "writer" :
				       t->kind == IO_READ ? "reader" : "opener",
				       t->errors, strerror(t->first_errno));
		}
		ASSERT_EQ(0, pthread_join(med.tid, NULL));
		ops += med.ops;
		EXPECT_EQ(0, med.bad)
			TH_LOG("iteration %ld: %ld unexpected errors, first: %s: %s",
			       it, med.bad, med.bad_what,
			       strerror(med.bad_errno));
		if (fd >= 0)
			close(fd);

		/* The last close detaches. */
		ms = wait_detached(nr);
		ASSERT_LE(0, ms)
			TH_LOG("round %ld (%s%s): loop%d bound %ld ms after the last close",
			       it, detach_how[how], parted ? ", partitioned" : "",
			       nr, unbind_ms());
		if (ms > worst_ms)
			worst_ms = ms;
		fd = loop_open(nr, O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(-ENXIO, loop_get_status64(fd, &info));

		/* What was fsynced before the detach is in the file. */
		bad = compare_pattern(bfd, offset, SAFE_START, SAFE_LEN,
				      safe_seed);
		ASSERT_EQ(-1, bad)
			TH_LOG("iteration %ld: backing file differs at device byte %lld",
			       it, bad);

		/* And the device binds again, and reads it. */
		ASSERT_EQ(0, bind_dev(fd, bfd, offset, 0, 0));
		i = loop_open(nr, O_RDONLY | O_DIRECT);
		ASSERT_LE(0, i);
		bad = compare_pattern(i, 0, SAFE_START, SAFE_LEN, safe_seed);
		close(i);
		ASSERT_EQ(-1, bad)
			TH_LOG("iteration %ld: rebound loop%d differs at %lld",
			       it, nr, bad);
		EXPECT_EQ(0, ioctl_err(fd, LOOP_CLR_FD, 0));
		close(fd);
		ms = wait_detached(nr);
		ASSERT_LE(0, ms)
			TH_LOG("round %ld: rebound loop%d bound %ld ms after the last close",
			       it, nr, unbind_ms());
		close(bfd);
	}
	close(ctl);
	TH_LOG("%ld iterations (%ld partitioned), %ld operations, slowest unbind %ld ms",
	       it, parted_runs, ops, worst_ms);
	ASSERT_LT(0, it);
}

/* ---- reconfigure_under_readers --------------------------------------- */

#define RC_OFFSET	65536		/* lo_offset toggles between 0 and this */
#define RC_FILE		(4 * MIB + RC_OFFSET)
#define RC_RANGE	(4 * MIB - RC_OFFSET)	/* readable at either offset */

struct reader {
	pthread_t tid;
	int fd;
	bool direct;
	uint32_t rng;
	uint32_t seed;
	const int *stop;
	long ops, errors, wrong, shorts;
	int first_errno;
	long long wrong_pos;
};

/* Is every sector of @buf the file at offset 0 or RC_OFFSET? */
static long long check_either(const uint8_t *buf, size_t len, uint32_t seed,
			      off_t pos)
{
	size_t i;

	for (i = 0; i < len; i += 512)
		if (pattern_check(buf + i, 512, seed, pos + i) >= 0 &&
		    pattern_check(buf + i, 512, seed, pos + i + RC_OFFSET) >= 0)
			return pos + i;
	return -1;
}

static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	uint8_t *buf;

	if (posix_memalign((void **)&buf, 4096, MAX_IO)) {
		r->errors++;
		return NULL;
	}
	while (!stop_requested(r->stop)) {
		size_t len = 4096 * (1 + rnd_below(&r->rng, MAX_IO / 4096));
		off_t pos = 4096 * rnd_below(&r->rng,
					     (RC_RANGE - len) / 4096 + 1);
		ssize_t n = pread(r->fd, buf, len, pos);

		r->ops++;
		if (n < 0) {
			if (!r->errors++)
				r->first_errno = errno;
			continue;
		}
		if (n != (ssize_t)len)
			r->shorts++;
		if (n > 0) {
			long long bad = check_either(buf, n & ~511L, r->seed,
						     pos);

			if (bad >= 0 && !r->wrong++)
				r->wrong_pos = bad;
		}
	}
	free(buf);
	return NULL;
}

static const char *const rc_ops[] = {
	"LOOP_SET_STATUS64 (offset)", "LOOP_SET_CAPACITY",
	"LOOP_SET_BLOCK_SIZE", "LOOP_SET_DIRECT_IO", "LOOP_CHANGE_FD",
};

TEST_F_TIMEOUT(stress, reconfigure_under_readers, TEST_TIMEOUT)
{
	uint32_t rng = self->seed ^ 0x7ec0f, seed = rnd(&rng);
	long counts[ARRAY_SIZE(rc_ops)] = { 0 }, fails[ARRAY_SIZE(rc_ops)] = { 0 };
	struct reader rd[NR_IO];
	int stop = 0;
	char file[PATH_MAX];
	int ctl, fd, nr, files[2], cur = 0, i, ret;
	long ops = 0;

	ctl = ctl_open();
	ASSERT_LE(0, ctl);
	for (i = 0; i < 2; i++) {
		int w = make_backing(file, sizeof(file), RC_FILE, seed);

		ASSERT_LE(0, w);
		files[i] = open(file, O_RDONLY | O_CLOEXEC);
		ASSERT_LE(0, files[i]);
		close(w);
		unlink(file);
	}
	fd = get_free_dev(ctl, &nr, O_RDONLY);
	ASSERT_LE(0, fd);
	ret = bind_dev(fd, files[0], 0, 512, LO_FLAGS_READ_ONLY);
	ASSERT_EQ(0, ret) TH_LOG("bind loop%d: %s", nr, strerror(-ret));

	for (i = 0; i < NR_IO; i++) {
		struct reader *r = &rd[i];

		memset(r, 0, sizeof(*r));
		r->direct = i % 2;
		r->rng = rnd(&rng);
		r->seed = seed;
		r->stop = &stop;
		r->fd = loop_open(nr, O_RDONLY | (r->direct ? O_DIRECT : 0));
		ASSERT_LE(0, r->fd);
		ASSERT_EQ(0, pthread_create(&r->tid, NULL, reader_fn, r));
	}

	while (now_ms() < self->deadline) {
		unsigned int op = rnd_below(&rng, ARRAY_SIZE(rc_ops));
		static const unsigned int sizes[] = { 512, 1024, 4096 };
		struct loop_info64 info;

		switch (op) {
		case 0:
			ret = loop_get_status64(fd, &info);
			if (!ret) {
				info.lo_offset = info.lo_offset ? 0 : RC_OFFSET;
				ret = ioctl_err(fd, LOOP_SET_STATUS64,
						(unsigned long)&info);
			}
			break;
		case 1:
			ret = ioctl_err(fd, LOOP_SET_CAPACITY, 0);
			break;
		case 2:
			ret = ioctl_err(fd, LOOP_SET_BLOCK_SIZE,
					sizes[rnd_below(&rng, 3)]);
			/* Somebody (udev) may hold it exclusively. */
			if (ret == -EBUSY)
				ret = 0;
			break;
		case 3:
			ret = ioctl_err(fd, LOOP_SET_DIRECT_IO,
					rnd_below(&rng, 2));
			/* Not every block size and offset allows it. */
			if (ret == -EINVAL)
				ret = 0;
			break;
		case 4:
			cur ^= 1;
			ret = ioctl_err(fd, LOOP_CHANGE_FD, files[cur]);
			if (ret)
				cur ^= 1;
			break;
		}
		counts[op]++;
		if (ret && !fails[op]++)
			TH_LOG("%s: %s", rc_ops[op], strerror(-ret));
		msleep(rnd_below(&rng, 30));
	}

	request_stop(&stop);
	for (i = 0; i < NR_IO; i++) {
		struct reader *r = &rd[i];

		ASSERT_EQ(0, pthread_join(r->tid, NULL));
		close(r->fd);
		ops += r->ops;
		TH_LOG("%s reader: %ld reads, %ld short, %ld errors%s%s",
		       r->direct ? "O_DIRECT" : "buffered", r->ops, r->shorts,
		       r->errors, r->errors ? ", first: " : "",
		       r->errors ? strerror(r->first_errno) : "");
		EXPECT_EQ(0, r->wrong)
			TH_LOG("%s reader got wrong data at %lld",
			       r->direct ? "O_DIRECT" : "buffered",
			       r->wrong_pos);
		EXPECT_LT(0, r->ops);
	}
	for (i = 0; i < (int)ARRAY_SIZE(rc_ops); i++) {
		TH_LOG("%s: %ld times, %ld failed", rc_ops[i], counts[i],
		       fails[i]);
		EXPECT_EQ(0, fails[i]);
	}
	EXPECT_EQ(0, ioctl_err(fd, LOOP_CLR_FD, 0));
	close(fd);
	EXPECT_LE(0, wait_detached(nr));
	close(files[0]);
	close(files[1]);
	close(ctl);
	TH_LOG("%ld reads", ops);
}

/* ---- control_races --------------------------------------------------- */

struct racer {
	pthread_t tid;
	bool binder;
	int ctl;
	int bfd;		/* binders: their backing file */
	uint32_t rng;
	const int *stop;
	long ops, binds, bad_errors, wrong, removed_open;
	int bad_errno;
	const char *bad_what;
};

static void racer_bad(struct racer *r, const char *what, int err)
{
	if (!r->bad_errors++) {
		r->bad_what = what;
		r->bad_errno = -err;
	}
}

/*
 * Was the disk behind @fd, an open loopN, removed while it was open?  An
 * opener holds it, so LOOP_CTL_REMOVE must refuse: the disk in sysfs must
 * still be the one behind @fd.  Disk sequence numbers are never reused and
 * only grow, so a disk added later in its place has a larger one than
 * @fd's disk ever had, and a bind between the two reads leaves the fd's
 * value between them.
 */
static bool removed_while_open(int fd, int nr)
{
	long long before, after;
	__u64 seq;

	before = sysfs_read_ll(nr, "diskseq");
	if (ioctl(fd, BLKGETDISKSEQ, &seq))
		return false;	/* kernel without disk sequence numbers */
	after = sysfs_read_ll(nr, "diskseq");
	if (before == -ENOENT || after == -ENOENT)
		return true;
	if (before < 0 || after < 0)
		return false;
	return (long long)seq < before || (long long)seq > after;
}

/* A binder: open a number, bind, move a little data, detach. */
static void binder_round(struct racer *r, void *buf)
{
	int nr = CTL_NR + rnd_below(&r->rng, CTL_COUNT);
	off_t pos = 4096 * rnd_below(&r->rng, 64);
	uint32_t seed = rnd(&r->rng);
	int fd, ret;

	fd = loop_open(nr, O_RDWR);
	/* Not there (yet, any more), or going away. */
	if (fd == -ENOENT || fd == -ENXIO || fd == -ENODEV)
		return;
	if (fd < 0) {
		racer_bad(r, "open", fd);
		return;
	}
	ret = bind_dev(fd, r->bfd, 0, 0, 0);
	if (ret == -EBUSY || ret == -ENXIO) {
		if (removed_while_open(fd, nr))
			r->removed_open++;
		close(fd);
		return;
	}
	if (ret) {
		racer_bad(r, "LOOP_CONFIGURE", ret);
		close(fd);
		return;
	}
	r->binds++;
	pattern_fill(buf, 4096, seed, pos);
	if (pwrite(fd, buf, 4096, pos) != 4096 || fsync(fd)) {
		racer_bad(r, "write", -errno);
	} else {
		memset(buf, 0, 4096);
		if (pread(r->bfd, buf, 4096, pos) != 4096)
			racer_bad(r, "read back", -errno);
		else if (pattern_check(buf, 4096, seed, pos) >= 0)
			r->wrong++;
	}
	ret = ioctl_err(fd, LOOP_CLR_FD, 0);
	if (ret)
		racer_bad(r, "LOOP_CLR_FD", ret);
	close(fd);
}

static void ctl_round(struct racer *r)
{
	int nr = CTL_NR + rnd_below(&r->rng, CTL_COUNT);
	int ret;

	switch (rnd_below(&r->rng, 3)) {
	case 0:
		ret = ioctl(r->ctl, LOOP_CTL_ADD, nr) < 0 ? -errno : 0;
		if (ret && ret != -EEXIST)
			racer_bad(r, "LOOP_CTL_ADD", ret);
		break;
	case 1:
		ret = ioctl(r->ctl, LOOP_CTL_REMOVE, nr) < 0 ? -errno : 0;
		if (ret && ret != -EBUSY && ret != -ENODEV)
			racer_bad(r, "LOOP_CTL_REMOVE", ret);
		break;
	case 2:
		ret = ioctl(r->ctl, LOOP_CTL_GET_FREE) < 0 ? -errno : 0;
		if (ret)
			racer_bad(r, "LOOP_CTL_GET_FREE", ret);
		break;
	}
}

static void *racer_fn(void *arg)
{
	struct racer *r = arg;
	void *buf;

	if (posix_memalign(&buf, 4096, 4096)) {
		racer_bad(r, "memory", -ENOMEM);
		return NULL;
	}
	while (!stop_requested(r->stop)) {
		if (r->binder)
			binder_round(r, buf);
		else
			ctl_round(r);
		r->ops++;
		if (!rnd_below(&r->rng, 4))
			msleep(rnd_below(&r->rng, 3));
	}
	free(buf);
	return NULL;
}

TEST_F_TIMEOUT(stress, control_races, TEST_TIMEOUT)
{
	uint32_t rng = self->seed ^ 0xc7c7c;
	struct racer rc[4];
	int stop = 0;
	char file[PATH_MAX];
	int ctl, i, nr;

	ctl = ctl_open();
	ASSERT_LE(0, ctl);
	for (i = 0; i < (int)ARRAY_SIZE(rc); i++) {
		struct racer *r = &rc[i];

		memset(r, 0, sizeof(*r));
		r->binder = i % 2;
		r->ctl = ctl;
		r->rng = rnd(&rng);
		r->stop = &stop;
		r->bfd = -1;
		if (r->binder) {
			r->bfd = make_backing(file, sizeof(file), MIB,
					      rnd(&rng));
			ASSERT_LE(0, r->bfd);
			unlink(file);
		}
		ASSERT_EQ(0, pthread_create(&r->tid, NULL, racer_fn, r));
	}
	while (now_ms() < self->deadline)
		msleep(100);
	request_stop(&stop);
	for (i = 0; i < (int)ARRAY_SIZE(rc); i++) {
		struct racer *r = &rc[i];

		ASSERT_EQ(0, pthread_join(r->tid, NULL));
		TH_LOG("%s: %ld rounds, %ld binds", r->binder ? "binder" :
		       "control", r->ops, r->binds);
		EXPECT_EQ(0, r->bad_errors)
			TH_LOG("%ld unexpected errors, first: %s: %s",
			       r->bad_errors, r->bad_what,
			       strerror(r->bad_errno));
		EXPECT_EQ(0, r->removed_open)
			TH_LOG("%ld devices removed while a binder had them open",
			       r->removed_open);
		EXPECT_EQ(0, r->wrong);
		if (r->bfd >= 0)
			close(r->bfd);
	}
	udev_settle();

	/* Every number still works: bind, exact data, detach, remove. */
	for (nr = CTL_NR; nr < CTL_NR + CTL_COUNT; nr++) {
		uint32_t seed = rnd(&rng);
		struct loop_info64 info;
		int fd = -1, bfd, ret, j;
		long long bad;

		ret = ioctl(ctl, LOOP_CTL_ADD, nr) < 0 ? -errno : 0;
		ASSERT_TRUE(ret == 0 || ret == -EEXIST)
			TH_LOG("LOOP_CTL_ADD %d: %s", nr, strerror(-ret));
		for (j = 0; j < 100; j++) {
			fd = loop_open(nr, O_RDWR);
			if (fd != -ENOENT)
				break;
			msleep(20);
		}
		ASSERT_LE(0, fd) TH_LOG("open loop%d: %s", nr, strerror(-fd));
		/* A racer's detach may still wait for udev's last close. */
		for (j = 0; j < 50; j++) {
			bfd = make_backing(file, sizeof(file), MIB, seed);
			ASSERT_LE(0, bfd);
			unlink(file);
			ret = bind_dev(fd, bfd, 0, 0, 0);
			if (ret != -EBUSY)
				break;
			close(bfd);
			close(fd);
			wait_unbound(nr, 2000);
			fd = loop_open(nr, O_RDWR);
			ASSERT_LE(0, fd);
		}
		ASSERT_EQ(0, ret) TH_LOG("bind loop%d: %s", nr, strerror(-ret));
		ASSERT_EQ(0, fill_synced(fd, 0, MIB, seed ^ 1));
		bad = compare_pattern(bfd, 0, 0, MIB, seed ^ 1);
		ASSERT_EQ(-1, bad) TH_LOG("loop%d: file differs at %lld",
					  nr, bad);
		j = loop_open(nr, O_RDONLY | O_DIRECT);
		ASSERT_LE(0, j);
		bad = compare_pattern(j, 0, 0, MIB, seed ^ 1);
		close(j);
		ASSERT_EQ(-1, bad) TH_LOG("loop%d: device differs at %lld",
					  nr, bad);
		ASSERT_EQ(0, ioctl_err(fd, LOOP_CLR_FD, 0));
		close(fd);
		ASSERT_LE(0, wait_detached(nr))
			TH_LOG("loop%d still bound after the last close", nr);
		fd = loop_open(nr, O_RDONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(-ENXIO, loop_get_status64(fd, &info));
		close(fd);
		close(bfd);
		EXPECT_EQ(0, ctl_remove_retry(ctl, nr));
	}
	close(ctl);
}

/* ---- stacked_ioctls -------------------------------------------------- */

#define ST_REGION	(512 * 1024)	/* per writer */
#define ST_WRITERS	2
#define ST_SIZE		(ST_WRITERS * ST_REGION)

struct st_writer {
	pthread_t tid;
	int fd;
	bool direct;
	off_t region;
	uint32_t rng;
	uint8_t *model;		/* what the region must hold */
	const int *stop;
	long ops, errors;
	int first_errno;
};

static void *st_writer_fn(void *arg)
{
	struct st_writer *w = arg;
	uint8_t *buf;

	if (posix_memalign((void **)&buf, 4096, MAX_IO)) {
		w->errors++;
		return NULL;
	}
	while (!stop_requested(w->stop)) {
		size_t len = 4096 * (1 + rnd_below(&w->rng, 16));
		off_t pos = 4096 * rnd_below(&w->rng,
					     (ST_REGION - len) / 4096 + 1);
		uint32_t seed = rnd(&w->rng);
		ssize_t n;

		pattern_fill(buf, len, seed, w->region + pos);
		n = pwrite(w->fd, buf, len, w->region + pos);
		if (n == (ssize_t)len) {
			memcpy(w->model + pos, buf, len);
			/* A flush goes down the stack. */
			if (!rnd_below(&w->rng, 4) && fsync(w->fd))
				n = -1;
		}
		if (n != (ssize_t)len && !w->errors++)
			w->first_errno = n < 0 ? errno : 0;
		w->ops++;
	}
	free(buf);
	return NULL;
}

/* Commands the loop driver does not know, and one the transfer may. */
static const unsigned long st_cmds[] = {
	_IO('L', 0x99), _IOR('L', 0x41, int), 0x5331 /* CDROM_GET_CAPABILITY */,
	_IOW('x', 1, long), 0x1261 /* BLKFLSBUF */,
	LOOP_CRYPTO_SET_KEY,
};

struct st_meddler {
	pthread_t tid;
	int nr[2];		/* lower, upper */
	uint32_t rng;
	const int *stop;
	long ioctls, sizes, opens, syncs;
};

static void *st_meddler_fn(void *arg)
{
	struct st_meddler *m = arg;
	struct loop_crypto_key key;

	memset(&key, 0, sizeof(key));
	key.key_size = 16;
	while (!stop_requested(m->stop)) {
		int nr = m->nr[rnd_below(&m->rng, 2)];
		int fd = loop_open(nr, O_RDWR);
		unsigned long cmd;

		if (fd < 0)
			continue;
		switch (rnd_below(&m->rng, 8)) {
		case 0: case 1: case 2: case 3:
			cmd = st_cmds[rnd_below(&m->rng, ARRAY_SIZE(st_cmds))];
			ioctl(fd, cmd, cmd == LOOP_CRYPTO_SET_KEY ?
			      (unsigned long)&key : 0UL);
			m->ioctls++;
			break;
		case 4:
			ioctl(fd, LOOP_SET_BLOCK_SIZE,
			      rnd_below(&m->rng, 2) ? 4096 : 512);
			m->sizes++;
			break;
		case 5:
			if (!rnd_below(&m->rng, 8)) {
				sync();
				m->syncs++;
			}
			break;
		default:
			m->opens++;
			break;
		}
		close(fd);
		msleep(rnd_below(&m->rng, 5));
	}
	return NULL;
}

/* Bind @fd to @bfd with a transfer: cryptoloop's AES, else XOR. */
static int bind_with_transfer(int fd, int bfd, bool *aes)
{
	struct loop_config cfg;
	int ret;

	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = bfd;
	cfg.info.lo_encrypt_type = LO_CRYPT_CRYPTOAPI;
	strcpy((char *)cfg.info.lo_crypt_name, "aes-cbc-plain");
	cfg.info.lo_encrypt_key_size = 16;
	memset(cfg.info.lo_encrypt_key, 0x5a, 16);
	ret = ioctl_err(fd, LOOP_CONFIGURE, (unsigned long)&cfg);
	*aes = !ret;
	if (ret != -EINVAL)
		return ret;
	cfg.info.lo_encrypt_type = LO_CRYPT_XOR;
	memset(cfg.info.lo_crypt_name, 0, sizeof(cfg.info.lo_crypt_name));
	return ioctl_err(fd, LOOP_CONFIGURE, (unsigned long)&cfg);
}

TEST_F_TIMEOUT(stress, stacked_ioctls, TEST_TIMEOUT)
{
	uint32_t rng = self->seed ^ 0x57ac7;
	struct st_writer wr[ST_WRITERS];
	struct st_meddler md[2];
	int stop = 0;
	char file[PATH_MAX], path[64];
	int ctl, bfd, lfd, ufd, lower, upper, below, i, ret;
	const char *mod = getenv("LOOP_MODULE");
	bool aes;

	/* cryptoloop.ko beside the module under test, if not loaded. */
	if (mod && *mod && access("/sys/module/cryptoloop", F_OK)) {
		char cmd[PATH_MAX + 64];

		snprintf(cmd, sizeof(cmd),
			 "insmod \"$(dirname '%s')/cryptoloop.ko\" 2>/dev/null",
			 mod);
		self->loaded_cryptoloop = system(cmd) == 0;
	}

	ctl = ctl_open();
	ASSERT_LE(0, ctl);
	bfd = make_backing(file, sizeof(file), ST_SIZE, rnd(&rng));
	ASSERT_LE(0, bfd);
	unlink(file);
	lfd = get_free_dev(ctl, &lower, O_RDWR);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, bind_dev(lfd, bfd, 0, 0, 0));
	ufd = get_free_dev(ctl, &upper, O_RDWR);
	ASSERT_LE(0, ufd);
	snprintf(path, sizeof(path), "/dev/loop%d", lower);
	below = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, below);
	ret = bind_with_transfer(ufd, below, &aes);
	ASSERT_EQ(0, ret) TH_LOG("bind loop%d on loop%d: %s", upper, lower,
				 strerror(-ret));
	close(below);
	TH_LOG("loop%d (%s) on loop%d", upper, aes ? "aes-cbc-plain" : "xor",
	       lower);

	for (i = 0; i < ST_WRITERS; i++) {
		struct st_writer *w = &wr[i];

		memset(w, 0, sizeof(*w));
		w->direct = i % 2;
		w->region = i * ST_REGION;
		w->rng = rnd(&rng);
		w->stop = &stop;
		/* Aligned: it is written with O_DIRECT first. */
		ASSERT_EQ(0, posix_memalign((void **)&w->model, 4096,
					    ST_REGION));
		/* Start from known contents. */
		memset(w->model, 0, ST_REGION);
		w->fd = loop_open(upper, O_RDWR | (w->direct ? O_DIRECT : 0));
		ASSERT_LE(0, w->fd);
		ASSERT_EQ(ST_REGION, pwrite_full(w->fd, w->model, ST_REGION,
						 w->region));
		ASSERT_EQ(0, fsync(w->fd));
		ASSERT_EQ(0, pthread_create(&w->tid, NULL, st_writer_fn, w));
	}
	for (i = 0; i < 2; i++) {
		struct st_meddler *m = &md[i];

		memset(m, 0, sizeof(*m));
		m->nr[0] = lower;
		m->nr[1] = upper;
		m->rng = rnd(&rng);
		m->stop = &stop;
		ASSERT_EQ(0, pthread_create(&m->tid, NULL, st_meddler_fn, m));
	}
	while (now_ms() < self->deadline)
		msleep(100);
	request_stop(&stop);

	for (i = 0; i < 2; i++) {
		struct st_meddler *m = &md[i];

		ASSERT_EQ(0, pthread_join(m->tid, NULL));
		TH_LOG("meddler: %ld ioctls, %ld block sizes, %ld opens, %ld syncs",
		       m->ioctls, m->sizes, m->opens, m->syncs);
	}
	for (i = 0; i < ST_WRITERS; i++) {
		struct st_writer *w = &wr[i];
		uint8_t *buf;

		ASSERT_EQ(0, pthread_join(w->tid, NULL));
		TH_LOG("%s writer: %ld writes, %ld failed%s%s",
		       w->direct ? "O_DIRECT" : "buffered", w->ops, w->errors,
		       w->errors ? ", first: " : "",
		       w->errors ? strerror(w->first_errno) : "");
		/* O_DIRECT may meet a block size it is not aligned to. */
		if (!w->direct)
			EXPECT_EQ(0, w->errors);
		ASSERT_EQ(0, fsync(w->fd));
		close(w->fd);
		/* Read back through the whole stack, past any cache. */
		ASSERT_EQ(0, posix_memalign((void **)&buf, 4096, ST_REGION));
		w->fd = loop_open(upper, O_RDONLY | O_DIRECT);
		ASSERT_LE(0, w->fd);
		ASSERT_EQ(ST_REGION, pread_full(w->fd, buf, ST_REGION,
						w->region));
		EXPECT_EQ(0, memcmp(buf, w->model, ST_REGION))
			TH_LOG("%s writer's region differs",
			       w->direct ? "O_DIRECT" : "buffered");
		close(w->fd);
		free(buf);
		free(w->model);
	}
	EXPECT_EQ(0, ioctl_err(ufd, LOOP_CLR_FD, 0));
	close(ufd);
	EXPECT_LE(0, wait_detached(upper));
	EXPECT_EQ(0, ioctl_err(lfd, LOOP_CLR_FD, 0));
	close(lfd);
	EXPECT_LE(0, wait_detached(lower));
	close(bfd);
	close(ctl);
}

TEST_HARNESS_MAIN
