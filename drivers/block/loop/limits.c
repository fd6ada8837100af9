// SPDX-License-Identifier: GPL-2.0
/*
 * Queue limits: what a device offers the block layer (block size,
 * discard, write-zeroes, write cache, rotational) for the file it is
 * bound to, and applying that to its request queue.  Linux 6.1 sets
 * limits one by one on the live queue; later kernels validate and commit
 * them together (LOOP_QUEUE_LIMITS_API, probed by the Makefile).
 */
#include "loop.h"

/* The limits of an unbound device. */
const struct loop_limits loop_unbound_limits = {
	.block_size	= SECTOR_SIZE,
	.rotational	= true,
};

/*
 * The queue limits for @file with block size @bs.  Discard and
 * write-zeroes: a regular file does them with fallocate, a block device
 * passes them down.
 */
void loop_limits_for(struct loop_device *lo, struct file *file,
		     unsigned int bs, struct loop_limits *l)
{
	struct inode *inode = file->f_mapping->host;
	struct block_device *under = loop_backing_bdev(file);
	bool writable = !(lo->flags & LO_FLAGS_READ_ONLY);

	lockdep_assert_held(&lo->lock);
	*l = loop_unbound_limits;
	l->block_size = bs;
	l->write_cache = writable && file->f_op->fsync;
	l->rotational = !under || !bdev_nonrot(under);
	/*
	 * Offered on read-only bindings too, as by the kernel's driver: the
	 * block layer then refuses with EPERM, which says why.
	 *
	 * Zeroes punched into the file would not read back as zeroes
	 * through a transfer: let the block layer write real ones instead.
	 * Discard has no such promise (see the admin guide).
	 */
	if (S_ISBLK(inode->i_mode)) {
		/*
		 * A block device punches holes by writing zeroes, without
		 * falling back to writing zero pages: its write-zeroes limit
		 * is what it can do for both.
		 */
		l->max_discard_sectors = bdev_write_zeroes_sectors(under);
		l->max_write_zeroes_sectors = bdev_write_zeroes_sectors(under);
		l->discard_granularity = bdev_discard_granularity(under) ?:
					 bdev_physical_block_size(under);
	} else if (file->f_op->fallocate) {
		l->max_discard_sectors = UINT_MAX >> SECTOR_SHIFT;
		l->max_write_zeroes_sectors = UINT_MAX >> SECTOR_SHIFT;
		l->discard_granularity = inode->i_sb->s_blocksize;
	}
	if (lo->xfer.funcs)
		l->max_write_zeroes_sectors = 0;
	/* What the backing file system turned out not to do, for good. */
	if (test_bit(LOOP_WARNED_DISCARD, &lo->warned))
		l->max_discard_sectors = 0;
	if (test_bit(LOOP_WARNED_WRITE_ZEROES, &lo->warned))
		l->max_write_zeroes_sectors = 0;
}

#ifdef LOOP_QUEUE_LIMITS_API

int loop_apply_limits(struct request_queue *q, const struct loop_limits *l)
{
	struct queue_limits lim = queue_limits_start_update(q);

	lim.logical_block_size = l->block_size;
	lim.physical_block_size = l->block_size;
	lim.io_min = l->block_size;
	lim.max_hw_discard_sectors = l->max_discard_sectors;
	lim.max_write_zeroes_sectors = l->max_write_zeroes_sectors;
	lim.discard_granularity = l->discard_granularity;
	lim.features &= ~(BLK_FEAT_WRITE_CACHE | BLK_FEAT_FUA |
			  BLK_FEAT_ROTATIONAL);
	if (l->write_cache)
		lim.features |= BLK_FEAT_WRITE_CACHE | BLK_FEAT_FUA;
	if (l->rotational)
		lim.features |= BLK_FEAT_ROTATIONAL;
	return queue_limits_commit_update(q, &lim);
}

/* Stop offering discard or write-zeroes on a live queue. */
static void loop_stop_advertising(struct request_queue *q, enum req_op op)
{
	struct queue_limits lim = queue_limits_start_update(q);

	if (op == REQ_OP_DISCARD)
		lim.max_hw_discard_sectors = 0;
	else
		lim.max_write_zeroes_sectors = 0;
	queue_limits_commit_update(q, &lim);
}

#else /* Linux 6.1 */

int loop_apply_limits(struct request_queue *q, const struct loop_limits *l)
{
	blk_queue_logical_block_size(q, l->block_size);
	blk_queue_physical_block_size(q, l->block_size);
	blk_queue_io_min(q, l->block_size);
	q->limits.discard_granularity = l->discard_granularity;
	blk_queue_max_discard_sectors(q, l->max_discard_sectors);
	blk_queue_max_write_zeroes_sectors(q, l->max_write_zeroes_sectors);
	blk_queue_write_cache(q, l->write_cache, l->write_cache);
	if (l->rotational)
		blk_queue_flag_clear(QUEUE_FLAG_NONROT, q);
	else
		blk_queue_flag_set(QUEUE_FLAG_NONROT, q);
	return 0;
}

static void loop_stop_advertising(struct request_queue *q, enum req_op op)
{
	if (op == REQ_OP_DISCARD)
		blk_queue_max_discard_sectors(q, 0);
	else
		blk_queue_max_write_zeroes_sectors(q, 0);
}

#endif /* LOOP_QUEUE_LIMITS_API */

/*
 * Withdraw what the I/O path found the backing file system cannot do
 * (lo->warned), from process context outside any request.  lo->lock
 * keeps a binding from changing meanwhile; a device no longer bound
 * has its limits reset anyway.
 */
void loop_withdraw_work_fn(struct work_struct *work)
{
	struct loop_device *lo = container_of(work, struct loop_device,
					      withdraw_work);
	struct request_queue *q = lo->disk->queue;

	mutex_lock(&lo->lock);
	if (lo->state == LOOP_BOUND) {
		if (test_bit(LOOP_WARNED_DISCARD, &lo->warned))
			loop_stop_advertising(q, REQ_OP_DISCARD);
		if (test_bit(LOOP_WARNED_WRITE_ZEROES, &lo->warned))
			loop_stop_advertising(q, REQ_OP_WRITE_ZEROES);
	}
	mutex_unlock(&lo->lock);
}
