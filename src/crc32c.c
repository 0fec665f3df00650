/*
 * crc32c.c - CRC32C (the Castagnoli polynomial), the checksum of every page.
 *
 * On x86-64 with SSE4.2 the CPU's crc32 instruction does 8 bytes a step;
 * elsewhere a table-driven loop ("slicing by 8") does the same work in
 * software. Both give the standard CRC32C (the one iSCSI and ext4 use).
 */
#include "format.h"

#include <pthread.h>

#define CRC32C_POLY 0x82f63b78u /* reflected 0x1edc6f41 */

static uint32_t crc_table[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void crc_table_build(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int t = 1; t < 8; t++)
            crc_table[t][n] = (crc_table[t - 1][n] >> 8) ^ crc_table[0][crc_table[t - 1][n] & 0xff];
}

static uint32_t crc32c_soft(uint32_t crc, const uint8_t *p, size_t len)
{
    pthread_once(&crc_table_once, crc_table_build);
    while (len && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint32_t lo = get32(p) ^ crc, hi = get32(p + 4);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
              crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return crc;
}

#if defined(__x86_64__)
/*
 * The crc32 instruction takes 3 cycles but can start every cycle, so one
 * chain of them runs at a third of the speed the CPU allows. Long buffers
 * go in rounds of three STRIPE-byte stripes, each its own chain; the three
 * results are joined by "shifting" the first two over the bytes that
 * follow them. A shift over a fixed length is linear in the 32-bit CRC, so
 * it is four table lookups per byte of CRC (tables built once).
 */
#define STRIPE 1360u /* 3 stripes = 4080: one round covers a 4 KiB page */

static uint32_t shift_table[2][4][256]; /* [0]: over STRIPE bytes, [1]: over 2 * STRIPE */
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static uint32_t crc_zeros(uint32_t c, size_t len)
{
    uint64_t v = c;
    for (size_t i = 0; i < len / 8; i++)
        v = __builtin_ia32_crc32di(v, 0);
    return (uint32_t)v;
}

static void shift_tables_build(void)
{
    for (int s = 0; s < 2; s++) {
        uint32_t basis[32];
        for (int bit = 0; bit < 32; bit++)
            basis[bit] = crc_zeros(1u << bit, (size_t)STRIPE * (s + 1));
        for (int byte = 0; byte < 4; byte++)
            for (uint32_t v = 0; v < 256; v++) {
                uint32_t r = 0;
                for (int bit = 0; bit < 8; bit++)
                    if (v & (1u << bit))
                        r ^= basis[byte * 8 + bit];
                shift_table[s][byte][v] = r;
            }
    }
}

static uint32_t shift(int s, uint32_t c)
{
    return shift_table[s][0][c & 0xff] ^ shift_table[s][1][(c >> 8) & 0xff] ^ shift_table[s][2][(c >> 16) & 0xff] ^
           shift_table[s][3][c >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    while (len && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        len--;
    }
    if (len >= 3 * STRIPE)
        pthread_once(&shift_once, shift_tables_build);
    while (len >= 3 * STRIPE) {
        uint64_t c1 = 0, c2 = 0, a, b, d;
        for (size_t i = 0; i < STRIPE; i += 8) {
            memcpy(&a, p + i, 8);
            memcpy(&b, p + STRIPE + i, 8);
            memcpy(&d, p + 2 * STRIPE + i, 8);
            c = __builtin_ia32_crc32di(c, a);
            c1 = __builtin_ia32_crc32di(c1, b);
            c2 = __builtin_ia32_crc32di(c2, d);
        }
        c = shift(1, (uint32_t)c) ^ shift(0, (uint32_t)c1) ^ (uint32_t)c2;
        p += 3 * STRIPE;
        len -= 3 * STRIPE;
    }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

LARCH_INTERNAL uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2"))
        return ~crc32c_hw(crc, p, len);
#endif
    return ~crc32c_soft(crc, p, len);
}
