/*
 * test_space.c - free space is reused: overwrite workloads keep the file
 * small, a long reader only holds space while it lives, and the cost of
 * free-space bookkeeping per commit does not grow with the free space.
 */
#include "pagewalk.h"

#include "os.h"
#include "pager.h"

#include <stdatomic.h>

/* Put keys [from, to) ("key%07d") with values of vlen (<= 8192) bytes of fill in txn. */
static void put_range(larch_txn *txn, int from, int to, size_t vlen, char fill)
{
    char kb[32], vb[8192];
    memset(vb, fill, sizeof vb);
    for (int i = from; i < to; i++) {
        snprintf(kb, sizeof kb, "key%07d", i);
        larch_val k = str_val(kb), v = val_of(vb, vlen);
        CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    }
}

static void load_keys(larch_db *db, int n, size_t vlen, int per_txn)
{
    for (int i = 0; i < n; i += per_txn) {
        larch_txn *txn;
        CHECK_OK(larch_begin(db, 0, &txn));
        put_range(txn, i, MIN(i + per_txn, n), vlen, 'v');
        CHECK_OK(larch_commit(txn));
    }
}

/* Overwrite random keys with values of 50..150 bytes (big = also some 3-6 KiB ones). */
static void overwrite_random(larch_db *db, rng_t *r, int nkeys, int per_txn, int commits, bool big)
{
    char kb[32], vb[8192];
    for (int c = 0; c < commits; c++) {
        larch_txn *txn;
        CHECK_OK(larch_begin(db, 0, &txn));
        for (int j = 0; j < per_txn; j++) {
            snprintf(kb, sizeof kb, "key%07d", (int)rng_below(r, (uint64_t)nkeys));
            size_t vlen = big && rng_below(r, 10) == 0 ? 3000 + rng_below(r, 3000) : 50 + rng_below(r, 101);
            memset(vb, 'a' + c % 26, vlen);
            larch_val k = str_val(kb), v = val_of(vb, vlen);
            CHECK_OK(larch_put(txn, 0, &k, &v, 0));
        }
        CHECK_OK(larch_commit(txn));
    }
}

TEST(space, overwriting_keeps_the_file_small)
{
    rng_t r = { test_seed("space overwrite", 42) };
    larch_db *db = test_open_nosync("a.db");
    load_keys(db, 10000, 100, 1000);
    struct walk_counts wc;
    pagewalk_audit(db, &wc);
    uint64_t loaded = wc.npages * 4096;
    overwrite_random(db, &r, 10000, 20, 3000, false);
    pagewalk_audit(db, &wc);
    uint64_t after = wc.npages * 4096;
    printf("    10,000 keys: %llu KiB in use after the load, %llu KiB after 3,000 overwrite commits "
           "(%llu tree pages, %llu free; file %llu KiB)\n",
           (unsigned long long)loaded / 1024, (unsigned long long)after / 1024,
           (unsigned long long)wc.main_pages, (unsigned long long)wc.free_listed,
           (unsigned long long)file_size_of(test_path("a.db")) / 1024);
    /* Random overwrites leave pages ~70% full instead of the load's ~100%:
     * allow 3x, not more. */
    CHECK(after <= 3 * loaded);
    larch_close(db);
}

TEST(space, long_reader_holds_space_only_while_open)
{
    rng_t r = { test_seed("space long reader", 43) };
    larch_db *db = test_open_nosync("a.db");
    load_keys(db, 10000, 100, 1000);
    larch_txn *reader;
    larch_val k = str_val("key0000001"), v;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &reader));
    overwrite_random(db, &r, 10000, 20, 300, true);
    CHECK_OK(larch_get(reader, 0, &k, &v));
    CHECK(v.size == 100 && ((const char *)v.data)[0] == 'v'); /* its snapshot */
    larch_abort(reader);
    struct walk_counts wc;
    pagewalk_audit(db, &wc);
    uint64_t with_reader = wc.npages;
    overwrite_random(db, &r, 10000, 20, 3000, true);
    pagewalk_audit(db, &wc);
    printf("    pages in use: %llu when the reader closed, %llu after 3,000 more commits\n",
           (unsigned long long)with_reader, (unsigned long long)wc.npages);
    /* Once the reader is gone the space it held is reused: little growth. */
    CHECK(wc.npages <= with_reader + with_reader / 10);
    larch_close(db);
}

/*
 * A reader inside an old snapshot when a write transaction first looks for
 * free pages, gone halfway through it: the rest of the transaction reuses
 * the pages the reader had held instead of growing the file.
 */
TEST(space, a_reader_gone_mid_transaction_frees_its_pages_for_it)
{
    enum { KEYS = 20000 };
    larch_db *db = test_open_nosync("a.db");
    load_keys(db, KEYS, 100, 5000);
    larch_txn *reader, *txn;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &reader));
    for (int c = 0; c < 2; c++) { /* each copies every leaf (same sizes: no splits) */
        CHECK_OK(larch_begin(db, 0, &txn));
        put_range(txn, 0, KEYS, 100, 'w');
        CHECK_OK(larch_commit(txn));
    }
    struct larch_stat st;
    struct larch_info before, after;
    CHECK_OK(larch_info(db, &before));
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_stat(txn, 0, &st));
    put_range(txn, 0, KEYS / 2, 100, 'w'); /* the first half while the reader lives */
    larch_abort(reader);
    put_range(txn, KEYS / 2, KEYS, 100, 'w');
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_info(db, &after));
    uint64_t grown = after.last_pgno - before.last_pgno;
    printf("    a commit that copies all %llu leaves, reader gone halfway: the file grew by %llu pages\n",
           (unsigned long long)st.leaf_pages, (unsigned long long)grown);
    /* Half the leaves while the reader lived, and a few more until the
     * writer looks again; looking once per transaction grew by all of them. */
    CHECK(grown < st.leaf_pages * 7 / 10);
    larch_close(db);
}

/* An I/O table that counts the bytes written. */
static atomic_ullong bytes_written;
static struct os_io counting_io;

static ssize_t counting_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    ssize_t r = os_io_default()->pwritev(fd, iov, n, off);
    if (r > 0)
        atomic_fetch_add(&bytes_written, (unsigned long long)r);
    return r;
}

TEST(space, bookkeeping_cost_does_not_grow_with_free_space)
{
    larch_db *db = test_open_nosync("a.db");
    counting_io = *os_io_default();
    counting_io.pwritev = counting_pwritev;
    os_io_set(&counting_io);

    load_keys(db, 2000, 100, 2000);
    larch_txn *txn;
    larch_val k = str_val("zzz"), v = str_val("small");
    atomic_store(&bytes_written, 0);
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    CHECK_OK(larch_commit(txn));
    unsigned long long small_free = atomic_load(&bytes_written);

    /* Make a lot of free space: 200,000 keys loaded, then all deleted. */
    load_keys(db, 200000, 100, 50000);
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int i = 0; i < 200000; i++) {
        char kb[32];
        snprintf(kb, sizeof kb, "key%07d", i);
        larch_val dk = str_val(kb);
        CHECK_OK(larch_del(txn, 0, &dk));
    }
    CHECK_OK(larch_commit(txn));
    struct walk_counts wc;
    pagewalk_audit(db, &wc);
    for (int i = 0; i < 3; i++) { /* let the freed pages become reusable */
        CHECK_OK(larch_begin(db, 0, &txn));
        CHECK_OK(larch_put(txn, 0, &k, &v, 0));
        CHECK_OK(larch_commit(txn));
    }
    atomic_store(&bytes_written, 0);
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    CHECK_OK(larch_commit(txn));
    unsigned long long large_free = atomic_load(&bytes_written);
    os_io_set(NULL);
    printf("    one-put commit wrote %llu bytes with little free space, %llu bytes with %llu free pages\n",
           small_free, large_free, (unsigned long long)wc.free_listed);
    CHECK(wc.free_listed > 5000);
    CHECK(large_free <= 16 * 4096); /* a few pages, not a rewrite of the free list */

    /* And the free pages are used again: the same load into the same
     * (empty) tree does not grow the file. */
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_del(txn, 0, &k));
    CHECK_OK(larch_commit(txn));
    uint64_t size = file_size_of(test_path("a.db"));
    load_keys(db, 200000, 100, 50000);
    CHECK(file_size_of(test_path("a.db")) <= size);
    pagewalk_audit(db, NULL);
    larch_close(db);
}

/* An I/O table that keeps the extent of every write to the data file. */
#define MAX_WRITES 4096
static struct { uint64_t off, len; } writes[MAX_WRITES];
static atomic_int nwrites;

static ssize_t logging_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    ssize_t r = os_io_default()->pwritev(fd, iov, n, off);
    int i = atomic_fetch_add(&nwrites, 1);
    if (r > 0 && i < MAX_WRITES) {
        writes[i].off = (uint64_t)off;
        writes[i].len = (uint64_t)r;
    }
    return r;
}

/* Commit txn with every write logged; each write of more than one page
 * must lie inside one RUN_WRITE_PIECE window. Returns the writes of
 * several pages, and the number of writes in *calls. */
static int commit_logging_writes(larch_txn *txn, uint32_t page_size, int *calls)
{
    counting_io = *os_io_default();
    counting_io.pwritev = logging_pwritev;
    atomic_store(&nwrites, 0);
    os_io_set(&counting_io);
    CHECK_OK(larch_commit(txn));
    os_io_set(NULL);
    int n = atomic_load(&nwrites), multi = 0;
    CHECK(n > 0 && n < MAX_WRITES);
    for (int i = 0; i < n; i++)
        if (writes[i].len > page_size) {
            multi++;
            CHECK(writes[i].off / RUN_WRITE_PIECE == (writes[i].off + writes[i].len - 1) / RUN_WRITE_PIECE);
        }
    *calls = n;
    return multi;
}

/*
 * Overflow runs that lie end to end go out together, in writes that end at
 * multiples of RUN_WRITE_PIECE (larger, aligned page-cache folios for data
 * that is read, not rewritten); tree pages go one page per write. The
 * values are read back, and the check passes.
 */
/* 50 runs of a few pages (5 to 39 KB), then 10 longer than a piece. */
static size_t value_len(int i) { return i < 50 ? 5000 + (size_t)i * 700 : 260000 + (size_t)(i - 50) * 4000; }

TEST(space, writes_follow_the_folio_policy)
{
    uint32_t sizes[] = { 1024, 4096 };
    static uint8_t val[300000];
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (uint8_t)(i * 13 + i / 4096);
    for (int s = 0; s < 2; s++) {
        char name[32];
        snprintf(name, sizeof name, "runs%u.db", sizes[s]);
        larch_db *db;
        larch_options o = { 0 };
        o.flags = LARCH_NOSYNC;
        o.page_size = sizes[s];
        CHECK_OK(larch_open(test_path(name), &o, &db));
        larch_txn *txn;
        const int nvals = 60;
        CHECK_OK(larch_begin(db, 0, &txn));
        for (int i = 0; i < nvals; i++) {
            char kb[16];
            snprintf(kb, sizeof kb, "v%03d", i);
            size_t vl = value_len(i);
            larch_val k = str_val(kb), v = val_of(val + i, vl - i);
            CHECK_OK(larch_put(txn, 0, &k, &v, 0));
        }
        int n, multi = commit_logging_writes(txn, sizes[s], &n); /* only runs: 60 puts is no load */
        printf("    page size %u: %d values in runs, %d writes, %d of several pages\n", sizes[s], nvals, n, multi);
        CHECK(multi > 0 && n < nvals); /* runs were joined */
        CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
        for (int i = 0; i < nvals; i++) {
            char kb[16];
            snprintf(kb, sizeof kb, "v%03d", i);
            size_t vl = value_len(i);
            larch_val k = str_val(kb), v;
            CHECK_OK(larch_get(txn, 0, &k, &v));
            CHECK(v.size == vl - (size_t)i && memcmp(v.data, val + i, v.size) == 0);
        }
        larch_check_report rep;
        CHECK_OK(larch_check(txn, &rep));
        larch_abort(txn);
        larch_close(db);
    }
}

/* Puts n keys (ascending, or in a scattered order) of 100-byte values in
 * one txn and returns how many of the commit's writes covered more than
 * one page (commit_logging_writes). */
static int multi_page_writes(larch_db *db, int n, bool ascending, int *calls)
{
    larch_txn *txn;
    uint8_t val[100];
    memset(val, 'v', sizeof val);
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int i = 0; i < n; i++) {
        char kb[32];
        int id = ascending ? i : (int)((uint64_t)i * 7919 % (uint64_t)n);
        snprintf(kb, sizeof kb, "%s%08d", ascending ? "s" : "r", id);
        larch_val k = str_val(kb), v = val_of(val, sizeof val);
        CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    }
    return commit_logging_writes(txn, 4096, calls);
}

/* A sequential load writes the leaves it leaves behind at the file's end
 * together; a load in scattered order writes one tree page per call (the
 * pages it copies are rewritten later, and want small folios). */
TEST(space, sequential_loads_write_their_new_pages_together)
{
    larch_db *db = test_open_nosync("seq.db");
    int calls_seq, calls_rand;
    int multi_seq = multi_page_writes(db, 20000, true, &calls_seq);
    int multi_rand = multi_page_writes(db, 20000, false, &calls_rand);
    printf("    sequential: %d writes, %d of several pages; scattered: %d writes, %d of several pages\n", calls_seq,
           multi_seq, calls_rand, multi_rand);
    CHECK(multi_seq > 0 && calls_seq < calls_rand / 4);
    CHECK(multi_rand == 0);
    larch_txn *txn;
    larch_check_report rep;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_check(txn, &rep));
    CHECK(rep.entries == 40000 && rep.problems == 0);
    larch_abort(txn);
    larch_close(db);
}

/* ---- Long runs of small commits ----------------------------------------- */

/*
 * Before, a change to the free tree that ran out of reclaimed pages took
 * new ones at the end of the file, and could not reclaim more: once the
 * free tree outgrew one page (after some 20,000 one-key commits here), the
 * file grew by about half a page a commit, for ever, its free records
 * piling up. These runs are long enough to see that, and the file must
 * level off.
 */

#ifdef LARCH_TEST_SMALL
#define LONG_RUN_SCALE 10 /* under the sanitizers: a tenth of the commits */
#else
#define LONG_RUN_SCALE 1
#endif

static uint64_t pages_in_use(larch_db *db)
{
    struct larch_info in;
    CHECK_OK(larch_info(db, &in));
    return in.last_pgno + 1;
}

/* One commit that deletes (del) or puts key "k%010u" id, with a value of 20 to 80 bytes. */
static void one_key_commit(larch_db *db, rng_t *r, uint32_t id, bool del)
{
    char kb[32], vb[80];
    larch_txn *txn;
    snprintf(kb, sizeof kb, "k%010u", id);
    memset(vb, 'w', sizeof vb);
    larch_val k = str_val(kb), v = val_of(vb, 20 + rng_below(r, 61));
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(del ? larch_del(txn, 0, &k) : larch_put(txn, 0, &k, &v, 0));
    CHECK_OK(larch_commit(txn));
}

/* n distinct random key numbers, put in one commit (values of 20 to 80 bytes). */
static uint32_t *load_random(larch_db *db, rng_t *r, int n)
{
    uint32_t *ids = malloc((size_t)n * sizeof *ids);
    char kb[32], vb[80];
    larch_txn *txn;
    CHECK(ids != NULL);
    memset(vb, 'v', sizeof vb);
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int i = 0; i < n; i++) {
        ids[i] = (uint32_t)i * 2654435761u; /* distinct, scattered */
        snprintf(kb, sizeof kb, "k%010u", ids[i]);
        larch_val k = str_val(kb), v = val_of(vb, 20 + rng_below(r, 61));
        CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    }
    CHECK_OK(larch_commit(txn));
    return ids;
}

/* 200,000 keys in one commit, then 100,000 of them deleted, one per commit,
 * and 100,000 new ones put, one per commit. Before: 21x the file. */
TEST(space, one_key_commits_keep_the_file_at_its_loaded_size)
{
    const int keys = 200000 / LONG_RUN_SCALE, commits = 100000 / LONG_RUN_SCALE;
    rng_t r = { test_seed("one-key commits", 44) };
    larch_db *db = test_open_nosync("a.db");
    uint32_t *ids = load_random(db, &r, keys);
    uint64_t loaded = pages_in_use(db), after_deletes;
    for (int i = 0; i < commits; i++) {
        int j = (int)rng_below(&r, (uint64_t)(keys - i)); /* a random live key */
        one_key_commit(db, &r, ids[j], true);
        ids[j] = ids[keys - i - 1];
    }
    after_deletes = pages_in_use(db);
    for (int i = 0; i < commits; i++)
        one_key_commit(db, &r, (uint32_t)(keys + i) * 2654435761u, false);
    uint64_t after = pages_in_use(db);
    printf("    %d keys: %llu pages loaded, %llu after %d one-key deletes, %llu after %d one-key puts (%.2fx)\n", keys,
           (unsigned long long)loaded, (unsigned long long)after_deletes, commits, (unsigned long long)after, commits,
           (double)after / (double)loaded);
    CHECK(after * 10 <= loaded * 13);
    pagewalk_audit(db, NULL);
    larch_close(db);
    free(ids);
}

/* 50,000 keys in one commit, then every one deleted in a commit of its
 * own, with no reader: the file must not grow. Before: +817%. */
TEST(space, deleting_one_key_per_commit_does_not_grow_the_file)
{
    const int keys = 50000 / LONG_RUN_SCALE;
    rng_t r = { test_seed("one-key deletes", 45) };
    larch_db *db = test_open_nosync("a.db");
    uint32_t *ids = load_random(db, &r, keys);
    uint64_t loaded = pages_in_use(db), most = loaded;
    for (int i = 0; i < keys; i++) {
        int j = (int)rng_below(&r, (uint64_t)(keys - i));
        one_key_commit(db, &r, ids[j], true);
        ids[j] = ids[keys - i - 1];
        if (i % 1000 == 0)
            most = MAX(most, pages_in_use(db));
    }
    struct walk_counts wc;
    pagewalk_audit(db, &wc);
    printf("    %d keys: %llu pages loaded; deleted one per commit, the file held at most %llu pages\n", keys,
           (unsigned long long)loaded, (unsigned long long)most);
    CHECK(wc.entries == 0);
    CHECK(most <= loaded + loaded / 50 + 16); /* 2%, and room for the free tree at small sizes */
    larch_close(db);
    free(ids);
}

/*
 * 200,000 commits of two changes each, in cycles of 50,000: a quarter of a
 * cycle deleting (nine changes in ten delete a random key) and a quarter
 * putting (nine in ten put a new key), so thousands of pages fall free and
 * are taken again in every cycle. The file may grow in the first cycle
 * (random puts leave pages less full than the load), then no more.
 * Before: 6,500 pages, then 15,600 after one cycle and 70,200 after four.
 */
TEST(space, long_runs_of_small_commits_level_off)
{
    const int commits = 200000 / LONG_RUN_SCALE, cycle = 50000 / LONG_RUN_SCALE, keys = 50000 / LONG_RUN_SCALE;
    rng_t r = { test_seed("long run", 46) };
    larch_db *db = test_open_nosync("a.db");
    uint32_t *live = malloc(sizeof *live * (size_t)keys * 4);
    uint32_t next = 0;
    int n = 0;
    char kb[32], vb[300];
    memset(vb, 'l', sizeof vb);
    larch_txn *txn;
    CHECK_OK(larch_begin(db, 0, &txn));
    for (; n < keys; n++) {
        live[n] = next++ * 2654435761u;
        snprintf(kb, sizeof kb, "k%010u", live[n]);
        larch_val k = str_val(kb), v = val_of(vb, 20 + rng_below(&r, 280));
        CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    }
    CHECK_OK(larch_commit(txn));
    uint64_t loaded = pages_in_use(db), first_cycle = 0, most = 0;
    for (int c = 0; c < commits; c++) {
        bool deleting = (c / (cycle / 2)) % 2 == 0;
        CHECK_OK(larch_begin(db, 0, &txn));
        for (int op = 0; op < 2; op++) {
            bool del = n > 0 && rng_below(&r, 10) < (deleting ? 9u : 1u);
            if (del) {
                int j = (int)rng_below(&r, (uint64_t)n);
                snprintf(kb, sizeof kb, "k%010u", live[j]);
                live[j] = live[--n];
                larch_val k = str_val(kb);
                CHECK_OK(larch_del(txn, 0, &k));
            } else {
                live[n] = next++ * 2654435761u;
                snprintf(kb, sizeof kb, "k%010u", live[n++]);
                larch_val k = str_val(kb), v = val_of(vb, 20 + rng_below(&r, 280));
                CHECK_OK(larch_put(txn, 0, &k, &v, 0));
            }
        }
        CHECK_OK(larch_commit(txn));
        if ((c + 1) % (cycle / 4) == 0) {
            uint64_t p = pages_in_use(db);
            most = MAX(most, p);
            if (c + 1 == cycle)
                first_cycle = most;
        }
    }
    printf("    %d keys: %llu pages loaded, at most %llu in the first cycle, at most %llu in %d commits\n", keys,
           (unsigned long long)loaded, (unsigned long long)first_cycle, (unsigned long long)most, commits);
    CHECK(most * 100 <= first_cycle * 103);
    pagewalk_audit(db, NULL);
    larch_close(db);
    free(live);
}
