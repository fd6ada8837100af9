#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module through DKMS, in the test VM (whose root file system is a
# throwaway overlay): "make dkms-source", then dkms add, build for every
# installed kernel that has headers, install for the running kernel, check
# that "modprobe loop" loads the DKMS build, and dkms remove.
#
# Leaves things as found: our module (LOOP_MODULE) loaded and vm-run's
# modprobe override in place.
#
# The running kernel's module tree is narrowed, for the test's duration,
# to what it needs: a tmpfs over /lib/modules/<release> holding the
# stock loop.ko (which the DKMS build must override), the modules.*
# lists the kernel ships and "build".  dkms runs depmod over the whole
# tree at install and at remove: Debian's 4,200 compressed modules take
# 9 s natively and two minutes each in the emulated VM, and nothing DKMS
# does depends on them.  The modules loaded already stay loaded.
#
# A dkms build takes 3 to 6 minutes in the emulated test VM, so by default
# only the running kernel's is tested; "make check" boots every installed
# kernel in turn, which covers them all.  DKMS_TEST_KERNELS="<release> ..."
# (or "all": every kernel with headers) adds builds for other kernels.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

top=$(cd "$dir/../../../.." && pwd)
kver=$(uname -r)
ver=
dkms_dir=
installed=/lib/modules/$kver/updates/dkms/loop.ko
timings=()

skip_unless_ours_in_vm dkms "tests our packaging, not the stock driver" \
	"installs into /lib/modules: runs only in the test VM"
if ! command -v dkms >/dev/null; then
	echo "1..1"
	echo "ok 1 dkms # SKIP dkms is not installed (scripts/setup-deps installs it)"
	exit 0
fi

# Kernels to build for: the running one first, then those asked for.
kernels=("$kver")
extra=${DKMS_TEST_KERNELS:-}
[[ $extra == all ]] && extra=$(ls /lib/modules)
for k in $extra; do
	[[ $k != "$kver" && -f /lib/modules/$k/build/Makefile ]] && kernels+=("$k")
done

cleanup() {
	settle
	if [[ -n $ver ]] && dkms status loop/"$ver" | grep -q .; then
		unload
		dkms remove loop/"$ver" --all
	fi
	[[ -n $dkms_dir ]] && rm -rf "$dkms_dir"
	((narrowed)) && widen_modules
	recover_ours
}

# The narrowed module tree (see above), mounted over the real one.
narrowed=0
narrow_modules() {
	local real=/lib/modules/$kver stage stock

	stock=$(stock_path)
	[[ -n $stock ]] || fail "no stock loop module in $real" || return 1
	stage=$(mktemp -d) || return 1
	if ! { cp -a "$real"/modules.builtin* "$real"/modules.order "$stage"/ &&
	       cp -a "$real/build" "$stage/build" &&
	       mkdir -p "$stage/kernel/drivers/block" &&
	       cp -a "$stock" "$stage/kernel/drivers/block/" &&
	       mount -t tmpfs -o mode=0755 dkms-test-modules "$real"; }; then
		rm -rf "$stage"
		return 1
	fi
	narrowed=1
	cp -a "$stage"/. "$real"/ || return 1
	rm -rf "$stage"
	depmod -a "$kver" || return 1
	expect_eq "modinfo -n loop" "$stock" "$(modinfo -n loop)" || return 1
	expect_eq "modules in the tree" 1 "$(find "$real/" -name '*.ko*' | wc -l)"
}

# The real tree back, lazily if something still holds the narrowed one
# open: every later modprobe opens the real tree's files.
widen_modules() {
	local err

	if ! err=$(umount "/lib/modules/$kver" 2>&1); then
		echo "# umount: $err; detaching it lazily"
		fuser -vm "/lib/modules/$kver" 2>&1 | sed 's/^/# /'
		umount -l "/lib/modules/$kver" || return 1
	fi
	narrowed=0
	[[ $(findmnt -no FSTYPE "/lib/modules/$kver") != tmpfs ]] ||
		fail "/lib/modules/$kver is still a tmpfs" || return 1
	# Not in the narrowed tree: what mount -t vfat needs.
	modinfo -n vfat >/dev/null || fail "modprobe cannot find vfat"
}

# make dkms-source: the sources in /usr/src/loop-<version>, with the
# version modinfo shows filled into dkms.conf.
dkms_source() {
	local want

	want=$(modinfo -F version "$LOOP_MODULE")
	[[ -n $want ]] || fail "$LOOP_MODULE has no version" || return 1
	make -s -C "$top" dkms-source || return 1
	dkms_dir=/usr/src/loop-${want//\//-}
	[[ -f $dkms_dir/dkms.conf ]] || fail "no $dkms_dir/dkms.conf" || return 1
	ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$dkms_dir/dkms.conf")
	expect_eq PACKAGE_VERSION "$want" "$ver" || return 1
	expect_eq "VERSION file" "$want" "$(cat "$dkms_dir/VERSION")" || return 1
	[[ ! -e $dkms_dir/.git && ! -e $dkms_dir/drivers/block/loop/loop.ko ]] ||
		fail "$dkms_dir has more than sources"
}

dkms_add() {
	dkms add "loop/$ver" || return 1
	expect_eq "dkms status" "loop/$ver: added" "$(dkms status loop/"$ver")"
}

# dkms build for one kernel; the module it made must be for that kernel.
dkms_build() {
	local k=$1 start=$SECONDS ko

	dkms build "loop/$ver" -k "$k" || return 1
	timings+=("dkms build -k $k: $((SECONDS - start)) s")
	ko=/var/lib/dkms/loop/$ver/$k/$(uname -m)/module/loop.ko
	[[ -f $ko ]] || ko=$(ls "$ko".* 2>/dev/null | head -n 1)
	[[ -f $ko ]] || fail "no module in /var/lib/dkms/loop/$ver/$k" || return 1
	expect_eq vermagic "$k" "$(modinfo -F vermagic "$ko" | cut -d' ' -f1)" ||
		return 1
	expect_eq version "$ver" "$(modinfo -F version "$ko")"
}

dkms_install() {
	dkms install "loop/$ver" -k "$kver" || return 1
	[[ -f $installed ]] || installed=$(ls "$installed".* 2>/dev/null | head -n 1)
	[[ -f $installed ]] || fail "nothing in /lib/modules/$kver/updates/dkms" ||
		return 1
	expect_eq "modinfo -n loop" "$installed" "$(modinfo -n loop)" || return 1
	dkms status loop/"$ver" -k "$kver" | grep -qx "loop/$ver, $kver, $(uname -m): installed" ||
		fail "dkms status: $(dkms status loop/"$ver" -k "$kver")"
}

modprobe_loads_dkms() {
	# Something loaded a loop module during the build (once in a
	# rehearsal, under load): modprobe would then do nothing.  What it
	# was is worth a line; the test is of what modprobe loads.
	if loaded; then
		echo "# a loop module was loaded before modprobe (version '$(cat /sys/module/loop/version 2>/dev/null)'), unloading it"
		dmesg | grep -i 'loop' | tail -n 5 | sed 's/^/# /'
		unload || fail "cannot unload it" || return 1
	fi
	modprobe loop max_loop=2 || return 1
	if [[ ! -e /sys/module/loop/srcversion ]]; then
		echo "# after modprobe: $(grep -w '^loop' /proc/modules)"
		echo "# modprobe -n -v loop: $(modprobe -n -v loop 2>&1)"
	fi
	expect_eq srcversion "$(modinfo -F srcversion "$installed")" \
		"$(cat /sys/module/loop/srcversion)" || return 1
	expect_eq srcversion "$(modinfo -F srcversion "$LOOP_MODULE")" \
		"$(cat /sys/module/loop/srcversion)" || return 1
	expect_eq version "$ver" "$(cat /sys/module/loop/version)" || return 1
	[[ -e /sys/block/loop1 && ! -e /sys/block/loop2 ]] ||
		fail "max_loop=2 did not give loop0 and loop1 only"
}

dkms_remove() {
	unload || fail "cannot unload the dkms loop" || return 1
	dkms remove "loop/$ver" --all || return 1
	[[ ! -e $installed ]] || fail "$installed still there" || return 1
	[[ -z $(dkms status loop) ]] || fail "dkms status: $(dkms status loop)" ||
		return 1
	expect_eq "modinfo -n loop" "$(stock_path)" "$(modinfo -n loop)" ||
		return 1
	rm -rf "$dkms_dir"
}

plan $((9 + ${#kernels[@]}))
step unload_module_under_test unload_ours
step narrow_module_tree narrow_modules
step make_dkms_source dkms_source
step dkms_add dkms_add
for k in "${kernels[@]}"; do
	step "dkms_build_$k" dkms_build "$k"
done
step dkms_install_running_kernel dkms_install
step modprobe_loads_dkms_module modprobe_loads_dkms
step dkms_remove_all dkms_remove
step module_tree_back widen_modules
step restore_module_under_test restore
for t in "${timings[@]}"; do
	echo "# $t"
done
tap_status
