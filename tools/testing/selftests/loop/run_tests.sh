#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest-side runner of the loop selftests (run it as root in the test VM):
#
#	run_tests.sh [TEST...]
#
# Runs the C tests (built by the Makefile) and the *_test.sh scripts of this
# directory, or only the named ones (abi_test, fs_roundtrip_test, ...),
# shows their TAP output and ends with "N passed, N failed[, N skipped]".
# Exit status 0 iff nothing failed.
#
# Environment: LOOP_TEST_DIR (backing files, default /mnt/scratch),
# LOOP_TEST_TIMEOUT (seconds per test program, default 1800),
# LOOP_TEST_EXCLUDE ("dkms_test install_test": left out of a full run).

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
c_tests=(abi_test ioctl_test data_test xfer_test hostile_status_test
	hostile_bind_test hostile_ctl_test hostile_blk_test xfer_status_test
	detach_stress_test ioctl_fuzz_test bounce_test deep_queue_test)
# Built only where gcc can target 32-bit x86 (gcc-multilib).
if [[ -x $dir/compat32_test ]]; then
	c_tests+=(compat32_test)
fi
timeout_s=${LOOP_TEST_TIMEOUT:-1800}
export LOOP_TEST_DIR=${LOOP_TEST_DIR:-/mnt/scratch}

passed=0
failed=0
skipped=0

# Map a test name to its file: NAME (C) or NAME.sh (shell).
resolve() {
	local name=${1##*/}

	name=${name%.sh}
	if [[ -f $dir/$name.sh ]]; then
		echo "$dir/$name.sh"
	elif [[ -f $dir/$name.c ]]; then
		echo "$dir/$name"
	else
		return 1
	fi
}

# Count the TAP results of one program's output (file $1): each line
# starting with "ok N" or "not ok N"; "# SKIP" marks a skip.
count() {
	awk '
		/^not ok [0-9]+/ { if (/# *[Ss][Kk][Ii][Pp]/) s++; else f++; next }
		/^ok [0-9]+/     { if (/# *[Ss][Kk][Ii][Pp]/) s++; else p++ }
		END { print p + 0, f + 0, s + 0 }
	' "$1"
}

run_one() {
	local prog=$1 name=${1##*/} log rc p f s cmd start=$SECONDS

	log=$(mktemp "${TMPDIR:-/tmp}/loop-selftest.XXXXXX") || exit 1
	echo "# ---- $name"
	if [[ ! -e $prog ]]; then
		echo "# $name: not built (run make in $dir)" | tee "$log"
		rc=1
	else
		[[ $prog == *.sh ]] && cmd=(bash "$prog") || cmd=("$prog")
		timeout -k 10 "$timeout_s" "${cmd[@]}" </dev/null 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
	fi
	read -r p f s < <(count "$log")
	rm -f "$log"
	if ((rc != 0 && f == 0)); then
		if ((rc == 4 && p == 0)); then
			# kselftest's exit code for "skipped as a whole"
			s=$((s + 1))
		else
			echo "# $name: exit status $rc without a failed test: counted as one failure"
			f=$((f + 1))
		fi
	fi
	echo "# $name: exit status $rc, counted $p ok, $f not ok, $s skip, $((SECONDS - start)) s"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}

progs=()
if (($#)); then
	for arg; do
		prog=$(resolve "$arg") || {
			echo "run_tests.sh: no test named '$arg'" >&2
			exit 2
		}
		progs+=("$prog")
	done
else
	for t in "${c_tests[@]}"; do
		progs+=("$dir/$t")
	done
	# module_reload_test.sh sorts last, which it should: it reloads
	# the module that everything else uses.
	for t in "$dir"/*_test.sh; do
		[[ -e $t ]] && progs+=("$t")
	done
fi

for prog in "${progs[@]}"; do
	name=${prog##*/}
	name=${name%.sh}
	if [[ " ${LOOP_TEST_EXCLUDE:-} " == *" $name "* ]]; then
		echo "# ---- $name: excluded (LOOP_TEST_EXCLUDE)"
		continue
	fi
	run_one "$prog"
done

summary="$passed passed, $failed failed"
((skipped > 0)) && summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
