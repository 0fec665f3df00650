/*
 * pagewalk.h - audit a database in tests: larch_check must find it sound
 * (every page reached exactly once, counts matching, keys ordered, ...).
 */
#ifndef LARCH_TEST_PAGEWALK_H
#define LARCH_TEST_PAGEWALK_H

#include "test.h"

struct walk_counts {
    uint64_t npages, main_pages, free_listed, entries;
};

/* Check the last commit of db (CHECK fails, with larch_check's messages, on any problem). */
void pagewalk_audit(larch_db *db, struct walk_counts *out);

/* Check what txn sees. */
void audit_txn(larch_txn *txn, larch_check_report *rep);

#endif
