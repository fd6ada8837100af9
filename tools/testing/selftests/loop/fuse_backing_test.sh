#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A backing file whose reads come back short anywhere, as on FUSE or NFS:
# only a read that returns 0 is its end.  fuse_short serves a real file
# through FUSE with direct_io, answering each read with 1..N of the N bytes
# asked for.  A loop device on it must read exactly the real file's
# (non-zero) data, never zeroes, and its writes must land whole: buffered,
# with direct I/O and through the XOR transfer.  Then the writes come back
# short too: buffered, and through the transfer with direct I/O (FUSE
# fails a short asynchronous direct write with EIO by itself).
#
# LOOP_TEST_SEED=N repeats a run: it seeds fuse_short and the data.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

top=$(cd "$dir/../../../.." && pwd)
fuse_short=$dir/fuse_short
loopxfer=$top/tools/loopxfer/loopxfer
seed=${LOOP_TEST_SEED:-$(( (RANDOM << 15) | RANDOM ))}
size=$((8 << 20))

skip_all() {
	echo "1..1"
	echo "ok 1 fuse_backing # SKIP $*"
	exit 0
}

[[ $(id -u) == 0 ]] || skip_all "needs root"
[[ -x $fuse_short ]] ||
	skip_all "fuse_short not built (needs libfuse3-dev; scripts/setup-deps installs it)"
command -v fusermount3 >/dev/null ||
	skip_all "fuse3 not installed (scripts/setup-deps installs it)"
modprobe -q fuse 2>/dev/null
[[ -c /dev/fuse ]] || skip_all "no /dev/fuse"
# The stock driver has no transfers.
xor=1
[[ $LOOP_STOCK == 1 || -z $LOOP_MODULE || ! -x $loopxfer ]] && xor=0

work=$(mktemp -d "$(test_dir)/fuse_backing.XXXXXX") || exit 1
work=$(readlink -f "$work")
real=$work/real.img		# the file fuse_short serves
mnt=$work/mnt
file=$mnt/data			# the same file, through FUSE
expect=$work/expect
key=$work/key
dev=
fuse_pid=
pattern_nr=0

cleanup() {
	[[ -n $dev ]] && losetup -d "$dev"
	settle
	mountpoint -q "$mnt" && { umount "$mnt" || umount -l "$mnt"; }
	[[ -n $fuse_pid ]] && kill "$fuse_pid"
	release_all "$mnt" "$work"
}

# new_pattern FILE BYTES: fresh non-zero data from the seed, each call
# different, so that no step can pass on what an earlier one left.
new_pattern() {
	pattern_nr=$((pattern_nr + 1))
	python3 - "$seed" "$pattern_nr" "$2" >"$1" <<'EOF'
import random, sys
seed, nr, size = (int(a) for a in sys.argv[1:])
data = random.Random(seed * 1000 + nr).randbytes(size)
sys.stdout.buffer.write(data.replace(b"\0", b"\1"))
EOF
}

# mount_short [--short-writes]: fuse_short serves $real at $mnt, in the
# foreground of a background job, so that its pid is known.
mount_short() {
	"$fuse_short" --seed="$seed" "$@" "$real" "$mnt" -f \
		>>"$work/fuse_short.log" 2>&1 &
	fuse_pid=$!
	wait_for 30 mountpoint -q "$mnt" ||
		fail "fuse_short did not mount $mnt: $(cat "$work/fuse_short.log")" ||
		return 1
	expect_eq "size of $file" "$size" "$(stat -c %s "$file")"
}

# Unmounting ends fuse_short.
unmount_short() {
	settle
	umount "$mnt" || return 1
	wait "$fuse_pid"
	fuse_pid=
}

# attach ARGS...: losetup or loopxfer, the device into $dev.
attach() {
	dev=$("$@") || return 1
	[[ -b $dev ]] || fail "attach printed '$dev'" || return 1
	settle
}

detach() {
	settle
	losetup -d "$dev" || return 1
	dev=
}

# expect_dio 0|1: whether $dev does direct I/O.
expect_dio() {
	expect_eq "loop/dio of $dev" "$1" \
		"$(cat "/sys/block/${dev#/dev/}/loop/dio")"
}

make_files() {
	mkdir "$mnt" &&
		new_pattern "$real" "$size" &&
		head -c 16 "$real" >"$key"
}

# The test tests something: a large read of the FUSE file comes back
# short, and has the real file's data.
fuse_reads_are_short() {
	local got

	dd if="$file" of="$work/head" bs=1M count=1 status=none || return 1
	got=$(stat -c %s "$work/head")
	((got > 0 && got < 1 << 20)) ||
		fail "a 1 MiB read of $file returned $got bytes" || return 1
	cmp -n "$got" "$work/head" "$real"
}

# reads_match [MIB]: the device (its first MIB MiB), through its page
# cache (readahead: many bios per request) and with O_DIRECT (1 MiB
# requests), is $expect.
reads_match() {
	local mib=${1:-$((size >> 20))}

	cmp -n $((mib << 20)) "$dev" "$expect" &&
		dd if="$dev" bs=1M count="$mib" iflag=direct status=none |
		cmp -n $((mib << 20)) - "$expect"
}

# The real file filled with a new pattern, then read through $dev.
read_back() {
	new_pattern "$expect" "$size" &&
		dd if="$expect" of="$real" bs=1M conv=notrunc,fsync status=none &&
		attach "$@" &&
		reads_match
}

# A new pattern written through $dev (half buffered, half direct) is in
# the real file.
write_through() {
	new_pattern "$expect" "$size" &&
		dd if="$expect" of="$dev" bs=1M count=4 conv=fsync status=none &&
		dd if="$expect" of="$dev" bs=1M skip=4 seek=4 oflag=direct \
			status=none &&
		detach &&
		cmp "$real" "$expect"
}

buffered_read() {
	read_back losetup -f --show "$file" && expect_dio 0
}

direct_read() {
	read_back losetup -f --show --direct-io=on "$file" && expect_dio 1
}

# XOR: data written through a device on the real file reads back the same
# through one on the FUSE file, and the other way round.  The transfer
# reads a page at a time, each in many short reads: 1 MiB of it will do.
xor_read() {
	new_pattern "$expect" $((1 << 20)) &&
		attach "$loopxfer" attach -e xor -k "$key" "$@" "$real" &&
		dd if="$expect" of="$dev" bs=1M oflag=direct status=none &&
		detach &&
		attach "$loopxfer" attach -e xor -k "$key" "$@" "$file" &&
		reads_match 1
}

xor_write() {
	new_pattern "$expect" $((1 << 20)) &&
		dd if="$expect" of="$dev" bs=1M oflag=direct status=none &&
		detach &&
		attach "$loopxfer" attach -e xor -k "$key" "$@" "$real" &&
		reads_match 1 &&
		detach
}

short_writes_buffered() {
	attach losetup -f --show "$file" && write_through
}

# FUSE itself fails a short asynchronous direct write with EIO, so
# short writes with direct I/O are tested where the driver writes
# synchronously: through the transfer.
short_writes_xor_direct() {
	attach "$loopxfer" attach -e xor -k "$key" --direct-io "$file" &&
		xor_write --direct-io
}

echo "# seed $seed (LOOP_TEST_SEED=$seed repeats this run)"
plan $((11 + 5 * xor))
step make_files make_files
step mount_fuse_short mount_short
step fuse_reads_are_short fuse_reads_are_short
step buffered_reads_full_data buffered_read
step buffered_writes_land_whole write_through
step direct_io_reads_full_data direct_read
step direct_io_writes_land_whole write_through
if ((xor)); then
	step xor_reads_full_data xor_read
	step xor_writes_land_whole xor_write
	step xor_direct_io_reads_full_data xor_read --direct-io
	step xor_direct_io_writes_land_whole xor_write --direct-io
fi
step unmount_fuse_short unmount_short
step mount_fuse_short_writes_too mount_short --short-writes
step short_writes_buffered_land_whole short_writes_buffered
if ((xor)); then
	step short_writes_xor_direct_io_land_whole short_writes_xor_direct
fi
step unmount unmount_short
tap_status
