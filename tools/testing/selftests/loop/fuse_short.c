// SPDX-License-Identifier: GPL-2.0
/*
 * A FUSE file system of one file, "data", backed by a real file, whose
 * reads come back short: each read returns a pseudo-random 1..N of the N
 * bytes asked for, never 0 before the end of the file.  The file is opened
 * with direct_io, so that the short counts reach the caller (a loop
 * device) instead of being hidden by the page cache.  Writes are passed
 * through whole, or with --short-writes, short like the reads.
 *
 *	fuse_short [--seed=N] [--short-writes] BACKING MOUNTPOINT [FUSE options]
 *
 * Prints the seed, mounts and goes to the background (with -f it stays);
 * "umount MOUNTPOINT" ends it.
 */
#define FUSE_USE_VERSION 31

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#define FILE_NAME	"data"
#define FILE_PATH	"/" FILE_NAME

static int backing_fd = -1;
static bool short_writes;
static uint64_t rng_state;
static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER;

/* xorshift64*: small, and the same sequence for the same seed. */
static uint64_t rng_next(void)
{
	uint64_t x;

	pthread_mutex_lock(&rng_lock);
	x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	pthread_mutex_unlock(&rng_lock);
	return x * 0x2545F4914F6CDD1DULL;
}

/* How much of @size bytes to answer with: 1..size. */
static size_t short_len(size_t size)
{
	return size ? 1 + rng_next() % size : 0;
}

static int fs_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct stat real;

	(void)fi;
	memset(st, 0, sizeof(*st));
	if (!strcmp(path, "/")) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, FILE_PATH))
		return -ENOENT;
	if (fstat(backing_fd, &real))
		return -errno;
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_size = real.st_size;
	st->st_blocks = real.st_blocks;
	st->st_mtim = real.st_mtim;
	st->st_ctim = real.st_ctim;
	return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/"))
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, FILE_NAME, NULL, 0, 0);
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, FILE_PATH))
		return -ENOENT;
	fi->direct_io = 1;	/* short counts go to the caller as they are */
	return 0;
}

/* Read exactly @len bytes from the real file, or fewer at its end. */
static ssize_t pread_all(char *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(backing_fd, buf + done, len - done,
				  off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		done += n;
	}
	return done;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	/* Short, but never 0 where there is data: that would be EOF. */
	return pread_all(buf, short_len(size), off);
}

static int fs_write(const char *path, const char *buf, size_t size,
		    off_t off, struct fuse_file_info *fi)
{
	size_t len = short_writes ? short_len(size) : size;
	size_t done = 0;

	(void)path;
	(void)fi;
	while (done < len) {
		ssize_t n = pwrite(backing_fd, buf + done, len - done,
				   off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += n;
	}
	return done;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return ftruncate(backing_fd, size) ? -errno : 0;
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return (datasync ? fdatasync(backing_fd) : fsync(backing_fd)) ? -errno : 0;
}

static const struct fuse_operations fs_ops = {
	.getattr	= fs_getattr,
	.readdir	= fs_readdir,
	.open		= fs_open,
	.read		= fs_read,
	.write		= fs_write,
	.truncate	= fs_truncate,
	.fsync		= fs_fsync,
};

static void bad_args(void)
{
	fprintf(stderr,
		"usage: fuse_short [--seed=N] [--short-writes] BACKING MOUNTPOINT [FUSE options]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	unsigned long long seed = (unsigned long long)time(NULL) ^ getpid();
	int i = 1;

	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strncmp(argv[i], "--seed=", 7))
			seed = strtoull(argv[i] + 7, NULL, 0);
		else if (!strcmp(argv[i], "--short-writes"))
			short_writes = true;
		else
			bad_args();
	}
	if (argc - i < 2)
		bad_args();
	backing_fd = open(argv[i], O_RDWR | O_CLOEXEC);
	if (backing_fd < 0) {
		fprintf(stderr, "fuse_short: %s: %s\n", argv[i], strerror(errno));
		return 1;
	}
	/* xorshift must not start from 0 */
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	printf("fuse_short: seed %llu%s\n", seed,
	       short_writes ? ", short writes" : "");
	fflush(stdout);

	/* One thread: the answers follow the seed in the order asked. */
	if (fuse_opt_add_arg(&args, argv[0]) ||
	    fuse_opt_add_arg(&args, argv[i + 1]) ||
	    fuse_opt_add_arg(&args, "-s"))
		return 1;
	for (i += 2; i < argc; i++)
		if (fuse_opt_add_arg(&args, argv[i]))
			return 1;
	i = fuse_main(args.argc, args.argv, &fs_ops, NULL);
	fuse_opt_free_args(&args);
	return i;
}
