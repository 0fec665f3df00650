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
#define RUN_IOV_MAX 64
/* What the writer's state keeps for the next transaction, at most: page
 * buffers (a pool of this many bytes), the dirty table, page lists. A
 * transaction of 400,000 pages kept them all until close (690 MB). */
#define WRITER_KEEP (8u << 20)
#define DIRTY_KEEP_CAP 16384u
#define PGLIST_KEEP 65536u

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
    w->page_size = page_size;
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
    free(w->own);
    free(w->scratch);
    free(w->entry);
    free(w->record);
    free(w->zbuf);
    txn_spare_free(&w->spare);
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

/* Give back what a large transaction grew, down to WRITER_KEEP. */
static void trim(struct wstate *w)
{
    size_t keep = WRITER_KEEP / w->page_size;
    while (w->npool > keep)
        free(w->pool[--w->npool]);
    if (w->pool_cap > 2 * keep) {
        uint8_t **v = realloc(w->pool, keep * sizeof *v);
        if (v) {
            w->pool = v;
            w->pool_cap = keep;
        }
    }
    if (w->dirty_cap > DIRTY_KEEP_CAP) {
        struct dirty_page *t = calloc(DIRTY_INITIAL_CAP, sizeof *t);
        if (t) {
            free(w->dirty);
            w->dirty = t;
            w->dirty_cap = DIRTY_INITIAL_CAP;
        }
    }
    struct pglist *lists[] = { &w->freed, &w->avail, &w->leftover };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if (lists[i]->cap > PGLIST_KEEP) {
            free(lists[i]->v);
            *lists[i] = (struct pglist){ 0 };
        }
}

LARCH_INTERNAL size_t wstate_kept_bytes(const struct wstate *w)
{
    size_t n = w->npool * w->page_size + w->pool_cap * sizeof *w->pool + w->dirty_cap * sizeof *w->dirty;
    n += (w->freed.cap + w->avail.cap + w->leftover.cap) * sizeof(pgno_t) + w->own_words * sizeof *w->own;
    return n + w->zcap + compress_kept_bytes(w);
}

LARCH_INTERNAL void wstate_reset(struct wstate *w)
{
    for (size_t i = 0; i < w->dirty_cap; i++) {
        if (w->dirty[i].pgno) {
            release_buffer(w, w->dirty[i].buf, w->dirty[i].npages);
            w->dirty[i].pgno = 0;
        }
    }
    trim(w);
    w->ndirty = 0;
    w->freed.n = 0;
    w->avail.n = 0;
    w->leftover.n = 0;
    w->oldest = 0;
    w->no_reclaim = false;
    w->free_tree_drained = false;
    w->reclaimed_any = false;
    w->grown_since_look = 0;
    w->tail.tree = NULL;
    w->tail.leaf = NULL;
    w->puts = w->tail_puts = 0;
    w->grows = false;
    w->first_fresh = 0;
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

static int dirty_insert(struct wstate *w, pgno_t pgno, uint8_t *buf, uint32_t npages, bool bare)
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
    dirty_place(w->dirty, w->dirty_cap, (struct dirty_page){ .pgno = pgno, .buf = buf, .npages = npages, .bare = bare });
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

LARCH_INTERNAL int page_damaged(pgno_t pgno, const char *what)
{
    return error_detail(CORRUPT(), "page %llu %s", (unsigned long long)pgno, what);
}

LARCH_INTERNAL int page_get_overflow(const larch_txn *txn, pgno_t pgno, uint32_t vsize, uint32_t checksum,
                                     const uint8_t **data)
{
    uint64_t n = overflow_pages(vsize, txn->page_size);
    const uint8_t *p = NULL;
    if (UNLIKELY(pgno < NUM_METAS || pgno > txn->meta.npages || n > txn->meta.npages - pgno))
        return CORRUPT();
    if (txn->w)
        p = dirty_find(txn->w, pgno);
    if (!p) {
        if (UNLIKELY(((pgno + n) << txn->page_shift) > txn->map_size))
            return CORRUPT();
        p = txn->map + (pgno << txn->page_shift);
        if (UNLIKELY(page_unverified(txn, pgno))) {
            if (run_checksum(p, (size_t)(n << txn->page_shift)) != checksum)
                return page_damaged(pgno, "(an overflow run) fails its checksum");
            page_mark_verified(txn, pgno);
        }
    }
    *data = p;
    return 0;
}

LARCH_INTERNAL int page_get_dict(const larch_txn *txn, pgno_t pgno, uint32_t size, const uint8_t **data)
{
    uint64_t n = dict_run_pages(size, txn->page_size);
    const uint8_t *p = NULL;
    if (UNLIKELY(pgno > txn->meta.npages || n > txn->meta.npages - pgno))
        return CORRUPT();
    if (UNLIKELY(!txn->w && ((pgno + n) << txn->page_shift) > txn->map_size))
        return CORRUPT();
    int rc = page_get(txn, pgno, &p);
    if (rc)
        return rc;
    if (UNLIKELY(pg_type(p) != PAGE_DICT || pg_npages(p) != n))
        return CORRUPT();
    *data = p + PAGE_HEADER_SIZE;
    return 0;
}

LARCH_INTERNAL int page_verify(const larch_txn *txn, pgno_t pgno, const uint8_t *p)
{
    if (txn->w && dirty_find(txn->w, pgno))
        return 0; /* this transaction's own page: its checksum comes at commit */
    uint64_t n = pg_type(p) == PAGE_DICT ? pg_npages(p) : 1;
    if (n == 0 || n > txn->meta.npages - pgno || ((pgno + n) << txn->page_shift) > txn->map_size)
        return CORRUPT();
    if (pg_checksum(p) != page_checksum(p, (size_t)(n << txn->page_shift)))
        return page_damaged(pgno, "fails its checksum");
    page_mark_verified(txn, pgno);
    return 0;
}

/* ---- Allocation --------------------------------------------------------- */

/*
 * Sort n 64-bit numbers ascending by their bits from first_shift up (the
 * bits below must not matter to the order): LSD radix, a byte a pass, only
 * as many passes as the largest number has bytes. Commits sort a thousand page
 * numbers or more; qsort's comparison calls showed in profiles. Falls back
 * to the caller's qsort (returns false) when the buffer cannot be had.
 */
static bool radix_sort_u64(uint64_t *v, size_t n, unsigned first_shift)
{
    uint64_t max = 0;
    if (n < 2)
        return true;
    for (size_t i = 0; i < n; i++)
        max |= v[i];
    uint64_t *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return false;
    uint64_t *src = v, *dst = tmp;
    for (unsigned shift = first_shift; shift < 64 && (max >> shift); shift += 8) {
        size_t count[257] = { 0 };
        for (size_t i = 0; i < n; i++)
            count[((src[i] >> shift) & 0xff) + 1]++;
        for (int d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & 0xff]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
    free(tmp);
    return true;
}

static int cmp_pgno_asc(const void *a, const void *b)
{
    pgno_t x = *(const pgno_t *)a, y = *(const pgno_t *)b;
    return (x > y) - (x < y);
}

LARCH_INTERNAL void pglist_sort(struct pglist *l, size_t from, bool descending)
{
    if (l->n <= from)
        return;
    pgno_t *v = l->v + from;
    size_t n = l->n - from;
    if (!radix_sort_u64(v, n, 0))
        qsort(v, n, sizeof *v, cmp_pgno_asc);
    if (descending)
        for (size_t i = 0, j = n - 1; i < j; i++, j--) {
            pgno_t t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
}

/* Pages [lo, hi) that a transaction may not take (see reserve_zone). */
struct zone {
    pgno_t lo, hi;
};

/* Take a page out of avail (sorted descending), the lowest outside z. */
static bool avail_take(struct pglist *a, struct zone z, pgno_t *pgno)
{
    size_t i = a->n;
    while (i > 0 && a->v[i - 1] >= z.lo && a->v[i - 1] < z.hi)
        i--;
    if (i == 0)
        return false;
    *pgno = a->v[i - 1];
    memmove(a->v + i - 1, a->v + i, (a->n - i) * sizeof *a->v);
    a->n--;
    return true;
}

/* Take a run of n consecutive pages outside z out of avail (sorted
 * descending), lowest first. */
static bool avail_take_run(struct pglist *a, unsigned n, struct zone z, pgno_t *first)
{
    for (size_t lo = a->n; lo >= n; lo--) {
        /* Candidate: v[lo-n] (highest) .. v[lo-1] (lowest). */
        if (a->v[lo - 1] < z.hi && a->v[lo - n] >= z.lo)
            continue;
        if (a->v[lo - n] == a->v[lo - 1] + n - 1) {
            *first = a->v[lo - 1];
            memmove(a->v + lo - n, a->v + lo, (a->n - lo) * sizeof *a->v);
            a->n -= n;
            return true;
        }
    }
    return false;
}

/*
 * The delete reserve. Deleting is the only way to make room in a full
 * database, and a delete needs pages too: copies of the paths it changes,
 * while the pages it frees stay unusable for two commits (the older meta
 * page still sees them). So transactions that put something (w->grows)
 * leave RESERVE_PAGES pages to the others. Under max_size they stop that
 * many pages short of it. On a disk, each of their commits that takes
 * pages at the end of the file leaves that many allocated behind them
 * (db_grow_file allocates what it adds), so a disk that fills up has them
 * in the file; and while the disk is full they never take a page that
 * another transaction took from the reserve (db->grow_mark and above, until
 * they extend the file themselves), so that once freed again it serves the
 * next time.
 */
#define RESERVE_PAGES 32u

static pgno_t max_pages(const larch_db *db)
{
    return db->max_size ? db->max_size >> db->page_shift : UINT64_MAX;
}

static pgno_t reserve_pages(const larch_db *db)
{
    return MIN((pgno_t)RESERVE_PAGES, max_pages(db) / 8);
}

/* The free pages a transaction may not take: for one that put something,
 * those of the reserve (its own new pages are its own). */
static struct zone reserve_zone(const larch_txn *txn)
{
    const larch_db *db = txn->db;
    if (!txn->w->grows)
        return (struct zone){ 0, 0 };
    if (db->max_size)
        return (struct zone){ max_pages(db) - reserve_pages(db), UINT64_MAX };
    if (!db->disk_full)
        return (struct zone){ 0, 0 }; /* the next growth puts the reserve back */
    /* At most the reserve's worth: a large delete takes many pages at the
     * end of the file without any need of the reserve. */
    pgno_t end = txn->ver->meta.npages;
    return (struct zone){ MAX(db->grow_mark, end > RESERVE_PAGES ? end - RESERVE_PAGES : 0), end };
}

LARCH_INTERNAL void pager_committed(larch_txn *txn)
{
    if (txn->w->grows && txn->meta.npages > txn->ver->meta.npages)
        txn->db->grow_mark = txn->meta.npages;
}

LARCH_INTERNAL pgno_t pager_slack_at_close(const larch_db *db, pgno_t npages)
{
    /* Only where it costs little: not 32 pages more for a file of 10. */
    return npages >= 16 * RESERVE_PAGES ? reserve_pages(db) : 0;
}

static int extend_file_end(larch_txn *txn, unsigned npages, pgno_t *pgno)
{
    pgno_t limit = max_pages(txn->db);
    if (txn->w->grows && limit != UINT64_MAX)
        limit -= reserve_pages(txn->db);
    if (txn->meta.npages + npages > limit)
        return LARCH_FULL;
    *pgno = txn->meta.npages;
    txn->meta.npages += npages;
    if (!txn->w->first_fresh)
        txn->w->first_fresh = *pgno;
    return 0;
}

/*
 * Whether the snapshot that held back the free tree has been let go since
 * the writer looked. The writer looks up the oldest snapshot in use once
 * per transaction; a reader that was inside an older snapshot at that
 * moment (readers come and go every millisecond or so) would otherwise make
 * the whole transaction grow the file. So it looks again every
 * OLDEST_LOOK_EVERY pages it adds at the end.
 */
#define OLDEST_LOOK_EVERY 16

static bool snapshot_let_go(larch_txn *txn)
{
    struct wstate *w = txn->w;
    /* No older snapshot than the writer's own in use: nothing to wait for. */
    if (w->oldest >= txn->ver->meta.txnid || ++w->grown_since_look < OLDEST_LOOK_EVERY)
        return false;
    w->grown_since_look = 0;
    txnid_t oldest = db_oldest_snapshot(txn->db);
    if (oldest <= w->oldest)
        return false;
    w->oldest = oldest;
    w->free_tree_drained = false;
    return true;
}

static int find_pages(larch_txn *txn, unsigned npages, pgno_t *pgno)
{
    struct wstate *w = txn->w;
    struct zone z = reserve_zone(txn);
    int reclaimed = 0;
    for (;;) {
        if (npages == 1 && w->avail.n && (w->avail.v[w->avail.n - 1] < z.lo || w->avail.v[w->avail.n - 1] >= z.hi)) {
            *pgno = w->avail.v[--w->avail.n]; /* the common case, at once */
            return 0;
        }
        if (npages == 1 && avail_take(&w->avail, z, pgno))
            return 0;
        if (npages > 1 && avail_take_run(&w->avail, npages, z, pgno))
            return 0;
        /* Runs: look a few records further before growing the file. */
        if (w->no_reclaim || (npages > 1 && reclaimed >= 8))
            return extend_file_end(txn, npages, pgno);
        if (w->free_tree_drained && !snapshot_let_go(txn))
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

static int alloc_pages(larch_txn *txn, unsigned npages, bool bare, uint8_t **buf, pgno_t *pgno)
{
    struct wstate *w = txn->w;
    size_t bytes = (size_t)npages << txn->page_shift;
    /* A run is not zeroed: its callers fill the value and zero the tail
     * (zeroing a 16 KiB value's run first showed in profiles). A new tree
     * page is, so that the bytes of its unused middle are defined. */
    uint8_t *b = npages > 1 ? malloc(bytes) : w->npool ? w->pool[--w->npool] : calloc(1, bytes);
    if (!b)
        return ENOMEM;
    int rc = find_pages(txn, npages, pgno);
    if (rc == 0)
        rc = dirty_insert(w, *pgno, b, npages, bare);
    if (rc) {
        release_buffer(w, b, npages);
        return rc;
    }
    *buf = b;
    return 0;
}

LARCH_INTERNAL int page_alloc(larch_txn *txn, unsigned npages, uint8_t **buf, pgno_t *pgno)
{
    int rc = alloc_pages(txn, npages, false, buf, pgno);
    if (rc == 0) {
        memset(*buf, 0, PAGE_HEADER_SIZE);
        pg_set_pgno(*buf, *pgno);
    }
    return rc;
}

LARCH_INTERNAL int page_alloc_run(larch_txn *txn, unsigned npages, uint8_t **buf, pgno_t *pgno)
{
    return alloc_pages(txn, npages, true, buf, pgno);
}

/*
 * Copy a branch or leaf page without reading its free middle (between the
 * slots and the entries), which is zeroed instead: the source is usually
 * cold, and a page is a third empty on average. A header whose bounds are
 * nonsense gets a full copy, for node_validate to refuse.
 */
static void copy_used_parts(uint8_t *d, const uint8_t *src, uint32_t ps)
{
    uint32_t lower = pg_lower(src), upper = pg_upper(src);
    if (lower > upper || upper > ps) {
        memcpy(d, src, ps);
        return;
    }
    memcpy(d, src, lower);
    memset(d + lower, 0, upper - lower);
    memcpy(d + upper, src + upper, ps - upper);
}

/* ---- Pages this handle wrote -------------------------------------------- */

/*
 * A writer validates each page it copies (node_validate: O(entries), a
 * third of a random put's instructions), so that a damaged file cannot
 * make it write outside its buffers. A page this handle wrote itself came
 * from its own code, so that is skipped for those: after a few
 * transactions, nearly every page a writer copies. No other process
 * writes the file while the handle holds its lock. LARCH_VERIFY still
 * checks each page's checksum on the way in (page_get).
 */
static bool own_page(const struct wstate *w, pgno_t pgno)
{
    return (pgno >> 6) < w->own_words && (w->own[pgno >> 6] >> (pgno & 63) & 1);
}

/* Room for bits up to pgno; false (nothing is marked) if memory is short. */
static bool own_reserve(struct wstate *w, pgno_t pgno)
{
    size_t need = (size_t)(pgno >> 6) + 1;
    if (need <= w->own_words)
        return true;
    size_t words = MAX(need + need / 2, (size_t)1024);
    uint64_t *v = realloc(w->own, words * sizeof *v);
    if (!v)
        return false;
    memset(v + w->own_words, 0, (words - w->own_words) * sizeof *v);
    w->own = v;
    w->own_words = words;
    return true;
}

/* Before a write of the page at pgno: until it succeeds, its bytes are not known. */
static void own_forget(struct wstate *w, pgno_t pgno)
{
    if ((pgno >> 6) < w->own_words)
        w->own[pgno >> 6] &= ~(1ull << (pgno & 63));
}

static void own_mark(struct wstate *w, pgno_t pgno)
{
    if (own_reserve(w, pgno))
        w->own[pgno >> 6] |= 1ull << (pgno & 63);
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
    if (rc == 0)
        rc = page_alloc(txn, 1, &d, newpgno);
    if (rc)
        return rc;
    /* The writer is about to change the page: it must be sound throughout.
     * Checked on the copy, which the sequential memcpy brought into cache. */
    copy_used_parts(d, src, txn->page_size);
    rc = own_page(txn->w, pgno) ? 0 : node_validate(d, txn->page_size);
    if (rc) {
        page_free(txn, *newpgno, 1);
        return rc;
    }
    pg_set_pgno(d, *newpgno);
    *buf = d;
    return page_free(txn, pgno, 1);
}

/* Put p into avail at its place (descending order): no sort per freed page. */
static int avail_insert(struct pglist *a, pgno_t p)
{
    int rc = pglist_push(a, p);
    if (rc)
        return rc;
    size_t lo = 0, hi = a->n - 1; /* the first index holding a number below p */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->v[mid] > p)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(a->v + lo + 1, a->v + lo, (a->n - 1 - lo) * sizeof *a->v);
    a->v[lo] = p;
    return 0;
}

LARCH_INTERNAL int page_free(larch_txn *txn, pgno_t pgno, unsigned npages)
{
    struct wstate *w = txn->w;
    if (dirty_find(w, pgno)) {
        struct dirty_page d = dirty_remove(w, pgno);
        release_buffer(w, d.buf, d.npages);
        for (unsigned i = 0; i < npages; i++) {
            int rc = avail_insert(&w->avail, pgno + i);
            if (rc)
                return rc;
        }
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

/* Sort by page number: radix-sort (pgno, index) pairs packed in 64 bits. */
static void sort_dirty(struct dirty_page *list, size_t n)
{
    pgno_t maxpg = 0;
    for (size_t i = 0; i < n; i++)
        maxpg = MAX(maxpg, list[i].pgno);
    uint64_t *keys = malloc(n * sizeof *keys);
    struct dirty_page *sorted = malloc(n * sizeof *sorted);
    bool packed = keys && sorted && maxpg < (1ull << 40) && n < (1ull << 24);
    if (packed) {
        /* Page numbers are unique: the index bits need no sorting passes. */
        for (size_t i = 0; i < n; i++)
            keys[i] = list[i].pgno << 24 | i;
        packed = radix_sort_u64(keys, n, 24);
    }
    if (packed) {
        for (size_t i = 0; i < n; i++)
            sorted[i] = list[keys[i] & 0xffffff];
        memcpy(list, sorted, n * sizeof *list);
    } else {
        qsort(list, n, sizeof *list, cmp_dirty);
    }
    free(keys);
    free(sorted);
}

/*
 * Write the pages at list[*i] and after that lie end to end in the file and
 * are joinable (see pager_write), in calls that end at multiples of
 * RUN_WRITE_PIECE, and move *i past them. Larger writes make larger
 * page-cache folios, and one page fault then maps more of them. Measured
 * here, 100,000 random reads of 20 KiB records in a 2 GiB file: 32,089
 * faults and 1.05 us a read after 20 KiB writes, 8,194 faults and 0.26 us
 * after aligned 256 KiB writes. The cap keeps a scattered 4 KiB rewrite
 * into such a folio, once its pages are freed and reused, near 4.5 us
 * (26 us in 2 MiB folios, 1.1 us in 4 KiB ones).
 */
static bool joinable(const struct dirty_page *d, pgno_t join_from)
{
    return d->npages > 1 || d->pgno >= join_from;
}

static int write_joined(larch_txn *txn, const struct dirty_page *list, size_t n, size_t *i, pgno_t join_from)
{
    int fd = txn->db->fd;
    unsigned shift = txn->page_shift;
    struct iovec iov[RUN_IOV_MAX];
    uint64_t off = list[*i].pgno << shift; /* where the queued bytes start */
    uint64_t pos = off;                    /* and end */
    int cnt = 0, rc = 0;
    size_t j = *i;
    /* Cut at multiples of RUN_WRITE_PIECE: the kernel aligns a folio to
     * its size, so an unaligned write would get smaller ones. */
    for (; rc == 0 && j < n && joinable(&list[j], join_from) && (list[j].pgno << shift) == pos; j++) {
        uint8_t *b = list[j].buf;
        size_t left = (size_t)list[j].npages << shift;
        while (left > 0 && rc == 0) {
            uint64_t boundary = (pos / RUN_WRITE_PIECE + 1) * RUN_WRITE_PIECE;
            size_t take = (size_t)MIN((uint64_t)left, boundary - pos);
            iov[cnt++] = (struct iovec){ b, take };
            b += take;
            left -= take;
            pos += take;
            if (pos == boundary || cnt == RUN_IOV_MAX) {
                rc = os_pwritev_full(fd, iov, cnt, off);
                off = pos;
                cnt = 0;
            }
        }
    }
    if (rc == 0 && cnt > 0)
        rc = os_pwritev_full(fd, iov, cnt, off);
    *i = j;
    return rc;
}

/*
 * Write zeros to the pages this transaction added at the end of the file
 * and freed again (avail, descending, holds them at its front): they were
 * never written, so they are holes in the file, and the free records list
 * them. Reusing such a page later would need new disk space for a write
 * that replaces no data: on a full disk the delete that should make room
 * would fail. Written here, every page below the file's page count has
 * space of its own, and a plain copy never reads a hole (on tmpfs, reading
 * one allocates memory, and faults with SIGBUS when there is none).
 */
static int write_fresh_free(larch_txn *txn)
{
    static uint8_t zeros[MAX_PAGE_SIZE];
    const struct pglist *a = &txn->w->avail;
    pgno_t fresh = txn->ver->meta.npages;
    struct iovec iov[RUN_IOV_MAX];
    size_t end = 0;
    while (end < a->n && a->v[end] >= fresh)
        end++;
    /* Ascending runs of consecutive pages, a system call per run (or per
     * RUN_IOV_MAX pages). */
    for (size_t i = end; i > 0;) {
        pgno_t first = a->v[i - 1];
        int cnt = 0;
        while (i > 0 && cnt < RUN_IOV_MAX && a->v[i - 1] == first + (pgno_t)cnt) {
            iov[cnt++] = (struct iovec){ zeros, txn->page_size };
            i--;
        }
        int rc = os_pwritev_full(txn->db->fd, iov, cnt, first << txn->page_shift);
        if (rc)
            return rc;
    }
    return 0;
}

LARCH_INTERNAL int pager_write(larch_txn *txn, txnid_t txnid)
{
    struct wstate *w = txn->w;
    larch_db *db = txn->db;
    w->nwritten = 0;
    w->written_bytes = 0;
    /* A commit that put and took pages at the end of the file keeps the
     * delete reserve allocated behind them. */
    pgno_t need = txn->meta.npages;
    if (w->grows && need > txn->ver->meta.npages)
        need += reserve_pages(db);
    int rc = db_grow_file(db, need << txn->page_shift);
    if (rc || w->ndirty == 0)
        return rc ? rc : write_fresh_free(txn);
    struct dirty_page *list = malloc(w->ndirty * sizeof *list);
    if (!list)
        return ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < w->dirty_cap; i++)
        if (w->dirty[i].pgno)
            list[n++] = w->dirty[i];
    sort_dirty(list, n);

    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)list[i].npages << txn->page_shift;
        /* The pages are scattered on the heap and mostly out of the CPU
         * cache by now: ask for the next one while this one is summed. */
        if (i + 1 < n && list[i + 1].npages == 1)
            prefetch_range(list[i + 1].buf, txn->page_size);
        for (uint32_t k = 0; k < list[i].npages; k++)
            own_forget(w, list[i].pgno + k);
        bool listed = i < META_WRITTEN_MAX && w->written_bytes + len <= ONE_SYNC_MAX_BYTES;
        if (list[i].bare) {
            /* An overflow run carries no header; its checksum is in its
             * leaf entry, and summed again here only for a commit small
             * enough to list it (see ONE-SYNC COMMITS). */
            if (listed)
                w->written[i] = (struct written_run){ .pgno = list[i].pgno,
                                                      .bare_pages = list[i].npages,
                                                      .checksum = run_checksum(list[i].buf, len) };
        } else {
            pg_set_txnid(list[i].buf, txnid);
            uint32_t sum = page_checksum(list[i].buf, len);
            put32(list[i].buf, sum);
            if (listed)
                w->written[i] = (struct written_run){ .pgno = list[i].pgno, .checksum = sum };
        }
        w->written_bytes += len;
    }
    w->nwritten = n;
    /*
     * One write per tree page, even where pages are adjacent. The kernel
     * sizes the page-cache folio it creates by the length of the write: a
     * run written in one call lands in one large folio, and every later
     * 4 KiB write into that folio walks all of its blocks (on ext4 with
     * large folios, measured: 21-27 us per scattered 4 KiB write into
     * folios made by 4 MiB writes, 2.2 us into 4 KiB folios; 2.9 us for
     * 16 KiB folios). Copy-on-write rewrites tree pages all over the file,
     * so small folios win for them; the extra system calls cost far less.
     *
     * Two kinds of pages are written together instead (write_joined):
     * overflow runs, which hold a value that is written once and never
     * rewritten in place, and, in a transaction that was a sequential load
     * (three puts in four or more went to a tree's tail), the pages it
     * added at the end of the file: full leaves left behind, which such
     * loads do not touch again, and where a system call per page would
     * cost more than the rest of the commit.
     */
    bool sequential = w->puts >= 64 && w->tail_puts * 4 >= w->puts * 3;
    pgno_t join_from = sequential && w->first_fresh ? w->first_fresh : UINT64_MAX;
    for (size_t i = 0; i < n && rc == 0;) {
        if (joinable(&list[i], join_from)) {
            rc = write_joined(txn, list, n, &i, join_from);
            continue;
        }
        rc = os_pwrite_full(db->fd, list[i].buf, txn->page_size, list[i].pgno << txn->page_shift);
        i++;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!list[i].bare && (pg_type(list[i].buf) == PAGE_LEAF || pg_type(list[i].buf) == PAGE_BRANCH))
            own_mark(w, list[i].pgno);
    free(list);
    return rc ? rc : write_fresh_free(txn);
}
