/*
 * bench.c - larch against LMDB and SQLite, side by side, in one run.
 *
 * Every workload runs on every engine, several rounds, the engines taking
 * turns in an order that flips each round so neither always runs on a
 * warmer or colder machine. The report gives each engine's median ops/s,
 * the ratio larch/LMDB and the file sizes (see report.c).
 *
 * Keys are 16 bytes, the zero-padded decimal of an index 0..N-1, so index
 * order is key order; values are 100 bytes of random data unless a
 * workload says otherwise. Run with --help for the options.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define KEY_SIZE 16
#define VALUE_SIZE 100
#define BIG_VALUE_SIZE (16 * 1024)
#define JSON_VALUE_SIZE 1024
#define VALUE_POOL (4u << 20) /* random bytes values are cut from */
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- Options ---- */

struct config {
    uint64_t n;
    int rounds;
    int readers;        /* reader threads in readwhilewriting */
    const char *dir;
    const char *only;   /* comma-separated workload names, NULL: all */
    const char *engines;
    const char *svg;
    int csv;
    int settle; /* drop the page cache before each new file (see settle) */
    uint64_t seed;
};

/*
 * Five rounds: on the shared 2-core VM the bench was written on, the rounds
 * of one run spread by +-25% in both engines (bigvalues-read 664k-1,091k
 * gets/s), and a median of three still crossed 1.00x on workloads where
 * both engines do the same kernel work. For the same noise a median of
 * five spreads about sqrt(3/5) = 0.77 times as much as a median of three;
 * the run takes about 11 minutes instead of 7.5.
 */
static struct config cfg = { .n = 1000000, .rounds = 5, .readers = 2, .settle = 1, .seed = 42 };

_Noreturn void bench_fail(const char *engine, const char *what, const char *msg)
{
    fprintf(stderr, "bench: %s: %s: %s\n", engine, what, msg);
    exit(1);
}

/* ---- The data: keys, a random-order permutation, value bytes ---- */

static uint8_t *keys;         /* N keys of KEY_SIZE bytes, in key order */
static uint32_t *fill_order;  /* a random permutation of 0..N-1 */
static uint8_t *value_pool;   /* random bytes */
static uint8_t *json_pool;    /* JSON-like records of JSON_VALUE_SIZE bytes */
static uint64_t json_records;

static const uint8_t *key_at(uint64_t i) { return keys + i * KEY_SIZE; }

/*
 * A value of len bytes for operation i: the random pool's bytes in order,
 * as db_bench takes them. An earlier version jumped 7,919 bytes a value,
 * and the copy of each value missed the CPU's caches: half of a fillseq
 * put, in LMDB as in larch, was the harness (perf: 43-46% in that memcpy),
 * which hid the engines' own differences and added the VM's memory noise
 * to every write.
 */
static const uint8_t *value_for(uint64_t i, size_t len) { return value_pool + (i * len) % (VALUE_POOL - len); }

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/*
 * JSON-like records: the same field names in every record, values drawn
 * from small vocabularies and numbers, as application records are. Padded
 * with a description of random words to JSON_VALUE_SIZE bytes.
 */
static void make_json(uint8_t *out, uint64_t id, uint64_t *rng)
{
    static const char *const cities[] = { "Lisbon", "Oslo", "Nairobi", "Lima", "Osaka", "Tallinn", "Denver", "Hanoi" };
    static const char *const words[] = { "quick", "ledger", "orange", "signal", "harbor", "velvet", "pencil", "meadow",
                                         "copper", "lantern", "crystal", "thunder", "basket", "violet", "marble", "falcon" };
    char buf[JSON_VALUE_SIZE + 64];
    int len = snprintf(buf, sizeof buf,
                       "{\"id\":%llu,\"user\":\"user%06llu\",\"email\":\"user%06llu@example.com\",\"city\":\"%s\","
                       "\"age\":%llu,\"balance\":%llu.%02llu,\"active\":%s,\"tags\":[\"%s\",\"%s\"],\"bio\":\"",
                       (unsigned long long)id, (unsigned long long)(splitmix(rng) % 1000000),
                       (unsigned long long)(splitmix(rng) % 1000000), cities[splitmix(rng) % 8],
                       (unsigned long long)(18 + splitmix(rng) % 70), (unsigned long long)(splitmix(rng) % 100000),
                       (unsigned long long)(splitmix(rng) % 100), splitmix(rng) % 2 ? "true" : "false",
                       words[splitmix(rng) % 16], words[splitmix(rng) % 16]);
    /* The description: random words, appended without printf (fast to build). */
    while (len < JSON_VALUE_SIZE - 20) {
        const char *w = words[splitmix(rng) % 16];
        size_t wl = strlen(w);
        memcpy(buf + len, w, wl);
        buf[len + (int)wl] = ' ';
        len += (int)wl + 1;
    }
    memcpy(buf + len, "\"}", 2);
    len += 2;
    memset(buf + len, ' ', JSON_VALUE_SIZE - (size_t)len);
    memcpy(out, buf, JSON_VALUE_SIZE);
}

/* The key of index i: 16 decimal digits, zero-padded. */
static void format_key(uint8_t *out, uint64_t i)
{
    for (int d = KEY_SIZE - 1; d >= 0; d--, i /= 10)
        out[d] = (uint8_t)('0' + i % 10);
}

static void make_data(void)
{
    uint64_t rng = cfg.seed;
    keys = xmalloc(cfg.n * KEY_SIZE);
    for (uint64_t i = 0; i < cfg.n; i++)
        format_key(keys + i * KEY_SIZE, i);
    fill_order = xmalloc(cfg.n * sizeof *fill_order);
    for (uint64_t i = 0; i < cfg.n; i++)
        fill_order[i] = (uint32_t)i;
    for (uint64_t i = cfg.n; i > 1; i--) {
        uint64_t j = splitmix(&rng) % i;
        uint32_t t = fill_order[i - 1];
        fill_order[i - 1] = fill_order[j];
        fill_order[j] = t;
    }
    value_pool = xmalloc(VALUE_POOL);
    for (size_t i = 0; i < VALUE_POOL; i += 8) {
        uint64_t r = splitmix(&rng);
        memcpy(value_pool + i, &r, 8);
    }
}

static void make_json_pool(void)
{
    uint64_t rng = cfg.seed + 99;
    json_records = MAX(1, MIN(cfg.n / 5, 200000)); /* 200,000 at the default N */
    json_pool = xmalloc(json_records * JSON_VALUE_SIZE);
    for (uint64_t i = 0; i < json_records; i++)
        make_json(json_pool + i * JSON_VALUE_SIZE, i, &rng);
}

/* ---- Timing ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keeps the compiler from dropping reads whose results are not used. */
static volatile uint64_t sink;

/* ---- The workloads ---- */

enum workload {
    W_FILLSEQ, W_FILLSEQ_APPEND, W_FILLRANDOM, W_READRANDOM, W_READSEQ, W_READREVERSE, W_SEEKRANDOM,
    W_RWW_READ, W_RWW_WRITE, W_OVERWRITE, W_DELETERANDOM, W_FILLSYNC, W_BIG_WRITE, W_BIG_READ,
    W_JSON_WRITE, W_JSON_READ, W_COUNT
};

static struct bench_row rows[W_COUNT] = {
    [W_FILLSEQ] = { .name = "fillseq", .what = "ascending keys, 10,000 puts per txn" },
    [W_FILLSEQ_APPEND] = { .name = "fillseq-append", .what = "the same with the APPEND flag" },
    [W_FILLRANDOM] = { .name = "fillrandom", .what = "random keys, 1,000 puts per txn" },
    [W_READRANDOM] = { .name = "readrandom", .what = "point gets, 1,000 per read txn" },
    [W_READSEQ] = { .name = "readseq", .what = "a full cursor scan (entries/s)" },
    [W_READREVERSE] = { .name = "readreverse", .what = "a full backward scan (entries/s)" },
    [W_SEEKRANDOM] = { .name = "seekrandom", .what = "seek to a random key, read 10 entries" },
    [W_RWW_READ] = { .name = "rww-read", .what = "readwhilewriting: the readers' gets/s" },
    [W_RWW_WRITE] = { .name = "rww-write", .what = "readwhilewriting: the writer's overwrites/s (N/5 of them)" },
    [W_OVERWRITE] = { .name = "overwrite", .what = "random existing keys, 1,000 puts per txn" },
    [W_DELETERANDOM] = { .name = "deleterandom", .what = "half the keys, 1,000 deletes per txn" },
    [W_FILLSYNC] = { .name = "fillsync", .what = "one put per durable (fsync) commit", .has_latency = 1 },
    [W_BIG_WRITE] = { .name = "bigvalues-write", .what = "16 KiB values (N/10, <= 100,000), 100 per txn" },
    [W_BIG_READ] = { .name = "bigvalues-read", .what = "random gets of the 16 KiB values" },
    [W_JSON_WRITE] = { .name = "compress-write", .what = "1 KiB JSON values (N/5, <= 200,000); larch: LZ4 bucket" },
    [W_JSON_READ] = { .name = "compress-read", .what = "random gets of the JSON values" },
};

static int wanted(enum workload w)
{
    const char *p = cfg.only;
    size_t len = strlen(rows[w].name);
    if (!p)
        return 1;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && !strncmp(p, rows[w].name, n))
            return 1;
        /* a prefix such as "rww" or "bigvalues" names its rows together */
        if (n < len && !strncmp(p, rows[w].name, n) && rows[w].name[n] == '-')
            return 1;
        p += n + (end != NULL);
    }
    return 0;
}

static int tree_depth[BENCH_MAX_ENGINES]; /* after fillrandom */

/* What one engine's run of the suite needs to hand around. */
struct run {
    const struct bench_engine *e;
    int slot; /* column in the results */
    int round;
    char path[4096];
    void *db;
    void *s; /* the main thread's session */
};

static void record(struct run *r, enum workload w, double ops, double secs)
{
    struct bench_cell *c = &rows[w].cell[r->slot];
    if (!wanted(w))
        return;
    c->ops[r->round] = secs > 0 ? ops / secs : 0;
    c->n = r->round + 1;
}

static void record_size(struct run *r, enum workload w)
{
    rows[w].cell[r->slot].bytes[r->round] = r->e->file_bytes(r->path);
}

static void db_open(struct run *r, int sync, int compress)
{
    struct bench_open o = { sync, compress };
    if (r->e->open(r->path, &o, &r->db) || r->e->session_open(r->db, &r->s))
        bench_fail(r->e->name, "open", strerror(errno));
}

static void db_close(struct run *r)
{
    r->e->session_close(r->s);
    r->e->close(r->db);
    r->s = r->db = NULL;
}

/*
 * Engines share the kernel's page allocator: the page cache one engine
 * leaves behind (its folio sizes, how fragmented free memory is) changed
 * the next engine's write speed by up to 2x in one run. So before each new
 * file, flush dirty pages, drop the page cache and compact free memory,
 * where allowed (root); the report says whether it was.
 */
static int settle_state = -1; /* -1 not tried, 0 not allowed, 1 done */

static int write_proc(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void settle(void)
{
    if (settle_state == 0 || !cfg.settle)
        return;
    sync();
    int rc = write_proc("/proc/sys/vm/drop_caches", "3");
    if (rc == 0)
        rc = write_proc("/proc/sys/vm/compact_memory", "1");
    settle_state = rc == 0;
}

static void db_fresh(struct run *r, const char *name, int sync, int compress)
{
    snprintf(r->path, sizeof r->path, "%s/%s.%s", cfg.dir, r->e->name, name);
    r->e->remove(r->path);
    settle();
    db_open(r, sync, compress);
}

typedef const uint8_t *value_fn(uint64_t i, size_t len);

/* Puts count entries, key order[i] (or i) for the i-th, per_txn to a txn. */
static double fill(struct run *r, uint64_t count, const uint32_t *order, value_fn *value, size_t vlen,
                   uint64_t per_txn, int append)
{
    const struct bench_engine *e = r->e;
    double t0 = now();
    for (uint64_t i = 0; i < count; i += per_txn) {
        uint64_t end = i + per_txn < count ? i + per_txn : count;
        e->begin(r->s, 1);
        for (uint64_t j = i; j < end; j++) {
            uint64_t idx = order ? order[j] : j;
            e->put(r->s, key_at(idx), KEY_SIZE, value(j, vlen), vlen, append);
        }
        e->commit(r->s);
    }
    return now() - t0;
}

/* count random point gets of existing keys, per_txn to a read txn. */
static double read_random(const struct bench_engine *e, void *s, uint64_t count, uint64_t keyspace,
                          uint64_t per_txn, uint64_t seed, const uint8_t *(*key)(uint64_t))
{
    uint64_t rng = seed, sum = 0;
    double t0 = now();
    for (uint64_t i = 0; i < count; i += per_txn) {
        uint64_t end = i + per_txn < count ? i + per_txn : count;
        e->begin(s, 0);
        for (uint64_t j = i; j < end; j++) {
            const void *v;
            size_t vl;
            if (e->get(s, key(splitmix(&rng) % keyspace), KEY_SIZE, &v, &vl))
                bench_fail(e->name, "get", "a key written before is missing");
            sum += ((const uint8_t *)v)[0] + ((const uint8_t *)v)[vl - 1];
        }
        e->commit(s);
    }
    sink += sum;
    return now() - t0;
}

static void run_fillseq(struct run *r)
{
    if (wanted(W_FILLSEQ)) {
        db_fresh(r, "fillseq", 0, 0);
        record(r, W_FILLSEQ, (double)cfg.n, fill(r, cfg.n, NULL, value_for, VALUE_SIZE, 10000, 0));
        db_close(r);
        record_size(r, W_FILLSEQ);
        r->e->remove(r->path);
    }
    if (wanted(W_FILLSEQ_APPEND) && r->e->has_append) {
        db_fresh(r, "append", 0, 0);
        record(r, W_FILLSEQ_APPEND, (double)cfg.n, fill(r, cfg.n, NULL, value_for, VALUE_SIZE, 10000, 1));
        db_close(r);
        record_size(r, W_FILLSEQ_APPEND);
        r->e->remove(r->path);
    }
}

static void run_scans(struct run *r)
{
    const struct bench_engine *e = r->e;
    for (int reverse = 0; reverse < 2; reverse++) {
        enum workload w = reverse ? W_READREVERSE : W_READSEQ;
        uint64_t count = 0, sum = 0;
        double t0;
        if (!wanted(w))
            continue;
        t0 = now();
        e->begin(r->s, 0);
        e->scan(r->s, reverse, &count, &sum);
        e->commit(r->s);
        record(r, w, (double)count, now() - t0);
        if (count != cfg.n)
            bench_fail(e->name, "scan", "the scan did not see every key");
        sink += sum;
    }
}

static void run_seekrandom(struct run *r)
{
    const struct bench_engine *e = r->e;
    uint64_t count = cfg.n / 10 ? cfg.n / 10 : 1, rng = cfg.seed + 3, sum = 0;
    double t0 = now();
    for (uint64_t i = 0; i < count; i += 1000) {
        e->begin(r->s, 0);
        for (uint64_t j = i; j < i + 1000 && j < count; j++)
            e->seek(r->s, key_at(splitmix(&rng) % cfg.n), KEY_SIZE, 10, &sum);
        e->commit(r->s);
    }
    record(r, W_SEEKRANDOM, (double)count, now() - t0);
    sink += sum;
}

/* ---- readwhilewriting ---- */

struct rww_reader {
    pthread_t thread;
    struct run *r;
    uint64_t seed;
    uint64_t ops;
};

static atomic_int rww_stop;

static void *rww_reader_main(void *arg)
{
    struct rww_reader *rd = arg;
    const struct bench_engine *e = rd->r->e;
    void *s;
    if (e->session_open(rd->r->db, &s))
        bench_fail(e->name, "session", "cannot open a reader session");
    while (!atomic_load_explicit(&rww_stop, memory_order_relaxed)) {
        read_random(e, s, 1000, cfg.n, 1000, rd->seed++, key_at);
        rd->ops += 1000;
    }
    e->session_close(s);
    return NULL;
}

/* The writer's share of readwhilewriting: N/5 overwrites. */
static uint64_t rww_writes(void) { return MAX(1000, cfg.n / 5); }

static void run_readwhilewriting(struct run *r)
{
    struct rww_reader rd[64];
    int nreaders = cfg.readers < 64 ? cfg.readers : 64;
    uint64_t rng = cfg.seed + 5, writes = 0, reads = 0;
    double t0, secs;
    atomic_store(&rww_stop, 0);
    for (int i = 0; i < nreaders; i++) {
        rd[i] = (struct rww_reader){ .r = r, .seed = cfg.seed * 1000 + (uint64_t)i * 1000003 };
        if (pthread_create(&rd[i].thread, NULL, rww_reader_main, &rd[i]))
            bench_fail(r->e->name, "readwhilewriting", "pthread_create failed");
    }
    /* A fixed number of overwrites, not a fixed time: the file sizes
     * reported after overwrite and deleterandom, which run on this file
     * next, then come from the same history for every engine. */
    uint64_t total = rww_writes();
    t0 = now();
    while (writes < total) {
        r->e->begin(r->s, 1);
        for (int j = 0; j < 1000 && writes < total; j++, writes++) {
            uint64_t idx = splitmix(&rng) % cfg.n;
            r->e->put(r->s, key_at(idx), KEY_SIZE, value_for(writes + 17, VALUE_SIZE), VALUE_SIZE, 0);
        }
        r->e->commit(r->s);
    }
    atomic_store(&rww_stop, 1);
    for (int i = 0; i < nreaders; i++) {
        pthread_join(rd[i].thread, NULL);
        reads += rd[i].ops;
    }
    secs = now() - t0;
    if (wanted(W_RWW_READ))
        record(r, W_RWW_READ, (double)reads, secs);
    if (wanted(W_RWW_WRITE))
        record(r, W_RWW_WRITE, (double)writes, secs);
}

/* overwrite: N random existing keys (with repeats), 1,000 per txn. */
static void run_overwrite(struct run *r)
{
    uint64_t rng = cfg.seed + 7;
    double t0 = now();
    for (uint64_t i = 0; i < cfg.n; i += 1000) {
        r->e->begin(r->s, 1);
        for (uint64_t j = i; j < i + 1000 && j < cfg.n; j++)
            r->e->put(r->s, key_at(splitmix(&rng) % cfg.n), KEY_SIZE, value_for(j + 3, VALUE_SIZE), VALUE_SIZE, 0);
        r->e->commit(r->s);
    }
    record(r, W_OVERWRITE, (double)cfg.n, now() - t0);
}

/* deleterandom: the first half of the fill order, 1,000 per txn. */
static void run_deleterandom(struct run *r)
{
    uint64_t count = cfg.n / 2;
    double t0 = now();
    for (uint64_t i = 0; i < count; i += 1000) {
        r->e->begin(r->s, 1);
        for (uint64_t j = i; j < i + 1000 && j < count; j++)
            if (r->e->del(r->s, key_at(fill_order[j]), KEY_SIZE))
                bench_fail(r->e->name, "del", "a key written before is missing");
        r->e->commit(r->s);
    }
    record(r, W_DELETERANDOM, (double)count, now() - t0);
}

/* The suite on the fillrandom data set: reads, then writes that change it. */
static void run_random_set(struct run *r)
{
    static const enum workload uses_set[] = { W_FILLRANDOM, W_READRANDOM, W_READSEQ, W_READREVERSE, W_SEEKRANDOM,
                                              W_RWW_READ, W_RWW_WRITE, W_OVERWRITE, W_DELETERANDOM };
    int any = 0;
    for (size_t i = 0; i < sizeof uses_set / sizeof uses_set[0]; i++)
        any |= wanted(uses_set[i]);
    if (!any)
        return;
    db_fresh(r, "random", 0, 0);
    record(r, W_FILLRANDOM, (double)cfg.n, fill(r, cfg.n, fill_order, value_for, VALUE_SIZE, 1000, 0));
    db_close(r);
    record_size(r, W_FILLRANDOM);

    /* Reopened, so each engine reads starting from a fresh mapping. */
    db_open(r, 0, 0);
    if (r->e->depth) {
        r->e->begin(r->s, 0);
        tree_depth[r->slot] = r->e->depth(r->s);
        r->e->commit(r->s);
    }
    if (wanted(W_READRANDOM))
        record(r, W_READRANDOM, (double)cfg.n, read_random(r->e, r->s, cfg.n, cfg.n, 1000, cfg.seed + 1, key_at));
    run_scans(r);
    if (wanted(W_SEEKRANDOM))
        run_seekrandom(r);
    if (wanted(W_RWW_READ) || wanted(W_RWW_WRITE))
        run_readwhilewriting(r);
    if (wanted(W_OVERWRITE)) {
        run_overwrite(r);
        db_close(r);
        record_size(r, W_OVERWRITE);
        db_open(r, 0, 0);
    }
    if (wanted(W_DELETERANDOM)) {
        run_deleterandom(r);
        db_close(r);
        record_size(r, W_DELETERANDOM);
        db_open(r, 0, 0);
    }
    db_close(r);
    r->e->remove(r->path);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* fillsync: one put per durable commit; latency per commit. */
static void run_fillsync(struct run *r)
{
    uint64_t count = cfg.n / 1000 < 100 ? 100 : cfg.n / 1000;
    double *lat = xmalloc(count * sizeof *lat), t0, total;
    struct bench_cell *c = &rows[W_FILLSYNC].cell[r->slot];
    db_fresh(r, "fillsync", 1, 0);
    t0 = now();
    for (uint64_t i = 0; i < count; i++) {
        double t = now();
        r->e->begin(r->s, 1);
        r->e->put(r->s, key_at(fill_order[i % cfg.n]), KEY_SIZE, value_for(i, VALUE_SIZE), VALUE_SIZE, 0);
        r->e->commit(r->s);
        lat[i] = now() - t;
    }
    total = now() - t0;
    record(r, W_FILLSYNC, (double)count, total);
    qsort(lat, count, sizeof *lat, compare_double);
    c->p50_us[r->round] = lat[count / 2] * 1e6;
    c->p99_us[r->round] = lat[count * 99 / 100] * 1e6;
    free(lat);
    db_close(r);
    record_size(r, W_FILLSYNC);
    r->e->remove(r->path);
}

/* The big-value and JSON sets use the first keys of the fill order. */
static const uint8_t *ordered_key(uint64_t i) { return key_at(fill_order[i]); }

/* 100,000 big values at the default N (fewer for a small N; no more for a large one). */
static uint64_t big_count(void) { return MAX(1, MIN(cfg.n / 10, 100000)); }

static void run_bigvalues(struct run *r)
{
    uint64_t count = big_count();
    db_fresh(r, "big", 0, 0);
    record(r, W_BIG_WRITE, (double)count, fill(r, count, fill_order, value_for, BIG_VALUE_SIZE, 100, 0));
    db_close(r);
    record_size(r, W_BIG_WRITE);
    db_open(r, 0, 0);
    if (wanted(W_BIG_READ))
        record(r, W_BIG_READ, (double)count, read_random(r->e, r->s, count, count, 100, cfg.seed + 9, ordered_key));
    db_close(r);
    r->e->remove(r->path);
}

static const uint8_t *json_value(uint64_t i, size_t len)
{
    (void)len;
    return json_pool + (i % json_records) * JSON_VALUE_SIZE;
}

static uint64_t larch_plain_bytes[BENCH_MAX_ROUNDS];

/*
 * compressible: the JSON records into larch's LZ4 bucket and LMDB's (and
 * SQLite's) plain table; then random gets. For the comparison with larch's
 * own plain storage, larch also loads them into a plain bucket (untimed).
 */
static void run_compressible(struct run *r)
{
    int is_larch = r->e == &bench_larch;
    db_fresh(r, "json", 0, is_larch);
    record(r, W_JSON_WRITE, (double)json_records,
           fill(r, json_records, fill_order, json_value, JSON_VALUE_SIZE, 1000, 0));
    db_close(r);
    record_size(r, W_JSON_WRITE);
    db_open(r, 0, is_larch);
    if (wanted(W_JSON_READ))
        record(r, W_JSON_READ, (double)json_records,
               read_random(r->e, r->s, json_records, json_records, 1000, cfg.seed + 11, ordered_key));
    db_close(r);
    r->e->remove(r->path);
    if (is_larch) {
        db_fresh(r, "json-plain", 0, 0);
        fill(r, json_records, fill_order, json_value, JSON_VALUE_SIZE, 1000, 0);
        db_close(r);
        larch_plain_bytes[r->round] = r->e->file_bytes(r->path);
        r->e->remove(r->path);
    }
}

static void run_suite(struct run *r)
{
    run_fillseq(r);
    run_random_set(r);
    if (wanted(W_FILLSYNC))
        run_fillsync(r);
    if (wanted(W_BIG_WRITE) || wanted(W_BIG_READ))
        run_bigvalues(r);
    if (wanted(W_JSON_WRITE) || wanted(W_JSON_READ))
        run_compressible(r);
}

/* ---- The machine, for the report ---- */

static void describe_machine(char *out, size_t size)
{
    char model[256] = "unknown CPU", line[512];
    struct utsname u;
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && colon) {
            snprintf(model, sizeof model, "%s", colon + 2);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    }
    if (f)
        fclose(f);
    uname(&u);
    snprintf(out, size, "%s, %ld cores, Linux %s", model, sysconf(_SC_NPROCESSORS_ONLN), u.release);
}

/* ---- Options ---- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: bench [options]\n"
            "  -n N          entries in the main data set (default 1000000)\n"
            "  -r ROUNDS     rounds per workload; the report gives the median (default 5)\n"
            "  -w LIST       only these workloads, comma-separated (default all):\n"
            "                fillseq fillseq-append fillrandom readrandom readseq readreverse\n"
            "                seekrandom rww (rww-read rww-write) overwrite deleterandom fillsync\n"
            "                bigvalues (-write -read) compress (-write -read)\n"
            "                (bigvalues: N/10 values of 16 KiB, at most 100,000;\n"
            "                compress: N/5 JSON values of 1 KiB, at most 200,000)\n"
            "  -e LIST       engines: larch,lmdb,sqlite (default all three)\n"
            "  -t THREADS    reader threads in readwhilewriting (default 2)\n"
            "  -d DIR        where the database files go (default build/bench-data)\n"
            "  --csv         print CSV instead of the table\n"
            "  --plot FILE   also write an SVG bar chart of the ratios larch/LMDB\n"
            "  --seed S      the random seed (default 42)\n"
            "  --no-settle   do not drop the page cache and compact memory before each\n"
            "                new file (done by default where allowed: as root)\n");
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "--csv")) {
            cfg.csv = 1;
            takes = 0;
        } else if (!strcmp(a, "--no-settle")) {
            cfg.settle = 0;
            takes = 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!v) {
            fprintf(stderr, "bench: unknown option or missing value: %s\n", a);
            usage(stderr);
            exit(2);
        } else if (!strcmp(a, "-n")) {
            cfg.n = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "-r")) {
            cfg.rounds = atoi(v);
        } else if (!strcmp(a, "-w")) {
            cfg.only = v;
        } else if (!strcmp(a, "-e")) {
            cfg.engines = v;
        } else if (!strcmp(a, "-t")) {
            cfg.readers = atoi(v);
        } else if (!strcmp(a, "-d")) {
            cfg.dir = v;
        } else if (!strcmp(a, "--plot")) {
            cfg.svg = v;
        } else if (!strcmp(a, "--seed")) {
            cfg.seed = strtoull(v, NULL, 10);
        } else {
            fprintf(stderr, "bench: unknown option: %s\n", a);
            usage(stderr);
            exit(2);
        }
        i += takes;
    }
    if (cfg.n < 1000 || cfg.n > 0xffffffffu || cfg.rounds < 1 || cfg.rounds > BENCH_MAX_ROUNDS || cfg.readers < 0) {
        fprintf(stderr, "bench: -n must be 1000..4294967295, -r 1..%d, -t >= 0\n", BENCH_MAX_ROUNDS);
        exit(2);
    }
}

static int engine_wanted(const char *name)
{
    const char *p = cfg.engines;
    size_t len = strlen(name);
    if (!p)
        return 1;
    for (const char *hit = strstr(p, name); hit; hit = strstr(hit + 1, name))
        if ((hit == p || hit[-1] == ',') && (hit[len] == 0 || hit[len] == ','))
            return 1;
    return 0;
}

/* mkdir -p: the data directory and any missing parents. */
static int make_dirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) && errno != EEXIST)
            return -1;
        buf[i] = c;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct bench_engine *const all[] = { &bench_larch, &bench_lmdb, &bench_sqlite };
    const struct bench_engine *engines[BENCH_MAX_ENGINES];
    struct bench_results res = { 0 };
    char machine[512];
    int ne = 0;

    parse_args(argc, argv);
    if (!cfg.dir)
        cfg.dir = "build/bench-data";
    if (make_dirs(cfg.dir)) {
        fprintf(stderr, "bench: %s: %s\n", cfg.dir, strerror(errno));
        return 1;
    }
    for (int i = 0; i < BENCH_MAX_ENGINES; i++)
        if (engine_wanted(all[i]->name)) {
            res.engine_names[ne] = all[i]->name;
            engines[ne++] = all[i];
        }
    if (!ne) {
        fprintf(stderr, "bench: -e names no engine (larch, lmdb, sqlite)\n");
        return 2;
    }
    describe_machine(machine, sizeof machine);
    make_data();
    if (wanted(W_JSON_WRITE) || wanted(W_JSON_READ))
        make_json_pool();
    fprintf(stderr, "bench: N=%llu, %d rounds, engines:", (unsigned long long)cfg.n, cfg.rounds);
    for (int i = 0; i < ne; i++)
        fprintf(stderr, " %s", engines[i]->name);
    fprintf(stderr, "\n");

    for (int round = 0; round < cfg.rounds; round++) {
        for (int k = 0; k < ne; k++) {
            /* Alternate the order: even rounds forwards, odd rounds backwards. */
            int slot = round % 2 ? ne - 1 - k : k;
            struct run r = { .e = engines[slot], .slot = slot, .round = round };
            double t0 = now();
            run_suite(&r);
            fprintf(stderr, "bench: round %d/%d %s done in %.1f s\n", round + 1, cfg.rounds, r.e->name, now() - t0);
        }
    }

    res.nengines = ne;
    res.rows = rows;
    res.nrows = W_COUNT;
    res.n = cfg.n;
    res.rounds = cfg.rounds;
    memcpy(res.depth, tree_depth, sizeof res.depth);
    if (rows[W_JSON_WRITE].cell[0].n && engines[0] == &bench_larch)
        res.lz4_plain_bytes = bench_median_u64(larch_plain_bytes, cfg.rounds);
    size_t len = strlen(machine);
    snprintf(machine + len, sizeof machine - len, "; page cache %s before each new file",
             settle_state == 1 ? "dropped and memory compacted" : "not dropped (--no-settle, or not root)");
    if (cfg.csv)
        bench_print_csv(&res);
    else
        bench_print_table(&res, machine);
    if (cfg.svg && bench_write_svg(&res, cfg.svg)) {
        fprintf(stderr, "bench: cannot write %s: %s\n", cfg.svg, strerror(errno));
        return 1;
    }
    return (int)(sink & 0);
}
