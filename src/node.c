/*
 * node.c - search, insert, remove, compact, split and merge inside a page.
 *
 * Pages are slotted: a sorted array of slots (an entry's offset and its
 * key's 4-byte head) after the header, the entries packed from the end of
 * the page down. Splits and merges rebuild pages from a scratch copy, which
 * keeps every heap compact afterwards.
 *
 * Leaves store whole keys; their prefix only places the heads. Branches
 * store keys less the page prefix (its bytes at the end of the page), so a
 * branch page is rebuilt whenever its prefix changes: the second half of
 * this file works on branch entries as a sequence of (child, whole key).
 */
#include "node.h"

LARCH_INTERNAL void node_init(uint8_t *p, unsigned type, pgno_t pgno, uint32_t ps)
{
    /* All of it: the free middle of the page is written to disk too, and
     * must not carry stale memory. */
    memset(p, 0, ps);
    pg_set_type(p, type);
    pg_set_pgno(p, pgno);
    pg_set_upper(p, ps);
}

/*
 * Read key i of p (bounds-checked) and compare it with the searched key:
 * *c as key_compare(stored, searched), *inside whether the searched key
 * shares the page's prefix (the two agree on the first pfx bytes). With
 * prefix_only, only those pfx bytes are compared: every key of the page
 * has them, so *c > 0 then means the key sorts before the whole page,
 * < 0 after it. Searches ask that of the page's first key, the same bytes
 * each time, which on the upper levels of the tree stay in the CPU cache.
 */
static ALWAYS_INLINE int probe_key(const uint8_t *p, uint32_t ps, unsigned i, const uint8_t *key, size_t klen,
                                   unsigned pfx, bool prefix_only, int *c, bool *inside)
{
    const uint8_t *k = NULL;
    size_t kl = 0, d;
    int rc = node_key(p, i, ps, &k, &kl);
    if (rc)
        return rc;
    if (UNLIKELY(kl < pfx))
        return CORRUPT();
    if (prefix_only)
        *c = key_compare_at(k, pfx, key, MIN(klen, (size_t)pfx), &d);
    else
        *c = key_compare_at(k, kl, key, klen, &d);
    *inside = d >= pfx;
    return 0;
}

/*
 * The first entry in [lo, hi) whose head is >= h (upper: > h), or hi.
 * Heads are unsigned numbers in key order, so this is a plain binary
 * search; written so the compiler picks with a conditional move instead of
 * a branch, because half of a binary search's branches are mispredicted.
 */
static inline unsigned head_bound(const uint8_t *p, unsigned lo, unsigned hi, unsigned h, bool upper)
{
    if (lo == hi)
        return lo;
    unsigned base = lo, len = hi - lo;
    while (len > 1) {
        unsigned half = len / 2, x = pg_head(p, base + half);
        base = (upper ? x <= h : x < h) ? base + half : base;
        len -= half;
    }
    unsigned x = pg_head(p, base);
    return base + (upper ? x <= h : x < h);
}

/*
 * The search shared by leaves and branches over entries [lo, hi): the
 * first entry whose key is > key (or >= key when !after_equal), and
 * whether that comparison met an equal key.
 *
 * It compares heads, which lie together in the slot array, and reads keys
 * only among the entries whose head ties with the searched key's (for a
 * get of a present key: the key found). Heads mean something only for a
 * searched key that shares the page's prefix; the first key read tells
 * whether it does, and when no head tied, the page's first key is read to
 * tell it. A key outside the prefix sorts before or after the whole page.
 */
static int search_range(const uint8_t *p, uint32_t ps, const uint8_t *key, size_t klen, unsigned lo, unsigned hi,
                        bool after_equal, unsigned *out, bool *equal)
{
    const unsigned first = lo, end = hi;
    unsigned pfx = pg_prefix(p);
    bool inside = true;
    int c = 0, rc;
    size_t d;
    *equal = false;
    if (pg_type(p) == PAGE_BRANCH && pfx) {
        /* A branch stores its keys less the prefix: place the key against
         * the prefix once, then search with the rest of it. */
        c = key_compare_at(p + ps - pfx, pfx, key, MIN(klen, (size_t)pfx), &d);
        if (c) {
            *out = c > 0 ? first : end;
            return 0;
        }
        key += pfx;
        klen -= pfx;
        pfx = 0;
    }
    const unsigned head = key_head(key, klen, pfx);
    /* All the slot lines at once: a binary search over them in a page that
     * is not in the CPU cache would otherwise wait for one after another. */
    prefetch_range(p + PAGE_HEADER_SIZE + SLOT_SIZE * first, SLOT_SIZE * (end - first));
    lo = head_bound(p, first, end, head, false);
    if (lo < end && pg_head(p, lo) == head) {
        /* Usually one entry has the head: its neighbour tells without a search. */
        hi = lo + 1 == end || pg_head(p, lo + 1) != head ? lo + 1 : head_bound(p, lo + 2, end, head, true);
        while (lo < hi) {
            unsigned mid = lo + (hi - lo) / 2;
            if ((rc = probe_key(p, ps, mid, key, klen, pfx, false, &c, &inside)) != 0)
                return rc;
            if (!inside)
                break;
            if (c == 0) {
                *equal = true;
                if (!after_equal) {
                    *out = mid;
                    return 0;
                }
            }
            if (c < 0 || (c == 0 && after_equal))
                lo = mid + 1;
            else
                hi = mid;
        }
    } else if (pfx && first < end) {
        if ((rc = probe_key(p, ps, first, key, klen, pfx, true, &c, &inside)) != 0)
            return rc;
    }
    *out = inside ? lo : c > 0 ? first : end;
    return 0;
}

LARCH_INTERNAL int node_key_full(const uint8_t *p, unsigned i, uint32_t ps, uint8_t *buf, const uint8_t **key,
                                 size_t *klen)
{
    const uint8_t *k = NULL;
    size_t kl = 0;
    unsigned pfx = i ? pg_prefix_bytes(p) : 0;
    int rc = node_key(p, i, ps, &k, &kl);
    if (rc)
        return rc;
    if (pfx == 0) {
        *key = k;
        *klen = kl;
        return 0;
    }
    if (UNLIKELY(pfx + kl > LARCH_MAX_KEY_SIZE || pg_upper(p) > ps - pfx))
        return CORRUPT();
    memcpy(buf, p + ps - pfx, pfx);
    memcpy(buf + pfx, k, kl);
    *key = buf;
    *klen = pfx + kl;
    return 0;
}

LARCH_INTERNAL int node_search_leaf(const uint8_t *p, uint32_t ps, const uint8_t *key, size_t klen,
                                    unsigned *idx, bool *exact)
{
    return search_range(p, ps, key, klen, 0, pg_nkeys(p), false, idx, exact);
}

LARCH_INTERNAL int node_search_branch(const uint8_t *p, uint32_t ps, const uint8_t *key, size_t klen,
                                      unsigned *idx)
{
    /* Find the first entry (from 1) whose key is > key; the child is the one before. */
    unsigned first_greater = 1;
    bool equal;
    int rc = search_range(p, ps, key, klen, 1, pg_nkeys(p), true, &first_greater, &equal);
    *idx = first_greater - 1;
    return rc;
}

/* Length of the common prefix of two keys, at most MAX_PREFIX. */
static unsigned common_prefix(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = MIN(MIN(al, bl), (size_t)MAX_PREFIX), i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return (unsigned)i;
}

/* The key of entry i of a leaf known to be sound (a writer's page). */
static const uint8_t *leaf_entry_key(const uint8_t *p, unsigned i, size_t *klen)
{
    const uint8_t *e = pg_entry(p, i);
    *klen = leaf_ksize(e);
    return leaf_key(e);
}

/* Set a leaf's prefix to pfx and rewrite every head to match. */
static void set_prefix(uint8_t *p, unsigned pfx)
{
    unsigned n = pg_nkeys(p);
    size_t kl;
    pg_set_prefix(p, pfx);
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *k = leaf_entry_key(p, i, &kl);
        pg_set_head(p, i, key_head(k, kl, pfx));
    }
}

/* Recompute a leaf's prefix from its first and last keys (all others lie between). */
static void reprefix(uint8_t *p)
{
    unsigned n = pg_nkeys(p);
    size_t al, bl;
    if (n == 0) {
        set_prefix(p, 0);
        return;
    }
    const uint8_t *a = leaf_entry_key(p, 0, &al), *b = leaf_entry_key(p, n - 1, &bl);
    set_prefix(p, common_prefix(a, al, b, bl));
}

/*
 * After entry idx was inserted into a leaf: a new first or last key may
 * shorten the prefix (then every head changes); a key in between shares it
 * already.
 */
static void prefix_after_insert(uint8_t *p, unsigned idx)
{
    unsigned n = pg_nkeys(p), pfx = pg_prefix(p);
    size_t kl, ol;
    const uint8_t *k = leaf_entry_key(p, idx, &kl);
    if (n == 1) { /* the only key: the prefix is the key itself */
        pg_set_prefix(p, MIN(kl, (size_t)MAX_PREFIX));
        pg_set_head(p, idx, key_head(k, kl, pg_prefix(p)));
        return;
    }
    if (idx == 0 || idx == n - 1) {
        const uint8_t *other = leaf_entry_key(p, idx == 0 ? idx + 1 : idx - 1, &ol);
        unsigned c = common_prefix(k, kl, other, ol);
        if (c < pfx) {
            set_prefix(p, c);
            return;
        }
    }
    pg_set_head(p, idx, key_head(k, kl, pfx));
}

/*
 * One pass over the slots of a leaf (leaf true) or branch page: each entry
 * lies inside the heap and has possible sizes, and its slot's head matches
 * its key under the page prefix. Called with a constant leaf, so each page
 * type gets its own loop; a writer runs this on every page it copies. That
 * the keys share the prefix (like their order) is left to larch_check: a
 * page wrong there misleads searches but cannot make a writer overrun a
 * buffer.
 */
static inline int validate_entries(const uint8_t *p, uint32_t ps, bool leaf, uint64_t *sum)
{
    unsigned n = pg_nkeys(p), upper = pg_upper(p), pfx = pg_prefix(p);
    unsigned maxk = max_key_size(ps), maxe = max_entry_size(ps);
    for (unsigned i = 0; i < n; i++) {
        unsigned off = pg_slot(p, i), hs, k;
        const uint8_t *e = p + off;
        uint64_t size;
        if (off < upper || off + (leaf ? LEAF_SHORT_HEADER : BRANCH_ENTRY_HEADER) > ps)
            return CORRUPT();
        if (leaf) {
            hs = leaf_header_size(e);
            if (off + hs > ps)
                return CORRUPT();
            k = leaf_ksize(e);
            size = hs + (uint64_t)k + leaf_stored_vsize(e);
        } else {
            hs = BRANCH_ENTRY_HEADER;
            k = branch_ksize(e);
            size = branch_entry_size(e);
        }
        if (off + size > ps || size + SLOT_SIZE > maxe || k > maxk)
            return CORRUPT();
        /* A branch's first key is empty, with head 0; no other key is. A
         * leaf key is at least the prefix long and its head is its next
         * four bytes; a branch stores the bytes after the prefix, and its
         * head is their first four. */
        if (!leaf && i == 0   ? k != 0 || pg_head(p, 0) != 0
            : leaf            ? k == 0 || k < pfx || pg_head(p, i) != key_head(e + hs, k, pfx)
                              : pfx + k == 0 || pfx + k > maxk || pg_head(p, i) != key_head(e + hs, k, 0))
            return CORRUPT();
        *sum += size;
    }
    return 0;
}

LARCH_INTERNAL int node_validate(const uint8_t *p, uint32_t ps)
{
    unsigned type = pg_type(p);
    if ((type != PAGE_LEAF && type != PAGE_BRANCH) || node_check(p, type, ps))
        return CORRUPT();
    uint64_t sum = 0;
    int rc = type == PAGE_LEAF ? validate_entries(p, ps, true, &sum) : validate_entries(p, ps, false, &sum);
    if (rc == 0 && sum + pg_frag(p) != pg_heap_end(p, ps) - pg_upper(p))
        rc = CORRUPT();
    return rc;
}

/*
 * Open slot idx (head 0) for an entry of size bytes taken from the free
 * middle, which must hold it and its slot; returns where the entry's bytes
 * go. The caller writes them, and the head.
 */
static inline uint8_t *open_slot(uint8_t *p, unsigned idx, unsigned size)
{
    unsigned n = pg_nkeys(p);
    assert(idx <= n && pg_upper(p) - pg_lower(p) >= size + SLOT_SIZE);
    uint32_t upper = pg_upper(p) - size;
    uint8_t *slots = p + PAGE_HEADER_SIZE;
    if (idx < n)
        memmove(slots + SLOT_SIZE * (idx + 1), slots + SLOT_SIZE * idx, SLOT_SIZE * (n - idx));
    pg_set_slot(p, idx, upper);
    pg_set_head(p, idx, 0);
    pg_set_nkeys(p, n + 1);
    pg_set_upper(p, upper);
    return p + upper;
}

/* Whether an entry of size bytes and its slot fit, compacting the heap when only its dead space makes the room. */
static bool make_room(uint8_t *p, uint32_t ps, uint8_t *scratch, unsigned size)
{
    if (pg_upper(p) - pg_lower(p) >= size + SLOT_SIZE)
        return true;
    if (node_free(p) < size + SLOT_SIZE)
        return false;
    node_compact(p, ps, scratch);
    return true;
}

/* Append an entry after the last one; the caller made sure it fits contiguously. */
static void node_append(uint8_t *p, const uint8_t *entry, unsigned size)
{
    memcpy(open_slot(p, pg_nkeys(p), size), entry, size);
}

LARCH_INTERNAL void node_compact(uint8_t *p, uint32_t ps, uint8_t *scratch)
{
    unsigned n = pg_nkeys(p);
    memcpy(scratch, p, ps);
    pg_set_nkeys(p, 0);
    pg_set_upper(p, pg_heap_end(p, ps)); /* a branch's prefix bytes stay where they are */
    pg_set_frag(p, 0);
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *e = pg_entry(scratch, i);
        node_append(p, e, entry_size(scratch, e));
        pg_set_head(p, i, pg_head(scratch, i));
    }
}

LARCH_INTERNAL bool node_append_leaf(uint8_t *p, const uint8_t *key, size_t klen, const void *val, size_t vlen)
{
    unsigned n = pg_nkeys(p), pfx = pg_prefix(p), hdr = leaf_header_for(klen, vlen);
    size_t size = hdr + klen + vlen;
    assert(pg_type(p) == PAGE_LEAF && n > 0);
    if (pg_upper(p) - pg_lower(p) < size + SLOT_SIZE)
        return false;
    const uint8_t *last = pg_entry(p, n - 1);
    if (pfx && (klen < pfx || memcmp(key, leaf_key(last), pfx) != 0)) /* rare (keys counting past a digit, say), O(n) */
        set_prefix(p, pfx = MIN(pfx, common_prefix(key, klen, leaf_key(last), leaf_ksize(last))));
    uint8_t *e = open_slot(p, n, (unsigned)size);
    leaf_put_header(e, 0, klen, (uint32_t)vlen);
    memcpy(e + hdr, key, klen);
    if (vlen)
        memcpy(e + hdr + klen, val, vlen);
    pg_set_head(p, n, key_head(key, klen, pfx));
    return true;
}

static bool branch_insert(uint8_t *p, uint32_t ps, uint8_t *scratch, unsigned idx, const uint8_t *entry);

LARCH_INTERNAL bool node_insert(uint8_t *p, uint32_t ps, uint8_t *scratch, unsigned idx, const uint8_t *entry,
                                unsigned size)
{
    unsigned n = pg_nkeys(p);
    assert(idx <= n);
    if (pg_type(p) == PAGE_BRANCH)
        return branch_insert(p, ps, scratch, idx, entry);
    if (!make_room(p, ps, scratch, size))
        return false;
    memcpy(open_slot(p, idx, size), entry, size);
    prefix_after_insert(p, idx);
    return true;
}

LARCH_INTERNAL void node_remove(uint8_t *p, unsigned idx)
{
    unsigned n = pg_nkeys(p);
    assert(idx < n);
    unsigned off = pg_slot(p, idx);
    unsigned size = entry_size(p, p + off);
    if (off == pg_upper(p))
        pg_set_upper(p, off + size); /* the lowest entry: give its bytes straight back */
    else
        pg_set_frag(p, pg_frag(p) + size);
    uint8_t *slots = p + PAGE_HEADER_SIZE;
    memmove(slots + SLOT_SIZE * idx, slots + SLOT_SIZE * (idx + 1), SLOT_SIZE * (n - idx - 1));
    pg_set_nkeys(p, n - 1);
    if (n == 1) {
        pg_set_upper(p, pg_upper(p) + pg_frag(p));
        pg_set_frag(p, 0);
    }
}

LARCH_INTERNAL unsigned node_make_branch_entry(uint8_t *buf, pgno_t child, const uint8_t *key, size_t klen)
{
    put64(buf, child);
    put16(buf + 8, (uint16_t)klen);
    if (klen)
        memcpy(buf + BRANCH_ENTRY_HEADER, key, klen);
    return BRANCH_ENTRY_HEADER + (unsigned)klen;
}

LARCH_INTERNAL void node_branch_clear_key(uint8_t *p, unsigned idx)
{
    /* In place: the entry shrinks to its header and the key bytes behind it
     * become dead space, reclaimed by the next compaction. */
    uint8_t *e = pg_entry(p, idx);
    pg_set_frag(p, pg_frag(p) + branch_ksize(e));
    put16(e + 8, 0);
    pg_set_head(p, idx, 0);
}

/* Entry i of the sequence "page entries with 'entry' inserted at idx". */
/* Entry i of the sequence "leaf entries with 'entry' inserted at idx". */
static const uint8_t *split_entry(const uint8_t *old, unsigned i, unsigned idx, const uint8_t *entry,
                                  unsigned size, unsigned *esize)
{
    const uint8_t *e;
    if (i == idx) {
        *esize = size;
        return entry;
    }
    e = pg_entry(old, i < idx ? i : i - 1);
    *esize = leaf_entry_size(e);
    return e;
}

/*
 * Choose how many of the n leaf entries stay left: the byte-balanced cut,
 * moved if needed so that both halves fit. Every entry is at most half a
 * page, so a cut where both fit always exists.
 */
static unsigned split_point(const uint8_t *old, uint32_t ps, unsigned n, unsigned idx, const uint8_t *entry,
                            unsigned size)
{
    unsigned cap = ps - PAGE_HEADER_SIZE, total = 0, sz;
    for (unsigned i = 0; i < n; i++) {
        split_entry(old, i, idx, entry, size, &sz);
        total += sz + SLOT_SIZE;
    }
    unsigned k = 1, left = 0;
    for (; k < n; k++) {
        split_entry(old, k - 1, idx, entry, size, &sz);
        left += sz + SLOT_SIZE;
        if (left >= total / 2)
            break;
    }
    if (k >= n)
        k = n - 1;
    /* Recount exactly and walk the cut until both sides fit. With every
     * entry at most half a page (node_validate) that takes a step or two;
     * the bound only keeps a broken invariant from looping. */
    for (unsigned tries = 0; tries <= n; tries++) {
        unsigned l = 0, r = 0;
        for (unsigned i = 0; i < n; i++) {
            split_entry(old, i, idx, entry, size, &sz);
            if (i < k)
                l += sz + SLOT_SIZE;
            else
                r += sz + SLOT_SIZE;
        }
        if (l > cap && k > 1)
            k--;
        else if (r > cap && k < n - 1)
            k++;
        else
            return k;
    }
    assert(!"no split point: an entry larger than half a page");
    return k;
}

static void leaf_split(uint8_t *p, uint8_t *q, uint32_t ps, uint8_t *scratch, unsigned idx, const uint8_t *entry,
                       unsigned size, bool append, uint8_t *sep, size_t *seplen, bool *new_at_right,
                       unsigned *new_idx)
{
    unsigned n = pg_nkeys(p) + 1, sz;
    memcpy(scratch, p, ps);
    unsigned k = (append && idx == n - 1) ? n - 1 : split_point(scratch, ps, n, idx, entry, size);

    /* The separator first: it is read from the entries before they move. */
    const uint8_t *first_right = split_entry(scratch, k, idx, entry, size, &sz);
    const uint8_t *last_left = split_entry(scratch, k - 1, idx, entry, size, &sz);
    size_t ll = leaf_ksize(last_left), rl = leaf_ksize(first_right), c = 0;
    const uint8_t *lk = leaf_key(last_left), *rk = leaf_key(first_right);
    while (c < ll && c < rl && lk[c] == rk[c])
        c++;
    *seplen = c + 1; /* rk is longer than the common prefix, since lk < rk */
    memcpy(sep, rk, *seplen);

    pg_set_nkeys(p, 0);
    pg_set_upper(p, ps);
    pg_set_frag(p, 0);
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *e = split_entry(scratch, i, idx, entry, size, &sz);
        node_append(i < k ? p : q, e, sz);
    }
    reprefix(p);
    reprefix(q);
    *new_at_right = idx >= k;
    *new_idx = idx >= k ? idx - k : idx;
}

/* ---- Branch pages: entries as (child, whole key) ------------------------ */

/* A whole branch key in two pieces, a then b: a page's prefix and the bytes an entry stores. */
struct bkey {
    const uint8_t *a, *b;
    size_t alen, blen;
};

static size_t bkey_len(const struct bkey *k) { return k->alen + k->blen; }

/* Copy bytes [from, to) of key k to dst. */
static void bkey_copy(const struct bkey *k, size_t from, size_t to, uint8_t *dst)
{
    if (from < k->alen) {
        size_t n = MIN(to, k->alen) - from;
        memcpy(dst, k->a + from, n);
        dst += n;
        from += n;
    }
    if (from < to)
        memcpy(dst, k->b + (from - k->alen), to - from);
}

/* Length of the common prefix of two keys, at most limit. */
static unsigned bkey_common(const struct bkey *x, const struct bkey *y, unsigned limit)
{
    size_t n = MIN(MIN(bkey_len(x), bkey_len(y)), (size_t)limit), i = 0;
    if (x->a == y->a && x->alen == y->alen) /* the same page's prefix */
        i = MIN(x->alen, n);
    while (i < n && (i < x->alen ? x->a[i] : x->b[i - x->alen]) == (i < y->alen ? y->a[i] : y->b[i - y->alen]))
        i++;
    return (unsigned)i;
}

/* The child and whole key of entry i of branch p (sound: a writer's page). */
static pgno_t page_bkey(const uint8_t *p, uint32_t ps, unsigned i, struct bkey *k)
{
    const uint8_t *e = pg_entry(p, i);
    unsigned pfx = i ? pg_prefix(p) : 0; /* entry 0 has no key, not even the prefix */
    *k = (struct bkey){ p + ps - pfx, branch_key(e), pfx, branch_ksize(e) };
    return branch_child(e);
}

/*
 * The branch entries a split, merge or prefix change lays out anew: the
 * entries of page 'old', with 'extra' (an entry with a whole key) at
 * position idx if there is one; then, for a merge, the entries of page
 * 'right', whose entry 0 takes the key 'sep'.
 */
struct bseq {
    const uint8_t *old, *extra, *right, *sep;
    uint32_t ps;
    unsigned nold, idx, nright;
    size_t seplen;
};

static unsigned bseq_count(const struct bseq *s) { return s->nold + (s->extra != NULL) + s->nright; }

static pgno_t bseq_get(const struct bseq *s, unsigned i, struct bkey *k)
{
    if (s->extra && i == s->idx) {
        *k = (struct bkey){ NULL, branch_key(s->extra), 0, branch_ksize(s->extra) };
        return branch_child(s->extra);
    }
    if (s->extra && i > s->idx)
        i--;
    if (i < s->nold)
        return page_bkey(s->old, s->ps, i, k);
    i -= s->nold;
    pgno_t child = page_bkey(s->right, s->ps, i, k);
    if (i == 0)
        *k = (struct bkey){ NULL, s->sep, 0, s->seplen };
    return child;
}

/*
 * The prefix a page of entries [from, to) gets (entry 'from' becomes its
 * keyless entry 0): what all its keys share. In key order the first and
 * last would tell, but the entries come from a page a file gave us, whose
 * order nothing checked; the prefix must not be longer than any key.
 */
static unsigned bseq_prefix(const struct bseq *s, unsigned from, unsigned to)
{
    struct bkey a, b;
    if (to - from < 2)
        return 0;
    bseq_get(s, from + 1, &a);
    unsigned pfx = bkey_common(&a, &a, MAX_PREFIX);
    for (unsigned i = from + 2; i < to && pfx; i++) {
        bseq_get(s, i, &b);
        pfx = bkey_common(&a, &b, pfx);
    }
    return pfx;
}

/* The bytes entries [from, to) take as one page: slots, entries, prefix. */
static unsigned bseq_bytes(const struct bseq *s, unsigned from, unsigned to)
{
    unsigned pfx = bseq_prefix(s, from, to), total = pfx;
    struct bkey k;
    for (unsigned i = from; i < to; i++) {
        total += SLOT_SIZE + BRANCH_ENTRY_HEADER;
        if (i > from) {
            bseq_get(s, i, &k);
            total += (unsigned)bkey_len(&k) - pfx;
        }
    }
    return total;
}

/* Append (child, k) to branch p: entry 0 without a key, others less the prefix. */
static void branch_put(uint8_t *p, pgno_t child, const struct bkey *k)
{
    unsigned n = pg_nkeys(p), pfx = pg_prefix(p);
    size_t kl = n ? bkey_len(k) - pfx : 0;
    uint8_t *e = open_slot(p, n, BRANCH_ENTRY_HEADER + (unsigned)kl);
    put64(e, child);
    put16(e + 8, (uint16_t)kl);
    bkey_copy(k, pfx, pfx + kl, e + BRANCH_ENTRY_HEADER);
    if (n)
        pg_set_head(p, n, key_head(e + BRANCH_ENTRY_HEADER, kl, 0));
}

/* Lay entries [from, to) out as the whole content of branch p (its header's other fields kept). */
static void bseq_build(const struct bseq *s, unsigned from, unsigned to, uint8_t *p)
{
    unsigned pfx = bseq_prefix(s, from, to);
    struct bkey k;
    pg_set_nkeys(p, 0);
    pg_set_frag(p, 0);
    pg_set_prefix(p, pfx);
    pg_set_upper(p, s->ps - pfx);
    if (pfx) {
        bseq_get(s, from + 1, &k);
        bkey_copy(&k, 0, pfx, p + s->ps - pfx);
    }
    for (unsigned i = from; i < to; i++) {
        pgno_t child = bseq_get(s, i, &k);
        branch_put(p, child, &k);
    }
}

static bool branch_insert(uint8_t *p, uint32_t ps, uint8_t *scratch, unsigned idx, const uint8_t *entry)
{
    unsigned n = pg_nkeys(p), pfx = pg_prefix(p);
    struct bseq s = { .old = p, .extra = entry, .ps = ps, .nold = n, .idx = idx };
    size_t klen = branch_ksize(entry);
    assert(idx > 0 || (n == 0 && klen == 0)); /* entry 0 is the keyless one */
    if (n >= 2 && klen >= pfx && memcmp(branch_key(entry), p + ps - pfx, pfx) == 0) {
        /* The key shares the prefix: store the rest of it. */
        size_t kl = klen - pfx;
        if (!make_room(p, ps, scratch, BRANCH_ENTRY_HEADER + (unsigned)kl))
            return false;
        uint8_t *e = open_slot(p, idx, BRANCH_ENTRY_HEADER + (unsigned)kl);
        put64(e, branch_child(entry));
        put16(e + 8, (uint16_t)kl);
        memcpy(e + BRANCH_ENTRY_HEADER, branch_key(entry) + pfx, kl);
        pg_set_head(p, idx, key_head(e + BRANCH_ENTRY_HEADER, kl, 0));
        return true;
    }
    /* A new prefix (the page's first key, or one that does not share it):
     * every stored key changes, so the page is laid out anew, if it fits. */
    memcpy(scratch, p, ps);
    s.old = scratch;
    if (bseq_bytes(&s, 0, n + 1) > ps - PAGE_HEADER_SIZE)
        return false;
    bseq_build(&s, 0, n + 1, p);
    return true;
}

/*
 * Where to cut n branch entries: byte-balanced, then moved until both
 * pages fit, each with its own prefix. A cut always exists: a key that
 * shortens the prefix is the first or last, and cutting next to it leaves
 * the other entries as they fitted before.
 */
static unsigned branch_split_point(const struct bseq *s, unsigned n)
{
    unsigned cap = s->ps - PAGE_HEADER_SIZE, strip = bseq_prefix(s, 0, n), total = 0, left, k = 1;
    struct bkey key;
    for (unsigned i = 1; i < n; i++) {
        bseq_get(s, i, &key);
        total += SLOT_SIZE + BRANCH_ENTRY_HEADER + (unsigned)bkey_len(&key) - strip;
    }
    for (left = 0; k < n - 1 && left < total / 2; k++) {
        bseq_get(s, k, &key);
        left += SLOT_SIZE + BRANCH_ENTRY_HEADER + (unsigned)bkey_len(&key) - strip;
    }
    for (unsigned tries = 0; tries <= n; tries++) {
        if (bseq_bytes(s, 0, k) > cap && k > 1)
            k--;
        else if (bseq_bytes(s, k, n) > cap && k < n - 1)
            k++;
        else
            return k;
    }
    assert(!"no branch split point");
    return k;
}

static void branch_split(uint8_t *p, uint8_t *q, uint32_t ps, uint8_t *scratch, unsigned idx, const uint8_t *entry,
                         bool append, uint8_t *sep, size_t *seplen, bool *new_at_right, unsigned *new_idx)
{
    unsigned n = pg_nkeys(p) + 1;
    struct bseq s = { .old = scratch, .extra = entry, .ps = ps, .nold = n - 1, .idx = idx };
    struct bkey key;
    memcpy(scratch, p, ps);
    unsigned k = (append && idx == n - 1) ? n - 1 : branch_split_point(&s, n);
    /* q's first entry loses its key to the parent, as the separator. */
    bseq_get(&s, k, &key);
    *seplen = bkey_len(&key);
    bkey_copy(&key, 0, *seplen, sep);
    bseq_build(&s, 0, k, p);
    bseq_build(&s, k, n, q);
    *new_at_right = idx >= k;
    *new_idx = idx >= k ? idx - k : idx;
}

LARCH_INTERNAL void node_split(uint8_t *p, uint8_t *q, uint32_t ps, uint8_t *scratch, unsigned idx,
                               const uint8_t *entry, unsigned size, bool append, uint8_t *sep,
                               size_t *seplen, bool *new_at_right, unsigned *new_idx)
{
    if (pg_type(p) == PAGE_BRANCH)
        branch_split(p, q, ps, scratch, idx, entry, append, sep, seplen, new_at_right, new_idx);
    else
        leaf_split(p, q, ps, scratch, idx, entry, size, append, sep, seplen, new_at_right, new_idx);
}

static struct bseq merge_seq(const uint8_t *left, const uint8_t *right, uint32_t ps, const uint8_t *sep,
                             size_t seplen)
{
    return (struct bseq){ .old = left, .right = right, .sep = sep, .ps = ps, .nold = pg_nkeys(left),
                          .nright = pg_nkeys(right), .seplen = seplen };
}

LARCH_INTERNAL bool node_can_merge(const uint8_t *left, const uint8_t *right, uint32_t ps, const uint8_t *sep,
                                   size_t seplen)
{
    if (pg_type(right) == PAGE_LEAF)
        return node_used(left, ps) + node_used(right, ps) <= ps - PAGE_HEADER_SIZE;
    /* Right's first entry takes the parent's separator as its key, and the
     * merged page's prefix may be shorter than either's. */
    struct bseq s = merge_seq(left, right, ps, sep, seplen);
    return bseq_bytes(&s, 0, bseq_count(&s)) <= ps - PAGE_HEADER_SIZE;
}

LARCH_INTERNAL void node_merge(uint8_t *left, const uint8_t *right, uint32_t ps, uint8_t *scratch,
                               const uint8_t *sep, size_t seplen)
{
    if (pg_type(right) == PAGE_BRANCH) {
        memcpy(scratch, left, ps);
        struct bseq s = merge_seq(scratch, right, ps, sep, seplen);
        bseq_build(&s, 0, bseq_count(&s), left);
        return;
    }
    node_compact(left, ps, scratch);
    for (unsigned i = 0; i < pg_nkeys(right); i++) {
        const uint8_t *e = pg_entry(right, i);
        node_append(left, e, leaf_entry_size(e));
    }
    reprefix(left);
}
