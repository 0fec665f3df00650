/*
 * btree.h - the copy-on-write B+tree: descent, stepping between entries,
 * and the changes (put with splits, delete with merges) a write
 * transaction makes. Every page read is checked, so a damaged file gives
 * LARCH_CORRUPT, never a crash.
 */
#ifndef LARCH_BTREE_H
#define LARCH_BTREE_H

#include "pager.h"

/* A position: the page and entry index at each level, root first. */
struct path {
    int depth;
    unsigned streak; /* leaves entered by stepping since the descent (scan prefetch) */
    const uint8_t *page[MAX_DEPTH];
    unsigned idx[MAX_DEPTH];
};

/*
 * Descend to the leaf position of key: the first entry >= key (the index
 * may equal the leaf's nkeys). An empty tree gives depth 0.
 */
LARCH_INTERNAL int bt_descend(larch_txn *txn, const struct tree *t, const uint8_t *key, size_t klen,
                              struct path *path, bool *exact);

/* Position on the first (last = false) or last entry; LARCH_NOTFOUND if the tree is empty. */
LARCH_INTERNAL int bt_edge(larch_txn *txn, const struct tree *t, struct path *path, bool last);

/* Move to the next or previous entry; LARCH_NOTFOUND (path unchanged) past the end. */
LARCH_INTERNAL int bt_step(larch_txn *txn, const struct tree *t, struct path *path, bool forward);

/* The key and value of entry idx of a leaf of tree t, checked against the
 * page bounds; compressed values are decompressed into the txn's memory. */
LARCH_INTERNAL int bt_read_entry(larch_txn *txn, const struct tree *t, const uint8_t *leaf, unsigned idx,
                                 larch_val *key, larch_val *val);

LARCH_INTERNAL int bt_get(larch_txn *txn, const struct tree *t, const uint8_t *key, size_t klen, larch_val *val);

/* flags: LARCH_NOOVERWRITE, LARCH_APPEND. Values of TREE_LZ4 trees are compressed. */
LARCH_INTERNAL int bt_put(larch_txn *txn, struct tree *t, const uint8_t *key, size_t klen, const void *val,
                          size_t vlen, unsigned flags);

LARCH_INTERNAL int bt_del(larch_txn *txn, struct tree *t, const uint8_t *key, size_t klen);

/* Free every page of a tree and make it empty (its flags and sequence stay). */
LARCH_INTERNAL int bt_free_tree(larch_txn *txn, struct tree *t);

/*
 * The inline value of key, writable in place (the leaf is made dirty).
 * For the free-space records, whose content is filled in after their size
 * is fixed. LARCH_NOTFOUND if the key is absent or its value is not inline.
 */
LARCH_INTERNAL int bt_value_for_update(larch_txn *txn, struct tree *t, const uint8_t *key, size_t klen,
                                       uint8_t **val, size_t *vlen);

#endif /* LARCH_BTREE_H */
