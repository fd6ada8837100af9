// SPDX-License-Identifier: GPL-2.0
/*
 * The control plane of a device: binding a backing file to it, changing
 * and reporting its status, and the other per-device ioctls.
 *
 * Locking: lo->lock is held while a device's configuration is read or
 * changed.  loop_bind_lock serialises the operations that attach a file,
 * so that two devices can never be bound onto each other at the same time.
 * Where these rank among the other locks: loop.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compat.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/uaccess.h>

#include "loop.h"

static DEFINE_MUTEX(loop_bind_lock);

/* Is @file a block device of this driver? */
static struct loop_device *loop_behind_file(struct file *file)
{
	struct inode *inode = file->f_mapping->host;
	struct gendisk *disk;

	if (!S_ISBLK(inode->i_mode))
		return NULL;
	disk = I_BDEV(inode)->bd_disk;
	return disk->fops == &loop_fops ? loop_from_disk(disk) : NULL;
}

/*
 * A backing file must be a regular file or a block device, and must not
 * lead back to @lo through a chain of loop devices.  Called under
 * loop_bind_lock, which keeps any device from being bound meanwhile; the
 * devices along the chain are locked one at a time.
 */
static int loop_check_backing(struct loop_device *lo, struct file *file)
{
	struct inode *inode = file->f_mapping->host;
	struct loop_device *next;
	struct file *f;
	int err = 0;

	lockdep_assert_held(&loop_bind_lock);
	if (!S_ISREG(inode->i_mode) && !S_ISBLK(inode->i_mode))
		return -EINVAL;
	if (!file->f_op->read_iter)
		return -EINVAL;

	f = get_file(file);
	while ((next = loop_behind_file(f))) {
		struct file *below = NULL;

		if (next == lo) {
			err = -EBADF;
			break;
		}
		mutex_lock_nested(&next->lock, SINGLE_DEPTH_NESTING);
		if (next->state == LOOP_BOUND)
			below = get_file(next->backing);
		mutex_unlock(&next->lock);
		if (!below) {
			err = -EINVAL;
			break;
		}
		fput(f);
		f = below;
	}
	fput(f);
	return err;
}

/*
 * Checks shared by every ioctl that takes a struct loop_info64, in the
 * kernel driver's order: the transfer (one nobody registered is as
 * invalid as a made-up number) before the overflows.
 */
static int loop_check_info(const struct loop_info64 *info)
{
	if (info->lo_encrypt_key_size > LO_KEY_SIZE)
		return -EINVAL;
	if (!loop_transfer_known(info->lo_encrypt_type))
		return -EINVAL;
	if (info->lo_offset > LLONG_MAX || info->lo_sizelimit > LLONG_MAX)
		return -EOVERFLOW;
	return 0;
}

/* The device size in sectors, rounded down to whole logical blocks. */
static sector_t loop_size(struct loop_device *lo, struct file *file)
{
	loff_t size = i_size_read(file->f_mapping->host) - lo->offset;
	unsigned int bs = queue_logical_block_size(lo->disk->queue);

	lockdep_assert_held(&lo->lock);
	if (size < 0)
		return 0;
	if (lo->sizelimit && lo->sizelimit < size)
		size = lo->sizelimit;
	return round_down(size, bs) >> SECTOR_SHIFT;
}

/*
 * Size the device from its backing file and tell udev.  A plain change
 * event where set_capacity_and_notify() sends none (to or from size 0, or
 * the same size): the device may show other data now all the same.
 */
static void loop_resize(struct loop_device *lo)
{
	lockdep_assert_held(&lo->lock);
	if (!set_capacity_and_notify(lo->disk, loop_size(lo, lo->backing)))
		kobject_uevent(&disk_to_dev(lo->disk)->kobj, KOBJ_CHANGE);
}

/*
 * Direct reads must not miss what the backing file still has dirty in its
 * cache: write it back before direct I/O may be turned on.  Not under the
 * freeze (see loop_freeze()).  What writes land in the cache after this
 * and before the switch, the file system's own direct I/O path writes back
 * before it reads around it.
 */
static void loop_flush_for_dio(struct loop_device *lo, bool want)
{
	lockdep_assert_held(&lo->lock);
	if (want && !lo->use_dio)
		vfs_fsync(lo->backing, 0);
}

/*
 * Decide whether direct I/O is in effect after a change of file, offset or
 * block size.  Returns true when the caller asked for it and it is
 * possible.  Caller holds lo->lock and has frozen the queue if bound; one
 * turning direct I/O on has called loop_flush_for_dio() before.
 */
static bool loop_update_dio(struct loop_device *lo, bool want)
{
	unsigned int bs = queue_logical_block_size(lo->disk->queue);
	bool dio = want && loop_can_direct_io(lo->backing, lo->offset, bs);

	lockdep_assert_held(&lo->lock);
	lo->use_dio = dio;
	if (dio)
		lo->flags |= LO_FLAGS_DIRECT_IO;
	else
		lo->flags &= ~LO_FLAGS_DIRECT_IO;
	return dio;
}

static void loop_rescan_partitions(struct loop_device *lo)
{
	int err;

	mutex_lock(&lo->disk->open_mutex);
	err = bdev_disk_changed(lo->disk, false);
	mutex_unlock(&lo->disk->open_mutex);
	if (err)
		pr_warn("%s: partition scan failed: %d\n",
			lo->disk->disk_name, err);
}

/* Attach @file; lo->lock held, device unbound, configuration checked. */
static int loop_attach(struct loop_device *lo, struct file *file,
		       unsigned int block_size)
{
	struct address_space *mapping = file->f_mapping;
	struct gendisk *disk = lo->disk;
	struct loop_workers *workers;
	struct loop_limits limits;
	int err;

	lockdep_assert_held(&lo->lock);
	err = loop_start_workers(lo);
	if (err)
		return err;
	lo->warned = 0;

	/* One change uevent when all is done, not one per step. */
	dev_set_uevent_suppress(disk_to_dev(disk), 1);
	compat_media_changed(disk);
	set_disk_ro(disk, lo->flags & LO_FLAGS_READ_ONLY);

	lo->backing = file;
	/* Reclaim on the backing file must not recurse into this device. */
	lo->saved_gfp_mask = mapping_gfp_mask(mapping);
	mapping_set_gfp_mask(mapping,
			     lo->saved_gfp_mask & ~(__GFP_IO | __GFP_FS));

	loop_limits_for(lo, file, block_size, &limits);
	err = loop_apply_limits(disk->queue, &limits);
	if (err)
		goto out_undo;
	loop_flush_for_dio(lo, lo->flags & LO_FLAGS_DIRECT_IO);
	loop_update_dio(lo, lo->flags & LO_FLAGS_DIRECT_IO);

	err = loop_sysfs_add(lo);
	if (err)
		goto out_undo;

	set_capacity(disk, loop_size(lo, file));
	if (loop_part_shift)
		lo->flags |= LO_FLAGS_PARTSCAN;
	if (lo->flags & LO_FLAGS_PARTSCAN)
		clear_bit(GD_SUPPRESS_PART_SCAN, &disk->state);

	/* The binding holds the module: rmmod waits for the unbind. */
	__module_get(THIS_MODULE);
	lo->state = LOOP_BOUND;
	dev_set_uevent_suppress(disk_to_dev(disk), 0);
	kobject_uevent(&disk_to_dev(disk)->kobj, KOBJ_CHANGE);
	return 0;

out_undo:
	loop_apply_limits(disk->queue, &loop_unbound_limits);
	mapping_set_gfp_mask(mapping, lo->saved_gfp_mask);
	lo->backing = NULL;
	lo->use_dio = false;
	set_disk_ro(disk, false);
	dev_set_uevent_suppress(disk_to_dev(disk), 0);
	blk_mq_freeze_queue(disk->queue);
	workers = loop_stop_workers(lo);
	blk_mq_unfreeze_queue(disk->queue);
	loop_free_workers(workers);
	return err;
}

static int loop_configure(struct loop_device *lo, unsigned int mode,
			  struct block_device *bdev,
			  const struct loop_config *config)
{
	const struct loop_info64 *info = &config->info;
	unsigned int bs = config->block_size;
	struct file *file;
	bool partscan;
	int err;

	file = fget(config->fd);
	if (!file)
		return -EBADF;
	loop_transfer_request(info->lo_encrypt_type);

	/* Nobody may claim the device exclusively while we bind it. */
	if (!(mode & LOOP_OPEN_EXCL)) {
		err = compat_prepare_to_claim(bdev, loop_configure);
		if (err)
			goto out_put;
	}

	err = mutex_lock_killable(&loop_bind_lock);
	if (err)
		goto out_claim;
	err = mutex_lock_killable(&lo->lock);
	if (err)
		goto out_bind_unlock;

	err = -EBUSY;
	if (lo->state != LOOP_UNBOUND)
		goto out_unlock;
	err = loop_check_backing(lo, file);
	if (err)
		goto out_unlock;
	err = -EINVAL;
	if (info->lo_flags & ~LOOP_CONFIGURE_SETTABLE_FLAGS)
		goto out_unlock;
	if (bs && blk_validate_block_size(bs))
		goto out_unlock;
	err = loop_check_info(info);
	if (err)
		goto out_unlock;
	err = loop_transfer_prepare(info, &lo->xfer);
	if (err)
		goto out_unlock;
	if (lo->xfer.funcs) {
		err = loop_bounce_reserve_create(lo);
		if (err)
			goto out_release_xfer;
	}

	lo->offset = info->lo_offset;
	lo->sizelimit = info->lo_sizelimit;
	memcpy(lo->file_name, info->lo_file_name, LO_NAME_SIZE);
	lo->file_name[LO_NAME_SIZE - 1] = '\0';
	lo->flags = info->lo_flags;
	if (!(file->f_mode & FMODE_WRITE) || !(mode & LOOP_OPEN_WRITE) ||
	    !file->f_op->write_iter)
		lo->flags |= LO_FLAGS_READ_ONLY;

	if (!bs) {
		struct block_device *under = loop_backing_bdev(file);

		/* A file opened for direct I/O gets the blocks it needs. */
		if ((file->f_flags & O_DIRECT) && under)
			bs = bdev_logical_block_size(under);
		else
			bs = SECTOR_SIZE;
	}

	err = loop_attach(lo, file, bs);
	if (err) {
		lo->offset = 0;
		lo->sizelimit = 0;
		lo->flags = 0;
		memset(lo->file_name, 0, LO_NAME_SIZE);
		goto out_release_xfer;
	}
	partscan = lo->flags & LO_FLAGS_PARTSCAN;
	mutex_unlock(&lo->lock);
	mutex_unlock(&loop_bind_lock);

	if (partscan)
		loop_rescan_partitions(lo);
	if (!(mode & LOOP_OPEN_EXCL))
		bd_abort_claiming(bdev, loop_configure);
	return 0;	/* the device keeps the file reference */

out_release_xfer:
	loop_transfer_release(&lo->xfer);
	loop_bounce_reserve_destroy(lo);
out_unlock:
	mutex_unlock(&lo->lock);
out_bind_unlock:
	mutex_unlock(&loop_bind_lock);
out_claim:
	if (!(mode & LOOP_OPEN_EXCL))
		bd_abort_claiming(bdev, loop_configure);
out_put:
	fput(file);
	return err;
}

/*
 * Release the backing file, from ->release of the last opener, with the
 * disk's open_mutex held.  The device is in RUNDOWN, which makes this task
 * the only one touching it; lo->lock is not held.
 */
void loop_unbind(struct loop_device *lo)
{
	struct gendisk *disk = lo->disk;
	struct request_queue *q = disk->queue;
	struct file *file = lo->backing;
	bool partscan = lo->flags & LO_FLAGS_PARTSCAN;
	struct loop_workers *workers;
	int err;

	/*
	 * Only what needs the I/O stopped happens frozen.  No lo->lock in
	 * here: its holders write back the device's cache (status changes,
	 * a transfer's key change), which waits for this very queue.  Once
	 * unfrozen, requests fail in loop_queue_rq() for want of workers,
	 * and RUNDOWN keeps every other user of the fields below away.
	 */
	blk_mq_freeze_queue(q);
	workers = loop_stop_workers(lo);
	loop_apply_limits(q, &loop_unbound_limits);
	invalidate_disk(disk);	/* capacity 0, cached pages dropped */
	blk_mq_unfreeze_queue(q);
	loop_free_workers(workers);

	loop_sysfs_remove(lo);
	loop_transfer_release(&lo->xfer);
	loop_bounce_reserve_destroy(lo);
	mapping_set_gfp_mask(file->f_mapping, lo->saved_gfp_mask);

	mutex_lock(&lo->lock);
	lo->xfer_lost = false;
	lo->backing = NULL;
	lo->offset = 0;
	lo->sizelimit = 0;
	lo->use_dio = false;
	memset(lo->file_name, 0, LO_NAME_SIZE);
	mutex_unlock(&lo->lock);

	compat_media_changed(disk);
	kobject_uevent(&disk_to_dev(disk)->kobj, KOBJ_CHANGE);

	/* Drop the partitions: the next binding must not see stale ones. */
	if (partscan) {
		err = bdev_disk_changed(disk, false);
		if (err)
			pr_warn("%s: dropping partitions failed: %d\n",
				disk->disk_name, err);
	}

	mutex_lock(&lo->lock);
	lo->flags = 0;
	if (!loop_part_shift)
		set_bit(GD_SUPPRESS_PART_SCAN, &disk->state);
	lo->state = LOOP_UNBOUND;
	mutex_unlock(&lo->lock);

	/*
	 * Not under lo->lock: the final fput of a block device takes its
	 * open_mutex, which ranks above lo->lock.
	 */
	fput(file);
	module_put(THIS_MODULE);
}

/*
 * Detach on the last close, always: partitions and cached pages are torn
 * down by ->release under the disk's open_mutex, where no opener can race
 * with them (the kernel's driver does the same since 6.11).  When the
 * caller is the only opener, the device refuses new openers from now on,
 * and reports itself unbound.  Anybody else holding it open (udev's blkid,
 * often, for a moment) just delays the detach instead of failing it.
 */
static int loop_clr_fd(struct loop_device *lo)
{
	int err;

	/* The opener count is exact under open_mutex only (see loop.h). */
	err = mutex_lock_killable(&lo->disk->open_mutex);
	if (err)
		return err;
	err = mutex_lock_killable(&lo->lock);
	if (err)
		goto out_open;
	if (lo->state != LOOP_BOUND) {
		err = -ENXIO;
		goto out;
	}
	lo->flags |= LO_FLAGS_AUTOCLEAR;
	if (disk_openers(lo->disk) == 1)
		lo->state = LOOP_RUNDOWN;
out:
	mutex_unlock(&lo->lock);
out_open:
	mutex_unlock(&lo->disk->open_mutex);
	return err;
}

static bool loop_info_keeps_transfer(struct loop_device *lo,
				     const struct loop_info64 *info, bool old);

/*
 * LOOP_SET_STATUS* of every kind, with the structure copied in already
 * (@old: it came as a struct loop_info, native or 32-bit).
 */
static int loop_set_status(struct loop_device *lo,
			   const struct loop_info64 *info, bool old)
{
	struct request_queue *q = lo->disk->queue;
	bool size_changed, remap, keep, partscan = false;
	struct loop_limits limits;
	/* the new transfer, then the old one; none if the device keeps its */
	struct loop_xfer xfer = {};
	unsigned int noio;
	u32 prev;
	int err;

	loop_transfer_request(info->lo_encrypt_type);
	err = mutex_lock_killable(&lo->lock);
	if (err)
		return err;
	if (lo->state != LOOP_BOUND) {
		err = -ENXIO;
		goto out_unlock;
	}
	if (!loop_transfer_may_change(&lo->xfer)) {
		err = -EPERM;
		goto out_unlock;
	}
	err = loop_check_info(info);
	if (err)
		goto out_unlock;
	/* Everything the new transfer needs is set up before the freeze. */
	keep = loop_info_keeps_transfer(lo, info, old);
	if (!keep) {
		err = loop_transfer_prepare(info, &xfer);
		if (!err && xfer.funcs)
			err = loop_bounce_reserve_create(lo);
		if (err) {
			loop_transfer_release(&xfer);
			goto out_unlock;
		}
	}

	size_changed = lo->offset != info->lo_offset ||
		       lo->sizelimit != info->lo_sizelimit;
	/*
	 * Data cached at the old offsets would be wrong at the new ones, and
	 * data decoded by the old transfer wrong for the new one.
	 */
	remap = size_changed || (!keep && (xfer.funcs || lo->xfer.funcs));
	if (remap)
		loop_remap_writeback(lo);

	noio = loop_freeze(lo);
	if (!keep)
		swap(lo->xfer, xfer);
	prev = lo->flags;
	lo->offset = info->lo_offset;
	lo->sizelimit = info->lo_sizelimit;
	memcpy(lo->file_name, info->lo_file_name, LO_NAME_SIZE);
	lo->file_name[LO_NAME_SIZE - 1] = '\0';

	/* Only some flags may be set, fewer cleared; the rest stay. */
	lo->flags = (info->lo_flags & LOOP_SET_STATUS_SETTABLE_FLAGS) |
		    (prev & ~LOOP_SET_STATUS_SETTABLE_FLAGS) |
		    (prev & ~LOOP_SET_STATUS_CLEARABLE_FLAGS);

	if (size_changed)
		loop_resize(lo);
	loop_limits_for(lo, lo->backing, queue_logical_block_size(q), &limits);
	err = loop_apply_limits(q, &limits);
	loop_update_dio(lo, lo->use_dio);
	loop_unfreeze(lo, noio);
	if (remap)
		loop_remap_drop_cache(lo);
	loop_transfer_release(&xfer);

	if ((lo->flags & LO_FLAGS_PARTSCAN) && !(prev & LO_FLAGS_PARTSCAN)) {
		clear_bit(GD_SUPPRESS_PART_SCAN, &lo->disk->state);
		partscan = true;
	}
out_unlock:
	mutex_unlock(&lo->lock);
	if (partscan)
		loop_rescan_partitions(lo);
	return err;
}

static int loop_get_status(struct loop_device *lo, struct loop_info64 *info)
{
	struct path path;
	struct kstat stat;
	int err;

	err = mutex_lock_killable(&lo->lock);
	if (err)
		return err;
	if (lo->state != LOOP_BOUND) {
		mutex_unlock(&lo->lock);
		return -ENXIO;
	}
	memset(info, 0, sizeof(*info));
	info->lo_number = lo->number;
	info->lo_offset = lo->offset;
	info->lo_sizelimit = lo->sizelimit;
	info->lo_flags = lo->flags;
	memcpy(info->lo_file_name, lo->file_name, LO_NAME_SIZE);
	loop_transfer_report(&lo->xfer, info);
	path = lo->backing->f_path;
	path_get(&path);
	mutex_unlock(&lo->lock);

	/* getattr may sleep on the backing file system: not under the lock. */
	err = vfs_getattr(&path, &stat, STATX_INO, AT_STATX_SYNC_AS_STAT);
	if (!err) {
		info->lo_device = huge_encode_dev(stat.dev);
		info->lo_inode = stat.ino;
		info->lo_rdevice = huge_encode_dev(stat.rdev);
	}
	path_put(&path);
	return err;
}

/*
 * Old struct loop_info <-> struct loop_info64.  The old structure has one
 * name: the cipher's for LO_CRYPT_CRYPTOAPI, the file's otherwise.
 */
static void loop_info64_from_old(const struct loop_info *old,
				 struct loop_info64 *info)
{
	memset(info, 0, sizeof(*info));
	info->lo_number = old->lo_number;
	info->lo_device = old->lo_device;
	info->lo_inode = old->lo_inode;
	info->lo_rdevice = old->lo_rdevice;
	info->lo_offset = old->lo_offset;
	info->lo_encrypt_type = old->lo_encrypt_type;
	info->lo_encrypt_key_size = old->lo_encrypt_key_size;
	info->lo_flags = old->lo_flags;
	if (old->lo_encrypt_type == LO_CRYPT_CRYPTOAPI)
		memcpy(info->lo_crypt_name, old->lo_name, LO_NAME_SIZE);
	else
		memcpy(info->lo_file_name, old->lo_name, LO_NAME_SIZE);
	memcpy(info->lo_encrypt_key, old->lo_encrypt_key, LO_KEY_SIZE);
	info->lo_init[0] = old->lo_init[0];
	info->lo_init[1] = old->lo_init[1];
}

static int loop_info64_to_old(const struct loop_info64 *info,
			      struct loop_info *old)
{
	memset(old, 0, sizeof(*old));
	old->lo_number = info->lo_number;
	old->lo_device = info->lo_device;
	old->lo_inode = info->lo_inode;
	old->lo_rdevice = info->lo_rdevice;
	old->lo_offset = info->lo_offset;
	old->lo_encrypt_type = info->lo_encrypt_type;
	old->lo_encrypt_key_size = info->lo_encrypt_key_size;
	old->lo_flags = info->lo_flags;
	if (info->lo_encrypt_type == LO_CRYPT_CRYPTOAPI)
		memcpy(old->lo_name, info->lo_crypt_name, LO_NAME_SIZE);
	else
		memcpy(old->lo_name, info->lo_file_name, LO_NAME_SIZE);
	memcpy(old->lo_encrypt_key, info->lo_encrypt_key, LO_KEY_SIZE);
	old->lo_init[0] = info->lo_init[0];
	old->lo_init[1] = info->lo_init[1];

	/* Values the old structure cannot hold are an error, not a lie. */
	if (old->lo_device != info->lo_device ||
	    old->lo_rdevice != info->lo_rdevice ||
	    old->lo_inode != info->lo_inode ||
	    old->lo_offset != info->lo_offset)
		return -EOVERFLOW;
	return 0;
}

/*
 * Does @info leave the device's transfer as it is (see
 * loop_transfer_unchanged() for what that means)?  It is compared with
 * what LOOP_GET_STATUS* shows this caller, taken through the old
 * structure and back for the callers of the old ioctls (@old), exactly as
 * their status went out and came in again.
 */
static bool loop_info_keeps_transfer(struct loop_device *lo,
				     const struct loop_info64 *info, bool old)
{
	struct loop_info64 shown = {};
	struct loop_info o;

	lockdep_assert_held(&lo->lock);
	loop_transfer_report(&lo->xfer, &shown);
	/* Only transfer fields are set: nothing here can overflow. */
	if (old && !loop_info64_to_old(&shown, &o))
		loop_info64_from_old(&o, &shown);
	return loop_transfer_unchanged(&lo->xfer, info, &shown);
}

static int loop_set_status_old(struct loop_device *lo,
			       const struct loop_info __user *arg)
{
	struct loop_info old;
	struct loop_info64 info;

	if (copy_from_user(&old, arg, sizeof(old)))
		return -EFAULT;
	loop_info64_from_old(&old, &info);
	return loop_set_status(lo, &info, true);
}

static int loop_get_status_old(struct loop_device *lo,
			       struct loop_info __user *arg)
{
	struct loop_info old;
	struct loop_info64 info;
	int err;

	if (!arg)
		return -EINVAL;
	err = loop_get_status(lo, &info);
	if (!err)
		err = loop_info64_to_old(&info, &old);
	if (!err && copy_to_user(arg, &old, sizeof(old)))
		err = -EFAULT;
	return err;
}

static int loop_set_status64(struct loop_device *lo,
			     const struct loop_info64 __user *arg)
{
	struct loop_info64 info;

	if (copy_from_user(&info, arg, sizeof(info)))
		return -EFAULT;
	return loop_set_status(lo, &info, false);
}

static int loop_get_status64(struct loop_device *lo,
			     struct loop_info64 __user *arg)
{
	struct loop_info64 info;
	int err;

	if (!arg)
		return -EINVAL;
	err = loop_get_status(lo, &info);
	if (!err && copy_to_user(arg, &info, sizeof(info)))
		err = -EFAULT;
	return err;
}

/*
 * Swap the backing file of a read-only device for another of the same
 * type and size, e.g. to let an installer release its boot medium.
 */
static int loop_change_fd(struct loop_device *lo, struct block_device *bdev,
			  unsigned int fd)
{
	struct file *file, *old;
	struct inode *inode;
	unsigned int noio;
	bool partscan;
	int err;

	file = fget(fd);
	if (!file)
		return -EBADF;

	err = mutex_lock_killable(&loop_bind_lock);
	if (err)
		goto out_put;
	err = mutex_lock_killable(&lo->lock);
	if (err)
		goto out_bind_unlock;

	err = -ENXIO;
	if (lo->state != LOOP_BOUND)
		goto out_unlock;
	err = -EINVAL;
	if (!(lo->flags & LO_FLAGS_READ_ONLY))
		goto out_unlock;
	err = loop_check_backing(lo, file);
	if (err)
		goto out_unlock;
	err = -EINVAL;
	old = lo->backing;
	inode = file->f_mapping->host;
	if ((inode->i_mode & S_IFMT) !=
	    (old->f_mapping->host->i_mode & S_IFMT) ||
	    loop_size(lo, file) != get_capacity(lo->disk))
		goto out_unlock;

	compat_media_changed(lo->disk);
	noio = loop_freeze(lo);
	mapping_set_gfp_mask(old->f_mapping, lo->saved_gfp_mask);
	lo->backing = file;
	lo->saved_gfp_mask = mapping_gfp_mask(file->f_mapping);
	mapping_set_gfp_mask(file->f_mapping,
			     lo->saved_gfp_mask & ~(__GFP_IO | __GFP_FS));
	loop_update_dio(lo, lo->use_dio);
	loop_unfreeze(lo, noio);
	partscan = lo->flags & LO_FLAGS_PARTSCAN;
	mutex_unlock(&lo->lock);
	mutex_unlock(&loop_bind_lock);

	fput(old);	/* not under lo->lock, as in loop_unbind() */
	if (partscan)
		loop_rescan_partitions(lo);
	return 0;

out_unlock:
	mutex_unlock(&lo->lock);
out_bind_unlock:
	mutex_unlock(&loop_bind_lock);
out_put:
	fput(file);
	return err;
}

static int loop_set_capacity(struct loop_device *lo)
{
	int err;

	err = mutex_lock_killable(&lo->lock);
	if (err)
		return err;
	if (lo->state == LOOP_BOUND)
		loop_resize(lo);
	else
		err = -ENXIO;
	mutex_unlock(&lo->lock);
	return err;
}

static int loop_set_direct_io(struct loop_device *lo, unsigned long arg)
{
	unsigned int noio;
	int err;

	err = mutex_lock_killable(&lo->lock);
	if (err)
		return err;
	if (lo->state != LOOP_BOUND) {
		err = -ENXIO;
	} else if (!!arg != lo->use_dio) {
		loop_flush_for_dio(lo, arg);
		noio = loop_freeze(lo);
		if (loop_update_dio(lo, arg) != !!arg)
			err = -EINVAL;
		loop_unfreeze(lo, noio);
	}
	mutex_unlock(&lo->lock);
	return err;
}

/*
 * Not under a file system or anybody else holding the device exclusively:
 * the caller claims it for the change unless it opened it O_EXCL itself
 * (EBUSY otherwise, as with the kernel's driver).
 */
static int loop_set_block_size(struct loop_device *lo, unsigned int mode,
			       struct block_device *bdev, unsigned long arg)
{
	struct request_queue *q = lo->disk->queue;
	struct loop_limits limits;
	unsigned int noio;
	int err;

	if (!(mode & LOOP_OPEN_EXCL)) {
		err = compat_prepare_to_claim(bdev, loop_set_block_size);
		if (err)
			return err;
	}
	err = mutex_lock_killable(&lo->lock);
	if (err)
		goto out_claim;
	if (lo->state != LOOP_BOUND) {
		err = -ENXIO;
		goto out_unlock;
	}
	err = blk_validate_block_size(arg);
	if (err || queue_logical_block_size(q) == arg)
		goto out_unlock;

	sync_blockdev(lo->disk->part0);
	invalidate_bdev(lo->disk->part0);
	noio = loop_freeze(lo);
	loop_limits_for(lo, lo->backing, arg, &limits);
	err = loop_apply_limits(q, &limits);
	loop_update_dio(lo, lo->use_dio);
	loop_resize(lo);
	loop_unfreeze(lo, noio);
out_unlock:
	mutex_unlock(&lo->lock);
out_claim:
	if (!(mode & LOOP_OPEN_EXCL))
		bd_abort_claiming(bdev, loop_set_block_size);
	return err;
}

/* Status changes need write access to the device, or CAP_SYS_ADMIN. */
static bool loop_may_configure(unsigned int mode)
{
	return (mode & LOOP_OPEN_WRITE) || capable(CAP_SYS_ADMIN);
}

/*
 * Commands we do not know go to the device's transfer, if it takes them,
 * with the permissions of a status change, under lo->lock but with I/O
 * going on: it copies its argument in and prepares what it needs first,
 * and quiesces I/O only to put that in place (loop_transfer_swap_priv()).
 * -ENOIOCTLCMD when there is no transfer to take them: the
 * native path turns that into the kernel driver's -EINVAL, the compat path
 * passes it on (the block layer answers -ENOTTY, as for the stock driver).
 *
 * Only commands the transfer lists reach it: programs (udev, fuzzers) try
 * all sorts of commands on block devices, and none of those should take
 * the device's lock only to be refused.
 */
static int loop_transfer_ioctl(struct loop_device *lo, unsigned int mode,
			       unsigned int cmd, unsigned long arg)
{
	struct loop_xfer *x = &lo->xfer;
	int err;

	err = mutex_lock_killable(&lo->lock);
	if (err)
		return err;
	if (lo->state != LOOP_BOUND || !loop_transfer_takes_ioctl(x, cmd))
		err = -ENOIOCTLCMD;
	else if (!loop_may_configure(mode) || !loop_transfer_may_change(x))
		err = -EPERM;
	else
		err = x->funcs->ioctl(&x->state, cmd, arg);
	mutex_unlock(&lo->lock);
	return err;
}

int loop_ioctl(struct block_device *bdev, unsigned int mode, unsigned int cmd,
	       unsigned long arg)
{
	struct loop_device *lo = loop_from_disk(bdev->bd_disk);
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case LOOP_SET_FD: {
		/* The old call: LOOP_CONFIGURE with everything defaulted. */
		struct loop_config config = { .fd = arg };

		return loop_configure(lo, mode, bdev, &config);
	}
	case LOOP_CONFIGURE: {
		struct loop_config config;

		if (copy_from_user(&config, argp, sizeof(config)))
			return -EFAULT;
		return loop_configure(lo, mode, bdev, &config);
	}
	case LOOP_CHANGE_FD:
		return loop_change_fd(lo, bdev, arg);
	case LOOP_CLR_FD:
		return loop_clr_fd(lo);
	case LOOP_SET_STATUS:
		if (!loop_may_configure(mode))
			return -EPERM;
		return loop_set_status_old(lo, argp);
	case LOOP_GET_STATUS:
		return loop_get_status_old(lo, argp);
	case LOOP_SET_STATUS64:
		if (!loop_may_configure(mode))
			return -EPERM;
		return loop_set_status64(lo, argp);
	case LOOP_GET_STATUS64:
		return loop_get_status64(lo, argp);
	case LOOP_SET_CAPACITY:
		if (!loop_may_configure(mode))
			return -EPERM;
		return loop_set_capacity(lo);
	case LOOP_SET_DIRECT_IO:
		if (!loop_may_configure(mode))
			return -EPERM;
		return loop_set_direct_io(lo, arg);
	case LOOP_SET_BLOCK_SIZE:
		if (!loop_may_configure(mode))
			return -EPERM;
		return loop_set_block_size(lo, mode, bdev, arg);
	default: {
		int err = loop_transfer_ioctl(lo, mode, cmd, arg);

		return err == -ENOIOCTLCMD ? -EINVAL : err;
	}
	}
}

#ifdef CONFIG_COMPAT
/* struct loop_info as a 32-bit process lays it out. */
struct compat_loop_info {
	compat_int_t	lo_number;
	compat_dev_t	lo_device;
	compat_ulong_t	lo_inode;
	compat_dev_t	lo_rdevice;
	compat_int_t	lo_offset;
	compat_int_t	lo_encrypt_type;
	compat_int_t	lo_encrypt_key_size;
	compat_int_t	lo_flags;
	char		lo_name[LO_NAME_SIZE];
	unsigned char	lo_encrypt_key[LO_KEY_SIZE];
	compat_ulong_t	lo_init[2];
	char		reserved[4];
};

/* A 32-bit struct loop_info in and out of the native one. */
static void loop_info_from_compat(const struct compat_loop_info *c,
				  struct loop_info *n)
{
	memset(n, 0, sizeof(*n));
	n->lo_number = c->lo_number;
	n->lo_device = c->lo_device;
	n->lo_inode = c->lo_inode;
	n->lo_rdevice = c->lo_rdevice;
	n->lo_offset = c->lo_offset;
	n->lo_encrypt_type = c->lo_encrypt_type;
	n->lo_encrypt_key_size = c->lo_encrypt_key_size;
	n->lo_flags = c->lo_flags;
	memcpy(n->lo_name, c->lo_name, LO_NAME_SIZE);
	memcpy(n->lo_encrypt_key, c->lo_encrypt_key, LO_KEY_SIZE);
	n->lo_init[0] = c->lo_init[0];
	n->lo_init[1] = c->lo_init[1];
}

static int loop_info_to_compat(const struct loop_info *n,
			       struct compat_loop_info *c)
{
	memset(c, 0, sizeof(*c));
	c->lo_number = n->lo_number;
	c->lo_device = n->lo_device;
	c->lo_inode = n->lo_inode;
	c->lo_rdevice = n->lo_rdevice;
	c->lo_offset = n->lo_offset;
	c->lo_encrypt_type = n->lo_encrypt_type;
	c->lo_encrypt_key_size = n->lo_encrypt_key_size;
	c->lo_flags = n->lo_flags;
	memcpy(c->lo_name, n->lo_name, LO_NAME_SIZE);
	memcpy(c->lo_encrypt_key, n->lo_encrypt_key, LO_KEY_SIZE);
	c->lo_init[0] = n->lo_init[0];
	c->lo_init[1] = n->lo_init[1];
	if (c->lo_device != n->lo_device || c->lo_rdevice != n->lo_rdevice ||
	    c->lo_inode != n->lo_inode || c->lo_init[0] != n->lo_init[0] ||
	    c->lo_init[1] != n->lo_init[1])
		return -EOVERFLOW;
	return 0;
}

static int loop_compat_set_status(struct loop_device *lo,
				  const struct compat_loop_info __user *arg)
{
	struct compat_loop_info c;
	struct loop_info old;
	struct loop_info64 info;

	if (copy_from_user(&c, arg, sizeof(c)))
		return -EFAULT;
	loop_info_from_compat(&c, &old);
	loop_info64_from_old(&old, &info);
	return loop_set_status(lo, &info, true);
}

static int loop_compat_get_status(struct loop_device *lo,
				  struct compat_loop_info __user *arg)
{
	struct compat_loop_info c;
	struct loop_info old;
	struct loop_info64 info;
	int err;

	if (!arg)
		return -EINVAL;
	err = loop_get_status(lo, &info);
	if (!err)
		err = loop_info64_to_old(&info, &old);
	if (!err)
		err = loop_info_to_compat(&old, &c);
	if (!err && copy_to_user(arg, &c, sizeof(c)))
		err = -EFAULT;
	return err;
}

int loop_compat_ioctl(struct block_device *bdev, unsigned int mode,
		      unsigned int cmd, unsigned long arg)
{
	struct loop_device *lo = loop_from_disk(bdev->bd_disk);

	switch (cmd) {
	case LOOP_SET_STATUS:
		if (!loop_may_configure(mode))
			return -EPERM;
		return loop_compat_set_status(lo, compat_ptr(arg));
	case LOOP_GET_STATUS:
		return loop_compat_get_status(lo, compat_ptr(arg));
	case LOOP_SET_STATUS64:
	case LOOP_GET_STATUS64:
	case LOOP_CONFIGURE:
		/* Same layout on every ABI; only the pointer needs widening. */
		arg = (unsigned long)compat_ptr(arg);
		fallthrough;
	case LOOP_SET_FD:
	case LOOP_CHANGE_FD:
	case LOOP_CLR_FD:
	case LOOP_SET_CAPACITY:
	case LOOP_SET_DIRECT_IO:
	case LOOP_SET_BLOCK_SIZE:
		return loop_ioctl(bdev, mode, cmd, arg);
	default:
		/*
		 * A transfer's own commands: their argument is a pointer to
		 * a structure laid out alike on every ABI (loop_transfer.h
		 * asks that of transfers), so widening the pointer is all.
		 */
		return loop_transfer_ioctl(lo, mode, cmd,
					   (unsigned long)compat_ptr(arg));
	}
}
#endif
