// SPDX-License-Identifier: GPL-2.0
/* ABI facts of the project's include/uapi/linux/loop.h (see Makefile). */
#include <linux/loop.h>

#define ABI_TABLE abi_ours
#include "abi_table.h"
