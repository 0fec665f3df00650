/*
 * workload.c - see workload.h.
 */
#include "workload.h"

static size_t vlen_of(uint64_t i) { return (size_t)((i * 2654435761u) % WORKLOAD_MAX_VALUE); }

static void fill_value(uint8_t *b, size_t n, uint64_t i)
{
    for (size_t j = 0; j < n; j++)
        b[j] = (uint8_t)(i * 7 + j);
}

int workload_commit(larch_db *db, uint64_t i, uint8_t *buf)
{
    larch_txn *txn;
    larch_bucket side;
    char kb[32];
    int rc = larch_begin(db, 0, &txn);
    if (rc)
        return rc;
    larch_val k = str_val("seq"), v = val_of(&i, 8);
    rc = larch_put(txn, 0, &k, &v, 0);
    snprintf(kb, sizeof kb, "d%06llu", (unsigned long long)i);
    size_t n = vlen_of(i);
    fill_value(buf, n, i);
    k = str_val(kb);
    v = val_of(buf, n);
    if (rc == 0)
        rc = larch_put(txn, 0, &k, &v, 0);
    if (rc == 0 && i % 4 == 0 && i > 2) {
        snprintf(kb, sizeof kb, "d%06llu", (unsigned long long)(i - 2));
        k = str_val(kb);
        rc = larch_del(txn, 0, &k);
    }
    if (rc == 0 && i % 10 == 0) { /* the catalog and a compressed bucket too */
        rc = larch_bucket_open(txn, "side", LARCH_CREATE | LARCH_LZ4, &side);
        k = str_val(kb);
        v = val_of(buf, n);
        if (rc == 0)
            rc = larch_put(txn, side, &k, &v, 0);
    }
    if (rc) {
        larch_abort(txn);
        return rc;
    }
    return larch_commit(txn);
}

uint64_t workload_seq(larch_txn *txn)
{
    larch_val k = str_val("seq"), v;
    uint64_t s = 0;
    if (larch_get(txn, 0, &k, &v) == 0 && v.size == 8)
        memcpy(&s, v.data, 8);
    return s;
}

void workload_verify(larch_txn *txn, uint64_t s)
{
    uint8_t *buf = malloc(WORKLOAD_MAX_VALUE);
    for (uint64_t i = 1; i <= s + 2; i++) {
        char kb[32];
        snprintf(kb, sizeof kb, "d%06llu", (unsigned long long)i);
        larch_val k = str_val(kb), v;
        bool gone = i > s || ((i + 2) % 4 == 0 && i + 2 <= s);
        int rc = larch_get(txn, 0, &k, &v);
        CHECK_MSG(rc == (gone ? LARCH_NOTFOUND : 0), "commit %llu: d%llu is %s", (unsigned long long)s,
                  (unsigned long long)i, rc == 0 ? "there" : larch_strerror(rc));
        if (rc == 0) {
            fill_value(buf, vlen_of(i), i);
            CHECK(v.size == vlen_of(i) && !memcmp(v.data, buf, v.size));
        }
    }
    free(buf);
}
