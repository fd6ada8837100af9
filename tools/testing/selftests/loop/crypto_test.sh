#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The cryptoloop transfer (cryptoloop.ko, LO_CRYPT_CRYPTOAPI) against
# dm-crypt: for each cipher, data written through our device must read
# back identically through "cryptsetup open --type plain" on the same
# image, and the other way round; offsets, IV offsets, 4096-byte blocks,
# direct I/O, buffered reads decrypted in place (cached, cold, beyond a
# truncated end), writers and readers in parallel and partitions
# included.
# Then ext4 on an encrypted device across a re-attach and e2fsck, a wrong
# key (garbage, not errors), key ownership, and unloading cryptoloop
# (refused while a device uses it).
#
# LOOP_CRYPTO_CIPHERS ("aes-cbc-plain:128,aes-xts-plain64:512", say)
# limits the ours/dm-crypt round trips, and the buffered reads decrypted
# in place, to those cipher:bits pairs of the lists below (make check's
# debug kernel runs two, for time).
#
# Devices are set up with tools/loopxfer/loopxfer.  cryptsetup opens the
# image on a loop device of its own, which is our driver without a
# transfer.  Leaves cryptoloop unloaded unless it was loaded before.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

top=$(cd "$dir/../../../.." && pwd)
loopxfer=$top/tools/loopxfer/loopxfer
size_mib=4

skip_all() {
	echo "1..1"
	echo "ok 1 crypto # SKIP $*"
	exit 0
}

if [[ $LOOP_STOCK == 1 || -z $LOOP_MODULE ]]; then
	skip_all "the stock driver has no transfers"
fi
[[ $(id -u) == 0 ]] || skip_all "needs root"
command -v cryptsetup >/dev/null ||
	skip_all "cryptsetup not installed (scripts/setup-deps installs it)"
modprobe -q dm-crypt 2>/dev/null || skip_all "no dm-crypt module"
[[ -x $loopxfer ]] || {
	echo "1..1"
	echo "not ok 1 crypto # $loopxfer not built (make -C tools/loopxfer)"
	exit 1
}

# The cryptoloop.ko beside the loop module under test, else an installed one.
cryptoloop_ko=${CRYPTOLOOP_MODULE:-$(dirname "$LOOP_MODULE")/cryptoloop.ko}
was_loaded=0
[[ -d /sys/module/cryptoloop ]] && was_loaded=1

work=$(mktemp -d "$(test_dir)/crypto.XXXXXX") || exit 1
img=$work/img
data=$work/data
key=$work/key
mnt=$work/mnt
dev=
mapped=

cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	[[ -n $mapped ]] && cryptsetup close "$mapped"
	[[ -n $dev ]] && "$loopxfer" detach "$dev"
	settle
	rm -rf "$work"
	((was_loaded)) || rmmod cryptoloop 2>/dev/null
}

load_cryptoloop() {
	[[ -d /sys/module/cryptoloop ]] && return 0
	if [[ -f $cryptoloop_ko ]]; then
		insmod "$cryptoloop_ko"
	else
		modprobe cryptoloop
	fi
	[[ -d /sys/module/cryptoloop ]] || fail "cryptoloop did not load"
}

setup_files() {
	head -c 64 /dev/urandom >"$key" &&
		chmod 600 "$key" &&
		truncate -s "${size_mib}M" "$img" &&
		head -c "${size_mib}M" /dev/urandom >"$data" &&
		mkdir "$mnt"
}

# attach ARGS...: loopxfer attach ... "$img", the device into $dev.
attach() {
	dev=$("$loopxfer" attach "$@" "$img") || return 1
	[[ -b $dev ]] || fail "loopxfer printed '$dev'"
}

detach() {
	settle
	"$loopxfer" detach "$dev" || return 1
	dev=
}

# dm_open_file FILE CIPHER BITS [cryptsetup options]: FILE through dm-crypt.
dm_open_file() {
	local file=$1 cipher=$2 bits=$3

	shift 3
	mapped="loopxfer-test"
	cryptsetup open --type plain --cipher "$cipher" --key-size "$bits" \
		--key-file "$key" --offset 0 --skip 0 "$@" "$file" "$mapped" ||
		{ mapped=; return 1; }
}

# dm_open CIPHER BITS [cryptsetup options]: the image through dm-crypt.
dm_open() {
	dm_open_file "$img" "$@"
}

dm_close() {
	settle
	cryptsetup close "$mapped" || return 1
	mapped=
}

# Fresh random data, so no step can pass on what an earlier one left.
new_data() {
	head -c "$1" /dev/urandom >"$data"
}

# same FILE1 FILE2 BYTES [SKIP1 [SKIP2]]: cmp of BYTES bytes.
same() {
	cmp -n "$3" -i "${4:-0}:${5:-0}" "$1" "$2"
}

# dm_reads_data CIPHER BITS BYTES: dm-crypt reads $data's first BYTES
# from the image.
dm_reads_data() {
	dm_open "$1" "$2" &&
		same "$data" "/dev/mapper/$mapped" "$3" &&
		dm_close
}

# ours_to_dm CIPHER BITS [OUR_CIPHER]: written by us (with OUR_CIPHER,
# the same cipher spelled another way), read by dm-crypt.
ours_to_dm() {
	local n=$((size_mib << 20))

	new_data "$n" &&
		attach -e "${3:-$1}" -s "$2" -k "$key" &&
		"$loopxfer" status "$dev" &&
		dd if="$data" of="$dev" bs=1M oflag=direct status=none &&
		detach &&
		dm_reads_data "$1" "$2" "$n"
}

# dm_to_ours CIPHER BITS [OUR_CIPHER]: written by dm-crypt, read by us.
dm_to_ours() {
	local n=$((size_mib << 20))

	new_data "$n" &&
		dm_open "$1" "$2" &&
		dd if="$data" of="/dev/mapper/$mapped" bs=1M oflag=direct status=none &&
		dm_close &&
		attach -e "${3:-$1}" -s "$2" -k "$key" &&
		same "$data" "$dev" "$n" &&
		detach
}

# Our -o and --iv-offset are cryptsetup's --offset and --skip; with
# 4096-byte blocks and direct I/O the IVs still count 512-byte sectors.
offsets_match_dm() {
	local n=$(((size_mib - 1) << 20))

	new_data "$n" &&
		attach -e aes-xts-plain64 -s 256 -k "$key" -o 1M --iv-offset 2048 &&
		dd if="$data" of="$dev" bs=64k status=none conv=fsync &&
		detach &&
		dm_open aes-xts-plain64 256 --offset 2048 --skip 2048 &&
		same "$data" "/dev/mapper/$mapped" "$n" &&
		dm_close &&
		new_data "$n" &&
		dm_open aes-cbc-essiv:sha256 256 --offset 2048 &&
		dd if="$data" of="/dev/mapper/$mapped" bs=1M oflag=direct status=none &&
		dm_close &&
		attach -e aes-cbc-essiv:sha256 -k "$key" -o 1M -b 4096 --direct-io &&
		"$loopxfer" status "$dev" | grep -q 'flags:.*direct-io' &&
		expect_eq "sector size" 4096 \
			"$(cat "/sys/block/${dev#/dev/}/queue/logical_block_size")" &&
		same "$data" "$dev" "$n" &&
		detach
}

# in_quarters write|read: four dd processes at once, each on a quarter of
# the device with 16 KiB direct I/O: writing $data, or reading into
# $work/back0..3.  Fails if any of them does.
in_quarters() {
	local q=$((size_mib << 4)) i	# 16 KiB blocks in a quarter
	local -a pids=()

	for i in 0 1 2 3; do
		if [[ $1 == write ]]; then
			dd if="$data" of="$dev" bs=16k skip=$((i * q)) \
				seek=$((i * q)) count=$q oflag=direct status=none &
		else
			dd if="$dev" of="$work/back$i" bs=16k skip=$((i * q)) \
				count=$q iflag=direct status=none &
		fi
		pids+=($!)
	done
	wait_all "${pids[@]}" || fail "a ${1}r of a quarter failed"
}

# Four writers at once, then four readers: requests in flight together,
# which the workers of two CPUs share (loop_wake_worker()).  dm-crypt
# must read what was written, and so must our readers.
parallel_io() {
	local n=$((size_mib << 20))

	new_data "$n" &&
		attach -e aes-xts-plain64 -s 512 -k "$key" &&
		in_quarters write &&
		in_quarters read &&
		cat "$work"/back[0-3] >"$work/back" &&
		same "$data" "$work/back" "$n" &&
		detach &&
		dm_reads_data aes-xts-plain64 512 "$n"
}

# read_direct DEV OUT OFFSET BYTES: an O_DIRECT read of DEV into memory
# 512 bytes past a page boundary, so that every segment of the requests
# starts and ends off a page boundary; what it read goes to OUT.  The
# memory holds 0x77 bytes before: a byte the read leaves alone is seen.
read_direct() {
	python3 - "$@" <<'EOF'
import mmap, os, sys
dev, out, off, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
mem = mmap.mmap(-1, n + 4096)
view = memoryview(mem)[512:512 + n]
view[:] = b"\x77" * n
got = 0
while got < n:
    r = os.preadv(fd, [view[got:]], off + got)
    if r <= 0:
        sys.exit("%s: read %d of %d bytes" % (dev, got, n))
    got += r
with open(out, "wb") as f:
    f.write(view)
EOF
}

# reads_match EXPECTED OFFSET BYTES WHAT: the device's BYTES at OFFSET
# (read_direct) are EXPECTED's first BYTES, read with the image all in
# the page cache, then with none of it there.
reads_match() {
	local cold

	for cold in 0 1; do
		if ((cold)); then
			drop_caches
		else
			cat "$img" >/dev/null
		fi || return 1
		read_direct "$dev" "$work/back" "$2" "$3" &&
			same "$1" "$work/back" "$3" ||
			{ fail "cold=$cold: $4"; return 1; }
	done
}

# Buffered reads decrypt in place (LOOP_TRANSFER_READ_IN_PLACE): the
# image's bytes go straight into the request's pages, from the image's
# page cache in the reader's own context or from the file in a worker,
# and are decrypted there; beyond the end of a truncated image the raw
# data is zeroes.  Each way, into segments off page boundaries, the
# device must read what dm-crypt reads, byte for byte: of the image, and
# beyond its end of a copy extended with zeroes.  CBC is the mode whose
# decryption in place needs care (each ciphertext block is used twice).
reads_in_place() {
	local cipher=$1 bits=$2 n=$((size_mib << 20))
	local end=$((n - 65536 + 1000)) tail=131072
	local from=$((n - tail))

	new_data "$n" &&
		dm_open "$cipher" "$bits" &&
		dd if="$data" of="/dev/mapper/$mapped" bs=1M oflag=direct status=none &&
		dm_close &&
		attach -e "$cipher" -s "$bits" -k "$key" &&
		reads_match "$data" 0 "$n" "not what dm-crypt wrote" || return 1

	# The device keeps its size; dm-crypt reads the zeroes from a copy.
	truncate -s "$end" "$img" &&
		cp "$img" "$work/img_z" &&
		truncate -s "$n" "$work/img_z" &&
		dm_open_file "$work/img_z" "$cipher" "$bits" &&
		dd if="/dev/mapper/$mapped" of="$work/tail" bs=$tail \
			skip=$((from / tail)) count=1 iflag=direct status=none &&
		dm_close &&
		reads_match "$work/tail" "$from" "$tail" \
			"the end is not what dm-crypt reads" || return 1
	detach &&
		rm -f "$work/img_z" &&
		truncate -s "$n" "$img"
}

# A partition table on an encrypted device: the partition's data is where
# dm-crypt sees it.
partitions() {
	local part n=$((2 << 20))

	new_data "$n" &&
		attach -e aes-xts-plain64 -s 512 -k "$key" -P &&
		echo 'start=2048, size=4096, type=83' | sfdisk -q "$dev" &&
		settle &&
		part=${dev}p1 &&
		wait_for 10 test -b "$part" &&
		dd if="$data" of="$part" bs=1M oflag=direct status=none &&
		detach &&
		dm_open aes-xts-plain64 512 &&
		same "$data" "/dev/mapper/$mapped" "$n" 0 $((2048 * 512)) &&
		sfdisk -d "/dev/mapper/$mapped" | grep -q 'start= *2048, size= *4096' &&
		dm_close
}

ext4_roundtrip() {
	local i

	truncate -s 64M "$img" &&
		attach -e aes-xts-plain64 -s 512 -k "$key" &&
		mkfs.ext4 -q -F "$dev" &&
		mount "$dev" "$mnt" || return 1
	for i in 1 2 3; do
		head -c $((i * 1000003)) /dev/urandom >"$mnt/file$i" || return 1
	done
	(cd "$mnt" && sha256sum file*) >"$work/sums" &&
		umount "$mnt" &&
		detach &&
		attach -e aes-xts-plain64 -s 512 -k "$key" &&
		mount "$dev" "$mnt" &&
		(cd "$mnt" && sha256sum --quiet -c "$work/sums") &&
		umount "$mnt" &&
		e2fsck -fn "$dev" &&
		detach
}

# And the same file system opens through dm-crypt.
ext4_through_dm() {
	dm_open aes-xts-plain64 512 &&
		e2fsck -fn "/dev/mapper/$mapped" &&
		mount -o ro "/dev/mapper/$mapped" "$mnt" &&
		(cd "$mnt" && sha256sum --quiet -c "$work/sums") &&
		umount "$mnt" &&
		dm_close
}

# GET_STATUS64 then SET_STATUS64 of itself (what a tool changing a flag
# does) on a device with a long key: the status holds only the key's head,
# but asks for the transfer the device has, so the device keeps its whole
# key and goes on reading and writing with it, as cryptsetup sees.
status_roundtrip() {
	python3 - "$1" <<'EOF'
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
info = bytearray(232)                  # struct loop_info64
fcntl.ioctl(fd, 0x4C05, info)          # LOOP_GET_STATUS64
fcntl.ioctl(fd, 0x4C04, info)          # LOOP_SET_STATUS64
EOF
}

long_key_keeps_key() {
	local n=$((1 << 20))

	new_data "$n" &&
		attach -e aes-xts-plain64 -s 512 -k "$key" &&
		status_roundtrip "$dev" &&
		"$loopxfer" status "$dev" | grep -q 'key size: *512 bits' &&
		dd if="$data" of="$dev" bs=1M oflag=direct status=none &&
		same "$data" "$dev" "$n" &&
		detach &&
		dm_reads_data aes-xts-plain64 512 "$n"
}

# A wrong key is not detectable by the device: reads succeed with garbage.
wrong_key() {
	local other=$work/other

	head -c 64 /dev/urandom >"$other" &&
		dev=$("$loopxfer" attach -e aes-xts-plain64 -s 512 -k "$other" "$img") &&
		dd if="$dev" of="$work/garbage" bs=1M count=8 iflag=direct status=none ||
		return 1
	if cmp -s -n $((8 << 20)) "$work/garbage" "$img"; then
		fail "the wrong key read back the raw image"
		return 1
	fi
	dm_open aes-xts-plain64 512 &&
		dd if="/dev/mapper/$mapped" of="$work/right" bs=1M count=8 status=none &&
		dm_close || return 1
	if cmp -s -n $((8 << 20)) "$work/garbage" "$work/right"; then
		fail "the wrong key decrypted correctly"
		return 1
	fi
	detach
}

# Another user with write access to the device cannot re-key it, nor
# load a long key into it; root can.
ownership() {
	local out

	attach -e aes-xts-plain64 -s 512 -k "$key" && chmod 666 "$dev" ||
		return 1
	# The key itself, on standard input: the user could not open it.
	if out=$(setpriv --reuid=1000 --regid=1000 --clear-groups \
		"$loopxfer" set -e aes-xts-plain64 -s 512 --key-stdin "$dev" \
		2>&1 <"$key") ||
	   [[ $out != *"not permitted"* ]]; then
		fail "another user could re-key the device, or failed otherwise: '$out'"
		return 1
	fi
	if out=$(setpriv --reuid=1000 --regid=1000 --clear-groups \
		"$loopxfer" set -e none "$dev" 2>&1); then
		fail "another user removed the key: '$out'"
		return 1
	fi
	# LOOP_CRYPTO_SET_KEY directly: EPERM, not EINVAL for the wrong key.
	out=$(setpriv --reuid=1000 --regid=1000 --clear-groups python3 - "$dev" <<'EOF' 2>&1
import errno, fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.ioctl(fd, 0x40444C40, bytes(68))  # LOOP_CRYPTO_SET_KEY
    print("accepted")
except OSError as e:
    print(errno.errorcode[e.errno])
EOF
)
	expect_eq "LOOP_CRYPTO_SET_KEY by another user" EPERM "$out" || return 1
	chmod 660 "$dev" &&
		"$loopxfer" set -e aes-cbc-essiv:sha256 -k "$key" "$dev" &&
		"$loopxfer" status "$dev" | grep -q 'aes-cbc-essiv:sha256' &&
		"$loopxfer" status "$dev" | grep -q 'key size: *256 bits' &&
		detach
}

# rmmod is refused while a device uses the transfer, and works after.
rmmod_while_in_use() {
	attach -e aes-cbc-plain -s 128 -k "$key" || return 1
	if rmmod cryptoloop 2>/dev/null; then
		fail "cryptoloop unloaded while in use"
		return 1
	fi
	[[ -d /sys/module/cryptoloop ]] || { fail "cryptoloop gone"; return 1; }
	dd if="$dev" of=/dev/null bs=4k count=1 status=none && detach || return 1
	wait_for 10 rmmod cryptoloop ||
		{ fail "cryptoloop does not unload after detach"; return 1; }
	[[ ! -d /sys/module/cryptoloop ]] || fail "cryptoloop still loaded"
}

# capi_matches_dm CIPHER BITS CAPI_SPEC: the crypto API's own name for the
# cipher, both ways, buffered reads (in place) included.
capi_matches_dm() {
	ours_to_dm "$1" "$2" "$3" && dm_to_ours "$1" "$2" "$3"
}

# cryptd queues every request to a worker of its own and answers
# -EINPROGRESS: each page's sectors are all in flight before the first
# wait, and must come back as dm-crypt's.  cryptd wraps a synchronous
# implementation named by its driver name (its instance keeps the child's
# algorithm name), so the generic AES in the generic XTS.
async_name="capi:cryptd(xts(ecb(aes-generic)))-plain64"
async_matches_dm() {
	local n=$((size_mib << 20))

	capi_matches_dm aes-xts-plain64 512 "$async_name" || return 1
	grep -qx 'driver *: cryptd(xts(ecb(aes-generic)))' /proc/crypto ||
		{ fail "cryptd's instance is not in /proc/crypto"; return 1; }
	# Buffered writes (written back by the workers), then cold reads.
	new_data "$n" &&
		attach -e "$async_name" -s 512 -k "$key" &&
		dd if="$data" of="$dev" bs=64k status=none conv=fsync &&
		drop_caches &&
		same "$data" "$dev" "$n" &&
		detach &&
		dm_reads_data aes-xts-plain64 512 "$n"
}

# Malformed capi: names are EINVAL, and bind nothing.
capi_bad_names() {
	local name out

	# (Names without a '-' loopxfer refuses itself.)
	for name in "capi:-plain64" "capi:xts(aes)-" \
		"capi:xts(aes)-plain64:sha256" "capi:cbc(aes)-essiv" \
		"capi:cbc(aes)-essiv:" "capi:xts(aes)-nosuchiv" \
		"capi:nosuchmode(aes)-plain64"; do
		if out=$("$loopxfer" attach -e "$name" -s 256 -k "$key" \
			"$img" 2>&1); then
			fail "$name attached as $out"
			dev=$out
			detach
			return 1
		fi
		[[ $out == *"invalid argument"* ]] ||
			{ fail "$name: $out"; return 1; }
	done
}

ciphers=(
	"aes-cbc-plain 128"
	"aes-cbc-plain 256"
	"aes-cbc-plain64 256"
	"aes-cbc-essiv:sha256 256"
	"aes-xts-plain64 256"
	"aes-xts-plain64 512"
)
if [[ -n ${LOOP_CRYPTO_CIPHERS:-} ]]; then
	picked=()
	for want in ${LOOP_CRYPTO_CIPHERS//,/ }; do
		found=
		for c in "${ciphers[@]}"; do
			[[ ${c/ /:} == "$want" ]] && found=$c
		done
		[[ -n $found ]] || {
			echo "crypto_test: LOOP_CRYPTO_CIPHERS: no cipher $want" >&2
			exit 1
		}
		picked+=("$found")
	done
	ciphers=("${picked[@]}")
fi

# Buffered reads decrypted in place, per cipher: those of the list above
# that LOOP_CRYPTO_CIPHERS kept, or the last one if it kept neither.
in_place=("cbc_essiv aes-cbc-essiv:sha256 256" "xts aes-xts-plain64 512")
kept=()
for p in "${in_place[@]}"; do
	read -r _ cipher bits <<<"$p"
	for c in "${ciphers[@]}"; do
		[[ $c == "$cipher $bits" ]] && kept+=("$p")
	done
done
((${#kept[@]})) || kept=("${in_place[-1]}")
in_place=("${kept[@]}")

plan $((2 + 2 * ${#ciphers[@]} + 12 + ${#in_place[@]}))
step load_cryptoloop load_cryptoloop
step setup_files setup_files
for c in "${ciphers[@]}"; do
	read -r cipher bits <<<"$c"
	step "ours_to_dm_crypt_${cipher}_${bits}" ours_to_dm "$cipher" "$bits"
	step "dm_crypt_to_ours_${cipher}_${bits}" dm_to_ours "$cipher" "$bits"
done
step capi_cbc_essiv_matches_dm_crypt \
	capi_matches_dm aes-cbc-essiv:sha256 256 "capi:cbc(aes)-essiv:sha256"
step async_cipher_batches_match_dm_crypt async_matches_dm
step capi_malformed_names_einval capi_bad_names
step offsets_blocksize_dio_match_dm_crypt offsets_match_dm
for p in "${in_place[@]}"; do
	read -r name cipher bits <<<"$p"
	step "buffered_reads_in_place_match_dm_crypt_$name" \
		reads_in_place "$cipher" "$bits"
done
step parallel_direct_io_matches_dm_crypt parallel_io
step partitions_on_encrypted_device partitions
step ext4_survives_reattach_and_e2fsck ext4_roundtrip
step ext4_opens_through_dm_crypt ext4_through_dm
step long_key_status_roundtrip_keeps_key long_key_keeps_key
step wrong_key_reads_garbage_not_errors wrong_key
step key_ownership_other_user_eperm ownership
step rmmod_refused_in_use_then_works rmmod_while_in_use
tap_status
