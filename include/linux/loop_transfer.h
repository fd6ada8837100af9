/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loop transfers: how a loop device transforms each block on its way
 * between the backing file and the device's users.
 *
 * The loop module provides LO_CRYPT_NONE (no transformation) and
 * LO_CRYPT_XOR.  Other modules add transfers with loop_register_transfer();
 * userspace selects one per device through lo_encrypt_type (and, for
 * LO_CRYPT_CRYPTOAPI, lo_crypt_name) in LOOP_SET_STATUS*, LOOP_CONFIGURE.
 *
 * See Documentation/admin-guide/blockdev/loop-transfers.rst for the rules;
 * drivers/block/loop/cryptoloop.c is a complete example.
 */
#ifndef _LINUX_LOOP_TRANSFER_H
#define _LINUX_LOOP_TRANSFER_H

#include <linux/bits.h>
#include <linux/mm_types.h>
#include <linux/stringify.h>
#include <linux/types.h>

#ifndef LO_KEY_SIZE
#include <uapi/linux/loop.h>
#endif

struct module;

enum loop_transfer_dir {
	LOOP_TRANSFER_READ,	/* backing file (raw) -> device user (plain) */
	LOOP_TRANSFER_WRITE,	/* device user (plain) -> backing file (raw) */
};

/**
 * struct loop_transfer_state - one device's use of a transfer
 * @number:	the loop device's number, for messages
 * @key:	lo_encrypt_key as given by userspace
 * @key_size:	lo_encrypt_key_size, 0 to LO_KEY_SIZE
 * @crypt_name:	lo_crypt_name, NUL-terminated
 * @init:	lo_init[], free for the transfer to interpret
 * @priv:	the transfer's own data, set by ->init, freed by ->release
 */
struct loop_transfer_state {
	int	number;
	u8	key[LO_KEY_SIZE];
	u32	key_size;
	char	crypt_name[LO_NAME_SIZE];
	u64	init[2];
	void	*priv;
};

/**
 * struct loop_func_table - a transfer
 * @number:	the LO_CRYPT_* type it implements (1 to MAX_LO_CRYPT - 1)
 * @name:	short name, for messages
 * @init:	optional; prepare @st of a device being given this transfer.
 *		Return 0 or -errno (-EINVAL for a key or name it cannot use);
 *		on error the device keeps its previous transfer.
 * @release:	optional; undo ->init.
 * @transfer:	transform @size bytes between @raw at @raw_off (the backing
 *		file's bytes) and @plain at @plain_off (the device user's).
 *		@size is a multiple of 512 and at most PAGE_SIZE, neither range
 *		crosses a page, and the data starts at the 512-byte sector
 *		@sector counted from the start of the device (not the file),
 *		from which ciphers derive their IVs.  Never called for two
 *		overlapping ranges, except as @flags allow.  Return 0 or
 *		-errno (fails the request).
 * @ioctl:	optional; the device ioctls listed in @ioctl_cmds are
 *		passed here, with the device's configuration locked and its
 *		I/O going on: copy the argument in and prepare new state
 *		here, then install it with loop_transfer_swap_priv(), the
 *		only way to change what ->transfer uses.  Change nothing on
 *		any error.  @arg is a user pointer (widened from 32 bits for
 *		compat callers, and nothing else translated): what it points
 *		to must have one layout on every ABI, as struct
 *		loop_crypto_key has.
 * @ioctl_cmds:	with @ioctl: the commands it takes, ending with 0.  Other
 *		commands fail with -EINVAL without reaching the transfer.
 * @flags:	LOOP_TRANSFER_READ_IN_PLACE: for LOOP_TRANSFER_READ,
 *		->transfer also takes one range as both @raw and @plain.
 *		The driver may then read a request straight into its
 *		pages and transform them there, with no bounce memory, in
 *		a worker or in the context that submitted the request (a
 *		task that may sleep, with memalloc_noio in force too).
 *		LOOP_TRANSFER_CHEAP: ->transfer costs about what a copy of
 *		the data does.  The driver then serves the device as one
 *		without a transfer, not with workers on two CPUs at once.
 * @owner:	THIS_MODULE; held while any device uses the transfer.
 *
 * ->init, ->release and ->ioctl may sleep; ->transfer runs in a worker
 * thread of the device (or, see @flags, in a reader's own task) and may
 * sleep too, but must not allocate memory that can recurse into I/O (it
 * runs with memalloc_noio).
 */
struct loop_func_table {
	int number;
	const char *name;
	int (*init)(struct loop_transfer_state *st);
	void (*release)(struct loop_transfer_state *st);
	int (*transfer)(struct loop_transfer_state *st,
			enum loop_transfer_dir dir,
			struct page *raw, unsigned int raw_off,
			struct page *plain, unsigned int plain_off,
			unsigned int size, sector_t sector);
	int (*ioctl)(struct loop_transfer_state *st, unsigned int cmd,
		     unsigned long arg);
	const unsigned int *ioctl_cmds;
	unsigned int flags;
	struct module *owner;
};

#define LOOP_TRANSFER_READ_IN_PLACE	BIT(0)
#define LOOP_TRANSFER_CHEAP		BIT(1)

/*
 * Put MODULE_ALIAS_LOOP_TRANSFER(number) in a transfer's module, and the
 * loop driver loads it the first time a device asks for that number.
 * (A driver built with LOOP_NAME=<name> asks for "<name>-xfer-N".)
 */
#ifdef LOOP_ALT_NAME
#define MODULE_ALIAS_LOOP_TRANSFER(number) \
	MODULE_ALIAS(LOOP_ALT_NAME "-xfer-" __stringify(number))
#else
#define MODULE_ALIAS_LOOP_TRANSFER(number) \
	MODULE_ALIAS("loop-xfer-" __stringify(number))
#endif

/*
 * From ->ioctl only: make @priv the device's @st->priv, with its I/O
 * quiesced for the swap (and its page cache written back and dropped
 * before).  Returns the old @st->priv, for the caller to free.
 */
void *loop_transfer_swap_priv(struct loop_transfer_state *st, void *priv);

/*
 * 0, or -EINVAL for a bad table (no ->transfer, ->ioctl without
 * ->ioctl_cmds), -EBUSY if the number is taken.
 */
int loop_register_transfer(struct loop_func_table *funcs);

/*
 * Withdraw transfer @number.  Devices still using it (possible only if the
 * owner unregisters while it is not exiting) are cut off from it: their
 * I/O fails with EIO until they are detached.  0, or -EINVAL if @number
 * is not registered.
 */
int loop_unregister_transfer(int number);

#endif /* _LINUX_LOOP_TRANSFER_H */
