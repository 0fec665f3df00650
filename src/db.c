/*
 * db.c - opening and closing a database: file creation, locking, choosing
 * the meta page, mapping; and the versions and reader slots that let
 * readers run without locks while the writer commits and remaps.
 */
#include "db.h"

#include "bucket.h"
#include "os.h"
#include "pager.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define GROW_ALIGN (64u * 1024)                 /* growth steps are multiples of this */
#define GROW_MAX_STEP (1024ull * 1024 * 1024)   /* the largest step */
#define MAP_MIN (1024ull * 1024)                /* smallest mapping of a writable file */

#ifndef LARCH_AMALGAMATION /* there, db.h's declaration defines it */
__attribute__((visibility("hidden"))) atomic_uint db_forks;
#endif

static void count_fork(void)
{
    atomic_fetch_add(&db_forks, 1);
}

static void watch_forks(void)
{
    pthread_atfork(NULL, NULL, count_fork);
}

/* ---- Reader slots ------------------------------------------------------- */

static struct reader_slot *claim_slot(larch_db *db)
{
    struct reader_chunk *c = &db->readers;
    for (;;) {
        for (unsigned i = 0; i < READER_CHUNK; i++) {
            unsigned free_mark = 0;
            if (atomic_load_explicit(&c->slot[i].used, memory_order_relaxed) == 0 &&
                atomic_compare_exchange_strong(&c->slot[i].used, &free_mark, 1))
                return &c->slot[i];
        }
        struct reader_chunk *next = atomic_load(&c->next);
        if (!next) {
            struct reader_chunk *fresh = calloc(1, sizeof *fresh);
            if (!fresh)
                return NULL;
            if (atomic_compare_exchange_strong(&c->next, &next, fresh))
                next = fresh;
            else
                free(fresh); /* another reader added one first: next holds it */
        }
        c = next;
    }
}

LARCH_INTERNAL int db_reader_enter(larch_db *db, struct reader_slot **slot, struct version **ver)
{
    struct reader_slot *s = claim_slot(db);
    if (!s)
        return ENOMEM;
    struct version *v;
    /* Publish the version we are about to use, then check it is still the
     * current one; see db.h for why the writer cannot miss it. */
    do {
        v = atomic_load(&db->current);
        atomic_store(&s->ver, v);
    } while (atomic_load(&db->current) != v);
    atomic_fetch_add(&db->active_readers, 1);
    *slot = s;
    *ver = v;
    return 0;
}

LARCH_INTERNAL void db_reader_leave(larch_db *db, struct reader_slot *slot)
{
    atomic_store(&slot->ver, NULL);
    atomic_store_explicit(&slot->used, 0, memory_order_release);
    atomic_fetch_sub(&db->active_readers, 1);
}

/* Whether any reader slot names v. */
static bool version_in_use(larch_db *db, const struct version *v)
{
    for (struct reader_chunk *c = &db->readers; c; c = atomic_load(&c->next))
        for (unsigned i = 0; i < READER_CHUNK; i++)
            if (atomic_load(&c->slot[i].ver) == v)
                return true;
    return false;
}

LARCH_INTERNAL txnid_t db_oldest_snapshot(larch_db *db)
{
    txnid_t oldest = db->versions->meta.txnid;
    for (struct version *v = db->versions->next; v; v = v->next)
        if (v->meta.txnid < oldest && version_in_use(db, v))
            oldest = v->meta.txnid;
    return oldest;
}

/* ---- Versions and mappings ---------------------------------------------- */

static void mapping_release(struct mapping *m)
{
    if (--m->refs == 0) {
        os_unmap(m->base, m->size);
        free(m);
    }
}

/* Free every version but the current one that no reader names. */
static void collect_versions(larch_db *db)
{
    struct version **link = &db->versions->next;
    while (*link) {
        struct version *v = *link;
        if (version_in_use(db, v)) {
            link = &v->next;
            continue;
        }
        *link = v->next;
        mapping_release(v->map);
        free(v);
    }
}

/* How much to map for a file of size bytes: room to grow before the next remap. */
static size_t map_size_for(const larch_db *db, uint64_t size)
{
    if (db->flags & LARCH_RDONLY)
        return (size_t)size;
    uint64_t m = MAP_MIN;
    while (m < size * 2 && m < (UINT64_MAX >> 2))
        m <<= 1;
    if (db->max_size && m > db->max_size)
        m = MAX(size, db->max_size & ~(uint64_t)(db->page_size - 1));
    if (m > SIZE_MAX / 2)
        m = MAX(size, (uint64_t)(SIZE_MAX / 2));
    return (size_t)m;
}

static int mapping_new(larch_db *db, struct mapping **out)
{
    struct mapping *m = calloc(1, sizeof *m);
    if (!m)
        return ENOMEM;
    m->size = map_size_for(db, db->file_size);
    void *base;
    int rc = os_map(db->fd, m->size, &base);
    if (rc) {
        free(m);
        return rc;
    }
    m->base = base;
    *out = m;
    return 0;
}

LARCH_INTERNAL int db_version_new(larch_db *db, struct version **out)
{
    struct version *v = calloc(1, sizeof *v);
    if (!v)
        return ENOMEM;
    struct mapping *cur = db->versions ? db->versions->map : NULL;
    if (cur && db->file_size <= cur->size) {
        v->map = cur;
    } else {
        int rc = mapping_new(db, &v->map);
        if (rc) {
            free(v);
            return rc;
        }
    }
    v->map->refs++;
    *out = v;
    return 0;
}

LARCH_INTERNAL void db_version_discard(larch_db *db, struct version *v)
{
    (void)db;
    mapping_release(v->map);
    free(v);
}

LARCH_INTERNAL void db_version_publish(larch_db *db, struct version *v, const struct meta *m)
{
    v->meta = *m;
    v->next = db->versions;
    db->versions = v;
    atomic_store(&db->current, v);
    collect_versions(db);
}

LARCH_INTERNAL int db_grow_file(larch_db *db, uint64_t need)
{
    if (need <= db->file_size)
        return 0;
    /* Steps of an eighth of the file: few extensions (about 80 from empty
     * to 1 GiB, each one an inode change the next sync must write), and at
     * most 12.5% of slack, which larch_close gives back. The new part gets
     * its disk space now (os_extend), so that the slack left behind a
     * commit, the reserve of transactions that only delete (pager.c), is
     * there when the disk fills; when the step does not fit on the disk,
     * only what is needed is taken. */
    uint64_t step = MIN(MAX(db->file_size / 8, (uint64_t)GROW_ALIGN), GROW_MAX_STEP);
    uint64_t size = MAX(need, db->file_size + step);
    uint64_t exact = (need + db->page_size - 1) & ~(uint64_t)(db->page_size - 1);
    size = (size + GROW_ALIGN - 1) / GROW_ALIGN * GROW_ALIGN;
    if (db->max_size && size > db->max_size)
        size = MAX(exact, db->max_size & ~(uint64_t)(db->page_size - 1));
    int rc = os_extend(db->fd, db->file_size, size);
    if (rc == ENOSPC && size > exact) {
        size = exact;
        rc = os_extend(db->fd, db->file_size, size);
    }
    db->disk_full = rc == ENOSPC;
    if (rc)
        return rc;
    db->file_size = size;
    return 0;
}

/* ---- Creating a file ---------------------------------------------------- */

/*
 * Make an empty file a database, in place: the file keeps its owner,
 * permissions and name (a symbolic link keeps pointing at it). Meta page 1
 * is written and synced before meta page 0, so until page 1 is whole on
 * disk, page 0 is still all zeros: a crash in between leaves a file that
 * init_cut_short() knows, and the next writable open initializes it again.
 * Once page 1 is there, the file opens (page 0 may be torn: it is then the
 * older meta page, of the same empty database).
 */
static int init_in_place(int fd, uint32_t ps, bool sync)
{
    uint8_t *buf = calloc(1, ps);
    if (!buf)
        return ENOMEM;
    struct meta m = { .page_size = ps, .npages = NUM_METAS };
    int rc = 0;
    for (txnid_t t = NUM_METAS; t-- > 0 && rc == 0;) {
        m.txnid = t;
        meta_encode(&m, NULL, buf);
        rc = os_pwrite_full(fd, buf, ps, t * ps);
        if (rc == 0 && sync)
            rc = os_datasync(fd);
    }
    free(buf);
    return rc;
}

/*
 * Whether a file that has no valid meta page is what an initialization
 * cut short leaves (init_in_place): zeros, but perhaps for the start of
 * meta page 1 (its magic at its place) after a first page of zeros, and
 * no longer than two pages. Nothing else looks so: a database's meta page
 * 0 is zeroed only while page 1 is sound.
 */
static int init_cut_short(int fd, uint64_t size, bool *yes)
{
    *yes = false;
    if (size > 2ull * MAX_PAGE_SIZE)
        return 0;
    uint8_t *buf = malloc(2 * MAX_PAGE_SIZE);
    size_t got, zeros = 0;
    if (!buf)
        return ENOMEM;
    int rc = os_pread_full(fd, buf, (size_t)size, 0, &got);
    while (rc == 0 && zeros < got && buf[zeros] == 0)
        zeros++;
    if (rc == 0 && got == size) {
        *yes = zeros == got;
        for (uint32_t ps = MIN_PAGE_SIZE; ps <= MAX_PAGE_SIZE && !*yes; ps <<= 1)
            *yes = ps < size && size <= 2ull * ps && zeros >= ps && size >= ps + META_MAGIC_OFF + 4 &&
                   get32(buf + ps + META_MAGIC_OFF) == LARCH_MAGIC;
    }
    free(buf);
    return rc;
}

/* ---- Reading the meta pages --------------------------------------------- */

/*
 * Whether all that a one-sync commit wrote reached the disk (format.h,
 * ONE-SYNC COMMITS): the file is as long as its meta page says, and each
 * run of the written list is there, names its page number and the
 * commit's txnid, and carries the listed checksum, which its bytes match
 * (an overflow run, which has no header, must just match the checksum).
 * buf holds ONE_SYNC_MAX_BYTES. Returns 0, LARCH_CORRUPT when something is
 * missing (the commit did not complete), or an I/O error.
 */
static int commit_complete(int fd, uint64_t file_size, const struct meta *m, const struct written_run *runs,
                           uint8_t *buf)
{
    uint32_t ps = m->page_size;
    uint64_t budget = ONE_SYNC_MAX_BYTES;
    size_t got;
    if (m->npages * (uint64_t)ps > file_size)
        return LARCH_CORRUPT; /* its file extension did not persist */
    for (unsigned i = 0; i < m->nwritten; i++) {
        pgno_t pgno = runs[i].pgno;
        if (pgno < NUM_METAS || pgno >= m->npages)
            return LARCH_CORRUPT;
        bool headed = runs[i].bare_pages == 0; /* a page or dictionary run, not an overflow run */
        uint64_t n = runs[i].bare_pages;
        int rc = 0;
        if (headed) { /* its header first */
            if ((rc = os_pread_full(fd, buf, ps, pgno * ps, &got)) != 0)
                return rc;
            if (got < ps || pg_pgno(buf) != pgno || pg_txnid(buf) != m->txnid || pg_checksum(buf) != runs[i].checksum)
                return LARCH_CORRUPT;
            n = pg_type(buf) == PAGE_DICT ? pg_npages(buf) : 1;
        }
        if (n == 0 || n > m->npages - pgno || n * ps > budget)
            return LARCH_CORRUPT;
        uint64_t from = headed ? 1 : 0; /* pages in buf already */
        if (n > from && (rc = os_pread_full(fd, buf + from * ps, (size_t)(n - from) * ps, (pgno + from) * ps, &got)) != 0)
            return rc;
        if (n > from && got < (n - from) * ps)
            return LARCH_CORRUPT;
        uint32_t sum = headed ? page_checksum(buf, (size_t)(n * ps)) : run_checksum(buf, (size_t)(n * ps));
        if (sum != runs[i].checksum)
            return LARCH_CORRUPT;
        budget -= n * ps;
    }
    return 0;
}

/*
 * Of the two decoded meta pages, the one to open (*pick): the newest,
 * unless it is a one-sync commit that did not complete; then the other
 * one, and *discarded is the txnid of the incomplete one. Returns 0 or an
 * error.
 */
static int choose_complete(int fd, uint64_t file_size, const int rc[2], const struct meta m[2],
                           const struct written_run runs[2][META_WRITTEN_MAX], int *pick, txnid_t *discarded)
{
    int p = meta_choose(rc, m);
    if (p < 0)
        return p;
    *pick = p;
    if (m[p].nwritten == 0)
        return 0;
    uint8_t *buf = malloc(ONE_SYNC_MAX_BYTES);
    if (!buf)
        return ENOMEM;
    int c = commit_complete(fd, file_size, &m[p], runs[p], buf);
    if (c == LARCH_CORRUPT && rc[1 - p] == 0) {
        /* The previous commit was synced before this one began writing. */
        *discarded = m[p].txnid;
        *pick = p = 1 - p;
        c = m[p].nwritten ? commit_complete(fd, file_size, &m[p], runs[p], buf) : 0;
    }
    free(buf);
    return c;
}

/* The written list of decoded meta page p, kept before the buffer is reused. */
static void copy_written_list(const uint8_t *p, const struct meta *m, struct written_run *runs)
{
    for (unsigned i = 0; i < m->nwritten; i++)
        runs[i] = meta_written_run(p, i);
}

/*
 * Read and choose the meta page: page size from meta 0, or by trying each
 * for meta 1. A meta page with a bad checksum is passed over (a torn last
 * write), as is one of a one-sync commit whose pages did not all reach the
 * disk; a sound one that names more pages than the file holds means the
 * file was cut short: with fit that is damage, not a reason to fall back
 * to the older meta page and silently lose the newest commit. *discarded
 * is the txnid of a meta page passed over as incomplete, else 0.
 */
static int read_meta(int fd, uint64_t file_size, bool fit, struct meta *out, txnid_t *discarded)
{
    uint8_t *buf = malloc(MAX_PAGE_SIZE);
    struct meta m[2];
    struct written_run runs[2][META_WRITTEN_MAX];
    int rc[2];
    size_t got;
    *discarded = 0;
    if (!buf)
        return ENOMEM;
    int err = os_pread_full(fd, buf, MIN(file_size, (uint64_t)MAX_PAGE_SIZE), 0, &got);
    if (err)
        goto out;
    rc[0] = meta_decode(buf, got, 0, 0, &m[0]);
    if (rc[0] == 0)
        copy_written_list(buf, &m[0], runs[0]);
    rc[1] = LARCH_NOTDB;
    for (uint32_t ps = MIN_PAGE_SIZE; ps <= MAX_PAGE_SIZE; ps <<= 1) {
        if (rc[0] == 0 && ps != m[0].page_size)
            continue;
        if (file_size < 2ull * ps)
            break;
        err = os_pread_full(fd, buf, ps, ps, &got);
        if (err)
            goto out;
        int r = meta_decode(buf, got, 1, 0, &m[1]);
        if (r == 0 && m[1].page_size != ps)
            r = LARCH_CORRUPT;
        if (r == 0 || rc[1] == LARCH_NOTDB)
            rc[1] = r;
        if (r == 0) {
            copy_written_list(buf, &m[1], runs[1]);
            break;
        }
    }
    int pick = 0;
    err = choose_complete(fd, file_size, rc, m, runs, &pick, discarded);
    if (err == 0 && fit && m[pick].npages * (uint64_t)m[pick].page_size > file_size)
        err = CORRUPT();
    if (err == 0)
        *out = m[pick];
out:
    free(buf);
    return err;
}

/* ---- Open and close ----------------------------------------------------- */

static bool valid_new_page_size(uint32_t ps)
{
    return ps == 0 || (ps >= MIN_PAGE_SIZE && ps <= MAX_PAGE_SIZE && (ps & (ps - 1)) == 0);
}

/*
 * Open (creating it if missing and writable), check that it is a regular
 * file, and lock; gives the locked fd and its size. A symbolic link is
 * followed, also a dangling one, whose target is created.
 */
static int open_locked(const char *path, const larch_options *o, int *fdp, uint64_t *sizep)
{
    bool rdonly = o->flags & LARCH_RDONLY;
    int fd, mode = o->mode ? o->mode : 0644;
    const char *kind = NULL;
    int rc = os_open_regular(path, rdonly ? O_RDONLY : O_RDWR | O_CREAT, mode, &fd, &kind);
    if (rc == LARCH_NOTFILE)
        return error_detail(rc, "%s is %s, not a regular file", path, kind);
    if (rc)
        return rc;
    rc = os_lock(fd, !rdonly);
    if (rc == 0)
        rc = os_file_size(fd, sizep);
    if (rc) {
        os_close(fd);
        return rc;
    }
    *fdp = fd;
    return 0;
}

/*
 * Read the meta page of the open file db->fd (of *size bytes); a writable
 * handle first initializes a file that is empty or whose initialization was
 * cut short (and syncs its directory, which may have just got its name).
 */
static int open_meta(larch_db *db, const char *path, const larch_options *o, uint64_t *size, struct meta *m)
{
    bool rdonly = o->flags & LARCH_RDONLY;
    int rc = *size ? read_meta(db->fd, *size, !rdonly, m, &db->discarded_txnid) : LARCH_NOTDB;
    if (rc == 0 || rdonly || (rc != LARCH_NOTDB && rc != LARCH_CORRUPT))
        return rc;
    bool cut_short;
    int err = init_cut_short(db->fd, *size, &cut_short);
    if (err || !cut_short)
        return err ? err : rc;
    uint32_t ps = o->page_size ? o->page_size : DEFAULT_PAGE_SIZE;
    bool sync = !(o->flags & LARCH_NOSYNC);
    if (*size && (err = os_truncate(db->fd, 0)) != 0)
        return err;
    if ((err = init_in_place(db->fd, ps, sync)) != 0 || (sync && (err = os_sync_dir_of(path)) != 0))
        return err;
    *size = (uint64_t)NUM_METAS * ps;
    return read_meta(db->fd, *size, true, m, &db->discarded_txnid);
}

/*
 * A writable open of a database that never committed (txnid 1: meta page
 * 1 of init_in_place) whose meta page 0 is not sound, as a crash between
 * the two writes of init_in_place leaves it: write page 0, so that the
 * file is whole again.
 */
static int finish_init(larch_db *db, const struct meta *m)
{
    struct meta other;
    size_t got;
    if (m->txnid != 1 || m->nwritten)
        return 0;
    uint8_t *buf = malloc(m->page_size);
    if (!buf)
        return ENOMEM;
    int rc = os_pread_full(db->fd, buf, m->page_size, 0, &got);
    if (rc == 0 && (got < m->page_size || meta_decode(buf, got, 0, 0, &other) != 0)) {
        other = *m;
        other.txnid = 0;
        meta_encode(&other, NULL, buf);
        rc = os_pwrite_full(db->fd, buf, m->page_size, 0);
        if (rc == 0 && !(db->flags & LARCH_NOSYNC))
            rc = os_datasync(db->fd);
    }
    free(buf);
    return rc;
}

/*
 * Zero the meta page of a one-sync commit that did not complete. The next
 * commit reuses its txnid, so also its slot and likely its pages; were that
 * commit cut short in turn, its pages could otherwise pass for the old meta
 * page's (the listed checksums make that unlikely; this makes it impossible).
 */
static int clear_meta(larch_db *db, unsigned slot, uint32_t ps)
{
    uint8_t *zero = calloc(1, ps);
    if (!zero)
        return ENOMEM;
    int rc = os_pwrite_full(db->fd, zero, ps, (uint64_t)slot * ps);
    if (rc == 0 && !(db->flags & LARCH_NOSYNC))
        rc = os_datasync(db->fd);
    free(zero);
    return rc;
}

/* Free everything db holds. In a child after fork, its mutexes may be
 * held by threads that do not exist there: they are left alone. */
static void db_free(larch_db *db)
{
    bool forked = db_forked(db);
    wstate_destroy(db->ws);
    struct version *v = db->versions;
    while (v) {
        struct version *next = v->next;
        mapping_release(v->map);
        free(v);
        v = next;
    }
    struct reader_chunk *c = &db->readers;
    while (c) {
        struct reader_chunk *next = atomic_load(&c->next);
        for (unsigned i = 0; i < READER_CHUNK; i++)
            txn_spare_free(&c->slot[i].spare);
        if (c != &db->readers)
            free(c);
        c = next;
    }
    os_close(db->fd);
    bucket_table_free(&db->buckets, !forked);
    if (!forked) {
        pthread_mutex_destroy(&db->write_mutex);
        pthread_cond_destroy(&db->write_free);
    }
    free(db);
}

static int open_db(const char *path, const larch_options *opts, larch_db **dbp)
{
    static const larch_options defaults;
    static pthread_once_t fork_watch = PTHREAD_ONCE_INIT;
    const larch_options *o = opts ? opts : &defaults;
    if (dbp)
        *dbp = NULL;
    if (!path || !*path || !dbp)
        return error_detail(LARCH_INVALID, "larch_open: a NULL or empty argument");
    if (o->flags & ~(LARCH_RDONLY | LARCH_NOSYNC | LARCH_NOMETASYNC | LARCH_VERIFY))
        return error_detail(LARCH_INVALID, "larch_open: unknown flags 0x%x",
                            o->flags & ~(LARCH_RDONLY | LARCH_NOSYNC | LARCH_NOMETASYNC | LARCH_VERIFY));
    if (!valid_new_page_size(o->page_size))
        return error_detail(LARCH_INVALID, "larch_open: page size %u (a power of two from 1024 to 65536)",
                            (unsigned)o->page_size);
    if (o->mode < 0)
        return error_detail(LARCH_INVALID, "larch_open: a negative mode");
    pthread_once(&fork_watch, watch_forks);

    larch_db *db = calloc(1, sizeof *db);
    if (!db)
        return ENOMEM;
    db->fd = -1;
    db->forks = atomic_load(&db_forks);
    db->flags = o->flags;
    db->max_size = o->max_size;
    pthread_mutex_init(&db->write_mutex, NULL);
    pthread_cond_init(&db->write_free, NULL);
    bucket_table_init(&db->buckets);

    struct meta m = { 0 };
    struct version *v = NULL;
    bool rdonly = o->flags & LARCH_RDONLY;
    int rc = open_locked(path, o, &db->fd, &db->file_size);
    /* Read-only, a file cut short still opens, to salvage what it holds:
     * reads of the missing pages report damage (and the check says why). */
    if (rc == 0)
        rc = open_meta(db, path, o, &db->file_size, &m);
    if (rc == 0 && db->discarded_txnid && !rdonly)
        rc = clear_meta(db, db->discarded_txnid % NUM_METAS, m.page_size);
    if (rc == 0 && !rdonly)
        rc = finish_init(db, &m);
    if (rc == 0 && rdonly && m.npages * (uint64_t)m.page_size > db->file_size) {
        db->truncated_from = m.npages;
        m.npages = db->file_size / m.page_size;
        if (m.npages < NUM_METAS)
            rc = LARCH_CORRUPT;
    }
    if (rc == 0) {
        db->page_size = m.page_size;
        db->page_shift = (unsigned)__builtin_ctz(m.page_size);
        rc = db_version_new(db, &v);
    }
    if (rc == 0 && !(db->flags & LARCH_RDONLY))
        rc = wstate_create(db->page_size, &db->ws);
    if (rc) {
        if (v)
            db_version_discard(db, v);
        db_free(db);
        return rc;
    }
    db_version_publish(db, v, &m);
    db->grow_mark = m.npages;
    *dbp = db;
    return 0;
}

LARCH_API int larch_open(const char *path, const larch_options *opts, larch_db **dbp)
{
    return api_result(open_db(path, opts, dbp));
}

/*
 * After a one-sync commit, write its meta page again as the next txnid
 * without the written list. Its pages were synced when it returned, so the
 * new meta page may land in any order; once it has, a page of that commit
 * damaged later (bit rot) reads as damage, where the written list would
 * have made the next open quietly go back a commit. Best effort: if it
 * fails, the one-sync meta page stays, and it is sound.
 */
static void seal_last_commit(larch_db *db)
{
    struct meta m = db->versions->meta;
    uint8_t *page = db->ws->scratch; /* a writable handle's; no txn is running */
    m.txnid++;
    m.nwritten = 0;
    meta_encode(&m, NULL, page);
    os_pwrite_full(db->fd, page, db->page_size, (m.txnid % NUM_METAS) << db->page_shift);
}

LARCH_API void larch_close(larch_db *db)
{
    if (!db)
        return;
    if (!(db->flags & LARCH_RDONLY) && !atomic_load(&db->panic) && !db_forked(db)) {
        /* Give back the slack of the last growth step but the delete
         * reserve (pager.c). Safe at any instant: no meta page refers to a
         * page past the last one in use. */
        pgno_t npages = db->versions->meta.npages;
        uint64_t used = (npages + pager_slack_at_close(db, npages)) << db->page_shift;
        bool wrote = db->versions->meta.nwritten != 0;
        if (wrote)
            seal_last_commit(db);
        if (used < db->file_size && os_truncate(db->fd, used) == 0)
            wrote = true;
        if (wrote && !(db->flags & LARCH_NOSYNC))
            os_datasync(db->fd);
    }
    db_free(db);
}

LARCH_API size_t larch_max_key_size(const larch_db *db)
{
    return db ? max_key_size(db->page_size) : 0;
}
