/*
 * main.c - the test runner. Usage: larch_test [SUITE [NAME]]
 * Runs every registered test (or those of SUITE, or SUITE.NAME), each in a
 * fresh temporary directory, and ends with "N passed, M failed".
 */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct test_entry {
    const char *suite, *name;
    test_fn fn;
};

static struct test_entry tests[512];
static int ntests;
static jmp_buf fail_jump;
static char dir[1024], pathbuf[8][2048];
static int pathnext;

void test_register(const char *suite, const char *name, test_fn fn)
{
    if (ntests < (int)(sizeof tests / sizeof tests[0]))
        tests[ntests++] = (struct test_entry){ suite, name, fn };
}

static void (*fail_hook)(void *);
static void *fail_hook_arg;

void test_on_fail(void (*fn)(void *), void *arg)
{
    fail_hook = fn;
    fail_hook_arg = arg;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stdout, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fprintf(stdout, "\n");
    fflush(stdout);
    void (*hook)(void *) = fail_hook;
    fail_hook = NULL; /* a check failing inside the hook must not loop */
    if (hook)
        hook(fail_hook_arg);
    longjmp(fail_jump, 1);
}

const char *test_dir(void) { return dir; }

const char *test_path(const char *name)
{
    char *p = pathbuf[pathnext++ % 8];
    snprintf(p, sizeof pathbuf[0], "%s/%s", dir, name);
    return p;
}

larch_db *test_open_nosync(const char *name)
{
    larch_db *db;
    larch_options o = { 0 };
    o.flags = LARCH_NOSYNC;
    CHECK_OK(larch_open(test_path(name), &o, &db));
    return db;
}

uint64_t test_seed(const char *what, uint64_t fallback)
{
    const char *env = getenv("LARCH_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : fallback;
    printf("    seed %s: %llu (replay: LARCH_SEED=%llu)\n", what, (unsigned long long)seed,
           (unsigned long long)seed);
    fflush(stdout);
    return seed;
}

bool test_long(void)
{
    const char *env = getenv("LARCH_TEST_LONG");
    return env && *env && *env != '0';
}

uint64_t file_size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

void file_flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    unsigned char b;
    if (fd < 0 || pread(fd, &b, 1, (off_t)off) != 1)
        test_fail(__FILE__, __LINE__, "cannot read %s at %llu", path, (unsigned long long)off);
    b ^= 0x5a;
    if (pwrite(fd, &b, 1, (off_t)off) != 1)
        test_fail(__FILE__, __LINE__, "cannot write %s", path);
    close(fd);
}

void test_fill_disk(const char *path)
{
    static char buf[65536];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        test_fail(__FILE__, __LINE__, "cannot create %s", path);
    for (size_t n = sizeof buf; n >= 512; n /= 2)
        while (write(fd, buf, n) == (ssize_t)n)
            ;
    fsync(fd);
    close(fd);
}

static void remove_dir(const char *d)
{
    DIR *dp = opendir(d);
    struct dirent *e;
    char p[2048];
    if (!dp)
        return;
    while ((e = readdir(dp))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        unlink(p);
    }
    closedir(dp);
    rmdir(d);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *want_suite = argc > 1 ? argv[1] : NULL;
    static int passed, failed, i;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (i = 0; i < ntests; i++) {
        struct test_entry *t = &tests[i];
        if (want_suite && strcmp(want_suite, t->suite))
            continue;
        bool name_match = argc <= 2;
        for (int a = 2; a < argc; a++)
            if (!strcmp(argv[a], t->name))
                name_match = true;
        if (!name_match)
            continue;
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/larch-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 2;
        }
        printf("  %s.%s\n", t->suite, t->name);
        double start = now();
        test_on_fail(NULL, NULL);
        if (setjmp(fail_jump) == 0) {
            t->fn();
            printf("ok   %s.%s (%.2fs)\n", t->suite, t->name, now() - start);
            passed++;
            remove_dir(dir);
        } else {
            printf("FAIL %s.%s (files kept in %s)\n", t->suite, t->name, dir);
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
