/*
 * bench.h - the benchmark's engine interface and shared declarations.
 *
 * Each engine (larch, LMDB, SQLite) is a table of functions over opaque
 * handles, so every workload runs the same loop against each of them and
 * only the engine's own calls differ. A "session" is one thread's view: its
 * own transactions (and, for SQLite, its own connection).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

/* How an engine should open its file for a workload. */
struct bench_open {
    int sync;     /* 1: every commit durable (fsync); 0: syncs off */
    int compress; /* 1: store values compressed where the engine can (larch: LZ4 bucket) */
};

struct bench_engine {
    const char *name;
    int (*open)(const char *path, const struct bench_open *o, void **db);
    void (*close)(void *db);
    /* Bytes the engine's files take on disk after close. */
    uint64_t (*file_bytes)(const char *path);
    void (*remove)(const char *path);

    int (*session_open)(void *db, void **s);
    void (*session_close)(void *s);
    int (*begin)(void *s, int write);
    int (*commit)(void *s); /* ends a write txn (durably if so opened) or a read txn */

    int (*put)(void *s, const void *k, size_t kl, const void *v, size_t vl, int append);
    /* 0 with *v, *vl set (valid until the next call or txn end); 1 if absent */
    int (*get)(void *s, const void *k, size_t kl, const void **v, size_t *vl);
    int (*del)(void *s, const void *k, size_t kl); /* 0, or 1 if absent */
    /* A full ordered scan; counts entries and sums a byte of each value. */
    int (*scan)(void *s, int reverse, uint64_t *count, uint64_t *sum);
    /* Position at the first key >= k and read n entries from there. */
    int (*seek)(void *s, const void *k, size_t kl, int n, uint64_t *sum);
    /* The B-tree's depth, in a read txn; 0 where the engine does not tell. */
    int (*depth)(void *s);
    int has_append; /* 0: put's append hint is ignored (fillseq-append is not run) */
};

extern const struct bench_engine bench_larch, bench_lmdb, bench_sqlite;

/* Report an engine failure and exit: the benchmark cannot go on. */
_Noreturn void bench_fail(const char *engine, const char *what, const char *msg);

/* ---- Results and their output (report.c) ---- */

#define BENCH_MAX_ENGINES 3
#define BENCH_MAX_ROUNDS 64

/* One workload's measurement for one engine over the rounds. */
struct bench_cell {
    int n;                            /* rounds measured; 0: not run */
    double ops[BENCH_MAX_ROUNDS];     /* operations per second, each round */
    uint64_t bytes[BENCH_MAX_ROUNDS]; /* file size after the workload, 0: none */
    double p50_us[BENCH_MAX_ROUNDS], p99_us[BENCH_MAX_ROUNDS]; /* latency, fillsync */
};

struct bench_row {
    const char *name;
    const char *what; /* a short description for the table's legend */
    struct bench_cell cell[BENCH_MAX_ENGINES];
    int has_latency;
};

struct bench_results {
    const char *engine_names[BENCH_MAX_ENGINES];
    int nengines;
    struct bench_row *rows;
    int nrows;
    uint64_t n;
    int rounds;
    uint64_t lz4_plain_bytes; /* compressible: larch's plain-bucket file, median */
    int depth[BENCH_MAX_ENGINES]; /* tree depth after fillrandom, 0: unknown */
};

double bench_median(const double *v, int n);
uint64_t bench_median_u64(const uint64_t *v, int n);
void bench_print_table(const struct bench_results *r, const char *machine);
void bench_print_csv(const struct bench_results *r);
int bench_write_svg(const struct bench_results *r, const char *path);

#endif /* BENCH_H */
