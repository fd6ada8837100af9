// SPDX-License-Identifier: GPL-2.0
/*
 * Deep queues: submitters that keep many requests in flight (Linux AIO on
 * O_DIRECT, as fio and databases do), one per CPU and pinned to it, the
 * even CPUs' all the time, the odd CPUs' in bursts with pauses between.
 * That is what moves the driver's dispatch between its modes (work on the
 * submitter's CPU, beside it on another, a worker waiting there for more)
 * and back, many times a second.  Every request must complete (a lost
 * one fails the test after LOST_SECS, not at the harness's timeout), and
 * every read must return what the last write to its block wrote.
 *
 * Each submitter owns a region of the device and checks its own blocks:
 * a block is written with (block, generation, seed) words, and read back
 * at random, while no other request to it is in flight.  At the end, the
 * whole device is read back with pread() and checked against the model.
 *
 * Both backing modes: buffered (the page cache of the backing file) and
 * direct I/O.  Environment: LOOP_STRESS_SEED (replays a run's choices),
 * LOOP_STRESS_SECONDS (time per test, default 8).
 */
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <linux/aio_abi.h>

#include "loop_util.h"
#include "loop_harness.h"
#include "stress_util.h"

#define DQ_NR		234		/* see TEST_NR in ioctl_test.c */
#define MIB		(1024 * 1024)
#define DEV_SIZE	(16 * MIB)
#define BLK		4096
#define MAX_DEPTH	128		/* requests in flight per submitter */
#define MAX_SUBMITTERS	16
#define LOST_SECS	60		/* no completion for this long: lost */
#define BURST_MAX_MS	20		/* bursts and pauses of odd CPUs */

static uint32_t run_seed;

static void __attribute__((constructor)) pick_seed(void)
{
	run_seed = env_long("LOOP_STRESS_SEED", 0);
	if (!run_seed)
		run_seed = (uint32_t)(time(NULL) ^ (getpid() << 16)) ?: 1;
}

struct slot {
	struct iocb cb;
	void *buf;
	uint32_t block;		/* in the submitter's region */
	bool busy;
};

struct submitter {
	int fd;			/* /dev/loopN, O_DIRECT */
	int cpu;
	bool bursty;
	uint32_t seed;
	uint32_t first, nr;	/* region: blocks [first, first + nr) */
	uint32_t *gen;		/* generation last written to each block */
	bool *busy;		/* a request to the block is in flight */
	int *stop;
	/* results */
	unsigned long long reads, writes;
	char error[256];
};

/* The words a block holds after generation @gen of writes to it. */
static void block_fill(void *buf, uint32_t block, uint32_t gen, uint32_t seed)
{
	uint32_t *w = buf;
	unsigned int i;

	for (i = 0; i < BLK / sizeof(*w); i += 4) {
		w[i] = block;
		w[i + 1] = gen;
		w[i + 2] = seed;
		w[i + 3] = i;
	}
}

/* The first word of @buf that differs from block_fill()'s, or -1. */
static int block_check(const void *buf, uint32_t block, uint32_t gen,
		       uint32_t seed)
{
	static __thread uint32_t want[BLK / sizeof(uint32_t)];
	const uint32_t *w = buf;
	unsigned int i;

	block_fill(want, block, gen, seed);
	for (i = 0; i < BLK / sizeof(*w); i++)
		if (w[i] != want[i])
			return i;
	return -1;
}

static long io_setup(unsigned int nr, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr, ctx);
}

static long io_destroy(aio_context_t ctx)
{
	return syscall(SYS_io_destroy, ctx);
}

static long io_submit(aio_context_t ctx, long nr, struct iocb **cbs)
{
	return syscall(SYS_io_submit, ctx, nr, cbs);
}

static long io_getevents(aio_context_t ctx, long min, long nr,
			 struct io_event *ev, struct timespec *tmo)
{
	return syscall(SYS_io_getevents, ctx, min, nr, ev, tmo);
}

/*
 * Start a read or write of a random block of @s's that has no request in
 * flight: a read beside a write of its block may see either's data.
 */
static int start_one(struct submitter *s, aio_context_t ctx,
		     struct slot *sl, uint32_t *state)
{
	struct iocb *cbp = &sl->cb;
	uint32_t block = rnd_below(state, s->nr);
	bool write = rnd_below(state, 2);

	while (s->busy[block])
		block = (block + 1) % s->nr;
	memset(&sl->cb, 0, sizeof(sl->cb));
	sl->block = block;
	sl->cb.aio_data = (uintptr_t)sl;
	sl->cb.aio_fildes = s->fd;
	sl->cb.aio_buf = (uintptr_t)sl->buf;
	sl->cb.aio_nbytes = BLK;
	sl->cb.aio_offset = (off_t)(s->first + block) * BLK;
	if (write) {
		block_fill(sl->buf, s->first + block, s->gen[block] + 1,
			   s->seed);
		sl->cb.aio_lio_opcode = IOCB_CMD_PWRITE;
	} else {
		sl->cb.aio_lio_opcode = IOCB_CMD_PREAD;
	}
	if (io_submit(ctx, 1, &cbp) != 1) {
		snprintf(s->error, sizeof(s->error), "io_submit: %s",
			 strerror(errno));
		return -1;
	}
	sl->busy = true;
	s->busy[block] = true;
	return 0;
}

/* Account for one completion; the slot is free again. */
static int end_one(struct submitter *s, const struct io_event *ev)
{
	struct slot *sl = (struct slot *)(uintptr_t)ev->data;
	uint32_t block = sl->block;
	int bad;

	sl->busy = false;
	s->busy[block] = false;
	if (ev->res != BLK) {
		snprintf(s->error, sizeof(s->error),
			 "%s of block %u returned %lld",
			 sl->cb.aio_lio_opcode == IOCB_CMD_PWRITE ?
			 "write" : "read", s->first + block,
			 (long long)ev->res);
		return -1;
	}
	if (sl->cb.aio_lio_opcode == IOCB_CMD_PWRITE) {
		s->gen[block]++;
		s->writes++;
		return 0;
	}
	s->reads++;
	bad = block_check(sl->buf, s->first + block, s->gen[block], s->seed);
	if (bad >= 0) {
		snprintf(s->error, sizeof(s->error),
			 "read of block %u (generation %u): word %d is %#x",
			 s->first + block, s->gen[block], bad,
			 ((uint32_t *)sl->buf)[bad]);
		return -1;
	}
	return 0;
}

/* Keep @depth requests in flight until @until (ms); then drain them all. */
static int run_burst(struct submitter *s, aio_context_t ctx,
		     struct slot *slots, unsigned int depth,
		     long long until, uint32_t *state)
{
	struct io_event ev[MAX_DEPTH];
	unsigned int inflight = 0, i;
	long n, k;

	for (;;) {
		bool more = now_ms() < until && !stop_requested(s->stop);

		for (i = 0; more && inflight < depth && i < MAX_DEPTH; i++) {
			if (slots[i].busy)
				continue;
			if (start_one(s, ctx, &slots[i], state))
				return -1;
			inflight++;
		}
		if (!inflight)
			return 0;
		n = io_getevents(ctx, 1, MAX_DEPTH, ev,
				 &(struct timespec){ .tv_sec = LOST_SECS });
		if (n < 0) {
			snprintf(s->error, sizeof(s->error), "io_getevents: %s",
				 strerror(errno));
			return -1;
		}
		if (!n) {
			snprintf(s->error, sizeof(s->error),
				 "%u requests lost: none completed in %d s",
				 inflight, LOST_SECS);
			/* Now: the device is stuck, and so may our exit be. */
			fprintf(stderr, "# CPU %d: %s\n", s->cpu, s->error);
			return -1;
		}
		for (k = 0; k < n; k++) {
			inflight--;
			if (end_one(s, &ev[k]))
				return -1;
		}
	}
}

static void *submitter_fn(void *arg)
{
	struct submitter *s = arg;
	struct slot slots[MAX_DEPTH] = {};
	uint32_t state = s->seed;
	aio_context_t ctx = 0;
	cpu_set_t set;
	unsigned int i;
	long long t;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		snprintf(s->error, sizeof(s->error), "sched_setaffinity: %s",
			 strerror(errno));
	if (s->error[0] || io_setup(MAX_DEPTH, &ctx)) {
		if (!s->error[0])
			snprintf(s->error, sizeof(s->error), "io_setup: %s",
				 strerror(errno));
		return NULL;
	}
	for (i = 0; i < MAX_DEPTH; i++) {
		if (posix_memalign(&slots[i].buf, BLK, BLK)) {
			snprintf(s->error, sizeof(s->error), "out of memory");
			goto out;
		}
	}
	while (!stop_requested(s->stop)) {
		unsigned int depth = 1 + rnd_below(&state, MAX_DEPTH);

		t = now_ms() + (s->bursty ? 1 + rnd_below(&state, BURST_MAX_MS) :
					    1000);
		if (run_burst(s, ctx, slots, depth, t, &state))
			break;
		if (s->bursty)
			msleep(1 + rnd_below(&state, BURST_MAX_MS));
	}
out:
	io_destroy(ctx);
	for (i = 0; i < MAX_DEPTH; i++)
		free(slots[i].buf);
	return NULL;
}

FIXTURE(deep) {
	int ctl;
	int fd;			/* /dev/loopN, buffered, for the bind */
	int dfd;		/* /dev/loopN, O_DIRECT */
	int bfd;
	char file[PATH_MAX];
};

FIXTURE_VARIANT(deep) {
	bool dio;		/* the binding's backing mode */
};

FIXTURE_VARIANT_ADD(deep, buffered) { .dio = false };
FIXTURE_VARIANT_ADD(deep, direct) { .dio = true };

FIXTURE_SETUP(deep)
{
	struct loop_config cfg = {};

	self->fd = -1;
	self->dfd = -1;
	self->bfd = -1;
	self->ctl = ctl_open();
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(DQ_NR, ctl_add_fixed(self->ctl, DQ_NR));
	self->fd = loop_open(DQ_NR, O_RDWR);
	ASSERT_LE(0, self->fd);
	self->bfd = make_backing(self->file, sizeof(self->file), DEV_SIZE, 1);
	ASSERT_LE(0, self->bfd) TH_LOG("backing file in %s: %s", test_dir(),
				       strerror(-self->bfd));
	if (variant->dio && !backing_supports_dio(self->file))
		SKIP(return, "%s does not take O_DIRECT", test_dir());
	cfg.fd = self->bfd;
	cfg.block_size = BLK;
	cfg.info.lo_flags = variant->dio ? LO_FLAGS_DIRECT_IO : 0;
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_CONFIGURE, (unsigned long)&cfg));
	ASSERT_EQ(variant->dio ? 1 : 0, sysfs_read_ll(DQ_NR, "loop/dio"));
	self->dfd = loop_open(DQ_NR, O_RDWR | O_DIRECT);
	ASSERT_LE(0, self->dfd);
}

FIXTURE_TEARDOWN(deep)
{
	if (self->dfd >= 0)
		close(self->dfd);
	detach_and_remove(self->ctl, DQ_NR, &self->fd);
	if (self->bfd >= 0) {
		close(self->bfd);
		unlink(self->file);
	}
	if (self->ctl >= 0)
		close(self->ctl);
}

TEST_F_TIMEOUT(deep, submitters_on_every_cpu, 300)
{
	struct submitter s[MAX_SUBMITTERS] = {};
	pthread_t th[MAX_SUBMITTERS];
	uint32_t blocks = DEV_SIZE / BLK, per, b, i, n = 0;
	uint32_t *gen = calloc(blocks, sizeof(*gen));
	bool *busy = calloc(blocks, sizeof(*busy));
	void *buf = NULL;
	int stop = 0, bad;
	bool failed = false;
	long cpu, ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t online;

	ASSERT_NE(NULL, gen);
	ASSERT_NE(NULL, busy);
	ASSERT_EQ(0, posix_memalign(&buf, BLK, BLK));
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(online), &online));
	/* The backing file's pattern is generation 0 of no block: start from 1. */
	for (b = 0; b < blocks; b++) {
		block_fill(buf, b, 1, run_seed);
		ASSERT_EQ(BLK, pwrite_full(self->dfd, buf, BLK, (off_t)b * BLK));
		gen[b] = 1;
	}
	for (cpu = 0; cpu < CPU_SETSIZE && n < MAX_SUBMITTERS && n < ncpu; cpu++)
		if (CPU_ISSET(cpu, &online))
			s[n++].cpu = cpu;
	ASSERT_LT(0, n);
	per = blocks / n;
	TH_LOG("seed %u (replay with LOOP_STRESS_SEED=%u), %u submitters, nr_queues %lld",
	       run_seed, run_seed, n, loop_param("nr_queues"));
	for (i = 0; i < n; i++) {
		s[i].fd = self->dfd;
		s[i].bursty = i % 2;
		s[i].seed = run_seed;
		s[i].first = i * per;
		s[i].nr = per;
		s[i].gen = gen + i * per;
		s[i].busy = busy + i * per;
		s[i].stop = &stop;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, submitter_fn, &s[i]));
	}
	sleep(env_long("LOOP_STRESS_SECONDS", 8));
	request_stop(&stop);
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		TH_LOG("CPU %d (%s): %llu reads, %llu writes checked",
		       s[i].cpu, s[i].bursty ? "bursts" : "steady",
		       s[i].reads, s[i].writes);
		EXPECT_STREQ("", s[i].error);
		EXPECT_LT(0, s[i].reads + s[i].writes);
		failed |= s[i].error[0];
	}
	/* A request lost would hold the reads below forever. */
	ASSERT_FALSE(failed) TH_LOG("not reading the device back");
	/* The device as a whole, read after all completed, by another path. */
	for (b = 0; b < n * per; b++) {
		ASSERT_EQ(BLK, pread_full(self->dfd, buf, BLK, (off_t)b * BLK));
		bad = block_check(buf, b, gen[b], run_seed);
		EXPECT_EQ(-1, bad) TH_LOG("block %u (generation %u): word %d",
					  b, gen[b], bad);
		if (bad >= 0)
			break;
	}
	free(buf);
	free(gen);
	free(busy);
}

TEST_HARNESS_MAIN
