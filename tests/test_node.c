/*
 * test_node.c - unit tests of in-page operations: slotted layout, search,
 * insert and remove with compaction, split (balanced and append) with its
 * separator, and merge.
 */
#include "test.h"

#include "node.h"

#define PS 1024u

static unsigned make_leaf_entry(uint8_t *buf, const char *key, size_t vlen)
{
    size_t kl = strlen(key);
    buf[0] = buf[1] = 0;
    put16(buf + 2, (uint16_t)kl);
    put32(buf + 4, (uint32_t)vlen);
    memcpy(buf + LEAF_ENTRY_HEADER, key, kl);
    memset(buf + LEAF_ENTRY_HEADER + kl, 'v', vlen);
    return LEAF_ENTRY_HEADER + (unsigned)(kl + vlen);
}

static void leaf_insert(uint8_t *p, uint8_t *scratch, const char *key, size_t vlen)
{
    uint8_t e[PS];
    unsigned idx;
    bool exact;
    CHECK_OK(node_search_leaf(p, PS, (const uint8_t *)key, strlen(key), &idx, &exact));
    CHECK(!exact);
    CHECK(node_insert(p, PS, scratch, idx, e, make_leaf_entry(e, key, vlen)));
}

static void check_sorted(const uint8_t *p)
{
    for (unsigned i = 1; i < pg_nkeys(p); i++) {
        static uint8_t abuf[LARCH_MAX_KEY_SIZE], bbuf[LARCH_MAX_KEY_SIZE];
        const uint8_t *a = NULL, *b = NULL;
        size_t al = 0, bl = 0;
        CHECK_OK(node_key_full(p, i - 1, PS, abuf, &a, &al));
        CHECK_OK(node_key_full(p, i, PS, bbuf, &b, &bl));
        CHECK(key_compare(a, al, b, bl) < 0 || (pg_type(p) == PAGE_BRANCH && i == 1 && al == 0));
    }
}

TEST(node, layout_search_insert_remove)
{
    uint8_t p[PS], scratch[PS];
    node_init(p, PAGE_LEAF, 5, PS);
    CHECK(pg_nkeys(p) == 0 && pg_upper(p) == PS && pg_pgno(p) == 5 && node_used(p, PS) == 0);
    CHECK(node_free(p) == PS - PAGE_HEADER_SIZE);
    const char *keys[] = { "m", "c", "x", "a", "mm", "ma", "" };
    for (int i = 0; keys[i][0]; i++)
        leaf_insert(p, scratch, keys[i], 10);
    CHECK(pg_nkeys(p) == 6);
    check_sorted(p);
    unsigned idx;
    bool exact;
    CHECK_OK(node_search_leaf(p, PS, (const uint8_t *)"m", 1, &idx, &exact));
    CHECK(exact && idx == 2); /* a c m ma mm x */
    CHECK_OK(node_search_leaf(p, PS, (const uint8_t *)"mb", 2, &idx, &exact));
    CHECK(!exact && idx == 4);
    CHECK_OK(node_search_leaf(p, PS, (const uint8_t *)"z", 1, &idx, &exact));
    CHECK(!exact && idx == 6);
    unsigned used = node_used(p, PS);
    CHECK(used == 6 * (SLOT_SIZE + LEAF_ENTRY_HEADER + 10) + 1 + 1 + 1 + 2 + 2 + 1);
    node_remove(p, 2);
    CHECK(pg_nkeys(p) == 5 && node_used(p, PS) == used - (SLOT_SIZE + LEAF_ENTRY_HEADER + 11));
    check_sorted(p);
    /* Fill until full; removals leave dead space that inserts reclaim by compaction. */
    char kb[16];
    int n = 0;
    for (;; n++) {
        uint8_t e[64];
        snprintf(kb, sizeof kb, "k%03d", n);
        CHECK_OK(node_search_leaf(p, PS, (const uint8_t *)kb, strlen(kb), &idx, &exact));
        if (!node_insert(p, PS, scratch, idx, e, make_leaf_entry(e, kb, 20)))
            break;
    }
    CHECK(n > 20 && node_free(p) < SLOT_SIZE + LEAF_ENTRY_HEADER + 24);
    unsigned before = pg_nkeys(p);
    for (unsigned i = 1; i < pg_nkeys(p); i += 2)
        node_remove(p, i);
    CHECK(pg_frag(p) > 0);
    for (int m = 0; m < 5; m++) {
        uint8_t e[64];
        snprintf(kb, sizeof kb, "k%03dz", m);
        CHECK_OK(node_search_leaf(p, PS, (const uint8_t *)kb, strlen(kb), &idx, &exact));
        CHECK(node_insert(p, PS, scratch, idx, e, make_leaf_entry(e, kb, 20)));
    }
    CHECK(pg_nkeys(p) < before);
    check_sorted(p);
    node_compact(p, PS, scratch);
    CHECK(pg_frag(p) == 0);
    check_sorted(p);
}

TEST(node, damaged_page_is_detected)
{
    uint8_t p[PS], scratch[PS];
    node_init(p, PAGE_LEAF, 5, PS);
    leaf_insert(p, scratch, "abc", 10);
    leaf_insert(p, scratch, "abd", 10);
    CHECK_OK(node_check(p, PAGE_LEAF, PS));
    CHECK_RC(node_check(p, PAGE_BRANCH, PS), LARCH_CORRUPT);
    const uint8_t *k = NULL;
    size_t kl = 0;
    pg_set_slot(p, 1, PS - 2); /* an entry header running off the page */
    CHECK_RC(node_key(p, 1, PS, &k, &kl), LARCH_CORRUPT);
    pg_set_slot(p, 1, PS - 6); /* a long-form leaf header (8 bytes) running off the page */
    p[PS - 6] = 0;
    CHECK_RC(node_key(p, 1, PS, &k, &kl), LARCH_CORRUPT);
    pg_set_slot(p, 1, 10); /* an entry inside the header */
    CHECK_RC(node_key(p, 1, PS, &k, &kl), LARCH_CORRUPT);
    pg_set_nkeys(p, 600); /* more slots than the page holds */
    CHECK_RC(node_check(p, PAGE_LEAF, PS), LARCH_CORRUPT);
    uint8_t b[PS];
    node_init(b, PAGE_BRANCH, 6, PS);
    CHECK_RC(node_check(b, PAGE_BRANCH, PS), LARCH_CORRUPT); /* an empty branch */
}

static void fill_leaf(uint8_t *p, uint8_t *scratch, int n, size_t vlen)
{
    char kb[16];
    node_init(p, PAGE_LEAF, 9, PS);
    for (int i = 0; i < n; i++) {
        snprintf(kb, sizeof kb, "key%04d", i * 2);
        leaf_insert(p, scratch, kb, vlen);
    }
}

TEST(node, split_balanced_and_append)
{
    uint8_t p[PS], q[PS], scratch[PS], e[128], sep[LARCH_MAX_KEY_SIZE];
    size_t seplen;
    bool right;
    unsigned nidx;
    int n = 0;
    fill_leaf(p, scratch, 0, 0);
    char kb[16];
    for (;; n++) { /* fill to the brim */
        snprintf(kb, sizeof kb, "key%04d", n * 2);
        unsigned idx;
        bool exact;
        CHECK_OK(node_search_leaf(p, PS, (const uint8_t *)kb, strlen(kb), &idx, &exact));
        if (!node_insert(p, PS, scratch, idx, e, make_leaf_entry(e, kb, 40)))
            break;
    }
    /* Balanced: insert in the middle. */
    node_init(q, PAGE_LEAF, 10, PS);
    unsigned size = make_leaf_entry(e, "key0011", 40);
    node_split(p, q, PS, scratch, 6, e, size, false, sep, &seplen, &right, &nidx);
    CHECK((unsigned)n + 1 == pg_nkeys(p) + pg_nkeys(q));
    int diff = (int)node_used(p, PS) - (int)node_used(q, PS);
    CHECK(diff < 120 && diff > -120);
    check_sorted(p);
    check_sorted(q);
    const uint8_t *last = NULL, *first = NULL;
    size_t ll = 0, fl = 0;
    CHECK_OK(node_key(p, pg_nkeys(p) - 1, PS, &last, &ll));
    CHECK_OK(node_key(q, 0, PS, &first, &fl));
    CHECK(key_compare(last, ll, sep, seplen) < 0 && key_compare(sep, seplen, first, fl) <= 0);
    CHECK(seplen <= fl); /* the shortest separator, never longer than the key */
    CHECK(!right && nidx == 6);

    /* Append: the new entry alone goes right, the left stays full. */
    fill_leaf(p, scratch, n, 40);
    node_init(q, PAGE_LEAF, 10, PS);
    size = make_leaf_entry(e, "key9999", 40);
    node_split(p, q, PS, scratch, (unsigned)n, e, size, true, sep, &seplen, &right, &nidx);
    CHECK(pg_nkeys(p) == (unsigned)n && pg_nkeys(q) == 1 && right && nidx == 0);
    CHECK(seplen == 4 && memcmp(sep, "key9", 4) == 0); /* "key9" > "key0..." */
}

TEST(node, branch_split_and_merge)
{
    uint8_t p[PS], q[PS], scratch[PS], e[64], sep[LARCH_MAX_KEY_SIZE];
    size_t seplen;
    bool right;
    unsigned nidx;
    node_init(p, PAGE_BRANCH, 3, PS);
    CHECK(node_insert(p, PS, scratch, 0, e, node_make_branch_entry(e, 100, NULL, 0)));
    int n = 1;
    for (;; n++) {
        char kb[16];
        snprintf(kb, sizeof kb, "sep%04d", n);
        if (!node_insert(p, PS, scratch, (unsigned)n, e, node_make_branch_entry(e, 100 + (pgno_t)n, (const uint8_t *)kb, strlen(kb))))
            break;
    }
    node_init(q, PAGE_BRANCH, 4, PS);
    unsigned size = node_make_branch_entry(e, 999, (const uint8_t *)"sep0005x", 8);
    node_split(p, q, PS, scratch, 6, e, size, false, sep, &seplen, &right, &nidx);
    CHECK((unsigned)n + 1 == pg_nkeys(p) + pg_nkeys(q));
    CHECK(branch_ksize(pg_entry(q, 0)) == 0); /* its key moved up as the separator */
    CHECK(seplen == 7 && memcmp(sep, "sep", 3) == 0);
    check_sorted(p);
    check_sorted(q);
    /* Make room, then merge back: the separator becomes the key of q's first entry again. */
    CHECK(!node_can_merge(p, q, PS, sep, seplen)); /* together they overflowed a page */
    node_remove(q, 1);
    node_remove(q, 1);
    CHECK(node_can_merge(p, q, PS, sep, seplen));
    unsigned total = pg_nkeys(p) + pg_nkeys(q);
    node_merge(p, q, PS, scratch, sep, seplen);
    CHECK(pg_nkeys(p) == total);
    check_sorted(p);
    const uint8_t *k = NULL;
    size_t kl = 0;
    uint8_t kbuf[LARCH_MAX_KEY_SIZE];
    CHECK_OK(node_key_full(p, total - pg_nkeys(q), PS, kbuf, &k, &kl));
    CHECK(kl == seplen && memcmp(k, sep, kl) == 0);
    /* A page full enough does not merge. */
    CHECK(!node_can_merge(p, p, PS, sep, 4));
    node_branch_clear_key(p, 0);
    CHECK(branch_ksize(pg_entry(p, 0)) == 0);
}

/* The answer a search must give, by a plain scan: the first key >= probe. */
static unsigned first_not_below(const uint8_t *p, unsigned from, const char *probe, bool strictly_greater)
{
    unsigned i = from;
    for (; i < pg_nkeys(p); i++) {
        static uint8_t kbuf[LARCH_MAX_KEY_SIZE];
        const uint8_t *k = NULL;
        size_t kl = 0;
        CHECK_OK(node_key_full(p, i, PS, kbuf, &k, &kl));
        int c = key_compare(k, kl, (const uint8_t *)probe, strlen(probe));
        if (strictly_greater ? c > 0 : c >= 0)
            break;
    }
    return i;
}

/* Searches compare key heads after the page's prefix: keys inside and
 * outside that prefix, shorter than it, equal to stored keys or between
 * them, all land where a plain scan says, in leaves and in branches. */
TEST(node, search_with_prefix_and_heads)
{
    static const char *probes[] = { "a", "pre", "pre0", "pre00", "pre000", "pre0000", "pre0042", "pre00420",
                                    "pre0043", "pre004", "pre00z", "pre01", "pre0", "prf", "pre0099", "pre00990",
                                    "pre0100", "zzz", "pre00\\xff", "pre005" };
    uint8_t leaf[PS], branch[PS], scratch[PS], e[PS];
    char key[16];
    node_init(leaf, PAGE_LEAF, 5, PS);
    node_init(branch, PAGE_BRANCH, 6, PS);
    CHECK(node_insert(branch, PS, scratch, 0, e, node_make_branch_entry(e, 100, NULL, 0)));
    for (int i = 2; i < 99; i += 3) {
        snprintf(key, sizeof key, "pre%04d", i);
        leaf_insert(leaf, scratch, key, 4);
        unsigned idx = pg_nkeys(branch);
        CHECK(node_insert(branch, PS, scratch, idx, e, node_make_branch_entry(e, 100 + (pgno_t)i, (const uint8_t *)key, strlen(key))));
    }
    CHECK(pg_prefix(leaf) == 5 && pg_prefix(branch) == 5); /* "pre00" */
    CHECK_OK(node_validate(leaf, PS));
    CHECK_OK(node_validate(branch, PS));
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        const char *q = probes[i];
        unsigned idx;
        bool exact;
        CHECK_OK(node_search_leaf(leaf, PS, (const uint8_t *)q, strlen(q), &idx, &exact));
        unsigned want = first_not_below(leaf, 0, q, false);
        CHECK(idx == want);
        CHECK(exact == (want < pg_nkeys(leaf) && first_not_below(leaf, 0, q, true) != want));
        CHECK_OK(node_search_branch(branch, PS, (const uint8_t *)q, strlen(q), &idx));
        CHECK(idx == first_not_below(branch, 1, q, true) - 1);
    }
}

/* The whole keys of a branch page, in order, as one string of "key|". */
static void branch_keys(const uint8_t *p, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = 0;
    for (unsigned i = 1; i < pg_nkeys(p); i++) {
        uint8_t buf[LARCH_MAX_KEY_SIZE];
        const uint8_t *k = NULL;
        size_t kl = 0;
        CHECK_OK(node_key_full(p, i, PS, buf, &k, &kl));
        CHECK(len + kl + 2 < cap);
        memcpy(out + len, k, kl);
        len += kl;
        out[len++] = '|';
        out[len] = 0;
    }
}

/*
 * A branch page stores each key less the page prefix, which it keeps once
 * at its end. A key that does not share the prefix, at either end of the
 * page, makes every stored key longer: the page is laid out anew when that
 * fits, and when it does not the insert fails, the page unchanged, and the
 * split that follows puts two valid pages together holding every key.
 */
TEST(node, branch_keys_are_stored_less_the_prefix)
{
    static const char stem[] = "customers/europe/portugal/lisbon/accounts/0000";
    uint8_t p[PS], q[PS], scratch[PS], before[PS], e[BRANCH_ENTRY_HEADER + LARCH_MAX_KEY_SIZE];
    uint8_t sep[LARCH_MAX_KEY_SIZE];
    char key[256], all[8192], left[8192], right[8192];
    node_init(p, PAGE_BRANCH, 3, PS);
    CHECK(node_insert(p, PS, scratch, 0, e, node_make_branch_entry(e, 100, NULL, 0)));
    unsigned n = 1;
    for (;; n++) {
        snprintf(key, sizeof key, "%s%04u", stem, n * 2);
        if (!node_insert(p, PS, scratch, n, e, node_make_branch_entry(e, 100 + n, (const uint8_t *)key, strlen(key))))
            break;
        CHECK_OK(node_validate(p, PS));
    }
    /* Whole keys would be 10 + 50 + 6 bytes an entry: 15 to a page. */
    CHECK(pg_prefix(p) >= sizeof stem - 1 && n - 1 > 40);
    CHECK(memcmp(p + PS - pg_prefix(p), stem, sizeof stem - 1) == 0);
    CHECK(branch_ksize(pg_entry(p, 1)) == sizeof stem - 1 + 4 - pg_prefix(p));
    check_sorted(p);

    /* Fits after a shorter prefix: a few entries, one key outside it. */
    node_init(q, PAGE_BRANCH, 4, PS);
    CHECK(node_insert(q, PS, scratch, 0, e, node_make_branch_entry(e, 100, NULL, 0)));
    for (unsigned i = 1; i <= 3; i++) {
        snprintf(key, sizeof key, "%s%04u", stem, i);
        CHECK(node_insert(q, PS, scratch, i, e, node_make_branch_entry(e, 100 + i, (const uint8_t *)key, strlen(key))));
    }
    CHECK(node_insert(q, PS, scratch, 4, e, node_make_branch_entry(e, 200, (const uint8_t *)"customers/x", 11)));
    CHECK_OK(node_validate(q, PS));
    CHECK(pg_prefix(q) == 10); /* "customers/" */
    branch_keys(q, all, sizeof all);
    snprintf(key, sizeof key, "%s0001|%s0002|%s0003|customers/x|", stem, stem, stem);
    CHECK(strcmp(all, key) == 0);
    CHECK(branch_child(pg_entry(q, 4)) == 200 && branch_child(pg_entry(q, 0)) == 100);

    /* Does not fit: a key below the prefix as the first, then one above it
     * as the last (longer than the prefix, so only its bytes tell). */
    const char *outside[] = { "customers/europe/austria/vienna/accounts/00000000000000",
                              "customers/europe/portugal/porto/accounts/000000000000000" };
    for (int t = 0; t < 2; t++) {
        uint8_t work[PS];
        memcpy(work, p, PS);
        unsigned idx = t == 0 ? 1 : pg_nkeys(work);
        unsigned size = node_make_branch_entry(e, 999, (const uint8_t *)outside[t], strlen(outside[t]));
        memcpy(before, work, PS);
        CHECK(!node_insert(work, PS, scratch, idx, e, size));
        CHECK(memcmp(before, work, PS) == 0);
        branch_keys(work, all, sizeof all);
        node_init(q, PAGE_BRANCH, 5, PS);
        size_t seplen = 0;
        bool at_right;
        unsigned new_idx;
        node_split(work, q, PS, scratch, idx, e, size, false, sep, &seplen, &at_right, &new_idx);
        CHECK_OK(node_validate(work, PS));
        CHECK_OK(node_validate(q, PS));
        check_sorted(work);
        check_sorted(q);
        /* Left's keys, the separator, right's keys: the old keys with the new one. */
        branch_keys(work, left, sizeof left);
        branch_keys(q, right, sizeof right);
        char joined[16400];
        snprintf(joined, sizeof joined, "%s%.*s|%s", left, (int)seplen, (const char *)sep, right);
        char want[16400];
        if (t == 0)
            snprintf(want, sizeof want, "%s|%s", outside[t], all);
        else
            snprintf(want, sizeof want, "%s%s|", all, outside[t]);
        CHECK(strcmp(joined, want) == 0);
        const uint8_t *page = at_right ? q : work;
        CHECK(branch_child(pg_entry(page, new_idx)) == 999);
    }
}
