/*
 * cursor.c - cursors over a bucket.
 *
 * In a read transaction a cursor is a path of pointers into the map. In a
 * write transaction pages move under it (copy-on-write, splits, merges), so
 * the cursor also keeps a copy of its key; when the transaction has changed
 * since the cursor last moved, it finds its place again by that key. If the
 * key is gone the cursor sits in the gap where it was.
 */
#include "cursor.h"

#include <stdlib.h>

static int cursor_open(larch_txn *txn, larch_bucket b, larch_cursor **curp)
{
    if (curp)
        *curp = NULL;
    int rc = txn_usable(txn);
    if (rc)
        return rc;
    if (!curp)
        return error_detail(LARCH_INVALID, "larch_cursor_open: cur is NULL");
    struct tree *t;
    rc = txn_tree(txn, b, &t);
    if (rc)
        return rc;
    larch_cursor *c = malloc(sizeof *c);
    if (!c)
        return ENOMEM;
    c->txn = txn;
    c->bucket = b;
    c->tree = t;
    c->path.depth = 0;
    c->positioned = false;
    c->gap = false;
    c->mod_seq = txn->mod_seq;
    c->klen = 0;
    *curp = c;
    return 0;
}

LARCH_API int larch_cursor_open(larch_txn *txn, larch_bucket b, larch_cursor **curp)
{
    return api_result(cursor_open(txn, b, curp));
}

LARCH_API void larch_cursor_close(larch_cursor *c)
{
    free(c);
}

/* In a write txn that changed since the cursor moved: find the place again. */
static int cursor_refind(larch_cursor *c)
{
    larch_txn *txn = c->txn;
    bool exact;
    if (!txn->w || c->mod_seq == txn->mod_seq)
        return 0;
    int rc = bt_descend(txn, c->tree, c->key, c->klen, &c->path, &exact);
    if (rc)
        return rc;
    c->mod_seq = txn->mod_seq;
    c->gap = !exact;
    return 0;
}

/* Land on the entry under the path: fill key and value, remember the place. */
static int cursor_land(larch_cursor *c, larch_val *key, larch_val *val)
{
    larch_val k, v;
    int leaf = c->path.depth - 1;
    int rc = bt_read_entry(c->txn, c->tree, c->path.page[leaf], c->path.idx[leaf], &k, val ? &v : NULL);
    if (rc)
        return rc;
    if (c->txn->w) {
        memcpy(c->key, k.data, k.size);
        c->klen = k.size;
    }
    c->positioned = true;
    c->gap = false;
    c->mod_seq = c->txn->mod_seq;
    if (key)
        *key = k;
    if (val)
        *val = v;
    return 0;
}

/*
 * SEEK: the first entry >= key, stepping to the next leaf if the search
 * ends past a leaf's last. When there is none, the cursor sits past the
 * last entry (a gap, as after a delete): NEXT finds nothing, PREV gives the
 * last entry, CURRENT nothing (LMDB's SET_RANGE and bbolt's Seek do the
 * same). On an empty bucket it is left unpositioned.
 */
static int cursor_seek(larch_cursor *c, const larch_val *key)
{
    bool exact;
    int rc = bt_descend(c->txn, c->tree, key->data, key->size, &c->path, &exact);
    if (rc)
        return rc;
    if (c->path.depth == 0)
        return LARCH_NOTFOUND;
    int leaf = c->path.depth - 1;
    if (c->path.idx[leaf] < pg_nkeys(c->path.page[leaf]))
        return 0;
    rc = bt_step(c->txn, c->tree, &c->path, true);
    if (rc == LARCH_NOTFOUND) { /* the path is where the key would go: past the last entry */
        c->path.idx[leaf] = pg_nkeys(c->path.page[leaf]);
        c->positioned = true;
        c->gap = true;
        c->mod_seq = c->txn->mod_seq;
        if (c->txn->w) {
            memcpy(c->key, key->data, key->size);
            c->klen = key->size;
        }
    }
    return rc;
}

/* NEXT or PREV from a place: from a gap, NEXT takes the entry after it, PREV the one before. */
static int cursor_move(larch_cursor *c, bool forward)
{
    int rc = cursor_refind(c);
    if (rc)
        return rc;
    if (c->path.depth == 0)
        return LARCH_NOTFOUND;
    int leaf = c->path.depth - 1;
    if (forward && c->gap && c->path.idx[leaf] < pg_nkeys(c->path.page[leaf]))
        return 0;
    return bt_step(c->txn, c->tree, &c->path, forward);
}

/*
 * Entry i of a leaf if it is a plain one (short header, inline, not
 * compressed) lying inside the page: its key and value. Anything else
 * returns false and takes the general path.
 */
static bool plain_entry(const uint8_t *leaf, unsigned i, uint32_t ps, larch_val *key, larch_val *val)
{
    unsigned off = pg_slot(leaf, i);
    if (off < pg_lower(leaf) || off + LEAF_SHORT_HEADER > ps)
        return false;
    const uint8_t *e = leaf + off;
    if (e[0] != ENTRY_SHORT) /* other flags: overflow or compressed */
        return false;
    unsigned kl = e[1], vl = get16(e + 2);
    if (kl == 0 || off + LEAF_SHORT_HEADER + kl + vl > ps)
        return false;
    key->data = e + LEAF_SHORT_HEADER;
    key->size = kl;
    val->data = e + LEAF_SHORT_HEADER + kl;
    val->size = vl;
    return true;
}

/*
 * The hot path of a scan: NEXT or PREV to a plain entry of the same leaf in
 * a read-only transaction, where nothing can move under the cursor.
 */
static bool step_within_leaf(larch_cursor *c, larch_val *key, larch_val *val, int op)
{
    const larch_txn *txn = c->txn;
    int leaf = c->path.depth - 1;
    if (txn->live != TXN_LIVE || txn->w || txn->error || !c->positioned || leaf < 0 || db_forked(txn->db))
        return false;
    const uint8_t *p = c->path.page[leaf];
    unsigned i = c->path.idx[leaf], n = pg_nkeys(p);
    if (op == LARCH_NEXT ? i + 1 >= n : (i == 0 || i > n))
        return false;
    unsigned j = op == LARCH_NEXT ? i + 1 : i - 1;
    larch_val k, v;
    if (!plain_entry(p, j, txn->page_size, &k, &v))
        return false;
    c->path.idx[leaf] = j;
    if (key)
        *key = k;
    if (val)
        *val = v;
    return true;
}

static int cursor_get(larch_cursor *c, larch_val *key, larch_val *val, int op)
{
    if (!c)
        return error_detail(LARCH_INVALID, "the cursor is NULL");
    larch_txn *txn = c->txn;
    int rc = txn_usable(txn);
    if (rc)
        return rc;
    if (txn->error)
        return txn->error;
    /* The txn's bucket array may have moved, or the bucket been deleted. */
    rc = txn_tree(txn, c->bucket, &c->tree);
    if (rc)
        return rc;
    switch (op) {
    case LARCH_FIRST:
    case LARCH_LAST:
        rc = bt_edge(txn, c->tree, &c->path, op == LARCH_LAST);
        if (rc)
            c->positioned = false;
        break;
    case LARCH_SEEK:
        if ((rc = txn_check_key(txn, key)) != 0)
            return rc;
        c->positioned = false;
        rc = cursor_seek(c, key);
        break;
    case LARCH_NEXT:
    case LARCH_PREV:
        if (!c->positioned) {
            rc = bt_edge(txn, c->tree, &c->path, op == LARCH_PREV);
            break;
        }
        rc = cursor_move(c, op == LARCH_NEXT);
        break;
    case LARCH_CURRENT:
        if (!c->positioned)
            return LARCH_NOTFOUND;
        rc = cursor_refind(c);
        if (rc == 0 && c->gap)
            rc = LARCH_NOTFOUND;
        break;
    default:
        return error_detail(LARCH_INVALID, "larch_cursor_get: unknown operation %d", op);
    }
    if (rc)
        return rc;
    return cursor_land(c, key, val);
}

LARCH_API int larch_cursor_get(larch_cursor *c, larch_val *key, larch_val *val, int op)
{
    if ((op == LARCH_NEXT || op == LARCH_PREV) && c && step_within_leaf(c, key, val, op))
        return 0;
    return api_result(cursor_get(c, key, val, op));
}

static int cursor_del(larch_cursor *c)
{
    if (!c)
        return error_detail(LARCH_INVALID, "the cursor is NULL");
    larch_txn *txn = c->txn;
    int rc = txn_writable(txn);
    if (rc)
        return rc;
    if (txn->error)
        return txn->error;
    if (!c->positioned)
        return LARCH_NOTFOUND;
    /* Misuse (the bucket was deleted) and a place that cannot be found
     * again change nothing: only a failed delete leaves the txn half-done. */
    rc = txn_tree(txn, c->bucket, &c->tree);
    if (rc == 0)
        rc = cursor_refind(c);
    if (rc == 0 && c->gap)
        rc = LARCH_NOTFOUND;
    if (rc)
        return rc;
    rc = bt_del(txn, c->tree, c->key, c->klen);
    if (rc && rc != LARCH_NOTFOUND)
        txn->error = rc;
    return rc;
}

LARCH_API int larch_cursor_del(larch_cursor *c)
{
    return api_result(cursor_del(c));
}
