/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The cryptoloop transfer's own ioctl (LO_CRYPT_CRYPTOAPI): loading a key
 * longer than struct loop_info64 can carry (LO_KEY_SIZE, 32 bytes), as
 * AES-256 in XTS mode needs (64 bytes).
 *
 * How: give LOOP_CONFIGURE or LOOP_SET_STATUS64 the first LO_KEY_SIZE
 * bytes of the key in lo_encrypt_key (lo_encrypt_key_size = LO_KEY_SIZE)
 * and the full key size in bytes in lo_init[0].  The device then has no
 * usable key and fails all I/O until LOOP_CRYPTO_SET_KEY, on the device,
 * supplies the whole key, which must be lo_init[0] bytes long and begin
 * with those LO_KEY_SIZE bytes.  See
 * Documentation/admin-guide/blockdev/loop-transfers.rst.
 */
#ifndef _UAPI_LINUX_LOOP_CRYPTO_H
#define _UAPI_LINUX_LOOP_CRYPTO_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define LOOP_CRYPTO_MAX_KEY_SIZE	64

struct loop_crypto_key {
	__u32	key_size;			/* bytes used in key[] */
	__u8	key[LOOP_CRYPTO_MAX_KEY_SIZE];
};

/* 'L' 0x40: clear of loop's 0x4C00-0x4C0A and 0x4C80-0x4C82. */
#define LOOP_CRYPTO_SET_KEY	_IOW('L', 0x40, struct loop_crypto_key)

#endif /* _UAPI_LINUX_LOOP_CRYPTO_H */
