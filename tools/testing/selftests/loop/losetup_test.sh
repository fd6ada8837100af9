#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# util-linux losetup (2.38) end to end: every option we rely on, each result
# checked by value in sysfs, in losetup's own listing and by reading the data
# back.  Also mount -o loop,offset=, a GPT partition scan, vfat on a loop
# device, and discard / write-zeroes punching through to the backing file.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

work=$(mktemp -d "$(test_dir)/losetup_test.XXXXXX") || exit 1
work=$(readlink -f "$work")
img=$work/data.img
mnt=$work/mnt
devs=()
MiB=1048576

cleanup() {
	release_all "$mnt" "$work" "${devs[@]}"
}

# attr DEV ATTR: /sys/block/loopN/ATTR
attr() {
	cat "/sys/block/${1#/dev/}/$2"
}

max_part() {
	local m

	m=$(cat /sys/module/loop/parameters/max_part 2>/dev/null)
	echo "${m:-0}"
}

default_partscan() {
	(($(max_part) > 0)) && echo 1 || echo 0
}

# check DEV ATTR VALUE...: sysfs attributes by value
check() {
	local d=$1

	shift
	while (($#)); do
		expect_eq "$d $1" "$2" "$(attr "$d" "$1")" || return 1
		shift 2
	done
}

# attr_is DEV ATTR VALUE: does the attribute read VALUE now?
attr_is() {
	[[ $(attr "$1" "$2") == "$3" ]]
}

# columns DEV COLS: "losetup -l -n -O COLS DEV", blanks squeezed
columns() {
	losetup -l -n -O "$2" "$1" | awk '{ $1 = $1; print }'
}

# attach ARGS...: losetup -f --show ARGS, remembered for cleanup in $dev
attach() {
	dev=$(losetup -f --show "$@") || return 1
	devs+=("$dev")
	[[ -b $dev ]] || fail "$dev is not a block device"
	settle
}

bound() {
	[[ -e /sys/block/${1#/dev/}/loop ]]
}

unbound() {
	! bound "$1"
}

# detach DEV: losetup -d, then wait until the kernel really let go (udev's
# blkid may hold the device for a moment, deferring the detach)
detach() {
	local d=$1 i

	settle
	losetup -d "$d" || return 1
	wait_for 20 unbound "$d" || fail "$d still bound after losetup -d"
	for i in "${!devs[@]}"; do
		[[ ${devs[i]} == "$d" ]] && unset "devs[i]"
	done
	settle
	return 0
}

setup() {
	mkdir -p "$mnt" || return 1
	head -c $((64 * MiB)) /dev/urandom >"$img" || return 1
	expect_eq "image size" $((64 * MiB)) "$(stat -c %s "$img")"
}

find_show() {
	attach "$img" || return 1
	check "$dev" size $((64 * 2048)) ro 0 loop/offset 0 \
		loop/sizelimit 0 loop/autoclear 0 \
		loop/partscan "$(default_partscan)" \
		queue/logical_block_size 512 || return 1
	expect_eq "backing_file" "$img" "$(attr "$dev" loop/backing_file)" ||
		return 1
	expect_eq "getsize64" $((64 * MiB)) "$(blockdev --getsize64 "$dev")" ||
		return 1
	expect_eq "columns" "$dev 0 0 0 0 0 512" \
		"$(columns "$dev" NAME,SIZELIMIT,OFFSET,AUTOCLEAR,RO,DIO,LOG-SEC)" ||
		return 1
	cmp "$dev" "$img" || return 1
	detach "$dev"
}

read_only() {
	attach -r "$img" || return 1
	check "$dev" ro 1 || return 1
	expect_eq "RO column" 1 "$(columns "$dev" RO)" || return 1
	expect_eq "getro" 1 "$(blockdev --getro "$dev")" || return 1
	dd if=/dev/zero of="$dev" bs=4096 count=1 oflag=direct \
		conv=notrunc status=none 2>/dev/null &&
		fail "write to read-only $dev succeeded"
	cmp "$dev" "$img" || return 1
	detach "$dev"
}

offset_sizelimit() {
	attach -o $MiB --sizelimit $((8 * MiB)) "$img" || return 1
	check "$dev" size $((8 * 2048)) loop/offset $MiB \
		loop/sizelimit $((8 * MiB)) || return 1
	expect_eq "getsize64" $((8 * MiB)) "$(blockdev --getsize64 "$dev")" ||
		return 1
	expect_eq "columns" "$dev $((8 * MiB)) $MiB 0 0 0 512" \
		"$(columns "$dev" NAME,SIZELIMIT,OFFSET,AUTOCLEAR,RO,DIO,LOG-SEC)" ||
		return 1
	cmp "$dev" <(dd if="$img" bs=$MiB skip=1 count=8 status=none) ||
		return 1
	detach "$dev"
}

block_size() {
	attach -b 4096 "$img" || return 1
	check "$dev" queue/logical_block_size 4096 size $((64 * 2048)) ||
		return 1
	expect_eq "LOG-SEC" 4096 "$(columns "$dev" LOG-SEC)" || return 1
	expect_eq "getss" 4096 "$(blockdev --getss "$dev")" || return 1
	cmp "$dev" "$img" || return 1
	detach "$dev"
}

direct_io() {
	attach --direct-io=on "$img" || return 1
	check "$dev" loop/dio 1 || return 1
	expect_eq "DIO column" 1 "$(columns "$dev" DIO)" || return 1
	cmp "$dev" "$img" || return 1
	losetup --direct-io=off "$dev" || return 1
	check "$dev" loop/dio 0 || return 1
	expect_eq "DIO column" 0 "$(columns "$dev" DIO)" || return 1
	losetup --direct-io=on "$dev" || return 1
	check "$dev" loop/dio 1 || return 1
	detach "$dev"
}

capacity() {
	local f=$work/grow.img

	truncate -s $((4 * MiB)) "$f" || return 1
	attach "$f" || return 1
	check "$dev" size $((4 * 2048)) || return 1
	truncate -s $((12 * MiB)) "$f" || return 1
	check "$dev" size $((4 * 2048)) || return 1
	losetup -c "$dev" || return 1
	check "$dev" size $((12 * 2048)) || return 1
	expect_eq "getsize64" $((12 * MiB)) "$(blockdev --getsize64 "$dev")" ||
		return 1
	detach "$dev"
}

# -j, -a, -l and -J with two devices on the same file
listing() {
	local d1 d2 out

	attach "$img" || return 1
	d1=$dev
	attach -o $MiB "$img" || return 1
	d2=$dev
	out=$(losetup -j "$img")
	echo "$out"
	expect_eq "losetup -j lines" 2 "$(grep -c . <<<"$out")" || return 1
	grep -q "^$d1: .*($img)\$" <<<"$out" || fail "-j: no $d1" || return 1
	grep -q "^$d2: .*($img), offset $MiB\$" <<<"$out" ||
		fail "-j: no $d2 with its offset" || return 1
	out=$(losetup -j "$img" -o $MiB)
	expect_eq "-j -o" "$d2" "${out%%:*}" || return 1

	out=$(losetup -a)
	grep -q "^$d1: .*($img)\$" <<<"$out" || fail "-a: no $d1" || return 1
	grep -q "^$d2: .*($img), offset $MiB\$" <<<"$out" ||
		fail "-a: no $d2" || return 1

	out=$(losetup -l -n -O NAME,OFFSET,BACK-FILE | awk '{ $1 = $1; print }')
	grep -qx "$d1 0 $img" <<<"$out" || fail "-l: no $d1" || return 1
	grep -qx "$d2 $MiB $img" <<<"$out" || fail "-l: no $d2" || return 1

	losetup -J >"$work/list.json" || return 1
	python3 - "$work/list.json" "$img" "$d1" "$d2" <<-'EOF' || return 1
	import json, sys
	path, img, d1, d2 = sys.argv[1:5]
	devs = {d["name"]: d for d in json.load(open(path))["loopdevices"]}

	def norm(v):
	    if isinstance(v, bool):
	        return str(int(v))
	    if v is None:
	        return ""
	    return str(v)

	want = {d1: {"offset": "0"}, d2: {"offset": str(1 << 20)}}
	for name, extra in want.items():
	    d = devs.get(name)
	    if d is None:
	        sys.exit(f"{name} missing from losetup -J: {list(devs)}")
	    exp = {"back-file": img, "sizelimit": "0", "autoclear": "0",
	           "ro": "0", "dio": "0", "log-sec": "512", **extra}
	    for k, v in exp.items():
	        if norm(d.get(k)) != v:
	            sys.exit(f"{name} {k}: expected {v!r}, got {d.get(k)!r}")
	EOF
	detach "$d1" && detach "$d2" || return 1
	expect_eq "losetup -j after detach" "" "$(losetup -j "$img")"
}

partitions() {
	local p=$work/gpt.img n i want_start want_size

	truncate -s $((64 * MiB)) "$p" || return 1
	sfdisk -q "$p" <<-EOF || return 1
	label: gpt
	size=8MiB
	size=16MiB
	size=8MiB
	EOF
	attach -P "$p" || return 1
	n=${dev#/dev/}
	settle
	check "$dev" loop/partscan 1 || return 1
	want_start=(2048 18432 51200)
	want_size=(16384 32768 16384)
	for i in 1 2 3; do
		wait_for 10 test -b "/dev/${n}p$i" ||
			fail "/dev/${n}p$i missing" || return 1
		check "$dev" "${n}p$i/start" "${want_start[i - 1]}" \
			"${n}p$i/size" "${want_size[i - 1]}" || return 1
		expect_eq "p$i getsize64" $((want_size[i - 1] * 512)) \
			"$(blockdev --getsize64 "/dev/${n}p$i")" || return 1
	done
	[[ ! -e /sys/block/$n/${n}p4 ]] || fail "unexpected ${n}p4" || return 1
	detach "$dev" || return 1
	for i in 1 2 3; do
		wait_for 10 test ! -e "/sys/block/$n/${n}p$i" ||
			fail "${n}p$i still in sysfs after detach" || return 1
		wait_for 10 test ! -e "/dev/${n}p$i" ||
			fail "/dev/${n}p$i still there after detach" || return 1
	done

	# the same device again, without -P: no partitions come back
	losetup "$dev" "$p" || return 1
	devs+=("$dev")
	settle
	if (($(max_part) == 0)); then
		check "$dev" loop/partscan 0 || return 1
		for i in 1 2 3; do
			[[ ! -e /sys/block/$n/${n}p$i ]] ||
				fail "${n}p$i back without -P" || return 1
			[[ ! -e /dev/${n}p$i ]] ||
				fail "/dev/${n}p$i back without -P" || return 1
		done
	fi
	detach "$dev"
}

# Several devices, then losetup -D.  -D detaches every loop device, so only
# where ours are the only ones.
detach_all() {
	local d1 d2 d3

	if [[ -n $(losetup -a) ]]; then
		echo "other loop devices are bound: not running losetup -D"
		losetup -a
		return 0
	fi
	attach "$img" || return 1
	d1=$dev
	attach -o $MiB "$img" || return 1
	d2=$dev
	attach -r "$work/gpt.img" || return 1
	d3=$dev
	settle
	losetup -D || return 1
	wait_for 20 unbound "$d1" && wait_for 20 unbound "$d2" &&
		wait_for 20 unbound "$d3" || fail "bound after -D" || return 1
	devs=()
	settle
	expect_eq "losetup -a after -D" "" "$(losetup -a)"
}

nooverlap() {
	local d1 d2

	attach -L "$img" || return 1
	d1=$dev
	d2=$(losetup -f --show -L "$img") || fail "-L reuse failed" || return 1
	expect_eq "-L reuses the device" "$d1" "$d2" || return 1
	expect_eq "-j lines" 1 "$(losetup -j "$img" | grep -c .)" || return 1
	if d2=$(losetup -f --show -L -o $MiB "$img" 2>&1); then
		devs+=("$d2")
		fail "-L with an overlapping offset attached $d2"
		return 1
	fi
	echo "overlap refused: $d2"
	expect_eq "-j lines" 1 "$(losetup -j "$img" | grep -c .)" || return 1
	detach "$d1"
}

mount_offset() {
	local f=$work/ext4.img src uuid

	truncate -s $((40 * MiB)) "$f" || return 1
	attach -o $MiB "$f" || return 1
	mkfs.ext4 -q -F "$dev" || return 1
	uuid=$(blkid -p -s UUID -o value "$dev") || return 1
	[[ -n $uuid ]] || fail "no UUID" || return 1
	settle
	if ! wait_for 10 test -e "/dev/disk/by-uuid/$uuid"; then
		fail "/dev/disk/by-uuid/$uuid did not appear"
		return 1
	fi
	expect_eq "by-uuid link" "$dev" \
		"$(readlink -f "/dev/disk/by-uuid/$uuid")" || return 1
	mount "$dev" "$mnt" || return 1
	head -c 3000001 /dev/urandom >"$work/payload" &&
		cp "$work/payload" "$mnt/payload" || return 1
	umount "$mnt" || return 1
	detach "$dev" || return 1
	wait_for 10 test ! -e "/dev/disk/by-uuid/$uuid" ||
		fail "by-uuid link stays after detach" || return 1

	mount -o loop,offset=$MiB "$f" "$mnt" || return 1
	src=$(findmnt -n -o SOURCE "$mnt")
	echo "mounted from $src"
	[[ $src == /dev/loop* ]] || fail "source $src" || return 1
	check "$src" loop/offset $MiB loop/autoclear 1 || return 1
	expect_eq "-j" "$src" "$(losetup -j "$f" | cut -d: -f1)" || return 1
	cmp "$work/payload" "$mnt/payload" || return 1
	umount "$mnt" || return 1
	settle
	wait_for 20 unbound "$src" || fail "$src bound after umount" ||
		return 1
	expect_eq "losetup -j after umount" "" "$(losetup -j "$f")"
}

vfat() {
	local f=$work/vfat.img

	truncate -s $((64 * MiB)) "$f" || return 1
	attach "$f" || return 1
	mkfs.vfat "$dev" >/dev/null || return 1
	mount "$dev" "$mnt" || return 1
	cp "$work/payload" "$mnt/PAYLOAD.BIN" || return 1
	umount "$mnt" || return 1
	mount "$dev" "$mnt" || return 1
	cmp "$work/payload" "$mnt/PAYLOAD.BIN" || return 1
	umount "$mnt" || return 1
	detach "$dev"
}

# 0 if DEV reads as zeroes over [OFF, OFF+LEN) (MiB units)
zeroes() {
	cmp -n $(($3 * MiB)) \
		<(dd if="$1" bs=$MiB skip="$2" count="$3" iflag=direct status=none) \
		/dev/zero
}

discard() {
	local f=$work/discard.img b0 b1 du0 du1 head0 tail0

	head -c $((64 * MiB)) /dev/urandom >"$f" && sync "$f" || return 1
	head0=$(head -c $((8 * MiB)) "$f" | sha256sum)
	tail0=$(tail -c $((24 * MiB)) "$f" | sha256sum)
	b0=$(stat -c %b "$f")
	du0=$(du -k "$f" | cut -f1)
	attach "$f" || return 1
	blkdiscard -o $((8 * MiB)) -l $((16 * MiB)) "$dev" || return 1
	sync "$f"
	b1=$(stat -c %b "$f")
	du1=$(du -k "$f" | cut -f1)
	echo "blocks $b0 -> $b1, du $du0 -> $du1 KiB"
	((b0 - b1 >= 16 * 2048)) ||
		fail "discarding 16 MiB freed only $((b0 - b1)) sectors" ||
		return 1
	((du0 - du1 >= 16 * 1024)) || fail "du: $du0 -> $du1 KiB" || return 1
	expect_eq "file size" $((64 * MiB)) "$(stat -c %s "$f")" || return 1
	zeroes "$dev" 8 16 || fail "discarded range not zero" || return 1
	zeroes "$f" 8 16 || fail "file range not zero" || return 1
	expect_eq "data before" "$head0" \
		"$(head -c $((8 * MiB)) "$dev" | sha256sum)" || return 1
	expect_eq "data after" "$tail0" \
		"$(dd if="$dev" bs=$MiB skip=40 status=none | sha256sum)" ||
		return 1

	# write zeroes
	! zeroes "$dev" 40 8 || fail "random data reads as zeroes" || return 1
	blkdiscard -z -o $((40 * MiB)) -l $((8 * MiB)) "$dev" || return 1
	zeroes "$dev" 40 8 || fail "write-zeroes range not zero" || return 1
	zeroes "$f" 40 8 || fail "file range not zero" || return 1
	expect_eq "file size" $((64 * MiB)) "$(stat -c %s "$f")" || return 1
	expect_eq "data before" "$head0" \
		"$(head -c $((8 * MiB)) "$dev" | sha256sum)" || return 1
	detach "$dev"
}

# Four loop devices stacked, each one 64 KiB into the one below: what is
# written to the top lands 256 KiB into the file, and reads back through
# every level at its own offset.
nested() {
	local f=$work/nested.img want=$work/nested.want d=() i off

	head -c $((8 * MiB)) /dev/urandom >"$f" && cp "$f" "$want" || return 1
	attach -o 65536 "$f" || return 1
	d[1]=$dev
	for i in 2 3 4; do
		attach -o 65536 "${d[i - 1]}" || return 1
		d[i]=$dev
	done
	expect_eq "top size" $((8 * MiB - 4 * 65536)) \
		"$(blockdev --getsize64 "${d[4]}")" || return 1
	head -c $MiB /dev/urandom >"$work/nested.new" || return 1
	dd if="$work/nested.new" of="${d[4]}" bs=64k seek=2 oflag=direct \
		conv=fsync status=none || return 1
	dd if="$work/nested.new" of="$want" bs=64k seek=$((2 + 4)) \
		conv=notrunc status=none || return 1
	for i in 4 3 2 1; do
		off=$((i * 65536))
		cmp -n $((8 * MiB - off)) "${d[i]}" <(tail -c +$((off + 1)) "$want") ||
			fail "level $i reads wrong data" || return 1
	done
	cmp "$f" "$want" || fail "backing file: wrong data" || return 1
	for i in 4 3 2 1; do
		detach "${d[i]}" || return 1
	done
}

# kernel log lines of ours about DEV's backing file system since $1
fallback_lines() {
	dmesg | tail -n +"$1" | grep -c "${2#/dev/}: backing file system cannot $3"
}

# vfat has fallocate() but can neither punch holes nor zero ranges: the
# first discard fails (and loses nothing), the device stops offering
# discard and write-zeroes, and says so once.  BLKZEROOUT still works:
# the block layer writes zero pages once the device offers no offload.
discard_fallback() {
	local f=$work/fat.img inner=$mnt/BACKING.BIN want=$work/fat-want
	local outer sum0 log0 n

	truncate -s $((64 * MiB)) "$f" || return 1
	attach "$f" || return 1
	outer=$dev
	mkfs.vfat "$outer" >/dev/null && mount "$outer" "$mnt" || return 1
	head -c $((16 * MiB)) /dev/urandom >"$want" || return 1
	cp "$want" "$inner" || return 1
	sum0=$(sha256sum <"$inner")
	log0=$(($(dmesg | wc -l) + 1))
	attach "$inner" || return 1
	(($(attr "$dev" queue/discard_max_bytes) > 0)) ||
		fail "discard not offered to begin with" || return 1

	# The block layer reports a refused discard as done (nothing was
	# promised), so this first one "succeeds", having changed nothing.
	blkdiscard -o $MiB -l $MiB "$dev" || return 1
	expect_eq "file after a refused discard" "$sum0" \
		"$(sha256sum <"$inner")" || return 1
	if [[ $LOOP_STOCK != 1 ]]; then
		# Withdrawn by a work item, outside the failed request.
		wait_for 2 attr_is "$dev" queue/discard_max_bytes 0
		check "$dev" queue/discard_max_bytes 0 || return 1
		! blkdiscard -o $MiB -l $MiB "$dev" 2>/dev/null ||
			fail "discard offered again" || return 1
		expect_eq "'cannot punch holes' lines" 1 \
			"$(fallback_lines "$log0" "$dev" "punch holes")" ||
			return 1
	fi

	blkdiscard -z -o $MiB -l $MiB "$dev" || return 1
	blkdiscard -z -o $((4 * MiB)) -l $MiB "$dev" || return 1
	# what the file must hold now: the old data, zeroes where zeroed
	for n in 1 4; do
		dd if=/dev/zero of="$want" bs=$MiB seek=$n count=1 \
			conv=notrunc status=none || return 1
	done
	cmp "$want" "$inner" || fail "backing file: wrong data" || return 1
	cmp "$want" "$dev" || fail "device: wrong data" || return 1
	if [[ $LOOP_STOCK != 1 ]]; then
		wait_for 2 attr_is "$dev" queue/write_zeroes_max_bytes 0
		check "$dev" queue/write_zeroes_max_bytes 0 || return 1
		n=$(fallback_lines "$log0" "$dev" "zero ranges")
		((n <= 1)) || fail "$n 'cannot zero ranges' lines" || return 1
	fi
	detach "$dev" || return 1
	umount "$mnt" || return 1
	detach "$outer"
}


for tool in losetup blockdev sfdisk mkfs.ext4 mkfs.vfat blkdiscard blkid \
	    findmnt python3; do
	if ! command -v $tool >/dev/null; then
		echo "1..0 # SKIP $tool not installed"
		exit 4
	fi
done
modprobe loop 2>/dev/null

plan 17
step "setup" setup
step "losetup -f --show" find_show
step "losetup -r" read_only
step "losetup -o --sizelimit" offset_sizelimit
step "losetup -b 4096" block_size
step "losetup --direct-io on/off" direct_io
step "losetup -c after growing the file" capacity
step "losetup -j -a -l -J" listing
step "losetup -P with a GPT" partitions
step "losetup -D" detach_all
step "losetup -L" nooverlap
step "mount -o loop,offset= and by-uuid" mount_offset
step "mkfs.vfat on a loop device" vfat
step "blkdiscard and blkdiscard -z" discard
step "discard on a file system without hole punching" discard_fallback
step "four loop devices stacked" nested
step "no loop device left" none_backed_by "$work"
tap_status
