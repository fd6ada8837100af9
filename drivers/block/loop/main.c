// SPDX-License-Identifier: GPL-2.0
/*
 * Loop block devices: a block device backed by a file.
 *
 * This file owns the module and the devices' lifetime: module parameters,
 * creating devices (up front, on demand when a /dev/loopN node is opened,
 * or through /dev/loop-control), removing them, and the block device
 * operations that route opens, closes and ioctls.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/idr.h>
#include <linux/major.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

#include "loop.h"

/*
 * All devices, by number.  loop_index_lock protects the IDR and each
 * device's ->visible: a device is visible once it is fully added, and is
 * hidden again while LOOP_CTL_REMOVE decides whether it may go.
 */
static DEFINE_IDR(loop_index);
static DEFINE_MUTEX(loop_index_lock);

/* Our block major: LOOP_MAJOR, or dynamic for a renamed build. */
static int loop_major;

/* Built against a kernel without the stock driver, the symbol is unset. */
#ifndef CONFIG_BLK_DEV_LOOP_MIN_COUNT
#define CONFIG_BLK_DEV_LOOP_MIN_COUNT	8
#endif

/* Module parameters; read-only once the module is loaded. */
static int max_loop = CONFIG_BLK_DEV_LOOP_MIN_COUNT;
static bool max_loop_specified;
static int max_part;
int loop_part_shift;
unsigned int loop_nr_workers = 1;
unsigned int loop_nr_queues;		/* 0: one per CPU, up to LOOP_MAX_AUTO_QUEUES */
unsigned int loop_queue_depth = 128;

/*
 * nr_queues=0 gives a device a hardware queue per CPU, but not more than
 * this: every queue costs memory on every device, bound or not, and hosts
 * with hundreds of CPUs also run hundreds of loop devices.
 */
#define LOOP_MAX_AUTO_QUEUES	16u

static int loop_param_set_range(const char *val, const struct kernel_param *kp,
				int min, int max)
{
	int n, err;

	err = kstrtoint(val, 0, &n);
	if (err)
		return err;
	if (n < min || n > max)
		return -EINVAL;
	*(int *)kp->arg = n;
	return 0;
}

static int max_loop_set(const char *val, const struct kernel_param *kp)
{
	int err = loop_param_set_range(val, kp, 0, 1 << MINORBITS);

	if (!err)
		max_loop_specified = true;
	return err;
}

static const struct kernel_param_ops max_loop_ops = {
	.set = max_loop_set,
	.get = param_get_int,
};
module_param_cb(max_loop, &max_loop_ops, &max_loop, 0444);
MODULE_PARM_DESC(max_loop,
		 "Devices created at load time; when given, also the limit for devices created by opening /dev/loopN");

#ifndef MODULE
/* Built in, "max_loop=N" on the kernel command line, as for the stock driver. */
static int __init max_loop_setup(char *str)
{
	const struct kernel_param kp = { .arg = &max_loop };

	if (max_loop_set(str, &kp))
		pr_warn("ignoring max_loop=%s\n", str);
	return 1;
}
__setup("max_loop=", max_loop_setup);
#endif

static int max_part_set(const char *val, const struct kernel_param *kp)
{
	return loop_param_set_range(val, kp, 0, DISK_MAX_PARTS - 1);
}

static const struct kernel_param_ops max_part_ops = {
	.set = max_part_set,
	.get = param_get_int,
};
module_param_cb(max_part, &max_part_ops, &max_part, 0444);
MODULE_PARM_DESC(max_part,
		 "Partitions per device (0-255); nonzero turns on partition scanning for every device");

static int nr_workers_set(const char *val, const struct kernel_param *kp)
{
	return loop_param_set_range(val, kp, 1, 64);
}

static const struct kernel_param_ops nr_workers_ops = {
	.set = nr_workers_set,
	.get = param_get_uint,
};
module_param_cb(nr_workers, &nr_workers_ops, &loop_nr_workers, 0444);
MODULE_PARM_DESC(nr_workers, "Workers per hardware queue of a bound device (1-64, default 1)");

static int nr_queues_set(const char *val, const struct kernel_param *kp)
{
	return loop_param_set_range(val, kp, 0, 256);
}

static const struct kernel_param_ops nr_queues_ops = {
	.set = nr_queues_set,
	.get = param_get_uint,
};
module_param_cb(nr_queues, &nr_queues_ops, &loop_nr_queues, 0444);
MODULE_PARM_DESC(nr_queues,
		 "Hardware queues per device (1-256; default 0: one per CPU, at most 16)");

static int queue_depth_set(const char *val, const struct kernel_param *kp)
{
	return loop_param_set_range(val, kp, 1, BLK_MQ_MAX_DEPTH);
}

static const struct kernel_param_ops queue_depth_ops = {
	.set = queue_depth_set,
	.get = param_get_uint,
};
module_param_cb(hw_queue_depth, &queue_depth_ops, &loop_queue_depth, 0444);
MODULE_PARM_DESC(hw_queue_depth, "Requests in flight per device (default 128)");

/* Cut every device off from transfer @funcs, which is going away. */
void loop_drop_transfer_everywhere(const struct loop_func_table *funcs)
{
	struct loop_device *lo;
	int id;

	/* loop_index_lock ranks above lo->lock. */
	mutex_lock(&loop_index_lock);
	idr_for_each_entry(&loop_index, lo, id)
		if (lo->visible)
			loop_drop_transfer(lo, funcs);
	mutex_unlock(&loop_index_lock);
}

/* Device numbers are minors >> part_shift: this many fit. */
static int loop_max_devices(void)
{
	return 1 << (MINORBITS - loop_part_shift);
}

static int loop_open(struct gendisk *disk)
{
	struct loop_device *lo = loop_from_disk(disk);
	int err;

	err = mutex_lock_killable(&lo->lock);
	if (err)
		return err;
	/* A device being torn down or removed takes no new openers. */
	if (lo->state == LOOP_RUNDOWN || lo->state == LOOP_DELETING)
		err = -ENXIO;
	mutex_unlock(&lo->lock);
	return err;
}

static void loop_release(struct gendisk *disk)
{
	struct loop_device *lo = loop_from_disk(disk);
	bool unbind;

	/* Called under disk->open_mutex, so the count is stable. */
	if (disk_openers(disk) > 0)
		return;

	/* Autoclear, or LOOP_CLR_FD (which set autoclear, maybe RUNDOWN). */
	mutex_lock(&lo->lock);
	if (lo->state == LOOP_BOUND && (lo->flags & LO_FLAGS_AUTOCLEAR))
		lo->state = LOOP_RUNDOWN;
	unbind = lo->state == LOOP_RUNDOWN;
	mutex_unlock(&lo->lock);

	if (unbind)
		loop_unbind(lo);
}

static void lo_free_disk(struct gendisk *disk)
{
	struct loop_device *lo = loop_from_disk(disk);

	mutex_destroy(&lo->lock);
	kfree(lo);
}

/*
 * The block layer's side of open, release and ioctl, whose signatures
 * changed in 6.5 and 6.9: only what we use is passed on, and the open
 * mode as LOOP_OPEN_* bits.
 */
#define loop_open_mode(mode) \
	compat_open_mode(mode, LOOP_OPEN_WRITE, LOOP_OPEN_EXCL)

#ifdef LOOP_QUEUE_LIMITS_API
static int loop_bdops_open(struct gendisk *disk, blk_mode_t mode)
{
	return loop_open(disk);
}

static void loop_bdops_release(struct gendisk *disk)
{
	loop_release(disk);
}

static int loop_bdops_ioctl(struct block_device *bdev, blk_mode_t mode,
			    unsigned int cmd, unsigned long arg)
{
	return loop_ioctl(bdev, loop_open_mode(mode), cmd, arg);
}

static int __maybe_unused loop_bdops_compat_ioctl(struct block_device *bdev,
						  blk_mode_t mode,
						  unsigned int cmd,
						  unsigned long arg)
{
	return loop_compat_ioctl(bdev, loop_open_mode(mode), cmd, arg);
}
#else
static int loop_bdops_open(struct block_device *bdev, fmode_t mode)
{
	return loop_open(bdev->bd_disk);
}

static void loop_bdops_release(struct gendisk *disk, fmode_t mode)
{
	loop_release(disk);
}

static int loop_bdops_ioctl(struct block_device *bdev, fmode_t mode,
			    unsigned int cmd, unsigned long arg)
{
	return loop_ioctl(bdev, loop_open_mode(mode), cmd, arg);
}

static int __maybe_unused loop_bdops_compat_ioctl(struct block_device *bdev,
						  fmode_t mode,
						  unsigned int cmd,
						  unsigned long arg)
{
	return loop_compat_ioctl(bdev, loop_open_mode(mode), cmd, arg);
}
#endif

const struct block_device_operations loop_fops = {
	.owner		= THIS_MODULE,
	.open		= loop_bdops_open,
	.release	= loop_bdops_release,
	.ioctl		= loop_bdops_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl	= loop_bdops_compat_ioctl,
#endif
	.free_disk	= lo_free_disk,
};

/*
 * Lockdep knows the SRCU that a blocking queue holds around ->queue_rq
 * by one class for every tag set in the system.  Ours may submit I/O to
 * a device below, another loop device maybe, whose SRCU is a second
 * instance of that class; and the block layer quiesces a frozen queue
 * (when io.max is first set on it, or its scheduler changes), which waits
 * for that SRCU.  Lockdep then sees "SRCU -> queue below -> SRCU" and
 * reports a cycle that cannot happen: a device only ever waits on the
 * devices below it.  So each device's SRCU gets a class of its own.
 */
static void loop_srcu_class_create(struct loop_device *lo)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lockdep_register_key(&lo->srcu_key);
#endif
}

/*
 * Once the queue exists: 6.1 keeps the SRCU there, not in the tag set.
 * Nothing dispatches yet.
 */
static void loop_srcu_own_class(struct loop_device *lo)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lockdep_init_map(&compat_dispatch_srcu(lo->disk->queue)->dep_map,
			 "loop set->srcu", &lo->srcu_key, 0);
#endif
}

/* After the tag set is freed: nothing of the class is left. */
static void loop_srcu_class_release(struct loop_device *lo)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lockdep_unregister_key(&lo->srcu_key);
#endif
}

static void loop_free_tag_set(struct loop_device *lo)
{
	blk_mq_free_tag_set(&lo->tag_set);
	loop_srcu_class_release(lo);
}

static int loop_init_tag_set(struct loop_device *lo)
{
	struct blk_mq_tag_set *set = &lo->tag_set;
	int err;

	set->ops = &loop_mq_ops;
	set->nr_hw_queues = loop_nr_queues ?:
			    min(num_possible_cpus(), LOOP_MAX_AUTO_QUEUES);
	set->queue_depth = loop_queue_depth;
	set->numa_node = NUMA_NO_NODE;
	set->cmd_size = sizeof(struct loop_cmd);
	/*
	 * We stack on a file system: no scheduler unless asked for one.
	 * BLOCKING: loop_queue_rq() may try the backing file itself, and
	 * NOWAIT does not promise never to sleep.  The queues share one set
	 * of tags, so hw_queue_depth is the device's, whatever the number
	 * of queues, and so is the memory the requests take.
	 */
	set->flags = BLK_MQ_F_SHOULD_MERGE | BLK_MQ_F_STACKING |
		     BLK_MQ_F_NO_SCHED_BY_DEFAULT | BLK_MQ_F_BLOCKING |
		     BLK_MQ_F_TAG_HCTX_SHARED;
	set->driver_data = lo;
	err = blk_mq_alloc_tag_set(set);
	if (!err)
		loop_srcu_class_create(lo);
	return err;
}

/*
 * Reserve number @idx (or any free number when @idx < 0) for @lo.
 * Returns the number, or -EEXIST when @idx is taken.
 */
static int loop_reserve_number(struct loop_device *lo, int idx)
{
	int err;

	if (idx >= loop_max_devices())
		return -EINVAL;
	mutex_lock(&loop_index_lock);
	if (idx >= 0) {
		err = idr_alloc(&loop_index, lo, idx, idx + 1, GFP_KERNEL);
		if (err == -ENOSPC)
			err = -EEXIST;
	} else {
		err = idr_alloc(&loop_index, lo, 0, loop_max_devices(),
				GFP_KERNEL);
	}
	mutex_unlock(&loop_index_lock);
	return err;
}

static void loop_release_number(int idx)
{
	mutex_lock(&loop_index_lock);
	idr_remove(&loop_index, idx);
	mutex_unlock(&loop_index_lock);
}

/* Create device @idx (any free number if negative); returns its number. */
static int loop_add(int idx)
{
	struct loop_device *lo;
	struct gendisk *disk;
	int err;

	lo = kzalloc(sizeof(*lo), GFP_KERNEL);
	if (!lo)
		return -ENOMEM;
	mutex_init(&lo->lock);
	lo->state = LOOP_UNBOUND;
	INIT_WORK(&lo->withdraw_work, loop_withdraw_work_fn);

	err = loop_reserve_number(lo, idx);
	if (err < 0)
		goto out_free;
	lo->number = err;

	err = loop_init_tag_set(lo);
	if (err)
		goto out_release_number;

	/* Rotational until bound, as after a detach. */
	disk = compat_alloc_disk(&lo->tag_set, LOOP_MAX_HW_SECTORS, true, lo);
	if (IS_ERR(disk)) {
		err = PTR_ERR(disk);
		goto out_free_tags;
	}
	lo->disk = disk;
	loop_srcu_own_class(lo);

	/*
	 * Without max_part, partitions are scanned only for devices bound
	 * with LO_FLAGS_PARTSCAN, and get minors from the extended range.
	 */
	if (!loop_part_shift)
		set_bit(GD_SUPPRESS_PART_SCAN, &disk->state);
	disk->major = loop_major;
	disk->first_minor = lo->number << loop_part_shift;
	disk->minors = 1 << loop_part_shift;
	disk->fops = &loop_fops;
	disk->private_data = lo;
	disk->events = DISK_EVENT_MEDIA_CHANGE;
	disk->event_flags = DISK_EVENT_FLAG_UEVENT;
	snprintf(disk->disk_name, DISK_NAME_LEN, LOOP_NAME "%d", lo->number);

	err = add_disk(disk);
	if (err)
		goto out_put_disk;

	mutex_lock(&loop_index_lock);
	lo->visible = true;
	mutex_unlock(&loop_index_lock);
	return lo->number;

out_put_disk:
	/* A disk that was never added does not call ->free_disk. */
	put_disk(disk);
out_free_tags:
	loop_free_tag_set(lo);
out_release_number:
	loop_release_number(lo->number);
out_free:
	mutex_destroy(&lo->lock);
	kfree(lo);
	return err;
}

/* Tear down a device nobody can reach any more; frees it. */
static void loop_remove(struct loop_device *lo)
{
	int idx = lo->number;

	del_gendisk(lo->disk);
	cancel_work_sync(&lo->withdraw_work);
	loop_free_tag_set(lo);
	loop_release_number(idx);
	put_disk(lo->disk);	/* frees @lo through lo_free_disk() */
}

/* Opening /dev/loopN of a device that does not exist creates it. */
static void loop_probe(dev_t dev)
{
	int idx = MINOR(dev) >> loop_part_shift;

	if (max_loop_specified && max_loop && idx >= max_loop)
		return;
	loop_add(idx);
}

static int loop_control_remove(int idx)
{
	struct loop_device *lo;
	int err;

	if (idx < 0)
		return -EINVAL;

	/* Hide the device so that no lookup finds it while we decide. */
	mutex_lock(&loop_index_lock);
	lo = idr_find(&loop_index, idx);
	if (!lo || !lo->visible) {
		mutex_unlock(&loop_index_lock);
		return -ENODEV;
	}
	lo->visible = false;
	mutex_unlock(&loop_index_lock);

	/*
	 * The opener count is exact under open_mutex only (see loop.h): an
	 * open that has passed loop_open() but is not counted yet would see
	 * the device deleted under it.
	 */
	err = mutex_lock_killable(&lo->disk->open_mutex);
	if (err)
		goto out_show;
	err = mutex_lock_killable(&lo->lock);
	if (err) {
		mutex_unlock(&lo->disk->open_mutex);
		goto out_show;
	}
	if (lo->state != LOOP_UNBOUND || disk_openers(lo->disk) > 0)
		err = -EBUSY;
	else
		lo->state = LOOP_DELETING;
	mutex_unlock(&lo->lock);
	mutex_unlock(&lo->disk->open_mutex);
	if (err)
		goto out_show;

	loop_remove(lo);
	return 0;

out_show:
	mutex_lock(&loop_index_lock);
	lo->visible = true;
	mutex_unlock(&loop_index_lock);
	return err;
}

static int loop_control_get_free(void)
{
	struct loop_device *lo;
	int id;

	mutex_lock(&loop_index_lock);
	idr_for_each_entry(&loop_index, lo, id) {
		/*
		 * An unlocked peek: losing a race with a concurrent bind only
		 * means the caller's bind fails with EBUSY and it asks again.
		 */
		if (lo->visible && data_race(lo->state) == LOOP_UNBOUND) {
			mutex_unlock(&loop_index_lock);
			return id;
		}
	}
	mutex_unlock(&loop_index_lock);
	return loop_add(-1);
}

static long loop_control_ioctl(struct file *file, unsigned int cmd,
			       unsigned long arg)
{
	switch (cmd) {
	case LOOP_CTL_ADD:
		return loop_add((int)arg);
	case LOOP_CTL_REMOVE:
		return loop_control_remove((int)arg);
	case LOOP_CTL_GET_FREE:
		return loop_control_get_free();
	default:
		return -ENOTTY;
	}
}

static const struct file_operations loop_control_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.unlocked_ioctl	= loop_control_ioctl,
	.compat_ioctl	= loop_control_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice loop_control_dev = {
	.minor		= LOOP_CONTROL_MINOR,
	.name		= LOOP_NAME "-control",
	.fops		= &loop_control_fops,
};

/*
 * Every device, once no entry point can make more.  Every bound or open
 * device holds a module reference, so on unload what is left is unused
 * and unreachable; a failed load removes what loop_probe() made.
 */
static void loop_remove_all(void)
{
	struct loop_device *lo;
	int id;

	idr_for_each_entry(&loop_index, lo, id)
		loop_remove(lo);
	idr_destroy(&loop_index);
}

static int __init loop_init(void)
{
	int err, i;

	if (max_part > 0)
		loop_part_shift = fls(max_part);
	/* max_part is reported back as the partitions a device really has. */
	max_part = (1 << loop_part_shift) - 1;
	if (max_loop > loop_max_devices()) {
		pr_err("max_loop=%d is more than the %d devices max_part=%d allows\n",
		       max_loop, loop_max_devices(), max_part);
		return -EINVAL;
	}

	err = loop_fault_init();
	if (err)
		return err;
	err = loop_transfer_init();
	if (err)
		goto out_fault;

	/*
	 * Each entry point makes devices as soon as it is registered (an
	 * open of a missing minor, LOOP_CTL_ADD), and they need the major
	 * first.  A dynamic major is known only once registered, and no
	 * node of it exists before we make one: nothing to probe for.
	 */
	loop_major = LOOP_FIXED_MAJOR;
	err = __register_blkdev(LOOP_FIXED_MAJOR, LOOP_NAME,
				LOOP_FIXED_MAJOR &&
				IS_ENABLED(CONFIG_BLOCK_LEGACY_AUTOLOAD) ?
				loop_probe : NULL);
	if (err < 0)
		goto out_transfer;
	if (!LOOP_FIXED_MAJOR)
		loop_major = err;
	loop_slow_init();

	err = misc_register(&loop_control_dev);
	if (err)
		goto out_blkdev;
	loop_slow_init();

	/*
	 * Users may have made some of these already, through either entry
	 * point: a device that exists is what we are here to make.
	 */
	for (i = 0; i < max_loop; i++) {
		err = loop_add(i);
		if (err < 0 && err != -EEXIST)
			pr_warn("cannot create loop%d: %d\n", i, err);
	}

	pr_info("module loaded\n");
	return 0;

out_blkdev:
	unregister_blkdev(loop_major, LOOP_NAME);
	loop_remove_all();
out_transfer:
	loop_transfer_exit();
out_fault:
	loop_fault_exit();
	return err;
}

static void __exit loop_exit(void)
{
	unregister_blkdev(loop_major, LOOP_NAME);
	misc_deregister(&loop_control_dev);
	loop_remove_all();
	loop_transfer_exit();
	loop_fault_exit();
}

module_init(loop_init);
module_exit(loop_exit);

MODULE_DESCRIPTION("Loop block devices: block devices backed by files");
MODULE_AUTHOR("The loop developers");
MODULE_LICENSE("GPL");
#ifdef LOOP_VERSION
MODULE_VERSION(LOOP_VERSION);
#endif
#ifndef LOOP_ALT_NAME
/* What udev and kmod look up to load us for /dev/loop* and loop-control. */
MODULE_ALIAS_BLOCKDEV_MAJOR(LOOP_MAJOR);
MODULE_ALIAS_MISCDEV(LOOP_CTRL_MINOR);
MODULE_ALIAS("devname:loop-control");
#endif
