#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What udev learns about a loop device.  udev, and all that is built on it
# (/dev/disk/by-*, systemd's device units, udisks), only knows what the
# kernel tells it in uevents: each one must come, for the right device, once
# the device is in its new state.  Kernel uevents are recorded with "udevadm
# monitor --kernel"; synthetic uevents written to /sys/class/block/*/uevent
# bracket each step, so the record holds exactly what the kernel sent in
# between (udev's own synthetic "change" events are left out).
#
#  - attach (LOOP_CONFIGURE): a "change" for loopN, after which udev's blkid
#    has found the file system on it;
#  - losetup -c after growing the file: a "change" with RESIZE=1, the new
#    size in sysfs;
#  - detach: a "change", after which udev has forgotten the file system;
#  - LOOP_CONFIGURE with LO_FLAGS_PARTSCAN on a GPT (losetup -P): "add" for
#    loopNp1..p3, and "remove" for each on detach;
#  - losetup -c on a device attached to an empty file that has grown since:
#    a "change" (set_capacity_and_notify() sends none from or to size 0, the
#    driver must), after which udev has found the file system.
#
# Then what udev makes of these events: the persistent-storage links
# by-label, by-uuid, by-partuuid and by-partlabel for mkfs.ext4 -L and
# mkfs.vfat -n on partitions, a mount through a label with a byte-for-byte
# round trip, the links gone after detach and back after the next attach.
# And mkfs.ext4 plus fsck on a partition: clean before and after writing.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

work=$(mktemp -d "$(test_dir)/uevent_test.XXXXXX") || exit 1
work=$(readlink -f "$work")
fsimg=$work/fs.img
gpt=$work/gpt.img
grown=$work/grown.img
mnt=$work/mnt
devs=()
MiB=1048576
mon_pid=
mon_log=
mon_start=
ev=

uuid() {
	cat /proc/sys/kernel/random/uuid
}

hex() {
	uuid | tr -d - | cut -c "1-$1"
}

fs_label=uev-$(hex 8)
ext_label=uev-$(hex 8)
ext_uuid=$(uuid)
fat_id=$(hex 8 | tr a-f A-F)
fat_label=UEV${fat_id:0:6}
part_uuid=("" "$(uuid)" "$(uuid)" "$(uuid)")
part_name=("" "uev-p1-$(hex 6)" "uev-p2-$(hex 6)" "uev-p3-$(hex 6)")

record_kill() {
	[[ -n $mon_pid ]] || return 0
	kill "$mon_pid" 2>/dev/null
	wait "$mon_pid" 2>/dev/null
	mon_pid=
}

cleanup() {
	record_kill
	release_all "$mnt" "$work" "${devs[@]}"
}

# ---- Recording kernel uevents ----

# mark DEV UUID: a synthetic "change" uevent for DEV, tagged UUID
mark() {
	echo "change $2 LOOPTEST=mark" >"/sys/class/block/${1#/dev/}/uevent"
}

seen() {
	grep -qx "SYNTH_UUID=$2" "$1"
}

# record_start NAME DEV: record the kernel's block uevents in
# $work/NAME.log, from when a marker sent to DEV comes through.
record_start() {
	local i

	record_kill
	mon_log=$work/$1.log
	mon_start=$(uuid)
	udevadm monitor --kernel --property --subsystem-match=block \
		>"$mon_log" 2>&1 </dev/null &
	mon_pid=$!
	# Markers sent before the monitor listens are lost: send again.
	for i in $(seq 30); do
		mark "$2" "$mon_start" || return 1
		wait_for 1 seen "$mon_log" "$mon_start" && break
	done
	seen "$mon_log" "$mon_start" ||
		fail "udevadm monitor shows no uevents" || return 1
	# udev done with the marker: it must not hold DEV open later
	settle
}

# Kernel uevents between the markers START and END in the log $1, one a
# line: "ACTION NAME [RESIZE=1] [DISK_MEDIA_CHANGE=1]", NAME from DEVPATH.
events() {
	awk -v start="$2" -v end="$3" '
	BEGIN { RS = ""; FS = "\n" }
	{
		delete e
		for (i = 2; i <= NF; i++) {
			k = index($i, "=")
			if (k)
				e[substr($i, 1, k - 1)] = substr($i, k + 1)
		}
		# (testing e["K"] would create K: "in" first)
		synth = ("SYNTH_UUID" in e) ? e["SYNTH_UUID"] : ""
		if (synth == start) { on = 1; next }
		if (synth == end) exit
		if (!on || synth != "" || !("ACTION" in e))
			next
		n = split(e["DEVPATH"], p, "/")
		name = e["DEVNAME"]
		sub(/^\/dev\//, "", name)
		line = e["ACTION"] " " p[n]
		if (name != p[n])
			line = line " DEVNAME=" name
		if ("RESIZE" in e)
			line = line " RESIZE=" e["RESIZE"]
		if ("DISK_MEDIA_CHANGE" in e)
			line = line " DISK_MEDIA_CHANGE=" e["DISK_MEDIA_CHANGE"]
		print line
	}' "$1"
}

# record_stop DEV: end the record with a marker sent to DEV; the events
# go to $ev.
record_stop() {
	local end

	end=$(uuid)
	mark "$1" "$end" || return 1
	wait_for 20 seen "$mon_log" "$end" ||
		fail "end marker did not come through" || return 1
	record_kill
	ev=${mon_log%.log}.events
	events "$mon_log" "$mon_start" "$end" >"$ev"
	echo "kernel uevents:"
	sed 's/^/  /' "$ev"
}

# expect_events WHAT MIN MAX REGEX: MIN to MAX recorded events match REGEX
expect_events() {
	local n

	n=$(grep -Ecx "$4" "$ev")
	((n >= $2 && n <= $3)) ||
		fail "$1: $n uevents '$4', expected $2 to $3"
}

# no_events WHAT REGEX
no_events() {
	expect_events "$1" 0 0 "$2"
}

# ---- Devices and what udev knows of them ----

bound() {
	[[ -e /sys/block/${1#/dev/}/loop ]]
}

# unbound DEV: detached, and its partitions gone
unbound() {
	local n=${1#/dev/}

	! bound "$1" && ! compgen -G "/sys/block/$n/${n}p*" >/dev/null
}

# attach ARGS...: losetup -f --show ARGS, remembered for cleanup in $dev
attach() {
	dev=$(losetup -f --show "$@") || return 1
	devs+=("$dev")
	[[ -b $dev ]] || fail "$dev is not a block device"
}

forget() {
	local i

	for i in "${!devs[@]}"; do
		[[ ${devs[i]} == "$1" ]] && unset "devs[i]"
	done
	return 0
}

# detach DEV: losetup -d, then wait until the kernel really let go (an
# opener, such as udev's blkid, defers the detach to its close)
detach() {
	losetup -d "$1" || return 1
	wait_for 20 unbound "$1" || fail "$1 still bound after losetup -d" ||
		return 1
	forget "$1"
}

# udev_prop DEV KEY: KEY's value in udev's database for DEV
udev_prop() {
	udevadm info -q property -n "$1" | sed -n "s/^$2=//p"
}

link_is() {
	[[ -L $1 && $(readlink -f "$1") == "$2" ]]
}

# want_link LINK DEV: /dev/disk/LINK resolves to DEV (udev may still be
# working through events its inotify watch synthesized)
want_link() {
	wait_for 10 link_is "/dev/disk/$1" "$2" ||
		fail "/dev/disk/$1 -> '$(readlink -f "/dev/disk/$1")', not $2"
}

no_link() {
	wait_for 10 test ! -e "/dev/disk/$1" ||
		fail "/dev/disk/$1 -> $(readlink -f "/dev/disk/$1") stays"
}

# The persistent-storage links of the partitioned image, "LINK PARTITION"
gpt_links() {
	local i

	echo "by-label/$ext_label 1"
	echo "by-uuid/$ext_uuid 1"
	echo "by-label/$fat_label 2"
	echo "by-uuid/${fat_id:0:4}-${fat_id:4:4} 2"
	for i in 1 2 3; do
		echo "by-partuuid/${part_uuid[i]} $i"
		echo "by-partlabel/${part_name[i]} $i"
	done
}

# gpt_links_at DEV: all of them resolve to DEV's partitions
gpt_links_at() {
	local link p

	while read -r link p; do
		want_link "$link" "${1}p$p" || return 1
	done < <(gpt_links)
}

gpt_links_gone() {
	local link p

	while read -r link p; do
		no_link "$link" || return 1
	done < <(gpt_links)
}

# ---- The steps ----

setup() {
	mkdir -p "$mnt" || return 1
	head -c $((MiB + 4097)) /dev/urandom >"$work/payload" || return 1
	truncate -s $((32 * MiB)) "$fsimg" || return 1
	mkfs.ext4 -q -F -L "$fs_label" "$fsimg" || return 1
	truncate -s $((64 * MiB)) "$gpt" || return 1
	sfdisk -q "$gpt" <<-EOF
	label: gpt
	size=16MiB, uuid=${part_uuid[1]}, name=${part_name[1]}
	size=16MiB, uuid=${part_uuid[2]}, name=${part_name[2]}
	size=24MiB, uuid=${part_uuid[3]}, name=${part_name[3]}
	EOF
}

attach_uevent() {
	local next n

	next=$(losetup -f) || return 1
	record_start attach "$next" || return 1
	attach "$fsimg" || return 1
	record_stop "$dev" || return 1
	n=${dev#/dev/}
	expect_events "change of $n" 1 99 "change $n( .*)?" || return 1
	no_events "add or remove" "(add|remove) .*" || return 1
	settle
	want_link "by-label/$fs_label" "$dev" || return 1
	expect_eq "udev ID_FS_TYPE" ext4 "$(udev_prop "$dev" ID_FS_TYPE)" ||
		return 1
	[[ $(udev_prop "$dev" SYSTEMD_READY) != 0 ]] ||
		fail "udev: SYSTEMD_READY=0 on bound $dev"
}

resize_uevent() {
	local n=${dev#/dev/}

	truncate -s $((48 * MiB)) "$fsimg" || return 1
	expect_eq "size before losetup -c" $((32 * 2048)) \
		"$(cat "/sys/block/$n/size")" || return 1
	record_start resize "$dev" || return 1
	losetup -c "$dev" || return 1
	record_stop "$dev" || return 1
	expect_events "change of $n with RESIZE=1" 1 1 \
		"change $n RESIZE=1( .*)?" || return 1
	no_events "add or remove" "(add|remove) .*" || return 1
	expect_eq "sysfs size" $((48 * 2048)) "$(cat "/sys/block/$n/size")" ||
		return 1
	expect_eq "getsize64" $((48 * MiB)) "$(blockdev --getsize64 "$dev")" ||
		return 1
	settle
	want_link "by-label/$fs_label" "$dev"
}

# 99-systemd.rules marks loop devices without a backing file not ready
ready_rule() {
	grep -qs 'loop/backing_file' /usr/lib/udev/rules.d/99-systemd.rules \
		/lib/udev/rules.d/99-systemd.rules
}

detach_uevent() {
	local n=${dev#/dev/}

	record_start detach "$dev" || return 1
	detach "$dev" || return 1
	record_stop "$dev" || return 1
	expect_events "change of $n" 1 99 "change $n( .*)?" || return 1
	no_events "add or remove" "(add|remove) .*" || return 1
	settle
	no_link "by-label/$fs_label" || return 1
	expect_eq "udev ID_FS_TYPE" "" "$(udev_prop "$dev" ID_FS_TYPE)" ||
		return 1
	if ready_rule; then
		expect_eq "udev SYSTEMD_READY" 0 \
			"$(udev_prop "$dev" SYSTEMD_READY)" || return 1
	fi
	expect_eq "sysfs size" 0 "$(cat "/sys/block/$n/size")"
}

# partition_uevents_ok NAME EVENTS: in EVENTS (one a line, as events()
# prints them) each of NAME's partitions 1 to 3 was added once, or twice
# with a remove between (udev's rescan, below); if not, says which.
partition_uevents_ok() {
	local i adds removes

	for i in 1 2 3; do
		adds=$(grep -Ecx "add $1p$i" <<<"$2")
		removes=$(grep -Ecx "remove $1p$i" <<<"$2")
		((adds >= 1 && adds <= 2 && removes == adds - 1)) || {
			echo "$1p$i: $adds add and $removes remove uevents"
			return 1
		}
	done
}

# partitions_whole NAME: so far, the record passes partition_uevents_ok
partitions_whole() {
	partition_uevents_ok "$1" "$(events "$mon_log" "$mon_start" -)" \
		>/dev/null
}

partscan_uevents() {
	local next n i why

	next=$(losetup -f) || return 1
	record_start partscan "$next" || return 1
	attach -P "$gpt" || return 1
	n=${dev#/dev/}
	wait_for 10 test -e "/sys/block/$n/${n}p3" ||
		fail "${n}p3 missing in sysfs" || return 1
	# Not inside udev's rescan (below), whose removes may come through
	# before the end marker and its adds after it.
	settle
	wait_for 10 partitions_whole "$n" ||
		fail "${n}p1..p3: uevents not whole within 10 s" ||
		return 1
	record_stop "$dev" || return 1
	expect_events "change of $n" 1 99 "change $n( .*)?" || return 1
	# One scan by the driver.  udev may scan once more (BLKRRPART when
	# losetup closes its writable fd, if its inotify watch on the node is
	# already set): each partition is then removed and added again.
	why=$(partition_uevents_ok "$n" "$(<"$ev")") || fail "$why" || return 1
	expect_events "adds" 3 6 "add .*" || return 1
	expect_events "removes" 0 3 "remove .*" || return 1
	settle
	for i in 1 2 3; do
		wait_for 10 test -b "/dev/${n}p$i" ||
			fail "/dev/${n}p$i missing" || return 1
	done
	want_link "by-partuuid/${part_uuid[1]}" "${dev}p1"
}

mkfs_links() {
	mkfs.ext4 -q -F -L "$ext_label" -U "$ext_uuid" "${dev}p1" || return 1
	mkfs.vfat -n "$fat_label" -i "$fat_id" "${dev}p2" >/dev/null ||
		return 1
	settle
	gpt_links_at "$dev" || return 1
	expect_eq "udev ID_FS_TYPE of p1" ext4 \
		"$(udev_prop "${dev}p1" ID_FS_TYPE)" || return 1
	expect_eq "udev ID_FS_TYPE of p2" vfat \
		"$(udev_prop "${dev}p2" ID_FS_TYPE)"
}

# mount_cmp LINK PARTITION FILE: mount /dev/disk/LINK, which must be
# PARTITION, and compare FILE on it with the payload
mount_cmp() {
	mount "/dev/disk/$1" "$mnt" || return 1
	expect_eq "mounted from" "$2" "$(findmnt -n -o SOURCE "$mnt")" ||
		return 1
	cmp "$work/payload" "$mnt/$3" || return 1
	umount "$mnt"
}

# mount_write LINK FILE: the payload to FILE on /dev/disk/LINK
mount_write() {
	mount "/dev/disk/$1" "$mnt" || return 1
	cp "$work/payload" "$mnt/$2" || return 1
	umount "$mnt"
}

mount_by_label() {
	mount_write "by-label/$ext_label" payload || return 1
	mount_cmp "by-uuid/$ext_uuid" "${dev}p1" payload || return 1
	mount_write "by-label/$fat_label" PAYLOAD.BIN || return 1
	mount_cmp "by-partlabel/${part_name[2]}" "${dev}p2" PAYLOAD.BIN
}

fsck_partition() {
	local p=${dev}p3

	mkfs.ext4 -q -F "$p" || return 1
	fsck.ext4 -f -n "$p" || fail "fsck of a new file system" || return 1
	mount "$p" "$mnt" || return 1
	mkdir "$mnt/dir" && cp "$work/payload" "$mnt/dir/payload" || return 1
	umount "$mnt" || return 1
	fsck.ext4 -f -n "$p" || fail "fsck after writing" || return 1
	mount "$p" "$mnt" || return 1
	cmp "$work/payload" "$mnt/dir/payload" || return 1
	umount "$mnt"
}

detach_partitions() {
	local n=${dev#/dev/} i

	settle
	record_start detach-partitions "$dev" || return 1
	detach "$dev" || return 1
	record_stop "$dev" || return 1
	expect_events "change of $n" 1 99 "change $n( .*)?" || return 1
	for i in 1 2 3; do
		expect_events "remove of ${n}p$i" 1 1 "remove ${n}p$i" ||
			return 1
	done
	expect_events "removes" 3 3 "remove .*" || return 1
	no_events "add" "add .*" || return 1
	settle
	for i in 1 2 3; do
		wait_for 10 test ! -e "/dev/${n}p$i" ||
			fail "/dev/${n}p$i stays" || return 1
	done
	gpt_links_gone
}

# The data went to the file: a new binding finds it, under the same links.
reattach() {
	attach -P "$gpt" || return 1
	wait_for 10 test -b "${dev}p3" || fail "${dev}p3 missing" || return 1
	settle
	gpt_links_at "$dev" || return 1
	fsck.ext4 -f -n "${dev}p1" || return 1
	fsck.vfat -n "${dev}p2" || return 1
	fsck.ext4 -f -n "${dev}p3" || return 1
	mount_cmp "by-label/$ext_label" "${dev}p1" payload || return 1
	mount_cmp "by-label/$fat_label" "${dev}p2" PAYLOAD.BIN || return 1
	mount_cmp "by-partuuid/${part_uuid[3]}" "${dev}p3" dir/payload ||
		return 1
	settle
	detach "$dev" || return 1
	settle
	gpt_links_gone
}

# A device bound to an empty file, the file then made a file system.
grow_from_empty() {
	local n

	: >"$grown" || return 1
	attach "$grown" 2>/dev/null || return 1
	n=${dev#/dev/}
	settle
	expect_eq "sysfs size" 0 "$(cat "/sys/block/$n/size")" || return 1
	truncate -s $((16 * MiB)) "$grown" || return 1
	mkfs.ext4 -q -F -L "$fs_label" "$grown" || return 1
	record_start grow "$dev" || return 1
	losetup -c "$dev" || return 1
	record_stop "$dev" || return 1
	expect_eq "sysfs size" $((16 * 2048)) "$(cat "/sys/block/$n/size")" ||
		return 1
	expect_events "change of $n" 1 99 "change $n( .*)?" || return 1
	settle
	want_link "by-label/$fs_label" "$dev" || return 1
	detach "$dev"
}


for tool in losetup udevadm blockdev sfdisk mkfs.ext4 fsck.ext4 mkfs.vfat \
	    fsck.vfat findmnt cmp; do
	if ! command -v $tool >/dev/null; then
		echo "1..0 # SKIP $tool not installed"
		exit 4
	fi
done
if ! udevadm control --ping >/dev/null 2>&1; then
	echo "1..0 # SKIP udevd is not running"
	exit 4
fi
modprobe loop 2>/dev/null

plan 12
step "setup" setup
step "attach: change uevent, udev finds the file system" attach_uevent
step "losetup -c after growing: change uevent with RESIZE=1" resize_uevent
step "detach: change uevent, udev forgets the file system" detach_uevent
step "losetup -P: add uevents for p1..p3" partscan_uevents
step "mkfs on partitions: by-label, by-uuid, by-partuuid, by-partlabel" \
	mkfs_links
step "mount by label and uuid: byte-for-byte round trip" mount_by_label
step "mkfs.ext4 and fsck -n on a partition" fsck_partition
step "detach: remove uevents for p1..p3, links gone" detach_partitions
step "attach again: links, data, fsck" reattach
step "losetup -c on a device grown from empty: change uevent" \
	grow_from_empty
step "no loop device left" none_backed_by "$work"
tap_status
