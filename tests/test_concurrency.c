/*
 * test_concurrency.c - readers in several threads while a writer commits,
 * grows the file and remaps it. Readers check invariants that any torn or
 * reused page would break. Also run under ThreadSanitizer (make test-tsan).
 */
#include "pagewalk.h"

#include <pthread.h>
#include <stdatomic.h>

#define ACCOUNTS 200
#define START_BALANCE 1000

struct shared {
    larch_db *db;
    atomic_int done;
    atomic_long reads;
    atomic_int failures;
    int commits;
    uint64_t seed;
    larch_bucket bucket;
};

/*
 * Reader threads of a test. They run on the test's own memory, so a
 * failed check in the test's thread stops them (test_on_fail) before the
 * runner leaves the test's frame.
 */
struct readers {
    struct shared *s;
    pthread_t th[8];
    int n;
};

static void readers_stop(void *arg)
{
    struct readers *r = arg;
    atomic_store(&r->s->done, 1);
    for (int i = 0; i < r->n; i++)
        pthread_join(r->th[i], NULL);
    r->n = 0;
    test_on_fail(NULL, NULL);
}

static void readers_start(struct readers *r, struct shared *s, int count, void *(*fn)(void *))
{
    r->s = s;
    r->n = 0;
    CHECK(count <= (int)(sizeof r->th / sizeof r->th[0]));
    test_on_fail(readers_stop, r);
    for (; r->n < count; r->n++)
        CHECK(pthread_create(&r->th[r->n], NULL, fn, s) == 0);
}

static void fill_pattern(uint8_t *buf, size_t len, uint64_t id)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(id * 131 + i * 7);
}

static bool pattern_ok(const larch_val *v, uint64_t id)
{
    const uint8_t *p = v->data;
    for (size_t i = 0; i < v->size; i += 509)
        if (p[i] != (uint8_t)(id * 131 + i * 7))
            return false;
    return v->size == 0 || p[v->size - 1] == (uint8_t)(id * 131 + (v->size - 1) * 7);
}

/*
 * A reader thread's loop: a read txn at a time, handed to one_txn (which
 * counts what it finds wrong in s->failures), until the test says done.
 * state is the thread's own, kept across its txns.
 */
static void *read_until_done(struct shared *s, void (*one_txn)(struct shared *s, larch_txn *txn, void *state),
                             void *state)
{
    while (!atomic_load(&s->done)) {
        larch_txn *txn;
        if (larch_begin(s->db, LARCH_RDONLY, &txn)) {
            atomic_fetch_add(&s->failures, 1);
            return NULL;
        }
        one_txn(s, txn, state);
        larch_abort(txn);
        atomic_fetch_add(&s->reads, 1);
    }
    return NULL;
}

/* The accounts always sum to the same; fillers read back whole. */
static void bank_read(struct shared *s, larch_txn *txn, void *state)
{
    (void)state;
    larch_cursor *c;
    larch_val k, v;
    if (larch_cursor_open(txn, 0, &c)) {
        atomic_fetch_add(&s->failures, 1);
        return;
    }
    int64_t sum = 0;
    int accounts = 0, fillers = 0;
    k = str_val("acct");
    int rc = larch_cursor_get(c, &k, &v, LARCH_SEEK);
    for (; rc == 0 && k.size > 4 && !memcmp(k.data, "acct", 4); rc = larch_cursor_get(c, &k, &v, LARCH_NEXT)) {
        int64_t b;
        memcpy(&b, v.data, 8);
        sum += b;
        accounts++;
    }
    /* Fillers: large values spread over the file, read back whole. */
    k = str_val("fill");
    for (rc = larch_cursor_get(c, &k, &v, LARCH_SEEK); rc == 0 && fillers < 20;
         rc = larch_cursor_get(c, &k, &v, LARCH_NEXT), fillers++) {
        char digits[16] = { 0 };
        memcpy(digits, (const char *)k.data + 4, k.size - 4 < 15 ? k.size - 4 : 15);
        uint64_t id = strtoull(digits, NULL, 10);
        if (!pattern_ok(&v, id))
            atomic_fetch_add(&s->failures, 1);
    }
    if (sum != (int64_t)ACCOUNTS * START_BALANCE || accounts != ACCOUNTS) {
        fprintf(stderr, "reader saw %d accounts summing to %lld\n", accounts, (long long)sum);
        atomic_fetch_add(&s->failures, 1);
    }
    larch_cursor_close(c);
}

static void *bank_reader(void *arg) { return read_until_done(arg, bank_read, NULL); }

static void bank_writer(struct shared *s)
{
    rng_t r = { s->seed };
    uint8_t *big = malloc(256 * 1024);
    for (int n = 0; n < s->commits; n++) {
        larch_txn *txn;
        CHECK_OK(larch_begin(s->db, 0, &txn));
        for (int m = 0; m < 5; m++) {
            char a[16], b[16];
            snprintf(a, sizeof a, "acct%03d", (int)rng_below(&r, ACCOUNTS));
            snprintf(b, sizeof b, "acct%03d", (int)rng_below(&r, ACCOUNTS));
            larch_val ka = str_val(a), kb = str_val(b), va, vb;
            int64_t x, y, amount = (int64_t)rng_below(&r, 100);
            CHECK_OK(larch_get(txn, 0, &ka, &va));
            memcpy(&x, va.data, 8);
            x -= amount;
            larch_val nv = val_of(&x, 8);
            CHECK_OK(larch_put(txn, 0, &ka, &nv, 0));
            CHECK_OK(larch_get(txn, 0, &kb, &vb));
            memcpy(&y, vb.data, 8);
            y += amount;
            nv = val_of(&y, 8);
            CHECK_OK(larch_put(txn, 0, &kb, &nv, 0));
        }
        /* Grow the file: a filler of 4-100 KiB per commit; drop old ones now and then. */
        char fk[32];
        size_t len = 4096 + rng_below(&r, 100 * 1024);
        snprintf(fk, sizeof fk, "fill%08d", n);
        fill_pattern(big, len, (uint64_t)n);
        larch_val k = str_val(fk), v = val_of(big, len);
        CHECK_OK(larch_put(txn, 0, &k, &v, 0));
        if (n % 3 == 0 && n > 30) {
            snprintf(fk, sizeof fk, "fill%08d", n - 30);
            k = str_val(fk);
            CHECK_OK(larch_del(txn, 0, &k));
        }
        CHECK_OK(larch_commit(txn));
    }
    free(big);
}

static void run_bank(int readers, int commits, uint64_t seed)
{
    struct shared s = { .commits = commits, .seed = seed };
    s.db = test_open_nosync("bank.db");
    larch_txn *txn;
    CHECK_OK(larch_begin(s.db, 0, &txn));
    for (int i = 0; i < ACCOUNTS; i++) {
        char kb[16];
        int64_t b = START_BALANCE;
        snprintf(kb, sizeof kb, "acct%03d", i);
        larch_val k = str_val(kb), v = val_of(&b, 8);
        CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    }
    CHECK_OK(larch_commit(txn));
    struct readers r;
    readers_start(&r, &s, readers, bank_reader);
    bank_writer(&s);
    readers_stop(&r);
    printf("    %d commits, %ld consistent reader snapshots, file %llu MiB\n", commits,
           atomic_load(&s.reads), (unsigned long long)file_size_of(test_path("bank.db")) >> 20);
    CHECK(atomic_load(&s.failures) == 0);
    CHECK(atomic_load(&s.reads) > 0);
    pagewalk_audit(s.db, NULL);
    larch_close(s.db);
}

TEST(concurrency, readers_while_writer_grows_and_remaps)
{
    run_bank(3, test_long() ? 5000 : 600, test_seed("bank", 7));
}

/* Every commit rewrites all keys with its own number: a reader must never
 * see two numbers in one snapshot, nor go back in time. Pages are reused
 * as fast as possible, so a reader the writer overlooked would see them
 * overwritten. */
#define RACE_KEYS 64

/* All keys hold one counter, never lower than this thread saw before (*state). */
static void race_read(struct shared *s, larch_txn *txn, void *state)
{
    uint64_t *last = state, first = 0;
    for (int i = 0; i < RACE_KEYS; i++) {
        char kb[16];
        snprintf(kb, sizeof kb, "r%02d", i);
        larch_val k = str_val(kb), v;
        uint64_t x = 0;
        if (larch_get(txn, 0, &k, &v) == 0 && v.size >= 8)
            memcpy(&x, v.data, 8);
        else
            atomic_fetch_add(&s->failures, 1);
        if (i == 0)
            first = x;
        else if (x != first)
            atomic_fetch_add(&s->failures, 1);
    }
    if (first < *last)
        atomic_fetch_add(&s->failures, 1);
    *last = first;
}

static void *race_reader(void *arg)
{
    uint64_t last = 0;
    return read_until_done(arg, race_read, &last);
}

TEST(concurrency, snapshot_pick_races_page_reuse)
{
    struct shared s = { 0 };
    s.db = test_open_nosync("race.db");
    struct readers r;
    uint8_t val[300];
    memset(val, 'x', sizeof val);
    int commits = test_long() ? 20000 : 3000;
    for (uint64_t n = 1; n <= (uint64_t)commits; n++) {
        larch_txn *txn;
        CHECK_OK(larch_begin(s.db, 0, &txn));
        memcpy(val, &n, 8);
        for (int i = 0; i < RACE_KEYS; i++) {
            char kb[16];
            snprintf(kb, sizeof kb, "r%02d", i);
            larch_val k = str_val(kb), v = val_of(val, 100 + (n % 200));
            CHECK_OK(larch_put(txn, 0, &k, &v, 0));
        }
        CHECK_OK(larch_commit(txn));
        if (n == 1)
            readers_start(&r, &s, 3, race_reader);
    }
    readers_stop(&r);
    printf("    %d commits, %ld reader snapshots, file %llu KiB\n", commits, atomic_load(&s.reads),
           (unsigned long long)file_size_of(test_path("race.db")) >> 10);
    CHECK(atomic_load(&s.failures) == 0);
    struct walk_counts wc;
    pagewalk_audit(s.db, &wc);
    printf("    pages: %llu in the file, %llu in the tree, %llu free\n", (unsigned long long)wc.npages,
           (unsigned long long)wc.main_pages, (unsigned long long)wc.free_listed);
    larch_close(s.db);
}

/* An LZ4 value of key i, version ver: "k007 v000042;" repeated, 600-3,000 bytes. */
#define LZ4_KEYS 100
#define LZ4_UNIT 13

static size_t lz4_value(char *buf, int i, uint64_t ver)
{
    char unit[LZ4_UNIT + 1];
    snprintf(unit, sizeof unit, "k%03d v%06d;", i, (int)(ver % 1000000));
    size_t len = 600 + (size_t)((ver * 7 + (uint64_t)i * 131) % 2400);
    for (size_t n = 0; n < len; n++)
        buf[n] = unit[n % LZ4_UNIT];
    return len;
}

static bool lz4_value_ok(const larch_val *v, int i)
{
    const char *p = v->data;
    char head[6];
    snprintf(head, sizeof head, "k%03d ", i);
    if (v->size < 600 || v->size > 3000 || memcmp(p, head, 5) != 0)
        return false;
    for (size_t n = LZ4_UNIT; n < v->size; n++)
        if (p[n] != p[n % LZ4_UNIT])
            return false;
    return true;
}

/* Gets of LZ4 values; every value checked once the txn's last get is done. */
static void lz4_read(struct shared *s, larch_txn *txn, void *state)
{
    rng_t *r = state;
    larch_val got[60];
    int idx[60];
    for (int g = 0; g < 60; g++) {
        char kb[16];
        idx[g] = (int)rng_below(r, LZ4_KEYS);
        snprintf(kb, sizeof kb, "k%03d", idx[g]);
        larch_val k = str_val(kb);
        if (larch_get(txn, s->bucket, &k, &got[g]))
            got[g].size = 0;
    }
    for (int g = 0; g < 60; g++)
        if (!lz4_value_ok(&got[g], idx[g]))
            atomic_fetch_add(&s->failures, 1);
}

static void *lz4_reader(void *arg)
{
    rng_t r = { (uint64_t)(uintptr_t)&r };
    return read_until_done(arg, lz4_read, &r);
}

/*
 * Reader threads take whichever reader slot is free, and with it the
 * decompression memory the slot's last txn left (txn.c): values must stay
 * intact until their own txn ends, whichever thread had the slot before.
 * Under ThreadSanitizer this also checks the hand-over is ordered.
 */
TEST(concurrency, lz4_readers_hand_memory_between_threads)
{
    struct shared s = { 0 };
    s.db = test_open_nosync("lz4.db");
    larch_txn *txn;
    larch_bucket b;
    char buf[3100], kb[16];
    CHECK_OK(larch_begin(s.db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "z", LARCH_CREATE | LARCH_LZ4, &b));
    for (int i = 0; i < LZ4_KEYS; i++) {
        snprintf(kb, sizeof kb, "k%03d", i);
        larch_val k = str_val(kb), v = val_of(buf, lz4_value(buf, i, 0));
        CHECK_OK(larch_put(txn, b, &k, &v, 0));
    }
    CHECK_OK(larch_commit(txn));
    s.bucket = b;
    struct readers r;
    readers_start(&r, &s, 3, lz4_reader);
    rng_t w = { 11 };
    int commits = test_long() ? 3000 : 300;
    for (int n = 1; n <= commits; n++) {
        CHECK_OK(larch_begin(s.db, 0, &txn));
        for (int m = 0; m < 5; m++) {
            int i = (int)rng_below(&w, LZ4_KEYS);
            snprintf(kb, sizeof kb, "k%03d", i);
            larch_val k = str_val(kb), v = val_of(buf, lz4_value(buf, i, (uint64_t)n));
            CHECK_OK(larch_put(txn, b, &k, &v, 0));
        }
        CHECK_OK(larch_commit(txn));
    }
    readers_stop(&r);
    printf("    %d commits, %ld reader txns of 60 gets\n", commits, atomic_load(&s.reads));
    CHECK(atomic_load(&s.failures) == 0);
    CHECK(atomic_load(&s.reads) > 0);
    larch_close(s.db);
}

TEST(concurrency, many_readers_at_once)
{
    larch_db *db;
    db = test_open_nosync("many.db");
    larch_txn *w, *r[300];
    larch_val k = str_val("k"), v;
    CHECK_OK(larch_begin(db, 0, &w));
    CHECK_OK(larch_put(w, 0, &k, &k, 0));
    CHECK_OK(larch_commit(w));
    for (int i = 0; i < 300; i++) /* more than one chunk of reader slots */
        CHECK_OK(larch_begin(db, LARCH_RDONLY, &r[i]));
    CHECK_OK(larch_begin(db, 0, &w));
    CHECK_OK(larch_del(w, 0, &k));
    CHECK_OK(larch_commit(w));
    for (int i = 0; i < 300; i++) {
        CHECK_OK(larch_get(r[i], 0, &k, &v));
        larch_abort(r[i]);
    }
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &r[0]));
    CHECK_RC(larch_get(r[0], 0, &k, &v), LARCH_NOTFOUND);
    larch_abort(r[0]);
    larch_close(db);
}

/* Readers list and open buckets while the writer creates and deletes them. */
static void bucket_read(struct shared *s, larch_txn *txn, void *state)
{
    (void)state;
    char after[300] = "";
    larch_val name;
    while (larch_bucket_next(txn, after, &name) == 0) {
        memcpy(after, name.data, name.size);
        after[name.size] = 0;
        larch_bucket b;
        int rc = larch_bucket_open(txn, after, 0, &b);
        if (rc) { /* it is in this snapshot's catalog: opening must work */
            atomic_fetch_add(&s->failures, 1);
            continue;
        }
        larch_val k = str_val("k"), v;
        rc = larch_get(txn, b, &k, &v);
        /* INVALID only if a commit deleted it meanwhile (handles die with their bucket) */
        if (rc == 0 ? v.size != strlen(after) || memcmp(v.data, after, v.size) : rc != LARCH_INVALID)
            atomic_fetch_add(&s->failures, 1);
    }
}

static void *bucket_reader(void *arg) { return read_until_done(arg, bucket_read, NULL); }

TEST(concurrency, buckets_come_and_go_under_readers)
{
    struct shared s = { 0 };
    s.db = test_open_nosync("buckets.db");
    struct readers r;
    readers_start(&r, &s, 2, bucket_reader);
    int rounds = test_long() ? 5000 : 800;
    for (int n = 0; n < rounds; n++) {
        larch_txn *txn;
        larch_bucket b;
        char name[32];
        CHECK_OK(larch_begin(s.db, 0, &txn));
        snprintf(name, sizeof name, "b%05d", n);
        CHECK_OK(larch_bucket_open(txn, name, LARCH_CREATE | (n % 2 ? LARCH_LZ4 : 0), &b));
        larch_val k = str_val("k"), v = str_val(name);
        CHECK_OK(larch_put(txn, b, &k, &v, 0));
        if (n >= 10) { /* keep about ten */
            snprintf(name, sizeof name, "b%05d", n - 10);
            int rc = larch_bucket_open(txn, name, 0, &b); /* absent if its round aborted */
            CHECK(rc == 0 || ((n - 10) % 7 == 3 && rc == LARCH_NOTFOUND));
            if (rc == 0)
                CHECK_OK(larch_bucket_drop(txn, b, 1));
        }
        if (n % 7 == 3)
            larch_abort(txn);
        else
            CHECK_OK(larch_commit(txn));
    }
    readers_stop(&r);
    printf("    %d bucket generations, %ld reader passes\n", rounds, atomic_load(&s.reads));
    CHECK(atomic_load(&s.failures) == 0);
    pagewalk_audit(s.db, NULL);
    larch_close(s.db);
}
