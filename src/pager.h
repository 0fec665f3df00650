/*
 * pager.h - pages as a write transaction sees them: which are dirty, how
 * new ones are allocated, how old ones are freed, and the write-out at
 * commit. Read transactions only use page_get(), which for them is a bounds
 * check and an address computation.
 */
#ifndef LARCH_PAGER_H
#define LARCH_PAGER_H

#include "txn.h"

/* The most one write system call covers of pages written together:
 * overflow runs, and a sequential load's new pages (see pager_write and
 * write_joined). Tree pages are otherwise written one per call. */
#ifndef RUN_WRITE_PIECE
#define RUN_WRITE_PIECE (256u * 1024)
#endif

struct dirty_page {
    pgno_t pgno; /* 0: empty hash slot */
    uint8_t *buf;
    uint32_t npages : 31;
    uint32_t bare : 1; /* an overflow run: the value's bytes, no header */
};

struct pglist {
    pgno_t *v;
    size_t n, cap;
};

#define WRITER_ENCODERS 4

/* What a write transaction owns; kept in the db and reused by the next one. */
struct wstate {
    uint32_t page_size;
    struct dirty_page *dirty; /* open-addressing hash on pgno */
    size_t ndirty, dirty_cap; /* dirty_cap is a power of two */
    struct pglist freed;      /* committed pages this txn freed: reusable only later */
    struct pglist avail;      /* pages reusable now, sorted descending */
    uint8_t **pool;           /* spare one-page buffers */
    size_t npool, pool_cap;
    uint8_t *scratch;         /* one page, for compaction and splits */
    uint8_t *entry;           /* a leaf entry being built */
    uint8_t *record;          /* a free-space record being built */
    uint8_t *zbuf;            /* a compressed value being stored */
    size_t zcap;
    /* Value encoders, each with a dictionary index: a few, for a txn that
     * writes to several LZ4 buckets in turn (compress.c). */
    struct {
        struct lz4enc *enc;   /* NULL until needed */
        bool checked;         /* its index was found to fit in this txn */
        uint64_t last_use;
    } encoders[WRITER_ENCODERS];
    uint64_t encoder_clock;
    uint64_t encoder_builds;  /* dictionary indexes built: for the tests */
    struct txn_spare spare;   /* memory one write txn hands on to the next (txn.c) */
    uint8_t sep[2][LARCH_MAX_KEY_SIZE + BRANCH_ENTRY_HEADER];
    /* The separator of two pages being merged, whole. Not one of sep[]:
     * a merge can run inside a split's page_alloc (a free-space record
     * taken out of the free tree), while sep[] holds the split's entry. */
    uint8_t merge_sep[LARCH_MAX_KEY_SIZE];
    txnid_t oldest;           /* oldest snapshot in use, 0 until looked up */
    bool no_reclaim;          /* filling the leftover records: do not reclaim */
    bool free_tree_drained;   /* no reclaimable free record left */
    /* The key of the last free record whose pages were moved into avail.
     * Those records stay in the free tree until commit deletes them
     * (freelist.c), so reclaiming never changes the tree. */
    bool reclaimed_any;
    uint8_t reclaimed_to[FREE_KEY_SIZE];
    unsigned grown_since_look; /* pages added at the file's end since oldest was looked up */
    struct pglist leftover;   /* keys (seq numbers) of leftover records at commit */
    /* Where the last put went if that was the end of its tree's rightmost
     * leaf (this txn's copy): a put of a larger key that fits goes there
     * without a descent (bt_put). Valid while txn->mod_seq is unchanged. */
    struct {
        const struct tree *tree;
        pgno_t root;
        uint8_t *leaf;
        uint64_t mod_seq;
    } tail;
    uint64_t puts, tail_puts; /* puts in this txn; of those, at a tree's tail */
    bool grows;               /* the caller put something: no delete reserve (pager.c) */
    pgno_t first_fresh;       /* first page this txn added at the file's end, 0: none */
    /* What pager_write wrote: runs and bytes, and the first runs as the
     * meta page's written list takes them (a one-sync commit, txn.c). */
    size_t nwritten;
    uint64_t written_bytes;
    struct written_run written[META_WRITTEN_MAX];
    /* A bit per page number: the tree page there in the file is one this
     * handle wrote (own_write), so copying it needs no node_validate. Kept
     * across transactions, for the life of the handle. */
    uint64_t *own;
    size_t own_words;
};

LARCH_INTERNAL int wstate_create(uint32_t page_size, struct wstate **out);
LARCH_INTERNAL void wstate_destroy(struct wstate *w);
/* Forget everything of the last transaction; buffers go back to the pool,
 * and what a large transaction grew is given back (WRITER_KEEP). */
LARCH_INTERNAL void wstate_reset(struct wstate *w);

/* Bytes the writer's state holds between transactions (for the tests). */
LARCH_INTERNAL size_t wstate_kept_bytes(const struct wstate *w);

LARCH_INTERNAL int pglist_push(struct pglist *l, pgno_t p);
/* Sort ascending, or descending (the order of avail). */
LARCH_INTERNAL void pglist_sort(struct pglist *l, size_t from, bool descending);
LARCH_INTERNAL uint8_t *dirty_find(const struct wstate *w, pgno_t pgno);

/* LARCH_CORRUPT, with the page and what is wrong with it as the detail. */
LARCH_INTERNAL int page_damaged(pgno_t pgno, const char *what) __attribute__((cold));

/* LARCH_VERIFY: check the checksum of page p (or its whole overflow run) once per txn. */
LARCH_INTERNAL int page_verify(const larch_txn *txn, pgno_t pgno, const uint8_t *p);

/* Whether p lies in the map: for a writer, a page it has not copied yet.
 * Its own copies (dirty pages) live in buffers outside the map. */
static inline bool page_in_map(const larch_txn *txn, const uint8_t *p)
{
    uintptr_t a = (uintptr_t)p, base = (uintptr_t)txn->map;
    return a >= base && a - base < txn->map_size;
}

/* With LARCH_VERIFY: whether page (or run) pgno still waits for this
 * transaction to check its checksum, and marking it checked. */
static inline bool page_unverified(const larch_txn *txn, pgno_t pgno)
{
    return txn->verified != NULL && pgno < txn->verified_pages && !(txn->verified[pgno >> 3] & (1u << (pgno & 7)));
}

static inline void page_mark_verified(const larch_txn *txn, pgno_t pgno)
{
    txn->verified[pgno >> 3] |= (uint8_t)(1u << (pgno & 7)); /* the txn's own bitmap */
}

/*
 * Page pgno as this transaction sees it, checked: inside the snapshot and
 * naming itself (and, with LARCH_VERIFY, its checksum). Returns 0 or
 * LARCH_CORRUPT.
 */
static inline int page_get(const larch_txn *txn, pgno_t pgno, const uint8_t **out)
{
    const uint8_t *p;
    if (UNLIKELY(pgno < NUM_METAS || pgno >= txn->meta.npages))
        return page_damaged(pgno, "is named, but lies outside the snapshot");
    if (txn->w) {
        p = dirty_find(txn->w, pgno);
        if (!p) {
            if (UNLIKELY(((pgno + 1) << txn->page_shift) > txn->map_size))
                return page_damaged(pgno, "is named, but lies outside the map");
            p = txn->map + (pgno << txn->page_shift);
        }
    } else {
        p = txn->map + (pgno << txn->page_shift);
    }
    if (UNLIKELY(pg_pgno(p) != pgno))
        return page_damaged(pgno, "does not carry its own page number");
    if (UNLIKELY(page_unverified(txn, pgno))) {
        int rc = page_verify(txn, pgno, p);
        if (rc)
            return rc;
    }
    *out = p;
    return 0;
}

/*
 * The overflow run at pgno holding vsize bytes, as this transaction sees
 * it: inside the snapshot and the map. A run has no header to check; with
 * LARCH_VERIFY its bytes must match checksum (the leaf entry's). Returns
 * 0 or LARCH_CORRUPT.
 */
LARCH_INTERNAL int page_get_overflow(const larch_txn *txn, pgno_t pgno, uint32_t vsize, uint32_t checksum,
                                     const uint8_t **data);

/* The dictionary run at pgno holding size bytes: checked, and its bytes. */
LARCH_INTERNAL int page_get_dict(const larch_txn *txn, pgno_t pgno, uint32_t size, const uint8_t **data);

/* A new page or run of npages pages, zeroed header, in this transaction's dirty set. */
LARCH_INTERNAL int page_alloc(larch_txn *txn, unsigned npages, uint8_t **buf, pgno_t *pgno);

/* A new overflow run of npages pages (no header, not zeroed: the caller
 * fills all of it), in this transaction's dirty set. */
LARCH_INTERNAL int page_alloc_run(larch_txn *txn, unsigned npages, uint8_t **buf, pgno_t *pgno);

/*
 * A writable version of page pgno: the page itself if this transaction
 * already made it, else a copy at a new page number (the old one is freed).
 */
LARCH_INTERNAL int page_touch(larch_txn *txn, pgno_t pgno, uint8_t **buf, pgno_t *newpgno);

/* Free a page or run: at once if this txn made it, else when no reader can see it. */
LARCH_INTERNAL int page_free(larch_txn *txn, pgno_t pgno, unsigned npages);

/* Write every dirty page (checksummed, stamped with txnid), growing the file
 * as needed; notes what it wrote in w->nwritten, written_bytes and written. */
LARCH_INTERNAL int pager_write(larch_txn *txn, txnid_t txnid);

/* After a commit: what it leaves of the delete reserve. */
LARCH_INTERNAL void pager_committed(larch_txn *txn);

/* The pages larch_close leaves behind the last one in use: the delete reserve, in a file large enough. */
LARCH_INTERNAL pgno_t pager_slack_at_close(const larch_db *db, pgno_t npages);

#endif /* LARCH_PAGER_H */
