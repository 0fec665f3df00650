/*
 * test_faults.c - failed commits: a write, a file extension or a sync that
 * fails at any point of a commit. The commit reports the error; the
 * database keeps its previous state (on disk and in the handle) and stays
 * usable, or, after a failed sync or meta write, refuses writes with
 * LARCH_PANIC until reopened, and then holds the old or the new state whole.
 */
#include "pagewalk.h"

#include "os.h"

#include <errno.h>

static struct os_io faulty;
static int fail_write_at = -1, fail_sync_at = -1, fail_truncate_at = -1, fail_errno;
static int writes, syncs, truncates;

static ssize_t faulty_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    if (writes++ == fail_write_at) {
        if (fail_errno == 0) { /* a short write: only part of the first buffer */
            struct iovec part = { iov[0].iov_base, iov[0].iov_len / 2 + 1 };
            return os_io_default()->pwritev(fd, &part, 1, off);
        }
        errno = fail_errno;
        return -1;
    }
    return os_io_default()->pwritev(fd, iov, n, off);
}

static int faulty_fdatasync(int fd)
{
    if (syncs++ == fail_sync_at) {
        errno = EIO;
        return -1;
    }
    return os_io_default()->fdatasync(fd);
}

static int faulty_ftruncate(int fd, off_t len)
{
    if (truncates++ == fail_truncate_at) {
        errno = ENOSPC;
        return -1;
    }
    return os_io_default()->ftruncate(fd, len);
}

/* Growing the file (fallocate) counts with ftruncate: both change its
 * size. From the failing call on, every one fails: growth retries a
 * smaller step when the disk is full. */
static int faulty_fallocate(int fd, off_t off, off_t len)
{
    if (fail_truncate_at >= 0 && truncates++ >= fail_truncate_at) {
        errno = ENOSPC;
        return -1;
    }
    return os_io_default()->fallocate(fd, off, len);
}

static void arm(int write_at, int sync_at, int truncate_at, int err)
{
    faulty = *os_io_default();
    faulty.pwritev = faulty_pwritev;
    faulty.fdatasync = faulty_fdatasync;
    faulty.ftruncate = faulty_ftruncate;
    faulty.fallocate = faulty_fallocate;
    fail_write_at = write_at;
    fail_sync_at = sync_at;
    fail_truncate_at = truncate_at;
    fail_errno = err;
    writes = syncs = truncates = 0;
    os_io_set(&faulty);
}

/* Generation g of the data: keys 0..n-1 of it. */
static int write_generation(larch_db *db, int g, int n)
{
    larch_txn *txn;
    char kb[32], vb[3000];
    int rc = larch_begin(db, 0, &txn);
    if (rc)
        return rc;
    for (int i = 0; i < n && rc == 0; i++) {
        snprintf(kb, sizeof kb, "g%02d-%05d", g, i);
        memset(vb, 'a' + g % 26, sizeof vb);
        larch_val k = str_val(kb), v = val_of(vb, (size_t)(i * 37 % 3000));
        rc = larch_put(txn, 0, &k, &v, 0);
    }
    /* and drop the generation before last, so commits free pages too */
    for (int i = 0; i < n && rc == 0 && g >= 2; i++) {
        snprintf(kb, sizeof kb, "g%02d-%05d", g - 2, i);
        larch_val k = str_val(kb);
        rc = larch_del(txn, 0, &k);
    }
    if (rc) {
        larch_abort(txn);
        return rc;
    }
    return larch_commit(txn);
}

/* Which generations the database holds, as a bit set (checking each whole). */
static unsigned generations(larch_db *db, int n)
{
    larch_txn *txn;
    unsigned set = 0;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    for (int g = 0; g < 32; g++) {
        int found = 0;
        for (int i = 0; i < n; i++) {
            char kb[32];
            snprintf(kb, sizeof kb, "g%02d-%05d", g, i);
            larch_val k = str_val(kb), v;
            int rc = larch_get(txn, 0, &k, &v);
            CHECK(rc == 0 || rc == LARCH_NOTFOUND);
            if (rc == 0) {
                CHECK(v.size == (size_t)(i * 37 % 3000));
                found++;
            }
        }
        CHECK_MSG(found == 0 || found == n, "generation %d is there in part (%d of %d)", g, found, n);
        if (found)
            set |= 1u << g;
    }
    larch_abort(txn);
    return set;
}

/* n keys per generation: 300 makes commits of about 1 MB and more (two
 * syncs), 10 small ones (one sync: format.h, ONE-SYNC COMMITS). */
static void run_faults_n(const char *what, int kind, int err, int n)
{
    const char *path = test_path("faults.db");
    larch_db *db;
    int g = 0, failures = 0, panics = 0;
    unsigned state;
    CHECK_OK(larch_open(path, NULL, &db));
    for (; g < 2; g++)
        CHECK_OK(write_generation(db, g, n));
    state = generations(db, n);
    for (int at = 0, rounds = 0; rounds < 6 && g < 30; at++) {
        arm(kind == 0 ? at : -1, kind == 1 ? at : -1, kind == 2 ? at : -1, err);
        int rc = write_generation(db, g, n);
        os_io_set(NULL);
        unsigned next = (state | (1u << g)) & ~(g >= 2 ? 1u << (g - 2) : 0);
        if (rc == 0) {
            CHECK_MSG(generations(db, n) == next, "at %d of %d writes, generation %d: holds %x, wanted %x", at, writes, g, generations(db, n), next);
            state = next;
            g++;
            if ((kind == 0 && writes <= at) || (kind == 1 && syncs <= at) || (kind == 2 && truncates <= at)) {
                at = -1; /* every point of this commit was tried: next generation */
                rounds++;
            }
            continue;
        }
        failures++;
        CHECK_MSG(rc == err || rc == EIO || rc == ENOSPC, "%s: commit failed with %d (%s)", what, rc,
                  larch_strerror(rc));
        larch_txn *txn;
        int brc = larch_begin(db, 0, &txn);
        if (brc == LARCH_PANIC) {
            /* The handle cannot know what reached the disk: reopen and see. */
            panics++;
            CHECK(generations(db, n) == state); /* readers still see the last good state */
            larch_close(db);
            CHECK_OK(larch_open(path, NULL, &db));
            unsigned now = generations(db, n);
            CHECK_MSG(now == state || now == next, "%s: after reopen the file holds neither state", what);
            if (now == next) {
                state = next;
                g++;
            }
        } else {
            CHECK_OK(brc);
            larch_abort(txn);
            CHECK_MSG(generations(db, n) == state, "%s: a failed commit changed what readers see", what);
        }
        pagewalk_audit(db, NULL);
        CHECK(at < 10000);
    }
    /* Later commits work, and the file is sound. */
    CHECK_OK(write_generation(db, g, n));
    pagewalk_audit(db, NULL);
    larch_close(db);
    CHECK_OK(larch_open(path, NULL, &db));
    pagewalk_audit(db, NULL);
    larch_close(db);
    printf("    %s: %d failed commits (%d needed a reopen)\n", what, failures, panics);
    CHECK(failures > 0 || err == 0);
}

static void run_faults(const char *what, int kind, int err)
{
    run_faults_n(what, kind, err, 300);
}

TEST(faults, write_fails_with_enospc_at_every_point)
{
    run_faults("pwritev ENOSPC", 0, ENOSPC);
}

TEST(faults, write_fails_with_eio_at_every_point)
{
    run_faults("pwritev EIO", 0, EIO);
}

TEST(faults, sync_fails_at_every_point)
{
    run_faults("fdatasync EIO", 1, EIO);
}

TEST(faults, small_commits_fail_at_every_write_and_sync)
{
    run_faults_n("small commits, pwritev EIO", 0, EIO, 10);
    run_faults_n("small commits, fdatasync EIO", 1, EIO, 10);
}

TEST(faults, file_extension_fails)
{
    run_faults("fallocate/ftruncate ENOSPC", 2, ENOSPC);
}

TEST(faults, short_writes_are_finished)
{
    run_faults("short pwritev", 0, 0);
}

/* EINTR on every call that can be interrupted: retried, nothing lost. */
static int eintr_every;
static int calls;

static bool interrupt_now(void)
{
    if (++calls % eintr_every == 0) {
        errno = EINTR;
        return true;
    }
    return false;
}

static ssize_t eintr_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    return interrupt_now() ? -1 : os_io_default()->pwritev(fd, iov, n, off);
}

static ssize_t eintr_pread(int fd, void *buf, size_t len, off_t off)
{
    return interrupt_now() ? -1 : os_io_default()->pread(fd, buf, len, off);
}

static int eintr_ftruncate(int fd, off_t len)
{
    return interrupt_now() ? -1 : os_io_default()->ftruncate(fd, len);
}

static int eintr_fallocate(int fd, off_t off, off_t len)
{
    return interrupt_now() ? -1 : os_io_default()->fallocate(fd, off, len);
}

static int eintr_open(const char *path, int flags, int mode)
{
    return interrupt_now() ? -1 : os_io_default()->open(path, flags, mode);
}

static int eintr_flock(int fd, int op)
{
    return interrupt_now() ? -1 : os_io_default()->flock(fd, op);
}

static ssize_t eintr_write(int fd, const void *buf, size_t len)
{
    return interrupt_now() ? -1 : os_io_default()->write(fd, buf, len);
}

TEST(faults, eintr_is_retried)
{
    for (eintr_every = 2; eintr_every <= 5; eintr_every++) {
        faulty = *os_io_default();
        faulty.pwritev = eintr_pwritev;
        faulty.pread = eintr_pread;
        faulty.ftruncate = eintr_ftruncate;
        faulty.fallocate = eintr_fallocate;
        faulty.open = eintr_open;
        faulty.flock = eintr_flock;
        faulty.write = eintr_write;
        calls = 0;
        os_io_set(&faulty);
        char name[32];
        snprintf(name, sizeof name, "eintr%d.db", eintr_every);
        larch_db *db;
        int rc = larch_open(test_path(name), NULL, &db);
        os_io_set(NULL);
        CHECK_OK(rc);
        os_io_set(&faulty);
        for (int g = 0; g < 4; g++)
            CHECK_OK(write_generation(db, g, 200));
        snprintf(name, sizeof name, "eintr%d-copy.db", eintr_every);
        CHECK_OK(larch_copy(db, test_path(name), LARCH_COPY_COMPACT));
        os_io_set(NULL);
        CHECK(generations(db, 200) == 0xc);
        pagewalk_audit(db, NULL);
        larch_close(db);
        CHECK(calls > 20);
    }
}

/* The file outgrows its map and the new mapping fails: the commit fails cleanly. */
static int mmap_fail_countdown;

static void *failing_mmap(size_t len, int fd)
{
    if (mmap_fail_countdown > 0 && --mmap_fail_countdown == 0) {
        errno = ENOMEM;
        return (void *)-1;
    }
    return os_io_default()->mmap(len, fd);
}

TEST(faults, remap_fails)
{
    larch_db *db;
    CHECK_OK(larch_open(test_path("remap.db"), NULL, &db));
    faulty = *os_io_default();
    faulty.mmap = failing_mmap;
    int failures = 0, g = 0;
    unsigned state = 0;
    for (int round = 0; round < 12; round++) {
        mmap_fail_countdown = 1; /* the next mapping fails */
        os_io_set(&faulty);
        int rc = write_generation(db, g, 300);
        os_io_set(NULL);
        unsigned next = (state | (1u << g)) & ~(g >= 2 ? 1u << (g - 2) : 0);
        if (rc == 0) {
            state = next;
            g++;
        } else {
            CHECK_RC(rc, ENOMEM);
            failures++;
        }
        CHECK(generations(db, 300) == state);
    }
    mmap_fail_countdown = 0;
    CHECK_OK(write_generation(db, g, 300)); /* and once mapping works again, on it goes */
    pagewalk_audit(db, NULL);
    larch_close(db);
    printf("    %d commits failed to map the grown file, and changed nothing\n", failures);
    CHECK(failures > 0);
}
