# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# TAP helpers for the loop selftests written in bash.  Source it, call
# "plan N", then "step NAME FUNCTION [ARGS...]" for each test: the function
# runs with its output captured; on failure that output is shown as "# "
# lines.  It runs in the script's shell (not a subshell), so variables it
# sets are seen by later steps.  Steps are a chain: after one fails, the
# rest report SKIP, since each builds on the state the previous ones left.

tap_n=0
tap_failed=0
tap_broken=
tap_out=$(mktemp "${TMPDIR:-/tmp}/tap.XXXXXX") || exit 1

# A script may define cleanup(); it runs on exit, however the script ends.
tap_exit() {
	declare -F cleanup >/dev/null && cleanup >/dev/null 2>&1
	rm -f "$tap_out"
}
trap tap_exit EXIT

plan() {
	echo "1..$1"
}

step() {
	local name=$1 rc
	shift
	tap_n=$((tap_n + 1))
	if [[ -n $tap_broken ]]; then
		echo "ok $tap_n $name # SKIP after failure of $tap_broken"
		return
	fi
	"$@" >"$tap_out" 2>&1 </dev/null
	rc=$?
	if ((rc == 0)); then
		echo "ok $tap_n $name"
	else
		echo "not ok $tap_n $name"
		sed 's/^/# /' "$tap_out"
		tap_failed=1
		tap_broken=$name
	fi
}

# Exit status for the end of a test script.
tap_status() {
	return $tap_failed
}

fail() {
	echo "$*"
	return 1
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	[[ $2 == "$3" ]] || fail "$1: expected '$2', got '$3'"
}

# Let udev finish probing (its blkid opens devices and delays detaches).
settle() {
	command -v udevadm >/dev/null && udevadm settle --timeout=30 >/dev/null 2>&1
	return 0
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

test_dir() {
	echo "${LOOP_TEST_DIR:-/mnt/scratch}"
}
