/*
 * internal.h - what every module of larch shares: the internal linkage
 * macro, error helpers and the handful of types that cross modules.
 *
 * Linkage: functions used across modules are declared with LARCH_INTERNAL.
 * In the library build that makes them hidden (never exported from the
 * shared library); in the amalgamation (build/larch.c) it makes them static.
 */
#ifndef LARCH_INTERNAL_H
#define LARCH_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "larch.h"

#ifdef LARCH_AMALGAMATION
#define LARCH_INTERNAL static __attribute__((unused))
#else
#define LARCH_INTERNAL __attribute__((visibility("hidden")))
#endif

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
/* For a helper whose flag arguments are constants at each call: inlined,
 * the branches on them fold away (the compiler's own choice may not). */
#define ALWAYS_INLINE inline __attribute__((always_inline))

/*
 * Every place that finds the file damaged returns through CORRUPT(), so a
 * debugger breakpoint on corrupt_found() (or LARCH_DEBUG_CORRUPT=1 in the
 * environment) shows where damage was detected.
 */
LARCH_INTERNAL int corrupt_found(const char *file, int line);
#define CORRUPT() corrupt_found(__FILE__, __LINE__)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Ask for every cache line of [p, p + len): a hint, never a fault. */
static inline void prefetch_range(const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)63, end = (uintptr_t)p + len;
    for (; a < end; a += 64)
        __builtin_prefetch((const void *)a);
}

typedef uint64_t pgno_t;
typedef uint64_t txnid_t;

#endif /* LARCH_INTERNAL_H */
