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
