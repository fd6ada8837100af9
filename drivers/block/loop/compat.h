/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences, as named helpers.  The rest of the driver
 * calls these and never tests LINUX_VERSION_CODE itself.
 */
#ifndef _DRIVERS_BLOCK_LOOP_COMPAT_H
#define _DRIVERS_BLOCK_LOOP_COMPAT_H

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/version.h>

/* Allocate the gendisk and its request queue for a tag set. */
static inline struct gendisk *loop_alloc_disk(struct blk_mq_tag_set *set,
					      void *queuedata)
{
	return blk_mq_alloc_disk(set, queuedata);
}

/*
 * Take and drop a temporary exclusive claim on the loop device itself while
 * binding it, so nobody can claim it exclusively (mount, mkfs) half-way.
 */
static inline int loop_claim_bdev(struct block_device *bdev, void *holder)
{
	return bd_prepare_to_claim(bdev, holder);
}

static inline void loop_abort_claim(struct block_device *bdev, void *holder)
{
	bd_abort_claiming(bdev, holder);
}

#endif /* _DRIVERS_BLOCK_LOOP_COMPAT_H */
