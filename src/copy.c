/*
 * copy.c - hot backup and compacting copy, and larch_info.
 *
 * Both copies run inside a read transaction, so writers go on meanwhile,
 * and write the new file's bytes strictly in order (meta pages first), so
 * the same code serves a file, a pipe or a socket.
 *
 * Both first check the snapshot whole, and stop if it is damaged (see
 * check_source). The plain copy writes the snapshot's pages as they are,
 * and zeros for its free pages. The compacting
 * copy rebuilds every tree bottom-up into full pages (a bulk load): leaves
 * in key order, each overflow run just before the leaf that names it, then
 * each level of branches above, numbering pages in the order they are
 * written. A dry run of the same builder first gives the new roots, which
 * the meta pages at the front of the file need.
 */
#include "btree.h"
#include "check.h"
#include "node.h"
#include "os.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- Sequential output ----------------------------------------------------- */

struct out {
    int fd;     /* -1: a dry run, nothing is written */
    uint8_t *buf;
    size_t len, cap;
};

static int out_flush(struct out *o)
{
    int rc = o->fd >= 0 ? os_write_all(o->fd, o->buf, o->len) : 0;
    o->len = 0;
    return rc;
}

static int out_write(struct out *o, const void *p, size_t n)
{
    if (o->fd < 0)
        return 0;
    while (n) {
        size_t k = MIN(n, o->cap - o->len);
        memcpy(o->buf + o->len, p, k);
        o->len += k;
        p = (const uint8_t *)p + k;
        n -= k;
        if (o->len == o->cap) {
            int rc = out_flush(o);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int write_metas(struct out *o, struct meta m, uint8_t *page)
{
    /* The snapshot as commit T in its own slot, and again as T - 1 in the other. */
    txnid_t t = m.txnid;
    m.nwritten = 0; /* the copy is synced before it is renamed into place */
    for (unsigned slot = 0; slot < NUM_METAS; slot++) {
        m.txnid = (t % NUM_METAS == slot) ? t : t - 1;
        meta_encode(&m, NULL, page);
        int rc = out_write(o, page, m.page_size);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- Checking the source ---------------------------------------------------- */

/*
 * Before either copy writes anything, the snapshot is checked whole
 * (check.c): every page's checksum, every tree's structure. A copy made of
 * a damaged file would carry the damage under fresh checksums, where no
 * check could find it again; so a copy of one fails, naming what is wrong.
 * The check also tells which pages hold something (used[p] = 1); the plain
 * copy reads those and writes zeros for the rest, which may be holes in
 * the file (reading a hole of a full tmpfs through the map is SIGBUS).
 * It costs a fraction of the copy: the check reads what the copy reads.
 */
static void note_page(void *ctx, pgno_t pgno, uint64_t n, const char *role, const char *tree)
{
    uint8_t *used = ctx;
    (void)tree;
    if (strcmp(role, "free") != 0)
        memset(used + pgno, 1, (size_t)n);
}

static int check_source(larch_txn *txn, uint8_t *used)
{
    larch_check_report rep;
    struct check_hooks hooks = { .page = note_page, .ctx = used, .skip_decompression = true };
    int rc = check_run(txn, &rep, &hooks);
    if (rc == LARCH_CORRUPT)
        return error_detail(rc, "the copy stopped: %s%s", rep.message[0],
                            rep.problems > 1 ? " (and more: see larch_check)" : "");
    return rc;
}

/* ---- Plain copy ----------------------------------------------------------- */

static int copy_plain(larch_txn *txn, struct out *o, uint8_t *page, const uint8_t *used)
{
    int rc = write_metas(o, txn->meta, page);
    memset(page, 0, txn->page_size);
    for (pgno_t p = NUM_METAS; p < txn->meta.npages && rc == 0;) {
        pgno_t n = 1;
        if (!used[p]) {
            rc = out_write(o, page, txn->page_size);
        } else {
            while (p + n < txn->meta.npages && used[p + n] && n < 256)
                n++;
            rc = out_write(o, txn->map + (p << txn->page_shift), (size_t)(n << txn->page_shift));
        }
        p += n;
    }
    return rc;
}

/* ---- Compacting copy: a bottom-up builder --------------------------------- */

struct level {
    uint8_t *page;        /* being filled */
    uint8_t lower[LARCH_MAX_KEY_SIZE]; /* the key that leads to it (branch levels) */
    size_t lowerlen;
    uint64_t flushed;     /* pages of this level written so far */
};

struct builder {
    larch_txn *txn;
    struct out *o;
    uint32_t ps;
    pgno_t next;          /* the next page number of the new file */
    struct level lv[MAX_DEPTH];
    int top;              /* highest level in use */
    struct tree *t;       /* the new tree's descriptor */
    const struct tree *src; /* the tree being copied */
    uint8_t last[LARCH_MAX_KEY_SIZE]; /* the last key of the last leaf written */
    size_t lastlen;
    uint8_t *run;         /* room for one overflow run */
    size_t runcap;
    uint8_t *scratch;     /* one page: a branch page is laid out anew when its prefix shortens */
};

/* Write a finished page under the next number. */
static int emit(struct builder *b, uint8_t *p, size_t len)
{
    pg_set_pgno(p, b->next);
    pg_set_txnid(p, b->txn->meta.txnid);
    put32(p, page_checksum(p, len));
    b->next += len / b->ps;
    return out_write(b->o, p, len);
}

static int add_branch(struct builder *b, int l, const uint8_t *key, size_t klen, pgno_t child);

/* Write level l's page and hand it to the level above. */
static int flush_level(struct builder *b, int l)
{
    struct level *lv = &b->lv[l];
    pgno_t pgno = b->next;
    int rc = emit(b, lv->page, b->ps);
    if (rc)
        return rc;
    lv->flushed++;
    if (l == 0)
        b->t->leaf_pages++;
    else
        b->t->branch_pages++;
    unsigned type = pg_type(lv->page);
    node_init(lv->page, type, 0, b->ps);
    if (l == MAX_DEPTH - 1)
        return LARCH_CORRUPT;
    return add_branch(b, l + 1, lv->lower, lv->lowerlen, pgno);
}

static int add_branch(struct builder *b, int l, const uint8_t *key, size_t klen, pgno_t child)
{
    struct level *lv = &b->lv[l];
    uint8_t e[BRANCH_ENTRY_HEADER + LARCH_MAX_KEY_SIZE];
    if (l > b->top) {
        b->top = l;
        node_init(lv->page, PAGE_BRANCH, 0, b->ps);
        lv->flushed = 0;
    }
    bool first = pg_nkeys(lv->page) == 0;
    unsigned size = node_make_branch_entry(e, child, key, first ? 0 : klen);
    if (!first && !node_insert(lv->page, b->ps, b->scratch, pg_nkeys(lv->page), e, size)) {
        int rc = flush_level(b, l);
        if (rc)
            return rc;
        first = true;
        size = node_make_branch_entry(e, child, key, 0);
    }
    if (first) {
        memcpy(lv->lower, key, klen);
        lv->lowerlen = klen;
        node_insert(lv->page, b->ps, b->scratch, 0, e, size);
    }
    return 0;
}

/* Copy the dictionary of src under the next page number, which it returns; emit stamps its header anew. */
static int copy_dict(struct builder *b, const struct tree *src, pgno_t *newpgno)
{
    const uint8_t *data = NULL;
    int rc = page_get_dict(b->txn, src->dict_pgno, src->dict_size, &data);
    if (rc)
        return rc;
    size_t len = (size_t)(dict_run_pages(src->dict_size, b->ps) * b->ps);
    *newpgno = b->next;
    if (b->o->fd < 0) {
        b->next += len / b->ps;
        return 0;
    }
    if (b->runcap < len) {
        uint8_t *r = realloc(b->run, len);
        if (!r)
            return ENOMEM;
        b->run = r;
        b->runcap = len;
    }
    memcpy(b->run, data - PAGE_HEADER_SIZE, len);
    return emit(b, b->run, len);
}

/*
 * Copy the overflow run a leaf entry names under the next page number,
 * which it returns: byte for byte, so the checksum the entry carries still
 * holds, and still finds any damage the run had.
 */
static int copy_overflow_run(struct builder *b, const uint8_t *entry, pgno_t *newpgno)
{
    const uint8_t *data = NULL;
    uint64_t n = overflow_pages(leaf_vsize(entry), b->ps);
    int rc = page_get_overflow(b->txn, leaf_big_pgno(entry), leaf_vsize(entry), leaf_big_checksum(entry), &data);
    if (rc)
        return rc;
    *newpgno = b->next;
    b->next += n;
    return out_write(b->o, data, (size_t)(n * b->ps)); /* nothing, with no file to write (fd < 0) */
}

/*
 * Add one leaf entry of 'size' bytes (its overflow run first, renumbered)
 * to the leaf being filled; k is its key.
 */
static int add_entry_raw(struct builder *b, const uint8_t *src, unsigned size, const larch_val *k)
{
    uint8_t e[LARCH_MAX_KEY_SIZE + 64 + PAGE_HEADER_SIZE];
    int rc = 0;
    if (size > sizeof e)
        return CORRUPT();
    memcpy(e, src, size);
    if (leaf_flags(src) & ENTRY_BIG) {
        pgno_t newpgno;
        rc = copy_overflow_run(b, src, &newpgno);
        if (rc)
            return rc;
        put64(e + leaf_header_size(src) + leaf_ksize(src), newpgno);
        b->t->overflow_pages += overflow_pages(leaf_vsize(src), b->ps);
    }
    struct level *lv = &b->lv[0];
    if (!node_insert(lv->page, b->ps, NULL, pg_nkeys(lv->page), e, size)) {
        rc = flush_level(b, 0);
        if (rc)
            return rc;
        node_insert(lv->page, b->ps, NULL, 0, e, size);
    }
    if (pg_nkeys(lv->page) == 1) {
        /* A new leaf: its lower bound is the shortest separator from the
         * previous leaf's last key (none for the first leaf). */
        size_t c = 0;
        if (lv->flushed == 0 && b->top == 0) {
            lv->lowerlen = 0;
        } else {
            const uint8_t *kd = k->data;
            while (c < b->lastlen && c < k->size && b->last[c] == kd[c])
                c++;
            lv->lowerlen = MIN(c + 1, k->size);
            memcpy(lv->lower, kd, lv->lowerlen);
        }
    }
    memcpy(b->last, k->data, k->size);
    b->lastlen = k->size;
    b->t->entries++;
    return 0;
}

static int add_entry(struct builder *b, const uint8_t *src_leaf, unsigned idx)
{
    larch_val k;
    int rc = bt_read_entry(b->txn, b->src, src_leaf, idx, &k, NULL); /* the entry's bounds */
    if (rc)
        return rc;
    const uint8_t *src = pg_entry(src_leaf, idx);
    return add_entry_raw(b, src, leaf_entry_size(src), &k);
}

/* Close every level: the one level left with a single page and nothing above is the root. */
static int build_finish(struct builder *b)
{
    if (pg_nkeys(b->lv[0].page) == 0 && b->top == 0 && b->lv[0].flushed == 0)
        return 0; /* an empty tree */
    for (int l = 0;; l++) {
        struct level *lv = &b->lv[l];
        bool root = l == b->top && lv->flushed == 0;
        if (root) {
            b->t->root = b->next;
            b->t->depth = (uint32_t)l + 1;
            if (l == 0)
                b->t->leaf_pages++;
            else
                b->t->branch_pages++;
            return emit(b, lv->page, b->ps);
        }
        if (pg_nkeys(lv->page) > 0) {
            int rc = flush_level(b, l);
            if (rc)
                return rc;
        }
    }
}

static void build_start(struct builder *b, struct tree *t)
{
    b->t = t;
    b->top = 0;
    b->lastlen = 0;
    b->lv[0].flushed = 0;
    node_init(b->lv[0].page, PAGE_LEAF, 0, b->ps);
}

/* Rebuild tree src into the new file; dst receives its new descriptor. */
static int build_tree(struct builder *b, const struct tree *src, struct tree *dst)
{
    struct path path;
    *dst = *src;
    dst->root = 0;
    dst->depth = 0;
    dst->entries = dst->branch_pages = dst->leaf_pages = dst->overflow_pages = 0;
    build_start(b, dst);
    b->src = src;
    int rc = 0;
    if (src->dict_pgno) /* the dictionary first: it never changes */
        rc = copy_dict(b, src, &dst->dict_pgno);
    if (rc == 0)
        rc = bt_edge(b->txn, src, &path, false);
    while (rc == 0) {
        int leaf = path.depth - 1;
        const uint8_t *p = path.page[leaf];
        for (unsigned i = path.idx[leaf]; i < pg_nkeys(p) && rc == 0; i++)
            rc = add_entry(b, p, i);
        path.idx[leaf] = pg_nkeys(p) - 1;
        if (rc == 0)
            rc = bt_step(b->txn, src, &path, true);
    }
    if (rc != LARCH_NOTFOUND)
        return rc;
    rc = build_finish(b);
    if (rc == 0 && dst->entries != src->entries)
        rc = CORRUPT(); /* the source's counts disagree with what it holds */
    return rc;
}

/* Every tree of the snapshot into the new file, in a fixed order. */
static int build_all(struct builder *b, struct meta *m)
{
    larch_txn *txn = b->txn;
    *m = txn->meta;
    memset(&m->trees[TREE_FREE], 0, sizeof m->trees[TREE_FREE]);
    b->next = NUM_METAS;
    int rc = build_tree(b, &txn->meta.trees[TREE_MAIN], &m->trees[TREE_MAIN]);
    if (rc)
        return rc;
    /* Named buckets, in catalog order; then the catalog with their new roots. */
    struct tree *cat = &txn->meta.trees[TREE_CATALOG];
    struct tree newcat = *cat;
    newcat.root = 0;
    newcat.depth = 0;
    newcat.entries = newcat.branch_pages = newcat.leaf_pages = newcat.overflow_pages = 0;
    size_t n = (size_t)cat->entries, i = 0;
    struct tree *bt = calloc(n ? n : 1, sizeof *bt);
    if (!bt)
        return ENOMEM;
    struct path path;
    rc = bt_edge(txn, cat, &path, false);
    while (rc == 0 && i < n) {
        larch_val k, v;
        struct tree src;
        rc = bt_read_entry(txn, cat, path.page[path.depth - 1], path.idx[path.depth - 1], &k, &v);
        if (rc == 0)
            rc = catalog_record_decode(v.data, v.size, txn->meta.npages, &src);
        if (rc == 0)
            rc = build_tree(b, &src, &bt[i++]);
        if (rc == 0)
            rc = bt_step(txn, cat, &path, true);
    }
    if (rc == 0 || rc == LARCH_NOTFOUND)
        rc = i == n ? 0 : CORRUPT();
    /* The catalog: same keys, records carrying the new descriptors. */
    build_start(b, &newcat);
    b->src = cat;
    i = 0;
    if (rc == 0)
        rc = bt_edge(txn, cat, &path, false);
    while (rc == 0 && i < n) {
        larch_val k;
        uint8_t e[LEAF_ENTRY_HEADER + MAX_BUCKET_NAME + CATALOG_RECORD_SIZE];
        rc = bt_read_entry(txn, cat, path.page[path.depth - 1], path.idx[path.depth - 1], &k, NULL);
        if (rc || k.size > MAX_BUCKET_NAME) {
            rc = rc ? rc : CORRUPT();
            break;
        }
        /* The same key, the record rewritten with the new descriptor. */
        e[0] = e[1] = 0;
        put16(e + 2, (uint16_t)k.size);
        put32(e + 4, CATALOG_RECORD_SIZE);
        memcpy(e + LEAF_ENTRY_HEADER, k.data, k.size);
        catalog_record_encode(&bt[i++], e + LEAF_ENTRY_HEADER + k.size);
        rc = add_entry_raw(b, e, LEAF_ENTRY_HEADER + (unsigned)k.size + CATALOG_RECORD_SIZE, &k);
        if (rc == 0)
            rc = bt_step(txn, cat, &path, true);
    }
    if (rc == LARCH_NOTFOUND)
        rc = 0;
    if (rc == 0)
        rc = build_finish(b);
    m->trees[TREE_CATALOG] = newcat;
    m->npages = b->next;
    free(bt);
    return rc;
}

static int copy_compact(larch_txn *txn, struct out *o, uint8_t *page)
{
    struct builder b = { .txn = txn, .ps = txn->page_size };
    struct out dry = { .fd = -1 };
    struct meta m, m2;
    int rc = (b.scratch = malloc(b.ps)) ? 0 : ENOMEM;
    for (int l = 0; l < MAX_DEPTH && rc == 0; l++)
        if (!(b.lv[l].page = malloc(b.ps)))
            rc = ENOMEM;
    if (rc == 0) {
        b.o = &dry;
        rc = build_all(&b, &m);
    }
    if (rc == 0)
        rc = write_metas(o, m, page);
    if (rc == 0) {
        b.o = o;
        rc = build_all(&b, &m2);
    }
    if (rc == 0 && memcmp(&m, &m2, sizeof m) != 0)
        rc = CORRUPT(); /* the two passes must agree */
    for (int l = 0; l < MAX_DEPTH; l++)
        free(b.lv[l].page);
    free(b.run);
    free(b.scratch);
    return rc;
}

/* ---- The public functions ------------------------------------------------- */

#define COPY_BUFFER (1u << 20)

static int copy_to(larch_db *db, int fd, unsigned flags)
{
    larch_txn *txn;
    if (flags & ~LARCH_COPY_COMPACT)
        return error_detail(LARCH_INVALID, "larch_copy: unknown flags 0x%x", flags & ~LARCH_COPY_COMPACT);
    int rc = larch_begin(db, LARCH_RDONLY, &txn);
    if (rc)
        return rc;
    struct out o = { .fd = fd, .buf = malloc(COPY_BUFFER), .cap = COPY_BUFFER };
    uint8_t *page = malloc(txn->page_size), *used = calloc((size_t)txn->meta.npages, 1);
    if (!o.buf || !page || !used)
        rc = ENOMEM;
    if (rc == 0)
        rc = check_source(txn, used);
    if (rc == 0)
        rc = (flags & LARCH_COPY_COMPACT) ? copy_compact(txn, &o, page) : copy_plain(txn, &o, page, used);
    if (rc == 0)
        rc = out_flush(&o);
    free(o.buf);
    free(page);
    free(used);
    larch_abort(txn);
    return rc;
}

LARCH_API int larch_copy_fd(larch_db *db, int fd, unsigned flags)
{
    if (!db || fd < 0)
        return api_result(error_detail(LARCH_INVALID, "larch_copy_fd: a NULL handle or a negative descriptor"));
    return api_result(copy_to(db, fd, flags));
}

static int copy_file(larch_db *db, const char *path, unsigned flags)
{
    static atomic_uint counter;
    if (!db || !path || !*path)
        return error_detail(LARCH_INVALID, "larch_copy: a NULL or empty argument");
    if (flags & ~LARCH_COPY_COMPACT)
        return error_detail(LARCH_INVALID, "larch_copy: unknown flags 0x%x", flags & ~LARCH_COPY_COMPACT);
    if (access(path, F_OK) == 0)
        return EEXIST;
    size_t n = strlen(path) + 64;
    char *tmp = malloc(n);
    if (!tmp)
        return ENOMEM;
    snprintf(tmp, n, "%s.%ld.%u.tmp", path, (long)getpid(), atomic_fetch_add(&counter, 1));
    int fd, rc = os_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644, &fd);
    if (rc == 0) {
        rc = copy_to(db, fd, flags);
        if (rc == 0)
            rc = os_sync(fd);
        os_close(fd);
        if (rc == 0)
            rc = os_link(tmp, path); /* EEXIST if the name was taken meanwhile */
        os_unlink(tmp);
        if (rc == 0)
            rc = os_sync_dir_of(path);
    }
    free(tmp);
    return rc;
}

LARCH_API int larch_copy(larch_db *db, const char *path, unsigned flags)
{
    return api_result(copy_file(db, path, flags));
}

static int gather_info(larch_db *db, struct larch_info *info)
{
    larch_txn *txn;
    struct path path;
    if (!db || !info)
        return error_detail(LARCH_INVALID, "larch_info: a NULL argument");
    int rc = larch_begin(db, LARCH_RDONLY, &txn);
    if (rc)
        return rc;
    memset(info, 0, sizeof *info);
    rc = os_file_size(db->fd, &info->file_size);
    info->map_size = txn->map_size;
    info->page_size = txn->page_size;
    info->last_txnid = txn->meta.txnid;
    info->last_pgno = txn->meta.npages - 1;
    info->readers = atomic_load(&db->active_readers) - 1; /* not this one */
    info->buckets = txn->meta.trees[TREE_CATALOG].entries;
    info->discarded_txnid = db->discarded_txnid;
    /* Free pages: the records of the free tree, one step per record. */
    struct tree *ft = &txn->meta.trees[TREE_FREE];
    int wrc = rc ? rc : bt_edge(txn, ft, &path, false);
    while (wrc == 0) {
        larch_val k, v;
        wrc = bt_read_entry(txn, ft, path.page[path.depth - 1], path.idx[path.depth - 1], &k, &v);
        for (size_t i = 0; wrc == 0 && i < v.size / 8; i++)
            info->free_pages += get64((const uint8_t *)v.data + 8 * i) != 0;
        if (wrc == 0)
            wrc = bt_step(txn, ft, &path, true);
    }
    if (rc == 0 && wrc != LARCH_NOTFOUND)
        rc = wrc;
    larch_abort(txn);
    return rc;
}

LARCH_API int larch_info(larch_db *db, struct larch_info *out)
{
    return api_result(gather_info(db, out));
}
