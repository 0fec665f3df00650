/*
 * test_lz4enc.c - the LZ4 block encoder (src/lz4enc.c): every block decodes
 * with liblz4 to its input, with the dictionary as prefix and as external
 * dictionary; blocks keep LZ4's end rules and offset limits; a stale index
 * costs compression, not correctness; and dictionary records encode into
 * far fewer sequences than liblz4's fast compressor makes.
 */
#include "test.h"

#include "lz4enc.h"

#include <lz4.h>

#define MAX_VALUE 70000 /* past 64 KiB: offsets into the dictionary run out */

static struct lz4enc enc;
static uint8_t dict[DICT_SIZE], src[MAX_VALUE], block[MAX_VALUE + MAX_VALUE / 255 + 64];
static uint8_t out[DICT_SIZE + MAX_VALUE];

/* Bytes of one of five kinds: random, three letters, words, a 56-byte pattern repeating (long self-matches), zeros. */
static void fill(rng_t *r, uint8_t *p, size_t n, unsigned kind)
{
    static const char *const words[] = { "{\"name\":", "\"value\"", ",\"count\":", "12", "true", "},", " ok " };
    size_t i = 0;
    if (kind == 3) {
        size_t at = (size_t)rng_below(r, 4096);
        while (i < n) {
            p[i] = (uint8_t)words[(i + at) / 8 % 7][(i + at) % 2];
            i++;
        }
        return;
    }
    while (i < n) {
        if (kind == 0) {
            p[i++] = (uint8_t)rng_next(r);
        } else if (kind == 1) {
            p[i++] = (uint8_t)('a' + rng_below(r, 3));
        } else if (kind == 2) {
            const char *w = words[rng_below(r, 7)];
            while (*w && i < n)
                p[i++] = (uint8_t)*w++;
        } else {
            p[i++] = 0;
        }
    }
}

/* The bytes that continue a length of 15: 255s, then the rest; false past the end. */
static bool more_length(const uint8_t **p, const uint8_t *end, size_t *len)
{
    unsigned byte;
    do {
        if (*p >= end)
            return false;
        byte = *(*p)++;
        *len += byte;
    } while (byte == 255);
    return true;
}

/*
 * Walk a block's sequences: checks the format rules; returns the sequence
 * count, -1 if broken. Counts in *uncut (if given) the matches of 19..36
 * bytes, which lz4enc cuts to 18 for liblz4's fast path (lz4enc.c).
 */
static long walk_block(const uint8_t *b, size_t len, size_t n, size_t dsize, long *uncut)
{
    const uint8_t *p = b, *end = b + len;
    size_t produced = 0;
    long seqs = 0;
    for (;;) {
        if (p >= end)
            return -1;
        unsigned token = *p++;
        size_t lit = token >> 4;
        if (lit == 15 && !more_length(&p, end, &lit))
            return -1;
        if ((size_t)(end - p) < lit)
            return -1;
        p += lit;
        produced += lit;
        seqs++;
        if (p == end) /* the last sequence: literals only, at least the last 5 bytes */
            return produced == n && (lit >= 5 || n < 13) ? seqs : -1;
        if (end - p < 2)
            return -1;
        size_t offset = get16(p);
        p += 2;
        size_t ml = (token & 15) + 4u;
        if ((token & 15) == 15 && !more_length(&p, end, &ml))
            return -1;
        if (offset == 0 || offset > produced + dsize) /* nothing there to copy */
            return -1;
        if (produced + 12 > n || produced + ml + 5 > n) /* MFLIMIT, LASTLITERALS */
            return -1;
        if (uncut && ml > 18 && ml <= 36)
            (*uncut)++;
        produced += ml;
    }
}

/* Encode src against dict (indexed or not) and check both ways of decoding it. */
static size_t round_trip(size_t dsize, size_t n, size_t cap)
{
    size_t len = lz4enc_block(&enc, dict, src, n, block, cap);
    if (len == 0)
        return 0;
    CHECK(len <= cap);
    long uncut = 0;
    CHECK_MSG(walk_block(block, len, n, dsize, &uncut) > 0, "block of %zu bytes for %zu breaks LZ4's rules", len, n);
    CHECK_MSG(uncut == 0, "%ld matches of 19..36 bytes were not cut", uncut);
    int got = LZ4_decompress_safe_usingDict((const char *)block, (char *)out, (int)len, (int)n,
                                            (const char *)dict, (int)dsize);
    CHECK_MSG(got == (int)n && memcmp(out, src, n) == 0, "external dictionary: %d of %zu bytes", got, n);
    memcpy(out, dict, dsize);
    got = LZ4_decompress_safe_usingDict((const char *)block, (char *)out + dsize, (int)len, (int)n,
                                        (const char *)out, (int)dsize);
    CHECK_MSG(got == (int)n && memcmp(out + dsize, src, n) == 0, "dictionary as prefix: %d of %zu bytes", got, n);
    return len;
}

TEST(lz4enc, blocks_decode_to_their_input)
{
    rng_t r = { test_seed("lz4enc", 7) };
    unsigned rounds = test_long() ? 3000 : 300, given_up = 0, fitted = 0;
    for (unsigned round = 0; round < rounds; round++) {
        size_t dsize = rng_below(&r, 5) == 0 ? 0 : DICT_SIZE - (size_t)rng_below(&r, rng_below(&r, 2) ? 64 : DICT_SIZE);
        fill(&r, dict, dsize, (unsigned)rng_below(&r, 5));
        lz4enc_index(&enc, round + 1, dict, dsize);
        for (int v = 0; v < 6; v++) {
            size_t n = rng_below(&r, 4) ? (size_t)rng_below(&r, 2048) : (size_t)rng_below(&r, MAX_VALUE + 1);
            fill(&r, src, n, (unsigned)rng_below(&r, 5));
            if (n > 200 && dsize > 200 && rng_below(&r, 2)) /* a run the dictionary holds */
                memcpy(src + rng_below(&r, n - 100), dict + rng_below(&r, dsize - 100), 100);
            /* Sometimes too little room: the encoder gives up, and the next value must not suffer. */
            size_t cap = rng_below(&r, 4) ? n + n / 255 + 16 : (size_t)rng_below(&r, n / 2 + 1);
            if (round_trip(dsize, n, cap))
                fitted++;
            else
                given_up++;
        }
    }
    printf("    %u blocks decoded both ways, %u given up for room\n", fitted, given_up);
    CHECK(fitted > rounds && given_up > 0);
}

/* Encoding with an index made for other bytes: matches are checked against the real ones. */
TEST(lz4enc, a_stale_index_costs_only_compression)
{
    rng_t r = { test_seed("lz4enc stale", 11) };
    fill(&r, dict, DICT_SIZE, 2);
    lz4enc_index(&enc, 1, dict, DICT_SIZE);
    for (size_t i = 0; i < DICT_SIZE; i += 64) /* the same size, other bytes in places */
        dict[i + rng_below(&r, 64)] ^= 0x5a;
    for (int v = 0; v < 50; v++) {
        size_t n = 100 + (size_t)rng_below(&r, 3000);
        memcpy(src, dict + rng_below(&r, DICT_SIZE - n), n);
        CHECK(round_trip(DICT_SIZE, n, n + n / 255 + 16) > 0);
    }
}

/* JSON-like records against a dictionary of such records: the reason the encoder exists. */
TEST(lz4enc, records_take_far_fewer_sequences_than_liblz4_fast)
{
    rng_t r = { 3 };
    static const char *const cities[] = { "Lisbon", "Oslo", "Nairobi", "Lima" };
    static const char *const words[] = { "quick", "ledger", "orange", "signal", "harbor", "velvet", "pencil", "meadow" };
    static uint8_t rec[64][1024];
    for (int i = 0; i < 64; i++) {
        int len = snprintf((char *)rec[i], 1024, "{\"id\":%d,\"user\":\"user%06u\",\"city\":\"%s\",\"bio\":\"", i,
                           (unsigned)rng_below(&r, 1000000), cities[rng_below(&r, 4)]);
        while (len < 1000) {
            const char *w = words[rng_below(&r, 8)];
            len += snprintf((char *)rec[i] + len, (size_t)(1024 - len), "%s ", w);
        }
        memset(rec[i] + len, ' ', (size_t)(1024 - len));
        if (i < 32)
            memcpy(dict + (size_t)i * 1024, rec[i], 1024);
    }
    lz4enc_index(&enc, 1, dict, DICT_SIZE);
    LZ4_stream_t *lz = LZ4_createStream();
    CHECK(lz != NULL);
    long ours = 0, theirs = 0;
    for (int i = 32; i < 64; i++) {
        memcpy(src, rec[i], 1024);
        size_t len = round_trip(DICT_SIZE, 1024, sizeof block);
        CHECK(len > 0);
        ours += walk_block(block, len, 1024, DICT_SIZE, NULL);
        LZ4_loadDict(lz, (const char *)dict, DICT_SIZE);
        int n = LZ4_compress_fast_continue(lz, (const char *)src, (char *)block, 1024, (int)sizeof block, 1);
        CHECK(n > 0);
        theirs += walk_block(block, (size_t)n, 1024, DICT_SIZE, NULL);
    }
    LZ4_freeStream(lz);
    printf("    sequences per 1 KiB record: %.1f (liblz4 fast: %.1f)\n", ours / 32.0, theirs / 32.0);
    CHECK(ours * 10 <= theirs * 7);
}

/* A value given up for room leaves positions in the index; the next value must not take them for its own. */
TEST(lz4enc, a_value_given_up_leaves_nothing_behind)
{
    rng_t r = { test_seed("lz4enc given up", 13) };
    lz4enc_index(&enc, 1, NULL, 0);
    for (int v = 0; v < 20; v++) {
        size_t n = 64 + (size_t)rng_below(&r, 4000);
        fill(&r, src, n, (unsigned)rng_below(&r, 3));
        CHECK(lz4enc_block(&enc, NULL, src, n, block, 8) == 0);
        CHECK(round_trip(0, n, n + n / 255 + 16) > 0);
    }
}
