/*
 * pagewalk.c - see pagewalk.h. Uses the engine's internal headers.
 */
#include "pagewalk.h"

#include "btree.h"
#include "node.h"

struct walk {
    larch_txn *txn;
    uint8_t *seen;
    uint64_t npages;
    uint64_t branch, leaf, overflow, entries;
};

static void mark(struct walk *w, pgno_t p, const char *what)
{
    CHECK_MSG(p >= 2 && p < w->npages, "%s: page %llu out of range", what, (unsigned long long)p);
    CHECK_MSG(!w->seen[p], "%s: page %llu reached twice", what, (unsigned long long)p);
    w->seen[p] = 1;
}

static void walk_page(struct walk *w, pgno_t pgno, unsigned level, unsigned depth, const uint8_t *lo,
                      size_t lolen, bool has_lo)
{
    const uint8_t *p = NULL;
    uint32_t ps = w->txn->page_size;
    mark(w, pgno, "tree");
    CHECK_OK(page_get(w->txn, pgno, &p));
    CHECK(pg_checksum(p) == page_checksum(p, ps));
    unsigned type = level + 1 == depth ? PAGE_LEAF : PAGE_BRANCH;
    CHECK_OK(node_check(p, type, ps));
    unsigned n = pg_nkeys(p);
    CHECK_MSG(n > 0 || depth == 1, "empty page %llu", (unsigned long long)pgno);
    const uint8_t *prev = NULL;
    size_t prevlen = 0;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *k = NULL;
        size_t kl = 0;
        CHECK_OK(node_key(p, i, ps, &k, &kl));
        if (type == PAGE_BRANCH && i == 0)
            CHECK(kl == 0);
        else {
            if (prev)
                CHECK_MSG(key_compare(prev, prevlen, k, kl) < 0, "keys out of order in page %llu",
                          (unsigned long long)pgno);
            if (has_lo)
                CHECK_MSG(key_compare(lo, lolen, k, kl) <= 0, "key below its separator in page %llu",
                          (unsigned long long)pgno);
            prev = k;
            prevlen = kl;
        }
        if (type == PAGE_LEAF) {
            const uint8_t *e = pg_entry(p, i);
            w->entries++;
            if (leaf_flags(e) & ENTRY_BIG) {
                uint64_t runlen = overflow_pages(leaf_vsize(e), ps);
                const uint8_t *data;
                CHECK_OK(page_get_overflow(w->txn, leaf_big_pgno(e), leaf_vsize(e), &data));
                const uint8_t *run = data - PAGE_HEADER_SIZE;
                CHECK(pg_checksum(run) == page_checksum(run, runlen * ps));
                for (uint64_t j = 0; j < runlen; j++)
                    mark(w, leaf_big_pgno(e) + j, "overflow run");
                w->overflow += runlen;
            }
        } else {
            const uint8_t *e = pg_entry(p, i);
            walk_page(w, branch_child(e), level + 1, depth, i ? k : lo, i ? kl : lolen, i ? true : has_lo);
        }
    }
    if (type == PAGE_LEAF)
        w->leaf++;
    else
        w->branch++;
}

static void walk_tree(struct walk *w, const struct tree *t, const char *name)
{
    w->branch = w->leaf = w->overflow = w->entries = 0;
    if (t->root)
        walk_page(w, t->root, 0, t->depth, NULL, 0, false);
    CHECK_MSG(w->branch == t->branch_pages && w->leaf == t->leaf_pages && w->overflow == t->overflow_pages &&
                  w->entries == t->entries,
              "%s tree: counted %llu/%llu/%llu pages, %llu entries; descriptor says %llu/%llu/%llu, %llu", name,
              (unsigned long long)w->branch, (unsigned long long)w->leaf, (unsigned long long)w->overflow,
              (unsigned long long)w->entries, (unsigned long long)t->branch_pages,
              (unsigned long long)t->leaf_pages, (unsigned long long)t->overflow_pages,
              (unsigned long long)t->entries);
}

void pagewalk_audit(larch_db *db, struct walk_counts *out)
{
    struct walk w = { 0 };
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &w.txn));
    w.npages = w.txn->meta.npages;
    w.seen = calloc(w.npages, 1);
    walk_tree(&w, &w.txn->meta.trees[TREE_MAIN], "main");
    uint64_t main_pages = w.branch + w.leaf + w.overflow, entries = w.entries;
    walk_tree(&w, &w.txn->meta.trees[TREE_FREE], "free");
    uint64_t free_pages = w.branch + w.leaf + w.overflow, listed = 0;

    struct path path;
    int rc = bt_edge(w.txn, &w.txn->meta.trees[TREE_FREE], &path, false);
    while (rc == 0) {
        larch_val k, v;
        CHECK_OK(bt_read_entry(w.txn, path.page[path.depth - 1], path.idx[path.depth - 1], &k, &v));
        CHECK(k.size == FREE_KEY_SIZE && v.size % 8 == 0);
        for (size_t i = 0; i < v.size / 8; i++) {
            pgno_t p = get64((const uint8_t *)v.data + 8 * i);
            if (p) {
                mark(&w, p, "free record");
                listed++;
            }
        }
        rc = bt_step(w.txn, &w.txn->meta.trees[TREE_FREE], &path, true);
    }
    CHECK_RC(rc, LARCH_NOTFOUND);
    for (pgno_t p = 2; p < w.npages; p++)
        CHECK_MSG(w.seen[p], "page %llu of %llu is neither used nor free (leaked)", (unsigned long long)p,
                  (unsigned long long)w.npages);
    if (out) {
        out->npages = w.npages;
        out->main_pages = main_pages;
        out->free_tree_pages = free_pages;
        out->free_listed = listed;
        out->entries = entries;
    }
    free(w.seen);
    larch_abort(w.txn);
}
