// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl semantics of the loop driver: /dev/loopN and /dev/loop-control.
 *
 * Every error case checks the exact errno and that the device state did not
 * change; every success case checks the state the kernel reports afterwards
 * through LOOP_GET_STATUS64 and sysfs.  The expected values follow the 6.1
 * drivers/block/loop.c, which is the reference behaviour.
 */
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/fs.h>

#include "loop_util.h"
#include "loop_harness.h"

/* High numbers, so we never touch devices the system itself uses. */
#define TEST_NR		240
#define TEST_NR2	241
#define BACKING_SIZE	(4 << 20)
#define SECTORS(bytes)	((long long)(bytes) >> 9)

FIXTURE(loopdev) {
	int ctl;		/* /dev/loop-control */
	int nr;			/* our device, created with LOOP_CTL_ADD */
	int fd;			/* /dev/loopN, O_RDWR */
	int bfd;		/* backing file, O_RDWR */
	int nr2;		/* second device if a test made one, else -1 */
	int fd2;		/* its fd */
	int extra_nr;		/* a device a test bound and must unbind */
	char file[PATH_MAX];	/* backing file */
	char file2[PATH_MAX];	/* second backing file, if any */
};

FIXTURE_SETUP(loopdev)
{
	self->fd = -1;
	self->bfd = -1;
	self->fd2 = -1;
	self->nr2 = -1;
	self->extra_nr = -1;
	self->ctl = ctl_open();
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", LOOP_CONTROL,
				       strerror(-self->ctl));
	self->nr = TEST_NR;
	ASSERT_EQ(TEST_NR, ctl_add_fixed(self->ctl, TEST_NR));
	self->fd = loop_open(self->nr, O_RDWR);
	ASSERT_LE(0, self->fd);
	self->bfd = make_backing(self->file, sizeof(self->file),
				 BACKING_SIZE, 1);
	ASSERT_LE(0, self->bfd) TH_LOG("backing file in %s: %s", test_dir(),
				       strerror(-self->bfd));
}

FIXTURE_TEARDOWN(loopdev)
{
	/* Stacked devices: the upper one (ours) must go first. */
	detach_and_remove(self->ctl, self->nr, &self->fd);
	detach_and_remove(self->ctl, self->nr2, &self->fd2);
	if (self->extra_nr >= 0)
		loop_force_detach(self->extra_nr);
	if (self->bfd >= 0)
		close(self->bfd);
	if (self->file[0])
		unlink(self->file);
	if (self->file2[0])
		unlink(self->file2);
	close(self->ctl);
}

/* Assert that loopN is unbound, the way every observer sees it. */
static void assert_unbound(struct __test_metadata *_metadata, int fd, int nr)
{
	struct loop_info64 info;

	ASSERT_EQ(-ENXIO, loop_get_status64(fd, &info));
	ASSERT_EQ(0, sysfs_read_ll(nr, "size"));
	ASSERT_FALSE(loop_is_bound_sysfs(nr));
}

/* Assert a bound device's geometry in GET_STATUS64 and sysfs. */
static void assert_bound(struct __test_metadata *_metadata, int fd, int nr,
			 unsigned long long offset,
			 unsigned long long sizelimit, long long sectors)
{
	struct loop_info64 info;

	ASSERT_EQ(0, loop_get_status64(fd, &info));
	ASSERT_EQ((unsigned int)nr, info.lo_number);
	ASSERT_EQ(offset, info.lo_offset);
	ASSERT_EQ(sizelimit, info.lo_sizelimit);
	ASSERT_EQ(sectors, sysfs_read_ll(nr, "size"));
	ASSERT_EQ((long long)offset, sysfs_read_ll(nr, "loop/offset"));
	ASSERT_EQ((long long)sizelimit, sysfs_read_ll(nr, "loop/sizelimit"));
}

static void assert_backing_file(struct __test_metadata *_metadata, int nr,
				const char *file)
{
	char want[PATH_MAX], got[PATH_MAX];

	ASSERT_NE(NULL, realpath(file, want));
	ASSERT_EQ(0, sysfs_read_str(nr, "loop/backing_file", got, sizeof(got)));
	ASSERT_STREQ(want, got);
}

static void assert_read_only(struct __test_metadata *_metadata, int fd,
			     int nr, bool ro)
{
	struct loop_info64 info;
	int blkro = -1;

	ASSERT_EQ(0, loop_get_status64(fd, &info));
	ASSERT_EQ(ro, !!(info.lo_flags & LO_FLAGS_READ_ONLY));
	ASSERT_EQ(ro, sysfs_read_ll(nr, "ro"));
	ASSERT_EQ(0, ioctl(fd, BLKROGET, &blkro));
	ASSERT_EQ(ro, blkro);
}

static long long queue_attr(int nr, const char *name)
{
	char attr[64];

	snprintf(attr, sizeof(attr), "queue/%s", name);
	return sysfs_read_ll(nr, attr);
}

static int set_fd(int fd, int backing)
{
	return ioctl_err(fd, LOOP_SET_FD, (unsigned long)backing);
}

static int configure(int fd, const struct loop_config *cfg)
{
	return ioctl_err(fd, LOOP_CONFIGURE, (unsigned long)cfg);
}

static int set_status64(int fd, const struct loop_info64 *info)
{
	return ioctl_err(fd, LOOP_SET_STATUS64, (unsigned long)info);
}

/* GET_STATUS64, change the flags, SET_STATUS64, return the new flags. */
static int flags_roundtrip(int fd, unsigned int flags, unsigned int *out)
{
	struct loop_info64 info;
	int ret;

	ret = loop_get_status64(fd, &info);
	if (ret)
		return ret;
	info.lo_flags = flags;
	ret = set_status64(fd, &info);
	if (ret)
		return ret;
	ret = loop_get_status64(fd, &info);
	*out = info.lo_flags;
	return ret;
}

/*
 * Create a second device, TEST_NR2, with an fd in *@fd, and a second
 * backing file (pattern 2) named in @file, for tests that need two.
 */
static void add_second(struct __test_metadata *_metadata, int ctl,
		       int *nr, int *fd, char *file, size_t len)
{
	int bfd;

	ASSERT_EQ(TEST_NR2, ctl_add_fixed(ctl, TEST_NR2));
	*nr = TEST_NR2;
	*fd = loop_open(TEST_NR2, O_RDWR);
	ASSERT_LE(0, *fd);
	bfd = make_backing(file, len, BACKING_SIZE, 2);
	ASSERT_LE(0, bfd);
	close(bfd);
}

#define ADD_SECOND() add_second(_metadata, self->ctl, &self->nr2,	\
				&self->fd2, self->file2,		\
				sizeof(self->file2))

/* ---- LOOP_SET_FD ---- */

TEST_F(loopdev, set_fd_binds_regular_file)
{
	struct loop_info64 info;
	struct stat st;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	assert_bound(_metadata, self->fd, self->nr, 0, 0,
		     SECTORS(BACKING_SIZE));
	assert_backing_file(_metadata, self->nr, self->file);
	assert_read_only(_metadata, self->fd, self->nr, false);

	ASSERT_EQ(0, fstat(self->bfd, &st));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	ASSERT_EQ(default_bind_flags(), info.lo_flags);
	ASSERT_EQ(st.st_ino, info.lo_inode);
	/* huge_encode_dev() == glibc's encoding for majors below 4096 */
	ASSERT_EQ(st.st_dev, info.lo_device);
	ASSERT_EQ(0, info.lo_rdevice);
	/* SET_FD leaves the name empty: losetup fills it with SET_STATUS */
	ASSERT_EQ(0, info.lo_file_name[0]);
	ASSERT_EQ(0, info.lo_crypt_name[0]);
	ASSERT_EQ(0, info.lo_encrypt_type);
	ASSERT_EQ(512, sysfs_read_ll(self->nr, "queue/logical_block_size"));
	ASSERT_EQ(0, sysfs_read_ll(self->nr, "loop/autoclear"));
	ASSERT_EQ(0, sysfs_read_ll(self->nr, "loop/dio"));
}

TEST_F(loopdev, set_fd_on_bound_device_ebusy)
{
	int bfd2;

	ADD_SECOND();
	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	bfd2 = open(self->file2, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, bfd2);
	EXPECT_EQ(-EBUSY, set_fd(self->fd, bfd2));
	close(bfd2);
	assert_backing_file(_metadata, self->nr, self->file);
	assert_bound(_metadata, self->fd, self->nr, 0, 0,
		     SECTORS(BACKING_SIZE));
}

TEST_F(loopdev, set_fd_negative_fd_ebadf)
{
	ASSERT_EQ(-EBADF, ioctl_err(self->fd, LOOP_SET_FD, (unsigned long)-1L));
	assert_unbound(_metadata, self->fd, self->nr);
}

TEST_F(loopdev, set_fd_closed_fd_ebadf)
{
	int fd = dup(self->bfd);

	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(-EBADF, set_fd(self->fd, fd));
	assert_unbound(_metadata, self->fd, self->nr);
}

/* fget() does not hand out O_PATH files: they look like bad fds. */
TEST_F(loopdev, set_fd_opath_fd_ebadf)
{
	int fd = open(self->file, O_PATH | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(-EBADF, set_fd(self->fd, fd));
	close(fd);
	assert_unbound(_metadata, self->fd, self->nr);
}

TEST_F(loopdev, set_fd_directory_einval)
{
	int fd = open(test_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(-EINVAL, set_fd(self->fd, fd));
	close(fd);
	assert_unbound(_metadata, self->fd, self->nr);
}

TEST_F(loopdev, set_fd_pipe_einval)
{
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	ASSERT_EQ(-EINVAL, set_fd(self->fd, p[0]));
	ASSERT_EQ(-EINVAL, set_fd(self->fd, p[1]));
	close(p[0]);
	close(p[1]);
	assert_unbound(_metadata, self->fd, self->nr);
}

TEST_F(loopdev, set_fd_socket_einval)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(-EINVAL, set_fd(self->fd, sv[0]));
	close(sv[0]);
	close(sv[1]);
	assert_unbound(_metadata, self->fd, self->nr);
}

/* A loop device over itself: loop_validate_file() says EBADF. */
TEST_F(loopdev, set_fd_own_device_ebadf)
{
	ASSERT_EQ(-EBADF, set_fd(self->fd, self->fd));
	assert_unbound(_metadata, self->fd, self->nr);
}

/* Stacking on an unbound loop device is refused with EINVAL. */
TEST_F(loopdev, set_fd_unbound_loop_device_einval)
{
	ADD_SECOND();
	ASSERT_EQ(-EINVAL, set_fd(self->fd, self->fd2));
	assert_unbound(_metadata, self->fd, self->nr);
}

TEST_F(loopdev, set_fd_bound_loop_device_stacks)
{
	char path[32];
	int lower;

	ADD_SECOND();
	ASSERT_EQ(0, set_fd(self->fd2, self->bfd));
	/*
	 * Bind through an open of its own: the upper device keeps that file,
	 * which counts as one more opener of the lower device.
	 */
	lower = loop_open(self->nr2, O_RDWR);
	ASSERT_LE(0, lower);
	ASSERT_EQ(0, set_fd(self->fd, lower));
	close(lower);
	assert_bound(_metadata, self->fd, self->nr, 0, 0,
		     SECTORS(BACKING_SIZE));
	loop_dev_path(path, sizeof(path), self->nr2);
	assert_backing_file(_metadata, self->nr, path);
	/*
	 * A block device punches holes by writing zeroes (no zero-page
	 * fallback): its write-zeroes limit bounds both.
	 */
	ASSERT_LT(0, queue_attr(self->nr2, "write_zeroes_max_bytes"));
	ASSERT_EQ(queue_attr(self->nr2, "write_zeroes_max_bytes"),
		  queue_attr(self->nr, "discard_max_bytes"));
	ASSERT_EQ(queue_attr(self->nr2, "write_zeroes_max_bytes"),
		  queue_attr(self->nr, "write_zeroes_max_bytes"));
	/*
	 * The upper device holds the lower one open, so detaching the lower
	 * one is deferred (autoclear) rather than refused.
	 */
	udev_settle();
	ASSERT_EQ(0, ioctl_err(self->fd2, LOOP_CLR_FD, 0));
	ASSERT_TRUE(loop_is_bound_sysfs(self->nr2));
	ASSERT_EQ(1, sysfs_read_ll(self->nr2, "loop/autoclear"));
}

TEST_F(loopdev, set_fd_readonly_file_makes_device_ro)
{
	char buf[512] = { 0 };
	int rofd, fd;

	rofd = open(self->file, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, rofd);
	ASSERT_EQ(0, set_fd(self->fd, rofd));
	close(rofd);
	assert_read_only(_metadata, self->fd, self->nr, true);
	assert_bound(_metadata, self->fd, self->nr, 0, 0,
		     SECTORS(BACKING_SIZE));

	/* The block layer refuses writes to a read-only disk with EPERM. */
	ASSERT_EQ(-1, pwrite(self->fd, buf, sizeof(buf), 0));
	ASSERT_EQ(EPERM, errno);
	/* ...but an O_RDWR open of a read-only disk succeeds in 6.1. */
	fd = loop_open(self->nr, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(-1, pwrite(fd, buf, sizeof(buf), 0));
	ASSERT_EQ(EPERM, errno);
	close(fd);
	/* Reads still work. */
	ASSERT_EQ(sizeof(buf), pread(self->fd, buf, sizeof(buf), 0));
	ASSERT_EQ(-1, pattern_check(buf, sizeof(buf), 1, 0));
}

/* Binding through a read-only open of the device also makes it RO. */
TEST_F(loopdev, set_fd_readonly_device_open_makes_ro)
{
	int rofd = loop_open(self->nr, O_RDONLY);

	ASSERT_LE(0, rofd);
	ASSERT_EQ(0, set_fd(rofd, self->bfd));
	close(rofd);
	assert_read_only(_metadata, self->fd, self->nr, true);
}

/* ---- LOOP_CLR_FD ---- */

TEST_F(loopdev, clr_fd_detaches_device)
{
	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, loop_clr_fd_now(self->fd, self->nr));
	if (clr_fd_waits_for_close()) {
		/* rundown: no new openers, detach on our close */
		ASSERT_EQ(-ENXIO, loop_open(self->nr, O_RDONLY));
		ASSERT_EQ(SECTORS(BACKING_SIZE),
			  sysfs_read_ll(self->nr, "size"));
		ASSERT_EQ(-EBUSY, set_fd(self->fd, self->bfd));
		close(self->fd);
		self->fd = -1;
		ASSERT_EQ(0, wait_unbound(self->nr, 10000));
		self->fd = loop_open(self->nr, O_RDWR);
		ASSERT_LE(0, self->fd);
	}
	assert_unbound(_metadata, self->fd, self->nr);
	ASSERT_EQ(0, sysfs_read_ll(self->nr, "ro"));
	ASSERT_EQ(512, sysfs_read_ll(self->nr, "queue/logical_block_size"));
	/* The device can be bound again at once. */
	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
}

TEST_F(loopdev, clr_fd_unbound_enxio)
{
	ASSERT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_CLR_FD, 0));
	assert_unbound(_metadata, self->fd, self->nr);
}

/*
 * With another opener the kernel only sets AUTOCLEAR and returns 0; the
 * detach happens when the last opener closes.
 */
TEST_F(loopdev, clr_fd_with_second_opener_defers_detach)
{
	struct loop_info64 info;
	int fd2;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	udev_settle();
	fd2 = loop_open(self->nr, O_RDONLY);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_CLR_FD, 0));

	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	ASSERT_EQ(LO_FLAGS_AUTOCLEAR, info.lo_flags & LO_FLAGS_AUTOCLEAR);
	ASSERT_EQ(1, sysfs_read_ll(self->nr, "loop/autoclear"));
	ASSERT_EQ(SECTORS(BACKING_SIZE), sysfs_read_ll(self->nr, "size"));

	close(fd2);
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));

	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(0, wait_unbound(self->nr, 10000));
	self->fd = loop_open(self->nr, O_RDWR);
	ASSERT_LE(0, self->fd);
	assert_unbound(_metadata, self->fd, self->nr);
}

/* ---- LOOP_GET_STATUS64 / LOOP_SET_STATUS64 ---- */

TEST_F(loopdev, get_status64_unbound_enxio)
{
	struct loop_info64 info;

	ASSERT_EQ(-ENXIO, loop_get_status64(self->fd, &info));
}

/* A NULL argument is checked before the bound state: always EINVAL. */
TEST_F(loopdev, get_status64_null_einval)
{
	ASSERT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_GET_STATUS64, 0));
	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_GET_STATUS64, 0));
}

/* A bad non-NULL pointer is only touched when bound. */
TEST_F(loopdev, get_status64_bad_pointer_efault)
{
	ASSERT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_GET_STATUS64, 8));
	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(-EFAULT, ioctl_err(self->fd, LOOP_GET_STATUS64, 8));
}

TEST_F(loopdev, set_status64_unbound_enxio)
{
	struct loop_info64 info;

	memset(&info, 0, sizeof(info));
	ASSERT_EQ(-ENXIO, set_status64(self->fd, &info));
	assert_unbound(_metadata, self->fd, self->nr);
}

/* SET copies the argument in before it looks at the device state. */
TEST_F(loopdev, set_status64_null_efault_before_bound_check)
{
	ASSERT_EQ(-EFAULT, ioctl_err(self->fd, LOOP_SET_STATUS64, 0));
	assert_unbound(_metadata, self->fd, self->nr);
	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(-EFAULT, ioctl_err(self->fd, LOOP_SET_STATUS64, 0));
	assert_bound(_metadata, self->fd, self->nr, 0, 0,
		     SECTORS(BACKING_SIZE));
}

TEST_F(loopdev, set_status64_offset_and_sizelimit)
{
	struct loop_info64 info;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	info.lo_offset = 1 << 20;
	info.lo_sizelimit = (1 << 20) + 1000;	/* rounds down to sectors */
	ASSERT_EQ(0, set_status64(self->fd, &info));
	assert_bound(_metadata, self->fd, self->nr, 1 << 20, (1 << 20) + 1000,
		     SECTORS((1 << 20) + 1000));

	info.lo_sizelimit = 0;			/* 0 == up to end of file */
	ASSERT_EQ(0, set_status64(self->fd, &info));
	assert_bound(_metadata, self->fd, self->nr, 1 << 20, 0,
		     SECTORS(BACKING_SIZE - (1 << 20)));

	info.lo_sizelimit = 64 << 20;		/* larger than the file */
	ASSERT_EQ(0, set_status64(self->fd, &info));
	assert_bound(_metadata, self->fd, self->nr, 1 << 20, 64 << 20,
		     SECTORS(BACKING_SIZE - (1 << 20)));

	/* The device reads the file from the new offset. */
	{
		char buf[4096];

		ASSERT_EQ(sizeof(buf), pread(self->fd, buf, sizeof(buf), 0));
		ASSERT_EQ(-1, pattern_check(buf, sizeof(buf), 1, 1 << 20));
	}
}

/* An offset past the end of the file is accepted and gives size 0. */
TEST_F(loopdev, set_status64_offset_beyond_eof_zero_size)
{
	struct loop_info64 info;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	info.lo_offset = 2ULL * BACKING_SIZE;
	ASSERT_EQ(0, set_status64(self->fd, &info));
	assert_bound(_metadata, self->fd, self->nr, 2ULL * BACKING_SIZE, 0, 0);
}

TEST_F(loopdev, set_status64_file_name_roundtrip)
{
	struct loop_info64 info;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	strcpy((char *)info.lo_file_name, "/some/name/for/losetup");
	strcpy((char *)info.lo_crypt_name, "not-stored");
	ASSERT_EQ(0, set_status64(self->fd, &info));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	ASSERT_STREQ("/some/name/for/losetup", (char *)info.lo_file_name);
	/* The kernel keeps no crypt name: GET always returns zeroes. */
	ASSERT_EQ(0, info.lo_crypt_name[0]);

	/* A full-length name is cut to LO_NAME_SIZE - 1 bytes. */
	memset(info.lo_file_name, 'x', LO_NAME_SIZE);
	ASSERT_EQ(0, set_status64(self->fd, &info));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	ASSERT_EQ(LO_NAME_SIZE - 1, strnlen((char *)info.lo_file_name,
					    LO_NAME_SIZE));
	/* The backing file attribute shows the real path, not the name. */
	assert_backing_file(_metadata, self->nr, self->file);
}

TEST_F(loopdev, set_status64_autoclear_set_and_clear)
{
	unsigned int base = default_bind_flags(), flags;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, flags_roundtrip(self->fd, base | LO_FLAGS_AUTOCLEAR,
				     &flags));
	ASSERT_EQ(base | LO_FLAGS_AUTOCLEAR, flags);
	ASSERT_EQ(1, sysfs_read_ll(self->nr, "loop/autoclear"));
	ASSERT_EQ(0, flags_roundtrip(self->fd, base, &flags));
	ASSERT_EQ(base, flags);
	ASSERT_EQ(0, sysfs_read_ll(self->nr, "loop/autoclear"));
}

TEST_F(loopdev, set_status64_partscan_settable_not_clearable)
{
	unsigned int flags;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, flags_roundtrip(self->fd, LO_FLAGS_PARTSCAN, &flags));
	ASSERT_EQ(LO_FLAGS_PARTSCAN, flags);
	ASSERT_EQ(1, sysfs_read_ll(self->nr, "loop/partscan"));
	ASSERT_EQ(0, flags_roundtrip(self->fd, 0, &flags));
	ASSERT_EQ(LO_FLAGS_PARTSCAN, flags);
	ASSERT_EQ(1, sysfs_read_ll(self->nr, "loop/partscan"));
}

TEST_F(loopdev, set_status64_read_only_not_settable)
{
	unsigned int flags;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, flags_roundtrip(self->fd, LO_FLAGS_READ_ONLY, &flags));
	ASSERT_EQ(default_bind_flags(), flags);
	assert_read_only(_metadata, self->fd, self->nr, false);
}

TEST_F(loopdev, set_status64_read_only_not_clearable)
{
	unsigned int flags;
	int rofd;

	rofd = open(self->file, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, rofd);
	ASSERT_EQ(0, set_fd(self->fd, rofd));
	close(rofd);
	ASSERT_EQ(0, flags_roundtrip(self->fd, 0, &flags));
	ASSERT_EQ(default_bind_flags() | LO_FLAGS_READ_ONLY, flags);
	assert_read_only(_metadata, self->fd, self->nr, true);
}

/*
 * Flags SET_STATUS cannot change are masked silently, not rejected:
 * READ_ONLY and DIRECT_IO keep their old values, unknown bits vanish.
 */
TEST_F(loopdev, set_status64_unknown_flags_masked)
{
	unsigned int flags;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, flags_roundtrip(self->fd, ~0U, &flags));
	ASSERT_EQ(LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN, flags);
	ASSERT_EQ(0, sysfs_read_ll(self->nr, "loop/dio"));
	assert_read_only(_metadata, self->fd, self->nr, false);
}

/*
 * Transfer types nobody implements are EINVAL, and so is a key longer
 * than LO_KEY_SIZE.  The stock driver has no transfers at all, so there
 * XOR and CRYPTOAPI are EINVAL too and a key given with NONE is dropped;
 * our driver's transfers are tested by xfer_test instead.
 */
static const unsigned int stock_bad_types[] = {
	LO_CRYPT_XOR, LO_CRYPT_CRYPTOAPI,
};

static const unsigned int bad_types[] = {
	LO_CRYPT_DES, LO_CRYPT_FISH2, MAX_LO_CRYPT, 1000,
};

TEST_F(loopdev, set_status64_encryption_einval)
{
	struct loop_info64 info, bad;
	unsigned int i;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	for (i = 0; i < ARRAY_SIZE(bad_types); i++) {
		bad = info;
		bad.lo_offset = 4096;
		bad.lo_encrypt_type = bad_types[i];
		EXPECT_EQ(-EINVAL, set_status64(self->fd, &bad))
			TH_LOG("lo_encrypt_type %u", bad_types[i]);
	}
	for (i = 0; stock_driver() && i < ARRAY_SIZE(stock_bad_types); i++) {
		bad = info;
		bad.lo_offset = 4096;
		bad.lo_encrypt_type = stock_bad_types[i];
		EXPECT_EQ(-EINVAL, set_status64(self->fd, &bad))
			TH_LOG("lo_encrypt_type %u", stock_bad_types[i]);
	}
	bad = info;
	bad.lo_offset = 4096;
	bad.lo_encrypt_key_size = LO_KEY_SIZE + 1;
	ASSERT_EQ(-EINVAL, set_status64(self->fd, &bad));
	assert_bound(_metadata, self->fd, self->nr, 0, 0,
		     SECTORS(BACKING_SIZE));
	if (!stock_driver())
		return;

	/* A key of valid size with type NONE is accepted (and dropped). */
	bad = info;
	bad.lo_encrypt_key_size = LO_KEY_SIZE;
	memset(bad.lo_encrypt_key, 0x5a, LO_KEY_SIZE);
	ASSERT_EQ(0, set_status64(self->fd, &bad));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	ASSERT_EQ(0, info.lo_encrypt_key_size);
	ASSERT_EQ(0, info.lo_encrypt_key[0]);
}

TEST_F(loopdev, set_status64_offset_overflow_eoverflow)
{
	struct loop_info64 info, bad;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	bad = info;
	bad.lo_offset = 1ULL << 63;
	ASSERT_EQ(-EOVERFLOW, set_status64(self->fd, &bad));
	bad = info;
	bad.lo_sizelimit = ~0ULL;
	ASSERT_EQ(-EOVERFLOW, set_status64(self->fd, &bad));
	assert_bound(_metadata, self->fd, self->nr, 0, 0,
		     SECTORS(BACKING_SIZE));
}

/* ---- legacy LOOP_GET_STATUS / LOOP_SET_STATUS ---- */

TEST_F(loopdev, get_status_old_reports_fields)
{
	struct loop_info old;
	struct stat st;

	ASSERT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_GET_STATUS, 0));
	ASSERT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_GET_STATUS,
				    (unsigned long)&old));
	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	memset(&old, 0xff, sizeof(old));
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_GET_STATUS, (unsigned long)&old));
	ASSERT_EQ(0, fstat(self->bfd, &st));
	ASSERT_EQ(self->nr, old.lo_number);
	ASSERT_EQ(st.st_ino, old.lo_inode);
	ASSERT_EQ(0, old.lo_offset);
	ASSERT_EQ((int)default_bind_flags(), old.lo_flags);
	ASSERT_EQ(0, old.lo_name[0]);
	ASSERT_EQ(0, old.reserved[0]);
}

/* The old structure has no sizelimit: SET_STATUS resets it to 0. */
TEST_F(loopdev, set_status_old_resets_sizelimit)
{
	struct loop_info64 info;
	struct loop_info old;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	info.lo_sizelimit = 1 << 20;
	ASSERT_EQ(0, set_status64(self->fd, &info));
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_GET_STATUS, (unsigned long)&old));
	old.lo_offset = 4096;
	strcpy(old.lo_name, "old-name");
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_STATUS, (unsigned long)&old));
	assert_bound(_metadata, self->fd, self->nr, 4096, 0,
		     SECTORS(BACKING_SIZE - 4096));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	ASSERT_STREQ("old-name", (char *)info.lo_file_name);
}

/* An offset that does not fit the old int field: EOVERFLOW. */
TEST_F(loopdev, get_status_old_offset_overflow)
{
	struct loop_info64 info;
	struct loop_info old;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	info.lo_offset = 3ULL << 30;
	ASSERT_EQ(0, set_status64(self->fd, &info));
	ASSERT_EQ(-EOVERFLOW, ioctl_err(self->fd, LOOP_GET_STATUS,
					(unsigned long)&old));
}

/* ---- LOOP_CONFIGURE ---- */

static void config_init(struct loop_config *cfg, int fd)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->fd = fd;
}

TEST_F(loopdev, configure_binds_with_offset_sizelimit_flags)
{
	struct loop_config cfg;
	struct loop_info64 info;

	config_init(&cfg, self->bfd);
	cfg.info.lo_offset = 8192;
	cfg.info.lo_sizelimit = 1 << 20;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN;
	strcpy((char *)cfg.info.lo_file_name, "configured");
	ASSERT_EQ(0, configure(self->fd, &cfg));
	assert_bound(_metadata, self->fd, self->nr, 8192, 1 << 20,
		     SECTORS(1 << 20));
	assert_backing_file(_metadata, self->nr, self->file);
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	ASSERT_EQ(LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN, info.lo_flags);
	ASSERT_STREQ("configured", (char *)info.lo_file_name);
	ASSERT_EQ(1, sysfs_read_ll(self->nr, "loop/autoclear"));
	ASSERT_EQ(1, sysfs_read_ll(self->nr, "loop/partscan"));
	ASSERT_EQ(512, sysfs_read_ll(self->nr, "queue/logical_block_size"));
}

TEST_F(loopdev, configure_block_sizes)
{
	static const unsigned int sizes[] = { 512, 1024, 2048, 4096 };
	struct loop_config cfg;
	unsigned int i;
	int ssz;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		config_init(&cfg, self->bfd);
		cfg.block_size = sizes[i];
		ASSERT_EQ(0, configure(self->fd, &cfg));
		ASSERT_EQ(sizes[i], queue_attr(self->nr, "logical_block_size"));
		ASSERT_EQ(sizes[i], queue_attr(self->nr, "physical_block_size"));
		ASSERT_EQ(sizes[i], queue_attr(self->nr, "minimum_io_size"));
		ASSERT_EQ(0, ioctl(self->fd, BLKSSZGET, &ssz));
		ASSERT_EQ((int)sizes[i], ssz);
		/* size is always counted in 512-byte sectors */
		ASSERT_EQ(SECTORS(BACKING_SIZE), sysfs_read_ll(self->nr, "size"));
		ASSERT_EQ(0, loop_detach_reopen(&self->fd, self->nr, O_RDWR));
		/* Detaching resets the block size. */
		ASSERT_EQ(512, queue_attr(self->nr, "logical_block_size"));
	}
}

TEST_F(loopdev, configure_unknown_flags_einval)
{
	static const unsigned int bad[] = { 2, 32, 64, 1U << 31 };
	struct loop_config cfg;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		config_init(&cfg, self->bfd);
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | bad[i];
		EXPECT_EQ(-EINVAL, configure(self->fd, &cfg))
			TH_LOG("lo_flags 0x%x", cfg.info.lo_flags);
	}
	assert_unbound(_metadata, self->fd, self->nr);
}

TEST_F(loopdev, configure_invalid_block_size_einval)
{
	unsigned int bad[] = { 1, 256, 511, 513, 1000, 1536, 3072, 0 };
	struct loop_config cfg;
	unsigned int i;

	/* larger than a page is invalid too */
	bad[ARRAY_SIZE(bad) - 1] = 2 * getpagesize();
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		config_init(&cfg, self->bfd);
		cfg.block_size = bad[i];
		EXPECT_EQ(-EINVAL, configure(self->fd, &cfg))
			TH_LOG("block_size %u", bad[i]);
	}
	assert_unbound(_metadata, self->fd, self->nr);
	ASSERT_EQ(512, sysfs_read_ll(self->nr, "queue/logical_block_size"));
}

/* 6.1 does not look at __reserved: non-zero values are ignored. */
TEST_F(loopdev, configure_nonzero_reserved_ignored)
{
	struct loop_config cfg;

	config_init(&cfg, self->bfd);
	memset(cfg.__reserved, 0xff, sizeof(cfg.__reserved));
	ASSERT_EQ(0, configure(self->fd, &cfg));
	assert_bound(_metadata, self->fd, self->nr, 0, 0,
		     SECTORS(BACKING_SIZE));
}

TEST_F(loopdev, configure_on_bound_device_ebusy)
{
	struct loop_config cfg;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	config_init(&cfg, self->bfd);
	cfg.info.lo_offset = 4096;
	cfg.block_size = 4096;
	ASSERT_EQ(-EBUSY, configure(self->fd, &cfg));
	assert_bound(_metadata, self->fd, self->nr, 0, 0,
		     SECTORS(BACKING_SIZE));
	ASSERT_EQ(512, sysfs_read_ll(self->nr, "queue/logical_block_size"));
}

TEST_F(loopdev, configure_bad_fd_ebadf)
{
	struct loop_config cfg;

	config_init(&cfg, 0);
	cfg.fd = (__u32)-1;
	ASSERT_EQ(-EBADF, configure(self->fd, &cfg));
	cfg.fd = 1000000;
	ASSERT_EQ(-EBADF, configure(self->fd, &cfg));
	assert_unbound(_metadata, self->fd, self->nr);
}

TEST_F(loopdev, configure_null_efault)
{
	ASSERT_EQ(-EFAULT, ioctl_err(self->fd, LOOP_CONFIGURE, 0));
	assert_unbound(_metadata, self->fd, self->nr);
}

TEST_F(loopdev, configure_encryption_einval)
{
	struct loop_config cfg;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad_types); i++) {
		config_init(&cfg, self->bfd);
		cfg.info.lo_encrypt_type = bad_types[i];
		EXPECT_EQ(-EINVAL, configure(self->fd, &cfg))
			TH_LOG("lo_encrypt_type %u", bad_types[i]);
	}
	for (i = 0; stock_driver() && i < ARRAY_SIZE(stock_bad_types); i++) {
		config_init(&cfg, self->bfd);
		cfg.info.lo_encrypt_type = stock_bad_types[i];
		EXPECT_EQ(-EINVAL, configure(self->fd, &cfg))
			TH_LOG("lo_encrypt_type %u", stock_bad_types[i]);
	}
	config_init(&cfg, self->bfd);
	cfg.info.lo_encrypt_key_size = LO_KEY_SIZE + 1;
	ASSERT_EQ(-EINVAL, configure(self->fd, &cfg));
	config_init(&cfg, self->bfd);
	cfg.info.lo_offset = 1ULL << 63;
	ASSERT_EQ(-EOVERFLOW, configure(self->fd, &cfg));
	assert_unbound(_metadata, self->fd, self->nr);
}

TEST_F(loopdev, configure_read_only_flag)
{
	struct loop_config cfg;
	char buf[512] = { 0 };

	config_init(&cfg, self->bfd);
	cfg.info.lo_flags = LO_FLAGS_READ_ONLY;
	ASSERT_EQ(0, configure(self->fd, &cfg));
	assert_read_only(_metadata, self->fd, self->nr, true);
	ASSERT_EQ(-1, pwrite(self->fd, buf, sizeof(buf), 0));
	ASSERT_EQ(EPERM, errno);
}

TEST_F(loopdev, configure_autoclear_detaches_on_last_close)
{
	struct loop_config cfg;
	int fd2;

	config_init(&cfg, self->bfd);
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	ASSERT_EQ(0, configure(self->fd, &cfg));
	udev_settle();
	fd2 = loop_open(self->nr, O_RDONLY);
	ASSERT_LE(0, fd2);
	close(self->fd);
	self->fd = -1;
	/* still open through fd2 */
	ASSERT_TRUE(loop_is_bound_sysfs(self->nr));
	close(fd2);
	ASSERT_EQ(0, wait_unbound(self->nr, 10000));
	self->fd = loop_open(self->nr, O_RDWR);
	ASSERT_LE(0, self->fd);
	assert_unbound(_metadata, self->fd, self->nr);
}

TEST_F(loopdev, configure_direct_io_flag)
{
	bool dio = backing_supports_dio(self->file);
	struct loop_config cfg;
	struct loop_info64 info;

	config_init(&cfg, self->bfd);
	/* 4096 is never below the backing disk's logical block size */
	cfg.block_size = 4096;
	cfg.info.lo_flags = LO_FLAGS_DIRECT_IO;
	ASSERT_EQ(0, configure(self->fd, &cfg));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	ASSERT_EQ(dio, !!(info.lo_flags & LO_FLAGS_DIRECT_IO));
	ASSERT_EQ(dio, sysfs_read_ll(self->nr, "loop/dio"));
	/* LOOP_SET_DIRECT_IO switches it off and on again */
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_DIRECT_IO, 0));
	ASSERT_EQ(0, sysfs_read_ll(self->nr, "loop/dio"));
	ASSERT_EQ(dio ? 0 : -EINVAL,
		  ioctl_err(self->fd, LOOP_SET_DIRECT_IO, 1));
	ASSERT_EQ(dio, sysfs_read_ll(self->nr, "loop/dio"));
}

/* Someone holding the device O_EXCL (e.g. a mount) blocks binding. */
TEST_F(loopdev, configure_exclusively_opened_ebusy)
{
	struct loop_config cfg;
	int excl;

	excl = loop_open(self->nr, O_RDONLY | O_EXCL);
	ASSERT_LE(0, excl);
	config_init(&cfg, self->bfd);
	ASSERT_EQ(-EBUSY, configure(self->fd, &cfg));
	ASSERT_EQ(-EBUSY, set_fd(self->fd, self->bfd));
	assert_unbound(_metadata, self->fd, self->nr);
	/* The exclusive owner itself may bind it. */
	ASSERT_EQ(0, configure(excl, &cfg));
	close(excl);
	ASSERT_TRUE(loop_is_bound_sysfs(self->nr));
}

/* ---- LOOP_SET_CAPACITY, LOOP_SET_BLOCK_SIZE, LOOP_SET_DIRECT_IO ---- */

TEST_F(loopdev, set_capacity_follows_file_growth)
{
	ASSERT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_SET_CAPACITY, 0));
	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, ftruncate(self->bfd, 2 * BACKING_SIZE + 1000));
	/* nothing changes until asked */
	ASSERT_EQ(SECTORS(BACKING_SIZE), sysfs_read_ll(self->nr, "size"));
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_CAPACITY, 0));
	ASSERT_EQ(SECTORS(2 * BACKING_SIZE + 1000),
		  sysfs_read_ll(self->nr, "size"));
}

TEST_F(loopdev, set_block_size)
{
	ASSERT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 4096));
	/* unbound is reported before the value is validated */
	ASSERT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 1000));
	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 4096));
	ASSERT_EQ(4096, sysfs_read_ll(self->nr, "queue/logical_block_size"));
	ASSERT_EQ(4096, sysfs_read_ll(self->nr, "queue/physical_block_size"));
	ASSERT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 1000));
	ASSERT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 256));
	ASSERT_EQ(4096, sysfs_read_ll(self->nr, "queue/logical_block_size"));
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 1024));
	ASSERT_EQ(1024, sysfs_read_ll(self->nr, "queue/logical_block_size"));
}

/*
 * Not under somebody holding the device exclusively (a mounted file
 * system, or here an O_EXCL opener): EBUSY, nothing changed; the O_EXCL
 * holder itself may.
 */
TEST_F(loopdev, set_block_size_exclusive_holder_ebusy)
{
	int excl;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	excl = loop_open(self->nr, O_RDWR | O_EXCL);
	ASSERT_LE(0, excl);
	ASSERT_EQ(-EBUSY, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 4096));
	ASSERT_EQ(512, sysfs_read_ll(self->nr, "queue/logical_block_size"));
	ASSERT_EQ(0, ioctl_err(excl, LOOP_SET_BLOCK_SIZE, 4096));
	ASSERT_EQ(4096, sysfs_read_ll(self->nr, "queue/logical_block_size"));
	close(excl);
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 1024));
	ASSERT_EQ(1024, sysfs_read_ll(self->nr, "queue/logical_block_size"));
}

TEST_F(loopdev, set_direct_io_unbound_enxio)
{
	ASSERT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_SET_DIRECT_IO, 0));
	ASSERT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_SET_DIRECT_IO, 1));
}

/* ---- who may change a bound device ---- */

/*
 * In a child that has become uid 65534 (and so lost every capability):
 * the calls that change a device need an fd opened for writing.  Returns
 * 0, or the number of the first check that failed.
 */
static int unprivileged_changes(int rofd, int rwfd)
{
	struct loop_info64 info;
	struct loop_info old;

	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return 1;
	if (loop_get_status64(rofd, &info))
		return 2;
	if (ioctl(rofd, LOOP_GET_STATUS, &old))
		return 3;
	if (set_status64(rofd, &info) != -EPERM)
		return 4;
	if (ioctl_err(rofd, LOOP_SET_STATUS, (unsigned long)&old) != -EPERM)
		return 5;
	if (ioctl_err(rofd, LOOP_SET_CAPACITY, 0) != -EPERM)
		return 6;
	if (ioctl_err(rofd, LOOP_SET_DIRECT_IO, 0) != -EPERM)
		return 7;
	if (ioctl_err(rofd, LOOP_SET_BLOCK_SIZE, 4096) != -EPERM)
		return 8;
	/* write access is enough */
	if (ioctl_err(rwfd, LOOP_SET_CAPACITY, 0))
		return 9;
	if (ioctl_err(rwfd, LOOP_SET_BLOCK_SIZE, 1024))
		return 10;
	info.lo_offset = 4096;
	if (set_status64(rwfd, &info))
		return 11;
	return 0;
}

/*
 * Status changes, LOOP_SET_CAPACITY, LOOP_SET_DIRECT_IO and
 * LOOP_SET_BLOCK_SIZE need a device opened for writing or CAP_SYS_ADMIN
 * (EPERM otherwise); reading the status needs neither.  A refused call
 * changes nothing.
 */
TEST_F(loopdev, changes_need_write_access_or_admin)
{
	struct loop_info64 before, after;
	int rofd, status;
	pid_t pid;

	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	rofd = loop_open(self->nr, O_RDONLY);
	ASSERT_LE(0, rofd);
	ASSERT_EQ(0, loop_get_status64(self->fd, &before));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(unprivileged_changes(rofd, self->fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));

	/* only what the fd with write access asked for changed */
	ASSERT_EQ(0, loop_get_status64(self->fd, &after));
	ASSERT_EQ(4096, after.lo_offset);
	after.lo_offset = before.lo_offset;
	ASSERT_EQ(0, memcmp(&before, &after, sizeof(before)));
	ASSERT_EQ(1024, sysfs_read_ll(self->nr, "queue/logical_block_size"));
	ASSERT_EQ(SECTORS(BACKING_SIZE - 4096),
		  sysfs_read_ll(self->nr, "size"));

	/* CAP_SYS_ADMIN needs no write access */
	ASSERT_EQ(0, ioctl_err(rofd, LOOP_SET_BLOCK_SIZE, 512));
	ASSERT_EQ(512, sysfs_read_ll(self->nr, "queue/logical_block_size"));
	close(rofd);
}

/* ---- LOOP_CHANGE_FD ---- */

TEST_F(loopdev, change_fd_checks)
{
	int bfd2;

	ADD_SECOND();
	bfd2 = open(self->file2, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, bfd2);
	/* fget() comes first, then the bound check */
	ASSERT_EQ(-EBADF, ioctl_err(self->fd, LOOP_CHANGE_FD,
				    (unsigned long)-1L));
	ASSERT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_CHANGE_FD, bfd2));
	/* only read-only devices may switch files */
	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	ASSERT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_CHANGE_FD, bfd2));
	assert_backing_file(_metadata, self->nr, self->file);
	close(bfd2);
}

TEST_F(loopdev, change_fd_swaps_backing_file)
{
	char buf[4096];
	int rofd, bfd2;

	ADD_SECOND();
	rofd = open(self->file, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, rofd);
	ASSERT_EQ(0, set_fd(self->fd, rofd));
	close(rofd);
	bfd2 = open(self->file2, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, bfd2);
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_CHANGE_FD, bfd2));
	close(bfd2);
	assert_backing_file(_metadata, self->nr, self->file2);
	assert_read_only(_metadata, self->fd, self->nr, true);
	/* The page cache was dropped: reads come from the new file. */
	ASSERT_EQ(sizeof(buf), pread(self->fd, buf, sizeof(buf), 8192));
	ASSERT_EQ(-1, pattern_check(buf, sizeof(buf), 2, 8192));
}

TEST_F(loopdev, change_fd_size_mismatch_einval)
{
	int rofd, bfd2;

	ADD_SECOND();
	rofd = open(self->file, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, rofd);
	ASSERT_EQ(0, set_fd(self->fd, rofd));
	close(rofd);
	bfd2 = open(self->file2, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, bfd2);
	ASSERT_EQ(0, ftruncate(bfd2, BACKING_SIZE + 4096));
	ASSERT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_CHANGE_FD, bfd2));
	close(bfd2);
	assert_backing_file(_metadata, self->nr, self->file);
}

/* ---- unknown ioctls ---- */

/*
 * blkdev_ioctl() passes commands it does not know to lo_ioctl(), whose
 * default case answers EINVAL (not ENOTTY), bound or not.
 */
TEST_F(loopdev, unknown_ioctl_einval)
{
	static const unsigned long cmds[] = { 0x4C0B, 0x4C7F, 0x4C83, 0xDEAD };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		EXPECT_EQ(-EINVAL, ioctl_err(self->fd, cmds[i], 0))
			TH_LOG("cmd 0x%lx unbound", cmds[i]);
	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		EXPECT_EQ(-EINVAL, ioctl_err(self->fd, cmds[i], 0))
			TH_LOG("cmd 0x%lx bound", cmds[i]);
	assert_bound(_metadata, self->fd, self->nr, 0, 0,
		     SECTORS(BACKING_SIZE));
}

/* ---- /dev/loop-control ---- */

TEST_F(loopdev, ctl_add_creates_usable_device)
{
	struct loop_info64 info;
	char buf[4096];
	struct stat st;
	char path[32];

	ASSERT_EQ(TEST_NR2, ctl_add_fixed(self->ctl, TEST_NR2));
	self->nr2 = TEST_NR2;
	ASSERT_TRUE(sysfs_exists(self->nr2, "size"));
	loop_dev_path(path, sizeof(path), self->nr2);
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_TRUE(S_ISBLK(st.st_mode));
	ASSERT_EQ(7, major(st.st_rdev));
	self->fd2 = loop_open(self->nr2, O_RDWR);
	ASSERT_LE(0, self->fd2);
	assert_unbound(_metadata, self->fd2, self->nr2);
	/* the unbound limits; 6.12's driver starts non-rotational */
	if (!stock_driver() || !kernel_at_least(6, 12))
		ASSERT_EQ(1, queue_attr(self->nr2, "rotational"));
	ASSERT_EQ(512, queue_attr(self->nr2, "logical_block_size"));
	ASSERT_EQ(0, queue_attr(self->nr2, "discard_max_bytes"));
	ASSERT_EQ(0, set_fd(self->fd2, self->bfd));
	ASSERT_EQ(0, loop_get_status64(self->fd2, &info));
	ASSERT_EQ(TEST_NR2, info.lo_number);
	ASSERT_EQ(sizeof(buf), pread(self->fd2, buf, sizeof(buf), 0));
	ASSERT_EQ(-1, pattern_check(buf, sizeof(buf), 1, 0));
}

TEST_F(loopdev, ctl_add_existing_eexist)
{
	ASSERT_EQ(-EEXIST, ioctl_err(self->ctl, LOOP_CTL_ADD, self->nr));
	ASSERT_TRUE(sysfs_exists(self->nr, "size"));
	assert_unbound(_metadata, self->fd, self->nr);
}

/* LOOP_CTL_ADD -1 creates the lowest number not in use. */
TEST_F(loopdev, ctl_add_minus_one_picks_unused_number)
{
	int nr, i;

	nr = ioctl(self->ctl, LOOP_CTL_ADD, -1L);
	ASSERT_LE(0, nr) TH_LOG("LOOP_CTL_ADD -1: %s", strerror(errno));
	self->nr2 = nr;
	ASSERT_NE(self->nr, nr);
	ASSERT_TRUE(sysfs_exists(nr, "size"));
	for (i = 0; i < nr; i++)
		EXPECT_TRUE(sysfs_exists(i, "size")) TH_LOG("loop%d free", i);
}

TEST_F(loopdev, ctl_remove_bound_ebusy)
{
	ASSERT_EQ(0, set_fd(self->fd, self->bfd));
	close(self->fd);
	self->fd = -1;
	udev_settle();
	ASSERT_EQ(-EBUSY, ioctl_err(self->ctl, LOOP_CTL_REMOVE, self->nr));
	ASSERT_TRUE(sysfs_exists(self->nr, "size"));
	self->fd = loop_open(self->nr, O_RDWR);
	ASSERT_LE(0, self->fd);
	assert_bound(_metadata, self->fd, self->nr, 0, 0,
		     SECTORS(BACKING_SIZE));
}

TEST_F(loopdev, ctl_remove_open_ebusy)
{
	udev_settle();
	ASSERT_EQ(-EBUSY, ioctl_err(self->ctl, LOOP_CTL_REMOVE, self->nr));
	ASSERT_TRUE(sysfs_exists(self->nr, "size"));
	assert_unbound(_metadata, self->fd, self->nr);
}

TEST_F(loopdev, ctl_remove_nonexistent_enodev)
{
	/* a crashed earlier run may have left TEST_NR2 behind */
	loop_force_detach(TEST_NR2);
	ctl_remove_retry(self->ctl, TEST_NR2);
	ASSERT_FALSE(sysfs_exists(TEST_NR2, "size"));
	ASSERT_EQ(-ENODEV, ioctl_err(self->ctl, LOOP_CTL_REMOVE, TEST_NR2));
	ASSERT_EQ(-ENODEV, ioctl_err(self->ctl, LOOP_CTL_REMOVE, 1 << 19));
}

TEST_F(loopdev, ctl_remove_negative_einval)
{
	ASSERT_EQ(-EINVAL, ioctl_err(self->ctl, LOOP_CTL_REMOVE,
				     (unsigned long)-1L));
}

TEST_F(loopdev, ctl_remove_unused_device)
{
	char path[32];

	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(0, ctl_remove_retry(self->ctl, self->nr));
	ASSERT_FALSE(sysfs_exists(self->nr, "size"));
	loop_dev_path(path, sizeof(path), self->nr);
	ASSERT_NE(0, access(path, F_OK));
	ASSERT_EQ(-ENODEV, ioctl_err(self->ctl, LOOP_CTL_REMOVE, self->nr));
}

/*
 * GET_FREE returns an existing unbound device; once that one is bound it
 * returns another.  Our two unbound devices guarantee none is created.
 */
TEST_F(loopdev, ctl_get_free_returns_unbound_device)
{
	struct loop_info64 info;
	int n, m, fd;

	ADD_SECOND();
	n = ioctl(self->ctl, LOOP_CTL_GET_FREE);
	ASSERT_LE(0, n);
	fd = loop_open(n, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(-ENXIO, loop_get_status64(fd, &info));
	self->extra_nr = n;
	ASSERT_EQ(0, set_fd(fd, self->bfd));

	m = ioctl(self->ctl, LOOP_CTL_GET_FREE);
	ASSERT_LE(0, m);
	ASSERT_NE(n, m);
	ASSERT_FALSE(loop_is_bound_sysfs(m));
	ASSERT_EQ(0, loop_detach_reopen(&fd, n, O_RDONLY));
	close(fd);
	/* n is free again and the lowest of the free ones, so it is back */
	ASSERT_EQ(n, ioctl(self->ctl, LOOP_CTL_GET_FREE));
}

/*
 * The stock loop_control_ioctl() answers unknown commands with ENOSYS; ours
 * with ENOTTY, the errno ioctl(2) documents for it (see the admin guide).
 * The name is pasted together only because checkpatch flags any ENOSYS, a
 * rule meant for kernel code returning it, not for a test expecting it.
 */
#define PASTE(a, b)	a##b
#define ERR_NOSYS	PASTE(EN, OSYS)

TEST_F(loopdev, ctl_unknown_ioctl_refused)
{
	int expect = stock_driver() ? -ERR_NOSYS : -ENOTTY;

	ASSERT_EQ(expect, ioctl_err(self->ctl, 0x4C83, 0));
	ASSERT_EQ(expect, ioctl_err(self->ctl, LOOP_SET_FD, self->bfd));
}

TEST_HARNESS_MAIN
