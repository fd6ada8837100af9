#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# detach_stress_test again, with four worker threads per device: requests
# then rotate between workers, which one worker never exercises.  Reloads
# the module with nr_workers=4, and with its default parameters after.
# The seed is passed on (LOOP_STRESS_SEED) and printed by the C test.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

skip_unless_ours_in_vm detach_stress_nr4_test \
	"nr_workers is a parameter of our module only" \
	"reloads the loop module: only in the test VM"

cleanup() {
	# Whatever happened, leave the module loaded with its defaults.
	if [[ $(cat /sys/module/loop/parameters/nr_workers 2>/dev/null) != 1 ]]; then
		unload
		insmod "$LOOP_MODULE"
	fi
	recover_ours
}

# The module under test with PARAMS; autoload blocked meanwhile, or an
# opener could load it with its defaults between the unload and insmod.
reload_with() {
	# A transfer module left behind would keep loop loaded.
	unload cryptoloop
	block_autoload || return 1
	unload || fail "cannot unload loop" || return 1
	insmod "$LOOP_MODULE" "$@" || fail "insmod loop $* failed" || return 1
	unblock_autoload || return 1
	settle
}

nr_workers_is() {
	expect_eq nr_workers "$1" "$(cat /sys/module/loop/parameters/nr_workers)"
}

reload_nr4() {
	reload_with nr_workers=4 && nr_workers_is 4
}

reload_default() {
	reload_with && nr_workers_is 1
}

plan 3
step "loop reloaded with nr_workers=4" reload_nr4

# The stress test's own TAP lines, as comments, then its verdict.
tap_n=$((tap_n + 1))
if [[ -n $tap_broken ]]; then
	echo "ok $tap_n detach_stress_test with nr_workers=4 # SKIP after failure of $tap_broken"
else
	"$dir/detach_stress_test" 2>&1 </dev/null | sed 's/^/# /'
	if ((PIPESTATUS[0] == 0)); then
		echo "ok $tap_n detach_stress_test with nr_workers=4"
	else
		echo "not ok $tap_n detach_stress_test with nr_workers=4"
		tap_failed=1
	fi
fi

step "loop reloaded with its default parameters" reload_default
tap_status
