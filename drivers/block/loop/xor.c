// SPDX-License-Identifier: GPL-2.0
/*
 * LO_CRYPT_XOR, the built-in transfer.
 *
 * The 2.6-era XOR format: the byte at device offset d is stored as
 * data ^ key[(d % 512) % key_size].  It hides nothing from anyone who
 * tries, but images written by the old driver read back.
 *
 * ->init lays the key out once as a sector-long pad (pad byte j is
 * key[j % key_size]), so that a sector is XORed a word at a time against
 * the pad instead of a division per byte.
 */
#include <linux/highmem.h>
#include <linux/slab.h>

#include "loop.h"

struct xor_pad {
	unsigned long	w[SECTOR_SIZE / sizeof(unsigned long)];
};

static int xor_init(struct loop_transfer_state *st)
{
	struct xor_pad *pad;
	u8 *b;
	unsigned int j;

	if (!st->key_size)
		return -EINVAL;
	pad = kmalloc(sizeof(*pad), GFP_KERNEL);
	if (!pad)
		return -ENOMEM;
	b = (u8 *)pad->w;
	for (j = 0; j < SECTOR_SIZE; j++)
		b[j] = st->key[j % st->key_size];
	st->priv = pad;
	return 0;
}

static void xor_release(struct loop_transfer_state *st)
{
	kfree_sensitive(st->priv);
	st->priv = NULL;
}

/* XOR whole sectors from @in into @out against @pad. */
static void xor_sectors(u8 *out, const u8 *in, const struct xor_pad *pad,
			unsigned int size)
{
	const unsigned int nw = ARRAY_SIZE(pad->w);
	unsigned int s, i;

	if (IS_ALIGNED((unsigned long)out | (unsigned long)in,
		       sizeof(unsigned long))) {
		unsigned long *o = (unsigned long *)out;
		const unsigned long *n = (const unsigned long *)in;

		for (s = 0; s < size / SECTOR_SIZE; s++, o += nw, n += nw)
			for (i = 0; i < nw; i++)
				o[i] = n[i] ^ pad->w[i];
		return;
	}
	/* Buffers off word alignment: the same, a byte at a time. */
	for (i = 0; i < size; i++)
		out[i] = in[i] ^ ((const u8 *)pad->w)[i & (SECTOR_SIZE - 1)];
}

static int xor_transfer(struct loop_transfer_state *st,
			enum loop_transfer_dir dir,
			struct page *raw, unsigned int raw_off,
			struct page *plain, unsigned int plain_off,
			unsigned int size, sector_t sector)
{
	u8 *r = kmap_local_page(raw) + raw_off;
	u8 *p = kmap_local_page(plain) + plain_off;

	/* The data starts on a sector boundary: pad byte i % 512 is d's. */
	if (dir == LOOP_TRANSFER_WRITE)
		xor_sectors(r, p, st->priv, size);
	else
		xor_sectors(p, r, st->priv, size);

	kunmap_local(p);
	kunmap_local(r);
	return 0;
}

struct loop_func_table loop_xor_transfer = {
	.number		= LO_CRYPT_XOR,
	.name		= "xor",
	.init		= xor_init,
	.release	= xor_release,
	.transfer	= xor_transfer,
	/* xor_sectors() reads each word before it writes it. */
	.flags		= LOOP_TRANSFER_READ_IN_PLACE,
	.owner		= THIS_MODULE,
};
