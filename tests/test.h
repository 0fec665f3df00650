/*
 * test.h - the test harness: registration, checks, seeds, temp files.
 *
 * A test is a function registered with TEST(suite, name). A failed CHECK
 * prints where and why, and ends the test (longjmp back to the runner).
 * Randomized tests take their seeds from test_seed(), which prints the seed;
 * LARCH_SEED=N in the environment replays one.
 */
#ifndef LARCH_TEST_H
#define LARCH_TEST_H

#define _GNU_SOURCE
#include <larch.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *suite, const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));

/* Run fn(arg) if the current test fails, before the runner moves on (say,
 * to stop threads that use the test's memory); NULL clears it. Cleared
 * between tests. */
void test_on_fail(void (*fn)(void *), void *arg);

#define TEST(suite, name)                                                          \
    static void test_##suite##_##name(void);                                       \
    __attribute__((constructor)) static void register_##suite##_##name(void)       \
    {                                                                              \
        test_register(#suite, #name, test_##suite##_##name);                       \
    }                                                                              \
    static void test_##suite##_##name(void)

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            test_fail(__FILE__, __LINE__, "check failed: %s", #cond);              \
    } while (0)

#define CHECK_MSG(cond, ...)                                                       \
    do {                                                                           \
        if (!(cond))                                                               \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);                            \
    } while (0)

/* expr must return want (a larch code); shows both by name when not. */
#define CHECK_RC(expr, want)                                                       \
    do {                                                                           \
        int rc_ = (expr), want_ = (want);                                          \
        if (rc_ != want_)                                                          \
            test_fail(__FILE__, __LINE__, "%s returned %d (%s), wanted %d (%s)",   \
                      #expr, rc_, larch_strerror(rc_), want_, larch_strerror(want_)); \
    } while (0)

#define CHECK_OK(expr) CHECK_RC(expr, 0)

/* A fresh path in this test's temporary directory (removed after a pass). */
const char *test_path(const char *name);
const char *test_dir(void);

/* Open (creating) test_path(name) with LARCH_NOSYNC; a failure fails the test. */
larch_db *test_open_nosync(const char *name);

/* A seed for a randomized test, printed so a failure can be replayed. */
uint64_t test_seed(const char *what, uint64_t fallback);

/* A small, fast, deterministic random generator (splitmix64 / xorshift). */
typedef struct { uint64_t s; } rng_t;
static inline uint64_t rng_next(rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline uint64_t rng_below(rng_t *r, uint64_t n) { return n ? rng_next(r) % n : 0; }

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

/* Whether a long (stress) run was asked for: LARCH_TEST_LONG=1. */
bool test_long(void);

/* File helpers for the tests. */
uint64_t file_size_of(const char *path);
void file_flip_byte(const char *path, uint64_t off);
/* Fill what is left of the file system holding path with a file of that name. */
void test_fill_disk(const char *path);

static inline larch_val val_of(const void *p, size_t n)
{
    larch_val v = { n, p };
    return v;
}

static inline larch_val str_val(const char *s) { return val_of(s, strlen(s)); }

#endif /* LARCH_TEST_H */
