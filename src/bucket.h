/*
 * bucket.h - named buckets: the catalog tree that records them, the
 * handles that name them, and what a transaction knows of them.
 *
 * A handle is (serial << 16) | index into the db's table of bucket
 * entries; the serial is unique in the process (bucket.c). An entry only
 * maps a handle to a name: whether the bucket exists is always answered
 * by the catalog of the transaction's snapshot. Entries are published
 * with an atomic store, so transactions look handles up without a lock;
 * only larch_bucket_open takes the table's mutex (and finds names through
 * a hash). An entry made for a bucket that a transaction creates is
 * PENDING until that transaction commits (its handle works only in that
 * transaction); a commit that deletes a bucket retires its entry: it
 * leaves the table, its index is reused under a new serial, and its
 * memory is freed once every transaction that could have read it has
 * ended. So the table holds the buckets in use, at most 65,535.
 */
#ifndef LARCH_BUCKET_H
#define LARCH_BUCKET_H

#include "txn.h"

LARCH_INTERNAL void bucket_table_init(struct bucket_table *bt);
/* Free the table; its mutex too unless told not to (a forked child's copy may be held). */
LARCH_INTERNAL void bucket_table_free(struct bucket_table *bt, bool destroy_lock);

/* At commit, before the free-space records: write changed bucket records. */
LARCH_INTERNAL int bucket_commit(larch_txn *txn);

/* When a transaction ends: settle its created and deleted buckets' entries. */
LARCH_INTERNAL void bucket_txn_end(larch_txn *txn, bool committed);

#endif /* LARCH_BUCKET_H */
