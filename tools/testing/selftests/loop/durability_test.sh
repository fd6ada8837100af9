#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What a flush and a FUA write make durable, with every hardware queue of
# the device carrying writes.  Durable is what a power cut would leave:
# the backing files live on ext4 on a brd RAM disk, which has no volatile
# cache, so what reached brd is on stable storage and nothing else is.  A
# snapshot is brd read with O_DIRECT, its journal replayed by e2fsck and
# the backing file taken out of it by debugfs: the loop device as a crash
# at that moment would leave it.  Periodic writeback and the journal
# commit timers of both file systems are held off, so that only the loop
# driver's own syncs move data to brd.
#
# In buffered and in direct-I/O mode:
#  - writes completed on every hardware queue (one O_DIRECT writer pinned
#    to each CPU) are not in a snapshot yet, which shows the snapshot can
#    tell; after one fsync of the device from another process (a FLUSH)
#    they all are, byte for byte;
#  - ext4 on the device: a file written but not fsynced is not in a
#    snapshot; once fsync returns it is, data exact.  ext4's fsync ends
#    with its journal's commit block written PREFLUSH|FUA and nothing
#    after it, so the file survives only if the FUA write was durable
#    when it completed.
# Backing files are sparse: what the backing file system allocates on
# the way must be durable too.
#
# Environment: LOOP_TEST_SEED; LOOP_DURABILITY_MODES, the direct-I/O
# modes to run ("off on", the default; make check's debug kernel runs
# "on" alone, for time).

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

seed=${LOOP_TEST_SEED:-$RANDOM$RANDOM}
echo "# seed $seed (LOOP_TEST_SEED=$seed repeats this run)"
work=$(mktemp -d "$(test_dir)/durability.XXXXXX") || exit 1
fs=$work/backing	# the backing ext4, on /dev/ram0
inner=$work/inner	# ext4 on the loop device
stretch_mib=4
read -r -a modes <<<"${LOOP_DURABILITY_MODES:-off on}"
ncpu=$(nproc)	# one writer, and one stretch of the device, per CPU
dev=
brd_loaded=
vm=/proc/sys/vm
saved_writeback=$(cat $vm/dirty_writeback_centisecs)

cleanup() {
	mountpoint -q "$inner" && umount "$inner"
	[[ -n $dev ]] && losetup -d "$dev" 2>/dev/null
	settle
	mountpoint -q "$fs" && umount "$fs"
	[[ -n $brd_loaded ]] && rmmod brd
	echo "$saved_writeback" >$vm/dirty_writeback_centisecs
	rm -rf "$work"
}

setup() {
	if [[ -e /sys/module/brd ]]; then
		fail "brd is already loaded: not taking it over"
		return 1
	fi
	modprobe brd rd_nr=1 rd_size=$((192 << 10)) || fail "no brd" || return 1
	brd_loaded=1
	mkdir "$fs" "$inner" || return 1
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/ram0 &&
		mount -o commit=600 /dev/ram0 "$fs" || return 1
	sync || return 1
	# only fsync, not the flusher, writes dirty pages back from now on
	echo 0 >$vm/dirty_writeback_centisecs
}

# snapshot FILE OUT: FILE of the backing ext4 as a crash now would leave
# it, copied to OUT; no OUT if it would not be there.
snapshot() {
	local img=$work/brd.snap

	rm -f "$2"
	dd if=/dev/ram0 of="$img" bs=1M iflag=direct status=none || return 1
	replay "$img" || return 1
	debugfs -R "dump /$1 $2" "$img" 2>/dev/null
	rm -f "$img"
}

# replay IMAGE: IMAGE's journal replayed and the file system checked, as
# at the mount after a crash.
replay() {
	local rc

	e2fsck -fy "$1" >"$work/e2fsck.log" 2>&1
	rc=$?
	# 0 clean, 1 corrected (the replay itself counts): else it is broken
	((rc <= 1)) && return 0
	cat "$work/e2fsck.log"
	fail "e2fsck $1: exit status $rc"
}

bind() {	# bind FILE MIB DIO
	# the file itself durable, its blocks not yet allocated
	truncate -s "$2M" "$1" && sync "$1" || return 1
	dev=$(losetup -f --show --direct-io="$3" "$1") || return 1
	expect_eq "dio of $dev" "$([[ $3 == on ]] && echo 1 || echo 0)" \
		"$(cat "/sys/block/${dev#/dev/}/loop/dio")"
}

unbind() {
	settle
	losetup -d "$dev" || return 1
	dev=
}

# queues_of_cpus N: the hardware queues of $dev that CPUs 0 to N-1
# submit to (blk-mq's map, /sys/block/X/mq/Q/cpu_list), one line each.
queues_of_cpus() {
	local q cpu

	for ((cpu = 0; cpu < $1; cpu++)); do
		for q in /sys/block/"${dev#/dev/}"/mq/*; do
			[[ ", $(cat "$q/cpu_list"), " == *", $cpu, "* ]] &&
				echo "${q##*/}"
		done
	done
}

# snapshot_stretch CPU: CPU's writer's stretch of $work/raw.snap.
snapshot_stretch() {
	dd if="$work/raw.snap" bs=64k skip=$(($1 * stretch_mib * 16)) \
		count=$((stretch_mib * 16)) status=none
}

# Writes completed on every queue are not durable before a flush.
queue_writes() {
	local mode=$1 cpu pids=() nq

	bind "$fs/raw-$mode.img" $((stretch_mib * ncpu)) "$mode" || return 1
	nq=$(find /sys/block/"${dev#/dev/}"/mq -mindepth 1 -maxdepth 1 | wc -l)
	# the kernel's driver (the reference peer, --stock) has one queue
	((ncpu < 2 || nq >= 2 || LOOP_STOCK == 1)) ||
		fail "$dev has one hardware queue for $ncpu CPUs" || return 1
	echo "# $nq hardware queues, $ncpu CPUs"
	# a writer pinned to each CPU: together they use every queue
	expect_eq "queues the CPUs submit to" "$nq" \
		"$(queues_of_cpus "$ncpu" | sort -u | wc -l)" || return 1
	for ((cpu = 0; cpu < ncpu; cpu++)); do
		pattern "$work/p$cpu" "$stretch_mib" "$mode-$cpu" || return 1
		taskset -c "$cpu" dd if="$work/p$cpu" of="$dev" bs=64k \
			seek=$((cpu * stretch_mib * 16)) oflag=direct status=none &
		pids+=($!)
	done
	wait_all "${pids[@]}" || fail "a pinned writer failed" || return 1
	snapshot "raw-$mode.img" "$work/raw.snap" || return 1
	[[ -e $work/raw.snap ]] || fail "raw-$mode.img is not in the snapshot" ||
		return 1
	for ((cpu = 0; cpu < ncpu; cpu++)); do
		if cmp -s <(snapshot_stretch "$cpu") "$work/p$cpu"; then
			fail "CPU $cpu's writes durable before any flush: the test cannot tell"
			return 1
		fi
	done
}

# One fsync of the device, from a process of its own, makes them durable.
flush_makes_durable() {
	local mode=$1 cpu

	sync "$dev" || return 1
	snapshot "raw-$mode.img" "$work/raw.snap" || return 1
	[[ -e $work/raw.snap ]] || fail "raw-$mode.img is not in the snapshot" ||
		return 1
	for ((cpu = 0; cpu < ncpu; cpu++)); do
		cmp <(snapshot_stretch "$cpu") "$work/p$cpu" ||
			fail "CPU $cpu's writes not durable after the flush" || return 1
	done
	unbind
}

# inner_snapshot MODE: the file f of the device's ext4 after a crash now,
# into $work/f.snap (none if it would be lost).
inner_snapshot() {
	snapshot "fs-$1.img" "$work/dev.snap" || return 1
	[[ -e $work/dev.snap ]] || fail "fs-$1.img is not in the snapshot" ||
		return 1
	rm -f "$work/f.snap"
	replay "$work/dev.snap" || return 1
	debugfs -R "dump /f $work/f.snap" "$work/dev.snap" 2>/dev/null
	rm -f "$work/dev.snap"
}

fs_writes() {
	local mode=$1

	bind "$fs/fs-$mode.img" 48 "$mode" || return 1
	# The journal left unwritten, holes in the backing file: its commit
	# block then needs blocks allocated below, which in direct-I/O mode
	# only the FUA write's own sync makes durable (the data's are
	# durable once written, brd having no cache).
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=1 "$dev" &&
		mount -o commit=600 "$dev" "$inner" || return 1
	pattern "$work/f" 2 "$mode-f" || return 1
	cp "$work/f" "$inner/f" || return 1
	inner_snapshot "$mode" || return 1
	if [[ -e $work/f.snap ]] && cmp -s "$work/f.snap" "$work/f"; then
		fail "the file is durable before fsync: the test cannot tell"
	fi
}

fsync_makes_durable() {
	local mode=$1

	sync "$inner/f" || return 1
	inner_snapshot "$mode" || return 1
	[[ -e $work/f.snap ]] || fail "the fsynced file is lost in a crash" ||
		return 1
	cmp "$work/f.snap" "$work/f" || fail "the fsynced file's data differs"
	umount "$inner" && unbind
}

for mode in "${modes[@]}"; do
	[[ $mode == on || $mode == off ]] || {
		echo "durability_test: LOOP_DURABILITY_MODES: '$mode' is not on or off" >&2
		exit 1
	}
done
plan $((1 + 4 * ${#modes[@]}))
step "brd, ext4 on it, writeback held off" setup
for mode in "${modes[@]}"; do
	step "dio=$mode: writes done on every queue, not yet durable" \
		queue_writes "$mode"
	step "dio=$mode: one flush makes them all durable" \
		flush_makes_durable "$mode"
	step "dio=$mode: ext4 on the device, a file not fsynced is not durable" \
		fs_writes "$mode"
	step "dio=$mode: its fsync (a FUA commit) makes it durable" \
		fsync_makes_durable "$mode"
done
tap_status
