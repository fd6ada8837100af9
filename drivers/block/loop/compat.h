/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences, as named helpers: the rest of the driver
 * calls these and tests no kernel version or API itself.
 *
 * Supported: Linux 6.1 (the "old" block API: fmode_t, blk_queue_* setters)
 * and 6.11 or later (blk_mode_t, atomic queue_limits updates, features),
 * told apart by LOOP_QUEUE_LIMITS_API, which the Makefile probes from the
 * kernel's headers.  Debian ships both as LTS kernels, 6.1 and 6.12.
 */
#ifndef _DRIVERS_BLOCK_LOOP_COMPAT_H
#define _DRIVERS_BLOCK_LOOP_COMPAT_H

#include <linux/blk-mq.h>
#include <linux/blkdev.h>

/* How the device was opened, as ioctls need to know it. */
#define LOOP_OPEN_WRITE		0x1
#define LOOP_OPEN_EXCL		0x2

/* The largest request we take: big enough for efficient file I/O. */
#define LOOP_MAX_HW_SECTORS	2560u

/* What a binding asks of its request queue; applied by loop_apply_limits(). */
struct loop_limits {
	unsigned int	block_size;	/* logical = physical = io_min */
	unsigned int	max_discard_sectors;
	unsigned int	max_write_zeroes_sectors;
	unsigned int	discard_granularity;
	bool		write_cache;	/* flushes and FUA reach us */
	bool		rotational;
};

/* compat.c */
int loop_apply_limits(struct request_queue *q, const struct loop_limits *l);
void loop_stop_advertising(struct request_queue *q, enum req_op op);

/* The version-independent halves of the block device operations. */
int loop_open(struct gendisk *disk);
void loop_release(struct gendisk *disk);
int loop_ioctl(struct block_device *bdev, unsigned int mode, unsigned int cmd,
	       unsigned long arg);
int loop_compat_ioctl(struct block_device *bdev, unsigned int mode,
		      unsigned int cmd, unsigned long arg);

#ifdef LOOP_QUEUE_LIMITS_API

static inline unsigned int loop_open_mode(blk_mode_t mode)
{
	return (mode & BLK_OPEN_WRITE ? LOOP_OPEN_WRITE : 0) |
	       (mode & BLK_OPEN_EXCL ? LOOP_OPEN_EXCL : 0);
}

static inline int loop_bdops_open(struct gendisk *disk, blk_mode_t mode)
{
	return loop_open(disk);
}

static inline void loop_bdops_release(struct gendisk *disk)
{
	loop_release(disk);
}

static inline int loop_bdops_ioctl(struct block_device *bdev, blk_mode_t mode,
				   unsigned int cmd, unsigned long arg)
{
	return loop_ioctl(bdev, loop_open_mode(mode), cmd, arg);
}

static inline int loop_bdops_compat_ioctl(struct block_device *bdev,
					  blk_mode_t mode, unsigned int cmd,
					  unsigned long arg)
{
	return loop_compat_ioctl(bdev, loop_open_mode(mode), cmd, arg);
}

/* Allocate the gendisk and its request queue for a tag set. */
static inline struct gendisk *loop_alloc_disk(struct blk_mq_tag_set *set,
					      void *queuedata)
{
	/* Rotational until bound, as after a detach, and as on 6.1. */
	struct queue_limits lim = {
		.max_hw_sectors	= LOOP_MAX_HW_SECTORS,
		.features	= BLK_FEAT_ROTATIONAL,
	};

	return blk_mq_alloc_disk(set, &lim, queuedata);
}

/*
 * Take and drop a temporary exclusive claim on the loop device itself while
 * binding it, so nobody can claim it exclusively (mount, mkfs) half-way.
 */
static inline int loop_claim_bdev(struct block_device *bdev, void *holder)
{
	return bd_prepare_to_claim(bdev, holder, NULL);
}

/* Tell the block layer (and through uevents, udev) the medium changed. */
static inline void loop_media_changed(struct gendisk *disk)
{
	disk_force_media_change(disk);
}

#else /* Linux 6.1 */

static inline unsigned int loop_open_mode(fmode_t mode)
{
	return (mode & FMODE_WRITE ? LOOP_OPEN_WRITE : 0) |
	       (mode & FMODE_EXCL ? LOOP_OPEN_EXCL : 0);
}

static inline int loop_bdops_open(struct block_device *bdev, fmode_t mode)
{
	return loop_open(bdev->bd_disk);
}

static inline void loop_bdops_release(struct gendisk *disk, fmode_t mode)
{
	loop_release(disk);
}

static inline int loop_bdops_ioctl(struct block_device *bdev, fmode_t mode,
				   unsigned int cmd, unsigned long arg)
{
	return loop_ioctl(bdev, loop_open_mode(mode), cmd, arg);
}

static inline int loop_bdops_compat_ioctl(struct block_device *bdev,
					  fmode_t mode, unsigned int cmd,
					  unsigned long arg)
{
	return loop_compat_ioctl(bdev, loop_open_mode(mode), cmd, arg);
}

static inline struct gendisk *loop_alloc_disk(struct blk_mq_tag_set *set,
					      void *queuedata)
{
	struct gendisk *disk = blk_mq_alloc_disk(set, queuedata);

	if (!IS_ERR(disk))
		blk_queue_max_hw_sectors(disk->queue, LOOP_MAX_HW_SECTORS);
	return disk;
}

static inline int loop_claim_bdev(struct block_device *bdev, void *holder)
{
	return bd_prepare_to_claim(bdev, holder);
}

static inline void loop_media_changed(struct gendisk *disk)
{
	disk_force_media_change(disk, DISK_EVENT_MEDIA_CHANGE);
}

#endif /* LOOP_QUEUE_LIMITS_API */

static inline void loop_abort_claim(struct block_device *bdev, void *holder)
{
	bd_abort_claiming(bdev, holder);
}

#endif /* _DRIVERS_BLOCK_LOOP_COMPAT_H */
