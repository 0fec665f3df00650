/*
 * test_bucket.c - named buckets, LZ4 values, statistics and information.
 */
#include "pagewalk.h"

#include "db.h"
#include "pager.h"

#include <stdatomic.h>

#include <unistd.h>

static void put_in(larch_txn *txn, larch_bucket b, const char *k, const char *v)
{
    larch_val kv = str_val(k), vv = str_val(v);
    CHECK_OK(larch_put(txn, b, &kv, &vv, 0));
}

static bool has(larch_txn *txn, larch_bucket b, const char *k, const char *v)
{
    larch_val kv = str_val(k), out;
    int rc = larch_get(txn, b, &kv, &out);
    CHECK(rc == 0 || rc == LARCH_NOTFOUND);
    return rc == 0 && out.size == strlen(v) && memcmp(out.data, v, out.size) == 0;
}

TEST(bucket, create_open_isolate_list)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_bucket a, b, c, a2;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_RC(larch_bucket_open(txn, "alpha", 0, &a), LARCH_NOTFOUND);
    CHECK_RC(larch_bucket_open(txn, "alpha", LARCH_CREATE, &a), LARCH_INVALID); /* read-only */
    larch_abort(txn);

    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "alpha", LARCH_CREATE, &a));
    CHECK_OK(larch_bucket_open(txn, "beta", LARCH_CREATE | LARCH_LZ4, &b));
    CHECK_OK(larch_bucket_open(txn, "caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x8c\xb2", LARCH_CREATE, &c));
    CHECK_OK(larch_bucket_open(txn, "alpha", 0, &a2));
    CHECK(a2 == a && a != b && a != 0 && b != 0 && c != a && c != b);
    put_in(txn, 0, "k", "in bucket 0");
    put_in(txn, a, "k", "in alpha");
    put_in(txn, b, "k", "in beta");
    CHECK(has(txn, a, "k", "in alpha") && has(txn, b, "k", "in beta") && has(txn, 0, "k", "in bucket 0"));
    CHECK(!has(txn, c, "k", ""));
    CHECK_OK(larch_commit(txn));

    /* Handles stay valid in later transactions, readers included. */
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK(has(txn, a, "k", "in alpha") && has(txn, b, "k", "in beta"));
    larch_val name;
    const char *want[] = { "alpha", "beta", "caf\xc3\xa9 \xe6\x97\xa5\xf0\x9f\x8c\xb2" };
    char after[300] = "";
    for (int i = 0; i < 3; i++) {
        CHECK_OK(larch_bucket_next(txn, after, &name));
        CHECK(name.size == strlen(want[i]) && !memcmp(name.data, want[i], name.size));
        memcpy(after, name.data, name.size);
        after[name.size] = 0;
    }
    CHECK_RC(larch_bucket_next(txn, after, &name), LARCH_NOTFOUND);
    CHECK_OK(larch_bucket_next(txn, "b", &name)); /* a name that is not there: the next one */
    CHECK(name.size == 4 && !memcmp(name.data, "beta", 4));
    CHECK_OK(larch_bucket_next(txn, NULL, &name));
    CHECK(name.size == 5);
    larch_abort(txn);
    larch_close(db);

    /* After a reopen: the same names, working handles (maybe new numbers). */
    db = test_open_nosync("a.db");
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_bucket_open(txn, "beta", 0, &b));
    CHECK(has(txn, b, "k", "in beta"));
    larch_abort(txn);
    pagewalk_audit(db, NULL);
    larch_close(db);
}

TEST(bucket, bad_names_and_handles)
{
    larch_db *db = test_open_nosync("a.db"), *other = test_open_nosync("b.db");
    larch_txn *txn, *otxn;
    larch_bucket a, x;
    char longname[300];
    memset(longname, 'n', sizeof longname);
    longname[256] = 0;
    const char *bad[] = { "", longname, "\xff", "\xc0\xaf" /* overlong */, "\xed\xa0\x80" /* surrogate */,
                          "ab\xe6\x97", "\xf4\x90\x80\x80" /* past U+10FFFF */ };
    CHECK_OK(larch_begin(db, 0, &txn));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_RC(larch_bucket_open(txn, bad[i], LARCH_CREATE, &a), LARCH_INVALID);
    longname[255] = 0;
    CHECK_OK(larch_bucket_open(txn, longname, LARCH_CREATE, &a)); /* 255 bytes is fine */
    CHECK_RC(larch_bucket_open(txn, "x", LARCH_LZ4, &a), LARCH_INVALID);  /* LZ4 only with CREATE */
    CHECK_RC(larch_bucket_open(txn, "x", 0x8000, &a), LARCH_INVALID);
    CHECK_RC(larch_bucket_open(txn, NULL, 0, &a), LARCH_INVALID);
    CHECK_OK(larch_bucket_open(txn, "alpha", LARCH_CREATE, &a));
    put_in(txn, a, "k", "v");
    CHECK_OK(larch_commit(txn));

    /* Made-up handles and handles of another database. */
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_begin(other, 0, &otxn));
    CHECK_OK(larch_bucket_open(otxn, "alpha", LARCH_CREATE, &x));
    larch_val k = str_val("k"), v;
    CHECK_RC(larch_get(otxn, a, &k, &v), LARCH_INVALID);
    CHECK_RC(larch_get(txn, x, &k, &v), LARCH_INVALID);
    larch_bucket made_up[] = { 1, 77, 0xffff, 0x12340001, a + 1, a ^ 0x10000 };
    for (size_t i = 0; i < sizeof made_up / sizeof made_up[0]; i++) {
        CHECK_RC(larch_get(txn, made_up[i], &k, &v), LARCH_INVALID);
        larch_cursor *c;
        CHECK_RC(larch_cursor_open(txn, made_up[i], &c), LARCH_INVALID);
        struct larch_stat st;
        CHECK_RC(larch_stat(txn, made_up[i], &st), LARCH_INVALID);
    }
    CHECK_OK(larch_get(txn, a, &k, &v));
    larch_abort(otxn);
    larch_abort(txn);
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_RC(larch_bucket_drop(txn, 0, 1), LARCH_INVALID); /* bucket 0 cannot be deleted */
    CHECK_RC(larch_bucket_drop(txn, 4242, 0), LARCH_INVALID);
    larch_abort(txn);
    larch_close(other);
    larch_close(db);
}

TEST(bucket, drop_and_abort)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_bucket a, b, t, a_again;
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "a", LARCH_CREATE, &a));
    CHECK_OK(larch_bucket_open(txn, "b", LARCH_CREATE, &b));
    char kb[32], vb[5000];
    memset(vb, 'v', sizeof vb);
    for (int i = 0; i < 2000; i++) {
        snprintf(kb, sizeof kb, "key%05d", i);
        larch_val k = str_val(kb), v = val_of(vb, (size_t)(i % 7 == 0 ? 5000 : 50));
        CHECK_OK(larch_put(txn, a, &k, &v, 0));
        CHECK_OK(larch_put(txn, b, &k, &v, 0));
    }
    CHECK_OK(larch_commit(txn));

    /* Created in a txn that aborts: gone, and its handle with it. */
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "temp", LARCH_CREATE, &t));
    put_in(txn, t, "x", "y");
    larch_abort(txn);
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_RC(larch_bucket_open(txn, "temp", 0, &t), LARCH_NOTFOUND);
    larch_val k = str_val("x"), v;
    CHECK_RC(larch_get(txn, t, &k, &v), LARCH_INVALID);

    /* Deleted in a txn that aborts: still there, with its data. */
    CHECK_OK(larch_bucket_drop(txn, a, 1));
    CHECK_RC(larch_get(txn, a, &k, &v), LARCH_INVALID);
    CHECK_RC(larch_bucket_open(txn, "a", 0, &a_again), LARCH_NOTFOUND);
    larch_abort(txn);
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    struct larch_stat st;
    CHECK_OK(larch_stat(txn, a, &st));
    CHECK(st.entries == 2000 && st.overflow_pages > 0);
    larch_abort(txn);

    /* Empty one, delete the other; their pages become free. */
    struct walk_counts before, after;
    pagewalk_audit(db, &before);
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_drop(txn, a, 0));
    CHECK_OK(larch_stat(txn, a, &st));
    CHECK(st.entries == 0 && st.depth == 0 && st.leaf_pages == 0);
    put_in(txn, a, "fresh", "1");
    CHECK_OK(larch_bucket_drop(txn, b, 1));
    CHECK_RC(larch_stat(txn, b, &st), LARCH_INVALID);
    larch_check_report rep;
    audit_txn(txn, &rep); /* sound in the middle of the write txn too */
    CHECK_OK(larch_commit(txn));
    pagewalk_audit(db, &after);
    CHECK(after.free_listed > before.free_listed + 500);
    CHECK(after.entries == 1);

    /* The deleted bucket's handle is dead; a new bucket of that name gets a new one. */
    larch_bucket b2;
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_RC(larch_get(txn, b, &k, &v), LARCH_INVALID);
    CHECK_OK(larch_bucket_open(txn, "b", LARCH_CREATE, &b2));
    CHECK(b2 != b);
    /* Delete and create again in one transaction. */
    CHECK_OK(larch_bucket_drop(txn, b2, 1));
    larch_bucket b3;
    CHECK_OK(larch_bucket_open(txn, "b", LARCH_CREATE | LARCH_LZ4, &b3));
    CHECK(b3 != b2);
    put_in(txn, b3, "z", "zz");
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK(has(txn, b3, "z", "zz"));
    CHECK_RC(larch_get(txn, b2, &k, &v), LARCH_INVALID);
    CHECK_OK(larch_stat(txn, b3, &st));
    CHECK(st.flags == LARCH_LZ4 && st.entries == 1);
    larch_abort(txn);
    pagewalk_audit(db, NULL);
    larch_close(db);
}

TEST(bucket, sequence_commits_with_the_txn)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_bucket a;
    uint64_t n;
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "a", LARCH_CREATE, &a));
    CHECK_OK(larch_bucket_sequence(txn, a, &n));
    CHECK(n == 1);
    CHECK_OK(larch_bucket_sequence(txn, a, &n));
    CHECK(n == 2);
    CHECK_OK(larch_bucket_sequence(txn, 0, &n));
    CHECK(n == 1);
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_sequence(txn, a, &n));
    CHECK(n == 3);
    larch_abort(txn); /* not kept */
    larch_close(db);
    db = test_open_nosync("a.db");
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "a", 0, &a));
    CHECK_OK(larch_bucket_sequence(txn, a, &n));
    CHECK(n == 3);
    CHECK_OK(larch_bucket_sequence(txn, 0, &n)); /* bucket 0's lives in the meta page */
    CHECK(n == 2);
    CHECK_RC(larch_bucket_sequence(txn, 999, &n), LARCH_INVALID);
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_RC(larch_bucket_sequence(txn, 0, &n), LARCH_INVALID); /* read-only */
    struct larch_stat st;
    CHECK_OK(larch_stat(txn, 0, &st));
    CHECK(st.sequence == 2);
    larch_abort(txn);
    larch_close(db);
}

/*
 * A JSON-like record of about 1 KiB: an order with a customer and items,
 * field names repeated, values drawn from small sets as real data is.
 */
static size_t json_record(char *buf, size_t cap, uint64_t i)
{
    rng_t r = { i * 2654435761u + 1 };
    static const char *cities[] = { "Amsterdam", "Berlin", "Chicago", "Delhi", "Edinburgh", "Florence" };
    static const char *products[] = { "Blue widget", "Red widget", "Gadget Pro", "Gadget Mini", "Cable 2m",
                                      "Charger", "Sleeve", "Stand" };
    static const char *status[] = { "pending", "paid", "shipped", "delivered", "returned" };
    uint64_t cust = rng_below(&r, 40000);
    size_t n = (size_t)snprintf(
        buf, cap,
        "{\"id\":%llu,\"type\":\"order\",\"customer\":{\"id\":%llu,\"name\":\"Customer %llu\",\"email\":"
        "\"customer%llu@example.com\",\"address\":{\"street\":\"%d Main Street\",\"city\":\"%s\","
        "\"country\":\"DE\",\"zip\":\"%05d\"}},\"items\":[",
        (unsigned long long)i, (unsigned long long)cust, (unsigned long long)cust, (unsigned long long)cust,
        1 + (int)rng_below(&r, 200), cities[rng_below(&r, 6)], 10000 + (int)rng_below(&r, 90000));
    int items = 4 + (int)rng_below(&r, 5);
    for (int k = 0; k < items; k++) {
        unsigned p = (unsigned)rng_below(&r, 8);
        n += (size_t)snprintf(buf + n, cap - n,
                              "%s{\"sku\":\"SKU-%04u\",\"name\":\"%s\",\"qty\":%d,\"price\":%u.99,"
                              "\"currency\":\"EUR\"}",
                              k ? "," : "", 100 + p, products[p], 1 + (int)rng_below(&r, 4), 5 + p * 10);
    }
    n += (size_t)snprintf(buf + n, cap - n,
                          "],\"status\":\"%s\",\"created_at\":\"2026-%02d-%02dT%02d:%02d:00Z\","
                          "\"updated_at\":\"2026-%02d-%02dT08:00:00Z\",\"notes\":\"%s\"}",
                          status[rng_below(&r, 5)], 1 + (int)rng_below(&r, 12), 1 + (int)rng_below(&r, 28),
                          (int)rng_below(&r, 24), (int)rng_below(&r, 60), 1 + (int)rng_below(&r, 12),
                          1 + (int)rng_below(&r, 28),
                          rng_below(&r, 2) ? "Leave the parcel at the front door if nobody answers."
                                           : "Call before delivery, please.");
    return n;
}

/* Put json_record(seed) under key. */
static void put_json(larch_txn *txn, larch_bucket b, const char *key, uint64_t seed)
{
    char buf[2048];
    size_t n = json_record(buf, sizeof buf, seed);
    larch_val k = str_val(key), v = val_of(buf, n);
    CHECK_OK(larch_put(txn, b, &k, &v, 0));
}

/* The value under key is json_record(seed). */
static void check_json(larch_txn *txn, larch_bucket b, const char *key, uint64_t seed)
{
    char buf[2048];
    size_t n = json_record(buf, sizeof buf, seed);
    larch_val k = str_val(key), out;
    CHECK_OK(larch_get(txn, b, &k, &out));
    CHECK(out.size == n && !memcmp(out.data, buf, n));
}

TEST(bucket, lz4_values_round_trip)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_bucket z;
    uint8_t rnd[3000];
    rng_t r = { 5 };
    for (size_t i = 0; i < sizeof rnd; i++)
        rnd[i] = (uint8_t)rng_next(&r);
    uint8_t *big = malloc(200000);
    for (size_t i = 0; i < 200000; i++)
        big[i] = "abcabcabdabc"[i % 12];
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "z", LARCH_CREATE | LARCH_LZ4, &z));
    for (int i = 0; i < 500; i++) {
        char kb[16];
        snprintf(kb, sizeof kb, "j%04d", i);
        put_json(txn, z, kb, (uint64_t)i);
    }
    larch_val k = str_val("random"), v = val_of(rnd, sizeof rnd);
    CHECK_OK(larch_put(txn, z, &k, &v, 0)); /* incompressible: stored as is */
    k = str_val("big");
    v = val_of(big, 200000);
    CHECK_OK(larch_put(txn, z, &k, &v, 0)); /* compressed and still in an overflow run? no: tiny */
    k = str_val("small");
    v = val_of("short", 5);
    CHECK_OK(larch_put(txn, z, &k, &v, 0));
    CHECK_OK(larch_commit(txn));

    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    for (int i = 0; i < 500; i++) {
        char kb[16];
        snprintf(kb, sizeof kb, "j%04d", i);
        check_json(txn, z, kb, (uint64_t)i);
    }
    larch_val out;
    k = str_val("random");
    CHECK_OK(larch_get(txn, z, &k, &out));
    CHECK(out.size == sizeof rnd && !memcmp(out.data, rnd, sizeof rnd));
    k = str_val("big");
    CHECK_OK(larch_get(txn, z, &k, &out));
    CHECK(out.size == 200000 && !memcmp(out.data, big, 200000));
    larch_cursor *c;
    CHECK_OK(larch_cursor_open(txn, z, &c));
    CHECK_OK(larch_cursor_get(c, &k, &out, LARCH_FIRST));
    CHECK(k.size == 3 && out.size == 200000 && !memcmp(out.data, big, 200000));
    larch_cursor_close(c);
    struct larch_stat st;
    CHECK_OK(larch_stat(txn, z, &st));
    printf("    LZ4 bucket: %llu value bytes stored in %llu\n", (unsigned long long)st.value_bytes,
           (unsigned long long)st.stored_bytes);
    CHECK(st.flags == LARCH_LZ4 && st.entries == 503);
    CHECK(st.stored_bytes * 2 < st.value_bytes);
    larch_check_report rep;
    audit_txn(txn, &rep);
    larch_abort(txn);

    /* Overwrites and deletes keep the byte counts right (the check compares them). */
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int i = 0; i < 500; i += 3) {
        char kb[16];
        snprintf(kb, sizeof kb, "j%04d", i);
        larch_val kk = str_val(kb), vv = val_of(rnd, (size_t)(i % 200));
        if (i % 2)
            CHECK_OK(larch_put(txn, z, &kk, &vv, 0));
        else
            CHECK_OK(larch_del(txn, z, &kk));
    }
    CHECK_OK(larch_commit(txn));
    pagewalk_audit(db, NULL);
    free(big);
    larch_close(db);
}

#if defined(LARCH_TEST_SMALL)
#define JSON_RECORDS 20000
#else
#define JSON_RECORDS 200000
#endif

static uint64_t load_json(const char *name, unsigned flags)
{
    larch_db *db = test_open_nosync(name);
    larch_txn *txn;
    larch_bucket b;
    char kb[32];
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "docs", LARCH_CREATE | flags, &b));
    for (int i = 0; i < JSON_RECORDS; i++) {
        if (i && i % 10000 == 0) {
            CHECK_OK(larch_commit(txn));
            CHECK_OK(larch_begin(db, 0, &txn));
        }
        snprintf(kb, sizeof kb, "doc:%08d", i);
        put_json(txn, b, kb, (uint64_t)i);
    }
    CHECK_OK(larch_commit(txn));
    larch_close(db);
    return file_size_of(test_path(name));
}

/* A read txn that gets many values from two LZ4 buckets in turn: each
 * decodes against its own bucket's dictionary, before and after the read
 * txn starts decoding next to a copy of it (compress.c, ZWIN_AFTER_GETS). */
TEST(bucket, lz4_gets_alternate_between_dictionaries)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_bucket b[2];
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int j = 0; j < 2; j++) {
        CHECK_OK(larch_bucket_open(txn, j ? "y" : "x", LARCH_CREATE | LARCH_LZ4, &b[j]));
        for (int i = 0; i < 400; i++) {
            char kb[16];
            snprintf(kb, sizeof kb, "j%04d", i);
            put_json(txn, b[j], kb, (uint64_t)(i * 7 + j * 100003));
        }
    }
    CHECK_OK(larch_commit(txn));
    for (int round = 0; round < 2; round++) {
        CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
        for (int g = 0; g < 300; g++) {
            int j = round ? g / 150 : g & 1, i = (g * 37) % 400;
            char kb[16];
            snprintf(kb, sizeof kb, "j%04d", i);
            check_json(txn, b[j], kb, (uint64_t)(i * 7 + j * 100003));
        }
        larch_abort(txn);
    }
    larch_close(db);
}

/* Puts to three LZ4 buckets in turn: each dictionary is indexed once, not at every switch. */
TEST(bucket, lz4_puts_in_turn_index_each_dictionary_once)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_bucket b[3];
    char kb[16];
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int j = 0; j < 3; j++) {
        static const char *const names[] = { "x", "y", "z" };
        CHECK_OK(larch_bucket_open(txn, names[j], LARCH_CREATE | LARCH_LZ4, &b[j]));
        for (int i = 0; i < 100; i++) { /* past the dictionary's 32 KiB */
            snprintf(kb, sizeof kb, "k%04d", i);
            put_json(txn, b[j], kb, (uint64_t)(i + j * 1000));
        }
    }
    CHECK_OK(larch_commit(txn));
    uint64_t builds = db->ws->encoder_builds;
    for (int t = 0; t < 2; t++) {
        CHECK_OK(larch_begin(db, 0, &txn));
        for (int g = 0; g < 300; g++) {
            int j = g % 3, i = 100 + t * 100 + g / 3;
            snprintf(kb, sizeof kb, "k%04d", i);
            put_json(txn, b[j], kb, (uint64_t)(i + j * 1000));
        }
        CHECK_OK(larch_commit(txn));
    }
    printf("    600 puts to three buckets in turn, two txns: %llu dictionary indexes built\n",
           (unsigned long long)(db->ws->encoder_builds - builds));
    CHECK(db->ws->encoder_builds - builds <= 3);
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 300; i++) {
            snprintf(kb, sizeof kb, "k%04d", i);
            check_json(txn, b[j], kb, (uint64_t)(i + j * 1000));
        }
    struct larch_stat st;
    CHECK_OK(larch_stat(txn, b[2], &st));
    CHECK(st.stored_bytes * 3 < st.value_bytes); /* and they did compress */
    larch_abort(txn);
    larch_close(db);
}

/* Gets keys r0000.. (json_record(i) each) in txn; checks each value at the end, when all are still live. */
static void get_all_json(larch_txn *txn, larch_bucket b, int count)
{
    const void *at[400];
    size_t len[400];
    char buf[2048], kb[16];
    CHECK(count <= 400);
    for (int i = 0; i < count; i++) {
        snprintf(kb, sizeof kb, "r%04d", i);
        larch_val k = str_val(kb), out;
        CHECK_OK(larch_get(txn, b, &k, &out));
        at[i] = out.data;
        len[i] = out.size;
    }
    for (int i = 0; i < count; i++) {
        size_t n = json_record(buf, sizeof buf, (uint64_t)i);
        CHECK(len[i] == n && memcmp(at[i], buf, n) == 0);
    }
}

/*
 * A transaction hands its memory for decompressed values and its decode
 * window on to the next one in its reader slot, or in the writer's state:
 * a read txn like the last needs no new memory. A chunk larger than the
 * keep limit (1 MiB) is not kept.
 */
TEST(bucket, lz4_txns_hand_their_memory_on)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_bucket b;
    char kb[16];
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "z", LARCH_CREATE | LARCH_LZ4, &b));
    for (int i = 0; i < 400; i++) { /* ~400 KiB decompressed: chunks of 64, 128, 256 KiB */
        snprintf(kb, sizeof kb, "r%04d", i);
        put_json(txn, b, kb, (uint64_t)i);
    }
    CHECK_OK(larch_commit(txn));

    struct reader_slot *slot = &db->readers.slot[0]; /* the one a lone thread claims */
    struct arena_chunk *kept = NULL;
    uint8_t *window = NULL;
    for (int t = 0; t < 3; t++) {
        CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
        CHECK(txn->slot == slot);
        CHECK(txn->arena == kept && txn->zwin == window);
        CHECK(slot->spare.arena == NULL && slot->spare.zwin == NULL); /* the txn holds them */
        get_all_json(txn, b, 400);
        /* The third txn finds the 512 KiB chunk the second one ended with: no new memory. */
        CHECK(t < 2 || (txn->arena == kept && kept->next == NULL));
        kept = txn->arena; /* the newest chunk is the largest */
        window = txn->zwin;
        CHECK(window != NULL);
        larch_abort(txn);
        CHECK(slot->spare.arena == kept && kept->used == 0 && kept->next == NULL);
        CHECK(slot->spare.zwin == window);
    }

    /* The writer's state keeps a chunk for the next write txn the same way. */
    CHECK_OK(larch_begin(db, 0, &txn));
    get_all_json(txn, b, 100);
    struct arena_chunk *wkept = txn->arena;
    CHECK_OK(larch_commit(txn));
    CHECK(db->ws->spare.arena == wkept && wkept != NULL);
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK(txn->arena == wkept && db->ws->spare.arena == NULL);

    /* A 2 MiB value needs a chunk past the keep limit (1 MiB): it is freed, a smaller one kept. */
    size_t big_len = (size_t)2 << 20;
    char *big = malloc(big_len);
    CHECK(big != NULL);
    for (size_t i = 0; i < big_len; i++)
        big[i] = "larch keeps what fits "[i % 22];
    larch_val k = str_val("big"), v = val_of(big, big_len), out;
    CHECK_OK(larch_put(txn, b, &k, &v, 0));
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_get(txn, b, &k, &out));
    CHECK(out.size == big_len && memcmp(out.data, big, big_len) == 0);
    CHECK(txn->arena->size >= big_len && txn->arena->next == kept);
    larch_abort(txn);
    CHECK(slot->spare.arena == kept);
    free(big);
    larch_close(db);
}

TEST(bucket, lz4_halves_json_files)
{
    char buf[2048];
    size_t total = 0;
    for (int i = 0; i < 1000; i++)
        total += json_record(buf, sizeof buf, (uint64_t)i);
    uint64_t plain = load_json("plain.db", 0), lz4 = load_json("lz4.db", LARCH_LZ4);
    printf("    %d JSON records of ~%zu bytes: plain bucket %.1f MiB, LZ4 bucket %.1f MiB (%.2fx smaller)\n",
           JSON_RECORDS, total / 1000, plain / 1048576.0, lz4 / 1048576.0, (double)plain / (double)lz4);
    CHECK(lz4 * 2 <= plain);
}

TEST(bucket, info)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn, *reader;
    larch_bucket a;
    struct larch_info info;
    CHECK_RC(larch_info(NULL, &info), LARCH_INVALID);
    CHECK_OK(larch_info(db, &info));
    CHECK(info.page_size == 4096 && info.buckets == 0 && info.readers == 0 && info.last_pgno == 1);
    uint64_t t0 = info.last_txnid;
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "a", LARCH_CREATE, &a));
    for (int i = 0; i < 1000; i++) {
        char kb[16];
        snprintf(kb, sizeof kb, "%06d", i);
        put_in(txn, a, kb, "some value that takes a little room");
    }
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_drop(txn, a, 0));
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &reader));
    CHECK_OK(larch_info(db, &info));
    CHECK(info.last_txnid == t0 + 2 && info.buckets == 1 && info.readers == 1);
    CHECK(info.free_pages > 5 && info.last_pgno > 10);
    CHECK(info.file_size == file_size_of(test_path("a.db")) && info.map_size >= info.file_size);
    larch_abort(reader);
    larch_close(db);
}

/* ---- Handles over the life of a process --------------------------------- */

/*
 * Before: a handle's generation came from the db pointer and the time, so
 * after a close and reopen in the same second the old handle of "alpha"
 * named "beta", and a put through it went into "beta".
 */
TEST(bucket, a_stale_handle_never_names_another_bucket)
{
    for (int round = 0; round < 200; round++) {
        larch_db *db = test_open_nosync("a.db");
        larch_txn *txn;
        larch_bucket alpha, beta;
        CHECK_OK(larch_begin(db, 0, &txn));
        CHECK_OK(larch_bucket_open(txn, "alpha", LARCH_CREATE, &alpha));
        CHECK_OK(larch_commit(txn));
        larch_close(db);
        db = test_open_nosync("a.db");
        CHECK_OK(larch_begin(db, 0, &txn));
        CHECK_OK(larch_bucket_open(txn, round % 2 ? "alpha" : "beta", LARCH_CREATE, &beta));
        larch_val k = str_val("stale"), v = str_val("v");
        CHECK_RC(larch_put(txn, alpha, &k, &v, 0), LARCH_INVALID);
        CHECK(strstr(larch_last_error_detail(), "names no bucket") != NULL);
        CHECK_RC(larch_get(txn, beta, &k, &v), LARCH_NOTFOUND);
        CHECK_OK(larch_commit(txn));
        larch_close(db);
    }
}

/* The entries of one handle's bucket table (db.h), for the tests below. */
static size_t table_entries(larch_db *db)
{
    size_t n = 0;
    for (unsigned i = 0; i < BUCKET_CHUNKS; i++) {
        _Atomic(struct bucket_entry *) *chunk = atomic_load(&db->buckets.chunk[i]);
        for (unsigned j = 0; chunk && j < BUCKET_CHUNK; j++)
            n += atomic_load(&chunk[j]) != NULL;
    }
    for (struct bucket_entry *e = db->buckets.limbo; e; e = e->next)
        n++;
    return n;
}

#ifdef LARCH_TEST_SMALL
#define BUCKET_CYCLES 5000
#else
#define BUCKET_CYCLES 66000 /* more than a table of 65,535 indexes holds */
#endif

/*
 * Before: every bucket ever created kept its entry (about 280 bytes) until
 * the handle closed, larch_bucket_open walked all of them (40 us -> 490 us
 * after 60,000 create/drop cycles), and the 65,536th creation in the life
 * of a handle failed with LARCH_FULL. Now a deleted bucket's entry goes,
 * its index serves again, and only live buckets count.
 */
TEST(bucket, create_and_drop_cycles_reuse_their_entries)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn, *reader;
    larch_bucket b, first = 0;
    char name[32];
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "keeper", LARCH_CREATE, &b));
    CHECK_OK(larch_commit(txn));
    for (int i = 0; i < BUCKET_CYCLES; i++) {
        snprintf(name, sizeof name, "cycle-%d", i);
        CHECK_OK(larch_begin(db, 0, &txn));
        CHECK_OK(larch_bucket_open(txn, name, LARCH_CREATE, &b));
        put_in(txn, b, "k", "v");
        if (i % 2) { /* half of them committed first, deleted by the next commit */
            CHECK_OK(larch_commit(txn));
            CHECK_OK(larch_begin(db, 0, &txn));
        }
        if (i == 0)
            first = b;
        CHECK(i == 0 || b != first); /* a new handle every time */
        CHECK_OK(larch_bucket_drop(txn, b, 1));
        CHECK_OK(larch_commit(txn));
    }
    /* A reader holds a snapshot: entries retired meanwhile wait for it. */
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &reader));
    CHECK_OK(larch_bucket_open(reader, "keeper", 0, &b));
    for (int i = 0; i < 10; i++) {
        CHECK_OK(larch_begin(db, 0, &txn));
        CHECK_OK(larch_bucket_open(txn, "short-lived", LARCH_CREATE, &b));
        CHECK_OK(larch_bucket_drop(txn, b, 1));
        CHECK_OK(larch_commit(txn));
    }
    size_t held = table_entries(db);
    larch_abort(reader);
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "keeper", 0, &b));
    put_in(txn, b, "after", "cycles");
    CHECK_OK(larch_commit(txn));
    printf("    %d create/drop cycles: %zu table entries at the end (%zu while a reader was open)\n", BUCKET_CYCLES,
           table_entries(db), held);
    CHECK(table_entries(db) <= 2 && held <= 12);
    CHECK(db->buckets.next_index <= 4);
    pagewalk_audit(db, NULL);
    larch_close(db);
}

/* The limit is one of buckets in use at once, with its own code. */
TEST(bucket, at_most_65535_buckets_in_use)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_bucket b;
    char name[32];
    CHECK_OK(larch_begin(db, 0, &txn));
    for (unsigned i = 0; i < BUCKET_MAX_INDEX; i++) {
        snprintf(name, sizeof name, "b%05u", i);
        CHECK_OK(larch_bucket_open(txn, name, LARCH_CREATE, &b));
    }
    CHECK_RC(larch_bucket_open(txn, "one too many", LARCH_CREATE, &b), LARCH_BUCKETS_FULL);
    CHECK(strstr(larch_strerror(LARCH_BUCKETS_FULL), "buckets") != NULL);
    CHECK(strstr(larch_strerror(LARCH_BUCKETS_FULL), "max_size") == NULL);
    larch_val k = str_val("k"), v = str_val("v");
    CHECK_OK(larch_put(txn, 0, &k, &v, 0)); /* the txn goes on */
    CHECK_OK(larch_bucket_open(txn, "b00007", 0, &b));
    CHECK_OK(larch_bucket_drop(txn, b, 1));
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, 0, &txn)); /* a deleted one made room */
    CHECK_OK(larch_bucket_open(txn, "one more", LARCH_CREATE, &b));
    CHECK_OK(larch_commit(txn));
    larch_close(db);
}

/* Before: larch_cursor_del on a cursor whose bucket the txn had deleted
 * made every later put fail and the commit return LARCH_INVALID. */
TEST(bucket, cursor_del_on_a_deleted_bucket_does_not_poison_the_txn)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_bucket b;
    larch_cursor *c;
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "doomed", LARCH_CREATE, &b));
    put_in(txn, b, "k", "v");
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_cursor_open(txn, b, &c));
    CHECK_OK(larch_cursor_get(c, NULL, NULL, LARCH_FIRST));
    CHECK_OK(larch_bucket_drop(txn, b, 1));
    CHECK_RC(larch_cursor_del(c), LARCH_INVALID);
    CHECK_RC(larch_cursor_get(c, NULL, NULL, LARCH_NEXT), LARCH_INVALID);
    larch_cursor_close(c);
    put_in(txn, 0, "still", "works");
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK(has(txn, 0, "still", "works"));
    CHECK_RC(larch_bucket_open(txn, "doomed", 0, &b), LARCH_NOTFOUND);
    larch_abort(txn);
    larch_close(db);
}

/* larch_bucket_set_sequence: the next sequence follows it; it commits
 * with the txn, and a read txn may not set it. */
TEST(bucket, set_sequence)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_bucket b;
    uint64_t next;
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "counted", LARCH_CREATE, &b));
    CHECK_OK(larch_bucket_set_sequence(txn, b, 41));
    CHECK_OK(larch_bucket_sequence(txn, b, &next));
    CHECK(next == 42);
    CHECK_OK(larch_bucket_set_sequence(txn, 0, 1000));
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_set_sequence(txn, b, 7));
    larch_abort(txn);
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    struct larch_stat st;
    CHECK_OK(larch_stat(txn, b, &st));
    CHECK(st.sequence == 42);
    CHECK_OK(larch_stat(txn, 0, &st));
    CHECK(st.sequence == 1000);
    CHECK_RC(larch_bucket_set_sequence(txn, b, 1), LARCH_INVALID);
    larch_abort(txn);
    larch_close(db);
}
