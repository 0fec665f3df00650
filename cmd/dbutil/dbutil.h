/*
 * dbutil.h - what the dbutil command's files share.
 *
 * dbutil is one program with subcommands (stat, buckets, dump, load, check,
 * copy, get, put, del, scan, bucket, pages, page). Exit status: 0 success, 1 the
 * data said no (not found, check failed, damaged file, any failure of the
 * operation), 2 a usage error. Every error names the file and the reason.
 */
#ifndef DBUTIL_H
#define DBUTIL_H

#define _GNU_SOURCE
#include <larch.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_NO 1
#define EXIT_USAGE 2

/* Options of all commands; each command accepts its own subset. */
struct opts {
    const char *bucket;   /* -b */
    bool all;             /* -a */
    bool print;           /* -p: dump format=print */
    const char *out;      /* -o */
    const char *in;       /* -f */
    bool no_overwrite;    /* -n */
    bool text;            /* -T: plain text load */
    bool hex_in;          /* -x */
    bool hex_out;         /* --hex */
    bool json;            /* --json */
    bool free_space;      /* --free */
    bool compact;         /* --compact */
    bool reverse;         /* --reverse */
    bool lz4;             /* --lz4 */
    const char *prefix;   /* --prefix */
    const char *from;     /* --from */
    long long limit;      /* --limit, -1 none */
    const char *pos[4];   /* positional arguments */
    int npos;
};

/* Print "dbutil: WHAT: reason" and return EXIT_NO. */
int fail(const char *what, int rc);
int failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error for cmd: message, then "see dbutil CMD --help". */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Open FILE read-only (rdonly) or for writing; prints the error. */
int open_db(const char *path, bool rdonly, larch_db **db);
/* The bucket named by -b (0 without -b); create it when asked. */
int find_bucket(larch_txn *txn, const char *file, const char *name, bool create, larch_bucket *b);

/*
 * Call fn for every named bucket of txn in name order (name NUL-terminated,
 * len its length). Stops at the first nonzero return of fn and gives it
 * back; prints and returns EXIT_NO when the listing itself fails.
 */
int for_each_bucket(larch_txn *txn, const char *file,
                    int (*fn)(void *ctx, larch_bucket b, const char *name, size_t len), void *ctx);

/* ---- text.c: escaping ---------------------------------------------------- */

enum esc { ESC_PRINT, ESC_HEX };

/* Write data escaped: ESC_PRINT as mdb_dump -p does (printable ASCII as is,
 * a backslash doubled, other bytes as \xx), ESC_HEX as two hex digits a byte. */
void write_escaped(FILE *f, const void *data, size_t len, enum esc how);

/*
 * Decode one escaped line (without its newline) into a buffer the caller
 * frees. NULL on a malformed line, with *why set to the reason.
 */
uint8_t *parse_escaped(const char *line, size_t len, enum esc how, size_t *outlen, const char **why);

/* An argument as bytes: as given, or hex-decoded with -x. NULL + message on bad hex. */
uint8_t *arg_bytes(const char *arg, bool hex, size_t *len);

/* ---- load.c: the dump format reader ------------------------------------- */

/* What a section's header says of its bucket. */
struct section {
    const char *database; /* database=NAME: a named bucket; NULL: the default key space */
    bool lz4;             /* compression=lz4 (larch's own keyword) */
    bool has_sequence;    /* sequence=N (larch's own keyword) */
    uint64_t sequence;
};

struct load_sink {
    /* A new section. */
    int (*section)(void *ctx, const struct section *s);
    /* One record of the current section. */
    int (*record)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
    void *ctx;
};

/*
 * Read mdb_dump text (or, with plain, pairs of escaped lines) from in and
 * hand sections and records to the sink (whose callbacks return 0 or a
 * larch code). On a malformed line, or a record the sink refuses, prints
 * "NAME:LINE: what was wrong" and returns EXIT_NO. *bytes counts the input
 * read, for progress.
 */
int load_stream(FILE *in, const char *name, bool plain, const struct load_sink *sink, uint64_t *bytes);

/* ---- progress.c ---------------------------------------------------------- */

struct progress {
    bool on;
    const char *what;
    const char *unit;   /* "bytes", "entries", "pages" */
    uint64_t total;     /* 0: unknown */
    double start, last;
};

/* A progress line on stderr, only when stderr is a terminal. */
void progress_start(struct progress *p, const char *what, const char *unit, uint64_t total);
void progress_update(struct progress *p, uint64_t done);
void progress_end(struct progress *p);

/* ---- the commands ---------------------------------------------------------- */

int cmd_stat(struct opts *o);
int cmd_buckets(struct opts *o);
int cmd_dump(struct opts *o);
int cmd_load(struct opts *o);
int cmd_check(struct opts *o);
int cmd_copy(struct opts *o);
int cmd_get(struct opts *o);
int cmd_put(struct opts *o);
int cmd_del(struct opts *o);
int cmd_scan(struct opts *o);
int cmd_pages(struct opts *o);
int cmd_page(struct opts *o);
int cmd_bucket(struct opts *o);

#endif /* DBUTIL_H */
