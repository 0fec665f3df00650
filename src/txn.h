/*
 * txn.h - transactions: what a read or write transaction holds.
 */
#ifndef LARCH_TXN_H
#define LARCH_TXN_H

#include "db.h"

struct larch_txn {
    larch_db *db;
    struct version *ver;      /* the snapshot this transaction started from */
    const uint8_t *map;       /* base of ver's mapping */
    size_t map_size;
    uint32_t page_size;
    unsigned page_shift;
    bool rdonly;
    struct meta meta;         /* the snapshot; a write transaction changes its copy */
    struct reader_slot *slot; /* read transactions */
    struct wstate *w;         /* write transactions */
    uint64_t mod_seq;         /* bumped by every change: cursors re-find their place */
    int error;                /* the first failure that left a write half-done */
    unsigned cursors;         /* open cursors */
};

/* The tree of bucket b, or NULL when b names none. */
LARCH_INTERNAL struct tree *txn_tree(larch_txn *txn, larch_bucket b);

/* Common checks of the data functions: a live txn, a known bucket, a valid key. */
LARCH_INTERNAL int txn_check_key(const larch_txn *txn, const larch_val *key);

#endif /* LARCH_TXN_H */
