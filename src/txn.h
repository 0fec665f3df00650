/*
 * txn.h - transactions: what a read or write transaction holds.
 */
#ifndef LARCH_TXN_H
#define LARCH_TXN_H

#include "db.h"

/* A named bucket as one transaction sees it. */
enum { TB_UNUSED = 0, TB_LOADED = 1, TB_DELETED = 2 };

struct bucket_entry;

struct txn_bucket {
    larch_bucket handle;         /* which handle this slot holds, 0: none */
    uint8_t state;               /* TB_LOADED, TB_DELETED */
    bool created;                /* this transaction created the bucket */
    struct bucket_entry *entry;  /* the name */
    struct tree tree;            /* the working descriptor */
    struct tree orig;            /* as loaded: commit rewrites the record if different */
};

/* Memory for decompressed values, freed when the transaction ends. */
struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    uint8_t data[];
};

#define TXN_BUCKETS_INLINE 8

/* larch_txn.live of a transaction that has begun and not ended. */
#define TXN_LIVE 0x6c617263u

struct larch_txn {
    uint32_t live;            /* TXN_LIVE; anything else: ended (see txn.c) */
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
    struct txn_bucket *bk;    /* indexed by BUCKET_INDEX(handle) */
    uint32_t nbk;
    struct txn_spare *spare;  /* where arena and zwin came from and go back to */
    struct arena_chunk *arena;
    uint8_t *zwin;            /* read txns: a copy of a dictionary, then room for a value */
    const uint8_t *zwin_dict; /* the dictionary zwin holds a copy of */
    size_t zwin_dict_size;
    uint64_t zwin_gets;       /* gets of dictionary-compressed values so far */
    uint8_t *verified;        /* LARCH_VERIFY: a bit per page checked, else NULL */
    pgno_t verified_pages;    /* pages the bitmap covers */
    struct txn_bucket bk_inline[TXN_BUCKETS_INLINE];
};

/*
 * The tree of bucket b in this transaction: 0, or LARCH_INVALID when b
 * names no bucket the transaction can see. The fast path is a few compares;
 * the first use of a bucket in a transaction looks it up in the catalog.
 */
LARCH_INTERNAL int bucket_load(larch_txn *txn, larch_bucket b, struct tree **t);
static inline int txn_tree(larch_txn *txn, larch_bucket b, struct tree **t)
{
    if (b == 0) {
        *t = &txn->meta.trees[0];
        return 0;
    }
    uint32_t idx = BUCKET_INDEX(b);
    if (LIKELY(idx < txn->nbk && txn->bk[idx].handle == b && txn->bk[idx].state == TB_LOADED)) {
        *t = &txn->bk[idx].tree;
        return 0;
    }
    return bucket_load(txn, b, t);
}

/*
 * 0 if txn can be used: not NULL, begun and not ended, and in the process
 * that opened its database; else LARCH_INVALID, with the detail. Every
 * function that takes a transaction starts with it.
 */
LARCH_INTERNAL int txn_unusable(const larch_txn *txn);
static inline int txn_usable(const larch_txn *txn)
{
    if (LIKELY(txn && txn->live == TXN_LIVE && !db_forked(txn->db)))
        return 0;
    return txn_unusable(txn);
}

/* txn_usable, and a write transaction. */
LARCH_INTERNAL int txn_writable(const larch_txn *txn);

/* Memory that lives until the transaction ends (NULL if out of memory). */
LARCH_INTERNAL void *txn_arena_alloc(larch_txn *txn, size_t n);

/* Free what a reader slot or the writer's state keeps for the next txn. */
LARCH_INTERNAL void txn_spare_free(struct txn_spare *spare);

/* Common checks of the data functions: a live txn, a known bucket, a valid key. */
LARCH_INTERNAL int txn_check_key(const larch_txn *txn, const larch_val *key);

#endif /* LARCH_TXN_H */
