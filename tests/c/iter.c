/*
 * iter.c: kat_iter_*. An iterator walks one snapshot in key order (bytewise, ascending
 * or with KAT_ITER_REVERSE descending), limited by a prefix and a [start, end) range;
 * it supports seek, next and prev, and next_batch (entries encoded as u32 LE key length,
 * u32 LE value length, key, value). Views stay valid until the next call. An iterator
 * made from a transaction sees the transaction's own writes. Also: NULL arguments,
 * unknown flags, expired keys, and iterators outliving kat_db_close.
 */
#include "kat_check.h"

#include <errno.h>
#include <time.h>

static char sentinel_obj;
#define SENTINEL ((void *)&sentinel_obj)

static void sleep_ms(long ms)
{
    struct timespec ts, rem;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

/* A key or value given with its length (keys may hold NUL and 0xFF bytes). */
typedef struct {
    const char *p;
    size_t n;
} bytes_t;
#define B(s) {(s), sizeof(s) - 1}
#define BP(b) (const uint8_t *)(b).p, (b).n

/* The data set, in ascending bytewise key order. */
static const struct {
    bytes_t key;
    bytes_t val;
} E[] = {
    {B("a"), B("v-a")},
    {B("a\x00"), B("v-a00")},
    {B("a\x01"), B("v-a01")},
    {B("ab"), B("v-ab")},
    {B("a\xff"), B("v-aff")},
    {B("a\xff\xff\x01"), B("v-affff01")},
    {B("a\xff\xff\xff"), B("v-affffff")},
    {B("b"), B("v-b")},
    {B("b\x00"), B("v-b00")},
    {B("ba"), B("v-ba")},
    {B("c"), B("")},
    {B("\xff"), B("v-ff")},
    {B("\xff\xff"), B("v-ffff")},
};
#define NE ((int)(sizeof E / sizeof E[0]))

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static int same(const uint8_t *p, size_t n, bytes_t want)
{
    return n == want.n && (n == 0 || memcmp(p, want.p, n) == 0);
}

static void put_all(kat_db *db)
{
    kat_error *err = NULL;
    int i;
    for (i = 0; i < NE; i++) {
        if (i > 0)
            CHECK(cmp_bytes((const uint8_t *)E[i - 1].key.p, E[i - 1].key.n,
                            (const uint8_t *)E[i].key.p, E[i].key.n) < 0);
        CHECK_OK(kat_db_put(db, BP(E[i].key), BP(E[i].val), &err), err);
    }
}

/* Iterator options; NULL pointers leave a bound unset. */
static kat_iter_opts opts(const bytes_t *prefix, const bytes_t *start, const bytes_t *end,
                          uint32_t flags)
{
    kat_iter_opts o;
    memset(&o, 0, sizeof o);
    if (prefix) {
        o.prefix = (const uint8_t *)prefix->p;
        o.prefix_len = prefix->n;
    }
    if (start) {
        o.start = (const uint8_t *)start->p;
        o.start_len = start->n;
    }
    if (end) {
        o.end = (const uint8_t *)end->p;
        o.end_len = end->n;
    }
    o.flags = flags;
    return o;
}

static kat_iter *iter_new(kat_db *db, const kat_iter_opts *o)
{
    kat_iter *it = NULL;
    kat_error *err = NULL;
    CHECK_OK(kat_iter_new(db, o, &it, &err), err);
    CHECK(it != NULL);
    return it;
}

/* Prints a key for failure messages. */
static void print_key(const uint8_t *k, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (k[i] >= 0x20 && k[i] < 0x7f)
            fputc(k[i], stderr);
        else
            fprintf(stderr, "\\x%02x", k[i]);
    }
}

/* kat_iter_next (or prev) returns entry E[i] (i < 0: KAT_NOT_FOUND, views untouched).
 * Failures report the caller's line. */
static void step_at(kat_iter *it, int forward, int i, int line)
{
    const uint8_t *k = (const uint8_t *)SENTINEL, *v = NULL;
    size_t kl = 4242, vl = 0;
    kat_error *err = NULL;
    const char *what = forward ? "kat_iter_next" : "kat_iter_prev";
    kat_status s = forward ? kat_iter_next(it, &k, &kl, &v, &vl, &err)
                           : kat_iter_prev(it, &k, &kl, &v, &vl, &err);
    if (i < 0) {
        if (s != KAT_NOT_FOUND || err != NULL) {
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected KAT_NOT_FOUND", __FILE__,
                    line, what, (int)s, kat_status_str(s));
            if (s == KAT_OK) {
                fputs("; got key ", stderr);
                print_key(k, kl);
            }
            fprintf(stderr, " %s\n", kat_error_message(err));
            exit(1);
        }
        if (k != (const uint8_t *)SENTINEL || kl != 4242) {
            fprintf(stderr, "%s:%d: %s wrote views with KAT_NOT_FOUND\n", __FILE__, line,
                    what);
            exit(1);
        }
    } else {
        if (s != KAT_OK || err != NULL) {
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected key #%d: %s\n", __FILE__,
                    line, what, (int)s, kat_status_str(s), i, kat_error_message(err));
            exit(1);
        }
        if (!same(k, kl, E[i].key) || !same(v, vl, E[i].val)) {
            fprintf(stderr, "%s:%d: %s returned key ", __FILE__, line, what);
            print_key(k, kl);
            fprintf(stderr, ", expected key #%d ", i);
            print_key((const uint8_t *)E[i].key.p, E[i].key.n);
            fputc('\n', stderr);
            exit(1);
        }
    }
    ++kat_checks_passed;
}
#define NEXT_IS(it, i) step_at((it), 1, (i), __LINE__)
#define PREV_IS(it, i) step_at((it), 0, (i), __LINE__)
#define next_end(it) step_at((it), 1, -1, __LINE__)
#define prev_end(it) step_at((it), 0, -1, __LINE__)

/* A whole scan with `o` returns exactly E[idx[0]], ..., E[idx[n-1]] then ends (twice). */
static void expect_scan_at(kat_db *db, const kat_iter_opts *o, const int *idx, int n,
                           int line)
{
    kat_iter *it = iter_new(db, o);
    int i;
    for (i = 0; i < n; i++)
        step_at(it, 1, idx[i], line);
    step_at(it, 1, -1, line);
    step_at(it, 1, -1, line);
    kat_iter_free(it);
}

/* The same as a list of indexes lo..hi (inclusive), ascending or descending. */
static void expect_span_at(kat_db *db, const kat_iter_opts *o, int from, int to, int line)
{
    int idx[64], n = 0, i;
    if (from <= to)
        for (i = from; i <= to; i++)
            idx[n++] = i;
    else
        for (i = from; i >= to; i--)
            idx[n++] = i;
    expect_scan_at(db, o, idx, n, line);
}
#define expect_span(db, o, from, to) expect_span_at((db), (o), (from), (to), __LINE__)
#define expect_empty(db, o) expect_scan_at((db), (o), NULL, 0, __LINE__)

static void test_full_scans(kat_db *db)
{
    kat_iter_opts o;

    expect_span(db, NULL, 0, NE - 1);
    o = opts(NULL, NULL, NULL, 0);
    expect_span(db, &o, 0, NE - 1);
    o = opts(NULL, NULL, NULL, KAT_ITER_REVERSE);
    expect_span(db, &o, NE - 1, 0);
}

static void test_prefixes(kat_db *db)
{
    static const bytes_t a = B("a"), aff = B("a\xff"), affff = B("a\xff\xff"),
                         b = B("b"), ff = B("\xff"), ffff = B("\xff\xff"),
                         fff = B("\xff\xff\xff"), none = B("zz"), empty = B(""),
                         a00 = B("a\x00");
    kat_iter_opts o;

    o = opts(&a, NULL, NULL, 0);
    expect_span(db, &o, 0, 6);
    /* Keys with 0xFF bytes after the prefix are inside it; "b" is not. */
    o = opts(&aff, NULL, NULL, 0);
    expect_span(db, &o, 4, 6);
    o = opts(&affff, NULL, NULL, 0);
    expect_span(db, &o, 5, 6);
    o = opts(&b, NULL, NULL, 0);
    expect_span(db, &o, 7, 9);
    /* All-0xFF prefixes have no successor key. */
    o = opts(&ff, NULL, NULL, 0);
    expect_span(db, &o, 11, 12);
    o = opts(&ffff, NULL, NULL, 0);
    expect_span(db, &o, 12, 12);
    o = opts(&fff, NULL, NULL, 0);
    expect_empty(db, &o);
    o = opts(&none, NULL, NULL, 0);
    expect_empty(db, &o);
    /* A prefix with a NUL byte. */
    o = opts(&a00, NULL, NULL, 0);
    expect_span(db, &o, 1, 1);
    /* An empty (non-NULL) prefix is every key. */
    o = opts(&empty, NULL, NULL, 0);
    expect_span(db, &o, 0, NE - 1);

    /* Reverse with a prefix. */
    o = opts(&aff, NULL, NULL, KAT_ITER_REVERSE);
    expect_span(db, &o, 6, 4);
    o = opts(&a, NULL, NULL, KAT_ITER_REVERSE);
    expect_span(db, &o, 6, 0);
    o = opts(&ff, NULL, NULL, KAT_ITER_REVERSE);
    expect_span(db, &o, 12, 11);
    o = opts(&none, NULL, NULL, KAT_ITER_REVERSE);
    expect_empty(db, &o);
}

static void test_ranges(kat_db *db)
{
    static const bytes_t a01 = B("a\x01"), b00 = B("b\x00"), ba = B("ba"),
                         affff = B("a\xff\xff"), c = B("c"), a = B("a"), empty = B(""),
                         zz = B("zz"), ff = B("\xff");
    kat_iter_opts o;

    /* [start, end): start included, end excluded. */
    o = opts(NULL, &a01, &b00, 0);
    expect_span(db, &o, 2, 7);
    o = opts(NULL, &a01, &b00, KAT_ITER_REVERSE);
    expect_span(db, &o, 7, 2);
    /* Only a start; only an end. */
    o = opts(NULL, &ba, NULL, 0);
    expect_span(db, &o, 9, NE - 1);
    o = opts(NULL, NULL, &a01, 0);
    expect_span(db, &o, 0, 1);
    o = opts(NULL, NULL, &a01, KAT_ITER_REVERSE);
    expect_span(db, &o, 1, 0);
    o = opts(NULL, &ba, NULL, KAT_ITER_REVERSE);
    expect_span(db, &o, NE - 1, 9);
    /* Bounds that are not keys. */
    o = opts(NULL, &affff, &c, 0);
    expect_span(db, &o, 5, 9);
    o = opts(NULL, &empty, &zz, 0);
    expect_span(db, &o, 0, 10);
    o = opts(NULL, &zz, &ff, KAT_ITER_REVERSE);
    expect_empty(db, &o);
    /* Empty and inverted ranges. */
    o = opts(NULL, &c, &c, 0);
    expect_empty(db, &o);
    o = opts(NULL, &c, &a, 0);
    expect_empty(db, &o);
    o = opts(NULL, &c, &a, KAT_ITER_REVERSE);
    expect_empty(db, &o);
    /* An empty end excludes everything. */
    o = opts(NULL, NULL, &empty, 0);
    expect_empty(db, &o);

    /* Prefix and range together: all must hold. */
    o = opts(&a, &a01, &affff, 0);
    expect_span(db, &o, 2, 4);
    o = opts(&a, &a01, &affff, KAT_ITER_REVERSE);
    expect_span(db, &o, 4, 2);
    o = opts(&a, NULL, &b00, 0); /* end beyond the prefix */
    expect_span(db, &o, 0, 6);
    o = opts(&ba, &a, NULL, 0); /* start before the prefix */
    expect_span(db, &o, 9, 9);
    o = opts(&a, &ba, NULL, 0); /* disjoint */
    expect_empty(db, &o);
}

static void seek(kat_iter *it, bytes_t key)
{
    kat_error *err = NULL;
    CHECK_OK(kat_iter_seek(it, BP(key), &err), err);
}

static void test_seek(kat_db *db)
{
    static const bytes_t a02 = B("a\x02"), b = B("b"), past = B("\xff\xff\xff"),
                         empty = B(""), a = B("a"), aff = B("a\xff"), c = B("c");
    kat_iter_opts o;
    kat_iter *it;
    kat_error *err = NULL;

    /* Forward: the first entry at or after the key. */
    it = iter_new(db, NULL);
    seek(it, a02);
    NEXT_IS(it, 3);
    NEXT_IS(it, 4);
    seek(it, b); /* an exact key */
    NEXT_IS(it, 7);
    NEXT_IS(it, 8);
    seek(it, a); /* backwards */
    NEXT_IS(it, 0);
    seek(it, past);
    next_end(it);
    next_end(it);
    seek(it, empty); /* after the end, back to the beginning */
    NEXT_IS(it, 0);
    CHECK_OK(kat_iter_seek(it, NULL, 0, &err), err); /* NULL with length 0 */
    NEXT_IS(it, 0);
    seek(it, c);
    NEXT_IS(it, 10);
    PREV_IS(it, 9); /* prev after seek + next */
    NEXT_IS(it, 10);
    kat_iter_free(it);

    /* Reverse: the first entry at or below the key. */
    o = opts(NULL, NULL, NULL, KAT_ITER_REVERSE);
    it = iter_new(db, &o);
    seek(it, a02);
    NEXT_IS(it, 2);
    NEXT_IS(it, 1);
    seek(it, b);
    NEXT_IS(it, 7);
    NEXT_IS(it, 6);
    seek(it, past);
    NEXT_IS(it, 12);
    seek(it, empty); /* nothing at or below the empty key */
    next_end(it);
    seek(it, a);
    NEXT_IS(it, 0);
    next_end(it);
    seek(it, c);
    NEXT_IS(it, 10);
    PREV_IS(it, 11);
    kat_iter_free(it);

    /* Seeking outside a prefix stays inside it. */
    o = opts(&aff, NULL, NULL, 0);
    it = iter_new(db, &o);
    seek(it, a);
    NEXT_IS(it, 4);
    seek(it, b);
    next_end(it);
    kat_iter_free(it);
    o = opts(&aff, NULL, NULL, KAT_ITER_REVERSE);
    it = iter_new(db, &o);
    seek(it, b);
    NEXT_IS(it, 6);
    seek(it, a);
    next_end(it);
    kat_iter_free(it);
}

static void test_prev(kat_db *db)
{
    kat_iter_opts o;
    kat_iter *it;
    int i;

    /* Fresh iterator: nothing before the start; next still begins at the first. */
    it = iter_new(db, NULL);
    prev_end(it);
    NEXT_IS(it, 0);
    NEXT_IS(it, 1);
    NEXT_IS(it, 2);
    PREV_IS(it, 1);
    PREV_IS(it, 0);
    prev_end(it);
    prev_end(it);
    NEXT_IS(it, 0); /* before the first, next returns the first again */
    NEXT_IS(it, 1);
    PREV_IS(it, 0);
    NEXT_IS(it, 1);
    NEXT_IS(it, 2);
    kat_iter_free(it);

    /* At the end: next stays at the end; prev steps back onto the last entry. */
    it = iter_new(db, NULL);
    for (i = 0; i < NE; i++)
        NEXT_IS(it, i);
    next_end(it);
    next_end(it);
    PREV_IS(it, NE - 1);
    PREV_IS(it, NE - 2);
    NEXT_IS(it, NE - 1);
    next_end(it);
    kat_iter_free(it);

    /* Walking all the way back. */
    it = iter_new(db, NULL);
    for (i = 0; i < NE; i++)
        NEXT_IS(it, i);
    for (i = NE - 2; i >= 0; i--)
        PREV_IS(it, i);
    prev_end(it);
    kat_iter_free(it);

    /* Reverse: prev goes up in key order. */
    o = opts(NULL, NULL, NULL, KAT_ITER_REVERSE);
    it = iter_new(db, &o);
    prev_end(it);
    NEXT_IS(it, 12);
    NEXT_IS(it, 11);
    PREV_IS(it, 12);
    prev_end(it);
    NEXT_IS(it, 12);
    for (i = 11; i >= 0; i--)
        NEXT_IS(it, i);
    next_end(it);
    PREV_IS(it, 0);
    PREV_IS(it, 1);
    kat_iter_free(it);

    /* Within a range, prev stops at its start. */
    {
        static const bytes_t a01 = B("a\x01"), b00 = B("b\x00");
        o = opts(NULL, &a01, &b00, 0);
        it = iter_new(db, &o);
        NEXT_IS(it, 2);
        NEXT_IS(it, 3);
        PREV_IS(it, 2);
        prev_end(it);
        for (i = 2; i <= 7; i++)
            NEXT_IS(it, i);
        next_end(it);
        PREV_IS(it, 7);
        kat_iter_free(it);
    }
}

static void test_views(kat_db *db)
{
    kat_iter *it = iter_new(db, NULL);
    kat_error *err = NULL;
    const uint8_t *k = NULL, *v = NULL;
    size_t kl = 0, vl = 0;
    char kcopy[32], vcopy[32];
    const uint8_t *k2 = (const uint8_t *)SENTINEL;
    size_t kl2 = 999, vl2 = 999;
    const uint8_t *v2 = (const uint8_t *)SENTINEL;
    kat_buf b = {NULL, 0};
    int i;

    /* A view survives other calls on the database (not on the iterator). */
    CHECK_OK(kat_iter_next(it, &k, &kl, &v, &vl, &err), err);
    CHECK_OK(kat_db_put(db, K("zz-unrelated"), K("x"), &err), err);
    CHECK_OK(kat_db_get(db, BP(E[0].key), &b, &err), err);
    kat_buf_free(&b);
    CHECK(same(k, kl, E[0].key) && same(v, vl, E[0].val));
    /* Copies made before the next call keep the bytes after it. */
    CHECK(kl < sizeof kcopy && vl < sizeof vcopy);
    memcpy(kcopy, k, kl);
    memcpy(vcopy, v, vl);
    for (i = 1; i < NE; i++) {
        size_t pkl = kl, pvl = vl;
        CHECK_OK(kat_iter_next(it, &k, &kl, &v, &vl, &err), err);
        CHECK(memcmp(kcopy, E[i - 1].key.p, pkl) == 0 && pkl == E[i - 1].key.n);
        CHECK(memcmp(vcopy, E[i - 1].val.p, pvl) == 0 && pvl == E[i - 1].val.n);
        CHECK(same(k, kl, E[i].key) && same(v, vl, E[i].val));
        memcpy(kcopy, k, kl);
        if (vl)
            memcpy(vcopy, v, vl);
    }
    kat_iter_free(it);

    /* val and val_len may both be NULL; only one of them NULL is refused (and does not
     * move the iterator); key and key_len are required. */
    it = iter_new(db, NULL);
    CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(same(k, kl, E[0].key));
    CHECK_FAIL(kat_iter_next(it, &k2, &kl2, &v2, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_iter_next(it, &k2, &kl2, NULL, &vl2, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_iter_next(it, NULL, &kl2, NULL, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_iter_next(it, &k2, NULL, NULL, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_iter_next(it, &k2, &kl2, &v2, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK_FAIL(kat_iter_prev(it, &k2, &kl2, &v2, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_iter_prev(it, &k2, &kl2, NULL, &vl2, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_iter_prev(it, NULL, &kl2, NULL, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_iter_prev(it, &k2, NULL, NULL, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK(k2 == (const uint8_t *)SENTINEL && kl2 == 999 && vl2 == 999);
    CHECK(v2 == (const uint8_t *)SENTINEL);
    NEXT_IS(it, 1);
    CHECK_OK(kat_iter_prev(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(same(k, kl, E[0].key));
    /* err may be NULL on success. */
    CHECK_STATUS(kat_iter_next(it, &k, &kl, &v, &vl, NULL), KAT_OK);
    CHECK(same(k, kl, E[1].key) && same(v, vl, E[1].val));
    /* An empty value has length 0. */
    {
        static const bytes_t c = B("c");
        seek(it, c);
        CHECK_OK(kat_iter_next(it, &k, &kl, &v, &vl, &err), err);
        CHECK(same(k, kl, c) && vl == 0);
    }
    kat_iter_free(it);
    CHECK_OK(kat_db_delete(db, K("zz-unrelated"), &err), err);
}

static void numbered(char *buf, size_t n, const char *prefix, int i)
{
    snprintf(buf, n, "%s%03d", prefix, i);
}

static void test_snapshot(const char *path)
{
    kat_db *db = OPEN(path, NULL);
    kat_error *err = NULL;
    kat_iter *it, *rev, *later;
    kat_iter_opts o;
    char key[32], val[32];
    const uint8_t *k, *v;
    size_t kl, vl;
    int i;
    kat_batch *b = NULL;

    for (i = 0; i < 100; i++) {
        numbered(key, sizeof key, "s", i);
        numbered(val, sizeof val, "old", i);
        CHECK_OK(kat_db_put(db, K(key), K(val), &err), err);
    }
    it = iter_new(db, NULL);
    o = opts(NULL, NULL, NULL, KAT_ITER_REVERSE);
    rev = iter_new(db, &o);
    /* Advance past the first fetches, then change the rest. */
    for (i = 0; i < 20; i++) {
        numbered(key, sizeof key, "s", i);
        CHECK_OK(kat_iter_next(it, &k, &kl, &v, &vl, &err), err);
        CHECK(kl == strlen(key) && memcmp(k, key, kl) == 0);
    }
    for (i = 0; i < 100; i++) {
        numbered(key, sizeof key, "s", i);
        if (i % 3 == 0) {
            CHECK_OK(kat_db_put(db, K(key), K("new"), &err), err);
        } else if (i % 3 == 1) {
            CHECK_OK(kat_db_delete(db, K(key), &err), err);
        }
        numbered(key, sizeof key, "s", i);
        strcat(key, "+");
        CHECK_OK(kat_db_put(db, K(key), K("added"), &err), err);
    }
    CHECK_STATUS(kat_batch_new(&b), KAT_OK);
    CHECK_OK(kat_batch_delete(b, K("s050"), &err), err);
    CHECK_OK(kat_batch_put(b, K("s0505"), K("batched"), &err), err);
    CHECK_OK(kat_db_write(db, b, &err), err);
    kat_batch_free(b);
    CHECK_OK(kat_db_sync(db, &err), err);

    later = iter_new(db, NULL);
    /* The old iterators still return the old data, in both directions. */
    for (i = 20; i < 100; i++) {
        numbered(key, sizeof key, "s", i);
        numbered(val, sizeof val, "old", i);
        CHECK_OK(kat_iter_next(it, &k, &kl, &v, &vl, &err), err);
        CHECK(kl == strlen(key) && memcmp(k, key, kl) == 0);
        CHECK(vl == strlen(val) && memcmp(v, val, vl) == 0);
    }
    next_end(it);
    for (i = 99; i >= 40; i--) {
        numbered(key, sizeof key, "s", i);
        numbered(val, sizeof val, "old", i);
        CHECK_OK(kat_iter_prev(it, &k, &kl, &v, &vl, &err), err);
        CHECK(kl == strlen(key) && memcmp(k, key, kl) == 0);
        CHECK(vl == strlen(val) && memcmp(v, val, vl) == 0);
    }
    for (i = 99; i >= 0; i--) {
        numbered(key, sizeof key, "s", i);
        numbered(val, sizeof val, "old", i);
        CHECK_OK(kat_iter_next(rev, &k, &kl, &v, &vl, &err), err);
        CHECK(kl == strlen(key) && memcmp(k, key, kl) == 0);
        CHECK(vl == strlen(val) && memcmp(v, val, vl) == 0);
    }
    next_end(rev);
    /* Seeking in the old snapshot. */
    CHECK_OK(kat_iter_seek(it, K("s050"), &err), err);
    CHECK_OK(kat_iter_next(it, &k, &kl, &v, &vl, &err), err);
    CHECK(kl == 4 && memcmp(k, "s050", 4) == 0 && vl == 6 && memcmp(v, "old050", 6) == 0);
    CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 4 && memcmp(k, "s051", 4) == 0);

    /* An iterator made after the changes sees them. */
    for (i = 0; i < 100; i++) {
        numbered(key, sizeof key, "s", i);
        if (i % 3 != 1 && i != 50) {
            CHECK_OK(kat_iter_next(later, &k, &kl, &v, &vl, &err), err);
            CHECK(kl == strlen(key) && memcmp(k, key, kl) == 0);
            if (i % 3 == 0)
                CHECK(vl == 3 && memcmp(v, "new", 3) == 0);
        }
        strcat(key, "+");
        CHECK_OK(kat_iter_next(later, &k, &kl, &v, &vl, &err), err);
        CHECK(kl == strlen(key) && memcmp(k, key, kl) == 0);
        if (i == 50) {
            CHECK_OK(kat_iter_next(later, &k, &kl, &v, &vl, &err), err);
            CHECK(kl == 5 && memcmp(k, "s0505", 5) == 0);
        }
    }
    next_end(later);
    kat_iter_free(it);
    kat_iter_free(rev);
    kat_iter_free(later);
    CLOSE(db);
}

/* An iterator made from a transaction sees the transaction's snapshot plus the writes
 * it made before the iterator was created. */
static void test_txn_iter(const char *path)
{
    kat_db *db = OPEN(path, NULL);
    kat_error *err = NULL;
    kat_txn *t = NULL;
    kat_iter *it, *it2, *it3;
    kat_iter_opts o;
    char key[32], val[32];
    const uint8_t *k, *v;
    size_t kl, vl;
    int i;

    for (i = 0; i < 40; i++) {
        numbered(key, sizeof key, "t", i);
        numbered(val, sizeof val, "v", i);
        CHECK_OK(kat_db_put(db, K(key), K(val), &err), err);
    }
    CHECK_OK(kat_txn_begin(db, 0, &t, &err), err);
    /* After begin: not visible to the transaction or its iterators. */
    CHECK_OK(kat_db_put(db, K("t005x"), K("outside"), &err), err);
    CHECK_OK(kat_db_delete(db, K("t007"), &err), err);
    /* The transaction's own writes. */
    CHECK_OK(kat_txn_put(t, K("t002"), K("mine"), &err), err);
    CHECK_OK(kat_txn_put(t, K("t003a"), K("inserted"), &err), err);
    CHECK_OK(kat_txn_delete(t, K("t004"), &err), err);
    CHECK_OK(kat_txn_put_ttl(t, K("t000"), K("ttl"), 3600000, &err), err);
    CHECK_OK(kat_txn_put(t, K("u-outside-prefix"), K("x"), &err), err);

    {
        static const bytes_t tp = B("t");
        o = opts(&tp, NULL, NULL, 0);
    }
    CHECK_OK(kat_txn_iter_new(t, &o, &it, &err), err);
    /* Writes after the iterator was created are not in it. */
    CHECK_OK(kat_txn_put(t, K("t001a"), K("too late"), &err), err);
    for (i = 0; i < 40; i++) {
        numbered(key, sizeof key, "t", i);
        numbered(val, sizeof val, "v", i);
        if (i == 4)
            continue;
        CHECK_OK(kat_iter_next(it, &k, &kl, &v, &vl, &err), err);
        if (kl != strlen(key) || memcmp(k, key, kl) != 0)
            KAT_FAIL_AT("txn iterator: expected %s, got %.*s", key, (int)kl,
                        (const char *)k);
        if (i == 0)
            CHECK(vl == 3 && memcmp(v, "ttl", 3) == 0);
        else if (i == 2)
            CHECK(vl == 4 && memcmp(v, "mine", 4) == 0);
        else
            CHECK(vl == strlen(val) && memcmp(v, val, vl) == 0);
        if (i == 3) {
            CHECK_OK(kat_iter_next(it, &k, &kl, &v, &vl, &err), err);
            CHECK(kl == 5 && memcmp(k, "t003a", 5) == 0);
            CHECK(vl == 8 && memcmp(v, "inserted", 8) == 0);
        }
    }
    next_end(it);
    /* prev across the deleted key and the inserted one. */
    CHECK_OK(kat_iter_seek(it, K("t006"), &err), err);
    CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 4 && memcmp(k, "t006", 4) == 0);
    CHECK_OK(kat_iter_prev(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 4 && memcmp(k, "t005", 4) == 0);
    CHECK_OK(kat_iter_prev(it, &k, &kl, NULL, NULL, &err), err);
    if (kl != 5 || memcmp(k, "t003a", 5) != 0)
        KAT_FAIL_AT("prev over a txn-deleted key: expected t003a, got %.*s", (int)kl,
                    (const char *)k);
    CHECK_OK(kat_iter_prev(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 4 && memcmp(k, "t003", 4) == 0);
    kat_iter_free(it);

    /* A reverse iterator over the transaction's view. */
    o.flags = KAT_ITER_REVERSE;
    CHECK_OK(kat_txn_iter_new(t, &o, &it, &err), err);
    for (i = 39; i >= 0; i--) {
        numbered(key, sizeof key, "t", i);
        if (i == 4)
            continue;
        if (i == 3) {
            CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
            CHECK(kl == 5 && memcmp(k, "t003a", 5) == 0);
        }
        if (i == 1) { /* written before this iterator was made */
            CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
            CHECK(kl == 5 && memcmp(k, "t001a", 5) == 0);
        }
        CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
        CHECK(kl == strlen(key) && memcmp(k, key, kl) == 0);
    }
    next_end(it);

    /* The transaction deletes a long run of keys (more than one internal fetch). */
    for (i = 8; i < 36; i++) {
        numbered(key, sizeof key, "t", i);
        CHECK_OK(kat_txn_delete(t, K(key), &err), err);
    }
    o.flags = 0;
    CHECK_OK(kat_txn_iter_new(t, &o, &it2, &err), err);
    {
        /* t007 was deleted by a commit after the snapshot: still there. */
        static const char *const want[] = {"t000", "t001", "t001a", "t002", "t003",
                                           "t003a", "t005", "t006", "t007", "t036",
                                           "t037", "t038", "t039"};
        size_t j;
        for (j = 0; j < sizeof want / sizeof want[0]; j++) {
            CHECK_OK(kat_iter_next(it2, &k, &kl, NULL, NULL, &err), err);
            if (kl != strlen(want[j]) || memcmp(k, want[j], kl) != 0)
                KAT_FAIL_AT("txn iterator over deletes: expected %s, got %.*s", want[j],
                            (int)kl, (const char *)k);
        }
        next_end(it2);
        /* Backwards over the deleted run. */
        CHECK_OK(kat_iter_seek(it2, K("t036"), &err), err);
        CHECK_OK(kat_iter_next(it2, &k, &kl, NULL, NULL, &err), err);
        CHECK(kl == 4 && memcmp(k, "t036", 4) == 0);
        CHECK_OK(kat_iter_prev(it2, &k, &kl, NULL, NULL, &err), err);
        if (kl != 4 || memcmp(k, "t007", 4) != 0)
            KAT_FAIL_AT("prev over a run of txn deletes: expected t007, got %.*s", (int)kl,
                        (const char *)k);
        /* Seeking into the deleted run: next skips all of it. */
        CHECK_OK(kat_iter_seek(it2, K("t008"), &err), err);
        CHECK_OK(kat_iter_next(it2, &k, &kl, NULL, NULL, &err), err);
        CHECK(kl == 4 && memcmp(k, "t036", 4) == 0);
        /* The same backwards. */
        o.flags = KAT_ITER_REVERSE;
        CHECK_OK(kat_txn_iter_new(t, &o, &it3, &err), err);
        CHECK_OK(kat_iter_seek(it3, K("t035"), &err), err);
        CHECK_OK(kat_iter_next(it3, &k, &kl, NULL, NULL, &err), err);
        CHECK(kl == 4 && memcmp(k, "t007", 4) == 0);
        CHECK_OK(kat_iter_next(it3, &k, &kl, NULL, NULL, &err), err);
        CHECK(kl == 4 && memcmp(k, "t006", 4) == 0);
        kat_iter_free(it3);
    }

    /* Iterators stay usable after the transaction ends; commit adds nothing to them. */
    CHECK_OK(kat_txn_commit(t, &err), err);
    CHECK_OK(kat_iter_seek(it, K("t038"), &err), err);
    CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 4 && memcmp(k, "t038", 4) == 0); /* reverse: at or below */
    CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 4 && memcmp(k, "t037", 4) == 0);
    CHECK_OK(kat_iter_seek(it2, K("t0"), &err), err);
    CHECK_OK(kat_iter_next(it2, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 4 && memcmp(k, "t000", 4) == 0);
    kat_txn_free(t);
    CHECK_OK(kat_iter_next(it2, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 4 && memcmp(k, "t001", 4) == 0);
    kat_iter_free(it);
    kat_iter_free(it2);

    /* The committed state, through a database iterator. */
    {
        static const bytes_t tp = B("t");
        static const char *const want[] = {"t000", "t001", "t001a", "t002", "t003",
                                           "t003a", "t005", "t005x", "t006", "t036",
                                           "t037", "t038", "t039"};
        size_t j;
        o = opts(&tp, NULL, NULL, 0);
        it = iter_new(db, &o);
        for (j = 0; j < sizeof want / sizeof want[0]; j++) {
            CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
            if (kl != strlen(want[j]) || memcmp(k, want[j], kl) != 0)
                KAT_FAIL_AT("after commit: expected %s, got %.*s", want[j], (int)kl,
                            (const char *)k);
        }
        next_end(it);
        kat_iter_free(it);
    }

    /* A read-only transaction's iterator; an aborted transaction's iterator. */
    CHECK_OK(kat_txn_begin(db, KAT_TXN_READ_ONLY, &t, &err), err);
    CHECK_OK(kat_txn_iter_new(t, NULL, &it, &err), err);
    CHECK_OK(kat_txn_abort(t, &err), err);
    CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 4 && memcmp(k, "t000", 4) == 0);
    kat_txn_free(t);
    kat_iter_free(it);
    /* err may be NULL on success. */
    CHECK_STATUS(kat_txn_begin(db, 0, &t, NULL), KAT_OK);
    it = NULL;
    CHECK_STATUS(kat_txn_iter_new(t, NULL, &it, NULL), KAT_OK);
    CHECK(it != NULL);
    kat_iter_free(it);
    kat_txn_free(t);
    CLOSE(db);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Takes one batch of at most max_items/max_bytes from `it`, checks it holds E[*next],
 * E[*next + dir], ... and advances *next; returns the entry count (0 at the end). */
static size_t batch_step(kat_iter *it, size_t max_items, size_t max_bytes, int *next,
                         int dir, int last)
{
    kat_buf b = {NULL, 0};
    size_t count = 0, off = 0, i, before_last = 0;
    kat_error *err = NULL;
    kat_status s = kat_iter_next_batch(it, max_items, max_bytes, &b, &count, &err);

    if (s == KAT_NOT_FOUND) {
        CHECK(err == NULL);
        CHECK(b.data == NULL && b.len == 0 && count == 0);
        CHECK(*next == last + dir);
        return 0;
    }
    CHECK_OK(s, err);
    CHECK(count >= 1 && count <= max_items);
    CHECK(b.data != NULL);
    for (i = 0; i < count; i++) {
        uint32_t kl, vl;
        int e = *next;
        CHECK(off + 8 <= b.len);
        kl = le32(b.data + off);
        vl = le32(b.data + off + 4);
        CHECK(off + 8 + kl + vl <= b.len);
        if (!same(b.data + off + 8, kl, E[e].key))
            KAT_FAIL_AT("batch entry %lu: expected key #%d", (unsigned long)i, e);
        CHECK(same(b.data + off + 8 + kl, vl, E[e].val));
        before_last = off;
        off += 8 + (size_t)kl + vl;
        *next += dir;
    }
    CHECK(off == b.len);
    /* It stops once max_bytes is reached, not before: the entries before the last one
     * were under the limit, and a short batch that did not end the data reached it. */
    CHECK(count == 1 || before_last < max_bytes);
    if (count < max_items && *next != last + dir)
        CHECK(b.len >= max_bytes);
    kat_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
    return count;
}

/* Reads the whole data set with batches of the given limits; returns batches taken. */
static int batch_scan(kat_db *db, const kat_iter_opts *o, size_t max_items,
                      size_t max_bytes)
{
    int rev = o && (o->flags & KAT_ITER_REVERSE);
    int next = rev ? NE - 1 : 0, dir = rev ? -1 : 1, last = rev ? 0 : NE - 1;
    int batches = 0;
    kat_iter *it = iter_new(db, o);
    while (batch_step(it, max_items, max_bytes, &next, dir, last) > 0)
        batches++;
    CHECK(next == last + dir);
    /* And again at the end. */
    CHECK(batch_step(it, max_items, max_bytes, &next, dir, last) == 0);
    next_end(it);
    kat_iter_free(it);
    return batches;
}

static void test_next_batch(kat_db *db)
{
    kat_iter_opts o = opts(NULL, NULL, NULL, KAT_ITER_REVERSE);
    kat_iter *it;
    kat_error *err = NULL;
    kat_buf b = {NULL, 0};
    size_t count = 77;
    int next, n;
    const uint8_t *k;
    size_t kl;

    /* Only max_items limits. */
    CHECK(batch_scan(db, NULL, 5, (size_t)-1) == 3);
    CHECK(batch_scan(db, NULL, 1, (size_t)-1) == NE);
    CHECK(batch_scan(db, NULL, 1000, (size_t)-1) == 1);
    CHECK(batch_scan(db, &o, 4, (size_t)-1) == 4);
    /* Small max_bytes: at least one entry per batch. */
    CHECK(batch_scan(db, NULL, 100, 1) == NE);
    CHECK(batch_scan(db, NULL, 100, 0) == NE);
    n = batch_scan(db, NULL, 100, 30);
    CHECK(n > 1 && n < NE);
    n = batch_scan(db, &o, 3, 40);
    CHECK(n >= 5 && n < NE);
    n = batch_scan(db, NULL, 2, 64);
    CHECK(n == 7);

    /* One entry larger than max_bytes comes whole. */
    {
        static uint8_t big[5000];
        memset(big, 'B', sizeof big);
        CHECK_OK(kat_db_put(db, K("big"), big, sizeof big, &err), err);
        CHECK_OK(kat_iter_new(db, NULL, &it, &err), err);
        CHECK_OK(kat_iter_seek(it, K("big"), &err), err);
        CHECK_OK(kat_iter_next_batch(it, 10, 100, &b, &count, &err), err);
        CHECK(count == 1);
        CHECK(b.len == 8 + 3 + sizeof big);
        CHECK(le32(b.data) == 3 && le32(b.data + 4) == sizeof big);
        CHECK(memcmp(b.data + 8, "big", 3) == 0);
        CHECK(memcmp(b.data + 11, big, sizeof big) == 0);
        kat_buf_free(&b);
        /* The following entry is "c" (empty value): 8 + 1 bytes. */
        CHECK_OK(kat_iter_next_batch(it, 1, 100, &b, &count, &err), err);
        CHECK(count == 1 && b.len == 9 && le32(b.data) == 1 && le32(b.data + 4) == 0);
        CHECK(b.data[8] == 'c');
        kat_buf_free(&b);
        kat_iter_free(it);
        CHECK_OK(kat_db_delete(db, K("big"), &err), err);
    }

    /* Mixed with next and prev: a batch continues after the current entry and next
     * continues after the batch. */
    it = iter_new(db, NULL);
    NEXT_IS(it, 0);
    next = 1;
    CHECK(batch_step(it, 3, (size_t)-1, &next, 1, NE - 1) == 3);
    NEXT_IS(it, 4);
    PREV_IS(it, 3);
    next = 4;
    CHECK(batch_step(it, 2, (size_t)-1, &next, 1, NE - 1) == 2);
    NEXT_IS(it, 6);
    kat_iter_free(it);

    /* max_items 0 and NULL out/count: KAT_INVALID_ARGUMENT, nothing written or moved. */
    it = iter_new(db, NULL);
    count = 77;
    CHECK_FAIL(kat_iter_next_batch(it, 0, 100, &b, &count, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_STATUS(kat_iter_next_batch(it, 0, 100, &b, &count, NULL), KAT_INVALID_ARGUMENT);
    CHECK_FAIL(kat_iter_next_batch(it, 5, 100, NULL, &count, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_FAIL(kat_iter_next_batch(it, 5, 100, &b, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_iter_next_batch(NULL, 5, 100, &b, &count, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK(b.data == NULL && b.len == 0 && count == 77);
    NEXT_IS(it, 0);
    /* err may be NULL on success. */
    CHECK_STATUS(kat_iter_next_batch(it, 1, 100, &b, &count, NULL), KAT_OK);
    CHECK(count == 1 && same(b.data + 8, le32(b.data), E[1].key));
    kat_buf_free(&b);
    kat_iter_free(it);

    /* An empty range: KAT_NOT_FOUND at once. */
    {
        static const bytes_t none = B("zz");
        kat_iter_opts e = opts(&none, NULL, NULL, 0);
        it = iter_new(db, &e);
        count = 77;
        CHECK_NOT_FOUND(kat_iter_next_batch(it, 5, 100, &b, &count, &err), err);
        CHECK(b.data == NULL && count == 77);
        CHECK_OK(kat_iter_seek(it, NULL, 0, &err), err);
        CHECK_NOT_FOUND(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
        kat_iter_free(it);
    }
}

static void test_bad_args(kat_db *db)
{
    kat_iter *it = (kat_iter *)SENTINEL;
    kat_error *err = NULL;
    kat_txn *t = NULL;
    kat_iter_opts o;
    static const uint32_t bad[] = {2, 3, 4, 0x100, 0x80000000u, 0xFFFFFFFFu};
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = opts(NULL, NULL, NULL, bad[i]);
        CHECK_FAIL(kat_iter_new(db, &o, &it, &err), KAT_INVALID_ARGUMENT, err);
        CHECK_STATUS(kat_iter_new(db, &o, &it, NULL), KAT_INVALID_ARGUMENT);
        CHECK(it == (kat_iter *)SENTINEL);
    }
    CHECK_OK(kat_txn_begin(db, 0, &t, &err), err);
    o = opts(NULL, NULL, NULL, 2);
    CHECK_FAIL(kat_txn_iter_new(t, &o, &it, &err), KAT_INVALID_ARGUMENT, err);
    CHECK(it == (kat_iter *)SENTINEL);

    /* NULL handles and out-parameters. */
    CHECK_FAIL(kat_iter_new(NULL, NULL, &it, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_iter_new(db, NULL, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_iter_new(db, NULL, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK_FAIL(kat_txn_iter_new(NULL, NULL, &it, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_iter_new(t, NULL, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK(it == (kat_iter *)SENTINEL);
    {
        const uint8_t *k = NULL, *v = NULL;
        size_t kl = 0, vl = 0;
        CHECK_FAIL(kat_iter_next(NULL, &k, &kl, &v, &vl, &err), KAT_INVALID_ARGUMENT, err);
        CHECK_STATUS(kat_iter_next(NULL, &k, &kl, NULL, NULL, NULL), KAT_INVALID_ARGUMENT);
        CHECK_FAIL(kat_iter_prev(NULL, &k, &kl, &v, &vl, &err), KAT_INVALID_ARGUMENT, err);
        CHECK_FAIL(kat_iter_seek(NULL, K("a"), &err), KAT_INVALID_ARGUMENT, err);
        CHECK_STATUS(kat_iter_seek(NULL, K("a"), NULL), KAT_INVALID_ARGUMENT);
        it = iter_new(db, NULL);
        CHECK_FAIL(kat_iter_seek(it, NULL, 1, &err), KAT_INVALID_ARGUMENT, err);
        NEXT_IS(it, 0);
        kat_iter_free(it);
    }
    kat_iter_free(NULL);
    kat_txn_free(t);
}

/* Keys written with a TTL disappear from iteration once expired. */
static void test_expired(kat_db *db)
{
    static const bytes_t ep = B("e:");
    kat_iter_opts o = opts(&ep, NULL, NULL, 0);
    kat_error *err = NULL;
    kat_iter *it;
    kat_batch *b = NULL;
    kat_buf buf = {NULL, 0};
    size_t count = 0;
    const uint8_t *k, *v;
    size_t kl, vl;

    CHECK_OK(kat_db_put_ttl(db, K("e:1short"), K("s"), 1, &err), err);
    CHECK_OK(kat_db_put_ttl(db, K("e:2long"), K("l"), 3600000, &err), err);
    CHECK_OK(kat_db_put(db, K("e:3plain"), K("p"), &err), err);
    CHECK_STATUS(kat_batch_new(&b), KAT_OK);
    CHECK_OK(kat_batch_put_ttl(b, K("e:4short"), K("s"), 1, &err), err);
    CHECK_OK(kat_batch_put_ttl(b, K("e:5long"), K("l"), 3600000, &err), err);
    CHECK_OK(kat_db_write(db, b, &err), err);
    kat_batch_free(b);
    sleep_ms(20);

    it = iter_new(db, &o);
    CHECK_OK(kat_iter_next(it, &k, &kl, &v, &vl, &err), err);
    CHECK(kl == 7 && memcmp(k, "e:2long", 7) == 0 && vl == 1 && v[0] == 'l');
    CHECK_OK(kat_iter_next(it, &k, &kl, &v, &vl, &err), err);
    CHECK(kl == 8 && memcmp(k, "e:3plain", 8) == 0);
    CHECK_OK(kat_iter_next(it, &k, &kl, &v, &vl, &err), err);
    CHECK(kl == 7 && memcmp(k, "e:5long", 7) == 0);
    next_end(it);
    CHECK_OK(kat_iter_prev(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 7 && memcmp(k, "e:5long", 7) == 0);
    CHECK_OK(kat_iter_prev(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 8 && memcmp(k, "e:3plain", 8) == 0);
    CHECK_OK(kat_iter_prev(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 7 && memcmp(k, "e:2long", 7) == 0);
    prev_end(it);
    kat_iter_free(it);

    o.flags = KAT_ITER_REVERSE;
    it = iter_new(db, &o);
    CHECK_OK(kat_iter_seek(it, K("e:4short"), &err), err);
    CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 8 && memcmp(k, "e:3plain", 8) == 0);
    CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
    CHECK(kl == 7 && memcmp(k, "e:2long", 7) == 0);
    next_end(it);
    kat_iter_free(it);

    o.flags = 0;
    it = iter_new(db, &o);
    CHECK_OK(kat_iter_next_batch(it, 10, (size_t)-1, &buf, &count, &err), err);
    CHECK(count == 3);
    CHECK(buf.len == 3 * 8 + 7 + 1 + 8 + 1 + 7 + 1);
    kat_buf_free(&buf);
    CHECK_NOT_FOUND(kat_iter_next_batch(it, 10, (size_t)-1, &buf, &count, &err), err);
    kat_iter_free(it);

    /* In a transaction's iterator too, including its own expired write. */
    {
        kat_txn *t = NULL;
        CHECK_OK(kat_txn_begin(db, 0, &t, &err), err);
        CHECK_OK(kat_txn_put_ttl(t, K("e:6own"), K("o"), 1, &err), err);
        sleep_ms(20);
        CHECK_OK(kat_txn_iter_new(t, &o, &it, &err), err);
        CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
        CHECK(kl == 7 && memcmp(k, "e:2long", 7) == 0);
        CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
        CHECK(kl == 8 && memcmp(k, "e:3plain", 8) == 0);
        CHECK_OK(kat_iter_next(it, &k, &kl, NULL, NULL, &err), err);
        CHECK(kl == 7 && memcmp(k, "e:5long", 7) == 0);
        next_end(it);
        kat_iter_free(it);
        kat_txn_free(t);
    }
}

/* Iterators and kat_db_close: one freed after close; calls that must read the database
 * return KAT_CLOSED. */
static void test_after_close(const char *path)
{
    kat_db *db = OPEN(path, NULL);
    kat_error *err = NULL;
    kat_iter *fresh, *fresh2, *fresh3, *fresh4, *from_txn, *advanced, *unused;
    kat_iter *none = (kat_iter *)SENTINEL;
    kat_txn *t = NULL;
    const uint8_t *k = (const uint8_t *)SENTINEL;
    size_t kl = 4242;
    uint8_t sent[2] = {1, 2};
    kat_buf b = {sent, 2};
    size_t count = 77;

    put_all(db);
    fresh = iter_new(db, NULL);
    fresh2 = iter_new(db, NULL);
    fresh3 = iter_new(db, NULL);
    fresh4 = iter_new(db, NULL);
    unused = iter_new(db, NULL);
    advanced = iter_new(db, NULL);
    NEXT_IS(advanced, 0);
    CHECK_OK(kat_txn_begin(db, 0, &t, &err), err);
    CHECK_OK(kat_txn_iter_new(t, NULL, &from_txn, &err), err);
    CHECK_OK(kat_db_close(db, &err), err);

    /* Never used, freed after close. */
    kat_iter_free(unused);

    CHECK_FAIL(kat_iter_new(db, NULL, &none, &err), KAT_CLOSED, err);
    CHECK(none == (kat_iter *)SENTINEL);
    CHECK_FAIL(kat_txn_iter_new(t, NULL, &none, &err), KAT_CLOSED, err);
    CHECK(none == (kat_iter *)SENTINEL);
    CHECK_FAIL(kat_iter_next(fresh, &k, &kl, NULL, NULL, &err), KAT_CLOSED, err);
    CHECK(k == (const uint8_t *)SENTINEL && kl == 4242);
    CHECK_FAIL(kat_iter_next(fresh, &k, &kl, NULL, NULL, &err), KAT_CLOSED, err);
    CHECK_FAIL(kat_iter_next_batch(fresh2, 5, 100, &b, &count, &err), KAT_CLOSED, err);
    CHECK(b.data == sent && b.len == 2 && count == 77);
    CHECK_FAIL(kat_iter_next(from_txn, &k, &kl, NULL, NULL, &err), KAT_CLOSED, err);
    CHECK(k == (const uint8_t *)SENTINEL && kl == 4242);
    /* prev from the first entry must read the database. */
    CHECK_FAIL(kat_iter_prev(advanced, &k, &kl, NULL, NULL, &err), KAT_CLOSED, err);
    CHECK(k == (const uint8_t *)SENTINEL && kl == 4242);
    /* Seek on a closed database. */
    CHECK_FAIL(kat_iter_seek(fresh3, K("b"), &err), KAT_CLOSED, err);
    CHECK_FAIL(kat_iter_seek(fresh4, NULL, 0, &err), KAT_CLOSED, err);

    kat_iter_free(fresh);
    kat_iter_free(fresh2);
    kat_iter_free(fresh3);
    kat_iter_free(fresh4);
    kat_iter_free(advanced);
    kat_iter_free(from_txn);
    kat_txn_free(t);
    kat_db_free(db);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    char path[4096];
    kat_db *db;

    db = OPEN(kat_path(path, sizeof path, dir, "db"), NULL);
    put_all(db);
    test_full_scans(db);
    test_prefixes(db);
    test_ranges(db);
    test_seek(db);
    test_prev(db);
    test_views(db);
    test_next_batch(db);
    test_bad_args(db);
    CLOSE(db);

    /* The same data after reopening (read back from the segments). */
    db = OPEN(path, NULL);
    test_full_scans(db);
    test_prefixes(db);
    test_ranges(db);

    test_snapshot(kat_path(path, sizeof path, dir, "snapshot"));
    test_expired(db);
    CLOSE(db);
    test_txn_iter(kat_path(path, sizeof path, dir, "txn"));
    test_after_close(kat_path(path, sizeof path, dir, "closed"));
    CHECK_DONE("iter");
}
