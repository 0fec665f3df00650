/*
 * cmd_info.c - stat, buckets, check, pages and page: looking at a file.
 * pages and page read the file format directly (src/format.h), so they
 * also serve files too damaged to open.
 */
#include "dbutil.h"

#include "btree.h"
#include "check.h"
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A bucket name for people: UTF-8 as it is, control bytes and backslash escaped. */
static void write_name(FILE *f, const void *p, size_t n, bool json)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' || (json && s[i] == '"'))
            fprintf(f, "\\%c", s[i]);
        else if (s[i] < 0x20 || s[i] == 0x7f)
            fprintf(f, json ? "\\u%04x" : "\\%02x", s[i]);
        else
            fputc(s[i], f);
    }
}

/* ---- stat ------------------------------------------------------------------ */

struct free_summary {
    uint64_t records, pages, reusable, longest_run;
};

static int cmp_pgno(const void *a, const void *b)
{
    pgno_t x = *(const pgno_t *)a, y = *(const pgno_t *)b;
    return (x > y) - (x < y);
}

/* Walk the free-space records: how much, how much usable at the next commit, the longest run. */
static int free_summary(larch_txn *txn, struct free_summary *fs)
{
    struct path path;
    memset(fs, 0, sizeof *fs);
    struct tree *ft = &txn->meta.trees[TREE_FREE];
    pgno_t *all = NULL;
    size_t n = 0, cap = 0;
    int rc = bt_edge(txn, ft, &path, false);
    while (rc == 0) {
        larch_val k, v;
        rc = bt_read_entry(txn, ft, path.page[path.depth - 1], path.idx[path.depth - 1], &k, &v);
        if (rc)
            break;
        fs->records++;
        bool now = k.size == FREE_KEY_SIZE && get64be(k.data) < txn->meta.txnid;
        for (size_t i = 0; i < v.size / 8; i++) {
            pgno_t p = get64((const uint8_t *)v.data + 8 * i);
            if (!p)
                continue;
            fs->pages++;
            fs->reusable += now;
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                pgno_t *a = realloc(all, cap * sizeof *a);
                if (!a) {
                    free(all);
                    return ENOMEM;
                }
                all = a;
            }
            all[n++] = p;
        }
        rc = bt_step(txn, ft, &path, true);
    }
    /* The longest run of consecutive free page numbers. */
    if (n) {
        qsort(all, n, sizeof *all, cmp_pgno);
        uint64_t run = 1;
        fs->longest_run = 1;
        for (size_t i = 1; i < n; i++) {
            run = all[i] == all[i - 1] + 1 ? run + 1 : 1;
            if (run > fs->longest_run)
                fs->longest_run = run;
        }
    }
    free(all);
    return rc == LARCH_NOTFOUND ? 0 : rc;
}

static void stat_bucket_text(const char *name, size_t len, const struct larch_stat *st)
{
    if (name) {
        printf("bucket \"");
        write_name(stdout, name, len, false);
        printf("\":\n");
    } else {
        printf("bucket 0 (the default key space):\n");
    }
    printf("  entries: %llu\n  depth: %u\n  pages: %llu branch, %llu leaf, %llu overflow\n",
           (unsigned long long)st->entries, st->depth, (unsigned long long)st->branch_pages,
           (unsigned long long)st->leaf_pages, (unsigned long long)st->overflow_pages);
    if (st->flags & LARCH_LZ4)
        printf("  compression: LZ4, %llu value bytes stored in %llu (%.2fx)\n",
               (unsigned long long)st->value_bytes, (unsigned long long)st->stored_bytes,
               st->stored_bytes ? (double)st->value_bytes / (double)st->stored_bytes : 1.0);
    if (st->sequence)
        printf("  sequence: %llu\n", (unsigned long long)st->sequence);
}

static void stat_bucket_json(const char *name, size_t len, const struct larch_stat *st, bool first)
{
    printf("%s{\"name\":", first ? "" : ",");
    if (name) {
        putchar('"');
        write_name(stdout, name, len, true);
        putchar('"');
    } else {
        printf("null");
    }
    printf(",\"entries\":%llu,\"depth\":%u,\"branch_pages\":%llu,\"leaf_pages\":%llu,\"overflow_pages\":%llu,"
           "\"lz4\":%s,\"value_bytes\":%llu,\"stored_bytes\":%llu,\"sequence\":%llu}",
           (unsigned long long)st->entries, st->depth, (unsigned long long)st->branch_pages,
           (unsigned long long)st->leaf_pages, (unsigned long long)st->overflow_pages,
           (st->flags & LARCH_LZ4) ? "true" : "false", (unsigned long long)st->value_bytes,
           (unsigned long long)st->stored_bytes, (unsigned long long)st->sequence);
}

static int stat_one_text(void *ctx, larch_bucket b, const char *name, size_t len)
{
    struct larch_stat st;
    larch_stat(ctx, b, &st);
    stat_bucket_text(name, len, &st);
    return 0;
}

static int stat_one_json(void *ctx, larch_bucket b, const char *name, size_t len)
{
    struct larch_stat st;
    larch_stat(ctx, b, &st);
    stat_bucket_json(name, len, &st, false);
    return 0;
}

int cmd_stat(struct opts *o)
{
    const char *file = o->pos[0];
    larch_db *db;
    larch_txn *txn;
    struct larch_info info;
    struct free_summary fs = { 0 };
    int rc = open_db(file, true, &db);
    if (rc)
        return rc;
    if ((rc = larch_info(db, &info)) != 0 || (rc = larch_begin(db, LARCH_RDONLY, &txn)) != 0) {
        larch_close(db);
        return fail(file, rc);
    }
    if (o->free_space && (rc = free_summary(txn, &fs)) != 0)
        rc = fail(file, rc);
    if (rc == 0 && o->json) {
        printf("{\"file\":\"");
        write_name(stdout, file, strlen(file), true);
        printf("\",\"file_size\":%llu,\"map_size\":%llu,\"page_size\":%u,\"last_txnid\":%llu,\"pages\":%llu,"
               "\"free_pages\":%llu,\"readers\":%u,\"named_buckets\":%llu",
               (unsigned long long)info.file_size, (unsigned long long)info.map_size, info.page_size,
               (unsigned long long)info.last_txnid, (unsigned long long)info.last_pgno + 1,
               (unsigned long long)info.free_pages, info.readers, (unsigned long long)info.buckets);
        if (info.discarded_txnid)
            printf(",\"discarded_txnid\":%llu", (unsigned long long)info.discarded_txnid);
        if (o->free_space)
            printf(",\"free\":{\"records\":%llu,\"pages\":%llu,\"reusable_next_commit\":%llu,\"longest_run\":%llu}",
                   (unsigned long long)fs.records, (unsigned long long)fs.pages, (unsigned long long)fs.reusable,
                   (unsigned long long)fs.longest_run);
        printf(",\"buckets\":[");
    } else if (rc == 0) {
        printf("file: %s\n  file size: %llu bytes\n  page size: %u\n  last transaction: %llu\n"
               "  pages in use: %llu (%llu free)\n  named buckets: %llu\n",
               file, (unsigned long long)info.file_size, info.page_size, (unsigned long long)info.last_txnid,
               (unsigned long long)info.last_pgno + 1, (unsigned long long)info.free_pages,
               (unsigned long long)info.buckets);
        if (info.discarded_txnid)
            printf("  discarded at open: transaction %llu, cut short by a power loss\n",
                   (unsigned long long)info.discarded_txnid);
        if (o->free_space)
            printf("free space:\n  pages: %llu in %llu records\n  reusable by the next commit: %llu\n"
                   "  longest run of free pages: %llu\n",
                   (unsigned long long)fs.pages, (unsigned long long)fs.records, (unsigned long long)fs.reusable,
                   (unsigned long long)fs.longest_run);
    }
    struct larch_stat st;
    larch_bucket b;
    if (rc == 0 && !o->bucket) {
        larch_stat(txn, 0, &st);
        o->json ? stat_bucket_json(NULL, 0, &st, true) : stat_bucket_text(NULL, 0, &st);
    } else if (rc == 0 && (rc = find_bucket(txn, file, o->bucket, false, &b)) == 0) {
        larch_stat(txn, b, &st);
        o->json ? stat_bucket_json(o->bucket, strlen(o->bucket), &st, true)
                : stat_bucket_text(o->bucket, strlen(o->bucket), &st);
    }
    if (rc == 0 && o->all)
        rc = for_each_bucket(txn, file, o->json ? stat_one_json : stat_one_text, txn);
    if (rc == 0 && o->json)
        printf("]}\n");
    larch_abort(txn);
    larch_close(db);
    return rc;
}

/* ---- buckets ----------------------------------------------------------------- */

static int list_one(void *ctx, larch_bucket b, const char *name, size_t len)
{
    struct larch_stat st;
    larch_stat(ctx, b, &st);
    write_name(stdout, name, len, false);
    printf("\t%llu\n", (unsigned long long)st.entries);
    return 0;
}

int cmd_buckets(struct opts *o)
{
    const char *file = o->pos[0];
    larch_db *db;
    larch_txn *txn;
    int rc = open_db(file, true, &db);
    if (rc)
        return rc;
    if ((rc = larch_begin(db, LARCH_RDONLY, &txn)) != 0) {
        larch_close(db);
        return fail(file, rc);
    }
    rc = for_each_bucket(txn, file, list_one, txn);
    larch_abort(txn);
    larch_close(db);
    return rc;
}

/* ---- check ------------------------------------------------------------------- */

static void check_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct progress *p = ctx;
    p->total = total;
    progress_update(p, done);
}

int cmd_check(struct opts *o)
{
    const char *file = o->pos[0];
    larch_db *db;
    larch_txn *txn;
    larch_check_report rep;
    struct progress prog;
    int rc = open_db(file, true, &db);
    if (rc)
        return rc;
    if ((rc = larch_begin(db, LARCH_RDONLY, &txn)) != 0) {
        larch_close(db);
        return fail(file, rc);
    }
    progress_start(&prog, "check", "pages", 0);
    struct check_hooks hooks = { .progress = check_progress, .ctx = &prog };
    int r = check_run(txn, &rep, &hooks);
    progress_end(&prog);
    if (r == 0) {
        printf("ok: %llu pages (%llu in trees, %llu free), %llu entries, %llu named buckets\n",
               (unsigned long long)rep.pages, (unsigned long long)rep.tree_pages, (unsigned long long)rep.free_pages,
               (unsigned long long)rep.entries, (unsigned long long)rep.buckets);
        if (rep.damaged_metas)
            printf("note: %u meta page fails its checksum or is of a commit cut short (a power loss "
                   "in a commit); the other one is in use\n",
                   rep.damaged_metas);
    } else if (r == LARCH_CORRUPT) {
        printf("%s: %llu problems found:\n", file, (unsigned long long)rep.problems);
        for (unsigned i = 0; i < rep.nmessages; i++)
            printf("  %s\n", rep.message[i]);
        if (rep.problems > rep.nmessages)
            printf("  ... and %llu more\n", (unsigned long long)(rep.problems - rep.nmessages));
        rc = EXIT_NO;
    } else {
        rc = fail(file, r);
    }
    larch_abort(txn);
    larch_close(db);
    return rc;
}

/* ---- pages and page: the file format, read directly -------------------------- */

struct rawfile {
    int fd;
    uint64_t size;
    uint32_t ps;
    bool ps_known;
};

static int raw_open(const char *path, struct rawfile *f)
{
    uint8_t hdr[META_END];
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0)
        return failf("%s: %s", path, strerror(errno));
    f->size = (uint64_t)lseek(f->fd, 0, SEEK_END);
    f->ps = DEFAULT_PAGE_SIZE;
    f->ps_known = false;
    /* The page size from whichever meta page says one consistently. */
    if (pread(f->fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr && get32(hdr + META_MAGIC_OFF) == LARCH_MAGIC) {
        uint32_t ps = get32(hdr + META_PAGESIZE_OFF);
        if (ps >= MIN_PAGE_SIZE && ps <= MAX_PAGE_SIZE && !(ps & (ps - 1))) {
            f->ps = ps;
            f->ps_known = true;
        }
    }
    for (uint32_t ps = MIN_PAGE_SIZE; !f->ps_known && ps <= MAX_PAGE_SIZE; ps <<= 1)
        if (pread(f->fd, hdr, sizeof hdr, ps) == (ssize_t)sizeof hdr && get32(hdr + META_MAGIC_OFF) == LARCH_MAGIC &&
            get32(hdr + META_PAGESIZE_OFF) == ps) {
            f->ps = ps;
            f->ps_known = true;
        }
    if (!f->ps_known)
        fprintf(stderr, "dbutil: %s: no meta page gives the page size; assuming %u\n", path, f->ps);
    return 0;
}

static const char *type_name(unsigned t)
{
    static const char *names[] = { "?", "meta", "branch", "leaf", "dict" };
    return t <= PAGE_DICT ? names[t] : "?";
}

struct page_map {
    const char **role, **tree;
    uint64_t n;
    char **names; /* copies of the tree names: the check's own live only as long as it runs */
    size_t nnames;
};

/* A copy of name that lives as long as the map (the last one made, if the same). */
static const char *map_name(struct page_map *m, const char *name)
{
    if (m->nnames && !strcmp(m->names[m->nnames - 1], name))
        return m->names[m->nnames - 1];
    char **v = realloc(m->names, (m->nnames + 1) * sizeof *v), *copy = strdup(name);
    if (!v || !copy) {
        free(copy);
        if (v)
            m->names = v;
        return "?";
    }
    m->names = v;
    return m->names[m->nnames++] = copy;
}

static void map_page(void *ctx, pgno_t pgno, uint64_t n, const char *role, const char *tree)
{
    struct page_map *m = ctx;
    const char *name = map_name(m, tree);
    for (uint64_t i = 0; i < n && pgno + i < m->n; i++) {
        m->role[pgno + i] = i ? "(run)" : role; /* roles are string literals */
        m->tree[pgno + i] = name;
    }
}

int cmd_pages(struct opts *o)
{
    const char *file = o->pos[0];
    struct rawfile f;
    int rc = raw_open(file, &f);
    if (rc)
        return rc;
    uint64_t npages = f.size / f.ps;
    struct page_map m = { calloc(npages ? npages : 1, sizeof(char *)), calloc(npages ? npages : 1, sizeof(char *)),
                          npages, NULL, 0 };
    uint64_t in_use = npages;
    /* What each page is, according to a walk of the last commit (if the file opens). */
    larch_db *db;
    larch_options opt = { 0 };
    opt.flags = LARCH_RDONLY;
    int orc = larch_open(file, &opt, &db);
    if (orc == 0) {
        larch_txn *txn;
        larch_check_report rep;
        struct check_hooks hooks = { .page = map_page, .ctx = &m };
        if (larch_begin(db, LARCH_RDONLY, &txn) == 0) {
            in_use = txn->meta.npages;
            check_run(txn, &rep, &hooks);
            larch_abort(txn);
        }
        larch_close(db);
    } else {
        fprintf(stderr, "dbutil: %s: %s; showing page headers only\n", file, larch_strerror(orc));
    }
    printf("%-10s %-10s %-12s %-26s %s\n", "page", "header", "role", "tree", "entries/txn");
    uint8_t *p = malloc(f.ps);
    for (uint64_t n = 0; n < npages; n++) {
        if (pread(f.fd, p, PAGE_HEADER_SIZE, (off_t)(n * f.ps)) != (ssize_t)PAGE_HEADER_SIZE)
            break;
        const char *role = n < NUM_METAS ? "meta" : m.role[n] ? m.role[n] : n >= in_use ? "unused" : "lost";
        if (m.role[n] && !strcmp(m.role[n], "(run)"))
            continue; /* shown with its first page */
        if (!strcmp(role, "unused")) {
            printf("%-10llu ...        unused       (past the last page in use: %llu more)\n",
                   (unsigned long long)n, (unsigned long long)(npages - n));
            break;
        }
        char entries[48];
        if (!strcmp(role, "overflow")) { /* a value's bytes, no header */
            uint64_t len = 1;
            while (n + len < npages && m.role[n + len] && !strcmp(m.role[n + len], "(run)"))
                len++;
            printf("%-10llu %-10s %-12s %-26.26s %llu pages\n", (unsigned long long)n, "-", role,
                   m.tree[n] ? m.tree[n] : "", (unsigned long long)len);
            continue;
        }
        if (pg_type(p) == PAGE_DICT)
            snprintf(entries, sizeof entries, "%u pages, txn %llu", pg_npages(p), (unsigned long long)pg_txnid(p));
        else
            snprintf(entries, sizeof entries, "%u, txn %llu", pg_nkeys(p), (unsigned long long)pg_txnid(p));
        printf("%-10llu %-10s %-12s %-26.26s %s%s\n", (unsigned long long)n, type_name(pg_type(p)), role,
               m.tree[n] ? m.tree[n] : "", !strcmp(role, "free") || !strcmp(role, "lost") ? "" : entries,
               pg_pgno(p) != n && strcmp(role, "free") && strcmp(role, "lost") ? "  (names another page!)" : "");
    }
    free(p);
    free(m.role);
    free(m.tree);
    for (size_t i = 0; i < m.nnames; i++)
        free(m.names[i]);
    free(m.names);
    close(f.fd);
    return 0;
}

static void show_bytes(const uint8_t *d, size_t n, size_t max)
{
    write_escaped(stdout, d, n < max ? n : max, ESC_PRINT);
    if (n > max)
        printf("...");
}

static void show_tree(const char *name, const uint8_t *t)
{
    printf("  %-8s root %llu, depth %u, entries %llu, pages %llu branch / %llu leaf / %llu overflow, flags %u\n", name,
           (unsigned long long)get64(t), get32(t + 40), (unsigned long long)get64(t + 8),
           (unsigned long long)get64(t + 16), (unsigned long long)get64(t + 24), (unsigned long long)get64(t + 32),
           get32(t + 44));
}

int cmd_page(struct opts *o)
{
    const char *file = o->pos[0];
    char *end;
    errno = 0;
    unsigned long long n = strtoull(o->pos[1], &end, 10);
    if (errno || *end || !*o->pos[1])
        return usage_error("page", "N must be a page number, not \"%s\"", o->pos[1]);
    struct rawfile f;
    int rc = raw_open(file, &f);
    if (rc)
        return rc;
    uint8_t *p = malloc(f.ps);
    if ((n + 1) * (uint64_t)f.ps > f.size || pread(f.fd, p, f.ps, (off_t)(n * f.ps)) != (ssize_t)f.ps) {
        rc = failf("%s: page %llu is past the end of the file (%llu pages of %u bytes)", file, n,
                   (unsigned long long)(f.size / f.ps), f.ps);
        goto out;
    }
    unsigned type = pg_type(p);
    size_t len = f.ps;
    if (type == PAGE_DICT && pg_npages(p) > 1 && (n + pg_npages(p)) * (uint64_t)f.ps <= f.size) {
        len = (size_t)pg_npages(p) * f.ps;
        p = realloc(p, len);
        if (pread(f.fd, p, len, (off_t)(n * f.ps)) != (ssize_t)len)
            len = f.ps;
    }
    uint32_t sum = page_checksum(p, type == PAGE_DICT ? len : f.ps);
    printf("page %llu of %s (page size %u)\n", n, file, f.ps);
    printf("  type: %u (%s)\n  checksum: %08x (%s)\n  page number: %llu%s\n  written by txn: %llu\n", type,
           type_name(type), pg_checksum(p), sum == pg_checksum(p) ? "ok" : "WRONG: damaged",
           (unsigned long long)pg_pgno(p), pg_pgno(p) == n ? "" : "  (names another page: damaged or unused)",
           (unsigned long long)pg_txnid(p));
    if (type == PAGE_META) {
        printf("  magic: %08x, format version %u, page size %u\n  txnid: %llu\n  pages in use: %llu\n",
               get32(p + META_MAGIC_OFF), get32(p + META_VERSION_OFF), get32(p + META_PAGESIZE_OFF),
               (unsigned long long)get64(p + META_TXNID_OFF), (unsigned long long)get64(p + META_NPAGES_OFF));
        show_tree("main", p + META_TREES_OFF);
        show_tree("catalog", p + META_TREES_OFF + TREE_DESC_SIZE);
        show_tree("free", p + META_TREES_OFF + 2 * TREE_DESC_SIZE);
        printf("  sequence of bucket 0: %llu\n", (unsigned long long)get64(p + META_SEQUENCE_OFF));
        uint32_t nw = get32(p + META_NWRITTEN_OFF);
        if (nw == 0)
            printf("  written list: none (the commit's pages were synced before this page)\n");
        else
            printf("  written list: %u runs (a one-sync commit)%s\n", nw, nw > META_WRITTEN_MAX ? ": too many, damaged" : "");
        for (uint32_t i = 0; i < nw && i < META_WRITTEN_MAX && META_END + (i + 1) * META_WRITTEN_ENTRY <= f.ps; i++) {
            struct written_run w = meta_written_run(p, i);
            printf("    page %llu, checksum %08x", (unsigned long long)w.pgno, w.checksum);
            if (w.bare_pages)
                printf(", an overflow run of %u pages", w.bare_pages);
            putchar('\n');
        }
    } else if (type == PAGE_DICT) {
        printf("  dictionary run of %u pages (%zu bytes of room)\n", pg_npages(p), (size_t)pg_npages(p) * f.ps - PAGE_HEADER_SIZE);
    } else if (type == PAGE_BRANCH || type == PAGE_LEAF) {
        unsigned nk = pg_nkeys(p);
        printf("  entries: %u\n  heap starts at: %u, dead bytes: %u\n", nk, pg_upper(p), pg_frag(p));
        printf("  key prefix: %u bytes%s\n", pg_prefix(p), type == PAGE_BRANCH ? ", kept once at the end of the page" : "");
        if (node_check(p, type, f.ps) != 0) {
            printf("  the header's bounds are wrong: entries not shown\n");
            goto out;
        }
        static uint8_t keybuf[LARCH_MAX_KEY_SIZE];
        for (unsigned i = 0; i < nk; i++) {
            const uint8_t *k = NULL;
            size_t kl = 0;
            printf("  %4u: ", i);
            if (node_key_full(p, i, f.ps, keybuf, &k, &kl) != 0) {
                printf("(entry outside the page)\n");
                continue;
            }
            const uint8_t *e = pg_entry(p, i);
            if (type == PAGE_BRANCH) {
                printf("child %llu, key ", (unsigned long long)branch_child(e));
                show_bytes(k, kl, 60);
                putchar('\n');
                continue;
            }
            printf("key ");
            show_bytes(k, kl, 60);
            printf(" -> %u bytes", leaf_vsize(e));
            if (leaf_flags(e) & ENTRY_LZ4)
                printf(" LZ4%s", (leaf_flags(e) & ENTRY_DICT) ? "+dict" : "");
            if (leaf_flags(e) & ENTRY_BIG) {
                if (pg_slot(p, i) + leaf_header_size(e) + kl + BIG_REF_SIZE <= f.ps)
                    printf(" in overflow run at page %llu, checksum %08x", (unsigned long long)leaf_big_pgno(e),
                           leaf_big_checksum(e));
            } else if (!(leaf_flags(e) & ENTRY_LZ4) && pg_slot(p, i) + leaf_header_size(e) + kl + leaf_vsize(e) <= f.ps) {
                printf(": ");
                show_bytes(e + leaf_header_size(e) + kl, leaf_vsize(e), 40);
            }
            putchar('\n');
        }
    } else {
        printf("  not a page with a header: free, unused, damaged, or part of an overflow run (a value's\n"
               "  bytes, no header: `dbutil pages` tells which)\n");
    }
out:
    free(p);
    close(f.fd);
    return rc;
}
