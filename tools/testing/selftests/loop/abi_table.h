/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The list of ABI facts the ABI test compares.
 *
 * This file is compiled twice: once after our include/uapi/linux/loop.h
 * (abi_ours.c) and once after the system's <linux/loop.h> (abi_sys.c).
 * Each translation unit defines ABI_TABLE to name its table.  A field or
 * constant missing from one header breaks the build of that side, naming it.
 */
#ifndef ABI_TABLE_H
#define ABI_TABLE_H

#include <stddef.h>

struct abi_entry {
	const char *group;	/* one TAP test per group */
	const char *name;
	unsigned long long value;
};

extern const struct abi_entry abi_ours[];
extern const struct abi_entry abi_sys[];

#endif /* ABI_TABLE_H */

#ifdef ABI_TABLE

/*
 * One table entry per macro.  The member is reached as (*(type *)0).m,
 * only ever inside sizeof/offsetof/__typeof__, so nothing is evaluated.
 */
#define SIZEOF(type)	{ #type, "sizeof", sizeof(type) }
#define ALIGNOF(type)	{ #type, "alignof", __alignof__(type) }
#define OFFSET(type, m)	{ #type, #m " offset", offsetof(type, m) }
#define SIZE(type, m)	{ #type, #m " size", sizeof((*(type *)0).m) }
#define ELEM(type, m)	{ #type, #m " element size", sizeof((*(type *)0).m[0]) }
/* (T)-1 < 1 holds only for signed T; the 1 is promoted, not cast. */
#define SIGNED(type, m)	{ #type, #m " signed",				\
			  (__typeof__((*(type *)0).m))(-1) < 1 }
#define CONST(group, c)	{ group, #c, (unsigned long long)(c) }

const struct abi_entry ABI_TABLE[] = {
	SIZEOF(struct loop_info),
	ALIGNOF(struct loop_info),
	OFFSET(struct loop_info, lo_number),
	SIZE(struct loop_info, lo_number),
	SIGNED(struct loop_info, lo_number),
	OFFSET(struct loop_info, lo_device),
	SIZE(struct loop_info, lo_device),
	SIGNED(struct loop_info, lo_device),
	OFFSET(struct loop_info, lo_inode),
	SIZE(struct loop_info, lo_inode),
	SIGNED(struct loop_info, lo_inode),
	OFFSET(struct loop_info, lo_rdevice),
	SIZE(struct loop_info, lo_rdevice),
	SIGNED(struct loop_info, lo_rdevice),
	OFFSET(struct loop_info, lo_offset),
	SIZE(struct loop_info, lo_offset),
	SIGNED(struct loop_info, lo_offset),
	OFFSET(struct loop_info, lo_encrypt_type),
	SIZE(struct loop_info, lo_encrypt_type),
	SIGNED(struct loop_info, lo_encrypt_type),
	OFFSET(struct loop_info, lo_encrypt_key_size),
	SIZE(struct loop_info, lo_encrypt_key_size),
	SIGNED(struct loop_info, lo_encrypt_key_size),
	OFFSET(struct loop_info, lo_flags),
	SIZE(struct loop_info, lo_flags),
	SIGNED(struct loop_info, lo_flags),
	OFFSET(struct loop_info, lo_name),
	SIZE(struct loop_info, lo_name),
	ELEM(struct loop_info, lo_name),
	OFFSET(struct loop_info, lo_encrypt_key),
	SIZE(struct loop_info, lo_encrypt_key),
	ELEM(struct loop_info, lo_encrypt_key),
	OFFSET(struct loop_info, lo_init),
	SIZE(struct loop_info, lo_init),
	ELEM(struct loop_info, lo_init),
	OFFSET(struct loop_info, reserved),
	SIZE(struct loop_info, reserved),
	ELEM(struct loop_info, reserved),

	SIZEOF(struct loop_info64),
	ALIGNOF(struct loop_info64),
	OFFSET(struct loop_info64, lo_device),
	SIZE(struct loop_info64, lo_device),
	SIGNED(struct loop_info64, lo_device),
	OFFSET(struct loop_info64, lo_inode),
	SIZE(struct loop_info64, lo_inode),
	SIGNED(struct loop_info64, lo_inode),
	OFFSET(struct loop_info64, lo_rdevice),
	SIZE(struct loop_info64, lo_rdevice),
	SIGNED(struct loop_info64, lo_rdevice),
	OFFSET(struct loop_info64, lo_offset),
	SIZE(struct loop_info64, lo_offset),
	SIGNED(struct loop_info64, lo_offset),
	OFFSET(struct loop_info64, lo_sizelimit),
	SIZE(struct loop_info64, lo_sizelimit),
	SIGNED(struct loop_info64, lo_sizelimit),
	OFFSET(struct loop_info64, lo_number),
	SIZE(struct loop_info64, lo_number),
	SIGNED(struct loop_info64, lo_number),
	OFFSET(struct loop_info64, lo_encrypt_type),
	SIZE(struct loop_info64, lo_encrypt_type),
	SIGNED(struct loop_info64, lo_encrypt_type),
	OFFSET(struct loop_info64, lo_encrypt_key_size),
	SIZE(struct loop_info64, lo_encrypt_key_size),
	SIGNED(struct loop_info64, lo_encrypt_key_size),
	OFFSET(struct loop_info64, lo_flags),
	SIZE(struct loop_info64, lo_flags),
	SIGNED(struct loop_info64, lo_flags),
	OFFSET(struct loop_info64, lo_file_name),
	SIZE(struct loop_info64, lo_file_name),
	ELEM(struct loop_info64, lo_file_name),
	OFFSET(struct loop_info64, lo_crypt_name),
	SIZE(struct loop_info64, lo_crypt_name),
	ELEM(struct loop_info64, lo_crypt_name),
	OFFSET(struct loop_info64, lo_encrypt_key),
	SIZE(struct loop_info64, lo_encrypt_key),
	ELEM(struct loop_info64, lo_encrypt_key),
	OFFSET(struct loop_info64, lo_init),
	SIZE(struct loop_info64, lo_init),
	ELEM(struct loop_info64, lo_init),

	SIZEOF(struct loop_config),
	ALIGNOF(struct loop_config),
	OFFSET(struct loop_config, fd),
	SIZE(struct loop_config, fd),
	SIGNED(struct loop_config, fd),
	OFFSET(struct loop_config, block_size),
	SIZE(struct loop_config, block_size),
	SIGNED(struct loop_config, block_size),
	OFFSET(struct loop_config, info),
	SIZE(struct loop_config, info),
	OFFSET(struct loop_config, __reserved),
	SIZE(struct loop_config, __reserved),
	ELEM(struct loop_config, __reserved),

	CONST("sizes", LO_NAME_SIZE),
	CONST("sizes", LO_KEY_SIZE),

	CONST("flags", LO_FLAGS_READ_ONLY),
	CONST("flags", LO_FLAGS_AUTOCLEAR),
	CONST("flags", LO_FLAGS_PARTSCAN),
	CONST("flags", LO_FLAGS_DIRECT_IO),
	CONST("flags", LOOP_SET_STATUS_SETTABLE_FLAGS),
	CONST("flags", LOOP_SET_STATUS_CLEARABLE_FLAGS),
	CONST("flags", LOOP_CONFIGURE_SETTABLE_FLAGS),

	CONST("crypt types", LO_CRYPT_NONE),
	CONST("crypt types", LO_CRYPT_XOR),
	CONST("crypt types", LO_CRYPT_DES),
	CONST("crypt types", LO_CRYPT_FISH2),
	CONST("crypt types", LO_CRYPT_BLOW),
	CONST("crypt types", LO_CRYPT_CAST128),
	CONST("crypt types", LO_CRYPT_IDEA),
	CONST("crypt types", LO_CRYPT_DUMMY),
	CONST("crypt types", LO_CRYPT_SKIPJACK),
	CONST("crypt types", LO_CRYPT_CRYPTOAPI),
	CONST("crypt types", MAX_LO_CRYPT),

	CONST("ioctls", LOOP_SET_FD),
	CONST("ioctls", LOOP_CLR_FD),
	CONST("ioctls", LOOP_SET_STATUS),
	CONST("ioctls", LOOP_GET_STATUS),
	CONST("ioctls", LOOP_SET_STATUS64),
	CONST("ioctls", LOOP_GET_STATUS64),
	CONST("ioctls", LOOP_CHANGE_FD),
	CONST("ioctls", LOOP_SET_CAPACITY),
	CONST("ioctls", LOOP_SET_DIRECT_IO),
	CONST("ioctls", LOOP_SET_BLOCK_SIZE),
	CONST("ioctls", LOOP_CONFIGURE),
	CONST("ioctls", LOOP_CTL_ADD),
	CONST("ioctls", LOOP_CTL_REMOVE),
	CONST("ioctls", LOOP_CTL_GET_FREE),

	{ NULL, NULL, 0 }
};

#endif /* ABI_TABLE */
