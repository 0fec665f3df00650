/*
 * compress.c - LZ4 compression of values.
 */
#include "compress.h"

#include <lz4.h>
#include <stdlib.h>

LARCH_INTERNAL int value_pack(struct wstate *w, const void *val, size_t vlen, const void **out, size_t *outlen,
                              unsigned *eflags)
{
    *out = val;
    *outlen = vlen;
    *eflags = 0;
    if (vlen < LZ4_MIN_VALUE || vlen > LZ4_MAX_INPUT_SIZE)
        return 0;
    /* Worth it only below this size: otherwise the reader's decompression
     * buys nothing. LZ4 gives up (returns 0) when it cannot fit. */
    size_t limit = vlen - vlen / 32 - 4;
    if (w->zcap < limit + 4) {
        uint8_t *z = realloc(w->zbuf, limit + 4);
        if (!z)
            return ENOMEM;
        w->zbuf = z;
        w->zcap = limit + 4;
    }
    int n = LZ4_compress_default(val, (char *)w->zbuf + 4, (int)vlen, (int)limit);
    if (n <= 0)
        return 0;
    put32(w->zbuf, (uint32_t)vlen);
    *out = w->zbuf;
    *outlen = (size_t)n + 4;
    *eflags = ENTRY_LZ4;
    return 0;
}

LARCH_INTERNAL int value_unpack_into(const uint8_t *stored, size_t len, uint8_t *buf, size_t raw)
{
    if (len < 4 || len - 4 > (size_t)INT32_MAX || raw > (size_t)LZ4_MAX_INPUT_SIZE)
        return CORRUPT();
    int n = LZ4_decompress_safe((const char *)stored + 4, (char *)buf, (int)(len - 4), (int)raw);
    return n >= 0 && (size_t)n == raw ? 0 : CORRUPT();
}

LARCH_INTERNAL int value_unpack(larch_txn *txn, const uint8_t *stored, size_t len, larch_val *out)
{
    uint64_t raw = 0;
    int rc = value_raw_length(stored, len, &raw);
    if (rc)
        return rc;
    if (raw == 0 || raw > LZ4_MAX_INPUT_SIZE)
        return CORRUPT();
    uint8_t *buf = txn_arena_alloc(txn, (size_t)raw);
    if (!buf)
        return ENOMEM;
    rc = value_unpack_into(stored, len, buf, (size_t)raw);
    if (rc)
        return rc;
    out->data = buf;
    out->size = (size_t)raw;
    return 0;
}
