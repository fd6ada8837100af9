#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A request can end while the context that dispatched it is still in
# loop_queue_rq(): if that was the device's last use, its last opener can
# close it and have it unbound meanwhile, and the dispatch must not then
# touch the binding's workers or backing file.  The writeback flusher
# dispatches without holding the device open: here it writes back 4 MiB
# written through a descriptor, on a device in direct-I/O mode (its
# writes done in the flusher's own context with IOCB_NOWAIT, completing
# by themselves) that is to detach on its last close, and the descriptor
# is closed at a different moment of the write-back in each round.  The
# module's slow_dispatch fault attribute (debug kernels:
# CONFIG_FAULT_INJECTION_DEBUG_FS) holds each dispatch for 250 ms after
# it hands its request off, which widens the window to where the rounds
# meet it; KASAN and the oops checks of the debug kernel's gate report a
# dispatch that touches what the unbind freed.  (Before dispatches held
# their queue, the flusher's queue_work_on() in loop_kick_workers() hit
# the destroyed workqueue in the first run of these rounds.)  The data
# must reach the backing file whole, and the device must come unbound.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

rounds=${LOOP_TEST_ROUNDS:-10}
seed=${LOOP_TEST_SEED:-$RANDOM$RANDOM}
vm=/proc/sys/vm
saved_expire=$(cat $vm/dirty_expire_centisecs)
saved_writeback=$(cat $vm/dirty_writeback_centisecs)

fault_attr_or_skip slow_dispatch "slow dispatch"
echo "# seed $seed (LOOP_TEST_SEED=$seed repeats this run)"
work=$(mktemp -d "$(test_dir)/slowdisp.XXXXXX") || exit 1
img=$work/img
data=$work/data
dev=

cleanup() {
	fault_attr_off slow_dispatch
	echo "$saved_expire" >$vm/dirty_expire_centisecs
	echo "$saved_writeback" >$vm/dirty_writeback_centisecs
	exec 3>&-
	[[ -n $dev ]] && losetup -d "$dev" 2>/dev/null
	settle
	rm -rf "$work"
}

unbound() {
	[[ ! -e /sys/block/${dev#/dev/}/loop ]]
}

# One round: 4 MiB dirty in the device's page cache through a
# descriptor, with the detach asked for; the flusher writes it back, each
# request held, and the last descriptor is closed after DELAY seconds,
# when the flusher is somewhere in that (rounds sweep the delay): the
# close waits for the requests under writeback, then unbinds, maybe
# during the hold of the flusher's last one.
round() {
	local n=$1 delay=$2 bytes=$((4 << 20))

	pattern "$data" 4 "$n" &&
		rm -f "$img" && fallocate -l 8M "$img" &&
		dev=$(losetup -f --show --direct-io=on "$img") ||
		return 1
	expect_eq "loop/dio of $dev" 1 "$(cat "/sys/block/${dev#/dev/}/loop/dio")" ||
		return 1
	exec 3<>"$dev"
	fault_attr_on slow_dispatch -1
	dd if="$data" bs=1M status=none >&3 || fail "write to $dev" || return 1
	losetup -d "$dev" || fail "losetup -d $dev" || return 1
	# udev's probes done: ours is the last close, not theirs
	settle
	sleep "$delay"
	exec 3>&-
	wait_for 30 unbound || fail "$dev still bound 30 s after its last close" ||
		return 1
	fault_attr_off slow_dispatch
	dev=
	cmp -n $bytes "$data" "$img" || fail "backing file differs from data written"
}

flusher_rounds() {
	local i

	for ((i = 0; i < rounds; i++)); do
		round "$i" "0.$((i % 10))" || return 1
	done
}

setup() {
	echo 1 >$vm/dirty_expire_centisecs &&
		echo 5 >$vm/dirty_writeback_centisecs
}

plan 2
step "a fast flusher" setup
step "flusher's dispatch outlives the unbind, data whole" flusher_rounds
tap_status
