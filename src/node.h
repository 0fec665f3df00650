/*
 * node.h - operations inside one branch or leaf page: search, insert,
 * remove, compact, and the split and merge of page contents. Nothing here
 * allocates pages or knows about transactions; btree.c does that.
 */
#ifndef LARCH_NODE_H
#define LARCH_NODE_H

#include "format.h"

/* Format a fresh, empty branch or leaf page. */
LARCH_INTERNAL void node_init(uint8_t *p, unsigned type, pgno_t pgno, uint32_t ps);

/*
 * Check the header of a branch or leaf page read from the file: its type,
 * and that the slot array and heap bounds lie inside the page. Returns 0 or
 * LARCH_CORRUPT. Cheap: a few compares, no loop.
 */
static inline int node_check(const uint8_t *p, unsigned type, uint32_t ps)
{
    if (UNLIKELY(pg_type(p) != type || pg_upper(p) > pg_heap_end(p, ps) || pg_lower(p) > pg_upper(p) ||
                 (pg_nkeys(p) == 0 && type == PAGE_BRANCH)))
        return CORRUPT();
    return 0;
}

/*
 * Check a whole branch or leaf page before a writer changes it: the header,
 * every entry inside the page and no larger than max_entry, key sizes in
 * range, and the entries' sizes adding up exactly to the heap (less its
 * dead space). O(entries); only pages a write transaction copies pay it.
 */
LARCH_INTERNAL int node_validate(const uint8_t *p, uint32_t ps);

/*
 * The key bytes entry i stores, with bounds checks against a damaged page:
 * a leaf's whole key, a branch key less the page prefix (node_key_full
 * gives the whole key). Returns 0 or LARCH_CORRUPT.
 */
static inline int node_key(const uint8_t *p, unsigned i, uint32_t ps, const uint8_t **key, size_t *klen)
{
    unsigned off = pg_slot(p, i), hdr, k;
    if (UNLIKELY(off < pg_lower(p)))
        return CORRUPT();
    /* The header must be inside the page before its key size is read
     * (a leaf's first byte tells how long its header is). */
    if (pg_type(p) == PAGE_LEAF) {
        if (UNLIKELY(off + LEAF_SHORT_HEADER > ps))
            return CORRUPT();
        hdr = leaf_header_size(p + off);
        if (UNLIKELY(off + hdr > ps))
            return CORRUPT();
        k = leaf_ksize(p + off);
    } else {
        hdr = BRANCH_ENTRY_HEADER;
        if (UNLIKELY(off + hdr > ps))
            return CORRUPT();
        k = branch_ksize(p + off);
    }
    if (UNLIKELY(off + hdr + k > ps))
        return CORRUPT();
    *key = p + off + hdr;
    *klen = k;
    return 0;
}

/*
 * The whole key of entry i: in a leaf a pointer into the page, in a branch
 * the page prefix and the stored bytes joined in buf (LARCH_MAX_KEY_SIZE
 * bytes). Bounds-checked like node_key. Returns 0 or LARCH_CORRUPT.
 */
LARCH_INTERNAL int node_key_full(const uint8_t *p, unsigned i, uint32_t ps, uint8_t *buf, const uint8_t **key,
                                 size_t *klen);

/*
 * In a leaf: the index of the first entry whose key is >= key (nkeys when
 * there is none), and whether it is equal. In a branch: the index of the
 * child whose subtree holds key. Return 0 or LARCH_CORRUPT.
 */
LARCH_INTERNAL int node_search_leaf(const uint8_t *p, uint32_t ps, const uint8_t *key, size_t klen,
                                    unsigned *idx, bool *exact);
LARCH_INTERNAL int node_search_branch(const uint8_t *p, uint32_t ps, const uint8_t *key, size_t klen,
                                      unsigned *idx);

/* Bytes the entries and their slots take; free bytes (counting dead space). */
static inline unsigned node_used(const uint8_t *p, uint32_t ps) { return ps - pg_upper(p) - pg_frag(p) + SLOT_SIZE * pg_nkeys(p); }
static inline unsigned node_free(const uint8_t *p) { return pg_upper(p) - pg_lower(p) + pg_frag(p); }

/*
 * Append a plain leaf entry (key, inline value) after the last entry of
 * leaf p, whose keys all sort before key; the page prefix shrinks if key
 * does not share it. Returns false, with p unchanged, if the entry does not
 * fit in the free middle of the page.
 */
LARCH_INTERNAL bool node_append_leaf(uint8_t *p, const uint8_t *key, size_t klen, const void *val, size_t vlen);
/*
 * Insert an entry of size bytes at index idx: a leaf entry as it is stored,
 * a branch entry (node_make_branch_entry) with its whole key, which the
 * page stores less its prefix. A branch key that does not share the prefix
 * shortens it, which lengthens every stored key. Returns false (and
 * changes nothing) when the page has no room even after compaction.
 * scratch is one page of memory.
 */
LARCH_INTERNAL bool node_insert(uint8_t *p, uint32_t ps, uint8_t *scratch, unsigned idx, const uint8_t *entry,
                                unsigned size);

/* Remove entry idx. */
LARCH_INTERNAL void node_remove(uint8_t *p, unsigned idx);

/* Rewrite the heap without dead space. scratch is one page of memory. */
LARCH_INTERNAL void node_compact(uint8_t *p, uint32_t ps, uint8_t *scratch);

/*
 * Replace the key of branch entry idx with an empty one (used when entry
 * idx becomes entry 0, the lower bound of the page).
 */
LARCH_INTERNAL void node_branch_clear_key(uint8_t *p, unsigned idx);

/* Build a branch entry with a whole key into buf (at least BRANCH_ENTRY_HEADER + klen bytes); returns its size. */
LARCH_INTERNAL unsigned node_make_branch_entry(uint8_t *buf, pgno_t child, const uint8_t *key, size_t klen);

/*
 * Split: the entries of page p plus a new entry (at index idx) are divided
 * between p (left) and q (right, an empty page of the same type, already
 * initialized). 'append' asks for the split of a sequential load: the new
 * entry alone goes right, the left page stays full.
 *
 * The separator for the parent, which bounds q from below, is written to
 * sep (at least LARCH_MAX_KEY_SIZE bytes) and its length to *seplen. For a
 * leaf it is the shortest prefix of q's first key that is greater than p's
 * last key; for a branch the key of q's first entry, which becomes empty.
 *
 * On return *new_at_right tells where the new entry went, and *new_idx its
 * index in that page.
 */
LARCH_INTERNAL void node_split(uint8_t *p, uint8_t *q, uint32_t ps, uint8_t *scratch, unsigned idx,
                               const uint8_t *entry, unsigned size, bool append, uint8_t *sep,
                               size_t *seplen, bool *new_at_right, unsigned *new_idx);

/*
 * Whether the entries of right fit into left, with sepkey (the parent's key
 * for right) given to right's entry 0 when they are branches.
 */
LARCH_INTERNAL bool node_can_merge(const uint8_t *left, const uint8_t *right, uint32_t ps, const uint8_t *sep,
                                   size_t seplen);

/* Append all entries of right to left (see node_can_merge). */
LARCH_INTERNAL void node_merge(uint8_t *left, const uint8_t *right, uint32_t ps, uint8_t *scratch,
                               const uint8_t *sep, size_t seplen);

#endif /* LARCH_NODE_H */
