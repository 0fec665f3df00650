/*
 * internal.h - what every module of larch shares: the internal linkage
 * macro, error helpers and the handful of types that cross modules.
 *
 * Linkage: functions used across modules are declared with LARCH_INTERNAL,
 * variables with LARCH_INTERNAL_VAR. In the library build that makes them
 * hidden (never exported from the shared library); in the amalgamation
 * (build/larch.c) it makes them static.
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
#define LARCH_INTERNAL_VAR static
#else
#define LARCH_INTERNAL __attribute__((visibility("hidden")))
#define LARCH_INTERNAL_VAR extern __attribute__((visibility("hidden")))
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

/*
 * What larch_last_error_detail() tells (error.c): error_detail writes the
 * detail of a failure (printf-style) and returns rc. Every public function
 * returns through api_result, which gives a failure that wrote no detail
 * of its own the code's message.
 */
LARCH_INTERNAL int error_detail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
LARCH_INTERNAL int api_failed(int rc);
static inline int api_result(int rc) { return UNLIKELY(rc != 0) ? api_failed(rc) : 0; }

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
