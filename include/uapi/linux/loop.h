/* SPDX-License-Identifier: GPL-1.0+ WITH Linux-syscall-note */
/*
 * Userspace ABI of the loop block driver.
 *
 * This is the project's own copy of the interface: it must stay identical in
 * structure layout, constant values and ioctl numbers to the kernel's
 * <linux/loop.h>, which the ABI selftest checks.  The driver and the tests
 * build against this file, never against the copy installed on the system.
 */
#ifndef _UAPI_LINUX_LOOP_H
#define _UAPI_LINUX_LOOP_H

#include <asm/posix_types.h>	/* __kernel_old_dev_t */
#include <linux/types.h>	/* __u8, __u32, __u64 */

#define LO_NAME_SIZE	64
#define LO_KEY_SIZE	32

/* lo_flags: the device's behaviour, reported by LOOP_GET_STATUS*. */
enum {
	LO_FLAGS_READ_ONLY	= 1,
	LO_FLAGS_AUTOCLEAR	= 4,	/* detach when the last opener closes */
	LO_FLAGS_PARTSCAN	= 8,	/* scan for partitions on bind */
	LO_FLAGS_DIRECT_IO	= 16,	/* backing file I/O bypasses its cache */
};

/* Flags LOOP_SET_STATUS* may turn on, and may turn off. */
#define LOOP_SET_STATUS_SETTABLE_FLAGS	(LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN)
#define LOOP_SET_STATUS_CLEARABLE_FLAGS	(LO_FLAGS_AUTOCLEAR)

/* Flags LOOP_CONFIGURE accepts in info.lo_flags. */
#define LOOP_CONFIGURE_SETTABLE_FLAGS	(LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR | \
					 LO_FLAGS_PARTSCAN | LO_FLAGS_DIRECT_IO)

/* The 2.6-era status structure; its longs make it differ on 32-bit ABIs. */
struct loop_info {
	int			lo_number;		/* read only */
	__kernel_old_dev_t	lo_device;		/* read only */
	unsigned long		lo_inode;		/* read only */
	__kernel_old_dev_t	lo_rdevice;		/* read only */
	int			lo_offset;
	int			lo_encrypt_type;
	int			lo_encrypt_key_size;	/* write only */
	int			lo_flags;
	char			lo_name[LO_NAME_SIZE];
	unsigned char		lo_encrypt_key[LO_KEY_SIZE]; /* write only */
	unsigned long		lo_init[2];
	char			reserved[4];
};

/* The status structure with fixed-size fields, the same on every ABI. */
struct loop_info64 {
	__u64	lo_device;			/* read only */
	__u64	lo_inode;			/* read only */
	__u64	lo_rdevice;			/* read only */
	__u64	lo_offset;			/* bytes into the backing file */
	__u64	lo_sizelimit;			/* bytes, 0 == to the end */
	__u32	lo_number;			/* read only */
	__u32	lo_encrypt_type;
	__u32	lo_encrypt_key_size;		/* write only */
	__u32	lo_flags;
	__u8	lo_file_name[LO_NAME_SIZE];
	__u8	lo_crypt_name[LO_NAME_SIZE];
	__u8	lo_encrypt_key[LO_KEY_SIZE];	/* write only */
	__u64	lo_init[2];
};

/* Transfer (encryption) types, lo_encrypt_type. */
#define LO_CRYPT_NONE		0
#define LO_CRYPT_XOR		1
#define LO_CRYPT_DES		2
#define LO_CRYPT_FISH2		3	/* Twofish, 256-bit key */
#define LO_CRYPT_BLOW		4
#define LO_CRYPT_CAST128	5
#define LO_CRYPT_IDEA		6
#define LO_CRYPT_DUMMY		9
#define LO_CRYPT_SKIPJACK	10
#define LO_CRYPT_CRYPTOAPI	18
#define MAX_LO_CRYPT		20

/* Argument of LOOP_CONFIGURE: bind and configure in one call. */
struct loop_config {
	__u32			fd;		/* backing file descriptor */
	__u32			block_size;	/* 0 == 512 */
	struct loop_info64	info;
	__u64			__reserved[8];	/* must be zero */
};

/* ioctls on /dev/loopN */
#define LOOP_SET_FD		0x4C00
#define LOOP_CLR_FD		0x4C01
#define LOOP_SET_STATUS		0x4C02
#define LOOP_GET_STATUS		0x4C03
#define LOOP_SET_STATUS64	0x4C04
#define LOOP_GET_STATUS64	0x4C05
#define LOOP_CHANGE_FD		0x4C06
#define LOOP_SET_CAPACITY	0x4C07
#define LOOP_SET_DIRECT_IO	0x4C08
#define LOOP_SET_BLOCK_SIZE	0x4C09
#define LOOP_CONFIGURE		0x4C0A

/* ioctls on /dev/loop-control */
#define LOOP_CTL_ADD		0x4C80
#define LOOP_CTL_REMOVE		0x4C81
#define LOOP_CTL_GET_FREE	0x4C82

#endif /* _UAPI_LINUX_LOOP_H */
