/*
 * lz4enc.c - an LZ4 block encoder that searches a dictionary for the
 * longest matches.
 *
 * Why our own: liblz4's fast compressor keeps one candidate position per
 * hash, so against a dictionary of records it takes the first short match
 * it meets. A 1 KiB JSON record then becomes ~123 sequences, and LZ4 decodes
 * at a roughly fixed cost per sequence (~2 ns hot): decoding was half of a
 * get of a compressed value. Following hash chains through the dictionary
 * (as LZ4HC does, which cannot attach a prepared dictionary in Debian's
 * liblz4 without re-hashing it for every value) finds matches of several
 * fields or words: ~65 sequences per record (LZ4HC at level 9: ~57), half
 * the decode time, 229 bytes instead of 398, at ~2 us a record (before the
 * cut below). The chains are built once per dictionary.
 *
 * The parse is greedy: at each position the longest match among the latest
 * earlier position of the value with the same 6-byte hash, up to LONG_DEPTH
 * dictionary positions whose first 12 bytes hash alike, and, when those gave
 * no match of 12 bytes, up to CHAIN_DEPTH positions by their first 6.
 * Positions without a match step on faster the longer no match turns up,
 * so incompressible data costs little.
 *
 * A match of PIECE_MAX + 1 .. SPLIT_MAX bytes is cut to PIECE_MAX and the
 * search goes on where it was cut (finding the rest of it, or a longer
 * match). liblz4's decoder copies a match of 4..18 bytes with fixed-size
 * copies and takes a slower path with more branches for a longer one;
 * which path a sequence takes is what the CPU cannot predict, and over
 * records it has not seen that costs more than a sequence. Measured on
 * the bench's 20,000 JSON records, decoded in random order, in one
 * process alternating the variants (two runs): with chain depths of 4
 * and no cut, 64.5 sequences a record, 229.4 bytes, encode 2.19-2.22 us,
 * decode 399-408 ns; with the cut and depths of 2, 70.3 sequences, 235.0
 * bytes, 2.03-2.04 us, 339-345 ns (depths of 4 with the cut: 227.4 bytes
 * but 2.40 us; depths of 2 without it: 369 ns). Longer matches stay
 * whole: cut, a run of zeros would no longer compress 255:1, and their
 * decode time is spread over many bytes.
 *
 * Every match is checked against the bytes at hand (src and the dict
 * passed in), so an index that no longer fits its dictionary costs
 * compression, never correctness.
 *
 * The block obeys LZ4's end rules: the last match starts at least 12 bytes
 * before the end (MFLIMIT) and the last 5 bytes are literals (LASTLITERALS).
 */
#include "lz4enc.h"

#define MIN_MATCH 6       /* a match shorter than the hashed bytes is not looked for */
#define LONG_DEPTH 2      /* dictionary candidates tried per position, by 12 bytes */
#define CHAIN_DEPTH 2     /* and by 6, when those gave no match of 12 */
#define MFLIMIT 12        /* no match starts in the last 12 bytes */
#define LAST_LITERALS 5   /* nor covers the last 5 */
#define MAX_OFFSET 65535u /* an LZ4 offset is 16 bits */
#define SKIP_SHIFT 6      /* after 64 positions without a match, step by 2, ... */
#define PIECE_MAX 18      /* the longest match liblz4 decodes on its fast path */
#define SPLIT_MAX 36      /* matches up to this long are cut to PIECE_MAX */

/* A hash of the 6 bytes at p (8 readable): get64 reads little-endian, so the shift drops the last two. */
static inline uint32_t hash6(const uint8_t *p)
{
    uint64_t v = get64(p);
    return (uint32_t)(((v << 16) * 0xcf1bbcdcb7a56463ull) >> (64 - LZ4ENC_HASH_BITS));
}

/* A hash of the 12 bytes at p. */
static inline uint32_t hash12(const uint8_t *p)
{
    uint64_t v = get64(p) * 0x9e3779b185ebca87ull ^ (uint64_t)get32(p + 8) * 0xc2b2ae3d27d4eb4full;
    return (uint32_t)((v ^ (v >> 29)) * 0xcf1bbcdcb7a56463ull >> (64 - LZ4ENC_HASH_BITS));
}

/* How many bytes from a equal those from b, a stopping at a_end; b + (a_end - a) must be readable. */
static inline size_t common_length(const uint8_t *a, const uint8_t *b, const uint8_t *a_end)
{
    const uint8_t *start = a;
    while (a + 8 <= a_end) {
        /* Read little-endian, the first differing byte is the lowest set one. */
        uint64_t x = get64(a) ^ get64(b);
        if (x)
            return (size_t)(a - start) + (size_t)__builtin_ctzll(x) / 8;
        a += 8;
        b += 8;
    }
    while (a < a_end && *a == *b) {
        a++;
        b++;
    }
    return (size_t)(a - start);
}

LARCH_INTERNAL void lz4enc_index(struct lz4enc *e, pgno_t pgno, const uint8_t *dict, size_t size)
{
    assert(size <= DICT_SIZE);
    e->dict_pgno = pgno;
    e->dict_size = size;
    if (size)
        memcpy(e->dict_copy, dict, size);
    memset(e->dict_head, 0, sizeof e->dict_head);
    memset(e->long_head, 0, sizeof e->long_head);
    for (size_t s = 0; s + 12 <= size; s++) {
        uint32_t h = hash6(dict + s);
        e->dict_chain[s] = e->dict_head[h];
        e->dict_head[h] = (uint16_t)(s + 1);
        h = hash12(dict + s);
        e->long_chain[s] = e->long_head[h];
        e->long_head[h] = (uint16_t)(s + 1);
    }
    memset(e->value_head, 0, sizeof e->value_head);
    e->value_base = 1;
}

struct match {
    size_t len;
    size_t offset;
};

/* Try up to depth dictionary positions of a chain from head for a match longer than best. */
static void walk_chain(const struct lz4enc *e, const uint8_t *dict, const uint8_t *p, const uint8_t *end, size_t i,
                       uint32_t head, const uint16_t *chain, unsigned depth, struct match *best)
{
    size_t dsize = e->dict_size;
    for (uint32_t c = head; c && depth; c = chain[c - 1], depth--) {
        size_t s = c - 1;
        size_t offset = dsize - s + i;
        if (offset > MAX_OFFSET)
            break; /* the chain only goes further back */
        size_t room = MIN((size_t)(end - p), dsize - s);
        /* Only a match longer than the best can matter: test its last byte first. */
        if (best->len >= room || dict[s + best->len] != p[best->len])
            continue;
        size_t len = common_length(p, dict + s, p + room);
        if (len > best->len) {
            best->len = len;
            best->offset = offset;
        }
    }
}

/* The longest match for src[i..] (i <= n - MFLIMIT) among the indexed positions. */
static struct match find_match(struct lz4enc *e, uint32_t base, const uint8_t *dict, const uint8_t *src, size_t n,
                               size_t i)
{
    struct match best = { 0, 0 };
    const uint8_t *end = src + n - LAST_LITERALS;
    uint32_t h = hash6(src + i);
    uint32_t seen = e->value_head[h];
    e->value_head[h] = base + (uint32_t)i;
    if (seen >= base) {
        size_t j = seen - base;
        if (j < i && i - j <= MAX_OFFSET && get32(src + j) == get32(src + i)) {
            best.len = common_length(src + i, src + j, end);
            best.offset = i - j;
        }
    }
    walk_chain(e, dict, src + i, end, i, e->long_head[hash12(src + i)], e->long_chain, LONG_DEPTH, &best);
    if (best.len < 12)
        walk_chain(e, dict, src + i, end, i, e->dict_head[h], e->dict_chain, CHAIN_DEPTH, &best);
    return best;
}

/* LZ4's length continuation: 255s, then the rest. */
static uint8_t *put_length(uint8_t *op, size_t len)
{
    for (; len >= 255; len -= 255)
        *op++ = 255;
    *op++ = (uint8_t)len;
    return op;
}

/* One sequence: literals, then a match (len 0: the block's last literals, no match). */
static uint8_t *put_sequence(uint8_t *op, const uint8_t *lit, size_t nlit, size_t offset, size_t len)
{
    uint8_t *token = op++;
    size_t ml = len ? len - 4 : 0;
    *token = (uint8_t)((MIN(nlit, 15u) << 4) | MIN(ml, 15u));
    if (nlit >= 15)
        op = put_length(op, nlit - 15);
    memcpy(op, lit, nlit);
    op += nlit;
    if (len) {
        *op++ = (uint8_t)offset;
        *op++ = (uint8_t)(offset >> 8);
        if (ml >= 15)
            op = put_length(op, ml - 15);
    }
    return op;
}

/* The most a sequence can take: token, lengths, literals, offset. */
static size_t sequence_bound(size_t nlit, size_t len)
{
    return 1 + nlit / 255 + 1 + nlit + 2 + len / 255 + 1;
}

LARCH_INTERNAL size_t lz4enc_block(struct lz4enc *e, const uint8_t *dict, const uint8_t *src, size_t n,
                                   uint8_t *dst, size_t cap)
{
    /* Positions of this value are stored as base + i (n < 2^31); the next
     * value's base lies above them, whether or not this one is finished. */
    if (e->value_base > UINT32_MAX / 2) {
        memset(e->value_head, 0, sizeof e->value_head);
        e->value_base = 1;
    }
    uint32_t base = e->value_base;
    e->value_base += (uint32_t)n + 1;
    uint8_t *op = dst, *op_end = dst + cap;
    size_t anchor = 0, i = 0, misses = 0;
    while (n >= MFLIMIT + 1 && i <= n - MFLIMIT) {
        struct match m = find_match(e, base, dict, src, n, i);
        if (m.len < MIN_MATCH) {
            i += 1 + (misses++ >> SKIP_SHIFT);
            continue;
        }
        if (m.len > PIECE_MAX && m.len <= SPLIT_MAX)
            m.len = PIECE_MAX;
        if (sequence_bound(i - anchor, m.len) > (size_t)(op_end - op))
            return 0;
        op = put_sequence(op, src + anchor, i - anchor, m.offset, m.len);
        i += m.len;
        anchor = i;
        misses = 0;
    }
    if (sequence_bound(n - anchor, 0) > (size_t)(op_end - op))
        return 0;
    op = put_sequence(op, src + anchor, n - anchor, 0, 0);
    return (size_t)(op - dst);
}
