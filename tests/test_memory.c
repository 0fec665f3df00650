/*
 * test_memory.c - what the writer keeps between transactions is bounded:
 * a large transaction (committed or aborted) or a large compressed value
 * does not leave its buffers behind until close.
 */
#include "pagewalk.h"

#include "pager.h"

#ifdef LARCH_TEST_SMALL
#define BIG_TXN_PUTS 40000
#define BIG_VALUE (8u << 20)
#else
#define BIG_TXN_PUTS 400000 /* 1,000-byte values: some 130,000 dirty pages */
#define BIG_VALUE (64u << 20)
#endif

/* What the writer keeps: WRITER_KEEP of page buffers, the LZ4 encoders and some tables. */
#define KEPT_AT_MOST (12u << 20)

static void big_txn(larch_db *db, bool commit)
{
    static char vb[1000];
    larch_txn *txn;
    CHECK_OK(larch_begin(db, 0, &txn));
    for (int i = 0; i < BIG_TXN_PUTS; i++) {
        char kb[32];
        snprintf(kb, sizeof kb, "big%08d", (int)((int64_t)i * 7919 % BIG_TXN_PUTS));
        memset(vb, 'a' + i % 26, sizeof vb);
        larch_val k = str_val(kb), v = val_of(vb, sizeof vb);
        CHECK_OK(larch_put(txn, 0, &k, &v, 0));
    }
    if (commit)
        CHECK_OK(larch_commit(txn));
    else
        larch_abort(txn);
}

/* Before: 690 MB stayed resident after an aborted transaction of 400,000
 * values of 1,000 bytes, until the handle closed. */
TEST(memory, a_large_transaction_leaves_no_buffers_behind)
{
    larch_db *db = test_open_nosync("a.db");
    big_txn(db, false);
    size_t after_abort = wstate_kept_bytes(db->ws);
    big_txn(db, true);
    size_t after_commit = wstate_kept_bytes(db->ws);
    printf("    %d puts of 1,000 bytes: the writer keeps %zu KiB after an abort, %zu KiB after a commit\n",
           BIG_TXN_PUTS, after_abort >> 10, after_commit >> 10);
    CHECK(after_abort <= KEPT_AT_MOST && after_commit <= KEPT_AT_MOST);
    pagewalk_audit(db, NULL);
    larch_close(db);
}

/* Before: the buffer of the compressed value kept its largest size (190
 * MB after one value of 512 MiB) until close. */
TEST(memory, a_large_compressed_value_leaves_no_buffer_behind)
{
    larch_db *db = test_open_nosync("a.db");
    larch_txn *txn;
    larch_bucket b;
    char *big = malloc(BIG_VALUE);
    CHECK(big != NULL);
    for (size_t i = 0; i < BIG_VALUE; i++)
        big[i] = "{\"id\":1234,\"name\":\"larch\",\"tags\":[\"a\",\"b\"]}"[i % 44];
    CHECK_OK(larch_begin(db, 0, &txn));
    CHECK_OK(larch_bucket_open(txn, "z", LARCH_CREATE | LARCH_LZ4, &b));
    larch_val k = str_val("big"), v = val_of(big, BIG_VALUE), got;
    CHECK_OK(larch_put(txn, b, &k, &v, 0));
    CHECK_OK(larch_commit(txn));
    size_t kept = wstate_kept_bytes(db->ws);
    printf("    a compressed value of %u MiB: the writer keeps %zu KiB\n", BIG_VALUE >> 20, kept >> 10);
    CHECK(kept <= KEPT_AT_MOST);
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    CHECK_OK(larch_bucket_open(txn, "z", 0, &b));
    CHECK_OK(larch_get(txn, b, &k, &got));
    CHECK(got.size == BIG_VALUE && !memcmp(got.data, big, BIG_VALUE));
    larch_abort(txn);
    free(big);
    larch_close(db);
}
