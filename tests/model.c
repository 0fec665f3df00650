/*
 * model.c - the in-memory reference for randomized tests.
 */
#include "model.h"

static int kcmp(const void *a, size_t al, const void *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : (al > bl) - (al < bl);
}

size_t model_lower(const struct model *m, const void *k, size_t kl, bool *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (kcmp(m->a[mid].k, m->a[mid].kl, k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < m->n && kcmp(m->a[lo].k, m->a[lo].kl, k, kl) == 0;
    return lo;
}

void model_put(struct model *m, const void *k, size_t kl, uint64_t vseed, size_t vl)
{
    bool found;
    size_t i = model_lower(m, k, kl, &found);
    if (found) {
        m->a[i].vseed = vseed;
        m->a[i].vl = vl;
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->a = realloc(m->a, m->cap * sizeof *m->a);
    }
    memmove(m->a + i + 1, m->a + i, (m->n - i) * sizeof *m->a);
    m->a[i].k = malloc(kl);
    memcpy(m->a[i].k, k, kl);
    m->a[i].kl = kl;
    m->a[i].vseed = vseed;
    m->a[i].vl = vl;
    m->n++;
}

bool model_del(struct model *m, const void *k, size_t kl)
{
    bool found;
    size_t i = model_lower(m, k, kl, &found);
    if (!found)
        return false;
    free(m->a[i].k);
    memmove(m->a + i, m->a + i + 1, (m->n - i - 1) * sizeof *m->a);
    m->n--;
    return true;
}

void model_free(struct model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->a[i].k);
    free(m->a);
    memset(m, 0, sizeof *m);
}

void model_copy(struct model *dst, const struct model *src)
{
    model_free(dst);
    dst->cap = src->n ? src->n : 1;
    dst->a = malloc(dst->cap * sizeof *dst->a);
    dst->n = src->n;
    for (size_t i = 0; i < src->n; i++) {
        dst->a[i] = src->a[i];
        dst->a[i].k = malloc(src->a[i].kl);
        memcpy(dst->a[i].k, src->a[i].k, src->a[i].kl);
    }
}

void value_fill(uint8_t *buf, uint64_t seed, size_t len)
{
    rng_t r = { seed };
    size_t i = 0;
    if (seed & 1) {
        /* Odd seeds: text that compresses, like JSON records do: a window,
         * chosen by the seed, of a fixed block of JSON-ish words. */
        static char text[8192];
        static int made;
        if (!made) {
            static const char *words[] = { "{\"name\":", "\"value\"", ",\"count\":", "12", "true", "},",
                                           "\"status\":\"ok\"", " " };
            rng_t t = { 99 };
            for (size_t j = 0; j < sizeof text;) {
                const char *wd = words[rng_below(&t, 8)];
                size_t n = MIN(strlen(wd), sizeof text - j);
                memcpy(text + j, wd, n);
                j += n;
            }
            made = 1;
        }
        size_t at = (size_t)(rng_next(&r) % 4096);
        while (i < len) {
            size_t n = MIN(len - i, sizeof text - at);
            memcpy(buf + i, text + at, n);
            i += n;
            at = 0;
        }
        return;
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t x = rng_next(&r);
        memcpy(buf + i, &x, 8);
    }
    if (i < len) {
        uint64_t x = rng_next(&r);
        memcpy(buf + i, &x, len - i);
    }
}

bool value_equal(const larch_val *v, uint64_t seed, size_t len)
{
    if (v->size != len)
        return false;
    uint8_t small[256];
    uint8_t *buf = len <= sizeof small ? small : malloc(len);
    value_fill(buf, seed, len);
    bool eq = len == 0 || memcmp(buf, v->data, len) == 0;
    if (buf != small)
        free(buf);
    return eq;
}

static void check_entry(const larch_val *k, const larch_val *v, const struct mkv *e, const char *how, size_t i)
{
    CHECK_MSG(k->size == e->kl && memcmp(k->data, e->k, e->kl) == 0, "%s: key %zu differs", how, i);
    CHECK_MSG(value_equal(v, e->vseed, e->vl), "%s: value of key %zu differs (size %zu, want %zu)", how, i,
              v->size, e->vl);
}

void model_verify(larch_txn *txn, larch_bucket b, const struct model *m, rng_t *r)
{
    larch_cursor *c;
    larch_val k, v;
    size_t i = 0;
    int rc;
    CHECK_OK(larch_cursor_open(txn, b, &c));
    while ((rc = larch_cursor_get(c, &k, &v, LARCH_NEXT)) == 0) {
        CHECK_MSG(i < m->n, "forward scan: more entries than the model's %zu", m->n);
        check_entry(&k, &v, &m->a[i], "forward scan", i);
        i++;
    }
    CHECK_RC(rc, LARCH_NOTFOUND);
    CHECK_MSG(i == m->n, "forward scan saw %zu entries, model has %zu", i, m->n);
    larch_cursor_close(c);

    CHECK_OK(larch_cursor_open(txn, b, &c));
    i = m->n;
    while ((rc = larch_cursor_get(c, &k, &v, LARCH_PREV)) == 0) {
        CHECK_MSG(i > 0, "backward scan: more entries than the model");
        i--;
        check_entry(&k, &v, &m->a[i], "backward scan", i);
    }
    CHECK_RC(rc, LARCH_NOTFOUND);
    CHECK_MSG(i == 0, "backward scan stopped %zu entries early", i);

    /* SEEK probes: model keys, and keys near them (prefixes, extensions). */
    for (int p = 0; p < 16 && m->n; p++) {
        const struct mkv *e = &m->a[rng_below(r, m->n)];
        uint8_t probe[LARCH_MAX_KEY_SIZE];
        size_t pl = e->kl;
        memcpy(probe, e->k, pl);
        int how = (int)rng_below(r, 3);
        if (how == 1 && pl > 1)
            pl--; /* a prefix */
        else if (how == 2 && pl < 400)
            probe[pl++] = (uint8_t)rng_next(r); /* an extension */
        bool found;
        size_t want = model_lower(m, probe, pl, &found);
        k = val_of(probe, pl);
        rc = larch_cursor_get(c, &k, &v, LARCH_SEEK);
        if (want == m->n) {
            CHECK_RC(rc, LARCH_NOTFOUND);
            continue;
        }
        CHECK_OK(rc);
        check_entry(&k, &v, &m->a[want], "seek", want);
        /* and one step either way from there */
        rc = larch_cursor_get(c, &k, &v, LARCH_NEXT);
        if (want + 1 < m->n) {
            CHECK_OK(rc);
            check_entry(&k, &v, &m->a[want + 1], "next after seek", want + 1);
            CHECK_OK(larch_cursor_get(c, &k, &v, LARCH_PREV));
            check_entry(&k, &v, &m->a[want], "prev after next", want);
        } else {
            CHECK_RC(rc, LARCH_NOTFOUND);
        }
    }
    larch_cursor_close(c);

    for (int p = 0; p < 16 && m->n; p++) {
        size_t j = rng_below(r, m->n);
        k = val_of(m->a[j].k, m->a[j].kl);
        CHECK_OK(larch_get(txn, b, &k, &v));
        CHECK_MSG(value_equal(&v, m->a[j].vseed, m->a[j].vl), "get: value of key %zu differs", j);
    }
}
