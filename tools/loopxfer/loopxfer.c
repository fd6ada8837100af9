// SPDX-License-Identifier: GPL-2.0
/*
 * loopxfer: set up loop devices with a transfer (XOR, or a cipher of the
 * kernel crypto API through cryptoloop.ko), which util-linux's losetup no
 * longer does.  Keys are read from a file or standard input, never from
 * the command line.  See loopxfer.8 and --help.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/loop.h>
#include <linux/loop_crypto.h>

#define LOOP_CONTROL	"/dev/loop-control"

static const char *prog = "loopxfer";

/* The key, locked in memory and wiped at exit. */
static unsigned char key_buf[LOOP_CRYPTO_MAX_KEY_SIZE + 1];
static size_t key_len;

static void wipe_key(void)
{
	explicit_bzero(key_buf, sizeof(key_buf));
	key_len = 0;
}

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static noreturn void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static const char usage_text[] =
	"Usage:\n"
	"  %1$s attach [options] -e TRANSFER [KEY] FILE [DEVICE]\n"
	"  %1$s set    [options] -e TRANSFER [KEY] DEVICE\n"
	"  %1$s status DEVICE...\n"
	"  %1$s detach DEVICE...\n"
	"\n"
	"Attach FILE to a loop device (the first free one, or DEVICE) so that\n"
	"everything written to the device is transformed by TRANSFER on its way\n"
	"into FILE, and decoded on its way back; change the transfer of a device\n"
	"that is already attached; show a device's settings; detach devices.\n"
	"\n"
	"TRANSFER:\n"
	"  none                 no transformation\n"
	"  xor                  XOR with the key (obfuscation, NOT encryption)\n"
	"  CIPHER-MODE-IV       a cipher in dm-crypt's notation, through the\n"
	"                       cryptoloop module, e.g.\n"
	"                         aes-xts-plain64       (recommended)\n"
	"                         aes-cbc-essiv:sha256\n"
	"                         aes-cbc-plain         (the old cryptoloop format)\n"
	"                       The file is then readable with\n"
	"                         cryptsetup open --type plain --cipher CIPHER-MODE-IV\n"
	"                           --key-size BITS --key-file KEYFILE FILE NAME\n"
	"\n"
	"KEY (one of them is required for xor and the ciphers):\n"
	"  -k, --key-file FILE  read the key from FILE (\"-\" is standard input)\n"
	"      --key-stdin      read the key from standard input\n"
	"  -s, --key-size BITS  use the first BITS/8 bytes of the key file\n"
	"                       (default: 256 for ciphers, as cryptsetup's plain\n"
	"                       mode; for xor the whole file, at most 256 bits).\n"
	"                       AES-CBC takes 128, 192 or 256 bits, AES-XTS 256\n"
	"                       (AES-128) or 512 (AES-256); keys over 256 bits are\n"
	"                       loaded with the LOOP_CRYPTO_SET_KEY ioctl.\n"
	"  The key is used as it is, byte for byte: it is not a passphrase and is\n"
	"  not hashed.  Make one with e.g.\n"
	"    head -c 64 /dev/urandom > key && chmod 600 key\n"
	"\n"
	"Options for attach and set:\n"
	"  -o, --offset BYTES   data starts this far into FILE\n"
	"      --sizelimit BYTES  use at most this many bytes of FILE\n"
	"      --iv-offset SECTORS  add this to the sector number in the IV\n"
	"                       (cryptsetup's --skip; default 0)\n"
	"Options for attach only:\n"
	"  -b, --sector-size BYTES  logical block size of the device (512-4096)\n"
	"  -r, --read-only      attach read-only\n"
	"      --direct-io      bypass the page cache of FILE\n"
	"  -P, --partscan       scan the device for partitions\n"
	"\n"
	"BYTES may end in K, M, G or T (powers of 1024).  The device's name is\n"
	"printed after attach.  Keys are never printed by status.\n"
	"\n"
	"Examples:\n"
	"  %1$s attach -e aes-xts-plain64 --key-size 512 --key-file key disk.img\n"
	"  %1$s status /dev/loop0\n"
	"  %1$s detach /dev/loop0\n";

static void usage(FILE *out)
{
	fprintf(out, usage_text, prog);
}

/* A byte count: digits with an optional K/M/G/T suffix. */
static unsigned long long parse_size(const char *what, const char *s)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		die("bad %s: %s", what, s);
	switch (*end) {
	case 'K': case 'k':
		shift = 10;
		break;
	case 'M': case 'm':
		shift = 20;
		break;
	case 'G': case 'g':
		shift = 30;
		break;
	case 'T': case 't':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		die("bad %s: %s", what, s);
	}
	if (shift && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		die("bad %s: %s", what, s);
	if (shift && v > (~0ULL >> shift))
		die("%s too large: %s", what, s);
	return v << shift;
}

static unsigned int parse_bits(const char *s)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || !v || v > 8 * LOOP_CRYPTO_MAX_KEY_SIZE)
		die("bad --key-size %s: want bits, 8 to %d", s,
		    8 * LOOP_CRYPTO_MAX_KEY_SIZE);
	return v;
}

struct opts {
	const char *transfer;
	const char *key_file;
	unsigned int key_bits;
	unsigned long long offset, sizelimit, iv_offset;
	unsigned int block_size;
	bool set_offset, set_sizelimit, set_iv_offset;
	bool read_only, direct_io, partscan;
};

/* Read up to @max bytes from @fd into key_buf. */
static size_t read_key_fd(int fd, size_t max)
{
	size_t got = 0;

	while (got < max) {
		ssize_t n = read(fd, key_buf + got, max - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("cannot read the key: %s", strerror(errno));
		if (n == 0)
			break;
		got += n;
	}
	return got;
}

/* From a terminal: one line, not echoed, without its newline. */
static size_t read_key_tty(int fd, size_t max)
{
	struct termios old, quiet;
	size_t got = 0;
	char c;

	if (tcgetattr(fd, &old))
		die("cannot set up the terminal: %s", strerror(errno));
	quiet = old;
	quiet.c_lflag &= ~ECHO;
	fprintf(stderr, "Key (used as typed, not hashed): ");
	tcsetattr(fd, TCSAFLUSH, &quiet);
	while (read(fd, &c, 1) == 1 && c != '\n') {
		if (got < max)
			key_buf[got] = c;
		got++;
	}
	c = 0;
	tcsetattr(fd, TCSAFLUSH, &old);
	fputc('\n', stderr);
	if (got > max)
		die("the key typed is longer than %zu bytes", max);
	return got;
}

/*
 * Load the key: @bits/8 bytes, or (bits == 0) the default for the
 * transfer.  @is_xor: the default is the whole file, up to LO_KEY_SIZE.
 */
static void load_key(const struct opts *o, bool is_xor)
{
	size_t want, max;
	int fd;

	if (!o->key_file)
		die("transfer %s needs a key: give --key-file FILE or --key-stdin",
		    o->transfer);
	if (o->key_bits % 8 || o->key_bits > 8 * LOOP_CRYPTO_MAX_KEY_SIZE)
		die("--key-size must be a multiple of 8, at most %d",
		    8 * LOOP_CRYPTO_MAX_KEY_SIZE);
	if (is_xor && o->key_bits > 8 * LO_KEY_SIZE)
		die("xor keys are at most %d bits", 8 * LO_KEY_SIZE);

	want = o->key_bits / 8;
	if (!want && !is_xor)
		want = 32;
	/* For xor without a size: the whole file, and know if it is more. */
	max = want ? want : LO_KEY_SIZE + 1;

	if (!strcmp(o->key_file, "-")) {
		fd = STDIN_FILENO;
	} else {
		fd = open(o->key_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("cannot open key file %s: %s", o->key_file,
			    strerror(errno));
	}
	if (isatty(fd))
		key_len = read_key_tty(fd, max);
	else
		key_len = read_key_fd(fd, max);
	if (fd != STDIN_FILENO)
		close(fd);

	if (want && key_len < want)
		die("the key has %zu bytes, --key-size %u needs %zu",
		    key_len, o->key_bits ? o->key_bits : 256, want);
	if (!want && key_len > LO_KEY_SIZE)
		die("xor keys are at most %d bytes: give --key-size", LO_KEY_SIZE);
	if (!key_len)
		die("the key is empty");
}

/*
 * Fill the transfer part of @info from the options.  Returns true if the
 * key is too long for @info and must follow with LOOP_CRYPTO_SET_KEY.
 */
static bool fill_transfer(const struct opts *o, struct loop_info64 *info)
{
	bool is_xor = !strcmp(o->transfer, "xor");

	memset(info->lo_crypt_name, 0, sizeof(info->lo_crypt_name));
	explicit_bzero(info->lo_encrypt_key, sizeof(info->lo_encrypt_key));
	info->lo_encrypt_key_size = 0;
	info->lo_init[0] = 0;
	info->lo_init[1] = o->set_iv_offset ? o->iv_offset : 0;

	if (!strcmp(o->transfer, "none")) {
		if (o->key_file)
			die("transfer none takes no key");
		info->lo_encrypt_type = LO_CRYPT_NONE;
		info->lo_init[1] = 0;
		return false;
	}
	if (is_xor) {
		info->lo_encrypt_type = LO_CRYPT_XOR;
		info->lo_init[1] = 0;
	} else {
		if (!strchr(o->transfer, '-') ||
		    strlen(o->transfer) >= LO_NAME_SIZE)
			die("unknown transfer '%s' (see --help)", o->transfer);
		info->lo_encrypt_type = LO_CRYPT_CRYPTOAPI;
		strcpy((char *)info->lo_crypt_name, o->transfer);
	}

	load_key(o, is_xor);
	if (key_len <= LO_KEY_SIZE) {
		memcpy(info->lo_encrypt_key, key_buf, key_len);
		info->lo_encrypt_key_size = key_len;
		return false;
	}
	/* A long key: announce it, give its head, send it whole later. */
	memcpy(info->lo_encrypt_key, key_buf, LO_KEY_SIZE);
	info->lo_encrypt_key_size = LO_KEY_SIZE;
	info->lo_init[0] = key_len;
	return true;
}

/* LOOP_CRYPTO_SET_KEY with the whole key; 0 or an errno. */
static int set_long_key(int fd)
{
	struct loop_crypto_key k;
	int err = 0;

	memset(&k, 0, sizeof(k));
	k.key_size = key_len;
	memcpy(k.key, key_buf, key_len);
	if (ioctl(fd, LOOP_CRYPTO_SET_KEY, &k))
		err = errno;
	explicit_bzero(&k, sizeof(k));
	return err;
}

/* Explain the errors that the transfer layer gives. */
static const char *transfer_error(int err, const struct opts *o)
{
	if (err == EINVAL && strcmp(o->transfer, "none") &&
	    strcmp(o->transfer, "xor"))
		return "invalid argument (no cryptoloop.ko? unknown cipher? bad key size?)";
	if (err == EPERM)
		return "operation not permitted (the device's key belongs to another user)";
	return strerror(err);
}

static int open_device(const char *dev, int flags)
{
	int fd = open(dev, flags | O_CLOEXEC);

	if (fd < 0)
		die("cannot open %s: %s", dev, strerror(errno));
	return fd;
}

/* A free device from /dev/loop-control, opened. */
static int find_free(char *dev, size_t len, int flags)
{
	int ctl, nr, fd, tries;

	ctl = open(LOOP_CONTROL, O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		die("cannot open %s: %s", LOOP_CONTROL, strerror(errno));
	for (tries = 0; tries < 16; tries++) {
		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0)
			die("no free loop device: %s", strerror(errno));
		snprintf(dev, len, "/dev/loop%d", nr);
		fd = open(dev, flags | O_CLOEXEC);
		/* udev may not have made the node yet */
		if (fd < 0 && errno == ENOENT) {
			usleep(100000);
			fd = open(dev, flags | O_CLOEXEC);
		}
		if (fd >= 0) {
			close(ctl);
			return fd;
		}
		if (errno != EBUSY)
			die("cannot open %s: %s", dev, strerror(errno));
	}
	die("no free loop device could be opened");
}

static int cmd_attach(const struct opts *o, int argc, char **argv)
{
	struct loop_config cfg;
	char dev[PATH_MAX];
	int ffd, dfd, dflags;
	bool long_key;

	if (argc < 1 || argc > 2)
		die("attach wants FILE [DEVICE] (see --help)");
	if (!o->transfer)
		die("attach wants -e TRANSFER (none, xor or a cipher)");

	memset(&cfg, 0, sizeof(cfg));
	long_key = fill_transfer(o, &cfg.info);
	cfg.info.lo_offset = o->offset;
	cfg.info.lo_sizelimit = o->sizelimit;
	cfg.block_size = o->block_size;
	if (o->read_only)
		cfg.info.lo_flags |= LO_FLAGS_READ_ONLY;
	if (o->direct_io)
		cfg.info.lo_flags |= LO_FLAGS_DIRECT_IO;
	if (o->partscan)
		cfg.info.lo_flags |= LO_FLAGS_PARTSCAN;
	strncpy((char *)cfg.info.lo_file_name, argv[0], LO_NAME_SIZE - 1);

	ffd = open(argv[0], (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (ffd < 0)
		die("cannot open %s: %s", argv[0], strerror(errno));
	cfg.fd = ffd;

	dflags = o->read_only ? O_RDONLY : O_RDWR;
	if (argc == 2) {
		snprintf(dev, sizeof(dev), "%s", argv[1]);
		dfd = open_device(dev, dflags);
	} else {
		dfd = find_free(dev, sizeof(dev), dflags);
	}
	if (ioctl(dfd, LOOP_CONFIGURE, &cfg)) {
		int err = errno;

		explicit_bzero(&cfg, sizeof(cfg));
		die("%s: cannot attach %s: %s", dev, argv[0],
		    err == EBUSY ? "the device is in use" :
		    transfer_error(err, o));
	}
	explicit_bzero(&cfg, sizeof(cfg));
	close(ffd);

	if (long_key) {
		int err = set_long_key(dfd);

		/* Leave no device behind that has no usable key. */
		if (err) {
			ioctl(dfd, LOOP_CLR_FD, 0);
			die("%s: cannot load the %zu-byte key: %s", dev,
			    key_len, strerror(err));
		}
	}
	close(dfd);
	printf("%s\n", dev);
	return 0;
}

static int cmd_set(const struct opts *o, int argc, char **argv)
{
	struct loop_info64 info;
	bool long_key;
	int fd;

	if (argc != 1)
		die("set wants one DEVICE (see --help)");
	if (!o->transfer)
		die("set wants -e TRANSFER (none, xor or a cipher)");
	if (o->block_size || o->read_only || o->direct_io || o->partscan)
		die("-b, -r, --direct-io and -P are for attach only");

	fd = open_device(argv[0], O_RDWR);
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, LOOP_GET_STATUS64, &info))
		die("%s: %s", argv[0], errno == ENXIO ?
		    "not attached" : strerror(errno));
	long_key = fill_transfer(o, &info);
	if (o->set_offset)
		info.lo_offset = o->offset;
	if (o->set_sizelimit)
		info.lo_sizelimit = o->sizelimit;
	if (ioctl(fd, LOOP_SET_STATUS64, &info)) {
		int err = errno;

		explicit_bzero(&info, sizeof(info));
		die("%s: cannot set the transfer: %s", argv[0],
		    transfer_error(err, o));
	}
	explicit_bzero(&info, sizeof(info));
	if (long_key) {
		int err = set_long_key(fd);

		if (err)
			die("%s: no key loaded, I/O fails until one is: %s",
			    argv[0], strerror(err));
	}
	close(fd);
	return 0;
}

/* The first line of a sysfs attribute of the device, or "". */
static void read_sysfs(const char *dev, const char *attr, char *buf,
		       size_t len)
{
	char path[PATH_MAX];
	struct stat st;
	FILE *f;

	buf[0] = '\0';
	if (stat(dev, &st) || !S_ISBLK(st.st_mode))
		return;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s",
		 major(st.st_rdev), minor(st.st_rdev), attr);
	f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(buf, len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static const char *transfer_name(unsigned int type)
{
	switch (type) {
	case LO_CRYPT_NONE:
		return "none";
	case LO_CRYPT_XOR:
		return "xor";
	case LO_CRYPT_CRYPTOAPI:
		return "cryptoapi";
	default:
		return "unknown";
	}
}

static int show_status(const char *dev)
{
	struct loop_info64 info;
	char buf[PATH_MAX];
	static const struct {
		unsigned int flag;
		const char *name;
	} flags[] = {
		{ LO_FLAGS_READ_ONLY, "read-only" },
		{ LO_FLAGS_AUTOCLEAR, "autoclear" },
		{ LO_FLAGS_PARTSCAN, "partscan" },
		{ LO_FLAGS_DIRECT_IO, "direct-io" },
	};
	unsigned int i, n = 0;
	int fd;

	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot open %s: %s\n", prog, dev,
			strerror(errno));
		return 1;
	}
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, LOOP_GET_STATUS64, &info)) {
		fprintf(stderr, "%s: %s: %s\n", prog, dev, errno == ENXIO ?
			"not attached" : strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	/* Whatever came back, the key goes no further. */
	explicit_bzero(info.lo_encrypt_key, sizeof(info.lo_encrypt_key));

	printf("%s:\n", dev);
	read_sysfs(dev, "loop/backing_file", buf, sizeof(buf));
	printf("  backing file: %s\n", *buf ? buf : (char *)info.lo_file_name);
	printf("  offset:       %llu\n", (unsigned long long)info.lo_offset);
	printf("  sizelimit:    %llu\n", (unsigned long long)info.lo_sizelimit);
	read_sysfs(dev, "queue/logical_block_size", buf, sizeof(buf));
	printf("  sector size:  %s\n", *buf ? buf : "?");
	printf("  flags:        ");
	for (i = 0; i < ARRAY_SIZE(flags); i++)
		if (info.lo_flags & flags[i].flag)
			printf("%s%s", n++ ? "," : "", flags[i].name);
	printf("%s\n", n ? "" : "-");
	printf("  transfer:     %s (%u)", transfer_name(info.lo_encrypt_type),
	       info.lo_encrypt_type);
	if (info.lo_encrypt_type == LO_CRYPT_CRYPTOAPI)
		printf(" %.*s", LO_NAME_SIZE, (char *)info.lo_crypt_name);
	printf("\n");
	if (info.lo_encrypt_type != LO_CRYPT_NONE) {
		if (info.lo_encrypt_type == LO_CRYPT_CRYPTOAPI && info.lo_init[0])
			printf("  key size:     %llu bits (loaded with LOOP_CRYPTO_SET_KEY)\n",
			       8 * (unsigned long long)info.lo_init[0]);
		else
			printf("  key size:     %u bits\n",
			       8 * info.lo_encrypt_key_size);
	}
	if (info.lo_encrypt_type == LO_CRYPT_CRYPTOAPI)
		printf("  iv offset:    %llu\n",
		       (unsigned long long)info.lo_init[1]);
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	int i, ret = 0;

	if (argc < 1)
		die("status wants a DEVICE (see --help)");
	for (i = 0; i < argc; i++)
		ret |= show_status(argv[i]);
	return ret;
}

static int cmd_detach(int argc, char **argv)
{
	int i, fd, ret = 0;

	if (argc < 1)
		die("detach wants a DEVICE (see --help)");
	for (i = 0; i < argc; i++) {
		fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, LOOP_CLR_FD, 0)) {
			fprintf(stderr, "%s: cannot detach %s: %s\n", prog,
				argv[i], strerror(errno));
			ret = 1;
		}
		if (fd >= 0)
			close(fd);
	}
	return ret;
}

enum {
	OPT_KEY_STDIN = 256,
	OPT_SIZELIMIT,
	OPT_IV_OFFSET,
	OPT_DIRECT_IO,
};

static const struct option long_opts[] = {
	{ "encryption",	 required_argument, NULL, 'e' },
	{ "key-file",	 required_argument, NULL, 'k' },
	{ "key-stdin",	 no_argument,	    NULL, OPT_KEY_STDIN },
	{ "key-size",	 required_argument, NULL, 's' },
	{ "offset",	 required_argument, NULL, 'o' },
	{ "sizelimit",	 required_argument, NULL, OPT_SIZELIMIT },
	{ "iv-offset",	 required_argument, NULL, OPT_IV_OFFSET },
	{ "sector-size", required_argument, NULL, 'b' },
	{ "read-only",	 no_argument,	    NULL, 'r' },
	{ "direct-io",	 no_argument,	    NULL, OPT_DIRECT_IO },
	{ "partscan",	 no_argument,	    NULL, 'P' },
	{ "help",	 no_argument,	    NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	struct opts o;
	const char *cmd;
	int c, ret;

	memset(&o, 0, sizeof(o));
	/* Keep the key out of swap; failing that (no privilege), go on. */
	mlock(key_buf, sizeof(key_buf));
	atexit(wipe_key);

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "e:k:s:o:b:rPh", long_opts,
				NULL)) != -1) {
		switch (c) {
		case 'e':
			o.transfer = optarg;
			break;
		case 'k':
			o.key_file = optarg;
			break;
		case OPT_KEY_STDIN:
			o.key_file = "-";
			break;
		case 's':
			o.key_bits = parse_bits(optarg);
			break;
		case 'o':
			o.offset = parse_size("offset", optarg);
			o.set_offset = true;
			break;
		case OPT_SIZELIMIT:
			o.sizelimit = parse_size("sizelimit", optarg);
			o.set_sizelimit = true;
			break;
		case OPT_IV_OFFSET:
			o.iv_offset = parse_size("iv offset", optarg);
			o.set_iv_offset = true;
			break;
		case 'b':
			o.block_size = parse_size("sector size", optarg);
			break;
		case 'r':
			o.read_only = true;
			break;
		case OPT_DIRECT_IO:
			o.direct_io = true;
			break;
		case 'P':
			o.partscan = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;

	if (!strcmp(cmd, "attach")) {
		ret = cmd_attach(&o, argc, argv);
	} else if (!strcmp(cmd, "set")) {
		ret = cmd_set(&o, argc, argv);
	} else if (!strcmp(cmd, "status")) {
		ret = cmd_status(argc, argv);
	} else if (!strcmp(cmd, "detach")) {
		ret = cmd_detach(argc, argv);
	} else {
		fprintf(stderr, "%s: unknown command '%s'. Try '%s --help'.\n",
			prog, cmd, prog);
		ret = 2;
	}
	return ret;
}
