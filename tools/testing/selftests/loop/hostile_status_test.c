// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile arguments to the status ioctls of a loop device: bad pointers
 * to LOOP_GET/SET_STATUS(64) and LOOP_CONFIGURE, offsets and size limits
 * that overflow, encryption types and keys nobody implements, flags
 * nobody may change, invalid configurations, and LOOP_SET_BLOCK_SIZE,
 * LOOP_SET_CAPACITY and LOOP_SET_DIRECT_IO with values out of range.
 * The fixture and what every case checks: hostile.h.
 */
#include "hostile.h"

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

TEST_HARNESS_MAIN
