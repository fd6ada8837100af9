// SPDX-License-Identifier: GPL-2.0
/*
 * gate_bug - a module with one deliberate bug, chosen at load time
 *
 * The debug-kernel gate (scripts/tests/debug-gate-test) loads it into the
 * debug kernel to show that a vm-run with a lock inversion, an
 * out-of-bounds read or a leak fails, and that a run without one passes:
 *
 *   insmod gate_bug.ko bug=lockdep    mutexes taken in both orders
 *   insmod gate_bug.ko bug=kasan      a read past the end of a kmalloc buffer
 *   insmod gate_bug.ko bug=leak       a kmalloc buffer nothing points to
 *   insmod gate_bug.ko [bug=none]     nothing wrong
 *
 * The bugs live in functions of their own, kept out of line, so that the
 * reports name them: the __init code is gone by the time kmemleak scans.
 *
 * Never load it anywhere else.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *bug = "none";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "which bug to commit at load: none, lockdep, kasan or leak");

static DEFINE_MUTEX(gate_first);
static DEFINE_MUTEX(gate_second);

/*
 * One thread cannot deadlock with itself here, but lockdep records the
 * order first -> second and then sees second -> first: a possible
 * circular locking dependency between two threads doing one half each.
 */
static noinline void gate_lock_inversion(void)
{
	mutex_lock(&gate_first);
	mutex_lock(&gate_second);
	mutex_unlock(&gate_second);
	mutex_unlock(&gate_first);

	mutex_lock(&gate_second);
	mutex_lock(&gate_first);
	mutex_unlock(&gate_first);
	mutex_unlock(&gate_second);
}

/* Read the byte just past a 40-byte allocation (slab-out-of-bounds). */
static noinline int gate_read_past_end(void)
{
	size_t len = 40;
	char *buf;
	char past;

	buf = kmalloc(len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	memset(buf, 0x5a, len);
	/* Keep the compiler from seeing, and refusing, the overflow. */
	OPTIMIZER_HIDE_VAR(buf);
	OPTIMIZER_HIDE_VAR(len);
	past = READ_ONCE(buf[len]);
	pr_info("read 0x%02x past the end of a %zu-byte buffer\n",
		(unsigned char)past, len);
	kfree(buf);
	return 0;
}

/* Allocate a buffer and forget its address. */
static noinline int gate_leak(void)
{
	char *buf;

	buf = kmalloc(96, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	strscpy(buf, "gate_bug leaked this", 96);
	OPTIMIZER_HIDE_VAR(buf);
	pr_info("leaking a 96-byte buffer\n");
	return 0;
}

static int __init gate_bug_init(void)
{
	if (!strcmp(bug, "none"))
		return 0;
	if (!strcmp(bug, "lockdep")) {
		gate_lock_inversion();
		return 0;
	}
	if (!strcmp(bug, "kasan"))
		return gate_read_past_end();
	if (!strcmp(bug, "leak"))
		return gate_leak();
	pr_err("unknown bug=%s (none, lockdep, kasan or leak)\n", bug);
	return -EINVAL;
}
module_init(gate_bug_init);

static void __exit gate_bug_exit(void)
{
}
module_exit(gate_bug_exit);

MODULE_DESCRIPTION("Deliberately buggy module for the debug-kernel gate test");
MODULE_LICENSE("GPL");
