// SPDX-License-Identifier: GPL-2.0
/* ABI facts of the installed system <linux/loop.h>, the reference. */
#include <linux/loop.h>

#define ABI_TABLE abi_sys
#include "abi_table.h"
