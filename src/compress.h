/*
 * compress.h - LZ4 values of TREE_LZ4 buckets.
 *
 * The writer compresses a value when that saves at least 1/32 of it; the
 * stored bytes are then a 4-byte original length and an LZ4 block, and the
 * leaf entry carries ENTRY_LZ4. Readers decompress into memory owned by
 * their transaction. Keys are never compressed: their order is memcmp's.
 */
#ifndef LARCH_COMPRESS_H
#define LARCH_COMPRESS_H

#include "pager.h"

/* Values shorter than this are stored as they are: too little to gain. */
#define LZ4_MIN_VALUE 64u

/* Read transactions decode values up to this size next to a copy of the
 * dictionary, from their ZWIN_AFTER_GETS-th such get on (compress.c). */
#define ZWIN_VALUE_MAX (64u * 1024)
#define ZWIN_AFTER_GETS 8u

/* A bucket's dictionary, or none (data NULL). */
struct dict {
    const uint8_t *data;
    size_t size;
    pgno_t pgno; /* where it is stored */
};

/* The dictionary of tree t, checked. */
LARCH_INTERNAL int tree_dict(larch_txn *txn, const struct tree *t, struct dict *d);

/*
 * How to store val: *out and *outlen, and ENTRY_LZ4 (| ENTRY_DICT) in
 * *eflags when it is compressed (into w's buffer, valid until the next call).
 */
LARCH_INTERNAL int value_pack(struct wstate *w, const struct dict *d, const void *val, size_t vlen,
                              const void **out, size_t *outlen, unsigned *eflags);

/* The original bytes of a stored compressed value, in the txn's memory. */
LARCH_INTERNAL int value_unpack(larch_txn *txn, unsigned eflags, const struct dict *d, const uint8_t *stored,
                                size_t len, larch_val *out);

/* Decompress into buf of exactly the original length (for the check). */
LARCH_INTERNAL int value_unpack_into(unsigned eflags, const struct dict *d, const uint8_t *stored, size_t len,
                                     uint8_t *buf, size_t raw);

/*
 * The original length recorded in a stored compressed value. An LZ4 block
 * expands at most ~255-fold (a length byte describes at most 255 bytes), so
 * a damaged length claiming more is refused before anyone allocates it.
 */
static inline int value_raw_length(const uint8_t *stored, size_t len, uint64_t *raw)
{
    if (len < 4)
        return CORRUPT();
    *raw = get32(stored);
    if (*raw > (uint64_t)(len - 4) * 255 + 64)
        return CORRUPT();
    return 0;
}

/*
 * Give an LZ4 tree its dictionary once it holds DICT_SIZE bytes of values:
 * its first values, frozen in an overflow run. A no-op otherwise.
 */
LARCH_INTERNAL int dict_maybe_build(larch_txn *txn, struct tree *t);

/* Forget the compressor's state (between transactions), and give back a
 * large buffer. */
LARCH_INTERNAL void compress_reset(struct wstate *w);
LARCH_INTERNAL void compress_free(struct wstate *w);
/* Bytes the compressor keeps between transactions. */
LARCH_INTERNAL size_t compress_kept_bytes(const struct wstate *w);

#endif /* LARCH_COMPRESS_H */
