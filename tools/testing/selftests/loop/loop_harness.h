/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kselftest_harness.h with a longer default per-test timeout.
 *
 * The harness kills a test after 30 s unless it says otherwise.  Under an
 * emulated CPU, and more so on the debug kernel (KASAN, lockdep and
 * kmemleak make every system call several times slower), ordinary tests
 * that take a second on hardware can take longer than that.  A test that
 * hangs is still caught: by this bound, by the runner's per-program
 * timeout, and on the debug kernel by the hung-task detector.
 */
#ifndef LOOP_HARNESS_H
#define LOOP_HARNESS_H

#include "kselftest_harness.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT	180	/* seconds */

#endif /* LOOP_HARNESS_H */
