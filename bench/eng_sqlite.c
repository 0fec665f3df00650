/*
 * eng_sqlite.c - the benchmark's SQLite engine: one table
 * kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID, WAL mode,
 * synchronous=NORMAL (FULL when a workload asks for durable commits),
 * otherwise SQLite's defaults. Each session is its own connection with its
 * statements prepared once.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <sqlite3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { ST_PUT, ST_GET, ST_DEL, ST_FIRST, ST_LAST, ST_SEEK, ST_BEGIN_R, ST_BEGIN_W, ST_COMMIT, ST_COUNT };

static const char *const statement_sql[ST_COUNT] = {
    [ST_PUT] = "INSERT OR REPLACE INTO kv(k, v) VALUES(?1, ?2)",
    [ST_GET] = "SELECT v FROM kv WHERE k = ?1",
    [ST_DEL] = "DELETE FROM kv WHERE k = ?1",
    [ST_FIRST] = "SELECT k, v FROM kv ORDER BY k",
    [ST_LAST] = "SELECT k, v FROM kv ORDER BY k DESC",
    [ST_SEEK] = "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2",
    [ST_BEGIN_R] = "BEGIN",
    [ST_BEGIN_W] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
};

struct sdb {
    char *path;
    int sync;
    sqlite3 *keeper; /* holds the database open between sessions */
};

struct ssession {
    sqlite3 *conn;
    sqlite3_stmt *st[ST_COUNT];
    sqlite3_stmt *pending; /* a statement whose row get() handed out */
};

static void check(sqlite3 *conn, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        bench_fail("sqlite", what, conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
}

static void exec(sqlite3 *conn, const char *sql)
{
    check(conn, sqlite3_exec(conn, sql, NULL, NULL, NULL), sql);
}

static sqlite3 *sqlite_connect(struct sdb *d)
{
    sqlite3 *conn;
    int rc = sqlite3_open_v2(d->path, &conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    check(NULL, rc, "open");
    sqlite3_busy_timeout(conn, 60000);
    exec(conn, d->sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    return conn;
}

static int s_open(const char *path, const struct bench_open *o, void **out)
{
    struct sdb *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(path)))
        return -1;
    d->sync = o->sync;
    d->keeper = sqlite_connect(d);
    exec(d->keeper, "PRAGMA journal_mode=WAL");
    exec(d->keeper, "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID");
    *out = d;
    return 0;
}

static void s_close(void *db)
{
    struct sdb *d = db;
    sqlite3_close(d->keeper);
    free(d->path);
    free(d);
}

static uint64_t s_file_bytes(const char *path)
{
    char name[4096];
    struct stat st;
    uint64_t total = 0;
    if (stat(path, &st) == 0)
        total += (uint64_t)st.st_size;
    snprintf(name, sizeof name, "%s-wal", path);
    if (stat(name, &st) == 0)
        total += (uint64_t)st.st_size;
    return total;
}

static void s_remove(const char *path)
{
    char name[4096];
    unlink(path);
    snprintf(name, sizeof name, "%s-wal", path);
    unlink(name);
    snprintf(name, sizeof name, "%s-shm", path);
    unlink(name);
}

static int s_session_open(void *db, void **out)
{
    struct ssession *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->conn = sqlite_connect(db);
    for (int i = 0; i < ST_COUNT; i++)
        check(s->conn, sqlite3_prepare_v2(s->conn, statement_sql[i], -1, &s->st[i], NULL), statement_sql[i]);
    *out = s;
    return 0;
}

static void s_session_close(void *sp)
{
    struct ssession *s = sp;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->conn);
    free(s);
}

/* Run a statement that returns no rows. */
static void run(struct ssession *s, int which)
{
    sqlite3_stmt *st = s->st[which];
    check(s->conn, sqlite3_step(st), statement_sql[which]);
    sqlite3_reset(st);
}

static void release_pending(struct ssession *s)
{
    if (s->pending) {
        sqlite3_reset(s->pending);
        s->pending = NULL;
    }
}

static int s_begin(void *sp, int write)
{
    run(sp, write ? ST_BEGIN_W : ST_BEGIN_R);
    return 0;
}

static int s_commit(void *sp)
{
    release_pending(sp);
    run(sp, ST_COMMIT);
    return 0;
}

static int s_put(void *sp, const void *k, size_t kl, const void *v, size_t vl, int append)
{
    struct ssession *s = sp;
    sqlite3_stmt *st = s->st[ST_PUT];
    (void)append;
    sqlite3_bind_blob(st, 1, k, (int)kl, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, v, (int)vl, SQLITE_STATIC);
    run(s, ST_PUT);
    return 0;
}

static int s_get(void *sp, const void *k, size_t kl, const void **v, size_t *vl)
{
    struct ssession *s = sp;
    sqlite3_stmt *st = s->st[ST_GET];
    int rc;
    release_pending(s);
    sqlite3_bind_blob(st, 1, k, (int)kl, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 1;
    }
    check(s->conn, rc, "get");
    *v = sqlite3_column_blob(st, 0);
    *vl = (size_t)sqlite3_column_bytes(st, 0);
    s->pending = st;
    return 0;
}

static int s_del(void *sp, const void *k, size_t kl)
{
    struct ssession *s = sp;
    sqlite3_bind_blob(s->st[ST_DEL], 1, k, (int)kl, SQLITE_STATIC);
    run(s, ST_DEL);
    return sqlite3_changes(s->conn) ? 0 : 1;
}

/* Step through a query's rows, at most limit of them (-1: all). */
static void read_rows(struct ssession *s, sqlite3_stmt *st, int64_t limit, uint64_t *count, uint64_t *sum)
{
    int rc;
    while (limit-- != 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const uint8_t *v = sqlite3_column_blob(st, 1);
        if (count)
            (*count)++;
        *sum += v ? v[0] : 0;
    }
    sqlite3_reset(st);
    (void)s;
}

static int s_scan(void *sp, int reverse, uint64_t *count, uint64_t *sum)
{
    struct ssession *s = sp;
    release_pending(s);
    read_rows(s, s->st[reverse ? ST_LAST : ST_FIRST], -1, count, sum);
    return 0;
}

static int s_seek(void *sp, const void *k, size_t kl, int n, uint64_t *sum)
{
    struct ssession *s = sp;
    sqlite3_stmt *st = s->st[ST_SEEK];
    release_pending(s);
    sqlite3_bind_blob(st, 1, k, (int)kl, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, n);
    read_rows(s, st, n, NULL, sum);
    return 0;
}

const struct bench_engine bench_sqlite = {
    .name = "sqlite",
    .open = s_open,
    .close = s_close,
    .file_bytes = s_file_bytes,
    .remove = s_remove,
    .session_open = s_session_open,
    .session_close = s_session_close,
    .begin = s_begin,
    .commit = s_commit,
    .put = s_put,
    .get = s_get,
    .del = s_del,
    .scan = s_scan,
    .seek = s_seek,
    .has_append = 0,
};
