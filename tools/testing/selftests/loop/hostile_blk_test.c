// SPDX-License-Identifier: GPL-2.0
/*
 * The block layer's generic ioctls on a loop device, with hostile
 * arguments: bad pointers to the BLK* getters and setters, BLKROSET,
 * BLKRRPART, discard and write-zeroes ranges the block layer refuses,
 * BLKBSZSET, and a read-only open without CAP_SYS_ADMIN.  The fixture
 * and what every case checks: hostile.h.
 */
#include <sys/wait.h>
#include <linux/blkpg.h>

#include "hostile.h"

/* ---- generic block ioctls ---- */

TEST_F(hostile, blk_bad_pointers_efault)
{
	static const unsigned long getters[] = {
		BLKGETSIZE64, BLKGETSIZE, BLKSSZGET, BLKPBSZGET, BLKBSZGET,
		BLKROGET, BLKIOMIN, BLKIOOPT, BLKALIGNOFF, BLKSECTGET,
		BLKROTATIONAL, BLKDISCARDZEROES, BLKRAGET, BLKGETDISKSEQ,
	};
	static const unsigned long setters[] = {
		BLKROSET, BLKDISCARD, BLKZEROOUT, BLKBSZSET, BLKPG,
	};
	struct bad_ptr p[NR_BAD_PTRS];
	const char zero = 0;
	struct badmem m;
	char what[128];
	unsigned int i, j;

	ASSERT_EQ(0, badmem_init(&m));
	/* straddling from the last byte on: every argument is 2 or more */
	bad_ptrs(&m, &zero, 2, p);
	for (i = 0; i < ARRAY_SIZE(getters); i++) {
		snprintf(what, sizeof(what), "ioctl %#lx to NULL", getters[i]);
		/* BLKRAGET checks for NULL itself */
		EXPECT_EQ(getters[i] == BLKRAGET ? -EINVAL : -EFAULT,
			  ioctl_err(self->fd, getters[i], 0))
			TH_LOG("%s", what);
		for (j = 0; j < NR_BAD_PTRS; j++) {
			EXPECT_EQ(-EFAULT, ioctl_err(self->fd, getters[i],
						     p[j].addr))
				TH_LOG("ioctl %#lx to %s", getters[i],
				       p[j].name);
		}
		SAME(what);
	}
	for (i = 0; i < ARRAY_SIZE(setters); i++) {
		snprintf(what, sizeof(what), "ioctl %#lx from NULL",
			 setters[i]);
		/* BLKBSZSET checks for NULL itself */
		EXPECT_EQ(setters[i] == BLKBSZSET ? -EINVAL : -EFAULT,
			  ioctl_err(self->fd, setters[i], 0))
			TH_LOG("%s", what);
		for (j = 0; j < NR_BAD_PTRS; j++) {
			if (p[j].readable)
				continue;
			EXPECT_EQ(-EFAULT, ioctl_err(self->fd, setters[i],
						     p[j].addr))
				TH_LOG("ioctl %#lx from %s", setters[i],
				       p[j].name);
		}
		SAME(what);
	}
	badmem_free(&m);
	FIXTURE_DATA_INTACT();
}

/* BLKROSET makes writes fail with EPERM, and clearing it undoes that. */
TEST_F(hostile, blkroset_roundtrip)
{
	__u64 range[2] = { 0, FIX_BS };
	int one = 1, two = 2, zero = 0, ro = -1;
	char buf[FIX_BS];
	struct loop_info64 info;

	ASSERT_EQ(sizeof(buf), pread(self->fd, buf, sizeof(buf), 0));
	ASSERT_EQ(0, ioctl_err(self->fd, BLKROSET, (unsigned long)&one));
	EXPECT_EQ(0, ioctl(self->fd, BLKROGET, &ro));
	EXPECT_EQ(1, ro);
	EXPECT_EQ(1, sysfs_read_ll(self->nr, "ro"));
	EXPECT_EQ(-1, pwrite(self->fd, buf, sizeof(buf), 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-EPERM, ioctl_err(self->fd, BLKDISCARD,
				    (unsigned long)range));
	EXPECT_EQ(-EPERM, ioctl_err(self->fd, BLKZEROOUT,
				    (unsigned long)range));
	/* the loop driver's own flag is not involved */
	EXPECT_EQ(0, loop_get_status64(self->fd, &info));
	EXPECT_EQ(self->base.info.lo_flags, info.lo_flags);
	/* any non-zero int is "read-only" */
	EXPECT_EQ(0, ioctl_err(self->fd, BLKROSET, (unsigned long)&two));
	EXPECT_EQ(0, ioctl(self->fd, BLKROGET, &ro));
	EXPECT_EQ(1, ro);

	EXPECT_EQ(0, ioctl_err(self->fd, BLKROSET, (unsigned long)&zero));
	EXPECT_EQ(sizeof(buf), pwrite(self->fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, fsync(self->fd));
	SAME("BLKROSET 1, 2, 0");
	FIXTURE_DATA_INTACT();
}

/* A device bound read-only stays so whatever BLKROSET says. */
TEST_F(hostile, blkroset_cannot_clear_bound_read_only)
{
	int zero = 0, ro = -1, rofd;
	char buf[512] = { 0 };

	rofd = BIND_SECOND_RO(BACKING_SIZE);
	EXPECT_EQ(0, ioctl_err(self->fd2, BLKROSET, (unsigned long)&zero));
	EXPECT_EQ(0, ioctl(self->fd2, BLKROGET, &ro));
	EXPECT_EQ(1, ro);
	EXPECT_EQ(-1, pwrite(self->fd2, buf, sizeof(buf), 0));
	EXPECT_EQ(EPERM, errno);
	SAME2("BLKROSET 0 on a read-only binding");
	close(rofd);
}

TEST_F(hostile, blkrrpart)
{
	struct loop_info64 info;
	struct snap scanned;
	int excl;

	udev_settle();
	if (self->base.info.lo_flags & LO_FLAGS_PARTSCAN) {
		EXPECT_EQ(0, ioctl_err(self->fd, BLKRRPART, 0));
	} else {
		/* no partition scanning on this device: EINVAL */
		EXPECT_EQ(-EINVAL, ioctl_err(self->fd, BLKRRPART, 0));
		EXPECT_EQ(-EINVAL, ioctl_err(self->fd2, BLKRRPART, 0));
		SAME2("BLKRRPART unbound");
	}
	SAME("BLKRRPART");

	info = self->base.info;
	info.lo_flags |= LO_FLAGS_PARTSCAN;
	ASSERT_EQ(0, set_status64(self->fd, &info));
	udev_settle();
	take_snap(self->fd, self->nr, &scanned);
	EXPECT_EQ(0, ioctl_err(self->fd, BLKRRPART, 0));
	expect_same(_metadata, self->fd, self->nr, &scanned, "BLKRRPART");
	/* somebody else holds it exclusively: EBUSY */
	excl = loop_open(self->nr, O_RDONLY | O_EXCL);
	ASSERT_LE(0, excl);
	EXPECT_EQ(-EBUSY, ioctl_err(self->fd, BLKRRPART, 0));
	EXPECT_EQ(0, ioctl_err(excl, BLKRRPART, 0));
	close(excl);
	expect_same(_metadata, self->fd, self->nr, &scanned,
		    "BLKRRPART under an exclusive owner");
	FIXTURE_DATA_INTACT();
}

/*
 * Ranges the block layer refuses: not 512-aligned, not aligned to the
 * device's 1024-byte blocks, past the end, wrapping around.  Checked on
 * the medium with O_DIRECT: a refused request must not have written.
 */
TEST_F(hostile, discard_zeroout_bad_ranges)
{
	static const unsigned long long e = FIX_SIZELIMIT;
	static const struct {
		unsigned long long start, len;
	} r[] = {
		{ 1, FIX_BS }, { 0, 100 }, { 0, FIX_BS + 1 },
		{ 512, FIX_BS },		/* sector, not block, aligned */
		{ 0, 512 },
		{ e, FIX_BS },			/* past the end */
		{ e - FIX_BS, 2 * FIX_BS },
		{ 0, e + FIX_BS },
		{ ~0ULL & ~511ULL, FIX_BS },	/* start + len wraps */
		{ FIX_BS, ~0ULL & ~511ULL },
		{ 0, 0 },
	};
	static const unsigned long cmds[] = { BLKDISCARD, BLKZEROOUT };
	__u64 range[2];
	char what[128];
	unsigned int i, j;
	int rofd;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		for (j = 0; j < ARRAY_SIZE(r); j++) {
			range[0] = r[j].start;
			range[1] = r[j].len;
			snprintf(what, sizeof(what), "%s start %#llx len %#llx",
				 cmds[i] == BLKDISCARD ? "BLKDISCARD" :
				 "BLKZEROOUT", r[j].start, r[j].len);
			EXPECT_EQ(-EINVAL, ioctl_err(self->fd, cmds[i],
						     (unsigned long)range))
				TH_LOG("%s", what);
			SAME(what);
		}
	}
	FIXTURE_DATA_INTACT();
	/* not open for writing: EBADF; no secure erase here */
	range[0] = 0;
	range[1] = FIX_BS;
	rofd = loop_open(self->nr, O_RDONLY);
	ASSERT_LE(0, rofd);
	EXPECT_EQ(-EBADF, ioctl_err(rofd, BLKDISCARD, (unsigned long)range));
	EXPECT_EQ(-EBADF, ioctl_err(rofd, BLKZEROOUT, (unsigned long)range));
	close(rofd);
	EXPECT_EQ(-EOPNOTSUPP, ioctl_err(self->fd, BLKSECDISCARD,
					 (unsigned long)range));
	SAME("read-only open, secure discard");
	FIXTURE_DATA_INTACT();
}

/*
 * A device bound read-only (LO_FLAGS_READ_ONLY) but over a writable file:
 * the stock driver still offers discard, and the block layer refuses the
 * request on the read-only disk with EPERM.  Write-zeroes likewise.
 */
TEST_F(hostile, discard_read_only_binding_eperm)
{
	__u64 range[2] = { 0, 4096 };
	struct loop_config cfg;
	int rwfd;

	rwfd = new_backing(_metadata, self->file2, sizeof(self->file2),
			   BACKING_SIZE, 2, O_RDWR);
	config_init(&cfg, rwfd);
	cfg.info.lo_flags = LO_FLAGS_READ_ONLY;
	ASSERT_EQ(0, configure(self->fd2, &cfg));
	close(rwfd);
	udev_settle();
	take_snap(self->fd2, self->nr2, &self->base2);
	EXPECT_EQ(-EPERM, ioctl_err(self->fd2, BLKZEROOUT,
				    (unsigned long)range));
	SAME2("BLKZEROOUT on a read-only binding");
	EXPECT_EQ(-EPERM, ioctl_err(self->fd2, BLKDISCARD,
				    (unsigned long)range));
	SAME2("BLKDISCARD on a read-only binding");
	EXPECT_EQ(-1, data_mismatch(self->nr2, BACKING_SIZE, 2, 0));
}

TEST_F(hostile, blkbszset_invalid)
{
	static const int sizes[] = {
		0, 256, 512, 1000, 3000, 8192, 1 << 20, -1, INT_MIN,
	};
	int bsz = -1, now = -1, n;
	char what[64];
	unsigned int i;

	ASSERT_EQ(0, ioctl(self->fd, BLKBSZGET, &bsz));
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		n = sizes[i];
		if (n == 8192 && getpagesize() > 4096)
			continue;
		snprintf(what, sizeof(what), "BLKBSZSET %d", n);
		/* 512 is below the device's logical block size */
		EXPECT_EQ(-EINVAL, ioctl_err(self->fd, BLKBSZSET,
					     (unsigned long)&n))
			TH_LOG("%s", what);
		EXPECT_EQ(0, ioctl(self->fd, BLKBSZGET, &now));
		EXPECT_EQ(bsz, now) TH_LOG("%s", what);
		SAME(what);
	}
}

/* ---- without CAP_SYS_ADMIN ---- */

/*
 * Through a read-only open and without CAP_SYS_ADMIN: the loop setters
 * are EPERM, the privileged block ioctls EACCES, discard EBADF; reading
 * the status still works.
 */
TEST_F(hostile, read_only_open_without_cap_sys_admin)
{
	int zero = 0, bs = FIX_BS;
	__u64 range[2] = { 0, FIX_BS };
	struct loop_info old;
	struct loop_info64 info;
	const struct {
		const char *name;
		unsigned long cmd, arg;
		int err;
	} ops[] = {
		{ "SET_STATUS64", LOOP_SET_STATUS64,
		  (unsigned long)&self->base.info, -EPERM },
		{ "SET_STATUS", LOOP_SET_STATUS, (unsigned long)&old, -EPERM },
		{ "SET_CAPACITY", LOOP_SET_CAPACITY, 0, -EPERM },
		{ "SET_DIRECT_IO", LOOP_SET_DIRECT_IO, 0, -EPERM },
		{ "SET_BLOCK_SIZE", LOOP_SET_BLOCK_SIZE, FIX_BS, -EPERM },
		{ "SET_BLOCK_SIZE 3000", LOOP_SET_BLOCK_SIZE, 3000, -EPERM },
		{ "BLKFLSBUF", BLKFLSBUF, 0, -EACCES },
		{ "BLKROSET", BLKROSET, (unsigned long)&zero, -EACCES },
		{ "BLKRRPART", BLKRRPART, 0, -EACCES },
		{ "BLKBSZSET", BLKBSZSET, (unsigned long)&bs, -EACCES },
		{ "BLKRASET", BLKRASET, 0, -EACCES },
		{ "BLKDISCARD", BLKDISCARD, (unsigned long)range, -EBADF },
		{ "BLKZEROOUT", BLKZEROOUT, (unsigned long)range, -EBADF },
		{ "GET_STATUS64", LOOP_GET_STATUS64, (unsigned long)&info, 0 },
	};
	int *res, rofd, status, i, n = ARRAY_SIZE(ops);
	pid_t pid;

	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_GET_STATUS,
			       (unsigned long)&old));
	res = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	rofd = loop_open(self->nr, O_RDONLY);
	ASSERT_LE(0, rofd);
	res[n] = 1;
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		res[n] = drop_cap_sys_admin();
		for (i = 0; i < n && !res[n]; i++)
			res[i] = ioctl_err(rofd, ops[i].cmd, ops[i].arg);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(rofd);
	ASSERT_EQ(0, res[n]) TH_LOG("capset: %s", strerror(-res[n]));
	for (i = 0; i < n; i++) {
		EXPECT_EQ(ops[i].err, res[i])
			TH_LOG("%s", ops[i].name);
	}
	munmap(res, 4096);
	SAME("no CAP_SYS_ADMIN");
}

TEST_HARNESS_MAIN
