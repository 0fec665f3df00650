/*
 * fuzz_ops.c - the input is a program of operations (put, del, get, cursor
 * moves and deletes, commit, abort, reopen, copy, bucket drop) over bucket 0
 * and a named LZ4 bucket, run against the engine and against a small model
 * in memory. Any difference between the two traps.
 */
#define _GNU_SOURCE
#include <larch.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXK 16
#define NB 2

#define EXPECT(c)                  \
    do {                           \
        if (!(c)) {                \
            fprintf(stderr, "fuzz_ops: %s at line %d\n", #c, __LINE__); \
            __builtin_trap();      \
        }                          \
    } while (0)

/* ---- the model: a sorted array per bucket, copied whole at commit ---------- */

struct ent {
    uint8_t k[MAXK];
    size_t kl;
    uint8_t *v;
    size_t vl;
};

struct model {
    struct ent *e;
    size_t n;
};

static int kcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static size_t lower(const struct model *m, const uint8_t *k, size_t kl, int *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (kcmp(m->e[mid].k, m->e[mid].kl, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < m->n && kcmp(m->e[lo].k, m->e[lo].kl, k, kl) == 0;
    return lo;
}

static void m_put(struct model *m, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    int found;
    size_t i = lower(m, k, kl, &found);
    if (!found) {
        m->e = realloc(m->e, (m->n + 1) * sizeof *m->e);
        memmove(m->e + i + 1, m->e + i, (m->n - i) * sizeof *m->e);
        m->n++;
        memcpy(m->e[i].k, k, kl);
        m->e[i].kl = kl;
    } else {
        free(m->e[i].v);
    }
    m->e[i].v = malloc(vl ? vl : 1);
    memcpy(m->e[i].v, v, vl);
    m->e[i].vl = vl;
}

static int m_del(struct model *m, const uint8_t *k, size_t kl)
{
    int found;
    size_t i = lower(m, k, kl, &found);
    if (found) {
        free(m->e[i].v);
        memmove(m->e + i, m->e + i + 1, (m->n - i - 1) * sizeof *m->e);
        m->n--;
    }
    return found;
}

static void m_clear(struct model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].v);
    free(m->e);
    m->e = NULL;
    m->n = 0;
}

static void m_copy(struct model *d, const struct model *s)
{
    m_clear(d);
    d->e = malloc((s->n + 1) * sizeof *d->e);
    d->n = s->n;
    for (size_t i = 0; i < s->n; i++) {
        d->e[i] = s->e[i];
        d->e[i].v = malloc(s->e[i].vl ? s->e[i].vl : 1);
        memcpy(d->e[i].v, s->e[i].v, s->e[i].vl);
    }
}

/* ---- the program -------------------------------------------------------------- */

struct prog {
    const uint8_t *p;
    size_t n, at;
};

static unsigned next(struct prog *g) { return g->at < g->n ? g->p[g->at++] : 0; }

static size_t read_key(struct prog *g, uint8_t *k)
{
    size_t kl = 1 + next(g) % 4; /* short keys from a small alphabet: many collisions */
    for (size_t i = 0; i < kl; i++)
        k[i] = "ab\0\xff"[next(g) % 4];
    return kl;
}

static size_t read_value(struct prog *g, uint8_t *v)
{
    unsigned c = next(g);
    size_t vl = c < 200 ? c : c < 250 ? 1000 + (size_t)(c - 200) * 60 : 9000;
    unsigned seed = next(g);
    for (size_t i = 0; i < vl; i++)
        v[i] = (uint8_t)(seed & 1 ? (uint8_t)"{\"k\":1}"[i % 7] : (uint8_t)(seed + i * 31));
    return vl;
}

/* larch_check must find what txn sees sound; its messages are printed if not. */
static void expect_sound(larch_txn *txn, larch_check_report *rep)
{
    if (larch_check(txn, rep) != 0)
        for (unsigned i = 0; i < rep->nmessages; i++)
            fprintf(stderr, "fuzz_ops: check: %s\n", rep->message[i]);
    EXPECT(rep->problems == 0);
}

/* Every commit leaves a sound file: each page in a tree or a free record. */
static void check_last_commit(larch_db *db)
{
    larch_txn *r;
    larch_check_report rep;
    EXPECT(larch_begin(db, LARCH_RDONLY, &r) == 0);
    expect_sound(r, &rep);
    larch_abort(r);
}

static void compare_all(larch_txn *txn, larch_bucket b, const struct model *m)
{
    larch_cursor *c;
    larch_val k, v;
    EXPECT(larch_cursor_open(txn, b, &c) == 0);
    size_t i = 0;
    int rc;
    while ((rc = larch_cursor_get(c, &k, &v, LARCH_NEXT)) == 0) {
        EXPECT(i < m->n);
        EXPECT(kcmp(k.data, k.size, m->e[i].k, m->e[i].kl) == 0);
        EXPECT(v.size == m->e[i].vl && (v.size == 0 || !memcmp(v.data, m->e[i].v, v.size)));
        i++;
    }
    EXPECT(rc == LARCH_NOTFOUND && i == m->n);
    larch_cursor_close(c);
}

static char path[128], copy_path[140];

static larch_db *open_db(void)
{
    larch_db *db;
    larch_options o = { 0 };
    o.flags = LARCH_NOSYNC;
    o.page_size = 1024;
    EXPECT(larch_open(path, &o, &db) == 0);
    return db;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "%s/larch-fuzz-ops-%d.db", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm",
                 (int)getpid());
        snprintf(copy_path, sizeof copy_path, "%s.copy", path);
    }
    unlink(path);
    struct prog g = { data, size, 0 };
    struct model committed[NB] = { { 0 } }, work[NB] = { { 0 } };
    static uint8_t v[9001];
    uint8_t k[MAXK];
    larch_db *db = open_db();
    larch_txn *txn = NULL;
    larch_bucket h[NB] = { 0, 0 };
    larch_cursor *cur = NULL;

    EXPECT(larch_begin(db, 0, &txn) == 0);
    EXPECT(larch_bucket_open(txn, "z", LARCH_CREATE | LARCH_LZ4, &h[1]) == 0);
    EXPECT(larch_commit(txn) == 0);
    txn = NULL;
    for (int ops = 0; g.at < g.n && ops < 2000; ops++) {
        unsigned op = next(&g) % 13, bi = next(&g) % NB;
        larch_val kv, vv;
        int found, rc;
        if (!txn) {
            EXPECT(larch_begin(db, 0, &txn) == 0);
            for (int b = 0; b < NB; b++)
                m_copy(&work[b], &committed[b]);
        }
        switch (op) {
        case 0:
        case 1: { /* put, put NOOVERWRITE */
            size_t kl = read_key(&g, k), vl = read_value(&g, v);
            kv = (larch_val){ kl, k };
            vv = (larch_val){ vl, v };
            lower(&work[bi], k, kl, &found);
            rc = larch_put(txn, h[bi], &kv, &vv, op ? LARCH_NOOVERWRITE : 0);
            EXPECT(rc == (op && found ? LARCH_EXISTS : 0));
            if (!(op && found))
                m_put(&work[bi], k, kl, v, vl);
            break;
        }
        case 2: { /* del */
            size_t kl = read_key(&g, k);
            kv = (larch_val){ kl, k };
            rc = larch_del(txn, h[bi], &kv);
            EXPECT(rc == (m_del(&work[bi], k, kl) ? 0 : LARCH_NOTFOUND));
            break;
        }
        case 3: { /* get */
            size_t kl = read_key(&g, k);
            kv = (larch_val){ kl, k };
            size_t i = lower(&work[bi], k, kl, &found);
            rc = larch_get(txn, h[bi], &kv, &vv);
            EXPECT(rc == (found ? 0 : LARCH_NOTFOUND));
            if (found)
                EXPECT(vv.size == work[bi].e[i].vl && (!vv.size || !memcmp(vv.data, work[bi].e[i].v, vv.size)));
            break;
        }
        case 4: /* commit */
            EXPECT(larch_commit(txn) == 0);
            check_last_commit(db);
            txn = NULL;
            for (int b = 0; b < NB; b++)
                m_copy(&committed[b], &work[b]);
            break;
        case 5: /* abort */
            larch_abort(txn);
            txn = NULL;
            break;
        case 6: /* reopen: the committed state must come back */
            if (cur)
                larch_cursor_close(cur);
            cur = NULL;
            larch_abort(txn);
            txn = NULL;
            larch_close(db);
            db = open_db();
            EXPECT(larch_begin(db, LARCH_RDONLY, &txn) == 0);
            EXPECT(larch_bucket_open(txn, "z", 0, &h[1]) == 0);
            for (int b = 0; b < NB; b++)
                compare_all(txn, h[b], &committed[b]);
            larch_abort(txn);
            txn = NULL;
            break;
        case 7: { /* copy (plain or compact) of the last commit, compared with it */
            larch_db *c;
            larch_txn *ct;
            larch_bucket cz;
            larch_options o = { 0 };
            o.flags = LARCH_RDONLY;
            unlink(copy_path);
            EXPECT(larch_copy(db, copy_path, bi ? LARCH_COPY_COMPACT : 0) == 0);
            EXPECT(larch_open(copy_path, &o, &c) == 0);
            EXPECT(larch_begin(c, LARCH_RDONLY, &ct) == 0);
            EXPECT(larch_bucket_open(ct, "z", 0, &cz) == 0);
            compare_all(ct, 0, &committed[0]);
            compare_all(ct, cz, &committed[1]);
            larch_check_report rep;
            EXPECT(larch_check(ct, &rep) == 0);
            larch_abort(ct);
            larch_close(c);
            unlink(copy_path);
            break;
        }
        case 8: /* empty a bucket */
            EXPECT(larch_bucket_drop(txn, h[bi], 0) == 0);
            m_clear(&work[bi]);
            break;
        case 9: { /* cursor: seek, then steps; deletes under it */
            size_t kl = read_key(&g, k);
            if (cur)
                larch_cursor_close(cur);
            EXPECT(larch_cursor_open(txn, h[bi], &cur) == 0);
            kv = (larch_val){ kl, k };
            size_t i = lower(&work[bi], k, kl, &found);
            rc = larch_cursor_get(cur, &kv, &vv, LARCH_SEEK);
            EXPECT(rc == (i < work[bi].n ? 0 : LARCH_NOTFOUND));
            for (unsigned s = next(&g) % 8; rc == 0 && s > 0; s--) {
                EXPECT(kcmp(kv.data, kv.size, work[bi].e[i].k, work[bi].e[i].kl) == 0);
                if (next(&g) % 3 == 0) {
                    EXPECT(larch_cursor_del(cur) == 0);
                    m_del(&work[bi], work[bi].e[i].k, work[bi].e[i].kl);
                    rc = larch_cursor_get(cur, &kv, &vv, LARCH_NEXT);
                    EXPECT(rc == (i < work[bi].n ? 0 : LARCH_NOTFOUND));
                } else {
                    rc = larch_cursor_get(cur, &kv, &vv, LARCH_NEXT);
                    EXPECT(rc == (i + 1 < work[bi].n ? 0 : LARCH_NOTFOUND));
                    i++;
                }
            }
            larch_cursor_close(cur);
            cur = NULL;
            break;
        }
        case 10: /* compare everything the txn sees */
            for (int b = 0; b < NB; b++)
                compare_all(txn, h[b], &work[b]);
            break;
        case 11: { /* a reader beside the writer sees the last commit */
            larch_txn *r;
            EXPECT(larch_begin(db, LARCH_RDONLY, &r) == 0);
            for (int b = 0; b < NB; b++)
                compare_all(r, h[b], &committed[b]);
            larch_abort(r);
            break;
        }
        default: { /* the check, inside the write txn */
            larch_check_report rep;
            expect_sound(txn, &rep);
            break;
        }
        }
    }
    if (cur)
        larch_cursor_close(cur);
    if (txn)
        larch_abort(txn);
    larch_close(db);
    for (int b = 0; b < NB; b++) {
        m_clear(&committed[b]);
        m_clear(&work[b]);
    }
    unlink(path);
    return 0;
}
