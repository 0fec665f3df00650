/*
 * error.c - messages for return codes, the detail of the last failure of
 * each thread, and the place damage is reported.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define LARCH_ERRORS(X)                                                                                     \
    X(LARCH_NOTFOUND, "not found: no such key or bucket, or no more entries in that direction")          \
    X(LARCH_EXISTS, "the key already exists and overwriting was not allowed")                           \
    X(LARCH_INVALID, "invalid argument, or a call not allowed here (larch_last_error_detail() tells which)") \
    X(LARCH_NOTDB, "the file is not a larch database")                                                   \
    X(LARCH_VERSION, "the file was written in a format version this library does not read")              \
    X(LARCH_CORRUPT, "the database file is damaged")                                                     \
    X(LARCH_BUSY, "the database file is already open in another handle or process")                      \
    X(LARCH_FULL, "the database would grow past its size limit (max_size)")                              \
    X(LARCH_PANIC, "an earlier write or sync failed; reopen the database before writing again")          \
    X(LARCH_NOTFILE, "the path names a directory, device, FIFO or socket, not a regular file")           \
    X(LARCH_BUCKETS_FULL, "65,535 buckets are in use in this handle: the most it can hold")

LARCH_API const char *larch_strerror(int err)
{
#define LARCH_ERROR_CASE(code, text) \
    case code:                       \
        return text;
    switch (err) {
    case 0:
        return "success";
        LARCH_ERRORS(LARCH_ERROR_CASE)
    default:
        break;
    }
#undef LARCH_ERROR_CASE
    if (err > 0)
        return strerror(err);
    return "unknown error code";
}

/*
 * The last failure of this thread: its detail, or the code's message
 * when nobody had more to say. 'fresh' tells api_failed that the detail
 * was written during the call now failing.
 */
static _Thread_local struct {
    const char *text;
    bool fresh;
    char buf[256];
} last;

LARCH_INTERNAL int error_detail(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last.buf, sizeof last.buf, fmt, ap);
    va_end(ap);
    last.text = last.buf;
    last.fresh = true;
    return rc;
}

LARCH_INTERNAL int api_failed(int rc)
{
    if (!last.fresh)
        last.text = larch_strerror(rc);
    last.fresh = false;
    return rc;
}

LARCH_API const char *larch_last_error_detail(void)
{
    return last.text ? last.text : "";
}

LARCH_INTERNAL int corrupt_found(const char *file, int line)
{
    const char *dbg = getenv("LARCH_DEBUG_CORRUPT");
    if (dbg && *dbg && *dbg != '0')
        fprintf(stderr, "larch: damage detected at %s:%d\n", file, line);
    return LARCH_CORRUPT;
}
