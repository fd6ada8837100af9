// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection for the tests: what nothing else can make happen on
 * purpose, in <debugfs>/loop/ (see Documentation/fault-injection/).
 * Built with CONFIG_FAULT_INJECTION_DEBUG_FS only; loop.h has the stubs.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fault-inject.h>

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

void __init loop_fault_init(void)
{
	loop_debugfs = debugfs_create_dir(LOOP_NAME, NULL);
	fault_create_debugfs_attr("fail_bounce", loop_debugfs,
				  &loop_fail_bounce_attr);
	fault_create_debugfs_attr("slow_dispatch", loop_debugfs,
				  &loop_slow_dispatch_attr);
}

void loop_fault_exit(void)
{
	debugfs_remove_recursive(loop_debugfs);
}
