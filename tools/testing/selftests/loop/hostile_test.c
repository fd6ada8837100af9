// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile arguments to the loop ioctls: bad pointers, bad file
 * descriptors, out-of-range numbers, flags nobody may change, loops of
 * loop devices, and the generic block ioctls on a loop device.
 *
 * Every case checks two things: the errno of the kernel's own driver
 * (drivers/block/loop.c of 6.1, and the block layer around it), and that
 * the device is left exactly as it was.  "Exactly" is a snapshot of what
 * every observer sees: all of LOOP_GET_STATUS64, BLKGETSIZE64, BLKSSZGET,
 * BLKROGET and the sysfs files that losetup and udev read.
 *
 * The fixture binds TEST_NR in a state no default produces (offset, size
 * limit, name, 1024-byte blocks) and keeps TEST_NR2 unbound.  Where our
 * driver deliberately differs from the kernel's ("Where this driver
 * differs" in the admin guide), the expectation branches on stock_driver();
 * where 6.12's stock driver (what "vm-run --stock" boots by default)
 * differs from 6.1's, on kernel_at_least(6, 12) as well.
 */
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/blkpg.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/hdreg.h>

#include "loop_util.h"
#include "loop_harness.h"

/* High numbers, apart from ioctl_test's, never used by the system. */
#define TEST_NR		244
#define TEST_NR2	245
#define TEST_NR3	246
#define TEST_NR4	247
#define BACKING_SIZE	(4 << 20)
#define SECTORS(bytes)	((long long)(bytes) >> 9)

/* The fixture's binding of TEST_NR. */
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

static void take_snap(int fd, int nr, struct snap *s)
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
static void expect_same(struct __test_metadata *_metadata, int fd, int nr,
			const struct snap *want, const char *what)
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

static void config_init(struct loop_config *cfg, int fd)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->fd = fd;
}

static int configure(int fd, const struct loop_config *cfg)
{
	return ioctl_err(fd, LOOP_CONFIGURE, (unsigned long)cfg);
}

static int set_status64(int fd, const struct loop_info64 *info)
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
	ASSERT_EQ(TEST_NR, ctl_add_fixed(self->ctl, TEST_NR));
	self->nr = TEST_NR;
	ASSERT_EQ(TEST_NR2, ctl_add_fixed(self->ctl, TEST_NR2));
	self->nr2 = TEST_NR2;
	self->fd = loop_open(self->nr, O_RDWR);
	ASSERT_LE(0, self->fd);
	self->fd2 = loop_open(self->nr2, O_RDWR);
	ASSERT_LE(0, self->fd2);
	self->bfd = make_backing(self->file, sizeof(self->file),
				 BACKING_SIZE, 1);
	ASSERT_LE(0, self->bfd) TH_LOG("backing file in %s: %s", test_dir(),
				       strerror(-self->bfd));

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

/* Create one more (unbound) device, removed by the teardown. */
static int add_extra(struct __test_metadata *_metadata, int ctl,
		     struct extras *x, int nr)
{
	int i = x->n;

	ASSERT_GT(MAX_EXTRA, i);
	ASSERT_EQ(nr, ctl_add_fixed(ctl, nr));
	x->nr[i] = nr;
	x->n++;
	x->fd[i] = loop_open(nr, O_RDWR);
	ASSERT_LE(0, x->fd[i]);
	return x->fd[i];
}

#define ADD_EXTRA(nr)	add_extra(_metadata, self->ctl, &self->extra, nr)

/* A backing file of @size bytes, pattern @seed, opened with @flags. */
static int new_backing(struct __test_metadata *_metadata, char *path,
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
static int bind_ro(struct __test_metadata *_metadata, int fd, int nr,
		   char *file, size_t len, off_t size, struct snap *snap)
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
 * Does loopN hold pattern @seed from file position @pos on, for @size
 * bytes?  Read with O_DIRECT: what the device holds, not its page cache.
 * Returns -1 if so, the offset of the first wrong byte, or -errno - 1.
 */
static long long data_mismatch(int nr, unsigned long long size, uint32_t seed,
			       uint64_t pos)
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

/* Would a loop device over this file use direct I/O if asked to? */
static bool backing_supports_dio(const char *file)
{
	int fd = open(file, O_RDONLY | O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* ---- bad user pointers ---- */

/* Four pages: read-write, PROT_NONE, unmapped, read-only. */
struct badmem {
	char *map;
	size_t pg;
};

static int badmem_init(struct badmem *m)
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

static void badmem_free(struct badmem *m)
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
static void bad_ptrs(const struct badmem *m, const void *prefix, size_t size,
		     struct bad_ptr *p)
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

/*
 * GET_STATUS* to and SET_STATUS* from each bad pointer of @p (built
 * around a struct @name): EFAULT, state unchanged.  Setters skip the
 * readable ones, from which they would read valid data.
 */
static void status_ptrs_efault(struct __test_metadata *_metadata,
			       int fd, int nr, const struct snap *base,
			       const struct bad_ptr *p, const char *name,
			       unsigned long get, unsigned long set)
{
	char what[128];
	int i;

	for (i = 0; i < NR_BAD_PTRS; i++) {
		snprintf(what, sizeof(what), "GET_%s to %s", name, p[i].name);
		EXPECT_EQ(-EFAULT, ioctl_err(fd, get, p[i].addr))
			TH_LOG("%s", what);
		expect_same(_metadata, fd, nr, base, what);
		if (p[i].readable)
			continue;
		snprintf(what, sizeof(what), "SET_%s from %s", name,
			 p[i].name);
		EXPECT_EQ(-EFAULT, ioctl_err(fd, set, p[i].addr))
			TH_LOG("%s", what);
		expect_same(_metadata, fd, nr, base, what);
	}
}

TEST_F(hostile, status_bad_pointers_bound)
{
	struct bad_ptr p[NR_BAD_PTRS];
	struct loop_info old;
	struct badmem m;

	ASSERT_EQ(0, badmem_init(&m));
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_GET_STATUS,
			       (unsigned long)&old));

	/* The setters copy in first; the getters reject NULL first. */
	EXPECT_EQ(-EFAULT, ioctl_err(self->fd, LOOP_SET_STATUS64, 0));
	EXPECT_EQ(-EFAULT, ioctl_err(self->fd, LOOP_SET_STATUS, 0));
	EXPECT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_GET_STATUS64, 0));
	EXPECT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_GET_STATUS, 0));
	SAME("NULL");

	bad_ptrs(&m, &self->base.info, sizeof(self->base.info), p);
	status_ptrs_efault(_metadata, self->fd, self->nr, &self->base, p,
			   "STATUS64", LOOP_GET_STATUS64, LOOP_SET_STATUS64);
	bad_ptrs(&m, &old, sizeof(old), p);
	status_ptrs_efault(_metadata, self->fd, self->nr, &self->base, p,
			   "STATUS", LOOP_GET_STATUS, LOOP_SET_STATUS);
	badmem_free(&m);
}

/* Unbound: the getters say ENXIO before touching memory, setters EFAULT. */
TEST_F(hostile, status_bad_pointers_unbound)
{
	struct bad_ptr p[NR_BAD_PTRS];
	struct badmem m;
	char what[128];
	int i;

	ASSERT_EQ(0, badmem_init(&m));
	EXPECT_EQ(-EFAULT, ioctl_err(self->fd2, LOOP_SET_STATUS64, 0));
	EXPECT_EQ(-EFAULT, ioctl_err(self->fd2, LOOP_SET_STATUS, 0));
	EXPECT_EQ(-EINVAL, ioctl_err(self->fd2, LOOP_GET_STATUS64, 0));
	EXPECT_EQ(-EINVAL, ioctl_err(self->fd2, LOOP_GET_STATUS, 0));
	SAME2("NULL");

	bad_ptrs(&m, &self->base.info, sizeof(self->base.info), p);
	for (i = 0; i < NR_BAD_PTRS; i++) {
		snprintf(what, sizeof(what), "unbound, %s", p[i].name);
		EXPECT_EQ(-ENXIO, ioctl_err(self->fd2, LOOP_GET_STATUS64,
					    p[i].addr)) TH_LOG("%s", what);
		EXPECT_EQ(-ENXIO, ioctl_err(self->fd2, LOOP_GET_STATUS,
					    p[i].addr)) TH_LOG("%s", what);
		if (!p[i].readable) {
			EXPECT_EQ(-EFAULT, ioctl_err(self->fd2,
						     LOOP_SET_STATUS64,
						     p[i].addr))
				TH_LOG("%s", what);
			EXPECT_EQ(-EFAULT, ioctl_err(self->fd2,
						     LOOP_SET_STATUS,
						     p[i].addr))
				TH_LOG("%s", what);
		}
		SAME2(what);
	}
	badmem_free(&m);
	SAME("the other device");
}

/* LOOP_CONFIGURE copies its argument in before anything else. */
TEST_F(hostile, configure_bad_pointers)
{
	struct bad_ptr p[NR_BAD_PTRS];
	struct loop_config cfg;
	struct badmem m;
	char what[128];
	int i;

	ASSERT_EQ(0, badmem_init(&m));
	config_init(&cfg, self->bfd);
	EXPECT_EQ(-EFAULT, ioctl_err(self->fd2, LOOP_CONFIGURE, 0));
	SAME2("CONFIGURE NULL, unbound");
	EXPECT_EQ(-EFAULT, ioctl_err(self->fd, LOOP_CONFIGURE, 0));
	SAME("CONFIGURE NULL, bound");

	/* a valid config up to where the memory ends */
	bad_ptrs(&m, &cfg, sizeof(cfg), p);
	for (i = 0; i < NR_BAD_PTRS; i++) {
		if (p[i].readable)
			continue;
		snprintf(what, sizeof(what), "CONFIGURE from %s", p[i].name);
		EXPECT_EQ(-EFAULT, ioctl_err(self->fd2, LOOP_CONFIGURE,
					     p[i].addr)) TH_LOG("%s", what);
		SAME2(what);
		EXPECT_EQ(-EFAULT, ioctl_err(self->fd, LOOP_CONFIGURE,
					     p[i].addr)) TH_LOG("%s", what);
		SAME(what);
	}
	badmem_free(&m);
}

/* ---- offsets, size limits, flags, encryption ---- */

TEST_F(hostile, set_status64_overflow_eoverflow)
{
	static const unsigned long long huge[] = {
		1ULL << 63, (1ULL << 63) + 4096, ~0ULL,
	};
	struct loop_info64 info;
	char what[128];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(huge); i++) {
		info = self->base.info;
		info.lo_offset = huge[i];
		snprintf(what, sizeof(what), "offset %#llx", huge[i]);
		EXPECT_EQ(-EOVERFLOW, set_status64(self->fd, &info))
			TH_LOG("%s", what);
		SAME(what);

		info = self->base.info;
		info.lo_sizelimit = huge[i];
		snprintf(what, sizeof(what), "sizelimit %#llx", huge[i]);
		EXPECT_EQ(-EOVERFLOW, set_status64(self->fd, &info))
			TH_LOG("%s", what);
		SAME(what);
	}
	/* The key size is checked before the offset. */
	info = self->base.info;
	info.lo_offset = ~0ULL;
	info.lo_encrypt_key_size = LO_KEY_SIZE + 1;
	EXPECT_EQ(-EINVAL, set_status64(self->fd, &info));
	SAME("offset ~0 and key size 33");
}

/*
 * An encryption type no transfer implements is refused before the offset
 * is looked at: EINVAL, not EOVERFLOW (the admin guide lists the checks
 * in this order, too).
 */
TEST_F(hostile, encryption_type_checked_before_overflow)
{
	static const unsigned int types[] = {
		LO_CRYPT_DES, LO_CRYPT_FISH2, LO_CRYPT_SKIPJACK, 19,
	};
	struct loop_config cfg;
	struct loop_info64 info;
	char what[128];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		info = self->base.info;
		info.lo_encrypt_type = types[i];
		info.lo_offset = 1ULL << 63;
		snprintf(what, sizeof(what), "SET_STATUS64 type %u offset 2^63",
			 types[i]);
		EXPECT_EQ(-EINVAL, set_status64(self->fd, &info))
			TH_LOG("%s", what);
		SAME(what);

		config_init(&cfg, self->bfd);
		cfg.info.lo_encrypt_type = types[i];
		cfg.info.lo_sizelimit = ~0ULL;
		snprintf(what, sizeof(what), "CONFIGURE type %u sizelimit ~0",
			 types[i]);
		EXPECT_EQ(-EINVAL, configure(self->fd2, &cfg))
			TH_LOG("%s", what);
		SAME2(what);
	}
}

/* Types nobody implements, and keys longer than LO_KEY_SIZE. */
static const unsigned int bad_types[] = {
	LO_CRYPT_DES, LO_CRYPT_FISH2, LO_CRYPT_BLOW, LO_CRYPT_CAST128,
	LO_CRYPT_IDEA, 7, 8, LO_CRYPT_DUMMY, LO_CRYPT_SKIPJACK, 11, 17, 19,
	MAX_LO_CRYPT, 1000, 0x80000000U, ~0U,
};

static const unsigned int bad_key_sizes[] = {
	LO_KEY_SIZE + 1, 1000, 0x80000000U, ~0U,
};

TEST_F(hostile, set_status64_bad_encryption_einval)
{
	struct loop_info64 info;
	char what[128];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad_types); i++) {
		info = self->base.info;
		info.lo_encrypt_type = bad_types[i];
		snprintf(what, sizeof(what), "lo_encrypt_type %u",
			 bad_types[i]);
		EXPECT_EQ(-EINVAL, set_status64(self->fd, &info))
			TH_LOG("%s", what);
		SAME(what);
	}
	for (i = 0; i < ARRAY_SIZE(bad_key_sizes); i++) {
		info = self->base.info;
		info.lo_encrypt_key_size = bad_key_sizes[i];
		snprintf(what, sizeof(what), "lo_encrypt_key_size %u",
			 bad_key_sizes[i]);
		EXPECT_EQ(-EINVAL, set_status64(self->fd, &info))
			TH_LOG("%s", what);
		SAME(what);
	}
	/* XOR without a key: the stock driver has no XOR, ours needs a key */
	info = self->base.info;
	info.lo_encrypt_type = LO_CRYPT_XOR;
	EXPECT_EQ(-EINVAL, set_status64(self->fd, &info));
	SAME("XOR without a key");
}

/*
 * What SET_STATUS64 ignores: the read-only fields, and a key or cipher
 * name without a transfer.  All of it must leave the device as it was.
 */
TEST_F(hostile, set_status64_ignored_fields_change_nothing)
{
	struct loop_info64 info = self->base.info;

	info.lo_number = 12345;
	info.lo_device = ~0ULL;
	info.lo_inode = ~0ULL;
	info.lo_rdevice = 0x0700ULL;
	info.lo_init[0] = ~0ULL;
	info.lo_init[1] = 42;
	strcpy((char *)info.lo_crypt_name, "no-such-cipher");
	info.lo_encrypt_key_size = LO_KEY_SIZE;
	memset(info.lo_encrypt_key, 0x5a, LO_KEY_SIZE);
	EXPECT_EQ(0, set_status64(self->fd, &info));
	SAME("read-only fields and a key without a transfer");
}

/* Flags SET_STATUS64 may not change are ignored, not applied or refused. */
TEST_F(hostile, set_status64_flags_not_changeable)
{
	static const unsigned int bits[] = {
		LO_FLAGS_READ_ONLY, LO_FLAGS_DIRECT_IO, 2, 32, 64, 128,
		1U << 31, ~(unsigned int)(LO_FLAGS_AUTOCLEAR |
					  LO_FLAGS_PARTSCAN),
	};
	struct loop_info64 info;
	char what[128];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bits); i++) {
		info = self->base.info;
		info.lo_flags |= bits[i];
		snprintf(what, sizeof(what), "lo_flags |= %#x", bits[i]);
		EXPECT_EQ(0, set_status64(self->fd, &info)) TH_LOG("%s", what);
		SAME(what);
	}
	/* PARTSCAN, once on (max_part makes it so), cannot be cleared. */
	if (self->base.info.lo_flags & LO_FLAGS_PARTSCAN) {
		info = self->base.info;
		info.lo_flags &= ~LO_FLAGS_PARTSCAN;
		EXPECT_EQ(0, set_status64(self->fd, &info));
		SAME("clearing PARTSCAN");
	}
}

/*
 * Device size for a binding of the fixture's file: the stock driver counts
 * whole sectors, ours whole logical blocks (see the admin guide).
 */
static unsigned long long loop_bytes(unsigned long long off,
				     unsigned long long limit, unsigned int bs)
{
	unsigned long long size = off >= BACKING_SIZE ? 0 :
				  BACKING_SIZE - off;

	if (limit && limit < size)
		size = limit;
	return stock_driver() ? size & ~511ULL : size - size % bs;
}

/*
 * Values at the edges that are valid: accepted, with the size they imply,
 * and setting the original status back restores the original state.
 */
TEST_F(hostile, set_status64_huge_values_accepted)
{
	static const struct {
		unsigned long long offset, sizelimit;
	} v[] = {
		{ LLONG_MAX, FIX_SIZELIMIT },		/* far beyond EOF */
		{ BACKING_SIZE, FIX_SIZELIMIT },	/* at EOF */
		{ BACKING_SIZE + 4096, 0 },
		{ BACKING_SIZE - 512, FIX_SIZELIMIT },	/* half a block */
		{ FIX_OFFSET, LLONG_MAX },
		{ FIX_OFFSET, 1 },			/* under a sector */
		{ FIX_OFFSET, 511 },
		{ FIX_OFFSET, 512 },			/* under a block */
		{ FIX_OFFSET, 1536 },
		{ 1, 0 },				/* odd offset */
	};
	struct loop_info64 info;
	unsigned long long size, want;
	char what[128], buf[1024];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		snprintf(what, sizeof(what), "offset %llu sizelimit %llu",
			 v[i].offset, v[i].sizelimit);
		want = loop_bytes(v[i].offset, v[i].sizelimit, FIX_BS);
		info = self->base.info;
		info.lo_offset = v[i].offset;
		info.lo_sizelimit = v[i].sizelimit;
		EXPECT_EQ(0, set_status64(self->fd, &info)) TH_LOG("%s", what);
		EXPECT_EQ(0, loop_get_status64(self->fd, &info));
		EXPECT_EQ(v[i].offset, info.lo_offset) TH_LOG("%s", what);
		EXPECT_EQ(v[i].sizelimit, info.lo_sizelimit)
			TH_LOG("%s", what);
		EXPECT_EQ((long long)v[i].offset,
			  sysfs_read_ll(self->nr, "loop/offset"))
			TH_LOG("%s", what);
		size = 0;
		EXPECT_EQ(0, ioctl_err(self->fd, BLKGETSIZE64,
				       (unsigned long)&size));
		EXPECT_EQ(want, size) TH_LOG("%s", what);
		EXPECT_EQ(SECTORS(want), sysfs_read_ll(self->nr, "size"))
			TH_LOG("%s", what);
		if (!want) {
			EXPECT_EQ(0, pread(self->fd, buf, sizeof(buf), 0))
				TH_LOG("%s: read of an empty device", what);
		}

		EXPECT_EQ(0, set_status64(self->fd, &self->base.info));
		SAME(what);
	}
	FIXTURE_DATA_INTACT();
}

/*
 * The 2.6-era structure: an int offset, no size limit.  A negative offset
 * becomes a huge unsigned one: EOVERFLOW.  The stock driver ignores the
 * old structure's encryption type and key size altogether (it has no
 * transfers); ours honours them (see the admin guide), so there a bad one
 * is EINVAL.
 */
TEST_F(hostile, set_status_old_hostile)
{
	static const int offsets[] = { -4096, -1, INT_MIN };
	static const struct {
		int type, key_size;
	} enc[] = {
		{ 1000, 0 }, { -1, 0 }, { LO_CRYPT_NONE, 1000 },
		{ LO_CRYPT_NONE, -1 },
	};
	struct loop_info old, bad;
	char what[128];
	unsigned int i;

	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_GET_STATUS,
			       (unsigned long)&old));
	for (i = 0; i < ARRAY_SIZE(offsets); i++) {
		bad = old;
		bad.lo_offset = offsets[i];
		snprintf(what, sizeof(what), "old lo_offset %d", offsets[i]);
		EXPECT_EQ(-EOVERFLOW, ioctl_err(self->fd, LOOP_SET_STATUS,
						(unsigned long)&bad))
			TH_LOG("%s", what);
		SAME(what);
	}
	for (i = 0; i < ARRAY_SIZE(enc); i++) {
		bad = old;
		bad.lo_encrypt_type = enc[i].type;
		bad.lo_encrypt_key_size = enc[i].key_size;
		snprintf(what, sizeof(what), "old type %d key size %d",
			 enc[i].type, enc[i].key_size);
		if (!stock_driver()) {
			EXPECT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_SET_STATUS,
						     (unsigned long)&bad))
				TH_LOG("%s", what);
			SAME(what);
			continue;
		}
		/* ignored; the old structure's missing size limit is 0 */
		EXPECT_EQ(0, ioctl_err(self->fd, LOOP_SET_STATUS,
				       (unsigned long)&bad)) TH_LOG("%s", what);
		EXPECT_EQ(0, sysfs_read_ll(self->nr, "loop/sizelimit"));
		EXPECT_EQ(0, set_status64(self->fd, &self->base.info));
		SAME(what);
	}
}

/* ---- LOOP_CONFIGURE with bad contents ---- */

TEST_F(hostile, configure_invalid_config)
{
	static const unsigned int flags[] = {
		2, 32, 64, 1U << 31, ~0U,
		LO_FLAGS_PARTSCAN | LO_FLAGS_AUTOCLEAR | 32,
	};
	static const unsigned int sizes[] = {
		1, 256, 511, 513, 1000, 1536, 3000, 8192, 65536,
		0x80000200U, ~0U,
	};
	struct loop_config cfg;
	char what[128];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		config_init(&cfg, self->bfd);
		cfg.info.lo_flags = flags[i];
		snprintf(what, sizeof(what), "lo_flags %#x", flags[i]);
		EXPECT_EQ(-EINVAL, configure(self->fd2, &cfg))
			TH_LOG("%s", what);
		SAME2(what);
	}
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		config_init(&cfg, self->bfd);
		cfg.block_size = sizes[i];
		if (sizes[i] == 8192 && getpagesize() > 4096)
			continue;
		snprintf(what, sizeof(what), "block_size %u", sizes[i]);
		EXPECT_EQ(-EINVAL, configure(self->fd2, &cfg))
			TH_LOG("%s", what);
		SAME2(what);
	}
	for (i = 0; i < ARRAY_SIZE(bad_types); i++) {
		config_init(&cfg, self->bfd);
		cfg.info.lo_encrypt_type = bad_types[i];
		snprintf(what, sizeof(what), "lo_encrypt_type %u",
			 bad_types[i]);
		EXPECT_EQ(-EINVAL, configure(self->fd2, &cfg))
			TH_LOG("%s", what);
		SAME2(what);
	}
	for (i = 0; i < ARRAY_SIZE(bad_key_sizes); i++) {
		config_init(&cfg, self->bfd);
		cfg.info.lo_encrypt_key_size = bad_key_sizes[i];
		snprintf(what, sizeof(what), "lo_encrypt_key_size %u",
			 bad_key_sizes[i]);
		EXPECT_EQ(-EINVAL, configure(self->fd2, &cfg))
			TH_LOG("%s", what);
		SAME2(what);
	}
	config_init(&cfg, self->bfd);
	cfg.info.lo_offset = 1ULL << 63;
	EXPECT_EQ(-EOVERFLOW, configure(self->fd2, &cfg));
	SAME2("offset 2^63");
	config_init(&cfg, self->bfd);
	cfg.info.lo_sizelimit = ~0ULL;
	EXPECT_EQ(-EOVERFLOW, configure(self->fd2, &cfg));
	SAME2("sizelimit ~0");
	/* flags before block size before the rest: all EINVAL anyway */
	config_init(&cfg, self->bfd);
	cfg.info.lo_flags = 2;
	cfg.block_size = 3000;
	cfg.info.lo_offset = ~0ULL;
	EXPECT_EQ(-EINVAL, configure(self->fd2, &cfg));
	SAME2("everything wrong");
	SAME("the other device");
}

/* ---- LOOP_SET_BLOCK_SIZE ---- */

/*
 * 6.12's stock driver takes LOOP_SET_BLOCK_SIZE's argument as an unsigned
 * int, dropping the upper half of the long, and 0 as "the default" (512
 * here), and sets those; 6.1's, and ours, refuse them.  The block size
 * 6.12's driver sets for @arg, or 0 where every driver refuses it.
 */
static long long queue_lbs(int nr)
{
	return sysfs_read_ll(nr, "queue/logical_block_size");
}

static long long stock612_block_size(unsigned long arg)
{
	unsigned int bs = arg;

	if (!stock_driver() || !kernel_at_least(6, 12))
		return 0;
	if (!bs)
		return 512;
	if (bs < 512 || bs > (unsigned int)getpagesize() || (bs & (bs - 1)))
		return 0;
	return bs;
}

TEST_F(hostile, set_block_size_invalid_einval)
{
	long long set;
	const unsigned long sizes[] = {
		0, 1, 256, 511, 513, 1000, 1536, 3000,
		2UL * getpagesize(), 65536, UINT_MAX, ULONG_MAX,
		(1UL << 32) | 1024, (1UL << 32) | 4096, -512UL, 1UL << 63,
	};
	char what[128];
	unsigned int i;
	int rofd;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		snprintf(what, sizeof(what), "block size %#lx", sizes[i]);
		set = stock612_block_size(sizes[i]);
		if (set) {
			EXPECT_EQ(0, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE,
					       sizes[i])) TH_LOG("%s", what);
			EXPECT_EQ(set, queue_lbs(self->nr)) TH_LOG("%s", what);
			EXPECT_EQ(0, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE,
					       FIX_BS));
		} else {
			EXPECT_EQ(-EINVAL, ioctl_err(self->fd,
						     LOOP_SET_BLOCK_SIZE,
						     sizes[i]))
				TH_LOG("%s", what);
		}
		SAME(what);
		/* unbound is reported before the value is looked at */
		EXPECT_EQ(-ENXIO, ioctl_err(self->fd2, LOOP_SET_BLOCK_SIZE,
					    sizes[i])) TH_LOG("%s", what);
		SAME2(what);
	}
	/* the same size again changes nothing */
	EXPECT_EQ(0, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, FIX_BS));
	SAME("block size unchanged");
	/* through a read-only open (we have CAP_SYS_ADMIN) */
	rofd = loop_open(self->nr, O_RDONLY);
	ASSERT_LE(0, rofd);
	EXPECT_EQ(-EINVAL, ioctl_err(rofd, LOOP_SET_BLOCK_SIZE, 3000));
	close(rofd);
	SAME("3000 through a read-only open");
	FIXTURE_DATA_INTACT();
}

/*
 * LOOP_SET_BLOCK_SIZE, like LOOP_CONFIGURE, claims the device: it refuses
 * to change the block size under an exclusive owner (a mounted file
 * system, say) with EBUSY.  The owner itself may.
 */
TEST_F(hostile, set_block_size_under_exclusive_owner)
{
	int excl;

	excl = loop_open(self->nr, O_RDONLY | O_EXCL);
	ASSERT_LE(0, excl);
	EXPECT_EQ(-EBUSY, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 4096));
	SAME("SET_BLOCK_SIZE 4096 under an exclusive owner");
	EXPECT_EQ(-EBUSY, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, FIX_BS));
	SAME("SET_BLOCK_SIZE to the same size under an owner");

	/* the owner may */
	EXPECT_EQ(0, ioctl_err(excl, LOOP_SET_BLOCK_SIZE, 4096));
	EXPECT_EQ(4096, sysfs_read_ll(self->nr, "queue/logical_block_size"));
	EXPECT_EQ(0, ioctl_err(excl, LOOP_SET_BLOCK_SIZE, FIX_BS));
	close(excl);
	SAME("block size changed and back by the owner");
	/* and without an owner, anybody again */
	EXPECT_EQ(0, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, FIX_BS));
	SAME("no owner");
	FIXTURE_DATA_INTACT();
}

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
	int fd3;

	ASSERT_EQ(0, hfds_open(&s, self->file));
	fd3 = ADD_EXTRA(TEST_NR3);
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
	int rofd, fd3, other;

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
	fd3 = ADD_EXTRA(TEST_NR3);
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
	int rofd, fda, fdc, lower;

	rofd = BIND_SECOND_RO(BACKING_SIZE);
	close(rofd);
	fda = ADD_EXTRA(TEST_NR3);
	lower = loop_open(self->nr2, O_RDONLY);
	ASSERT_LE(0, lower);
	config_init(&cfg, lower);
	ASSERT_EQ(0, configure(fda, &cfg));
	close(lower);
	fdc = ADD_EXTRA(TEST_NR4);
	lower = loop_open(TEST_NR3, O_RDONLY);
	ASSERT_LE(0, lower);
	config_init(&cfg, lower);
	ASSERT_EQ(0, configure(fdc, &cfg));
	close(lower);
	udev_settle();
	take_snap(fda, TEST_NR3, &sa);
	take_snap(fdc, TEST_NR4, &sc);
	ASSERT_EQ(0, sa.status_err);
	ASSERT_EQ(0, sc.status_err);
	ASSERT_EQ(self->base2.size, sa.size);

#define ALL_SAME(what) do {						\
	const char *w_ = (what);					\
									\
	SAME2(w_);							\
	expect_same(_metadata, fda, TEST_NR3, &sa, w_);			\
	expect_same(_metadata, fdc, TEST_NR4, &sc, w_);			\
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
	EXPECT_EQ(-1, data_mismatch(TEST_NR4, BACKING_SIZE, 2, 0));
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
				     (1UL << 32) | TEST_NR));
	SAME("LOOP_CTL_ADD (1 << 32) | TEST_NR");
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
	static const struct {
		unsigned long nr;
		int err;
	} v[] = {
		{ (unsigned long)-1L, -EINVAL },
		{ ULONG_MAX, -EINVAL },
		{ 1UL << 31, -EINVAL },			/* INT_MIN */
		{ (unsigned long)-2L, -EINVAL },
		{ 1UL << 20, -ENODEV },
		{ INT_MAX, -ENODEV },
		{ (1UL << 32) | TEST_NR, -EBUSY },	/* bound */
		{ (1UL << 32) | TEST_NR2, -EBUSY },	/* open */
		{ TEST_NR, -EBUSY },
		{ TEST_NR2, -EBUSY },
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
	static const unsigned long args[] = {
		0, ULONG_MAX, TEST_NR, (unsigned long)-1L, 1UL << 20,
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
	int before;

	loop_force_detach(TEST_NR3);
	ctl_remove_retry(self->ctl, TEST_NR3);
	before = count_loop_devices();
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(-EINVAL, ioctl_err(self->fd, cmds[i], TEST_NR3))
			TH_LOG("cmd %#lx on a bound device", cmds[i]);
		EXPECT_EQ(-EINVAL, ioctl_err(self->fd2, cmds[i], TEST_NR2))
			TH_LOG("cmd %#lx on an unbound device", cmds[i]);
	}
	EXPECT_FALSE(sysfs_exists(TEST_NR3, "size"));
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
TEST_F(hostile, garbage_args_unbound_enxio)
{
	struct loop_info old;

	memset(&old, 0, sizeof(old));
	EXPECT_EQ(0, ioctl_err(self->fd, LOOP_SET_CAPACITY, ULONG_MAX));
	SAME("SET_CAPACITY ~0 on a bound device");
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd2, LOOP_SET_CAPACITY, ULONG_MAX));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd2, LOOP_CLR_FD, ULONG_MAX));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd2, LOOP_SET_DIRECT_IO, ULONG_MAX));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd2, LOOP_SET_DIRECT_IO, 0));
	EXPECT_EQ(-ENXIO, set_status64(self->fd2, &self->base.info));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd2, LOOP_SET_STATUS,
				    (unsigned long)&old));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd2, LOOP_CHANGE_FD, self->bfd));
	SAME2("status ioctls on an unbound device");
	SAME("the other device");
}

/* SET_DIRECT_IO takes any non-zero value as "on". */
TEST_F(hostile, set_direct_io_hostile)
{
	struct loop_info64 info;
	struct snap moved;

	EXPECT_EQ(0, ioctl_err(self->fd, LOOP_SET_DIRECT_IO, 0));
	SAME("direct I/O off while off");
	if (backing_supports_dio(self->file)) {
		EXPECT_EQ(0, ioctl_err(self->fd, LOOP_SET_DIRECT_IO,
				       ULONG_MAX));
		EXPECT_EQ(1, sysfs_read_ll(self->nr, "loop/dio"));
		EXPECT_EQ(0, ioctl_err(self->fd, LOOP_SET_DIRECT_IO, 0));
		SAME("direct I/O on with ~0UL and off again");
	}
	/* An offset not aligned for direct I/O: it cannot be on. */
	info = self->base.info;
	info.lo_offset = FIX_OFFSET + 100;
	ASSERT_EQ(0, set_status64(self->fd, &info));
	take_snap(self->fd, self->nr, &moved);
	EXPECT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_SET_DIRECT_IO, 1));
	expect_same(_metadata, self->fd, self->nr, &moved,
		    "direct I/O with an unaligned offset");
	EXPECT_EQ(0, set_status64(self->fd, &self->base.info));
	SAME("offset back");
}

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
