/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the hostile_*_test programs share: their fixture, the state
 * snapshot that every case compares against, bad user pointers, and the
 * backing-file and data helpers.  Each program includes this once and has
 * its own TEST_HARNESS_MAIN; the programs are split by ioctl family:
 *
 *   hostile_status_test  LOOP_GET/SET_STATUS(64), LOOP_CONFIGURE's
 *                        argument, block size, capacity and direct I/O
 *   hostile_bind_test    LOOP_SET_FD, LOOP_CHANGE_FD and LOOP_CONFIGURE
 *                        with hostile fds, backing cycles, the device
 *                        after LOOP_CLR_FD
 *   hostile_ctl_test     /dev/loop-control's commands with hostile
 *                        numbers, and ioctl numbers nobody knows
 *   hostile_blk_test     the generic block ioctls on a loop device, and
 *                        a read-only open without CAP_SYS_ADMIN
 *
 * Every case checks two things: the errno of the kernel's own driver
 * (drivers/block/loop.c of 6.1, and the block layer around it), and that
 * the device is left exactly as it was.  "Exactly" is a snapshot of what
 * every observer sees: all of LOOP_GET_STATUS64, BLKGETSIZE64, BLKSSZGET,
 * BLKROGET and the sysfs files that losetup and udev read.
 *
 * The fixture creates two devices of its own with LOOP_CTL_ADD -1 (the
 * lowest number no device has, so nobody else's), binds the first in a
 * state no default produces (offset, size limit, name, 1024-byte blocks)
 * and keeps the second unbound; further devices come the same way.
 * LOOP_CTL_GET_FREE would not do: it names the lowest unbound device,
 * which may be another program's second device.  So the programs can run
 * side by side, except that hostile_ctl_test counts every loop device in
 * the system and so wants no other program creating or removing any.
 *
 * Where our driver deliberately differs from the kernel's ("Where this
 * driver differs" in the admin guide), the expectation branches on
 * stock_driver(); where 6.12's stock driver (what "vm-run --stock" boots
 * by default) differs from 6.1's, on kernel_at_least(6, 12) as well.
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <stdbool.h>
#include <sys/mman.h>
#include <linux/fs.h>

#include "loop_util.h"
#include "loop_harness.h"

#define BACKING_SIZE	(4 << 20)
#define SECTORS(bytes)	((long long)(bytes) >> 9)

/* The fixture's binding of its first device. */
#define FIX_OFFSET	8192
#define FIX_SIZELIMIT	(2 << 20)
#define FIX_BS		1024
#define FIX_NAME	"hostile-fixture"

#define MAX_EXTRA	4

/* ---- the state snapshot ---- */

static const char *const snap_attrs[] = {
	"size", "ro", "loop/offset", "loop/sizelimit", "loop/autoclear",
	"loop/partscan", "loop/dio", "loop/backing_file",
	"queue/logical_block_size", "queue/physical_block_size",
	"queue/minimum_io_size",
};

#define NR_ATTRS	ARRAY_SIZE(snap_attrs)

/* Everything is recorded with its error, so unbound devices compare too. */
struct snap {
	int status_err;			/* LOOP_GET_STATUS64 */
	struct loop_info64 info;
	int size_err;			/* BLKGETSIZE64 */
	unsigned long long size;
	int ssz_err;			/* BLKSSZGET */
	int ssz;
	int ro_err;			/* BLKROGET */
	int ro;
	int attr_err[NR_ATTRS];		/* sysfs, -ENOENT when absent */
	char attr[NR_ATTRS][256];
};

static inline void take_snap(int fd, int nr, struct snap *s)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->status_err = loop_get_status64(fd, &s->info);
	s->size_err = ioctl_err(fd, BLKGETSIZE64, (unsigned long)&s->size);
	s->ssz_err = ioctl_err(fd, BLKSSZGET, (unsigned long)&s->ssz);
	s->ro_err = ioctl_err(fd, BLKROGET, (unsigned long)&s->ro);
	for (i = 0; i < NR_ATTRS; i++)
		s->attr_err[i] = sysfs_read_str(nr, snap_attrs[i], s->attr[i],
						sizeof(s->attr[i]));
}

/* Expect loopN (open as @fd) to look exactly like @want; @what names why. */
static inline void expect_same(struct __test_metadata *_metadata, int fd,
			       int nr, const struct snap *want,
			       const char *what)
{
	const struct loop_info64 *w = &want->info;
	struct snap now;
	const struct loop_info64 *n = &now.info;
	unsigned int i;

	take_snap(fd, nr, &now);
	EXPECT_EQ(want->status_err, now.status_err)
		TH_LOG("%s: LOOP_GET_STATUS64 result", what);
	EXPECT_EQ(w->lo_offset, n->lo_offset) TH_LOG("%s: lo_offset", what);
	EXPECT_EQ(w->lo_sizelimit, n->lo_sizelimit)
		TH_LOG("%s: lo_sizelimit", what);
	EXPECT_EQ(w->lo_flags, n->lo_flags) TH_LOG("%s: lo_flags", what);
	EXPECT_EQ(w->lo_number, n->lo_number) TH_LOG("%s: lo_number", what);
	EXPECT_EQ(w->lo_device, n->lo_device) TH_LOG("%s: lo_device", what);
	EXPECT_EQ(w->lo_inode, n->lo_inode) TH_LOG("%s: lo_inode", what);
	EXPECT_EQ(w->lo_rdevice, n->lo_rdevice)
		TH_LOG("%s: lo_rdevice", what);
	EXPECT_EQ(w->lo_encrypt_type, n->lo_encrypt_type)
		TH_LOG("%s: lo_encrypt_type", what);
	EXPECT_EQ(w->lo_encrypt_key_size, n->lo_encrypt_key_size)
		TH_LOG("%s: lo_encrypt_key_size", what);
	EXPECT_STREQ((const char *)w->lo_file_name,
		     (const char *)n->lo_file_name)
		TH_LOG("%s: lo_file_name", what);
	/* and every other byte: crypt name, key, init */
	EXPECT_EQ(0, memcmp(w, n, sizeof(*n)))
		TH_LOG("%s: struct loop_info64 differs", what);
	EXPECT_EQ(want->size_err, now.size_err)
		TH_LOG("%s: BLKGETSIZE64 result", what);
	EXPECT_EQ(want->size, now.size) TH_LOG("%s: BLKGETSIZE64", what);
	EXPECT_EQ(want->ssz_err, now.ssz_err)
		TH_LOG("%s: BLKSSZGET result", what);
	EXPECT_EQ(want->ssz, now.ssz) TH_LOG("%s: BLKSSZGET", what);
	EXPECT_EQ(want->ro_err, now.ro_err) TH_LOG("%s: BLKROGET result", what);
	EXPECT_EQ(want->ro, now.ro) TH_LOG("%s: BLKROGET", what);
	for (i = 0; i < NR_ATTRS; i++) {
		EXPECT_EQ(want->attr_err[i], now.attr_err[i])
			TH_LOG("%s: reading %s", what, snap_attrs[i]);
		EXPECT_STREQ(want->attr[i], now.attr[i])
			TH_LOG("%s: %s", what, snap_attrs[i]);
	}
}

/* ---- the fixture ---- */

struct extras {
	int nr[MAX_EXTRA];
	int fd[MAX_EXTRA];
	int n;
};

FIXTURE(hostile) {
	int ctl;			/* /dev/loop-control */
	int nr, fd;			/* bound, in the FIX_* state */
	int nr2, fd2;			/* unbound, unless a test binds it */
	int bfd;			/* backing file of nr, O_RDWR */
	struct extras extra;		/* more devices, removed last first */
	int added[MAX_EXTRA];		/* made by LOOP_CTL_ADD/GET_FREE */
	int nadded;
	char file[PATH_MAX];		/* backing file of nr */
	char file2[PATH_MAX];		/* further backing files, if any */
	char file3[PATH_MAX];
	struct snap base;		/* nr as set up */
	struct snap base2;		/* nr2 as set up */
};

static inline void config_init(struct loop_config *cfg, int fd)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->fd = fd;
}

static inline int configure(int fd, const struct loop_config *cfg)
{
	return ioctl_err(fd, LOOP_CONFIGURE, (unsigned long)cfg);
}

static inline int set_status64(int fd, const struct loop_info64 *info)
{
	return ioctl_err(fd, LOOP_SET_STATUS64, (unsigned long)info);
}

FIXTURE_SETUP(hostile)
{
	struct loop_config cfg;
	int i;

	self->nr = -1;
	self->nr2 = -1;
	self->fd = -1;
	self->fd2 = -1;
	self->bfd = -1;
	for (i = 0; i < MAX_EXTRA; i++) {
		self->extra.nr[i] = -1;
		self->extra.fd[i] = -1;
		self->added[i] = -1;
	}
	self->ctl = ctl_open();
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", LOOP_CONTROL,
				       strerror(-self->ctl));
	/*
	 * The file first: a failed setup gets no teardown, and devices made
	 * with a number of their own would be left behind.
	 */
	self->bfd = make_backing(self->file, sizeof(self->file),
				 BACKING_SIZE, 1);
	ASSERT_LE(0, self->bfd) TH_LOG("backing file in %s: %s", test_dir(),
				       strerror(-self->bfd));
	self->nr = ctl_add_any(self->ctl);
	ASSERT_LE(0, self->nr) TH_LOG("LOOP_CTL_ADD -1: %s",
				      strerror(-self->nr));
	self->nr2 = ctl_add_any(self->ctl);
	ASSERT_LE(0, self->nr2) TH_LOG("LOOP_CTL_ADD -1: %s",
				       strerror(-self->nr2));
	self->fd = loop_open(self->nr, O_RDWR);
	ASSERT_LE(0, self->fd);
	self->fd2 = loop_open(self->nr2, O_RDWR);
	ASSERT_LE(0, self->fd2);

	config_init(&cfg, self->bfd);
	cfg.block_size = FIX_BS;
	cfg.info.lo_offset = FIX_OFFSET;
	cfg.info.lo_sizelimit = FIX_SIZELIMIT;
	strcpy((char *)cfg.info.lo_file_name, FIX_NAME);
	ASSERT_EQ(0, configure(self->fd, &cfg));
	udev_settle();

	take_snap(self->fd, self->nr, &self->base);
	take_snap(self->fd2, self->nr2, &self->base2);
	ASSERT_EQ(0, self->base.status_err);
	ASSERT_EQ(FIX_OFFSET, self->base.info.lo_offset);
	ASSERT_EQ(FIX_SIZELIMIT, self->base.info.lo_sizelimit);
	ASSERT_EQ(default_bind_flags(), self->base.info.lo_flags);
	ASSERT_STREQ(FIX_NAME, (char *)self->base.info.lo_file_name);
	ASSERT_EQ(FIX_SIZELIMIT, self->base.size);
	ASSERT_EQ(FIX_BS, self->base.ssz);
	ASSERT_EQ(0, self->base.ro);
	ASSERT_EQ(-ENXIO, self->base2.status_err);
	ASSERT_EQ(0, self->base2.size);
}

FIXTURE_TEARDOWN(hostile)
{
	int i;

	/* Stacked devices: upper ones first, and nr2 may sit on nr. */
	for (i = self->extra.n - 1; i >= 0; i--)
		detach_and_remove(self->ctl, self->extra.nr[i],
				  &self->extra.fd[i]);
	detach_and_remove(self->ctl, self->nr2, &self->fd2);
	detach_and_remove(self->ctl, self->nr, &self->fd);
	for (i = 0; i < self->nadded; i++)
		if (self->added[i] >= 0)
			ctl_remove_retry(self->ctl, self->added[i]);
	if (self->bfd >= 0)
		close(self->bfd);
	if (self->file[0])
		unlink(self->file);
	if (self->file2[0])
		unlink(self->file2);
	if (self->file3[0])
		unlink(self->file3);
	close(self->ctl);
}

#define SAME(what)	expect_same(_metadata, self->fd, self->nr,	\
				    &self->base, what)
#define SAME2(what)	expect_same(_metadata, self->fd2, self->nr2,	\
				    &self->base2, what)

/*
 * Create one more (unbound) device, removed by the teardown; its number
 * goes to *@nr.  Returns an O_RDWR fd of it.
 */
static inline int add_extra(struct __test_metadata *_metadata, int ctl,
			    struct extras *x, int *nr)
{
	int i = x->n;

	ASSERT_GT(MAX_EXTRA, i);
	*nr = ctl_add_any(ctl);
	ASSERT_LE(0, *nr) TH_LOG("LOOP_CTL_ADD -1: %s", strerror(-*nr));
	x->nr[i] = *nr;
	x->n++;
	x->fd[i] = loop_open(*nr, O_RDWR);
	ASSERT_LE(0, x->fd[i]);
	return x->fd[i];
}

#define ADD_EXTRA(nr)	add_extra(_metadata, self->ctl, &self->extra, nr)

/* A backing file of @size bytes, pattern @seed, opened with @flags. */
static inline int new_backing(struct __test_metadata *_metadata, char *path,
			      size_t len, off_t size, uint32_t seed, int flags)
{
	int fd = make_backing(path, len, size, seed), ret;

	ASSERT_LE(0, fd);
	if (flags == O_RDWR)
		return fd;
	ret = open(path, flags | O_CLOEXEC);
	close(fd);
	ASSERT_LE(0, ret);
	return ret;
}

/*
 * Bind loopN (@fd) read-only to a new file (@size bytes, pattern 2, name
 * in @file); its state goes to @snap.  Returns an O_RDONLY fd of the file.
 */
static inline int bind_ro(struct __test_metadata *_metadata, int fd, int nr,
			  char *file, size_t len, off_t size,
			  struct snap *snap)
{
	struct loop_config cfg;
	int rofd;

	rofd = new_backing(_metadata, file, len, size, 2, O_RDONLY);
	config_init(&cfg, rofd);
	ASSERT_EQ(0, configure(fd, &cfg));
	udev_settle();
	take_snap(fd, nr, snap);
	ASSERT_EQ(0, snap->status_err);
	ASSERT_EQ(LO_FLAGS_READ_ONLY, snap->info.lo_flags & LO_FLAGS_READ_ONLY);
	return rofd;
}

/* Bind nr2 read-only to file2 of @size bytes. */
#define BIND_SECOND_RO(size)						\
	bind_ro(_metadata, self->fd2, self->nr2, self->file2,		\
		sizeof(self->file2), size, &self->base2)

/*
 * Does loopN hold pattern @seed from file position @pos on, for @size
 * bytes?  Read with O_DIRECT: what the device holds, not its page cache.
 * Returns -1 if so, the offset of the first wrong byte, or -errno - 1.
 */
static inline long long data_mismatch(int nr, unsigned long long size,
				      uint32_t seed, uint64_t pos)
{
	const size_t chunk = 1 << 16;
	unsigned long long done;
	long long bad = -1;
	void *buf;
	int fd;

	fd = loop_open(nr, O_RDONLY | O_DIRECT);
	if (fd < 0)
		return fd - 1;
	if (posix_memalign(&buf, 4096, chunk)) {
		close(fd);
		return -ENOMEM - 1;
	}
	for (done = 0; done < size && bad == -1; done += chunk) {
		size_t len = size - done < chunk ? size - done : chunk;
		ssize_t n = pread_full(fd, buf, len, done);

		if (n != (ssize_t)len) {
			bad = n < 0 ? n - 1 : -EIO - 1;
			break;
		}
		bad = pattern_check(buf, len, seed, pos + done);
		if (bad >= 0)
			bad += done;
	}
	free(buf);
	close(fd);
	return bad;
}

#define FIXTURE_DATA_INTACT()						\
	EXPECT_EQ(-1, data_mismatch(self->nr, FIX_SIZELIMIT, 1, FIX_OFFSET))

/* ---- bad user pointers ---- */

/* Four pages: read-write, PROT_NONE, unmapped, read-only. */
struct badmem {
	char *map;
	size_t pg;
};

static inline int badmem_init(struct badmem *m)
{
	m->pg = getpagesize();
	m->map = mmap(NULL, 4 * m->pg, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->map == MAP_FAILED)
		return -errno;
	if (mprotect(m->map + m->pg, m->pg, PROT_NONE) ||
	    munmap(m->map + 2 * m->pg, m->pg) ||
	    mprotect(m->map + 3 * m->pg, m->pg, PROT_READ))
		return -errno;
	return 0;
}

static inline void badmem_free(struct badmem *m)
{
	munmap(m->map, 2 * m->pg);
	munmap(m->map + 3 * m->pg, m->pg);
}

struct bad_ptr {
	const char *name;
	unsigned long addr;
	bool readable;		/* fine to read from: not for setters */
};

#define NR_BAD_PTRS	8

/*
 * Pointers no ioctl may use.  The straddling one starts with the first
 * half of @prefix (@size bytes) in mapped memory; the rest of it would be
 * in the PROT_NONE page.
 */
static inline void bad_ptrs(const struct badmem *m, const void *prefix,
			    size_t size, struct bad_ptr *p)
{
	char *straddle = m->map + m->pg - size / 2;

	memcpy(straddle, prefix, size / 2);
	p[0] = (struct bad_ptr){ "(void *)1", 1, false };
	p[1] = (struct bad_ptr){ "unmapped page",
				 (unsigned long)(m->map + 2 * m->pg), false };
	p[2] = (struct bad_ptr){ "PROT_NONE page",
				 (unsigned long)(m->map + m->pg), false };
	p[3] = (struct bad_ptr){ "straddling into PROT_NONE",
				 (unsigned long)straddle, false };
	p[4] = (struct bad_ptr){ "kernel address", 0xffffffff81000000UL,
				 false };
	p[5] = (struct bad_ptr){ "non-canonical", 0x8000000000000000UL,
				 false };
	p[6] = (struct bad_ptr){ "end of address space", ~0UL - 7, false };
	p[7] = (struct bad_ptr){ "read-only page",
				 (unsigned long)(m->map + 3 * m->pg), true };
}

#endif /* HOSTILE_H */
