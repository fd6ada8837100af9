/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the loop driver selftests.
 *
 * Everything here returns a plain value or -errno so that the assertions
 * (and thus the error messages naming the failed check) stay in the tests.
 */
#ifndef LOOP_UTIL_H
#define LOOP_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <linux/capability.h>
#include <linux/loop.h>

#define LOOP_CONTROL		"/dev/loop-control"
#define LOOP_TEST_DIR_DEFAULT	"/mnt/scratch"

/* Directory for backing files: ext4 in the test VM. */
static inline const char *test_dir(void)
{
	const char *dir = getenv("LOOP_TEST_DIR");

	return dir && *dir ? dir : LOOP_TEST_DIR_DEFAULT;
}

static inline void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Wait for udev to finish with the events we caused.  Its blkid runs open
 * the device, which makes LOOP_CLR_FD defer the detach and makes
 * LOOP_CTL_REMOVE fail with EBUSY.  Harmless where udev isn't running.
 */
static inline void udev_settle(void)
{
	if (access("/usr/bin/udevadm", X_OK) && access("/bin/udevadm", X_OK) &&
	    access("/sbin/udevadm", X_OK))
		return;
	if (system("udevadm settle --timeout=30 >/dev/null 2>&1") == -1)
		return;
}

static inline void loop_dev_path(char *buf, size_t len, int nr)
{
	snprintf(buf, len, "/dev/loop%d", nr);
}

static inline int loop_open(int nr, int flags)
{
	char path[32];
	int fd;

	loop_dev_path(path, sizeof(path), nr);
	fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static inline void sysfs_path(char *buf, size_t len, int nr, const char *attr)
{
	snprintf(buf, len, "/sys/block/loop%d/%s", nr, attr);
}

static inline int sysfs_exists(int nr, const char *attr)
{
	char path[PATH_MAX];

	sysfs_path(path, sizeof(path), nr, attr);
	return access(path, F_OK) == 0;
}

/* Read a sysfs attribute of loopN without its trailing newline. */
static inline int sysfs_read_str(int nr, const char *attr, char *buf,
				 size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	sysfs_path(path, sizeof(path), nr, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

/* Numeric sysfs attribute; the values we read are never negative. */
static inline long long sysfs_read_ll(int nr, const char *attr)
{
	char buf[64], *end;
	long long val;
	int ret;

	ret = sysfs_read_str(nr, attr, buf, sizeof(buf));
	if (ret)
		return ret;
	errno = 0;
	val = strtoll(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	return val;
}

/* Would a loop device over this file use direct I/O if asked to? */
static inline bool backing_supports_dio(const char *file)
{
	int fd = open(file, O_RDONLY | O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Bound devices have the loop/ attribute group, unbound ones don't. */
static inline int loop_is_bound_sysfs(int nr)
{
	return sysfs_exists(nr, "loop");
}

/* Poll until loopN is detached (udev may delay a deferred detach). */
static inline int wait_unbound(int nr, unsigned int timeout_ms)
{
	unsigned int waited = 0;

	while (loop_is_bound_sysfs(nr)) {
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		msleep(20);
		waited += 20;
	}
	return 0;
}

static inline int loop_get_status64(int fd, struct loop_info64 *info)
{
	memset(info, 0, sizeof(*info));
	return ioctl(fd, LOOP_GET_STATUS64, info) ? -errno : 0;
}

static inline int ioctl_err(int fd, unsigned long cmd, unsigned long arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static inline int ctl_open(void)
{
	int fd = open(LOOP_CONTROL, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* Detach loopN if bound; used to clean up after a crashed earlier run. */
static inline void loop_force_detach(int nr)
{
	int fd = loop_open(nr, O_RDONLY);

	if (fd < 0)
		return;
	ioctl(fd, LOOP_CLR_FD, 0);
	close(fd);
	udev_settle();
	wait_unbound(nr, 5000);
}

/*
 * Print, as TAP comments, which other processes have /dev/loopN open: to
 * tell a transient udev probe from a real leak when a detach is deferred.
 * Returns how many descriptors it found.
 */
static inline int log_openers(int nr)
{
	char dev[32], path[PATH_MAX], target[PATH_MAX], comm[64];
	struct dirent *p, *f;
	DIR *proc, *fds;
	int found = 0;
	ssize_t n;
	FILE *c;

	loop_dev_path(dev, sizeof(dev), nr);
	proc = opendir("/proc");
	if (!proc)
		return 0;
	while ((p = readdir(proc))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9' ||
		    atoi(p->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((f = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s",
				 p->d_name, f->d_name);
			n = readlink(path, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			if (strcmp(target, dev))
				continue;
			snprintf(path, sizeof(path), "/proc/%s/comm", p->d_name);
			comm[0] = '\0';
			c = fopen(path, "r");
			if (c) {
				if (!fgets(comm, sizeof(comm), c))
					comm[0] = '\0';
				fclose(c);
			}
			comm[strcspn(comm, "\n")] = '\0';
			fprintf(stderr, "# %s is also open in pid %s (%s)\n",
				dev, p->d_name, comm);
			found++;
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/*
 * Running against the kernel's own loop.ko (scripts/vm-run --stock)?  Our
 * driver deliberately has transfers (XOR, cryptoloop) that the stock one
 * dropped; those expectations differ and belong to xfer_test.
 */
static inline bool stock_driver(void)
{
	const char *stock = getenv("LOOP_STOCK");

	return stock && !strcmp(stock, "1");
}

/* Is the running kernel at least @major.@minor? */
static inline bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/*
 * What LOOP_CLR_FD does when the caller is the only opener.  6.1 detaches
 * at once.  6.12 only marks the device (Lo_rundown): GET_STATUS64 says
 * ENXIO and new opens fail with ENXIO, but the size, the sysfs loop/
 * directory and the backing file stay until the last close detaches.
 * The stock driver of the running kernel is the reference; our driver
 * behaves like 6.12's on every kernel.
 */
static inline bool clr_fd_waits_for_close(void)
{
	return !stock_driver() || kernel_at_least(6, 12);
}

/*
 * LOOP_CLR_FD where @fd should be the only opener.  A udev probe may hold
 * the device for a moment, and then the kernel merely sets AUTOCLEAR and
 * leaves the device bound: take the flag back and try again.  Success is
 * GET_STATUS64 failing with ENXIO, which both behaviours above give.
 * Returns 0, -errno from the ioctl, or -EBUSY if every attempt was
 * deferred.
 */
static inline int loop_clr_fd_now(int fd, int nr)
{
	struct loop_info64 info;
	int i;

	for (i = 0; i < 50; i++) {
		udev_settle();
		if (ioctl(fd, LOOP_CLR_FD, 0))
			return -errno;
		if (loop_get_status64(fd, &info) == -ENXIO)
			return 0;
		log_openers(nr);
		info.lo_flags &= ~LO_FLAGS_AUTOCLEAR;
		ioctl(fd, LOOP_SET_STATUS64, &info);
		msleep(100);
	}
	return -EBUSY;
}

/*
 * Detach loopN and get a fresh fd on it, with either behaviour: close our
 * fd (the last close completes any detach) and wait for the unbind.
 */
static inline int loop_detach_reopen(int *fd, int nr, int flags)
{
	int ret = ioctl(*fd, LOOP_CLR_FD, 0) ? -errno : 0;

	close(*fd);
	*fd = -1;
	if (ret)
		return ret;
	ret = wait_unbound(nr, 10000);
	if (ret)
		return ret;
	*fd = loop_open(nr, flags);
	return *fd < 0 ? *fd : 0;
}

/*
 * LOOP_CTL_REMOVE, retried for a while: udev's blkid may still hold the
 * device open, which makes the kernel refuse with EBUSY.
 */
static inline int ctl_remove_retry(int ctl, int nr)
{
	int i, ret = 0;

	udev_settle();
	for (i = 0; i < 100; i++) {
		ret = ioctl(ctl, LOOP_CTL_REMOVE, nr) < 0 ? -errno : 0;
		if (ret != -EBUSY)
			break;
		msleep(50);
	}
	return ret;
}

/* Detach loopN (through *@fd if open, then however it takes) and remove it. */
static inline void detach_and_remove(int ctl, int nr, int *fd)
{
	if (*fd >= 0) {
		ioctl(*fd, LOOP_CLR_FD, 0);
		close(*fd);
		*fd = -1;
	}
	if (nr >= 0) {
		loop_force_detach(nr);
		ctl_remove_retry(ctl, nr);
	}
}

/* Drop CAP_SYS_ADMIN from the effective set of this (child) process. */
static inline int drop_cap_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &=
		~CAP_TO_MASK(CAP_SYS_ADMIN);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/* Create loopN, first removing a leftover of a crashed earlier run. */
static inline int ctl_add_fixed(int ctl, int nr)
{
	int ret = ioctl(ctl, LOOP_CTL_ADD, nr);

	if (ret < 0 && errno == EEXIST) {
		loop_force_detach(nr);
		ctl_remove_retry(ctl, nr);
		ret = ioctl(ctl, LOOP_CTL_ADD, nr);
	}
	return ret < 0 ? -errno : ret;
}

/*
 * Create a device with the lowest number that no device has (LOOP_CTL_ADD
 * with a negative number).  Unlike LOOP_CTL_GET_FREE, which names the
 * lowest unbound device (perhaps one another test keeps unbound on
 * purpose), this gives a device nobody else asked for.  Returns its
 * number or -errno.
 */
static inline int ctl_add_any(int ctl)
{
	int ret = ioctl(ctl, LOOP_CTL_ADD, -1L);

	return ret < 0 ? -errno : ret;
}

/*
 * Byte at absolute position @pos of pattern @seed: cheap, position
 * dependent (so misplaced blocks are caught) and differing between seeds.
 */
static inline uint8_t pattern_byte(uint32_t seed, uint64_t pos)
{
	uint64_t x = (pos >> 3) * 0x9E3779B97F4A7C15ULL + seed;

	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 32;
	return (uint8_t)(x >> ((pos & 7) * 8));
}

static inline void pattern_fill(void *buf, size_t len, uint32_t seed,
				uint64_t pos)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern_byte(seed, pos + i);
}

/* Index of the first byte not matching the pattern, or -1. */
static inline long long pattern_check(const void *buf, size_t len,
				      uint32_t seed, uint64_t pos)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern_byte(seed, pos + i))
			return i;
	return -1;
}

/* Full-length pread/pwrite; return bytes done or -errno. */
static inline ssize_t pread_full(int fd, void *buf, size_t len, off_t pos)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  pos + done);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

static inline ssize_t pwrite_full(int fd, const void *buf, size_t len,
				  off_t pos)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   pos + done);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

/*
 * Create a backing file of @size bytes in the test directory, filled with
 * pattern @seed.  @path receives its name; returns an O_RDWR fd or -errno.
 */
static inline int make_backing(char *path, size_t len, off_t size,
			       uint32_t seed)
{
	static char buf[1 << 16];
	off_t pos;
	int fd;

	snprintf(path, len, "%s/loop-selftest.XXXXXX", test_dir());
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (pos = 0; pos < size; pos += sizeof(buf)) {
		size_t n = size - pos < (off_t)sizeof(buf) ?
			   (size_t)(size - pos) : sizeof(buf);

		pattern_fill(buf, n, seed, pos);
		if (pwrite_full(fd, buf, n, pos) != (ssize_t)n) {
			close(fd);
			unlink(path);
			return -EIO;
		}
	}
	return fd;
}

/* Module parameter of the loaded loop driver, or -errno. */
static inline long long loop_param(const char *name)
{
	char path[PATH_MAX], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/module/loop/parameters/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return atoll(buf);
}

/* With max_part set the driver enables partition scanning on every bind. */
static inline unsigned int default_bind_flags(void)
{
	return loop_param("max_part") > 0 ? LO_FLAGS_PARTSCAN : 0;
}

/* A transfer of @type with @size bytes of @key (NULL when 0) in @info. */
static inline void info_set_key(struct loop_info64 *info, unsigned int type,
				const uint8_t *key, size_t size)
{
	info->lo_encrypt_type = type;
	memset(info->lo_encrypt_key, 0, LO_KEY_SIZE);
	if (size)
		memcpy(info->lo_encrypt_key, key, size);
	info->lo_encrypt_key_size = size;
}

/*
 * LOOP_CONFIGURE loopN (@fd) with backing file @bfd at @offset, block size
 * @bs (0: the default), @flags, and transfer @type with @key_size bytes of
 * @key.  0 or -errno.
 */
static inline int loop_configure_xfer(int fd, int bfd, off_t offset,
				      unsigned int bs, unsigned int flags,
				      unsigned int type, const uint8_t *key,
				      size_t key_size)
{
	struct loop_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = bfd;
	cfg.block_size = bs;
	cfg.info.lo_offset = offset;
	cfg.info.lo_flags = flags;
	info_set_key(&cfg.info, type, key, key_size);
	return ioctl(fd, LOOP_CONFIGURE, &cfg) ? -errno : 0;
}

/*
 * cryptoloop.ko from this tree (beside the test programs' directory, four
 * levels up), for the tests of transfer ioctls and ciphers: loaded by path,
 * since the test VM has not installed it.  *@loaded tells whether we
 * loaded it (and so should rmmod it).  0, or -1 if it cannot be loaded.
 */
static inline int load_cryptoloop(bool *loaded)
{
	char exe[PATH_MAX], cmd[2 * PATH_MAX];
	char *slash;
	ssize_t n;

	*loaded = false;
	if (!access("/sys/module/cryptoloop", F_OK))
		return 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	snprintf(cmd, sizeof(cmd),
		 "insmod %s/../../../../drivers/block/loop/cryptoloop.ko", exe);
	if (system(cmd))
		return -1;
	*loaded = true;
	return 0;
}

#endif /* LOOP_UTIL_H */
