/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version shims: the block layer calls that changed between the
 * kernels we build for, under one name each.  A leaf: nothing here knows
 * the loop driver, and nothing outside it tests a kernel version, except
 * where a callback's own signature differs (main.c's block device
 * operations) and limits.c, which applies queue limits either way.
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
#include <linux/sched.h>

#ifdef LOOP_QUEUE_LIMITS_API

/* How a block device was opened: @write and/or @excl. */
static inline unsigned int compat_open_mode(blk_mode_t mode, unsigned int write,
					    unsigned int excl)
{
	return (mode & BLK_OPEN_WRITE ? write : 0) | (mode & BLK_OPEN_EXCL ? excl : 0);
}

/* A gendisk and its request queue, with these initial limits. */
static inline struct gendisk *compat_alloc_disk(struct blk_mq_tag_set *set,
						unsigned int max_hw_sectors,
						bool rotational,
						void *queuedata)
{
	struct queue_limits lim = {
		.max_hw_sectors	= max_hw_sectors,
		.features	= rotational ? BLK_FEAT_ROTATIONAL : 0,
	};

	return blk_mq_alloc_disk(set, &lim, queuedata);
}

/* The SRCU a blocking queue's dispatch holds: its tag set's since 6.2. */
static inline struct srcu_struct *compat_dispatch_srcu(struct request_queue *q)
{
	return q->tag_set->srcu;
}

static inline int compat_prepare_to_claim(struct block_device *bdev,
					  void *holder)
{
	return bd_prepare_to_claim(bdev, holder, NULL);
}

/* Tell the block layer (and through uevents, udev) the medium changed. */
static inline void compat_media_changed(struct gendisk *disk)
{
	disk_force_media_change(disk);
}

/* A block device's page cache. */
static inline struct address_space *compat_bdev_mapping(struct block_device *bdev)
{
	return bdev->bd_mapping;
}

#else /* Linux 6.1 */

static inline unsigned int compat_open_mode(fmode_t mode, unsigned int write,
					    unsigned int excl)
{
	return (mode & FMODE_WRITE ? write : 0) | (mode & FMODE_EXCL ? excl : 0);
}

static inline struct gendisk *compat_alloc_disk(struct blk_mq_tag_set *set,
						unsigned int max_hw_sectors,
						bool rotational,
						void *queuedata)
{
	struct gendisk *disk = blk_mq_alloc_disk(set, queuedata);

	if (!IS_ERR(disk)) {
		blk_queue_max_hw_sectors(disk->queue, max_hw_sectors);
		if (!rotational)
			blk_queue_flag_set(QUEUE_FLAG_NONROT, disk->queue);
	}
	return disk;
}

/* 6.1 keeps the SRCU of a blocking queue's dispatch in the queue. */
static inline struct srcu_struct *compat_dispatch_srcu(struct request_queue *q)
{
	return q->srcu;
}

static inline int compat_prepare_to_claim(struct block_device *bdev,
					  void *holder)
{
	return bd_prepare_to_claim(bdev, holder);
}

static inline void compat_media_changed(struct gendisk *disk)
{
	disk_force_media_change(disk, DISK_EVENT_MEDIA_CHANGE);
}

static inline struct address_space *compat_bdev_mapping(struct block_device *bdev)
{
	return bdev->bd_inode->i_mapping;
}

#endif /* LOOP_QUEUE_LIMITS_API */

/*
 * Run with no plug of the task's: the caller's code may start and end its
 * own.  6.9+ caches a timestamp in the task's plug and flags the task
 * (PF_BLOCK_TS) for the scheduler to clear it, which would then find no
 * plug: the cached time is dropped first, as a schedule would.
 */
static inline struct blk_plug *compat_hide_plug(void)
{
	struct blk_plug *plug = current->plug;

#ifdef PF_BLOCK_TS
	blk_plug_invalidate_ts();
#endif
	current->plug = NULL;
	return plug;
}

static inline void compat_restore_plug(struct blk_plug *plug)
{
#ifdef PF_BLOCK_TS
	/* Set, it would be for a plug of the callee's, gone by now. */
	current->flags &= ~PF_BLOCK_TS;
#endif
	current->plug = plug;
}

#endif /* _DRIVERS_BLOCK_LOOP_COMPAT_H */
