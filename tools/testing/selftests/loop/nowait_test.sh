#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Where trying I/O with IOCB_NOWAIT from the submitter's context can go
# wrong, data must still come back exact:
#  - stacked devices: loop2 on a file on ext4 on loop1 on a file on ext4
#    on loop0, all in direct-I/O mode, under parallel writers (plugs
#    ending inside plugs, stack taken at each level);
#  - a sparse backing file, where every direct write needs blocks
#    allocated and NOWAIT always fails (the fall back and its back-off);
#  - short of memory: O_DIRECT writers in a cgroup with a small
#    memory.max full of clean page cache, where allocations on the NOWAIT
#    path and in the workers reclaim.  (Not buffered writers: when their
#    dirty pages fill memory.max, the backing file system's allocations
#    for writing them back, charged to the same cgroup under NOIO, can
#    end in the cgroup's OOM killer, with the stock driver's charging
#    as with ours.)
# Data is random from a printed seed and compared byte for byte after
# the page caches are dropped.  Every writer is bounded by a timeout: a
# request lost between the NOWAIT path and the workers fails the step.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

seed=${LOOP_TEST_SEED:-$RANDOM$RANDOM}
echo "# seed $seed (LOOP_TEST_SEED=$seed repeats this run)"
work=$(mktemp -d "$(test_dir)/nowait.XXXXXX") || exit 1
devs=()
mnts=()
cg=

cleanup() {
	local i

	for ((i = ${#devs[@]} - 1; i >= 0; i--)); do
		mountpoint -q "${mnts[i]}" && umount "${mnts[i]}"
		losetup -d "${devs[i]}" 2>/dev/null
	done
	[[ -n $cg && -d $cg ]] && rmdir "$cg"
	[[ -n $cgroup2_mounted_here ]] && umount "$cgroup2_mounted_here"
	settle
	rm -rf "$work"
}

# stack_on FILE: bind FILE with direct I/O, make ext4 on it, mount it;
# the new device and mount point are the last of devs and mnts.
stack_on() {
	local dev mnt=$work/mnt${#devs[@]}

	dev=$(losetup -f --show --direct-io=on "$1") || return 1
	devs+=("$dev")
	mkdir -p "$mnt" && mnts+=("$mnt")
	mkfs.ext4 -q -F "$dev" && mount "$dev" "$mnt"
}

stack_three() {
	truncate -s 384M "$work/level0.img" || return 1
	stack_on "$work/level0.img" || return 1
	fallocate -l 256M "${mnts[0]}/level1.img" || return 1
	stack_on "${mnts[0]}/level1.img" || return 1
	fallocate -l 160M "${mnts[1]}/level2.img" || return 1
	dev=$(losetup -f --show --direct-io=on "${mnts[1]}/level2.img") || return 1
	devs+=("$dev")
	mnts+=("")
	expect_eq "direct I/O of the top device" 1 \
		"$(cat "/sys/block/${dev#/dev/}/loop/dio")"
}

# parallel_writes DEV MIB WRITERS: each writer fills its own stretch of
# DEV from its own pattern, half O_DIRECT and half buffered + fsync.
parallel_writes() {
	local dev=$1 mib=$2 n=$3 i pids=() flag rc=0

	for ((i = 0; i < n; i++)); do
		pattern "$work/p$i" "$mib" "$i" || return 1
		((i % 2)) && flag=oflag=direct || flag=conv=fsync
		timeout 600 dd if="$work/p$i" of="$dev" bs=64k seek=$((i * mib * 16)) \
			"$flag" status=none &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || rc=1
	done
	((rc == 0)) || fail "a writer failed or did not finish within 600 s"
}

# same_data DEV MIB WRITERS: what the writers wrote reads back.
same_data() {
	same_stretches "$1" "$2" "$3" "$work/p"
}

stacked_writes() {
	parallel_writes "${devs[2]}" 16 4 && same_data "${devs[2]}" 16 4
}

unstack() {
	local i

	for ((i = ${#devs[@]} - 1; i >= 0; i--)); do
		if [[ -n ${mnts[i]} ]]; then
			umount "${mnts[i]}" || return 1
		fi
		losetup -d "${devs[i]}" || return 1
	done
	devs=()
	mnts=()
	# The bottom file's ext4 is still whole.
	e2fsck -fn "$work/level0.img" >/dev/null || fail "e2fsck of level 0 failed"
}

sparse_writes() {
	local dev

	truncate -s 128M "$work/sparse.img" || return 1
	dev=$(losetup -f --show --direct-io=on "$work/sparse.img") || return 1
	devs=("$dev")
	mnts=("")
	parallel_writes "$dev" 16 4 && same_data "$dev" 16 4 || return 1
	# What was never written is still a hole, and reads as zeroes.
	cmp -n $((32 << 20)) <(dd if="$dev" bs=1M skip=96 count=32 iflag=direct status=none) \
		/dev/zero || fail "unwritten space does not read as zeroes" || return 1
	losetup -d "$dev" && devs=() && mnts=()
}

low_memory_writes() {
	local cgroot dev i pids=() rc=0

	cgroup2_find "$work/cgroup" || return 1
	cgroot=$cgroup2_dir
	echo "+memory" >"$cgroot/cgroup.subtree_control" 2>/dev/null
	cg=$cgroot/loop_nowait.$$
	mkdir "$cg" || return 1
	echo $((32 << 20)) >"$cg/memory.max" || return 1
	truncate -s 256M "$work/lowmem.img" || return 1
	dev=$(losetup -f --show --direct-io=on "$work/lowmem.img") || return 1
	devs=("$dev")
	mnts=("")
	for ((i = 0; i < 4; i++)); do
		pattern "$work/p$i" 24 "m$i" || return 1
	done
	drop_caches
	# Each writer first reads 48 MiB of its own: the cgroup's memory is
	# full of clean page cache, and every allocation on the way reclaims.
	for ((i = 0; i < 4; i++)); do
		(
			echo "$BASHPID" >"$cg/cgroup.procs"
			cat "$work"/p* "$work"/p* >/dev/null
			exec timeout 600 dd if="$work/p$i" of="$dev" bs=1M \
				seek=$((i * 24)) oflag=direct conv=fsync status=none
		) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || rc=1
	done
	((rc == 0)) || fail "a writer in memory.max=32M failed or did not finish" || return 1
	echo "memory.events: $(tr '\n' ' ' <"$cg/memory.events")"
	same_data "$dev" 24 4 || return 1
	losetup -d "$dev" && devs=() && mnts=()
	rmdir "$cg" && cg=
}

plan 6
step "loop on ext4 on loop on ext4 on loop, direct I/O" stack_three
step "stacked: parallel writers, data exact" stacked_writes
step "stacked: detached top down, the bottom ext4 clean" unstack
step "sparse backing file: direct writes, data exact" sparse_writes
step "memory.max=32M: writers reclaiming, data exact" low_memory_writes
step "nothing left bound" none_backed_by "$work"
tap_status
