/*
 * test_meta.c - meta pages: encoding round trip, checksums, choosing the
 * newest valid one, and opening a file whose newest meta page is torn.
 */
#include "test.h"

#include "meta.h"

#include <fcntl.h>
#include <unistd.h>

static void sample_meta(struct meta *m, txnid_t txnid)
{
    memset(m, 0, sizeof *m);
    m->page_size = 4096;
    m->txnid = txnid;
    m->npages = 10;
    m->trees[TREE_MAIN] = (struct tree){ .root = 5, .entries = 100, .leaf_pages = 3, .branch_pages = 1, .depth = 2 };
    m->trees[TREE_FREE] = (struct tree){ .root = 7, .entries = 1, .leaf_pages = 1, .depth = 1 };
}

TEST(meta, round_trip_and_checksum)
{
    uint8_t page[4096];
    struct meta m, back;
    sample_meta(&m, 7);
    meta_encode(&m, page);
    CHECK(pg_pgno(page) == 1 && pg_type(page) == PAGE_META);
    CHECK_OK(meta_decode(page, sizeof page, 1, 0, &back));
    CHECK(memcmp(&m, &back, sizeof m) == 0);
    CHECK_RC(meta_decode(page, sizeof page, 0, 0, &back), LARCH_CORRUPT); /* wrong slot */
    CHECK_RC(meta_decode(page, sizeof page, 1, 9 * 4096, &back), LARCH_CORRUPT); /* file too short */
    for (size_t off = 0; off < sizeof page; off += 97) { /* any flipped byte is caught */
        uint8_t copy[4096];
        memcpy(copy, page, sizeof page);
        copy[off] ^= 0x10;
        CHECK(meta_decode(copy, sizeof copy, 1, 0, &back) != 0);
    }
    m.trees[TREE_MAIN].root = 10; /* a root past the last page */
    meta_encode(&m, page);
    CHECK_RC(meta_decode(page, sizeof page, 1, 0, &back), LARCH_CORRUPT);
}

TEST(meta, choose_newest_valid)
{
    struct meta m[2];
    sample_meta(&m[0], 4);
    sample_meta(&m[1], 5);
    int ok[2] = { 0, 0 }, torn1[2] = { 0, LARCH_CORRUPT }, torn0[2] = { LARCH_CORRUPT, 0 };
    int none[2] = { LARCH_NOTDB, LARCH_NOTDB }, bad[2] = { LARCH_CORRUPT, LARCH_NOTDB };
    int ver[2] = { LARCH_VERSION, LARCH_CORRUPT };
    CHECK(meta_choose(ok, m) == 1);
    CHECK(meta_choose(torn1, m) == 0);
    CHECK(meta_choose(torn0, m) == 1);
    CHECK(meta_choose(none, m) == LARCH_NOTDB);
    CHECK(meta_choose(bad, m) == LARCH_CORRUPT);
    CHECK(meta_choose(ver, m) == LARCH_VERSION);
    sample_meta(&m[0], 6);
    CHECK(meta_choose(ok, m) == 0);
}

static void put_commit(larch_db *db, const char *k, const char *v)
{
    larch_txn *txn;
    larch_val kv = str_val(k), vv = str_val(v);
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_put(txn, 0, &kv, &vv, 0));
    CHECK_OK(larch_commit(txn));
}

static int get_str(larch_db *db, const char *k, char *out)
{
    larch_txn *txn;
    larch_val kv = str_val(k), v;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    int rc = larch_get(txn, 0, &kv, &v);
    if (rc == 0) {
        memcpy(out, v.data, v.size);
        out[v.size] = 0;
    }
    larch_abort(txn);
    return rc;
}

TEST(meta, torn_newest_meta_falls_back_to_previous_commit)
{
    const char *p = test_path("a.db");
    larch_db *db;
    char buf[64];
    CHECK_OK(larch_open(p, NULL, &db));
    put_commit(db, "k", "first");
    put_commit(db, "k", "second"); /* txnid 3: meta page 1 */
    larch_close(db);
    /* Tear meta page 1 as a half-done write would: part of it is other bytes. */
    int fd = open(p, O_RDWR);
    uint8_t junk[16];
    memset(junk, 0xaa, sizeof junk);
    CHECK(pwrite(fd, junk, sizeof junk, 4096 + 48) == (ssize_t)sizeof junk);
    close(fd);
    CHECK_OK(larch_open(p, NULL, &db));
    CHECK_OK(get_str(db, "k", buf));
    CHECK(strcmp(buf, "first") == 0);
    /* Writing on goes forward from there and the file stays sound. */
    put_commit(db, "k", "third");
    put_commit(db, "k", "fourth");
    larch_close(db);
    CHECK_OK(larch_open(p, NULL, &db));
    CHECK_OK(get_str(db, "k", buf));
    CHECK(strcmp(buf, "fourth") == 0);
    larch_close(db);
}

/* The textbook bit-at-a-time CRC32C, to hold the fast ones to. */
static uint32_t crc32c_reference(const uint8_t *p, size_t len)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return ~c;
}

/* Every length up to 600 and those around the striped rounds (three
 * stripes of 64-byte blocks, 4032 bytes at most) at every alignment give
 * the standard CRC32C. */
TEST(meta, crc32c_matches_the_reference)
{
    static uint8_t buf[3 * 4096 + 64];
    uint64_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(x >> 56);
    }
    CHECK(crc32c(0, "123456789", 9) == 0xe3069283u);
    for (size_t len = 0; len <= 600; len++)
        CHECK(crc32c(0, buf + len % 9, len) == crc32c_reference(buf + len % 9, len));
    size_t lens[] = { 1023, 2800, 4031, 4032, 4033, 4079, 4080, 4092, 4096, 8064, 8065, 8160, 9000, 3 * 4096 };
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
        for (size_t off = 0; off < 9; off++)
            CHECK(crc32c(0, buf + off, lens[l]) == crc32c_reference(buf + off, lens[l]));
    /* Chained: the CRC of a whole equals that of its parts in sequence. */
    CHECK(crc32c(crc32c(0, buf, 5000), buf + 5000, 7000) == crc32c(0, buf, 12000));
}
