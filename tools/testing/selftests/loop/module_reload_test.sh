#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Loading and unloading the loop module, and its max_loop / max_part
# parameters.  Must run with no loop device in use.  Leaves the module
# loaded with default parameters, as the other tests expect.
#
# In the test VM "modprobe loop" inserts the module under test (vm-run's
# install rule) or the stock one (--stock); both must behave alike.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

node=/dev/loop-selftest-node	# devtmpfs: /tmp is nodev in the VM
work=
dev=

cleanup() {
	[[ -n $dev ]] && losetup -d "$dev"
	rm -f "$node"
	[[ -n $work ]] && rm -rf "$work"
	settle
	# After a failure the module may be gone or loaded with odd params.
	if [[ -n $tap_broken ]]; then
		modprobe_remove
		modprobe loop
	fi
}

param() {
	cat "/sys/module/loop/parameters/$1" 2>/dev/null
}

# The misc device is gone.  Not its /dev node: like systemd-tmpfiles at
# boot, the test VM makes a static one (kmod static-nodes) so that opening
# it loads the module, and devtmpfs leaves nodes it did not make alone.
no_control_device() {
	[[ ! -e /sys/class/misc/loop-control ]]
}

# modprobe -r, retried: udev may still have a device open for a moment.
modprobe_remove() {
	local i

	settle
	for i in $(seq 50); do
		modprobe -r loop && return 0
		sleep 0.2
	done
	return 1
}

# Number of loop devices the module creates when max_loop is not given.
default_count() {
	local n

	n=$(sed -n 's/^CONFIG_BLK_DEV_LOOP_MIN_COUNT=//p' \
		"/boot/config-$(uname -r)" 2>/dev/null)
	echo "${n:-8}"
}

unbound() {
	[[ ! -e /sys/block/${dev#/dev/}/loop ]]
}

# detach: losetup -d, then wait for a detach udev may have deferred.
detach() {
	settle
	losetup -d "$dev" || return 1
	wait_for 10 unbound || fail "$dev still bound"
	dev=
}

unload_unused_module() {
	modprobe_remove || fail "modprobe -r loop failed" || return 1
	! loaded || fail "module still loaded" || return 1
	wait_for 5 no_control_device ||
		fail "/sys/class/misc/loop-control still exists" || return 1
	[[ ! -e /sys/block/loop0 ]] || fail "/sys/block/loop0 still exists"
}

# Every parameter out of its documented range fails the load (EINVAL)
# and leaves nothing.  The stock driver (--stock) refuses only what the
# minor numbers cannot hold, and has no nr_queues, nr_workers or
# hw_queue_depth: it is held to the first two only.
bad_params_refused() {
	local args

	for args in max_part=256 max_loop=1048577; do
		refused_load "$args" || return 1
	done
	[[ $LOOP_STOCK == 1 ]] && return 0
	for args in max_loop=-1 max_loop=4k max_part=-1 \
		"max_part=255 max_loop=4097" nr_queues=-1 nr_queues=257 \
		nr_workers=0 nr_workers=65 hw_queue_depth=0 \
		hw_queue_depth=10241; do
		# shellcheck disable=SC2086 # two parameters in one
		refused_load $args || return 1
	done
}

load_max_loop_4() {
	local i

	modprobe loop max_loop=4 || return 1
	expect_eq max_loop 4 "$(param max_loop)" || return 1
	for i in 0 1 2 3; do
		[[ -e /sys/block/loop$i ]] || fail "loop$i missing"
	done
	[[ ! -e /sys/block/loop4 ]] || fail "loop4 exists"
	[[ -c /dev/loop-control ]] || fail "no /dev/loop-control"
}

# With max_loop given, opening a higher minor does not create the device.
open_beyond_max_loop_fails() {
	local err

	mknod "$node" b 7 4 || return 1
	if err=$( (exec 3<"$node") 2>&1); then
		fail "opening loop4's node succeeded"
		return 1
	fi
	[[ $err == *"No such device or address"* ]] || fail "open: $err" || return 1
	[[ ! -e /sys/block/loop4 ]] || fail "loop4 was created"
	rm -f "$node"
}

bound_module_refuses_unload() {
	local err

	truncate -s 1M "$work/small.img" || return 1
	dev=$(losetup -f --show "$work/small.img") || return 1
	settle
	if err=$(rmmod loop 2>&1); then
		fail "rmmod loop succeeded with $dev bound"
		return 1
	fi
	[[ $err == *"in use"* ]] || fail "rmmod: $err" || return 1
	loaded || fail "module gone"
	(($(cat /sys/module/loop/refcnt) > 0)) || fail "refcnt 0 while bound"
}

unload_after_detach() {
	detach || return 1
	modprobe_remove || fail "modprobe -r loop failed after detach" ||
		return 1
	! loaded || fail "module still loaded"
}

load_max_part_3() {
	modprobe loop max_part=3 || return 1
	expect_eq max_part 3 "$(param max_part)" || return 1
	# Each device gets 1 << fls(max_part) minors.
	expect_eq "loop0 dev" 7:0 "$(cat /sys/block/loop0/dev)" || return 1
	expect_eq "loop1 dev" 7:4 "$(cat /sys/block/loop1/dev)"
}

has_partitions() {
	local n=${dev#/dev/}

	[[ -e /sys/block/$n/${n}p1 && -e /sys/block/$n/${n}p2 &&
		-b ${dev}p1 && -b ${dev}p2 ]]
}

no_partitions() {
	local n=${dev#/dev/}

	[[ ! -e /sys/block/$n/${n}p1 && ! -e /sys/block/$n/${n}p2 ]]
}

# max_part turns on partition scanning for every bound device.
partitions_appear() {
	local img=$work/parts.img n

	truncate -s 64M "$img" || return 1
	printf '%s\n' 'label: dos' 'start=2048, size=32768, type=83' \
		'size=32768, type=83' | sfdisk -q "$img" || return 1
	dev=$(losetup -f --show "$img") || return 1
	n=${dev#/dev/}
	expect_eq "$n partscan" 1 "$(cat "/sys/block/$n/loop/partscan")" ||
		return 1
	wait_for 10 has_partitions || fail "no ${n}p1/${n}p2" || return 1
	expect_eq "${n}p1 size" 32768 "$(cat "/sys/block/$n/${n}p1/size")" ||
		return 1
	expect_eq "${n}p2 start" 34816 "$(cat "/sys/block/$n/${n}p2/start")"
}

detach_removes_partitions() {
	local saved=$dev

	detach || return 1
	dev=$saved
	wait_for 10 no_partitions || fail "partitions of $dev remain"
	dev=
}

# max_part is rounded up to (1 << fls(max_part)) - 1.
max_part_rounds_up() {
	modprobe_remove || return 1
	modprobe loop max_part=5 || return 1
	expect_eq max_part 7 "$(param max_part)" || return 1
	expect_eq "loop1 dev" 7:8 "$(cat /sys/block/loop1/dev)"
}

reload_default() {
	local i count

	modprobe_remove || return 1
	modprobe loop || return 1
	expect_eq max_part 0 "$(param max_part)" || return 1
	count=$(default_count)
	for ((i = 0; i < count; i++)); do
		[[ -e /sys/block/loop$i ]] || fail "loop$i missing"
	done
}

# Without max_loop, opening any loop minor creates that device.
open_creates_device() {
	local nr=100

	while [[ -e /sys/block/loop$nr ]]; do
		nr=$((nr + 1))
	done
	mknod "$node" b 7 "$nr" || return 1
	(exec 3<"$node") || fail "opening loop$nr's node failed" || return 1
	[[ -e /sys/block/loop$nr ]] || fail "loop$nr not created"
	rm -f "$node"
}

final_reload() {
	modprobe_remove || return 1
	modprobe loop || return 1
	loaded
}

skip_if_loop_builtin module_reload
loaded || modprobe loop || exit 1
work=$(mktemp -d "$(test_dir)/module_reload.XXXXXX") || exit 1

plan 13
step unload_unused_module unload_unused_module
step bad_params_refused bad_params_refused
step load_max_loop_4 load_max_loop_4
step open_beyond_max_loop_fails open_beyond_max_loop_fails
step bound_module_refuses_unload bound_module_refuses_unload
step unload_after_detach unload_after_detach
step load_max_part_3_spaces_minors load_max_part_3
step max_part_enables_partscan partitions_appear
step detach_removes_partitions detach_removes_partitions
step max_part_rounds_up max_part_rounds_up
step reload_default_params reload_default
step open_creates_device_without_max_loop open_creates_device
step final_reload final_reload
tap_status
