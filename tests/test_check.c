/*
 * test_check.c - larch_check finds damage and names the page: a flipped
 * byte in a branch page, a page referenced twice, a truncated file; and
 * neither the check nor reads crash on randomly damaged files.
 */
#include "pagewalk.h"

#include "format.h"
#include "txn.h"

#include <fcntl.h>
#include <unistd.h>

/* A new file at p, a write txn on it and its LZ4 bucket "zipped". */
static void begin_with_zipped(const char *p, larch_db **db, larch_txn **txn, larch_bucket *z)
{
    larch_options o = { 0 };
    o.flags = LARCH_NOSYNC;
    CHECK_OK(larch_open(p, &o, db));
    CHECK_OK(larch_begin(*db, 0, txn));
    CHECK_OK(larch_bucket_open(*txn, "zipped", LARCH_CREATE | LARCH_LZ4, z));
}

static const char *make_db(const char *name, int n)
{
    const char *p = test_path(name);
    larch_db *db;
    larch_txn *txn;
    larch_bucket z;
    begin_with_zipped(p, &db, &txn, &z);
    char kb[32], vb[6000];
    for (int i = 0; i < n; i++) {
        snprintf(kb, sizeof kb, "key%06d", i);
        size_t vl = i % 40 == 0 ? 5000 : 60 + (size_t)(i % 150);
        for (size_t j = 0; j < vl; j++)
            vb[j] = "{\"name\":\"value\",\"n\":1}"[j % 23];
        larch_val k = str_val(kb), v = val_of(vb, vl);
        CHECK_OK(larch_put(txn, i % 2 ? z : 0, &k, &v, 0));
    }
    CHECK_OK(larch_commit(txn));
    larch_close(db);
    return p;
}

static pgno_t main_root(const char *p)
{
    larch_db *db;
    larch_txn *txn;
    larch_options o = { 0 };
    o.flags = LARCH_RDONLY;
    CHECK_OK(larch_open(p, &o, &db));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    pgno_t root = txn->meta.trees[TREE_MAIN].root;
    CHECK(txn->meta.trees[TREE_MAIN].depth >= 2);
    larch_abort(txn);
    larch_close(db);
    return root;
}

/* Run the check on a file; return its result and the report. */
static int check_file(const char *p, larch_check_report *rep)
{
    larch_db *db;
    larch_txn *txn;
    larch_options o = { 0 };
    o.flags = LARCH_RDONLY;
    int rc = larch_open(p, &o, &db);
    if (rc)
        return rc;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    rc = larch_check(txn, rep);
    larch_abort(txn);
    larch_close(db);
    return rc;
}

static bool message_has(const larch_check_report *rep, const char *text)
{
    for (unsigned i = 0; i < rep->nmessages; i++)
        if (strstr(rep->message[i], text))
            return true;
    return false;
}

TEST(check, sound_file_passes)
{
    const char *p = make_db("a.db", 5000);
    larch_check_report rep;
    CHECK_OK(check_file(p, &rep));
    CHECK(rep.problems == 0 && rep.nmessages == 0 && rep.entries == 5000 && rep.buckets == 1);
    CHECK(rep.tree_pages + rep.free_pages + 2 == rep.pages);
    CHECK_RC(larch_check(NULL, &rep), LARCH_INVALID);
}

TEST(check, flipped_byte_in_a_branch_page)
{
    const char *p = make_db("a.db", 5000);
    pgno_t root = main_root(p);
    file_flip_byte(p, root * 4096 + 4000);
    larch_check_report rep;
    CHECK_RC(check_file(p, &rep), LARCH_CORRUPT);
    char want[64];
    snprintf(want, sizeof want, "page %llu", (unsigned long long)root);
    for (unsigned i = 0; i < rep.nmessages; i++)
        printf("    %s\n", rep.message[i]);
    CHECK(message_has(&rep, want) && message_has(&rep, "checksum"));
}

TEST(check, page_referenced_twice)
{
    const char *p = make_db("a.db", 5000);
    pgno_t root = main_root(p);
    /* Point the root's second child at its first one, with a fresh checksum. */
    int fd = open(p, O_RDWR);
    uint8_t page[4096];
    CHECK(pread(fd, page, sizeof page, (off_t)(root * 4096)) == (ssize_t)sizeof page);
    CHECK(pg_nkeys(page) >= 2);
    pgno_t first = branch_child(pg_entry(page, 0)), second = branch_child(pg_entry(page, 1));
    branch_set_child(pg_entry(page, 1), first);
    put32(page, page_checksum(page, sizeof page));
    CHECK(pwrite(fd, page, sizeof page, (off_t)(root * 4096)) == (ssize_t)sizeof page);
    close(fd);
    larch_check_report rep;
    CHECK_RC(check_file(p, &rep), LARCH_CORRUPT);
    for (unsigned i = 0; i < rep.nmessages; i++)
        printf("    %s\n", rep.message[i]);
    char want[64];
    snprintf(want, sizeof want, "page %llu is reached twice", (unsigned long long)first);
    CHECK(message_has(&rep, want));
    CHECK(message_has(&rep, "lost") || message_has(&rep, "out of order") || second == first);
}

TEST(check, truncated_file)
{
    const char *p = make_db("a.db", 5000);
    uint64_t size = file_size_of(p);
    CHECK(truncate(p, (off_t)(size - 8 * 4096)) == 0);
    larch_db *db;
    CHECK_RC(larch_open(p, NULL, &db), LARCH_CORRUPT); /* not for writing */
    larch_check_report rep;
    CHECK_RC(check_file(p, &rep), LARCH_CORRUPT); /* read-only: opens, and the check says why */
    for (unsigned i = 0; i < rep.nmessages; i++)
        printf("    %s\n", rep.message[i]);
    CHECK(message_has(&rep, "cut short"));
    /* What is left can still be read; what is gone reports damage. */
    larch_options o = { 0 };
    o.flags = LARCH_RDONLY;
    CHECK_OK(larch_open(p, &o, &db));
    larch_txn *txn;
    larch_cursor *c;
    larch_val k, v;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_cursor_open(txn, 0, &c));
    int rc, n = 0;
    while ((rc = larch_cursor_get(c, &k, &v, LARCH_NEXT)) == 0)
        n++;
    CHECK(rc == LARCH_NOTFOUND || rc == LARCH_CORRUPT);
    printf("    %d entries of bucket 0 read before the end (%s)\n", n, larch_strerror(rc));
    larch_cursor_close(c);
    larch_abort(txn);
    larch_close(db);
}

/* Flip random bytes in random pages; open, scan everything, check: never crash. */
TEST(check, random_damage_never_crashes)
{
    rng_t r = { test_seed("random damage", 77) };
    const char *good = make_db("good.db", 3000);
    uint64_t size = file_size_of(good);
    uint8_t *img = malloc(size);
    int fd = open(good, O_RDONLY);
    CHECK(pread(fd, img, size, 0) == (ssize_t)size);
    close(fd);
    const char *p = test_path("bad.db");
    int rounds = test_long() ? 2000 : 200, opened = 0, found = 0;
    for (int round = 0; round < rounds; round++) {
        uint8_t *copy = malloc(size);
        memcpy(copy, img, size);
        int flips = 1 + (int)rng_below(&r, 8);
        for (int f = 0; f < flips; f++) {
            uint64_t off = rng_below(&r, size);
            if (rng_below(&r, 2))
                off = (off & ~4095ull) + rng_below(&r, 64); /* often the header */
            copy[off] ^= (uint8_t)(1 + rng_below(&r, 255));
        }
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        CHECK(write(fd, copy, size) == (ssize_t)size);
        close(fd);
        free(copy);
        larch_db *db;
        larch_options o = { 0 };
        o.flags = LARCH_RDONLY;
        if (larch_open(p, &o, &db) != 0)
            continue;
        opened++;
        larch_txn *txn;
        larch_check_report rep;
        CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
        if (larch_check(txn, &rep) == LARCH_CORRUPT)
            found++;
        larch_bucket z;
        larch_bucket buckets[2] = { 0, 0 };
        if (larch_bucket_open(txn, "zipped", 0, &z) == 0)
            buckets[1] = z;
        for (int b = 0; b < 2; b++) {
            larch_cursor *c;
            larch_val k, v;
            if (larch_cursor_open(txn, buckets[b], &c))
                continue;
            for (int dir = 0; dir < 2; dir++) {
                int steps = 0;
                while (larch_cursor_get(c, &k, &v, dir ? LARCH_PREV : LARCH_NEXT) == 0 && steps++ < 100000)
                    ;
            }
            for (int g = 0; g < 20; g++) {
                char kb[32];
                snprintf(kb, sizeof kb, "key%06d", (int)rng_below(&r, 3000));
                k = str_val(kb);
                larch_get(txn, buckets[b], &k, &v);
                larch_cursor_get(c, &k, &v, LARCH_SEEK);
            }
            larch_cursor_close(c);
        }
        larch_abort(txn);
        larch_close(db);
        /* And a writer on the damaged file: refusals are fine, crashes are not. */
        larch_options w = { 0 };
        w.flags = LARCH_NOSYNC;
        if (larch_open(p, &w, &db) != 0)
            continue;
        if (larch_begin(db, 0, &txn) == 0) {
            char vb[300];
            memset(vb, 'w', sizeof vb);
            larch_bucket wz = 0;
            larch_bucket_open(txn, "zipped", 0, &wz); /* stays 0 if it cannot */
            int rc = 0;
            for (int i = 0; i < 200 && (rc == 0 || rc == LARCH_NOTFOUND); i++) {
                char kb[32];
                snprintf(kb, sizeof kb, "key%06d", (int)rng_below(&r, 3000));
                larch_val k = str_val(kb), v = val_of(vb, rng_below(&r, 300));
                rc = i % 3 ? larch_put(txn, i % 2 ? wz : 0, &k, &v, 0) : larch_del(txn, 0, &k);
            }
            larch_commit(txn);
        }
        larch_close(db);
    }
    printf("    %d damaged files: %d opened, the check found damage in %d\n", rounds, opened, found);
    CHECK(found > 0);
    free(img);
}

/* Count the entries a full scan of bucket 0 returns; *rc gets how it ended. */
static int scan_all(const char *p, unsigned flags, int *rc)
{
    larch_db *db;
    larch_txn *txn;
    larch_cursor *c;
    larch_val k, v;
    larch_options o = { 0 };
    o.flags = LARCH_RDONLY | flags;
    CHECK_OK(larch_open(p, &o, &db));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_cursor_open(txn, 0, &c));
    int n = 0;
    while ((*rc = larch_cursor_get(c, &k, &v, LARCH_NEXT)) == 0)
        n++;
    larch_cursor_close(c);
    larch_abort(txn);
    larch_close(db);
    return n;
}

TEST(check, verify_flag_catches_silent_damage)
{
    const char *p = make_db("a.db", 5000);
    pgno_t root = main_root(p);
    int fd = open(p, O_RDONLY);
    uint8_t page[4096];
    CHECK(pread(fd, page, sizeof page, (off_t)(root * 4096)) == (ssize_t)sizeof page);
    close(fd);
    pgno_t leaf = branch_child(pg_entry(page, 1));
    int rc;
    CHECK(scan_all(p, LARCH_VERIFY, &rc) == 2500 && rc == LARCH_NOTFOUND); /* sound: same with VERIFY */
    /* Flip a byte of a value: the page still looks well formed. */
    file_flip_byte(p, leaf * 4096 + 4090);
    int plain = scan_all(p, 0, &rc);
    CHECK(plain == 2500 && rc == LARCH_NOTFOUND); /* without VERIFY the damage goes unseen */
    scan_all(p, LARCH_VERIFY, &rc);
    CHECK_RC(rc, LARCH_CORRUPT);
    /* Damage in an overflow run is caught too. */
    p = make_db("b.db", 5000);
    larch_db *db;
    larch_txn *txn;
    larch_options o = { 0 };
    o.flags = LARCH_RDONLY | LARCH_VERIFY;
    CHECK_OK(larch_open(p, &o, &db));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    larch_val k = str_val("key000040"), v; /* i % 40 == 0: a 5000-byte value */
    CHECK_OK(larch_get(txn, 0, &k, &v));
    uint64_t off = (uint64_t)((const uint8_t *)v.data - txn->map) + 3000;
    larch_abort(txn);
    larch_close(db);
    file_flip_byte(p, off);
    CHECK_OK(larch_open(p, &o, &db));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_RC(larch_get(txn, 0, &k, &v), LARCH_CORRUPT);
    larch_abort(txn);
    larch_close(db);
    /* The run has no header: the check finds it by its leaf entry's checksum. */
    larch_check_report rep;
    CHECK_RC(check_file(p, &rep), LARCH_CORRUPT);
    char want[64];
    snprintf(want, sizeof want, "overflow run: page %llu fails its checksum", (unsigned long long)(off / 4096));
    for (unsigned i = 0; i < rep.nmessages; i++)
        printf("    %s\n", rep.message[i]);
    CHECK(rep.problems == 1 && message_has(&rep, want));
}

/* Writing into a damaged page: an entry whose size claims more than a page
 * once overflowed the split's buffer; the writer must refuse the page. */
TEST(check, writer_refuses_a_damaged_page)
{
    const char *p = make_db("a.db", 600);
    pgno_t root = main_root(p);
    int fd = open(p, O_RDWR);
    uint8_t page[4096];
    CHECK(pread(fd, page, sizeof page, (off_t)(root * 4096)) == (ssize_t)sizeof page);
    pgno_t leaf = branch_child(pg_entry(page, 0));
    CHECK(pread(fd, page, sizeof page, (off_t)(leaf * 4096)) == (ssize_t)sizeof page);
    uint8_t *e = pg_entry(page, 0);
    e[0] = 0;             /* inline */
    put32(e + 4, 5000);   /* "5000 bytes": more than the page */
    put32(page, page_checksum(page, sizeof page));
    CHECK(pwrite(fd, page, sizeof page, (off_t)(leaf * 4096)) == (ssize_t)sizeof page);
    close(fd);
    larch_db *db;
    larch_txn *txn;
    larch_options o = { 0 };
    o.flags = LARCH_NOSYNC;
    CHECK_OK(larch_open(p, &o, &db));
    CHECK_OK(larch_begin(db, 0, &txn));
    int rc = 0;
    char vb[40] = { 0 };
    for (int i = 0; i < 300 && rc == 0; i++) {
        char kb[32];
        snprintf(kb, sizeof kb, "key%06dx", i % 20);
        larch_val k = str_val(kb), v = val_of(vb, sizeof vb);
        rc = larch_put(txn, 0, &k, &v, 0);
    }
    CHECK_RC(rc, LARCH_CORRUPT);
    CHECK_RC(larch_commit(txn), LARCH_CORRUPT); /* the txn is spent; nothing was written */
    larch_close(db);
}

/* Read page pgno of file p, let damage() change it, fix its checksum and write it back. */
static void patch_page(const char *p, pgno_t pgno, void (*damage)(uint8_t *page))
{
    uint8_t page[4096];
    int fd = open(p, O_RDWR);
    CHECK(fd >= 0);
    CHECK(pread(fd, page, sizeof page, (off_t)(pgno * 4096)) == (ssize_t)sizeof page);
    damage(page);
    put32(page, page_checksum(page, sizeof page));
    CHECK(pwrite(fd, page, sizeof page, (off_t)(pgno * 4096)) == (ssize_t)sizeof page);
    close(fd);
}

static pgno_t first_leaf(const char *p)
{
    uint8_t page[4096];
    int fd = open(p, O_RDONLY);
    CHECK(pread(fd, page, sizeof page, (off_t)(main_root(p) * 4096)) == (ssize_t)sizeof page);
    close(fd);
    return branch_child(pg_entry(page, 0));
}

static void swap_two_heads(uint8_t *page)
{
    unsigned a = pg_head(page, 1), b = pg_head(page, 2);
    CHECK(a != b);
    pg_set_head(page, 1, b);
    pg_set_head(page, 2, a);
}

static void claim_longer_prefix(uint8_t *page) { pg_set_prefix(page, pg_prefix(page) + 4); }

/* A key head or prefix that does not match the keys would make searches miss
 * keys: the check reports it, and a writer refuses to change the page. */
TEST(check, wrong_key_heads_are_found)
{
    void (*damage[])(uint8_t *) = { swap_two_heads, claim_longer_prefix };
    for (int d = 0; d < 2; d++) {
        const char *p = make_db(d ? "prefix.db" : "heads.db", 600);
        patch_page(p, first_leaf(p), damage[d]);
        larch_check_report rep;
        CHECK_RC(check_file(p, &rep), LARCH_CORRUPT);
        CHECK(message_has(&rep, "key prefix or its slot's key head"));
        larch_db *db;
        larch_txn *txn;
        CHECK_OK(larch_open(p, NULL, &db));
        CHECK_OK(larch_begin(db, 0, &txn));
        larch_val k = str_val("key000000"), v = str_val("new");
        CHECK_RC(larch_put(txn, 0, &k, &v, 0), LARCH_CORRUPT);
        larch_abort(txn);
        larch_close(db);
    }
}

static void claim_4gib(uint8_t *page)
{
    for (unsigned i = 0; i < pg_nkeys(page); i++) {
        uint8_t *e = pg_entry(page, i);
        if ((leaf_flags(e) & (ENTRY_LZ4 | ENTRY_BIG)) == ENTRY_LZ4) {
            put32(leaf_value(e), 0xfffffff0u); /* the original length */
            return;
        }
    }
    CHECK(!"no inline LZ4 entry in the page");
}

/* A compressed value claiming a 4 GiB original: reads and the check give
 * LARCH_CORRUPT without trying to allocate it (found by fuzz_open; the
 * file is also kept as tests/fuzz-regress/fuzz_open/lz4-claims-4gib). */
TEST(check, lz4_length_claim_is_bounded)
{
    const char *p = test_path("lz4.db");
    larch_db *db;
    larch_txn *txn;
    larch_bucket z;
    begin_with_zipped(p, &db, &txn, &z);
    char vb[400];
    memset(vb, 'a', sizeof vb);
    larch_val k = str_val("only"), v = val_of(vb, sizeof vb);
    CHECK_OK(larch_put(txn, z, &k, &v, 0));
    struct tree *t;
    CHECK_OK(txn_tree(txn, z, &t));
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(txn_tree(txn, z, &t));
    pgno_t leaf = t->root;
    CHECK(t->depth == 1);
    larch_abort(txn);
    larch_close(db);
    patch_page(p, leaf, claim_4gib);
    if (getenv("LARCH_SAVE_REGRESS")) { /* how the kept fuzz input was made */
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "cp %s %s", p, getenv("LARCH_SAVE_REGRESS"));
        CHECK(system(cmd) == 0);
    }
    larch_options o = { 0 };
    o.flags = LARCH_RDONLY;
    CHECK_OK(larch_open(p, &o, &db));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_bucket_open(txn, "zipped", 0, &z));
    CHECK_RC(larch_get(txn, z, &k, &v), LARCH_CORRUPT);
    larch_check_report rep;
    CHECK_RC(larch_check(txn, &rep), LARCH_CORRUPT);
    larch_abort(txn);
    larch_close(db);
}

/* A branch or leaf page's checksum leaves out its free middle (which
 * means nothing) and covers everything else. */
TEST(check, checksum_skips_only_the_free_middle)
{
    uint8_t page[4096];
    const char *p = make_db("gap.db", 600);
    int fd = open(p, O_RDONLY);
    CHECK(pread(fd, page, sizeof page, (off_t)(first_leaf(p) * 4096)) == (ssize_t)sizeof page);
    close(fd);
    CHECK(pg_checksum(page) == page_checksum(page, sizeof page));
    unsigned lower = pg_lower(page), upper = pg_upper(page);
    CHECK(upper > lower + 2);
    page[(lower + upper) / 2] ^= 0x5a; /* in the middle: no change */
    CHECK(pg_checksum(page) == page_checksum(page, sizeof page));
    page[upper] ^= 0x01; /* the first byte of the entry heap */
    CHECK(pg_checksum(page) != page_checksum(page, sizeof page));
    page[upper] ^= 0x01;
    page[lower - 1] ^= 0x01; /* the last slot */
    CHECK(pg_checksum(page) != page_checksum(page, sizeof page));
}
