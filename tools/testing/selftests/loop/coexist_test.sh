#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The LOOP_NAME=xloop build (drivers/block/loop/xloop.ko, made by
# "make LOOP_NAME=xloop" for the running kernel) beside the kernel's own
# loop.ko, both loaded at once: xloop gets a dynamic block major, its own
# /dev/xloopN and /dev/xloop-control, no loop aliases, and each driver
# carries data to its own backing file.
#
# util-linux's losetup only handles /dev/loop* names, so the xloop devices
# are driven with ioctls from python3.  Leaves things as found: our module
# (LOOP_MODULE) loaded, nothing bound.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

top=$(cd "$dir/../../../.." && pwd)
kver=$(uname -r)
xloop=$top/drivers/block/loop/xloop.ko
work=
dev=		# the stock loop device bound
xdev=		# the xloop device bound
xmajor=

skip_unless_ours_in_vm coexist "tests our LOOP_NAME build, not the stock driver" \
	"unloads loop: runs only in the test VM"
if [[ ! -f $xloop ]] ||
   [[ $(modinfo -F vermagic "$xloop" | cut -d' ' -f1) != "$kver" ]]; then
	echo "1..1"
	echo "ok 1 coexist # SKIP $xloop not built for $kver (make LOOP_NAME=xloop)"
	exit 0
fi
stock=$(stock_path)

# ioctl DEVICE REQUEST [FILE|NUMBER]: one ioctl, its return value printed.
# The argument is a file descriptor of FILE opened read-write, or NUMBER.
ioctl() {
	python3 - "$@" <<'EOF'
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
arg = 0
if len(sys.argv) > 3:
    a = sys.argv[3]
    arg = int(a, 0) if a.lstrip('-').isdigit() else os.open(a, os.O_RDWR)
print(fcntl.ioctl(fd, int(sys.argv[2], 0), arg))
EOF
}

LOOP_SET_FD=0x4C00
LOOP_CLR_FD=0x4C01
LOOP_CTL_ADD=0x4C80
LOOP_CTL_REMOVE=0x4C81
LOOP_CTL_GET_FREE=0x4C82

# The major of a block driver in /proc/devices.
block_major() {
	sed -n '/^Block devices:/,/^$/p' /proc/devices |
		awk -v name="$1" '$2 == name { print $1 }'
}

cleanup() {
	settle
	[[ -n $dev ]] && losetup -d "$dev"
	[[ -n $xdev ]] && ioctl "$xdev" $LOOP_CLR_FD
	settle
	unload xloop
	if [[ $(cat /sys/module/loop/srcversion 2>/dev/null) != \
	      $(modinfo -F srcversion "$LOOP_MODULE") ]]; then
		unload loop
		insmod "$LOOP_MODULE"
	fi
	recover_ours
	[[ -n $work ]] && rm -rf "$work"
}

load_stock_loop() {
	[[ -n $stock ]] || fail "no stock loop.ko for $kver" || return 1
	# Autoload blocked until the end: nothing can load ours in between.
	unload_ours_and_block || return 1
	insmod "$stock" || return 1
	expect_eq "loop srcversion" "$(modinfo -F srcversion "$stock")" \
		"$(cat /sys/module/loop/srcversion)"
}

load_xloop() {
	local i

	insmod "$xloop" max_loop=2 || return 1
	loaded xloop || fail "xloop not live" || return 1
	expect_eq max_loop 2 "$(cat /sys/module/xloop/parameters/max_loop)" ||
		return 1
	expect_eq "loop major" 7 "$(block_major loop)" || return 1
	xmajor=$(block_major xloop)
	[[ $xmajor =~ ^[0-9]+$ && $xmajor != 7 ]] ||
		fail "xloop major '$xmajor' in /proc/devices" || return 1
	for i in 0 1; do
		expect_eq "xloop$i dev" "$xmajor:$i" "$(cat /sys/block/xloop$i/dev)" ||
			return 1
		wait_for 10 test -b /dev/xloop$i || fail "no /dev/xloop$i" ||
			return 1
	done
	[[ ! -e /sys/block/xloop2 ]] || fail "xloop2 exists with max_loop=2" ||
		return 1
	[[ -e /sys/block/loop0 ]] || fail "stock loop0 missing" || return 1
	wait_for 10 test -c /dev/xloop-control || fail "no /dev/xloop-control" ||
		return 1
	[[ $(cat /sys/class/misc/xloop-control/dev) == 10:* ]] ||
		fail "xloop-control is not a misc device" || return 1
	expect_eq "loop-control dev" 10:237 \
		"$(cat /sys/class/misc/loop-control/dev)"
}

xloop_modinfo() {
	local aliases

	expect_eq name xloop "$(modinfo -F name "$xloop")" || return 1
	aliases=$(modinfo -F alias "$xloop")
	if grep -E 'block-major-7-|char-major-10-237|devname:loop-control' \
		<<<"$aliases"; then
		fail "xloop.ko claims the loop driver's aliases"
		return 1
	fi
	[[ -n $(modinfo -F version "$xloop") ]] || fail "no version"
}

xloop_control() {
	expect_eq "LOOP_CTL_GET_FREE" 0 \
		"$(ioctl /dev/xloop-control $LOOP_CTL_GET_FREE)" || return 1
	expect_eq "LOOP_CTL_ADD 5" 5 \
		"$(ioctl /dev/xloop-control $LOOP_CTL_ADD 5)" || return 1
	expect_eq "xloop5 dev" "$xmajor:5" "$(cat /sys/block/xloop5/dev)" ||
		return 1
	settle
	expect_eq "LOOP_CTL_REMOVE 5" 0 \
		"$(ioctl /dev/xloop-control $LOOP_CTL_REMOVE 5)" || return 1
	[[ ! -e /sys/block/xloop5 ]] || fail "xloop5 still there"
}

# Backing files of 4 MiB of random data, and what each must hold after
# 1 MiB of other random data is written at 1 MiB through its device.
make_files() {
	local f

	for f in a b; do
		head -c 4M /dev/urandom >"$work/$f.img" || return 1
		head -c 1M /dev/urandom >"$work/$f.new" || return 1
		cp "$work/$f.img" "$work/$f.want" || return 1
		dd if="$work/$f.new" of="$work/$f.want" bs=1M seek=1 \
			conv=notrunc status=none || return 1
	done
	! cmp -s "$work/a.new" "$work/b.new" || fail "same random data twice"
}

bind_both() {
	dev=$(losetup -f --show "$work/a.img") || return 1
	expect_eq "$dev major" 7 "$(cut -d: -f1 "/sys/block/${dev#/dev/}/dev")" ||
		return 1
	expect_eq "$dev backing file" "$work/a.img" \
		"$(cat "/sys/block/${dev#/dev/}/loop/backing_file")" || return 1
	ioctl /dev/xloop0 $LOOP_SET_FD "$work/b.img" >/dev/null || return 1
	xdev=/dev/xloop0
	expect_eq "xloop0 backing file" "$work/b.img" \
		"$(cat /sys/block/xloop0/loop/backing_file)" || return 1
	expect_eq "xloop0 size" 8192 "$(cat /sys/block/xloop0/size)"
}

# Each device reads its own file, and writes land in its own file only.
data_through_both() {
	local d f

	settle
	for d in "$dev:a" "$xdev:b"; do
		f=${d##*:}
		d=${d%:*}
		dd if="$d" of="$work/$f.read" bs=1M iflag=direct status=none ||
			return 1
		cmp "$work/$f.img" "$work/$f.read" ||
			fail "$d does not read back $f.img" || return 1
		dd if="$work/$f.new" of="$d" bs=1M seek=1 oflag=direct \
			conv=fsync status=none || return 1
	done
	for f in a b; do
		cmp "$work/$f.want" "$work/$f.img" ||
			fail "$f.img does not hold what was written" || return 1
	done
}

unbound() {
	[[ ! -e /sys/block/${1#/dev/}/loop ]]
}

detach_both() {
	settle
	losetup -d "$dev" || return 1
	wait_for 10 unbound "$dev" || fail "$dev still bound" || return 1
	dev=
	ioctl "$xdev" $LOOP_CLR_FD >/dev/null || return 1
	wait_for 10 unbound "$xdev" || fail "$xdev still bound" || return 1
	xdev=
}

unload_both() {
	unload xloop || fail "cannot unload xloop" || return 1
	[[ -z $(block_major xloop) ]] || fail "xloop still in /proc/devices" ||
		return 1
	wait_for 5 test ! -e /dev/xloop-control ||
		fail "/dev/xloop-control still there" || return 1
	unload loop || fail "cannot unload the stock loop"
}

work=$(mktemp -d "$(test_dir)/coexist.XXXXXX") || exit 1

plan 10
step load_stock_loop load_stock_loop
step load_xloop_beside_it load_xloop
step xloop_modinfo_has_no_loop_aliases xloop_modinfo
step xloop_control_add_remove xloop_control
step make_backing_files make_files
step bind_loop_and_xloop bind_both
step data_through_both_devices data_through_both
step detach_both detach_both
step unload_both unload_both
step restore_module_under_test restore
tap_status
