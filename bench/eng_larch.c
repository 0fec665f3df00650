/*
 * eng_larch.c - the benchmark's larch engine: the default bucket, or an LZ4
 * bucket when the workload asks for compression.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <larch.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct ldb {
    larch_db *db;
    larch_bucket bucket;
};

struct lsession {
    struct ldb *d;
    larch_txn *txn;
    larch_cursor *cur;
};

static void check(int rc, const char *what)
{
    if (rc)
        bench_fail("larch", what, larch_strerror(rc));
}

static int l_open(const char *path, const struct bench_open *o, void **out)
{
    struct ldb *d = calloc(1, sizeof *d);
    larch_options opts = { 0 };
    if (!d)
        return -1;
    opts.flags = o->sync ? 0 : LARCH_NOSYNC;
    check(larch_open(path, &opts, &d->db), "open");
    if (o->compress) {
        larch_txn *txn;
        check(larch_begin(d->db, 0, &txn), "begin");
        check(larch_bucket_open(txn, "values", LARCH_CREATE | LARCH_LZ4, &d->bucket), "bucket_open");
        check(larch_commit(txn), "commit");
    }
    *out = d;
    return 0;
}

static void l_close(void *db)
{
    struct ldb *d = db;
    larch_close(d->db);
    free(d);
}

static uint64_t l_file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void l_remove(const char *path) { unlink(path); }

static int l_session_open(void *db, void **s)
{
    struct lsession *ls = calloc(1, sizeof *ls);
    if (!ls)
        return -1;
    ls->d = db;
    *s = ls;
    return 0;
}

static void l_session_close(void *s) { free(s); }

static int l_begin(void *s, int write)
{
    struct lsession *ls = s;
    check(larch_begin(ls->d->db, write ? 0 : LARCH_RDONLY, &ls->txn), "begin");
    return 0;
}

static int l_commit(void *s)
{
    struct lsession *ls = s;
    if (ls->cur) {
        larch_cursor_close(ls->cur);
        ls->cur = NULL;
    }
    check(larch_commit(ls->txn), "commit");
    ls->txn = NULL;
    return 0;
}

static int l_put(void *s, const void *k, size_t kl, const void *v, size_t vl, int append)
{
    struct lsession *ls = s;
    larch_val key = { kl, k }, val = { vl, v };
    int rc = larch_put(ls->txn, ls->d->bucket, &key, &val, append ? LARCH_APPEND : 0);
    check(rc, "put");
    return 0;
}

static int l_get(void *s, const void *k, size_t kl, const void **v, size_t *vl)
{
    struct lsession *ls = s;
    larch_val key = { kl, k }, val;
    int rc = larch_get(ls->txn, ls->d->bucket, &key, &val);
    if (rc == LARCH_NOTFOUND)
        return 1;
    check(rc, "get");
    *v = val.data;
    *vl = val.size;
    return 0;
}

static int l_del(void *s, const void *k, size_t kl)
{
    struct lsession *ls = s;
    larch_val key = { kl, k };
    int rc = larch_del(ls->txn, ls->d->bucket, &key);
    if (rc == LARCH_NOTFOUND)
        return 1;
    check(rc, "del");
    return 0;
}

static larch_cursor *session_cursor(struct lsession *ls)
{
    if (!ls->cur)
        check(larch_cursor_open(ls->txn, ls->d->bucket, &ls->cur), "cursor_open");
    return ls->cur;
}

static int l_scan(void *s, int reverse, uint64_t *count, uint64_t *sum)
{
    larch_cursor *cur = session_cursor(s);
    larch_val k, v;
    int rc;
    for (rc = larch_cursor_get(cur, &k, &v, reverse ? LARCH_LAST : LARCH_FIRST); rc == 0;
         rc = larch_cursor_get(cur, &k, &v, reverse ? LARCH_PREV : LARCH_NEXT)) {
        (*count)++;
        *sum += ((const uint8_t *)v.data)[0];
    }
    if (rc != LARCH_NOTFOUND)
        check(rc, "cursor_get");
    return 0;
}

static int l_seek(void *s, const void *kp, size_t kl, int n, uint64_t *sum)
{
    larch_cursor *cur = session_cursor(s);
    larch_val k = { kl, kp }, v;
    int rc = larch_cursor_get(cur, &k, &v, LARCH_SEEK);
    for (int i = 0; i < n && rc == 0; i++) {
        *sum += ((const uint8_t *)v.data)[0];
        if (i + 1 < n)
            rc = larch_cursor_get(cur, &k, &v, LARCH_NEXT);
    }
    if (rc && rc != LARCH_NOTFOUND)
        check(rc, "cursor_get");
    return 0;
}

static int l_depth(void *s)
{
    struct lsession *ls = s;
    struct larch_stat st;
    return larch_stat(ls->txn, ls->d->bucket, &st) ? 0 : (int)st.depth;
}

const struct bench_engine bench_larch = {
    .name = "larch",
    .open = l_open,
    .close = l_close,
    .file_bytes = l_file_bytes,
    .remove = l_remove,
    .session_open = l_session_open,
    .session_close = l_session_close,
    .begin = l_begin,
    .commit = l_commit,
    .put = l_put,
    .get = l_get,
    .del = l_del,
    .scan = l_scan,
    .seek = l_seek,
    .depth = l_depth,
    .has_append = 1,
};
