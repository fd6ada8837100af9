// SPDX-License-Identifier: GPL-2.0
/*
 * The loop ioctls from a 32-bit process (built with -m32, run under IA32
 * emulation): the kernel's compat path must give the same values and the
 * same errnos a 64-bit caller gets (see ioctl_test.c).  struct loop_info
 * has a different layout here (32-bit long and dev_t), which is what the
 * compat LOOP_SET_STATUS/LOOP_GET_STATUS translate.
 */
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <linux/loop_crypto.h>

#include "loop_util.h"
#include "loop_harness.h"

/* Away from the numbers ioctl_test uses (240, 241). */
#define TEST_NR		244
#define TEST_NR2	245
#define BACKING_SIZE	(8 << 20)
#define SECTORS(bytes)	((long long)(bytes) >> 9)

/*
 * We really are a 32-bit process, with the i386 struct loop_info (140
 * bytes, 168 on x86_64); the 64-bit structures have one layout on both.
 */
TEST(layout)
{
	ASSERT_EQ(4, sizeof(long));
	ASSERT_EQ(140, sizeof(struct loop_info));
	ASSERT_EQ(2, sizeof(((struct loop_info *)0)->lo_device));
	ASSERT_EQ(232, sizeof(struct loop_info64));
	ASSERT_EQ(304, sizeof(struct loop_config));
}

FIXTURE(compat) {
	int ctl;
	int fd;
	int bfd;
	char file[PATH_MAX];
};

FIXTURE_SETUP(compat)
{
	self->fd = -1;
	self->bfd = -1;
	self->ctl = ctl_open();
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(TEST_NR, ctl_add_fixed(self->ctl, TEST_NR));
	self->fd = loop_open(TEST_NR, O_RDWR);
	ASSERT_LE(0, self->fd);
	self->bfd = make_backing(self->file, sizeof(self->file),
				 BACKING_SIZE, 7);
	ASSERT_LE(0, self->bfd);
}

FIXTURE_TEARDOWN(compat)
{
	struct loop_info64 info;

	if (self->fd >= 0) {
		/* never leave AUTOCLEAR behind: drop it, then detach */
		if (!loop_get_status64(self->fd, &info)) {
			info.lo_flags &= ~LO_FLAGS_AUTOCLEAR;
			ioctl(self->fd, LOOP_SET_STATUS64, &info);
		}
		ioctl(self->fd, LOOP_CLR_FD, 0);
		close(self->fd);
	}
	wait_unbound(TEST_NR, 10000);
	if (self->ctl >= 0) {
		ctl_remove_retry(self->ctl, TEST_NR);
		close(self->ctl);
	}
	if (self->bfd >= 0) {
		close(self->bfd);
		unlink(self->file);
	}
}

static int configure(int fd, int bfd, __u64 offset, __u64 sizelimit,
		     __u32 flags, __u32 block_size)
{
	struct loop_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = bfd;
	cfg.block_size = block_size;
	cfg.info.lo_offset = offset;
	cfg.info.lo_sizelimit = sizelimit;
	cfg.info.lo_flags = flags;
	strcpy((char *)cfg.info.lo_file_name, "compat32-config");
	return ioctl(fd, LOOP_CONFIGURE, &cfg) ? -errno : 0;
}

static int get_old(int fd, struct loop_info *info)
{
	memset(info, 0x5a, sizeof(*info));
	return ioctl(fd, LOOP_GET_STATUS, info) ? -errno : 0;
}

/* st_dev as the kernel's huge_encode_dev() gives it. */
static unsigned long long enc_dev(dev_t dev)
{
	unsigned long long ma = major(dev), mi = minor(dev);

	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffULL) << 12);
}

TEST_F(compat, configure_and_status64)
{
	unsigned int want = LO_FLAGS_AUTOCLEAR | default_bind_flags();
	struct loop_info64 info;
	struct stat st;

	ASSERT_EQ(0, configure(self->fd, self->bfd, 1 << 20, 4 << 20,
			       LO_FLAGS_AUTOCLEAR, 4096));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	ASSERT_EQ(0, fstat(self->bfd, &st));
	EXPECT_EQ(TEST_NR, info.lo_number);
	EXPECT_EQ(1 << 20, info.lo_offset);
	EXPECT_EQ(4 << 20, info.lo_sizelimit);
	EXPECT_EQ(want, info.lo_flags);
	EXPECT_EQ(enc_dev(st.st_dev), info.lo_device);
	EXPECT_EQ((unsigned long long)st.st_ino, info.lo_inode);
	EXPECT_STREQ("compat32-config", (char *)info.lo_file_name);
	EXPECT_EQ(SECTORS(4 << 20), sysfs_read_ll(TEST_NR, "size"));
	EXPECT_EQ(4096, sysfs_read_ll(TEST_NR, "queue/logical_block_size"));
	EXPECT_EQ(1 << 20, sysfs_read_ll(TEST_NR, "loop/offset"));
	EXPECT_EQ(4 << 20, sysfs_read_ll(TEST_NR, "loop/sizelimit"));
	EXPECT_EQ(1, sysfs_read_ll(TEST_NR, "loop/autoclear"));

	/* bound already */
	EXPECT_EQ(-EBUSY, configure(self->fd, self->bfd, 0, 0, 0, 512));

	/* SET_STATUS64: new offset/sizelimit/name, AUTOCLEAR cleared */
	info.lo_offset = 8192;
	info.lo_sizelimit = 0;
	info.lo_flags = LO_FLAGS_READ_ONLY;	/* not settable: ignored */
	strcpy((char *)info.lo_file_name, "status64-name");
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_STATUS64,
			       (unsigned long)&info));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	EXPECT_EQ(8192, info.lo_offset);
	EXPECT_EQ(0, info.lo_sizelimit);
	EXPECT_EQ(default_bind_flags(), info.lo_flags);
	EXPECT_STREQ("status64-name", (char *)info.lo_file_name);
	EXPECT_EQ(SECTORS(BACKING_SIZE - 8192), sysfs_read_ll(TEST_NR, "size"));
	EXPECT_EQ(0, sysfs_read_ll(TEST_NR, "ro"));
}

/*
 * The size is the file's past the offset, in 512-byte sectors, even when
 * that is not a whole number of logical blocks: the stock get_size() does
 * not round to the block size.
 */
/*
 * The stock driver sizes the device in sectors; ours in whole logical
 * blocks (see data_test and the admin guide).  Either way, a 32-bit caller
 * sees what a 64-bit one does.
 */
TEST_F(compat, size_with_block_size)
{
	long long bytes = BACKING_SIZE - 512;
	struct loop_info64 info;

	if (!stock_driver())
		bytes -= bytes % 4096;
	ASSERT_EQ(0, configure(self->fd, self->bfd, 512, 0, 0, 4096));
	EXPECT_EQ(4096, sysfs_read_ll(TEST_NR, "queue/logical_block_size"));
	EXPECT_EQ(SECTORS(bytes), sysfs_read_ll(TEST_NR, "size"));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	EXPECT_EQ(512, info.lo_offset);
}

TEST_F(compat, configure_errors)
{
	struct loop_info64 info;

	/* flags LOOP_CONFIGURE may not set */
	EXPECT_EQ(-EINVAL, configure(self->fd, self->bfd, 0, 0, 1U << 31,
				     512));
	/* bad block sizes */
	EXPECT_EQ(-EINVAL, configure(self->fd, self->bfd, 0, 0, 0, 1000));
	EXPECT_EQ(-EINVAL, configure(self->fd, self->bfd, 0, 0, 0, 256));
	/* not a file descriptor */
	EXPECT_EQ(-EBADF, configure(self->fd, 9999, 0, 0, 0, 512));
	/* still unbound */
	EXPECT_EQ(-ENXIO, loop_get_status64(self->fd, &info));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_CLR_FD, 0));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_SET_CAPACITY, 0));
}

TEST_F(compat, old_status_roundtrip)
{
	unsigned int base = default_bind_flags();
	struct loop_info old;
	struct stat st;

	ASSERT_EQ(-ENXIO, get_old(self->fd, &old));
	ASSERT_EQ(0, configure(self->fd, self->bfd, 0, 2 << 20, 0, 512));
	ASSERT_EQ(0, fstat(self->bfd, &st));
	/* the 16-bit lo_device of the i386 struct cannot hold every dev_t */
	if (enc_dev(st.st_dev) > 0xffff)
		SKIP(return, "backing st_dev %#llx needs more than 16 bits",
		     enc_dev(st.st_dev));

	ASSERT_EQ(0, get_old(self->fd, &old));
	EXPECT_EQ(TEST_NR, old.lo_number);
	EXPECT_EQ(0, old.lo_offset);
	EXPECT_EQ(base, (unsigned int)old.lo_flags);
	EXPECT_EQ(enc_dev(st.st_dev), (unsigned long long)old.lo_device);
	EXPECT_EQ((unsigned long long)st.st_ino,
		  (unsigned long long)old.lo_inode);
	EXPECT_STREQ("compat32-config", old.lo_name);
	EXPECT_EQ(0, old.lo_encrypt_type);
	EXPECT_EQ(0, old.lo_encrypt_key_size);

	/* old SET_STATUS: offset, name, AUTOCLEAR; sizelimit becomes 0 */
	memset(&old, 0, sizeof(old));
	old.lo_offset = 4096;
	old.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_READ_ONLY;
	strcpy(old.lo_name, "old-status-name");
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_STATUS,
			       (unsigned long)&old));
	ASSERT_EQ(0, get_old(self->fd, &old));
	EXPECT_EQ(4096, old.lo_offset);
	EXPECT_EQ(LO_FLAGS_AUTOCLEAR | base, (unsigned int)old.lo_flags);
	EXPECT_STREQ("old-status-name", old.lo_name);
	EXPECT_EQ(0, sysfs_read_ll(TEST_NR, "loop/sizelimit"));
	EXPECT_EQ(4096, sysfs_read_ll(TEST_NR, "loop/offset"));
	EXPECT_EQ(1, sysfs_read_ll(TEST_NR, "loop/autoclear"));
	EXPECT_EQ(SECTORS(BACKING_SIZE - 4096),
		  sysfs_read_ll(TEST_NR, "size"));

	/* and AUTOCLEAR can be cleared again */
	old.lo_flags = 0;
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_STATUS,
			       (unsigned long)&old));
	ASSERT_EQ(0, get_old(self->fd, &old));
	EXPECT_EQ(base, (unsigned int)old.lo_flags);
	EXPECT_EQ(0, sysfs_read_ll(TEST_NR, "loop/autoclear"));

	/* the name is truncated to LO_NAME_SIZE - 1 */
	memset(old.lo_name, 'n', sizeof(old.lo_name));
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_STATUS,
			       (unsigned long)&old));
	ASSERT_EQ(0, get_old(self->fd, &old));
	EXPECT_EQ(LO_NAME_SIZE - 1, strlen(old.lo_name));

	/* a negative offset sign-extends to more than LLONG_MAX */
	old.lo_offset = -1;
	EXPECT_EQ(-EOVERFLOW, ioctl_err(self->fd, LOOP_SET_STATUS,
					(unsigned long)&old));
	ASSERT_EQ(0, get_old(self->fd, &old));
	EXPECT_EQ(4096, old.lo_offset);
}

TEST_F(compat, old_status_eoverflow)
{
	struct loop_info64 info;
	struct loop_info old;
	__u64 big = (__u64)INT_MAX + 1 + 4096;

	ASSERT_EQ(0, ftruncate(self->bfd, big + (1 << 20)));
	ASSERT_EQ(0, configure(self->fd, self->bfd, 0, 0, 0, 512));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	info.lo_offset = big;
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_STATUS64,
			       (unsigned long)&info));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	EXPECT_EQ(big, info.lo_offset);
	EXPECT_EQ(SECTORS(1 << 20), sysfs_read_ll(TEST_NR, "size"));
	EXPECT_EQ(-EOVERFLOW, get_old(self->fd, &old));

	/* INT_MAX itself still fits */
	info.lo_offset = INT_MAX;
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_STATUS64,
			       (unsigned long)&info));
	ASSERT_EQ(0, get_old(self->fd, &old));
	EXPECT_EQ(INT_MAX, old.lo_offset);
}

TEST_F(compat, capacity_blocksize_dio_clr)
{
	struct loop_info64 info;
	int ret;

	ASSERT_EQ(0, configure(self->fd, self->bfd, 0, 0, 0, 512));
	EXPECT_EQ(SECTORS(BACKING_SIZE), sysfs_read_ll(TEST_NR, "size"));

	/* the file grows: SET_CAPACITY follows */
	ASSERT_EQ(0, ftruncate(self->bfd, 2 * BACKING_SIZE));
	EXPECT_EQ(SECTORS(BACKING_SIZE), sysfs_read_ll(TEST_NR, "size"));
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_CAPACITY, 0));
	EXPECT_EQ(SECTORS(2 * BACKING_SIZE), sysfs_read_ll(TEST_NR, "size"));

	/* block size */
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 4096));
	EXPECT_EQ(4096, sysfs_read_ll(TEST_NR, "queue/logical_block_size"));
	EXPECT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 1000));
	EXPECT_EQ(4096, sysfs_read_ll(TEST_NR, "queue/logical_block_size"));
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_BLOCK_SIZE, 512));
	EXPECT_EQ(512, sysfs_read_ll(TEST_NR, "queue/logical_block_size"));

	/* direct I/O on the ext4 backing file */
	ret = ioctl_err(self->fd, LOOP_SET_DIRECT_IO, 1);
	ASSERT_EQ(0, ret) TH_LOG("LOOP_SET_DIRECT_IO 1: %s", strerror(-ret));
	EXPECT_EQ(1, sysfs_read_ll(TEST_NR, "loop/dio"));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	EXPECT_EQ(LO_FLAGS_DIRECT_IO, info.lo_flags & LO_FLAGS_DIRECT_IO);
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_SET_DIRECT_IO, 0));
	EXPECT_EQ(0, sysfs_read_ll(TEST_NR, "loop/dio"));

	/* detach, then the same calls on an unbound device */
	ASSERT_EQ(0, loop_clr_fd_now(self->fd, TEST_NR));
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(0, wait_unbound(TEST_NR, 10000));
	self->fd = loop_open(TEST_NR, O_RDWR);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(-ENXIO, loop_get_status64(self->fd, &info));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_CLR_FD, 0));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_SET_CAPACITY, 0));
	EXPECT_EQ(-ENXIO, ioctl_err(self->fd, LOOP_SET_DIRECT_IO, 1));
	EXPECT_EQ(0, sysfs_read_ll(TEST_NR, "size"));
}

static const __u8 xor_key[5] = { 0x11, 0x2e, 0x5c, 0xa3, 0xf0 };

/*
 * In a child that has become uid 65534: set an XOR key (and so own it),
 * read the status with the 32-bit LOOP_GET_STATUS (which shows the key
 * size, not the key), write it back with AUTOCLEAR added, and write 4 KiB
 * of 'A' at 8192.  0, or the number of the step that failed.
 */
static int owner_old_roundtrip(int fd)
{
	static const __u8 zero[LO_KEY_SIZE];
	struct loop_info64 info;
	struct loop_info old;
	char buf[4096];

	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return 1;
	if (loop_get_status64(fd, &info))
		return 2;
	info.lo_encrypt_type = LO_CRYPT_XOR;
	info.lo_encrypt_key_size = sizeof(xor_key);
	memcpy(info.lo_encrypt_key, xor_key, sizeof(xor_key));
	if (ioctl(fd, LOOP_SET_STATUS64, &info))
		return 3;
	if (get_old(fd, &old))
		return 4;
	if (old.lo_encrypt_key_size != sizeof(xor_key) ||
	    memcmp(old.lo_encrypt_key, zero, LO_KEY_SIZE))
		return 5;
	old.lo_flags |= LO_FLAGS_AUTOCLEAR;
	if (ioctl(fd, LOOP_SET_STATUS, &old))
		return 6;
	memset(buf, 'A', sizeof(buf));
	if (pwrite_full(fd, buf, sizeof(buf), 8192) != sizeof(buf) ||
	    fsync(fd))
		return 7;
	return 0;
}

/*
 * The 32-bit LOOP_GET_STATUS and LOOP_SET_STATUS of the same structure by
 * a key owner without CAP_SYS_ADMIN must keep the key it was not shown:
 * the 'A's it writes after reach the file XORed with it.
 */
TEST_F(compat, old_status_roundtrip_keeps_key)
{
	struct loop_info64 info;
	char raw[4096];
	int status, i;
	pid_t pid;

	if (stock_driver())
		SKIP(return, "the stock driver has no transfers");
	ASSERT_EQ(0, configure(self->fd, self->bfd, 0, 0, 0, 512));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(owner_old_roundtrip(self->fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));

	ASSERT_EQ((ssize_t)sizeof(raw), pread_full(self->bfd, raw, sizeof(raw),
						   8192));
	for (i = 0; i < (int)sizeof(raw); i++)
		ASSERT_EQ('A' ^ xor_key[((8192 + i) % 512) % sizeof(xor_key)],
			  (__u8)raw[i]) TH_LOG("backing file byte %d", i);
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	EXPECT_EQ(LO_CRYPT_XOR, info.lo_encrypt_type);
	EXPECT_EQ(0, memcmp(info.lo_encrypt_key, xor_key, sizeof(xor_key)));
	EXPECT_TRUE(info.lo_flags & LO_FLAGS_AUTOCLEAR);
}

/*
 * Bind the fixture's file with aes-xts-plain64 and only the first
 * LO_KEY_SIZE bytes of a 64-byte key, then complete the key with
 * cryptoloop's own ioctl from this 32-bit process.
 */
static int bind_xts(int fd, int bfd, const __u8 *key)
{
	struct loop_crypto_key k;
	struct loop_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = bfd;
	cfg.info.lo_encrypt_type = LO_CRYPT_CRYPTOAPI;
	strcpy((char *)cfg.info.lo_crypt_name, "aes-xts-plain64");
	memcpy(cfg.info.lo_encrypt_key, key, LO_KEY_SIZE);
	cfg.info.lo_encrypt_key_size = LO_KEY_SIZE;
	cfg.info.lo_init[0] = sizeof(k.key);
	if (ioctl(fd, LOOP_CONFIGURE, &cfg))
		return -errno;
	k.key_size = sizeof(k.key);
	memcpy(k.key, key, sizeof(k.key));
	return ioctl(fd, LOOP_CRYPTO_SET_KEY, &k) ? -errno : 0;
}

static int rebind(int *fd, int bfd, const __u8 *key)
{
	int err = loop_detach_reopen(fd, TEST_NR, O_RDWR);

	return err ? err : bind_xts(*fd, bfd, key);
}

/*
 * A transfer's own ioctls reach it from 32-bit callers too: the full key
 * given through LOOP_CRYPTO_SET_KEY here decides what the device reads
 * (its second half, which no other call carries, included).  Without a
 * transfer taking it, an unknown command is ENOTTY, as for the stock
 * driver.
 */
TEST_F(compat, transfer_ioctl)
{
	static char buf[4096], back[4096];
	const ssize_t n = sizeof(buf);
	struct loop_crypto_key k;
	__u8 key[64], key2[64];
	bool loaded;
	int i;

	EXPECT_EQ(-ENOTTY, ioctl_err(self->fd, LOOP_CRYPTO_SET_KEY, 0));
	if (stock_driver())
		SKIP(return, "the stock driver has no transfers");
	ASSERT_EQ(0, load_cryptoloop(&loaded));
	for (i = 0; i < 64; i++)
		key[i] = i * 7 + 1;
	memcpy(key2, key, sizeof(key));
	key2[63] ^= 0x80;
	memset(buf, 0x3c, sizeof(buf));

	ASSERT_EQ(0, bind_xts(self->fd, self->bfd, key));
	EXPECT_EQ(-EFAULT, ioctl_err(self->fd, LOOP_CRYPTO_SET_KEY, 1));
	/* not one of the transfer's commands: as if it had none */
	EXPECT_EQ(-ENOTTY, ioctl_err(self->fd, _IO('L', 0x4f), 0));
	memset(&k, 0, sizeof(k));
	k.key_size = 65;
	EXPECT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_CRYPTO_SET_KEY,
				     (unsigned long)&k));
	ASSERT_EQ(n, pwrite_full(self->fd, buf, n, 8192));
	ASSERT_EQ(0, fsync(self->fd));
	ASSERT_EQ(n, pread_full(self->bfd, back, n, 8192));
	EXPECT_NE(0, memcmp(buf, back, sizeof(buf)));

	/* the tweak key differs in one bit: the data must not decode */
	ASSERT_EQ(0, rebind(&self->fd, self->bfd, key2));
	ASSERT_EQ(n, pread_full(self->fd, back, n, 8192));
	EXPECT_NE(0, memcmp(buf, back, sizeof(buf)));

	ASSERT_EQ(0, rebind(&self->fd, self->bfd, key));
	ASSERT_EQ(n, pread_full(self->fd, back, n, 8192));
	EXPECT_EQ(0, memcmp(buf, back, sizeof(buf)));

	ASSERT_EQ(0, loop_detach_reopen(&self->fd, TEST_NR, O_RDWR));
	if (loaded)
		EXPECT_EQ(0, system("rmmod cryptoloop"));
}

TEST(control)
{
	int ctl, nr, free_nr;

	ctl = ctl_open();
	ASSERT_LE(0, ctl);

	/* a leftover of a crashed earlier run */
	loop_force_detach(TEST_NR2);
	ctl_remove_retry(ctl, TEST_NR2);
	EXPECT_EQ(-ENODEV, ioctl_err(ctl, LOOP_CTL_REMOVE, TEST_NR2));

	nr = ioctl(ctl, LOOP_CTL_ADD, TEST_NR2);
	ASSERT_EQ(TEST_NR2, nr);
	EXPECT_EQ(1, sysfs_exists(TEST_NR2, "size"));
	EXPECT_EQ(0, loop_is_bound_sysfs(TEST_NR2));
	EXPECT_EQ(-EEXIST, ioctl_err(ctl, LOOP_CTL_ADD, TEST_NR2));

	free_nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	ASSERT_LE(0, free_nr);
	EXPECT_EQ(1, sysfs_exists(free_nr, "size"));
	EXPECT_EQ(0, loop_is_bound_sysfs(free_nr));

	EXPECT_EQ(0, ctl_remove_retry(ctl, TEST_NR2));
	EXPECT_EQ(0, sysfs_exists(TEST_NR2, "size"));
	EXPECT_EQ(-ENODEV, ioctl_err(ctl, LOOP_CTL_REMOVE, TEST_NR2));
	close(ctl);
}

TEST_HARNESS_MAIN
