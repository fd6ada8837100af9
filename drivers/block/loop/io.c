// SPDX-License-Identifier: GPL-2.0
/*
 * The I/O path.  Each device has several hardware queues (one per CPU by
 * default), and each queue its own worker(s): work items on the binding's
 * workqueue, so that I/O submitted on different CPUs never meets on one
 * thread, list or lock.  The workers map requests onto the backing file
 * and move the data:
 *
 *  - buffered: synchronously, one call for the whole request;
 *  - direct I/O: asynchronously, one kiocb for the whole request, completed
 *    from the backing file system's completion context.
 *
 * Before a request goes to a worker, loop_queue_rq() tries it right there
 * with IOCB_NOWAIT (direct I/O reads and writes, buffered reads, also
 * through a transfer that works in place): a file system that can start
 * it without blocking does, and the request costs no thread hop; one
 * that would block says -EAGAIN and the worker does it.
 * See loop_try_nowait() for where that is not tried, and why.
 *
 * A backing file may move less than asked anywhere, not only at its end
 * (FUSE, NFS): short counts are continued from where they stopped, and only
 * a read that returns 0 is the end of the file.
 *
 * Flushes become fsync, FUA writes a ranged datasync, discard and
 * write-zeroes become fallocate on the backing file.
 *
 * The backing file's I/O and memory are charged to the cgroup that issued
 * the request: in a worker by taking on its blkcg and memcg for the
 * request's duration; on the NOWAIT path, where the submitter itself
 * runs it, by its own.
 *
 * Nothing here takes lo->lock.  The binding fields the path reads (backing,
 * offset, use_dio, workers) change only while the queue is frozen, i.e.
 * while no request is between loop_queue_rq() and its completion, or (the
 * workers, at bind) before any request can reach them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/blk-cgroup.h>
#include <linux/falloc.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/sched/clock.h>
#include <linux/sched/mm.h>
#include <linux/sched/task_stack.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "loop.h"

/* Where @rq's data is in the backing file. */
static loff_t loop_rq_pos(struct loop_device *lo, struct request *rq)
{
	return ((loff_t)blk_rq_pos(rq) << SECTOR_SHIFT) + lo->offset;
}

/* Build an iterator over the data of one bio, in place. */
static void loop_iter_from_bio(struct iov_iter *iter, struct bio *bio,
			       unsigned int dir)
{
	struct bvec_iter bi;
	struct bio_vec bv;
	unsigned int nr = 0;

	bio_for_each_bvec(bv, bio, bi)
		nr++;
	iov_iter_bvec(iter, dir, __bvec_iter_bvec(bio->bi_io_vec, bio->bi_iter),
		      nr, bio->bi_iter.bi_size);
	iter->iov_offset = bio->bi_iter.bi_bvec_done;
}

/*
 * Freeze protection of a write to the backing file's file system (a block
 * device has none).  An asynchronous write keeps it until it completes,
 * as aio does: the file system's completion work may start a transaction
 * (ext4 converting unwritten extents), which must not meet a freeze that
 * had returned with the write still in flight.  The protection then
 * passes from the submitter to the completion, and lockdep is told so.
 */
static bool loop_start_write(struct file *file, struct kiocb *iocb)
{
	struct super_block *sb = file_inode(file)->i_sb;

	if (!S_ISREG(file_inode(file)->i_mode))
		return true;
	if (!(iocb->ki_flags & IOCB_NOWAIT))
		sb_start_write(sb);
	else if (!sb_start_write_trylock(sb))
		return false;
	if (iocb->ki_complete)
		__sb_writers_release(sb, SB_FREEZE_WRITE);
	return true;
}

/* In the context that completes the write (@handed: from another one). */
static void loop_end_write(struct file *file, bool handed)
{
	struct super_block *sb = file_inode(file)->i_sb;

	if (!S_ISREG(file_inode(file)->i_mode))
		return;
	if (handed)
		__sb_writers_acquired(sb, SB_FREEZE_WRITE);
	sb_end_write(sb);
}

/*
 * Read or write the backing file.  With IOCB_NOWAIT, a file system being
 * frozen is -EAGAIN, not a wait.
 */
static ssize_t loop_call_iter(struct file *file, struct kiocb *iocb,
			      struct iov_iter *iter, bool write)
{
	ssize_t ret;

	if (!write)
		return file->f_op->read_iter(iocb, iter);
	if (!loop_start_write(file, iocb))
		return -EAGAIN;
	ret = file->f_op->write_iter(iocb, iter);
	/* Queued: loop_aio_complete() ends it. */
	if (ret != -EIOCBQUEUED)
		loop_end_write(file, !!iocb->ki_complete);
	return ret;
}

/* A FUA write is on stable storage before it completes. */
static long loop_fua(struct loop_device *lo, struct request *rq, loff_t pos,
		     long done, bool write)
{
	int err;

	if (!write || !(rq->cmd_flags & REQ_FUA) || done <= 0)
		return done;
	err = vfs_fsync_range(lo->backing, pos, pos + done - 1, 1);
	return err ?: done;
}

/* Move @iter's data to or from the backing file at @pos, synchronously. */
static ssize_t loop_rw_iter_sync(struct loop_device *lo, struct iov_iter *iter,
				 loff_t pos, bool write)
{
	struct kiocb kiocb;

	init_sync_kiocb(&kiocb, lo->backing);
	/*
	 * Not how the backing file happened to be opened: O_APPEND would
	 * send every write to the end of the file, O_DIRECT would override
	 * use_dio.  O_SYNC and O_DSYNC stay, as their owner asked.
	 */
	kiocb.ki_flags &= ~(IOCB_APPEND | IOCB_DIRECT);
	kiocb.ki_pos = pos;
	if (lo->use_dio)
		kiocb.ki_flags |= IOCB_DIRECT;
	return loop_call_iter(lo->backing, &kiocb, iter, write);
}

/*
 * Move all of @iter from its byte @done on, to or from the backing file at
 * @pos (where @iter starts), synchronously.  A call that moves less than
 * asked is continued where it stopped: only a read that returns 0 is the
 * end of the file, and a write that moves nothing is an error, so every
 * round makes progress.  Returns the bytes moved, @done included, fewer
 * than @iter holds only at the end of the file; or -errno.
 */
static ssize_t loop_rw_iter_all(struct loop_device *lo,
				const struct iov_iter *iter, loff_t pos,
				size_t done, bool write)
{
	size_t len = iov_iter_count(iter);

	while (done < len) {
		struct iov_iter rest = *iter;
		ssize_t ret;

		/* Where a short call left its iterator is not defined. */
		iov_iter_advance(&rest, done);
		ret = loop_rw_iter_sync(lo, &rest, pos + done, write);
		if (ret < 0)
			return ret;
		if (!ret && write)
			return -EIO;
		if (!ret)
			break;
		done += ret;
	}
	return done;
}

/*
 * Make @cmd->iter cover all of @rq's data: a single bio's own vector table
 * serves as it is; several bios' segments go into a table of our own, in
 * the request if they fit.  0, or -ENOMEM.
 */
static int loop_cmd_iter(struct loop_cmd *cmd, struct request *rq,
			 bool write, gfp_t gfp)
{
	unsigned int dir = write ? ITER_SOURCE : ITER_DEST;
	struct bio_vec bv, *table = cmd->inline_bvec;
	struct req_iterator ri;
	unsigned int nr = 0;

	if (rq->bio == rq->biotail) {
		loop_iter_from_bio(&cmd->iter, rq->bio, dir);
		return 0;
	}
	rq_for_each_bvec(bv, rq, ri)
		nr++;
	if (nr > LOOP_INLINE_BVECS) {
		table = kmalloc_array(nr, sizeof(*table), gfp);
		if (!table)
			return -ENOMEM;
		cmd->bvec = table;
	}
	nr = 0;
	rq_for_each_bvec(bv, rq, ri)
		table[nr++] = bv;
	iov_iter_bvec(&cmd->iter, dir, table, nr, blk_rq_bytes(rq));
	return 0;
}

/* Free what loop_cmd_iter() allocated. */
static void loop_cmd_iter_free(struct loop_cmd *cmd)
{
	kfree(cmd->bvec);
	cmd->bvec = NULL;
}

/*
 * Move a request's data synchronously: in one call where the request's
 * segments make one iterator, else (no memory for the table) bio by bio.
 * Returns the bytes moved (short at the end of the backing file) or
 * -errno.
 */
static long loop_rw_sync(struct loop_device *lo, struct loop_cmd *cmd,
			 struct request *rq, loff_t pos, bool write)
{
	long done = 0;
	struct bio *bio;

	if (!loop_cmd_iter(cmd, rq, write, GFP_NOIO)) {
		done = loop_rw_iter_all(lo, &cmd->iter, pos, 0, write);
		return done < 0 ? done : loop_fua(lo, rq, pos, done, write);
	}

	__rq_for_each_bio(bio, rq) {
		unsigned int len = bio->bi_iter.bi_size;
		struct iov_iter iter;
		ssize_t ret;

		loop_iter_from_bio(&iter, bio, write ? ITER_SOURCE : ITER_DEST);
		ret = loop_rw_iter_all(lo, &iter, pos + done, 0, write);
		if (ret < 0)
			return ret;
		done += ret;
		if (ret < len)	/* the end of the file */
			break;
	}

	return loop_fua(lo, rq, pos, done, write);
}

/* A read that met the end of the backing file returns zeroes beyond it. */
static void loop_zero_tail(struct request *rq, unsigned int done)
{
	struct req_iterator ri;
	struct bio_vec bv;
	unsigned int at = 0;

	rq_for_each_segment(bv, rq, ri) {
		unsigned int skip = done > at ? min(done - at, bv.bv_len) : 0;

		if (skip < bv.bv_len)
			memzero_page(bv.bv_page, bv.bv_offset + skip,
				     bv.bv_len - skip);
		at += bv.bv_len;
	}
}

/*
 * Does @lo read a request straight into its pages and transform them
 * there (LOOP_TRANSFER_READ_IN_PLACE)?  Buffered only: direct I/O would
 * want the request's segments aligned for the backing file, which bounce
 * memory always is and a caller's pages need not be.  (The transfer and
 * use_dio change only with the queue frozen.)
 */
static bool loop_reads_in_place(struct loop_device *lo)
{
	return lo->xfer.funcs && !lo->use_dio &&
	       (lo->xfer.funcs->flags & LOOP_TRANSFER_READ_IN_PLACE);
}

/* Transform all of @rq's data, read raw into its pages, in place. */
static int loop_transform_in_place(struct loop_device *lo,
				   struct request *rq)
{
	struct loop_xfer *x = &lo->xfer;
	sector_t sector = blk_rq_pos(rq);
	struct req_iterator ri;
	struct bio_vec bv;
	int err;

	/* A segment is within one page. */
	rq_for_each_segment(bv, rq, ri) {
		/* Transfers work in whole sectors (see loop_transfer.h). */
		if (bv.bv_len & (SECTOR_SIZE - 1))
			return -EIO;
		err = x->funcs->transfer(&x->state, LOOP_TRANSFER_READ,
					 bv.bv_page, bv.bv_offset,
					 bv.bv_page, bv.bv_offset, bv.bv_len,
					 sector);
		if (err)
			return err;
		sector += bv.bv_len >> SECTOR_SHIFT;
	}
	return 0;
}

/*
 * A read through a transfer that works in place: the raw data straight
 * into the request's pages, with zeroes beyond the end of the file (the
 * raw data there), then transformed.  No bounce memory, one backing-file
 * call for the request.
 */
static long loop_read_in_place(struct loop_device *lo, struct loop_cmd *cmd,
			       struct request *rq, loff_t pos)
{
	long done = loop_rw_sync(lo, cmd, rq, pos, false);
	int err;

	if (done < 0)
		return done;
	if (done < blk_rq_bytes(rq))
		loop_zero_tail(rq, done);
	/*
	 * Not "err ?: blk_rq_bytes(rq)": that has the type unsigned int,
	 * in which -errno is a length, and the read would succeed.
	 */
	err = loop_transform_in_place(lo, rq);
	if (err)
		return err;
	return blk_rq_bytes(rq);
}

/*
 * Move @len bytes between @b and the backing file at @pos, synchronously.
 * What a read finds beyond the end of the file is zeroes.
 */
static int loop_bounce_io(struct loop_device *lo, struct loop_bounce *b,
			  unsigned int len, loff_t pos, bool write)
{
	struct iov_iter iter;
	unsigned int i;
	ssize_t ret;

	iov_iter_bvec(&iter, write ? ITER_SOURCE : ITER_DEST, b->bv, b->nr,
		      len);
	ret = loop_rw_iter_all(lo, &iter, pos, 0, write);
	if (ret < 0)
		return ret;
	for (i = ret >> PAGE_SHIFT; ret < len; i++) {
		unsigned int off = offset_in_page(ret);
		unsigned int n = min_t(unsigned int, len - ret, PAGE_SIZE - off);

		memzero_page(b->bv[i].bv_page, off, n);
		ret += n;
	}
	return 0;
}

/*
 * Transform @len bytes (whole sectors, starting at device sector @sector)
 * between the bounce memory at byte @at and @page at @off, a bounce page
 * at a time: no range given to the transfer crosses a page.
 */
static int loop_transfer_span(struct loop_device *lo, struct loop_bounce *b,
			      unsigned int at, struct page *page,
			      unsigned int off, unsigned int len,
			      sector_t sector, bool write)
{
	enum loop_transfer_dir dir = write ? LOOP_TRANSFER_WRITE :
					     LOOP_TRANSFER_READ;
	struct loop_xfer *x = &lo->xfer;
	unsigned int done = 0;

	while (done < len) {
		unsigned int raw_off = offset_in_page(at + done);
		unsigned int n = min_t(unsigned int, len - done,
				       PAGE_SIZE - raw_off);
		int err;

		err = x->funcs->transfer(&x->state, dir,
					 b->bv[(at + done) >> PAGE_SHIFT].bv_page,
					 raw_off, page, off + done, n,
					 sector + (done >> SECTOR_SHIFT));
		if (err)
			return err;
		done += n;
	}
	return 0;
}

/*
 * Move a request's data through the device's transfer, via bounce memory:
 * the caller's pages are never written to on the way out, the backing
 * file never sees the plain data, and each chunk of up to
 * LOOP_BOUNCE_BYTES is one I/O of whole pages, aligned for direct I/O
 * whatever the request's segments are.  A read fetches a chunk before
 * its segments are transformed out of it; a write transforms the
 * segments into it, then writes it.  A read beyond the end of the file
 * transforms zeroes, as the raw data there.  (Buffered reads through a
 * transfer that works in place need none of it: loop_read_in_place().)
 */
static long loop_rw_transfer(struct loop_device *lo, struct loop_cmd *cmd,
			     struct request *rq, loff_t pos, bool write)
{
	unsigned int total = blk_rq_bytes(rq), start = 0, end = 0, at = 0;
	struct req_iterator ri;
	struct loop_bounce b;
	struct bio_vec bv;
	int err = 0;

	loop_bounce_get(lo, cmd, min(total, LOOP_BOUNCE_BYTES), &b);
	rq_for_each_segment(bv, rq, ri) {
		unsigned int done = 0;

		/* Transfers work in whole sectors (see loop_transfer.h). */
		if (bv.bv_len & (SECTOR_SIZE - 1)) {
			err = -EIO;
			break;
		}
		while (done < bv.bv_len) {
			unsigned int n;

			if (at == end) {	/* the next chunk */
				if (write && end > start)
					err = loop_bounce_io(lo, &b, end - start,
							     pos + start, true);
				start = end;
				end = min(total, start + LOOP_BOUNCE_BYTES);
				if (!err && !write)
					err = loop_bounce_io(lo, &b, end - start,
							     pos + start, false);
				if (err)
					goto out;
			}
			n = min(bv.bv_len - done, end - at);
			err = loop_transfer_span(lo, &b, at - start, bv.bv_page,
						 bv.bv_offset + done, n,
						 blk_rq_pos(rq) +
						 (at >> SECTOR_SHIFT), write);
			if (err)
				goto out;
			done += n;
			at += n;
		}
	}
	if (!err && write && end > start)
		err = loop_bounce_io(lo, &b, end - start, pos + start, true);
out:
	loop_bounce_put(lo, cmd, &b);
	if (err)
		return err;
	return loop_fua(lo, rq, pos, total, write);
}

static void loop_cmd_done(struct loop_cmd *cmd, long ret)
{
	struct request *rq = blk_mq_rq_from_pdu(cmd);

	cmd->ret = ret;
	if (likely(!blk_should_fake_timeout(rq->q)))
		blk_mq_complete_request(rq);
}

/*
 * Direct I/O of a whole request ended after @done bytes.  Short of the
 * request without an error is not the end of the file: move the rest
 * synchronously.  Returns the bytes moved or -errno.
 */
static long loop_aio_rest(struct loop_device *lo, struct loop_cmd *cmd,
			  long done)
{
	struct request *rq = blk_mq_rq_from_pdu(cmd);
	bool write = req_op(rq) == REQ_OP_WRITE;

	if (done < 0 || done >= blk_rq_bytes(rq))
		return done;
	done = loop_rw_iter_all(lo, &cmd->iter, cmd->pos, done, write);
	/* What moved synchronously was not written with IOCB_DSYNC. */
	return loop_fua(lo, rq, cmd->pos, done, write);
}

static void loop_queue_cmd(struct loop_workers *ws, struct loop_cmd *cmd,
			   bool kick);
static void loop_kick_workers(struct loop_workers *ws,
			      struct blk_mq_hw_ctx *hctx);

/*
 * Asynchronous direct I/O of @cmd ended with @ret (bytes or -errno), and
 * the call that started it has returned: complete it, or have a worker
 * go on with it.
 */
static void loop_aio_done(struct loop_cmd *cmd, long ret)
{
	struct request *rq = blk_mq_rq_from_pdu(cmd);
	struct request_queue *q = rq->q;
	struct loop_device *lo = q->queuedata;

	if (ret != -EAGAIN || !cmd->nowait) {
		if (ret < 0 || ret >= blk_rq_bytes(rq)) {
			loop_cmd_done(cmd, ret);
			return;
		}
		/*
		 * Short: the rest is synchronous I/O, which this context
		 * (maybe an interrupt) cannot do.
		 */
		cmd->ret = ret;
		cmd->resume = true;
	} else {
		/*
		 * Part of a NOWAIT attempt was started, then the file system
		 * found it would block: all of it again, in a worker.
		 */
		cmd->nowait = false;
		cmd->resume = false;
		loop_cmd_iter_free(cmd);
	}
	/*
	 * Back to a worker.  The binding's workers go only with the queue
	 * frozen, and a worker may end the request before we are done
	 * with them: our reference on the queue keeps them.
	 */
	percpu_ref_get(&q->q_usage_counter);
	/* Pairs with loop_start_workers()' release: a whole structure. */
	loop_queue_cmd(smp_load_acquire(&lo->workers), cmd, true);
	percpu_ref_put(&q->q_usage_counter);
}

/*
 * One party of @cmd's asynchronous direct I/O is done (struct loop_cmd):
 * the last goes on.  Until the call has returned, the backing file
 * system may still use what the request lends it: NFS reverts the
 * call's iterator after handing the I/O off, which reads our bio_vec
 * table, and ext4 reads iocb->ki_filp.  Fully ordered, so the party
 * going on sees the result the completion stored.
 */
static void loop_aio_put(struct loop_cmd *cmd)
{
	if (atomic_dec_and_test(&cmd->aio_parties))
		loop_aio_done(cmd, cmd->ret);
}

/* Start @cmd's direct I/O: loop_aio_put() once the call returned it. */
static long loop_aio_call(struct loop_device *lo, struct loop_cmd *cmd,
			  struct iov_iter *iter, bool write)
{
	size_t count = iov_iter_count(iter);
	long ret;

	atomic_set(&cmd->aio_parties, 2);
	ret = loop_call_iter(lo->backing, &cmd->iocb, iter, write);
	if (ret == -EIOCBQUEUED)
		loop_slow_aio_return(iter, count - iov_iter_count(iter));
	return ret;
}

static void loop_aio_complete(struct kiocb *iocb, long ret)
{
	struct loop_cmd *cmd = container_of(iocb, struct loop_cmd, iocb);

	if (req_op(blk_mq_rq_from_pdu(cmd)) == REQ_OP_WRITE)
		loop_end_write(iocb->ki_filp, true);
	cmd->ret = ret;
	loop_aio_put(cmd);
}

/* Set up @cmd's kiocb for its request's data at @pos. */
static void loop_prep_kiocb(struct loop_device *lo, struct loop_cmd *cmd,
			    struct request *rq, loff_t pos, int flags)
{
	struct kiocb *iocb = &cmd->iocb;

	iocb->ki_pos = pos;
	iocb->ki_filp = lo->backing;
	iocb->ki_flags = flags;
	iocb->ki_ioprio = req_get_ioprio(rq);
	iocb->private = NULL;
	/* Direct I/O completes asynchronously; buffered I/O in the call. */
	iocb->ki_complete = (flags & IOCB_DIRECT) ? loop_aio_complete : NULL;
	cmd->pos = pos;
}

/*
 * Start direct I/O for a whole request.  Returns -EIOCBQUEUED when the
 * completion will come through loop_aio_complete(), else the result.
 */
static long loop_rw_async(struct loop_device *lo, struct loop_cmd *cmd,
			  struct request *rq, loff_t pos, bool write)
{
	struct iov_iter iter;
	int flags = IOCB_DIRECT;
	long ret;

	if (loop_cmd_iter(cmd, rq, write, GFP_NOIO))
		return loop_rw_sync(lo, cmd, rq, pos, write);

	if (write && (rq->cmd_flags & REQ_FUA))
		flags |= IOCB_DSYNC;
	loop_prep_kiocb(lo, cmd, rq, pos, flags);
	/* cmd->iter is kept for a short result: the file system consumes @iter. */
	iter = cmd->iter;
	ret = loop_aio_call(lo, cmd, &iter, write);
	if (ret == -EIOCBQUEUED) {
		loop_aio_put(cmd);
		return ret;
	}
	return loop_aio_rest(lo, cmd, ret);	/* completed at once */
}

static long loop_fallocate(struct loop_device *lo, struct request *rq,
			   loff_t pos, int mode)
{
	enum req_op op = req_op(rq);
	int bit = op == REQ_OP_DISCARD ? LOOP_WARNED_DISCARD :
					 LOOP_WARNED_WRITE_ZEROES;
	int err;

	err = vfs_fallocate(lo->backing, mode | FALLOC_FL_KEEP_SIZE, pos,
			    blk_rq_bytes(rq));
	if (err != -EOPNOTSUPP)
		return err;

	/*
	 * The backing file system cannot do it.  We offered it hoping it
	 * could: stop offering, so that the block layer falls back
	 * (write-zeroes) or users stop asking.  Not on -EINVAL: that can be
	 * one request's alignment, not the file system's inability.
	 */
	if (!test_and_set_bit(bit, &lo->warned)) {
		pr_info("%s: backing file system cannot %s: no longer offered\n",
			lo->disk->disk_name,
			op == REQ_OP_DISCARD ? "punch holes" : "zero ranges");
		schedule_work(&lo->withdraw_work);
	}
	return -EOPNOTSUPP;
}

static long loop_execute(struct loop_device *lo, struct loop_cmd *cmd,
			 struct request *rq)
{
	loff_t pos = loop_rq_pos(lo, rq);

	/*
	 * The block layer only warns about writes to a read-only disk, and
	 * lets them through: in-kernel writers would reach a backing file
	 * that was handed to us read-only.
	 */
	if (unlikely(op_is_write(req_op(rq)) &&
		     (lo->flags & LO_FLAGS_READ_ONLY)))
		return -EIO;

	switch (req_op(rq)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE: {
		bool write = req_op(rq) == REQ_OP_WRITE;

		if (unlikely(lo->xfer_lost))
			return -EIO;
		if (!write && loop_reads_in_place(lo))
			return loop_read_in_place(lo, cmd, rq, pos);
		if (lo->xfer.funcs)
			return loop_rw_transfer(lo, cmd, rq, pos, write);
		if (lo->use_dio)
			return loop_rw_async(lo, cmd, rq, pos, write);
		return loop_rw_sync(lo, cmd, rq, pos, write);
	}
	case REQ_OP_FLUSH:
		return vfs_fsync(lo->backing, 0);
	case REQ_OP_DISCARD:
		return loop_fallocate(lo, rq, pos, FALLOC_FL_PUNCH_HOLE);
	case REQ_OP_WRITE_ZEROES:
		return loop_fallocate(lo, rq, pos,
				      (rq->cmd_flags & REQ_NOUNMAP) ?
				      FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE);
	default:
		return -EOPNOTSUPP;
	}
}

/*
 * The cgroup a worker runs a request on behalf of: the one whose bio it
 * is, unless that is the root (which a worker is in already).  The bio's
 * blkg pins the blkcg until the request completes.
 */
struct loop_charge {
	struct cgroup_subsys_state	*memcg_css;
	struct mem_cgroup		*old_memcg;
	bool				blkcg;
};

static void loop_charge_begin(struct request *rq, struct loop_charge *c)
{
	struct cgroup_subsys_state *css = NULL;

	c->memcg_css = NULL;
	c->blkcg = false;
#ifdef CONFIG_BLK_CGROUP
	if (rq->bio && rq->bio->bi_blkg)
		css = bio_blkcg_css(rq->bio);
#endif
	if (!css || !css->parent)
		return;
	kthread_associate_blkcg(css);
	c->blkcg = true;
#ifdef CONFIG_MEMCG
	c->memcg_css = cgroup_get_e_css(css->cgroup, &memory_cgrp_subsys);
	if (c->memcg_css)
		c->old_memcg = set_active_memcg(mem_cgroup_from_css(c->memcg_css));
#endif
}

static void loop_charge_end(struct loop_charge *c)
{
#ifdef CONFIG_MEMCG
	if (c->memcg_css) {
		set_active_memcg(c->old_memcg);
		css_put(c->memcg_css);
	}
#endif
	if (c->blkcg)
		kthread_associate_blkcg(NULL);
}

/*
 * A queue with more requests in flight than this (the one being
 * dispatched included) is busy: its submitter keeps a pipeline going,
 * and gains more from its requests' work being done on another CPU while
 * it submits and reaps than from doing it itself or taking turns with a
 * worker on its own CPU.  An idle one gains from the opposite: no
 * wake-up of another CPU, data still in this one's cache.
 */
#define LOOP_BUSY_INFLIGHT	2

/*
 * But a busy queue can look idle: a worker woken on the submitter's CPU
 * preempts the submitter and completes the request before the next one
 * is submitted, and so does a NOWAIT attempt that finishes at once (a
 * page cache hit, a RAM-backed file), so that a submitter with 32
 * requests to keep in flight never has more than one, and runs at queue
 * depth 1 on one CPU.  So a queue once found busy counts as busy for the
 * next LOOP_BESIDE_CREDIT requests (renewed each time it is found busy
 * again), and one request in LOOP_BESIDE_PROBE of an idle-looking queue
 * goes beside anyway, which lets a submitter that has more to submit get
 * ahead.  A submitter that waits for each request (a true queue depth 1)
 * pays that probe's wake-up once in LOOP_BESIDE_PROBE requests.
 */
#define LOOP_BESIDE_CREDIT	256
#define LOOP_BESIDE_PROBE	256

/*
 * When each CPU last dispatched a request to any loop device of ours, in
 * jiffies: written by dispatches (once a jiffy at most, so that the line
 * is not bounced at every request), read for the CPU beside.
 */
static DEFINE_PER_CPU(unsigned long, loop_dispatched_at);

static void loop_note_dispatch(void)
{
	unsigned long now = jiffies;

	if (this_cpu_read(loop_dispatched_at) != now)
		this_cpu_write(loop_dispatched_at, now);
}

/*
 * Does @cpu run a submitter of its own: did it dispatch within the last
 * jiffy or two?  A CPU that never did reads 0, in the past by the
 * unsigned difference except for two jiffies at the counter's wrap,
 * which at worst leaves a busy queue counted idle until the next probe.
 */
static bool loop_cpu_submitting(int cpu)
{
	return jiffies - READ_ONCE(per_cpu(loop_dispatched_at, cpu)) <= 1;
}

/* Where a busy queue's work goes: the next CPU online after this one. */
static int loop_cpu_beside(void)
{
	int cpu = cpumask_next(raw_smp_processor_id(), cpu_online_mask);

	return cpu < nr_cpu_ids ? cpu : cpumask_first(cpu_online_mask);
}

/*
 * Called once per request dispatched: decide whether @hq's work goes
 * beside the submitter now.  The verdict is kept in @hq->beside for the
 * NOWAIT attempt and the wake-ups that follow (loop_queue_busy()).
 *
 * A second request dispatched while the first went beside is the
 * submitter getting ahead, as a probe is meant to let it: it has more to
 * submit, the queue is busy.  Unless the CPU beside dispatches too (a
 * submitter on each CPU): the two queues' work would only change CPUs,
 * each then taking turns with the other's submitter.
 */
static void loop_dispatch_beside(struct loop_hw_queue *hq)
{
	unsigned int credit = READ_ONCE(hq->beside_credit);
	int inflight = atomic_read(&hq->inflight);
	bool beside = true;

	loop_note_dispatch();
	if (inflight > LOOP_BUSY_INFLIGHT ||
	    (inflight > 1 && READ_ONCE(hq->beside) &&
	     !loop_cpu_submitting(loop_cpu_beside())))
		WRITE_ONCE(hq->beside_credit, LOOP_BESIDE_CREDIT);
	else if (credit)
		WRITE_ONCE(hq->beside_credit, credit - 1);
	else
		beside = !(++hq->probe % LOOP_BESIDE_PROBE);
	WRITE_ONCE(hq->beside, beside);
}

/* The last verdict of loop_dispatch_beside() on @hq. */
static bool loop_queue_busy(struct loop_hw_queue *hq)
{
	return READ_ONCE(hq->beside);
}

/*
 * Does @lo's work gain from two CPUs at once?  A cipher's does: moving
 * data through it is CPU work (most of a request's time), which a second
 * worker on another CPU shares.  Plain I/O is mostly waiting, which one
 * worker overlaps by itself, and so is a transfer that costs about what a
 * copy of the data does (LOOP_TRANSFER_CHEAP, as XOR): measured (make
 * bench, 64k QD4 through XOR), a worker on the submitter's CPU as well
 * cost reads a third to a half of their speed, preempting the submitter
 * it was to help, and gained writes a fifth.
 * (The transfer changes only with the queue frozen: not while a request
 * is queued to a worker.)
 */
static bool loop_work_parallel(struct loop_device *lo)
{
	return lo->xfer.funcs &&
	       !(lo->xfer.funcs->flags & LOOP_TRANSFER_CHEAP);
}

/* Execute one request in its worker; I/O may be left to complete later. */
static void loop_run_cmd(struct loop_cmd *cmd)
{
	struct request *rq = blk_mq_rq_from_pdu(cmd);
	struct loop_charge charge;
	long ret;

	loop_charge_begin(rq, &charge);
	if (cmd->resume) {
		/* The rest of a short direct I/O (loop_aio_complete()). */
		cmd->resume = false;
		ret = loop_aio_rest(rq->q->queuedata, cmd, cmd->ret);
	} else {
		ret = loop_execute(rq->q->queuedata, cmd, rq);
	}
	loop_charge_end(&charge);
	if (ret != -EIOCBQUEUED)
		loop_cmd_done(cmd, ret);
}

/*
 * Take what @w's worker runs next into @batch: all its requests (one
 * lock round trip for the lot), or, where two CPUs gain (a cipher's
 * work), one, so that the worker's other work item, running on another
 * CPU, takes the next.  Returns whether it took one only.
 */
static bool loop_worker_take(struct loop_worker *w, struct list_head *batch)
{
	struct loop_cmd *cmd;
	bool one = false;

	spin_lock_irq(&w->lock);
	cmd = list_first_entry_or_null(&w->cmds, struct loop_cmd, node);
	if (cmd && loop_work_parallel(blk_mq_rq_from_pdu(cmd)->q->queuedata)) {
		list_move_tail(&cmd->node, batch);
		one = true;
	} else {
		list_splice_init(&w->cmds, batch);
	}
	spin_unlock_irq(&w->lock);
	return one;
}

/*
 * How long a worker beside a busy queue's submitter waits for its next
 * request before it ends.  A submitter keeping a queue full submits one
 * request per completion it reaps, a few microseconds apart; had the
 * worker ended meanwhile, the submitter would queue it again, and pay
 * for the work item's queueing and the wake-up of this CPU at each
 * request, on the CPU that is the pipeline's limit.
 */
#define LOOP_LINGER_NS		(50 * NSEC_PER_USEC)

/*
 * @w's list is empty: wait up to LOOP_LINGER_NS for a request, with
 * @w->polling set so that the request's submitter does not queue @w.
 * Returns whether one came; if not, @w->polling is clear, and a request
 * added after that queues @w again.  Not where a submitter runs on this
 * CPU too (one per CPU): waiting would take its time.
 */
static bool loop_worker_linger(struct loop_worker *w)
{
	u64 until = local_clock() + LOOP_LINGER_NS;
	bool more;

	if (!loop_cpu_submitting(raw_smp_processor_id())) {
		spin_lock_irq(&w->lock);
		w->polling = true;
		spin_unlock_irq(&w->lock);
		while (list_empty(&w->cmds) && !need_resched() &&
		       local_clock() < until)
			cpu_relax();
	}
	/* Set by an earlier call or this one: cleared only with none left. */
	spin_lock_irq(&w->lock);
	more = !list_empty(&w->cmds);
	if (!more)
		w->polling = false;
	spin_unlock_irq(&w->lock);
	return more;
}

/*
 * Either of a worker's work items: run the requests queued to it,
 * until there are none.  It takes them a batch at a time
 * (loop_worker_take()) and submits each batch under a plug, so that the
 * backing device sees the batch's I/O together.  A request queued after
 * the list was found empty queues the work again, which then runs once
 * more.
 */
static void loop_worker_run(struct loop_worker *w, bool local)
{
	struct loop_hw_queue *hq = NULL;
	struct loop_device *lo = NULL;
	unsigned long pflags = current->flags;
	struct loop_cmd *cmd, *next;
	struct blk_plug plug;
	unsigned int noio;
	LIST_HEAD(batch);
	bool parallel;

	/*
	 * We write pages that reclaim may be waiting on: allocations here
	 * must not recurse into I/O, and dirty throttling must look at the
	 * backing device only, or the device could wait on itself.  (The
	 * thread is the workqueue's: its flags are restored after.)
	 */
	current->flags |= PF_LOCAL_THROTTLE;
	noio = memalloc_noio_save();
	for (;;) {
		parallel = loop_worker_take(w, &batch);
		if (list_empty(&batch)) {
			/*
			 * Not for a cipher's work, which both work items
			 * share (loop_work_parallel()): while this one
			 * lingers, loop_wake_worker() queues neither, and the
			 * work would be left to one CPU.
			 */
			if (!local && lo && !loop_work_parallel(lo) &&
			    loop_worker_linger(w))
				continue;
			break;
		}
		cmd = list_first_entry(&batch, struct loop_cmd, node);
		hq = blk_mq_rq_from_pdu(cmd)->mq_hctx->driver_data;
		lo = blk_mq_rq_from_pdu(cmd)->q->queuedata;
		blk_start_plug(&plug);
		list_for_each_entry_safe(cmd, next, &batch, node) {
			list_del_init(&cmd->node);
			/* After this the request may complete, and be reused. */
			loop_run_cmd(cmd);
			cond_resched();
		}
		blk_finish_plug(&plug);
		/*
		 * The submitter's CPU is its own again: the rest goes beside
		 * (unless two CPUs share the work: loop_wake_worker()).
		 */
		if (local && !parallel && loop_queue_busy(hq)) {
			if (!list_empty(&w->cmds) && !READ_ONCE(w->polling))
				queue_work_on(loop_cpu_beside(), w->wq,
					      &w->work_beside);
			break;
		}
	}
	memalloc_noio_restore(noio);
	current_restore_flags(pflags, PF_LOCAL_THROTTLE);
}

static void loop_worker_fn(struct work_struct *work)
{
	loop_worker_run(container_of(work, struct loop_worker, work), true);
}

static void loop_worker_beside_fn(struct work_struct *work)
{
	loop_worker_run(container_of(work, struct loop_worker, work_beside),
			false);
}

/*
 * Buffered reads and transfers fill the request's pages by CPU copies
 * through kernel mappings.  On architectures whose data caches can alias
 * (and only there is this compiled in), user mappings of those pages must
 * then be made to see the data; direct I/O needs no flush but gets one too
 * rather than a second rule.
 */
static void loop_flush_read_pages(struct request *rq)
{
#ifdef ARCH_IMPLEMENTS_FLUSH_DCACHE_PAGE
	struct req_iterator ri;
	struct bio_vec bv;

	rq_for_each_segment(bv, rq, ri)
		flush_dcache_page(bv.bv_page);
#endif
}

static void loop_complete_rq(struct request *rq)
{
	struct loop_cmd *cmd = blk_mq_rq_to_pdu(rq);
	struct loop_hw_queue *hq = rq->mq_hctx->driver_data;
	blk_status_t status = BLK_STS_OK;
	long ret = cmd->ret;

	loop_cmd_iter_free(cmd);
	atomic_dec(&hq->inflight);

	if (ret > 0 && req_op(rq) == REQ_OP_READ)
		loop_flush_read_pages(rq);
	if (ret < 0) {
		status = errno_to_blk_status(ret);
	} else if ((req_op(rq) == REQ_OP_READ || req_op(rq) == REQ_OP_WRITE) &&
		   ret < blk_rq_bytes(rq)) {
		/*
		 * Only a read that met the end of the file is short; writes
		 * are whole or fail (a short one would be a bug).
		 */
		if (req_op(rq) == REQ_OP_READ)
			loop_zero_tail(rq, ret);
		else
			status = BLK_STS_IOERR;
	}
	blk_mq_end_request(rq, status);
}

/*
 * Stack a NOWAIT attempt may start with.  The attempt runs the backing
 * file system, which may end a plug and so run the queue of the device
 * under it, which may be a loop device doing the same: each level of
 * stacking takes stack, and below this much the request goes to a worker,
 * whose stack is fresh.
 */
#define LOOP_NOWAIT_STACK_MIN	(THREAD_SIZE / 2)

static bool loop_stack_room(void)
{
#ifdef CONFIG_STACK_GROWSUP
	return false;
#else
	unsigned long here = (unsigned long)&here;

	return here - (unsigned long)task_stack_page(current) >
	       LOOP_NOWAIT_STACK_MIN;
#endif
}

/* Outside submit_bio(), or inside it with no other bio waiting there. */
static bool loop_nothing_parked(void)
{
	struct bio_list *parked = current->bio_list;

	return !parked ||
	       (bio_list_empty(&parked[0]) && bio_list_empty(&parked[1]));
}

/* How long writes skip NOWAIT after one came back -EAGAIN, at most. */
#define LOOP_NOWAIT_BACKOFF_MAX	1024u

/*
 * May @rq be tried with IOCB_NOWAIT from loop_queue_rq()?  Not:
 *  - with a transfer (it needs bounce pages and a worker's time), except
 *    a read through one that works in place (loop_reads_in_place()):
 *    read into the request's pages, transformed there;
 *  - buffered writes (file systems refuse NOWAIT for them) and FUA writes
 *    (a data sync is never without waiting);
 *  - a file whose file system does not support NOWAIT: it would block;
 *  - a block device: its read_iter takes its inode's lock, which our
 *    submitter may hold on the device above (a buffered read of a loop
 *    device reaches us with it held), one lock class for every block
 *    device: lockdep reports recursion, although the devices differ;
 *  - a submitter inside a file system transaction (current->journal_info
 *    set): the backing file system would take the handle for its own
 *    (ext4 may start one even for a read, to update the access time);
 *  - file system metadata (REQ_META): its submitter may hold that file
 *    system's locks, of the classes the backing file system takes;
 *  - with little stack left (loop_stack_room());
 *  - inside submit_bio() with bios parked on the caller's list (a split
 *    bio's rest, a stacking driver's clones): the backing file system's
 *    own bios, issued before it returns (loop_try_nowait()), could wait
 *    for memory that only those free, and without the list the block
 *    layer's rescuer cannot see them;
 *  - on a busy queue (loop_dispatch_beside()): a worker beside the
 *    submitter lets it go on submitting while the request is done, where
 *    NOWAIT would have it do the request itself first;
 *  - writes on a queue whose last NOWAIT writes failed with -EAGAIN:
 *    writes into a sparse file need blocks allocated, and always fail so;
 *    trying each would only add a failed call to the worker's.
 * Inside submit_bio() with nothing parked it is tried too, with the
 * caller's (empty) bio list set aside.
 */
static bool loop_nowait_allowed(struct loop_device *lo,
				struct loop_hw_queue *hq, struct request *rq)
{
	enum req_op op = req_op(rq);
	unsigned int skip;

	if (op != REQ_OP_READ && op != REQ_OP_WRITE)
		return false;
	if (loop_queue_busy(hq))
		return false;
	if (current->journal_info || (rq->cmd_flags & REQ_META))
		return false;
	if (lo->xfer_lost || !(lo->backing->f_mode & FMODE_NOWAIT) ||
	    S_ISBLK(file_inode(lo->backing)->i_mode))
		return false;
	if (lo->xfer.funcs && (op != REQ_OP_READ || !loop_reads_in_place(lo)))
		return false;
	if (op == REQ_OP_WRITE) {
		if (!lo->use_dio || (rq->cmd_flags & REQ_FUA) ||
		    (lo->flags & LO_FLAGS_READ_ONLY))
			return false;
		skip = READ_ONCE(hq->nowait_skip);
		if (skip) {
			WRITE_ONCE(hq->nowait_skip, skip - 1);
			return false;
		}
	}
	return loop_nothing_parked() && loop_stack_room();
}

/* A NOWAIT write came back: adjust how long writes skip NOWAIT. */
static void loop_nowait_write_result(struct loop_hw_queue *hq, bool again)
{
	unsigned int backoff = READ_ONCE(hq->nowait_backoff);

	if (!again) {
		if (backoff)
			WRITE_ONCE(hq->nowait_backoff, 0);
		return;
	}
	backoff = clamp(backoff * 2, 16u, LOOP_NOWAIT_BACKOFF_MAX);
	WRITE_ONCE(hq->nowait_backoff, backoff);
	WRITE_ONCE(hq->nowait_skip, backoff);
}

/*
 * For lockdep, the backing file system runs outside our dispatch's SRCU,
 * as it does in a worker; the SRCU is still held.  Held, lockdep sees it
 * taken before every lock of the backing file system, one class each for
 * all file systems of a type: ext4's i_data_sem (read for a cold extent)
 * ties it to ext4 on this very device, whose block allocation submits to
 * us with an inode's i_data_sem held, and a freeze and quiesce of our
 * queue (io.max set for the first time, a scheduler change) closes a
 * cycle.  There is none between the locks themselves: a device's backing
 * file is never on a file system that the device itself carries.
 */
static void loop_lockdep_leave_dispatch(struct request_queue *q)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lock_map_release(&compat_dispatch_srcu(q)->dep_map);
#endif
}

/*
 * As srcu_read_lock() tells it on 6.12.  6.1 takes the SRCU unchecked,
 * and its synchronize_srcu() takes no lockdep map: checked from here on,
 * it can be in no cycle.
 */
static void loop_lockdep_reenter_dispatch(struct request_queue *q)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lock_map_acquire_read(&compat_dispatch_srcu(q)->dep_map);
#endif
}

/*
 * Try @rq with IOCB_NOWAIT, in the submitter's context.  True if it is
 * taken care of (completed, or its completion will come); false if it
 * must go to a worker, as if never tried.
 */
static bool loop_try_nowait(struct loop_device *lo, struct loop_hw_queue *hq,
			    struct loop_cmd *cmd, struct request *rq)
{
	bool write = req_op(rq) == REQ_OP_WRITE;
	struct bio_list *bio_list;
	struct blk_plug *plug;
	struct iov_iter iter;
	unsigned int noio;
	long ret;

	if (!loop_nowait_allowed(lo, hq, rq))
		return false;
	if (loop_cmd_iter(cmd, rq, write, GFP_NOWAIT))
		return false;
	loop_prep_kiocb(lo, cmd, rq, loop_rq_pos(lo, rq),
			IOCB_NOWAIT | (lo->use_dio ? IOCB_DIRECT : 0));
	cmd->nowait = true;
	iter = cmd->iter;

	/*
	 * The backing file system starts its own plug and ends it before
	 * returning: not in ours, which we may be called from the end of.
	 * Called from within submit_bio(), we set its (empty) bio list
	 * aside as well: the bios the backing file system submits are then
	 * issued before it returns, not parked until we do, so that it can
	 * wait for one (NOWAIT is a promise file systems keep only mostly:
	 * ext4 still reads a cold extent block, and waits for it) as it
	 * would in a worker.  The stack that costs is bounded by
	 * loop_stack_room().  Its allocations must not recurse into I/O,
	 * as in a worker, nor those of a transfer's decoding: buffered, the
	 * data is there when the call returns (loop_nowait_allowed()).
	 */
	plug = compat_hide_plug();
	bio_list = current->bio_list;
	current->bio_list = NULL;
	noio = memalloc_noio_save();
	loop_lockdep_leave_dispatch(rq->q);
	ret = loop_aio_call(lo, cmd, &iter, write);
	loop_lockdep_reenter_dispatch(rq->q);
	if (lo->xfer.funcs && ret >= (long)blk_rq_bytes(rq))
		ret = loop_transform_in_place(lo, rq) ?: ret;
	memalloc_noio_restore(noio);
	current->bio_list = bio_list;
	compat_restore_plug(plug);

	if (write)
		loop_nowait_write_result(hq, ret == -EAGAIN);
	if (ret == -EIOCBQUEUED) {
		loop_aio_put(cmd);
		return true;
	}
	if (ret >= (long)blk_rq_bytes(rq)) {
		loop_cmd_done(cmd, ret);
		return true;
	}
	cmd->nowait = false;
	/* A transfer's read starts again in the worker, whole. */
	if (ret > 0 && !lo->xfer.funcs) {
		/* Short: the worker continues it (loop_aio_rest()). */
		cmd->ret = ret;
		cmd->resume = true;
		return false;
	}
	/* -EAGAIN, or an error the worker will meet again and report. */
	loop_cmd_iter_free(cmd);
	return false;
}

static blk_status_t loop_queue_rq(struct blk_mq_hw_ctx *hctx,
				  const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	struct loop_cmd *cmd = blk_mq_rq_to_pdu(rq);
	struct loop_device *lo = rq->q->queuedata;
	struct loop_hw_queue *hq = hctx->driver_data;
	/* One read: the count, the queues and the workers agree. */
	struct loop_workers *ws = smp_load_acquire(&lo->workers);

	blk_mq_start_request(rq);
	if (unlikely(!ws))
		return BLK_STS_IOERR;

	cmd->bvec = NULL;
	cmd->resume = false;
	cmd->nowait = false;
	atomic_inc(&hq->inflight);
	loop_dispatch_beside(hq);
	/*
	 * Once handed off, the request may end at any moment, and with it
	 * the queue's last reference, which is all that a freeze, and so
	 * an unbind or change of backing file, waits for.  Our own
	 * reference keeps the workers and the backing file until we
	 * return, for us and for a file system call that returns after
	 * its I/O ended.
	 */
	percpu_ref_get(&hctx->queue->q_usage_counter);
	if (!loop_try_nowait(lo, hq, cmd, rq))
		loop_queue_cmd(ws, cmd, false);
	loop_slow_dispatch();
	/* Earlier requests of the batch may wait for this, wherever it went. */
	if (bd->last)
		loop_kick_workers(ws, hctx);
	percpu_ref_put(&hctx->queue->q_usage_counter);
	return BLK_STS_OK;
}

/*
 * blk-mq said more requests would follow the last one it gave
 * loop_queue_rq(), then gave none.  Unlike loop_queue_rq(), this holds no
 * request, and the workers go with the queue frozen: a reference on the
 * queue keeps them (or says, when it cannot be had, that the queue is
 * frozen, so that no request is waiting for a worker).  Not the quiesce
 * blk-mq offers: a device's unbind would then wait for its dispatch,
 * which can wait for a file system on a device below it.
 */
static void loop_commit_rqs(struct blk_mq_hw_ctx *hctx)
{
	struct request_queue *q = hctx->queue;
	struct loop_device *lo = q->queuedata;
	struct loop_workers *ws;

	if (!percpu_ref_tryget(&q->q_usage_counter))
		return;
	/* Pairs with loop_start_workers()' release: a whole structure. */
	ws = smp_load_acquire(&lo->workers);
	if (ws)
		loop_kick_workers(ws, hctx);
	percpu_ref_put(&q->q_usage_counter);
}

/*
 * Start worker @w of @hctx: on this CPU, or, if the queue is busy, on the
 * next one online, so that its I/O runs beside the submitter; where two
 * CPUs gain (loop_work_parallel()), on both, each work item taking one
 * request at a time from the worker's list.  A CPU going offline
 * meanwhile only moves the work.
 */
static void loop_wake_worker(struct loop_workers *ws,
			     struct blk_mq_hw_ctx *hctx, struct loop_worker *w)
{
	/* Pairs with loop_worker_linger() through @w->lock. */
	if (READ_ONCE(w->polling))
		return;
	if (!loop_queue_busy(hctx->driver_data)) {
		queue_work_on(raw_smp_processor_id(), ws->wq, &w->work);
		return;
	}
	queue_work_on(loop_cpu_beside(), ws->wq, &w->work_beside);
	if (loop_work_parallel(hctx->queue->queuedata))
		queue_work_on(raw_smp_processor_id(), ws->wq, &w->work);
}

/* The first of the @ws->per_queue workers that serve @hctx. */
static struct loop_worker *loop_hctx_workers(struct loop_workers *ws,
					     struct blk_mq_hw_ctx *hctx)
{
	return &ws->w[hctx->queue_num * ws->per_queue];
}

/*
 * Start the workers of @hctx that have requests waiting: once per batch
 * that loop_queue_rq() was given, not once per request.
 */
static void loop_kick_workers(struct loop_workers *ws,
			      struct blk_mq_hw_ctx *hctx)
{
	struct loop_worker *w = loop_hctx_workers(ws, hctx);
	unsigned int i;

	for (i = 0; i < ws->per_queue; i++) {
		/*
		 * What the batch added is still on the list, or a worker
		 * took it, and runs it; an empty list needs nothing.
		 */
		if (!list_empty(&w[i].cmds))
			loop_wake_worker(ws, hctx, &w[i]);
	}
}

/*
 * Hand @cmd to a worker of its hardware queue (the next in turn if there
 * are several); any context.  Starts the worker if @kick; otherwise the
 * caller, a dispatch, does it once for its batch (loop_kick_workers()).
 */
static void loop_queue_cmd(struct loop_workers *ws, struct loop_cmd *cmd,
			   bool kick)
{
	struct blk_mq_hw_ctx *hctx = blk_mq_rq_from_pdu(cmd)->mq_hctx;
	struct loop_worker *w = loop_hctx_workers(ws, hctx);
	unsigned long flags;

	if (ws->per_queue > 1) {
		struct loop_hw_queue *hq = hctx->driver_data;
		unsigned int next = READ_ONCE(hq->next);

		WRITE_ONCE(hq->next, next + 1);
		w += next % ws->per_queue;
	}
	spin_lock_irqsave(&w->lock, flags);
	list_add_tail(&cmd->node, &w->cmds);
	spin_unlock_irqrestore(&w->lock, flags);
	/* Already queued and not yet running: it will find this one. */
	if (kick)
		loop_wake_worker(ws, hctx, w);
}

static int loop_init_hctx(struct blk_mq_hw_ctx *hctx, void *data,
			  unsigned int hctx_idx)
{
	struct loop_hw_queue *hq;

	hq = kzalloc_node(sizeof(*hq), GFP_KERNEL, hctx->numa_node);
	if (!hq)
		return -ENOMEM;
	hctx->driver_data = hq;
	return 0;
}

static void loop_exit_hctx(struct blk_mq_hw_ctx *hctx, unsigned int hctx_idx)
{
	kfree(hctx->driver_data);
	hctx->driver_data = NULL;
}

static int loop_init_request(struct blk_mq_tag_set *set, struct request *rq,
			     unsigned int hctx_idx, unsigned int numa_node)
{
	struct loop_cmd *cmd = blk_mq_rq_to_pdu(rq);

	INIT_LIST_HEAD(&cmd->node);
	cmd->bvec = NULL;
	return 0;
}

const struct blk_mq_ops loop_mq_ops = {
	.queue_rq	= loop_queue_rq,
	.commit_rqs	= loop_commit_rqs,
	.complete	= loop_complete_rq,
	.init_hctx	= loop_init_hctx,
	.exit_hctx	= loop_exit_hctx,
	.init_request	= loop_init_request,
};

/*
 * Free workers that loop_stop_workers() took off their device, once the
 * queue is unfrozen: destroying the workqueue drains it, and a drain
 * inside the freeze would order the queue's freeze before everything
 * the workers' I/O takes (other devices' queues among it) for lockdep.
 * Nothing is left to run: no request was in flight when they were taken.
 */
void loop_free_workers(struct loop_workers *ws)
{
	unsigned int i;

	if (!ws)
		return;
	destroy_workqueue(ws->wq);
	for (i = 0; i < ws->nr_queues * ws->per_queue; i++)
		WARN_ON_ONCE(!list_empty(&ws->w[i].cmds));
	kfree(ws);
}

/* Called at bind, before the device is BOUND, with lo->lock held. */
int loop_start_workers(struct loop_device *lo)
{
	unsigned int i, nr_queues = lo->tag_set.nr_hw_queues;
	unsigned int n = nr_queues * loop_nr_workers;
	struct loop_workers *ws;

	lockdep_assert_held(&lo->lock);
	ws = kzalloc(struct_size(ws, w, n), GFP_KERNEL);
	if (!ws)
		return -ENOMEM;
	ws->nr_queues = nr_queues;
	ws->per_queue = loop_nr_workers;
	/*
	 * Per-CPU, not unbound: loop_wake_worker() chooses the CPU, the
	 * submitter's own or, for a busy queue, another.
	 */
	ws->wq = alloc_workqueue(LOOP_NAME "%d", WQ_MEM_RECLAIM, 0, lo->number);
	if (!ws->wq) {
		kfree(ws);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct loop_worker *w = &ws->w[i];

		INIT_WORK(&w->work, loop_worker_fn);
		INIT_WORK(&w->work_beside, loop_worker_beside_fn);
		w->wq = ws->wq;
		spin_lock_init(&w->lock);
		INIT_LIST_HEAD(&w->cmds);
	}
	/* Fully built before loop_queue_rq() can see it. */
	smp_store_release(&lo->workers, ws);
	return 0;
}

/*
 * Called at unbind (and when a bind fails) with the queue frozen: no
 * request is between loop_queue_rq() and its completion, so none is on a
 * worker's list, and none can be queued until the queue is unfrozen.
 * Takes the workers off the device; the caller frees them with
 * loop_free_workers() after unfreezing.
 */
struct loop_workers *loop_stop_workers(struct loop_device *lo)
{
	struct loop_workers *ws = lo->workers;

	WARN_ON_ONCE(!READ_ONCE(lo->disk->queue->mq_freeze_depth));
	WRITE_ONCE(lo->workers, NULL);
	return ws;
}

/*
 * Direct I/O needs a file that supports it, and every request must be
 * aligned to the backing device's logical blocks: our block size must be
 * at least theirs, and the offset a multiple of it.
 */
bool loop_can_direct_io(struct file *file, loff_t offset,
			unsigned int block_size)
{
	struct block_device *under = loop_backing_bdev(file);
	unsigned int need = SECTOR_SIZE;

	if (!(file->f_mode & FMODE_CAN_ODIRECT))
		return false;
	if (under)
		need = bdev_logical_block_size(under);
	return block_size >= need && IS_ALIGNED(offset, need);
}
