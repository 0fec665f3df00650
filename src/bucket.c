/*
 * bucket.c - named buckets: handles, the catalog, create, open, drop, list.
 */
#include "bucket.h"

#include "btree.h"

#include <stdlib.h>

/*
 * Handles: (serial << BUCKET_INDEX_BITS) | index. The serial comes from
 * one counter for the whole process, so no two entries ever made, in any
 * handle, share a handle: a stale one (of a deleted bucket, or of a
 * larch_db closed since) names no entry, whatever reused its index.
 */
static atomic_uint_least64_t next_serial = 1;

LARCH_INTERNAL void bucket_table_init(struct bucket_table *bt)
{
    memset(bt, 0, sizeof *bt);
    pthread_mutex_init(&bt->lock, NULL);
    for (unsigned i = 0; i < BUCKET_CHUNKS; i++)
        atomic_init(&bt->chunk[i], NULL);
    bt->next_index = 1;
}

static void free_chain(struct bucket_entry *e)
{
    while (e) {
        struct bucket_entry *next = e->next;
        free(e);
        e = next;
    }
}

LARCH_INTERNAL void bucket_table_free(struct bucket_table *bt, bool destroy_lock)
{
    for (unsigned i = 0; i < BUCKET_CHUNKS; i++) {
        _Atomic(struct bucket_entry *) *chunk = atomic_load(&bt->chunk[i]);
        for (unsigned j = 0; chunk && j < BUCKET_CHUNK; j++)
            free(atomic_load(&chunk[j]));
        free((void *)chunk);
    }
    free_chain(bt->limbo);
    free(bt->names);
    free(bt->free_index);
    if (destroy_lock)
        pthread_mutex_destroy(&bt->lock);
}

/* The entry a handle names, without a lock; NULL if none. */
static struct bucket_entry *entry_of(larch_db *db, larch_bucket b)
{
    uint32_t idx = BUCKET_INDEX(b);
    if (idx == 0)
        return NULL;
    _Atomic(struct bucket_entry *) *chunk = atomic_load(&db->buckets.chunk[idx / BUCKET_CHUNK]);
    if (!chunk)
        return NULL;
    struct bucket_entry *e = atomic_load(&chunk[idx % BUCKET_CHUNK]);
    if (!e || e->handle != b || atomic_load(&e->state) == ENTRY_RETIRED)
        return NULL;
    return e;
}

/* ---- The name index: live and pending entries by name (under the lock) --- */

static size_t name_hash(const uint8_t *name, size_t len, size_t cap)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ name[i]) * 0x100000001b3ull;
    return (size_t)(h ^ (h >> 32)) & (cap - 1);
}

static int names_add(struct bucket_table *bt, struct bucket_entry *e)
{
    if (bt->nnames + 1 > bt->names_cap) {
        size_t cap = bt->names_cap ? bt->names_cap * 2 : 64;
        struct bucket_entry **v = calloc(cap, sizeof *v);
        if (!v)
            return ENOMEM;
        for (size_t i = 0; i < bt->names_cap; i++)
            for (struct bucket_entry *x = bt->names[i], *next; x; x = next) {
                next = x->next;
                size_t h = name_hash(x->name, x->namelen, cap);
                x->next = v[h];
                v[h] = x;
            }
        free(bt->names);
        bt->names = v;
        bt->names_cap = cap;
    }
    size_t h = name_hash(e->name, e->namelen, bt->names_cap);
    e->next = bt->names[h];
    bt->names[h] = e;
    bt->nnames++;
    return 0;
}

static void names_remove(struct bucket_table *bt, struct bucket_entry *e)
{
    struct bucket_entry **link = &bt->names[name_hash(e->name, e->namelen, bt->names_cap)];
    while (*link && *link != e)
        link = &(*link)->next;
    if (*link) {
        *link = e->next;
        bt->nnames--;
    }
}

/* 1..255 bytes of well-formed UTF-8 (no overlong forms, no surrogates). */
static bool valid_name(const char *name, size_t *lenp)
{
    const uint8_t *s = (const uint8_t *)name;
    size_t len = strnlen(name, MAX_BUCKET_NAME + 1);
    if (len == 0 || len > MAX_BUCKET_NAME)
        return false;
    for (size_t i = 0; i < len;) {
        uint8_t c = s[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > len)
            return false;
        uint32_t cp = n == 1 ? c : (uint32_t)(c & (0x7f >> n));
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n;
    }
    *lenp = len;
    return true;
}

/* Make an entry for name (under the table lock). */
static int entry_new(larch_db *db, const char *name, size_t len, unsigned state, struct bucket_entry **out)
{
    struct bucket_table *bt = &db->buckets;
    uint32_t idx = bt->nfree ? bt->free_index[bt->nfree - 1] : bt->next_index;
    if (idx > BUCKET_MAX_INDEX)
        return error_detail(LARCH_BUCKETS_FULL, "%u buckets are in use in this handle: the most it can hold",
                            BUCKET_MAX_INDEX);
    _Atomic(struct bucket_entry *) *chunk = atomic_load(&bt->chunk[idx / BUCKET_CHUNK]);
    if (!chunk) {
        chunk = calloc(BUCKET_CHUNK, sizeof *chunk);
        if (!chunk)
            return ENOMEM;
        atomic_store(&bt->chunk[idx / BUCKET_CHUNK], chunk);
    }
    struct bucket_entry *e = calloc(1, sizeof *e);
    if (!e)
        return ENOMEM;
    e->handle = (larch_bucket)atomic_fetch_add(&next_serial, 1) << BUCKET_INDEX_BITS | idx;
    atomic_init(&e->state, state);
    e->namelen = (uint16_t)len;
    memcpy(e->name, name, len);
    if (names_add(bt, e)) {
        free(e);
        return ENOMEM;
    }
    if (bt->nfree)
        bt->nfree--;
    else
        bt->next_index++;
    atomic_store(&chunk[idx % BUCKET_CHUNK], e);
    *out = e;
    return 0;
}

/*
 * Free the retired entries no transaction can still be reading: those
 * retired before the commit that every open snapshot is newer than (a
 * transaction that began after an entry left the table cannot find it).
 * Writer only, with the table lock held.
 */
static void collect_limbo(larch_db *db)
{
    struct bucket_entry **link = &db->buckets.limbo;
    txnid_t oldest = *link ? db_oldest_snapshot(db) : 0;
    while (*link) {
        struct bucket_entry *e = *link;
        if (e->retired_at < oldest) {
            *link = e->next;
            free(e);
        } else {
            link = &e->next;
        }
    }
}

/* A bucket is gone (deleted by a commit, or its creation aborted): its
 * entry leaves the table and the name index, and its index is reused. */
static void entry_retire(larch_db *db, struct bucket_entry *e)
{
    struct bucket_table *bt = &db->buckets;
    uint32_t idx = BUCKET_INDEX(e->handle);
    pthread_mutex_lock(&bt->lock);
    atomic_store(&e->state, ENTRY_RETIRED);
    names_remove(bt, e);
    atomic_store(&atomic_load(&bt->chunk[idx / BUCKET_CHUNK])[idx % BUCKET_CHUNK], NULL);
    if (bt->nfree == bt->free_cap) {
        size_t cap = bt->free_cap ? bt->free_cap * 2 : 16;
        uint32_t *v = realloc(bt->free_index, cap * sizeof *v);
        if (v) {
            bt->free_index = v;
            bt->free_cap = cap;
        }
    }
    if (bt->nfree < bt->free_cap) /* else the index is simply not reused */
        bt->free_index[bt->nfree++] = idx;
    e->retired_at = db->versions->meta.txnid;
    e->next = bt->limbo;
    bt->limbo = e;
    pthread_mutex_unlock(&bt->lock);
}

/* The transaction's slot for a handle's index, growing the array. */
static int txn_slot(larch_txn *txn, uint32_t idx, struct txn_bucket **out)
{
    if (idx >= txn->nbk) {
        uint32_t cap = MAX(idx + 1, txn->nbk * 2);
        struct txn_bucket *v;
        if (txn->bk == txn->bk_inline) {
            v = malloc(cap * sizeof *v);
            if (v)
                memcpy(v, txn->bk, txn->nbk * sizeof *v);
        } else {
            v = realloc(txn->bk, cap * sizeof *v);
        }
        if (!v)
            return ENOMEM;
        memset(v + txn->nbk, 0, (cap - txn->nbk) * sizeof *v);
        txn->bk = v;
        txn->nbk = cap;
    }
    *out = &txn->bk[idx];
    return 0;
}

/* Make slot tb hold entry e's bucket with descriptor t, as loaded. */
static void slot_fill(struct txn_bucket *tb, struct bucket_entry *e, const struct tree *t)
{
    memset(tb, 0, sizeof *tb);
    tb->handle = e->handle;
    tb->state = TB_LOADED;
    tb->entry = e;
    tb->tree = tb->orig = *t;
}

static int catalog_get(larch_txn *txn, const void *name, size_t len, struct tree *t)
{
    larch_val v;
    int rc = bt_get(txn, &txn->meta.trees[TREE_CATALOG], name, len, &v);
    return rc ? rc : catalog_record_decode(v.data, v.size, txn->meta.npages, t);
}

/* Load entry e's bucket into the transaction (a no-op if it already is). */
static int slot_load(larch_txn *txn, struct bucket_entry *e, struct txn_bucket **out)
{
    struct txn_bucket *tb;
    int rc = txn_slot(txn, BUCKET_INDEX(e->handle), &tb);
    if (rc)
        return rc;
    if (tb->handle != e->handle || tb->state != TB_LOADED) {
        struct tree t;
        rc = catalog_get(txn, e->name, e->namelen, &t);
        if (rc)
            return rc;
        slot_fill(tb, e, &t);
    }
    *out = tb;
    return 0;
}

/* Whether this transaction deleted the bucket behind handle b. */
static bool deleted_here(const larch_txn *txn, larch_bucket b)
{
    uint32_t idx = BUCKET_INDEX(b);
    return idx < txn->nbk && txn->bk[idx].handle == b && txn->bk[idx].state == TB_DELETED;
}

static int unknown_bucket(larch_bucket b)
{
    return error_detail(LARCH_INVALID, "bucket handle %llu names no bucket this transaction can see (deleted, of "
                                       "another handle, or made up)", (unsigned long long)b);
}

LARCH_INTERNAL int bucket_load(larch_txn *txn, larch_bucket b, struct tree **t)
{
    struct bucket_entry *e = entry_of(txn->db, b);
    if (!e || (atomic_load(&e->state) == ENTRY_PENDING && !txn->w) || deleted_here(txn, b))
        return unknown_bucket(b);
    struct txn_bucket *tb;
    int rc = slot_load(txn, e, &tb);
    if (rc == LARCH_NOTFOUND) /* not in this transaction's snapshot */
        return unknown_bucket(b);
    if (rc == 0)
        *t = &tb->tree;
    return rc;
}

/* An entry for name that this transaction may use, or a new one (table lock held). */
static int entry_for_name(larch_txn *txn, const char *name, size_t len, bool exists, struct bucket_entry **out)
{
    struct bucket_table *bt = &txn->db->buckets;
    struct bucket_entry *e = bt->names_cap ? bt->names[name_hash((const uint8_t *)name, len, bt->names_cap)] : NULL;
    for (; e; e = e->next) {
        unsigned st = atomic_load(&e->state);
        if (e->namelen != len || memcmp(e->name, name, len) || (st == ENTRY_PENDING && !txn->w) ||
            deleted_here(txn, e->handle))
            continue;
        *out = e;
        return 0;
    }
    return entry_new(txn->db, name, len, exists ? ENTRY_LIVE : ENTRY_PENDING, out);
}

static int create_bucket(larch_txn *txn, struct bucket_entry *e, unsigned flags)
{
    struct txn_bucket *tb;
    struct tree empty = { .flags = (flags & LARCH_LZ4) ? TREE_LZ4 : 0 };
    uint8_t rec[CATALOG_RECORD_SIZE];
    int rc = txn_slot(txn, BUCKET_INDEX(e->handle), &tb);
    if (rc)
        return rc;
    slot_fill(tb, e, &empty);
    tb->created = atomic_load(&e->state) == ENTRY_PENDING;
    txn->w->grows = true;
    catalog_record_encode(&tb->tree, rec);
    txn->mod_seq++;
    return bt_put(txn, &txn->meta.trees[TREE_CATALOG], e->name, e->namelen, rec, sizeof rec, LARCH_NOOVERWRITE);
}

static int bucket_open(larch_txn *txn, const char *name, unsigned flags, larch_bucket *b)
{
    size_t len;
    int rc = (flags & LARCH_CREATE) ? txn_writable(txn) : txn_usable(txn);
    if (rc)
        return rc;
    if (!name || !b)
        return error_detail(LARCH_INVALID, "larch_bucket_open: a NULL argument");
    if ((flags & ~(LARCH_CREATE | LARCH_LZ4)) || ((flags & LARCH_LZ4) && !(flags & LARCH_CREATE)))
        return error_detail(LARCH_INVALID, "larch_bucket_open: flags 0x%x (LARCH_CREATE, with or without LARCH_LZ4)",
                            flags);
    if (!valid_name(name, &len))
        return error_detail(LARCH_INVALID, "a bucket name is 1 to 255 bytes of well-formed UTF-8");
    if (txn->error)
        return txn->error;
    struct tree t;
    rc = catalog_get(txn, name, len, &t);
    if (rc == LARCH_NOTFOUND && !(flags & LARCH_CREATE))
        return error_detail(rc, "no bucket named \"%.*s\"", (int)MIN(len, (size_t)100), name);
    if (rc && rc != LARCH_NOTFOUND)
        return rc;
    bool exists = rc == 0;
    struct bucket_entry *e = NULL;
    pthread_mutex_lock(&txn->db->buckets.lock);
    rc = entry_for_name(txn, name, len, exists, &e);
    pthread_mutex_unlock(&txn->db->buckets.lock);
    if (rc)
        return rc;
    if (exists) {
        struct txn_bucket *tb;
        rc = slot_load(txn, e, &tb);
    } else {
        rc = create_bucket(txn, e, flags);
        if (rc && rc != ENOMEM)
            txn->error = rc;
    }
    if (rc == 0)
        *b = e->handle;
    return rc;
}

LARCH_API int larch_bucket_open(larch_txn *txn, const char *name, unsigned flags, larch_bucket *b)
{
    return api_result(bucket_open(txn, name, flags, b));
}

static int bucket_drop(larch_txn *txn, larch_bucket b, int delete_bucket)
{
    struct tree *t;
    int rc = txn_writable(txn);
    if (rc)
        return rc;
    if (b == 0 && delete_bucket)
        return error_detail(LARCH_INVALID, "bucket 0 can be emptied, not deleted");
    if (txn->error)
        return txn->error;
    rc = txn_tree(txn, b, &t);
    if (rc)
        return rc;
    txn->mod_seq++;
    rc = bt_free_tree(txn, t);
    if (rc == 0 && delete_bucket && t->dict_pgno) {
        rc = page_free(txn, t->dict_pgno, (unsigned)dict_run_pages(t->dict_size, txn->page_size));
        t->dict_pgno = 0;
        t->dict_size = 0;
    }
    if (rc == 0 && delete_bucket) {
        struct txn_bucket *tb = &txn->bk[BUCKET_INDEX(b)];
        rc = bt_del(txn, &txn->meta.trees[TREE_CATALOG], tb->entry->name, tb->entry->namelen);
        tb->state = TB_DELETED;
    }
    if (rc)
        txn->error = rc;
    return rc;
}

LARCH_API int larch_bucket_drop(larch_txn *txn, larch_bucket b, int delete_bucket)
{
    return api_result(bucket_drop(txn, b, delete_bucket));
}

static int bucket_next(larch_txn *txn, const char *after, larch_val *name)
{
    struct path path;
    bool exact = false;
    int rc = txn_usable(txn);
    if (rc)
        return rc;
    if (!name)
        return error_detail(LARCH_INVALID, "larch_bucket_next: name is NULL");
    if (txn->error)
        return txn->error;
    struct tree *cat = &txn->meta.trees[TREE_CATALOG];
    if (!after || !*after) {
        rc = bt_edge(txn, cat, &path, false);
    } else {
        size_t len = strnlen(after, MAX_BUCKET_NAME + 1);
        if (len > MAX_BUCKET_NAME)
            len = MAX_BUCKET_NAME + 1; /* sorts after every name of that prefix */
        rc = bt_descend(txn, cat, (const uint8_t *)after, len, &path, &exact);
        if (rc == 0 && path.depth == 0)
            rc = LARCH_NOTFOUND;
        if (rc == 0 && (exact || path.idx[path.depth - 1] >= pg_nkeys(path.page[path.depth - 1])))
            rc = bt_step(txn, cat, &path, true);
    }
    if (rc)
        return rc;
    return bt_read_entry(txn, cat, path.page[path.depth - 1], path.idx[path.depth - 1], name, NULL);
}

LARCH_API int larch_bucket_next(larch_txn *txn, const char *after, larch_val *name)
{
    return api_result(bucket_next(txn, after, name));
}

static int bucket_sequence(larch_txn *txn, larch_bucket b, uint64_t *next)
{
    struct tree *t;
    int rc = txn_writable(txn);
    if (rc)
        return rc;
    if (!next)
        return error_detail(LARCH_INVALID, "larch_bucket_sequence: next is NULL");
    if (txn->error)
        return txn->error;
    rc = txn_tree(txn, b, &t);
    if (rc == 0)
        *next = ++t->sequence;
    return rc;
}

LARCH_API int larch_bucket_sequence(larch_txn *txn, larch_bucket b, uint64_t *next)
{
    return api_result(bucket_sequence(txn, b, next));
}

LARCH_API int larch_bucket_set_sequence(larch_txn *txn, larch_bucket b, uint64_t value)
{
    struct tree *t;
    int rc = txn_writable(txn);
    if (rc == 0 && txn->error)
        rc = txn->error;
    if (rc == 0)
        rc = txn_tree(txn, b, &t);
    if (rc == 0)
        t->sequence = value;
    return api_result(rc);
}

LARCH_API int larch_stat(larch_txn *txn, larch_bucket b, struct larch_stat *st)
{
    struct tree *t;
    int rc = txn_usable(txn);
    if (rc == 0 && !st)
        rc = error_detail(LARCH_INVALID, "larch_stat: st is NULL");
    if (rc == 0)
        rc = txn_tree(txn, b, &t);
    if (rc)
        return api_result(rc);
    memset(st, 0, sizeof *st);
    st->page_size = txn->page_size;
    st->depth = t->depth;
    st->branch_pages = t->branch_pages;
    st->leaf_pages = t->leaf_pages;
    st->overflow_pages = t->overflow_pages;
    st->entries = t->entries;
    st->flags = (t->flags & TREE_LZ4) ? LARCH_LZ4 : 0;
    st->value_bytes = t->value_bytes;
    st->stored_bytes = t->stored_bytes;
    st->sequence = t->sequence;
    return 0;
}

LARCH_INTERNAL int bucket_commit(larch_txn *txn)
{
    uint8_t rec[CATALOG_RECORD_SIZE];
    for (uint32_t i = 1; i < txn->nbk; i++) {
        struct txn_bucket *tb = &txn->bk[i];
        if (tb->handle == 0 || tb->state != TB_LOADED || !memcmp(&tb->tree, &tb->orig, sizeof tb->tree))
            continue;
        catalog_record_encode(&tb->tree, rec);
        int rc = bt_put(txn, &txn->meta.trees[TREE_CATALOG], tb->entry->name, tb->entry->namelen, rec,
                        sizeof rec, 0);
        if (rc)
            return rc;
    }
    return 0;
}

LARCH_INTERNAL void bucket_txn_end(larch_txn *txn, bool committed)
{
    bool retired = false;
    for (uint32_t i = 1; i < txn->nbk; i++) {
        struct txn_bucket *tb = &txn->bk[i];
        if (!tb->handle)
            continue;
        bool deleted = tb->state == TB_DELETED;
        if ((tb->created && (!committed || deleted)) || (!tb->created && deleted && committed)) {
            entry_retire(txn->db, tb->entry);
            retired = true;
        } else if (tb->created) {
            atomic_store(&tb->entry->state, ENTRY_LIVE);
        }
    }
    if (txn->w && (retired || txn->db->buckets.limbo)) {
        pthread_mutex_lock(&txn->db->buckets.lock);
        collect_limbo(txn->db);
        pthread_mutex_unlock(&txn->db->buckets.lock);
    }
    if (txn->bk != txn->bk_inline)
        free(txn->bk);
    txn->bk = txn->bk_inline;
    txn->nbk = 0;
}
