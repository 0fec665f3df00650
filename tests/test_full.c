/*
 * test_full.c - a database that filled its disk or its max_size can be
 * emptied: deleting is the only way to make room, so a delete must never
 * need room of its own. Each test fills a database with random puts and
 * deletes until commits fail, then deletes every key in a transaction of
 * its own: every one of those commits must succeed, reusing free pages.
 * The disk is a tmpfs and an ext4 image mounted by the test where that is
 * allowed (root), and always a simulated one (a sparse file of a fixed
 * number of blocks, in the I/O layer).
 */
#include "pagewalk.h"

#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* The keys a database holds, as numbers ("f%09u"). */
#ifdef LARCH_TEST_SMALL /* under the sanitizers: fewer seeds and cycles */
#define FULL_SEEDS 1
#define FULL_CYCLES 2
#else
#define FULL_SEEDS 4
#define FULL_CYCLES 3
#endif

struct live {
    uint32_t *id;
    size_t n, cap;
};

static void live_add(struct live *l, uint32_t id)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->id = realloc(l->id, l->cap * sizeof *l->id);
        CHECK(l->id != NULL);
    }
    l->id[l->n++] = id;
}

static larch_val key_of(char *kb, uint32_t id)
{
    snprintf(kb, 16, "f%09u", id);
    return str_val(kb);
}

/*
 * One transaction of up to 'ops' changes: puts of new keys (values of 100
 * to 900 bytes) and, with 'deletes', one in four deletes of live ones. The
 * live set follows only if the commit succeeds; returns the commit's
 * result.
 */
static int fill_txn(larch_db *db, rng_t *r, struct live *l, uint32_t *next_id, int ops, bool deletes)
{
    static char vb[900];
    uint32_t added[64], dropped[64];
    int na = 0, nd = 0, rc = 0;
    larch_txn *txn;
    char kb[16];
    CHECK(ops <= 64);
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int i = 0; i < ops; i++) {
        if (deletes && l->n > 0 && rng_below(r, 4) == 0) {
            size_t j = rng_below(r, l->n);
            larch_val k = key_of(kb, l->id[j]);
            rc = larch_del(txn, 0, &k);
            if (rc == LARCH_NOTFOUND) { /* deleted earlier in this txn */
                rc = 0;
                continue;
            }
            if (rc)
                break;
            dropped[nd++] = l->id[j];
        } else {
            uint32_t id = (*next_id)++ * 2654435761u;
            memset(vb, 'a' + (int)(id % 26), sizeof vb);
            larch_val k = key_of(kb, id), v = val_of(vb, 100 + rng_below(r, 800));
            rc = larch_put(txn, 0, &k, &v, 0);
            if (rc)
                break;
            added[na++] = id;
        }
    }
    if (rc) {
        larch_abort(txn);
        return rc;
    }
    rc = larch_commit(txn);
    if (rc)
        return rc;
    for (int i = 0; i < nd; i++)
        for (size_t j = 0; j < l->n; j++)
            if (l->id[j] == dropped[i]) {
                l->id[j] = l->id[--l->n];
                break;
            }
    for (int i = 0; i < na; i++)
        live_add(l, added[i]);
    return 0;
}

/*
 * Fill until commits fail with 'want' (LARCH_FULL or ENOSPC): transactions
 * of 50 changes until the first failure, then of one put until twenty fail
 * in a row, so that not even a small commit fits any more.
 */
static void fill_until_full(larch_db *db, rng_t *r, struct live *l, int want)
{
    uint32_t next_id = 1;
    int fails = 0, rc;
    while ((rc = fill_txn(db, r, l, &next_id, 50, true)) == 0)
        ;
    CHECK_MSG(rc == want, "filling failed with %d (%s), not %d", rc, larch_strerror(rc), want);
    while (fails < 20) {
        rc = fill_txn(db, r, l, &next_id, 1, false);
        CHECK_MSG(rc == 0 || rc == want, "filling failed with %d (%s)", rc, larch_strerror(rc));
        fails = rc ? fails + 1 : 0;
    }
}

/* How much of the file is free: a percentage of its pages. */
static unsigned free_percent(larch_db *db)
{
    struct larch_info in;
    CHECK_OK(larch_info(db, &in));
    return (unsigned)(in.free_pages * 100 / (in.last_pgno + 1));
}

/* Delete every live key, one per transaction: every commit must succeed.
 * The database is then empty and sound. */
static void empty_one_by_one(larch_db *db, struct live *l)
{
    char kb[16];
    for (size_t i = 0; i < l->n; i++) {
        larch_txn *txn;
        larch_val k = key_of(kb, l->id[i]);
        CHECK_OK(larch_begin(db, 0, &txn));
        CHECK_OK(larch_del(txn, 0, &k));
        int rc = larch_commit(txn);
        CHECK_MSG(rc == 0, "deleting key %zu of %zu, one per commit, failed: %s", i, l->n, larch_strerror(rc));
    }
    struct walk_counts wc;
    pagewalk_audit(db, &wc);
    CHECK(wc.entries == 0);
    l->n = 0;
}

static larch_db *open_db(const char *path, uint64_t max_size)
{
    larch_db *db;
    larch_options o = { 0 };
    o.flags = LARCH_NOSYNC;
    o.max_size = max_size;
    CHECK_OK(larch_open(path, &o, &db));
    return db;
}

/*
 * A full max_size: 8 MiB of random puts and deletes until LARCH_FULL, then
 * every key deleted, one per commit, after a reopen; three times over, for
 * the room kept for deletes must come back each time. Before: every one of
 * those deletes failed with LARCH_FULL, with 37-48% of the file free.
 */
TEST(full, max_size_database_can_be_emptied)
{
    for (int round = 0; round < FULL_SEEDS; round++) {
        rng_t r = { test_seed("full max_size", 100 + (uint64_t)round) };
        char name[32];
        snprintf(name, sizeof name, "m%d.db", round);
        for (int episode = 0; episode < FULL_CYCLES; episode++) {
            struct live l = { 0 };
            larch_db *db = open_db(test_path(name), 8 << 20);
            fill_until_full(db, &r, &l, LARCH_FULL);
            larch_close(db);
            db = open_db(test_path(name), 8 << 20);
            unsigned pct = free_percent(db);
            size_t keys = l.n;
            empty_one_by_one(db, &l);
            printf("    8 MiB full with %zu keys (%u%% of its pages free): emptied one key per commit\n", keys, pct);
            larch_close(db);
            free(l.id);
        }
    }
}

/* ---- A real file system, mounted by the test --------------------------- */

static char mounted[1024];

static void unmount_it(void *arg)
{
    (void)arg;
    if (mounted[0]) {
        umount2(mounted, MNT_DETACH);
        mounted[0] = 0;
    }
}

/*
 * The filling, the emptying and a reopen between them on the file system
 * mounted at dir. The handle is closed before the disk is topped up with
 * a filler file: closing gives back the file's growth slack.
 */
static void full_disk_round(const char *dir, uint64_t seed)
{
    char path[1100], filler[1100];
    snprintf(path, sizeof path, "%s/a.db", dir);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    rng_t r = { seed };
    struct live l = { 0 };
    larch_db *db = open_db(path, 0);
    fill_until_full(db, &r, &l, ENOSPC);
    larch_close(db);
    test_fill_disk(filler);
    db = open_db(path, 0);
    unsigned pct = free_percent(db);
    size_t keys = l.n;
    empty_one_by_one(db, &l);
    printf("    %s: the disk full with %zu keys (%u%% of the file's pages free): emptied one key per commit\n", dir,
           keys, pct);
    larch_close(db);
    free(l.id);
    unlink(filler);
}

TEST(full, tmpfs_database_can_be_emptied)
{
    snprintf(mounted, sizeof mounted, "%s", test_path("mnt"));
    CHECK(mkdir(mounted, 0700) == 0);
    if (mount("larch-test", mounted, "tmpfs", 0, "size=8m") != 0) {
        printf("    skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
        mounted[0] = 0;
        return;
    }
    test_on_fail(unmount_it, NULL);
    full_disk_round(mounted, test_seed("full tmpfs", 110));
    unmount_it(NULL);
}

TEST(full, ext4_database_can_be_emptied)
{
    char cmd[4096];
    const char *img = test_path("ext4.img");
    snprintf(mounted, sizeof mounted, "%s", test_path("mnt"));
    CHECK(mkdir(mounted, 0700) == 0);
    snprintf(cmd, sizeof cmd, "truncate -s 26M %s && mkfs.ext4 -q -F %s >/dev/null 2>&1 && mount -o loop %s %s 2>/dev/null",
             img, img, img, mounted);
    if (getuid() != 0 || system(cmd) != 0) {
        printf("    skipped: cannot make and mount an ext4 image here\n");
        mounted[0] = 0;
        return;
    }
    test_on_fail(unmount_it, NULL);
    full_disk_round(mounted, test_seed("full ext4", 120));
    unmount_it(NULL);
}

/* ---- A simulated disk --------------------------------------------------- */

/*
 * A sparse file on a disk of SIM_BLOCKS blocks of 4 KiB, as most file
 * systems keep one: extending the file takes no space, writing a block for
 * the first time or allocating it takes one (ENOSPC when none is left),
 * rewriting it takes none, and truncating gives space back. Only the data file is written
 * in this test, so one map of blocks serves.
 */
#define SIM_BLOCKS 2048u
static struct os_io sim_io;
static uint8_t sim_used[SIM_BLOCKS * 4];
static unsigned sim_nused;

/* Give blocks to bytes [off, off + len): false (ENOSPC) if too few are left. */
static bool sim_take(uint64_t off, uint64_t len)
{
    uint64_t first = off / 4096, last = (off + len - 1) / 4096, need = 0;
    if (len == 0)
        return true;
    if (last >= sizeof sim_used) {
        errno = EFBIG;
        return false;
    }
    for (uint64_t b = first; b <= last; b++)
        need += !sim_used[b];
    if (sim_nused + need > SIM_BLOCKS) {
        errno = ENOSPC;
        return false;
    }
    for (uint64_t b = first; b <= last; b++)
        if (!sim_used[b]) {
            sim_used[b] = 1;
            sim_nused++;
        }
    return true;
}

static ssize_t sim_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    return sim_take((uint64_t)off, len) ? os_io_default()->pwritev(fd, iov, n, off) : -1;
}

static int sim_fallocate(int fd, off_t off, off_t len)
{
    return sim_take((uint64_t)off, (uint64_t)len) ? os_io_default()->fallocate(fd, off, len) : -1;
}

static int sim_ftruncate(int fd, off_t len)
{
    for (uint64_t b = ((uint64_t)len + 4095) / 4096; b < sizeof sim_used; b++)
        if (sim_used[b]) {
            sim_used[b] = 0;
            sim_nused--;
        }
    return os_io_default()->ftruncate(fd, len);
}

static void sim_off(void *arg)
{
    (void)arg;
    os_io_set(NULL);
}

TEST(full, simulated_disk_database_can_be_emptied)
{
    for (int round = 0; round < FULL_SEEDS && round < 3; round++) {
        rng_t r = { test_seed("full simulated disk", 130 + (uint64_t)round) };
        char name[32];
        snprintf(name, sizeof name, "s%d.db", round);
        memset(sim_used, 0, sizeof sim_used);
        sim_nused = 0;
        sim_io = *os_io_default();
        sim_io.pwritev = sim_pwritev;
        sim_io.ftruncate = sim_ftruncate;
        sim_io.fallocate = sim_fallocate;
        os_io_set(&sim_io);
        test_on_fail(sim_off, NULL);
        for (int episode = 0; episode < FULL_CYCLES; episode++) {
            struct live l = { 0 };
            larch_db *db = open_db(test_path(name), 0);
            fill_until_full(db, &r, &l, ENOSPC);
            larch_close(db); /* gives back the slack: a filler takes it */
            unsigned filler = SIM_BLOCKS - sim_nused;
            sim_nused = SIM_BLOCKS;
            db = open_db(test_path(name), 0);
            unsigned pct = free_percent(db);
            size_t keys = l.n;
            empty_one_by_one(db, &l);
            larch_close(db);
            sim_nused -= filler; /* the filler is deleted */
            printf("    a disk of %u blocks full with %zu keys (%u%% of the file's pages free): emptied one key per "
                   "commit\n", SIM_BLOCKS, keys, pct);
            free(l.id);
        }
        os_io_set(NULL);
    }
}
