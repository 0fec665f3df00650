/*
 * main.c - dbutil: inspect, dump, load, check, copy and edit larch files.
 * Dispatch, option parsing, help, and the helpers every command uses.
 */
#include "dbutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(struct opts *);
    const char *args;   /* the usage line after "dbutil NAME" */
    const char *opts;   /* the options it takes */
    int minpos, maxpos;
    const char *help;
};

static const struct command commands[] = {
    { "stat", cmd_stat, "FILE [-b BUCKET | -a] [--free] [--json]", "-b -a --free --json", 1, 1,
      "File and environment information, and statistics of bucket 0 (or BUCKET, or all\n"
      "buckets with -a): depth, pages by kind, entries, compression. --free adds a summary\n"
      "of the free space; --json prints one JSON object instead of text.\n" },
    { "buckets", cmd_buckets, "FILE", "", 1, 1, "The named buckets, one per line, with their entry counts.\n" },
    { "dump", cmd_dump, "FILE [-b BUCKET | -a] [-p] [-o OUT]", "-b -a -p -o", 1, 1,
      "Write bucket 0 (or BUCKET, or with -a bucket 0 and then every named bucket) in the\n"
      "text format of LMDB's mdb_dump: hex bytes (format=bytevalue), or with -p printable\n"
      "bytes as they are and others as \\xx (format=print). LMDB's mdb_load reads it; each\n"
      "named bucket becomes a database of that name. To OUT, or standard output.\n" },
    { "load", cmd_load, "FILE [-b BUCKET] [-f IN] [-n] [-T]", "-b -f -n -T", 1, 1,
      "Read mdb_dump text (from IN, or standard input) into FILE, creating the file and\n"
      "buckets as needed: a section with database=NAME goes to bucket NAME, others to\n"
      "bucket 0, all of them to BUCKET with -b. -n refuses to overwrite existing keys.\n"
      "-T reads plain text instead: a line for the key, a line for the value, with \\\\\n"
      "for a backslash and \\xx for any byte. Commits every 10,000 records; a malformed\n"
      "line stops the load with its line number, and nothing of its batch is committed.\n" },
    { "check", cmd_check, "FILE", "", 1, 1,
      "Walk the whole file: every page reached once, checksums, key order, counts. Prints\n"
      "\"ok\" with counts, or the problems found (exit status 1).\n" },
    { "copy", cmd_copy, "SRC DST [--compact]", "--compact", 2, 2,
      "A consistent copy of SRC in the new file DST, taken while SRC may be in use. With\n"
      "--compact only live data is written, every tree rebuilt into full pages.\n" },
    { "get", cmd_get, "FILE [-b BUCKET] [-x] [--hex] KEY", "-b -x --hex", 2, 2,
      "Print the value of KEY (exit status 1 if it is not there).\n" },
    { "put", cmd_put, "FILE [-b BUCKET] [-x] KEY VALUE", "-b -x", 3, 3,
      "Store KEY = VALUE (creating the file and the bucket if needed).\n" },
    { "del", cmd_del, "FILE [-b BUCKET] [-x] KEY", "-b -x", 2, 2,
      "Delete KEY (exit status 1 if it is not there).\n" },
    { "scan", cmd_scan, "FILE [-b BUCKET] [--prefix P] [--from K] [--limit N] [--reverse] [-x] [--hex]",
      "-b --prefix --from --limit --reverse -x --hex", 1, 1,
      "Print entries in key order (reverse order with --reverse), one per line: the key, a\n"
      "tab, the value. --prefix keeps keys that start with P, --from starts at the first\n"
      "key >= K (<= K in reverse), --limit stops after N entries.\n" },
    { "bucket", cmd_bucket, "create|drop|empty FILE NAME [--lz4]", "--lz4", 3, 3,
      "Create bucket NAME (with --lz4: one whose values are compressed with LZ4 where it\n"
      "pays), delete it, or empty it, in a commit of its own.\n" },
    { "pages", cmd_pages, "FILE", "", 1, 1,
      "Every page of the file: its number, what it is (meta, branch, leaf, overflow,\n"
      "dictionary, free, unused) and where it belongs, from its header and a walk.\n" },
    { "page", cmd_page, "FILE N", "", 2, 2,
      "What page N holds: its header fields, and its entries or meta fields, read from\n"
      "the file directly (works on files too damaged to open).\n" },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

int fail(const char *what, int rc)
{
    const char *msg = larch_strerror(rc), *detail = larch_last_error_detail();
    if (rc < 0 && *detail && strcmp(detail, msg) != 0)
        fprintf(stderr, "dbutil: %s: %s: %s\n", what, msg, detail);
    else
        fprintf(stderr, "dbutil: %s: %s\n", what, msg);
    return EXIT_NO;
}

int failf(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "dbutil: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_NO;
}

int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "dbutil%s%s: ", *cmd ? " " : "", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nsee: dbutil %s --help\n", cmd);
    return EXIT_USAGE;
}

int open_db(const char *path, bool rdonly, larch_db **db)
{
    larch_options o = { 0 };
    /* Every page read is checked against its checksum: what dbutil prints
     * or writes out (dump, scan, get, copy) is never silently damaged. */
    o.flags = (rdonly ? LARCH_RDONLY : 0) | LARCH_VERIFY;
    int rc = larch_open(path, &o, db);
    if (rc == 0)
        return 0;
    if (rc == LARCH_BUSY)
        return failf("%s: %s (a program has it open for writing; read-only commands can share it "
                     "only with other readers)", path, larch_strerror(rc));
    return fail(path, rc);
}

int find_bucket(larch_txn *txn, const char *file, const char *name, bool create, larch_bucket *b)
{
    *b = 0;
    if (!name)
        return 0;
    int rc = larch_bucket_open(txn, name, create ? LARCH_CREATE : 0, b);
    if (rc == LARCH_NOTFOUND)
        return failf("%s: no bucket named \"%s\" (dbutil buckets %s lists them)", file, name, file);
    if (rc == LARCH_INVALID)
        return failf("%s: \"%s\" is not a valid bucket name (1..255 bytes of UTF-8)", file, name);
    return rc ? fail(file, rc) : 0;
}

int for_each_bucket(larch_txn *txn, const char *file,
                    int (*fn)(void *ctx, larch_bucket b, const char *name, size_t len), void *ctx)
{
    char name[256] = "";
    larch_val nm;
    int rc;
    while ((rc = larch_bucket_next(txn, name, &nm)) == 0) {
        larch_bucket b;
        memcpy(name, nm.data, nm.size);
        name[nm.size] = 0;
        if ((rc = find_bucket(txn, file, name, false, &b)) != 0 || (rc = fn(ctx, b, name, nm.size)) != 0)
            return rc;
    }
    return rc == LARCH_NOTFOUND ? 0 : fail(file, rc);
}

static void general_help(FILE *f)
{
    fprintf(f, "dbutil %s - inspect, dump, load, check, copy and edit larch databases\n\n"
               "usage: dbutil COMMAND [options] ARGS\n\n",
            LARCH_VERSION_STRING);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  dbutil %s %s\n", commands[i].name, commands[i].args);
    fprintf(f, "\nKEY and VALUE arguments are text in which \\\\ is a backslash and \\xx a byte\n"
               "(hex digits); with -x they are all hex. Output escapes the same way, or --hex.\n"
               "Exit status: 0 success, 1 the data said no (not found, check failed, damaged\n"
               "file, or the operation failed), 2 usage error.\n"
               "dbutil COMMAND --help tells more; dbutil --version the version.\n");
}

static bool allowed(const struct command *c, const char *opt)
{
    size_t n = strlen(opt);
    for (const char *p = c->opts; (p = strstr(p, opt)); p += n)
        if ((p == c->opts || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return true;
    return false;
}

static int parse(const struct command *c, int argc, char **argv, struct opts *o)
{
    static const char *with_arg[] = { "-b", "-o", "-f", "--prefix", "--from", "--limit" };
    bool only_pos = false;
    o->limit = -1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = true;
            continue;
        }
        if (only_pos || a[0] != '-' || a[1] == 0) {
            if (o->npos == c->maxpos)
                return usage_error(c->name, "too many arguments (\"%s\")", a);
            o->pos[o->npos++] = a;
            continue;
        }
        if (!allowed(c, a))
            return usage_error(c->name, "unknown option %s", a);
        const char *val = NULL;
        for (size_t k = 0; k < sizeof with_arg / sizeof with_arg[0]; k++)
            if (!strcmp(a, with_arg[k])) {
                if (i + 1 >= argc)
                    return usage_error(c->name, "%s needs a value", a);
                val = argv[++i];
            }
        if (!strcmp(a, "-b"))
            o->bucket = val;
        else if (!strcmp(a, "-o"))
            o->out = val;
        else if (!strcmp(a, "-f"))
            o->in = val;
        else if (!strcmp(a, "--prefix"))
            o->prefix = val;
        else if (!strcmp(a, "--from"))
            o->from = val;
        else if (!strcmp(a, "--limit")) {
            char *end;
            errno = 0;
            o->limit = strtoll(val, &end, 10);
            if (errno || *end || o->limit < 0)
                return usage_error(c->name, "--limit takes a number >= 0, not \"%s\"", val);
        } else if (!strcmp(a, "-a"))
            o->all = true;
        else if (!strcmp(a, "-p"))
            o->print = true;
        else if (!strcmp(a, "-n"))
            o->no_overwrite = true;
        else if (!strcmp(a, "-T"))
            o->text = true;
        else if (!strcmp(a, "-x"))
            o->hex_in = true;
        else if (!strcmp(a, "--hex"))
            o->hex_out = true;
        else if (!strcmp(a, "--json"))
            o->json = true;
        else if (!strcmp(a, "--free"))
            o->free_space = true;
        else if (!strcmp(a, "--compact"))
            o->compact = true;
        else if (!strcmp(a, "--reverse"))
            o->reverse = true;
        else if (!strcmp(a, "--lz4"))
            o->lz4 = true;
    }
    if (o->npos < c->minpos)
        return usage_error(c->name, "missing arguments: dbutil %s %s", c->name, c->args);
    if (o->bucket && o->all)
        return usage_error(c->name, "-b and -a do not go together");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return general_help(stderr), EXIT_USAGE;
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        general_help(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("dbutil %s (larch %s)\n", LARCH_VERSION_STRING, LARCH_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const struct command *c = &commands[i];
        if (strcmp(argv[1], c->name))
            continue;
        for (int a = 2; a < argc && strcmp(argv[a], "--"); a++)
            if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
                printf("usage: dbutil %s %s\n\n%s", c->name, c->args, c->help);
                return 0;
            }
        struct opts o = { 0 };
        int rc = parse(c, argc - 2, argv + 2, &o);
        return rc ? rc : c->run(&o);
    }
    return usage_error("", "unknown command \"%s\"; dbutil --help lists them", argv[1]);
}
