/*
 * gen_corpus.c - writes the seed corpora of the fuzzers (make fuzz-corpus):
 * small valid database files for fuzz_open, operation programs for
 * fuzz_ops, dump texts for fuzz_load. Deterministic: the same files every
 * time.
 */
#define _GNU_SOURCE
#include <larch.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put(larch_txn *t, larch_bucket b, const char *k, size_t vl, char fill)
{
    static char v[6000];
    memset(v, fill, sizeof v);
    larch_val kv = { strlen(k), k }, vv = { vl, v };
    if (larch_put(t, b, &kv, &vv, 0))
        exit(1);
}

static void make_db(const char *dir, const char *name, int n, int buckets, int big)
{
    char path[512];
    larch_db *db;
    larch_txn *t;
    larch_options o = { 0 };
    o.page_size = 1024;
    o.flags = LARCH_NOSYNC;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    if (larch_open(path, &o, &db) || larch_begin(db, 0, &t))
        exit(1);
    for (int i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof k, "key%03d", i * 7 % 101);
        put(t, 0, k, (size_t)(i % 40), 'a' + i % 26);
    }
    for (int b = 0; b < buckets; b++) {
        larch_bucket h;
        char bn[16];
        snprintf(bn, sizeof bn, "b%d", b);
        if (larch_bucket_open(t, bn, LARCH_CREATE | (b % 2 ? LARCH_LZ4 : 0), &h))
            exit(1);
        for (int i = 0; i < n / 2; i++) {
            char k[32];
            snprintf(k, sizeof k, "%c%02d", 'p' + b, i);
            put(t, h, k, 100, '{');
        }
    }
    if (big)
        put(t, 0, "big", 3000, 'Z');
    if (larch_commit(t))
        exit(1);
    if (larch_begin(db, 0, &t) == 0) { /* a second commit: free pages, both metas used */
        put(t, 0, "key000", 10, 'q');
        larch_commit(t);
    }
    larch_close(db);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f))
        exit(1);
}

/*
 * A file whose newest meta page is of a one-sync commit, with its written
 * list: a few small synced commits, and the file taken before close (which
 * would write the meta page again without the list), as a crash leaves it.
 */
static void make_one_sync_db(const char *dir, const char *name)
{
    char path[512], tmp[sizeof path + 8];
    larch_db *db;
    larch_options o = { 0 };
    o.page_size = 1024;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        exit(1);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    if (larch_open(tmp, &o, &db))
        exit(1);
    for (int c = 0; c < 4; c++) {
        larch_txn *t;
        if (larch_begin(db, 0, &t))
            exit(1);
        for (int i = 0; i < 30; i++) {
            char k[32];
            snprintf(k, sizeof k, "key%03d", (i * 13 + c * 5) % 97);
            put(t, 0, k, (size_t)(i % 50 + c * 100), 'a' + c);
        }
        if (c == 3) /* an overflow run of exactly two pages in the written list */
            put(t, 0, "big", 2048, 'z');
        if (larch_commit(t))
            exit(1);
    }
    FILE *f = fopen(tmp, "rb");
    static char buf[1 << 20];
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (!f || len == 0 || len == sizeof buf)
        exit(1);
    fclose(f);
    larch_close(db);
    unlink(tmp);
    write_file(dir, name, buf, len);
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : "fuzz/corpus";
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fuzz_open", root);
    make_db(dir, "empty.db", 0, 0, 0);
    make_db(dir, "small.db", 12, 0, 0);
    make_db(dir, "buckets.db", 20, 2, 0);
    make_db(dir, "overflow.db", 30, 1, 1);
    make_one_sync_db(dir, "onesync.db");

    snprintf(dir, sizeof dir, "%s/fuzz_ops", root);
    for (unsigned s = 0; s < 6; s++) {
        unsigned char prog[600];
        unsigned x = s * 2654435761u + 1;
        for (size_t i = 0; i < sizeof prog; i++) {
            x = x * 1103515245u + 12345u;
            prog[i] = (unsigned char)(x >> 16);
        }
        char name[32];
        snprintf(name, sizeof name, "prog%u", s);
        write_file(dir, name, prog, 200 + s * 80);
    }

    snprintf(dir, sizeof dir, "%s/fuzz_load", root);
    const char *dumps[] = {
        "VERSION=3\nformat=bytevalue\ntype=btree\nmapsize=1048576\nmaxreaders=126\ndb_pagesize=4096\n"
        "HEADER=END\n 6b6579\n 76616c7565\n 6b32\n \nDATA=END\n",
        "VERSION=3\nformat=print\ndatabase=users\ntype=btree\nHEADER=END\n alice\n {\"age\":41}\n b\\5cob\n "
        "x\\00y\nDATA=END\nVERSION=3\nformat=print\ndatabase=more\ntype=btree\nHEADER=END\n k\n v\nDATA=END\n",
        "\x01key one\nvalue one\nkey\\0a2\nvalue\\ff2\n",
    };
    for (unsigned i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "dump%u", i);
        write_file(dir, name, dumps[i], strlen(dumps[i]));
    }
    return 0;
}
