/*
 * roundtrip.c: the C side of the cross-language round trip (scripts/roundtrip.sh,
 * tests/vectors/README.md).
 *
 *   roundtrip write <dir> <dataset.lines>   writes the dataset plus "writer" = "c"
 *   roundtrip read  <dir> <dataset.lines>   checks a directory written by any language
 *
 * <dataset.lines> is tests/vectors/dataset.json translated by
 * `cargo run --example roundtrip -- lines` (C has no JSON parser here): lines
 * "keyspace <name>" and "entry <ks or -> <key> <value>", where each field is "-"
 * (the default keyspace) or "x" followed by the bytes in lowercase hex.
 *
 * The reader checks that the keyspace list and every keyspace's full scan equal the
 * dataset exactly (the default keyspace also holds "writer") and prints
 * "c reader: ok (written by <language>)".
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "katamari.h"

typedef struct {
    uint8_t *data;
    size_t len;
} bytes;

typedef struct {
    int ks; /* index into keyspaces, -1 for the default keyspace */
    bytes key, value;
} entry;

static bytes *keyspaces;
static size_t nkeyspaces;
static entry *entries;
static size_t nentries;

static void die(const char *what, kat_status st, kat_error *err)
{
    fprintf(stderr, "roundtrip (c): %s: %s%s%s\n", what, kat_status_str(st),
            err != NULL ? ": " : "", err != NULL ? kat_error_message(err) : "");
    kat_error_free(err);
    exit(1);
}

static void fail(const char *msg)
{
    fprintf(stderr, "roundtrip (c): %s\n", msg);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL)
        fail("out of memory");
    return p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    fail("bad hex in the dataset");
    return 0;
}

static bytes parse_hex(const char *f)
{
    bytes b = {NULL, 0};
    size_t n, i;
    if (f[0] != 'x' || strlen(f + 1) % 2 != 0)
        fail("bad byte field in the dataset");
    n = strlen(f + 1) / 2;
    b.len = n;
    b.data = xrealloc(NULL, n > 0 ? n : 1);
    for (i = 0; i < n; i++)
        b.data[i] = (uint8_t)(hexval(f[1 + 2 * i]) * 16 + hexval(f[2 + 2 * i]));
    return b;
}

static int bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0)
        return c;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

static int ks_index(const bytes *name)
{
    size_t i;
    for (i = 0; i < nkeyspaces; i++)
        if (bytes_cmp(keyspaces[i].data, keyspaces[i].len, name->data, name->len) == 0)
            return (int)i;
    fail("entry in a keyspace the dataset does not list");
    return -1;
}

static void load(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (f == NULL) {
        fprintf(stderr, "roundtrip (c): cannot open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        char *fields[4];
        int nf = 0;
        char *p = line;
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        while (*p != '\0' && nf < 4) {
            fields[nf++] = p;
            while (*p != '\0' && *p != ' ')
                p++;
            if (*p == ' ')
                *p++ = '\0';
        }
        if (nf == 2 && strcmp(fields[0], "keyspace") == 0) {
            keyspaces = xrealloc(keyspaces, (nkeyspaces + 1) * sizeof *keyspaces);
            keyspaces[nkeyspaces++] = parse_hex(fields[1]);
        } else if (nf == 4 && strcmp(fields[0], "entry") == 0) {
            entry e;
            if (strcmp(fields[1], "-") == 0) {
                e.ks = -1;
            } else {
                bytes name = parse_hex(fields[1]);
                e.ks = ks_index(&name);
                free(name.data);
            }
            e.key = parse_hex(fields[2]);
            e.value = parse_hex(fields[3]);
            entries = xrealloc(entries, (nentries + 1) * sizeof *entries);
            entries[nentries++] = e;
        } else {
            fail("bad line in the dataset");
        }
    }
    free(line);
    fclose(f);
}

static void unload(void)
{
    size_t i;
    for (i = 0; i < nkeyspaces; i++)
        free(keyspaces[i].data);
    for (i = 0; i < nentries; i++) {
        free(entries[i].key.data);
        free(entries[i].value.data);
    }
    free(keyspaces);
    free(entries);
}

static kat_keyspace **open_keyspaces(kat_db *db)
{
    kat_keyspace **h = xrealloc(NULL, (nkeyspaces > 0 ? nkeyspaces : 1) * sizeof *h);
    size_t i;
    for (i = 0; i < nkeyspaces; i++) {
        kat_error *err = NULL;
        kat_status st = kat_keyspace_open(db, keyspaces[i].data, keyspaces[i].len, &h[i], &err);
        if (st != KAT_OK)
            die("kat_keyspace_open", st, err);
    }
    return h;
}

static void free_keyspaces(kat_keyspace **h)
{
    size_t i;
    for (i = 0; i < nkeyspaces; i++)
        kat_keyspace_free(h[i]);
    free(h);
}

static void write_dataset(const char *dir)
{
    kat_db *db = NULL;
    kat_error *err = NULL;
    kat_keyspace **h;
    kat_status st;
    size_t i;
    st = kat_db_open(dir, NULL, &db, &err);
    if (st != KAT_OK)
        die("kat_db_open", st, err);
    h = open_keyspaces(db);
    for (i = 0; i < nentries; i++) {
        const entry *e = &entries[i];
        st = e->ks < 0 ? kat_db_put(db, e->key.data, e->key.len, e->value.data, e->value.len, &err)
                       : kat_keyspace_put(h[e->ks], e->key.data, e->key.len, e->value.data,
                                          e->value.len, &err);
        if (st != KAT_OK)
            die("put", st, err);
    }
    st = kat_db_put(db, (const uint8_t *)"writer", 6, (const uint8_t *)"c", 1, &err);
    if (st != KAT_OK)
        die("put writer", st, err);
    free_keyspaces(h);
    st = kat_db_close(db, &err);
    if (st != KAT_OK)
        die("kat_db_close", st, err);
    kat_db_free(db);
    printf("c writer: wrote %zu entries to %s\n", nentries, dir);
}

static const entry **sorted;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    return bytes_cmp(x->key.data, x->key.len, y->key.data, y->key.len);
}

static int cmp_bytes(const void *a, const void *b)
{
    const bytes *x = a, *y = b;
    return bytes_cmp(x->data, x->len, y->data, y->len);
}

/* Compares the full scan of `it` with the dataset entries of keyspace `ks` (-1: the
 * default one, where "writer" is also expected and its value copied to `writer`). */
static void verify_scan(kat_iter *it, int ks, char *writer, size_t writer_cap)
{
    size_t n = 0, i, at = 0;
    const uint8_t *k, *v;
    size_t kl, vl;
    kat_error *err = NULL;
    kat_status st;
    int saw_writer = 0;
    char msg[256];

    for (i = 0; i < nentries; i++)
        if (entries[i].ks == ks)
            sorted[n++] = &entries[i];
    qsort(sorted, n, sizeof *sorted, cmp_entry);
    while ((st = kat_iter_next(it, &k, &kl, &v, &vl, &err)) == KAT_OK) {
        if (ks < 0 && bytes_cmp(k, kl, (const uint8_t *)"writer", 6) == 0) {
            snprintf(writer, writer_cap, "%.*s", (int)vl, vl > 0 ? (const char *)v : "");
            saw_writer = 1;
            continue;
        }
        if (at == n || bytes_cmp(k, kl, sorted[at]->key.data, sorted[at]->key.len) != 0 ||
            bytes_cmp(v, vl, sorted[at]->value.data, sorted[at]->value.len) != 0) {
            snprintf(msg, sizeof msg,
                     "keyspace #%d: entry %zu (key of %zu bytes, value of %zu bytes) "
                     "is not the expected one",
                     ks, at, kl, vl);
            fail(msg);
        }
        at++;
    }
    if (st != KAT_NOT_FOUND)
        die("kat_iter_next", st, err);
    if (at != n) {
        snprintf(msg, sizeof msg, "keyspace #%d: %zu entries, expected %zu", ks, at, n);
        fail(msg);
    }
    if (ks < 0 && !saw_writer)
        fail("no \"writer\" key");
}

static void read_dataset(const char *dir)
{
    kat_db *db = NULL;
    kat_options *opts = NULL;
    kat_error *err = NULL;
    kat_keyspace **h;
    kat_iter *it = NULL;
    kat_buf list = {NULL, 0};
    size_t count = 0, i, at = 0;
    bytes *want;
    char writer[64] = "";
    kat_status st;

    if (kat_options_new(&opts) != KAT_OK || kat_options_set_create_if_missing(opts, false) != KAT_OK)
        fail("options");
    st = kat_db_open(dir, opts, &db, &err);
    kat_options_free(opts);
    if (st != KAT_OK)
        die("kat_db_open", st, err);

    /* Exactly the dataset's keyspaces (sorted by bytes). */
    st = kat_keyspace_list(db, &list, &count, &err);
    if (st != KAT_OK)
        die("kat_keyspace_list", st, err);
    if (count != nkeyspaces)
        fail("the keyspace list differs from the dataset's");
    want = xrealloc(NULL, (nkeyspaces > 0 ? nkeyspaces : 1) * sizeof *want);
    memcpy(want, keyspaces, nkeyspaces * sizeof *want);
    qsort(want, nkeyspaces, sizeof *want, cmp_bytes);
    for (i = 0; i < count; i++) {
        uint32_t len;
        if (list.len - at < 4)
            fail("truncated keyspace list");
        len = (uint32_t)list.data[at] | (uint32_t)list.data[at + 1] << 8 |
              (uint32_t)list.data[at + 2] << 16 | (uint32_t)list.data[at + 3] << 24;
        at += 4;
        if (list.len - at < len || bytes_cmp(list.data + at, len, want[i].data, want[i].len) != 0)
            fail("the keyspace list differs from the dataset's");
        at += len;
    }
    free(want);
    kat_buf_free(&list);

    sorted = xrealloc(NULL, (nentries > 0 ? nentries : 1) * sizeof *sorted);
    st = kat_iter_new(db, NULL, &it, &err);
    if (st != KAT_OK)
        die("kat_iter_new", st, err);
    verify_scan(it, -1, writer, sizeof writer);
    kat_iter_free(it);
    h = open_keyspaces(db);
    for (i = 0; i < nkeyspaces; i++) {
        st = kat_keyspace_iter_new(h[i], NULL, &it, &err);
        if (st != KAT_OK)
            die("kat_keyspace_iter_new", st, err);
        verify_scan(it, (int)i, writer, sizeof writer);
        kat_iter_free(it);
    }
    free_keyspaces(h);
    free(sorted);
    st = kat_db_close(db, &err);
    if (st != KAT_OK)
        die("kat_db_close", st, err);
    kat_db_free(db);
    printf("c reader: ok (written by %s)\n", writer);
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "read") != 0)) {
        fprintf(stderr, "usage: %s write|read <dir> <dataset.lines>\n", argv[0]);
        return 2;
    }
    load(argv[3]);
    if (strcmp(argv[1], "write") == 0)
        write_dataset(argv[2]);
    else
        read_dataset(argv[2]);
    unload();
    return 0;
}
