/*
 * meta.c - meta pages: the root of everything, written last at commit.
 */
#include "meta.h"

LARCH_INTERNAL void tree_encode(const struct tree *t, uint8_t *p)
{
    put64(p + 0, t->root);
    put64(p + 8, t->entries);
    put64(p + 16, t->branch_pages);
    put64(p + 24, t->leaf_pages);
    put64(p + 32, t->overflow_pages);
    put32(p + 40, t->depth);
    put32(p + 44, t->flags);
}

LARCH_INTERNAL void tree_decode(const uint8_t *p, struct tree *t)
{
    memset(t, 0, sizeof *t);
    t->root = get64(p + 0);
    t->entries = get64(p + 8);
    t->branch_pages = get64(p + 16);
    t->leaf_pages = get64(p + 24);
    t->overflow_pages = get64(p + 32);
    t->depth = get32(p + 40);
    t->flags = get32(p + 44);
}

LARCH_INTERNAL void meta_encode(const struct meta *m, const struct written_run *runs, uint8_t *p)
{
    memset(p, 0, m->page_size);
    pg_set_type(p, PAGE_META);
    pg_set_pgno(p, m->txnid % NUM_METAS);
    pg_set_txnid(p, m->txnid);
    put32(p + META_MAGIC_OFF, LARCH_MAGIC);
    put32(p + META_VERSION_OFF, LARCH_FORMAT_VERSION);
    put32(p + META_PAGESIZE_OFF, m->page_size);
    put32(p + META_FLAGS_OFF, 0);
    put64(p + META_TXNID_OFF, m->txnid);
    put64(p + META_NPAGES_OFF, m->npages);
    for (int i = 0; i < NUM_TREES; i++)
        tree_encode(&m->trees[i], p + META_TREES_OFF + TREE_DESC_SIZE * i);
    put64(p + META_SEQUENCE_OFF, m->trees[TREE_MAIN].sequence);
    assert(m->nwritten <= META_WRITTEN_MAX);
    put32(p + META_NWRITTEN_OFF, m->nwritten);
    for (unsigned i = 0; i < m->nwritten; i++) {
        uint8_t *e = p + META_END + META_WRITTEN_ENTRY * i;
        assert(runs[i].pgno >> WRITTEN_PGNO_BITS == 0 && runs[i].bare_pages >> (64 - WRITTEN_PGNO_BITS) == 0);
        put64(e, runs[i].pgno | (uint64_t)runs[i].bare_pages << WRITTEN_PGNO_BITS);
        put32(e + 8, runs[i].checksum);
    }
    put32(p, page_checksum(p, m->page_size));
}

LARCH_INTERNAL struct written_run meta_written_run(const uint8_t *p, unsigned i)
{
    const uint8_t *e = p + META_END + META_WRITTEN_ENTRY * i;
    uint64_t v = get64(e);
    return (struct written_run){ .pgno = v & ((1ull << WRITTEN_PGNO_BITS) - 1),
                                 .bare_pages = (uint32_t)(v >> WRITTEN_PGNO_BITS),
                                 .checksum = get32(e + 8) };
}

static bool valid_page_size(uint32_t ps)
{
    return ps >= MIN_PAGE_SIZE && ps <= MAX_PAGE_SIZE && (ps & (ps - 1)) == 0;
}

static bool tree_valid(const struct tree *t, pgno_t npages)
{
    if (t->root == 0)
        return t->depth == 0 && t->entries == 0;
    return t->root >= NUM_METAS && t->root < npages && t->depth >= 1 && t->depth <= MAX_DEPTH;
}

LARCH_INTERNAL int meta_decode(const uint8_t *p, size_t len, unsigned slot, uint64_t file_size, struct meta *m)
{
    if (len < META_END || get32(p + META_MAGIC_OFF) != LARCH_MAGIC)
        return LARCH_NOTDB;
    uint32_t version = get32(p + META_VERSION_OFF);
    if (version < LARCH_FORMAT_VERSION_OLDEST || version > LARCH_FORMAT_VERSION)
        return LARCH_VERSION;
    uint32_t ps = get32(p + META_PAGESIZE_OFF);
    if (!valid_page_size(ps) || len < ps || pg_checksum(p) != page_checksum(p, ps))
        return LARCH_CORRUPT;
    memset(m, 0, sizeof *m);
    m->page_size = ps;
    m->txnid = get64(p + META_TXNID_OFF);
    m->npages = get64(p + META_NPAGES_OFF);
    for (int i = 0; i < NUM_TREES; i++)
        tree_decode(p + META_TREES_OFF + TREE_DESC_SIZE * i, &m->trees[i]);
    m->trees[TREE_MAIN].sequence = get64(p + META_SEQUENCE_OFF);
    m->nwritten = get32(p + META_NWRITTEN_OFF);
    if (m->nwritten > META_WRITTEN_MAX || get32(p + META_NWRITTEN_OFF + 4) != 0)
        return LARCH_CORRUPT;
    if (pg_type(p) != PAGE_META || pg_pgno(p) != slot || pg_txnid(p) != m->txnid ||
        m->txnid % NUM_METAS != slot || m->npages < NUM_METAS ||
        m->npages > (UINT64_MAX / ps) || (file_size && m->npages * (uint64_t)ps > file_size))
        return LARCH_CORRUPT;
    for (int i = 0; i < NUM_TREES; i++)
        if (!tree_valid(&m->trees[i], m->npages))
            return LARCH_CORRUPT;
    return 0;
}

LARCH_INTERNAL void catalog_record_encode(const struct tree *t, uint8_t *p)
{
    tree_encode(t, p);
    put64(p + 48, t->sequence);
    put64(p + 56, t->value_bytes);
    put64(p + 64, t->stored_bytes);
    put64(p + 72, t->dict_pgno);
    put32(p + 80, t->dict_size);
    memset(p + 84, 0, CATALOG_RECORD_SIZE - 84);
}

LARCH_INTERNAL int catalog_record_decode(const uint8_t *p, size_t len, pgno_t npages, struct tree *t)
{
    if (len != CATALOG_RECORD_SIZE)
        return CORRUPT();
    tree_decode(p, t);
    t->sequence = get64(p + 48);
    t->value_bytes = get64(p + 56);
    t->stored_bytes = get64(p + 64);
    t->dict_pgno = get64(p + 72);
    t->dict_size = get32(p + 80);
    if (!tree_valid(t, npages) || (t->flags & ~TREE_LZ4) || t->dict_size > DICT_SIZE ||
        (t->dict_pgno && (t->dict_pgno < NUM_METAS || t->dict_pgno >= npages || !t->dict_size)))
        return CORRUPT();
    return 0;
}

LARCH_INTERNAL int meta_choose(const int rc[2], const struct meta m[2])
{
    /* A meta page of a format this code does not read is most likely the
     * newest commit, written by newer code: opening the other one would
     * go back a commit, and the next commit here would overwrite it. */
    if (rc[0] == LARCH_VERSION || rc[1] == LARCH_VERSION)
        return LARCH_VERSION;
    if (rc[0] == 0 && rc[1] == 0)
        return m[1].txnid > m[0].txnid ? 1 : 0;
    if (rc[0] == 0)
        return 0;
    if (rc[1] == 0)
        return 1;
    /* Neither is valid: say the most telling thing. A file where either page
     * carries our magic is ours and damaged. */
    if (rc[0] == LARCH_CORRUPT || rc[1] == LARCH_CORRUPT)
        return LARCH_CORRUPT;
    return LARCH_NOTDB;
}
