/*
 * fuzz_load.c - the input is text for dbutil load: the mdb_dump format, or
 * with the first byte odd the plain -T format. The parser must never crash;
 * what it accepts goes into a real database, buckets and all.
 */
#define _GNU_SOURCE
#include "../cmd/dbutil/dbutil.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What load.c and text.c need of dbutil's main.c. */
int failf(const char *fmt, ...)
{
    (void)fmt;
    return EXIT_NO;
}

int fail(const char *what, int rc)
{
    (void)what;
    (void)rc;
    return EXIT_NO;
}

struct sink_ctx {
    larch_db *db;
    larch_txn *txn;
    larch_bucket b;
};

static int section(void *ctx, const struct section *sec)
{
    struct sink_ctx *s = ctx;
    s->b = 0;
    int rc = sec->database ? larch_bucket_open(s->txn, sec->database, LARCH_CREATE | (sec->lz4 ? LARCH_LZ4 : 0), &s->b)
                           : 0;
    if (rc == 0 && sec->has_sequence)
        rc = larch_bucket_set_sequence(s->txn, s->b, sec->sequence);
    return rc;
}

static int record(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct sink_ctx *s = ctx;
    larch_val key = { kl, k }, val = { vl, v };
    return larch_put(s->txn, s->b, &key, &val, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "%s/larch-fuzz-load-%d.db", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm",
                 (int)getpid());
    unlink(path);
    FILE *in = fmemopen((void *)data, size, "r");
    if (!in)
        return 0;
    struct sink_ctx s = { 0 };
    larch_options o = { 0 };
    o.flags = LARCH_NOSYNC;
    if (larch_open(path, &o, &s.db) == 0) {
        if (larch_begin(s.db, 0, &s.txn) == 0) {
            struct load_sink sink = { section, record, &s };
            uint64_t bytes = 0;
            FILE *err = stderr;
            stderr = fopen("/dev/null", "w"); /* the parser's messages */
            int rc = load_stream(in, "fuzz", size && (data[0] & 1), &sink, &bytes);
            fclose(stderr);
            stderr = err;
            if (rc == 0)
                larch_commit(s.txn);
            else
                larch_abort(s.txn);
        }
        larch_close(s.db);
    }
    fclose(in);
    unlink(path);
    return 0;
}
