#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Backing files on NFS (a server in the same VM, over loopback).
#
# NFS is the common network file system under loop devices (disk images
# on a filer), and it differs from local file systems where the driver
# can notice: no block device under the backing file (what decides the
# direct-I/O alignment), reads that may come back short, its own
# O_DIRECT path, write-back errors reported at fsync, and discard as
# NFSv4.2 DEALLOCATE.  The test exports a directory on the scratch disk
# with the kernel's nfsd on 127.0.0.1 and mounts it over NFSv4.2, then:
#  - binds a file on it buffered and with direct I/O, writes random data
#    through the device, drops the caches and reads it back byte for byte
#    through the device, through the NFS file and through the exported
#    file on the server's ext4;
#  - makes ext4 on an NFS-backed device, writes files, unmounts, checks
#    it with e2fsck -fn and reads the files back;
#  - over an NFSv3 mount, read-only: the file written over NFSv4 reads
#    the same, the device is read-only and a write fails with EPERM; a
#    write beyond the end of a device fails with ENOSPC;
#  - detaches everything, unmounts, stops the server.
# The server is started by hand (no systemd in the VM): rpcbind, the
# export with exportfs -o, rpc.mountd, rpc.nfsd; cleanup stops all of it
# and unloads no module.  It only runs in the test VM (scripts/vm-run):
# on a host it would take over the machine's NFS server.  Every command
# that could hang on NFS is bounded by timeout.  Data is random from a
# printed seed.
#
# Environment: LOOP_TEST_SEED.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

skip_all() {
	echo "1..1"
	echo "ok 1 nfs_backing # SKIP $*"
	exit 0
}

[[ $(id -u) == 0 ]] || skip_all "needs root"
[[ $VM_GUEST == 1 ]] ||
	skip_all "starts its own NFS server: only in the test VM (scripts/vm-run)"
for tool in rpcbind rpcinfo exportfs rpc.mountd rpc.nfsd mount.nfs ip python3; do
	command -v "$tool" >/dev/null ||
		skip_all "$tool not installed (nfs-kernel-server, nfs-common, rpcbind; scripts/setup-deps installs them)"
done
modprobe -q -a nfsd nfsv4 nfsv3 ||
	skip_all "no nfsd, nfsv4 or nfsv3 module in this kernel"
[[ $(cat /proc/fs/nfsd/threads 2>/dev/null || echo 0) == 0 ]] ||
	skip_all "an NFS server is already running here"

seed=${LOOP_TEST_SEED:-$RANDOM$RANDOM}
echo "# seed $seed (LOOP_TEST_SEED=$seed repeats this run)"
work=$(mktemp -d "$(test_dir)/nfs_backing.XXXXXX") || exit 1
export_dir=$work/export		# exported: the server's side, on ext4
mnt=$work/mnt			# the export over NFSv4.2
mnt3=$work/mnt3			# the export over NFSv3, read-only
fsmnt=$work/fsmnt		# ext4 on an NFS-backed device
mib=4
dev=
rpcbind_pid=
mountd_pid=
nfsd_started=
exported=
nfsd_fs_here=
lo_up_here=

cleanup() {
	[[ -n $dev ]] && { settle; losetup -d "$dev"; }
	mountpoint -q "$fsmnt" && timeout 60 umount "$fsmnt"
	settle
	for m in "$mnt3" "$mnt"; do
		losetup -j "$m"/*.img 2>/dev/null | cut -d: -f1 | xargs -r -n1 losetup -d
		mountpoint -q "$m" && { timeout 60 umount "$m" || umount -f -l "$m"; }
	done
	[[ -n $nfsd_started ]] && timeout 60 rpc.nfsd 0
	[[ -n $exported ]] && timeout 60 exportfs -u "127.0.0.1:$export_dir"
	[[ -n $mountd_pid ]] && kill "$mountd_pid" && wait "$mountd_pid"
	[[ -n $rpcbind_pid ]] && kill "$rpcbind_pid" && wait "$rpcbind_pid"
	[[ -n $nfsd_fs_here ]] && umount /proc/fs/nfsd
	[[ -n $lo_up_here ]] && ip link set lo down
	release_all "$fsmnt" "$work"
}

# The kernel's nfsd on 127.0.0.1, exporting $export_dir; its NFSv4
# grace period ended at once (no client has state to reclaim), or every
# first OPEN would wait for it.  fsid=0 makes the export the NFSv4 root
# ("/" over NFSv4): rpc.mountd's pseudo root above it would be on the
# VM's overlayfs root, which cannot give out file handles.
end_grace() {
	echo Y >/proc/fs/nfsd/v4_end_grace 2>/dev/null
}

start_server() {
	mkdir "$export_dir" "$mnt" "$mnt3" "$fsmnt" || return 1
	if ! ip -o link show lo | grep -q '[<,]UP[,>]'; then
		ip link set lo up || return 1
		lo_up_here=1
	fi
	if ! mountpoint -q /proc/fs/nfsd; then
		mount -t nfsd nfsd /proc/fs/nfsd || return 1
		nfsd_fs_here=1
	fi
	rpcbind -f >"$work/rpcbind.log" 2>&1 &
	rpcbind_pid=$!
	wait_for 30 rpcinfo -p 127.0.0.1 >/dev/null 2>&1 ||
		fail "rpcbind does not answer: $(cat "$work/rpcbind.log")" || return 1
	exported=1
	timeout 60 exportfs -o rw,sync,no_root_squash,insecure,no_subtree_check,fsid=0 \
		"127.0.0.1:$export_dir" || fail "exportfs failed" || return 1
	rpc.mountd -F >"$work/mountd.log" 2>&1 &
	mountd_pid=$!
	wait_for 30 rpcinfo -t 127.0.0.1 mountd 3 >/dev/null 2>&1 ||
		fail "rpc.mountd does not answer: $(cat "$work/mountd.log")" || return 1
	nfsd_started=1
	timeout 60 rpc.nfsd -H 127.0.0.1 4 || fail "rpc.nfsd failed" || return 1
	echo "# nfsd versions: $(cat /proc/fs/nfsd/versions)"
	wait_for 30 end_grace || fail "cannot end the NFSv4 grace period" || return 1
	expect_eq "nfsd threads" 4 "$(cat /proc/fs/nfsd/threads)" || return 1
	echo "# exports: $(exportfs -v | tr -s '\n\t ' ' ')"
}

mount_v4() {
	timeout 120 mount -t nfs -o vers=4.2,proto=tcp,hard 127.0.0.1:/ "$mnt" ||
		fail "NFSv4.2 mount failed" || return 1
	expect_eq "file system type at $mnt" nfs4 "$(findmnt -no FSTYPE "$mnt")" ||
		return 1
	expect_eq "NFS version at $mnt" vers=4.2 \
		"$(findmnt -no OPTIONS "$mnt" | grep -ow 'vers=4.2')" || return 1
	# The mount sees the server's files, and the server the mount's.
	echo "$seed" >"$export_dir/hello" || return 1
	expect_eq "server file read over NFS" "$seed" "$(timeout 60 cat "$mnt/hello")" ||
		return 1
	timeout 60 rm "$mnt/hello" || return 1
	[[ ! -e $export_dir/hello ]] || fail "file removed over NFS still on the server"
}

# Write back and drop the caches (the client's and the server's: one
# kernel): what is read next comes over NFS from the server's disk.
drop() {
	timeout 120 sync || fail "sync did not finish within 120 s" || return 1
	drop_caches
}

# attach FILE [LOSETUP-ARGS...]: bind FILE, the device into $dev.
attach() {
	local file=$1

	shift
	dev=$(timeout 60 losetup -f --show "$@" "$file") || fail "losetup $* $file failed" ||
		return 1
	[[ -b $dev ]] || fail "losetup printed '$dev'" || return 1
	settle
}

detach() {
	settle
	timeout 60 losetup -d "$dev" || fail "losetup -d $dev failed" || return 1
	dev=
}

sysfs() {
	cat "/sys/block/${dev#/dev/}/$1"
}

# same FILE WHAT: FILE reads back as $work/expect.$name (the caller's).
same() {
	timeout 300 cmp "$1" "$work/expect.$name" ||
		fail "$2 differs from what was written" || return 1
	echo "# $2: same"
}

# roundtrip NAME [LOSETUP-ARGS...]: $mib MiB of random data written
# through a device on $mnt/NAME.img, read back through the device, the
# NFS file and the exported file.
roundtrip() {
	local name=$1 dio=0

	shift
	[[ " $* " == *" --direct-io=on "* ]] && dio=1
	pattern "$work/expect.$name" "$mib" "$name" || return 1
	timeout 60 truncate -s "${mib}M" "$mnt/$name.img" || return 1
	attach "$mnt/$name.img" "$@" || return 1
	expect_eq "loop/dio of $dev" "$dio" "$(sysfs loop/dio)" || return 1
	expect_eq "loop/backing_file of $dev" "$mnt/$name.img" \
		"$(sysfs loop/backing_file)" || return 1
	expect_eq "size of $dev" $((mib << 20)) "$(blockdev --getsize64 "$dev")" ||
		return 1
	timeout 300 dd if="$work/expect.$name" of="$dev" bs=256k conv=fsync \
		status=none || fail "writing $dev failed or took over 300 s" || return 1
	drop || return 1
	timeout 300 dd if="$dev" of="$work/got" bs=1M iflag=direct status=none ||
		fail "direct read of $dev failed" || return 1
	cmp "$work/got" "$work/expect.$name" ||
		fail "$dev (O_DIRECT) differs from what was written" || return 1
	drop || return 1
	same "$dev" "$dev (through its page cache)" || return 1
	detach || return 1
	drop || return 1
	same "$mnt/$name.img" "the NFS file" || return 1
	drop || return 1
	same "$export_dir/$name.img" "the exported file on the server" || return 1
	expect_eq "size of the exported file" $((mib << 20)) \
		"$(stat -c %s "$export_dir/$name.img")"
}

ext4_on_nfs() {
	local i

	timeout 60 truncate -s 32M "$mnt/fs.img" || return 1
	attach "$mnt/fs.img" || return 1
	timeout 300 mkfs.ext4 -q -F "$dev" || fail "mkfs.ext4 on $dev failed" || return 1
	timeout 60 mount "$dev" "$fsmnt" || fail "mounting $dev failed" || return 1
	for i in 0 1 2; do
		pattern "$work/file$i" 2 "file$i" || return 1
		timeout 300 cp "$work/file$i" "$fsmnt/file$i" ||
			fail "cp to ext4 on $dev failed" || return 1
	done
	timeout 120 umount "$fsmnt" || fail "umount of ext4 on $dev failed" || return 1
	drop || return 1
	timeout 300 e2fsck -fn "$dev" >"$work/e2fsck.log" 2>&1 ||
		fail "e2fsck -fn of $dev: $(cat "$work/e2fsck.log")" || return 1
	timeout 60 mount -o ro "$dev" "$fsmnt" || fail "mounting $dev again failed" ||
		return 1
	for i in 0 1 2; do
		timeout 120 cmp "$fsmnt/file$i" "$work/file$i" ||
			fail "file$i on ext4 on $dev differs" || return 1
	done
	timeout 120 umount "$fsmnt" || return 1
	detach
}

# write_errno DEV OFFSET: the errno name of a 4 KiB O_DIRECT write at
# OFFSET of DEV ("ok" if it succeeds).
write_errno() {
	python3 - "$1" "$2" <<'EOF'
import errno, mmap, os, sys
buf = mmap.mmap(-1, 4096)
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
    os.pwrite(fd, buf, int(sys.argv[2]))
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
EOF
}

# The file written over NFSv4 with direct I/O, bound over a read-only
# NFSv3 mount: losetup falls back to a read-only device, which reads the
# same data and refuses writes with EPERM.
v3_read_only() {
	local name=direct

	timeout 120 mount -t nfs -o vers=3,proto=tcp,nolock,hard,ro \
		"127.0.0.1:$export_dir" "$mnt3" || fail "NFSv3 mount failed" || return 1
	expect_eq "NFS version at $mnt3" vers=3 \
		"$(findmnt -no OPTIONS "$mnt3" | grep -ow 'vers=3')" || return 1
	attach "$mnt3/$name.img" --direct-io=on || return 1
	expect_eq "loop/dio of $dev" 1 "$(sysfs loop/dio)" || return 1
	expect_eq "ro of $dev" 1 "$(sysfs ro)" || return 1
	drop || return 1
	same "$dev" "$dev over NFSv3" || return 1
	expect_eq "errno of a write to $dev" EPERM "$(write_errno "$dev" 0)" || return 1
	detach || return 1
	timeout 120 umount "$mnt3" || fail "umount of $mnt3 failed"
}

beyond_end() {
	attach "$mnt/buffered.img" || return 1
	expect_eq "errno of a write at the end of $dev" ENOSPC \
		"$(write_errno "$dev" $((mib << 20)))" || return 1
	expect_eq "errno of a write before the end of $dev" ok \
		"$(write_errno "$dev" $(((mib << 20) - 4096)))" || return 1
	detach
}

unmount_nfs() {
	none_backed_by "$mnt" || return 1
	none_backed_by "$export_dir" || return 1
	timeout 120 umount "$mnt" || fail "umount of $mnt failed" || return 1
	! mountpoint -q "$mnt" || fail "$mnt still mounted"
}

stop_server() {
	timeout 60 rpc.nfsd 0 || fail "rpc.nfsd 0 failed" || return 1
	nfsd_started=
	expect_eq "nfsd threads" 0 "$(cat /proc/fs/nfsd/threads)" || return 1
	timeout 60 exportfs -u "127.0.0.1:$export_dir" || fail "exportfs -u failed" ||
		return 1
	exported=
	kill "$mountd_pid" && wait "$mountd_pid"
	mountd_pid=
	kill "$rpcbind_pid" && wait "$rpcbind_pid"
	rpcbind_pid=
	expect_eq "exports left" "" "$(exportfs -v)"
}

plan 9
step "nfsd on 127.0.0.1 exporting a directory on ext4" start_server
step "the export mounted over NFSv4.2" mount_v4
step "buffered device on an NFS file: data exact on device, client, server" \
	roundtrip buffered
step "direct-I/O device on an NFS file: data exact on device, client, server" \
	roundtrip direct --direct-io=on
step "ext4 on an NFS-backed device: e2fsck -fn clean, files exact" ext4_on_nfs
step "over read-only NFSv3: same data, device read-only, write EPERM" v3_read_only
step "write beyond the end of an NFS-backed device: ENOSPC" beyond_end
step "nothing left bound, NFS unmounted" unmount_nfs
step "server stopped" stop_server
tap_status
