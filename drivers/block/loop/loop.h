/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private interface between the files of the loop driver.
 *
 *   main.c   module parameters, device lifetime (add, probe, remove),
 *            block_device_operations, /dev/loop-control
 *   ioctl.c  binding a backing file, status, per-device ioctls
 *   io.c     blk-mq queues, workers, backing file I/O
 *   transfer.c  transfer registry, a device's transfer state, bounce
 *            memory
 *   xor.c    LO_CRYPT_XOR, the built-in transfer
 *   sysfs.c  /sys/block/loopN/loop/
 *   limits.c queue limits a binding offers, applied to the request queue
 *   fault.c  fault injection for the tests (debugfs)
 *   compat.h kernel-version shims (a leaf: knows nothing of this driver)
 */
#ifndef _DRIVERS_BLOCK_LOOP_H
#define _DRIVERS_BLOCK_LOOP_H

/*
 * Lock order, outermost first.  Each lock's data is documented where the
 * lock is defined; these are all the nestings the driver makes:
 *
 *   loop_bind_lock (ioctl.c)      a bind's check for loops of devices
 *     lo->lock                    of the device being bound, then of each
 *                                 device below it, one at a time (nested)
 *   disk->open_mutex              ->open and ->release run under it;
 *     lo->lock                    LOOP_CLR_FD and LOOP_CTL_REMOVE take both,
 *                                 as the opener count is exact only there
 *   loop_index_lock (main.c)      dropping a transfer from every device
 *     lo->lock
 *   loop_transfers_lock           (transfer.c) a leaf: nothing nests inside
 *   lo->lock
 *     queue freeze (loop_freeze)  changes to a bound device
 *       queue limits (6.9+)       applied inside the freeze, the order of
 *                                 6.12's own sysfs stores
 *   loop_worker.lock              a leaf spinlock, irq-safe
 *   loop_bounce_reserve.lock      held by a worker for one request's
 *                                 backing-file I/O; under no other lock
 *                                 of ours, and takes none
 *   loop_bounce_reserve.spare_lock  a leaf spinlock, process context
 *
 * Never the other way round: in particular nothing takes open_mutex or
 * loop_index_lock with lo->lock held (partition rescans and the final
 * fput of a backing block device run after lo->lock is dropped), and
 * nothing waits for I/O on a device inside its freeze.
 */

#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>
#include <linux/uio.h>
#include <linux/uidgid.h>
#include <linux/loop.h>
#include <linux/loop_transfer.h>

#include "compat.h"

/*
 * Normally the driver is "loop" on block major 7 with /dev/loop-control on
 * misc minor 237.  Built with LOOP_NAME=<name> (see Makefile) it takes that
 * name for its module, devices and control node, a dynamic major and a
 * dynamic minor, so that it can run beside a built-in loop driver.
 */
#ifdef LOOP_ALT_NAME
#define LOOP_NAME		LOOP_ALT_NAME
#define LOOP_FIXED_MAJOR	0
#define LOOP_CONTROL_MINOR	MISC_DYNAMIC_MINOR
#else
#define LOOP_NAME		"loop"
#define LOOP_FIXED_MAJOR	LOOP_MAJOR
#define LOOP_CONTROL_MINOR	LOOP_CTRL_MINOR
#endif

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

/*
 * Life cycle of a device.  Only the transitions below exist:
 *
 *   UNBOUND --bind--> BOUND --unbind--> RUNDOWN --> UNBOUND
 *   UNBOUND --LOOP_CTL_REMOVE--> DELETING (then freed)
 *
 * RUNDOWN marks a device detached by LOOP_CLR_FD whose last opener has yet
 * to close it, and then one whose backing file is being released (by
 * ->release, without lo->lock).  Meanwhile it refuses new openers and every
 * other operation treats it as unbound or busy.
 */
enum loop_state {
	LOOP_UNBOUND,
	LOOP_BOUND,
	LOOP_RUNDOWN,
	LOOP_DELETING,
};

/*
 * One worker of a binding: work items on the binding's workqueue.
 * loop_queue_cmd() appends requests to @cmds and queues @work on the
 * submitter's CPU, or, when the queue is busy, @work_beside on another
 * (loop_wake_worker()); either takes the list's requests a batch at a
 * time and runs them, in process context where backing file I/O may
 * sleep.  Two items, because a per-CPU work item that keeps finding work
 * never leaves its CPU: the second gives a busy queue a consumer beside
 * its submitter, and @work, finding its queue busy, hands over to it.
 * A request is on at most one list at a time, and only between being
 * handed to a worker and the start of its execution.
 */
struct loop_worker {
	struct work_struct	work;
	struct work_struct	work_beside;
	struct workqueue_struct	*wq;		/* the binding's */
	spinlock_t		lock;		/* protects cmds, polling */
	struct list_head	cmds;		/* loop_cmd.node */
	/*
	 * @work_beside is running and will look at @cmds again before it
	 * ends (loop_worker_linger()): whoever adds a request need not
	 * queue it.  Set and cleared under @lock; read without it after
	 * adding to @cmds under it.
	 */
	bool			polling;
} ____cacheline_aligned_in_smp;

/*
 * The workers of one binding, created at bind and destroyed at unbind:
 * @per_queue workers for each of the device's @nr_queues hardware queues,
 * queue q's being w[q * per_queue] on, so that requests from different
 * queues (CPUs) never meet on one list or lock.  Their workqueue is the
 * binding's own and WQ_MEM_RECLAIM: its rescuer thread (the only thread a
 * bound device owns) guarantees progress when memory is short, and a
 * device stacked on another never waits behind it in a shared queue.
 *
 * Readers take lo->workers once and use everything from the structure
 * they got, so that a request never sees the count of one binding with
 * the workers of another.
 */
struct loop_workers {
	struct workqueue_struct	*wq;
	unsigned int		nr_queues;
	unsigned int		per_queue;
	struct loop_worker	w[];
};

/*
 * Per hardware queue, for the life of the disk (hctx->driver_data).  Only
 * hints: @inflight is counted atomically (up in loop_queue_rq(), down at
 * completion, on any CPU); the rest is read and written without locks by
 * whoever dispatches on the queue: a lost update costs a worker's turn
 * or one NOWAIT attempt.
 */
struct loop_hw_queue {
	atomic_t		inflight;	/* requests dispatched, not completed */
	unsigned int		next;		/* round robin among its workers */
	unsigned int		nowait_skip;	/* writes left to send straight to a worker */
	unsigned int		nowait_backoff;	/* next value of nowait_skip */
	unsigned int		beside_credit;	/* requests left to count as busy */
	unsigned int		probe;		/* counts idle-looking dispatches */
	bool			beside;		/* last loop_dispatch_beside() verdict */
};

/* A device's transfer; all zero for LO_CRYPT_NONE. */
struct loop_xfer {
	struct loop_func_table		*funcs;
	struct loop_transfer_state	state;
	kuid_t				owner;	/* who set the key */
};

struct loop_device {
	int			number;
	struct gendisk		*disk;
	struct blk_mq_tag_set	tag_set;
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	struct lock_class_key	srcu_key;	/* see loop_srcu_class_create() */
#endif

	/* Protected by loop_index_lock (main.c): listed for lookups. */
	bool			visible;

	/*
	 * lock serialises the control plane (ioctls, open, release, sysfs
	 * readers) and protects every field below it.  The I/O path reads
	 * the binding fields without it: whoever changes them while bound
	 * first freezes the queue, so no request is in flight meanwhile,
	 * nor any dispatch or backing-file call made for one: those hold
	 * the queue or their request until they return (loop_queue_rq(),
	 * loop_aio_put()).
	 */
	struct mutex		lock;
	enum loop_state		state;
	struct file		*backing;	/* held reference */
	loff_t			offset;		/* bytes into the backing file */
	loff_t			sizelimit;	/* bytes, 0 == to the end */
	u32			flags;		/* LO_FLAGS_* */
	char			file_name[LO_NAME_SIZE];
	bool			use_dio;	/* direct I/O is in effect */
	gfp_t			saved_gfp_mask;	/* backing mapping's, restored on unbind */
	struct loop_xfer	xfer;
	bool			xfer_lost;	/* its transfer was unregistered */
	struct loop_bounce_reserve *bounce_reserve; /* with a transfer */

	/*
	 * LOOP_WARNED_* bits, atomic; cleared at bind.  A set bit also
	 * withdraws that operation from the binding's queue limits, which
	 * withdraw_work applies: never from a request's context, where the
	 * queue-limits lock could wait on a freeze that waits on us.
	 */
	unsigned long		warned;
	struct work_struct	withdraw_work;

	/*
	 * The binding's workers: set by loop_start_workers() before the
	 * device becomes BOUND, cleared by loop_stop_workers() at unbind,
	 * both with lo->lock held or (unbind) by the task that moved the
	 * device to RUNDOWN, and cleared only with the queue frozen.
	 * loop_queue_rq() reads it without locks (smp_load_acquire()).
	 */
	struct loop_workers	*workers;
};

/* Things a device logs at most once per binding. */
enum {
	LOOP_WARNED_DISCARD,
	LOOP_WARNED_WRITE_ZEROES,
};

/*
 * A request's segments as one iterator need a bio_vec table when it has
 * several bios; this many entries live in the request itself, so that the
 * common small request allocates nothing.
 */
#define LOOP_INLINE_BVECS	8

/*
 * A request through a transfer moves its data in chunks of at most this
 * many bytes, each one backing-file I/O from pages of our own.
 */
#define LOOP_BOUNCE_BYTES	((unsigned int)SZ_256K)
#define LOOP_BOUNCE_PAGES	(LOOP_BOUNCE_BYTES / PAGE_SIZE)

/*
 * Bounce memory of one request through a transfer: whole pages that hold
 * a chunk of its data in the backing file's form, packed from the start
 * of the first page whatever the request's segments look like, so that
 * the backing file sees one aligned I/O per chunk.
 */
struct loop_bounce {
	struct bio_vec		*bv;		/* @nr pages, PAGE_SIZE each */
	unsigned int		nr;
	bool			reserved;	/* the device's reserve */
};

/*
 * Bounce pages for one whole chunk, set aside while a device has a
 * transfer.  A request that cannot allocate its bounce memory at once
 * gives back what it got and takes this, whole: no request ever waits
 * for memory while holding part of what it needs, so requests make
 * progress even when writeback through the device is what memory
 * reclaim waits for.
 */
struct loop_bounce_reserve {
	struct mutex		lock;		/* held by the request using bv */
	struct bio_vec		bv[LOOP_BOUNCE_PAGES];
	/*
	 * Pages that requests gave back, for the next ones: Debian's kernels
	 * (init_on_alloc=1) zero every page allocated, which cost a quarter
	 * of all CPU time in writes through XOR.  At most one chunk's worth.
	 */
	spinlock_t		spare_lock;	/* spare[], nr_spare */
	unsigned int		nr_spare;
	struct page		*spare[LOOP_BOUNCE_PAGES];
};

/*
 * Per-request state, allocated by blk-mq behind each struct request
 * (tag_set.cmd_size).
 */
struct loop_cmd {
	struct list_head	node;		/* on loop_worker.cmds */
	struct kiocb		iocb;		/* asynchronous direct I/O */
	struct iov_iter		iter;		/* all of its data, untouched */
	loff_t			pos;		/* where in the backing file */
	struct bio_vec		*bvec;		/* merged table, or NULL */
	long			ret;		/* bytes moved or -errno */
	/*
	 * Asynchronous direct I/O: the call that starts it and its
	 * completion, each a party; the last one done goes on with the
	 * request (loop_aio_put()).
	 */
	atomic_t		aio_parties;
	bool			resume;		/* direct I/O came back short */
	bool			nowait;		/* issued with IOCB_NOWAIT */
	struct bio_vec		inline_bvec[LOOP_INLINE_BVECS];
};

/* main.c */
void loop_drop_transfer_everywhere(const struct loop_func_table *funcs);
extern int loop_part_shift;
extern unsigned int loop_nr_workers;
extern unsigned int loop_nr_queues;
extern unsigned int loop_queue_depth;
extern const struct block_device_operations loop_fops;

/* ioctl.c; @mode is LOOP_OPEN_* */
void loop_unbind(struct loop_device *lo);
int loop_ioctl(struct block_device *bdev, unsigned int mode, unsigned int cmd,
	       unsigned long arg);
int loop_compat_ioctl(struct block_device *bdev, unsigned int mode,
		      unsigned int cmd, unsigned long arg);

/* io.c */
extern const struct blk_mq_ops loop_mq_ops;
int loop_start_workers(struct loop_device *lo);
struct loop_workers *loop_stop_workers(struct loop_device *lo);
void loop_free_workers(struct loop_workers *ws);
bool loop_can_direct_io(struct file *file, loff_t offset,
			unsigned int block_size);

/* xor.c */
extern struct loop_func_table loop_xor_transfer;

/* transfer.c */
int loop_transfer_init(void);
void loop_transfer_exit(void);
void loop_transfer_request(u32 type);
bool loop_transfer_known(u32 type);
int loop_transfer_prepare(const struct loop_info64 *info, struct loop_xfer *x);
void loop_transfer_release(struct loop_xfer *x);
void loop_drop_transfer(struct loop_device *lo,
			const struct loop_func_table *funcs);
void loop_transfer_report(const struct loop_xfer *x, struct loop_info64 *info);
bool loop_transfer_unchanged(const struct loop_xfer *x,
			     const struct loop_info64 *info,
			     const struct loop_info64 *shown);
bool loop_transfer_may_change(const struct loop_xfer *x);
bool loop_transfer_takes_ioctl(const struct loop_xfer *x, unsigned int cmd);
int loop_bounce_reserve_create(struct loop_device *lo);
void loop_bounce_reserve_destroy(struct loop_device *lo);
void loop_bounce_get(struct loop_device *lo, struct loop_cmd *cmd,
		     unsigned int len, struct loop_bounce *b);
void loop_bounce_put(struct loop_device *lo, struct loop_cmd *cmd,
		     struct loop_bounce *b);

/* limits.c */
extern const struct loop_limits loop_unbound_limits;
void loop_limits_for(struct loop_device *lo, struct file *file,
		     unsigned int bs, struct loop_limits *l);
int loop_apply_limits(struct request_queue *q, const struct loop_limits *l);
void loop_withdraw_work_fn(struct work_struct *work);

/* fault.c: with CONFIG_FAULT_INJECTION_DEBUG_FS, else nothing happens */
#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
int loop_fault_init(void);
void loop_fault_exit(void);
void loop_slow_init(void);
bool loop_fail_bounce(void);
void loop_slow_dispatch(void);
void loop_slow_aio_return(struct iov_iter *iter, size_t consumed);
#else
static inline int loop_fault_init(void)
{
	return 0;
}

static inline void loop_fault_exit(void)
{
}

static inline bool loop_fail_bounce(void)
{
	return false;
}

static inline void loop_slow_dispatch(void)
{
}

static inline void loop_slow_init(void)
{
}

static inline void loop_slow_aio_return(struct iov_iter *iter,
					size_t consumed)
{
}
#endif

/* sysfs.c */
int loop_sysfs_add(struct loop_device *lo);
void loop_sysfs_remove(struct loop_device *lo);

/*
 * Freeze a bound device's queue for a change that no request may see half
 * made.  Until loop_unfreeze(), nothing may wait for I/O on the device,
 * which would never come: no user copies (a page fault may need to read
 * from a file system on this very device), no fsync, no transfer set-up.
 * Those go before the freeze, and freeing the old state after it.  What
 * the block layer allocates for us meanwhile (uevents, queue limits) is
 * allocated as GFP_NOIO, as later kernels' blk_mq_freeze_queue() also
 * does, so that memory reclaim cannot wait on the device either.
 */
static inline unsigned int loop_freeze(struct loop_device *lo)
{
	unsigned int noio = memalloc_noio_save();

	blk_mq_freeze_queue(lo->disk->queue);
	return noio;
}

static inline void loop_unfreeze(struct loop_device *lo, unsigned int noio)
{
	blk_mq_unfreeze_queue(lo->disk->queue);
	memalloc_noio_restore(noio);
}

/*
 * A change of what the device's blocks hold (offset, size limit, transfer
 * or key) is bracketed by these two.  Before the freeze, what is dirty in
 * the device's page cache is written back under the mapping it was
 * written for.  After it, the clean pages go, all of them: any may have
 * been read under the old mapping, up to the freeze.  invalidate_bdev()
 * would leave those that a reader is copying from at that moment, or that
 * are still being read, for the next reader to find;
 * invalidate_inode_pages2() waits for those being read and takes every
 * clean page out from under its readers.  Dirty pages stay: they hold
 * what was written, which no mapping changes.
 */
static inline void loop_remap_writeback(struct loop_device *lo)
{
	lockdep_assert_held(&lo->lock);
	sync_blockdev(lo->disk->part0);
}

static inline void loop_remap_drop_cache(struct loop_device *lo)
{
	lockdep_assert_held(&lo->lock);
	invalidate_inode_pages2(compat_bdev_mapping(lo->disk->part0));
}

/* The device behind a gendisk or a request queue. */
static inline struct loop_device *loop_from_disk(struct gendisk *disk)
{
	return disk->private_data;
}

/*
 * The block device under a backing file: the file itself if it is one,
 * else the device its file system lives on, if any.
 */
static inline struct block_device *loop_backing_bdev(struct file *file)
{
	struct inode *inode = file->f_mapping->host;

	return S_ISBLK(inode->i_mode) ? I_BDEV(inode) : inode->i_sb->s_bdev;
}

#endif /* _DRIVERS_BLOCK_LOOP_H */
