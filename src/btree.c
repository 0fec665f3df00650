/*
 * btree.c - descent, stepping, and copy-on-write changes of a B+tree.
 *
 * A change first makes every page on its root-to-leaf path writable
 * (path_touch: a page this transaction has not yet copied is copied to a
 * new page number and its parent repointed), then edits the leaf. An insert
 * that does not fit splits the leaf and carries a separator up, splitting
 * parents as needed; a delete that leaves a page less than a quarter full
 * merges it with a neighbour when the two fit in one page.
 */
#include "btree.h"

#include "compress.h"
#include "node.h"

static unsigned level_type(const struct tree *t, int level)
{
    return level == (int)t->depth - 1 ? PAGE_LEAF : PAGE_BRANCH;
}

/* Child idx of a branch page, checked to be a page of the expected type. */
static int load_child(const larch_txn *txn, const uint8_t *parent, unsigned idx, unsigned type,
                      const uint8_t **out)
{
    uint32_t ps = txn->page_size;
    if (UNLIKELY(idx >= pg_nkeys(parent)))
        return CORRUPT();
    unsigned off = pg_slot(parent, idx);
    if (UNLIKELY(off < pg_lower(parent) || off + BRANCH_ENTRY_HEADER > ps))
        return CORRUPT();
    const uint8_t *p = NULL;
    int rc = page_get(txn, branch_child(parent + off), &p);
    if (rc)
        return rc;
    /* The search reads the header line first, then the slots' heads after
     * it: ask for the next two lines now so the three misses overlap. The
     * address is the page as this txn sees it (a writer's own copy where it
     * has one): a prefetch into a part of the map not yet faulted in costs
     * a page walk and is then dropped (measured: 17% of an APPEND load). */
    __builtin_prefetch(p + 64);
    __builtin_prefetch(p + 128);
    /* A writer that reaches a leaf usually copies it next (COW): its slots
     * and its entries, not the free middle between them. The header is not
     * checked yet: bounds from a damaged one stay within the page. */
    if (txn->w && type == PAGE_LEAF && page_in_map(txn, p)) {
        uint32_t lower = MIN(pg_lower(p), ps), upper = pg_upper(p);
        if (lower > 192)
            prefetch_range(p + 192, lower - 192);
        if (upper < ps)
            prefetch_range(p + upper, ps - upper);
    }
    rc = node_check(p, type, ps);
    if (rc == 0)
        *out = p;
    return rc;
}

static int load_root(const larch_txn *txn, const struct tree *t, const uint8_t **out)
{
    const uint8_t *p = NULL;
    if (UNLIKELY(t->depth == 0 || t->depth > MAX_DEPTH))
        return CORRUPT();
    int rc = page_get(txn, t->root, &p);
    if (rc == 0)
        rc = node_check(p, level_type(t, 0), txn->page_size);
    if (rc == 0)
        *out = p;
    return rc;
}

LARCH_INTERNAL int bt_descend(larch_txn *txn, const struct tree *t, const uint8_t *key, size_t klen,
                              struct path *path, bool *exact)
{
    uint32_t ps = txn->page_size;
    const uint8_t *p = NULL;
    *exact = false;
    path->depth = 0;
    path->streak = 0;
    if (!t->root)
        return 0;
    int rc = load_root(txn, t, &p);
    for (int l = 0; rc == 0; l++) {
        path->page[l] = p;
        if (l == (int)t->depth - 1) {
            rc = node_search_leaf(p, ps, key, klen, &path->idx[l], exact);
            path->depth = (int)t->depth;
            return rc;
        }
        rc = node_search_branch(p, ps, key, klen, &path->idx[l]);
        if (rc == 0)
            rc = load_child(txn, p, path->idx[l], level_type(t, l + 1), &p);
    }
    return rc;
}

/* From the page at 'level' (already in path), go down along the first or last entries. */
static int descend_edge(larch_txn *txn, const struct tree *t, struct path *path, int level, bool last)
{
    int leaf = (int)t->depth - 1;
    for (int l = level;; l++) {
        const uint8_t *p = path->page[l];
        unsigned n = pg_nkeys(p);
        if (l == leaf) {
            if (n == 0) /* only an empty root leaf may be empty */
                return leaf == 0 ? LARCH_NOTFOUND : CORRUPT();
            path->idx[l] = last ? n - 1 : 0;
            path->depth = leaf + 1;
            return 0;
        }
        path->idx[l] = last ? n - 1 : 0;
        int rc = load_child(txn, p, path->idx[l], level_type(t, l + 1), &path->page[l + 1]);
        if (rc)
            return rc;
    }
}

LARCH_INTERNAL int bt_edge(larch_txn *txn, const struct tree *t, struct path *path, bool last)
{
    path->depth = 0;
    path->streak = 0;
    if (!t->root)
        return LARCH_NOTFOUND;
    int rc = load_root(txn, t, &path->page[0]);
    return rc ? rc : descend_edge(txn, t, path, 0, last);
}

/*
 * A scan that has just entered a leaf will want the next ones after it:
 * ask for their lines now, so that they arrive while this leaf's entries
 * are read (leaves of a tree filled at random lie all over the file, and
 * each costs a TLB miss and a trip to memory). One leaf ahead was not
 * enough: reading a 4 KiB leaf of 21 entries takes less time than fetching
 * the next one. SCAN_AHEAD bytes of leaves ahead, the nearer ones asked
 * again (already cached, a prefetch is cheap): 1M entries, readseq 22M ->
 * 34M entries/s with two leaves ahead, 35.5M with three. The distance
 * grows with the leaves this scan has entered. Read transactions
 * only: a writer's pages may be its own copies, found through the dirty
 * table, which a hint is not worth a lookup in.
 */
#define SCAN_AHEAD (12u * 1024)

static void prefetch_next_leaf(const larch_txn *txn, const struct path *path, bool forward)
{
    int parent = path->depth - 2;
    const uint8_t *p = path->page[parent];
    unsigned idx = path->idx[parent], n = pg_nkeys(p), ps = txn->page_size;
    if (txn->w)
        return;
    /* A scan that has gone on for a while will go on: a seek that reads a
     * few entries should not fetch leaves it will not read. */
    unsigned ahead = MIN(path->streak, MAX(1u, SCAN_AHEAD / ps));
    for (unsigned d = 1; d <= ahead; d++) {
        if (forward ? idx + d >= n : idx < d)
            return;
        unsigned off = pg_slot(p, forward ? idx + d : idx - d);
        if (off < pg_lower(p) || off + BRANCH_ENTRY_HEADER > ps)
            return;
        pgno_t child = branch_child(p + off);
        if (child >= txn->meta.npages || ((child + 1) << txn->page_shift) > txn->map_size)
            return;
        prefetch_range(txn->map + (child << txn->page_shift), ps);
    }
}

LARCH_INTERNAL int bt_step(larch_txn *txn, const struct tree *t, struct path *path, bool forward)
{
    int leaf = path->depth - 1;
    if (leaf < 0)
        return LARCH_NOTFOUND;
    unsigned n = pg_nkeys(path->page[leaf]);
    if (forward && path->idx[leaf] + 1 < n) {
        path->idx[leaf]++;
        return 0;
    }
    if (!forward && path->idx[leaf] > 0) {
        path->idx[leaf] = MIN(path->idx[leaf], n) - 1;
        return 0;
    }
    /* Climb to the nearest level that has a neighbour in this direction. */
    int l = leaf - 1;
    while (l >= 0 && (forward ? path->idx[l] + 1 >= pg_nkeys(path->page[l]) : path->idx[l] == 0))
        l--;
    if (l < 0)
        return LARCH_NOTFOUND;
    path->idx[l] = forward ? path->idx[l] + 1 : path->idx[l] - 1;
    int rc = load_child(txn, path->page[l], path->idx[l], level_type(t, l + 1), &path->page[l + 1]);
    if (rc == 0)
        rc = descend_edge(txn, t, path, l + 1, !forward);
    if (rc == 0 && leaf > 0) {
        path->streak++;
        prefetch_next_leaf(txn, path, forward);
    }
    return rc;
}

LARCH_INTERNAL int bt_read_entry(larch_txn *txn, const struct tree *t, const uint8_t *leaf, unsigned idx,
                                 larch_val *key, larch_val *val)
{
    uint32_t ps = txn->page_size;
    if (UNLIKELY(idx >= pg_nkeys(leaf)))
        return LARCH_NOTFOUND;
    unsigned off = pg_slot(leaf, idx);
    if (UNLIKELY(off < pg_lower(leaf) || off + LEAF_SHORT_HEADER > ps))
        return CORRUPT();
    const uint8_t *e = leaf + off;
    unsigned hdr = leaf_header_size(e);
    if (UNLIKELY(off + hdr > ps))
        return CORRUPT();
    unsigned k = leaf_ksize(e);
    uint32_t v = leaf_vsize(e);
    bool big = leaf_flags(e) & ENTRY_BIG;
    if (UNLIKELY(k == 0 || (uint64_t)off + hdr + k + leaf_stored_vsize(e) > ps))
        return CORRUPT();
    if (key) {
        key->data = e + hdr;
        key->size = k;
    }
    if (val) {
        const uint8_t *data = e + hdr + k;
        if (big) {
            int rc = page_get_overflow(txn, leaf_big_pgno(e), v, leaf_big_checksum(e), &data);
            if (rc)
                return rc;
        }
        if (leaf_flags(e) & ENTRY_LZ4) {
            /* The decoder reads the block's lines one after another, each
             * a miss: ask for them at once (+1.4% gets/s), up to a page's
             * worth (beyond, the hardware prefetcher has caught the stream,
             * and a long run asked for whole would push out the cache). */
            prefetch_range(data, MIN(v, txn->page_size));
            struct dict d = { NULL, 0, 0 };
            int rc = (leaf_flags(e) & ENTRY_DICT) ? tree_dict(txn, t, &d) : 0;
            return rc ? rc : value_unpack(txn, leaf_flags(e), &d, data, v, val);
        }
        val->data = data;
        val->size = v;
    }
    return 0;
}

LARCH_INTERNAL int bt_get(larch_txn *txn, const struct tree *t, const uint8_t *key, size_t klen, larch_val *val)
{
    struct path path;
    bool exact;
    int rc = bt_descend(txn, t, key, klen, &path, &exact);
    if (rc)
        return rc;
    if (!exact)
        return LARCH_NOTFOUND;
    return bt_read_entry(txn, t, path.page[path.depth - 1], path.idx[path.depth - 1], NULL, val);
}

/* ---- Changes ------------------------------------------------------------ */

/* Make every page on the path writable, top down, repointing parents. */
static int path_touch(larch_txn *txn, struct tree *t, struct path *path)
{
    for (int l = 0; l < path->depth; l++) {
        /* A page outside the map is already this txn's copy: most of a
         * bulk load's puts find every level so and skip the hash lookup. */
        if (!page_in_map(txn, path->page[l]))
            continue;
        pgno_t old = pg_pgno(path->page[l]), np;
        uint8_t *buf;
        int rc = page_touch(txn, old, &buf, &np);
        if (rc)
            return rc;
        path->page[l] = buf;
        if (np != old) {
            if (l == 0)
                t->root = np;
            else
                branch_set_child(pg_entry(path->page[l - 1], path->idx[l - 1]), np);
        }
    }
    return 0;
}

/* Whether the path runs along the last entry of every branch above level l. */
static bool path_is_rightmost(const struct path *path, int l)
{
    for (int i = 0; i < l; i++)
        if (path->idx[i] + 1 != pg_nkeys(path->page[i]))
            return false;
    return true;
}

static void count_page(struct tree *t, unsigned type, int delta)
{
    if (type == PAGE_LEAF)
        t->leaf_pages += (uint64_t)(int64_t)delta;
    else
        t->branch_pages += (uint64_t)(int64_t)delta;
}

/*
 * Insert an entry at (level l, index idx), splitting as needed. The
 * separator of a split is built in w->sep[sepbuf]; the level above uses the
 * other buffer, so an entry is never overwritten while it is being placed.
 */
static int insert_at(larch_txn *txn, struct tree *t, struct path *path, int l, unsigned idx,
                     const uint8_t *entry, unsigned size, int sepbuf)
{
    struct wstate *w = txn->w;
    uint32_t ps = txn->page_size;
    uint8_t *p = (uint8_t *)path->page[l];
    if (node_insert(p, ps, w->scratch, idx, entry, size))
        return 0;

    bool append = idx == pg_nkeys(p) && path_is_rightmost(path, l);
    unsigned type = pg_type(p);
    uint8_t *q, *be = w->sep[sepbuf];
    pgno_t qpgno;
    if (l == 0 && t->depth >= MAX_DEPTH)
        return LARCH_FULL;
    int rc = page_alloc(txn, 1, &q, &qpgno);
    if (rc)
        return rc;
    node_init(q, type, qpgno, ps);
    count_page(t, type, 1);

    size_t seplen;
    bool at_right;
    unsigned new_idx;
    node_split(p, q, ps, w->scratch, idx, entry, size, append, be + BRANCH_ENTRY_HEADER, &seplen, &at_right,
               &new_idx);
    put64(be, qpgno);
    put16(be + 8, (uint16_t)seplen);
    unsigned besize = BRANCH_ENTRY_HEADER + (unsigned)seplen;

    if (l > 0)
        return insert_at(txn, t, path, l - 1, path->idx[l - 1] + 1, be, besize, sepbuf ^ 1);

    /* The root split: a new root above the two halves. */
    uint8_t *r, e0[BRANCH_ENTRY_HEADER];
    pgno_t rpgno;
    rc = page_alloc(txn, 1, &r, &rpgno);
    if (rc)
        return rc;
    node_init(r, PAGE_BRANCH, rpgno, ps);
    node_insert(r, ps, w->scratch, 0, e0, node_make_branch_entry(e0, pg_pgno(p), NULL, 0));
    node_insert(r, ps, w->scratch, 1, be, besize);
    t->root = rpgno;
    t->depth++;
    t->branch_pages++;
    return 0;
}

/*
 * Free what a leaf entry's value holds (its overflow run, if any) and take
 * it out of the tree's counts; the caller removes the entry itself.
 */
static int free_value(larch_txn *txn, struct tree *t, const uint8_t *leaf, unsigned idx)
{
    larch_val k;
    int rc = bt_read_entry(txn, t, leaf, idx, &k, NULL); /* the entry lies inside the page */
    if (rc)
        return rc;
    const uint8_t *e = pg_entry(leaf, idx);
    const uint8_t *data = leaf_value((uint8_t *)e);
    uint64_t raw = leaf_vsize(e);
    if (leaf_flags(e) & ENTRY_BIG)
        rc = page_get_overflow(txn, leaf_big_pgno(e), leaf_vsize(e), leaf_big_checksum(e), &data);
    if (rc == 0 && (leaf_flags(e) & ENTRY_LZ4))
        rc = value_raw_length(data, leaf_vsize(e), &raw);
    if (rc)
        return rc;
    if (t->flags & TREE_LZ4) {
        t->value_bytes -= raw;
        t->stored_bytes -= leaf_vsize(e);
    }
    if (!(leaf_flags(e) & ENTRY_BIG))
        return 0;
    uint64_t n = overflow_pages(leaf_vsize(e), txn->page_size);
    t->overflow_pages -= n;
    return page_free(txn, leaf_big_pgno(e), (unsigned)n);
}

/* Build the leaf entry for key and value in w->entry, moving a large value to an overflow run. */
static int build_leaf_entry(larch_txn *txn, struct tree *t, const uint8_t *key, size_t klen, const void *val,
                            size_t vlen, unsigned eflags, unsigned *size)
{
    uint32_t ps = txn->page_size;
    uint8_t *e = txn->w->entry;
    if (leaf_value_inline(ps, klen, vlen)) {
        unsigned hdr = leaf_put_header(e, eflags, klen, (uint32_t)vlen);
        memcpy(e + hdr, key, klen);
        if (vlen)
            memmove(e + hdr + klen, val, vlen);
        *size = hdr + (unsigned)(klen + vlen);
        return 0;
    }
    uint64_t n = overflow_pages(vlen, ps);
    uint8_t *run;
    pgno_t pgno;
    int rc = page_alloc_run(txn, (unsigned)n, &run, &pgno);
    if (rc)
        return rc;
    memcpy(run, val, vlen);
    memset(run + vlen, 0, (size_t)(n * ps) - vlen);
    t->overflow_pages += n;
    unsigned hdr = leaf_put_header(e, eflags | ENTRY_BIG, klen, (uint32_t)vlen);
    memcpy(e + hdr, key, klen);
    put64(e + hdr + klen, pgno);
    /* Summed now, while the run is in the CPU's cache. */
    put32(e + hdr + klen + 8, run_checksum(run, (size_t)(n * ps)));
    *size = hdr + (unsigned)klen + BIG_REF_SIZE;
    return 0;
}

/* Position path after the last entry, for LARCH_APPEND; the key must sort after it. */
static int seek_append(larch_txn *txn, const struct tree *t, const uint8_t *key, size_t klen, struct path *path)
{
    larch_val last;
    int rc = bt_edge(txn, t, path, true);
    if (rc == LARCH_NOTFOUND) { /* an empty root leaf */
        path->idx[0] = 0;
        path->depth = 1;
        return 0;
    }
    if (rc == 0)
        rc = bt_read_entry(txn, t, path->page[path->depth - 1], path->idx[path->depth - 1], &last, NULL);
    if (rc)
        return rc;
    if (key_compare(key, klen, last.data, last.size) <= 0)
        return LARCH_INVALID;
    path->idx[path->depth - 1]++;
    return 0;
}

/*
 * Sequential loads put every key after the last one, into the rightmost
 * leaf, which the previous put already copied. Where that put left the
 * hint, a key that sorts after the leaf's last key and fits in its free
 * middle is appended there directly: no descent, no path copy, no staging
 * of the entry. Anything else (a split, an LZ4 tree, any other change
 * since) takes the full path.
 * Returns 1 if it did the put, 0 if the caller must.
 */
static int put_at_tail(larch_txn *txn, struct tree *t, const uint8_t *key, size_t klen, const void *val,
                       size_t vlen)
{
    struct wstate *w = txn->w;
    if (w->tail.tree != t || w->tail.mod_seq != txn->mod_seq || w->tail.root != t->root || (t->flags & TREE_LZ4))
        return 0;
    uint8_t *leaf = w->tail.leaf;
    const uint8_t *last = pg_entry(leaf, pg_nkeys(leaf) - 1);
    if (key_compare(key, klen, leaf_key(last), leaf_ksize(last)) <= 0)
        return 0;
    if (!leaf_value_inline(txn->page_size, klen, vlen) || !node_append_leaf(leaf, key, klen, val, vlen))
        return 0;
    t->entries++;
    w->tail.mod_seq = ++txn->mod_seq;
    w->tail_puts++;
    return 1;
}

/* After a put at path (leaf level l, entry idx): leave the hint for
 * put_at_tail if the entry is the last of the tree's rightmost leaf. */
static void note_tail(larch_txn *txn, const struct tree *t, const struct path *path, int l, unsigned idx,
                      bool split)
{
    struct wstate *w = txn->w;
    w->tail.tree = NULL;
    if (split || l != path->depth - 1 || idx + 1 != pg_nkeys(path->page[l]) || !path_is_rightmost(path, l))
        return;
    w->tail.tree = t;
    w->tail.root = t->root;
    w->tail.leaf = (uint8_t *)path->page[l];
    w->tail.mod_seq = txn->mod_seq;
}

LARCH_INTERNAL int bt_put(larch_txn *txn, struct tree *t, const uint8_t *key, size_t klen, const void *val,
                          size_t vlen, unsigned flags)
{
    struct path path;
    bool exact = false;
    size_t raw = vlen;
    unsigned eflags = 0;
    int rc;
    txn->w->puts++;
    if (put_at_tail(txn, t, key, klen, val, vlen))
        return 0;
    if (!t->root) {
        uint8_t *p;
        pgno_t pgno;
        rc = page_alloc(txn, 1, &p, &pgno);
        if (rc)
            return rc;
        node_init(p, PAGE_LEAF, pgno, txn->page_size);
        t->root = pgno;
        t->depth = 1;
        t->leaf_pages++;
        path.depth = 1;
        path.page[0] = p;
        path.idx[0] = 0;
    } else if (flags & LARCH_APPEND) {
        rc = seek_append(txn, t, key, klen, &path);
    } else {
        rc = bt_descend(txn, t, key, klen, &path, &exact);
    }
    if (rc)
        return rc;
    if (exact && (flags & LARCH_NOOVERWRITE))
        return LARCH_EXISTS;
    if (t->flags & TREE_LZ4) {
        struct dict d;
        rc = tree_dict(txn, t, &d);
        if (rc == 0)
            rc = value_pack(txn->w, &d, val, vlen, &val, &vlen, &eflags);
        if (rc)
            return rc;
    }
    rc = path_touch(txn, t, &path);
    if (rc)
        return rc;
    txn->mod_seq++;

    int l = path.depth - 1;
    uint8_t *leaf = (uint8_t *)path.page[l];
    unsigned idx = path.idx[l], size;
    if (exact) {
        uint8_t *e = pg_entry(leaf, idx);
        if (!(leaf_flags(e) & ENTRY_BIG) && leaf_flags(e) == eflags && leaf_vsize(e) == vlen) {
            /* The same stored size, inline: overwrite in place. */
            if (t->flags & TREE_LZ4) {
                uint64_t old_raw = vlen;
                if ((eflags & ENTRY_LZ4) && (rc = value_raw_length(leaf_value(e), vlen, &old_raw)) != 0)
                    return rc;
                t->value_bytes += raw - old_raw;
            }
            if (vlen)
                memmove(leaf_value(e), val, vlen);
            return 0;
        }
    }
    rc = build_leaf_entry(txn, t, key, klen, val, vlen, eflags, &size);
    if (rc)
        return rc;
    if (exact) {
        rc = free_value(txn, t, leaf, idx);
        if (rc)
            return rc;
        node_remove(leaf, idx);
        t->entries--;
    }
    /* Whether the entry goes in without a split or compaction, which
     * would move it or its neighbours to other pages. */
    bool in_place = pg_upper(leaf) - pg_lower(leaf) >= size + SLOT_SIZE;
    rc = insert_at(txn, t, &path, l, idx, txn->w->entry, size, 0);
    if (rc)
        return rc;
    t->entries++;
    note_tail(txn, t, &path, l, idx, !in_place);
    if (t->flags & TREE_LZ4) {
        t->value_bytes += raw;
        t->stored_bytes += vlen;
    }
    return 0;
}

/*
 * After a delete at level l: free an empty page, collapse a root with one
 * child, or merge a page under a quarter full into a neighbour that has
 * room, then look at the parent the same way.
 */
static int rebalance(larch_txn *txn, struct tree *t, struct path *path, int l)
{
    struct wstate *w = txn->w;
    uint32_t ps = txn->page_size;
    uint8_t *p = (uint8_t *)path->page[l];
    unsigned n = pg_nkeys(p), type = pg_type(p);
    int rc;

    if (l == 0) {
        /* An empty root empties the tree; a branch root with one child
         * hands the root to that child, as often as that repeats. */
        const uint8_t *root = p;
        while (n == 0 || (type == PAGE_BRANCH && n == 1)) {
            pgno_t child = n ? branch_child(pg_entry(root, 0)) : 0;
            count_page(t, type, -1);
            rc = page_free(txn, pg_pgno(root), 1);
            t->root = child;
            t->depth = child ? t->depth - 1 : 0;
            if (rc || !child)
                return rc;
            rc = load_root(txn, t, &root);
            if (rc)
                return rc;
            n = pg_nkeys(root);
            type = pg_type(root);
        }
        return 0;
    }
    if (n > 0 && node_used(p, ps) >= (ps - PAGE_HEADER_SIZE) / 4)
        return 0;

    uint8_t *parent = (uint8_t *)path->page[l - 1];
    unsigned pi = path->idx[l - 1];
    if (n == 0) { /* an empty page just leaves its parent */
        count_page(t, type, -1);
        rc = page_free(txn, pg_pgno(p), 1);
        if (rc)
            return rc;
        node_remove(parent, pi);
        if (pi == 0 && pg_nkeys(parent) > 0)
            node_branch_clear_key(parent, 0); /* the next child now starts from the bottom */
        return rebalance(txn, t, path, l - 1);
    }
    if (pg_nkeys(parent) == 1)
        return 0; /* no neighbour to merge with */

    /* Merge with the left neighbour, or the right one for the first child. */
    unsigned si = pi > 0 ? pi - 1 : 1, ri = pi > 0 ? pi : 1;
    const uint8_t *sib_ro;
    uint8_t *sib;
    pgno_t spg, snew;
    rc = load_child(txn, parent, si, type, &sib_ro);
    if (rc)
        return rc;
    spg = pg_pgno(sib_ro);
    rc = page_touch(txn, spg, &sib, &snew);
    if (rc)
        return rc;
    if (snew != spg)
        branch_set_child(pg_entry(parent, si), snew);

    uint8_t *left = pi > 0 ? sib : p, *right = pi > 0 ? p : sib;
    const uint8_t *sep = NULL;
    size_t seplen = 0;
    rc = node_key_full(parent, ri, ps, w->merge_sep, &sep, &seplen);
    if (rc)
        return rc;
    if (!node_can_merge(left, right, ps, sep, seplen))
        return 0;
    node_merge(left, right, ps, w->scratch, sep, seplen);
    if (type == PAGE_BRANCH)
        node_branch_clear_key(left, 0);
    count_page(t, type, -1);
    rc = page_free(txn, pg_pgno(right), 1);
    if (rc)
        return rc;
    node_remove(parent, ri);
    return rebalance(txn, t, path, l - 1);
}

/* Descend to key, which must exist, and make its path writable. */
static int find_for_update(larch_txn *txn, struct tree *t, const uint8_t *key, size_t klen, struct path *path)
{
    bool exact;
    int rc = bt_descend(txn, t, key, klen, path, &exact);
    if (rc)
        return rc;
    if (!exact)
        return LARCH_NOTFOUND;
    return path_touch(txn, t, path);
}

LARCH_INTERNAL int bt_del(larch_txn *txn, struct tree *t, const uint8_t *key, size_t klen)
{
    struct path path;
    int rc = find_for_update(txn, t, key, klen, &path);
    if (rc)
        return rc;
    txn->mod_seq++;
    int l = path.depth - 1;
    uint8_t *leaf = (uint8_t *)path.page[l];
    rc = free_value(txn, t, leaf, path.idx[l]);
    if (rc)
        return rc;
    node_remove(leaf, path.idx[l]);
    t->entries--;
    return rebalance(txn, t, &path, l);
}

LARCH_INTERNAL int bt_value_for_update(larch_txn *txn, struct tree *t, const uint8_t *key, size_t klen,
                                       uint8_t **val, size_t *vlen)
{
    struct path path;
    int rc = find_for_update(txn, t, key, klen, &path);
    if (rc)
        return rc;
    uint8_t *e = pg_entry(path.page[path.depth - 1], path.idx[path.depth - 1]);
    if (leaf_flags(e) & ENTRY_BIG)
        return LARCH_NOTFOUND;
    *val = leaf_value(e);
    *vlen = leaf_vsize(e);
    return 0;
}

/* Free a subtree, children before their parent. */
static int free_subtree(larch_txn *txn, struct tree *t, const uint8_t *p, int level)
{
    unsigned n = pg_nkeys(p);
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        if (level == (int)t->depth - 1) {
            rc = free_value(txn, t, p, i);
        } else {
            const uint8_t *child = NULL;
            rc = load_child(txn, p, i, level_type(t, level + 1), &child);
            if (rc == 0)
                rc = free_subtree(txn, t, child, level + 1);
        }
    }
    return rc ? rc : page_free(txn, pg_pgno(p), 1);
}

LARCH_INTERNAL int bt_free_tree(larch_txn *txn, struct tree *t)
{
    if (t->root) {
        const uint8_t *root = NULL;
        int rc = load_root(txn, t, &root);
        if (rc == 0)
            rc = free_subtree(txn, t, root, 0);
        if (rc)
            return rc;
    }
    t->root = 0;
    t->depth = 0;
    t->entries = t->branch_pages = t->leaf_pages = t->overflow_pages = 0;
    t->value_bytes = t->stored_bytes = 0;
    return 0;
}
