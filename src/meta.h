/*
 * meta.h - the meta page in memory: encode, decode, validate and choose.
 */
#ifndef LARCH_META_H
#define LARCH_META_H

#include "format.h"

/* The trees a meta page roots. */
enum { TREE_MAIN = 0, TREE_CATALOG = 1, TREE_FREE = 2, NUM_TREES = 3 };

struct tree {
    pgno_t root;
    uint64_t entries;
    uint64_t branch_pages;
    uint64_t leaf_pages;
    uint64_t overflow_pages;
    uint32_t depth;
    uint32_t flags;        /* TREE_LZ4 */
    /* Kept beside the descriptor: in the meta page for bucket 0, in the
     * catalog record for named buckets. */
    uint64_t sequence;
    uint64_t value_bytes;  /* TREE_LZ4: values before compression */
    uint64_t stored_bytes; /* TREE_LZ4: values as stored */
    pgno_t dict_pgno;      /* TREE_LZ4: the dictionary's run, 0 for none */
    uint32_t dict_size;
    uint32_t reserved;     /* 0: keeps the struct free of padding, for memcmp */
};

/* The 48-byte tree descriptor, and the 80-byte catalog record around it. */
LARCH_INTERNAL void tree_encode(const struct tree *t, uint8_t *p);
LARCH_INTERNAL void tree_decode(const uint8_t *p, struct tree *t);
LARCH_INTERNAL void catalog_record_encode(const struct tree *t, uint8_t *p);
/* Decode and sanity-check a catalog record against the file's page count. */
LARCH_INTERNAL int catalog_record_decode(const uint8_t *p, size_t len, pgno_t npages, struct tree *t);

struct meta {
    txnid_t txnid;
    pgno_t npages; /* pages in use: every referenced page number is lower */
    uint32_t page_size;
    uint32_t nwritten; /* runs in the written list: a one-sync commit (format.h) */
    struct tree trees[NUM_TREES];
};

/* One entry of a meta page's written list. */
struct written_run {
    pgno_t pgno;
    uint32_t bare_pages; /* an overflow run's length; 0: a page or run with a header */
    uint32_t checksum;
};

/*
 * Fill page p (page_size bytes) as meta page number txnid % 2, checksum
 * included, with m->nwritten entries of runs as its written list.
 */
LARCH_INTERNAL void meta_encode(const struct meta *m, const struct written_run *runs, uint8_t *p);

/* Entry i (< nwritten) of the written list of a decoded meta page p. */
LARCH_INTERNAL struct written_run meta_written_run(const uint8_t *p, unsigned i);

/*
 * Decode and validate one meta page of 'len' bytes read at page 'slot'.
 * file_size bounds npages (0 skips that check). Returns 0, LARCH_NOTDB
 * (no magic), LARCH_VERSION (a format version this code does not read) or
 * LARCH_CORRUPT (bad checksum or fields). It does not look at the pages of
 * the written list: that takes reading the file (db.c).
 */
LARCH_INTERNAL int meta_decode(const uint8_t *p, size_t len, unsigned slot, uint64_t file_size, struct meta *m);

/*
 * Choose between the two meta pages, given what meta_decode said of each:
 * the valid one with the higher txnid. Returns its index (0 or 1), or the
 * error to report when neither is valid, or LARCH_VERSION when either is
 * of a format version this code does not read.
 */
LARCH_INTERNAL int meta_choose(const int rc[2], const struct meta m[2]);

#endif /* LARCH_META_H */
