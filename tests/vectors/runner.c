/*
 * runner.c: runs the cross-language test vectors (tests/vectors/kv.json) through the C
 * API. C has no JSON parser here: tests/vectors.rs translates kv.json into a line-based
 * script (tests/vectors/support.rs) and runs
 *
 *   runner <script> <work directory>
 *
 * Each case gets a fresh directory <work>/case-<n>. Prints "vectors: N cases passed" and
 * exits 0, or describes every failing case and exits 1.
 *
 * Script records (one per line, fields separated by one space). A byte field is "-"
 * (absent) or "x" followed by lowercase hex ("x" alone: empty). <ks> and <txn> are byte
 * fields naming a keyspace ("-": the default keyspace) and a transaction. <st> is a
 * status constant name such as KAT_OK.
 *
 *   case <segment_size, 0 = default> <name>
 *   put <ks> <key> <value> <st>
 *   get <ks> <key> <st> <value or ->           the value is checked when <st> is KAT_OK
 *   delete <ks> <key> <st>
 *   contains <ks> <key> <st> <0|1|->
 *   batch <st> <n>        followed by n records "bput <ks> <key> <value>" / "bdel <ks> <key>"
 *   begin <txn> <flags> <st>                   flags: KAT_TXN_READ_ONLY | KAT_TXN_SERIALIZABLE
 *   txn_put <txn> <ks> <key> <value> <st>
 *   txn_get <txn> <ks> <key> <st> <value or ->
 *   txn_delete <txn> <ks> <key> <st>
 *   commit <txn> <st>
 *   abort <txn> <st>
 *   scan <ks> <txn> <prefix> <start> <end> <reverse 0|1> <st> <n>
 *                         followed by n records "entry <key> <value>" in iteration order
 *   drop_keyspace <ks> <st>
 *   reopen
 *
 * Keyspace handles are opened (creating the keyspace) on first use of a name and
 * forgotten on drop_keyspace and reopen. Besides the statuses, every call is checked
 * against the error-object rules of katamari.h: no error object on KAT_OK or
 * KAT_NOT_FOUND, one with the same code on any other failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "katamari.h"

#define MAX_FIELDS 12
#define MAX_SLOTS 64

typedef struct {
    uint8_t *data; /* NULL when empty or absent */
    size_t len;
    int present;
} bytes;

typedef struct {
    bytes name;
    kat_keyspace *ks;
} ks_slot;

typedef struct {
    bytes name;
    kat_txn *txn;
} txn_slot;

typedef struct {
    FILE *in;
    char *line;
    size_t cap;
    unsigned long lineno;
    char *fields[MAX_FIELDS];
    int nfields;

    const char *work;
    unsigned long ncases;
    unsigned long nfailed;
    unsigned long nsteps;
    char case_name[256];
    int case_failed;
    char dir[4096];
    unsigned long long segment_size;
    kat_db *db;
    ks_slot ks[MAX_SLOTS];
    int nks;
    txn_slot txns[MAX_SLOTS];
    int ntxns;
} state;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("runner: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* Records a failure of the current case (only the first is printed). */
static void fail(state *s, const char *fmt, ...)
{
    va_list ap;
    if (s->case_failed)
        return;
    s->case_failed = 1;
    s->nfailed++;
    fprintf(stderr, "FAIL %s: script line %lu: ", s->case_name, s->lineno);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- parsing ---- */

/* Reads the next line into s->fields; returns 0 at end of input. */
static int next_line(state *s)
{
    ssize_t n = getline(&s->line, &s->cap, s->in);
    char *p;
    if (n < 0)
        return 0;
    s->lineno++;
    if (n > 0 && s->line[n - 1] == '\n')
        s->line[n - 1] = '\0';
    s->nfields = 0;
    p = s->line;
    while (*p != '\0') {
        if (s->nfields == MAX_FIELDS)
            die("line %lu: too many fields", s->lineno);
        s->fields[s->nfields++] = p;
        while (*p != '\0' && *p != ' ')
            p++;
        if (*p == ' ')
            *p++ = '\0';
    }
    return 1;
}

static void need_fields(state *s, int n)
{
    if (s->nfields != n)
        die("line %lu: %s expects %d fields, has %d", s->lineno,
            s->nfields > 0 ? s->fields[0] : "(empty)", n, s->nfields);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bytes parse_bytes(state *s, const char *f)
{
    bytes b = {NULL, 0, 0};
    size_t n, i;
    if (strcmp(f, "-") == 0)
        return b;
    if (f[0] != 'x')
        die("line %lu: bad byte field '%.20s'", s->lineno, f);
    b.present = 1;
    n = strlen(f + 1);
    if (n % 2 != 0)
        die("line %lu: odd hex length", s->lineno);
    b.len = n / 2;
    if (b.len == 0)
        return b;
    b.data = malloc(b.len);
    if (b.data == NULL)
        die("out of memory");
    for (i = 0; i < b.len; i++) {
        int hi = hexval(f[1 + 2 * i]), lo = hexval(f[2 + 2 * i]);
        if (hi < 0 || lo < 0)
            die("line %lu: bad hex", s->lineno);
        b.data[i] = (uint8_t)(hi * 16 + lo);
    }
    return b;
}

static void free_bytes(bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->present = 0;
}

static int bytes_eq(const bytes *a, const uint8_t *data, size_t len)
{
    return a->len == len && (len == 0 || memcmp(a->data, data, len) == 0);
}

static unsigned long long parse_num(state *s, const char *f)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(f, &end, 10);
    if (errno != 0 || *end != '\0' || end == f)
        die("line %lu: bad number '%s'", s->lineno, f);
    return v;
}

static const struct {
    const char *name;
    kat_status code;
} statuses[] = {
    {"KAT_OK", KAT_OK},
    {"KAT_NOT_FOUND", KAT_NOT_FOUND},
    {"KAT_INVALID_ARGUMENT", KAT_INVALID_ARGUMENT},
    {"KAT_IO", KAT_IO},
    {"KAT_CORRUPTION", KAT_CORRUPTION},
    {"KAT_CONFLICT", KAT_CONFLICT},
    {"KAT_CLOSED", KAT_CLOSED},
    {"KAT_LOCKED", KAT_LOCKED},
    {"KAT_NO_SPACE", KAT_NO_SPACE},
    {"KAT_TOO_LARGE", KAT_TOO_LARGE},
    {"KAT_AUTH_FAILED", KAT_AUTH_FAILED},
    {"KAT_READ_ONLY", KAT_READ_ONLY},
    {"KAT_PANIC", KAT_PANIC},
    {"KAT_INTERNAL", KAT_INTERNAL},
    {"KAT_BUFFER_TOO_SMALL", KAT_BUFFER_TOO_SMALL},
};

static kat_status parse_status(state *s, const char *f)
{
    size_t i;
    for (i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcmp(statuses[i].name, f) == 0)
            return statuses[i].code;
    die("line %lu: unknown status '%s'", s->lineno, f);
    return KAT_INTERNAL;
}

static const char *status_name(kat_status code)
{
    size_t i;
    for (i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i].code == code)
            return statuses[i].name;
    return "(unknown status)";
}

/* ---- checks ---- */

/* Up to 24 bytes of `data` as hex, for failure messages ("..." marks more). */
static const char *show(char buf[64], const uint8_t *data, size_t len)
{
    size_t i, n = len < 24 ? len : 24;
    buf[0] = 'x';
    for (i = 0; i < n; i++)
        snprintf(buf + 1 + 2 * i, 3, "%02x", data[i]);
    strcpy(buf + 1 + 2 * n, len > n ? "..." : "");
    return buf;
}

/* Checks the error-object rules for a call that returned `got` with error `err`, then
 * compares `got` with `want`. Frees `err`. Returns 1 when the status is as expected. */
static int check_status(state *s, const char *what, kat_status got, kat_error *err,
                        kat_status want)
{
    int ok = 1;
    if (got == KAT_OK || got == KAT_NOT_FOUND) {
        if (err != NULL) {
            fail(s, "%s returned %s but made an error object", what, status_name(got));
            ok = 0;
        }
    } else if (err == NULL) {
        fail(s, "%s failed with %s but made no error object", what, status_name(got));
        ok = 0;
    } else if (kat_error_code(err) != got) {
        fail(s, "%s returned %s but its error object says %s", what, status_name(got),
             status_name(kat_error_code(err)));
        ok = 0;
    }
    if (ok && got != want) {
        fail(s, "%s returned %s (%s), expected %s", what, status_name(got),
             err != NULL ? kat_error_message(err) : kat_status_str(got), status_name(want));
        ok = 0;
    }
    kat_error_free(err);
    return ok;
}

/* ---- handles ---- */

static int name_eq(const bytes *a, const bytes *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* The handle of keyspace `name`, opened on first use; NULL with *st set on failure. */
static kat_keyspace *keyspace(state *s, const bytes *name, kat_status *st, kat_error **err)
{
    int i;
    kat_keyspace *ks = NULL;
    for (i = 0; i < s->nks; i++)
        if (name_eq(&s->ks[i].name, name))
            return s->ks[i].ks;
    *st = kat_keyspace_open(s->db, name->data, name->len, &ks, err);
    if (*st != KAT_OK)
        return NULL;
    if (s->nks == MAX_SLOTS)
        die("too many keyspaces");
    s->ks[s->nks].name.len = name->len;
    s->ks[s->nks].name.present = 1;
    s->ks[s->nks].name.data = NULL;
    if (name->len > 0) {
        s->ks[s->nks].name.data = malloc(name->len);
        if (s->ks[s->nks].name.data == NULL)
            die("out of memory");
        memcpy(s->ks[s->nks].name.data, name->data, name->len);
    }
    s->ks[s->nks].ks = ks;
    s->nks++;
    return ks;
}

static void forget_keyspace(state *s, const bytes *name)
{
    int i;
    for (i = 0; i < s->nks; i++) {
        if (name_eq(&s->ks[i].name, name)) {
            kat_keyspace_free(s->ks[i].ks);
            free_bytes(&s->ks[i].name);
            s->ks[i] = s->ks[--s->nks];
            return;
        }
    }
}

static void forget_keyspaces(state *s)
{
    while (s->nks > 0) {
        s->nks--;
        kat_keyspace_free(s->ks[s->nks].ks);
        free_bytes(&s->ks[s->nks].name);
    }
}

static int find_txn(state *s, const bytes *name)
{
    int i;
    for (i = 0; i < s->ntxns; i++)
        if (name_eq(&s->txns[i].name, name))
            return i;
    return -1;
}

static void remove_txn(state *s, int i)
{
    kat_txn_free(s->txns[i].txn);
    free_bytes(&s->txns[i].name);
    s->txns[i] = s->txns[--s->ntxns];
}

static void close_db(state *s)
{
    kat_error *err = NULL;
    kat_status st;
    while (s->ntxns > 0)
        remove_txn(s, s->ntxns - 1);
    forget_keyspaces(s);
    if (s->db == NULL)
        return;
    st = kat_db_close(s->db, &err);
    check_status(s, "kat_db_close", st, err, KAT_OK);
    kat_db_free(s->db);
    s->db = NULL;
}

static void open_db(state *s)
{
    kat_options *opts = NULL;
    kat_error *err = NULL;
    kat_status st;
    if (kat_options_new(&opts) != KAT_OK)
        die("kat_options_new failed");
    if (s->segment_size > 0 && kat_options_set_segment_size(opts, s->segment_size) != KAT_OK)
        die("kat_options_set_segment_size(%llu) failed", s->segment_size);
    st = kat_db_open(s->dir, opts, &s->db, &err);
    kat_options_free(opts);
    if (st != KAT_OK) {
        fail(s, "kat_db_open(%s): %s: %s", s->dir, status_name(st), kat_error_message(err));
        kat_error_free(err);
        s->db = NULL;
    }
}

/* Ends the current case: transactions still open are a script error. */
static void end_case(state *s)
{
    if (s->ncases == 0)
        return;
    if (s->ntxns > 0)
        fail(s, "transactions left open at the end of the case");
    close_db(s);
}

static void start_case(state *s)
{
    bytes name;
    need_fields(s, 3);
    end_case(s);
    s->ncases++;
    s->case_failed = 0;
    s->segment_size = parse_num(s, s->fields[1]);
    name = parse_bytes(s, s->fields[2]);
    snprintf(s->case_name, sizeof s->case_name, "%.*s", (int)name.len,
             name.data != NULL ? (const char *)name.data : "");
    free_bytes(&name);
    snprintf(s->dir, sizeof s->dir, "%s/case-%lu", s->work, s->ncases);
    open_db(s);
}

/* ---- operations ---- */

/* A keyspace field: 1 and *ks (NULL for the default keyspace), or 0 with *st set. */
static int ks_field(state *s, const char *f, kat_keyspace **ks, kat_status *st, kat_error **err)
{
    bytes name = parse_bytes(s, f);
    *ks = NULL;
    if (name.present) {
        *ks = keyspace(s, &name, st, err);
        free_bytes(&name);
        return *ks != NULL;
    }
    return 1;
}

static kat_txn *txn_field(state *s, const char *f)
{
    bytes name = parse_bytes(s, f);
    int i = find_txn(s, &name);
    free_bytes(&name);
    if (i < 0)
        die("line %lu: no open transaction named %s", s->lineno, f);
    return s->txns[i].txn;
}

static void op_put(state *s)
{
    kat_keyspace *ks;
    kat_error *err = NULL;
    kat_status st = KAT_OK;
    bytes key, val;
    need_fields(s, 5);
    key = parse_bytes(s, s->fields[2]);
    val = parse_bytes(s, s->fields[3]);
    if (ks_field(s, s->fields[1], &ks, &st, &err))
        st = ks != NULL ? kat_keyspace_put(ks, key.data, key.len, val.data, val.len, &err)
                        : kat_db_put(s->db, key.data, key.len, val.data, val.len, &err);
    check_status(s, "put", st, err, parse_status(s, s->fields[4]));
    free_bytes(&key);
    free_bytes(&val);
}

/* Shared by get and txn_get: compares the outcome of a get-like call. */
static void check_get(state *s, const char *what, kat_status st, kat_error *err, kat_buf *out,
                      const char *want_f, const char *val_f)
{
    kat_status want = parse_status(s, want_f);
    if (check_status(s, what, st, err, want) && st == KAT_OK) {
        bytes val = parse_bytes(s, val_f);
        char a[64], b[64];
        if (val.present && !bytes_eq(&val, out->data, out->len))
            fail(s, "%s returned %s (%zu bytes), expected %s (%zu bytes)", what,
                 show(a, out->data, out->len), out->len, show(b, val.data, val.len), val.len);
        free_bytes(&val);
    }
    if (st == KAT_OK)
        kat_buf_free(out);
}

static void op_get(state *s)
{
    kat_keyspace *ks;
    kat_error *err = NULL;
    kat_status st = KAT_OK;
    kat_buf out = {NULL, 0};
    bytes key;
    need_fields(s, 5);
    key = parse_bytes(s, s->fields[2]);
    if (ks_field(s, s->fields[1], &ks, &st, &err))
        st = ks != NULL ? kat_keyspace_get(ks, key.data, key.len, &out, &err)
                        : kat_db_get(s->db, key.data, key.len, &out, &err);
    check_get(s, "get", st, err, &out, s->fields[3], s->fields[4]);
    free_bytes(&key);
}

static void op_delete(state *s)
{
    kat_keyspace *ks;
    kat_error *err = NULL;
    kat_status st = KAT_OK;
    bytes key;
    need_fields(s, 4);
    key = parse_bytes(s, s->fields[2]);
    if (ks_field(s, s->fields[1], &ks, &st, &err))
        st = ks != NULL ? kat_keyspace_delete(ks, key.data, key.len, &err)
                        : kat_db_delete(s->db, key.data, key.len, &err);
    check_status(s, "delete", st, err, parse_status(s, s->fields[3]));
    free_bytes(&key);
}

static void op_contains(state *s)
{
    kat_keyspace *ks;
    kat_error *err = NULL;
    kat_status st = KAT_OK;
    bool found = false;
    bytes key;
    need_fields(s, 5);
    key = parse_bytes(s, s->fields[2]);
    if (ks_field(s, s->fields[1], &ks, &st, &err))
        st = ks != NULL ? kat_keyspace_contains(ks, key.data, key.len, &found, &err)
                        : kat_db_contains(s->db, key.data, key.len, &found, &err);
    if (check_status(s, "contains", st, err, parse_status(s, s->fields[3])) && st == KAT_OK &&
        strcmp(s->fields[4], "-") != 0 && found != (strcmp(s->fields[4], "1") == 0))
        fail(s, "contains returned found=%d, expected %s", (int)found, s->fields[4]);
    free_bytes(&key);
}

static void op_batch(state *s)
{
    kat_batch *b = NULL;
    kat_error *err = NULL;
    kat_status st = KAT_OK, want;
    unsigned long long n, i;
    need_fields(s, 3);
    want = parse_status(s, s->fields[1]);
    n = parse_num(s, s->fields[2]);
    if (kat_batch_new(&b) != KAT_OK)
        die("kat_batch_new failed");
    for (i = 0; i < n; i++) {
        kat_keyspace *ks;
        bytes key, val = {NULL, 0, 0};
        int is_put;
        if (!next_line(s) || s->nfields < 3)
            die("line %lu: batch record expected", s->lineno);
        is_put = strcmp(s->fields[0], "bput") == 0;
        if (!is_put && strcmp(s->fields[0], "bdel") != 0)
            die("line %lu: batch record expected", s->lineno);
        need_fields(s, is_put ? 4 : 3);
        if (st != KAT_OK)
            continue; /* an earlier operation failed: the batch is not written */
        key = parse_bytes(s, s->fields[2]);
        if (is_put)
            val = parse_bytes(s, s->fields[3]);
        if (ks_field(s, s->fields[1], &ks, &st, &err)) {
            if (is_put)
                st = ks != NULL
                         ? kat_batch_put_in(b, ks, key.data, key.len, val.data, val.len, &err)
                         : kat_batch_put(b, key.data, key.len, val.data, val.len, &err);
            else
                st = ks != NULL ? kat_batch_delete_in(b, ks, key.data, key.len, &err)
                                : kat_batch_delete(b, key.data, key.len, &err);
        }
        free_bytes(&key);
        free_bytes(&val);
    }
    if (st == KAT_OK) {
        size_t count = 0;
        if (kat_batch_count(b, &count) != KAT_OK || count != n)
            fail(s, "kat_batch_count is %zu, expected %llu", count, n);
        st = kat_db_write(s->db, b, &err);
    }
    check_status(s, "batch", st, err, want);
    kat_batch_free(b);
}

static void op_begin(state *s)
{
    kat_error *err = NULL;
    kat_txn *t = NULL;
    kat_status st;
    bytes name;
    need_fields(s, 4);
    name = parse_bytes(s, s->fields[1]);
    if (find_txn(s, &name) >= 0)
        die("line %lu: transaction already open", s->lineno);
    st = kat_txn_begin(s->db, (uint32_t)parse_num(s, s->fields[2]), &t, &err);
    if (check_status(s, "begin", st, err, parse_status(s, s->fields[3])) && st == KAT_OK) {
        if (s->ntxns == MAX_SLOTS)
            die("too many transactions");
        s->txns[s->ntxns].name = name;
        s->txns[s->ntxns].txn = t;
        s->ntxns++;
        return;
    }
    if (st == KAT_OK)
        kat_txn_free(t);
    free_bytes(&name);
}

static void op_txn_put(state *s)
{
    kat_txn *t;
    kat_keyspace *ks;
    kat_error *err = NULL;
    kat_status st = KAT_OK;
    bytes key, val;
    need_fields(s, 6);
    t = txn_field(s, s->fields[1]);
    key = parse_bytes(s, s->fields[3]);
    val = parse_bytes(s, s->fields[4]);
    if (ks_field(s, s->fields[2], &ks, &st, &err))
        st = ks != NULL ? kat_txn_put_in(t, ks, key.data, key.len, val.data, val.len, &err)
                        : kat_txn_put(t, key.data, key.len, val.data, val.len, &err);
    check_status(s, "txn_put", st, err, parse_status(s, s->fields[5]));
    free_bytes(&key);
    free_bytes(&val);
}

static void op_txn_get(state *s)
{
    kat_txn *t;
    kat_keyspace *ks;
    kat_error *err = NULL;
    kat_status st = KAT_OK;
    kat_buf out = {NULL, 0};
    bytes key;
    need_fields(s, 6);
    t = txn_field(s, s->fields[1]);
    key = parse_bytes(s, s->fields[3]);
    if (ks_field(s, s->fields[2], &ks, &st, &err))
        st = ks != NULL ? kat_txn_get_in(t, ks, key.data, key.len, &out, &err)
                        : kat_txn_get(t, key.data, key.len, &out, &err);
    check_get(s, "txn_get", st, err, &out, s->fields[4], s->fields[5]);
    free_bytes(&key);
}

static void op_txn_delete(state *s)
{
    kat_txn *t;
    kat_keyspace *ks;
    kat_error *err = NULL;
    kat_status st = KAT_OK;
    bytes key;
    need_fields(s, 5);
    t = txn_field(s, s->fields[1]);
    key = parse_bytes(s, s->fields[3]);
    if (ks_field(s, s->fields[2], &ks, &st, &err))
        st = ks != NULL ? kat_txn_delete_in(t, ks, key.data, key.len, &err)
                        : kat_txn_delete(t, key.data, key.len, &err);
    check_status(s, "txn_delete", st, err, parse_status(s, s->fields[4]));
    free_bytes(&key);
}

static void op_end_txn(state *s, int commit)
{
    kat_error *err = NULL;
    kat_status st;
    bytes name;
    int i;
    need_fields(s, 3);
    name = parse_bytes(s, s->fields[1]);
    i = find_txn(s, &name);
    free_bytes(&name);
    if (i < 0)
        die("line %lu: no open transaction named %s", s->lineno, s->fields[1]);
    st = commit ? kat_txn_commit(s->txns[i].txn, &err) : kat_txn_abort(s->txns[i].txn, &err);
    check_status(s, commit ? "commit" : "abort", st, err, parse_status(s, s->fields[2]));
    remove_txn(s, i);
}

/* A bound of kat_iter_opts: set (non-NULL pointer, even when empty) when present. */
static const uint8_t empty_bound[1] = {0};

static void set_bound(const bytes *b, const uint8_t **ptr, size_t *len)
{
    if (b->present) {
        *ptr = b->data != NULL ? b->data : empty_bound;
        *len = b->len;
    }
}

static void op_scan(state *s)
{
    kat_keyspace *ks = NULL;
    kat_txn *t = NULL;
    kat_iter *it = NULL;
    kat_error *err = NULL;
    kat_status st = KAT_OK, want;
    kat_iter_opts opts;
    bytes prefix, start, end, txn_name;
    bytes *expect;
    unsigned long long n, i, got = 0;
    int ok;

    need_fields(s, 9);
    memset(&opts, 0, sizeof opts);
    txn_name = parse_bytes(s, s->fields[2]);
    prefix = parse_bytes(s, s->fields[3]);
    start = parse_bytes(s, s->fields[4]);
    end = parse_bytes(s, s->fields[5]);
    set_bound(&prefix, &opts.prefix, &opts.prefix_len);
    set_bound(&start, &opts.start, &opts.start_len);
    set_bound(&end, &opts.end, &opts.end_len);
    opts.flags = strcmp(s->fields[6], "1") == 0 ? KAT_ITER_REVERSE : 0;
    want = parse_status(s, s->fields[7]);
    n = parse_num(s, s->fields[8]);
    if (txn_name.present)
        t = txn_field(s, s->fields[2]);
    if (ks_field(s, s->fields[1], &ks, &st, &err)) {
        if (t != NULL)
            st = ks != NULL ? kat_txn_iter_new_in(t, ks, &opts, &it, &err)
                            : kat_txn_iter_new(t, &opts, &it, &err);
        else
            st = ks != NULL ? kat_keyspace_iter_new(ks, &opts, &it, &err)
                            : kat_iter_new(s->db, &opts, &it, &err);
    }

    /* The expected entries. */
    expect = calloc(n > 0 ? 2 * n : 1, sizeof *expect);
    if (expect == NULL)
        die("out of memory");
    for (i = 0; i < n; i++) {
        if (!next_line(s) || s->nfields != 3 || strcmp(s->fields[0], "entry") != 0)
            die("line %lu: entry record expected", s->lineno);
        expect[2 * i] = parse_bytes(s, s->fields[1]);
        expect[2 * i + 1] = parse_bytes(s, s->fields[2]);
    }

    ok = check_status(s, "scan", st, err, want);
    while (ok && st == KAT_OK) {
        const uint8_t *k, *v;
        size_t kl, vl;
        kat_status r;
        err = NULL;
        r = kat_iter_next(it, &k, &kl, &v, &vl, &err);
        if (r == KAT_NOT_FOUND) {
            ok = check_status(s, "kat_iter_next", r, err, KAT_NOT_FOUND);
            if (ok && got != n)
                fail(s, "scan returned %llu entries, expected %llu", got, n);
            break;
        }
        if (!check_status(s, "kat_iter_next", r, err, KAT_OK))
            break;
        if (got == n) {
            fail(s, "scan returned more than the %llu expected entries", n);
            break;
        }
        if (!bytes_eq(&expect[2 * got], k, kl) || !bytes_eq(&expect[2 * got + 1], v, vl)) {
            char a[64], b[64], c[64], d[64];
            fail(s, "scan entry #%llu is [%s, %s], expected [%s, %s]", got, show(a, k, kl),
                 show(b, v, vl), show(c, expect[2 * got].data, expect[2 * got].len),
                 show(d, expect[2 * got + 1].data, expect[2 * got + 1].len));
            break;
        }
        got++;
    }
    kat_iter_free(it);
    for (i = 0; i < 2 * n; i++)
        free_bytes(&expect[i]);
    free(expect);
    free_bytes(&txn_name);
    free_bytes(&prefix);
    free_bytes(&start);
    free_bytes(&end);
}

static void op_drop_keyspace(state *s)
{
    kat_error *err = NULL;
    kat_status st;
    bytes name;
    need_fields(s, 3);
    name = parse_bytes(s, s->fields[1]);
    forget_keyspace(s, &name);
    st = kat_keyspace_drop(s->db, name.data, name.len, &err);
    check_status(s, "drop_keyspace", st, err, parse_status(s, s->fields[2]));
    free_bytes(&name);
}

static void op_reopen(state *s)
{
    need_fields(s, 1);
    if (s->ntxns > 0)
        die("line %lu: reopen with open transactions", s->lineno);
    close_db(s);
    open_db(s);
}

/* Skips the records that belong to the current line (batch and scan bodies). */
static void skip_body(state *s)
{
    unsigned long long n = 0, i;
    if (strcmp(s->fields[0], "batch") == 0 && s->nfields == 3)
        n = parse_num(s, s->fields[2]);
    else if (strcmp(s->fields[0], "scan") == 0 && s->nfields == 9)
        n = parse_num(s, s->fields[8]);
    for (i = 0; i < n; i++)
        if (!next_line(s))
            die("unexpected end of script");
}

int main(int argc, char **argv)
{
    state s;
    if (argc != 3) {
        fprintf(stderr, "usage: %s <script> <work directory>\n", argv[0]);
        return 2;
    }
    memset(&s, 0, sizeof s);
    s.in = fopen(argv[1], "r");
    if (s.in == NULL)
        die("cannot open %s: %s", argv[1], strerror(errno));
    s.work = argv[2];
    if (mkdir(s.work, 0755) != 0 && errno != EEXIST)
        die("cannot create %s: %s", s.work, strerror(errno));

    while (next_line(&s)) {
        const char *op;
        if (s.nfields == 0)
            continue;
        op = s.fields[0];
        if (strcmp(op, "case") == 0) {
            start_case(&s);
            continue;
        }
        if (s.ncases == 0)
            die("line %lu: record before the first case", s.lineno);
        if (s.case_failed || s.db == NULL) {
            skip_body(&s);
            continue;
        }
        s.nsteps++;
        if (strcmp(op, "put") == 0)
            op_put(&s);
        else if (strcmp(op, "get") == 0)
            op_get(&s);
        else if (strcmp(op, "delete") == 0)
            op_delete(&s);
        else if (strcmp(op, "contains") == 0)
            op_contains(&s);
        else if (strcmp(op, "batch") == 0)
            op_batch(&s);
        else if (strcmp(op, "begin") == 0)
            op_begin(&s);
        else if (strcmp(op, "txn_put") == 0)
            op_txn_put(&s);
        else if (strcmp(op, "txn_get") == 0)
            op_txn_get(&s);
        else if (strcmp(op, "txn_delete") == 0)
            op_txn_delete(&s);
        else if (strcmp(op, "commit") == 0)
            op_end_txn(&s, 1);
        else if (strcmp(op, "abort") == 0)
            op_end_txn(&s, 0);
        else if (strcmp(op, "scan") == 0)
            op_scan(&s);
        else if (strcmp(op, "drop_keyspace") == 0)
            op_drop_keyspace(&s);
        else if (strcmp(op, "reopen") == 0)
            op_reopen(&s);
        else
            die("line %lu: unknown record '%s'", s.lineno, op);
    }
    end_case(&s);
    free(s.line);
    fclose(s.in);

    if (s.nfailed > 0) {
        printf("vectors: %lu of %lu cases failed\n", s.nfailed, s.ncases);
        return 1;
    }
    printf("vectors: %lu cases passed (%lu steps)\n", s.ncases, s.nsteps);
    return 0;
}
