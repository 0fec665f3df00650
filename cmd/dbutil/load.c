/*
 * load.c - the reader of mdb_dump's text format (and of mdb_load -T's
 * plain text), shared by 'dbutil load' and the fuzzer.
 *
 *   VERSION=3                      a header per section ...
 *   format=bytevalue | print
 *   database=NAME                  (a named database: a bucket)
 *   type=btree
 *   compression=lz4                (larch: an LZ4 bucket)
 *   sequence=N                     (larch: the bucket's sequence counter)
 *   ...                            other keywords: noted and ignored
 *
 * LMDB's mdb_load ignores larch's two keywords, with a warning each.
 *   HEADER=END
 *    <key>                         ... then key and value lines, each with
 *    <value>                       one leading space ...
 *   DATA=END                       ... and the next section, or the end
 */
#include "dbutil.h"

#include <stdlib.h>
#include <string.h>

struct reader {
    FILE *in;
    const char *name;
    char *line;
    size_t cap;
    size_t len;
    unsigned long lineno;
    uint64_t *bytes;
};

/* The next line without its newline; false at the end of the input. */
static bool next_line(struct reader *r)
{
    ssize_t n = getline(&r->line, &r->cap, r->in);
    if (n < 0)
        return false;
    r->lineno++;
    *r->bytes += (uint64_t)n;
    if (n > 0 && r->line[n - 1] == '\n')
        n--;
    r->len = (size_t)n;
    return true;
}

static int bad(struct reader *r, const char *fmt, const char *arg)
{
    fprintf(stderr, "dbutil: %s:%lu: ", r->name, r->lineno);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_NO;
}

/* Read one header up to HEADER=END into s (s->database allocated). *eof
 * when the input ended before any line. */
static int read_header(struct reader *r, enum esc *how, struct section *s, bool *eof)
{
    bool any = false;
    char **database = (char **)&s->database;
    *how = ESC_HEX;
    memset(s, 0, sizeof *s);
    while (next_line(r)) {
        any = true;
        if (r->len == 0)
            continue;
        if (r->len == 10 && !memcmp(r->line, "HEADER=END", 10))
            return 0;
        char *eq = memchr(r->line, '=', r->len);
        if (!eq)
            return bad(r, "expected a header line KEY=VALUE, found \"%.40s\"", r->line);
        *eq = 0;
        const char *key = r->line, *val = eq + 1;
        r->line[r->len] = 0;
        if (!strcmp(key, "VERSION")) {
            if (strcmp(val, "1") && strcmp(val, "2") && strcmp(val, "3"))
                return bad(r, "VERSION=%s is not a dump version this reads (1 to 3)", val);
        } else if (!strcmp(key, "format")) {
            if (!strcmp(val, "bytevalue"))
                *how = ESC_HEX;
            else if (!strcmp(val, "print"))
                *how = ESC_PRINT;
            else
                return bad(r, "format=%s: only bytevalue and print are known", val);
        } else if (!strcmp(key, "type")) {
            if (strcmp(val, "btree"))
                return bad(r, "type=%s: only btree is known", val);
        } else if (!strcmp(key, "database")) {
            free(*database);
            *database = strdup(val);
        } else if (!strcmp(key, "compression")) {
            if (strcmp(val, "lz4") && strcmp(val, "none"))
                return bad(r, "compression=%s: only lz4 and none are known", val);
            s->lz4 = !strcmp(val, "lz4");
        } else if (!strcmp(key, "sequence")) {
            char *end;
            s->sequence = strtoull(val, &end, 10);
            if (!*val || *end || *val == '-')
                return bad(r, "sequence=%s is not a number", val);
            s->has_sequence = true;
        } else if (!strcmp(key, "duplicates") || !strcmp(key, "dupsort")) {
            if (strcmp(val, "0"))
                return bad(r, "%s: databases with duplicate keys (dupsort) are not supported", key);
        } else if (strcmp(key, "mapsize") && strcmp(key, "maxreaders") && strcmp(key, "db_pagesize") &&
                   strcmp(key, "mapaddr")) {
            fprintf(stderr, "dbutil: %s:%lu: note: header keyword \"%s\" ignored\n", r->name, r->lineno, key);
        }
    }
    if (!any) {
        *eof = true;
        return 0;
    }
    return bad(r, "the input ends inside a header (no HEADER=END)%s", "");
}

/* One data line (a key or a value): a leading space, then escaped bytes. */
static uint8_t *data_line(struct reader *r, enum esc how, bool plain, size_t *len, int *rc)
{
    const char *why = NULL;
    size_t skip = plain ? 0 : 1;
    if (!plain && (r->len == 0 || r->line[0] != ' ')) {
        *rc = bad(r, "expected a data line starting with a space, found \"%.40s\"", r->line);
        return NULL;
    }
    uint8_t *b = parse_escaped(r->line + skip, r->len - skip, how, len, &why);
    if (!b)
        *rc = bad(r, "%s", why);
    return b;
}

int load_stream(FILE *in, const char *name, bool plain, const struct load_sink *sink, uint64_t *bytes)
{
    struct reader r = { .in = in, .name = name, .bytes = bytes };
    int rc = 0;
    for (bool first = true; rc == 0; first = false) {
        enum esc how = ESC_PRINT;
        struct section sec = { 0 };
        bool eof = false;
        if (!plain) {
            rc = read_header(&r, &how, &sec, &eof);
            if (rc || eof) {
                free((char *)sec.database);
                if (eof && first)
                    rc = bad(&r, "the input is empty: no dump header%s", "");
                break;
            }
        }
        rc = sink->section(sink->ctx, &sec);
        if (rc)
            rc = bad(&r, "%s", rc == LARCH_INVALID ? "the database name is not a valid bucket name"
                                                   : larch_strerror(rc));
        free((char *)sec.database);
        while (rc == 0) {
            if (!next_line(&r)) {
                if (!plain)
                    rc = bad(&r, "the input ends before DATA=END%s", "");
                goto out;
            }
            if (!plain && r.len == 8 && !memcmp(r.line, "DATA=END", 8))
                break;
            size_t kl, vl;
            uint8_t *k = data_line(&r, how, plain, &kl, &rc), *v = NULL;
            if (k) {
                if (!next_line(&r))
                    rc = bad(&r, "a key without a value at the end of the input%s", "");
                else if (!plain && r.len == 8 && !memcmp(r.line, "DATA=END", 8))
                    rc = bad(&r, "a key without a value before DATA=END%s", "");
                else
                    v = data_line(&r, how, plain, &vl, &rc);
            }
            if (k && v) {
                rc = sink->record(sink->ctx, k, kl, v, vl);
                if (rc)
                    rc = bad(&r, "%s", rc == LARCH_INVALID ? "the key is empty or longer than larch allows"
                                                          : larch_strerror(rc));
            }
            free(k);
            free(v);
        }
        if (plain)
            break;
    }
out:
    free(r.line);
    return rc;
}
