/*
 * format.h - the larch file format, byte by byte, and the helpers that read
 * and write it. Nothing else in larch knows where a field lives on disk.
 *
 * THE FILE
 *
 * A larch file is an array of pages of one size P, a power of two from 1024
 * to 65536 chosen when the file is created. Page N starts at byte N * P. All
 * integers are little-endian. Pages 0 and 1 are the two meta pages; every
 * other page in use is a branch, leaf or overflow page of one of the trees,
 * or free. The file may be longer than the pages in use (it grows in steps);
 * the bytes past the last page in use mean nothing.
 *
 * PAGE HEADER (the first 32 bytes of every page)
 *
 *   OFFSET SIZE DESCRIPTION
 *      0     4  checksum: CRC32C of bytes 4 .. end of the page (for a
 *               dictionary run: of bytes 4 .. end of the whole run), except
 *               that a branch or leaf page leaves out its free middle,
 *               bytes 32 + 6 * nkeys .. upper - 1, which mean nothing: its
 *               checksum is the CRC32C of bytes 4 .. 32 + 6 * nkeys - 1
 *               followed by bytes upper .. end of the page
 *      4     1  type: 1 meta, 2 branch, 3 leaf, 4 dictionary run
 *      5     1  branch, leaf: prefix, the number of leading bytes (0..255)
 *               that every key of the page shares (not counting a branch's
 *               empty entry 0); it need not be the longest such prefix.
 *               A branch page keeps the prefix's bytes at its end and
 *               stores its keys without them (see Branch entry).
 *               Other pages: 0
 *      6     2  nkeys: number of entries (branch and leaf pages), else 0
 *      8     8  pgno: the page's own number; a page found at another
 *               number than the one it names is damaged
 *     16     8  txnid: the transaction that wrote the page
 *     24     4  branch, leaf: upper, the offset where the entry heap starts
 *               dictionary run: npages, the number of pages in the run
 *     28     4  branch, leaf: frag, bytes of dead space inside the heap
 *               dictionary run: 0
 *
 *   The pages of an overflow run (below) are the one exception: they hold
 *   a value's bytes and nothing else, no header.
 *
 * BRANCH AND LEAF PAGES (slotted pages)
 *
 *   After the header comes the slot array: nkeys 6-byte slots, one per
 *   entry, in key order:
 *      0     2  the entry's offset in the page
 *      2     4  the key's head: its four bytes after the page's prefix,
 *               key[prefix] .. key[prefix+3], as a big-endian number stored
 *               like every other field (little-endian), a byte past the
 *               key's end counting as 0. 0 for a branch's entry 0.
 *   A search compares heads, which lie together in a few cache lines, and
 *   reads a key only when its head ties with the searched key's: heads
 *   never contradict key order. Four bytes, not two, because keys made of
 *   digits or text vary little per byte: a get among 1M 16-digit decimal
 *   keys (depth 4) read 15.9 keys with two-byte heads, 7.8 with four. The entries themselves are
 *   packed at the end of the page (a branch's: below its prefix bytes),
 *   growing down towards the slots; 'upper'
 *   is the lowest entry offset. Deleting an entry adds its size to 'frag';
 *   the page is compacted when an insert needs the space.
 *   Free space = upper - (32 + 6 * nkeys) + frag.
 *
 *   Leaf entry, in one of two forms. The short one (4-byte header) serves
 *   keys up to 255 bytes with values up to 65535; the long one anything:
 *      0     1  flags: bit 0 (ENTRY_BIG) the value lives in an overflow run;
 *               bit 1 (ENTRY_LZ4) the value is compressed: its bytes are a
 *               4-byte original length, then an LZ4 block;
 *               bit 2 (ENTRY_DICT) with ENTRY_LZ4: compressed against the
 *               bucket's dictionary;
 *               bit 7 (ENTRY_SHORT) the short form
 *   short form:
 *      1     1  ksize, 1 .. 255
 *      2     2  vsize, the value's length in bytes
 *      4     k  the key
 *   long form:
 *      1     1  reserved, 0
 *      2     2  ksize, 1 .. max key size
 *      4     4  vsize, the value's length in bytes
 *      8     k  the key
 *   then     v  the value; or, with ENTRY_BIG, 12 bytes (BIG_REF_SIZE):
 *               8 the first page of the overflow run holding the value,
 *               4 the run's checksum (see OVERFLOW RUNS)
 *
 *   Branch entry (entry i leads to the subtree of keys >= key i and
 *   < key i+1; entry 0 has an empty key and stands for "everything below
 *   key 1"):
 *      0     8  child page number
 *      8     2  ksize: the length of the key less the page prefix (0 for
 *               entry 0, and for a key that is the prefix itself)
 *     10     k  the key's bytes after the prefix. The key is a separator:
 *               it need not be a key of the tree.
 *   A branch page stores its prefix once, in its last 'prefix' bytes
 *   (P - prefix .. P - 1): the heap ends below them, and the full key of
 *   entry i >= 1 is those bytes followed by the entry's. Its heads are the
 *   first four bytes of the stored part. Separators of neighbouring pages
 *   share long prefixes (of 1M 16-digit keys, the 14 leading digits), so
 *   this holds about twice the entries per branch page, which keeps trees
 *   shallow and the pages a commit copies few. Leaf pages keep their keys
 *   whole (their prefix only places the heads), because a cursor hands out
 *   a pointer to the key in the page, valid for the whole transaction.
 *
 *   Every entry of a leaf or branch takes at most max_entry = ((P - 32) / 2)
 *   bytes including its slot, so any two entries fit in one page and a split
 *   always succeeds. A leaf value is inline when its entry fits that bound,
 *   else it goes to an overflow run.
 *
 * OVERFLOW RUNS
 *
 *   A run of npages = ceil(vsize / P) contiguous pages holding one value:
 *   the value's bytes from the run's first byte, then zeros to the end of
 *   its last page. No header: the leaf entry that names the run knows its
 *   length, and carries its checksum, the CRC32C of all npages * P bytes.
 *   A value of a whole number of pages (4, 8, 16 KiB ...) so takes exactly
 *   those pages, where a header would have cost it one more page (a 16 KiB
 *   value: 5 pages, 25% more file and 25% more bytes to write). A checksum
 *   kept in the parent also catches a run that was never written or was
 *   written elsewhere, which one kept in the run cannot.
 *
 * META PAGES (pages 0 and 1)
 *
 *   Transaction T writes meta page T % 2, so the previous commit's meta page
 *   is never overwritten by the next commit. Open reads both and uses the
 *   valid one with the highest txnid; a torn or stale meta page is simply
 *   the older one. After the header (type 1, pgno 0 or 1, txnid):
 *     32     4  magic: the bytes 'L' 'R' 'C' 'H' (0x4843524c)
 *     36     4  format version: 6. Version 5 gave overflow runs a page
 *               header and leaf entries 8-byte references to them (the
 *               checksum in the run), version 4 stored branch keys whole,
 *               version 3 had no written list, version 2 4-byte slots with
 *               2-byte heads, version 1 2-byte slots and no heads; files of
 *               those versions (none released) are refused
 *     40     4  page size P
 *     44     4  flags: 0 (reserved)
 *     48     8  txnid (again; must equal the header's)
 *     56     8  npages: pages in use; every page number referenced is lower
 *     64    48  main tree: the default key space (bucket 0)
 *    112    48  catalog tree: named buckets (below)
 *    160    48  free tree: free-space records (below)
 *    208     8  the sequence counter of bucket 0
 *    216     4  nwritten: 0, or the number (1..64) of page runs listed
 *               below, which this commit wrote together with this meta
 *               page before a single sync (see ONE-SYNC COMMITS)
 *    220     4  reserved, 0
 *    224  12*n  the written list: per run,
 *                 6 bytes its first page number,
 *                 2 bytes 0 for a page or run with a header; for an
 *                   overflow run (no header), its length in pages
 *                   (at most ONE_SYNC_MAX_BYTES / P, so it fits),
 *                 4 bytes its checksum (a header's offset 0, or the one
 *                   the leaf entry carries for an overflow run)
 *      -     -  zero up to the end of the page; the checksum covers it
 *
 * ONE-SYNC COMMITS
 *
 *   A commit with nwritten 0 synced its pages before it wrote its meta page,
 *   so a meta page that reached the disk whole has its tree there too. A
 *   small commit (at most 64 runs and ONE_SYNC_MAX_BYTES) saves that first
 *   sync: it writes its pages and its meta page, then syncs once. A power
 *   loss can then leave the meta page on disk without some of the pages
 *   (the disk may write in any order), so open trusts such a meta page only
 *   if every listed run is in the file, names its page number and this
 *   txnid, and carries the listed checksum, which must match its bytes (an
 *   overflow run names nothing: its bytes must match the listed checksum).
 *   Otherwise the commit never completed (it was not acknowledged: its sync
 *   did not return) and open uses the other meta page, the previous commit,
 *   whose pages this commit could not have overwritten. A writable open then
 *   zeroes the incomplete meta page, so that the next commit, which reuses
 *   its txnid and likely its pages, cannot be mistaken for it.
 *
 *   Tree descriptor (48 bytes):
 *      0     8  root page, 0 for an empty tree
 *      8     8  entries
 *     16     8  branch pages
 *     24     8  leaf pages
 *     32     8  overflow pages (of overflow runs; a dictionary's not counted)
 *     40     4  depth: 0 for an empty tree, 1 for a root leaf, ...
 *     44     4  flags: bit 0 (TREE_LZ4) values are compressed when it pays
 *
 * CATALOG TREE
 *
 *   The named buckets: key = the bucket's name (1..255 bytes of UTF-8, no
 *   NUL), value = a 96-byte record:
 *      0    48  the bucket's tree descriptor (as above)
 *     48     8  the bucket's sequence counter
 *     56     8  value bytes before compression (TREE_LZ4 buckets)
 *     64     8  value bytes as stored (TREE_LZ4 buckets)
 *     72     8  the first page of the bucket's LZ4 dictionary, 0 for none
 *     80     4  the dictionary's length in bytes
 *     84    12  reserved, 0
 *
 * LZ4 DICTIONARY
 *
 *   Once a TREE_LZ4 bucket holds DICT_SIZE bytes of values, its first values
 *   (up to DICT_SIZE bytes) are frozen as its dictionary: a dictionary run
 *   (a run of pages with the header above, type 4, npages at offset 24;
 *   the dictionary's bytes from offset 32). Later values compress
 *   against it (ENTRY_DICT); values stored before stay readable as they
 *   are. A dictionary never changes while its bucket exists.
 *
 * FREE TREE
 *
 *   A B+tree of the same page format. Each entry records pages that became
 *   free: key = 20 bytes, big-endian so memcmp orders them,
 *      0     8  free_txnid: the pages may be reused once no reader and
 *               neither meta page can reach a snapshot older than this
 *               transaction (0: at once)
 *      8     8  the transaction that wrote the record
 *     16     4  a sequence number within that transaction
 *   value = an array of 8-byte page numbers, ascending; 0 entries are
 *   padding and mean nothing.
 */
#ifndef LARCH_FORMAT_H
#define LARCH_FORMAT_H

#include "internal.h"

#define LARCH_MAGIC 0x4843524cu
#define LARCH_FORMAT_VERSION 6u
#define LARCH_FORMAT_VERSION_OLDEST 6u /* the oldest version read */

#define PAGE_HEADER_SIZE 32u
#define MIN_PAGE_SIZE 1024u
#define MAX_PAGE_SIZE 65536u
#define DEFAULT_PAGE_SIZE 4096u
#define NUM_METAS 2u
#define MAX_DEPTH 48 /* deeper than any real tree: a deeper one has a loop */

enum page_type { PAGE_META = 1, PAGE_BRANCH = 2, PAGE_LEAF = 3, PAGE_DICT = 4 };

#define ENTRY_BIG 0x01u
#define ENTRY_LZ4 0x02u
#define ENTRY_DICT 0x04u
#define TREE_LZ4 0x01u
#define CATALOG_RECORD_SIZE 96u
#define DICT_SIZE (32u * 1024)
#define MAX_BUCKET_NAME 255u
#define LEAF_ENTRY_HEADER 8u /* the long form: the most a leaf entry header takes */
#define LEAF_SHORT_HEADER 4u
#define ENTRY_SHORT 0x80u
#define BRANCH_ENTRY_HEADER 10u
#define SLOT_SIZE 6u
#define MAX_PREFIX 255u
#define BIG_REF_SIZE 12u /* an ENTRY_BIG value: run page number, run checksum */

#define META_MAGIC_OFF 32u
#define META_VERSION_OFF 36u
#define META_PAGESIZE_OFF 40u
#define META_FLAGS_OFF 44u
#define META_TXNID_OFF 48u
#define META_NPAGES_OFF 56u
#define META_TREES_OFF 64u
#define TREE_DESC_SIZE 48u
#define META_SEQUENCE_OFF 208u
#define META_NWRITTEN_OFF 216u
#define META_END 224u /* the fixed fields; the written list follows */
#define META_WRITTEN_ENTRY 12u
#define WRITTEN_PGNO_BITS 48 /* the rest of the 8 bytes: an overflow run's length */
#define META_WRITTEN_MAX 64u /* fits the smallest page: 224 + 64 * 12 <= 1024 */
/* The most a one-sync commit writes (runs included): what open reads back
 * to trust its meta page. */
#define ONE_SYNC_MAX_BYTES (1024u * 1024)

#define FREE_KEY_SIZE 20u

/* ---- Little-endian and big-endian fields, at any alignment ------------- */

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

static inline uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, 4);
}

static inline uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void put64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

/* 4 or 8 bytes at p as a big-endian number: comparing two of them
 * compares the bytes. (get32/get64 read little-endian on any host.) */
static inline uint32_t get32be(const uint8_t *p) { return __builtin_bswap32(get32(p)); }
static inline uint64_t get64be(const uint8_t *p) { return __builtin_bswap64(get64(p)); }

static inline void put64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* ---- Page header ------------------------------------------------------- */

static inline uint32_t pg_checksum(const uint8_t *p) { return get32(p); }
static inline unsigned pg_type(const uint8_t *p) { return p[4]; }
static inline unsigned pg_nkeys(const uint8_t *p) { return get16(p + 6); }
static inline pgno_t pg_pgno(const uint8_t *p) { return get64(p + 8); }
static inline txnid_t pg_txnid(const uint8_t *p) { return get64(p + 16); }
static inline uint32_t pg_upper(const uint8_t *p) { return get32(p + 24); }
static inline uint32_t pg_frag(const uint8_t *p) { return get32(p + 28); }
static inline uint32_t pg_npages(const uint8_t *p) { return get32(p + 24); }

static inline unsigned pg_prefix(const uint8_t *p) { return p[5]; }

static inline void pg_set_type(uint8_t *p, unsigned t) { p[4] = (uint8_t)t; p[5] = 0; }
static inline void pg_set_prefix(uint8_t *p, unsigned n) { p[5] = (uint8_t)n; }
static inline void pg_set_nkeys(uint8_t *p, unsigned n) { put16(p + 6, (uint16_t)n); }
static inline void pg_set_pgno(uint8_t *p, pgno_t n) { put64(p + 8, n); }
static inline void pg_set_txnid(uint8_t *p, txnid_t t) { put64(p + 16, t); }
static inline void pg_set_upper(uint8_t *p, uint32_t u) { put32(p + 24, u); }
static inline void pg_set_frag(uint8_t *p, uint32_t f) { put32(p + 28, f); }
static inline void pg_set_npages(uint8_t *p, uint32_t n) { put32(p + 24, n); }

/* The slot array and entries of a branch or leaf page. */
static inline unsigned pg_slot(const uint8_t *p, unsigned i) { return get16(p + PAGE_HEADER_SIZE + SLOT_SIZE * i); }
static inline void pg_set_slot(uint8_t *p, unsigned i, unsigned off) { put16(p + PAGE_HEADER_SIZE + SLOT_SIZE * i, (uint16_t)off); }
static inline unsigned pg_head(const uint8_t *p, unsigned i)
{
    return get32(p + PAGE_HEADER_SIZE + SLOT_SIZE * i + 2);
}
static inline void pg_set_head(uint8_t *p, unsigned i, unsigned head)
{
    put32(p + PAGE_HEADER_SIZE + SLOT_SIZE * i + 2, head);
}
static inline uint8_t *pg_entry(const uint8_t *p, unsigned i) { return (uint8_t *)p + pg_slot(p, i); }
static inline unsigned pg_lower(const uint8_t *p) { return PAGE_HEADER_SIZE + SLOT_SIZE * pg_nkeys(p); }

/* The bytes a page keeps at its end for its prefix: a branch's prefix (see
 * BRANCH AND LEAF PAGES); a leaf keeps its keys whole and none. */
static inline unsigned pg_prefix_bytes(const uint8_t *p) { return pg_type(p) == PAGE_BRANCH ? pg_prefix(p) : 0; }
static inline uint32_t pg_heap_end(const uint8_t *p, uint32_t ps) { return ps - pg_prefix_bytes(p); }

/* ---- Entries ----------------------------------------------------------- */

static inline bool leaf_is_short(const uint8_t *e) { return (e[0] & ENTRY_SHORT) != 0; }
static inline unsigned leaf_header_size(const uint8_t *e) { return leaf_is_short(e) ? LEAF_SHORT_HEADER : LEAF_ENTRY_HEADER; }
static inline unsigned leaf_flags(const uint8_t *e) { return e[0] & (unsigned)~ENTRY_SHORT; }
static inline unsigned leaf_ksize(const uint8_t *e) { return leaf_is_short(e) ? e[1] : get16(e + 2); }
static inline uint32_t leaf_vsize(const uint8_t *e) { return leaf_is_short(e) ? get16(e + 2) : get32(e + 4); }
static inline const uint8_t *leaf_key(const uint8_t *e) { return e + leaf_header_size(e); }
static inline uint8_t *leaf_value(uint8_t *e) { return e + leaf_header_size(e) + leaf_ksize(e); }
static inline pgno_t leaf_big_pgno(const uint8_t *e) { return get64(e + leaf_header_size(e) + leaf_ksize(e)); }
static inline uint32_t leaf_big_checksum(const uint8_t *e) { return get32(e + leaf_header_size(e) + leaf_ksize(e) + 8); }
/* The bytes a leaf entry's value part takes in the page. */
static inline uint32_t leaf_stored_vsize(const uint8_t *e) { return (leaf_flags(e) & ENTRY_BIG) ? BIG_REF_SIZE : leaf_vsize(e); }

/* The header size a leaf entry with these sizes gets: the short form where it fits. */
static inline unsigned leaf_header_for(size_t ksize, uint64_t vsize)
{
    return ksize <= 0xff && vsize <= 0xffff ? LEAF_SHORT_HEADER : LEAF_ENTRY_HEADER;
}

/*
 * Write the header of a leaf entry (flags without ENTRY_SHORT; vsize the
 * value's length) in the shortest form that holds it; returns its size.
 */
static inline unsigned leaf_put_header(uint8_t *e, unsigned flags, size_t ksize, uint32_t vsize)
{
    if (leaf_header_for(ksize, vsize) == LEAF_SHORT_HEADER) {
        e[0] = (uint8_t)(flags | ENTRY_SHORT);
        e[1] = (uint8_t)ksize;
        put16(e + 2, (uint16_t)vsize);
        return LEAF_SHORT_HEADER;
    }
    e[0] = (uint8_t)flags;
    e[1] = 0;
    put16(e + 2, (uint16_t)ksize);
    put32(e + 4, vsize);
    return LEAF_ENTRY_HEADER;
}

/* Bytes a leaf entry occupies in the heap (without its slot). */
static inline unsigned leaf_entry_size(const uint8_t *e)
{
    return leaf_header_size(e) + leaf_ksize(e) + leaf_stored_vsize(e);
}

static inline pgno_t branch_child(const uint8_t *e) { return get64(e); }
static inline void branch_set_child(uint8_t *e, pgno_t c) { put64(e, c); }
static inline unsigned branch_ksize(const uint8_t *e) { return get16(e + 8); }
static inline const uint8_t *branch_key(const uint8_t *e) { return e + BRANCH_ENTRY_HEADER; }
static inline unsigned branch_entry_size(const uint8_t *e) { return BRANCH_ENTRY_HEADER + branch_ksize(e); }

static inline unsigned entry_size(const uint8_t *page, const uint8_t *e)
{
    return pg_type(page) == PAGE_LEAF ? leaf_entry_size(e) : branch_entry_size(e);
}

/* ---- Sizes that follow from the page size ------------------------------ */

/* The largest entry, slot included, that a branch or leaf page accepts. */
static inline unsigned max_entry_size(uint32_t page_size) { return ((page_size - PAGE_HEADER_SIZE) / 2) & ~1u; }

/* Whether a leaf entry with these sizes keeps its value inline (else in an
 * overflow run). Decided on the long header, whichever form it gets. */
static inline bool leaf_value_inline(uint32_t page_size, size_t ksize, uint64_t vsize)
{
    return SLOT_SIZE + LEAF_ENTRY_HEADER + ksize + vsize <= max_entry_size(page_size);
}

/* The longest key a file with this page size accepts. */
static inline unsigned max_key_size(uint32_t page_size)
{
    unsigned fit = max_entry_size(page_size) - SLOT_SIZE - LEAF_ENTRY_HEADER - BIG_REF_SIZE;
    return fit < LARCH_MAX_KEY_SIZE ? fit : LARCH_MAX_KEY_SIZE;
}

/* Pages of an overflow run for a value of vsize bytes (no header). */
static inline uint64_t overflow_pages(uint64_t vsize, uint32_t page_size)
{
    return (vsize + page_size - 1) / page_size;
}

/* Pages of a dictionary run of size bytes (after its page header). */
static inline uint64_t dict_run_pages(uint64_t size, uint32_t page_size)
{
    return (PAGE_HEADER_SIZE + size + page_size - 1) / page_size;
}

/* ---- Keys -------------------------------------------------------------- */

/* memcmp order, the shorter key first on a tie. */
static inline int key_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return (alen > blen) - (alen < blen);
}

/*
 * key_compare, inline and a word at a time (searches call it on every
 * probe), also giving the index of the first byte where the keys differ
 * (the shorter length when one is a prefix of the other).
 */
static inline int key_compare_at(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, size_t *diff)
{
    size_t n = alen < blen ? alen : blen, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x = get64be(a + i), y = get64be(b + i);
        if (x != y) {
            *diff = i + (size_t)(__builtin_clzll(x ^ y) >> 3);
            return x < y ? -1 : 1;
        }
    }
    for (; i < n; i++) {
        if (a[i] != b[i]) {
            *diff = i;
            return a[i] < b[i] ? -1 : 1;
        }
    }
    *diff = n;
    return (alen > blen) - (alen < blen);
}

/* The head of a key under a page prefix of pfx bytes (see SLOT above). */
static inline unsigned key_head(const uint8_t *k, size_t klen, unsigned pfx)
{
    if (pfx + 4 <= klen)
        return get32be(k + pfx);
    unsigned h = 0;
    for (size_t i = pfx; i < pfx + 4; i++)
        h = h << 8 | (i < klen ? k[i] : 0);
    return h;
}

/* ---- Checksums (crc32c.c) ---------------------------------------------- */

LARCH_INTERNAL uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* The ways crc32c.c computes it, slowest first; crc32c() takes the last
 * one the CPU can run. crc32c_with() runs the one named, which must be one
 * crc32c_can() allows (else: an illegal instruction); tests hold each to
 * the textbook CRC. */
enum crc32c_impl {
    CRC32C_SOFT,    /* tables, 8 bytes a step */
    CRC32C_CHAIN,   /* the SSE4.2 crc32 instruction, one chain */
    CRC32C_STRIPES, /* three chains joined with PCLMULQDQ */
    CRC32C_FOLD,    /* AVX-512 VPCLMULQDQ folding */
    CRC32C_IMPLS
};
LARCH_INTERNAL bool crc32c_can(enum crc32c_impl impl);
LARCH_INTERNAL uint32_t crc32c_with(enum crc32c_impl impl, uint32_t crc, const void *data, size_t len);

/*
 * The checksum a page or dictionary run of 'len' bytes should carry (see
 * PAGE HEADER): a branch or leaf page's free middle is left out, which
 * spares the writer reading a third of each page it writes. A header whose
 * bounds are nonsense gets the whole page summed, and fails to match.
 */
static inline uint32_t page_checksum(const uint8_t *p, size_t len)
{
    unsigned type = pg_type(p);
    if (type == PAGE_BRANCH || type == PAGE_LEAF) {
        size_t lower = pg_lower(p), upper = pg_upper(p);
        if (lower <= upper && upper <= len)
            return crc32c(crc32c(0, p + 4, lower - 4), p + upper, len - upper);
    }
    return crc32c(0, p + 4, len - 4);
}

/* The checksum an overflow run of 'len' bytes (whole pages) should match:
 * all of its bytes, kept in the leaf entry that names it. */
static inline uint32_t run_checksum(const uint8_t *run, size_t len) { return crc32c(0, run, len); }

#endif /* LARCH_FORMAT_H */
