/*
 * test_powerloss.c - simulated power loss.
 *
 * A test I/O layer passes every call through, and for the database file it
 * also keeps the "durable image": what the disk is known to hold after the
 * last fdatasync. Writes since then are pending. At random moments inside
 * commits the test builds the file a power loss could leave: the durable
 * image plus a random subset of the pending writes, applied in random order
 * and torn at 512-byte sectors, with or without a pending size change. Each
 * such file must open at a commit no older than the last one acknowledged
 * (with LARCH_NOMETASYNC: at most one older) and no newer than the one in
 * flight, hold exactly that commit's data, and pass larch_check.
 */
#include "pagewalk.h"
#include "workload.h"

#include "os.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

struct pending_write {
    uint64_t off;
    size_t len;
    uint8_t *data;
};

static struct sim {
    const char *path; /* the tracked file */
    int fd;           /* its descriptor, -1 when not open */
    uint8_t *durable;
    uint64_t durable_len, cap, cur_len;
    struct pending_write *pw;
    size_t npw, pwcap;
    rng_t r;
    int images;
    uint64_t acked; /* commits acknowledged before the current point */
    char queue[64][64];
    uint64_t queue_acked[64];
    int nqueue;
    bool nometasync;
} sim;

static struct os_io sim_io;

static void durable_grow(uint64_t len)
{
    if (len > sim.cap) {
        uint64_t cap = sim.cap ? sim.cap : 65536;
        while (cap < len)
            cap *= 2;
        sim.durable = realloc(sim.durable, cap);
        memset(sim.durable + sim.cap, 0, cap - sim.cap);
        sim.cap = cap;
    }
}

static int sim_open(const char *path, int flags, int mode)
{
    int fd = os_io_default()->open(path, flags, mode);
    if (fd >= 0 && sim.path && !strcmp(path, sim.path)) {
        /* What is there now was synced (creation syncs): it is durable. */
        sim.fd = fd;
        uint64_t size;
        os_io_default()->fstat_size(fd, &size);
        durable_grow(size);
        if (pread(fd, sim.durable, size, 0) != (ssize_t)size)
            abort();
        sim.durable_len = sim.cur_len = size;
        sim.npw = 0;
    }
    return fd;
}

static int sim_close(int fd)
{
    if (fd == sim.fd)
        sim.fd = -1;
    return os_io_default()->close(fd);
}

/* Build one file a power loss at this moment could leave, and queue it for checking. */
static void crash_image(void)
{
    if (sim.nqueue == 64)
        return;
    uint64_t len = rng_below(&sim.r, 2) ? sim.cur_len : sim.durable_len;
    uint8_t *img = calloc(1, MAX(len, sim.durable_len) + 1);
    if (MIN(len, sim.durable_len)) /* nothing durable yet: a new file */
        memcpy(img, sim.durable, MIN(len, sim.durable_len));
    /* A random subset of the pending writes, in random order, each maybe torn. */
    size_t n = sim.npw, *order = malloc((n + 1) * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(&sim.r, i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k < n; k++) {
        struct pending_write *w = &sim.pw[order[k]];
        uint64_t c = rng_below(&sim.r, 3); /* lost, whole, torn */
        if (c == 0)
            continue;
        for (uint64_t s = w->off & ~511ull; s < w->off + w->len; s += 512) {
            if (c == 2 && rng_below(&sim.r, 2))
                continue; /* this sector did not make it */
            uint64_t a = MAX(s, w->off), b = MIN(s + 512, w->off + w->len);
            if (b > len) { /* a write past the end that landed extends the file */
                img = realloc(img, b);
                memset(img + len, 0, b - len);
                len = b;
            }
            memcpy(img + a, w->data + (a - w->off), b - a);
        }
    }
    free(order);
    char *name = sim.queue[sim.nqueue];
    snprintf(name, sizeof sim.queue[0], "%s", test_path("crash-image.db"));
    snprintf(name + strlen(name), sizeof sim.queue[0] - strlen(name), ".%d", sim.images);
    FILE *f = fopen(name, "wb");
    if (!f || fwrite(img, 1, len, f) != len || fclose(f))
        abort();
    free(img);
    sim.queue_acked[sim.nqueue++] = sim.acked;
    sim.images++;
}

static ssize_t sim_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    if (fd == sim.fd && rng_below(&sim.r, 2))
        crash_image();
    ssize_t r = os_io_default()->pwritev(fd, iov, cnt, off);
    if (fd == sim.fd && r > 0) {
        /* Remember what was written, as it was written. */
        size_t done = 0;
        for (int i = 0; i < cnt && done < (size_t)r; i++) {
            size_t n = MIN(iov[i].iov_len, (size_t)r - done);
            if (sim.npw == sim.pwcap) {
                sim.pwcap = sim.pwcap ? sim.pwcap * 2 : 64;
                sim.pw = realloc(sim.pw, sim.pwcap * sizeof *sim.pw);
            }
            struct pending_write *w = &sim.pw[sim.npw++];
            w->off = (uint64_t)off + done;
            w->len = n;
            w->data = malloc(n);
            memcpy(w->data, iov[i].iov_base, n);
            done += n;
            sim.cur_len = MAX(sim.cur_len, w->off + n);
        }
    }
    return r;
}

static int sim_sync(int fd)
{
    if (fd == sim.fd && rng_below(&sim.r, 2))
        crash_image();
    int r = os_io_default()->fdatasync(fd);
    if (fd == sim.fd && r == 0) {
        durable_grow(sim.cur_len);
        for (size_t i = 0; i < sim.npw; i++) {
            memcpy(sim.durable + sim.pw[i].off, sim.pw[i].data, sim.pw[i].len);
            free(sim.pw[i].data);
        }
        sim.npw = 0;
        if (sim.cur_len < sim.durable_len)
            memset(sim.durable + sim.cur_len, 0, sim.durable_len - sim.cur_len);
        sim.durable_len = sim.cur_len;
    }
    return r;
}

static int sim_ftruncate(int fd, off_t len)
{
    int r = os_io_default()->ftruncate(fd, len);
    if (fd == sim.fd && r == 0)
        sim.cur_len = (uint64_t)len; /* durable only once synced */
    return r;
}

static int sim_fallocate(int fd, off_t off, off_t len)
{
    int r = os_io_default()->fallocate(fd, off, len);
    if (fd == sim.fd && r == 0 && (uint64_t)(off + len) > sim.cur_len)
        sim.cur_len = (uint64_t)(off + len); /* durable only once synced */
    return r;
}

/*
 * Writing goes on from a crash image at commit s: a writable open (which
 * clears the meta page of a one-sync commit cut short) finds s, the next
 * commit (which reuses that one's txnid and likely its pages) lands, and
 * the file reopens at it, sound.
 */
static void reopen_and_commit(const char *path, uint64_t s)
{
    static uint8_t buf[WORKLOAD_MAX_VALUE];
    larch_db *db;
    larch_txn *txn;
    larch_check_report rep;
    larch_options o = { .flags = LARCH_NOSYNC };
    CHECK_OK(larch_open(path, &o, &db));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK(workload_seq(txn) == s);
    larch_abort(txn);
    CHECK_OK(workload_commit(db, s + 1, buf));
    larch_close(db);
    o.flags = LARCH_RDONLY;
    CHECK_OK(larch_open(path, &o, &db));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK(workload_seq(txn) == s + 1);
    workload_verify(txn, s + 1);
    audit_txn(txn, &rep);
    CHECK(rep.damaged_metas == 0);
    larch_abort(txn);
    larch_close(db);
}

static void verify_image(const char *path, uint64_t acked)
{
    larch_db *db;
    larch_txn *txn;
    larch_options o = { 0 };
    o.flags = LARCH_RDONLY;
    int rc = larch_open(path, &o, &db);
    if ((rc == LARCH_NOTDB || rc == LARCH_CORRUPT) && acked == 0) {
        /* Before the first commit: an initialization cut short, which a
         * writable open must make a sound empty database. */
        o.flags = 0;
        CHECK_MSG(larch_open(path, &o, &db) == 0, "crash image %s of an initialization does not open", path);
        larch_txn *txn;
        CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
        CHECK(workload_seq(txn) == 0);
        larch_abort(txn);
        pagewalk_audit(db, NULL);
        larch_close(db);
        unlink(path);
        return;
    }
    CHECK_MSG(rc == 0, "crash image %s does not open: %s", path, larch_strerror(rc));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    uint64_t s = workload_seq(txn);
    uint64_t floor = sim.nometasync && acked ? acked - 1 : acked;
    CHECK_MSG(s >= floor && s <= acked + 1, "power loss after %llu acknowledged commits left commit %llu",
              (unsigned long long)acked, (unsigned long long)s);
    workload_verify(txn, s);
    larch_check_report rep;
    audit_txn(txn, &rep); /* a torn meta page is allowed: the other is in use */
    larch_abort(txn);
    larch_close(db);
    reopen_and_commit(path, s);
    unlink(path);
}

static void verify_queue(void)
{
    os_io_set(NULL); /* check images with plain I/O */
    for (int i = 0; i < sim.nqueue; i++)
        verify_image(sim.queue[i], sim.queue_acked[i]);
    sim.nqueue = 0;
    os_io_set(&sim_io);
}

static void run_powerloss(uint64_t seed, unsigned flags, int commits)
{
    memset(&sim, 0, sizeof sim);
    sim.r.s = seed;
    sim.fd = -1;
    sim.nometasync = flags & LARCH_NOMETASYNC;
    const char *path = test_path("power.db");
    sim.path = path;
    sim_io = *os_io_default();
    sim_io.open = sim_open;
    sim_io.close = sim_close;
    sim_io.pwritev = sim_pwritev;
    sim_io.fdatasync = sim_sync;
    sim_io.fsync = sim_sync;
    sim_io.ftruncate = sim_ftruncate;
    sim_io.fallocate = sim_fallocate;
    os_io_set(&sim_io);
    larch_db *db;
    larch_options o = { 0 };
    o.flags = flags;
    o.page_size = 1024; /* small pages: deeper trees, more pages per commit */
    CHECK_OK(larch_open(path, &o, &db));
    uint8_t *buf = malloc(WORKLOAD_MAX_VALUE);
    for (uint64_t i = 1; i <= (uint64_t)commits; i++) {
        CHECK_OK(workload_commit(db, i, buf));
        sim.acked = i;
        if (sim.nqueue > 32)
            verify_queue();
    }
    verify_queue();
    larch_close(db);
    os_io_set(NULL);
    printf("    %d commits, %d power-loss images checked\n", commits, sim.images);
    for (size_t i = 0; i < sim.npw; i++)
        free(sim.pw[i].data);
    free(sim.pw);
    free(sim.durable);
    free(buf);
    CHECK(sim.images > commits);
}

TEST(powerloss, full_sync)
{
    run_powerloss(test_seed("power loss", 11), 0, test_long() ? 3000 : 700);
}

TEST(powerloss, nometasync)
{
    run_powerloss(test_seed("power loss nometasync", 12), LARCH_NOMETASYNC, test_long() ? 2000 : 400);
}

TEST(powerloss, random_seed)
{
    run_powerloss(test_seed("power loss random", (uint64_t)time(NULL)), 0, 300);
}
