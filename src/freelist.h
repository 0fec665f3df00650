/*
 * freelist.h - free-space bookkeeping.
 *
 * Pages a commit frees are recorded in the free tree (see format.h) under
 * that commit's txnid, in records of at most freelist_chunk() page numbers.
 * A writer that needs a page takes the oldest record whose pages no reader
 * and neither meta page can reach any more and moves its page numbers into
 * the in-memory 'avail' list; the record itself is deleted at commit. At
 * commit the pages the transaction freed become new records, and whatever
 * is left of 'avail' is written back as records usable at once. Every step
 * costs in proportion to the pages the commit touched, never to the size
 * of the free space, and no page is taken from the end of the file while
 * a reusable record is left.
 */
#ifndef LARCH_FREELIST_H
#define LARCH_FREELIST_H

#include "pager.h"

/* Page numbers one free record holds at most. */
LARCH_INTERNAL unsigned freelist_chunk(uint32_t page_size);

/*
 * Move the next reclaimable record into avail; *got tells whether there
 * was one. Returns 0 or an error.
 */
LARCH_INTERNAL int freelist_reclaim(larch_txn *txn, bool *got);

/* Whether the record under key (FREE_KEY_SIZE bytes) has had its pages
 * moved into avail by this write transaction (its deletion waits for commit). */
LARCH_INTERNAL bool freelist_is_reclaimed(const larch_txn *txn, const uint8_t *key);

/* Delete the reclaimed records, record this transaction's freed pages and
 * the unused avail pages. At commit. */
LARCH_INTERNAL int freelist_save(larch_txn *txn, txnid_t txnid);

#endif /* LARCH_FREELIST_H */
