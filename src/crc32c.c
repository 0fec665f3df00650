/*
 * crc32c.c - CRC32C (the Castagnoli polynomial), the checksum of every page.
 *
 * On x86-64 with SSE4.2 the CPU's crc32 instruction does 8 bytes a step
 * (three chains at once where PCLMULQDQ can join them);
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
#include <immintrin.h>

/*
 * The crc32 instruction takes 3 cycles but can start every cycle, so one
 * chain of them runs at a third of the speed the CPU allows. A buffer of
 * 192 bytes or more goes in rounds of three equal stripes (a multiple of
 * BLOCK bytes each, at most MAX_BLOCKS blocks), each its own chain; the
 * three results are then joined by "shifting" the first two over the bytes
 * that follow them. Pages rarely checksum a round 4 KiB (the free middle
 * is left out), so the stripe length follows the buffer's.
 *
 * Shifting a CRC register c over n zero bytes is c * x^(8n) mod P. One
 * carry-less multiply of c by K = x^(8n - 33) mod P and one crc32 of the
 * 64-bit product does it: the multiply of two bit-reflected values gives
 * c * K * x, and the crc32 instruction multiplies by x^32 and reduces.
 */
#define BLOCK 64u
#define MAX_BLOCKS 21u /* 3 x 21 x 64 = 4032 bytes a round */

static uint32_t shift_k[2 * MAX_BLOCKS + 1]; /* [i]: K for shifting over i * BLOCK bytes */
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

/* x^m mod P, bit-reflected, one multiplication by x at a time (built once). */
static void shift_k_build(void)
{
    uint32_t v = 0x80000000u; /* x^0 */
    uint64_t m = 0;
    for (unsigned i = 1; i <= 2 * MAX_BLOCKS; i++) {
        for (; m < 8ull * BLOCK * i - 33; m++)
            v = (v & 1) ? (v >> 1) ^ CRC32C_POLY : v >> 1;
        shift_k[i] = v;
    }
}

__attribute__((target("sse4.2,pclmul"))) static uint32_t crc_shift(uint32_t c, uint32_t k)
{
    __m128i product = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)c), _mm_cvtsi32_si128((int)k), 0);
    return (uint32_t)__builtin_ia32_crc32di(0, (uint64_t)_mm_cvtsi128_si64(product));
}

__attribute__((target("sse4.2"))) static uint64_t crc_chain(uint64_t c, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        c = __builtin_ia32_crc32di(c, v);
    }
    for (size_t i = len & ~(size_t)7; i < len; i++)
        c = __builtin_ia32_crc32qi((uint32_t)c, p[i]);
    return c;
}

__attribute__((target("sse4.2,pclmul"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    if (len >= 3 * BLOCK)
        pthread_once(&shift_once, shift_k_build);
    while (len >= 3 * BLOCK) {
        size_t blocks = MIN(len / (3 * BLOCK), (size_t)MAX_BLOCKS), stripe = blocks * BLOCK;
        uint64_t c1 = 0, c2 = 0, a, b, d;
        for (size_t i = 0; i < stripe; i += 8) {
            memcpy(&a, p + i, 8);
            memcpy(&b, p + stripe + i, 8);
            memcpy(&d, p + 2 * stripe + i, 8);
            c = __builtin_ia32_crc32di(c, a);
            c1 = __builtin_ia32_crc32di(c1, b);
            c2 = __builtin_ia32_crc32di(c2, d);
        }
        c = crc_shift((uint32_t)c, shift_k[2 * blocks]) ^ crc_shift((uint32_t)c1, shift_k[blocks]) ^ (uint32_t)c2;
        p += 3 * stripe;
        len -= 3 * stripe;
    }
    return (uint32_t)crc_chain(c, p, len);
}
#endif

LARCH_INTERNAL uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul"))
        return ~crc32c_hw(crc, p, len);
    if (__builtin_cpu_supports("sse4.2"))
        return ~(uint32_t)crc_chain(crc, p, len);
#endif
    return ~crc32c_soft(crc, p, len);
}
