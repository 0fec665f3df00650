/*
 * check.c - the consistency check: walk every tree and every free-space
 * record of a snapshot and account for every page exactly once.
 *
 * Everything read is checked before use, as on the read path, and a
 * problem is written down and walked around rather than trusted, so a
 * damaged file gives a report, never a crash.
 */
#include "check.h"

#include "btree.h"
#include "bucket.h"
#include "compress.h"
#include "freelist.h"
#include "node.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct checker {
    larch_txn *txn;
    larch_check_report *rep;
    const struct check_hooks *hooks;
    const char *tree;  /* the tree being walked, for the hooks */
    uint64_t reached;  /* pages reached, for progress */
    uint32_t ps;
    pgno_t npages;
    uint8_t *seen; /* one byte a page: simpler than bits, and 1/4096 of the file */
    uint8_t *buf;  /* decompression room */
    size_t bufsize;
    /* per tree level, room for three whole branch keys: an entry's, the
     * one before (order) and the one after (its child's upper bound) */
    uint8_t (*keys)[3][LARCH_MAX_KEY_SIZE];
    /* counts of the tree being walked */
    uint64_t branch, leaf, overflow, entries, value_bytes, stored_bytes;
    /* named buckets found in the catalog; label: how the messages and the
     * hooks name the tree ("bucket \"x\""), valid until check_run returns */
    struct named { uint8_t name[MAX_BUCKET_NAME]; size_t len; struct tree t; char label[64]; } *named;
    size_t nnamed, named_cap;
};

static void problem(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct checker *c, const char *fmt, ...)
{
    larch_check_report *r = c->rep;
    r->problems++;
    if (r->nmessages < LARCH_CHECK_MESSAGES) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->message[r->nmessages++], sizeof r->message[0], fmt, ap);
        va_end(ap);
    }
}

/* Count page p as reached; false (and a problem) if it cannot be. */
static bool mark(struct checker *c, pgno_t p, const char *what, pgno_t from)
{
    if (p < NUM_METAS || p >= c->npages) {
        problem(c, "%s: page %llu (named by page %llu) is outside the file's %llu pages", what,
                (unsigned long long)p, (unsigned long long)from, (unsigned long long)c->npages);
        return false;
    }
    if (c->seen[p]) {
        problem(c, "%s: page %llu is reached twice (again from page %llu)", what, (unsigned long long)p,
                (unsigned long long)from);
        return false;
    }
    c->seen[p] = 1;
    if (c->hooks && c->hooks->progress && (++c->reached & 1023) == 0)
        c->hooks->progress(c->hooks->ctx, c->reached, c->npages);
    return true;
}

static void tell(struct checker *c, pgno_t p, uint64_t n, const char *role)
{
    if (c->hooks && c->hooks->page)
        c->hooks->page(c->hooks->ctx, p, n, role, c->tree);
}

static bool is_dirty(const struct checker *c, pgno_t p)
{
    return c->txn->w && dirty_find(c->txn->w, p);
}

static void check_checksum(struct checker *c, const uint8_t *p, pgno_t pgno, size_t len, const char *what)
{
    if (!is_dirty(c, pgno) && pg_checksum(p) != page_checksum(p, len))
        problem(c, "%s: page %llu fails its checksum (silent damage)", what, (unsigned long long)pgno);
}

static bool room(struct checker *c, size_t n)
{
    if (n <= c->bufsize)
        return true;
    uint8_t *b = realloc(c->buf, n);
    if (!b)
        return false;
    c->buf = b;
    c->bufsize = n;
    return true;
}

enum tree_kind { KIND_DATA, KIND_CATALOG, KIND_FREE };

/* A catalog entry: its record must decode; the bucket is walked later. */
static void catalog_entry(struct checker *c, pgno_t pgno, const larch_val *k, const uint8_t *v, size_t vlen)
{
    struct tree t;
    if (k->size > MAX_BUCKET_NAME || catalog_record_decode(v, vlen, c->npages, &t) != 0) {
        problem(c, "catalog: page %llu holds a bad bucket record", (unsigned long long)pgno);
        return;
    }
    if (c->nnamed == c->named_cap) {
        size_t cap = c->named_cap ? c->named_cap * 2 : 16;
        struct named *n = realloc(c->named, cap * sizeof *n);
        if (!n) {
            problem(c, "out of memory listing buckets");
            return;
        }
        c->named = n;
        c->named_cap = cap;
    }
    struct named *n = &c->named[c->nnamed++];
    memcpy(n->name, k->data, k->size);
    n->len = k->size;
    n->t = t;
    /* A write transaction's working descriptor reaches the catalog only at
     * commit: use it for a bucket the transaction has loaded. */
    for (uint32_t i = 1; c->txn->w && i < c->txn->nbk; i++) {
        const struct txn_bucket *tb = &c->txn->bk[i];
        if (tb->handle && tb->state == TB_LOADED && tb->entry->namelen == k->size &&
            !memcmp(tb->entry->name, k->data, k->size))
            n->t = tb->tree;
    }
}

/* A free record: every page it lists is free. */
static void free_record(struct checker *c, pgno_t pgno, const larch_val *k, const uint8_t *v, size_t vlen)
{
    if (k->size != FREE_KEY_SIZE || vlen % 8) {
        problem(c, "free tree: page %llu holds a malformed record", (unsigned long long)pgno);
        return;
    }
    if (freelist_is_reclaimed(c->txn, k->data))
        return; /* its pages are in this write transaction's hands: counted below */
    for (size_t i = 0; i < vlen / 8; i++) {
        pgno_t p = get64(v + 8 * i);
        if (p && mark(c, p, "free record", pgno)) {
            c->rep->free_pages++;
            tell(c, p, 1, "free");
        }
    }
}

/* One leaf entry: bounds, overflow run, compression, and what its kind of tree needs. */
static void leaf_entry(struct checker *c, const struct tree *t, const uint8_t *p, pgno_t pgno, unsigned i,
                       enum tree_kind kind)
{
    larch_val k;
    if (bt_read_entry(c->txn, t, p, i, &k, NULL) != 0) {
        problem(c, "page %llu: entry %u runs outside the page", (unsigned long long)pgno, i);
        return;
    }
    const uint8_t *e = pg_entry(p, i);
    const uint8_t *v = leaf_value((uint8_t *)e);
    uint32_t vlen = leaf_vsize(e);
    c->entries++;
    if (leaf_flags(e) & ~(ENTRY_BIG | ENTRY_LZ4 | ENTRY_DICT))
        problem(c, "page %llu: entry %u has unknown flags", (unsigned long long)pgno, i);
    if (leaf_flags(e) & ENTRY_BIG) {
        pgno_t run = leaf_big_pgno(e);
        uint64_t n = overflow_pages(vlen, c->ps);
        if (page_get_overflow(c->txn, run, vlen, leaf_big_checksum(e), &v) != 0) {
            problem(c, "page %llu: entry %u names a bad overflow run at page %llu", (unsigned long long)pgno, i,
                    (unsigned long long)run);
            return;
        }
        for (uint64_t j = 0; j < n; j++)
            if (!mark(c, run + j, "overflow run", pgno))
                return;
        tell(c, run, n, "overflow");
        if (run_checksum(v, (size_t)(n * c->ps)) != leaf_big_checksum(e))
            problem(c, "overflow run: page %llu fails its checksum (silent damage; %llu pages, entry %u of page %llu)",
                    (unsigned long long)run, (unsigned long long)n, i, (unsigned long long)pgno);
        c->overflow += n;
    }
    uint64_t raw = vlen;
    bool decode = !(c->hooks && c->hooks->skip_decompression);
    if (leaf_flags(e) & ENTRY_LZ4) {
        struct dict d = { NULL, 0, 0 };
        if (value_raw_length(v, vlen, &raw) != 0 || raw == 0 ||
            (decode && (!room(c, (size_t)raw) || ((leaf_flags(e) & ENTRY_DICT) && tree_dict(c->txn, t, &d) != 0) ||
                        value_unpack_into(leaf_flags(e), &d, v, vlen, c->buf, (size_t)raw) != 0)))
            problem(c, "page %llu: the compressed value of entry %u does not decompress to its length",
                    (unsigned long long)pgno, i);
        if (kind != KIND_DATA)
            problem(c, "page %llu: a compressed value in the %s tree", (unsigned long long)pgno,
                    kind == KIND_FREE ? "free" : "catalog");
    }
    c->value_bytes += raw;
    c->stored_bytes += vlen;
    if (kind == KIND_CATALOG)
        catalog_entry(c, pgno, &k, v, vlen);
    else if (kind == KIND_FREE)
        free_record(c, pgno, &k, v, vlen);
}

/*
 * Walk the subtree at pgno; every key must lie in [lo, hi) (NULL: open).
 * For a branch the bounds of child i are its key and the next one.
 */
static void walk(struct checker *c, const struct tree *t, enum tree_kind kind, pgno_t pgno, pgno_t from,
                 unsigned level, const uint8_t *lo, size_t lolen, const uint8_t *hi, size_t hilen)
{
    const uint8_t *p = NULL;
    unsigned type = level + 1 == t->depth ? PAGE_LEAF : PAGE_BRANCH;
    if (!mark(c, pgno, "tree", from))
        return;
    if (page_get(c->txn, pgno, &p) != 0) {
        problem(c, "page %llu does not name itself (found where page %llu points)", (unsigned long long)pgno,
                (unsigned long long)from);
        return;
    }
    check_checksum(c, p, pgno, c->ps, "tree");
    if (node_check(p, type, c->ps) != 0) {
        problem(c, "page %llu: expected a %s page, found type %u with a bad header", (unsigned long long)pgno,
                type == PAGE_LEAF ? "leaf" : "branch", pg_type(p));
        return;
    }
    if (pg_txnid(p) > c->txn->meta.txnid + (c->txn->w ? 1 : 0))
        problem(c, "page %llu was written by transaction %llu, after this snapshot", (unsigned long long)pgno,
                (unsigned long long)pg_txnid(p));
    unsigned n = pg_nkeys(p);
    if (n == 0 && level > 0)
        problem(c, "page %llu is empty", (unsigned long long)pgno);
    tell(c, pgno, 1, type == PAGE_LEAF ? "leaf" : "branch");
    type == PAGE_LEAF ? c->leaf++ : c->branch++;
    const uint8_t *prev = NULL;
    size_t prevlen = 0;
    unsigned pfx = pg_prefix(p);
    assert(level < MAX_DEPTH); /* level < depth, which tree_valid bounds */
    uint8_t(*kb)[LARCH_MAX_KEY_SIZE] = c->keys[level];
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *k = NULL;
        size_t kl = 0;
        if (node_key_full(p, i, c->ps, kb[i % 3], &k, &kl) != 0) {
            problem(c, "page %llu: entry %u runs outside the page", (unsigned long long)pgno, i);
            return;
        }
        bool first_branch = type == PAGE_BRANCH && i == 0;
        if (first_branch && kl != 0)
            problem(c, "branch page %llu: its first key is not empty", (unsigned long long)pgno);
        /* Searches trust the prefix and the heads: a wrong one hides keys. */
        if (first_branch ? pg_head(p, i) != 0
                         : kl < pfx || (prev && prevlen >= pfx && memcmp(prev, k, pfx) != 0) || pg_head(p, i) != key_head(k, kl, pfx))
            problem(c, "page %llu: entry %u does not match the page's key prefix or its slot's key head",
                    (unsigned long long)pgno, i);
        if (!first_branch) {
            if (prev && key_compare(prev, prevlen, k, kl) >= 0)
                problem(c, "page %llu: keys %u and %u are out of order", (unsigned long long)pgno, i - 1, i);
            if ((lo && key_compare(k, kl, lo, lolen) < 0) || (hi && key_compare(k, kl, hi, hilen) >= 0))
                problem(c, "page %llu: key %u lies outside the range its parent gives it", (unsigned long long)pgno, i);
            if (type == PAGE_LEAF && kl == 0)
                problem(c, "page %llu: entry %u has an empty key", (unsigned long long)pgno, i);
            prev = k;
            prevlen = kl;
        }
        if (type == PAGE_LEAF) {
            leaf_entry(c, t, p, pgno, i, kind);
            continue;
        }
        const uint8_t *nk = hi;
        size_t nkl = hilen;
        if (i + 1 < n && node_key_full(p, i + 1, c->ps, kb[(i + 1) % 3], &nk, &nkl) != 0)
            continue; /* reported when the loop gets there */
        walk(c, t, kind, branch_child(pg_entry(p, i)), pgno, level + 1, first_branch ? lo : k,
             first_branch ? lolen : kl, nk, nkl);
    }
}

static void check_tree(struct checker *c, const struct tree *t, enum tree_kind kind, const char *name)
{
    c->tree = name;
    c->branch = c->leaf = c->overflow = c->entries = c->value_bytes = c->stored_bytes = 0;
    if (t->dict_pgno) {
        const uint8_t *d = NULL;
        uint64_t n = dict_run_pages(t->dict_size, c->ps);
        if (!(t->flags & TREE_LZ4) || page_get_dict(c->txn, t->dict_pgno, t->dict_size, &d) != 0) {
            problem(c, "%s: its dictionary at page %llu is not a sound dictionary run", name,
                    (unsigned long long)t->dict_pgno);
        } else {
            for (uint64_t j = 0; j < n; j++)
                mark(c, t->dict_pgno + j, "dictionary", 0);
            tell(c, t->dict_pgno, n, "dictionary");
            check_checksum(c, d - PAGE_HEADER_SIZE, t->dict_pgno, n * c->ps, "dictionary");
            c->rep->tree_pages += n;
        }
    }
    if (t->root)
        walk(c, t, kind, t->root, 0, 0, NULL, 0, NULL, 0);
    if (c->branch != t->branch_pages || c->leaf != t->leaf_pages || c->overflow != t->overflow_pages ||
        c->entries != t->entries)
        problem(c, "%s: counted %llu branch, %llu leaf, %llu overflow pages and %llu entries; its record says "
                   "%llu, %llu, %llu and %llu",
                name, (unsigned long long)c->branch, (unsigned long long)c->leaf, (unsigned long long)c->overflow,
                (unsigned long long)c->entries, (unsigned long long)t->branch_pages,
                (unsigned long long)t->leaf_pages, (unsigned long long)t->overflow_pages,
                (unsigned long long)t->entries);
    if ((t->flags & TREE_LZ4) && (c->value_bytes != t->value_bytes || c->stored_bytes != t->stored_bytes))
        problem(c, "%s: its values total %llu bytes (%llu stored); its record says %llu (%llu)", name,
                (unsigned long long)c->value_bytes, (unsigned long long)c->stored_bytes,
                (unsigned long long)t->value_bytes, (unsigned long long)t->stored_bytes);
    c->rep->tree_pages += c->branch + c->leaf + c->overflow;
    if (kind == KIND_DATA)
        c->rep->entries += c->entries;
}

/* Both meta pages as the file has them: the other one may be torn, which is no damage. */
static void check_metas(struct checker *c)
{
    for (unsigned i = 0; i < NUM_METAS; i++) {
        struct meta m;
        if ((((pgno_t)i + 1) << c->txn->page_shift) > c->txn->map_size)
            continue;
        const uint8_t *p = c->txn->map + ((pgno_t)i << c->txn->page_shift);
        if (meta_decode(p, c->ps, i, 0, &m) != 0 || (m.txnid == c->txn->db->discarded_txnid && m.txnid))
            c->rep->damaged_metas++;
    }
}

LARCH_API int larch_check(larch_txn *txn, larch_check_report *rep)
{
    return api_result(check_run(txn, rep, NULL));
}

LARCH_INTERNAL int check_run(larch_txn *txn, larch_check_report *rep, const struct check_hooks *hooks)
{
    int rc = txn_usable(txn);
    if (rc)
        return rc;
    if (!rep)
        return error_detail(LARCH_INVALID, "larch_check: rep is NULL");
    memset(rep, 0, sizeof *rep);
    struct checker c = { .txn = txn, .rep = rep, .hooks = hooks, .ps = txn->page_size, .npages = txn->meta.npages };
    c.seen = calloc(c.npages ? c.npages : 1, 1);
    c.keys = malloc(MAX_DEPTH * sizeof *c.keys);
    if (!c.seen || !c.keys) {
        free(c.seen);
        free(c.keys);
        return ENOMEM;
    }
    rep->pages = c.npages;
    if (txn->db->truncated_from)
        problem(&c, "the file is cut short: it holds %llu pages, its meta page names %llu",
                (unsigned long long)c.npages, (unsigned long long)txn->db->truncated_from);
    check_metas(&c);
    check_tree(&c, &txn->meta.trees[TREE_MAIN], KIND_DATA, "bucket 0");
    check_tree(&c, &txn->meta.trees[TREE_CATALOG], KIND_CATALOG, "the catalog");
    check_tree(&c, &txn->meta.trees[TREE_FREE], KIND_FREE, "the free tree");
    rep->buckets = c.nnamed;
    for (size_t i = 0; i < c.nnamed; i++) {
        struct named *n = &c.named[i];
        snprintf(n->label, sizeof n->label, "bucket \"%.*s\"", (int)MIN(n->len, (size_t)40), (const char *)n->name);
        check_tree(&c, &n->t, KIND_DATA, n->label);
    }
    /* A write transaction holds free pages of its own, not yet in records. */
    if (txn->w) {
        const struct pglist *lists[2] = { &txn->w->avail, &txn->w->freed };
        for (int l = 0; l < 2; l++)
            for (size_t i = 0; i < lists[l]->n; i++)
                if (mark(&c, lists[l]->v[i], "free in this transaction", 0)) {
                    rep->free_pages++;
                    tell(&c, lists[l]->v[i], 1, "free");
                }
    }
    uint64_t leaked = 0;
    pgno_t first_leak = 0;
    for (pgno_t p = NUM_METAS; p < c.npages; p++)
        if (!c.seen[p] && leaked++ == 0)
            first_leak = p;
    if (leaked)
        problem(&c, "%llu pages are neither in use nor free (lost), the first is page %llu",
                (unsigned long long)leaked, (unsigned long long)first_leak);
    free(c.seen);
    free(c.keys);
    free(c.buf);
    free(c.named);
    return rep->problems ? LARCH_CORRUPT : 0;
}
