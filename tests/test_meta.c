/*
 * test_meta.c - meta pages: encoding round trip, checksums, choosing the
 * newest valid one, and opening a file whose newest meta page is torn.
 */
#include "pagewalk.h"

#include "meta.h"
#include "os.h"

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
    meta_encode(&m, NULL, page);
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
    meta_encode(&m, NULL, page);
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
    int newer0[2] = { LARCH_VERSION, 0 }, newer1[2] = { 0, LARCH_VERSION };
    CHECK(meta_choose(newer0, m) == LARCH_VERSION); /* not the other, older commit */
    CHECK(meta_choose(newer1, m) == LARCH_VERSION);
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

/* The whole file at path, as a crash of the process would leave it. */
static uint8_t *file_image(const char *path, size_t *len)
{
    *len = file_size_of(path);
    uint8_t *b = malloc(*len);
    int fd = open(path, O_RDONLY);
    CHECK(b && fd >= 0 && pread(fd, b, *len, 0) == (ssize_t)*len);
    close(fd);
    return b;
}

static void file_write(const char *path, const uint8_t *b, size_t len)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && pwrite(fd, b, len, 0) == (ssize_t)len);
    close(fd);
}

TEST(meta, torn_newest_meta_falls_back_to_previous_commit)
{
    const char *a = test_path("a.db"), *p = test_path("crashed.db");
    larch_db *db;
    char buf[64];
    size_t len;
    CHECK_OK(larch_open(a, NULL, &db));
    put_commit(db, "k", "first");
    put_commit(db, "k", "second"); /* txnid 3: meta page 1 */
    uint8_t *img = file_image(a, &len); /* before close, which commits again */
    larch_close(db);
    /* Tear meta page 1 as a half-done write would: part of it is other bytes. */
    memset(img + 4096 + 48, 0xaa, 16);
    file_write(p, img, len);
    free(img);
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

/* ---- One-sync commits ------------------------------------------------------ */

/* The newest valid meta page in a file image (4 KiB pages), and its page. */
static struct meta image_newest_meta(const uint8_t *img, size_t len, const uint8_t **page)
{
    struct meta m[2];
    int rc[2];
    for (unsigned i = 0; i < NUM_METAS; i++)
        rc[i] = meta_decode(img + i * 4096, len - i * 4096, i, 0, &m[i]);
    int pick = meta_choose(rc, m);
    CHECK(pick >= 0);
    *page = img + pick * 4096;
    return m[pick];
}

static struct meta file_newest_meta(const char *path)
{
    size_t len;
    const uint8_t *page;
    uint8_t *img = file_image(path, &len);
    struct meta m = image_newest_meta(img, len, &page);
    free(img);
    return m;
}

static int datasyncs;
static int counting_fdatasync(int fd)
{
    datasyncs++;
    return os_io_default()->fdatasync(fd);
}

static void restore_io(void *unused)
{
    (void)unused;
    os_io_set(NULL);
}

/* n puts of vsize-byte values in one transaction; keys "<tag>-%06d". */
static void put_many(larch_db *db, const char *tag, int n, size_t vsize)
{
    larch_txn *txn;
    char kb[32];
    uint8_t *vb = calloc(1, vsize + 1);
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int i = 0; i < n; i++) {
        snprintf(kb, sizeof kb, "%s-%06d", tag, i);
        memset(vb, 'a' + i % 26, vsize);
        larch_val k = str_val(kb), v = val_of(vb, vsize);
        CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    }
    CHECK_OK(larch_commit(txn));
    free(vb);
}

TEST(meta, small_commits_sync_once_and_large_ones_twice)
{
    static struct os_io counting;
    const char *p = test_path("a.db");
    larch_db *db;
    counting = *os_io_default();
    counting.fdatasync = counting_fdatasync;
    test_on_fail(restore_io, NULL);
    CHECK_OK(larch_open(p, NULL, &db));
    os_io_set(&counting);
    datasyncs = 0;
    put_commit(db, "k", "v");
    CHECK(datasyncs == 1);
    struct meta m = file_newest_meta(p);
    CHECK(m.nwritten >= 1 && m.nwritten <= META_WRITTEN_MAX);
    datasyncs = 0;
    put_many(db, "big", 300, 8000); /* 2.4 MB: more than a one-sync commit lists */
    CHECK(datasyncs == 2);
    CHECK(file_newest_meta(p).nwritten == 0);
    datasyncs = 0;
    put_many(db, "runs", 40, 3000); /* 40 overflow runs and the tree pages over them */
    m = file_newest_meta(p);
    CHECK_MSG(datasyncs == (m.nwritten ? 1 : 2), "%d syncs, %u runs listed", datasyncs, m.nwritten);
    put_commit(db, "k", "w");
    CHECK(file_newest_meta(p).nwritten > 0);
    /* Close writes the last commit's meta page again without the list. */
    datasyncs = 0;
    larch_close(db);
    CHECK(datasyncs == 1);
    CHECK(file_newest_meta(p).nwritten == 0);

    /* LARCH_NOMETASYNC syncs the pages before the meta page, and only them. */
    larch_options o = { .flags = LARCH_NOMETASYNC };
    CHECK_OK(larch_open(p, &o, &db));
    datasyncs = 0;
    put_commit(db, "k", "x");
    CHECK(datasyncs == 1 && file_newest_meta(p).nwritten == 0);
    larch_close(db);
    o.flags = LARCH_NOSYNC;
    CHECK_OK(larch_open(p, &o, &db));
    datasyncs = 0;
    put_commit(db, "k", "y");
    larch_close(db);
    CHECK(datasyncs == 0 && file_newest_meta(p).nwritten == 0);
    os_io_set(NULL);
}

/* Open a crash image; the value of "k" and what larch_info and larch_check say. */
static void open_image(const char *path, unsigned flags, const char *want, uint64_t discarded)
{
    larch_db *db;
    larch_options o = { .flags = flags };
    char buf[64];
    struct larch_info info;
    CHECK_OK(larch_open(path, &o, &db));
    CHECK_OK(get_str(db, "k", buf));
    CHECK_MSG(strcmp(buf, want) == 0, "k is \"%s\", wanted \"%s\"", buf, want);
    CHECK_OK(larch_info(db, &info));
    CHECK_MSG(info.discarded_txnid == discarded, "discarded txnid %llu, wanted %llu",
              (unsigned long long)info.discarded_txnid, (unsigned long long)discarded);
    larch_txn *txn;
    larch_check_report rep;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    audit_txn(txn, &rep);
    larch_abort(txn);
    CHECK(rep.damaged_metas == (discarded ? 1u : 0u));
    larch_close(db);
}

/*
 * A one-sync commit cut short: its meta page reached the disk, one of its
 * pages did not (the disk kept the page's old bytes) or only in part. Each
 * listed run in turn. The file opens at the commit before, read-only and
 * writable; the writable open clears the incomplete meta page, and the
 * next commits go on from there.
 */
TEST(meta, one_sync_commit_with_a_lost_page_opens_the_commit_before)
{
    const char *a = test_path("a.db"), *p = test_path("crashed.db");
    larch_db *db;
    size_t len1, len2;
    CHECK_OK(larch_open(a, NULL, &db));
    put_many(db, "base", 3000, 20); /* a tree of some depth */
    put_commit(db, "k", "first");
    uint8_t *img1 = file_image(a, &len1);
    larch_txn *txn;
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int i = 0; i < 3000; i += 300) { /* touch leaves all over the tree */
        char kb[32];
        snprintf(kb, sizeof kb, "base-%06d", i);
        larch_val k = str_val(kb), v = str_val("changed");
        CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    }
    larch_val k = str_val("k"), v = str_val("second");
    CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    CHECK_OK(larch_commit(txn));
    uint8_t *img2 = file_image(a, &len2);
    larch_close(db);
    const uint8_t *mp;
    struct meta m = image_newest_meta(img2, len2, &mp);
    CHECK_MSG(m.nwritten >= 10, "the commit wrote %u runs", m.nwritten);

    file_write(p, img2, len2); /* whole: the new commit */
    open_image(p, LARCH_RDONLY, "second", 0);
    uint8_t *img = malloc(len2);
    for (unsigned i = 0; i < m.nwritten; i++) {
        struct written_run r = meta_written_run(mp, i);
        size_t off = (size_t)r.pgno * 4096;
        CHECK(off + 4096 <= len2);
        for (int torn = 0; torn < 2; torn++) {
            memcpy(img, img2, len2);
            if (torn) /* the last sector: never in a page's unused middle */
                memcpy(img + off + 3584, off + 4096 <= len1 ? img1 + off + 3584 : img1, 512);
            else if (off + 4096 <= len1)
                memcpy(img + off, img1 + off, 4096);
            else
                memset(img + off, 0, 4096);
            file_write(p, img, len2);
            printf("    run %u (page %llu), %s\n", i, (unsigned long long)r.pgno, torn ? "torn" : "lost");
            open_image(p, LARCH_RDONLY, "first", m.txnid);
            open_image(p, 0, "first", m.txnid); /* clears the meta page ... */
            open_image(p, 0, "first", 0);      /* ... so it is gone */
        }
    }
    /* And the next commits go on from there. */
    CHECK_OK(larch_open(p, NULL, &db));
    put_commit(db, "k", "third");
    larch_close(db);
    open_image(p, 0, "third", 0);
    free(img);
    free(img1);
    free(img2);
}

/*
 * An overflow run has no header: a one-sync commit lists it by its length
 * and the checksum its leaf entry carries, and open checks its bytes
 * against that. A value of exactly three pages takes three pages. Each
 * way of losing part of it (the whole run, its last page, one sector in
 * its middle page) opens the commit before.
 */
TEST(meta, one_sync_commit_with_a_lost_overflow_run_opens_the_commit_before)
{
    const char *a = test_path("a.db"), *p = test_path("crashed.db");
    larch_db *db;
    size_t len1, len2;
    CHECK_OK(larch_open(a, NULL, &db));
    put_many(db, "base", 200, 20);
    put_commit(db, "k", "first");
    uint8_t *img1 = file_image(a, &len1);
    uint8_t big[3 * 4096];
    rng_t rng = { 7 };
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(rng_next(&rng) | 1); /* never the zeros of a page not yet written */
    larch_txn *txn;
    CHECK_OK(larch_begin(db, 0, &txn));
    larch_val k = str_val("k"), v = str_val("second"), bk = str_val("big"), bv = val_of(big, sizeof big);
    CHECK_OK(larch_put(txn, 0, &bk, &bv, 0));
    CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    CHECK_OK(larch_commit(txn));
    struct larch_stat st;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_stat(txn, 0, &st));
    larch_abort(txn);
    CHECK_MSG(st.overflow_pages == 3, "a 12 KiB value took %llu pages", (unsigned long long)st.overflow_pages);
    uint8_t *img2 = file_image(a, &len2);
    larch_close(db);
    const uint8_t *mp;
    struct meta m = image_newest_meta(img2, len2, &mp);
    struct written_run run = { 0 };
    for (unsigned i = 0; i < m.nwritten; i++)
        if (meta_written_run(mp, i).bare_pages)
            run = meta_written_run(mp, i);
    CHECK_MSG(run.bare_pages == 3 && run.checksum == run_checksum(img2 + run.pgno * 4096, sizeof big),
              "listed: page %llu, %u pages", (unsigned long long)run.pgno, run.bare_pages);
    CHECK(memcmp(img2 + run.pgno * 4096, big, sizeof big) == 0);

    file_write(p, img2, len2);
    open_image(p, LARCH_RDONLY, "second", 0);
    uint8_t *img = malloc(len2);
    static const struct { size_t from, len; const char *what; } lose[] = {
        { 0, 3 * 4096, "the whole run" }, { 2 * 4096, 4096, "its last page" }, { 4096 + 1024, 512, "a sector" } };
    for (size_t i = 0; i < sizeof lose / sizeof lose[0]; i++) {
        size_t off = (size_t)run.pgno * 4096 + lose[i].from;
        memcpy(img, img2, len2);
        if (off + lose[i].len <= len1)
            memcpy(img + off, img1 + off, lose[i].len);
        else
            memset(img + off, 0, lose[i].len);
        file_write(p, img, len2);
        printf("    lost %s\n", lose[i].what);
        open_image(p, LARCH_RDONLY, "first", m.txnid);
        open_image(p, 0, "first", m.txnid);
        open_image(p, 0, "first", 0);
    }
    free(img);
    free(img1);
    free(img2);
}

/* A one-sync commit grew the file, and the new size did not reach the disk. */
TEST(meta, one_sync_commit_whose_file_growth_was_lost_opens_the_commit_before)
{
    const char *a = test_path("a.db"), *p = test_path("crashed.db");
    larch_db *db;
    size_t len1, len2;
    CHECK_OK(larch_open(a, NULL, &db));
    put_commit(db, "k", "first");
    uint8_t *img1 = file_image(a, &len1);
    /* One overflow run, past the file's end, and "second", in one commit. */
    larch_txn *txn;
    uint8_t *big = calloc(1, 600 * 1024);
    CHECK_OK(larch_begin(db, 0, &txn));
    larch_val k = str_val("k"), v = str_val("second"), bk = str_val("big"), bv = val_of(big, 600 * 1024);
    CHECK_OK(larch_put(txn, 0, &bk, &bv, 0));
    CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    CHECK_OK(larch_commit(txn));
    free(big);
    uint8_t *img2 = file_image(a, &len2);
    larch_close(db);
    const uint8_t *mp;
    struct meta m = image_newest_meta(img2, len2, &mp);
    CHECK(len2 > len1 && m.nwritten > 0 && m.npages * 4096 > len1);
    file_write(p, img2, len1); /* the pages that fit, and the old size */
    open_image(p, LARCH_RDONLY, "first", m.txnid);
    file_write(p, img2, len2);
    open_image(p, 0, "second", 0);
    free(img1);
    free(img2);
}

/*
 * Format version 5 stores branch keys less the page prefix, which version 4
 * pages do not: a file whose meta pages say 4 or 3 is refused (with
 * LARCH_VERSION, and unchanged), as is one where just the newest meta page
 * carries a later version (not: the other, older commit opened).
 */
TEST(meta, other_format_versions_are_refused)
{
    const char *p = test_path("a.db");
    larch_db *db;
    char buf[64];
    CHECK_OK(larch_open(p, NULL, &db));
    put_commit(db, "k", "old");
    put_commit(db, "k", "new");
    larch_close(db);
    size_t len;
    uint8_t *img = file_image(p, &len), *edited = malloc(len);
    for (unsigned slot = 0; slot < NUM_METAS; slot++)
        CHECK(get32(img + slot * 4096 + META_VERSION_OFF) == LARCH_FORMAT_VERSION);
    const uint32_t older[] = { 4, 3 };
    for (unsigned v = 0; v < 2; v++) {
        memcpy(edited, img, len);
        for (unsigned slot = 0; slot < NUM_METAS; slot++) {
            uint8_t *m = edited + slot * 4096;
            put32(m + META_VERSION_OFF, older[v]);
            put32(m, page_checksum(m, 4096));
        }
        file_write(p, edited, len);
        CHECK_RC(larch_open(p, NULL, &db), LARCH_VERSION);
        larch_options ro = { .flags = LARCH_RDONLY };
        CHECK_RC(larch_open(p, &ro, &db), LARCH_VERSION);
        size_t after;
        uint8_t *again = file_image(p, &after);
        CHECK(after == len && memcmp(again, edited, len) == 0);
        free(again);
    }
    memcpy(edited, img, len);
    const uint8_t *mp;
    image_newest_meta(edited, len, &mp);
    uint8_t *nm = edited + (mp - edited);
    put32(nm + META_VERSION_OFF, LARCH_FORMAT_VERSION + 1);
    put32(nm, page_checksum(nm, 4096));
    file_write(p, edited, len);
    CHECK_RC(larch_open(p, NULL, &db), LARCH_VERSION);
    file_write(p, img, len);
    open_image(p, LARCH_RDONLY, "new", 0);
    CHECK_OK(larch_open(p, NULL, &db));
    CHECK_OK(get_str(db, "k", buf));
    CHECK(strcmp(buf, "new") == 0);
    larch_close(db);
    free(edited);
    free(img);
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

/*
 * Each way of computing CRC32C this CPU can run gives the standard one:
 * every length up to 600, those around the striped rounds (three stripes
 * of 64-byte blocks, 4032 bytes at most) and the folds (256-byte rounds,
 * then 64-byte steps, then a tail) at every alignment, and chained from
 * any running CRC. crc32c() itself is the last one it can run.
 */
TEST(meta, crc32c_matches_the_reference)
{
    static uint8_t buf[3 * 4096 + 64];
    uint64_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(x >> 56);
    }
    CHECK(crc32c(0, "123456789", 9) == 0xe3069283u);
    size_t lens[] = { 255, 256, 257, 319, 320, 511, 512, 575, 1023, 2800, 4031, 4032, 4033,
                      4079, 4080, 4092, 4096, 8064, 8065, 8160, 9000, 3 * 4096 };
    int ran = 0;
    for (enum crc32c_impl impl = CRC32C_SOFT; impl < CRC32C_IMPLS; impl++) {
        if (!crc32c_can(impl))
            continue;
        ran++;
        CHECK(crc32c_with(impl, 0, "123456789", 9) == 0xe3069283u);
        for (size_t len = 0; len <= 600; len++)
            CHECK(crc32c_with(impl, 0, buf + len % 9, len) == crc32c_reference(buf + len % 9, len));
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
            for (size_t off = 0; off < 9; off++)
                CHECK(crc32c_with(impl, 0, buf + off, lens[l]) == crc32c_reference(buf + off, lens[l]));
        /* Chained: the CRC of a whole equals that of its parts in sequence. */
        for (size_t cut = 0; cut <= 12000; cut += 997)
            CHECK(crc32c_with(impl, crc32c_with(impl, 0, buf, cut), buf + cut, 12000 - cut) ==
                  crc32c_reference(buf, 12000));
    }
    CHECK(ran >= 1);
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
        CHECK(crc32c(0, buf + 3, lens[l]) == crc32c_reference(buf + 3, lens[l]));
    printf("    %d of %d ways ran here\n", ran, (int)CRC32C_IMPLS);
}
