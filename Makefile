# SPDX-License-Identifier: GPL-2.0
#
# Build loop.ko out of tree, the kbuild way:
#   make [KDIR=/lib/modules/<release>/build] [W=1] [C=2]
# and run things:
#   make check     build everything and run the test suite in a VM
#   make demo      attach, format, mount and verify an image in a VM
#   make lint      checkpatch --strict, W=1 and sparse on every source

LOOP_TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

# Default kernel: the newest installed one whose headers are present.
KDIR ?= $(lastword $(sort $(wildcard /lib/modules/*/build)))
KDIR := $(abspath $(KDIR))
LOOP_VERSION := $(shell git -C $(LOOP_TOP) describe --always --dirty --tags 2>/dev/null || echo unknown)

KBUILD_ARGS := -C $(KDIR) M=$(LOOP_TOP) CONFIG_BLK_DEV_LOOP=m \
	LOOP_TOP=$(LOOP_TOP) LOOP_VERSION=$(LOOP_VERSION)

SELFTESTS := $(LOOP_TOP)/tools/testing/selftests/loop

.PHONY: all modules clean check demo lint tests kdir-check

all modules: kdir-check
	$(MAKE) $(KBUILD_ARGS) modules

kdir-check:
	@test -f "$(KDIR)/Makefile" || { \
	  echo "loop: no kernel build tree at KDIR='$(KDIR)': install linux-headers-amd64 (or linux-headers-<release>)" >&2; \
	  exit 1; }

tests:
	$(MAKE) -C $(SELFTESTS)

clean:
	-test -f "$(KDIR)/Makefile" && $(MAKE) $(KBUILD_ARGS) clean
	$(MAKE) -C $(SELFTESTS) clean

check:
	$(LOOP_TOP)/scripts/check

demo:
	$(LOOP_TOP)/scripts/demo

lint: kdir-check
	$(LOOP_TOP)/scripts/lint
