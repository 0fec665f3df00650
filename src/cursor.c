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

LARCH_API int larch_cursor_open(larch_txn *txn, larch_bucket b, larch_cursor **curp)
{
    if (curp)
        *curp = NULL;
    if (!txn || !curp)
        return LARCH_INVALID;
    struct tree *t;
    int rc = txn_tree(txn, b, &t);
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

/* SEEK: the first entry >= key, stepping to the next leaf if the search ends past a leaf's last. */
static int cursor_seek(larch_cursor *c, const larch_val *key)
{
    bool exact;
    int rc = bt_descend(c->txn, c->tree, key->data, key->size, &c->path, &exact);
    if (rc)
        return rc;
    if (c->path.depth == 0)
        return LARCH_NOTFOUND;
    int leaf = c->path.depth - 1;
    if (c->path.idx[leaf] >= pg_nkeys(c->path.page[leaf]))
        return bt_step(c->txn, c->tree, &c->path, true);
    return 0;
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

LARCH_API int larch_cursor_get(larch_cursor *c, larch_val *key, larch_val *val, int op)
{
    if (!c)
        return LARCH_INVALID;
    larch_txn *txn = c->txn;
    if (txn->error)
        return txn->error;
    /* The txn's bucket array may have moved, or the bucket been deleted. */
    int rc = txn_tree(txn, c->bucket, &c->tree);
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
        if (txn_check_key(txn, key))
            return LARCH_INVALID;
        rc = cursor_seek(c, key);
        if (rc)
            c->positioned = false;
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
        return LARCH_INVALID;
    }
    if (rc)
        return rc;
    return cursor_land(c, key, val);
}

LARCH_API int larch_cursor_del(larch_cursor *c)
{
    if (!c || c->txn->rdonly)
        return LARCH_INVALID;
    larch_txn *txn = c->txn;
    if (txn->error)
        return txn->error;
    if (!c->positioned)
        return LARCH_NOTFOUND;
    int rc = txn_tree(txn, c->bucket, &c->tree);
    if (rc == 0)
        rc = cursor_refind(c);
    if (rc == 0 && c->gap)
        rc = LARCH_NOTFOUND;
    if (rc == 0)
        rc = bt_del(txn, c->tree, c->key, c->klen);
    if (rc && rc != LARCH_NOTFOUND)
        txn->error = rc;
    return rc;
}
