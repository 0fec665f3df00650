/*
 * workload.h - the commit workload the crash and power-loss tests share:
 * commit i writes "seq" = i and d<i> (0..7000 bytes, some in overflow
 * runs), every 4th commit deletes d<i-2>, every 10th also writes into the
 * LZ4 bucket "side". From "seq" alone a test knows what the file must hold.
 */
#ifndef LARCH_TEST_WORKLOAD_H
#define LARCH_TEST_WORKLOAD_H

#include "test.h"

#define WORKLOAD_MAX_VALUE 7000

/* Make commit i (buf: WORKLOAD_MAX_VALUE bytes of scratch). 0 or a larch code. */
int workload_commit(larch_db *db, uint64_t i, uint8_t *buf);

/* The commit the snapshot holds ("seq"; 0 before the first). */
uint64_t workload_seq(larch_txn *txn);

/* CHECK that txn holds exactly what commits 1..s wrote. */
void workload_verify(larch_txn *txn, uint64_t s);

#endif
