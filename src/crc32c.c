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

/*
 * v * x^n mod P, one multiplication by x at a time, in the crc32
 * instruction's bit-reflected form (bit 31 is x^0, so x^0 is 0x80000000).
 * Only for constants built once.
 */
#define X_POW_0 0x80000000u

static uint32_t times_xpow(uint32_t v, uint64_t n)
{
    while (n--)
        v = (v & 1) ? (v >> 1) ^ CRC32C_POLY : v >> 1;
    return v;
}

/* shift_k[i] = x^(8 * BLOCK * i - 33) mod P, each from the one before. */
static void shift_k_build(void)
{
    uint32_t v = X_POW_0;
    uint64_t m = 0;
    for (unsigned i = 1; i <= 2 * MAX_BLOCKS; i++) {
        uint64_t target = 8ull * BLOCK * i - 33;
        v = times_xpow(v, target - m);
        m = target;
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

/*
 * With AVX-512 and VPCLMULQDQ, folding beats the crc32 instruction, which
 * does at most 8 bytes a cycle however many chains run: one carry-less
 * multiply does four 64x32-bit products, and four 64-byte accumulators
 * keep the multipliers busy. A page's checksum took ~95 ns (5% of a
 * random put) with the three chains above.
 *
 * The bytes are read as polynomials in the bit-reflected order of the
 * crc32 instruction: in a 128-bit lane, bit i is the coefficient of
 * x^(127-i). A lane A = A_hi x^64 + A_lo that T bits of data follow (up
 * to the lane it is folded into) is worth A x^T, which mod P is
 * A_hi (x^(T+64) mod P) + A_lo (x^T mod P): two products of fewer than
 * 128 bits. The multiply of two reflected operands yields its product
 * times x, so the constants are x^(T+63) and x^(T-1) mod P. At the end
 * one lane stands for everything folded so far as its last 16 bytes; the
 * crc32 instruction takes those and the tail. The running CRC enters by
 * being xor-ed into the first four bytes (what the instruction does too).
 */
struct fold_k {
    uint64_t hi, lo; /* reflected x^(T+63) and x^(T-1) mod P, in the top 32 bits */
};

enum { FOLD_2048, FOLD_512, FOLD_384, FOLD_256, FOLD_128, FOLD_COUNT };
static const unsigned fold_bits[FOLD_COUNT] = { 2048, 512, 384, 256, 128 };
static struct fold_k fold_k[FOLD_COUNT];
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

static void fold_k_build(void)
{
    for (int i = 0; i < FOLD_COUNT; i++)
        fold_k[i] = (struct fold_k){ .hi = (uint64_t)times_xpow(X_POW_0, fold_bits[i] + 63) << 32,
                                     .lo = (uint64_t)times_xpow(X_POW_0, fold_bits[i] - 1) << 32 };
}

#define FOLD_TARGET __attribute__((target("sse4.2,pclmul,avx512f,avx512vl,vpclmulqdq")))

/* x worth T bits later, xor-ed with the lanes there (k: T's constants in every lane). */
FOLD_TARGET static inline __m512i fold512(__m512i x, __m512i k, __m512i there)
{
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00), _mm512_clmulepi64_epi128(x, k, 0x11),
                                     there, 0x96);
}

FOLD_TARGET static inline __m128i fold128(__m128i x, const struct fold_k *k, __m128i there)
{
    __m128i kk = _mm_set_epi64x((long long)k->lo, (long long)k->hi);
    return _mm_ternarylogic_epi64(_mm_clmulepi64_si128(x, kk, 0x00), _mm_clmulepi64_si128(x, kk, 0x11), there,
                                  0x96);
}

FOLD_TARGET static __m512i fold_k512(const struct fold_k *k)
{
    return _mm512_set_epi64((long long)k->lo, (long long)k->hi, (long long)k->lo, (long long)k->hi,
                            (long long)k->lo, (long long)k->hi, (long long)k->lo, (long long)k->hi);
}

#define FOLD_MIN 256u /* shorter buffers: the chains above, without the set-up */

FOLD_TARGET static uint32_t crc32c_fold(uint32_t crc, const uint8_t *p, size_t len)
{
    pthread_once(&fold_once, fold_k_build);
    __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(p), _mm512_castsi128_si512(_mm_cvtsi32_si128((int)crc)));
    __m512i x1 = _mm512_loadu_si512(p + 64), x2 = _mm512_loadu_si512(p + 128), x3 = _mm512_loadu_si512(p + 192);
    p += 256;
    len -= 256;
    __m512i k = fold_k512(&fold_k[FOLD_2048]);
    for (; len >= 256; p += 256, len -= 256) {
        x0 = fold512(x0, k, _mm512_loadu_si512(p));
        x1 = fold512(x1, k, _mm512_loadu_si512(p + 64));
        x2 = fold512(x2, k, _mm512_loadu_si512(p + 128));
        x3 = fold512(x3, k, _mm512_loadu_si512(p + 192));
    }
    k = fold_k512(&fold_k[FOLD_512]);
    x1 = fold512(x0, k, x1);
    x2 = fold512(x1, k, x2);
    x3 = fold512(x2, k, x3);
    for (; len >= 64; p += 64, len -= 64)
        x3 = fold512(x3, k, _mm512_loadu_si512(p));
    /* The four lanes into the last one. */
    __m128i f = _mm512_extracti32x4_epi32(x3, 3);
    f = fold128(_mm512_extracti32x4_epi32(x3, 0), &fold_k[FOLD_384], f);
    f = fold128(_mm512_extracti32x4_epi32(x3, 1), &fold_k[FOLD_256], f);
    f = fold128(_mm512_extracti32x4_epi32(x3, 2), &fold_k[FOLD_128], f);
    uint64_t c = __builtin_ia32_crc32di(0, (uint64_t)_mm_cvtsi128_si64(f));
    c = __builtin_ia32_crc32di(c, (uint64_t)_mm_extract_epi64(f, 1));
    return (uint32_t)crc_chain(c, p, len);
}
#endif

/* Whether this CPU can run impl. */
LARCH_INTERNAL bool crc32c_can(enum crc32c_impl impl)
{
    switch (impl) {
    case CRC32C_SOFT:
        return true;
#if defined(__x86_64__)
    case CRC32C_CHAIN:
        return __builtin_cpu_supports("sse4.2");
    case CRC32C_STRIPES:
        return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul");
    case CRC32C_FOLD:
        return crc32c_can(CRC32C_STRIPES) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("vpclmulqdq");
#endif
    default:
        return false;
    }
}

LARCH_INTERNAL uint32_t crc32c_with(enum crc32c_impl impl, uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
#if defined(__x86_64__)
    if (impl == CRC32C_FOLD && len < FOLD_MIN)
        impl = CRC32C_STRIPES;
    if (impl == CRC32C_FOLD)
        return ~crc32c_fold(crc, p, len);
    if (impl == CRC32C_STRIPES)
        return ~crc32c_hw(crc, p, len);
    if (impl == CRC32C_CHAIN)
        return ~(uint32_t)crc_chain(crc, p, len);
#endif
    return ~crc32c_soft(crc, p, len);
}

/* The fastest this CPU has, chosen once (the CPU does not change). */
static enum crc32c_impl best = CRC32C_IMPLS;

LARCH_INTERNAL uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
    enum crc32c_impl impl = __atomic_load_n(&best, __ATOMIC_RELAXED);
    if (UNLIKELY(impl == CRC32C_IMPLS)) {
        impl = CRC32C_SOFT;
        for (enum crc32c_impl i = CRC32C_SOFT; i < CRC32C_IMPLS; i++)
            if (crc32c_can(i))
                impl = i;
        __atomic_store_n(&best, impl, __ATOMIC_RELAXED);
    }
    return crc32c_with(impl, crc, data, len);
}
