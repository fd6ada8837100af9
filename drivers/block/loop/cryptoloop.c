// SPDX-License-Identifier: GPL-2.0
/*
 * cryptoloop: the LO_CRYPT_CRYPTOAPI transfer, block ciphers of the kernel
 * crypto API on a loop device, in dm-crypt's "plain" on-disk format.
 *
 * lo_crypt_name names the cipher the way dm-crypt does,
 * CIPHER-MODE-IVMODE[:IVOPTS], e.g. aes-cbc-essiv:sha256 or
 * aes-xts-plain64, or capi:API_NAME-IVMODE[:IVOPTS] with the crypto API's
 * name of the mode, e.g. capi:xts(aes)-plain64; the 2.6-era spellings
 * CIPHER and CIPHER-cbc mean CIPHER-cbc-plain.  Every 512-byte sector is
 * encrypted on its own, with
 * an IV made from its number counted from the start of the device plus
 * lo_init[1] (dm-crypt's iv_offset, cryptsetup's --skip):
 *
 *   plain	little-endian 32-bit sector number, zero-padded
 *   plain64	little-endian 64-bit sector number, zero-padded
 *   essiv:H	plain64, encrypted with the hash H of the key (done by the
 *		crypto API's essiv() template, as dm-crypt does)
 *
 * Keys up to LO_KEY_SIZE bytes come in lo_encrypt_key.  Longer ones are
 * announced in lo_init[0] and loaded with LOOP_CRYPTO_SET_KEY
 * (include/uapi/linux/loop_crypto.h); until then the device fails its I/O.
 *
 * This is also the worked example of the transfer API in
 * Documentation/admin-guide/blockdev/loop-transfers.rst.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/skcipher.h>
#include <linux/blkdev.h>
#include <linux/loop_transfer.h>
#include <linux/mempool.h>
#include <linux/module.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <uapi/linux/loop_crypto.h>

/* Largest IV we build; AES and its kin take 16 bytes. */
#define CRYPTOLOOP_MAX_IV	32

/*
 * A ->transfer call gives at most a page; its sectors go to the cipher
 * together, each request in flight with its own IV and scatterlists, and
 * are waited for once: an asynchronous implementation (a crypto engine,
 * cryptd) works on all of them at once instead of one sector per wake-up.
 */
#define CRYPTOLOOP_BATCH	(PAGE_SIZE / SECTOR_SIZE)

/*
 * Batches kept in reserve per device.  A worker holds one batch for the
 * duration of one ->transfer call, so even one is enough for progress.
 */
#define CRYPTOLOOP_MIN_BATCHES	2

/*
 * One sector's part of a batch, what must live while its request is in
 * flight; the skcipher_request (with the implementation's context) follows
 * at cryptoloop.req_off.
 */
struct cryptoloop_sector {
	struct crypto_wait	wait;
	struct scatterlist	sg_raw;
	struct scatterlist	sg_plain;
	int			err;
	u8			iv[CRYPTOLOOP_MAX_IV] __aligned(8);
};

/* One device's cipher. */
struct cryptoloop {
	struct crypto_skcipher	*tfm;
	/*
	 * Batches of CRYPTOLOOP_BATCH sectors, slot_size bytes each.
	 * Several workers of a device encrypt at once, each with a batch of
	 * its own; a pool, because writeback may depend on us when memory
	 * is short.
	 */
	mempool_t		*batches;
	unsigned int		req_off;
	unsigned int		slot_size;
	unsigned int		iv_size;	/* the cipher's */
	bool			iv64;		/* plain64, essiv: 64-bit sector */
	bool			keyed;		/* false while a long key is due */
	u32			long_key_size;	/* lo_init[0]: 0, or the key due */
	u64			iv_offset;	/* lo_init[1] */
};

/* Is the @n characters at @s the word @word? */
static bool cryptoloop_word_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && !strncmp(s, word, n);
}

/*
 * The IV part of a specification, IVMODE[:IVOPTS], for the crypto API's
 * mode @mode: the algorithm's name into @alg (@len bytes) and the IV
 * layout into @iv64.  0 or -EINVAL.
 */
static int cryptoloop_parse_iv(const char *mode, const char *iv, char *alg,
			       size_t len, bool *iv64)
{
	const char *opts = strchr(iv, ':');
	size_t n = opts ? opts - iv : strlen(iv);
	int written;

	if (opts)
		opts++;
	if (cryptoloop_word_is(iv, n, "plain") ||
	    cryptoloop_word_is(iv, n, "plain64")) {
		if (opts)
			return -EINVAL;
		*iv64 = n == strlen("plain64");
		written = snprintf(alg, len, "%s", mode);
	} else if (cryptoloop_word_is(iv, n, "essiv")) {
		if (!opts || !*opts)
			return -EINVAL;
		*iv64 = true;
		written = snprintf(alg, len, "essiv(%s,%s)", mode, opts);
	} else {
		return -EINVAL;
	}
	return written < len ? 0 : -EINVAL;
}

/*
 * Translate dm-crypt's cipher specification @spec into the crypto API's
 * algorithm name (@alg, @len bytes) and the IV layout.  0 or -EINVAL.
 */
static int cryptoloop_parse(const char *spec, char *alg, size_t len,
			    bool *iv64)
{
	char buf[LO_NAME_SIZE], mode[LO_NAME_SIZE], *rest = buf;
	const char *cipher, *chain, *ivmode;
	char *opts, *dash;

	if (strscpy(buf, spec, sizeof(buf)) < 0)
		return -EINVAL;

	/*
	 * capi:API_NAME-IVMODE[:IVOPTS], split as dm-crypt does: the IV
	 * options (a hash's name may hold a '-') first, then the last '-'.
	 */
	if (!strncmp(buf, "capi:", 5)) {
		rest += 5;
		opts = strchr(rest, ':');
		if (opts)
			*opts = '\0';
		dash = strrchr(rest, '-');
		if (opts)
			*opts = ':';
		if (!dash || dash == rest)
			return -EINVAL;
		*dash = '\0';
		return cryptoloop_parse_iv(rest, dash + 1, alg, len, iv64);
	}

	cipher = strsep(&rest, "-");
	chain = strsep(&rest, "-");
	ivmode = rest;
	if (!*cipher)
		return -EINVAL;

	/* The 2.6 cryptoloop's names: "aes", "aes-cbc": CBC, 32-bit IVs. */
	if (!chain || (!strcmp(chain, "cbc") && !ivmode)) {
		chain = "cbc";
		ivmode = "plain";
	}
	if (!ivmode || (strcmp(chain, "cbc") && strcmp(chain, "xts")))
		return -EINVAL;
	if (snprintf(mode, sizeof(mode), "%s(%s)", chain, cipher) >=
	    sizeof(mode))
		return -EINVAL;
	return cryptoloop_parse_iv(mode, ivmode, alg, len, iv64);
}

/*
 * Check that the cipher takes keys of @size bytes, without the real key:
 * with a stand-in that no weak-key check refuses (halves differ for XTS).
 */
static int cryptoloop_try_key_size(struct crypto_skcipher *tfm,
				   unsigned int size)
{
	u8 key[LOOP_CRYPTO_MAX_KEY_SIZE];
	unsigned int i;
	int err;

	for (i = 0; i < size; i++)
		key[i] = i + 1;
	err = crypto_skcipher_setkey(tfm, key, size);
	memzero_explicit(key, sizeof(key));
	return err;
}

static void cryptoloop_free(struct cryptoloop *cl)
{
	mempool_destroy(cl->batches);
	crypto_free_skcipher(cl->tfm);	/* wipes the key schedule */
	kfree_sensitive(cl);
}

/*
 * The cipher that @st names, with its pool of requests: keyed with @key
 * (@key_size bytes), or, with @key NULL, only checked to take keys of
 * @key_size bytes and left unusable.  The cipher or ERR_PTR(-errno).
 */
static struct cryptoloop *cryptoloop_create(const struct loop_transfer_state *st,
					    const u8 *key,
					    unsigned int key_size)
{
	char alg[CRYPTO_MAX_ALG_NAME];
	struct crypto_skcipher *tfm;
	struct cryptoloop *cl;
	unsigned int reqsize;
	bool iv64 = false;
	int err;

	err = cryptoloop_parse(st->crypt_name, alg, sizeof(alg), &iv64);
	if (err)
		return ERR_PTR(err);

	/*
	 * Like dm-crypt: no implementation that allocates memory per
	 * request, since we may be writing out pages to free memory.
	 */
	tfm = crypto_alloc_skcipher(alg, 0, CRYPTO_ALG_ALLOCATES_MEMORY);
	if (IS_ERR(tfm)) {
		err = PTR_ERR(tfm);
		/* An unknown algorithm is a name we cannot use. */
		return ERR_PTR(err == -ENOENT ? -EINVAL : err);
	}
	err = -EINVAL;
	if (crypto_skcipher_ivsize(tfm) < (iv64 ? 8 : 4) ||
	    crypto_skcipher_ivsize(tfm) > CRYPTOLOOP_MAX_IV ||
	    SECTOR_SIZE % crypto_skcipher_blocksize(tfm))
		goto out_free_tfm;

	if (key)
		err = crypto_skcipher_setkey(tfm, key, key_size);
	else
		err = cryptoloop_try_key_size(tfm, key_size);
	if (err) {
		err = -EINVAL;
		goto out_free_tfm;
	}

	err = -ENOMEM;
	cl = kzalloc(sizeof(*cl), GFP_KERNEL);
	if (!cl)
		goto out_free_tfm;
	/* kmalloc aligns each batch for its first request: CRYPTO_MINALIGN. */
	reqsize = sizeof(struct skcipher_request) + crypto_skcipher_reqsize(tfm);
	cl->req_off = ALIGN(sizeof(struct cryptoloop_sector), CRYPTO_MINALIGN);
	cl->slot_size = ALIGN(cl->req_off + reqsize, CRYPTO_MINALIGN);
	cl->batches = mempool_create_kmalloc_pool(CRYPTOLOOP_MIN_BATCHES,
						  CRYPTOLOOP_BATCH *
						  cl->slot_size);
	if (!cl->batches)
		goto out_free_cl;

	cl->tfm = tfm;
	cl->iv_size = crypto_skcipher_ivsize(tfm);
	cl->iv64 = iv64;
	cl->long_key_size = st->init[0];
	cl->keyed = !!key;
	cl->iv_offset = st->init[1];
	return cl;

out_free_cl:
	kfree(cl);
out_free_tfm:
	crypto_free_skcipher(tfm);
	return ERR_PTR(err);
}

static int cryptoloop_init(struct loop_transfer_state *st)
{
	struct cryptoloop *cl;

	/* A long key is announced with its first LO_KEY_SIZE bytes. */
	if (st->init[0] &&
	    (st->init[0] <= LO_KEY_SIZE ||
	     st->init[0] > LOOP_CRYPTO_MAX_KEY_SIZE ||
	     st->key_size != LO_KEY_SIZE))
		return -EINVAL;
	if (!st->key_size)
		return -EINVAL;

	if (st->init[0])
		cl = cryptoloop_create(st, NULL, st->init[0]);
	else
		cl = cryptoloop_create(st, st->key, st->key_size);
	if (IS_ERR(cl))
		return PTR_ERR(cl);
	st->priv = cl;
	return 0;
}

static void cryptoloop_release(struct loop_transfer_state *st)
{
	cryptoloop_free(st->priv);
	st->priv = NULL;
}

/* dm-crypt's plain, plain64 and (before the template's part) essiv IVs. */
static void cryptoloop_make_iv(const struct cryptoloop *cl, u8 *iv, u64 sector)
{
	memset(iv, 0, cl->iv_size);
	if (cl->iv64)
		*(__le64 *)iv = cpu_to_le64(sector);
	else
		*(__le32 *)iv = cpu_to_le32(sector & 0xffffffff);
}

/*
 * Hand @count sectors to the cipher, all of them before waiting for any,
 * then wait for each.  The first error, or 0.
 */
static int cryptoloop_crypt_batch(struct cryptoloop *cl, void *batch,
				  bool write, struct page *raw,
				  unsigned int raw_off, struct page *plain,
				  unsigned int plain_off, unsigned int count,
				  u64 sector)
{
	/* A read in place gives one range as both (LOOP_TRANSFER_READ_IN_PLACE). */
	bool in_place = raw == plain && raw_off == plain_off;
	struct cryptoloop_sector *cs;
	struct skcipher_request *req;
	unsigned int i, sent;
	int err = 0;

	for (sent = 0; sent < count; sent++) {
		cs = batch + sent * cl->slot_size;
		req = (void *)cs + cl->req_off;
		crypto_init_wait(&cs->wait);
		skcipher_request_set_tfm(req, cl->tfm);
		skcipher_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG |
					      CRYPTO_TFM_REQ_MAY_SLEEP,
					      crypto_req_done, &cs->wait);
		sg_init_table(&cs->sg_raw, 1);
		sg_set_page(&cs->sg_raw, raw, SECTOR_SIZE,
			    raw_off + sent * SECTOR_SIZE);
		sg_init_table(&cs->sg_plain, 1);
		sg_set_page(&cs->sg_plain, plain, SECTOR_SIZE,
			    plain_off + sent * SECTOR_SIZE);
		cryptoloop_make_iv(cl, cs->iv, sector + sent + cl->iv_offset);
		/*
		 * One scatterlist as source and destination for a read in
		 * place, which every mode decrypts in place (CBC keeps each
		 * ciphertext block it still needs), as dm-crypt's reads do.
		 */
		if (write) {
			skcipher_request_set_crypt(req, &cs->sg_plain,
						   &cs->sg_raw, SECTOR_SIZE,
						   cs->iv);
			cs->err = crypto_skcipher_encrypt(req);
		} else {
			skcipher_request_set_crypt(req, &cs->sg_raw,
						   in_place ? &cs->sg_raw :
							      &cs->sg_plain,
						   SECTOR_SIZE, cs->iv);
			cs->err = crypto_skcipher_decrypt(req);
		}
		/* Refused at once: send no more, but wait for those sent. */
		if (cs->err && cs->err != -EINPROGRESS && cs->err != -EBUSY) {
			sent++;
			break;
		}
	}

	for (i = 0; i < sent; i++) {
		cs = batch + i * cl->slot_size;
		cs->err = crypto_wait_req(cs->err, &cs->wait);
		if (!err)
			err = cs->err;
		memzero_explicit(cs->iv, cl->iv_size);
	}
	return err;
}

static int cryptoloop_transfer(struct loop_transfer_state *st,
			       enum loop_transfer_dir dir,
			       struct page *raw, unsigned int raw_off,
			       struct page *plain, unsigned int plain_off,
			       unsigned int size, sector_t sector)
{
	struct cryptoloop *cl = st->priv;
	unsigned int done, count;
	void *batch;
	int err = 0;

	/* A long key was announced and has not come yet. */
	if (!cl->keyed)
		return -ENOKEY;

	/* Sector by sector, each with its own IV, as dm-crypt does. */
	batch = mempool_alloc(cl->batches, GFP_NOIO);
	for (done = 0; !err && size - done >= SECTOR_SIZE;
	     done += count * SECTOR_SIZE) {
		count = min_t(unsigned int, (size - done) / SECTOR_SIZE,
			      CRYPTOLOOP_BATCH);
		err = cryptoloop_crypt_batch(cl, batch,
					     dir == LOOP_TRANSFER_WRITE,
					     raw, raw_off + done,
					     plain, plain_off + done, count,
					     sector + done / SECTOR_SIZE);
	}
	mempool_free(batch, cl->batches);
	return err;
}

/*
 * LOOP_CRYPTO_SET_KEY: the long key that lo_init[0] announced.  The key is
 * copied in and a new cipher keyed with it while the device's I/O goes on
 * (the key may live in a file on this very device, and the copy fault in
 * its page from it); only the swap quiesces the device.  On any error the
 * device keeps the cipher it has.
 */
static int cryptoloop_set_key(struct loop_transfer_state *st,
			      const struct loop_crypto_key __user *arg)
{
	struct cryptoloop *cl = st->priv, *next;
	struct loop_crypto_key *k;
	int err = -EINVAL;

	k = kmalloc(sizeof(*k), GFP_KERNEL);
	if (!k)
		return -ENOMEM;
	if (copy_from_user(k, arg, sizeof(*k))) {
		err = -EFAULT;
		goto out;
	}
	if (!cl->long_key_size || k->key_size != cl->long_key_size ||
	    memcmp(k->key, st->key, st->key_size))
		goto out;

	next = cryptoloop_create(st, k->key, k->key_size);
	if (IS_ERR(next)) {
		err = PTR_ERR(next);
		goto out;
	}
	cryptoloop_free(loop_transfer_swap_priv(st, next));
	err = 0;
out:
	kfree_sensitive(k);
	return err;
}

/*
 * Called with the device's configuration locked and its I/O going on;
 * ->transfer sees a change only through loop_transfer_swap_priv().
 */
static int cryptoloop_ioctl(struct loop_transfer_state *st, unsigned int cmd,
			    unsigned long arg)
{
	switch (cmd) {
	case LOOP_CRYPTO_SET_KEY:
		return cryptoloop_set_key(st, (void __user *)arg);
	default:
		return -EINVAL;
	}
}

static const unsigned int cryptoloop_ioctl_cmds[] = {
	LOOP_CRYPTO_SET_KEY,
	0
};

static struct loop_func_table cryptoloop_funcs = {
	.number		= LO_CRYPT_CRYPTOAPI,
	.name		= "cryptoapi",
	.init		= cryptoloop_init,
	.release	= cryptoloop_release,
	.transfer	= cryptoloop_transfer,
	.ioctl		= cryptoloop_ioctl,
	.ioctl_cmds	= cryptoloop_ioctl_cmds,
	/* Reads decrypt in place: see cryptoloop_transfer(). */
	.flags		= LOOP_TRANSFER_READ_IN_PLACE,
	.owner		= THIS_MODULE,
};

static int __init cryptoloop_mod_init(void)
{
	int err = loop_register_transfer(&cryptoloop_funcs);

	if (err)
		pr_err("cannot register the cryptoapi transfer: %d\n", err);
	return err;
}

/* Module references keep us loaded while any device uses the transfer. */
static void __exit cryptoloop_mod_exit(void)
{
	loop_unregister_transfer(LO_CRYPT_CRYPTOAPI);
}

module_init(cryptoloop_mod_init);
module_exit(cryptoloop_mod_exit);

MODULE_DESCRIPTION("Crypto API transfer for loop devices, in dm-crypt's plain format");
MODULE_LICENSE("GPL");
MODULE_ALIAS_LOOP_TRANSFER(LO_CRYPT_CRYPTOAPI);
#ifdef LOOP_VERSION
MODULE_VERSION(LOOP_VERSION);
#endif
