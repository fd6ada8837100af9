#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module's load racing its first users, as at boot: with loop not
# loaded, several losetup -f run at once beside a modprobe loop.  Each
# losetup opens /dev/loop-control (a static node, as systemd-tmpfiles
# makes it: opening it loads the module), asks for a free device and
# binds it, so the control device's ioctls, a device's open and the
# block major's probe meet a module that may still be in its init.
# Every losetup must succeed with a device of its own, of the block
# major /proc/devices gives loop (a device made before the driver knew
# its major would be refused by the block layer with a WARN, which
# fails the run), bound to its file and reading it back exact.  Rounds
# repeat it from an unloaded module; on the debug kernel, kmemleak's
# scan after the run finds what a load or an unload leaked.  Leaves the
# module loaded with default parameters, as the other tests expect.
#
# Those rounds rarely meet the load between its steps (the module with
# its control device registered before its block major, the order
# c80e69c fixed, passed 40 of them).  Where the module has fault
# injection (the debug kernel), slow rounds load it with slow_init=,
# which pauses the load for three seconds after each entry point goes
# live: two users and an open of a device node that has no device yet
# are let through in the first pause, two users in the second (started
# before the load, each waits at a gate for its pause).  Besides the
# checks above: the node's open made its device, of the major; the
# devices the load makes (max_loop) all exist, though users made some
# first, and the load logged no failure to make one; both pauses
# happened.  With the old order, the first pause's users made devices
# of major 0, which the block layer refuses with a WARN.  A slow_init=
# that does not parse fails the load and leaves nothing.
# Data is random from a printed seed.
#
# Environment: LOOP_TEST_SEED, LOOP_TEST_ROUNDS (default 6),
# LOOP_TEST_SLOW_ROUNDS (default 2).

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

seed=${LOOP_TEST_SEED:-$RANDOM$RANDOM}
rounds=${LOOP_TEST_ROUNDS:-6}
slow_rounds=${LOOP_TEST_SLOW_ROUNDS:-2}
users=4
work=
pids=()
gated_pid=
major=

cleanup() {
	# Detaches whatever a user bound, its file being $work/u*.img.
	[[ -n $work ]] && release_all "" "$work"
	# Not left loaded with slow_init= by a slow round that failed.
	[[ -n $(cat /sys/module/loop/parameters/slow_init 2>/dev/null) ]] &&
		unload
	loaded || modprobe loop
}

skip_if_loop_builtin load_race
if [[ $VM_GUEST != 1 ]]; then
	echo "1..1"
	echo "ok 1 load_race # SKIP unloads loop: runs only in the test VM"
	exit 0
fi
echo "# seed $seed (LOOP_TEST_SEED=$seed repeats this run)"
loaded || modprobe loop || exit 1
work=$(mktemp -d "$(test_dir)/load_race.XXXXXX") || exit 1

setup() {
	local j

	for ((j = 0; j < users; j++)); do
		pattern "$work/u$j.img" 1 "$j" || return 1
	done
}

# check_user J MAJOR: user J's device is its own, of MAJOR, bound to its
# file, and reads back exact.
check_user() {
	local j=$1 d name

	d=$(cat "$work/dev$j") && [[ -b $d ]] ||
		fail "losetup $j printed no device: '$d'" || return 1
	name=${d#/dev/}
	expect_eq "major of $d" "$2" \
		"$(cut -d: -f1 "/sys/block/$name/dev")" || return 1
	expect_eq "backing file of $d" "$work/u$j.img" \
		"$(cat "/sys/block/$name/loop/backing_file")" || return 1
	cmp "$d" "$work/u$j.img" || fail "$d differs from its file"
}

# start_user J: user J's losetup -f, in the background (its pid in pids).
start_user() {
	rm -f "$work/dev$1"
	losetup -f --show "$work/u$1.img" >"$work/dev$1" &
	pids+=($!)
}

# users_done: users 0..users-1, started in order, all got a device of
# their own, of loop's block major (left in $major), each bound to its
# file and reading it back; then detached.
users_done() {
	local j devs

	for j in "${!pids[@]}"; do
		wait "${pids[j]}" || fail "losetup -f of user $j failed" ||
			return 1
	done
	loaded || fail "loop not loaded after the round" || return 1
	major=$(awk '$2 == "loop" { print $1 }' /proc/devices)
	[[ -n $major ]] || fail "no loop block major in /proc/devices" || return 1
	for ((j = 0; j < users; j++)); do
		check_user "$j" "$major" || return 1
	done
	devs=$(sort -u "$work"/dev? | wc -l)
	expect_eq "distinct devices of $users users" "$users" "$devs" || return 1
	for ((j = 0; j < users; j++)); do
		losetup -d "$(cat "$work/dev$j")" || fail "detach of user $j" ||
			return 1
		rm -f "$work/dev$j"
	done
}

round() {
	local j

	unload || fail "cannot unload loop" || return 1
	pids=()
	for ((j = 0; j < users; j++)); do
		start_user "$j"
	done
	# Beside the users, who run in the background.  Its status is not
	# checked: vm-run's install rule makes modprobe a plain insmod,
	# which fails (EEXIST) when another load won.
	modprobe loop 2>/dev/null
	users_done
}

rounds() {
	local r

	for ((r = 0; r < rounds; r++)); do
		round || { echo "# round $r"; return 1; }
	done
}

# The module's state, by builtins only: these are polled in the pauses.
init_state() {
	local state=

	read -r state 2>/dev/null </sys/module/loop/initstate
	echo "$state"
}

# in_pause N: the module is loading, with N of its two entry points
# live (the block major, /dev/loop-control).
in_pause() {
	local live=0 name

	[[ $(init_state) == coming ]] || return 1
	while read -r _ name; do
		[[ $name == loop ]] && live=$((live + 1)) && break
	done </proc/devices
	[[ -e /sys/class/misc/loop-control ]] && live=$((live + 1))
	((live == $1))
}

# still_loading WHO: fails unless the load is still going on.
still_loading() {
	expect_eq "module state after $1 started" coming "$(init_state)"
}

# Users of a slow round are started before the load, each held at a
# gate (a FIFO) until its pause: forking a process under an emulated CPU
# with a debug kernel can take longer than a pause.  gate1 and gate2 are
# the test's descriptors of the pauses' gates; each line written to one
# lets one user through.
gate1=
gate2=

# gated P COMMAND...: COMMAND in the background once a line comes
# through pause P's gate; its pid in gated_pid.
gated() {
	local gate=$work/gate$1

	shift
	{ read -r _ <"$gate" && exec "$@"; } &
	gated_pid=$!
}

open_gates() {
	rm -f "$work/gate1" "$work/gate2"
	mkfifo "$work/gate1" "$work/gate2" || return 1
	# read-write: opening it does not wait for a reader
	exec {gate1}<>"$work/gate1" {gate2}<>"$work/gate2"
}

# let_through FD N: N users through the gate of descriptor FD.
let_through() {
	local i

	for ((i = 0; i < $2; i++)); do
		echo go >&"$1"
	done
}

# Whatever happened, nobody stays at a gate.
close_gates() {
	[[ -n $gate1 ]] || return 0
	let_through "$gate1" 8
	let_through "$gate2" 8
	exec {gate1}>&- {gate2}>&-
	gate1=
	gate2=
}

# slow_round R: a load with slow_init=, users in each of its pauses:
# users 0 and 1 and an open of a node with no device in the first,
# users 2 and 3 in the second.
slow_round() {
	local idx=$((100 + $1)) node=$work/node$1 modprobe_pid node_pid i n
	local warned

	unload || fail "cannot unload loop" || return 1
	rm -f "$node"
	mknod "$node" b 7 "$idx" || return 1
	open_gates || return 1
	pids=()
	for i in 0 1 2 3; do
		rm -f "$work/dev$i"
		gated $((i / 2 + 1)) losetup -f --show "$work/u$i.img" \
			>"$work/dev$i"
		pids+=("$gated_pid")
	done
	gated 1 dd if="$node" of=/dev/null count=1 status=none
	node_pid=$gated_pid
	warned=$(dmesg | grep -c 'loop: cannot create')
	modprobe loop slow_init=1,100,0,2 &
	modprobe_pid=$!
	wait_for 30 in_pause 1 ||
		fail "the load did not pause after its first entry point" ||
		return 1
	let_through "$gate1" 3
	still_loading "the first pause's users" || return 1
	wait_for 30 in_pause 2 ||
		fail "the load did not pause after its second entry point" ||
		return 1
	let_through "$gate2" 2
	still_loading "the second pause's users" || return 1
	wait "$modprobe_pid" || fail "modprobe loop slow_init= failed" ||
		return 1
	wait "$node_pid" || fail "open of loop$idx's node during the load" ||
		return 1
	users_done || return 1
	expect_eq "pauses left" 0 "$(cat "$fault_attrs/slow_init/times")" ||
		return 1
	expect_eq "loop$idx, made by its node's open" "$major:$idx" \
		"$(cat "/sys/block/loop$idx/dev")" || return 1
	n=$(cat /sys/module/loop/parameters/max_loop)
	for ((i = 0; i < n; i++)); do
		[[ -e /sys/block/loop$i ]] ||
			fail "loop$i, of max_loop=$n, was not made" || return 1
	done
	expect_eq "'cannot create' lines logged" "$warned" \
		"$(dmesg | grep -c 'loop: cannot create')" || return 1
	rm -f "$node"
}

slow_rounds() {
	local r rc

	if ! modinfo -p "$LOOP_MODULE" 2>/dev/null | grep -q '^slow_init:'; then
		skip_step "the module has no slow_init (no fault injection)"
		return 0
	fi
	unload || fail "cannot unload loop" || return 1
	refused_load slow_init=1,100 || return 1
	for ((r = 0; r < slow_rounds; r++)); do
		slow_round "$r"
		rc=$?
		close_gates
		((rc == 0)) || { echo "# slow round $r"; return 1; }
	done
	# The other tests expect the module as loaded without parameters.
	unload || fail "cannot unload loop" || return 1
	modprobe loop
}

# The module under test (or the stock one, on a stock run) is back.
same_module() {
	loaded || modprobe loop || return 1
	[[ -n $LOOP_MODULE ]] || return 0
	expect_eq srcversion "$(modinfo -F srcversion "$LOOP_MODULE")" \
		"$(cat /sys/module/loop/srcversion)"
}

plan 5
step "$users files" setup
step "$rounds rounds: $users losetup -f beside modprobe, from unloaded" rounds
step "$slow_rounds rounds: users in the pauses of a slow_init= load" slow_rounds
step "the module under test loaded" same_module
step "nothing left bound" none_backed_by "$work"
tap_status
