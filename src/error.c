/*
 * error.c - messages for return codes, and the place damage is reported.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

#define LARCH_ERRORS(X)                                                                                     \
    X(LARCH_NOTFOUND, "no such key, or no more entries in that direction")                              \
    X(LARCH_EXISTS, "the key already exists and overwriting was not allowed")                           \
    X(LARCH_INVALID, "invalid argument, or a call not allowed here (read-only transaction, bad key size, " \
                     "key out of order for append)")                                                         \
    X(LARCH_NOTDB, "the file is not a larch database")                                                   \
    X(LARCH_VERSION, "the file was written in a format version this library does not read")              \
    X(LARCH_CORRUPT, "the database file is damaged")                                                     \
    X(LARCH_BUSY, "the database file is already open in another handle or process")                      \
    X(LARCH_FULL, "the database would grow past its size limit (max_size)")                              \
    X(LARCH_PANIC, "an earlier write or sync failed; reopen the database before writing again")

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

LARCH_INTERNAL int corrupt_found(const char *file, int line)
{
    const char *dbg = getenv("LARCH_DEBUG_CORRUPT");
    if (dbg && *dbg && *dbg != '0')
        fprintf(stderr, "larch: damage detected at %s:%d\n", file, line);
    return LARCH_CORRUPT;
}
