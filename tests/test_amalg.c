/*
 * test_amalg.c - builds against the amalgamation (build/larch.c) alone and
 * checks that it works: write, read back, reopen.
 */
#define _GNU_SOURCE
#include <larch.h>

#include <stdlib.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define EXPECT(c)                                                   \
    do {                                                            \
        if (!(c)) {                                                 \
            printf("amalg: check failed at line %d: %s\n", __LINE__, #c); \
            printf("0 passed, 1 failed\n");                         \
            return 1;                                               \
        }                                                           \
    } while (0)

int main(void)
{
    char path[] = "/tmp/larch-amalg-XXXXXX";
    int fd = mkstemp(path);
    EXPECT(fd >= 0);
    close(fd); /* an empty file: larch initializes it */
    larch_db *db;
    larch_txn *txn;
    EXPECT(larch_open(path, NULL, &db) == 0);
    EXPECT(larch_begin(db, 0, &txn) == 0);
    char key[16], val[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%06d", i);
        snprintf(val, sizeof val, "value of %d", i);
        larch_val k = { strlen(key), key }, v = { strlen(val), val };
        EXPECT(larch_put(txn, 0, &k, &v, 0) == 0);
    }
    EXPECT(larch_commit(txn) == 0);
    larch_close(db);
    EXPECT(larch_open(path, NULL, &db) == 0);
    EXPECT(larch_begin(db, LARCH_RDONLY, &txn) == 0);
    larch_val k = { 7, "k004321" }, v;
    EXPECT(larch_get(txn, 0, &k, &v) == 0);
    EXPECT(v.size == 13 && memcmp(v.data, "value of 4321", 13) == 0);
    larch_abort(txn);
    larch_close(db);
    unlink(path);
    printf("amalgamation: ok\n1 passed, 0 failed\n");
    return 0;
}
