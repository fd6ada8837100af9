# SPDX-License-Identifier: GPL-2.0
#
# Build loop.ko out of tree, the kbuild way:
#   make [KDIR=/lib/modules/<release>/build] [W=1] [C=2] [LOOP_NAME=xloop]
# install it (as root; INSTALL_MOD_PATH= and DESTDIR= stage it elsewhere):
#   make install       the module into /lib/modules/<release>/updates/,
#                      then depmod; the docs (and tools) too
#   make uninstall     remove exactly what install put there
#   make dkms-source   copy the sources to /usr/src/loop-<version> for dkms
# and run things:
#   make check     build everything and run the test suite in a VM
#   make demo      attach, format, mount and verify an image in a VM
#   make bench     raw file, stock loop.ko and ours side by side in a VM
#                  (BENCH_ARGS=--quick for a short run; see scripts/bench)
#   make lint      checkpatch --strict, W=1 and sparse on every source

LOOP_TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

# Default kernel: the newest installed one (in version order, not lexical:
# 6.12 is newer than 6.9) whose headers are present, preferring kernels with
# an image in /boot (the ones vm-run boots by default) over those without,
# such as the debug kernel of scripts/debug-kernel.
KDIR ?= $(shell for r in $$(ls /lib/modules 2>/dev/null); do \
		  d=/lib/modules/$$r/build; \
		  test -f "$$d/Makefile" || continue; \
		  if test -e "/boot/vmlinuz-$$r"; then echo "1 $$d"; else echo "0 $$d"; fi; \
		done | sort -V | tail -n 1 | cut -d' ' -f2)
KDIR := $(abspath $(KDIR))

# The release KDIR was built for.  UTS_RELEASE is what the module's vermagic
# says; Debian's include/config/kernel.release may hold the upstream version.
KVER ?= $(shell sed -n 's/.*UTS_RELEASE "\(.*\)".*/\1/p' \
		$(KDIR)/include/generated/utsrelease.h 2>/dev/null)

# The headers package to suggest when KDIR is no usable kernel build tree.
kdir-release := $(or $(patsubst /lib/modules/%/build,%,$(filter /lib/modules/%/build,$(KDIR))), \
		     $(patsubst /usr/src/linux-headers-%,%,$(filter /usr/src/linux-headers-%,$(KDIR))))
headers-pkg := $(if $(strip $(kdir-release)),linux-headers-$(strip $(kdir-release)),linux-headers-amd64)

# modinfo's "version": from git, or from the VERSION file that dkms-source
# writes into a copy of the sources that has no .git.
LOOP_VERSION ?= $(shell cat $(LOOP_TOP)/VERSION 2>/dev/null || \
		  git -C $(LOOP_TOP) describe --always --dirty --tags 2>/dev/null || \
		  echo unknown)
LOOP_VERSION := $(LOOP_VERSION)
DKMS_VERSION := $(subst /,-,$(LOOP_VERSION))

KBUILD_ARGS := -C $(KDIR) M=$(LOOP_TOP) CONFIG_BLK_DEV_LOOP=m CONFIG_BLK_DEV_CRYPTOLOOP=m \
	LOOP_TOP=$(LOOP_TOP) LOOP_VERSION=$(LOOP_VERSION)

SELFTESTS := $(LOOP_TOP)/tools/testing/selftests/loop

# What install puts where.  INSTALL_TOOLS lists userspace programs (paths
# relative to the top) to install into $(sbindir); none exist yet.
MOD_NAME := $(or $(LOOP_NAME),loop)
MOD_KO := $(LOOP_TOP)/drivers/block/loop/$(MOD_NAME).ko
INSTALL_MOD_PATH ?= $(DESTDIR)
MOD_DIR = $(INSTALL_MOD_PATH)/lib/modules/$(KVER)/updates
docdir ?= /usr/share/doc/loop
sbindir ?= /usr/sbin
DOCS := README.md Documentation/admin-guide/blockdev/loop.rst \
	Documentation/admin-guide/blockdev/loop-transfers.rst
INSTALL_TOOLS ?= tools/loopxfer/loopxfer
mandir ?= /usr/share/man
MAN8 := tools/loopxfer/loopxfer.8
XFER_KO := $(LOOP_TOP)/drivers/block/loop/cryptoloop.ko

# The sources of the module; dkms-source copies them and nothing else.
LOOP_SOURCES = Kbuild $(shell cd $(LOOP_TOP) && find include drivers -type f \
		\( -name '*.[ch]' -o -name Kconfig -o -name Makefile \) \
		! -name '*.mod.c' | sort)
DKMS_SRC = $(DESTDIR)/usr/src/loop-$(DKMS_VERSION)
DKMS_FILES = Makefile dkms.conf $(LOOP_SOURCES)

# Even with nothing to do, kbuild takes minutes in an emulated VM, so
# install calls it only when the module is missing, older than one of its
# sources, or built for another kernel.
module-stale = $(or $(if $(wildcard $(MOD_KO)),,missing), \
	$(shell cd $(LOOP_TOP) && find $(LOOP_SOURCES) -newer $(MOD_KO) | head -n 1), \
	$(if $(filter $(KVER),$(shell modinfo -F vermagic $(MOD_KO) 2>/dev/null)),,other-kernel))

.PHONY: all modules clean check demo bench lint tests kdir-check \
	install uninstall dkms-source tools

all modules: kdir-check
	$(MAKE) $(KBUILD_ARGS) modules

# A single line (make's own "*** ... Stop.") naming the package to install.
kdir-check:
	$(if $(and $(wildcard $(KDIR)/Makefile),$(wildcard $(KDIR)/include/generated/utsrelease.h)),, \
	  $(error loop: no kernel build tree at KDIR='$(KDIR)': install $(headers-pkg)))

install: kdir-check tools
	$(if $(module-stale),$(MAKE) $(KBUILD_ARGS) modules)
	@modinfo -F vermagic $(MOD_KO) | grep -q '^$(KVER) ' || \
	  { echo "loop: $(MOD_KO) is not built for $(KVER)" >&2; exit 1; }
	install -D -m 0644 $(MOD_KO) $(MOD_DIR)/$(MOD_NAME).ko
	install -D -m 0644 $(XFER_KO) $(MOD_DIR)/cryptoloop.ko
	$(foreach f,$(DOCS),install -D -m 0644 $(LOOP_TOP)/$(f) $(DESTDIR)$(docdir)/$(notdir $(f));)
	$(foreach f,$(INSTALL_TOOLS),install -D -m 0755 $(LOOP_TOP)/$(f) $(DESTDIR)$(sbindir)/$(notdir $(f));)
	$(foreach f,$(MAN8),install -D -m 0644 $(LOOP_TOP)/$(f) $(DESTDIR)$(mandir)/man8/$(notdir $(f));)
	$(if $(INSTALL_MOD_PATH),@echo "loop: staged; run depmod -a $(KVER) on the target", \
	  depmod -a $(KVER))

uninstall:
	$(if $(KVER),,$(error loop: cannot tell the kernel release: give KVER=<release> or a KDIR))
	rm -f $(MOD_DIR)/$(MOD_NAME).ko $(MOD_DIR)/cryptoloop.ko
	rm -f $(foreach f,$(MAN8),$(DESTDIR)$(mandir)/man8/$(notdir $(f)))
	rm -f $(foreach f,$(DOCS),$(DESTDIR)$(docdir)/$(notdir $(f)))
	$(if $(INSTALL_TOOLS),rm -f $(foreach f,$(INSTALL_TOOLS),$(DESTDIR)$(sbindir)/$(notdir $(f))))
	for d in $(DESTDIR)$(docdir) $(MOD_DIR); do \
	  test ! -d $$d || rmdir --ignore-fail-on-non-empty $$d; done
	$(if $(INSTALL_MOD_PATH),@echo "loop: staged; run depmod -a $(KVER) on the target", \
	  depmod -a $(KVER))

# The sources with dkms.conf's version filled in, ready for
# "dkms add loop/$(DKMS_VERSION)".
dkms-source:
	rm -rf $(DKMS_SRC)
	$(foreach f,$(DKMS_FILES),install -D -m 0644 $(LOOP_TOP)/$(f) $(DKMS_SRC)/$(f);)
	sed -i 's/@PACKAGE_VERSION@/$(DKMS_VERSION)/' $(DKMS_SRC)/dkms.conf
	echo '$(LOOP_VERSION)' > $(DKMS_SRC)/VERSION
	@echo "loop: now run: dkms add loop/$(DKMS_VERSION) && dkms install loop/$(DKMS_VERSION)"

tests:
	$(MAKE) -C $(SELFTESTS)

# The userspace programs that install puts in $(sbindir).
tools:
	$(MAKE) -C $(LOOP_TOP)/tools/loopxfer

# The dkms copy of the sources has no selftests.
clean:
	-test -f "$(KDIR)/Makefile" && $(MAKE) $(KBUILD_ARGS) clean
	if test -d $(SELFTESTS); then $(MAKE) -C $(SELFTESTS) clean; fi

check:
	$(LOOP_TOP)/scripts/check

demo:
	$(LOOP_TOP)/scripts/demo

BENCH_ARGS ?=
bench:
	$(LOOP_TOP)/scripts/bench $(BENCH_ARGS)

lint: kdir-check
	KDIR=$(KDIR) $(LOOP_TOP)/scripts/lint
