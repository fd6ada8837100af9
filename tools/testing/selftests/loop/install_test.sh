#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make install" and "make uninstall" of the module under test, in the test
# VM (whose root file system is a throwaway overlay).  After install, a plain
# "modprobe loop max_loop=3" must load our build from updates/ rather than
# the kernel's loop.ko, and modinfo must describe it fully; after uninstall
# modprobe is back to the stock module.
#
# Leaves things as found: our module (LOOP_MODULE) loaded and vm-run's
# modprobe override in place.

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$dir/test_lib.sh"

top=$(cd "$dir/../../../.." && pwd)
kver=$(uname -r)
kdir=/lib/modules/$kver/build
installed=/lib/modules/$kver/updates/loop.ko
docdir=/usr/share/doc/loop
main_c=$top/drivers/block/loop/main.c

skip_unless_ours_in_vm install "tests our packaging, not the stock driver" \
	"installs into /lib/modules: runs only in the test VM"

# The string inside MACRO("...") in main.c.
source_string() {
	sed -n "s/^$1(\"\(.*\)\");$/\1/p" "$main_c"
}

cleanup() {
	settle
	if [[ -e $installed ]]; then
		make -s -C "$top" KDIR="$kdir" uninstall || {
			rm -f "$installed"
			depmod -a "$kver"
		}
	fi
	recover_ours
}

make_install() {
	local start=$SECONDS

	make -s -C "$top" KDIR="$kdir" install || return 1
	install_time=$((SECONDS - start))
	[[ -f $installed ]] || fail "$installed missing" || return 1
	cmp "$top/drivers/block/loop/loop.ko" "$installed" ||
		fail "$installed differs from the built module" || return 1
	expect_eq "installed mode" 644 "$(stat -c %a "$installed")" || return 1
	[[ -f $docdir/loop.rst && -f $docdir/README.md &&
	   -f $docdir/loop-transfers.rst ]] ||
		fail "docs not in $docdir" || return 1
	# The crypto API transfer, the transfer tool and its man page.
	cmp "$top/drivers/block/loop/cryptoloop.ko" "${installed%/*}/cryptoloop.ko" ||
		fail "cryptoloop.ko not installed" || return 1
	[[ -x /usr/sbin/loopxfer && -f /usr/share/man/man8/loopxfer.8 ]] ||
		fail "loopxfer or its man page not installed" || return 1
	/usr/sbin/loopxfer --help | grep -q attach ||
		fail "installed loopxfer does not run"
}

modinfo_finds_ours() {
	expect_eq "modinfo -n loop" "$installed" "$(modinfo -n loop)" || return 1
	grep -qx "updates/loop.ko:" "/lib/modules/$kver/modules.dep" ||
		fail "modules.dep has no 'updates/loop.ko:' line" || return 1
	grep -qx "loop loop-control c10:237" "/lib/modules/$kver/modules.devname" ||
		fail "modules.devname has no loop-control node"
}

modprobe_loads_ours() {
	local i

	modprobe loop max_loop=3 || return 1
	expect_eq srcversion "$(modinfo -F srcversion "$installed")" \
		"$(cat /sys/module/loop/srcversion)" || return 1
	expect_eq "srcversion of the module under test" \
		"$(modinfo -F srcversion "$LOOP_MODULE")" \
		"$(cat /sys/module/loop/srcversion)" || return 1
	expect_eq "module version" "$(modinfo -F version "$installed")" \
		"$(cat /sys/module/loop/version)" || return 1
	expect_eq max_loop 3 "$(cat /sys/module/loop/parameters/max_loop)" ||
		return 1
	for i in 0 1 2; do
		[[ -e /sys/block/loop$i ]] || fail "loop$i missing" || return 1
	done
	[[ ! -e /sys/block/loop3 ]] || fail "loop3 exists with max_loop=3"
}

# The driver's sources built into the module for the running kernel:
# fault.c only where the kernel has fault injection (the Makefile's rule).
built_sources() {
	local f config fault=

	config=/boot/config-$(uname -r)
	[[ -r $config ]] || config=/lib/modules/$(uname -r)/build/.config
	grep -qx CONFIG_FAULT_INJECTION_DEBUG_FS=y "$config" 2>/dev/null &&
		fault=1
	for f in "$top"/drivers/block/loop/*.c; do
		[[ $f == */fault.c && -z $fault ]] || echo "$f"
	done
}

# version from git, description, author, every parameter described, and
# exactly the aliases the kernel's loop.ko has.
modinfo_fields() {
	local ver want got p srcs

	ver=$(modinfo -F version "$installed")
	[[ -n $ver && $ver != unknown ]] || fail "version '$ver'" || return 1
	git -C "$top" rev-parse -q --verify "${ver%-dirty}^{commit}" >/dev/null ||
		fail "version '$ver' names no git commit" || return 1
	expect_eq description "$(source_string MODULE_DESCRIPTION)" \
		"$(modinfo -F description "$installed")" || return 1
	expect_eq author "$(source_string MODULE_AUTHOR)" \
		"$(modinfo -F author "$installed")" || return 1
	expect_eq license GPL "$(modinfo -F license "$installed")" || return 1
	expect_eq name loop "$(modinfo -F name "$installed")" || return 1

	mapfile -t srcs < <(built_sources)
	want=$(sed -n 's/^MODULE_PARM_DESC(\([a-z_0-9]*\),.*/\1/p' \
		"${srcs[@]}" | sort)
	[[ -n $want ]] || fail "no MODULE_PARM_DESC in the sources" || return 1
	got=$(modinfo -F parm "$installed" | sed -n 's/^\([a-z_0-9]*\):..*/\1/p' | sort)
	expect_eq "described parameters" "$want" "$got" || return 1
	for p in max_loop max_part; do
		grep -qx "$p" <<<"$got" || fail "no parameter $p" || return 1
	done

	got=$(modinfo -F alias "$installed" | sort)
	want=$(printf '%s\n' 'block-major-7-*' char-major-10-237 \
		devname:loop-control | sort)
	expect_eq aliases "$want" "$got"
}

# The first device to ask for LO_CRYPT_CRYPTOAPI loads cryptoloop.ko by
# its alias: nobody has to know to modprobe it first.
transfer_autoloads() {
	local img key dev rc=0

	if [[ -d /sys/module/cryptoloop ]]; then
		rmmod cryptoloop || fail "cryptoloop is in use" || return 1
	fi
	expect_eq "cryptoloop alias" loop-xfer-18 \
		"$(modinfo -F alias cryptoloop)" || return 1
	img=$(mktemp "$(test_dir)/autoload.XXXXXX") || return 1
	key=$img.key
	truncate -s 4M "$img" && head -c 64 /dev/urandom >"$key" || return 1
	if dev=$(/usr/sbin/loopxfer attach -e aes-xts-plain64 -k "$key" "$img"); then
		[[ -d /sys/module/cryptoloop ]] ||
			fail "$dev bound, but cryptoloop is not loaded" || rc=1
		/usr/sbin/loopxfer status "$dev" | grep -q aes-xts-plain64 ||
			fail "$dev: no aes-xts-plain64 in its status" || rc=1
		/usr/sbin/loopxfer detach "$dev" || rc=1
		settle
	else
		fail "loopxfer attach did not load cryptoloop" || rc=1
	fi
	rm -f "$img" "$key"
	if [[ -d /sys/module/cryptoloop ]]; then
		wait_for 10 rmmod cryptoloop || fail "cannot unload cryptoloop" ||
			rc=1
	fi
	return $rc
}

make_uninstall() {
	unload || fail "cannot unload the installed loop" || return 1
	make -s -C "$top" KDIR="$kdir" uninstall || return 1
	[[ ! -e $installed ]] || fail "$installed still there" || return 1
	[[ ! -e ${installed%/*}/cryptoloop.ko ]] ||
		fail "cryptoloop.ko still there" || return 1
	[[ ! -e /usr/sbin/loopxfer && ! -e /usr/share/man/man8/loopxfer.8 ]] ||
		fail "loopxfer still there" || return 1
	[[ ! -e $docdir ]] || fail "$docdir still there" || return 1
	expect_eq "modinfo -n loop" "$(stock_path)" "$(modinfo -n loop)" ||
		return 1
	if grep -q "^updates/loop.ko:" "/lib/modules/$kver/modules.dep"; then
		fail "modules.dep still lists updates/loop.ko"
	fi
}

stock_after_uninstall() {
	modprobe loop max_loop=1 || return 1
	expect_eq srcversion "$(modinfo -F srcversion "$(stock_path)")" \
		"$(cat /sys/module/loop/srcversion)" || return 1
	unload
}

plan 9
step unload_module_under_test unload_ours
step make_install make_install
echo "# make install took ${install_time:-?} s"
step modinfo_finds_updates_module modinfo_finds_ours
step modprobe_max_loop_3_loads_ours modprobe_loads_ours
step modinfo_version_description_author_parms_aliases modinfo_fields
step transfer_module_loads_on_first_use transfer_autoloads
step make_uninstall make_uninstall
step modprobe_loads_stock_after_uninstall stock_after_uninstall
step restore_module_under_test restore
tap_status
