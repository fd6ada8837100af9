// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile file descriptors for the binding ioctls of a loop device:
 * LOOP_SET_FD, LOOP_CHANGE_FD and LOOP_CONFIGURE with fds that are no
 * backing files, loops of loop devices (a device over itself, over one
 * of its own partitions, or over a device above it), LOOP_CHANGE_FD
 * between files of other sizes and types, and the ioctls of a device
 * after LOOP_CLR_FD.  The fixture and what every case checks: hostile.h.
 */
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>

#include "hostile.h"

/* ---- file descriptors that are not backing files ---- */

/* What a hostile fd is, for the errno it should get. */
#define HFD_BAD		1	/* fget() refuses it: EBADF */
#define HFD_OWNED	2	/* ours to close */
#define HFD_NO_ITER	4	/* lacks ->read_iter or ->write_iter */

struct hfd {
	const char *name;
	int fd;
	unsigned int flags;
};

#define MAX_HFDS	20

struct hfds {
	struct hfd h[MAX_HFDS];
	int n;
	int others[4];	/* the other ends */
	char fifo[PATH_MAX];
};

static void hfd_add(struct hfds *s, const char *name, int fd,
		    unsigned int flags)
{
	if (s->n < MAX_HFDS)
		s->h[s->n++] = (struct hfd){ name, fd, flags };
}

/* Open one of every kind; returns 0 or -errno. */
static int hfds_open(struct hfds *s, const char *file)
{
	const unsigned int own = HFD_OWNED;
	int p[2], sv[2], fd;

	memset(s, 0, sizeof(*s));
	memset(s->others, -1, sizeof(s->others));
	/* A closed number well above anything open (lowest-free reuse). */
	fd = fcntl(0, F_DUPFD_CLOEXEC, 1000);
	if (fd < 0)
		return -errno;
	close(fd);
	hfd_add(s, "closed fd", fd, HFD_BAD);
	hfd_add(s, "fd -1", -1, HFD_BAD);
	hfd_add(s, "fd INT_MAX", INT_MAX, HFD_BAD);
	hfd_add(s, "O_PATH file", open(file, O_PATH | O_CLOEXEC),
		HFD_BAD | own);
	hfd_add(s, "O_PATH directory",
		open(test_dir(), O_PATH | O_DIRECTORY | O_CLOEXEC),
		HFD_BAD | own);
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	hfd_add(s, "pipe read end", p[0], own);
	hfd_add(s, "pipe write end", p[1], own);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	hfd_add(s, "unix socket", sv[0], own);
	s->others[0] = sv[1];
	hfd_add(s, "directory",
		open(test_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC),
		HFD_NO_ITER | own);
	hfd_add(s, "/dev/null", open("/dev/null", O_RDWR | O_CLOEXEC), own);
	hfd_add(s, "/dev/zero", open("/dev/zero", O_RDONLY | O_CLOEXEC), own);
	hfd_add(s, LOOP_CONTROL, open(LOOP_CONTROL, O_RDWR | O_CLOEXEC),
		HFD_NO_ITER | own);
	/* ->read_iter, but ->write instead of ->write_iter */
	hfd_add(s, "eventfd", eventfd(0, EFD_CLOEXEC), HFD_NO_ITER | own);
	snprintf(s->fifo, sizeof(s->fifo), "%s/loop-hostile-fifo.%d",
		 test_dir(), getpid());
	unlink(s->fifo);
	if (mkfifo(s->fifo, 0600))
		return -errno;
	hfd_add(s, "fifo", open(s->fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC),
		own);
	for (fd = 0; fd < s->n; fd++)
		if ((s->h[fd].flags & HFD_OWNED) && s->h[fd].fd < 0)
			return -ENOENT;
	return 0;
}

static void hfds_close(struct hfds *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		if ((s->h[i].flags & HFD_OWNED) && s->h[i].fd >= 0)
			close(s->h[i].fd);
	for (i = 0; i < (int)ARRAY_SIZE(s->others); i++)
		if (s->others[i] >= 0)
			close(s->others[i]);
	if (s->fifo[0])
		unlink(s->fifo);
}

/* Issue @cmd (SET_FD, CHANGE_FD or CONFIGURE) with a file descriptor. */
static int fd_ioctl(int devfd, unsigned long cmd, int fd)
{
	struct loop_config cfg;

	if (cmd != LOOP_CONFIGURE)
		return ioctl_err(devfd, cmd, (unsigned long)(long)fd);
	config_init(&cfg, fd);
	return configure(devfd, &cfg);
}

static const char *cmd_name(unsigned long cmd)
{
	switch (cmd) {
	case LOOP_SET_FD:
		return "SET_FD";
	case LOOP_CHANGE_FD:
		return "CHANGE_FD";
	case LOOP_CONFIGURE:
		return "CONFIGURE";
	}
	return "?";
}

/*
 * 6.12's stock driver checks ->read_iter and ->write_iter right after
 * fget(), before the device's state: EINVAL where 6.1's driver, and ours,
 * say EBUSY (bound) or ENXIO (LOOP_CHANGE_FD, unbound) first.
 */
static bool iter_checked_first(void)
{
	return stock_driver() && kernel_at_least(6, 12);
}

/*
 * Every hostile fd through @cmd on loopN (@devfd): EBADF for the ones
 * fget() refuses, @err for the others; the device stays like @want.
 */
static void fd_table(struct __test_metadata *_metadata,
		     const struct hfds *s, int devfd, int nr,
		     unsigned long cmd, int err, const struct snap *want)
{
	const struct hfd *h;
	char what[128];
	int i, expect;

	for (i = 0; i < s->n; i++) {
		h = &s->h[i];
		snprintf(what, sizeof(what), "%s on loop%d with %s",
			 cmd_name(cmd), nr, h->name);
		expect = err;
		if (h->flags & HFD_BAD)
			expect = -EBADF;
		else if ((h->flags & HFD_NO_ITER) && iter_checked_first())
			expect = -EINVAL;
		EXPECT_EQ(expect, fd_ioctl(devfd, cmd, h->fd))
			TH_LOG("%s", what);
		expect_same(_metadata, devfd, nr, want, what);
	}
}

/*
 * Unbound device: not a file (pipe, socket, directory, character device,
 * anonymous inode, fifo) is EINVAL, and so is an unbound loop device;
 * the device itself is EBADF.  The upper half of SET_FD's long is not
 * part of the fd.
 */
TEST_F(hostile, bind_hostile_fds_unbound)
{
	static const unsigned long cmds[] = { LOOP_SET_FD, LOOP_CONFIGURE };
	struct hfds s;
	unsigned int i;
	int fd3, nr3;

	ASSERT_EQ(0, hfds_open(&s, self->file));
	fd3 = ADD_EXTRA(&nr3);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		fd_table(_metadata, &s, self->fd2, self->nr2, cmds[i], -EINVAL,
			 &self->base2);
		EXPECT_EQ(-EBADF, fd_ioctl(self->fd2, cmds[i], self->fd2))
			TH_LOG("%s with its own fd", cmd_name(cmds[i]));
		SAME2("own fd");
		EXPECT_EQ(-EINVAL, fd_ioctl(self->fd2, cmds[i], fd3))
			TH_LOG("%s on an unbound loop device",
			       cmd_name(cmds[i]));
		SAME2("unbound loop device");
	}
	/* the fd is an unsigned int: ~0 in the upper half changes nothing */
	EXPECT_EQ(-EBADF, ioctl_err(self->fd2, LOOP_SET_FD, ~0UL));
	SAME2("SET_FD ~0UL");
	hfds_close(&s);
	SAME("the other device");
}

/*
 * Bound: a bad fd is EBADF (fget comes first), anything else EBUSY (but
 * see iter_checked_first()).
 */
TEST_F(hostile, bind_hostile_fds_bound)
{
	static const unsigned long cmds[] = { LOOP_SET_FD, LOOP_CONFIGURE };
	struct hfds s;
	unsigned int i;

	ASSERT_EQ(0, hfds_open(&s, self->file));
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		fd_table(_metadata, &s, self->fd, self->nr, cmds[i], -EBUSY,
			 &self->base);
		EXPECT_EQ(-EBUSY, fd_ioctl(self->fd, cmds[i], self->fd))
			TH_LOG("%s with its own fd", cmd_name(cmds[i]));
		EXPECT_EQ(-EBUSY, fd_ioctl(self->fd, cmds[i], self->bfd))
			TH_LOG("%s with its own backing file",
			       cmd_name(cmds[i]));
		EXPECT_EQ(-EBUSY, fd_ioctl(self->fd, cmds[i], self->fd2))
			TH_LOG("%s with an unbound loop device",
			       cmd_name(cmds[i]));
		SAME("own fd, own file, unbound loop device");
	}
	hfds_close(&s);
	FIXTURE_DATA_INTACT();
}

/*
 * The only 32 bits of SET_FD's argument that count are the fd's: the
 * upper half of the long is dropped, by both drivers.
 */
TEST_F(hostile, set_fd_upper_bits_ignored)
{
	char want[PATH_MAX], got[PATH_MAX];

	EXPECT_EQ(0, ioctl_err(self->fd2, LOOP_SET_FD,
			       (1UL << 32) | (unsigned long)self->bfd));
	ASSERT_NE(NULL, realpath(self->file, want));
	EXPECT_EQ(0, sysfs_read_str(self->nr2, "loop/backing_file", got,
				    sizeof(got)));
	EXPECT_STREQ(want, got);
	SAME("the other device");
}

/*
 * LOOP_CHANGE_FD: EBADF for bad fds; then ENXIO when unbound, EINVAL when
 * writable; on a read-only device EINVAL for anything not a file, EBADF
 * for the device itself.
 */
TEST_F(hostile, change_fd_hostile_fds)
{
	struct hfds s;
	int rofd, fd3, nr3, other;

	ASSERT_EQ(0, hfds_open(&s, self->file));
	fd_table(_metadata, &s, self->fd, self->nr, LOOP_CHANGE_FD, -EINVAL,
		 &self->base);
	EXPECT_EQ(-EINVAL, fd_ioctl(self->fd, LOOP_CHANGE_FD, self->bfd));
	EXPECT_EQ(-EINVAL, fd_ioctl(self->fd, LOOP_CHANGE_FD, self->fd));
	SAME("CHANGE_FD on a writable device");

	fd_table(_metadata, &s, self->fd2, self->nr2, LOOP_CHANGE_FD, -ENXIO,
		 &self->base2);
	EXPECT_EQ(-ENXIO, fd_ioctl(self->fd2, LOOP_CHANGE_FD, self->bfd));
	SAME2("CHANGE_FD on an unbound device");

	rofd = BIND_SECOND_RO(BACKING_SIZE);
	fd3 = ADD_EXTRA(&nr3);
	fd_table(_metadata, &s, self->fd2, self->nr2, LOOP_CHANGE_FD, -EINVAL,
		 &self->base2);
	EXPECT_EQ(-EBADF, fd_ioctl(self->fd2, LOOP_CHANGE_FD, self->fd2));
	SAME2("CHANGE_FD to itself");
	EXPECT_EQ(-EINVAL, fd_ioctl(self->fd2, LOOP_CHANGE_FD, fd3));
	SAME2("CHANGE_FD to an unbound loop device");
	/* a file of another size */
	other = new_backing(_metadata, self->file3, sizeof(self->file3),
			    BACKING_SIZE + 4096, 3, O_RDONLY);
	EXPECT_EQ(-EINVAL, fd_ioctl(self->fd2, LOOP_CHANGE_FD, other));
	SAME2("CHANGE_FD to a larger file");
	close(other);
	close(rofd);
	hfds_close(&s);
	SAME("the other device");
}

/*
 * Cycles: B is bound to a file, A to B, C to A (all read-only, so that
 * LOOP_CHANGE_FD applies).  Changing B to A or C would close a loop, and
 * so would changing any of them to itself: EBADF.  Binding over a bound
 * device stays EBUSY.
 */
TEST_F_TIMEOUT(hostile, backing_cycles_refused, 120)
{
	struct snap sa, sc;
	struct loop_config cfg;
	int rofd, fda, fdc, nra, nrc, lower;

	rofd = BIND_SECOND_RO(BACKING_SIZE);
	close(rofd);
	fda = ADD_EXTRA(&nra);
	lower = loop_open(self->nr2, O_RDONLY);
	ASSERT_LE(0, lower);
	config_init(&cfg, lower);
	ASSERT_EQ(0, configure(fda, &cfg));
	close(lower);
	fdc = ADD_EXTRA(&nrc);
	lower = loop_open(nra, O_RDONLY);
	ASSERT_LE(0, lower);
	config_init(&cfg, lower);
	ASSERT_EQ(0, configure(fdc, &cfg));
	close(lower);
	udev_settle();
	take_snap(fda, nra, &sa);
	take_snap(fdc, nrc, &sc);
	ASSERT_EQ(0, sa.status_err);
	ASSERT_EQ(0, sc.status_err);
	ASSERT_EQ(self->base2.size, sa.size);

#define ALL_SAME(what) do {						\
	const char *w_ = (what);					\
									\
	SAME2(w_);							\
	expect_same(_metadata, fda, nra, &sa, w_);			\
	expect_same(_metadata, fdc, nrc, &sc, w_);			\
} while (0)

	EXPECT_EQ(-EBADF, fd_ioctl(self->fd2, LOOP_CHANGE_FD, fda));
	ALL_SAME("CHANGE_FD B -> A (A is on B)");
	EXPECT_EQ(-EBADF, fd_ioctl(self->fd2, LOOP_CHANGE_FD, fdc));
	ALL_SAME("CHANGE_FD B -> C (C is on A is on B)");
	EXPECT_EQ(-EBADF, fd_ioctl(fda, LOOP_CHANGE_FD, fdc));
	ALL_SAME("CHANGE_FD A -> C (C is on A)");
	EXPECT_EQ(-EBADF, fd_ioctl(fda, LOOP_CHANGE_FD, fda));
	ALL_SAME("CHANGE_FD A -> A");
	EXPECT_EQ(-EBADF, fd_ioctl(self->fd2, LOOP_CHANGE_FD, self->fd2));
	ALL_SAME("CHANGE_FD B -> B");
	EXPECT_EQ(-EBUSY, fd_ioctl(self->fd2, LOOP_SET_FD, fda));
	EXPECT_EQ(-EBUSY, fd_ioctl(self->fd2, LOOP_CONFIGURE, fdc));
	EXPECT_EQ(-EBUSY, fd_ioctl(fda, LOOP_SET_FD, fdc));
	ALL_SAME("SET_FD/CONFIGURE over bound devices");
	/* and the data still reads through the stack */
	EXPECT_EQ(-1, data_mismatch(nrc, BACKING_SIZE, 2, 0));
#undef ALL_SAME
}

/* An MBR with one Linux partition from sector @start, @sectors long. */
static int write_mbr(int fd, uint32_t start, uint32_t sectors)
{
	unsigned char mbr[512] = { 0 };
	unsigned char *e = mbr + 446;
	int i;

	e[4] = 0x83;
	for (i = 0; i < 4; i++) {
		e[8 + i] = start >> (8 * i);
		e[12 + i] = sectors >> (8 * i);
	}
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
	return pwrite(fd, mbr, sizeof(mbr), 0) == sizeof(mbr) ? 0 : -EIO;
}

/*
 * A loop device over one of its own partitions would be a cycle as much
 * as one over itself.  Partitions have their own (extended) major, so the
 * stock driver does not see a loop device there and refuses the change
 * only because the partition is smaller than the device (EINVAL).  Ours
 * recognises its partitions: EBADF, as for the device itself.
 */
TEST_F_TIMEOUT(hostile, change_fd_to_own_partition, 120)
{
	char node[PATH_MAX], attr[64], devno[32];
	struct loop_config cfg;
	unsigned int ma, mi;
	int rwfd, rofd, pfd, n;

	rwfd = new_backing(_metadata, self->file2, sizeof(self->file2),
			   BACKING_SIZE, 2, O_RDWR);
	ASSERT_EQ(0, write_mbr(rwfd, 2048, SECTORS(BACKING_SIZE) - 2048));
	rofd = open(self->file2, O_RDONLY | O_CLOEXEC);
	close(rwfd);
	ASSERT_LE(0, rofd);
	config_init(&cfg, rofd);
	cfg.info.lo_flags = LO_FLAGS_PARTSCAN;
	ASSERT_EQ(0, configure(self->fd2, &cfg));
	close(rofd);
	udev_settle();

	/* our own node: udev may not be there to make one */
	snprintf(attr, sizeof(attr), "loop%dp1/dev", self->nr2);
	ASSERT_EQ(0, sysfs_read_str(self->nr2, attr, devno, sizeof(devno)))
		TH_LOG("no partition loop%dp1", self->nr2);
	n = sscanf(devno, "%u:%u", &ma, &mi);
	ASSERT_EQ(2, n);
	snprintf(node, sizeof(node), "%s/loop-hostile-p1.%d", test_dir(),
		 getpid());
	unlink(node);
	ASSERT_EQ(0, mknod(node, S_IFBLK | 0600, makedev(ma, mi)));
	pfd = open(node, O_RDONLY | O_CLOEXEC);
	unlink(node);
	ASSERT_LE(0, pfd);

	take_snap(self->fd2, self->nr2, &self->base2);
	EXPECT_EQ(stock_driver() ? -EINVAL : -EBADF,
		  fd_ioctl(self->fd2, LOOP_CHANGE_FD, pfd));
	SAME2("CHANGE_FD to its own partition");
	close(pfd);
}

/*
 * LOOP_CHANGE_FD from a file to a block device of the same size.  The
 * stock driver checks only that both are files or block devices, and the
 * size: it swaps.  Ours also wants the same type (a documented
 * difference): EINVAL, nothing changed.
 */
TEST_F(hostile, change_fd_file_to_block_device)
{
	char got[PATH_MAX], want[32];
	int rofd, blk;

	rofd = BIND_SECOND_RO(FIX_SIZELIMIT);
	blk = loop_open(self->nr, O_RDONLY);
	ASSERT_LE(0, blk);
	if (!stock_driver()) {
		EXPECT_EQ(-EINVAL, fd_ioctl(self->fd2, LOOP_CHANGE_FD, blk));
		close(blk);
		close(rofd);
		SAME2("CHANGE_FD from a file to a block device");
		return;
	}
	EXPECT_EQ(0, fd_ioctl(self->fd2, LOOP_CHANGE_FD, blk));
	close(blk);
	close(rofd);
	loop_dev_path(want, sizeof(want), self->nr);
	EXPECT_EQ(0, sysfs_read_str(self->nr2, "loop/backing_file", got,
				    sizeof(got)));
	EXPECT_STREQ(want, got);
	EXPECT_EQ(-1, data_mismatch(self->nr2, FIX_SIZELIMIT, 1, FIX_OFFSET));
}

/*
 * Which sizes LOOP_CHANGE_FD compares: the stock driver computes the size
 * of a binding of the old file as it is now and of the new file, with the
 * device's offset and size limit.  The device's capacity, which only
 * follows the file on LOOP_SET_CAPACITY, is not consulted.  Ours compares
 * the new file with the capacity instead (a documented difference).
 */
TEST_F(hostile, change_fd_stale_capacity_size)
{
	char want[PATH_MAX], got[PATH_MAX];
	int rofd, other;

	rofd = BIND_SECOND_RO(FIX_SIZELIMIT);
	ASSERT_EQ(0, truncate(self->file2, FIX_SIZELIMIT + (1 << 20)));
	/* the device still has the old size... */
	ASSERT_EQ(SECTORS(FIX_SIZELIMIT), sysfs_read_ll(self->nr2, "size"));
	/* ...but the old file does not: a file of that size differs */
	other = new_backing(_metadata, self->file3, sizeof(self->file3),
			    FIX_SIZELIMIT, 3, O_RDONLY);
	if (stock_driver()) {
		EXPECT_EQ(-EINVAL, fd_ioctl(self->fd2, LOOP_CHANGE_FD, other));
		SAME2("CHANGE_FD to a file of the device's stale size");
	} else {
		EXPECT_EQ(0, fd_ioctl(self->fd2, LOOP_CHANGE_FD, other));
		ASSERT_NE(NULL, realpath(self->file3, want));
		EXPECT_EQ(0, sysfs_read_str(self->nr2, "loop/backing_file",
					    got, sizeof(got)));
		EXPECT_STREQ(want, got);
	}
	close(other);
	close(rofd);
}

TEST_F(hostile, change_fd_grown_file_size_accepted)
{
	char want[PATH_MAX], got[PATH_MAX];
	int rofd, other;

	rofd = BIND_SECOND_RO(FIX_SIZELIMIT);
	ASSERT_EQ(0, truncate(self->file2, FIX_SIZELIMIT + (1 << 20)));
	other = new_backing(_metadata, self->file3, sizeof(self->file3),
			    FIX_SIZELIMIT + (1 << 20), 3, O_RDONLY);
	if (!stock_driver()) {
		EXPECT_EQ(-EINVAL, fd_ioctl(self->fd2, LOOP_CHANGE_FD, other));
		close(other);
		close(rofd);
		SAME2("CHANGE_FD to the grown size, not the capacity");
		return;
	}
	EXPECT_EQ(0, fd_ioctl(self->fd2, LOOP_CHANGE_FD, other));
	close(other);
	close(rofd);
	ASSERT_NE(NULL, realpath(self->file3, want));
	EXPECT_EQ(0, sysfs_read_str(self->nr2, "loop/backing_file", got,
				    sizeof(got)));
	EXPECT_STREQ(want, got);
}

/*
 * A regular file whose file system offers only ->read, no ->read_iter
 * (/proc/PID/cmdline).  6.1's stock driver checks the file type only, so
 * it binds it: read-only (no ->write_iter) and empty (i_size is 0).  Ours
 * refuses a file it cannot read, as 6.12's does (a documented difference).
 */
TEST_F(hostile, configure_regular_file_without_read_iter)
{
	struct loop_config cfg;
	struct loop_info64 info;
	int pfd;

	pfd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, pfd);
	config_init(&cfg, pfd);
	if (!stock_driver() || kernel_at_least(6, 12)) {
		EXPECT_EQ(-EINVAL, configure(self->fd2, &cfg));
		EXPECT_EQ(-EINVAL, fd_ioctl(self->fd2, LOOP_SET_FD, pfd));
		close(pfd);
		SAME2("refused /proc/self/cmdline");
		return;
	}
	EXPECT_EQ(0, configure(self->fd2, &cfg));
	close(pfd);
	EXPECT_EQ(0, loop_get_status64(self->fd2, &info));
	EXPECT_EQ(LO_FLAGS_READ_ONLY, info.lo_flags & LO_FLAGS_READ_ONLY);
	EXPECT_EQ(0, sysfs_read_ll(self->nr2, "size"));
}

/*
 * After LOOP_CLR_FD by the only opener, the device is on its way out: the
 * status ioctls say ENXIO.  Where the detach waits for the last close
 * (ours, and the stock driver from 6.11), binding it again is EBUSY until
 * then and the size stays; 6.1's stock driver has detached at once.
 */
TEST_F(hostile, ioctls_after_clr_fd)
{
	struct loop_info64 info;
	struct loop_config cfg;

	ASSERT_EQ(0, loop_clr_fd_now(self->fd, self->nr));
	EXPECT_EQ(-ENXIO, loop_get_status64(self->fd, &info));
	EXPECT_EQ(-ENXIO, set_status64(self->fd, &self->base.info));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 4096));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_SET_CAPACITY, 0));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_SET_DIRECT_IO, 0));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_CHANGE_FD, self->bfd));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_CLR_FD, 0));
	if (!clr_fd_waits_for_close())
		return;
	EXPECT_EQ(-EBUSY, fd_ioctl(self->fd, LOOP_SET_FD, self->bfd));
	config_init(&cfg, self->bfd);
	EXPECT_EQ(-EBUSY, configure(self->fd, &cfg));
	EXPECT_EQ(-EBUSY, ioctl_err(self->ctl, LOOP_CTL_REMOVE, self->nr));
	EXPECT_EQ(SECTORS(FIX_SIZELIMIT), sysfs_read_ll(self->nr, "size"));
	EXPECT_EQ(-ENXIO, loop_get_status64(self->fd, &info));
}

TEST_HARNESS_MAIN
