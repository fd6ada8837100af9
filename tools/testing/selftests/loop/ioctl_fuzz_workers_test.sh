#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ioctl_fuzz_test again, with the module under test reloaded with
# nr_workers=4, so that requests rotate between several worker threads
# while devices are bound, reconfigured and detached under them.  The seed
# is LOOP_FUZZ_SEED if set, else the one the last ioctl_fuzz_test run left
# in /tmp/loop_ioctl_fuzz.seed (the same sequence of calls per thread, now
# with four workers), else a new one.  Needs no loop device in use; leaves
# the module loaded with default parameters, as the other tests expect.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

seed_file=/tmp/loop_ioctl_fuzz.seed
fuzz_log=

cleanup() {
	recover_ours
	[[ -n $fuzz_log ]] && rm -f "$fuzz_log"
}

load_nr_workers_4() {
	insmod "$LOOP_MODULE" nr_workers=4 || return 1
	expect_eq nr_workers 4 "$(cat /sys/module/loop/parameters/nr_workers)"
}

# The fuzzer's TAP output is shown as comments whatever the outcome.
fuzz_with_4_workers() {
	local rc

	LOOP_FUZZ_SEED=$seed "$dir/ioctl_fuzz_test" >"$fuzz_log" 2>&1
	rc=$?
	grep -q '^not ok' "$fuzz_log" && fail "ioctl_fuzz_test: a test failed"
	((rc == 0)) || fail "ioctl_fuzz_test: exit status $rc"
}

unload_workers_4() {
	unload loop || fail "cannot unload loop (nr_workers=4)"
}

skip_unless_ours_in_vm ioctl_fuzz_workers "nr_workers is our driver's parameter" \
	"reloads the module: only in the test VM"
if [[ ! -x $dir/ioctl_fuzz_test ]]; then
	echo "1..1"
	echo "not ok 1 ioctl_fuzz_workers # ioctl_fuzz_test not built"
	exit 1
fi
seed=${LOOP_FUZZ_SEED:-$(cat "$seed_file" 2>/dev/null)}
[[ $seed =~ ^[0-9]+$ ]] || seed=$(((RANDOM << 15 | RANDOM) ^ $$))
echo "# seed $seed"
fuzz_log=$(mktemp "${TMPDIR:-/tmp}/fuzz.XXXXXX") || exit 1
settle

plan 5
step unload_ours unload_ours_and_block
step load_nr_workers_4 load_nr_workers_4
step fuzz_with_4_workers fuzz_with_4_workers
sed 's/^/# /' "$fuzz_log"
step unload_nr_workers_4 unload_workers_4
step restore_module_under_test restore
tap_status
