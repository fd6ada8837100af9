#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Suspend's task freezer with a loop device under continuous I/O.
#
# Buffered and O_DIRECT writers and an O_DIRECT reader keep a loop device
# busy, and a writer with fsync an ext4 on a second one, while "freezer" pm_test mode runs each suspend state the guest
# offers (freeze, mem): every task is frozen, the kernel waits a few
# seconds, and everything is thawed, without touching devices.  The write
# to /sys/power/state must succeed, the kernel must not report "Freezing
# ... failed" (a task the loop device keeps in D state, or a freezable
# workqueue waiting on it), the I/O must go on afterwards, and the data
# must be right at the end.  Needs CONFIG_PM_DEBUG (/sys/power/pm_test).

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

work=
dev=
fsdev=
pids=()
pm_test=/sys/power/pm_test
old_pm_test=
# pm_test busy-waits (mdelay) this many seconds frozen: 5 by default,
# long enough under TCG on a loaded host for a soft-lockup report
delay=/sys/module/suspend/parameters/pm_test_delay
old_delay=

cleanup() {
	[[ -n $work ]] && touch "$work/stop"
	((${#pids[@]})) && wait "${pids[@]}"
	[[ -n $old_pm_test ]] && echo "$old_pm_test" >"$pm_test"
	[[ -n $old_delay ]] && echo "$old_delay" >"$delay"
	[[ -n $dev ]] && losetup -d "$dev"
	mountpoint -q "$work/mnt" && umount "$work/mnt"
	[[ -n $fsdev ]] && losetup -d "$fsdev"
	settle
	[[ -n $work ]] && rm -rf "$work"
}

# The states of /sys/power/state this test puts through the freezer.
states() {
	local s all

	read -ra all </sys/power/state
	for s in "${all[@]}"; do
		[[ $s == freeze || $s == mem ]] && echo "$s"
	done
}

setup() {
	work=$(mktemp -d "$(test_dir)/freezer.XXXXXX") || return 1
	truncate -s 64M "$work/img" || return 1
	dd if=/dev/urandom of="$work/pat" bs=1M count=8 status=none || return 1
	dev=$(losetup -f --show "$work/img") || return 1
	# ext4 on a second device: its journal thread is freezable and
	# waits for loop I/O, so a frozen loop worker would block the freeze
	truncate -s 64M "$work/fs.img" || return 1
	mkfs.ext4 -q "$work/fs.img" || return 1
	fsdev=$(losetup -f --show "$work/fs.img") || return 1
	mkdir "$work/mnt" && mount "$fsdev" "$work/mnt" || return 1
	settle
}

# io NAME DD-ARGS...: run dd in a loop until $work/stop appears, counting
# the passes in $work/NAME.count and failures in $work/NAME.err.
io() {
	local name=$1

	shift
	until [[ -e $work/stop ]]; do
		if dd "$@" status=none 2>>"$work/$name.err"; then
			echo >>"$work/$name.count"
		else
			echo "dd $* failed" >>"$work/$name.err"
		fi
	done
}

passes() {
	local n

	n=$(wc -l <"$work/$1.count" 2>/dev/null)
	echo "${n:-0}"
}

all_passed_since() {	# all_passed_since BUF DIO READ FS: each went on
	(($(passes buf) > $1 && $(passes dio) > $2 && $(passes rd) > $3 &&
		$(passes fs) > $4))
}

start_io() {
	io buf if="$work/pat" of="$dev" bs=1M count=8 conv=fsync &
	pids+=($!)
	io dio if="$work/pat" of="$dev" bs=1M count=8 seek=16 oflag=direct &
	pids+=($!)
	io rd if="$dev" of=/dev/null bs=1M count=32 iflag=direct &
	pids+=($!)
	io fs if="$work/pat" of="$work/mnt/pat" bs=1M count=8 conv=fsync &
	pids+=($!)
	wait_for 120 all_passed_since 0 0 0 0 || fail "the I/O does not run"
}

# suspend STATE: one freeze and thaw cycle through pm_test's freezer mode.
suspend() {
	local state=$1 before b d r f err

	before=$(dmesg | wc -l)
	b=$(passes buf)
	d=$(passes dio)
	r=$(passes rd)
	f=$(passes fs)
	echo freezer >"$pm_test" || return 1
	if ! err=$({ echo "$state" >/sys/power/state; } 2>&1); then
		fail "echo $state >/sys/power/state failed: $err"
	fi
	echo none >"$pm_test"
	dmesg | tail -n +"$((before + 1))" >"$work/dmesg.$state"
	if grep -Eqi 'freezing.*failed|refusing to freeze' "$work/dmesg.$state"; then
		fail "the freezer failed with $dev under I/O:"
		cat "$work/dmesg.$state"
		return 1
	fi
	grep -Eq 'suspend debug|Restarting tasks|Freezing' "$work/dmesg.$state" ||
		fail "no trace of a freeze in the kernel log:" ||
		cat "$work/dmesg.$state"
	wait_for 120 all_passed_since "$b" "$d" "$r" "$f" ||
		fail "the I/O did not go on after the thaw (passes: buffered $b -> $(passes buf), direct $d -> $(passes dio), read $r -> $(passes rd), ext4 $f -> $(passes fs))"
}

stop_io() {
	local f

	touch "$work/stop"
	wait "${pids[@]}"
	pids=()
	for f in "$work"/*.err; do
		[[ -s $f ]] && fail "$(basename "$f"):" && cat "$f"
	done
	return 0
}

# What the writers wrote last is on the device and in the file.
data_intact() {
	local where

	for where in 0 16; do
		cmp <(dd if="$dev" bs=1M skip="$where" count=8 iflag=direct \
			status=none) "$work/pat" ||
			fail "device at ${where}M differs from the pattern"
		cmp <(dd if="$work/img" bs=1M skip="$where" count=8 \
			status=none) "$work/pat" ||
			fail "backing file at ${where}M differs from the pattern"
	done
	cmp "$work/mnt/pat" "$work/pat" || fail "the file on ext4 differs"
	return 0
}

detach() {
	settle
	losetup -d "$dev" || return 1
	dev=
	umount "$work/mnt" || return 1
	losetup -d "$fsdev" || return 1
	fsdev=
}

if [[ ! -e $pm_test ]]; then
	echo "1..1"
	echo "ok 1 freezer # SKIP no $pm_test (kernel without CONFIG_PM_DEBUG)"
	exit 0
fi
if [[ -z $(states) ]]; then
	echo "1..1"
	echo "ok 1 freezer # SKIP neither freeze nor mem in /sys/power/state ($(cat /sys/power/state))"
	exit 0
fi
old_pm_test=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$pm_test")
if [[ -w $delay ]]; then
	old_delay=$(cat "$delay")
	echo 1 >"$delay"
fi
echo "# states: $(cat /sys/power/state), pm_test: $(cat "$pm_test")"
loaded || modprobe loop || exit 1

plan $((5 + $(states | wc -l)))
step setup setup
step start_io start_io
for state in $(states); do
	step "suspend_${state}_freezer_with_loop_io" suspend "$state"
	# what the freezer said, for comparing drivers and kernels
	grep -Ei 'freez|restarting|suspend debug|PM:' \
		"$work/dmesg.$state" 2>/dev/null | sed 's/^/# /'
done
step stop_io stop_io
step data_intact data_intact
step detach detach
tap_status
