// SPDX-License-Identifier: GPL-2.0
/*
 * The transfer layer: the registry of transfers (the built-in XOR one is
 * in xor.c), setting up and tearing down a device's transfer state, and
 * the bounce memory that requests through a transfer move their data in.
 * LO_CRYPT_NONE is not a table: a device without one takes the I/O path's
 * zero-copy route.  See include/linux/loop_transfer.h for the API.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "loop.h"

/* Registered transfers by LO_CRYPT_* number, under loop_transfers_lock. */
static DEFINE_MUTEX(loop_transfers_lock);
static struct loop_func_table *loop_transfers[MAX_LO_CRYPT];

int loop_register_transfer(struct loop_func_table *funcs)
{
	int err = 0;

	if (!funcs || funcs->number <= LO_CRYPT_NONE ||
	    funcs->number >= MAX_LO_CRYPT || !funcs->transfer ||
	    (funcs->ioctl && !funcs->ioctl_cmds))
		return -EINVAL;

	mutex_lock(&loop_transfers_lock);
	if (loop_transfers[funcs->number])
		err = -EBUSY;
	else
		loop_transfers[funcs->number] = funcs;
	mutex_unlock(&loop_transfers_lock);
	return err;
}
EXPORT_SYMBOL_GPL(loop_register_transfer);

/* Cut one device off from a transfer that is going away. */
void loop_drop_transfer(struct loop_device *lo,
			const struct loop_func_table *funcs)
{
	struct loop_xfer old;
	unsigned int noio;

	mutex_lock(&lo->lock);
	if (lo->state != LOOP_BOUND || lo->xfer.funcs != funcs) {
		mutex_unlock(&lo->lock);
		return;
	}
	noio = loop_freeze(lo);
	old = lo->xfer;
	memset(&lo->xfer, 0, sizeof(lo->xfer));
	/* Raw data passed off as plain would be worse than an error. */
	lo->xfer_lost = true;
	loop_unfreeze(lo, noio);
	mutex_unlock(&lo->lock);

	pr_warn("%s: transfer %s unregistered while in use: I/O fails until detached\n",
		lo->disk->disk_name, old.funcs->name);
	loop_transfer_release(&old);
}

int loop_unregister_transfer(int number)
{
	struct loop_func_table *funcs = NULL;

	if (number <= LO_CRYPT_NONE || number >= MAX_LO_CRYPT)
		return -EINVAL;

	mutex_lock(&loop_transfers_lock);
	swap(funcs, loop_transfers[number]);
	mutex_unlock(&loop_transfers_lock);
	if (!funcs)
		return -EINVAL;

	loop_drop_transfer_everywhere(funcs);
	return 0;
}
EXPORT_SYMBOL_GPL(loop_unregister_transfer);

/*
 * Load the module of transfer @type if nobody has registered it yet, as a
 * file system's module is loaded on mount: users need not know that
 * LO_CRYPT_CRYPTOAPI lives in cryptoloop.ko.  Called without locks held:
 * modprobe takes its time, and must not wait on a device lock of ours.
 */
void loop_transfer_request(u32 type)
{
	if (type < MAX_LO_CRYPT && !loop_transfer_known(type))
		request_module(LOOP_NAME "-xfer-%u", type);
}

/*
 * Is @type LO_CRYPT_NONE or a registered transfer?  An early answer for
 * argument checks; loop_transfer_prepare() has the binding one.
 */
bool loop_transfer_known(u32 type)
{
	bool known;

	if (type == LO_CRYPT_NONE)
		return true;
	if (type >= MAX_LO_CRYPT)
		return false;
	mutex_lock(&loop_transfers_lock);
	known = loop_transfers[type];
	mutex_unlock(&loop_transfers_lock);
	return known;
}

/*
 * Build the transfer state that @info asks for into @x (zeroed first).
 * On success @x holds a reference on the transfer's module; release it
 * with loop_transfer_release().
 */
int loop_transfer_prepare(const struct loop_info64 *info, struct loop_xfer *x)
{
	struct loop_func_table *funcs;
	struct loop_transfer_state *st = &x->state;
	int err;

	memset(x, 0, sizeof(*x));
	if (info->lo_encrypt_key_size > LO_KEY_SIZE ||
	    info->lo_encrypt_type >= MAX_LO_CRYPT)
		return -EINVAL;
	if (info->lo_encrypt_type == LO_CRYPT_NONE)
		return 0;

	mutex_lock(&loop_transfers_lock);
	funcs = loop_transfers[info->lo_encrypt_type];
	if (funcs && !try_module_get(funcs->owner))
		funcs = NULL;
	mutex_unlock(&loop_transfers_lock);
	if (!funcs)
		return -EINVAL;

	memcpy(st->key, info->lo_encrypt_key, info->lo_encrypt_key_size);
	st->key_size = info->lo_encrypt_key_size;
	memcpy(st->crypt_name, info->lo_crypt_name, LO_NAME_SIZE);
	st->crypt_name[LO_NAME_SIZE - 1] = '\0';
	st->init[0] = info->lo_init[0];
	st->init[1] = info->lo_init[1];

	err = funcs->init ? funcs->init(st) : 0;
	if (err) {
		memzero_explicit(st, sizeof(*st));
		module_put(funcs->owner);
		return err;
	}
	x->funcs = funcs;
	x->owner = current_uid();
	return 0;
}

void loop_transfer_release(struct loop_xfer *x)
{
	if (x->funcs) {
		if (x->funcs->release)
			x->funcs->release(&x->state);
		module_put(x->funcs->owner);
	}
	memzero_explicit(x, sizeof(*x));
}

/* Does @x take ioctl @cmd?  Asked before I/O is quiesced for it. */
bool loop_transfer_takes_ioctl(const struct loop_xfer *x, unsigned int cmd)
{
	const unsigned int *c;

	if (!x->funcs || !x->funcs->ioctl)
		return false;
	for (c = x->funcs->ioctl_cmds; *c; c++)
		if (*c == cmd)
			return true;
	return false;
}

/* Report @x in @info; the key only to those who may see it. */
void loop_transfer_report(const struct loop_xfer *x, struct loop_info64 *info)
{
	const struct loop_transfer_state *st = &x->state;

	if (!x->funcs)
		return;
	info->lo_encrypt_type = x->funcs->number;
	info->lo_encrypt_key_size = st->key_size;
	memcpy(info->lo_crypt_name, st->crypt_name, LO_NAME_SIZE);
	info->lo_init[0] = st->init[0];
	info->lo_init[1] = st->init[1];
	if (capable(CAP_SYS_ADMIN))
		memcpy(info->lo_encrypt_key, st->key, st->key_size);
}

/*
 * Does @info, given to LOOP_SET_STATUS*, ask for the transfer @x already
 * is?  @shown is what LOOP_GET_STATUS* reports of @x to this caller, as
 * it comes back through the structure @info came in.  The same transfer
 * means: the same type, key size, cipher name (as the transfer sees it,
 * up to its first NUL) and lo_init values, and key bytes that are either
 * the key itself or what the caller was shown of it (zeroes, without
 * CAP_SYS_ADMIN).  Then the device keeps its transfer, key, cipher state
 * and key owner as they are: a status read and written back to change a
 * flag must not re-key the device with the hidden key's zeroes, nor lose
 * a key that the status cannot carry (cryptoloop's long keys).
 */
bool loop_transfer_unchanged(const struct loop_xfer *x,
			     const struct loop_info64 *info,
			     const struct loop_info64 *shown)
{
	u32 size = shown->lo_encrypt_key_size;

	if (info->lo_encrypt_type != shown->lo_encrypt_type ||
	    info->lo_encrypt_key_size != size ||
	    strncmp((const char *)info->lo_crypt_name,
		    (const char *)shown->lo_crypt_name, LO_NAME_SIZE - 1) ||
	    info->lo_init[0] != shown->lo_init[0] ||
	    info->lo_init[1] != shown->lo_init[1])
		return false;
	/* Only the first size bytes are the key: the rest is never used. */
	return !memcmp(info->lo_encrypt_key, x->state.key, size) ||
	       !memcmp(info->lo_encrypt_key, shown->lo_encrypt_key, size);
}

/**
 * loop_transfer_swap_priv - give a device's transfer new private data
 * @st: the state that ->ioctl was called with
 * @priv: what ->transfer is to find in @st->priv from now on
 *
 * For ->ioctl, which runs with the device's configuration locked but its
 * I/O going on, so that it can copy its argument in, allocate and key a
 * cipher without anything waiting for it.  Here the device's dirty pages
 * are written back (the old data encoded them), @priv is put in place
 * with the device's I/O quiesced, so that every request runs wholly with
 * the old or wholly with the new data, and the page cache that the old
 * data decoded is dropped.  Returns the old @st->priv, for the caller to
 * free.
 */
void *loop_transfer_swap_priv(struct loop_transfer_state *st, void *priv)
{
	struct loop_xfer *x = container_of(st, struct loop_xfer, state);
	struct loop_device *lo = container_of(x, struct loop_device, xfer);
	unsigned int noio;

	lockdep_assert_held(&lo->lock);
	loop_remap_writeback(lo);
	noio = loop_freeze(lo);
	swap(st->priv, priv);
	loop_unfreeze(lo, noio);
	loop_remap_drop_cache(lo);
	return priv;
}
EXPORT_SYMBOL_GPL(loop_transfer_swap_priv);

/*
 * May the caller change the status of a device using @x?  A device with a
 * key belongs to whoever set the key, and to CAP_SYS_ADMIN.
 */
bool loop_transfer_may_change(const struct loop_xfer *x)
{
	return !x->state.key_size || uid_eq(x->owner, current_uid()) ||
	       capable(CAP_SYS_ADMIN);
}

/*
 * Bounce memory (struct loop_bounce): a transfer never writes into the
 * caller's pages, nor reads the backing file's form into them.
 */

/* Fill @bv[@i..@nr) with new pages; returns how many it then holds. */
static unsigned int loop_bounce_alloc(struct bio_vec *bv, unsigned int i,
				      unsigned int nr, gfp_t gfp)
{
	for (; i < nr; i++) {
		struct page *page = alloc_page(gfp);

		if (!page)
			break;
		bvec_set_page(&bv[i], page, PAGE_SIZE, 0);
	}
	return i;
}

/* Free the pages of @bv[0..@nr). */
static void loop_bounce_free_pages(struct bio_vec *bv, unsigned int nr)
{
	while (nr--)
		__free_page(bv[nr].bv_page);
}

/*
 * Fill @bv[0..@nr) with whole pages, spare ones first; returns how many it
 * could get.  Whatever a spare page holds is overwritten before it is
 * used: a write transforms into it what it then writes, a read fills it
 * from the file (zeroes beyond the file's end) before transforming out of
 * it, and nothing past the chunk's length goes anywhere.
 */
static unsigned int loop_bounce_fill(struct loop_bounce_reserve *r,
				     struct bio_vec *bv, unsigned int nr,
				     gfp_t gfp)
{
	unsigned int i = 0;

	spin_lock(&r->spare_lock);
	while (i < nr && r->nr_spare) {
		bvec_set_page(&bv[i], r->spare[--r->nr_spare], PAGE_SIZE, 0);
		i++;
	}
	spin_unlock(&r->spare_lock);
	return loop_bounce_alloc(bv, i, nr, gfp);
}

/* Give back the pages of @bv[0..@nr): to the spares while there is room. */
static void loop_bounce_drain(struct loop_bounce_reserve *r,
			      struct bio_vec *bv, unsigned int nr)
{
	spin_lock(&r->spare_lock);
	while (nr && r->nr_spare < ARRAY_SIZE(r->spare))
		r->spare[r->nr_spare++] = bv[--nr].bv_page;
	spin_unlock(&r->spare_lock);
	loop_bounce_free_pages(bv, nr);
}

int loop_bounce_reserve_create(struct loop_device *lo)
{
	struct loop_bounce_reserve *r;
	unsigned int got;

	lockdep_assert_held(&lo->lock);
	if (lo->bounce_reserve)
		return 0;
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	got = loop_bounce_alloc(r->bv, 0, LOOP_BOUNCE_PAGES, GFP_KERNEL);
	if (got < LOOP_BOUNCE_PAGES) {
		loop_bounce_free_pages(r->bv, got);
		kfree(r);
		return -ENOMEM;
	}
	mutex_init(&r->lock);
	spin_lock_init(&r->spare_lock);
	lo->bounce_reserve = r;
	return 0;
}

/* With no request in flight: at unbind, or when a bind fails. */
void loop_bounce_reserve_destroy(struct loop_device *lo)
{
	struct loop_bounce_reserve *r = lo->bounce_reserve;

	if (!r)
		return;
	loop_bounce_free_pages(r->bv, LOOP_BOUNCE_PAGES);
	while (r->nr_spare)
		__free_page(r->spare[--r->nr_spare]);
	mutex_destroy(&r->lock);
	kfree(r);
	lo->bounce_reserve = NULL;
}

/* Give back what a loop_bounce holds of its own (its first @b->nr pages). */
static void loop_bounce_free(struct loop_device *lo, struct loop_cmd *cmd,
			     struct loop_bounce *b)
{
	loop_bounce_drain(lo->bounce_reserve, b->bv, b->nr);
	if (b->bv != cmd->inline_bvec)
		kfree(b->bv);
}

/*
 * Bounce memory for @len bytes (at most LOOP_BOUNCE_BYTES) of @cmd's
 * request, in a worker.  All of it at once, or none and the reserve: may
 * wait for the reserve, never fails.  The table of a small chunk is the
 * request's own.
 */
void loop_bounce_get(struct loop_device *lo, struct loop_cmd *cmd,
		     unsigned int len, struct loop_bounce *b)
{
	/* Some reclaim, no retrying: the reserve is there for that. */
	const gfp_t gfp = GFP_NOIO | __GFP_NORETRY | __GFP_NOWARN;
	unsigned int nr = DIV_ROUND_UP(len, PAGE_SIZE);
	struct loop_bounce_reserve *r = lo->bounce_reserve;

	b->reserved = false;
	b->bv = cmd->inline_bvec;
	if (loop_fail_bounce())
		b->bv = NULL;
	else if (nr > LOOP_INLINE_BVECS)
		b->bv = kmalloc_array(nr, sizeof(*b->bv), gfp);
	if (b->bv) {
		b->nr = loop_bounce_fill(r, b->bv, nr, gfp);
		if (b->nr == nr)
			return;
		loop_bounce_free(lo, cmd, b);
	}

	mutex_lock(&r->lock);
	b->bv = r->bv;
	b->nr = nr;
	b->reserved = true;
}

void loop_bounce_put(struct loop_device *lo, struct loop_cmd *cmd,
		     struct loop_bounce *b)
{
	if (b->reserved)
		mutex_unlock(&lo->bounce_reserve->lock);
	else
		loop_bounce_free(lo, cmd, b);
}

int __init loop_transfer_init(void)
{
	return loop_register_transfer(&loop_xor_transfer);
}

void loop_transfer_exit(void)
{
	loop_unregister_transfer(LO_CRYPT_XOR);
}
