/*
 * test_api.c - the public API's contract: arguments, return codes, limits,
 * file validation on open, cursor semantics, page sizes, large values.
 */
#include "test.h"

#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static larch_db *open_new(const char *name, uint32_t page_size)
{
    larch_db *db;
    larch_options o = { 0 };
    o.page_size = page_size;
    o.flags = LARCH_NOSYNC;
    CHECK_OK(larch_open(test_path(name), &o, &db));
    return db;
}

static void put_str(larch_db *db, const char *k, const char *v)
{
    larch_txn *txn;
    larch_val kv = str_val(k), vv = str_val(v);
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_put(txn, 0, &kv, &vv, 0));
    CHECK_OK(larch_commit(txn));
}

TEST(api, null_arguments)
{
    larch_db *db = NULL;
    larch_txn *txn = NULL;
    larch_cursor *cur = NULL;
    larch_val k = str_val("k"), v;
    CHECK_RC(larch_open(NULL, NULL, &db), LARCH_INVALID);
    CHECK_RC(larch_open(test_path("x.db"), NULL, NULL), LARCH_INVALID);
    CHECK_RC(larch_open("", NULL, &db), LARCH_INVALID);
    CHECK_RC(larch_begin(NULL, 0, &txn), LARCH_INVALID);
    CHECK_RC(larch_commit(NULL), LARCH_INVALID);
    CHECK_RC(larch_get(NULL, 0, &k, &v), LARCH_INVALID);
    CHECK_RC(larch_put(NULL, 0, &k, &k, 0), LARCH_INVALID);
    CHECK_RC(larch_del(NULL, 0, &k), LARCH_INVALID);
    CHECK_RC(larch_cursor_open(NULL, 0, &cur), LARCH_INVALID);
    CHECK_RC(larch_cursor_get(NULL, &k, &v, LARCH_FIRST), LARCH_INVALID);
    CHECK_RC(larch_cursor_del(NULL), LARCH_INVALID);
    larch_abort(NULL);
    larch_close(NULL);
    larch_cursor_close(NULL);
    CHECK(larch_max_key_size(NULL) == 0);

    db = open_new("a.db", 0);
    CHECK_RC(larch_begin(db, 0, NULL), LARCH_INVALID);
    CHECK_RC(larch_begin(db, 0x100, &txn), LARCH_INVALID);
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_RC(larch_get(txn, 0, NULL, &v), LARCH_INVALID);
    CHECK_RC(larch_get(txn, 0, &k, NULL), LARCH_INVALID);
    CHECK_RC(larch_put(txn, 0, &k, NULL, 0), LARCH_INVALID);
    CHECK_RC(larch_put(txn, 0, NULL, &k, 0), LARCH_INVALID);
    larch_val nodata = { 3, NULL };
    CHECK_RC(larch_put(txn, 0, &k, &nodata, 0), LARCH_INVALID);
    CHECK_RC(larch_put(txn, 0, &nodata, &k, 0), LARCH_INVALID);
    CHECK_RC(larch_del(txn, 0, NULL), LARCH_INVALID);
    CHECK_RC(larch_cursor_open(txn, 0, NULL), LARCH_INVALID);
    CHECK_OK(larch_cursor_open(txn, 0, &cur));
    CHECK_RC(larch_cursor_get(cur, NULL, NULL, LARCH_SEEK), LARCH_INVALID);
    CHECK_RC(larch_cursor_get(cur, &k, &v, 99), LARCH_INVALID);
    CHECK_RC(larch_cursor_get(cur, &k, &v, -1), LARCH_INVALID);
    larch_cursor_close(cur);
    larch_abort(txn);
    larch_close(db);
}

TEST(api, strerror_names_every_code)
{
    int codes[] = { LARCH_NOTFOUND, LARCH_EXISTS, LARCH_INVALID, LARCH_NOTDB, LARCH_VERSION,
                    LARCH_CORRUPT, LARCH_BUSY, LARCH_FULL, LARCH_PANIC };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = larch_strerror(codes[i]);
        CHECK(s && strlen(s) > 10 && strcmp(s, "unknown error code") != 0);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(s, larch_strerror(codes[j])) != 0);
    }
    CHECK(strcmp(larch_strerror(ENOENT), strerror(ENOENT)) == 0);
    CHECK(strcmp(larch_strerror(0), "success") == 0);
    CHECK(larch_strerror(-12345) != NULL);
}

TEST(api, keys_and_values_at_the_limits)
{
    larch_db *db = open_new("a.db", 0);
    larch_txn *txn;
    size_t maxk = larch_max_key_size(db);
    CHECK(maxk == LARCH_MAX_KEY_SIZE && maxk >= 1024);
    uint8_t key[LARCH_MAX_KEY_SIZE + 1];
    memset(key, 'k', sizeof key);
    larch_val k = val_of(key, maxk), kbig = val_of(key, maxk + 1), kempty = val_of(key, 0), v;
    larch_val empty = { 0, NULL };
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_put(txn, 0, &k, &empty, 0));
    CHECK_RC(larch_put(txn, 0, &kbig, &empty, 0), LARCH_INVALID);
    CHECK_RC(larch_put(txn, 0, &kempty, &empty, 0), LARCH_INVALID);
    CHECK_RC(larch_get(txn, 0, &kbig, &v), LARCH_INVALID);
    CHECK_RC(larch_del(txn, 0, &kempty), LARCH_INVALID);
    larch_val one = val_of(key, 1);
    CHECK_OK(larch_put(txn, 0, &one, &k, 0));
    CHECK_OK(larch_commit(txn));

    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_get(txn, 0, &k, &v));
    CHECK(v.size == 0);
    CHECK_OK(larch_get(txn, 0, &one, &v));
    CHECK(v.size == maxk && memcmp(v.data, key, maxk) == 0);
    CHECK_RC(larch_put(txn, 0, &one, &one, 0), LARCH_INVALID); /* read-only txn */
    CHECK_RC(larch_del(txn, 0, &one), LARCH_INVALID);
    larch_cursor *cur;
    CHECK_OK(larch_cursor_open(txn, 0, &cur));
    CHECK_OK(larch_cursor_get(cur, NULL, NULL, LARCH_FIRST));
    CHECK_RC(larch_cursor_del(cur), LARCH_INVALID);
    larch_cursor_close(cur);
    CHECK_RC(larch_cursor_open(txn, 7, &cur), LARCH_INVALID); /* no such bucket */
    CHECK_RC(larch_get(txn, 7, &one, &v), LARCH_INVALID);
    larch_abort(txn);
    larch_close(db);
}

/* Leaf entries come in a short form (keys up to 255 bytes, values up to
 * 65535) and a long one: both, either side of the bounds, inline and in
 * overflow runs, read back and checked. */
TEST(api, short_and_long_leaf_entries)
{
    larch_db *db = open_new("forms.db", 0);
    larch_txn *txn;
    static uint8_t key[300], val[70000];
    size_t klens[] = { 1, 254, 255, 256, 299 }, vlens[] = { 0, 100, 1500, 3000, 65535, 65536, 70000 };
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (uint8_t)(i * 7);
    CHECK_OK(larch_begin(db, 0, &txn));
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 7; b++) {
            memset(key, 'a' + (int)b, klens[a]);
            larch_val k = val_of(key, klens[a]), v = val_of(val, vlens[b]);
            CHECK_OK(larch_put(txn, 0, &k, &v, 0));
        }
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 7; b++) {
            memset(key, 'a' + (int)b, klens[a]);
            larch_val k = val_of(key, klens[a]), v;
            CHECK_OK(larch_get(txn, 0, &k, &v));
            CHECK(v.size == vlens[b] && (v.size == 0 || memcmp(v.data, val, v.size) == 0));
        }
    larch_check_report rep;
    CHECK_OK(larch_check(txn, &rep));
    larch_abort(txn);
    larch_close(db);
}

TEST(api, max_key_size_by_page_size)
{
    uint32_t sizes[] = { 1024, 2048, 4096, 65536 };
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%u.db", sizes[i]);
        larch_db *db = open_new(name, sizes[i]);
        size_t maxk = larch_max_key_size(db);
        CHECK(maxk <= LARCH_MAX_KEY_SIZE && maxk >= (sizes[i] / 2 - 64 < 2000 ? sizes[i] / 2 - 64 : 2000));
        /* Many maximal keys: every page holds at least two, splits work. */
        larch_txn *txn;
        uint8_t key[LARCH_MAX_KEY_SIZE];
        CHECK_OK(larch_begin(db, 0, &txn));
        for (int n = 0; n < 200; n++) {
            memset(key, 'a' + n % 26, maxk);
            snprintf((char *)key, 8, "%06d", n);
            larch_val k = val_of(key, maxk), v = val_of(key, 100);
            CHECK_OK(larch_put(txn, 0, &k, &v, 0));
        }
        CHECK_OK(larch_commit(txn));
        larch_close(db);
    }
}

TEST(api, page_sizes)
{
    uint32_t sizes[] = { 1024, 2048, 4096, 8192, 16384, 32768, 65536 };
    for (int i = 0; i < 7; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%u.db", sizes[i]);
        larch_db *db = open_new(name, sizes[i]);
        larch_txn *txn;
        char kb[32], vb[600];
        CHECK_OK(larch_begin(db, 0, &txn));
        for (int n = 0; n < 3000; n++) {
            snprintf(kb, sizeof kb, "key-%07d", n * 7919 % 3000);
            memset(vb, 'a' + n % 26, sizeof vb);
            larch_val k = str_val(kb), v = val_of(vb, (size_t)(n % 600));
            CHECK_OK(larch_put(txn, 0, &k, &v, 0));
        }
        CHECK_OK(larch_commit(txn));
        larch_close(db);
        /* Reopen asking for another page size: the file's own wins. */
        larch_options o = { 0 };
        o.page_size = 1024;
        CHECK_OK(larch_open(test_path(name), &o, &db));
        CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
        larch_cursor *cur;
        larch_val k, v;
        int count = 0;
        CHECK_OK(larch_cursor_open(txn, 0, &cur));
        while (larch_cursor_get(cur, &k, &v, LARCH_NEXT) == 0)
            count++;
        CHECK(count == 3000);
        larch_cursor_close(cur);
        larch_abort(txn);
        CHECK(file_size_of(test_path(name)) % sizes[i] == 0);
        larch_close(db);
    }
    larch_db *db;
    larch_options o = { 0 };
    uint32_t bad[] = { 512, 3000, 131072, 1 };
    for (int i = 0; i < 4; i++) {
        o.page_size = bad[i];
        CHECK_RC(larch_open(test_path("bad.db"), &o, &db), LARCH_INVALID);
        CHECK(db == NULL);
    }
    CHECK(access(test_path("bad.db"), F_OK) != 0);
}

TEST(api, large_values)
{
    larch_db *db = open_new("a.db", 4096);
    size_t sizes[] = { 0, 1, 2000, 2010, 2020, 4096, 4064, 4065, 100000, 3 << 20, 16 << 20 };
    size_t n = sizeof sizes / sizeof sizes[0];
    uint8_t *buf = malloc((16 << 20) + 8);
    for (size_t i = 0; i < (16u << 20); i++)
        buf[i] = (uint8_t)(i * 31 + (i >> 12));
    for (int round = 0; round < 3; round++) {
        larch_txn *txn;
        CHECK_OK(larch_begin(db, 0, &txn));
        for (size_t i = 0; i < n; i++) {
            char kb[16];
            snprintf(kb, sizeof kb, "v%02zu", i);
            size_t len = sizes[(i + (size_t)round) % n];
            larch_val k = str_val(kb), v = val_of(buf + round, len);
            CHECK_OK(larch_put(txn, 0, &k, &v, 0));
        }
        CHECK_OK(larch_commit(txn));
        CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
        for (size_t i = 0; i < n; i++) {
            char kb[16];
            snprintf(kb, sizeof kb, "v%02zu", i);
            size_t len = sizes[(i + (size_t)round) % n];
            larch_val k = str_val(kb), v;
            CHECK_OK(larch_get(txn, 0, &k, &v));
            CHECK(v.size == len && (len == 0 || memcmp(v.data, buf + round, len) == 0));
        }
        larch_abort(txn);
    }
    larch_close(db);
    /* Three rounds of ~20 MiB each, with space reused: well under 4x that. */
    CHECK(file_size_of(test_path("a.db")) < 80ull << 20);
    free(buf);
}

TEST(api, noooverwrite_and_append)
{
    larch_db *db = open_new("a.db", 0);
    larch_txn *txn;
    larch_val a = str_val("a"), b = str_val("b"), c = str_val("c"), v;
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_put(txn, 0, &b, &b, LARCH_APPEND)); /* empty: anything appends */
    CHECK_OK(larch_put(txn, 0, &c, &c, LARCH_APPEND));
    CHECK_RC(larch_put(txn, 0, &a, &a, LARCH_APPEND), LARCH_INVALID);
    CHECK_RC(larch_put(txn, 0, &c, &a, LARCH_APPEND), LARCH_INVALID);
    CHECK_RC(larch_put(txn, 0, &b, &a, LARCH_NOOVERWRITE), LARCH_EXISTS);
    CHECK_OK(larch_get(txn, 0, &b, &v));
    CHECK(v.size == 1 && *(const char *)v.data == 'b');
    CHECK_OK(larch_put(txn, 0, &a, &a, LARCH_NOOVERWRITE));
    CHECK_OK(larch_commit(txn)); /* the refused calls did not poison the txn */
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_get(txn, 0, &a, &v));
    CHECK_OK(larch_get(txn, 0, &c, &v));
    larch_abort(txn);
    /* APPEND of a sorted load fills pages completely. */
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int i = 0; i < 20000; i++) {
        char kb[16];
        snprintf(kb, sizeof kb, "x%08d", i);
        larch_val k = str_val(kb), val = val_of("0123456789abcdef0123456789abcdef", 32);
        CHECK_OK(larch_put(txn, 0, &k, &val, LARCH_APPEND));
    }
    CHECK_OK(larch_commit(txn));
    larch_close(db);
    /* 20000 entries of 2+8+9+32 = 51 bytes: ~1.0 MB; at full pages ~250 leaves. */
    CHECK(file_size_of(test_path("a.db")) < 1500u * 1024);
}

TEST(api, busy_and_read_only)
{
    larch_db *db, *db2, *ro1, *ro2;
    const char *p = test_path("a.db");
    larch_options ro = { 0 };
    ro.flags = LARCH_RDONLY;
    CHECK_RC(larch_open(p, &ro, &ro1), ENOENT);
    CHECK(ro1 == NULL);
    CHECK_OK(larch_open(p, NULL, &db));
    CHECK_RC(larch_open(p, NULL, &db2), LARCH_BUSY);
    CHECK_RC(larch_open(p, &ro, &ro1), LARCH_BUSY);
    put_str(db, "k", "v");
    larch_close(db);
    CHECK_OK(larch_open(p, &ro, &ro1));
    CHECK_OK(larch_open(p, &ro, &ro2)); /* readers share */
    CHECK_RC(larch_open(p, NULL, &db2), LARCH_BUSY);
    larch_txn *txn;
    CHECK_RC(larch_begin(ro1, 0, &txn), LARCH_INVALID);
    CHECK_OK(larch_begin(ro2, LARCH_RDONLY, &txn));
    larch_val k = str_val("k"), v;
    CHECK_OK(larch_get(txn, 0, &k, &v));
    CHECK(v.size == 1 && *(const char *)v.data == 'v');
    larch_abort(txn);
    larch_close(ro1);
    larch_close(ro2);
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

static void copy_prefix(const char *from, const char *to, size_t len)
{
    uint8_t *buf = malloc(len);
    int fd = open(from, O_RDONLY);
    CHECK(fd >= 0 && pread(fd, buf, len, 0) == (ssize_t)len);
    close(fd);
    write_file(to, buf, len);
    free(buf);
}

/* Rewrite meta page n of a file with a change, and a fresh checksum. */
static void patch_meta(const char *path, unsigned n, uint32_t ps, unsigned off, uint32_t value)
{
    uint8_t *buf = malloc(ps);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0 && pread(fd, buf, ps, (off_t)n * ps) == (ssize_t)ps);
    put32(buf + off, value);
    put32(buf, crc32c(0, buf + 4, ps - 4));
    CHECK(pwrite(fd, buf, ps, (off_t)n * ps) == (ssize_t)ps);
    close(fd);
    free(buf);
}

TEST(api, open_rejects_foreign_and_damaged_files)
{
    larch_db *db;
    const char *good = test_path("good.db"), *p = test_path("x.db");
    CHECK_OK(larch_open(good, NULL, &db));
    for (int i = 0; i < 50; i++) {
        char kb[16];
        snprintf(kb, sizeof kb, "k%d", i);
        put_str(db, kb, "some value");
    }
    larch_close(db);

    const char text[] = "this is a text file, not a database\n";
    write_file(p, text, sizeof text);
    CHECK_RC(larch_open(p, NULL, &db), LARCH_NOTDB);
    /* Zeros hold nothing: a writable open initializes them (they are what
     * a crash in an initialization can leave), but only up to two of the
     * largest pages; a read-only open never writes. */
    uint8_t *zeros = calloc(1, 3 * 65536);
    larch_options ro = { .flags = LARCH_RDONLY };
    write_file(p, zeros, 3 * 65536);
    CHECK_RC(larch_open(p, NULL, &db), LARCH_NOTDB);
    write_file(p, zeros, 65536);
    CHECK_RC(larch_open(p, &ro, &db), LARCH_NOTDB);
    CHECK_OK(larch_open(p, NULL, &db));
    larch_close(db);
    write_file(p, zeros, 10);
    CHECK_OK(larch_open(p, NULL, &db));
    larch_close(db);
    free(zeros);

    /* Truncated: shorter than the pages its meta pages claim. */
    uint64_t size = file_size_of(good);
    copy_prefix(good, p, 4096 + 100);
    CHECK_RC(larch_open(p, NULL, &db), LARCH_CORRUPT);
    copy_prefix(good, p, 3 * 4096);
    CHECK_RC(larch_open(p, NULL, &db), LARCH_CORRUPT);
    copy_prefix(good, p, size);
    CHECK_OK(larch_open(p, NULL, &db));
    larch_close(db);

    /* Another format version in both meta pages: a later one, or an
     * earlier one (1: 2-byte slots without key heads; 2: 4-byte slots with
     * 2-byte heads), which this library no longer reads. */
    uint32_t others[] = { LARCH_FORMAT_VERSION + 1, 1, 2 };
    for (int i = 0; i < 3; i++) {
        copy_prefix(good, p, size);
        patch_meta(p, 0, 4096, META_VERSION_OFF, others[i]);
        patch_meta(p, 1, 4096, META_VERSION_OFF, others[i]);
        CHECK_RC(larch_open(p, NULL, &db), LARCH_VERSION);
    }
    /* A page size that does not match where the meta pages are. */
    copy_prefix(good, p, size);
    patch_meta(p, 0, 4096, META_PAGESIZE_OFF, 8192);
    patch_meta(p, 1, 4096, META_PAGESIZE_OFF, 1024);
    CHECK_RC(larch_open(p, NULL, &db), LARCH_CORRUPT);
    copy_prefix(good, p, size);
    patch_meta(p, 0, 4096, META_PAGESIZE_OFF, 12345);
    patch_meta(p, 1, 4096, META_PAGESIZE_OFF, 12345);
    CHECK_RC(larch_open(p, NULL, &db), LARCH_CORRUPT);
    /* Both meta pages damaged. */
    copy_prefix(good, p, size);
    file_flip_byte(p, 100);
    file_flip_byte(p, 4096 + 100);
    CHECK_RC(larch_open(p, NULL, &db), LARCH_CORRUPT);
    /* The original still opens: nothing above touched it. */
    CHECK_OK(larch_open(good, NULL, &db));
    larch_close(db);
}

TEST(api, empty_file_is_initialized)
{
    const char *p = test_path("empty.db");
    write_file(p, "", 0);
    larch_db *db;
    larch_options ro = { 0 };
    ro.flags = LARCH_RDONLY;
    CHECK_RC(larch_open(p, &ro, &db), LARCH_NOTDB); /* read-only never writes */
    CHECK_OK(larch_open(p, NULL, &db));
    put_str(db, "a", "b");
    larch_close(db);
    CHECK_OK(larch_open(p, &ro, &db));
    larch_close(db);
    CHECK(file_size_of(p) >= 3 * 4096);
}

TEST(api, max_size_gives_full)
{
    const char *p = test_path("a.db");
    larch_options o = { 0 };
    o.max_size = 1 << 20;
    o.flags = LARCH_NOSYNC;
    larch_db *db;
    CHECK_OK(larch_open(p, &o, &db));
    char vb[1000];
    memset(vb, 'v', sizeof vb);
    int committed = 0, rc = 0;
    for (int t = 0; t < 100 && rc == 0; t++) {
        larch_txn *txn;
        CHECK_OK(larch_begin(db, 0, &txn));
        for (int i = 0; i < 100 && rc == 0; i++) {
            char kb[16];
            snprintf(kb, sizeof kb, "k%05d", t * 100 + i);
            larch_val k = str_val(kb), v = val_of(vb, sizeof vb);
            rc = larch_put(txn, 0, &k, &v, 0);
        }
        if (rc == 0) {
            rc = larch_commit(txn);
            if (rc == 0)
                committed++;
        } else {
            CHECK_RC(rc, LARCH_FULL);
            CHECK_RC(larch_commit(txn), LARCH_FULL);
        }
    }
    CHECK_RC(rc, LARCH_FULL);
    CHECK(committed > 3);
    CHECK(file_size_of(p) <= (1 << 20));
    /* Still usable: reads see every committed txn, small writes still fit. */
    larch_txn *txn;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    char kb[16];
    snprintf(kb, sizeof kb, "k%05d", committed * 100 - 1);
    larch_val k = str_val(kb), v;
    CHECK_OK(larch_get(txn, 0, &k, &v));
    larch_abort(txn);
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_del(txn, 0, &k));
    CHECK_OK(larch_commit(txn));
    larch_close(db);
}

static atomic_int writer_step;

static void *second_writer(void *arg)
{
    larch_db *db = arg;
    larch_txn *txn;
    if (larch_begin(db, 0, &txn) != 0)
        return (void *)1;
    /* Only possible once the first writer has committed. */
    int seen = atomic_load(&writer_step);
    larch_abort(txn);
    return seen == 2 ? NULL : (void *)2;
}

TEST(api, one_writer_at_a_time)
{
    larch_db *db = open_new("a.db", 0);
    larch_txn *txn, *txn2;
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_RC(larch_begin(db, 0, &txn2), LARCH_INVALID); /* same thread: would deadlock */
    pthread_t th;
    atomic_store(&writer_step, 1);
    CHECK(pthread_create(&th, NULL, second_writer, db) == 0);
    usleep(50000);
    larch_val k = str_val("k");
    CHECK_OK(larch_put(txn, 0, &k, &k, 0));
    atomic_store(&writer_step, 2);
    CHECK_OK(larch_commit(txn));
    void *res;
    pthread_join(th, &res);
    CHECK(res == NULL);
    /* A reader in the writing thread is fine. */
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn2));
    larch_abort(txn2);
    larch_abort(txn);
    larch_close(db);
}

TEST(api, cursor_semantics)
{
    larch_db *db = open_new("a.db", 0);
    larch_txn *txn;
    larch_cursor *c;
    larch_val k, v;
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_cursor_open(txn, 0, &c));
    CHECK_RC(larch_cursor_get(c, &k, &v, LARCH_FIRST), LARCH_NOTFOUND);
    CHECK_RC(larch_cursor_get(c, &k, &v, LARCH_LAST), LARCH_NOTFOUND);
    CHECK_RC(larch_cursor_get(c, &k, &v, LARCH_NEXT), LARCH_NOTFOUND);
    CHECK_RC(larch_cursor_get(c, &k, &v, LARCH_PREV), LARCH_NOTFOUND);
    CHECK_RC(larch_cursor_get(c, &k, &v, LARCH_CURRENT), LARCH_NOTFOUND);
    CHECK_RC(larch_cursor_del(c), LARCH_NOTFOUND);
    const char *keys[] = { "b", "d", "f", "h" };
    for (int i = 0; i < 4; i++) {
        k = str_val(keys[i]);
        CHECK_OK(larch_put(txn, 0, &k, &k, 0));
    }
    k = str_val("e");
    CHECK_OK(larch_cursor_get(c, &k, &v, LARCH_SEEK));
    CHECK(k.size == 1 && *(const char *)k.data == 'f');
    k = str_val("z");
    CHECK_RC(larch_cursor_get(c, &k, &v, LARCH_SEEK), LARCH_NOTFOUND);
    CHECK_OK(larch_cursor_get(c, &k, &v, LARCH_PREV)); /* unpositioned after a failed SEEK: PREV = LAST */
    CHECK(*(const char *)k.data == 'h');
    CHECK_RC(larch_cursor_get(c, &k, &v, LARCH_NEXT), LARCH_NOTFOUND);
    CHECK_OK(larch_cursor_get(c, &k, &v, LARCH_CURRENT)); /* still on the last */
    CHECK(*(const char *)k.data == 'h');
    CHECK_OK(larch_cursor_get(c, &k, &v, LARCH_PREV));
    CHECK(*(const char *)k.data == 'f');
    /* Delete under the cursor: NEXT gives the one after, PREV the one before. */
    CHECK_OK(larch_cursor_del(c));
    CHECK_RC(larch_cursor_get(c, &k, &v, LARCH_CURRENT), LARCH_NOTFOUND);
    CHECK_RC(larch_cursor_del(c), LARCH_NOTFOUND);
    CHECK_OK(larch_cursor_get(c, &k, &v, LARCH_NEXT));
    CHECK(*(const char *)k.data == 'h');
    CHECK_OK(larch_cursor_del(c)); /* the last one */
    CHECK_RC(larch_cursor_get(c, &k, &v, LARCH_NEXT), LARCH_NOTFOUND);
    CHECK_OK(larch_cursor_get(c, &k, &v, LARCH_PREV));
    CHECK(*(const char *)k.data == 'd');
    /* A change elsewhere does not move the cursor. */
    k = str_val("a");
    CHECK_OK(larch_put(txn, 0, &k, &k, 0));
    CHECK_OK(larch_cursor_get(c, &k, &v, LARCH_CURRENT));
    CHECK(*(const char *)k.data == 'd');
    CHECK_OK(larch_cursor_get(c, &k, &v, LARCH_FIRST));
    CHECK(*(const char *)k.data == 'a');
    /* Delete everything through the cursor. */
    int n = 0;
    while (larch_cursor_get(c, &k, &v, LARCH_FIRST) == 0) {
        CHECK_OK(larch_cursor_del(c));
        n++;
    }
    CHECK(n == 3);
    larch_cursor_close(c);
    CHECK_OK(larch_commit(txn));
    larch_close(db);
}

TEST(api, values_stay_valid_for_the_reader)
{
    larch_db *db = open_new("a.db", 0);
    char vb[3000];
    for (int i = 0; i < 100; i++) {
        char kb[16];
        snprintf(kb, sizeof kb, "k%03d", i);
        memset(vb, 'a' + i % 26, sizeof vb);
        vb[sizeof vb - 1] = 0;
        put_str(db, kb, vb);
    }
    larch_txn *r;
    larch_val got[100];
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &r));
    for (int i = 0; i < 100; i++) {
        char kb[16];
        snprintf(kb, sizeof kb, "k%03d", i);
        larch_val k = str_val(kb);
        CHECK_OK(larch_get(r, 0, &k, &got[i]));
    }
    /* The writer overwrites and deletes everything, many times. */
    for (int round = 0; round < 20; round++) {
        larch_txn *w;
        CHECK_OK(larch_begin(db, 0, &w));
        for (int i = 0; i < 100; i++) {
            char kb[16];
            snprintf(kb, sizeof kb, "k%03d", i);
            larch_val k = str_val(kb), v = val_of("zzzzzzzzzzzzzzzzzzzzzzzz", 20 + round % 3);
            if (round % 2)
                CHECK_OK(larch_put(w, 0, &k, &v, 0));
            else
                larch_del(w, 0, &k);
        }
        CHECK_OK(larch_commit(w));
    }
    for (int i = 0; i < 100; i++) {
        const char *d = got[i].data;
        CHECK(got[i].size == 2999 && d[0] == 'a' + i % 26 && d[2998] == 'a' + i % 26);
    }
    larch_abort(r);
    larch_close(db);
}

TEST(api, commit_without_changes)
{
    larch_db *db = open_new("a.db", 0);
    put_str(db, "a", "1");
    uint64_t size = file_size_of(test_path("a.db"));
    for (int i = 0; i < 100; i++) {
        larch_txn *txn;
        larch_val k = str_val("a"), v;
        CHECK_OK(larch_begin(db, 0, &txn));
        CHECK_OK(larch_get(txn, 0, &k, &v));
        CHECK_OK(larch_commit(txn));
    }
    CHECK(file_size_of(test_path("a.db")) == size);
    larch_close(db);
}
