/*
 * fuzz_open.c - the input is a database file. Open it read-only (with and
 * without LARCH_VERIFY), walk every bucket both ways, look keys up, run the
 * check, take stats. Whatever the bytes, nothing may crash, hang or read
 * outside the mapping.
 */
#define _GNU_SOURCE
#include <larch.h>

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void walk(larch_txn *txn, larch_bucket b, const uint8_t *data, size_t size)
{
    larch_cursor *c;
    larch_val k, v;
    struct larch_stat st;
    larch_stat(txn, b, &st);
    if (larch_cursor_open(txn, b, &c))
        return;
    for (int dir = 0; dir < 2; dir++)
        for (int n = 0; n < 5000 && larch_cursor_get(c, &k, &v, dir ? LARCH_PREV : LARCH_NEXT) == 0; n++)
            ;
    /* Keys made of input bytes: gets and seeks of odd keys. */
    for (size_t i = 0; i + 4 <= size && i < 64; i += 4) {
        k.data = data + i;
        k.size = 1 + data[i] % 4;
        larch_get(txn, b, &k, &v);
        larch_cursor_get(c, &k, &v, LARCH_SEEK);
        larch_cursor_get(c, &k, &v, LARCH_PREV);
    }
    larch_cursor_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("larch-fuzz", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    for (int verify = 0; verify < 2; verify++) {
        larch_db *db;
        larch_txn *txn;
        larch_options o = { 0 };
        o.flags = LARCH_RDONLY | (verify ? LARCH_VERIFY : 0);
        if (larch_open(path, &o, &db))
            break;
        if (larch_begin(db, LARCH_RDONLY, &txn) == 0) {
            larch_check_report rep;
            struct larch_info info;
            larch_check(txn, &rep);
            larch_info(db, &info);
            walk(txn, 0, data, size);
            char name[256] = "";
            larch_val nm;
            for (int n = 0; n < 32 && larch_bucket_next(txn, name, &nm) == 0; n++) {
                larch_bucket b;
                size_t len = nm.size < 255 ? nm.size : 255;
                memcpy(name, nm.data, len);
                name[len] = 0;
                if (larch_bucket_open(txn, name, 0, &b) == 0)
                    walk(txn, b, data, size);
            }
            larch_abort(txn);
        }
        larch_close(db);
    }
    close(fd);
    return 0;
}
