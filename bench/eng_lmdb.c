/*
 * eng_lmdb.c - the benchmark's LMDB engine, configured as LMDB's users run
 * it: one file (MDB_NOSUBDIR), the default read-only map with writes by
 * pwrite, MDB_NOSYNC when syncs are off, a map size far above the data.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <lmdb.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct mdb {
    MDB_env *env;
    MDB_dbi dbi;
};

struct msession {
    struct mdb *d;
    MDB_txn *txn;
    MDB_cursor *cur;
};

static void check(int rc, const char *what)
{
    if (rc)
        bench_fail("lmdb", what, mdb_strerror(rc));
}

static int m_open(const char *path, const struct bench_open *o, void **out)
{
    struct mdb *d = calloc(1, sizeof *d);
    MDB_txn *txn;
    if (!d)
        return -1;
    check(mdb_env_create(&d->env), "env_create");
    check(mdb_env_set_mapsize(d->env, (size_t)64 << 30), "set_mapsize");
    check(mdb_env_set_maxreaders(d->env, 256), "set_maxreaders");
    check(mdb_env_open(d->env, path, MDB_NOSUBDIR | (o->sync ? 0 : MDB_NOSYNC), 0644), "env_open");
    check(mdb_txn_begin(d->env, NULL, 0, &txn), "txn_begin");
    check(mdb_dbi_open(txn, NULL, 0, &d->dbi), "dbi_open");
    check(mdb_txn_commit(txn), "txn_commit");
    *out = d;
    return 0;
}

static void m_close(void *db)
{
    struct mdb *d = db;
    mdb_env_close(d->env);
    free(d);
}

static uint64_t m_file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void m_remove(const char *path)
{
    char lock[4096];
    unlink(path);
    snprintf(lock, sizeof lock, "%s-lock", path);
    unlink(lock);
}

static int m_session_open(void *db, void **s)
{
    struct msession *ms = calloc(1, sizeof *ms);
    if (!ms)
        return -1;
    ms->d = db;
    *s = ms;
    return 0;
}

static void m_session_close(void *s) { free(s); }

static int m_begin(void *s, int write)
{
    struct msession *ms = s;
    check(mdb_txn_begin(ms->d->env, NULL, write ? 0 : MDB_RDONLY, &ms->txn), "txn_begin");
    return 0;
}

static int m_commit(void *s)
{
    struct msession *ms = s;
    if (ms->cur) {
        mdb_cursor_close(ms->cur);
        ms->cur = NULL;
    }
    check(mdb_txn_commit(ms->txn), "txn_commit");
    ms->txn = NULL;
    return 0;
}

static int m_put(void *s, const void *k, size_t kl, const void *v, size_t vl, int append)
{
    struct msession *ms = s;
    MDB_val key = { kl, (void *)k }, val = { vl, (void *)v };
    check(mdb_put(ms->txn, ms->d->dbi, &key, &val, append ? MDB_APPEND : 0), "put");
    return 0;
}

static int m_get(void *s, const void *k, size_t kl, const void **v, size_t *vl)
{
    struct msession *ms = s;
    MDB_val key = { kl, (void *)k }, val;
    int rc = mdb_get(ms->txn, ms->d->dbi, &key, &val);
    if (rc == MDB_NOTFOUND)
        return 1;
    check(rc, "get");
    *v = val.mv_data;
    *vl = val.mv_size;
    return 0;
}

static int m_del(void *s, const void *k, size_t kl)
{
    struct msession *ms = s;
    MDB_val key = { kl, (void *)k };
    int rc = mdb_del(ms->txn, ms->d->dbi, &key, NULL);
    if (rc == MDB_NOTFOUND)
        return 1;
    check(rc, "del");
    return 0;
}

static MDB_cursor *session_cursor(struct msession *ms)
{
    if (!ms->cur)
        check(mdb_cursor_open(ms->txn, ms->d->dbi, &ms->cur), "cursor_open");
    return ms->cur;
}

static int m_scan(void *s, int reverse, uint64_t *count, uint64_t *sum)
{
    MDB_cursor *cur = session_cursor(s);
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_LAST : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_PREV : MDB_NEXT)) {
        (*count)++;
        *sum += ((const uint8_t *)v.mv_data)[0];
    }
    if (rc != MDB_NOTFOUND)
        check(rc, "cursor_get");
    return 0;
}

static int m_seek(void *s, const void *kp, size_t kl, int n, uint64_t *sum)
{
    MDB_cursor *cur = session_cursor(s);
    MDB_val k = { kl, (void *)kp }, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (int i = 0; i < n && rc == 0; i++) {
        *sum += ((const uint8_t *)v.mv_data)[0];
        if (i + 1 < n)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc && rc != MDB_NOTFOUND)
        check(rc, "cursor_get");
    return 0;
}

static int m_depth(void *s)
{
    struct msession *ms = s;
    MDB_stat st;
    return mdb_stat(ms->txn, ms->d->dbi, &st) ? 0 : (int)st.ms_depth;
}

const struct bench_engine bench_lmdb = {
    .name = "lmdb",
    .open = m_open,
    .close = m_close,
    .file_bytes = m_file_bytes,
    .remove = m_remove,
    .session_open = m_session_open,
    .session_close = m_session_close,
    .begin = m_begin,
    .commit = m_commit,
    .put = m_put,
    .get = m_get,
    .del = m_del,
    .scan = m_scan,
    .seek = m_seek,
    .depth = m_depth,
    .has_append = 1,
};
