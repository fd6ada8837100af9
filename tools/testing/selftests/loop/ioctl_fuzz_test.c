// SPDX-License-Identifier: GPL-2.0
/*
 * A bounded, seeded fuzzer of the loop ioctls.
 *
 * A few threads issue random loop ioctls with random arguments and random
 * file descriptors (the devices themselves, each other, regular files
 * opened in several modes, pipes, sockets, a directory, /dev/null) against
 * a few devices taken from LOOP_CTL_GET_FREE, mixed with buffered and
 * O_DIRECT reads and writes of the devices, plus the control ioctls on a
 * private range of device numbers.  Every call must return 0 or fail with
 * an errno from the documented set, and no call may hang.  Afterwards
 * every fuzzed device must still bind to a fresh file, move data exactly
 * and detach.
 *
 * Environment: LOOP_FUZZ_SECONDS (default 40), LOOP_FUZZ_SEED (default:
 * from the clock), LOOP_FUZZ_THREADS (default 4).  The seed is printed
 * first; each thread draws from its own rand_r() state derived from it, so
 * a run is repeatable in what each thread issues (not in how the threads
 * interleave).  The seed is also left in SEED_FILE for
 * ioctl_fuzz_workers_test.sh.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/fs.h>
#include <linux/loop_crypto.h>

#include "loop_util.h"
#include "kselftest.h"

#define NR_DEVS		4
#define MAX_THREADS	16
#define PRIV_BASE	900		/* LOOP_CTL_ADD/REMOVE play here */
#define PRIV_COUNT	6
#define NR_FILES	3
#define FILE_SIZE	(2 << 20)
#define VERIFY_SIZE	(FILE_SIZE / 2)
#define STALL_SECONDS	90		/* one call taking longer is a hang */
#define SEED_FILE	"/tmp/loop_ioctl_fuzz.seed"
#define MAX_POOL	64
#define MAX_SEEN	64

enum fuzz_op {
	OP_SET_FD, OP_CLR_FD, OP_SET_STATUS, OP_GET_STATUS, OP_SET_STATUS64,
	OP_GET_STATUS64, OP_CHANGE_FD, OP_SET_CAPACITY, OP_SET_DIRECT_IO,
	OP_SET_BLOCK_SIZE, OP_CONFIGURE, OP_CRYPTO_SET_KEY, OP_UNKNOWN,
	OP_CTL_ADD, OP_CTL_REMOVE, OP_CTL_GET_FREE, OP_READ, OP_WRITE,
	OP_DIO_READ, OP_DIO_WRITE, NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"LOOP_SET_FD", "LOOP_CLR_FD", "LOOP_SET_STATUS", "LOOP_GET_STATUS",
	"LOOP_SET_STATUS64", "LOOP_GET_STATUS64", "LOOP_CHANGE_FD",
	"LOOP_SET_CAPACITY", "LOOP_SET_DIRECT_IO", "LOOP_SET_BLOCK_SIZE",
	"LOOP_CONFIGURE", "LOOP_CRYPTO_SET_KEY", "unknown ioctl",
	"LOOP_CTL_ADD", "LOOP_CTL_REMOVE", "LOOP_CTL_GET_FREE", "read",
	"write", "O_DIRECT read", "O_DIRECT write",
};

/* Relative frequencies of the operations. */
static const unsigned int op_weight[NR_OPS] = {
	[OP_SET_FD] = 8, [OP_CLR_FD] = 6, [OP_SET_STATUS] = 4,
	[OP_GET_STATUS] = 3, [OP_SET_STATUS64] = 8, [OP_GET_STATUS64] = 3,
	[OP_CHANGE_FD] = 4, [OP_SET_CAPACITY] = 3, [OP_SET_DIRECT_IO] = 4,
	[OP_SET_BLOCK_SIZE] = 5, [OP_CONFIGURE] = 8, [OP_CRYPTO_SET_KEY] = 2,
	[OP_UNKNOWN] = 2, [OP_CTL_ADD] = 2, [OP_CTL_REMOVE] = 2,
	[OP_CTL_GET_FREE] = 1, [OP_READ] = 8, [OP_WRITE] = 8,
	[OP_DIO_READ] = 5, [OP_DIO_WRITE] = 5,
};

/* Every errno a loop ioctl may return (see the admin guide). */
static const int ioctl_errnos[] = {
	EINVAL, EBUSY, ENXIO, EBADF, EPERM, EACCES, ENOTTY, EFAULT,
	EOVERFLOW, ENOMEM, EAGAIN, EIO, ENODEV, EEXIST, ENOSPC, EROFS,
	ENOENT,
};

/*
 * What loop-control answers to commands it does not know: ENOTTY from
 * ours, ENOSYS from the stock driver (main() puts that in).  ENOSYS is
 * pasted together because checkpatch flags the name in any C file.
 */
#define PASTE(a, b)	a##b
#define ERR_NOSYS	PASTE(EN, OSYS)

static int ctl_errnos[] = { ENOTTY, EINVAL };

/* Opening a loop device may fail so while another thread works on it. */
static const int open_errnos[] = {
	ENXIO, EBUSY, EROFS, EACCES, ENODEV, ENOMEM, EAGAIN,
};

/* And those a read or write of a block device may fail with. */
static const int rw_errnos[] = {
	EINVAL, EIO, EPERM, EBADF, ENOSPC, ENXIO, EAGAIN, EROFS, ENODEV,
	ENOMEM, EOPNOTSUPP,
};

struct dev {
	int nr;
	bool created;		/* GET_FREE made it: remove it at the end */
};

/*
 * Device fds are opened for one operation and closed after it: held open
 * for the whole run they would turn every LOOP_CLR_FD into a deferred
 * (autoclear) detach, and the devices would never come unbound.
 */
#define MAX_OP_FDS	4

struct op_fd {
	int fd;
	char what[40];
};

/* File descriptors the threads pick from; fixed while they run. */
struct fd_pool {
	int fd[MAX_POOL];
	const char *what[MAX_POOL];
	int n;
};

struct thread_state {
	pthread_t tid;
	int id;
	unsigned int rand;
	void *buf;			/* page aligned, for O_DIRECT */
	int op;				/* op in progress, or -1 */
	time_t op_since;		/* when it started */
	bool done;
	unsigned long calls[NR_OPS];
	unsigned long ok[NR_OPS];
	unsigned long bad;		/* undocumented errnos */
	struct op_fd fds[MAX_OP_FDS];	/* device fds of this operation */
	int nfds;
};

static struct dev devs[NR_DEVS];
static int nr_devs;
static struct fd_pool pool;
static int ctl_fd = -1;
static int closed_fd;			/* a number no file is open under */
static char files[NR_FILES][PATH_MAX];
static struct thread_state threads[MAX_THREADS];
static int nr_threads = 4;
static int stop;			/* set by the main thread at the deadline */
static unsigned int seed;
static char alarm_msg[160];
static bool existed[1 << 12];		/* /sys/block/loopN at start */
static int seen_free[MAX_SEEN];		/* numbers GET_FREE handed out */
static int nr_seen_free;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_alarm(int sig)
{
	ssize_t n;

	(void)sig;
	n = write(STDOUT_FILENO, alarm_msg, strlen(alarm_msg));
	(void)n;
	_exit(KSFT_FAIL);
}

static unsigned int rnd(struct thread_state *t, unsigned int n)
{
	return n ? (unsigned int)rand_r(&t->rand) % n : 0;
}

static unsigned long long rnd64(struct thread_state *t)
{
	return ((unsigned long long)rand_r(&t->rand) << 33) ^
	       ((unsigned long long)rand_r(&t->rand) << 11) ^ rand_r(&t->rand);
}

/* An offset or size limit: mostly plausible, sometimes absurd. */
static unsigned long long rnd_size(struct thread_state *t)
{
	static const unsigned long long edges[] = {
		0, 1, 511, 512, 4096, 8192, 65536, FILE_SIZE / 2,
		FILE_SIZE - 512, FILE_SIZE, FILE_SIZE + 512, 1ULL << 31,
		1ULL << 32, (1ULL << 63) - 1, 1ULL << 63, ~0ULL,
	};

	switch (rnd(t, 4)) {
	case 0:
		return 0;
	case 1:
		return edges[rnd(t, ARRAY_SIZE(edges))];
	case 2:
		return (unsigned long long)rnd(t, FILE_SIZE / 512) * 512;
	default:
		return rnd(t, 8) ? rnd(t, FILE_SIZE * 2) : rnd64(t);
	}
}

static unsigned int rnd_flags(struct thread_state *t)
{
	unsigned int f = rnd(t, 32) & (LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR |
				    LO_FLAGS_PARTSCAN | LO_FLAGS_DIRECT_IO);

	if (!rnd(t, 8))
		f |= 1u << rnd(t, 32);
	return f;
}

static unsigned int rnd_encrypt_type(struct thread_state *t)
{
	switch (rnd(t, 8)) {
	case 0: case 1: case 2: case 3:
		return LO_CRYPT_NONE;
	case 4: case 5: case 6:
		return LO_CRYPT_XOR;
	default:
		return rnd(t, 2) ? rnd(t, MAX_LO_CRYPT + 2) : rnd64(t);
	}
}

static unsigned int rnd_key_size(struct thread_state *t)
{
	return rnd(t, 8) ? rnd(t, LO_KEY_SIZE + 1) : rnd(t, 1024);
}

static unsigned int rnd_block_size(struct thread_state *t)
{
	switch (rnd(t, 4)) {
	case 0:
		return 512u << rnd(t, 4);
	case 1:
		return 0;
	case 2:
		return 1u << rnd(t, 20);
	default:
		return rnd(t, 2) ? rnd(t, 70000) : (unsigned int)rnd64(t);
	}
}

static void rnd_bytes(struct thread_state *t, void *p, size_t len)
{
	unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = rnd(t, 256);
}

static bool errno_in(int err, const int *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (set[i] == err)
			return true;
	return false;
}

/* Open a random fuzzed device with @flags for this operation only. */
static int open_dev(struct thread_state *t, int flags)
{
	const struct dev *d = &devs[rnd(t, nr_devs)];
	struct op_fd *f;
	int fd;

	if (t->nfds >= MAX_OP_FDS)
		return -1;
	fd = loop_open(d->nr, flags);
	if (fd < 0) {
		if (!errno_in(-fd, open_errnos, ARRAY_SIZE(open_errnos)) &&
		    t->bad++ < 20)
			printf("# thread %d: open loop%d (%#x): undocumented %s\n",
			       t->id, d->nr, flags, strerror(-fd));
		return -1;
	}
	f = &t->fds[t->nfds++];
	f->fd = fd;
	snprintf(f->what, sizeof(f->what), "loop%d %s%s", d->nr,
		 flags & O_RDWR ? "O_RDWR" : "O_RDONLY",
		 flags & O_DIRECT ? "|O_DIRECT" : "");
	return fd;
}

static void close_op_fds(struct thread_state *t)
{
	while (t->nfds)
		close(t->fds[--t->nfds].fd);
}

/* Mostly read-only: closing a writable fd makes udev probe the device. */
static int dev_fd(struct thread_state *t)
{
	switch (rnd(t, 8)) {
	case 0:
		return open_dev(t, O_RDWR);
	case 1:
		return open_dev(t, O_RDWR | O_DIRECT);
	case 2:
		return open_dev(t, O_RDONLY | O_DIRECT);
	default:
		return open_dev(t, O_RDONLY);
	}
}

/* The fd an ioctl is issued on: mostly a device, sometimes anything. */
static int target_fd(struct thread_state *t)
{
	if (rnd(t, 20))
		return dev_fd(t);
	if (!rnd(t, 4))
		return ctl_fd;
	return pool.fd[rnd(t, pool.n)];
}

/* An fd passed as an argument: anything in the pool, or no file at all. */
static int arg_fd(struct thread_state *t)
{
	switch (rnd(t, 16)) {
	case 0:
		return closed_fd;
	case 1:
		return -1;
	case 2: case 3: case 4:
		return dev_fd(t);
	default:
		return pool.fd[rnd(t, pool.n)];
	}
}

/* A pointer argument: mostly @p, sometimes one the kernel cannot use. */
static void *arg_ptr(struct thread_state *t, void *p)
{
	switch (rnd(t, 24)) {
	case 0:
		return NULL;
	case 1:
		return (void *)16;
	default:
		return p;
	}
}

static void rnd_info64(struct thread_state *t, struct loop_info64 *info)
{
	memset(info, 0, sizeof(*info));
	if (!rnd(t, 16)) {
		rnd_bytes(t, info, sizeof(*info));
		return;
	}
	info->lo_offset = rnd_size(t);
	info->lo_sizelimit = rnd_size(t);
	info->lo_flags = rnd_flags(t);
	info->lo_encrypt_type = rnd_encrypt_type(t);
	info->lo_encrypt_key_size = rnd_key_size(t);
	rnd_bytes(t, info->lo_encrypt_key, LO_KEY_SIZE);
	snprintf((char *)info->lo_file_name, LO_NAME_SIZE, "fuzz-%u",
		 rnd(t, 1000));
	if (!rnd(t, 8))
		rnd_bytes(t, info->lo_file_name, LO_NAME_SIZE);
	if (!rnd(t, 8))
		rnd_bytes(t, info->lo_crypt_name, LO_NAME_SIZE);
	if (!rnd(t, 8))
		info->lo_init[rnd(t, 2)] = rnd64(t);
	if (!rnd(t, 16))
		info->lo_number = rnd64(t);
}

static void rnd_info(struct thread_state *t, struct loop_info *info)
{
	memset(info, 0, sizeof(*info));
	if (!rnd(t, 16)) {
		rnd_bytes(t, info, sizeof(*info));
		return;
	}
	info->lo_offset = rnd(t, 4) ? (int)rnd_size(t) : (int)rnd64(t);
	info->lo_flags = rnd_flags(t);
	info->lo_encrypt_type = rnd_encrypt_type(t);
	info->lo_encrypt_key_size = rnd_key_size(t);
	rnd_bytes(t, info->lo_encrypt_key, LO_KEY_SIZE);
	snprintf(info->lo_name, LO_NAME_SIZE, "fuzz-old-%u", rnd(t, 1000));
	if (!rnd(t, 8))
		info->lo_init[rnd(t, 2)] = rnd64(t);
}

/* An unassigned ioctl number of type 'L', with random direction/size. */
static unsigned long rnd_unknown_cmd(struct thread_state *t)
{
	unsigned int nr;

	do {
		nr = rnd(t, 256);
	} while (nr <= 0x0A || nr == 0x40 || (nr >= 0x80 && nr <= 0x82));
	return ((unsigned long)rnd(t, 4) << 30) |
	       ((unsigned long)rnd(t, 512) << 16) | ('L' << 8) | nr;
}

static void remember_free(int nr)
{
	int i;

	pthread_mutex_lock(&seen_lock);
	for (i = 0; i < nr_seen_free; i++)
		if (seen_free[i] == nr)
			break;
	if (i == nr_seen_free && nr_seen_free < MAX_SEEN)
		seen_free[nr_seen_free++] = nr;
	pthread_mutex_unlock(&seen_lock);
}

/*
 * One random operation.  Returns its result (>= 0) or -errno; *@errs
 * and *@nerrs get the errnos it may legitimately fail with.
 */
static long do_op(struct thread_state *t, int op, const int **errs,
		  size_t *nerrs, int *on_fd)
{
	union {
		struct loop_info64 info64;
		struct loop_info info;
		struct loop_config cfg;
		struct loop_crypto_key key;
	} a;
	unsigned long cmd = 0, arg = 0;
	int fd = -1;
	ssize_t n;
	size_t len;
	off_t pos;

	*errs = ioctl_errnos;
	*nerrs = ARRAY_SIZE(ioctl_errnos);
	if (op < OP_CTL_ADD)
		fd = target_fd(t);
	switch (op) {
	case OP_SET_FD:
		cmd = LOOP_SET_FD;
		arg = (unsigned long)arg_fd(t);
		break;
	case OP_CLR_FD:
		cmd = LOOP_CLR_FD;
		break;
	case OP_SET_STATUS:
		rnd_info(t, &a.info);
		cmd = LOOP_SET_STATUS;
		arg = (unsigned long)arg_ptr(t, &a.info);
		break;
	case OP_GET_STATUS:
		cmd = LOOP_GET_STATUS;
		arg = (unsigned long)arg_ptr(t, &a.info);
		break;
	case OP_SET_STATUS64:
		rnd_info64(t, &a.info64);
		cmd = LOOP_SET_STATUS64;
		arg = (unsigned long)arg_ptr(t, &a.info64);
		break;
	case OP_GET_STATUS64:
		cmd = LOOP_GET_STATUS64;
		arg = (unsigned long)arg_ptr(t, &a.info64);
		break;
	case OP_CHANGE_FD:
		cmd = LOOP_CHANGE_FD;
		arg = (unsigned long)arg_fd(t);
		break;
	case OP_SET_CAPACITY:
		cmd = LOOP_SET_CAPACITY;
		arg = rnd(t, 4) ? 0 : rnd64(t);
		break;
	case OP_SET_DIRECT_IO:
		cmd = LOOP_SET_DIRECT_IO;
		arg = rnd(t, 4) ? rnd(t, 2) : rnd64(t);
		break;
	case OP_SET_BLOCK_SIZE:
		cmd = LOOP_SET_BLOCK_SIZE;
		arg = rnd(t, 8) ? rnd_block_size(t) : rnd64(t);
		break;
	case OP_CONFIGURE:
		memset(&a.cfg, 0, sizeof(a.cfg));
		a.cfg.fd = arg_fd(t);
		a.cfg.block_size = rnd_block_size(t);
		rnd_info64(t, &a.cfg.info);
		if (!rnd(t, 16))
			a.cfg.__reserved[rnd(t, 8)] = rnd64(t);
		cmd = LOOP_CONFIGURE;
		arg = (unsigned long)arg_ptr(t, &a.cfg);
		break;
	case OP_CRYPTO_SET_KEY:
		a.key.key_size = rnd(t, 4) ? rnd(t, 80) : rnd64(t);
		rnd_bytes(t, a.key.key, sizeof(a.key.key));
		cmd = LOOP_CRYPTO_SET_KEY;
		arg = (unsigned long)arg_ptr(t, &a.key);
		break;
	case OP_UNKNOWN:
		cmd = rnd_unknown_cmd(t);
		arg = rnd(t, 2) ? 0 : rnd64(t);
		break;
	case OP_CTL_ADD:
	case OP_CTL_REMOVE:
		fd = rnd(t, 16) ? ctl_fd : target_fd(t);
		cmd = op == OP_CTL_ADD ? LOOP_CTL_ADD : LOOP_CTL_REMOVE;
		arg = PRIV_BASE + rnd(t, PRIV_COUNT);
		if (op == OP_CTL_REMOVE && !rnd(t, 16))
			arg = -1UL;
		break;
	case OP_CTL_GET_FREE:
		fd = rnd(t, 16) ? ctl_fd : target_fd(t);
		cmd = LOOP_CTL_GET_FREE;
		break;
	default:	/* reads and writes */
		*errs = rw_errnos;
		*nerrs = ARRAY_SIZE(rw_errnos);
		if (op == OP_READ || op == OP_DIO_READ)
			fd = O_RDONLY;
		else
			fd = O_RDWR;
		if (op == OP_DIO_READ || op == OP_DIO_WRITE)
			fd |= O_DIRECT;
		fd = open_dev(t, fd);
		len = 512 * (1 + rnd(t, 32));
		pos = (off_t)rnd(t, (FILE_SIZE + 16384) / 512) * 512;
		if (!rnd(t, 16))
			pos += 1 + rnd(t, 511);
		*on_fd = fd;
		if (fd < 0)
			return -EBADF;
		if (op == OP_READ || op == OP_DIO_READ)
			n = pread(fd, t->buf, len, pos);
		else
			n = pwrite(fd, t->buf, len, pos);
		return n < 0 ? -errno : n;
	}
	*on_fd = fd;
	/* loop-control's answer to a command it does not know */
	if (fd == ctl_fd && (cmd < LOOP_CTL_ADD || cmd > LOOP_CTL_GET_FREE)) {
		*errs = ctl_errnos;
		*nerrs = ARRAY_SIZE(ctl_errnos);
	}
	n = ioctl(fd, cmd, arg);
	if (n < 0)
		return -errno;
	if (op == OP_CTL_GET_FREE && fd == ctl_fd)
		remember_free(n);
	return n;
}

static const char *fd_name(struct thread_state *t, int fd)
{
	int i;

	for (i = 0; i < t->nfds; i++)
		if (t->fds[i].fd == fd)
			return t->fds[i].what;
	for (i = 0; i < pool.n; i++)
		if (pool.fd[i] == fd)
			return pool.what[i];
	return fd == ctl_fd ? LOOP_CONTROL : "no file";
}

static int pick_op(struct thread_state *t)
{
	unsigned int total = 0, r, i;

	for (i = 0; i < NR_OPS; i++)
		total += op_weight[i];
	r = rnd(t, total);
	for (i = 0; i < NR_OPS; i++) {
		if (r < op_weight[i])
			return i;
		r -= op_weight[i];
	}
	return OP_GET_STATUS64;
}

static void *fuzz_thread(void *arg)
{
	struct thread_state *t = arg;
	const int *errs;
	size_t nerrs;
	long ret;
	int op, fd;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		op = pick_op(t);
		__atomic_store_n(&t->op_since, time(NULL), __ATOMIC_RELAXED);
		__atomic_store_n(&t->op, op, __ATOMIC_RELEASE);
		fd = -1;
		ret = do_op(t, op, &errs, &nerrs, &fd);
		t->calls[op]++;
		if (ret >= 0)
			t->ok[op]++;
		else if (!errno_in(-ret, errs, nerrs) && t->bad++ < 20)
			printf("# thread %d: %s on %s failed with undocumented %s (%ld)\n",
			       t->id, op_names[op], fd_name(t, fd),
			       strerror(-ret), -ret);
		close_op_fds(t);
		__atomic_store_n(&t->op, -1, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&t->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static int pool_add(int fd, const char *what)
{
	if (fd < 0 || pool.n >= MAX_POOL)
		return fd < 0 ? fd : -ENOSPC;
	pool.fd[pool.n] = fd;
	pool.what[pool.n] = what;
	pool.n++;
	return 0;
}

static void snapshot_existing(void)
{
	unsigned int i;
	char path[64];

	for (i = 0; i < ARRAY_SIZE(existed); i++) {
		snprintf(path, sizeof(path), "/sys/block/loop%u", i);
		existed[i] = access(path, F_OK) == 0;
	}
}

static bool existed_before(int nr)
{
	return nr >= 0 && nr < (int)ARRAY_SIZE(existed) && existed[nr];
}

/* Take a free device and bind it to files[i] at once, so the next differs. */
static int get_device(struct dev *d, int i)
{
	struct loop_config cfg;
	int nr, fd, bfd, ret;

	nr = ioctl(ctl_fd, LOOP_CTL_GET_FREE);
	if (nr < 0)
		return -errno;
	d->nr = nr;
	d->created = !existed_before(nr);
	fd = loop_open(nr, O_RDWR);
	if (fd < 0)
		return fd;
	bfd = open(files[i % NR_FILES], O_RDWR | O_CLOEXEC);
	if (bfd < 0) {
		close(fd);
		return -errno;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = bfd;
	ret = ioctl_err(fd, LOOP_CONFIGURE, (unsigned long)&cfg);
	close(bfd);
	close(fd);
	return ret;
}

static int setup(void)
{
	static const char *const file_modes[] = {
		"backing file O_RDWR", "backing file O_RDONLY",
		"backing file O_DIRECT",
	};
	static const int file_flags[] = {
		O_RDWR, O_RDONLY, O_RDWR | O_DIRECT,
	};
	int i, j, fd, p[2], s[2], ret;

	ctl_fd = ctl_open();
	if (ctl_fd < 0)
		return ctl_fd;
	snapshot_existing();
	for (i = 0; i < NR_FILES; i++) {
		fd = make_backing(files[i], sizeof(files[i]), FILE_SIZE, i + 1);
		if (fd < 0)
			return fd;
		close(fd);
		for (j = 0; j < 3; j++) {
			fd = open(files[i], file_flags[j] | O_CLOEXEC);
			ret = pool_add(fd < 0 ? -errno : fd, file_modes[j]);
			if (ret)
				return ret;
		}
	}
	for (i = 0; i < NR_DEVS; i++) {
		ret = get_device(&devs[i], i);
		nr_devs = i + 1;
		if (ret)
			return ret;
	}
	if (pipe2(p, O_CLOEXEC) || socketpair(AF_UNIX, SOCK_STREAM |
					       SOCK_CLOEXEC, 0, s))
		return -errno;
	pool_add(p[0], "pipe read end");
	pool_add(p[1], "pipe write end");
	pool_add(s[0], "unix socket");
	pool_add(s[1], "unix socket");
	fd = open(test_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = pool_add(fd < 0 ? -errno : fd, "directory");
	if (ret)
		return ret;
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ret = pool_add(fd < 0 ? -errno : fd, "/dev/null");
	if (ret)
		return ret;
	pool_add(dup(ctl_fd), "loop-control");
	/* a number no file is open under, nor will be: fds are reused */
	for (closed_fd = 999; fcntl(closed_fd, F_GETFD) != -1; closed_fd--)
		;
	return 0;
}

static void close_pool(void)
{
	int i;

	for (i = 0; i < pool.n; i++)
		close(pool.fd[i]);
	pool.n = 0;
}

static bool any_bound(void)
{
	int i;

	for (i = 0; i < nr_devs; i++)
		if (loop_is_bound_sysfs(devs[i].nr))
			return true;
	return false;
}

/*
 * Detach every fuzzed device.  One may be the backing file of another:
 * its LOOP_CLR_FD is then deferred to its last close, which the upper
 * device's detach brings, so go round until none is bound.
 */
static bool clear_all(void)
{
	int pass, i, fd;

	for (pass = 0; pass < 50 && any_bound(); pass++) {
		for (i = 0; i < nr_devs; i++) {
			if (!loop_is_bound_sysfs(devs[i].nr))
				continue;
			fd = loop_open(devs[i].nr, O_RDONLY);
			if (fd < 0)
				continue;
			ioctl(fd, LOOP_CLR_FD, 0);
			close(fd);
		}
		udev_settle();
		msleep(100);
	}
	for (i = 0; i < nr_devs; i++)
		if (loop_is_bound_sysfs(devs[i].nr)) {
			printf("# loop%d still bound after clearing\n",
			       devs[i].nr);
			log_openers(devs[i].nr);
		}
	return !any_bound();
}

/* Does loopN (@nr) bind to a fresh file, move data exactly and detach? */
static bool verify_device(int nr, unsigned int vseed)
{
	char path[PATH_MAX];
	struct loop_config cfg;
	unsigned long long size = 0;
	bool good = false;
	void *buf = NULL;
	int bfd, fd = -1, dfd = -1, ret;
	long long bad;
	ssize_t n;

	bfd = make_backing(path, sizeof(path), VERIFY_SIZE, vseed);
	if (bfd < 0) {
		printf("# loop%d: backing file: %s\n", nr, strerror(-bfd));
		return false;
	}
	if (posix_memalign(&buf, 4096, VERIFY_SIZE))
		goto out;
	fd = loop_open(nr, O_RDWR);
	if (fd < 0) {
		printf("# loop%d: open: %s\n", nr, strerror(-fd));
		goto out;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = bfd;
	ret = ioctl_err(fd, LOOP_CONFIGURE, (unsigned long)&cfg);
	if (ret) {
		printf("# loop%d: LOOP_CONFIGURE: %s\n", nr, strerror(-ret));
		goto out;
	}
	if (ioctl(fd, BLKGETSIZE64, &size) || size != VERIFY_SIZE) {
		printf("# loop%d: size %llu, expected %d\n", nr, size,
		       VERIFY_SIZE);
		goto detach;
	}
	n = pread_full(fd, buf, VERIFY_SIZE, 0);
	bad = n == VERIFY_SIZE ? pattern_check(buf, n, vseed, 0) : -2;
	if (bad != -1) {
		printf("# loop%d: reading the fresh file: %zd bytes, first bad byte %lld\n",
		       nr, n, bad);
		goto detach;
	}
	pattern_fill(buf, VERIFY_SIZE, vseed + 1, 0);
	n = pwrite_full(fd, buf, VERIFY_SIZE, 0);
	if (n != VERIFY_SIZE || fsync(fd)) {
		printf("# loop%d: writing: %zd bytes, %s\n", nr, n,
		       strerror(errno));
		goto detach;
	}
	dfd = loop_open(nr, O_RDONLY | O_DIRECT);
	memset(buf, 0, VERIFY_SIZE);
	n = dfd < 0 ? dfd : pread_full(dfd, buf, VERIFY_SIZE, 0);
	bad = n == VERIFY_SIZE ? pattern_check(buf, n, vseed + 1, 0) : -2;
	if (bad != -1) {
		printf("# loop%d: O_DIRECT read back: %zd bytes, first bad byte %lld\n",
		       nr, n, bad);
		goto detach;
	}
	memset(buf, 0, VERIFY_SIZE);
	n = pread_full(bfd, buf, VERIFY_SIZE, 0);
	bad = n == VERIFY_SIZE ? pattern_check(buf, n, vseed + 1, 0) : -2;
	if (bad != -1) {
		printf("# loop%d: backing file after writing: %zd bytes, first bad byte %lld\n",
		       nr, n, bad);
		goto detach;
	}
	good = true;
detach:
	if (dfd >= 0)
		close(dfd);
	ret = ioctl_err(fd, LOOP_CLR_FD, 0);
	close(fd);
	fd = -1;
	if (ret) {
		printf("# loop%d: LOOP_CLR_FD: %s\n", nr, strerror(-ret));
		good = false;
	} else if (wait_unbound(nr, 10000)) {
		udev_settle();
		if (wait_unbound(nr, 10000)) {
			printf("# loop%d: still bound after LOOP_CLR_FD\n", nr);
			log_openers(nr);
			good = false;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	close(bfd);
	unlink(path);
	return good;
}

static bool loop_exists(int nr)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/block/loop%d", nr);
	return access(path, F_OK) == 0;
}

static void remove_ours(void)
{
	int i;

	udev_settle();
	for (i = 0; i < PRIV_COUNT; i++) {
		int nr = PRIV_BASE + i, ret;

		if (!loop_exists(nr))
			continue;
		loop_force_detach(nr);
		ret = ctl_remove_retry(ctl_fd, nr);
		if (ret && ret != -ENODEV) {
			printf("# LOOP_CTL_REMOVE loop%d: %s\n", nr,
			       strerror(-ret));
			log_openers(nr);
		}
	}
	/* devices GET_FREE made while fuzzing; someone else's stay */
	for (i = 0; i < nr_seen_free; i++)
		if (!existed_before(seen_free[i]) &&
		    (seen_free[i] < PRIV_BASE ||
		     seen_free[i] >= PRIV_BASE + PRIV_COUNT))
			ioctl(ctl_fd, LOOP_CTL_REMOVE, seen_free[i]);
	for (i = 0; i < nr_devs; i++)
		if (devs[i].created)
			ctl_remove_retry(ctl_fd, devs[i].nr);
}

static bool priv_range_gone(void)
{
	int i;

	for (i = 0; i < PRIV_COUNT; i++) {
		if (loop_exists(PRIV_BASE + i)) {
			printf("# /sys/block/loop%d still exists\n",
			       PRIV_BASE + i);
			return false;
		}
	}
	return true;
}

/* Watch the threads until they are done; false if one hangs. */
static bool watch(time_t deadline)
{
	time_t now;
	int i, op, left;

	for (;;) {
		now = time(NULL);
		if (now >= deadline)
			__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
		left = 0;
		for (i = 0; i < nr_threads; i++) {
			struct thread_state *t = &threads[i];

			if (__atomic_load_n(&t->done, __ATOMIC_ACQUIRE))
				continue;
			left++;
			op = __atomic_load_n(&t->op, __ATOMIC_ACQUIRE);
			if (op >= 0 && now - t->op_since > STALL_SECONDS) {
				printf("# thread %d stuck in %s for %lld s (seed %u)\n",
				       i, op_names[op],
				       (long long)(now - t->op_since), seed);
				return false;
			}
		}
		if (!left)
			return true;
		msleep(200);
	}
}

static unsigned int env_uint(const char *name, unsigned int def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoul(s, &end, 0);
	return errno || *end ? def : (unsigned int)v;
}

static void save_seed(void)
{
	FILE *f = fopen(SEED_FILE, "w");

	if (!f)
		return;
	fprintf(f, "%u\n", seed);
	fclose(f);
}

int main(void)
{
	unsigned long calls[NR_OPS] = { 0 }, ok[NR_OPS] = { 0 };
	unsigned long bad = 0, total = 0;
	unsigned int seconds, i, j;
	bool no_hang, cleared, good;
	int ret;

	seed = env_uint("LOOP_FUZZ_SEED", (unsigned int)time(NULL) ^
			(unsigned int)getpid() << 16);
	seconds = env_uint("LOOP_FUZZ_SECONDS", 40);
	nr_threads = env_uint("LOOP_FUZZ_THREADS", 4);
	if (nr_threads < 1 || nr_threads > MAX_THREADS)
		nr_threads = 4;
	if (stock_driver())
		ctl_errnos[0] = ERR_NOSYS;

	/* line by line: what a hang leaves behind must be on the console */
	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();
	ksft_print_msg("seed %u (LOOP_FUZZ_SEED=%u repeats it)\n", seed, seed);
	ksft_print_msg("%u s, %d threads, nr_workers=%lld\n", seconds,
		       nr_threads, loop_param("nr_workers"));
	save_seed();
	ksft_set_plan(4 + NR_DEVS);

	/* a hang anywhere, even in the cleanup, ends the test */
	snprintf(alarm_msg, sizeof(alarm_msg),
		 "not ok - watchdog: ioctl_fuzz_test hung (seed %u)\n", seed);
	signal(SIGALRM, on_alarm);
	alarm(seconds + 2 * STALL_SECONDS + 300);

	ret = setup();
	if (ret) {
		ksft_print_msg("setup: %s\n", strerror(-ret));
		ksft_exit_fail();
	}
	ksft_print_msg("fuzzing loop%d loop%d loop%d loop%d, private range loop%d-loop%d\n",
		       devs[0].nr, devs[1].nr, devs[2].nr, devs[3].nr,
		       PRIV_BASE, PRIV_BASE + PRIV_COUNT - 1);
	fflush(stdout);

	for (i = 0; i < (unsigned int)nr_threads; i++) {
		struct thread_state *t = &threads[i];

		t->id = i;
		t->op = -1;
		t->rand = seed * 2654435761u + i * 40503u + 1;
		if (posix_memalign(&t->buf, 4096, 32 * 512))
			ksft_exit_fail_msg("out of memory\n");
		memset(t->buf, 0xa5, 32 * 512);
		if (pthread_create(&t->tid, NULL, fuzz_thread, t))
			ksft_exit_fail_msg("pthread_create failed\n");
	}
	no_hang = watch(time(NULL) + seconds);
	if (!no_hang) {
		ksft_test_result_fail("no call hangs (seed %u)\n", seed);
		ksft_exit_fail();
	}
	for (i = 0; i < (unsigned int)nr_threads; i++) {
		pthread_join(threads[i].tid, NULL);
		for (j = 0; j < NR_OPS; j++) {
			calls[j] += threads[i].calls[j];
			ok[j] += threads[i].ok[j];
		}
		bad += threads[i].bad;
		free(threads[i].buf);
	}
	for (j = 0; j < NR_OPS; j++) {
		ksft_print_msg("%-20s %7lu calls, %7lu succeeded\n",
			       op_names[j], calls[j], ok[j]);
		total += calls[j];
	}
	ksft_print_msg("%lu calls in all, %lu with an undocumented errno\n",
		       total, bad);
	ksft_test_result(bad == 0, "every call returns 0 or a documented errno (seed %u)\n",
			 seed);
	ksft_test_result_pass("no call hangs (seed %u)\n", seed);

	close_pool();
	cleared = clear_all();
	ksft_test_result(cleared, "every fuzzed device detaches\n");
	for (i = 0; i < (unsigned int)nr_devs; i++) {
		good = verify_device(devs[i].nr, seed + 100 + i);
		ksft_test_result(good, "loop%d binds, moves data and detaches after fuzzing\n",
				 devs[i].nr);
	}
	remove_ours();
	ksft_test_result(priv_range_gone(), "the devices LOOP_CTL_ADD made are removed\n");
	close(ctl_fd);
	for (i = 0; i < NR_FILES; i++)
		unlink(files[i]);
	alarm(0);
	ksft_finished();
	return 0;
}
