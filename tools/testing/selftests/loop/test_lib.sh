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
	local name=$1 rc start=$SECONDS
	shift
	tap_n=$((tap_n + 1))
	if [[ -n $tap_broken ]]; then
		echo "ok $tap_n $name # SKIP after failure of $tap_broken"
		return
	fi
	tap_step_failed=
	tap_step_skipped=
	"$@" >"$tap_out" 2>&1 </dev/null
	rc=$?
	# where a suite's time goes, for whoever keeps CI within its budget
	echo "# $name: $((SECONDS - start)) s"
	# a fail() anywhere in the step counts, whatever the step returned
	if ((rc == 0)) && [[ -z $tap_step_failed && -n $tap_step_skipped ]]; then
		sed 's/^/# /' "$tap_out"
		echo "ok $tap_n $name # SKIP $tap_step_skipped"
	elif ((rc == 0)) && [[ -z $tap_step_failed ]]; then
		# A passing step shows only its own diagnostics ("# ...").
		grep '^# ' "$tap_out"
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

# fail MESSAGE: say why, and fail the current step (see step()).
fail() {
	echo "$*"
	tap_step_failed=1
	return 1
}

# wait_all PID...: wait for each of those background jobs; fails if any
# of them failed.
wait_all() {
	local pid rc=0

	for pid; do
		wait "$pid" || rc=1
	done
	return $rc
}

# skip_step REASON: the step cannot tell here; it reports SKIP, not ok.
skip_step() {
	echo "$*"
	tap_step_skipped=$*
}

# cgroup2_find DIR: set cgroup2_dir to where cgroup v2 is mounted,
# mounting it on DIR (created) if it is not; then cgroup2_mounted_here
# names DIR, for the caller's cleanup to unmount (cgroup2_release).
cgroup2_dir=
cgroup2_mounted_here=
cgroup2_find() {
	cgroup2_dir=$(findmnt -no TARGET -t cgroup2 | head -n 1)
	if [[ -z $cgroup2_dir ]]; then
		mkdir -p "$1" && mount -t cgroup2 none "$1" || return 1
		cgroup2_mounted_here=$1
		cgroup2_dir=$1
	fi
}

# cgroup2_release [CGROUP]: for a cleanup, the test's CGROUP (if it was
# made) removed, and cgroup2 unmounted if cgroup2_find mounted it.
cgroup2_release() {
	[[ -n ${1:-} && -d $1 ]] && rmdir "$1"
	[[ -n $cgroup2_mounted_here ]] && umount "$cgroup2_mounted_here"
	cgroup2_mounted_here=
}

# The module's fault attributes, $fault_attrs/NAME (fault.c; kernels
# with CONFIG_FAULT_INJECTION_DEBUG_FS only).
fault_attrs=/sys/kernel/debug/loop
# fault_attr_or_skip NAME WHAT: exit with a single SKIP line for WHAT
# unless attribute NAME exists.
fault_attr_or_skip() {
	[[ -d $fault_attrs/$1 ]] && return 0
	echo "1..1"
	echo "ok 1 $2 # SKIP no $fault_attrs/$1 (a kernel without fault injection, or not our module)"
	exit 0
}

# fault_attr_on NAME TIMES: fire on every call, TIMES times (-1: no end),
# silently.
fault_attr_on() {
	local a=$fault_attrs/$1

	echo 0 >"$a/verbose" && echo 0 >"$a/interval" &&
		echo "$2" >"$a/times" && echo 100 >"$a/probability"
}

# fault_attr_off NAME
fault_attr_off() {
	local a=$fault_attrs/$1

	[[ -d $a ]] || return 0
	echo 0 >"$a/probability" && echo 0 >"$a/times"
}

# pattern FILE MIB SALT: MIB MiB of random bytes, the same for the same
# $seed (the test's, printed) and SALT.
# shellcheck disable=SC2154 # seed: the test's own
pattern() {
	openssl enc -aes-128-ctr -nosalt -pass "pass:$seed-$3" -pbkdf2 \
		-in /dev/zero 2>/dev/null | head -c $(($2 << 20)) >"$1"
}

# Write back and drop the page cache: what is read next comes from below.
drop_caches() {
	sync && echo 3 >/proc/sys/vm/drop_caches
}

# same_stretches DEV MIB N PREFIX: stretch i (MIB MiB at i * MIB MiB) of
# DEV reads back, O_DIRECT after the caches are dropped, as file PREFIXi.
same_stretches() {
	local dev=$1 mib=$2 n=$3 i

	drop_caches
	for ((i = 0; i < n; i++)); do
		cmp <(dd if="$dev" bs=64k skip=$((i * mib * 16)) count=$((mib * 16)) \
			iflag=direct status=none) "$4$i" ||
			fail "stretch $i of $dev differs from what was written" || return 1
	done
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

# release_all MOUNTPOINT WORKDIR DEV...: what a scenario test leaves
# behind, gone.  DEVs are detached newest first (one may be backed by a
# file on an older one, even on MOUNTPOINT), then MOUNTPOINT unmounted,
# then any device still backed by WORKDIR/*.img detached and WORKDIR
# removed.
release_all() {
	local mnt=$1 work=$2 i f

	shift 2
	for ((i = $#; i >= 1; i--)); do
		[[ -n ${!i} ]] && losetup -d "${!i}" 2>/dev/null
	done
	mountpoint -q "$mnt" && umount "$mnt"
	settle
	for f in "$work"/*.img; do
		losetup -j "$f" 2>/dev/null | cut -d: -f1 | xargs -r -n1 losetup -d
	done
	settle
	rm -rf "$work"
}

# none_backed_by WORKDIR: no device left bound to any WORKDIR/*.img.
none_backed_by() {
	local f

	settle
	for f in "$1"/*.img; do
		expect_eq "losetup -j $f" "" "$(losetup -j "$f")" || return 1
	done
}

# ---- Tests that unload, reload or install loop modules ----

# Exit with a single SKIP line for test NAME if loop is built into the
# kernel (no initstate): it cannot be unloaded.  skip_if_loop_builtin NAME
skip_if_loop_builtin() {
	[[ -e /sys/module/loop && ! -e /sys/module/loop/initstate ]] || return 0
	echo "1..1"
	echo "ok 1 $1 # SKIP loop is built into the kernel"
	exit 0
}

# Exit with a single SKIP line unless this run tests our module in the
# test VM.  skip_unless_ours_in_vm NAME WHY-NOT-STOCK WHY-ONLY-IN-VM
skip_unless_ours_in_vm() {
	local why=

	if [[ $LOOP_STOCK == 1 || -z $LOOP_MODULE ]]; then
		why=$2
	elif [[ $VM_GUEST != 1 ]]; then
		why=$3
	fi
	[[ -z $why ]] && return 0
	echo "1..1"
	echo "ok 1 $1 # SKIP $why"
	exit 0
}

# loaded [MODULE]: is MODULE (default loop) live?
loaded() {
	[[ $(cat "/sys/module/${1:-loop}/initstate" 2>/dev/null) == live ]]
}

# unload [MODULE]: rmmod MODULE (default loop), retried: udev may still
# hold a device open for a moment.  And it must stay unloaded: opening a
# loop device node while no loop module is loaded loads one
# (CONFIG_BLOCK_LEGACY_AUTOLOAD), and a last udev event of the devices
# that rmmod removed, or one of a test before, can do that in the moment
# after rmmod.  So once udev has settled, whatever came back is unloaded
# again (the module under test, or the stock one when a test has taken
# the override away), three times at most.
unload() {
	local module=${1:-loop} i n

	for n in 1 2 3; do
		settle
		loaded "$module" || return 0
		((n == 1)) ||
			echo "# $module was loaded again after rmmod: unloading it again"
		for i in $(seq 50); do
			rmmod "$module" 2>/dev/null && continue 2
			sleep 0.2
		done
		rmmod "$module" || return 1
	done
	settle
	loaded "$module" || return 0
	echo "# $module is loaded again after each rmmod"
	return 1
}

# refused_load ARG...: "modprobe loop ARG..." must fail as a bad
# parameter does (EINVAL: kmod says "Invalid parameters" or "Invalid
# argument") and leave nothing behind: no module, control device, block
# major or device.  loop must be unloaded before.
refused_load() {
	local err

	if err=$(modprobe loop "$@" 2>&1); then
		fail "modprobe loop $* succeeded"
		unload
		return 1
	fi
	[[ $err == *Invalid* ]] || fail "modprobe loop $*: $err" || return 1
	[[ ! -e /sys/module/loop ]] ||
		fail "/sys/module/loop exists after modprobe loop $*" || return 1
	[[ ! -e /sys/class/misc/loop-control ]] ||
		fail "loop-control exists after modprobe loop $*" || return 1
	[[ -z $(awk '$2 == "loop"' /proc/devices) ]] ||
		fail "loop's block major is registered after modprobe loop $*" ||
		return 1
	[[ ! -e /sys/block/loop0 ]] || fail "loop0 exists after modprobe loop $*"
}

# The running kernel's own loop module, as modinfo names it.
stock_path() {
	ls /lib/modules/"$(uname -r)"/kernel/drivers/block/loop.ko* 2>/dev/null |
		head -n 1
}

# scripts/vm-run makes "modprobe loop" insert the module under test
# through this file.  Tests of an installed module take it away, and
# put it back, with the module under test, when they are done.
override=/etc/modprobe.d/loop-under-test.conf
saved_override=
autoload_blocked=

# A step: the module under test unloaded and modprobe no longer bent.
unload_ours() {
	saved_override=$(cat "$override") || return 1
	rm -f "$override"
	unload || fail "cannot unload loop"
}

# No loop module loaded by modprobe, the kernel's autoload included,
# until unblock_autoload(): for a test that unloads loop and then loads
# a module itself (insmod), or checks that none is loaded.  After
# ioctl_fuzz_test something opened loop device nodes again and again for
# a while, and each open loaded a loop module again (rehearsal, 6.12:
# three in a row; and once between coexist_test's unload and its insmod
# of the stock module, which then found "loop" loaded: EEXIST).
# (The stock driver's runs have no override: none is left behind then.)
block_autoload() {
	saved_override=$(cat "$override" 2>/dev/null)
	autoload_blocked=1
	mkdir -p "${override%/*}" &&
		echo "install loop /bin/true" >"$override"
}

unblock_autoload() {
	autoload_blocked=
	if [[ -n $saved_override ]]; then
		printf '%s\n' "$saved_override" >"$override"
	else
		rm -f "$override"
	fi
}

# A step: the module under test unloaded, and autoload blocked until
# restore().
unload_ours_and_block() {
	block_autoload || return 1
	unload || fail "cannot unload loop"
}

# The last step: the module under test back, and modprobe bent again.
restore() {
	insmod "$LOOP_MODULE" || return 1
	unblock_autoload || return 1
	expect_eq srcversion "$(modinfo -F srcversion "$LOOP_MODULE")" \
		"$(cat /sys/module/loop/srcversion)"
}

# For an EXIT trap, after the test's own cleanup: whatever a failure
# left, the override and the module under test come back.
recover_ours() {
	if [[ -n $autoload_blocked ]] ||
	   [[ -n $saved_override &&
	      $(cat "$override" 2>/dev/null) != "$saved_override" ]]; then
		unblock_autoload
	fi
	if [[ -n $tap_broken ]]; then
		unload
		insmod "$LOOP_MODULE"
	fi
}
