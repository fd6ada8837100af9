// SPDX-License-Identifier: GPL-2.0
/*
 * Applying queue limits: 6.1 sets them one by one on the live queue, later
 * kernels validate and commit them together.  See compat.h.
 */
#include "loop.h"

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
void loop_stop_advertising(struct request_queue *q, enum req_op op)
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

void loop_stop_advertising(struct request_queue *q, enum req_op op)
{
	if (op == REQ_OP_DISCARD)
		blk_queue_max_discard_sectors(q, 0);
	else
		blk_queue_max_write_zeroes_sectors(q, 0);
}

#endif /* LOOP_QUEUE_LIMITS_API */
