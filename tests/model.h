/*
 * model.h - the reference a randomized test compares larch with: a sorted
 * array of keys, each with a value described by (seed, length) so that
 * values can be regenerated instead of stored.
 */
#ifndef LARCH_TEST_MODEL_H
#define LARCH_TEST_MODEL_H

#include "test.h"

struct mkv {
    uint8_t *k;
    size_t kl;
    uint64_t vseed;
    size_t vl;
};

struct model {
    struct mkv *a;
    size_t n, cap;
};

/* Index of the first key >= k; *found if equal. */
size_t model_lower(const struct model *m, const void *k, size_t kl, bool *found);
void model_put(struct model *m, const void *k, size_t kl, uint64_t vseed, size_t vl);
bool model_del(struct model *m, const void *k, size_t kl);
void model_copy(struct model *dst, const struct model *src);
void model_free(struct model *m);

/* Deterministic value bytes for (seed, len), into buf. */
void value_fill(uint8_t *buf, uint64_t seed, size_t len);
bool value_equal(const larch_val *v, uint64_t seed, size_t len);

/* Compare the whole bucket with the model: scans both ways, SEEKs, gets. */
void model_verify(larch_txn *txn, larch_bucket b, const struct model *m, rng_t *r);

#endif
