// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection for the tests: what nothing else can make happen on
 * purpose, in <debugfs>/loop/ (see Documentation/fault-injection/).
 * Built with CONFIG_FAULT_INJECTION_DEBUG_FS only; loop.h has the stubs.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fault-inject.h>
#include <linux/moduleparam.h>
#include <linux/uio.h>

#include "loop.h"

/*
 * fail_bounce: a request finds no bounce memory of its own and takes its
 * device's reserve.
 */
static DECLARE_FAULT_ATTR(loop_fail_bounce_attr);

/*
 * slow_dispatch: loop_queue_rq() sleeps this long after handing its
 * request off, long enough for the request to end and, if that closed
 * the device's last use, for the device to be unbound meanwhile.
 */
static DECLARE_FAULT_ATTR(loop_slow_dispatch_attr);
#define LOOP_SLOW_DISPATCH_MS	250

/*
 * slow_aio_return: a direct I/O that the backing file system handed off
 * (-EIOCBQUEUED) comes back to us this long after, by when it has
 * completed, and first goes back over the iterator's table as NFS does
 * on its way out (iov_iter_revert() after the hand-off).  KASAN reports
 * it if the completion ended the request, and freed that table, before
 * the call had returned.
 */
static DECLARE_FAULT_ATTR(loop_slow_aio_return_attr);
#define LOOP_SLOW_AIO_RETURN_MS	50

/*
 * slow_init: loop_init() pauses this long after making each of its entry
 * points live (the block major, then /dev/loop-control), so that a test
 * can open device nodes and the control device, and add devices, while
 * the module is still loading.  The attribute must be set before init
 * runs, so it is a module parameter, read at load in the format of the
 * kernel's fail*= boot options: <interval>,<probability>,<space>,<times>.
 * Its state is in debugfs afterwards like the others' ("times" counts
 * the pauses left).
 */
static DECLARE_FAULT_ATTR(loop_slow_init_attr);
#define LOOP_SLOW_INIT_MS	3000
static char loop_slow_init_param[32];
module_param_string(slow_init, loop_slow_init_param,
		    sizeof(loop_slow_init_param), 0444);
MODULE_PARM_DESC(slow_init,
		 "Fault injection, for the tests: pause the load after making each entry point live (<interval>,<probability>,<space>,<times>)");

static struct dentry *loop_debugfs;

bool loop_fail_bounce(void)
{
	return should_fail(&loop_fail_bounce_attr, 1);
}

void loop_slow_dispatch(void)
{
	if (should_fail(&loop_slow_dispatch_attr, 1))
		msleep(LOOP_SLOW_DISPATCH_MS);
}

void loop_slow_aio_return(struct iov_iter *iter, size_t consumed)
{
	if (!should_fail(&loop_slow_aio_return_attr, 1))
		return;
	msleep(LOOP_SLOW_AIO_RETURN_MS);
	iov_iter_revert(iter, consumed);
}

void __init loop_slow_init(void)
{
	if (should_fail(&loop_slow_init_attr, 1))
		msleep(LOOP_SLOW_INIT_MS);
}

/* -EINVAL, and nothing made, if slow_init= does not parse. */
int __init loop_fault_init(void)
{
	if (loop_slow_init_param[0]) {
		if (!setup_fault_attr(&loop_slow_init_attr,
				      loop_slow_init_param))
			return -EINVAL;
		/* A pause is no failure: one line each, no stack. */
		loop_slow_init_attr.verbose = 1;
	}
	loop_debugfs = debugfs_create_dir(LOOP_NAME, NULL);
	fault_create_debugfs_attr("fail_bounce", loop_debugfs,
				  &loop_fail_bounce_attr);
	fault_create_debugfs_attr("slow_dispatch", loop_debugfs,
				  &loop_slow_dispatch_attr);
	fault_create_debugfs_attr("slow_aio_return", loop_debugfs,
				  &loop_slow_aio_return_attr);
	fault_create_debugfs_attr("slow_init", loop_debugfs,
				  &loop_slow_init_attr);
	return 0;
}

void loop_fault_exit(void)
{
	debugfs_remove_recursive(loop_debugfs);
}
