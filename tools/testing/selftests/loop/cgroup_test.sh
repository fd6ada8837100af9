#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A cgroup's io.max holds when it writes through a loop device: the backing
# file's I/O is charged to the cgroup that issued the request, not to the
# root (where a worker thread would otherwise charge it), so a container
# cannot escape its limit by writing through a loop device.
#
# The backing file lives on the test directory's disk; a child cgroup gets
# io.max wbps=RATE on that disk and writes SIZE through a loop device in
# direct-I/O mode.  At RATE, SIZE cannot take less than SIZE / RATE
# seconds, less the throttle's first slice: the write must take at least
# MIN_S.  The same write from the root cgroup comes first: where even that
# takes MIN_S, the machine is too slow to tell, and the step is skipped,
# not passed.  In buffered mode, the backing file's page cache must be
# charged to the cgroup's memory.
#
# Not tested: io.max on the writeback of that page cache.  With the
# kernel's own driver, too, "dd conv=fsync" through a buffered device is
# not held to io.max (measured on 6.12: 4 MiB at wbps=1 MiB/s in 1.0 s).

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

rate=$((1 << 20))		# bytes per second
size_mb=4
min_s=2

work=$(mktemp -d "$(test_dir)/cgroup.XXXXXX") || exit 1
cgroot=
cg=
dev=
disk=

cleanup() {
	[[ -n $dev ]] && losetup -d "$dev" 2>/dev/null
	[[ -n $cg && -d $cg ]] && echo "$disk wbps=max" >"$cg/io.max" 2>/dev/null
	cgroup2_release "$cg"
	settle
	rm -rf "$work"
}

# The whole disk under the test directory, as MAJ:MIN (io.max wants it).
backing_disk() {
	local src parent

	src=$(findmnt -no SOURCE -T "$work") || return 1
	parent=$(lsblk -no PKNAME "$src" 2>/dev/null | head -n 1)
	[[ -n $parent ]] && src=/dev/$parent
	lsblk -dno MAJ:MIN "$src" | tr -d ' '
}

setup_cgroup() {
	cgroup2_find "$work/cgroup" || return 1
	cgroot=$cgroup2_dir
	grep -qw io "$cgroot/cgroup.controllers" ||
		fail "no io controller in $cgroot/cgroup.controllers" || return 1
	echo "+io" >"$cgroot/cgroup.subtree_control" || return 1
	echo "+memory" >"$cgroot/cgroup.subtree_control" 2>/dev/null
	disk=$(backing_disk)
	[[ $disk == *:* ]] || fail "cannot find the disk under $work ('$disk')" || return 1
	cg=$cgroot/loop_test.$$
	mkdir "$cg" || return 1
	echo "$disk wbps=$rate" >"$cg/io.max" || return 1
	grep -q "wbps=$rate" "$cg/io.max" || fail "io.max: $(cat "$cg/io.max")"
}

# timed_write IN_CGROUP MODE DD-ARGS...: bind a fresh backing file in
# MODE (direct I/O on/off), write size_mb MiB to it through the device,
# print the seconds that took.  Fresh files: an inode first dirtied by
# one cgroup stays attached to that cgroup's writeback for a while.
timed_write() {
	local in=$1 mode=$2 f start end

	shift 2
	f=$(mktemp "$work/backing.XXXXXX") || return 1
	truncate -s $((size_mb * 2))M "$f" || return 1
	dev=$(losetup -f --show --direct-io="$mode" "$f") || return 1
	start=$(date +%s.%N)
	(
		[[ $in == 1 ]] && echo "$BASHPID" >"$cg/cgroup.procs"
		exec dd if=/dev/zero of="$dev" bs=64k count=$((size_mb * 16)) \
			status=none "$@"
	) || return 1
	end=$(date +%s.%N)
	losetup -d "$dev"
	dev=
	echo "$start $end" | awk '{ printf "%.2f\n", $2 - $1 }'
}

# held MODE DD-ARGS...: root's write is quick, the cgroup's takes min_s.
held() {
	local mode=$1 t_root t_cg

	shift
	t_root=$(timed_write 0 "$mode" "$@") || return 1
	echo "root cgroup: $size_mb MiB in $t_root s"
	if awk -v t="$t_root" -v m="$min_s" 'BEGIN { exit !(t >= m) }'; then
		skip_step "even unthrottled, $size_mb MiB took $t_root s: too slow to tell"
		return 0
	fi
	t_cg=$(timed_write 1 "$mode" "$@") || return 1
	echo "io.max wbps=$rate: $size_mb MiB in $t_cg s (at least $min_s expected)"
	awk -v t="$t_cg" -v m="$min_s" 'BEGIN { exit !(t >= m) }' ||
		fail "the cgroup wrote $size_mb MiB in $t_cg s: its io.max was not applied"
}

# charged: in buffered mode, what the cgroup writes through the device
# (O_DIRECT on the device: not the device's page cache) lands in the
# backing file's page cache, which must be charged to the cgroup's
# memory, not to the root's.
charged() {
	local before after f mb=16

	[[ -f $cg/memory.current ]] || fail "no memory controller in $cg" || return 1
	f=$(mktemp "$work/backing.XXXXXX") || return 1
	truncate -s $((mb * 2))M "$f" || return 1
	dev=$(losetup -f --show --direct-io=off "$f") || return 1
	echo "$disk wbps=max" >"$cg/io.max" || return 1
	before=$(cat "$cg/memory.current")
	(
		echo "$BASHPID" >"$cg/cgroup.procs"
		exec dd if=/dev/urandom of="$dev" bs=64k count=$((mb * 16)) \
			oflag=direct status=none
	) || return 1
	after=$(cat "$cg/memory.current")
	echo "memory.current: $before before, $after after writing $mb MiB"
	((after - before >= (mb << 20) * 3 / 4)) ||
		fail "the backing file's page cache was not charged to the cgroup"
	losetup -d "$dev"
	dev=
	echo "$disk wbps=$rate" >"$cg/io.max"
}

plan 3
step "cgroup v2 with io.max on the backing disk" setup_cgroup
# The device's own page cache is bypassed (O_DIRECT on the device): what
# is tested is the backing file's I/O, which the driver issues.
step "direct-I/O device: writes are held to io.max" held on oflag=direct
step "buffered device: the backing page cache is the cgroup's memory" charged
tap_status
