// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/block/loopN/loop/: the binding of a device, for tools (losetup
 * reads it instead of issuing ioctls).  The directory exists exactly while
 * the device is bound, in the formats of the kernel's loop driver.
 */
#include <linux/sysfs.h>

#include "loop.h"

static struct loop_device *dev_to_loop(struct device *dev)
{
	return loop_from_disk(dev_to_disk(dev));
}

/*
 * Run @show under lo->lock if the device is still bound: a reader racing
 * with unbind sees an empty file rather than a half-cleared binding.
 */
static ssize_t loop_attr_show(struct device *dev, char *buf,
			      ssize_t (*show)(struct loop_device *, char *))
{
	struct loop_device *lo = dev_to_loop(dev);
	ssize_t ret = 0;

	if (mutex_lock_interruptible(&lo->lock))
		return -EINTR;
	if (lo->state == LOOP_BOUND)
		ret = show(lo, buf);
	mutex_unlock(&lo->lock);
	return ret;
}

#define LOOP_ATTR_RO(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return loop_attr_show(dev, buf, loop_show_##name);		\
}									\
static DEVICE_ATTR_RO(name)

static ssize_t loop_show_backing_file(struct loop_device *lo, char *buf)
{
	char *path = file_path(lo->backing, buf, PAGE_SIZE - 1);
	size_t len;

	if (IS_ERR(path))
		return PTR_ERR(path);
	/* file_path() builds the name at the end of the buffer. */
	len = strlen(path);
	memmove(buf, path, len);
	buf[len++] = '\n';
	return len;
}

static ssize_t loop_show_offset(struct loop_device *lo, char *buf)
{
	return sysfs_emit(buf, "%llu\n", (unsigned long long)lo->offset);
}

static ssize_t loop_show_sizelimit(struct loop_device *lo, char *buf)
{
	return sysfs_emit(buf, "%llu\n", (unsigned long long)lo->sizelimit);
}

static ssize_t loop_show_autoclear(struct loop_device *lo, char *buf)
{
	return sysfs_emit(buf, "%d\n", !!(lo->flags & LO_FLAGS_AUTOCLEAR));
}

static ssize_t loop_show_partscan(struct loop_device *lo, char *buf)
{
	return sysfs_emit(buf, "%d\n", !!(lo->flags & LO_FLAGS_PARTSCAN));
}

static ssize_t loop_show_dio(struct loop_device *lo, char *buf)
{
	return sysfs_emit(buf, "%d\n", lo->use_dio);
}

LOOP_ATTR_RO(backing_file);
LOOP_ATTR_RO(offset);
LOOP_ATTR_RO(sizelimit);
LOOP_ATTR_RO(autoclear);
LOOP_ATTR_RO(partscan);
LOOP_ATTR_RO(dio);

static struct attribute *loop_attrs[] = {
	&dev_attr_backing_file.attr,
	&dev_attr_offset.attr,
	&dev_attr_sizelimit.attr,
	&dev_attr_autoclear.attr,
	&dev_attr_partscan.attr,
	&dev_attr_dio.attr,
	NULL,
};

static const struct attribute_group loop_attr_group = {
	.name	= "loop",
	.attrs	= loop_attrs,
};

int loop_sysfs_add(struct loop_device *lo)
{
	return sysfs_create_group(&disk_to_dev(lo->disk)->kobj,
				  &loop_attr_group);
}

void loop_sysfs_remove(struct loop_device *lo)
{
	sysfs_remove_group(&disk_to_dev(lo->disk)->kobj, &loop_attr_group);
}
