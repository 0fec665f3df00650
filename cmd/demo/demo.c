/*
 * demo.c - a tour of larch: create a database, write in a transaction,
 * read back with get and a cursor, delete, and show that a reader keeps
 * its snapshot while a writer commits.
 *
 * Usage: demo FILE   (FILE is created; an existing larch file is reused)
 */
#include <larch.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "demo: %s: %s\n", what, larch_strerror(rc));
        exit(1);
    }
}

static larch_val str(const char *s)
{
    larch_val v = { strlen(s), s };
    return v;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "demo.db";
    larch_db *db;
    larch_txn *txn, *reader;
    larch_cursor *cur;
    larch_val k, v;
    char key[32], val[64];

    check(larch_open(path, NULL, &db), "open");
    printf("opened %s (keys up to %zu bytes)\n", path, larch_max_key_size(db));

    check(larch_begin(db, 0, &txn), "begin");
    for (int i = 1; i <= 5; i++) {
        snprintf(key, sizeof key, "fruit:%02d", i);
        snprintf(val, sizeof val, "%s", (const char *[]){ "apple", "banana", "cherry", "damson", "elder" }[i - 1]);
        k = str(key);
        v = str(val);
        check(larch_put(txn, 0, &k, &v, 0), "put");
        printf("put  %s = %s\n", key, val);
    }
    check(larch_commit(txn), "commit");
    printf("committed 5 keys (durable: synced to disk)\n");

    check(larch_begin(db, LARCH_RDONLY, &txn), "begin read");
    k = str("fruit:03");
    check(larch_get(txn, 0, &k, &v), "get");
    printf("get  fruit:03 -> %.*s\n", (int)v.size, (const char *)v.data);
    larch_abort(txn);

    /* A reader opened now keeps seeing 5 keys, whatever the writer does. */
    check(larch_begin(db, LARCH_RDONLY, &reader), "begin reader");
    check(larch_begin(db, 0, &txn), "begin write");
    k = str("fruit:02");
    check(larch_del(txn, 0, &k), "del");
    k = str("fruit:06");
    v = str("fig");
    check(larch_put(txn, 0, &k, &v, LARCH_NOOVERWRITE), "put");
    int rc = larch_put(txn, 0, &k, &v, LARCH_NOOVERWRITE);
    printf("put  fruit:06 again with NOOVERWRITE -> %s\n", larch_strerror(rc));
    check(larch_commit(txn), "commit");
    printf("deleted fruit:02, added fruit:06, committed\n");

    check(larch_cursor_open(reader, 0, &cur), "cursor");
    printf("old snapshot:");
    while (larch_cursor_get(cur, &k, &v, LARCH_NEXT) == 0)
        printf(" %.*s", (int)k.size, (const char *)k.data);
    printf("\n");
    larch_cursor_close(cur);
    larch_abort(reader);

    check(larch_begin(db, LARCH_RDONLY, &txn), "begin read");
    check(larch_cursor_open(txn, 0, &cur), "cursor");
    printf("new snapshot, backwards:");
    while (larch_cursor_get(cur, &k, &v, LARCH_PREV) == 0)
        printf(" %.*s=%.*s", (int)k.size, (const char *)k.data, (int)v.size, (const char *)v.data);
    printf("\n");
    larch_cursor_close(cur);
    larch_abort(txn);

    /* A compressed bucket of JSON documents. */
    larch_bucket docs;
    struct larch_stat st;
    char doc[600];
    check(larch_begin(db, 0, &txn), "begin");
    check(larch_bucket_open(txn, "docs", LARCH_CREATE | LARCH_LZ4, &docs), "bucket");
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "doc:%05d", i);
        snprintf(doc, sizeof doc,
                 "{\"id\":%d,\"type\":\"order\",\"customer\":{\"name\":\"Customer %d\",\"city\":\"%s\"},"
                 "\"items\":[{\"sku\":\"SKU-%04d\",\"qty\":%d},{\"sku\":\"SKU-%04d\",\"qty\":1}],"
                 "\"status\":\"%s\"}",
                 i, i % 300, i % 3 ? "Berlin" : "Delhi", i % 97, 1 + i % 4, i % 13, i % 5 ? "shipped" : "pending");
        k = str(key);
        v = str(doc);
        check(larch_put(txn, docs, &k, &v, 0), "put doc");
    }
    check(larch_stat(txn, docs, &st), "stat");
    check(larch_commit(txn), "commit");
    printf("bucket docs: %llu JSON documents, %llu bytes stored as %llu (LZ4 with a learned dictionary)\n",
           (unsigned long long)st.entries, (unsigned long long)st.value_bytes,
           (unsigned long long)st.stored_bytes);

    larch_check_report report;
    check(larch_begin(db, LARCH_RDONLY, &txn), "begin read");
    rc = larch_check(txn, &report);
    printf("check: %s (%llu pages: %llu in trees, %llu free; %llu entries in %llu buckets + bucket 0)\n",
           rc == 0 ? "ok" : larch_strerror(rc), (unsigned long long)report.pages,
           (unsigned long long)report.tree_pages, (unsigned long long)report.free_pages,
           (unsigned long long)report.entries, (unsigned long long)report.buckets);
    larch_abort(txn);

    char copy[4096];
    snprintf(copy, sizeof copy, "%s.compact", path);
    remove(copy);
    check(larch_copy(db, copy, LARCH_COPY_COMPACT), "compact copy");
    printf("compacted copy written to %s\n", copy);

    larch_db *again;
    rc = larch_open(path, NULL, &again);
    printf("second open of the same file -> %s\n", larch_strerror(rc));
    larch_close(db);
    printf("closed; reopen and count: ");
    check(larch_open(path, NULL, &db), "reopen");
    check(larch_begin(db, LARCH_RDONLY, &txn), "begin read");
    check(larch_cursor_open(txn, 0, &cur), "cursor");
    int n = 0;
    while (larch_cursor_get(cur, NULL, NULL, LARCH_NEXT) == 0)
        n++;
    printf("%d keys\n", n);
    larch_cursor_close(cur);
    larch_abort(txn);
    larch_close(db);
    return 0;
}
