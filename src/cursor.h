/*
 * cursor.h - cursors: an ordered position in a bucket.
 */
#ifndef LARCH_CURSOR_H
#define LARCH_CURSOR_H

#include "btree.h"

struct larch_cursor {
    larch_txn *txn;
    larch_bucket bucket;
    struct tree *tree; /* found again from the bucket on every call */
    struct path path;
    bool positioned; /* path (or, in a write txn, key) names a place */
    bool gap;        /* the place is between entries: its entry was deleted */
    uint64_t mod_seq; /* txn->mod_seq when path was last valid */
    size_t klen;      /* write txns: the key of the place, to find it again */
    uint8_t key[LARCH_MAX_KEY_SIZE];
};

#endif /* LARCH_CURSOR_H */
