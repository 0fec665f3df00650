/*
 * freelist.c - the free tree: reclaiming records into 'avail' and writing
 * the transaction's freed and leftover pages back at commit.
 */
#include "freelist.h"

#include "btree.h"

#include <stdlib.h>

LARCH_INTERNAL unsigned freelist_chunk(uint32_t page_size)
{
    /* A record stays inline in a leaf: one entry of at most max_entry bytes. */
    return (max_entry_size(page_size) - SLOT_SIZE - LEAF_ENTRY_HEADER - FREE_KEY_SIZE) / 8;
}

static void free_key(uint8_t *k, txnid_t free_txnid, txnid_t writer, uint32_t seq)
{
    put64be(k, free_txnid);
    put64be(k + 8, writer);
    k[16] = (uint8_t)(seq >> 24);
    k[17] = (uint8_t)(seq >> 16);
    k[18] = (uint8_t)(seq >> 8);
    k[19] = (uint8_t)seq;
}

/*
 * avail holds v[0, n0) in descending order, then a record's pages, which
 * records keep ascending. Merge them instead of sorting the whole list
 * again on every reclaim; a record out of order (damage) is just sorted.
 */
static int avail_merge(struct pglist *a, size_t n0)
{
    size_t m = a->n - n0;
    if (m == 0)
        return 0; /* an empty record; a->v may still be NULL */
    pgno_t *run = a->v + n0;
    for (size_t i = 1; i < m; i++) {
        if (run[i - 1] >= run[i]) {
            pglist_sort(a, 0, true);
            return 0;
        }
    }
    pgno_t *tmp = malloc(m * sizeof *tmp);
    if (!tmp)
        return ENOMEM;
    for (size_t i = 0; i < m; i++)
        tmp[i] = run[m - 1 - i]; /* now descending */
    /* Fill from the end, where the smallest numbers go. */
    size_t i = n0, j = m, k = a->n;
    while (j > 0) {
        if (i > 0 && a->v[i - 1] < tmp[j - 1])
            a->v[--k] = a->v[--i];
        else
            a->v[--k] = tmp[--j];
    }
    free(tmp);
    return 0;
}

LARCH_INTERNAL int freelist_reclaim(larch_txn *txn, bool *got)
{
    struct wstate *w = txn->w;
    struct tree *t = &txn->meta.trees[TREE_FREE];
    struct path path;
    larch_val k, v;
    *got = false;
    if (w->no_reclaim || w->free_tree_drained)
        return 0;
    if (!w->oldest)
        w->oldest = db_oldest_snapshot(txn->db);
    int rc = bt_edge(txn, t, &path, false);
    if (rc == 0)
        rc = bt_read_entry(txn, t, path.page[path.depth - 1], path.idx[path.depth - 1], &k, &v);
    if (rc == LARCH_NOTFOUND) {
        w->free_tree_drained = true;
        return 0;
    }
    if (rc)
        return rc;
    if (k.size != FREE_KEY_SIZE || v.size % 8)
        return CORRUPT();
    /* Pages freed by transaction F were last seen by snapshot F - 1: they
     * are safe once every snapshot in use (and the previous meta page's) is
     * at least F. The oldest is never newer than the last commit, whose
     * predecessor is the other meta page. */
    if (get64be(k.data) >= w->oldest) {
        w->free_tree_drained = true;
        return 0;
    }
    uint8_t key[FREE_KEY_SIZE];
    memcpy(key, k.data, FREE_KEY_SIZE);
    const uint8_t *d = v.data;
    size_t before = w->avail.n;
    for (size_t i = 0; i < v.size / 8; i++) {
        pgno_t p = get64(d + 8 * i);
        if (p == 0)
            continue; /* padding */
        if (p < NUM_METAS || p >= txn->meta.npages)
            return CORRUPT();
        rc = pglist_push(&w->avail, p);
        if (rc)
            return rc;
    }
    rc = avail_merge(&w->avail, before);
    if (rc)
        return rc;
    w->no_reclaim = true;
    rc = bt_del(txn, t, key, FREE_KEY_SIZE);
    w->no_reclaim = false;
    *got = rc == 0;
    return rc;
}

/* Put one record of n page numbers under key. */
static int put_record(larch_txn *txn, const uint8_t *key, const pgno_t *pages, size_t n)
{
    uint8_t *rec = txn->w->record;
    for (size_t i = 0; i < n; i++)
        put64(rec + 8 * i, pages ? pages[i] : 0);
    return bt_put(txn, &txn->meta.trees[TREE_FREE], key, FREE_KEY_SIZE, rec, n * 8, 0);
}

/*
 * Changing the free tree frees and allocates pages itself, so this loops
 * until nothing moves: records for freed pages (more get freed as free-tree
 * pages are copied), then room reserved for what is left in avail (whose
 * reservation may use some of it up). Only then are the leftover records
 * filled in place, which changes no page structure.
 */
LARCH_INTERNAL int freelist_save(larch_txn *txn, txnid_t txnid)
{
    struct wstate *w = txn->w;
    unsigned chunk = freelist_chunk(txn->page_size);
    size_t saved = 0, reserved = 0;
    uint32_t seq = 0;
    uint8_t key[FREE_KEY_SIZE];
    int rc = 0;

    w->no_reclaim = true;
    w->leftover.n = 0;
    while (rc == 0) {
        if (saved < w->freed.n) {
            pglist_sort(&w->freed, saved, false);
            size_t n = MIN((size_t)chunk, w->freed.n - saved);
            free_key(key, txnid, txnid, seq++);
            rc = put_record(txn, key, w->freed.v + saved, n);
            saved += n;
        } else if (w->avail.n > reserved) {
            size_t n = MIN((size_t)chunk, w->avail.n - reserved);
            free_key(key, 0, txnid, seq);
            rc = pglist_push(&w->leftover, seq++);
            if (rc == 0)
                rc = put_record(txn, key, NULL, n);
            reserved += n;
        } else {
            break;
        }
    }

    size_t next = 0, avail_before = w->avail.n;
    for (size_t r = 0; r < w->leftover.n && rc == 0; r++) {
        uint8_t *val;
        size_t vlen;
        free_key(key, 0, txnid, (uint32_t)w->leftover.v[r]);
        rc = bt_value_for_update(txn, &txn->meta.trees[TREE_FREE], key, FREE_KEY_SIZE, &val, &vlen);
        for (size_t i = 0; rc == 0 && i < vlen / 8; i++)
            put64(val + 8 * i, next < w->avail.n ? w->avail.v[next++] : 0);
    }
    /* Filling touched only pages this commit already made: nothing moved. */
    assert(rc || (next == w->avail.n && w->avail.n == avail_before));
    (void)avail_before;
    w->no_reclaim = false;
    return rc;
}
