/*
 * pagewalk.h - a test-side audit of a whole file: every page from 2 to
 * npages - 1 must be reached exactly once, from the main tree, the free
 * tree, or a free record; tree descriptors must match what the walk counts.
 */
#ifndef LARCH_TEST_PAGEWALK_H
#define LARCH_TEST_PAGEWALK_H

#include "test.h"

struct walk_counts {
    uint64_t npages, main_pages, free_tree_pages, free_listed, entries;
};

/* Audit the last commit of db (CHECK fails on any problem). */
void pagewalk_audit(larch_db *db, struct walk_counts *out);

#endif
