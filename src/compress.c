/*
 * compress.c - LZ4 compression of values, with a per-bucket dictionary.
 *
 * Small JSON-like values share most of their bytes (field names, common
 * values) with each other, not within themselves: LZ4 alone gains ~1.7x on
 * 1 KiB records, LZ4 against a 32 KiB dictionary of earlier records ~5x.
 * Values are encoded by lz4enc.c, which indexes the dictionary once and
 * searches it for long matches; readers decode with liblz4.
 */
#include "compress.h"

#include "btree.h"
#include "lz4enc.h"

#include <lz4.h>
#include <stdlib.h>

LARCH_INTERNAL int tree_dict(larch_txn *txn, const struct tree *t, struct dict *d)
{
    d->data = NULL;
    d->size = 0;
    d->pgno = t->dict_pgno;
    if (!t->dict_pgno)
        return 0;
    if (!t->dict_size || t->dict_size > DICT_SIZE)
        return CORRUPT();
    int rc = page_get_dict(txn, t->dict_pgno, t->dict_size, &d->data);
    if (rc == 0)
        d->size = t->dict_size;
    return rc;
}

/* The largest compressed value kept room for between transactions. */
#define ZBUF_KEEP (1u << 20)

LARCH_INTERNAL void compress_reset(struct wstate *w)
{
    /* A later txn may see another dictionary under the same page number. */
    for (int i = 0; i < WRITER_ENCODERS; i++)
        w->encoders[i].checked = false;
    if (w->zcap > ZBUF_KEEP) { /* one 512 MiB value kept 190 MB until close */
        free(w->zbuf);
        w->zbuf = NULL;
        w->zcap = 0;
    }
}

LARCH_INTERNAL size_t compress_kept_bytes(const struct wstate *w)
{
    size_t n = 0;
    for (int i = 0; i < WRITER_ENCODERS; i++)
        n += w->encoders[i].enc ? sizeof *w->encoders[i].enc : 0;
    return n;
}

LARCH_INTERNAL void compress_free(struct wstate *w)
{
    for (int i = 0; i < WRITER_ENCODERS; i++)
        free(w->encoders[i].enc);
}

/* The slot whose index is named as d's (at most one is), or -1. */
static int encoder_named(const struct wstate *w, const struct dict *d)
{
    for (int i = 0; i < WRITER_ENCODERS; i++) {
        const struct lz4enc *e = w->encoders[i].enc;
        if (e && e->dict_pgno == d->pgno && e->dict_size == d->size)
            return i;
    }
    return -1;
}

/* A slot not yet used, or else the least recently used one. */
static int encoder_to_replace(const struct wstate *w)
{
    int pick = 0;
    for (int i = 0; i < WRITER_ENCODERS; i++) {
        if (!w->encoders[i].enc)
            return i;
        if (w->encoders[i].last_use < w->encoders[pick].last_use)
            pick = i;
    }
    return pick;
}

/*
 * An encoder whose index is made for d (~288 KiB each, kept by the writer;
 * WRITER_ENCODERS of them, the least recently used one re-indexed). Within
 * a txn a dictionary's page number and size name it (a dictionary is never
 * rewritten); a new txn compares the bytes once instead of indexing them
 * again (32 KiB compared: ~2 us; indexed: ~140 us). Were the name ever to
 * mislead, compression would suffer, not correctness: the encoder checks
 * every match against the bytes it is given.
 */
static struct lz4enc *encoder_for(struct wstate *w, const struct dict *d)
{
    int pick = encoder_named(w, d);
    bool fits = pick >= 0 && (w->encoders[pick].checked || d->size == 0 ||
                              memcmp(w->encoders[pick].enc->dict_copy, d->data, d->size) == 0);
    if (pick < 0) {
        pick = encoder_to_replace(w);
        if (!w->encoders[pick].enc && !(w->encoders[pick].enc = malloc(sizeof(struct lz4enc))))
            return NULL;
    }
    if (!fits) {
        lz4enc_index(w->encoders[pick].enc, d->pgno, d->data, d->size);
        w->encoder_builds++;
    }
    w->encoders[pick].checked = true;
    w->encoders[pick].last_use = ++w->encoder_clock;
    return w->encoders[pick].enc;
}

LARCH_INTERNAL int value_pack(struct wstate *w, const struct dict *d, const void *val, size_t vlen,
                              const void **out, size_t *outlen, unsigned *eflags)
{
    *out = val;
    *outlen = vlen;
    *eflags = 0;
    if (vlen < LZ4_MIN_VALUE || vlen > LZ4_MAX_INPUT_SIZE)
        return 0;
    /* Worth it only below this size: otherwise the reader's decompression
     * buys nothing. LZ4 gives up (returns 0) when it cannot fit. */
    size_t limit = vlen - vlen / 32 - 4;
    if (w->zcap < limit + 4) {
        uint8_t *z = realloc(w->zbuf, limit + 4);
        if (!z)
            return ENOMEM;
        w->zbuf = z;
        w->zcap = limit + 4;
    }
    struct lz4enc *e = encoder_for(w, d);
    if (!e)
        return ENOMEM;
    size_t n = lz4enc_block(e, d->data, val, vlen, w->zbuf + 4, limit);
    if (n == 0)
        return 0;
    put32(w->zbuf, (uint32_t)vlen);
    *out = w->zbuf;
    *outlen = n + 4;
    *eflags = ENTRY_LZ4 | (d->data ? ENTRY_DICT : 0);
    return 0;
}

LARCH_INTERNAL int value_unpack_into(unsigned eflags, const struct dict *d, const uint8_t *stored, size_t len,
                                     uint8_t *buf, size_t raw)
{
    if (len < 4 || len - 4 > (size_t)INT32_MAX || raw > (size_t)LZ4_MAX_INPUT_SIZE)
        return CORRUPT();
    int n;
    if (eflags & ENTRY_DICT) {
        if (!d || !d->data)
            return CORRUPT();
        n = LZ4_decompress_safe_usingDict((const char *)stored + 4, (char *)buf, (int)(len - 4), (int)raw,
                                          (const char *)d->data, (int)d->size);
    } else {
        n = LZ4_decompress_safe((const char *)stored + 4, (char *)buf, (int)(len - 4), (int)raw);
    }
    return n >= 0 && (size_t)n == raw ? 0 : CORRUPT();
}

/*
 * LZ4 decodes a block against a separate dictionary (its "external
 * dictionary" mode) with a library call per match that reaches into the
 * dictionary; with the dictionary lying just before the output it copies
 * those matches inline like any other. A read transaction that gets many
 * values of a bucket keeps a copy of its dictionary followed by room for
 * one value, decodes there and copies the value out: 7,830 -> 7,150
 * instructions per get of a 1 KiB JSON value. The first few gets of a
 * transaction skip it: the copy costs as much as a few decodes save.
 * Read transactions only: their map pages cannot change under the copy,
 * while a writer's dictionary pages are its own buffers, whose addresses
 * can come back for another bucket's dictionary.
 */
static int unpack_in_window(larch_txn *txn, const struct dict *d, const uint8_t *stored, size_t len, size_t raw)
{
    if (!txn->zwin) {
        txn->zwin = malloc(DICT_SIZE + ZWIN_VALUE_MAX);
        if (!txn->zwin)
            return ENOMEM;
    }
    if (txn->zwin_dict != d->data || txn->zwin_dict_size != d->size) {
        memcpy(txn->zwin, d->data, d->size);
        txn->zwin_dict = d->data;
        txn->zwin_dict_size = d->size;
    }
    /* LZ4 sees the copy end where the output starts and takes it as a prefix. */
    const struct dict copy = { txn->zwin, d->size, d->pgno };
    return value_unpack_into(ENTRY_LZ4 | ENTRY_DICT, &copy, stored, len, txn->zwin + d->size, raw);
}

LARCH_INTERNAL int value_unpack(larch_txn *txn, unsigned eflags, const struct dict *d, const uint8_t *stored,
                                size_t len, larch_val *out)
{
    uint64_t raw = 0;
    int rc = value_raw_length(stored, len, &raw);
    if (rc)
        return rc;
    if (raw == 0 || raw > LZ4_MAX_INPUT_SIZE)
        return CORRUPT();
    uint8_t *buf = txn_arena_alloc(txn, (size_t)raw);
    if (!buf)
        return ENOMEM;
    if ((eflags & ENTRY_DICT) && txn->rdonly && raw <= ZWIN_VALUE_MAX && d && d->data &&
        ++txn->zwin_gets >= ZWIN_AFTER_GETS) {
        rc = unpack_in_window(txn, d, stored, len, (size_t)raw);
        if (rc == 0)
            memcpy(buf, txn->zwin + d->size, (size_t)raw);
    } else {
        rc = value_unpack_into(eflags, d, stored, len, buf, (size_t)raw);
    }
    if (rc)
        return rc;
    out->data = buf;
    out->size = (size_t)raw;
    return 0;
}

LARCH_INTERNAL int dict_maybe_build(larch_txn *txn, struct tree *t)
{
    if (!(t->flags & TREE_LZ4) || t->dict_pgno || t->value_bytes < DICT_SIZE)
        return 0;
    uint8_t *dict = malloc(DICT_SIZE);
    if (!dict)
        return ENOMEM;
    size_t len = 0;
    struct path path;
    int rc = bt_edge(txn, t, &path, false);
    while (rc == 0 && len < DICT_SIZE) {
        larch_val k, v;
        rc = bt_read_entry(txn, t, path.page[path.depth - 1], path.idx[path.depth - 1], &k, &v);
        if (rc)
            break;
        size_t take = MIN(v.size, (size_t)DICT_SIZE - len);
        memcpy(dict + len, v.data, take);
        len += take;
        rc = bt_step(txn, t, &path, true);
    }
    if (rc == LARCH_NOTFOUND || rc == 0) {
        uint64_t n = dict_run_pages(len, txn->page_size);
        uint8_t *run;
        pgno_t pgno;
        rc = page_alloc(txn, (unsigned)n, &run, &pgno);
        if (rc == 0) {
            pg_set_type(run, PAGE_DICT);
            pg_set_npages(run, (uint32_t)n);
            memcpy(run + PAGE_HEADER_SIZE, dict, len);
            memset(run + PAGE_HEADER_SIZE + len, 0, (size_t)(n * txn->page_size) - PAGE_HEADER_SIZE - len);
            t->dict_pgno = pgno;
            t->dict_size = (uint32_t)len;
        }
    }
    free(dict);
    return rc;
}
