#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ext4 on a direct-I/O loop device whose backing file is on ext4 too (an
# image on a host's disk), and the device's queue frozen and quiesced
# under it: io.max set on the device for the first time, its scheduler
# changed and changed back.  Both must take effect, and the data on the
# device's ext4 stay exact.
#
# On a kernel with lockdep, this is the stack that reported a circular
# dependency before the driver let the backing file system run outside
# its dispatch SRCU for lockdep (loop_lockdep_leave_dispatch()): reads
# that find the backing file's extents cold take an ext4 i_data_sem under
# that SRCU, block allocation on the upper ext4 submits to the device
# with an i_data_sem held, and the quiesce waits for the SRCU with the
# queue frozen.  The image is made and its inode evicted before the
# bind, so that the device's first reads find its extents cold; vm-run
# fails the run on the report.
# Data is random from a printed seed.
#
# Environment: LOOP_TEST_SEED.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

seed=${LOOP_TEST_SEED:-$RANDOM$RANDOM}
echo "# seed $seed (LOOP_TEST_SEED=$seed repeats this run)"
work=$(mktemp -d "$(test_dir)/requiesce.XXXXXX") || exit 1
dev=
cg=
# The scheduler file and the scheduler to put back, while it is changed.
sched_file=
sched_was=
files=4
mib=4

cleanup() {
	# A step that failed midway leaves no scheduler on the device for
	# the tests after this one.
	[[ -n $sched_file ]] && echo "$sched_was" >"$sched_file"
	cgroup2_release "$cg"
	release_all "$work/mnt" "$work" "$dev"
}

setup() {
	local i

	for ((i = 0; i < files; i++)); do
		pattern "$work/p$i" "$mib" "$i" || return 1
	done
	mkfs.ext4 -q -F "$work/fs.img" 128M || return 1
	# Written back and its inode evicted: the bind finds it cold.
	drop_caches
	dev=$(losetup -f --show --direct-io=on "$work/fs.img") || return 1
	expect_eq "direct I/O of $dev" 1 "$(cat "/sys/block/${dev#/dev/}/loop/dio")" ||
		return 1
	mkdir "$work/mnt" && mount "$dev" "$work/mnt"
}

# Files written (allocating blocks, reading bitmaps through the device),
# then read back cold.
same_files() {
	local i

	drop_caches
	for ((i = 0; i < files; i++)); do
		cmp "$work/p$i" "$work/mnt/f$i" ||
			fail "file $i on $dev differs from what was written" || return 1
	done
}

write_files() {
	local i

	for ((i = 0; i < files; i++)); do
		dd if="$work/p$i" of="$work/mnt/f$i" bs=1M conv=fsync status=none ||
			return 1
	done
	same_files
}

set_io_max() {
	local majmin

	majmin=$(cat "/sys/block/${dev#/dev/}/dev") || return 1
	cgroup2_find "$work/cgroup" || return 1
	echo "+io" >"$cgroup2_dir/cgroup.subtree_control" || return 1
	cg=$cgroup2_dir/loop_requiesce.$$
	mkdir "$cg" || return 1
	echo "$majmin wbps=1048576" >"$cg/io.max" || return 1
	grep -q "^$majmin .*wbps=1048576" "$cg/io.max" ||
		fail "io.max of $dev: $(cat "$cg/io.max")"
}

# SCHED_FILE's [current] scheduler.
current_sched() {
	sed -n 's/.*\[\(.*\)\].*/\1/p' "$1"
}

switch_scheduler() {
	local f=/sys/block/${dev#/dev/}/queue/scheduler

	sched_was=$(current_sched "$f")
	if ! grep -qw mq-deadline "$f"; then
		skip_step "no mq-deadline in $(cat "$f")"
		return
	fi
	sched_file=$f
	echo mq-deadline >"$f" || return 1
	expect_eq "scheduler of $dev" mq-deadline "$(current_sched "$f")" || return 1
	write_files || return 1
	echo "$sched_was" >"$f" || return 1
	sched_file=
	expect_eq "scheduler of $dev" "$sched_was" "$(current_sched "$f")"
}

detach() {
	umount "$work/mnt" || return 1
	losetup -d "$dev" && dev= || return 1
	e2fsck -fn "$work/fs.img" >/dev/null || fail "e2fsck of the device's ext4 failed"
}

plan 7
step "ext4 on a direct-I/O device, its image cold on ext4" setup
step "files written and read back exact" write_files
step "io.max set on the device for the first time" set_io_max
step "scheduler changed and changed back, files rewritten" switch_scheduler
step "data exact afterwards" same_files
step "detached, the device's ext4 clean" detach
step "nothing left bound" none_backed_by "$work"
tap_status
