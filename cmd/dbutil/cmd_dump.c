/*
 * cmd_dump.c - dump, load and copy.
 */
#include "dbutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOAD_BATCH 10000

/* ---- dump ------------------------------------------------------------------ */

struct dumper {
    FILE *out;
    larch_txn *txn;
    enum esc how;
    uint64_t mapsize;
    uint32_t page_size;
    struct progress prog;
    uint64_t done;
    const char *file;
};

static int dump_bucket(struct dumper *d, larch_bucket b, const void *name, size_t namelen, const char *file)
{
    larch_cursor *c;
    larch_val k, v;
    struct larch_stat st;
    int rc = larch_stat(d->txn, b, &st);
    if (rc)
        return fail(file, rc);
    fprintf(d->out, "VERSION=3\nformat=%s\n", d->how == ESC_HEX ? "bytevalue" : "print");
    if (name) {
        fputs("database=", d->out);
        fwrite(name, 1, namelen, d->out);
        fputc('\n', d->out);
    }
    fputs("type=btree\n", d->out);
    /* What the bucket is besides its data, in keywords of larch's own
     * (LMDB's mdb_load ignores them, with a warning). */
    if (st.flags & LARCH_LZ4)
        fputs("compression=lz4\n", d->out);
    if (st.sequence)
        fprintf(d->out, "sequence=%llu\n", (unsigned long long)st.sequence);
    /* LMDB's mdb_load sizes its map from mapsize: give it room. */
    fprintf(d->out, "mapsize=%llu\nmaxreaders=126\ndb_pagesize=%u\nHEADER=END\n", (unsigned long long)d->mapsize,
            d->page_size);
    rc = larch_cursor_open(d->txn, b, &c);
    if (rc)
        return fail(file, rc);
    while ((rc = larch_cursor_get(c, &k, &v, LARCH_NEXT)) == 0) {
        fputc(' ', d->out);
        write_escaped(d->out, k.data, k.size, d->how);
        fputs("\n ", d->out);
        write_escaped(d->out, v.data, v.size, d->how);
        fputc('\n', d->out);
        progress_update(&d->prog, ++d->done);
    }
    larch_cursor_close(c);
    fputs("DATA=END\n", d->out);
    return rc == LARCH_NOTFOUND ? 0 : fail(file, rc);
}

static int dump_named(void *ctx, larch_bucket b, const char *name, size_t len)
{
    struct dumper *d = ctx;
    return dump_bucket(d, b, name, len, d->file);
}

int cmd_dump(struct opts *o)
{
    const char *file = o->pos[0];
    larch_db *db;
    struct dumper d = { .out = stdout, .how = o->print ? ESC_PRINT : ESC_HEX };
    int rc = open_db(file, true, &db);
    if (rc)
        return rc;
    struct larch_info info;
    if ((rc = larch_info(db, &info)) != 0 || (rc = larch_begin(db, LARCH_RDONLY, &d.txn)) != 0) {
        larch_close(db);
        return fail(file, rc);
    }
    d.page_size = info.page_size;
    d.mapsize = ((info.file_size * 4 + (64u << 20)) + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
    if (o->out && !(d.out = fopen(o->out, "w"))) {
        rc = failf("%s: %s", o->out, strerror(errno));
        goto done;
    }
    larch_bucket b;
    struct larch_stat st;
    if (!o->all) {
        rc = find_bucket(d.txn, file, o->bucket, false, &b);
        if (rc == 0 && (rc = larch_stat(d.txn, b, &st)) != 0)
            rc = fail(file, rc);
        if (rc == 0) {
            progress_start(&d.prog, "dump", "entries", st.entries);
            rc = dump_bucket(&d, b, o->bucket, o->bucket ? strlen(o->bucket) : 0, file);
        }
    } else {
        /* Bucket 0 when it holds anything (or is all there is), then every named one. */
        larch_stat(d.txn, 0, &st);
        progress_start(&d.prog, "dump", "entries", 0);
        if (st.entries || info.buckets == 0)
            rc = dump_bucket(&d, 0, NULL, 0, file);
        d.file = file;
        if (rc == 0)
            rc = for_each_bucket(d.txn, file, dump_named, &d);
    }
    progress_end(&d.prog);
    if (d.out != stdout && fclose(d.out) != 0 && rc == 0)
        rc = failf("%s: %s", o->out, strerror(errno));
    if (d.out == stdout && fflush(stdout) != 0 && rc == 0)
        rc = failf("standard output: %s", strerror(errno));
done:
    larch_abort(d.txn);
    larch_close(db);
    return rc;
}

/* ---- load ------------------------------------------------------------------ */

struct loader {
    larch_db *db;
    larch_txn *txn;
    larch_bucket bucket;
    const char *file, *force_bucket;
    unsigned put_flags;
    uint64_t in_batch, committed, total;
    struct progress prog;
    uint64_t *bytes;
};

/* A section's bucket: made with what its header says (LZ4 applies to a
 * bucket being created), its sequence counter raised to the dump's. */
static int load_section(void *ctx, const struct section *s)
{
    struct loader *l = ctx;
    const char *name = l->force_bucket ? l->force_bucket : s->database;
    struct larch_stat st;
    l->bucket = 0;
    int rc = name ? larch_bucket_open(l->txn, name, LARCH_CREATE | (s->lz4 ? LARCH_LZ4 : 0), &l->bucket) : 0;
    if (rc == 0 && s->has_sequence && (rc = larch_stat(l->txn, l->bucket, &st)) == 0 && st.sequence < s->sequence)
        rc = larch_bucket_set_sequence(l->txn, l->bucket, s->sequence);
    return rc;
}

static int load_record(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct loader *l = ctx;
    larch_val key = { kl, k }, val = { vl, v };
    int rc = larch_put(l->txn, l->bucket, &key, &val, l->put_flags);
    if (rc)
        return rc;
    l->total++;
    if (++l->in_batch == LOAD_BATCH) {
        rc = larch_commit(l->txn);
        l->txn = NULL;
        if (rc == 0)
            rc = larch_begin(l->db, 0, &l->txn);
        if (rc)
            return rc;
        l->committed = l->total;
        l->in_batch = 0;
    }
    progress_update(&l->prog, *l->bytes);
    return 0;
}

int cmd_load(struct opts *o)
{
    struct loader l = { .file = o->pos[0], .force_bucket = o->bucket,
                        .put_flags = o->no_overwrite ? LARCH_NOOVERWRITE : 0 };
    FILE *in = stdin;
    const char *inname = o->in ? o->in : "standard input";
    uint64_t bytes = 0;
    struct stat st;
    if (o->in && !(in = fopen(o->in, "r")))
        return failf("%s: %s", o->in, strerror(errno));
    int rc = open_db(l.file, false, &l.db);
    if (rc == 0 && (rc = larch_begin(l.db, 0, &l.txn)) != 0)
        rc = fail(l.file, rc);
    if (rc == 0) {
        l.bytes = &bytes;
        progress_start(&l.prog, "load", "bytes",
                       fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0);
        struct load_sink sink = { load_section, load_record, &l };
        rc = load_stream(in, inname, o->text, &sink, &bytes);
        progress_end(&l.prog);
        if (rc == 0) {
            rc = larch_commit(l.txn);
            l.txn = NULL;
            if (rc)
                rc = fail(l.file, rc);
            else
                l.committed = l.total;
        }
        if (rc)
            fprintf(stderr, "dbutil: %s: %llu records committed before the failure, the rest of their "
                            "batch not\n", l.file, (unsigned long long)l.committed);
    }
    larch_abort(l.txn);
    larch_close(l.db);
    if (in != stdin)
        fclose(in);
    return rc;
}

/* ---- copy ------------------------------------------------------------------ */

struct copy_watch {
    int fd;
    atomic_int done;
    struct progress prog;
};

/* Report the copy's growing size until it is done. */
static void *watch_copy(void *arg)
{
    struct copy_watch *w = arg;
    while (!atomic_load(&w->done)) {
        struct stat st;
        if (fstat(w->fd, &st) == 0)
            progress_update(&w->prog, (uint64_t)st.st_size);
        usleep(100000);
    }
    return NULL;
}

int cmd_copy(struct opts *o)
{
    const char *src = o->pos[0], *dst = o->pos[1];
    larch_db *db;
    if (access(dst, F_OK) == 0)
        return failf("%s: already exists; the copy must go to a new file", dst);
    int rc = open_db(src, true, &db);
    if (rc)
        return rc;
    size_t n = strlen(dst) + 32;
    char *tmp = malloc(n);
    snprintf(tmp, n, "%s.%ld.tmp", dst, (long)getpid());
    struct copy_watch w = { .fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644) };
    if (w.fd < 0) {
        rc = failf("%s: %s", tmp, strerror(errno));
    } else {
        struct larch_info info;
        pthread_t th;
        larch_info(db, &info);
        progress_start(&w.prog, o->compact ? "compacting copy" : "copy", "bytes", o->compact ? 0 : info.file_size);
        bool watching = w.prog.on && pthread_create(&th, NULL, watch_copy, &w) == 0;
        int r = larch_copy_fd(db, w.fd, o->compact ? LARCH_COPY_COMPACT : 0);
        atomic_store(&w.done, 1);
        if (watching)
            pthread_join(th, NULL);
        progress_end(&w.prog);
        if (r == 0 && fsync(w.fd) != 0)
            r = errno;
        close(w.fd);
        if (r == 0 && link(tmp, dst) != 0)
            r = errno;
        unlink(tmp);
        rc = r ? fail(r > 0 ? dst : src, r) : 0;
    }
    free(tmp);
    larch_close(db);
    return rc;
}
