/*
 * txn.c - begin, commit and abort, and the data functions (get, put, del)
 * that check their arguments and hand over to btree.c.
 *
 * Commit order: free-space records, dirty pages, fdatasync, the meta page
 * of this txnid's parity, fdatasync. A small commit (what a meta page's
 * written list holds: format.h, ONE-SYNC COMMITS) leaves out the first
 * sync: its meta page lists what it wrote, and open checks that all of it
 * reached the disk before it trusts that meta page. Until the meta page is
 * written the previous commit is what the file holds, so any failure
 * before it is a clean rollback. A failure of the meta write or of a sync
 * leaves the disk in a state the handle cannot know, so it "panics": it
 * refuses further writes until reopened.
 */
#include "txn.h"

#include "btree.h"
#include "bucket.h"
#include "compress.h"
#include "freelist.h"
#include "os.h"

#include <stdlib.h>

static uintptr_t thread_token(void)
{
    /* The address of a thread-local variable is unique per live thread. */
    static _Thread_local char token;
    return (uintptr_t)&token;
}

/*
 * The arena's chunks double from 64 KiB up to ARENA_KEEP_MAX, so a txn
 * that decompresses many values makes few allocations; its largest chunk
 * (at most ARENA_KEEP_MAX) is handed on to the next txn in its place.
 * 1 MiB holds 1,000 gets of 1 KiB values, and bounds what an idle reader
 * slot holds: a process with many reader threads keeps a chunk per slot.
 */
#define ARENA_FIRST ((size_t)64 * 1024)
#define ARENA_KEEP_MAX ((size_t)1024 * 1024)

LARCH_INTERNAL void *txn_arena_alloc(larch_txn *txn, size_t n)
{
    struct arena_chunk *c = txn->arena;
    n = (n + 15) & ~(size_t)15;
    if (!c || c->size - c->used < n) {
        size_t size = MAX(n, c ? MIN(c->size * 2, ARENA_KEEP_MAX) : ARENA_FIRST);
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = txn->arena;
        c->used = 0;
        c->size = size;
        txn->arena = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* Start with the memory the last txn in this place left. */
static void take_spare(larch_txn *txn, struct txn_spare *spare)
{
    txn->spare = spare;
    txn->arena = spare->arena;
    txn->zwin = spare->zwin;
    spare->arena = NULL;
    spare->zwin = NULL;
}

/* Leave the decode window and the largest keepable arena chunk to the next txn. */
static void hand_on_spare(larch_txn *txn)
{
    struct arena_chunk *keep = NULL;
    for (struct arena_chunk *c = txn->arena, *next; c; c = next) {
        next = c->next;
        if (c->size <= ARENA_KEEP_MAX && (!keep || c->size > keep->size)) {
            free(keep);
            keep = c;
        } else {
            free(c);
        }
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    txn->spare->arena = keep;
    txn->spare->zwin = txn->zwin;
}

LARCH_INTERNAL void txn_spare_free(struct txn_spare *spare)
{
    free(spare->arena);
    free(spare->zwin);
    spare->arena = NULL;
    spare->zwin = NULL;
}

LARCH_INTERNAL int txn_check_key(const larch_txn *txn, const larch_val *key)
{
    if (!key || !key->data)
        return error_detail(LARCH_INVALID, "the key is NULL");
    if (key->size == 0 || key->size > max_key_size(txn->page_size))
        return error_detail(LARCH_INVALID, "a key of %zu bytes: keys are 1 to %u bytes in this file", key->size,
                            max_key_size(txn->page_size));
    return 0;
}

LARCH_INTERNAL int txn_unusable(const larch_txn *txn)
{
    if (!txn)
        return error_detail(LARCH_INVALID, "the transaction is NULL");
    if (txn->live != TXN_LIVE)
        return error_detail(LARCH_INVALID, "the transaction has ended (committed or aborted)");
    return error_detail(LARCH_INVALID, "the database handle belongs to the process this one was forked from: "
                                       "open the file again");
}

LARCH_INTERNAL int txn_writable(const larch_txn *txn)
{
    int rc = txn_usable(txn);
    if (rc == 0 && txn->rdonly)
        rc = error_detail(LARCH_INVALID, "a change in a read-only transaction");
    return rc;
}

/*
 * Transactions that ended, kept a while before their memory serves a new
 * one: using a transaction after its commit or abort (a second commit, a
 * get) then finds it ended and fails with LARCH_INVALID, instead of
 * touching freed memory. Each thread keeps the last TXN_KEEP it ended and
 * reuses the oldest of them for its next begin, so a transaction's memory
 * is reused only after TXN_KEEP - 1 more have ended in that thread (use
 * after that is not detected), and begin allocates nothing in the steady
 * state. A thread's transactions are freed when it exits.
 */
#define TXN_KEEP 16

struct txn_keep {
    larch_txn *t[TXN_KEEP];
    unsigned first, n;
};

static _Thread_local struct txn_keep kept;
static pthread_key_t kept_key;
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;

static void kept_free(void *arg)
{
    struct txn_keep *k = arg;
    for (unsigned i = 0; i < k->n; i++)
        free(k->t[(k->first + i) % TXN_KEEP]);
    k->n = 0;
}

static void kept_key_create(void)
{
    pthread_key_create(&kept_key, kept_free);
}

static larch_txn *txn_alloc(void)
{
    if (kept.n < TXN_KEEP)
        return calloc(1, sizeof(larch_txn));
    larch_txn *t = kept.t[kept.first];
    kept.first = (kept.first + 1) % TXN_KEEP;
    kept.n--;
    memset(t, 0, sizeof *t);
    return t;
}

static void txn_free(larch_txn *t)
{
    t->live = 0;
    if (kept.n == 0) { /* so that the thread's exit frees them */
        pthread_once(&kept_once, kept_key_create);
        pthread_setspecific(kept_key, &kept);
    }
    if (kept.n == TXN_KEEP) { /* it ended more than it began */
        free(kept.t[kept.first]);
        kept.first = (kept.first + 1) % TXN_KEEP;
        kept.n--;
    }
    kept.t[(kept.first + kept.n++) % TXN_KEEP] = t;
}

static void txn_attach(larch_txn *txn, larch_db *db, struct version *v)
{
    txn->db = db;
    txn->ver = v;
    txn->map = v->map->base;
    txn->map_size = v->map->size;
    txn->page_size = db->page_size;
    txn->page_shift = db->page_shift;
    txn->meta = v->meta;
    txn->bk = txn->bk_inline;
    txn->nbk = TXN_BUCKETS_INLINE;
}

/* LARCH_VERIFY: a bit per page of the snapshot, set once its checksum passed. */
static int verify_setup(larch_txn *txn)
{
    if (!(txn->db->flags & LARCH_VERIFY))
        return 0;
    txn->verified_pages = txn->meta.npages;
    txn->verified = calloc((size_t)(txn->verified_pages + 7) / 8, 1);
    return txn->verified ? 0 : ENOMEM;
}

static int begin_write(larch_db *db, larch_txn *txn)
{
    if (db->flags & LARCH_RDONLY)
        return error_detail(LARCH_INVALID, "a write transaction on a read-only handle");
    if (atomic_load(&db->writer_thread) == thread_token()) /* waiting would deadlock */
        return error_detail(LARCH_INVALID, "this thread already runs a write transaction on this handle");
    if (atomic_load(&db->panic))
        return LARCH_PANIC;
    pthread_mutex_lock(&db->write_mutex);
    while (db->writing)
        pthread_cond_wait(&db->write_free, &db->write_mutex);
    if (atomic_load(&db->panic)) {
        pthread_mutex_unlock(&db->write_mutex);
        return LARCH_PANIC;
    }
    db->writing = true;
    pthread_mutex_unlock(&db->write_mutex);
    atomic_store(&db->writer_thread, thread_token());
    txn_attach(txn, db, db->versions);
    txn->w = db->ws;
    wstate_reset(txn->w);
    take_spare(txn, &txn->w->spare);
    return 0;
}

static int begin_txn(larch_db *db, unsigned flags, larch_txn **txnp)
{
    if (txnp)
        *txnp = NULL;
    if (!db || !txnp)
        return error_detail(LARCH_INVALID, "larch_begin: a NULL argument");
    if (flags & ~LARCH_RDONLY)
        return error_detail(LARCH_INVALID, "larch_begin: unknown flags 0x%x", flags & ~LARCH_RDONLY);
    if (db_forked(db))
        return error_detail(LARCH_INVALID, "the database handle belongs to the process this one was forked "
                                           "from: open the file again");
    larch_txn *txn = txn_alloc();
    if (!txn)
        return ENOMEM;
    int rc;
    if (flags & LARCH_RDONLY) {
        struct version *v;
        txn->rdonly = true;
        rc = db_reader_enter(db, &txn->slot, &v);
        if (rc == 0) {
            txn_attach(txn, db, v);
            take_spare(txn, &txn->slot->spare);
        }
    } else {
        rc = begin_write(db, txn);
    }
    if (rc) {
        txn_free(txn);
        return rc;
    }
    txn->live = TXN_LIVE;
    if ((rc = verify_setup(txn)) != 0) {
        larch_abort(txn);
        return rc;
    }
    *txnp = txn;
    return 0;
}

LARCH_API int larch_begin(larch_db *db, unsigned flags, larch_txn **txnp)
{
    return api_result(begin_txn(db, flags, txnp));
}

/* End a transaction. After a fork, in the child, only its memory goes:
 * the locks and slots it holds are copies that nobody else sees, and a
 * lock may be held by a thread that does not exist here. */
static void end_txn(larch_txn *txn, bool committed)
{
    larch_db *db = txn->db;
    bool forked = db_forked(db);
    if (!forked)
        bucket_txn_end(txn, committed);
    else if (txn->bk != txn->bk_inline)
        free(txn->bk);
    free(txn->verified);
    hand_on_spare(txn);
    if (forked) {
        /* nothing more to release */
    } else if (txn->rdonly) {
        db_reader_leave(db, txn->slot);
    } else {
        wstate_reset(txn->w);
        atomic_store(&db->writer_thread, 0);
        pthread_mutex_lock(&db->write_mutex);
        db->writing = false;
        pthread_cond_signal(&db->write_free);
        pthread_mutex_unlock(&db->write_mutex);
    }
    txn_free(txn);
}

static int panic(larch_db *db, int rc)
{
    atomic_store(&db->panic, 1);
    return rc;
}

static int commit_write(larch_txn *txn)
{
    larch_db *db = txn->db;
    struct wstate *w = txn->w;
    bool sync = !(db->flags & LARCH_NOSYNC), metasync = sync && !(db->flags & LARCH_NOMETASYNC);
    int rc = bucket_commit(txn);
    if (rc)
        return rc;
    if (w->ndirty == 0 && w->freed.n == 0 &&
        !memcmp(&txn->meta.trees[TREE_MAIN], &txn->ver->meta.trees[TREE_MAIN], sizeof(struct tree)))
        return 0; /* nothing changed */

    txnid_t txnid = txn->meta.txnid + 1;
    rc = freelist_save(txn, txnid);
    if (rc == 0)
        rc = pager_write(txn, txnid);
    if (rc)
        return rc;
    /* With LARCH_NOMETASYNC the meta page is not synced, so the pages must
     * be before it is written; without any sync nothing is ordered anyway. */
    bool one_sync = metasync && w->nwritten <= META_WRITTEN_MAX && w->written_bytes <= ONE_SYNC_MAX_BYTES;
    if (sync && !one_sync && (rc = os_datasync(db->fd)) != 0)
        return panic(db, rc);

    struct version *v;
    rc = db_version_new(db, &v);
    if (rc)
        return rc;
    txn->meta.txnid = txnid;
    txn->meta.nwritten = one_sync ? (uint32_t)w->nwritten : 0;
    meta_encode(&txn->meta, w->written, w->scratch);
    rc = os_pwrite_full(db->fd, w->scratch, txn->page_size, (txnid % NUM_METAS) << txn->page_shift);
    if (rc == 0 && metasync)
        rc = os_datasync(db->fd);
    if (rc) {
        db_version_discard(db, v);
        return panic(db, rc);
    }
    pager_committed(txn); /* before publishing, which may free txn->ver */
    db_version_publish(db, v, &txn->meta);
    return 0;
}

LARCH_API int larch_commit(larch_txn *txn)
{
    int rc = txn_usable(txn);
    if (rc) {
        /* Ended already: nothing to free. Forked: free it, change nothing. */
        if (txn && txn->live == TXN_LIVE)
            end_txn(txn, false);
        return api_result(rc);
    }
    rc = txn->rdonly ? 0 : txn->error;
    if (rc == 0 && !txn->rdonly)
        rc = commit_write(txn);
    end_txn(txn, rc == 0 && !txn->rdonly);
    return api_result(rc);
}

LARCH_API void larch_abort(larch_txn *txn)
{
    if (txn && txn->live == TXN_LIVE)
        end_txn(txn, false);
}

/* ---- Data --------------------------------------------------------------- */

/* A failure in the middle of a change leaves the txn unusable but for abort. */
static int poison(larch_txn *txn, int rc)
{
    if (rc && rc != LARCH_NOTFOUND && rc != LARCH_EXISTS && rc != LARCH_INVALID)
        txn->error = rc;
    return rc;
}

/*
 * The checks every data call starts with: a live txn (a write txn when
 * writing), a known bucket, a valid key, and no earlier failure in the txn.
 */
static int data_call(larch_txn *txn, larch_bucket b, const larch_val *key, bool write, struct tree **t)
{
    int rc = write ? txn_writable(txn) : txn_usable(txn);
    if (rc == 0)
        rc = txn_check_key(txn, key);
    if (rc)
        return rc;
    if (txn->error)
        return txn->error;
    return txn_tree(txn, b, t);
}

LARCH_API int larch_get(larch_txn *txn, larch_bucket b, const larch_val *key, larch_val *val)
{
    struct tree *t;
    int rc = val ? data_call(txn, b, key, false, &t) : error_detail(LARCH_INVALID, "larch_get: val is NULL");
    return api_result(rc ? rc : bt_get(txn, t, key->data, key->size, val));
}

static int put(larch_txn *txn, larch_bucket b, const larch_val *key, const larch_val *val, unsigned flags)
{
    struct tree *t;
    if (!val || (val->size && !val->data))
        return error_detail(LARCH_INVALID, "larch_put: the value is NULL");
    if (val->size > LARCH_MAX_VALUE_SIZE)
        return error_detail(LARCH_INVALID, "larch_put: a value of %zu bytes (at most 4 GiB - 1)", val->size);
    if (flags & ~(LARCH_NOOVERWRITE | LARCH_APPEND))
        return error_detail(LARCH_INVALID, "larch_put: unknown flags 0x%x", flags & ~(LARCH_NOOVERWRITE | LARCH_APPEND));
    int rc = data_call(txn, b, key, true, &t);
    if (rc)
        return rc;
    txn->w->grows = true;
    rc = bt_put(txn, t, key->data, key->size, val->data, val->size, flags);
    if (rc == LARCH_INVALID) /* only APPEND refuses a key */
        return error_detail(rc, "larch_put: LARCH_APPEND with a key that does not sort after the last one");
    if (rc == 0 && (t->flags & TREE_LZ4) && !t->dict_pgno)
        rc = dict_maybe_build(txn, t);
    return poison(txn, rc);
}

LARCH_API int larch_put(larch_txn *txn, larch_bucket b, const larch_val *key, const larch_val *val,
                        unsigned flags)
{
    return api_result(put(txn, b, key, val, flags));
}

LARCH_API int larch_del(larch_txn *txn, larch_bucket b, const larch_val *key)
{
    struct tree *t;
    int rc = data_call(txn, b, key, true, &t);
    return api_result(rc ? rc : poison(txn, bt_del(txn, t, key->data, key->size)));
}
