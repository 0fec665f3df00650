/*
 * test_misuse.c - what callers get wrong: a handle used after fork, a
 * transaction used after it ended. Each is refused with LARCH_INVALID and
 * a detail that says what was wrong, and loses nothing.
 */
#include "pagewalk.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static void put_keys(larch_db *db, int from, int to)
{
    larch_txn *txn;
    char kb[32], vb[200];
    memset(vb, 'f', sizeof vb);
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int i = from; i < to; i++) {
        snprintf(kb, sizeof kb, "fork%06d", i);
        larch_val k = str_val(kb), v = val_of(vb, sizeof vb);
        CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    }
    CHECK_OK(larch_commit(txn));
}

static void expect_keys(larch_db *db, int n)
{
    struct walk_counts wc;
    pagewalk_audit(db, &wc);
    CHECK_MSG(wc.entries == (uint64_t)n, "%llu keys, wanted %d", (unsigned long long)wc.entries, n);
}

static bool detail_has(const char *what)
{
    return strstr(larch_last_error_detail(), what) != NULL;
}

/* In the child: every call on the parent's handle fails, closing it
 * changes nothing on disk. The exit status counts the failed checks. */
static int child_misuses(larch_db *db, larch_txn *wtxn, larch_txn *rtxn)
{
    int bad = 0;
    larch_txn *txn;
    larch_val k = str_val("fork000001"), v;
    bad += larch_begin(db, LARCH_RDONLY, &txn) != LARCH_INVALID;
    bad += !detail_has("forked");
    bad += larch_begin(db, 0, &txn) != LARCH_INVALID;
    if (rtxn)
        bad += larch_get(rtxn, 0, &k, &v) != LARCH_INVALID;
    if (wtxn) {
        bad += larch_put(wtxn, 0, &k, &k, 0) != LARCH_INVALID;
        bad += larch_commit(wtxn) != LARCH_INVALID;
    }
    if (rtxn)
        larch_abort(rtxn);
    struct larch_info in;
    bad += larch_info(db, &in) != LARCH_INVALID;
    bad += larch_copy(db, "never-written.db", 0) != LARCH_INVALID;
    larch_close(db);
    return bad;
}

/* A child that waits for go() and then misuses the handle; wait_child()
 * gives its count of failed checks. */
static int fork_fd = -1;

static pid_t fork_child(larch_db *db, larch_txn *wtxn, larch_txn *rtxn)
{
    int p[2];
    CHECK(pipe(p) == 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char c;
        close(p[1]);
        if (read(p[0], &c, 1) != 1)
            _exit(100);
        _exit(child_misuses(db, wtxn, rtxn));
    }
    close(p[0]);
    fork_fd = p[1];
    return pid;
}

static int wait_child(pid_t pid)
{
    int status;
    CHECK(write(fork_fd, "g", 1) == 1);
    close(fork_fd);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/*
 * Before: a child that only called larch_close on the inherited handle,
 * after the parent had committed more, wrote a meta page of its own stale
 * state and cut the file to its size: the parent's acknowledged commits
 * were gone, and the parent, reading on, died of SIGBUS.
 */
TEST(misuse, fork_child_cannot_touch_the_parents_database)
{
    const char *path = test_path("a.db");
    larch_db *db;
    CHECK_OK(larch_open(path, NULL, &db));
    put_keys(db, 0, 1000);
    pid_t pid = fork_child(db, NULL, NULL);
    put_keys(db, 1000, 20000); /* commits that grow the file */
    CHECK(wait_child(pid) == 0);
    put_keys(db, 20000, 20100);
    expect_keys(db, 20100);

    /* A child forked in the middle of transactions, one of each kind. */
    larch_txn *w, *r;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &r));
    CHECK_OK(larch_begin(db, 0, &w));
    larch_val k = str_val("fork-in-flight"), v = str_val("parent");
    CHECK_OK(larch_put(w, 0, &k, &v, 0));
    pid = fork_child(db, w, r);
    CHECK_OK(larch_commit(w));
    larch_abort(r);
    CHECK(wait_child(pid) == 0);
    put_keys(db, 20100, 21000);
    larch_close(db);

    CHECK_OK(larch_open(path, NULL, &db));
    expect_keys(db, 21001);
    larch_close(db);
}

/* Before: a get after commit gave LARCH_CORRUPT ("the file is damaged")
 * and a second commit freed the transaction twice. */
TEST(misuse, a_transaction_used_after_it_ended_is_refused)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_cursor *cur;
    larch_val k = str_val("key"), v = str_val("value"), got;
    for (int kind = 0; kind < 3; kind++) { /* commit, abort, commit of a read txn */
        CHECK_OK(larch_begin(db, kind == 2 ? LARCH_RDONLY : 0, &txn));
        if (kind < 2)
            CHECK_OK(larch_put(txn, 0, &k, &v, 0));
        CHECK_OK(larch_cursor_open(txn, 0, &cur));
        CHECK_OK(larch_cursor_get(cur, NULL, NULL, LARCH_FIRST));
        if (kind == 1)
            larch_abort(txn);
        else
            CHECK_OK(larch_commit(txn));
        CHECK_RC(larch_get(txn, 0, &k, &got), LARCH_INVALID);
        CHECK(detail_has("has ended"));
        CHECK_RC(larch_put(txn, 0, &k, &v, 0), LARCH_INVALID);
        CHECK_RC(larch_del(txn, 0, &k), LARCH_INVALID);
        CHECK_RC(larch_commit(txn), LARCH_INVALID);
        larch_abort(txn); /* a no-op */
        CHECK_RC(larch_cursor_get(cur, &got, NULL, LARCH_NEXT), LARCH_INVALID);
        CHECK_RC(larch_cursor_get(cur, &got, NULL, LARCH_FIRST), LARCH_INVALID);
        CHECK_RC(larch_cursor_del(cur), LARCH_INVALID);
        larch_bucket b;
        CHECK_RC(larch_bucket_open(txn, "x", 0, &b), LARCH_INVALID);
        larch_check_report rep;
        CHECK_RC(larch_check(txn, &rep), LARCH_INVALID);
        larch_cursor_close(cur);
    }
    /* The database is fine and still usable. */
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_get(txn, 0, &k, &got));
    CHECK(got.size == 5 && !memcmp(got.data, "value", 5));
    larch_abort(txn);
    pagewalk_audit(db, NULL);
    larch_close(db);
}

/* The detail names what was wrong; larch_strerror stays generic. */
TEST(misuse, the_detail_says_what_was_wrong)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_bucket b;
    CHECK(strcmp(larch_strerror(LARCH_INVALID), larch_strerror(LARCH_NOTFOUND)) != 0);
    CHECK_OK(larch_begin(db, 0, &txn));
    larch_val empty = { 0, "" }, v = str_val("v");
    CHECK_RC(larch_put(txn, 0, &empty, &v, 0), LARCH_INVALID);
    CHECK(detail_has("a key of 0 bytes"));
    CHECK_RC(larch_put(txn, 0, &v, &v, 0x4000), LARCH_INVALID);
    CHECK(detail_has("unknown flags"));
    CHECK_RC(larch_bucket_open(txn, "missing", 0, &b), LARCH_NOTFOUND);
    CHECK(detail_has("no bucket named \"missing\""));
    CHECK(strstr(larch_strerror(LARCH_NOTFOUND), "bucket") != NULL);
    CHECK_RC(larch_bucket_drop(txn, 0, 1), LARCH_INVALID);
    CHECK(detail_has("bucket 0"));
    CHECK_RC(larch_get(txn, 12345, &v, &v), LARCH_INVALID);
    CHECK(detail_has("names no bucket"));
    larch_txn *second;
    CHECK_RC(larch_begin(db, 0, &second), LARCH_INVALID);
    CHECK(detail_has("already runs a write transaction"));
    /* A failure with nothing more to say gets its code's message. */
    CHECK_RC(larch_del(txn, 0, &v), LARCH_NOTFOUND);
    CHECK(strcmp(larch_last_error_detail(), larch_strerror(LARCH_NOTFOUND)) == 0);
    larch_abort(txn);
    larch_close(db);
    larch_options o = { 0 };
    o.flags = LARCH_RDONLY;
    CHECK_OK(larch_open(test_path("a.db"), &o, &db));
    CHECK_RC(larch_begin(db, 0, &txn), LARCH_INVALID);
    CHECK(detail_has("read-only handle"));
    larch_close(db);
}

/* ---- A write transaction ended by another thread ------------------------ */

struct handoff {
    larch_txn *txn;
    int rc;
};

static void *commit_it(void *arg)
{
    struct handoff *h = arg;
    h->rc = larch_commit(h->txn);
    return NULL;
}

/*
 * Begun in one thread, committed in another (a request handed between
 * worker threads). Before: the write lock was a mutex held for the
 * transaction's life, and the commit unlocked it from a thread that had
 * not locked it (undefined; ThreadSanitizer reports it). Meanwhile a
 * third thread waits for its own write transaction, and gets it.
 */
static void *write_one(void *arg)
{
    larch_db *db = arg;
    larch_txn *txn;
    larch_val k = str_val("third"), v = str_val("thread");
    if (larch_begin(db, 0, &txn) || larch_put(txn, 0, &k, &v, 0) || larch_commit(txn))
        return (void *)1;
    return NULL;
}

TEST(misuse, a_write_transaction_may_end_in_another_thread)
{
    larch_db *db = test_open_nosync("a.db");
    for (int round = 0; round < 50; round++) {
        struct handoff h = { 0 };
        pthread_t committer, waiter;
        larch_val k = str_val("handed"), v = str_val("over");
        CHECK_OK(larch_begin(db, 0, &h.txn));
        CHECK_OK(larch_put(h.txn, 0, &k, &v, 0));
        CHECK(pthread_create(&waiter, NULL, write_one, db) == 0);
        larch_txn *again;
        CHECK_RC(larch_begin(db, 0, &again), LARCH_INVALID); /* this thread's txn is still open */
        CHECK(pthread_create(&committer, NULL, commit_it, &h) == 0);
        CHECK(pthread_join(committer, NULL) == 0);
        CHECK_OK(h.rc);
        void *res;
        CHECK(pthread_join(waiter, &res) == 0);
        CHECK(res == NULL);
        CHECK_OK(larch_begin(db, 0, &again)); /* and the first thread writes again */
        larch_abort(again);
    }
    expect_keys(db, 2);
    larch_close(db);
}
