/*
 * check.h - the consistency check, with hooks for tools: dbutil's page map
 * learns what each page is from the walk, and long checks show progress.
 */
#ifndef LARCH_CHECK_H
#define LARCH_CHECK_H

#include "txn.h"

struct check_hooks {
    /* A run of n pages from pgno plays 'role' ("branch", "leaf", "overflow",
     * "dictionary", "free") in 'tree' ("bucket 0", "the catalog", ...).
     * Both strings stay valid until check_run returns, not after. */
    void (*page)(void *ctx, pgno_t pgno, uint64_t n, const char *role, const char *tree);
    /* Pages reached so far, of total. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
    /* Leave compressed values undecoded (a copy takes them byte for byte,
     * checksummed: it needs their pages sound, not their contents). */
    bool skip_decompression;
};

/* larch_check with hooks (either may be NULL). */
LARCH_INTERNAL int check_run(larch_txn *txn, larch_check_report *rep, const struct check_hooks *hooks);

#endif /* LARCH_CHECK_H */
