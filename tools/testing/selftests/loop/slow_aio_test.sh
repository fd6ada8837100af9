#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# An asynchronous direct I/O can complete before the backing file
# system's ->read_iter or ->write_iter has returned, and the file system
# may still use what the request lends it on its way out: NFS goes back
# over the iterator's table (iov_iter_revert() after handing the I/O
# off).  So the request must not end, and its table must not be freed,
# before the call has returned (struct loop_cmd's aio_parties).
#
# The module's slow_aio_return fault attribute (debug kernels:
# CONFIG_FAULT_INJECTION_DEBUG_FS) holds every handed-off call 50 ms
# before it returns, long enough for its completion to arrive first,
# then goes back over the table as NFS does.  Requests of many bios
# (the device's page cache written back) have a table of their own,
# which KASAN reports if the completion freed it; the debug kernel's
# gate fails the run on that.  (With the call and the completion not
# counted as two parties, the first write-back reports it.)  The backing
# file is on the scratch disk, which completes its I/O asynchronously:
# the attribute's count shows how many calls were held.  The data must
# come back exact.
# Data is random from a printed seed.
#
# Environment: LOOP_TEST_SEED.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

seed=${LOOP_TEST_SEED:-$RANDOM$RANDOM}
# More than the run can hold: what is left says how many were held.
times=100000
mib=8

fault_attr_or_skip slow_aio_return "slow aio return"
echo "# seed $seed (LOOP_TEST_SEED=$seed repeats this run)"
work=$(mktemp -d "$(test_dir)/slowaio.XXXXXX") || exit 1
dev=

cleanup() {
	fault_attr_off slow_aio_return
	release_all "" "$work" "$dev"
}

# Calls held since the attribute was turned on.
held() {
	echo $((times - $(cat "$fault_attrs/slow_aio_return/times")))
}

setup() {
	pattern "$work/data" "$mib" 0 || return 1
	fallocate -l "${mib}M" "$work/backing.img" || return 1
	dev=$(losetup -f --show --direct-io=on "$work/backing.img") || return 1
	expect_eq "direct I/O of $dev" 1 "$(cat "/sys/block/${dev#/dev/}/loop/dio")" ||
		return 1
	# The binding's own reads (udev's probes) are not held.
	settle
	fault_attr_on slow_aio_return "$times"
}

# Buffered writes to the device: its page cache is written back in
# requests of many bios each, one 4 KiB buffer each.
write_back() {
	dd if="$work/data" of="$dev" bs=1M conv=fsync status=none ||
		fail "write to $dev" || return 1
	cmp "$work/data" "$work/backing.img" || fail "backing file differs from data written" ||
		return 1
	(($(held) > 0)) || fail "no call held during write-back"
}

read_direct() {
	local before

	before=$(held)
	cmp <(dd if="$dev" bs=1M iflag=direct status=none) "$work/data" ||
		fail "O_DIRECT read of $dev differs from data written" || return 1
	(($(held) > before)) || fail "no call held during the reads"
	echo "# calls held: $before writing, $(($(held) - before)) reading"
}

detach() {
	fault_attr_off slow_aio_return
	losetup -d "$dev" && dev=
}

plan 5
step "direct-I/O device on the scratch disk, calls held" setup
step "written back through held calls, data exact" write_back
step "read back through held calls, data exact" read_direct
step "detached" detach
step "nothing left bound" none_backed_by "$work"
tap_status
