/*
 * pagewalk.c - see pagewalk.h.
 */
#include "pagewalk.h"

void audit_txn(larch_txn *txn, larch_check_report *rep)
{
    int rc = larch_check(txn, rep);
    for (unsigned i = 0; i < rep->nmessages; i++)
        printf("    check: %s\n", rep->message[i]);
    CHECK_MSG(rc == 0, "larch_check found %llu problems", (unsigned long long)rep->problems);
}

void pagewalk_audit(larch_db *db, struct walk_counts *out)
{
    larch_txn *txn;
    larch_check_report rep;
    CHECK_OK(larch_begin(db, LARCH_RDONLY, &txn));
    audit_txn(txn, &rep);
    larch_abort(txn);
    CHECK(rep.damaged_metas == 0);
    if (out) {
        out->npages = rep.pages;
        out->main_pages = rep.tree_pages;
        out->free_listed = rep.free_pages;
        out->entries = rep.entries;
    }
}
