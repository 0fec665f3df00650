/*
 * cmd_data.c - get, put, del and scan: keys and values from the command
 * line, printed readably (printable bytes as text, others as \xx) or in hex.
 */
#include "dbutil.h"

#include <stdlib.h>
#include <string.h>

/* Begin a transaction on FILE's bucket -b; prints what went wrong. */
static int start(struct opts *o, bool write, larch_db **db, larch_txn **txn, larch_bucket *b)
{
    const char *file = o->pos[0];
    int rc = open_db(file, !write, db);
    if (rc)
        return rc;
    rc = larch_begin(*db, write ? 0 : LARCH_RDONLY, txn);
    if (rc) {
        larch_close(*db);
        return fail(file, rc);
    }
    rc = find_bucket(*txn, file, o->bucket, write, b);
    if (rc) {
        larch_abort(*txn);
        larch_close(*db);
    }
    return rc;
}

static void finish(larch_db *db, larch_txn *txn)
{
    larch_abort(txn);
    larch_close(db);
}

int cmd_get(struct opts *o)
{
    larch_db *db;
    larch_txn *txn;
    larch_bucket b;
    size_t kl;
    uint8_t *key = arg_bytes(o->pos[1], o->hex_in, &kl);
    if (!key)
        return EXIT_USAGE;
    int rc = start(o, false, &db, &txn, &b);
    if (rc == 0) {
        larch_val k = { kl, key }, v;
        int r = larch_get(txn, b, &k, &v);
        if (r == 0) {
            write_escaped(stdout, v.data, v.size, o->hex_out ? ESC_HEX : ESC_PRINT);
            putchar('\n');
        } else {
            rc = r == LARCH_NOTFOUND ? failf("%s: key not found", o->pos[0]) : fail(o->pos[0], r);
        }
        finish(db, txn);
    }
    free(key);
    return rc;
}

/* put and del: change one key and commit. */
static int change(struct opts *o, bool put)
{
    larch_db *db;
    larch_txn *txn;
    larch_bucket b;
    size_t kl, vl = 0;
    uint8_t *key = arg_bytes(o->pos[1], o->hex_in, &kl), *val = NULL;
    if (!key || (put && !(val = arg_bytes(o->pos[2], o->hex_in, &vl)))) {
        free(key);
        return EXIT_USAGE;
    }
    int rc = start(o, true, &db, &txn, &b);
    if (rc == 0) {
        larch_val k = { kl, key }, v = { vl, val ? val : (const uint8_t *)"" };
        int r = put ? larch_put(txn, b, &k, &v, 0) : larch_del(txn, b, &k);
        if (r == 0) {
            r = larch_commit(txn);
            rc = r ? fail(o->pos[0], r) : 0;
        } else {
            larch_abort(txn);
            rc = r == LARCH_NOTFOUND  ? failf("%s: key not found", o->pos[0])
                 : r == LARCH_INVALID ? failf("%s: the key is empty or longer than %zu bytes", o->pos[0],
                                              larch_max_key_size(db))
                                      : fail(o->pos[0], r);
        }
        larch_close(db);
    }
    free(key);
    free(val);
    return rc;
}

int cmd_put(struct opts *o) { return change(o, true); }
int cmd_del(struct opts *o) { return change(o, false); }

/* Where key stands against the prefix: -1 before its keys, 0 among them, 1 after. */
static int against_prefix(const larch_val *k, const uint8_t *p, size_t pl)
{
    size_t n = k->size < pl ? k->size : pl;
    int c = memcmp(k->data, p, n);
    if (c)
        return c < 0 ? -1 : 1;
    return k->size < pl ? -1 : 0;
}

/* The first key after every key that starts with p (NULL if there is none: all 0xff). */
static uint8_t *prefix_end(const uint8_t *p, size_t pl, size_t *len)
{
    while (pl && p[pl - 1] == 0xff)
        pl--;
    if (!pl)
        return NULL;
    uint8_t *e = malloc(pl);
    memcpy(e, p, pl);
    e[pl - 1]++;
    *len = pl;
    return e;
}

/* Keys compare as larch compares them: bytes, the shorter first on a tie. */
static int keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/*
 * Put the cursor on the first entry the scan shows (LARCH_NOTFOUND: none).
 * Forward it starts at the larger of --from and --prefix; in reverse at the
 * last key <= --from, or before the first key past the prefix's keys.
 */
static int scan_start(larch_cursor *c, struct opts *o, const uint8_t *from, size_t fl, const uint8_t *pre, size_t pl,
                      larch_val *k, larch_val *v)
{
    if (!o->reverse) {
        const uint8_t *start = from;
        size_t sl = fl;
        if (pre && (!from || keycmp(pre, pl, from, fl) > 0)) {
            start = pre;
            sl = pl;
        }
        if (!start)
            return larch_cursor_get(c, k, v, LARCH_FIRST);
        *k = (larch_val){ sl, start };
        return larch_cursor_get(c, k, v, LARCH_SEEK);
    }
    size_t el = 0;
    uint8_t *end = pre ? prefix_end(pre, pl, &el) : NULL;
    const uint8_t *seek = from;
    size_t sl = fl;
    bool inclusive = from != NULL;
    if (end && (!from || keycmp(end, el, from, fl) <= 0)) {
        seek = end;
        sl = el;
        inclusive = false;
    }
    int rc;
    if (!seek) {
        rc = larch_cursor_get(c, k, v, LARCH_LAST);
    } else {
        *k = (larch_val){ sl, seek };
        rc = larch_cursor_get(c, k, v, LARCH_SEEK);
        if (rc == LARCH_NOTFOUND)
            rc = larch_cursor_get(c, k, v, LARCH_LAST);
        else if (rc == 0 && !(inclusive && keycmp(k->data, k->size, seek, sl) == 0))
            rc = larch_cursor_get(c, k, v, LARCH_PREV);
    }
    free(end);
    return rc;
}

int cmd_scan(struct opts *o)
{
    larch_db *db;
    larch_txn *txn;
    larch_bucket b;
    larch_cursor *c;
    size_t pl = 0, fl = 0;
    uint8_t *pre = o->prefix ? arg_bytes(o->prefix, o->hex_in, &pl) : NULL;
    uint8_t *from = o->from ? arg_bytes(o->from, o->hex_in, &fl) : NULL;
    if ((o->prefix && !pre) || (o->from && !from)) {
        free(pre);
        free(from);
        return EXIT_USAGE;
    }
    int rc = start(o, false, &db, &txn, &b);
    if (rc) {
        free(pre);
        free(from);
        return rc;
    }
    if ((rc = larch_cursor_open(txn, b, &c)) != 0) {
        rc = fail(o->pos[0], rc);
    } else {
        larch_val k, v;
        enum esc how = o->hex_out ? ESC_HEX : ESC_PRINT;
        long long shown = 0;
        int r = scan_start(c, o, from, fl, pre, pl, &k, &v);
        for (; r == 0 && (o->limit < 0 || shown < o->limit);
             r = larch_cursor_get(c, &k, &v, o->reverse ? LARCH_PREV : LARCH_NEXT)) {
            if (pre) {
                int where = against_prefix(&k, pre, pl);
                if (where != 0 && (where > 0) != o->reverse)
                    break; /* past the prefix's keys */
                if (where != 0)
                    continue; /* not yet there */
            }
            write_escaped(stdout, k.data, k.size, how);
            putchar('\t');
            write_escaped(stdout, v.data, v.size, how);
            putchar('\n');
            shown++;
        }
        if (r != 0 && r != LARCH_NOTFOUND)
            rc = fail(o->pos[0], r);
        larch_cursor_close(c);
    }
    finish(db, txn);
    free(pre);
    free(from);
    return rc;
}

/* ---- bucket ------------------------------------------------------------------ */

int cmd_bucket(struct opts *o)
{
    const char *action = o->pos[0], *file = o->pos[1], *name = o->pos[2];
    bool create = !strcmp(action, "create"), drop = !strcmp(action, "drop"), empty = !strcmp(action, "empty");
    if (!create && !drop && !empty)
        return usage_error("bucket", "unknown action \"%s\" (create, drop or empty)", action);
    if (o->lz4 && !create)
        return usage_error("bucket", "--lz4 goes with create");
    larch_db *db;
    larch_txn *txn;
    larch_bucket b;
    int rc = open_db(file, false, &db);
    if (rc)
        return rc;
    if ((rc = larch_begin(db, 0, &txn)) != 0) {
        larch_close(db);
        return fail(file, rc);
    }
    if (create) {
        rc = larch_bucket_open(txn, name, 0, &b);
        if (rc == 0)
            rc = failf("%s: a bucket named \"%s\" exists already", file, name);
        else if (rc == LARCH_NOTFOUND && (rc = larch_bucket_open(txn, name, LARCH_CREATE | (o->lz4 ? LARCH_LZ4 : 0), &b)))
            rc = fail(file, rc);
        else if (rc == LARCH_INVALID)
            rc = failf("%s: \"%s\" is not a valid bucket name (1..255 bytes of UTF-8)", file, name);
        else if (rc && rc != LARCH_NOTFOUND)
            rc = fail(file, rc);
    } else if ((rc = find_bucket(txn, file, name, false, &b)) == 0 && (rc = larch_bucket_drop(txn, b, drop)) != 0) {
        rc = fail(file, rc);
    }
    if (rc == 0 && (rc = larch_commit(txn)) != 0)
        rc = fail(file, rc);
    else if (rc)
        larch_abort(txn);
    larch_close(db);
    return rc;
}
