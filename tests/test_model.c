/*
 * test_model.c - the randomized model-based test of the engine.
 *
 * Thousands of random puts (plain, NOOVERWRITE, APPEND), deletes (by key
 * and through cursors), gets and scans over many transactions, committed or
 * aborted at random, with keys of every length up to the maximum and values
 * from empty to many pages. After every transaction the whole database is
 * compared with the in-memory model; now and then the file is closed and
 * reopened, and a long-lived reader must keep seeing its snapshot.
 */
#include "model.h"
#include "pagewalk.h"

#include <time.h>
#include <unistd.h>

struct run {
    rng_t r;
    larch_db *db;
    const char *path;
    larch_options opts;
    size_t maxk;
    uint32_t ps;
    bool long_stems; /* keys as key_for makes them with long_stems */
    uint64_t vcounter;
    int ops;
};

static const uint8_t alphabet[4] = { 0x00, 0x61, 0x62, 0xff };

/*
 * Keys that share long prefixes, as paths and composite keys do: one of
 * four stems (60 bytes in common, then 40 to 190 of their own) and a short
 * tail, or now and then a run of the common bytes alone, shorter than the
 * stems. Branch pages then keep long prefixes, which keys at either end of
 * a page shorten (the page laid out anew, or split when it no longer fits),
 * and merges join pages whose prefixes differ.
 */
static size_t stem_key_for(rng_t *r, size_t maxk, uint8_t *buf)
{
    size_t len;
    if (rng_below(r, 100) < 3) {
        len = 1 + rng_below(r, 80);
        memset(buf, 'p', MIN(len, maxk));
        return MIN(len, maxk);
    }
    unsigned stem = (unsigned)rng_below(r, 4);
    size_t own = 40 + 50 * stem, tail = 1 + rng_below(r, 6);
    len = MIN(60 + own + tail, maxk);
    for (size_t i = 0; i < len; i++)
        buf[i] = i < 60 ? 'p' : i < 60 + own ? (uint8_t)('a' + stem) : alphabet[rng_below(r, 4)];
    return len;
}

/* Key number id, deterministically: short ones mostly, some at the maximum. */
static size_t key_for(uint64_t id, size_t maxk, uint8_t *buf, bool long_stems)
{
    rng_t r = { id * 7919 + 17 };
    if (long_stems)
        return stem_key_for(&r, maxk, buf);
    uint64_t c = rng_below(&r, 100);
    size_t len = c < 60 ? 1 + rng_below(&r, 8)
               : c < 90 ? 1 + rng_below(&r, 40)
               : c < 97 ? 1 + rng_below(&r, 300)
                        : maxk - rng_below(&r, 3);
    if (len > maxk)
        len = maxk;
    for (size_t i = 0; i < len; i++)
        buf[i] = alphabet[rng_below(&r, 4)];
    return len;
}

static size_t value_len(rng_t *r, uint32_t ps)
{
    uint64_t c = rng_below(r, 100);
    if (c < 25)
        return rng_below(r, 17);
    if (c < 65)
        return 16 + rng_below(r, 200);
    if (c < 85)
        return 200 + rng_below(r, ps); /* around the inline limit */
    if (c < 97)
        return ps + rng_below(r, 5 * ps);
    return 20000 + rng_below(r, 50000);
}

static void do_put(struct run *t, larch_txn *txn, struct model *m)
{
    uint8_t kb[LARCH_MAX_KEY_SIZE];
    size_t kl = key_for(rng_below(&t->r, 3000), t->maxk, kb, t->long_stems);
    size_t vl = value_len(&t->r, t->ps);
    uint64_t vs = ++t->vcounter * 1000003;
    uint8_t *vb = malloc(vl + 1);
    value_fill(vb, vs, vl);
    larch_val k = val_of(kb, kl), v = val_of(vb, vl);
    bool found;
    model_lower(m, kb, kl, &found);
    if (rng_below(&t->r, 5) == 0) {
        int rc = larch_put(txn, 0, &k, &v, LARCH_NOOVERWRITE);
        CHECK_RC(rc, found ? LARCH_EXISTS : 0);
        if (!found)
            model_put(m, kb, kl, vs, vl);
    } else {
        CHECK_OK(larch_put(txn, 0, &k, &v, 0));
        model_put(m, kb, kl, vs, vl);
    }
    free(vb);
}

static void do_append(struct run *t, larch_txn *txn, struct model *m)
{
    uint8_t kb[LARCH_MAX_KEY_SIZE];
    size_t kl;
    if (m->n == 0)
        return;
    const struct mkv *last = &m->a[m->n - 1];
    bool in_order = rng_below(&t->r, 4) != 0;
    if (in_order) {
        if (last->kl >= t->maxk)
            return;
        memcpy(kb, last->k, last->kl);
        kb[last->kl] = (uint8_t)rng_below(&t->r, 256);
        kl = last->kl + 1;
    } else {
        const struct mkv *e = &m->a[rng_below(&t->r, m->n)];
        memcpy(kb, e->k, e->kl);
        kl = e->kl;
    }
    size_t vl = rng_below(&t->r, 300);
    uint64_t vs = ++t->vcounter * 1000003;
    uint8_t vb[300];
    value_fill(vb, vs, vl);
    larch_val k = val_of(kb, kl), v = val_of(vb, vl);
    CHECK_RC(larch_put(txn, 0, &k, &v, LARCH_APPEND), in_order ? 0 : LARCH_INVALID);
    if (in_order)
        model_put(m, kb, kl, vs, vl);
}

/*
 * A run of ascending puts after the last key, as a sequential load makes:
 * they take the writer's tail path (put_at_tail) until a leaf fills. The
 * run starts from the last key with a counter after it, or from a key
 * made greater by raising one of its bytes (so the leaf's prefix must
 * shrink); some puts use APPEND, some values are long or empty.
 */
static void do_run(struct run *t, larch_txn *txn, struct model *m)
{
    uint8_t base[LARCH_MAX_KEY_SIZE], kb[LARCH_MAX_KEY_SIZE];
    size_t bl = 0;
    if (m->n) {
        const struct mkv *last = &m->a[m->n - 1];
        bl = last->kl;
        memcpy(base, last->k, bl);
        size_t at = bl ? rng_below(&t->r, bl) : 0;
        if (bl && rng_below(&t->r, 3) == 0 && base[at] != 0xff) {
            base[at]++; /* greater than the last key, sharing only at bytes */
            bl = at + 1;
        }
    }
    if (bl + 2 > t->maxk)
        bl = 0; /* no room for the counter: a fresh, small base */
    if (bl == 0) {
        base[0] = 0xff;
        bl = 1;
        if (m->n && (m->a[m->n - 1].kl > 1 || m->a[m->n - 1].k[0] == 0xff))
            return; /* cannot sort after the last key that way */
    }
    unsigned count = 1 + (unsigned)rng_below(&t->r, 40); /* the model grows with every run */
    for (unsigned i = 0; i < count && i < 0x10000; i++) {
        memcpy(kb, base, bl);
        kb[bl] = (uint8_t)(i >> 8);
        kb[bl + 1] = (uint8_t)i;
        size_t kl = bl + 2;
        uint64_t c = rng_below(&t->r, 100);
        size_t vl = c < 80 ? rng_below(&t->r, 120) : c < 95 ? rng_below(&t->r, t->ps / 2) : t->ps + rng_below(&t->r, t->ps);
        uint64_t vs = ++t->vcounter * 1000003;
        uint8_t *vb = malloc(vl + 1);
        value_fill(vb, vs, vl);
        larch_val k = val_of(kb, kl), v = val_of(vb, vl);
        CHECK_OK(larch_put(txn, 0, &k, &v, rng_below(&t->r, 2) ? LARCH_APPEND : 0));
        model_put(m, kb, kl, vs, vl);
        free(vb);
        if (rng_below(&t->r, 50) == 0) { /* an APPEND out of order is refused */
            CHECK_RC(larch_put(txn, 0, &k, &v, LARCH_APPEND), LARCH_INVALID);
        }
    }
}

static void do_del(struct run *t, larch_txn *txn, struct model *m)
{
    uint8_t kb[LARCH_MAX_KEY_SIZE];
    size_t kl;
    if (m->n && rng_below(&t->r, 10) < 7) {
        const struct mkv *e = &m->a[rng_below(&t->r, m->n)];
        kl = e->kl;
        memcpy(kb, e->k, kl);
    } else {
        kl = key_for(rng_below(&t->r, 3000), t->maxk, kb, t->long_stems);
    }
    larch_val k = val_of(kb, kl);
    bool had = model_del(m, kb, kl);
    CHECK_RC(larch_del(txn, 0, &k), had ? 0 : LARCH_NOTFOUND);
}

/* Walk from a random place, deleting some entries under the cursor. */
static void do_cursor_walk(struct run *t, larch_txn *txn, struct model *m)
{
    uint8_t kb[LARCH_MAX_KEY_SIZE];
    larch_cursor *c;
    larch_val k, v;
    size_t kl = key_for(rng_below(&t->r, 3000), t->maxk, kb, t->long_stems);
    bool found;
    size_t i = model_lower(m, kb, kl, &found);
    bool forward = rng_below(&t->r, 2);
    CHECK_OK(larch_cursor_open(txn, 0, &c));
    k = val_of(kb, kl);
    int rc = larch_cursor_get(c, &k, &v, LARCH_SEEK);
    if (i == m->n) {
        CHECK_RC(rc, LARCH_NOTFOUND);
        larch_cursor_close(c);
        return;
    }
    CHECK_OK(rc);
    for (int steps = (int)rng_below(&t->r, 30); steps > 0; steps--) {
        CHECK_MSG(k.size == m->a[i].kl && !memcmp(k.data, m->a[i].k, k.size), "cursor walk: wrong key at %zu", i);
        if (rng_below(&t->r, 5) == 0) {
            CHECK_OK(larch_cursor_del(c));
            CHECK_RC(larch_cursor_get(c, &k, &v, LARCH_CURRENT), LARCH_NOTFOUND);
            model_del(m, m->a[i].k, m->a[i].kl);
            if (forward) {
                rc = larch_cursor_get(c, &k, &v, LARCH_NEXT);
                if (i == m->n) {
                    CHECK_RC(rc, LARCH_NOTFOUND);
                    break;
                }
            } else {
                rc = larch_cursor_get(c, &k, &v, LARCH_PREV);
                if (i == 0) {
                    CHECK_RC(rc, LARCH_NOTFOUND);
                    break;
                }
                i--;
            }
            CHECK_OK(rc);
            continue;
        }
        /* Sometimes change the tree elsewhere under the cursor's feet. */
        if (rng_below(&t->r, 6) == 0) {
            do_put(t, txn, m);
            bool still;
            CHECK_OK(larch_cursor_get(c, &k, &v, LARCH_CURRENT));
            i = model_lower(m, k.data, k.size, &still);
            CHECK(still);
        }
        rc = larch_cursor_get(c, &k, &v, forward ? LARCH_NEXT : LARCH_PREV);
        if (forward ? i + 1 == m->n : i == 0) {
            CHECK_RC(rc, LARCH_NOTFOUND);
            break;
        }
        CHECK_OK(rc);
        i = forward ? i + 1 : i - 1;
    }
    larch_cursor_close(c);
}

static void reopen(struct run *t)
{
    pagewalk_audit(t->db, NULL);
    larch_close(t->db);
    CHECK_OK(larch_open(t->path, &t->opts, &t->db));
}

static void run_model(uint64_t seed, uint32_t page_size, int ntxn, bool long_stems)
{
    struct run t = { .r = { seed }, .long_stems = long_stems };
    struct model m = { 0 }, work = { 0 }, snap = { 0 };
    larch_txn *reader = NULL;
    t.path = test_path("model.db");
    unlink(t.path);
    t.opts.page_size = page_size;
    t.ps = page_size;
    t.opts.flags = LARCH_NOSYNC; /* durability is the crash test's job; keep this one fast */
    CHECK_OK(larch_open(t.path, &t.opts, &t.db));
    t.maxk = larch_max_key_size(t.db);
    rng_t vr = { seed ^ 0x55 };

    for (int n = 0; n < ntxn; n++) {
        larch_txn *txn;
        CHECK_OK(larch_begin(t.db, 0, &txn));
        model_copy(&work, &m);
        int nops = 1 + (int)rng_below(&t.r, 60);
        for (int o = 0; o < nops; o++) {
            uint64_t c = rng_below(&t.r, 100);
            if (c < 60)
                do_put(&t, txn, &work);
            else if (c < 65)
                do_append(&t, txn, &work);
            else if (c < 80)
                do_del(&t, txn, &work);
            else if (c < 90)
                do_cursor_walk(&t, txn, &work);
            else if (c < 92)
                model_verify(txn, 0, &work, &vr);
            else if (c < 94)
                do_run(&t, txn, &work);
            t.ops++;
        }
        if (rng_below(&t.r, 100) < 85) {
            CHECK_OK(larch_commit(txn));
            model_copy(&m, &work);
        } else {
            larch_abort(txn);
        }
        larch_txn *check;
        CHECK_OK(larch_begin(t.db, LARCH_RDONLY, &check));
        model_verify(check, 0, &m, &vr);
        larch_abort(check);

        if (n == ntxn / 4) { /* a long-lived reader from here to the middle */
            CHECK_OK(larch_begin(t.db, LARCH_RDONLY, &reader));
            model_copy(&snap, &m);
        }
        if (reader && n % 10 == 0)
            model_verify(reader, 0, &snap, &vr);
        if (reader && n == ntxn / 2) {
            model_verify(reader, 0, &snap, &vr);
            larch_abort(reader);
            reader = NULL;
        }
        if (!reader && n % 40 == 39)
            reopen(&t);
    }
    reopen(&t);
    larch_txn *check;
    CHECK_OK(larch_begin(t.db, LARCH_RDONLY, &check));
    model_verify(check, 0, &m, &vr);
    larch_abort(check);
    larch_close(t.db);
    printf("    %d ops in %d txns, %zu keys at the end, page size %u\n", t.ops, ntxn, m.n, page_size);
    model_free(&m);
    model_free(&work);
    model_free(&snap);
}

TEST(model, pages_4k)
{
    int rounds = test_long() ? 20 : 3;
    for (int i = 0; i < rounds; i++)
        run_model(test_seed("model 4k", 1000 + (uint64_t)i), 4096, 300, false);
}

TEST(model, pages_1k)
{
    int rounds = test_long() ? 20 : 3;
    for (int i = 0; i < rounds; i++)
        run_model(test_seed("model 1k", 2000 + (uint64_t)i), 1024, 300, false);
}

TEST(model, pages_64k)
{
    run_model(test_seed("model 64k", 3000), 65536, 200, false);
}

TEST(model, keys_with_long_shared_prefixes)
{
    int rounds = test_long() ? 10 : 2;
    for (int i = 0; i < rounds; i++)
        run_model(test_seed("model stems", 4000 + (uint64_t)i), i % 2 ? 2048 : 1024, 300, true);
}

TEST(model, random_seed)
{
    /* A new seed every run widens what CI explores over time; it is printed. */
    run_model(test_seed("model random", (uint64_t)time(NULL)), 2048, 300, false);
}

/* ---- Several buckets at once --------------------------------------------- */

#define NAMES 5

struct bucket_model {
    bool exists, lz4;
    larch_bucket h;
    struct model m;
};

struct world {
    struct bucket_model b[NAMES + 1]; /* [NAMES] is bucket 0 */
};

static void world_copy(struct world *dst, const struct world *src)
{
    for (int i = 0; i <= NAMES; i++) {
        struct model keep = dst->b[i].m;
        dst->b[i] = src->b[i];
        dst->b[i].m = keep;
        model_copy(&dst->b[i].m, &src->b[i].m);
    }
}

static void world_free(struct world *w)
{
    for (int i = 0; i <= NAMES; i++)
        model_free(&w->b[i].m);
}

static const char *bucket_name(int i)
{
    static const char *names[NAMES] = { "alpha", "beta", "gamma", "delta", "\xce\xb5psilon" };
    return names[i];
}

/* The handles of existing buckets, found again (after a reopen, say). */
static void world_rehandle(larch_db *db, struct world *w)
{
    larch_txn *txn;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    for (int i = 0; i < NAMES; i++)
        if (w->b[i].exists)
            CHECK_OK(larch_bucket_open(txn, bucket_name(i), 0, &w->b[i].h));
    larch_abort(txn);
    w->b[NAMES].exists = true;
    w->b[NAMES].h = 0;
}

static void world_verify(larch_txn *txn, const struct world *w, rng_t *vr)
{
    char after[300] = "";
    larch_val name;
    int listed = 0, existing = 0;
    while (larch_bucket_next(txn, after, &name) == 0) {
        memcpy(after, name.data, name.size);
        after[name.size] = 0;
        listed++;
    }
    for (int i = 0; i <= NAMES; i++) {
        if (!w->b[i].exists)
            continue;
        existing += i < NAMES;
        model_verify(txn, w->b[i].h, &w->b[i].m, vr);
        struct larch_stat st;
        CHECK_OK(larch_stat(txn, w->b[i].h, &st));
        CHECK(st.entries == w->b[i].m.n && (st.flags == LARCH_LZ4) == w->b[i].lz4);
    }
    CHECK_MSG(listed == existing, "bucket_next lists %d buckets, the model has %d", listed, existing);
}

static void run_buckets(uint64_t seed, uint32_t page_size, int ntxn)
{
    struct run t = { .r = { seed } };
    struct world w = { 0 }, work = { 0 };
    rng_t vr = { seed ^ 0x77 };
    t.path = test_path("buckets.db");
    unlink(t.path);
    t.opts.page_size = page_size;
    t.opts.flags = LARCH_NOSYNC;
    t.ps = page_size;
    CHECK_OK(larch_open(t.path, &t.opts, &t.db));
    t.maxk = larch_max_key_size(t.db);
    w.b[NAMES].exists = true;
    for (int n = 0; n < ntxn; n++) {
        larch_txn *txn;
        CHECK_OK(larch_begin(t.db, 0, &txn));
        world_copy(&work, &w);
        for (int o = 0, nops = 1 + (int)rng_below(&t.r, 60); o < nops; o++) {
            int i = (int)rng_below(&t.r, NAMES + 1);
            struct bucket_model *bm = &work.b[i];
            uint64_t c = rng_below(&t.r, 100);
            if (i < NAMES && !bm->exists) {
                if (c < 30) { /* create */
                    bm->lz4 = rng_below(&t.r, 2);
                    CHECK_OK(larch_bucket_open(txn, bucket_name(i), LARCH_CREATE | (bm->lz4 ? LARCH_LZ4 : 0),
                                               &bm->h));
                    bm->exists = true;
                } else {
                    larch_bucket h;
                    CHECK_RC(larch_bucket_open(txn, bucket_name(i), 0, &h), LARCH_NOTFOUND);
                }
                continue;
            }
            uint64_t rare = rng_below(&t.r, 1000);
            if (rare < 3 && i < NAMES) { /* delete */
                CHECK_OK(larch_bucket_drop(txn, bm->h, 1));
                bm->exists = false;
                model_free(&bm->m);
                continue;
            }
            if (rare >= 3 && rare < 6) { /* empty */
                CHECK_OK(larch_bucket_drop(txn, bm->h, 0));
                model_free(&bm->m);
                continue;
            }
            /* data ops in this bucket */
            uint8_t kb[LARCH_MAX_KEY_SIZE];
            size_t kl = key_for(rng_below(&t.r, 2000), t.maxk, kb, false);
            larch_val k = val_of(kb, kl), v;
            bool found;
            model_lower(&bm->m, kb, kl, &found);
            if (c < 70) {
                size_t vl = value_len(&t.r, t.ps);
                uint64_t vs = ++t.vcounter * 1000003;
                uint8_t *vb = malloc(vl + 1);
                value_fill(vb, vs, vl);
                v = val_of(vb, vl);
                CHECK_OK(larch_put(txn, bm->h, &k, &v, 0));
                model_put(&bm->m, kb, kl, vs, vl);
                free(vb);
            } else if (c < 90) {
                CHECK_RC(larch_del(txn, bm->h, &k), found ? 0 : LARCH_NOTFOUND);
                model_del(&bm->m, kb, kl);
            } else if (c < 97) {
                int rc = larch_get(txn, bm->h, &k, &v);
                CHECK_RC(rc, found ? 0 : LARCH_NOTFOUND);
            } else {
                model_verify(txn, bm->h, &bm->m, &vr);
            }
        }
        if (rng_below(&t.r, 100) < 85) {
            CHECK_OK(larch_commit(txn));
            world_copy(&w, &work);
        } else {
            larch_abort(txn);
            /* Handles of buckets created in the aborted txn are gone. */
            for (int i = 0; i < NAMES; i++)
                if (work.b[i].exists && !w.b[i].exists) {
                    larch_txn *r;
                    larch_val k = str_val("x"), v;
                    CHECK_OK(larch_begin(t.db, LARCH_RDONLY, &r));
                    CHECK_RC(larch_get(r, work.b[i].h, &k, &v), LARCH_INVALID);
                    larch_abort(r);
                }
        }
        larch_txn *check;
        CHECK_OK(larch_begin(t.db, LARCH_RDONLY, &check));
        world_verify(check, &w, &vr);
        larch_abort(check);
        if (n % 20 == 19)
            pagewalk_audit(t.db, NULL);
        if (n % 50 == 49) {
            larch_close(t.db);
            CHECK_OK(larch_open(t.path, &t.opts, &t.db));
            world_rehandle(t.db, &w);
        }
    }
    pagewalk_audit(t.db, NULL);
    larch_close(t.db);
    size_t total = 0;
    for (int i = 0; i <= NAMES; i++)
        total += w.b[i].m.n;
    printf("    %d txns over %d buckets, %zu keys at the end, page size %u\n", ntxn, NAMES + 1, total, page_size);
    world_free(&w);
    world_free(&work);
}

TEST(model, buckets)
{
    int rounds = test_long() ? 10 : 2;
    for (int i = 0; i < rounds; i++)
        run_buckets(test_seed("buckets", 4000 + (uint64_t)i), i % 2 ? 1024 : 4096, 250);
}

TEST(model, buckets_random_seed)
{
    run_buckets(test_seed("buckets random", (uint64_t)time(NULL) * 3), 2048, 250);
}
