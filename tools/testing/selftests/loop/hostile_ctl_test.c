// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile numbers for /dev/loop-control: LOOP_CTL_ADD, LOOP_CTL_REMOVE
 * and LOOP_CTL_GET_FREE with numbers out of range, negative or already
 * taken, the control commands sent to a loop device instead, and ioctl
 * numbers no driver knows.  The fixture and what every case checks:
 * hostile.h.
 *
 * These cases count every loop device in /sys/block: run this program
 * alone, not beside others that create or remove loop devices.
 */
#include <linux/hdreg.h>

#include "hostile.h"

/* Count the loopN devices in /sys/block. */
static int count_loop_devices(void)
{
	struct dirent *e;
	int n = 0;
	DIR *d;

	d = opendir("/sys/block");
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "loop", 4) &&
		    e->d_name[4] >= '0' && e->d_name[4] <= '9')
			n++;
	closedir(d);
	return n;
}

/*
 * A number no device has: one that LOOP_CTL_ADD -1 has just made, and
 * that is removed again at once.
 */
static int absent_nr(struct __test_metadata *_metadata, int ctl)
{
	int nr = ctl_add_any(ctl);

	ASSERT_LE(0, nr) TH_LOG("LOOP_CTL_ADD -1: %s", strerror(-nr));
	ASSERT_EQ(0, ctl_remove_retry(ctl, nr));
	return nr;
}

/* ---- /dev/loop-control ---- */

TEST_F_TIMEOUT(hostile, ctl_add_hostile_numbers, 120)
{
	static const unsigned long any[] = {
		ULONG_MAX, 1UL << 31, (unsigned long)-2L,
	};
	int before, n, i;
	char what[64];

	before = count_loop_devices();
	ASSERT_LT(0, before);
	/* numbers beyond the minors: EINVAL, nothing made */
	EXPECT_EQ(-EINVAL, ioctl_err(self->ctl, LOOP_CTL_ADD, 1UL << 20));
	EXPECT_FALSE(sysfs_exists(1 << 20, "size"));
	/*
	 * The stock driver shifts INT_MAX by the partition bits without an
	 * overflow check; only without max_part is the answer clean.
	 */
	if (!stock_driver() || loop_param("max_part") <= 0) {
		EXPECT_EQ(-EINVAL, ioctl_err(self->ctl, LOOP_CTL_ADD,
					     INT_MAX));
		EXPECT_FALSE(sysfs_exists(INT_MAX, "size"));
	}
	EXPECT_EQ(before, count_loop_devices());
	/* the number is an int: the upper half of the long is dropped */
	EXPECT_EQ(-EEXIST, ioctl_err(self->ctl, LOOP_CTL_ADD,
				     (1UL << 32) | self->nr));
	SAME("LOOP_CTL_ADD (1 << 32) | nr");
	EXPECT_EQ(before, count_loop_devices());

	/* ...so these are negative, which means "any free number" */
	for (i = 0; i < (int)ARRAY_SIZE(any); i++) {
		n = ioctl(self->ctl, LOOP_CTL_ADD, any[i]);
		snprintf(what, sizeof(what), "LOOP_CTL_ADD %#lx", any[i]);
		EXPECT_LE(0, n) TH_LOG("%s: %s", what, strerror(errno));
		if (n < 0)
			continue;
		self->added[self->nadded++] = n;
		EXPECT_TRUE(sysfs_exists(n, "size")) TH_LOG("%s", what);
		EXPECT_EQ(before + 1, count_loop_devices()) TH_LOG("%s", what);
		EXPECT_EQ(0, ctl_remove_retry(self->ctl, n)) TH_LOG("%s", what);
		if (!sysfs_exists(n, "size"))
			self->added[--self->nadded] = -1;
		EXPECT_EQ(before, count_loop_devices()) TH_LOG("%s", what);
	}
	SAME("after the additions");
	SAME2("after the additions");
}

TEST_F(hostile, ctl_remove_hostile_numbers)
{
	const struct {
		unsigned long nr;
		int err;
	} v[] = {
		{ (unsigned long)-1L, -EINVAL },
		{ ULONG_MAX, -EINVAL },
		{ 1UL << 31, -EINVAL },			/* INT_MIN */
		{ (unsigned long)-2L, -EINVAL },
		{ 1UL << 20, -ENODEV },
		{ INT_MAX, -ENODEV },
		{ (1UL << 32) | self->nr, -EBUSY },	/* bound */
		{ (1UL << 32) | self->nr2, -EBUSY },	/* open */
		{ self->nr, -EBUSY },
		{ self->nr2, -EBUSY },
	};
	char what[64];
	unsigned int i;
	int before;

	before = count_loop_devices();
	ASSERT_LT(0, before);
	for (i = 0; i < ARRAY_SIZE(v); i++) {
		snprintf(what, sizeof(what), "LOOP_CTL_REMOVE %#lx", v[i].nr);
		EXPECT_EQ(v[i].err, ioctl_err(self->ctl, LOOP_CTL_REMOVE,
					      v[i].nr)) TH_LOG("%s", what);
		EXPECT_EQ(before, count_loop_devices()) TH_LOG("%s", what);
		SAME(what);
		SAME2(what);
	}
}

/*
 * GET_FREE ignores its argument, and asked again and again without a bind
 * in between, names the same device: it creates at most one.
 */
TEST_F(hostile, ctl_get_free_repeated)
{
	const unsigned long args[] = {
		0, ULONG_MAX, self->nr, (unsigned long)-1L, 1UL << 20,
	};
	struct loop_info64 info;
	int before, n, fd;
	unsigned int i, j;

	before = count_loop_devices();
	ASSERT_LT(0, before);
	n = ioctl(self->ctl, LOOP_CTL_GET_FREE, 0);
	ASSERT_LE(0, n) TH_LOG("LOOP_CTL_GET_FREE: %s", strerror(errno));
	if (count_loop_devices() > before)
		self->added[self->nadded++] = n;
	EXPECT_GE(before + 1, count_loop_devices());
	for (j = 0; j < 4; j++) {
		for (i = 0; i < ARRAY_SIZE(args); i++) {
			EXPECT_EQ(n, ioctl(self->ctl, LOOP_CTL_GET_FREE,
					   args[i]))
				TH_LOG("LOOP_CTL_GET_FREE %#lx", args[i]);
		}
	}
	EXPECT_EQ(before + self->nadded, count_loop_devices());
	fd = loop_open(n, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENXIO, loop_get_status64(fd, &info));
	close(fd);
	SAME("GET_FREE");
	SAME2("GET_FREE");
}

/* /dev/loop-control's commands on a loop device: unknown there, EINVAL. */
TEST_F(hostile, ctl_commands_on_loop_device)
{
	static const unsigned long cmds[] = {
		LOOP_CTL_ADD, LOOP_CTL_REMOVE, LOOP_CTL_GET_FREE,
	};
	unsigned int i;
	int before, nr3;

	nr3 = absent_nr(_metadata, self->ctl);
	before = count_loop_devices();
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(-EINVAL, ioctl_err(self->fd, cmds[i], nr3))
			TH_LOG("cmd %#lx on a bound device", cmds[i]);
		EXPECT_EQ(-EINVAL, ioctl_err(self->fd2, cmds[i], self->nr2))
			TH_LOG("cmd %#lx on an unbound device", cmds[i]);
	}
	EXPECT_FALSE(sysfs_exists(nr3, "size"));
	EXPECT_EQ(before, count_loop_devices());
	SAME("control commands");
	SAME2("control commands");
}

/* ---- other ioctl numbers ---- */

TEST_F(hostile, unknown_ioctls_change_nothing)
{
	const unsigned long cmds[] = {
		0x4C0B, 0x4C0C, 0x4C7F, 0x4CFF,
		_IOW('L', 4, struct loop_info64),	/* SET_STATUS64 */
		_IOWR('L', 0x0A, struct loop_config),	/* CONFIGURE */
		_IOW('L', 0, int),			/* SET_FD */
	};
	static unsigned char junk[4096];
	char what[64];
	unsigned int i;

	memset(junk, 0xff, sizeof(junk));
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		unsigned long cmd = cmds[i];

		snprintf(what, sizeof(what), "ioctl %#lx", cmd);
		EXPECT_EQ(-EINVAL, ioctl_err(self->fd, cmd,
					     (unsigned long)junk))
			TH_LOG("%s", what);
		EXPECT_EQ(-EINVAL, ioctl_err(self->fd, cmd, ULONG_MAX))
			TH_LOG("%s", what);
		SAME(what);
		EXPECT_EQ(-EINVAL, ioctl_err(self->fd2, cmd,
					     (unsigned long)junk))
			TH_LOG("%s", what);
		SAME2(what);
	}
	/* no geometry: EINVAL for NULL, else ENOTTY */
	EXPECT_EQ(-EINVAL, ioctl_err(self->fd, HDIO_GETGEO, 0));
	EXPECT_EQ(-ENOTTY, ioctl_err(self->fd, HDIO_GETGEO,
				     (unsigned long)junk));
	SAME("HDIO_GETGEO");
}

/* Status ioctls with garbage where the argument is unused or invalid. */

TEST_HARNESS_MAIN
