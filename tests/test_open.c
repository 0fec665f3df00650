/*
 * test_open.c - what a path can name: an empty file (initialized in place,
 * keeping its owner and permissions), a symbolic link (followed), a FIFO,
 * a device or a directory (refused, untouched), and a file left by a crash
 * in the middle of an initialization (initialized again).
 */
#include "pagewalk.h"

#include "format.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_bytes(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, data, n) == (ssize_t)n);
    close(fd);
}

/* Open path writable, put a key, reopen, find it, and check the file. */
static void usable(const char *path)
{
    larch_db *db;
    larch_txn *txn;
    larch_val k = str_val("k"), v = str_val("v");
    CHECK_OK(larch_open(path, NULL, &db));
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    CHECK_OK(larch_commit(txn));
    larch_close(db);
    CHECK_OK(larch_open(path, NULL, &db));
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_get(txn, 0, &k, &v));
    larch_abort(txn);
    pagewalk_audit(db, NULL);
    larch_close(db);
}

/* Before: the file was replaced by a new one, 0644 and owned by the opener. */
TEST(open, an_empty_file_keeps_its_owner_and_permissions)
{
    const char *p = test_path("empty.db");
    write_bytes(p, "", 0);
    CHECK(chmod(p, 0600) == 0);
    bool root = geteuid() == 0;
    if (root)
        CHECK(chown(p, 12345, 54321) == 0);
    struct stat before, after;
    CHECK(stat(p, &before) == 0);
    larch_db *db;
    larch_options o = { .mode = 0644 }; /* for a new file only */
    CHECK_OK(larch_open(p, &o, &db));
    larch_close(db);
    CHECK(stat(p, &after) == 0);
    CHECK(after.st_ino == before.st_ino);
    CHECK((after.st_mode & 07777) == 0600);
    CHECK(after.st_uid == before.st_uid && after.st_gid == before.st_gid);
    if (root)
        CHECK(after.st_uid == 12345);
    usable(p);
}

/* A new file gets the mode asked for (less the umask). */
TEST(open, a_new_file_gets_the_mode_asked_for)
{
    const char *p = test_path("new.db");
    mode_t old = umask(022);
    larch_db *db;
    larch_options o = { .mode = 0640 };
    CHECK_OK(larch_open(p, &o, &db));
    larch_close(db);
    umask(old);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0640);
    usable(p);
}

/* Before: the link was replaced by a regular file, its target left empty;
 * a dangling link gave LARCH_BUSY. */
TEST(open, symbolic_links_are_followed)
{
    char target[1100], target2[1100], link1[1100], link2[1100], link3[1100];
    snprintf(target, sizeof target, "%s", test_path("target.db"));
    snprintf(target2, sizeof target2, "%s", test_path("target2.db"));
    snprintf(link1, sizeof link1, "%s", test_path("link.db"));
    snprintf(link2, sizeof link2, "%s", test_path("dangling.db"));
    snprintf(link3, sizeof link3, "%s", test_path("nowhere.db"));
    write_bytes(target, "", 0);
    CHECK(symlink("target.db", link1) == 0);
    CHECK(symlink("target2.db", link2) == 0);
    CHECK(symlink("no/such/dir/x.db", link3) == 0);
    struct stat st;
    usable(link1);
    CHECK(lstat(link1, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(file_size_of(target) >= 3 * 4096);
    usable(link2); /* a dangling link: its target is created */
    CHECK(lstat(link2, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(stat(target2, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0);
    larch_db *db;
    CHECK_RC(larch_open(link3, NULL, &db), ENOENT);
    CHECK(lstat(link3, &st) == 0 && S_ISLNK(st.st_mode));
}

/* Before: a FIFO or a device was silently replaced by a new file (as
 * root, /dev/null would have been). Now refused, untouched, at once. */
TEST(open, what_is_not_a_regular_file_is_refused)
{
    const char *fifo = test_path("fifo.db"), *dir = test_path("dir.db");
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK(mkdir(dir, 0700) == 0);
    const char *paths[] = { fifo, dir, "/dev/null" };
    larch_options ro = { .flags = LARCH_RDONLY };
    for (int i = 0; i < 3; i++) {
        larch_db *db;
        CHECK_RC(larch_open(paths[i], NULL, &db), LARCH_NOTFILE);
        CHECK(strstr(larch_last_error_detail(), "not a regular file") != NULL);
        CHECK_RC(larch_open(paths[i], &ro, &db), LARCH_NOTFILE);
    }
    struct stat st;
    CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
    CHECK(lstat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    CHECK(strstr(larch_strerror(LARCH_NOTFILE), "regular file") != NULL);
}

/*
 * The files an initialization cut short can leave (meta page 1 is written
 * and synced before page 0): zeros; page 0 zeros and page 1 torn; page 0
 * zeros and page 1 whole. The first two open as a new database, the last
 * one as the empty one it is, with page 0 written again. Read-only opens
 * change nothing.
 */
TEST(open, an_initialization_cut_short_is_done_again)
{
    const char *p = test_path("cut.db");
    uint8_t *img = calloc(1, 2 * 4096);
    larch_db *db;
    larch_options ro = { .flags = LARCH_RDONLY };

    write_bytes(p, img, 2 * 4096); /* zeros: nothing reached the disk but the size */
    CHECK_RC(larch_open(p, &ro, &db), LARCH_NOTDB);
    usable(p);

    /* a whole database's meta page 1, alone */
    CHECK_OK(larch_open(test_path("model.db"), NULL, &db));
    larch_close(db);
    FILE *f = fopen(test_path("model.db"), "rb");
    CHECK(f && fread(img, 1, 2 * 4096, f) == 2 * 4096);
    fclose(f);
    memset(img, 0, 4096);
    uint8_t *torn = calloc(1, 2 * 4096);
    memcpy(torn + 4096, img + 4096, 512); /* only its first sector */
    write_bytes(p, torn, 4096 + 1024);
    CHECK(larch_open(p, &ro, &db) != 0);
    usable(p);

    write_bytes(p, img, 2 * 4096); /* page 1 whole, page 0 zeros */
    CHECK_OK(larch_open(p, &ro, &db));
    larch_close(db);
    CHECK_OK(larch_open(p, NULL, &db));
    pagewalk_audit(db, NULL); /* both meta pages sound again */
    larch_close(db);
    usable(p);
    free(img);
    free(torn);

    /* Not zeros: a foreign file is never taken over. */
    write_bytes(p, "\0\0\0\0\0\0\0\0x", 9);
    CHECK_RC(larch_open(p, NULL, &db), LARCH_NOTDB);
}
