/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences, as named helpers.  The rest of the driver
 * calls these and never tests LINUX_VERSION_CODE itself.
 *
 * Supported: Linux 6.1 (the "old" block API: fmode_t, blk_queue_* setters)
 * and 6.11 or later (blk_mode_t, atomic queue_limits updates, features).
 * Debian ships both as LTS kernels, 6.1 and 6.12.
 */
#ifndef _DRIVERS_BLOCK_LOOP_COMPAT_H
#define _DRIVERS_BLOCK_LOOP_COMPAT_H

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#define LOOP_QUEUE_LIMITS_API 1
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#error "loop supports Linux 6.1 and 6.11 or later"
#endif

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

/* main.c: the version-independent halves of ->open and ->release. */
int loop_open(struct gendisk *disk);
void loop_release(struct gendisk *disk);

#ifdef LOOP_QUEUE_LIMITS_API

/* How the device was opened, as ioctls see it. */
typedef blk_mode_t loop_mode_t;
#define LOOP_OPEN_WRITE		BLK_OPEN_WRITE
#define LOOP_OPEN_EXCL		BLK_OPEN_EXCL

static inline int loop_bdops_open(struct gendisk *disk, blk_mode_t mode)
{
	return loop_open(disk);
}

static inline void loop_bdops_release(struct gendisk *disk)
{
	loop_release(disk);
}

/* Allocate the gendisk and its request queue for a tag set. */
static inline struct gendisk *loop_alloc_disk(struct blk_mq_tag_set *set,
					      void *queuedata)
{
	struct queue_limits lim = { .max_hw_sectors = LOOP_MAX_HW_SECTORS };

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

typedef fmode_t loop_mode_t;
#define LOOP_OPEN_WRITE		FMODE_WRITE
#define LOOP_OPEN_EXCL		FMODE_EXCL

static inline int loop_bdops_open(struct block_device *bdev, fmode_t mode)
{
	return loop_open(bdev->bd_disk);
}

static inline void loop_bdops_release(struct gendisk *disk, fmode_t mode)
{
	loop_release(disk);
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
