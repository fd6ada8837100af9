#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A file system on a loop device survives a round trip: ext4 made and filled
# through "losetup -f", then read back through "mount -o loop", which must
# also detach the device by itself (autoclear) on umount.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

work=$(mktemp -d "$(test_dir)/fs_roundtrip.XXXXXX") || exit 1
img=$work/fs.img
mnt=$work/mnt
sums=$work/sha256sums
dev=

cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	[[ -n $dev ]] && losetup -d "$dev" 2>/dev/null
	settle
	rm -rf "$work"
}

# Loop devices attached to the image, per losetup.
attached() {
	losetup -j "$img"
}

not_attached() {
	[[ -z $(attached) ]]
}

create_image() {
	truncate -s 256M "$img" && mkdir "$mnt"
}

losetup_find_show() {
	dev=$(losetup -f --show "$img") || return 1
	[[ -b $dev ]] || fail "$dev is not a block device"
	expect_eq "sysfs size of $dev" $((256 << 11)) \
		"$(cat "/sys/block/${dev#/dev/}/size")" || return 1
	expect_eq "backing file of $dev" "$(readlink -f "$img")" \
		"$(cat "/sys/block/${dev#/dev/}/loop/backing_file")"
}

make_fs() {
	mkfs.ext4 -q -F "$dev"
}

# Random files from 1 KiB to 8 MiB, some of odd sizes.
write_files() {
	local size i=0

	mount "$dev" "$mnt" || return 1
	for size in 1024 4096 65537 1048576 3145735 8388608; do
		head -c "$size" /dev/urandom >"$mnt/file$i" || return 1
		i=$((i + 1))
	done
	mkdir "$mnt/dir" || return 1
	head -c 12345 /dev/urandom >"$mnt/dir/nested" || return 1
	(cd "$mnt" && sha256sum file* dir/nested) >"$sums" || return 1
	sync
}

umount_and_detach() {
	umount "$mnt" || return 1
	settle
	losetup -d "$dev" || return 1
	dev=
	# The detach is deferred while udev's blkid still has it open.
	wait_for 10 not_attached || fail "still attached: $(attached)"
}

mount_o_loop_checksums() {
	mount -o loop "$img" "$mnt" || return 1
	(cd "$mnt" && sha256sum --quiet -c "$sums")
}

mount_o_loop_autoclear() {
	local src

	src=$(findmnt -n -o SOURCE "$mnt") || return 1
	[[ $src == /dev/loop* ]] || fail "mounted from '$src'"
	expect_eq "autoclear of $src" 1 \
		"$(cat "/sys/block/${src#/dev/}/loop/autoclear")"
}

umount_detaches() {
	umount "$mnt" || return 1
	settle
	wait_for 10 not_attached || fail "still attached after umount: $(attached)"
}

fsck_clean() {
	e2fsck -fn "$img"
}

plan 9
step create_image create_image
step losetup_find_show losetup_find_show
step mkfs_ext4 make_fs
step write_files_and_checksums write_files
step umount_and_losetup_detach umount_and_detach
step mount_o_loop_checksums_match mount_o_loop_checksums
step mount_o_loop_sets_autoclear mount_o_loop_autoclear
step umount_detaches_autoclear_device umount_detaches
step e2fsck_clean fsck_clean
tap_status
