/*
 * test_copy.c - hot backup and compacting copy: the copy holds exactly the
 * snapshot it was taken from (also while a writer commits), passes the
 * check, and a compacted copy of a mostly deleted database is small. A
 * damaged source stops the copy; free pages are neither read nor copied.
 */
#include "pagewalk.h"

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static larch_db *open_db(const char *path, unsigned flags)
{
    larch_db *db;
    larch_options o = { 0 };
    o.flags = flags | LARCH_NOSYNC;
    CHECK_OK(larch_open(path, &o, &db));
    return db;
}

/* Every bucket of a and b holds the same entries (a and b: read txns). */
static uint64_t same_content(larch_txn *a, larch_txn *b)
{
    uint64_t n = 0;
    char name[256] = "";
    for (int bucket = -1;; bucket++) {
        larch_bucket ba = 0, bb = 0;
        if (bucket >= 0) {
            larch_val nm;
            int rc = larch_bucket_next(a, name, &nm);
            if (rc == LARCH_NOTFOUND) {
                CHECK_RC(larch_bucket_next(b, name, &nm), LARCH_NOTFOUND);
                return n;
            }
            CHECK_OK(rc);
            memcpy(name, nm.data, nm.size);
            name[nm.size] = 0;
            CHECK_OK(larch_bucket_open(a, name, 0, &ba));
            CHECK_OK(larch_bucket_open(b, name, 0, &bb));
            struct larch_stat sa, sb;
            CHECK_OK(larch_stat(a, ba, &sa));
            CHECK_OK(larch_stat(b, bb, &sb));
            CHECK(sa.entries == sb.entries && sa.flags == sb.flags && sa.sequence == sb.sequence &&
                  sa.value_bytes == sb.value_bytes);
        }
        larch_cursor *ca, *cb;
        larch_val ka, va, kb, vb;
        CHECK_OK(larch_cursor_open(a, ba, &ca));
        CHECK_OK(larch_cursor_open(b, bb, &cb));
        int ra, rb;
        while ((ra = larch_cursor_get(ca, &ka, &va, LARCH_NEXT)) == 0) {
            rb = larch_cursor_get(cb, &kb, &vb, LARCH_NEXT);
            CHECK_OK(rb);
            CHECK(ka.size == kb.size && !memcmp(ka.data, kb.data, ka.size));
            CHECK(va.size == vb.size && (va.size == 0 || !memcmp(va.data, vb.data, va.size)));
            n++;
        }
        CHECK_RC(ra, LARCH_NOTFOUND);
        CHECK_RC(larch_cursor_get(cb, &kb, &vb, LARCH_NEXT), LARCH_NOTFOUND);
        larch_cursor_close(ca);
        larch_cursor_close(cb);
    }
}

static void fill(larch_db *db, int n, uint64_t seed)
{
    rng_t r = { seed };
    larch_txn *txn;
    larch_bucket plain, z;
    char kb[32], vb[20000];
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "plain", LARCH_CREATE, &plain));
    CHECK_OK(larch_bucket_open(txn, "zipped", LARCH_CREATE | LARCH_LZ4, &z));
    CHECK_OK(larch_bucket_open(txn, "empty", LARCH_CREATE, &z));
    CHECK_OK(larch_bucket_open(txn, "zipped", 0, &z));
    uint64_t seq;
    CHECK_OK(larch_bucket_sequence(txn, plain, &seq));
    for (int i = 0; i < n; i++) {
        snprintf(kb, sizeof kb, "k%07d", (int)rng_below(&r, (uint64_t)n * 2));
        size_t vl = rng_below(&r, 50) == 0 ? 3000 + rng_below(&r, 15000) : rng_below(&r, 300);
        for (size_t j = 0; j < vl; j++)
            vb[j] = "the quick brown fox "[j % 20] + (char)(i % 3);
        larch_val k = str_val(kb), v = val_of(vb, vl);
        CHECK_OK(larch_put(txn, (larch_bucket[]){ 0, plain, z }[i % 3], &k, &v, 0));
    }
    CHECK_OK(larch_commit(txn));
}

static void check_copy_equals(larch_db *src, const char *copy)
{
    larch_db *c = open_db(copy, LARCH_RDONLY);
    larch_txn *a, *b;
    CHECK_OK(larch_begin(src, LARCH_RDONLY, &a));
    CHECK_OK(larch_begin(c, LARCH_RDONLY, &b));
    uint64_t n = same_content(a, b);
    CHECK(n > 0);
    larch_abort(a);
    larch_abort(b);
    pagewalk_audit(c, NULL);
    larch_close(c);
}

TEST(copy, plain_and_compact_hold_the_same_data)
{
    const char *src = test_path("src.db"), *p = test_path("plain.db"), *k = test_path("compact.db");
    larch_db *db = open_db(src, 0);
    fill(db, 20000, 1);
    CHECK_OK(larch_copy(db, p, 0));
    CHECK_OK(larch_copy(db, k, LARCH_COPY_COMPACT));
    check_copy_equals(db, p);
    check_copy_equals(db, k);
    printf("    source %llu KiB, copy %llu KiB, compacted %llu KiB\n",
           (unsigned long long)file_size_of(src) >> 10, (unsigned long long)file_size_of(p) >> 10,
           (unsigned long long)file_size_of(k) >> 10);
    CHECK(file_size_of(k) < file_size_of(p));
    CHECK_RC(larch_copy(db, p, 0), EEXIST);
    CHECK_RC(larch_copy(db, test_path("x.db"), 0x80), LARCH_INVALID);
    CHECK_RC(larch_copy(NULL, test_path("x.db"), 0), LARCH_INVALID);
    CHECK_RC(larch_copy_fd(db, -1, 0), LARCH_INVALID);
    /* A compacted copy is a full database: it takes writes. */
    larch_db *c = open_db(k, 0);
    fill(c, 2000, 9);
    pagewalk_audit(c, NULL);
    larch_close(c);
    larch_close(db);
}

TEST(copy, compact_after_deleting_most_data)
{
    const char *src = test_path("src.db"), *k = test_path("compact.db");
    larch_db *db = open_db(src, 0);
    larch_txn *txn;
    char kb[32], vb[100];
    memset(vb, 'x', sizeof vb);
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int i = 0; i < 100000; i++) {
        snprintf(kb, sizeof kb, "key%012d", (i * 7919) % 100000);
        larch_val kk = str_val(kb), v = val_of(vb, sizeof vb);
        CHECK_OK(larch_put(txn, 0, &kk, &v, 0));
    }
    CHECK_OK(larch_commit(txn));
    uint64_t live = 0;
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int i = 0; i < 100000; i++) {
        snprintf(kb, sizeof kb, "key%012d", i);
        larch_val kk = str_val(kb);
        if (i % 10 != 0)
            CHECK_OK(larch_del(txn, 0, &kk));
        else
            live += strlen(kb) + sizeof vb;
    }
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_copy(db, k, LARCH_COPY_COMPACT));
    uint64_t before = file_size_of(src), after = file_size_of(k);
    printf("    live data %llu KiB: file %llu KiB, compacted copy %llu KiB (%.2fx the live data)\n",
           (unsigned long long)live >> 10, (unsigned long long)before >> 10, (unsigned long long)after >> 10,
           (double)after / (double)live);
    CHECK(after * 10 <= live * 13);
    check_copy_equals(db, k);
    larch_close(db);
}

struct writer {
    larch_db *db;
    atomic_int stop;
    int commits;
};

/* Commit n: "last" = n, "w<n>" = n; every 3rd deletes w<n-2>. */
static void *keep_writing(void *arg)
{
    struct writer *w = arg;
    for (uint64_t n = 1; !atomic_load(&w->stop); n++) {
        larch_txn *txn;
        char kb[32];
        if (larch_begin(w->db, 0, &txn))
            return (void *)1;
        larch_val k = str_val("last"), v = val_of(&n, 8);
        larch_put(txn, 0, &k, &v, 0);
        snprintf(kb, sizeof kb, "w%08llu", (unsigned long long)n);
        k = str_val(kb);
        larch_put(txn, 0, &k, &v, 0);
        if (n % 3 == 0) {
            snprintf(kb, sizeof kb, "w%08llu", (unsigned long long)(n - 2));
            k = str_val(kb);
            larch_del(txn, 0, &k);
        }
        if (larch_commit(txn))
            return (void *)2;
        w->commits = (int)n;
    }
    return NULL;
}

/* The copy holds exactly the writer's state after commit "last". */
static void check_writer_snapshot(const char *path)
{
    larch_db *c = open_db(path, LARCH_RDONLY);
    larch_txn *txn;
    CHECK_OK(larch_begin(c, LARCH_RDONLY, &txn));
    larch_val k = str_val("last"), v;
    uint64_t last = 0;
    if (larch_get(txn, 0, &k, &v) == 0)
        memcpy(&last, v.data, 8);
    for (uint64_t n = 1; n <= last + 5; n++) {
        char kb[32];
        snprintf(kb, sizeof kb, "w%08llu", (unsigned long long)n);
        k = str_val(kb);
        bool gone = n > last || ((n + 2) % 3 == 0 && n + 2 <= last);
        CHECK_RC(larch_get(txn, 0, &k, &v), gone ? LARCH_NOTFOUND : 0);
    }
    larch_abort(txn);
    pagewalk_audit(c, NULL);
    larch_close(c);
}

TEST(copy, while_a_writer_commits)
{
    struct writer w = { .db = open_db(test_path("src.db"), 0) };
    fill(w.db, 5000, 2);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, keep_writing, &w) == 0);
    for (int i = 0; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof name, "copy%d.db", i);
        usleep(20000);
        CHECK_OK(larch_copy(w.db, test_path(name), i % 2 ? LARCH_COPY_COMPACT : 0));
        check_writer_snapshot(test_path(name));
    }
    atomic_store(&w.stop, 1);
    void *res;
    pthread_join(th, &res);
    CHECK(res == NULL);
    printf("    6 copies taken during %d commits\n", w.commits);
    CHECK(w.commits > 6);
    larch_close(w.db);
}

struct drain {
    int fd, out;
};

static void *drain_pipe(void *arg)
{
    struct drain *d = arg;
    char buf[65536];
    ssize_t n;
    while ((n = read(d->fd, buf, sizeof buf)) > 0)
        if (write(d->out, buf, (size_t)n) != n)
            return (void *)1;
    return NULL;
}

TEST(copy, streams_to_a_pipe)
{
    larch_db *db = open_db(test_path("src.db"), 0);
    fill(db, 10000, 3);
    for (int compact = 0; compact < 2; compact++) {
        const char *p = test_path(compact ? "piped-compact.db" : "piped.db");
        int fds[2];
        CHECK(pipe(fds) == 0);
        struct drain d = { fds[0], open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644) };
        CHECK(d.out >= 0);
        pthread_t th;
        CHECK(pthread_create(&th, NULL, drain_pipe, &d) == 0);
        CHECK_OK(larch_copy_fd(db, fds[1], compact ? LARCH_COPY_COMPACT : 0));
        close(fds[1]);
        void *res;
        pthread_join(th, &res);
        CHECK(res == NULL);
        close(fds[0]);
        close(d.out);
        check_copy_equals(db, p);
    }
    larch_close(db);
}

/* ---- What a copy reads --------------------------------------------------- */

/* The pages check_run says play 'role' in 'tree' (NULL: any tree). */
struct role_pages {
    const char *role, *tree;
    uint64_t *v;
    size_t n;
};

static void collect_role(void *ctx, uint64_t pgno, uint64_t n, const char *role, const char *tree)
{
    struct role_pages *r = ctx;
    if (strcmp(role, r->role) || (r->tree && strcmp(tree, r->tree)))
        return;
    r->v = realloc(r->v, (r->n + n) * sizeof *r->v);
    for (uint64_t i = 0; i < n; i++)
        r->v[r->n++] = pgno + i;
}

static struct role_pages pages_of(const char *path, const char *role, const char *tree)
{
    struct role_pages r = { role, tree, NULL, 0 };
    larch_db *db = open_db(path, LARCH_RDONLY);
    larch_txn *txn;
    larch_check_report rep;
    struct check_hooks hooks = { .page = collect_role, .ctx = &r };
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(check_run(txn, &rep, &hooks));
    larch_abort(txn);
    larch_close(db);
    return r;
}

/*
 * Silent damage (a flipped byte in a leaf's value, so the page's structure
 * still holds and only its checksum tells) stops both copies and names the
 * page. Before: the compacting copy succeeded, and its copy, with the bad
 * value under a fresh checksum, checked sound.
 */
TEST(copy, damage_stops_both_copies)
{
    const char *path = test_path("a.db");
    larch_db *db = open_db(path, 0);
    fill(db, 3000, 61);
    larch_close(db);
    struct role_pages leaves = pages_of(path, "leaf", "bucket 0");
    CHECK(leaves.n > 2);
    uint64_t victim = leaves.v[leaves.n / 2];
    free(leaves.v);
    file_flip_byte(path, victim * 4096 + 4000); /* in the heap, near the page's end: a value byte */
    db = open_db(path, 0);
    char page_name[64];
    snprintf(page_name, sizeof page_name, "page %llu", (unsigned long long)victim);
    CHECK_RC(larch_copy(db, test_path("plain.db"), 0), LARCH_CORRUPT);
    CHECK_MSG(strstr(larch_last_error_detail(), page_name), "detail: %s", larch_last_error_detail());
    CHECK_RC(larch_copy(db, test_path("compact.db"), LARCH_COPY_COMPACT), LARCH_CORRUPT);
    CHECK_MSG(strstr(larch_last_error_detail(), page_name), "detail: %s", larch_last_error_detail());
    CHECK(access(test_path("plain.db"), F_OK) != 0 && access(test_path("compact.db"), F_OK) != 0);
    int fd = open("/dev/null", O_WRONLY);
    CHECK_RC(larch_copy_fd(db, fd, LARCH_COPY_COMPACT), LARCH_CORRUPT);
    close(fd);
    larch_close(db);
}

/* Count the times a byte string occurs in a file. */
static int occurrences(const char *path, const char *what)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    size_t wl = strlen(what), n = 0, cap = 1 << 20;
    char *buf = malloc(cap);
    int count = 0;
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    for (size_t i = 0; i + wl <= n; i++)
        count += memcmp(buf + i, what, wl) == 0;
    free(buf);
    return count;
}

/* A plain copy writes zeros for free pages: what was deleted stays behind. */
TEST(copy, plain_copy_leaves_deleted_data_behind)
{
    const char *path = test_path("a.db");
    larch_db *db = open_db(path, 0);
    fill(db, 2000, 62);
    larch_txn *txn;
    char secret[3000];
    memset(secret, 0, sizeof secret);
    for (size_t i = 0; i + 1 < sizeof secret; i++)
        secret[i] = "deleted-secret-"[i % 15];
    larch_val k = str_val("secret"), v = val_of(secret, strlen(secret));
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_del(txn, 0, &k));
    CHECK_OK(larch_commit(txn));
    CHECK_OK(larch_copy(db, test_path("copy.db"), 0));
    larch_close(db);
    CHECK(occurrences(path, "deleted-secret-deleted-secret-") > 0);
    CHECK(occurrences(test_path("copy.db"), "deleted-secret-deleted-secret-") == 0);
    db = open_db(path, LARCH_RDONLY);
    check_copy_equals(db, test_path("copy.db"));
    larch_close(db);
}

static char copy_mnt[1024];

static void copy_unmount(void *arg)
{
    (void)arg;
    if (copy_mnt[0])
        umount2(copy_mnt, MNT_DETACH);
    copy_mnt[0] = 0;
}

static uint64_t blocks_of(const char *path)
{
    struct stat st;
    CHECK(stat(path, &st) == 0);
    return (uint64_t)st.st_blocks;
}

/*
 * Free pages can be holes: pages a transaction took at the end of the file
 * and freed again were never written (older files hold such holes; this
 * test punches them). On tmpfs, reading a hole through the map allocates
 * a page, so the copy grew the source; on a full tmpfs it died of SIGBUS.
 * Now it reads only pages in use.
 */
TEST(copy, free_pages_that_are_holes_are_not_read)
{
    snprintf(copy_mnt, sizeof copy_mnt, "%s", test_path("mnt"));
    CHECK(mkdir(copy_mnt, 0700) == 0);
    if (mount("larch-test", copy_mnt, "tmpfs", 0, "size=16m") != 0) {
        printf("    skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
        copy_mnt[0] = 0;
        return;
    }
    test_on_fail(copy_unmount, NULL);
    char path[1100], filler[1100];
    snprintf(path, sizeof path, "%s/a.db", copy_mnt);
    snprintf(filler, sizeof filler, "%s/filler", copy_mnt);
    larch_db *db = open_db(path, 0);
    fill(db, 3000, 63);
    larch_bucket plain;
    larch_txn *txn;
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "plain", 0, &plain));
    CHECK_OK(larch_bucket_drop(txn, plain, 0));
    CHECK_OK(larch_commit(txn));
    larch_close(db);
    struct role_pages freep = pages_of(path, "free", NULL);
    CHECK(freep.n > 10);
    int fd = open(path, O_RDWR);
    for (size_t i = 0; i < freep.n; i++)
        CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(freep.v[i] * 4096), 4096) == 0);
    close(fd);
    free(freep.v);
    uint64_t blocks = blocks_of(path);

    /* Not full: the copy must not fill the holes. */
    db = open_db(path, LARCH_RDONLY);
    CHECK_OK(larch_copy(db, test_path("copy.db"), 0));
    CHECK(blocks_of(path) == blocks);
    check_copy_equals(db, test_path("copy.db"));
    larch_close(db);

    /* Full: the copy must not fault (in a child, to see it die if it does). */
    test_fill_disk(filler);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        larch_db *c = open_db(path, LARCH_RDONLY);
        int out = open("/dev/null", O_WRONLY);
        _exit(larch_copy_fd(c, out, 0) == 0 && larch_copy_fd(c, out, LARCH_COPY_COMPACT) == 0 ? 0 : 1);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the copy on a full tmpfs %s %d",
              WIFSIGNALED(status) ? "died of signal" : "failed with status",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    CHECK(blocks_of(path) == blocks);
    copy_unmount(NULL);
}
