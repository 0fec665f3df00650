/*
 * lz4enc.h - an LZ4 block encoder that searches a dictionary for the
 * longest matches, so that readers decode few sequences.
 *
 * The output is a standard LZ4 block (lz4_Block_format.md): liblz4's
 * LZ4_decompress_safe_usingDict reads it with the same dictionary, whether
 * the dictionary lies just before the output (prefix) or elsewhere.
 */
#ifndef LARCH_LZ4ENC_H
#define LARCH_LZ4ENC_H

#include "internal.h"

#include "format.h"

#define LZ4ENC_HASH_BITS 14
#define LZ4ENC_DICT_MAX 65535u /* dictionary positions are 16-bit */

#if DICT_SIZE > LZ4ENC_DICT_MAX
#error "the encoder's dictionary index holds 16-bit positions"
#endif

/*
 * The index of one dictionary (hash chains over every position), and of
 * the value being encoded (the latest position per hash). Built once per
 * dictionary and reused for every value encoded against it.
 */
struct lz4enc {
    pgno_t dict_pgno;    /* the dictionary indexed (its first page), 0: none */
    size_t dict_size;
    uint8_t dict_copy[DICT_SIZE]; /* its bytes: to tell it again in a later txn */
    uint32_t value_base; /* value_head entries below this are stale */
    /* Dictionary positions by a hash of their first 6 and first 12 bytes:
     * 1 + the latest position (0: none), and a chain to earlier ones. */
    uint16_t dict_head[1u << LZ4ENC_HASH_BITS];
    uint16_t dict_chain[DICT_SIZE];
    uint16_t long_head[1u << LZ4ENC_HASH_BITS];
    uint16_t long_chain[DICT_SIZE];
    uint32_t value_head[1u << LZ4ENC_HASH_BITS];
};

/* Index dict (size bytes, at most DICT_SIZE; may be 0) under the name pgno. */
LARCH_INTERNAL void lz4enc_index(struct lz4enc *e, pgno_t pgno, const uint8_t *dict, size_t size);

/*
 * Encode src (n bytes) as one LZ4 block against the dictionary last indexed,
 * whose bytes are dict (the same bytes; the address may differ). Returns the
 * block's length, or 0 when it would not fit in cap bytes.
 */
LARCH_INTERNAL size_t lz4enc_block(struct lz4enc *e, const uint8_t *dict, const uint8_t *src, size_t n,
                                   uint8_t *dst, size_t cap);

#endif /* LARCH_LZ4ENC_H */
