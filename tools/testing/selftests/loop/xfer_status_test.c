// SPDX-License-Identifier: GPL-2.0
/*
 * A status read and written back leaves the transfer alone.  What systemd,
 * libblockdev and losetup do to change a flag, LOOP_GET_STATUS* and then
 * LOOP_SET_STATUS* of the same structure with the flag changed, must not
 * re-key the device: not with the zeroes that a key owner without
 * CAP_SYS_ADMIN is shown in place of the key, not with the first 32 bytes
 * of a longer cryptoloop key.  A status that does ask for another transfer
 * still gets it.  And no status or key ioctl may wait for I/O on the
 * device while its queue is frozen: here the structures they read live in
 * a file, not yet in memory, on a file system on the very device.
 *
 * What reaches the backing file is checked byte for byte: the 2.6 XOR
 * format (device byte d stored as plain ^ key[(d % 512) % key_size]), and
 * for aes-xts-plain64 a decryption done here with the kernel's AF_ALG
 * interface, independent of the loop driver.
 *
 * The stock driver has no transfers: with LOOP_STOCK=1 everything skips.
 */
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <linux/if_alg.h>
#include <linux/loop_crypto.h>

#include "loop_util.h"
#include "loop_harness.h"

#define XS_NR		238		/* see TEST_NR in ioctl_test.c */
#define FILE_SIZE	(4 << 20)
#define FILE_SEED	5
#define DATA_SEED	17
#define DATA_POS	8192		/* where data is written, device bytes */
#define DATA_LEN	4096
#define NOBODY		65534
#define HANG_SECONDS	60		/* a stuck ioctl: a deadlock */

static const uint8_t key_a[7] = { 0x13, 0x57, 0x9b, 0xdf, 0x24, 0x68, 0xac };
static const uint8_t key_b[7] = { 0xf1, 0xe2, 0xd3, 0xc4, 0xb5, 0xa6, 0x97 };

/* Which status structure a round trip goes through. */
enum form { FORM_64, FORM_OLD };

/* Detach and remove XS_NR, drop the backing file, unload what we loaded. */
static void xs_release(int ctl, int fd, int bfd, const char *file,
		       bool loaded)
{
	if (fd >= 0) {
		ioctl(fd, LOOP_CLR_FD, 0);
		close(fd);
	}
	loop_force_detach(XS_NR);
	ctl_remove_retry(ctl, XS_NR);
	if (bfd >= 0) {
		close(bfd);
		unlink(file);
	}
	if (loaded && system("rmmod cryptoloop"))
		fprintf(stderr, "# rmmod cryptoloop failed\n");
	close(ctl);
}

FIXTURE(xs) {
	int ctl;
	int fd;			/* /dev/loopN, O_RDWR */
	int bfd;		/* backing file */
	char file[PATH_MAX];
	bool loaded;		/* we insmod'ed cryptoloop */
};

FIXTURE_SETUP(xs)
{
	self->fd = -1;
	self->bfd = -1;
	self->loaded = false;
	self->ctl = ctl_open();
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(XS_NR, ctl_add_fixed(self->ctl, XS_NR));
	self->fd = loop_open(XS_NR, O_RDWR);
	ASSERT_LE(0, self->fd);
	self->bfd = make_backing(self->file, sizeof(self->file), FILE_SIZE,
				 FILE_SEED);
	ASSERT_LE(0, self->bfd);
}

FIXTURE_TEARDOWN(xs)
{
	xs_release(self->ctl, self->fd, self->bfd, self->file, self->loaded);
}

static int configure(int fd, int bfd, const struct loop_info64 *info)
{
	struct loop_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = bfd;
	cfg.info = *info;
	return ioctl(fd, LOOP_CONFIGURE, &cfg) ? -errno : 0;
}

static int set_status64(int fd, const struct loop_info64 *info)
{
	return ioctl(fd, LOOP_SET_STATUS64, info) ? -errno : 0;
}

/* Give a bound device an XOR key (and a cipher name XOR ignores). */
static int set_xor_key(int fd, const uint8_t *key, size_t size)
{
	struct loop_info64 info;
	int err = loop_get_status64(fd, &info);

	if (err)
		return err;
	info_set_key(&info, LO_CRYPT_XOR, key, size);
	strcpy((char *)info.lo_crypt_name, "xor-name");
	return set_status64(fd, &info);
}

/*
 * GET_STATUS then SET_STATUS of the same structure with AUTOCLEAR added,
 * through @form.  @shown receives what GET_STATUS64 showed (for FORM_OLD:
 * translated here, for the checks).
 */
static int roundtrip(int fd, enum form form, struct loop_info64 *shown)
{
	struct loop_info old;
	struct loop_info64 info;

	if (form == FORM_64) {
		if (loop_get_status64(fd, &info))
			return -errno;
		*shown = info;
		info.lo_flags |= LO_FLAGS_AUTOCLEAR;
		return set_status64(fd, &info);
	}
	memset(&old, 0, sizeof(old));
	if (ioctl(fd, LOOP_GET_STATUS, &old))
		return -errno;
	memset(shown, 0, sizeof(*shown));
	shown->lo_encrypt_type = old.lo_encrypt_type;
	shown->lo_encrypt_key_size = old.lo_encrypt_key_size;
	memcpy(shown->lo_encrypt_key, old.lo_encrypt_key, LO_KEY_SIZE);
	old.lo_flags |= LO_FLAGS_AUTOCLEAR;
	return ioctl(fd, LOOP_SET_STATUS, &old) ? -errno : 0;
}

/* Write DATA_LEN bytes of 'A' at DATA_POS through the device, to the file. */
static int write_a(int fd)
{
	uint8_t buf[DATA_LEN];

	memset(buf, 'A', sizeof(buf));
	if (pwrite_full(fd, buf, sizeof(buf), DATA_POS) != sizeof(buf))
		return -EIO;
	return fsync(fd) ? -errno : 0;
}

/* Zero the backing file where write_a() writes: every check starts anew. */
static int clear_data(int bfd)
{
	static const uint8_t zero[DATA_LEN];

	return pwrite_full(bfd, zero, DATA_LEN, DATA_POS) == DATA_LEN ?
	       0 : -EIO;
}

/*
 * Index of the first byte of the backing file's data at DATA_POS that is
 * not 'A' XOR @key (@size bytes; none: 'A' itself), or -1.
 */
static long long raw_mismatch(int bfd, const uint8_t *key, size_t size)
{
	uint8_t raw[DATA_LEN];
	size_t i;

	if (pread_full(bfd, raw, sizeof(raw), DATA_POS) != sizeof(raw))
		return -2;
	for (i = 0; i < sizeof(raw); i++) {
		uint64_t d = DATA_POS + i;
		uint8_t k = size ? key[(d % 512) % size] : 0;

		if (raw[i] != ('A' ^ k))
			return i;
	}
	return -1;
}

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Steps of child_owner_roundtrip(); the exit code names the failed one. */
enum {
	OWN_OK, OWN_UID, OWN_SETKEY, OWN_ROUNDTRIP, OWN_SHOWN, OWN_WRITE,
	OWN_REKEY,
};

/*
 * As uid 65534 (no capabilities), with the device open for writing: set
 * an XOR key, check that the status hides it, do the round trip and write.
 * With @rekey, the round trip instead writes back @rekey (7 bytes) as the
 * key: a change, which must take effect.
 */
static int child_owner_roundtrip(int fd, enum form form, const uint8_t *rekey)
{
	static const uint8_t zero[LO_KEY_SIZE];
	struct loop_info64 shown, info;
	struct loop_info old;

	if (setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return OWN_UID;
	if (set_xor_key(fd, key_a, sizeof(key_a)))
		return OWN_SETKEY;
	if (rekey && form == FORM_64) {
		if (loop_get_status64(fd, &info))
			return OWN_ROUNDTRIP;
		shown = info;
		memcpy(info.lo_encrypt_key, rekey, sizeof(key_a));
		if (set_status64(fd, &info))
			return OWN_REKEY;
	} else if (rekey) {
		memset(&old, 0, sizeof(old));
		if (ioctl(fd, LOOP_GET_STATUS, &old))
			return OWN_ROUNDTRIP;
		shown.lo_encrypt_key_size = old.lo_encrypt_key_size;
		memcpy(shown.lo_encrypt_key, old.lo_encrypt_key, LO_KEY_SIZE);
		memcpy(old.lo_encrypt_key, rekey, sizeof(key_a));
		if (ioctl(fd, LOOP_SET_STATUS, &old))
			return OWN_REKEY;
	} else if (roundtrip(fd, form, &shown)) {
		return OWN_ROUNDTRIP;
	}
	/* What makes the round trip dangerous: the size, but no key. */
	if (shown.lo_encrypt_key_size != sizeof(key_a) ||
	    memcmp(shown.lo_encrypt_key, zero, LO_KEY_SIZE))
		return OWN_SHOWN;
	if (write_a(fd))
		return OWN_WRITE;
	return OWN_OK;
}

static const char *form_name(enum form form)
{
	return form == FORM_64 ? "LOOP_*_STATUS64" : "LOOP_*_STATUS";
}

/*
 * (a) The round trip by a key owner without CAP_SYS_ADMIN, through both
 * structures: the key it was not shown stays in force, and so does the
 * owner; AUTOCLEAR is set.
 */
TEST_F(xs, owner_roundtrip_keeps_key)
{
	struct loop_info64 info;
	enum form form;
	long long bad;
	pid_t pid;

	memset(&info, 0, sizeof(info));
	for (form = FORM_64; form <= FORM_OLD; form++) {
		ASSERT_EQ(0, clear_data(self->bfd));
		ASSERT_EQ(0, configure(self->fd, self->bfd, &info));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(child_owner_roundtrip(self->fd, form, NULL));
		ASSERT_EQ(OWN_OK, wait_child(pid)) TH_LOG("%s", form_name(form));

		bad = raw_mismatch(self->bfd, key_a, sizeof(key_a));
		ASSERT_EQ(-1, bad)
			TH_LOG("%s: backing file byte %lld is not 'A' ^ key",
			       form_name(form), bad);
		ASSERT_EQ(0, loop_get_status64(self->fd, &info));
		ASSERT_EQ(LO_CRYPT_XOR, info.lo_encrypt_type);
		ASSERT_EQ(sizeof(key_a), info.lo_encrypt_key_size);
		ASSERT_EQ(0, memcmp(info.lo_encrypt_key, key_a, sizeof(key_a)));
		ASSERT_STREQ("xor-name", (char *)info.lo_crypt_name);
		ASSERT_TRUE(info.lo_flags & LO_FLAGS_AUTOCLEAR);

		/* Still the owner's: another user is refused. */
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(setresuid(1000, 1000, 1000) ? 1 :
			      set_status64(self->fd, &info) == -EPERM ? 0 : 2);
		ASSERT_EQ(0, wait_child(pid));

		info.lo_flags &= ~LO_FLAGS_AUTOCLEAR;
		ASSERT_EQ(0, set_status64(self->fd, &info));
		ASSERT_EQ(0, loop_detach_reopen(&self->fd, XS_NR, O_RDWR));
		memset(&info, 0, sizeof(info));
	}
}

/* (a) The same as root, who is shown the key. */
TEST_F(xs, root_roundtrip_keeps_key)
{
	struct loop_info64 info, shown;
	enum form form;
	long long bad;

	for (form = FORM_64; form <= FORM_OLD; form++) {
		ASSERT_EQ(0, clear_data(self->bfd));
		memset(&info, 0, sizeof(info));
		info_set_key(&info, LO_CRYPT_XOR, key_b, sizeof(key_b));
		ASSERT_EQ(0, configure(self->fd, self->bfd, &info));
		ASSERT_EQ(0, roundtrip(self->fd, form, &shown));
		ASSERT_EQ(sizeof(key_b), shown.lo_encrypt_key_size);
		ASSERT_EQ(0, memcmp(shown.lo_encrypt_key, key_b,
				    sizeof(key_b)));
		ASSERT_EQ(0, write_a(self->fd));
		bad = raw_mismatch(self->bfd, key_b, sizeof(key_b));
		ASSERT_EQ(-1, bad)
			TH_LOG("%s: backing file byte %lld is not 'A' ^ key",
			       form_name(form), bad);
		ASSERT_EQ(0, loop_get_status64(self->fd, &info));
		ASSERT_TRUE(info.lo_flags & LO_FLAGS_AUTOCLEAR);
		info.lo_flags &= ~LO_FLAGS_AUTOCLEAR;
		ASSERT_EQ(0, set_status64(self->fd, &info));
		ASSERT_EQ(0, loop_detach_reopen(&self->fd, XS_NR, O_RDWR));
	}
}

/*
 * (c) A status that asks for another transfer gets it: another key from
 * the owner, another key from root, zeroes from root (who was shown the
 * real key, so they are a key, not the hidden one), another type.
 */
TEST_F(xs, changed_transfer_rekeys)
{
	static const uint8_t zero[sizeof(key_a)];
	struct loop_info64 info;
	enum form form;
	pid_t pid;

	for (form = FORM_64; form <= FORM_OLD; form++) {
		ASSERT_EQ(0, clear_data(self->bfd));
		memset(&info, 0, sizeof(info));
		ASSERT_EQ(0, configure(self->fd, self->bfd, &info));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(child_owner_roundtrip(self->fd, form, key_b));
		ASSERT_EQ(OWN_OK, wait_child(pid)) TH_LOG("%s", form_name(form));
		ASSERT_EQ(-1, raw_mismatch(self->bfd, key_b, sizeof(key_b)))
			TH_LOG("owner, %s", form_name(form));
		ASSERT_EQ(0, loop_detach_reopen(&self->fd, XS_NR, O_RDWR));
	}

	memset(&info, 0, sizeof(info));
	info_set_key(&info, LO_CRYPT_XOR, key_a, sizeof(key_a));
	ASSERT_EQ(0, configure(self->fd, self->bfd, &info));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	memcpy(info.lo_encrypt_key, key_b, sizeof(key_b));
	ASSERT_EQ(0, set_status64(self->fd, &info));
	ASSERT_EQ(0, clear_data(self->bfd));
	ASSERT_EQ(0, write_a(self->fd));
	ASSERT_EQ(-1, raw_mismatch(self->bfd, key_b, sizeof(key_b)));

	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	memset(info.lo_encrypt_key, 0, LO_KEY_SIZE);
	ASSERT_EQ(0, set_status64(self->fd, &info));
	ASSERT_EQ(0, clear_data(self->bfd));
	ASSERT_EQ(0, write_a(self->fd));
	ASSERT_EQ(-1, raw_mismatch(self->bfd, zero, sizeof(zero)));

	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	info_set_key(&info, LO_CRYPT_NONE, NULL, 0);
	ASSERT_EQ(0, set_status64(self->fd, &info));
	ASSERT_EQ(0, clear_data(self->bfd));
	ASSERT_EQ(0, write_a(self->fd));
	ASSERT_EQ(-1, raw_mismatch(self->bfd, NULL, 0));
}

/* ---- cryptoloop with a 64-byte key ---- */

static const char xts_name[] = "aes-xts-plain64";

static void xts_key(uint8_t *key)
{
	int i;

	for (i = 0; i < LOOP_CRYPTO_MAX_KEY_SIZE; i++)
		key[i] = i * 29 + 3;
}

/* Bind with aes-xts-plain64 and the 64-byte @key, in the two steps. */
static int bind_xts(int fd, int bfd, const uint8_t *key)
{
	struct loop_crypto_key k;
	struct loop_info64 info;
	int err;

	memset(&info, 0, sizeof(info));
	info_set_key(&info, LO_CRYPT_CRYPTOAPI, key, LO_KEY_SIZE);
	strcpy((char *)info.lo_crypt_name, xts_name);
	info.lo_init[0] = LOOP_CRYPTO_MAX_KEY_SIZE;
	err = configure(fd, bfd, &info);
	if (err)
		return err;
	k.key_size = LOOP_CRYPTO_MAX_KEY_SIZE;
	memcpy(k.key, key, sizeof(k.key));
	return ioctl(fd, LOOP_CRYPTO_SET_KEY, &k) ? -errno : 0;
}

/*
 * Decrypt @len bytes of aes-xts-plain64 at device sector @sector with
 * AF_ALG, the kernel's crypto API from userspace.  0 or -errno.
 */
static int xts_decrypt(const uint8_t *key, const uint8_t *in, uint8_t *out,
		       size_t len, uint64_t sector)
{
	struct sockaddr_alg sa = {
		.salg_family = AF_ALG,
		.salg_type = "skcipher",
		.salg_name = "xts(aes)",
	};
	int tfm, op = -1, err = 0, i;
	size_t done;

	tfm = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (tfm < 0)
		return -errno;
	if (bind(tfm, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(tfm, SOL_ALG, ALG_SET_KEY, key,
		       LOOP_CRYPTO_MAX_KEY_SIZE)) {
		err = -errno;
		goto out;
	}
	op = accept4(tfm, NULL, NULL, SOCK_CLOEXEC);
	if (op < 0) {
		err = -errno;
		goto out;
	}
	for (done = 0; done < len; done += 512, sector++) {
		char cbuf[CMSG_SPACE(sizeof(uint32_t)) +
			  CMSG_SPACE(sizeof(struct af_alg_iv) + 16)] = { 0 };
		struct iovec iov = { (void *)(in + done), 512 };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		struct af_alg_iv *iv;
		uint32_t decrypt = ALG_OP_DECRYPT;

		c->cmsg_level = SOL_ALG;
		c->cmsg_type = ALG_SET_OP;
		c->cmsg_len = CMSG_LEN(sizeof(decrypt));
		memcpy(CMSG_DATA(c), &decrypt, sizeof(decrypt));
		c = CMSG_NXTHDR(&msg, c);
		c->cmsg_level = SOL_ALG;
		c->cmsg_type = ALG_SET_IV;
		c->cmsg_len = CMSG_LEN(sizeof(*iv) + 16);
		iv = (struct af_alg_iv *)CMSG_DATA(c);
		iv->ivlen = 16;
		/* plain64: the sector number, little-endian, zero-padded */
		for (i = 0; i < 16; i++)
			iv->iv[i] = i < 8 ? (uint8_t)(sector >> (8 * i)) : 0;
		if (sendmsg(op, &msg, 0) != 512 ||
		    read(op, out + done, 512) != 512) {
			err = errno ? -errno : -EIO;
			goto out;
		}
	}
out:
	if (op >= 0)
		close(op);
	close(tfm);
	return err;
}

/*
 * Check that the device reads @len bytes of pattern @seed at @pos past
 * its page cache, and that the backing file holds exactly their
 * aes-xts-plain64 encryption under the whole 64-byte @key.
 */
static void check_xts(struct __test_metadata *_metadata, int fd, int bfd,
		      const uint8_t *key, uint32_t seed, off_t pos, size_t len)
{
	static uint8_t buf[64 << 10], raw[64 << 10];
	int err;

	ASSERT_GE(sizeof(buf), len);
	ASSERT_EQ(0, ioctl(fd, BLKFLSBUF, 0));
	ASSERT_EQ((ssize_t)len, pread_full(fd, buf, len, pos))
		TH_LOG("reading the device: %s", strerror(errno));
	ASSERT_EQ(-1, pattern_check(buf, len, seed, pos));

	ASSERT_EQ((ssize_t)len, pread_full(bfd, raw, len, pos));
	ASSERT_NE(-1, pattern_check(raw, len, seed, pos));
	err = xts_decrypt(key, raw, buf, len, pos / 512);
	if (err) {
		TH_LOG("AF_ALG xts(aes) unavailable (%s): device check only",
		       strerror(-err));
		return;
	}
	ASSERT_EQ(-1, pattern_check(buf, len, seed, pos))
		TH_LOG("the backing file is not the data under the 64-byte key");
}

static int write_pattern(int fd, uint32_t seed, off_t pos, size_t len)
{
	static uint8_t buf[64 << 10];

	pattern_fill(buf, len, seed, pos);
	if (pwrite_full(fd, buf, len, pos) != (ssize_t)len)
		return -EIO;
	return fsync(fd) ? -errno : 0;
}

/*
 * (b) Root's round trip on a device with a 64-byte aes-xts-plain64 key,
 * which the status can only hold the first 32 bytes of: the device keeps
 * its whole key, and what it wrote before and after decrypts under it.
 */
TEST_F(xs, long_key_roundtrip_keeps_key)
{
	uint8_t key[LOOP_CRYPTO_MAX_KEY_SIZE];
	struct loop_info64 shown;
	struct loop_crypto_key k;
	enum form form;

	if (load_cryptoloop(&self->loaded))
		SKIP(return, "cryptoloop.ko cannot be loaded");
	xts_key(key);
	for (form = FORM_64; form <= FORM_OLD; form++) {
		ASSERT_EQ(0, bind_xts(self->fd, self->bfd, key));
		ASSERT_EQ(0, write_pattern(self->fd, DATA_SEED, 0, 32768));
		ASSERT_EQ(0, roundtrip(self->fd, form, &shown))
			TH_LOG("%s", form_name(form));
		ASSERT_EQ(LO_KEY_SIZE, shown.lo_encrypt_key_size);
		check_xts(_metadata, self->fd, self->bfd, key, DATA_SEED,
			  0, 32768);
		ASSERT_EQ(0, write_pattern(self->fd, DATA_SEED + 1, 65536,
					   32768));
		check_xts(_metadata, self->fd, self->bfd, key, DATA_SEED + 1,
			  65536, 32768);

		/* A key the device refuses changes nothing either. */
		memset(&k, 0, sizeof(k));
		k.key_size = LOOP_CRYPTO_MAX_KEY_SIZE - 1;
		memcpy(k.key, key, sizeof(k.key));
		ASSERT_EQ(-EINVAL, ioctl_err(self->fd, LOOP_CRYPTO_SET_KEY,
					     (unsigned long)&k));
		check_xts(_metadata, self->fd, self->bfd, key, DATA_SEED + 1,
			  65536, 32768);

		ASSERT_EQ(0, loop_get_status64(self->fd, &shown));
		shown.lo_flags &= ~LO_FLAGS_AUTOCLEAR;
		ASSERT_EQ(0, set_status64(self->fd, &shown));
		ASSERT_EQ(0, loop_detach_reopen(&self->fd, XS_NR, O_RDWR));
	}
}

/*
 * (c) With a long key, a status that changes anything of the transfer
 * (here the IV offset, lo_init[1]) sets it up anew: the device waits for
 * its long key again, failing I/O, and works once it has it.
 */
TEST_F(xs, long_key_changed_transfer_rekeys)
{
	uint8_t key[LOOP_CRYPTO_MAX_KEY_SIZE], *buf;
	struct loop_info64 info;
	struct loop_crypto_key k;
	void *p;
	int dfd;

	if (load_cryptoloop(&self->loaded))
		SKIP(return, "cryptoloop.ko cannot be loaded");
	xts_key(key);
	ASSERT_EQ(0, bind_xts(self->fd, self->bfd, key));
	ASSERT_EQ(0, write_pattern(self->fd, DATA_SEED, 0, 32768));
	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	info.lo_init[1] = 8;
	ASSERT_EQ(0, set_status64(self->fd, &info));

	ASSERT_EQ(0, posix_memalign(&p, 4096, 4096));
	buf = p;
	dfd = loop_open(XS_NR, O_RDONLY | O_DIRECT);
	ASSERT_LE(0, dfd);
	EXPECT_EQ(-1, pread(dfd, buf, 4096, 0));
	EXPECT_EQ(EIO, errno);
	k.key_size = LOOP_CRYPTO_MAX_KEY_SIZE;
	memcpy(k.key, key, sizeof(k.key));
	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_CRYPTO_SET_KEY,
			       (unsigned long)&k));
	EXPECT_EQ(4096, pread(dfd, buf, 4096, 0));
	close(dfd);
	/* Other IVs: what was written before does not decrypt the same. */
	EXPECT_NE(-1, pattern_check(buf, 4096, DATA_SEED, 0));
	free(buf);
}

/* ---- structures in a file on the device itself ---- */

FIXTURE(ondev) {
	int ctl;
	int fd;
	int bfd;
	char file[PATH_MAX];
	char mnt[PATH_MAX];
	bool mounted;
	bool hung;		/* an ioctl never returned: leave it all */
	bool loaded;
};

FIXTURE_SETUP(ondev)
{
	self->fd = -1;
	self->bfd = -1;
	self->mounted = false;
	self->hung = false;
	self->loaded = false;
	self->ctl = ctl_open();
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(XS_NR, ctl_add_fixed(self->ctl, XS_NR));
	self->fd = loop_open(XS_NR, O_RDWR);
	ASSERT_LE(0, self->fd);
	self->bfd = make_backing(self->file, sizeof(self->file), 32 << 20,
				 FILE_SEED);
	ASSERT_LE(0, self->bfd);
	strcpy(self->mnt, "/tmp/loop-xs.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->mnt));
}

FIXTURE_TEARDOWN(ondev)
{
	if (self->hung) {
		fprintf(stderr, "# not cleaning up after a stuck ioctl\n");
		return;
	}
	if (self->mounted)
		umount(self->mnt);
	rmdir(self->mnt);
	xs_release(self->ctl, self->fd, self->bfd, self->file, self->loaded);
}

/* mkfs.ext4 on the device and mount it. */
static int mount_on_device(const char *mnt)
{
	char cmd[PATH_MAX + 64];

	snprintf(cmd, sizeof(cmd),
		 "mkfs.ext4 -q -F -E nodiscard /dev/loop%d >/dev/null 2>&1",
		 XS_NR);
	if (system(cmd))
		return -1;
	snprintf(cmd, sizeof(cmd), "/dev/loop%d", XS_NR);
	return mount(cmd, mnt, "ext4", 0, NULL) ? -errno : 0;
}

/* e2fsck -fn of the (unmounted) device: 0 if it is clean. */
static int fsck_device(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "e2fsck -fn /dev/loop%d >/dev/null 2>&1",
		 XS_NR);
	return system(cmd);
}

/*
 * A file in @mnt holding @len bytes of @data, written out and dropped from
 * memory, then mapped, not touched: the first access to the mapping must
 * read it from the device.  The mapping, or NULL.
 */
static void *cold_mapping(const char *mnt, const void *data, size_t len)
{
	char path[PATH_MAX];
	unsigned char vec;
	void *p;
	int fd, drop;

	snprintf(path, sizeof(path), "%s/struct", mnt);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	if (pwrite_full(fd, data, len, 0) != (ssize_t)len ||
	    ftruncate(fd, 4096) || fsync(fd) ||
	    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)) {
		close(fd);
		return NULL;
	}
	sync();
	drop = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (drop >= 0) {
		if (write(drop, "3", 1) != 1)
			fprintf(stderr, "# drop_caches: %s\n", strerror(errno));
		close(drop);
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	/* Not in memory: the ioctl's copy will fault it in. */
	if (mincore(p, 4096, &vec) || (vec & 1)) {
		munmap(p, 4096);
		errno = EEXIST;
		return NULL;
	}
	return p;
}

/* Only there to make waitpid() fail with EINTR. */
static void on_alarm(int sig)
{
	(void)sig;
}

static const char *hang_msg(int err)
{
	return err == -ETIMEDOUT ? "did not return: deadlocked" :
	       strerror(-err);
}

/*
 * ioctl(@fd, @cmd, @arg) in a child, given HANG_SECONDS to return: 0 or
 * -errno as it returned, or -ETIMEDOUT if it did not (a deadlock; the
 * child is left where it is stuck).
 */
static int ioctl_bounded(int fd, unsigned long cmd, void *arg)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	int status, ret;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		_exit(ioctl(fd, cmd, arg) ? errno : 0);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: waitpid fails */
	alarm(HANG_SECONDS);
	ret = waitpid(pid, &status, 0);
	alarm(0);
	if (ret != pid)
		return errno == EINTR ? -ETIMEDOUT : -errno;
	if (!WIFEXITED(status))
		return -ECHILD;
	return -WEXITSTATUS(status);
}

/*
 * (d) LOOP_SET_STATUS64 and LOOP_SET_STATUS reading their structure from
 * a cold mapping of a file on ext4 on the device being changed, and
 * LOOP_GET_STATUS64 writing into one: each must return.
 */
TEST_F_TIMEOUT(ondev, status_from_file_on_device, 600)
{
	struct loop_info64 info;
	struct loop_info old;
	void *p;
	int err;

	memset(&info, 0, sizeof(info));
	info_set_key(&info, LO_CRYPT_XOR, key_a, sizeof(key_a));
	ASSERT_EQ(0, configure(self->fd, self->bfd, &info));
	ASSERT_EQ(0, mount_on_device(self->mnt));
	self->mounted = true;

	ASSERT_EQ(0, loop_get_status64(self->fd, &info));
	info.lo_flags |= LO_FLAGS_AUTOCLEAR;
	p = cold_mapping(self->mnt, &info, sizeof(info));
	ASSERT_NE(NULL, p) TH_LOG("cold mapping: %s", strerror(errno));
	err = ioctl_bounded(self->fd, LOOP_SET_STATUS64, p);
	self->hung = err == -ETIMEDOUT;
	ASSERT_EQ(0, err) TH_LOG("LOOP_SET_STATUS64: %s", hang_msg(err));
	munmap(p, 4096);

	ASSERT_EQ(0, ioctl_err(self->fd, LOOP_GET_STATUS, (unsigned long)&old));
	old.lo_flags &= ~LO_FLAGS_AUTOCLEAR;
	p = cold_mapping(self->mnt, &old, sizeof(old));
	ASSERT_NE(NULL, p) TH_LOG("cold mapping: %s", strerror(errno));
	err = ioctl_bounded(self->fd, LOOP_SET_STATUS, p);
	self->hung = err == -ETIMEDOUT;
	ASSERT_EQ(0, err) TH_LOG("LOOP_SET_STATUS: %s", hang_msg(err));
	munmap(p, 4096);

	memset(&info, 0, sizeof(info));
	p = cold_mapping(self->mnt, &info, sizeof(info));
	ASSERT_NE(NULL, p) TH_LOG("cold mapping: %s", strerror(errno));
	err = ioctl_bounded(self->fd, LOOP_GET_STATUS64, p);
	self->hung = err == -ETIMEDOUT;
	ASSERT_EQ(0, err) TH_LOG("LOOP_GET_STATUS64: %s", hang_msg(err));
	memcpy(&info, p, sizeof(info));
	munmap(p, 4096);
	ASSERT_EQ(LO_CRYPT_XOR, info.lo_encrypt_type);
	ASSERT_EQ(0, memcmp(info.lo_encrypt_key, key_a, sizeof(key_a)));
	ASSERT_FALSE(info.lo_flags & LO_FLAGS_AUTOCLEAR);

	/* The file system is intact: the transfer never changed. */
	ASSERT_EQ(0, umount(self->mnt));
	self->mounted = false;
	ASSERT_EQ(0, fsck_device());
}

/*
 * (d) cryptoloop's LOOP_CRYPTO_SET_KEY with its key in a cold mapping of
 * a file on ext4 on the device being re-keyed: it must return, and the
 * file system must still read (the same key went in).
 */
TEST_F_TIMEOUT(ondev, long_key_from_file_on_device, 600)
{
	uint8_t key[LOOP_CRYPTO_MAX_KEY_SIZE];
	struct loop_crypto_key k;
	void *p;
	int err;

	if (load_cryptoloop(&self->loaded))
		SKIP(return, "cryptoloop.ko cannot be loaded");
	xts_key(key);
	ASSERT_EQ(0, bind_xts(self->fd, self->bfd, key));
	ASSERT_EQ(0, mount_on_device(self->mnt));
	self->mounted = true;

	k.key_size = LOOP_CRYPTO_MAX_KEY_SIZE;
	memcpy(k.key, key, sizeof(k.key));
	p = cold_mapping(self->mnt, &k, sizeof(k));
	ASSERT_NE(NULL, p) TH_LOG("cold mapping: %s", strerror(errno));
	err = ioctl_bounded(self->fd, LOOP_CRYPTO_SET_KEY, p);
	self->hung = err == -ETIMEDOUT;
	ASSERT_EQ(0, err) TH_LOG("LOOP_CRYPTO_SET_KEY: %s", hang_msg(err));
	munmap(p, 4096);

	ASSERT_EQ(0, umount(self->mnt));
	self->mounted = false;
	ASSERT_EQ(0, fsck_device());
}

int main(int argc, char **argv)
{
	if (stock_driver()) {
		printf("1..1\n");
		printf("ok 1 xfer_status_test # SKIP the stock driver has no transfers\n");
		return 0;
	}
	return test_harness_run(argc, argv);
}
