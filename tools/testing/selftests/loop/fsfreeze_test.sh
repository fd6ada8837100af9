#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Freezing the backing file's file system (fsfreeze, as snapshot tools do)
# while a direct-I/O loop device writes into holes of its backing file.
#
# Each such write is asynchronous and ends in the file system's completion
# work, which for ext4 starts a transaction to convert the new unwritten
# extents.  A freeze must wait for those writes, as it waits for aio's: if
# it returned with one still in flight, the completion would start a
# transaction on a frozen file system (ext4 warns, and vm-run fails the
# run on the warning).  The writers run in a cgroup whose io.max holds
# their writes to the disk below (loop under ext4) to a trickle, so that
# a freeze always finds some in flight; they punch holes into their
# stretch of the backing file before each pass, so that every pass fills
# holes, while the file system is frozen and thawed over and over.  Every
# freeze must succeed, every writer finish within its bound, and the data
# must be exact at the end.
# Data is random from a printed seed.
#
# Environment: LOOP_TEST_SEED, LOOP_FSFREEZE_SECONDS (default 30).

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

seed=${LOOP_TEST_SEED:-$RANDOM$RANDOM}
seconds=${LOOP_FSFREEZE_SECONDS:-30}
echo "# seed $seed (LOOP_TEST_SEED=$seed repeats this run), ${seconds} s"
work=$(mktemp -d "$(test_dir)/fsfreeze.XXXXXX") || exit 1
lower=
dev=
frozen=
cg=
writers=4
mib=2

cleanup() {
	touch "$work/stop"
	wait
	[[ -n $frozen ]] && fsfreeze -u "$work/mnt"
	[[ -n $dev ]] && losetup -d "$dev"
	mountpoint -q "$work/mnt" && umount "$work/mnt"
	[[ -n $lower ]] && losetup -d "$lower"
	cgroup2_release "$cg"
	settle
	rm -rf "$work"
}

# ext4 on a loop device, a sparse file on it, a direct-I/O device on that.
setup() {
	local i

	truncate -s 256M "$work/lower.img" || return 1
	lower=$(losetup -f --show "$work/lower.img") || return 1
	mkfs.ext4 -q -F "$lower" || return 1
	mkdir "$work/mnt" && mount "$lower" "$work/mnt" || return 1
	truncate -s $((writers * mib))M "$work/mnt/sparse.img" || return 1
	dev=$(losetup -f --show --direct-io=on "$work/mnt/sparse.img") || return 1
	expect_eq "direct I/O of $dev" 1 "$(cat "/sys/block/${dev#/dev/}/loop/dio")" ||
		return 1
	for ((i = 0; i < writers; i++)); do
		pattern "$work/p$i" "$mib" "$i" || return 1
	done
	# 1 MiB/s for the writers' I/O to the disk under ext4.
	cgroup2_find "$work/cgroup" || return 1
	echo "+io" >"$cgroup2_dir/cgroup.subtree_control" || return 1
	cg=$cgroup2_dir/loop_fsfreeze.$$
	mkdir "$cg" || return 1
	echo "$(cat "/sys/block/${lower#/dev/}/dev") wbps=1048576" >"$cg/io.max" ||
		return 1
}

# writer I: punch its stretch, write it O_DIRECT, until told to stop;
# each command bounded, so that a lost request fails instead of hanging.
writer() {
	local i=$1 passes=0

	while [[ ! -e $work/stop ]]; do
		# (blkdiscard opens the device exclusively: one writer at a time)
		timeout 120 fallocate -p -o $((i * mib << 20)) -l $((mib << 20)) \
			"$work/mnt/sparse.img" || return 1
		timeout 120 dd if="$work/p$i" of="$dev" bs=64k seek=$((i * mib * 16)) \
			oflag=direct status=none || return 1
		passes=$((passes + 1))
	done
	echo "# writer $i: $passes passes"
}

freeze_under_writes() {
	local i pids=() rc=0 cycles=0 deadline

	for ((i = 0; i < writers; i++)); do
		(echo "$BASHPID" >"$cg/cgroup.procs" && writer "$i") &
		pids+=($!)
	done
	deadline=$((SECONDS + seconds))
	while ((SECONDS < deadline)); do
		frozen=1
		timeout 120 fsfreeze -f "$work/mnt" ||
			fail "fsfreeze -f failed or took over 120 s" || rc=1
		sleep 0.$((RANDOM % 3 + 1))
		fsfreeze -u "$work/mnt" || fail "fsfreeze -u failed" || rc=1
		frozen=
		((rc == 0)) || break
		cycles=$((cycles + 1))
		sleep 0.$((RANDOM % 3))
	done
	touch "$work/stop"
	wait_all "${pids[@]}" || rc=1
	echo "# $cycles freeze cycles"
	rmdir "$cg" && cg=
	((rc == 0)) || fail "a writer failed or did not finish" || return 1
	((cycles > 0)) || fail "no freeze cycle completed"
}

same_data() {
	same_stretches "$dev" "$mib" "$writers" "$work/p"
}

detach_all() {
	losetup -d "$dev" && dev= || return 1
	umount "$work/mnt" || return 1
	losetup -d "$lower" && lower= || return 1
	e2fsck -fn "$work/lower.img" >/dev/null || fail "e2fsck of the backing ext4 failed"
}

plan 5
step "direct-I/O device on a sparse file on ext4" setup
step "ext4 frozen and thawed under hole-filling direct writes" freeze_under_writes
step "data exact afterwards" same_data
step "detached, the backing ext4 clean" detach_all
step "nothing left bound" none_backed_by "$work"
tap_status
