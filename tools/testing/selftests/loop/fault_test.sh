#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The loop driver when things go wrong underneath it:
#
#  - ENOSPC: a sparse backing file on a nearly full ext4 (on a brd RAM
#    disk); writes through the device fail (error, not hang, not false
#    success), then space is freed and the device must work again, with
#    everything written before the failure intact.  Several seeded cycles,
#    buffered and direct I/O, O_DIRECT and fsync'ed writes.
#  - the backing file truncated under a bound device: no old data beyond
#    the new end, writes there extend or fail cleanly, losetup -c shrinks.
#  - fault injection (failslab, fail_page_alloc, fail_make_request), only
#    where the kernel has it: ioctls fail cleanly or succeed, nothing is
#    left half done, I/O errors of the disk below reach the caller.
#  - unloading the module while a device is bound, open or busy fails
#    and changes nothing; after that the module unloads and comes back.
#
# LOOP_FAULT_SEED (default: random, printed), LOOP_FAULT_CYCLES (4) and
# LOOP_FAULT_ITERS (ioctls under fault injection, 300) steer it.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

MiB=1048576
seed=${LOOP_FAULT_SEED:-$(((RANDOM << 15) | RANDOM))}
cycles=${LOOP_FAULT_CYCLES:-4}
iters=${LOOP_FAULT_ITERS:-300}
# seconds any single command may take: TCG on a busy host is slow
tmo=${LOOP_FAULT_TIMEOUT:-300}
work=$(mktemp -d "$(test_dir)/fault_test.XXXXXX") || exit 1
work=$(readlink -f "$work")
fs=$work/fs
devs=()
brd_loaded=
bg_pid=
dbg=/sys/kernel/debug

cleanup() {
	[[ -n $bg_pid ]] && kill "$bg_pid" 2>/dev/null
	fi_off
	[[ -e /sys/block/ram1/make-it-fail ]] &&
		echo 0 >/sys/block/ram1/make-it-fail
	release_all "$fs" "$work" "${devs[@]}"
	for d in /sys/block/loop*; do
		[[ $(cat "$d/loop/backing_file" 2>/dev/null) == /dev/ram* ]] &&
			losetup -d "/dev/${d##*/}"
	done
	settle
	[[ -n $brd_loaded ]] && rmmod brd
	[[ -n $autoload_blocked ]] && unblock_autoload
	loaded || modprobe loop
}

# Injection off, whatever was on.
fi_off() {
	local f

	for f in failslab fail_page_alloc fail_make_request; do
		[[ -d $dbg/$f ]] || continue
		echo 0 >"$dbg/$f/probability"
		echo 0 >"$dbg/$f/times"
	done 2>/dev/null
	return 0
}

# gen SEED BYTES FILE: reproducible random data
gen() {
	python3 -c '
import random, sys
r = random.Random(int(sys.argv[1]))
sys.stdout.buffer.write(r.randbytes(int(sys.argv[2])))' "$1" "$2" >"$3"
}

# attach ARGS...: losetup -f --show ARGS into $dev, remembered for cleanup
attach() {
	dev=$(timeout "$tmo" losetup -f --show "$@") || fail "losetup -f $*" ||
		return 1
	devs+=("$dev")
	settle
}

onoff() {
	if (($1)); then echo on; else echo off; fi
}

unbound() {
	[[ ! -e /sys/block/${1#/dev/}/loop ]]
}

detach() {
	local d=$1 i

	settle
	timeout "$tmo" losetup -d "$d" || fail "losetup -d $d" || return 1
	wait_for 60 unbound "$d" || fail "$d still bound after losetup -d" ||
		return 1
	for i in "${!devs[@]}"; do
		[[ ${devs[i]} == "$d" ]] && unset "devs[i]"
	done
	settle
}

# readdev DEV OFF LEN (bytes, multiples of 64 KiB): O_DIRECT read to stdout
readdev() {
	timeout "$tmo" dd if="$1" bs=64k skip=$(($2 / 65536)) \
		count=$(($3 / 65536)) iflag=direct status=none
}

# devsame DEV FILE LEN WHAT: DEV's first LEN bytes (O_DIRECT) are FILE's
devsame() {
	local rc

	readdev "$1" 0 "$3" >"$work/rd"
	rc=$?
	((rc == 124)) && fail "$4: read of $1 hangs" && return 1
	((rc == 0)) || fail "$4: read of $1 failed ($rc)" || return 1
	same "$work/rd" "$2" 0 "$3" "$4"
}

# same FILE1 FILE2 OFF LEN WHAT: byte for byte equal over [OFF, OFF+LEN)
same() {
	cmp -n "$4" <(tail -c +$(($3 + 1)) "$1") <(tail -c +$(($3 + 1)) "$2") ||
		fail "$5: bytes differ in [$3, $(($3 + $4)))"
}

setup() {
	echo "seed $seed"
	mkdir -p "$fs" || return 1
	if [[ -e /sys/module/brd ]]; then
		fail "brd is already loaded: not taking it over"
		return 1
	fi
	modprobe brd rd_nr=2 rd_size=32768 || fail "no brd" || return 1
	brd_loaded=1
	wait_for 10 test -b /dev/ram1 || fail "no /dev/ram1" || return 1
	mkfs.ext4 -q -F -m 0 /dev/ram0 && mount /dev/ram0 "$fs" || return 1
	RANDOM=$seed
}

avail() {
	df -B1 --output=avail "$fs" | tail -n 1 | tr -d ' '
}

# One ENOSPC cycle: see the top of the file.
enospc_cycle() {
	local c=$1 dio=$2 back=$fs/back.img data=$work/data cs k n i
	local wflags left rc free0 size end

	cs=$(((RANDOM % 2) ? 256 * 1024 : MiB))
	left=$(((4 + RANDOM % 7) * MiB))
	if ((RANDOM % 2)); then
		wflags=oflag=direct
	else
		wflags=conv=fsync
	fi
	# enough data for what can fit, and the writes after recovery
	size=$((left + 8 * MiB))
	gen $((seed + c)) $size "$data" || return 1
	truncate -s $((32 * MiB)) "$back" || return 1
	free0=$(avail)
	fallocate -l $((free0 - left)) "$fs/filler" || return 1
	sync -f "$fs"
	echo "cycle $c: dio=$dio chunk=$cs $wflags free=$(avail) of $free0"
	if ((dio)); then
		attach --direct-io=on "$back" || return 1
		expect_eq "$dev dio" 1 "$(cat "/sys/block/${dev#/dev/}/loop/dio")" ||
			return 1
	else
		attach "$back" || return 1
	fi
	k=
	for ((i = 0; i * cs < size; i++)); do
		timeout "$tmo" dd if="$data" of="$dev" bs="$cs" skip=$i seek=$i \
			count=1 $wflags conv=notrunc status=none 2>"$work/err"
		rc=$?
		((rc == 124)) && fail "write of chunk $i hangs" && return 1
		if ((rc != 0)); then
			k=$i
			echo "chunk $i failed: $(cat "$work/err")"
			break
		fi
	done
	[[ -n $k ]] || fail "all $size bytes written with $left free" ||
		return 1
	((k * cs <= left + MiB)) ||
		fail "$((k * cs)) bytes stored with only $left free" || return 1
	# everything reported written is stored, before and after freeing
	devsame "$dev" "$data" $((k * cs)) \
		"before freeing space" || return 1
	rm "$fs/filler" && sync -f "$fs" || return 1
	devsame "$dev" "$data" $((k * cs)) \
		"after freeing space" || return 1
	# the device works again: the failed chunk and a few more
	end=$((k + 4 * MiB / cs))
	for ((i = k; i < end && i * cs < size; i++)); do
		timeout "$tmo" dd if="$data" of="$dev" bs="$cs" skip=$i seek=$i \
			count=1 $wflags conv=notrunc status=none ||
			fail "chunk $i: write fails after space was freed" ||
			return 1
	done
	n=$((i * cs))
	devsame "$dev" "$data" $n "device after recovery" ||
		return 1
	detach "$dev" || return 1
	same "$back" "$data" 0 $n "backing file" || return 1
	rm -f "$back" "$data"
}

enospc() {
	local c

	for ((c = 0; c < cycles; c++)); do
		enospc_cycle "$c" $((c % 2)) || return 1
	done
}

# The backing file cut from 8 to 4 MiB under a bound device.
truncated() {
	local dio=$1 f=$work/trunc.img data=$work/trunc.data
	local new=$work/trunc.new out=$work/trunc.out size

	gen $((seed + 100 + dio)) $((8 * MiB)) "$data" &&
		cp "$data" "$f" && gen $((seed + 200)) $MiB "$new" || return 1
	attach --direct-io="$(onoff "$dio")" "$f" || return 1
	devsame "$dev" "$data" $((8 * MiB)) \
		"before truncation" || return 1
	truncate -s $((4 * MiB)) "$f" || return 1
	devsame "$dev" "$data" $((4 * MiB)) \
		"below the new end" || return 1
	# beyond the end: zeroes or an error, never the old data
	if readdev "$dev" $((4 * MiB)) $((4 * MiB)) >"$out"; then
		cmp -n $((4 * MiB)) "$out" /dev/zero ||
			fail "O_DIRECT read beyond the end: not zeroes" ||
			return 1
	else
		echo "O_DIRECT read beyond the end failed (allowed)"
	fi
	blockdev --flushbufs "$dev" || return 1
	if timeout "$tmo" dd if="$dev" bs=$MiB skip=4 count=4 status=none >"$out"
	then
		cmp -n $((4 * MiB)) "$out" /dev/zero ||
			fail "buffered read beyond the end: not zeroes" ||
			return 1
	fi
	# a write beyond the end extends the file or fails
	if timeout "$tmo" dd if="$new" of="$dev" bs=$MiB seek=6 oflag=direct \
		conv=notrunc,fsync status=none; then
		size=$(stat -c %s "$f")
		expect_eq "file size after writing beyond its end" \
			$((7 * MiB)) "$size" || return 1
		# (at 6 MiB in the file, from the start of $new)
		cmp -n $MiB <(tail -c +$((6 * MiB + 1)) "$f") "$new" ||
			fail "written beyond the end: differs" || return 1
		cmp -n $((2 * MiB)) <(tail -c +$((4 * MiB + 1)) "$f") \
			/dev/zero || fail "file hole not zeroes" || return 1
	else
		size=$(stat -c %s "$f")
		echo "write beyond the end failed, file size $size"
		((size <= 7 * MiB)) || fail "file grew to $size" || return 1
	fi
	same "$f" "$data" 0 $((4 * MiB)) "file below the cut" || return 1
	timeout "$tmo" losetup -c "$dev" || fail "losetup -c" || return 1
	expect_eq "size after losetup -c" "$size" \
		"$(blockdev --getsize64 "$dev")" || return 1
	devsame "$dev" "$data" $((4 * MiB)) \
		"after losetup -c" || return 1
	detach "$dev" && rm -f "$f" "$data" "$new" "$out"
}

have_fi() {
	[[ -d $dbg/failslab && -d $dbg/fail_page_alloc ]]
}

# Set up failslab and fail_page_alloc: only tasks with make-it-fail,
# sleeping allocations too, quietly.
fi_setup() {
	local f

	for f in failslab fail_page_alloc; do
		echo 1 >"$dbg/$f/task-filter" &&
			echo N >"$dbg/$f/ignore-gfp-wait" &&
			echo 0 >"$dbg/$f/verbose" &&
			echo 0 >"$dbg/$f/interval" || return 1
	done
	echo 0 >"$dbg/fail_page_alloc/min-order"
}

# ioctls with one allocation failing at a random point in each; the
# helper checks every result and the state after it.
ioctls_injected() {
	local img=$work/fi.img rc

	fi_setup || fail "cannot set up fault injection" || return 1
	gen $((seed + 300)) $((4 * MiB)) "$img" || return 1
	timeout -k 5 600 python3 - "$img" "$seed" "$iters" "$dbg" <<-'EOF'
	import errno, fcntl, os, random, struct, sys, time

	img, seed, iters, dbg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
	rnd = random.Random(seed)
	SET_FD, CLR_FD, SET_STATUS64, GET_STATUS64 = 0x4C00, 0x4C01, 0x4C04, 0x4C05
	SET_CAPACITY, SET_DIRECT_IO, SET_BLOCK_SIZE, CONFIGURE = 0x4C07, 0x4C08, 0x4C09, 0x4C0A
	CTL_ADD, CTL_REMOVE, CTL_GET_FREE = 0x4C80, 0x4C81, 0x4C82
	INFO = "<5Q4I64s64s32s2Q"
	clean = {errno.ENOMEM, errno.EBUSY, errno.EAGAIN, errno.EINTR, errno.EIO}
	mif = os.open("/proc/self/make-it-fail", os.O_WRONLY)

	def put(path, val):
	    with open(path, "w") as f:
	        f.write(str(val))

	def inject(on):
	    if on:
	        which = rnd.choice(["failslab", "fail_page_alloc"])
	        put(f"{dbg}/{which}/space", rnd.randrange(0, 4096 if which == "failslab" else 65536))
	        put(f"{dbg}/{which}/times", 1)
	        put(f"{dbg}/{which}/probability", 100)
	        os.write(mif, b"1")
	    else:
	        os.write(mif, b"0")
	        for w in ("failslab", "fail_page_alloc"):
	            put(f"{dbg}/{w}/probability", 0)
	            put(f"{dbg}/{w}/times", 0)

	stats = {}

	def call(fd, req, arg, name):
	    inject(True)
	    try:
	        r, e = fcntl.ioctl(fd, req, arg), 0
	    except OSError as x:
	        r, e = None, x.errno
	    finally:
	        inject(False)
	    stats.setdefault(name, [0, 0])[0 if e == 0 else 1] += 1
	    if e and e not in clean:
	        sys.exit(f"{name}: unexpected errno {errno.errorcode.get(e, e)}")
	    return r, e

	def info(offset=0, name=b""):
	    return struct.pack(INFO, 0, 0, 0, offset, 0, 0, 0, 0, 0, name, b"", b"", 0, 0)

	def remove(nr):
	    # udev opens a new device to probe it, and LOOP_CTL_REMOVE says
	    # EBUSY while anyone has it open: wait for udev, 30 s at most
	    for _ in range(600):
	        try:
	            return fcntl.ioctl(ctl, CTL_REMOVE, nr)
	        except OSError as x:
	            if x.errno != errno.EBUSY:
	                raise
	        time.sleep(0.05)
	    sys.exit(f"LOOP_CTL_REMOVE {nr}: still EBUSY after 30 s")

	def bound(nr):
	    return os.path.exists(f"/sys/block/loop{nr}/loop")

	ctl = os.open("/dev/loop-control", os.O_RDWR)
	back = os.open(img, os.O_RDWR)
	data = open(img, "rb").read(65536)

	def check_data(fd, what):
	    os.lseek(fd, 0, 0)
	    if os.read(fd, 65536) != data:
	        sys.exit(f"{what}: wrong data")

	for i in range(iters):
	    op = rnd.choice(["configure", "set_fd_status", "ctl_add", "set_misc"])
	    if op == "ctl_add":
	        nr = 900 + rnd.randrange(50)
	        if os.path.exists(f"/sys/block/loop{nr}"):
	            remove(nr)
	        r, e = call(ctl, CTL_ADD, nr, op)
	        if e:
	            # nothing half made: the same number can be added now
	            if os.path.exists(f"/sys/block/loop{nr}"):
	                sys.exit(f"LOOP_CTL_ADD {nr} failed, device there")
	            r = fcntl.ioctl(ctl, CTL_ADD, nr)
	        if r != nr:
	            sys.exit(f"LOOP_CTL_ADD {nr} returned {r}")
	        remove(nr)
	        continue
	    nr = fcntl.ioctl(ctl, CTL_GET_FREE)
	    dev = f"/dev/loop{nr}"
	    fd = os.open(dev, os.O_RDWR)
	    try:
	        if op == "configure":
	            cfg = struct.pack("<II", back, 0) + info() + bytes(64)
	            r, e = call(fd, CONFIGURE, cfg, op)
	            if e and bound(nr):
	                sys.exit(f"LOOP_CONFIGURE failed, {dev} bound")
	            if e:
	                fcntl.ioctl(fd, CONFIGURE, cfg)
	        else:
	            fcntl.ioctl(fd, SET_FD, back)
	        if op == "set_fd_status":
	            r, e = call(fd, SET_STATUS64, info(4096, b"fault"), op)
	            got = struct.unpack(INFO, fcntl.ioctl(fd, GET_STATUS64, bytes(232)))
	            want = 0 if e else 4096
	            if got[3] != want:
	                sys.exit(f"SET_STATUS64 {errno.errorcode.get(e, 'ok')}: offset {got[3]}")
	            # back to offset 0, where check_data() looks
	            fcntl.ioctl(fd, SET_STATUS64, info(0))
	        elif op == "set_misc":
	            call(fd, SET_CAPACITY, 0, "set_capacity")
	            call(fd, SET_DIRECT_IO, rnd.randrange(2), "set_direct_io")
	            call(fd, SET_BLOCK_SIZE, rnd.choice([512, 4096]), "set_block_size")
	            fcntl.ioctl(fd, SET_DIRECT_IO, 0)
	            fcntl.ioctl(fd, SET_BLOCK_SIZE, 512)
	        got = struct.unpack(INFO, fcntl.ioctl(fd, GET_STATUS64, bytes(232)))
	        if got[3] != 0:
	            sys.exit(f"{dev}: offset {got[3]}")
	        check_data(fd, f"{op} on {dev}")
	        fcntl.ioctl(fd, CLR_FD)
	    finally:
	        os.close(fd)
	for name, (ok, bad) in sorted(stats.items()):
	    print(f"{name}: {ok} succeeded, {bad} failed cleanly")
	if sum(b for _, b in stats.values()) == 0:
	    sys.exit("no injected failure was seen")
	EOF
	rc=$?
	fi_off
	((rc == 0)) || fail "ioctls under fault injection (status $rc)"
}

# After injection: every device unbound or bound to a known file, and a
# device binds and moves data exactly.
consistent_after() {
	local img=$work/fi.img d

	settle
	for d in /sys/block/loop*; do
		[[ -e $d/loop ]] || continue
		echo "bound: ${d##*/} $(cat "$d/loop/backing_file")"
		[[ $(cat "$d/loop/backing_file") == "$img" ]] &&
			fail "${d##*/} still bound to $img" && return 1
	done
	attach "$img" || return 1
	cmp "$dev" "$img" || fail "data through $dev" || return 1
	detach "$dev"
}

# I/O errors of the disk below: a loop device on /dev/ram1 directly.
make_request_fails() {
	local dio=$1 data=$work/mr.data out=$work/mr.out d=$dbg/fail_make_request

	gen $((seed + 400 + dio)) $((4 * MiB)) "$data" || return 1
	dd if="$data" of=/dev/ram1 bs=$MiB oflag=direct status=none || return 1
	attach --direct-io="$(onoff "$dio")" /dev/ram1 ||
		return 1
	echo 100 >"$d/probability" && echo -1 >"$d/times" &&
		echo 1 >"$d/interval" && echo 0 >"$d/verbose" || return 1
	blockdev --flushbufs /dev/ram1
	echo 1 >/sys/block/ram1/make-it-fail || return 1
	timeout "$tmo" dd if="$data" of="$dev" bs=$MiB count=1 oflag=direct \
		conv=notrunc,fsync status=none
	case $? in
	0) fail "write with the disk below failing succeeded" ;;
	124) fail "write with the disk below failing hangs" ;;
	esac
	echo 3 >/proc/sys/vm/drop_caches
	readdev "$dev" $MiB $MiB >"$out"
	case $? in
	0) fail "read with the disk below failing succeeded" ;;
	124) fail "read with the disk below failing hangs" ;;
	esac
	echo 0 >/sys/block/ram1/make-it-fail
	fi_off
	[[ -z $tap_step_failed ]] || return 1
	timeout "$tmo" dd if="$data" of="$dev" bs=$MiB oflag=direct \
		conv=notrunc,fsync status=none || fail "write after" || return 1
	devsame "$dev" "$data" $((4 * MiB)) \
		"after the disk below recovered" || return 1
	same /dev/ram1 "$data" 0 $((4 * MiB)) "ram1" || return 1
	detach "$dev"
}

refcnt() {
	cat /sys/module/loop/refcnt
}

# rmmod_refused WHILE [busy]: rmmod must fail as "in use" and leave the
# module as it was (its reference count too, unless "busy": then
# readers come and go)
rmmod_refused() {
	local err r0

	r0=$(refcnt)
	if err=$(rmmod loop 2>&1); then
		fail "rmmod loop succeeded while $1"
		return 1
	fi
	[[ $err == *"in use"* ]] || fail "rmmod while $1: $err" || return 1
	if err=$(modprobe -r loop 2>&1); then
		fail "modprobe -r loop succeeded while $1"
		return 1
	fi
	loaded || fail "module gone while $1" || return 1
	[[ $2 == busy ]] && return 0
	expect_eq "refcnt after refused rmmod ($1)" "$r0" "$(refcnt)"
}

unload_busy() {
	local img=$work/busy.img

	gen $((seed + 500)) $((16 * MiB)) "$img" || return 1
	attach "$img" || return 1
	rmmod_refused "$dev is bound" || return 1
	cmp "$dev" "$img" || fail "data after refused rmmod" || return 1
	# I/O in flight: readers in a loop
	(while :; do dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct \
		status=none; done) &
	bg_pid=$!
	sleep 0.5
	rmmod_refused "I/O runs on $dev" busy || return 1
	kill "$bg_pid" && wait "$bg_pid" 2>/dev/null
	bg_pid=
	expect_eq "backing file" "$img" \
		"$(cat "/sys/block/${dev#/dev/}/loop/backing_file")" || return 1
	detach "$dev" || return 1
	# an unbound device held open
	exec 7<"$dev" || return 1
	rmmod_refused "$dev is open"
	exec 7<&-
	[[ -z $tap_step_failed ]] || return 1
	exec 7</dev/loop-control || return 1
	rmmod_refused "/dev/loop-control is open"
	exec 7<&-
	[[ -z $tap_step_failed ]] || return 1
	settle
	# Autoload blocked, or an opener could load it again before the check.
	block_autoload || return 1
	unload loop || fail "rmmod after all was released" || return 1
	! loaded || fail "still loaded" || return 1
	unblock_autoload || return 1
	modprobe loop || fail "modprobe loop" || return 1
	loaded
}

for tool in losetup blockdev mkfs.ext4 fallocate python3 cmp; do
	if ! command -v $tool >/dev/null; then
		echo "1..0 # SKIP $tool not installed"
		exit 4
	fi
done
modprobe loop 2>/dev/null

plan 11
step "setup (seed $seed)" setup
step "ENOSPC and recovery, $cycles seeded cycles" enospc
step "backing file truncated, buffered" truncated 0
step "backing file truncated, direct I/O" truncated 1
if have_fi; then
	step "ioctls under failslab and fail_page_alloc" ioctls_injected
	step "state consistent after injection" consistent_after
else
	tap_n=$((tap_n + 2))
	echo "ok $((tap_n - 1)) ioctls under fault injection # SKIP no failslab/fail_page_alloc in $dbg"
	echo "ok $tap_n state after fault injection # SKIP no fault injection"
fi
if [[ -d $dbg/fail_make_request && -e /sys/block/ram1/make-it-fail ]]; then
	step "disk errors below, buffered" make_request_fails 0
	step "disk errors below, direct I/O" make_request_fails 1
else
	tap_n=$((tap_n + 2))
	echo "ok $((tap_n - 1)) disk errors below, buffered # SKIP no fail_make_request"
	echo "ok $tap_n disk errors below, direct I/O # SKIP no fail_make_request"
fi
if [[ $VM_GUEST == 1 && -e /sys/module/loop/initstate ]]; then
	step "rmmod refused while bound, busy or open" unload_busy
else
	tap_n=$((tap_n + 1))
	echo "ok $tap_n rmmod while busy # SKIP only in the test VM, loop modular"
fi
step "no loop device left" none_backed_by "$work"
step "loop module loaded" loaded
tap_status
