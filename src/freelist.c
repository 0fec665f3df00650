/*
 * freelist.c - the free tree: reclaiming records into 'avail' and writing
 * the transaction's freed and leftover pages back at commit.
 *
 * Reclaiming only reads the free tree: it moves the pages of the next
 * reusable record into avail and remembers that record's key
 * (w->reclaimed_to). The records so taken are deleted at commit, by
 * freelist_save. So any page allocation may reclaim, including one made
 * in the middle of a change to the free tree itself (a reclaim reads the
 * tree as it stands, and at every allocation it is a sound tree). A free
 * tree that needed pages while it could not reclaim took them from the
 * end of the file: a long run of one-key commits grew the file without
 * end while its free records piled up.
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
 * A page found twice is damage: handing it out twice would give one page
 * to two owners.
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
            for (size_t j = 1; j < a->n; j++)
                if (a->v[j - 1] == a->v[j])
                    return CORRUPT();
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
    int rc = 0;
    while (j > 0) {
        if (i > 0 && a->v[i - 1] == tmp[j - 1])
            rc = CORRUPT();
        if (i > 0 && a->v[i - 1] < tmp[j - 1])
            a->v[--k] = a->v[--i];
        else
            a->v[--k] = tmp[--j];
    }
    free(tmp);
    return rc;
}

/* The first record of the free tree after the last one reclaimed (or the
 * first of all): its key and value. LARCH_NOTFOUND when there is none. */
static int next_record(larch_txn *txn, larch_val *k, larch_val *v)
{
    struct wstate *w = txn->w;
    struct tree *t = &txn->meta.trees[TREE_FREE];
    struct path path;
    bool exact = false;
    int rc;
    if (!w->reclaimed_any) {
        rc = bt_edge(txn, t, &path, false);
    } else {
        rc = bt_descend(txn, t, w->reclaimed_to, FREE_KEY_SIZE, &path, &exact);
        if (rc == 0 && path.depth == 0)
            rc = LARCH_NOTFOUND;
        if (rc == 0 && (exact || path.idx[path.depth - 1] >= pg_nkeys(path.page[path.depth - 1])))
            rc = bt_step(txn, t, &path, true);
    }
    if (rc)
        return rc;
    rc = bt_read_entry(txn, t, path.page[path.depth - 1], path.idx[path.depth - 1], k, v);
    if (rc == 0 && (k->size != FREE_KEY_SIZE || v->size % 8))
        rc = CORRUPT();
    return rc;
}

LARCH_INTERNAL int freelist_reclaim(larch_txn *txn, bool *got)
{
    struct wstate *w = txn->w;
    larch_val k, v;
    *got = false;
    if (w->no_reclaim || w->free_tree_drained)
        return 0;
    if (!w->oldest)
        w->oldest = db_oldest_snapshot(txn->db);
    int rc = next_record(txn, &k, &v);
    if (rc == LARCH_NOTFOUND) {
        w->free_tree_drained = true;
        return 0;
    }
    if (rc)
        return rc;
    /* Pages freed by transaction F were last seen by snapshot F - 1: they
     * are safe once every snapshot in use (and the previous meta page's) is
     * at least F. The oldest is never newer than the last commit, whose
     * predecessor is the other meta page. This transaction's own records
     * (written at commit) carry its own txnid, newer still. */
    if (get64be(k.data) >= w->oldest) {
        w->free_tree_drained = true;
        return 0;
    }
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
    memcpy(w->reclaimed_to, k.data, FREE_KEY_SIZE);
    w->reclaimed_any = true;
    *got = true;
    return 0;
}

LARCH_INTERNAL bool freelist_is_reclaimed(const larch_txn *txn, const uint8_t *key)
{
    const struct wstate *w = txn->w;
    return w && w->reclaimed_any && memcmp(key, w->reclaimed_to, FREE_KEY_SIZE) <= 0;
}

/*
 * Delete the records reclaimed so far: the first records of the tree, up
 * to w->reclaimed_to. Deleting may need pages, and so reclaim further
 * records, which this loop then deletes too.
 */
static int drop_reclaimed(larch_txn *txn)
{
    struct wstate *w = txn->w;
    struct tree *t = &txn->meta.trees[TREE_FREE];
    uint8_t key[FREE_KEY_SIZE];
    while (w->reclaimed_any) {
        struct path path;
        larch_val k;
        int rc = bt_edge(txn, t, &path, false);
        if (rc == 0)
            rc = bt_read_entry(txn, t, path.page[path.depth - 1], path.idx[path.depth - 1], &k, NULL);
        if (rc == LARCH_NOTFOUND)
            return 0;
        if (rc)
            return rc;
        if (k.size != FREE_KEY_SIZE)
            return CORRUPT();
        if (memcmp(k.data, w->reclaimed_to, FREE_KEY_SIZE) > 0)
            return 0;
        memcpy(key, k.data, FREE_KEY_SIZE);
        rc = bt_del(txn, t, key, FREE_KEY_SIZE);
        if (rc)
            return rc;
    }
    return 0;
}

static int put_record(larch_txn *txn, const uint8_t *key, const pgno_t *pages, size_t n);

/* Record the next chunk of the freed pages not yet recorded (*saved of them are). */
static int save_freed(larch_txn *txn, txnid_t txnid, uint32_t *seq, size_t *saved)
{
    struct wstate *w = txn->w;
    uint8_t key[FREE_KEY_SIZE];
    pglist_sort(&w->freed, *saved, false);
    size_t n = MIN((size_t)freelist_chunk(txn->page_size), w->freed.n - *saved);
    free_key(key, txnid, txnid, (*seq)++);
    int rc = put_record(txn, key, w->freed.v + *saved, n);
    *saved += n;
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
 * Whether avail holds enough pages for the leftover records to be
 * reserved without reclaiming (which would change avail under them): k
 * records of at most a chunk each go in at the left end of the free tree,
 * whose path may need copying, and each insert may split every level and
 * add a root; the pages that copying frees need one more record, at the
 * right end.
 */
static bool room_for_leftover(const larch_txn *txn, unsigned chunk)
{
    size_t n = txn->w->avail.n;
    if (n == 0)
        return true;
    size_t depth = txn->meta.trees[TREE_FREE].depth;
    size_t k = (n + chunk - 1) / chunk;
    return n > 3 * depth + 1 + k * (depth + 1);
}

/*
 * First the records reclaimed during the transaction are deleted, then
 * the freed pages are recorded (more get freed as free-tree pages are
 * copied), and avail is topped up for the next step; all of this may
 * reclaim further records, so it loops until nothing moves. Then room is
 * reserved for what is left in avail (whose reservation may use some of
 * it up, and free more pages to record), without reclaiming. Only then
 * are the leftover records filled in place, which changes no page
 * structure.
 */
LARCH_INTERNAL int freelist_save(larch_txn *txn, txnid_t txnid)
{
    struct wstate *w = txn->w;
    unsigned chunk = freelist_chunk(txn->page_size);
    size_t saved = 0, reserved = 0;
    uint32_t seq = 0;
    uint8_t key[FREE_KEY_SIZE];
    int rc = 0;

    w->leftover.n = 0;
    while (rc == 0) {
        rc = drop_reclaimed(txn);
        if (rc)
            break;
        if (saved < w->freed.n) {
            rc = save_freed(txn, txnid, &seq, &saved);
            continue;
        }
        bool got = false;
        if (!room_for_leftover(txn, chunk))
            rc = freelist_reclaim(txn, &got);
        if (!got)
            break;
    }

    w->no_reclaim = true;
    while (rc == 0) {
        if (saved < w->freed.n) {
            rc = save_freed(txn, txnid, &seq, &saved);
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
    /* Filling touched only pages this commit made, so nothing moved; a
     * free tree that held one of these keys already (damage) could upset
     * that. */
    if (rc == 0 && (next != w->avail.n || w->avail.n != avail_before))
        rc = CORRUPT();
    w->no_reclaim = false;
    return rc;
}
