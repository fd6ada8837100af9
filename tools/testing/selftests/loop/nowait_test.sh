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
#  - a backing file whose extent tree must be read from disk for a read
#    issued from within submit_bio() (a worker does it today; any path
#    that tries it in the submitter's context must not park that read);
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
	cgroup2_release "$cg"
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
	local dev=$1 mib=$2 n=$3 i pids=() flag

	for ((i = 0; i < n; i++)); do
		pattern "$work/p$i" "$mib" "$i" || return 1
		((i % 2)) && flag=oflag=direct || flag=conv=fsync
		timeout 600 dd if="$work/p$i" of="$dev" bs=64k seek=$((i * mib * 16)) \
			"$flag" status=none &
		pids+=($!)
	done
	wait_all "${pids[@]}" ||
		fail "a writer failed or did not finish within 600 s"
}

# same_data DEV MIB WRITERS: what the writers wrote reads back.
same_data() {
	same_stretches "$1" "$2" "$3" "$work/p"
}

stacked_writes() {
	parallel_writes "${devs[2]}" 16 4 && same_data "${devs[2]}" 16 4
}

# unstack [IMAGE]: detach the stack top down; the ext4 in IMAGE (default:
# level 0 of stack_three) is still whole.
unstack() {
	local i bottom=${1:-$work/level0.img}

	for ((i = ${#devs[@]} - 1; i >= 0; i--)); do
		if [[ -n ${mnts[i]} ]]; then
			umount "${mnts[i]}" || return 1
		fi
		losetup -d "${devs[i]}" || return 1
	done
	devs=()
	mnts=()
	e2fsck -fn "$bottom" >/dev/null || fail "e2fsck of ${bottom##*/} failed"
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

# A backing file of 2048 extents on a freshly mounted ext4, so that its
# extent tree's leaf blocks are not in memory (the journal keeps blocks
# it wrote cached until the file system is unmounted): the first read of
# a stretch makes ext4 read that stretch's leaf and wait for it.  4 KiB
# O_DIRECT reads of the device each reach loop_queue_rq() from within
# submit_bio() (no plug).  Today a worker reads the backing file for
# them; a NOWAIT attempt in the submitter's context would have to issue
# the backing file system's read of the leaf before it waits for it, not
# leave it parked behind the request that caused it until that request
# returns (which it never would: a module doing so hangs here).  udev's
# probe reads the start and the end of the device; the stretch read here
# is in the middle.
cold_extent_reads() {
	local img dev n

	truncate -s 64M "$work/cold.img" || return 1
	stack_on "$work/cold.img" || return 1
	img=${mnts[0]}/extents.img
	pattern "$work/extents.orig" 20 cold || return 1
	cp "$work/extents.orig" "$img" || return 1
	# Every other 4 KiB block of the first 16 MiB zeroed, then made a
	# hole: 2048 extents.
	perl -e 'open(my $f, "+<", $ARGV[0]) or die "$ARGV[0]: $!";
		 for my $i (0 .. 2047) { seek($f, $i * 8192, 0); print $f "\0" x 4096 }
		 close($f) or die "$!"' "$img" || return 1
	fallocate -d "$img" || return 1
	# (filefrag's own count merges extents that are contiguous on disk)
	n=$(filefrag -v "$img" | grep -cE '^ *[0-9]+:')
	((n > 2000)) || fail "only $n extents in $img" || return 1
	umount "${mnts[0]}" && mount "${devs[0]}" "${mnts[0]}" || return 1
	dev=$(losetup -f --show --direct-io=on "$img") || return 1
	devs+=("$dev")
	mnts+=("")
	expect_eq "direct I/O" 1 "$(cat "/sys/block/${dev#/dev/}/loop/dio")"
	settle
	timeout 120 dd if="$dev" of="$work/extents.read" bs=4k skip=1536 count=1024 \
		iflag=direct status=none || fail "4 KiB O_DIRECT reads failed or hung" || return 1
	cmp <(dd if="$img" bs=4k skip=1536 count=1024 status=none) "$work/extents.read" ||
		fail "what the device read differs from the file" || return 1
	# Beside the file itself: a data block as it was first written.
	cmp <(dd if="$work/extents.orig" bs=4k skip=1537 count=1 status=none) \
		<(dd if="$work/extents.read" bs=4k skip=1 count=1 status=none) ||
		fail "a data block read back differs from what was written" || return 1
	unstack "$work/cold.img"
}

low_memory_writes() {
	local cgroot dev i pids=()

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
	wait_all "${pids[@]}" ||
		fail "a writer in memory.max=32M failed or did not finish" ||
		return 1
	echo "memory.events: $(tr '\n' ' ' <"$cg/memory.events")"
	same_data "$dev" 24 4 || return 1
	losetup -d "$dev" && devs=() && mnts=()
	rmdir "$cg" && cg=
}

plan 7
step "loop on ext4 on loop on ext4 on loop, direct I/O" stack_three
step "stacked: parallel writers, data exact" stacked_writes
step "stacked: detached top down, the bottom ext4 clean" unstack
step "sparse backing file: direct writes, data exact" sparse_writes
step "cold extent tree: 4 KiB direct reads, data exact" cold_extent_reads
step "memory.max=32M: writers reclaiming, data exact" low_memory_writes
step "nothing left bound" none_backed_by "$work"
tap_status
