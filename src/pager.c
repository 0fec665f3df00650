/*
 * pager.c - dirty pages, page allocation and freeing, and the write-out.
 */
#include "pager.h"

#include "compress.h"
#include "freelist.h"
#include "node.h"
#include "os.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/uio.h>

#define DIRTY_INITIAL_CAP 1024u

LARCH_INTERNAL int pglist_push(struct pglist *l, pgno_t p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        pgno_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = p;
    return 0;
}

LARCH_INTERNAL int wstate_create(uint32_t page_size, struct wstate **out)
{
    struct wstate *w = calloc(1, sizeof *w);
    if (!w)
        return ENOMEM;
    w->dirty_cap = DIRTY_INITIAL_CAP;
    w->dirty = calloc(w->dirty_cap, sizeof *w->dirty);
    w->scratch = malloc(page_size);
    w->entry = malloc(max_entry_size(page_size));
    w->record = malloc(max_entry_size(page_size));
    if (!w->dirty || !w->scratch || !w->entry || !w->record) {
        wstate_destroy(w);
        return ENOMEM;
    }
    *out = w;
    return 0;
}

LARCH_INTERNAL void wstate_destroy(struct wstate *w)
{
    if (!w)
        return;
    wstate_reset(w);
    for (size_t i = 0; i < w->npool; i++)
        free(w->pool[i]);
    free(w->pool);
    free(w->dirty);
    free(w->freed.v);
    free(w->avail.v);
    free(w->leftover.v);
    free(w->scratch);
    free(w->entry);
    free(w->record);
    free(w->zbuf);
    compress_free(w);
    free(w);
}

/* Keep a one-page buffer for the next transaction, or free it. */
static void pool_put(struct wstate *w, uint8_t *buf)
{
    if (w->npool == w->pool_cap) {
        size_t cap = w->pool_cap ? w->pool_cap * 2 : 64;
        uint8_t **v = realloc(w->pool, cap * sizeof *v);
        if (!v) {
            free(buf);
            return;
        }
        w->pool = v;
        w->pool_cap = cap;
    }
    w->pool[w->npool++] = buf;
}

static void release_buffer(struct wstate *w, uint8_t *buf, uint32_t npages)
{
    if (npages == 1)
        pool_put(w, buf);
    else
        free(buf);
}

LARCH_INTERNAL void wstate_reset(struct wstate *w)
{
    for (size_t i = 0; i < w->dirty_cap; i++) {
        if (w->dirty[i].pgno) {
            release_buffer(w, w->dirty[i].buf, w->dirty[i].npages);
            w->dirty[i].pgno = 0;
        }
    }
    w->ndirty = 0;
    w->freed.n = 0;
    w->avail.n = 0;
    w->leftover.n = 0;
    w->oldest = 0;
    w->no_reclaim = false;
    w->free_tree_drained = false;
    compress_reset(w);
}

/* ---- The dirty-page hash: linear probing on pgno ------------------------ */

static size_t dirty_slot(size_t cap, pgno_t pgno)
{
    return (size_t)((pgno * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

LARCH_INTERNAL uint8_t *dirty_find(const struct wstate *w, pgno_t pgno)
{
    size_t mask = w->dirty_cap - 1;
    for (size_t i = dirty_slot(w->dirty_cap, pgno);; i = (i + 1) & mask) {
        if (w->dirty[i].pgno == pgno)
            return w->dirty[i].buf;
        if (w->dirty[i].pgno == 0)
            return NULL;
    }
}

static void dirty_place(struct dirty_page *tab, size_t cap, struct dirty_page d)
{
    size_t i = dirty_slot(cap, d.pgno);
    while (tab[i].pgno)
        i = (i + 1) & (cap - 1);
    tab[i] = d;
}

static int dirty_insert(struct wstate *w, pgno_t pgno, uint8_t *buf, uint32_t npages)
{
    if ((w->ndirty + 1) * 2 > w->dirty_cap) {
        size_t cap = w->dirty_cap * 2;
        struct dirty_page *tab = calloc(cap, sizeof *tab);
        if (!tab)
            return ENOMEM;
        for (size_t i = 0; i < w->dirty_cap; i++)
            if (w->dirty[i].pgno)
                dirty_place(tab, cap, w->dirty[i]);
        free(w->dirty);
        w->dirty = tab;
        w->dirty_cap = cap;
    }
    dirty_place(w->dirty, w->dirty_cap, (struct dirty_page){ pgno, buf, npages });
    w->ndirty++;
    return 0;
}

/* Remove pgno; later entries of its probe run shift back so lookups still find them. */
static struct dirty_page dirty_remove(struct wstate *w, pgno_t pgno)
{
    size_t mask = w->dirty_cap - 1, i = dirty_slot(w->dirty_cap, pgno);
    while (w->dirty[i].pgno != pgno)
        i = (i + 1) & mask;
    struct dirty_page gone = w->dirty[i];
    for (size_t j = (i + 1) & mask; w->dirty[j].pgno; j = (j + 1) & mask) {
        size_t home = dirty_slot(w->dirty_cap, w->dirty[j].pgno);
        /* Move j back into the hole at i unless its home lies in (i, j]. */
        bool home_between = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!home_between) {
            w->dirty[i] = w->dirty[j];
            i = j;
        }
    }
    w->dirty[i].pgno = 0;
    w->ndirty--;
    return gone;
}

/* ---- Reading ------------------------------------------------------------ */

LARCH_INTERNAL int page_get_overflow(const larch_txn *txn, pgno_t pgno, uint32_t vsize, const uint8_t **data)
{
    uint64_t n = overflow_pages(vsize, txn->page_size);
    const uint8_t *p = NULL;
    if (UNLIKELY(pgno > txn->meta.npages || n > txn->meta.npages - pgno))
        return CORRUPT();
    int rc = page_get(txn, pgno, &p);
    if (rc)
        return rc;
    if (UNLIKELY(pg_type(p) != PAGE_OVERFLOW || pg_npages(p) != n))
        return CORRUPT();
    if (!txn->w && UNLIKELY(((pgno + n) << txn->page_shift) > txn->map_size))
        return CORRUPT();
    *data = p + PAGE_HEADER_SIZE;
    return 0;
}

LARCH_INTERNAL int page_verify(const larch_txn *txn, pgno_t pgno, const uint8_t *p)
{
    if (txn->w && dirty_find(txn->w, pgno))
        return 0; /* this transaction's own page: its checksum comes at commit */
    uint64_t n = pg_type(p) == PAGE_OVERFLOW ? pg_npages(p) : 1;
    if (n == 0 || n > txn->meta.npages - pgno || ((pgno + n) << txn->page_shift) > txn->map_size)
        return CORRUPT();
    if (pg_checksum(p) != page_checksum(p, (size_t)(n << txn->page_shift)))
        return CORRUPT();
    txn->verified[pgno >> 3] |= (uint8_t)(1u << (pgno & 7)); /* the txn's own bitmap */
    return 0;
}

/* ---- Allocation --------------------------------------------------------- */

static int cmp_pgno_desc(const void *a, const void *b)
{
    pgno_t x = *(const pgno_t *)a, y = *(const pgno_t *)b;
    return (x < y) - (x > y);
}

static int cmp_pgno_asc(const void *a, const void *b)
{
    return cmp_pgno_desc(b, a);
}

LARCH_INTERNAL void pglist_sort(struct pglist *l, size_t from, bool descending)
{
    if (l->n > from)
        qsort(l->v + from, l->n - from, sizeof *l->v, descending ? cmp_pgno_desc : cmp_pgno_asc);
}

/* Take a run of n consecutive pages out of avail (sorted descending), lowest first. */
static bool avail_take_run(struct pglist *a, unsigned n, pgno_t *first)
{
    for (size_t lo = a->n; lo >= n; lo--) {
        /* Candidate: v[lo-n] (highest) .. v[lo-1] (lowest). */
        if (a->v[lo - n] == a->v[lo - 1] + n - 1) {
            *first = a->v[lo - 1];
            memmove(a->v + lo - n, a->v + lo, (a->n - lo) * sizeof *a->v);
            a->n -= n;
            return true;
        }
    }
    return false;
}

static int extend_file_end(larch_txn *txn, unsigned npages, pgno_t *pgno)
{
    uint64_t max = txn->db->max_size;
    if (max && (txn->meta.npages + npages) * (uint64_t)txn->page_size > max)
        return LARCH_FULL;
    *pgno = txn->meta.npages;
    txn->meta.npages += npages;
    return 0;
}

static int find_pages(larch_txn *txn, unsigned npages, pgno_t *pgno)
{
    struct wstate *w = txn->w;
    int reclaimed = 0;
    for (;;) {
        if (npages == 1 && w->avail.n) {
            *pgno = w->avail.v[--w->avail.n];
            return 0;
        }
        if (npages > 1 && avail_take_run(&w->avail, npages, pgno))
            return 0;
        /* Runs: look a few records further before growing the file. */
        if (w->no_reclaim || w->free_tree_drained || (npages > 1 && reclaimed >= 8))
            return extend_file_end(txn, npages, pgno);
        bool got;
        int rc = freelist_reclaim(txn, &got);
        if (rc)
            return rc;
        if (!got)
            return extend_file_end(txn, npages, pgno);
        reclaimed++;
    }
}

LARCH_INTERNAL int page_alloc(larch_txn *txn, unsigned npages, uint8_t **buf, pgno_t *pgno)
{
    struct wstate *w = txn->w;
    size_t bytes = (size_t)npages << txn->page_shift;
    uint8_t *b = (npages == 1 && w->npool) ? w->pool[--w->npool] : calloc(1, bytes);
    if (!b)
        return ENOMEM;
    int rc = find_pages(txn, npages, pgno);
    if (rc == 0)
        rc = dirty_insert(w, *pgno, b, npages);
    if (rc) {
        release_buffer(w, b, npages);
        return rc;
    }
    memset(b, 0, PAGE_HEADER_SIZE);
    pg_set_pgno(b, *pgno);
    *buf = b;
    return 0;
}

LARCH_INTERNAL int page_touch(larch_txn *txn, pgno_t pgno, uint8_t **buf, pgno_t *newpgno)
{
    uint8_t *d = dirty_find(txn->w, pgno);
    if (d) {
        *buf = d;
        *newpgno = pgno;
        return 0;
    }
    const uint8_t *src = NULL;
    int rc = page_get(txn, pgno, &src);
    if (rc == 0) /* the writer is about to change it: it must be sound throughout */
        rc = node_validate(src, txn->page_size);
    if (rc == 0)
        rc = page_alloc(txn, 1, &d, newpgno);
    if (rc)
        return rc;
    memcpy(d, src, txn->page_size);
    pg_set_pgno(d, *newpgno);
    *buf = d;
    return page_free(txn, pgno, 1);
}

LARCH_INTERNAL int page_free(larch_txn *txn, pgno_t pgno, unsigned npages)
{
    struct wstate *w = txn->w;
    if (dirty_find(w, pgno)) {
        struct dirty_page d = dirty_remove(w, pgno);
        release_buffer(w, d.buf, d.npages);
        for (unsigned i = 0; i < npages; i++) {
            int rc = pglist_push(&w->avail, pgno + i);
            if (rc)
                return rc;
        }
        pglist_sort(&w->avail, 0, true);
        return 0;
    }
    for (unsigned i = 0; i < npages; i++) {
        int rc = pglist_push(&w->freed, pgno + i);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- Write-out ---------------------------------------------------------- */

static int cmp_dirty(const void *a, const void *b)
{
    pgno_t x = ((const struct dirty_page *)a)->pgno, y = ((const struct dirty_page *)b)->pgno;
    return (x > y) - (x < y);
}

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

LARCH_INTERNAL int pager_write(larch_txn *txn, txnid_t txnid)
{
    struct wstate *w = txn->w;
    larch_db *db = txn->db;
    if (w->ndirty == 0)
        return 0;
    int rc = db_grow_file(db, txn->meta.npages << txn->page_shift);
    if (rc)
        return rc;
    struct dirty_page *list = malloc(w->ndirty * sizeof *list);
    struct iovec *iov = malloc(MIN(w->ndirty, (size_t)IOV_MAX) * sizeof *iov);
    if (!list || !iov) {
        free(list);
        free(iov);
        return ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < w->dirty_cap; i++)
        if (w->dirty[i].pgno)
            list[n++] = w->dirty[i];
    qsort(list, n, sizeof *list, cmp_dirty);

    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)list[i].npages << txn->page_shift;
        pg_set_txnid(list[i].buf, txnid);
        put32(list[i].buf, page_checksum(list[i].buf, len));
    }
    /* One pwritev per run of adjacent pages (up to IOV_MAX buffers). */
    for (size_t i = 0; i < n && rc == 0;) {
        pgno_t start = list[i].pgno, next = start;
        int cnt = 0;
        while (i < n && list[i].pgno == next && cnt < IOV_MAX) {
            iov[cnt].iov_base = list[i].buf;
            iov[cnt].iov_len = (size_t)list[i].npages << txn->page_shift;
            next += list[i].npages;
            cnt++;
            i++;
        }
        rc = os_pwritev_full(db->fd, iov, cnt, start << txn->page_shift);
    }
    free(list);
    free(iov);
    return rc;
}
