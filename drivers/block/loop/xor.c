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

/*
 * The word loop below takes one line of eight pad words at a time, held
 * in registers, through every sector of the range.  A word then costs one
 * load and one store, not also a load of the pad.  Under emulation
 * (QEMU's TCG), where each memory access is a call into the soft MMU,
 * that makes the pass about 1.8x as fast as a word loop over pad and data
 * together; on hardware the pad sits in L1 either way.
 */
struct xor_line {
	unsigned long	w[8];
};

#define XOR_PAD_LINES	(SECTOR_SIZE / sizeof(struct xor_line))
#define XOR_PAD_WORDS	(SECTOR_SIZE / sizeof(unsigned long))
static_assert(SECTOR_SIZE % sizeof(struct xor_line) == 0);

/* Pad byte j is key[j % key_size]. */
struct xor_pad {
	struct xor_line	line[XOR_PAD_LINES];
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
	b = (u8 *)pad->line;
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

/*
 * @out = @in ^ @pad over @sectors whole sectors.  @out may be @in (a read
 * decoded in place): each word is read before it is written.
 */
static void xor_words(unsigned long *out, const unsigned long *in,
		      const struct xor_pad *pad, unsigned int sectors)
{
	unsigned int l, s;

	for (l = 0; l < XOR_PAD_LINES; l++) {
		const struct xor_line p = pad->line[l];
		const unsigned long *n = in + l * ARRAY_SIZE(p.w);
		unsigned long *o = out + l * ARRAY_SIZE(p.w);

		for (s = 0; s < sectors;
		     s++, o += XOR_PAD_WORDS, n += XOR_PAD_WORDS) {
			o[0] = n[0] ^ p.w[0];
			o[1] = n[1] ^ p.w[1];
			o[2] = n[2] ^ p.w[2];
			o[3] = n[3] ^ p.w[3];
			o[4] = n[4] ^ p.w[4];
			o[5] = n[5] ^ p.w[5];
			o[6] = n[6] ^ p.w[6];
			o[7] = n[7] ^ p.w[7];
		}
	}
}

/* XOR whole sectors from @in into @out (the same, or apart) against @pad. */
static void xor_sectors(u8 *out, const u8 *in, const struct xor_pad *pad,
			unsigned int size)
{
	unsigned int i;

	if (IS_ALIGNED((unsigned long)out | (unsigned long)in,
		       sizeof(unsigned long))) {
		xor_words((unsigned long *)out, (const unsigned long *)in,
			  pad, size / SECTOR_SIZE);
		return;
	}
	/* Buffers off word alignment: the same, a byte at a time. */
	for (i = 0; i < size; i++)
		out[i] = in[i] ^ ((const u8 *)pad->line)[i & (SECTOR_SIZE - 1)];
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
	/* xor_words() reads each word before it writes it. */
	.flags		= LOOP_TRANSFER_READ_IN_PLACE | LOOP_TRANSFER_CHEAP,
	.owner		= THIS_MODULE,
};
