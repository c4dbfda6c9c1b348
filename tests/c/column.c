/*
 * column.c: kat_column_* and kat_column_appender_*. Typed columns (i64, f64, bytes:N,
 * variable bytes): create/open/list/drop, append and extend (fixed and variable), get
 * with negative indices, typed gets, set, range reads into a caller buffer and into
 * owned buffers, truncate and pop, the buffered appender, transactions (kat_txn_column_*)
 * that commit with KV writes or not at all, persistence across reopen, wrong sizes and
 * out-of-range indices, NULL arguments, and calls after close.
 */
#include "kat_check.h"

static void test_fixed(kat_db *db)
{
    kat_error *err = NULL;
    kat_column *c = NULL;
    uint64_t len = 0;
    int64_t iv = 0;
    double fv = 0;
    int32_t type = 0;
    uint32_t width = 0;
    kat_buf b = {NULL, 0};
    int64_t many[5000];
    size_t i;

    CHECK_OK(kat_column_create(db, K("ints"), KAT_COLUMN_I64, 0, &c, &err), err);
    CHECK_OK(kat_column_type(c, &type, &width), err);
    CHECK(type == KAT_COLUMN_I64 && width == 8);
    CHECK_OK(kat_column_len(c, &len, &err), err);
    CHECK(len == 0);
    CHECK_NOT_FOUND(kat_column_get(c, 0, &b, &err), err);
    CHECK_NOT_FOUND(kat_column_get(c, -1, &b, &err), err);
    CHECK_NOT_FOUND(kat_column_pop(c, &b, &err), err);

    for (i = 0; i < 5000; i++)
        many[i] = (int64_t)i * 3 - 7;
    CHECK_OK(kat_column_extend(c, (const uint8_t *)many, sizeof many, &len, &err), err);
    CHECK(len == 5000);
    CHECK_OK(kat_column_append(c, (const uint8_t *)&many[1], 8, &len, &err), err);
    CHECK(len == 5001);
    CHECK_OK(kat_column_get_i64(c, -1, &iv, &err), err);
    CHECK(iv == many[1]);
    CHECK_OK(kat_column_get_i64(c, 4999, &iv, &err), err);
    CHECK(iv == many[4999]);
    CHECK_OK(kat_column_get(c, 511, &b, &err), err);
    CHECK_BUF(b, &many[511], 8);
    kat_buf_free(&b);
    CHECK_NOT_FOUND(kat_column_get_i64(c, 5001, &iv, &err), err);
    CHECK_NOT_FOUND(kat_column_get_i64(c, -5002, &iv, &err), err);
    /* A typed get of the other type is refused. */
    CHECK_FAIL(kat_column_get_f64(c, 0, &fv, &err), KAT_INVALID_ARGUMENT, err);

    /* set, with a negative index; a wrong size writes nothing. */
    iv = 42;
    CHECK_OK(kat_column_set(c, -2, (const uint8_t *)&iv, 8, &err), err);
    CHECK_OK(kat_column_get_i64(c, 4999, &iv, &err), err);
    CHECK(iv == 42);
    CHECK_FAIL(kat_column_set(c, 0, (const uint8_t *)&iv, 4, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_column_append(c, (const uint8_t *)&iv, 7, NULL, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_FAIL(kat_column_extend(c, (const uint8_t *)many, 12, NULL, &err),
               KAT_INVALID_ARGUMENT, err);
    CHECK_NOT_FOUND(kat_column_set(c, 5001, (const uint8_t *)&iv, 8, &err), err);
    CHECK_OK(kat_column_len(c, &len, &err), err);
    CHECK(len == 5001);

    /* Range reads: into a caller buffer (too small first), and into owned buffers. */
    {
        int64_t out[100];
        size_t need = 0;
        kat_buf data = {NULL, 0}, offs = {NULL, 0};
        CHECK_FAIL(kat_column_read(c, 0, 101, (uint8_t *)out, sizeof out, &need, &err),
                   KAT_BUFFER_TOO_SMALL, err);
        CHECK(need == 808);
        CHECK_OK(kat_column_read(c, 500, 600, (uint8_t *)out, sizeof out, &need, &err), err);
        CHECK(need == 800 && memcmp(out, &many[500], 800) == 0);
        CHECK_FAIL(kat_column_read(c, 10, 5002, (uint8_t *)out, sizeof out, &need, &err),
                   KAT_INVALID_ARGUMENT, err);
        CHECK_OK(kat_column_read_buf(c, 0, 4000, &data, NULL, &err), err);
        CHECK_BUF(data, many, 4000 * 8);
        kat_buf_free(&data);
        CHECK_OK(kat_column_read_buf(c, 1, 3, &data, &offs, &err), err);
        CHECK(data.len == 16 && offs.len == 0);
        kat_buf_free(&data);
        kat_buf_free(&offs);
    }

    /* truncate and pop. */
    CHECK_OK(kat_column_pop(c, &b, &err), err);
    CHECK_BUF(b, &many[1], 8);
    kat_buf_free(&b);
    CHECK_OK(kat_column_truncate(c, 10, &err), err);
    CHECK_FAIL(kat_column_truncate(c, 11, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_OK(kat_column_len(c, &len, &err), err);
    CHECK(len == 10);
    kat_column_free(c);

    /* f64 and bytes:N. */
    CHECK_OK(kat_column_create(db, K("floats"), KAT_COLUMN_F64, 0, &c, &err), err);
    fv = 2.5;
    CHECK_OK(kat_column_append(c, (const uint8_t *)&fv, 8, NULL, &err), err);
    fv = 0;
    CHECK_OK(kat_column_get_f64(c, 0, &fv, &err), err);
    CHECK(fv == 2.5);
    CHECK_FAIL(kat_column_get_i64(c, 0, &iv, &err), KAT_INVALID_ARGUMENT, err);
    kat_column_free(c);

    CHECK_OK(kat_column_create(db, K("pairs"), KAT_COLUMN_BYTES, 3, &c, &err), err);
    CHECK_OK(kat_column_type(c, &type, &width), err);
    CHECK(type == KAT_COLUMN_BYTES && width == 3);
    CHECK_OK(kat_column_extend(c, K("abcdef"), &len, &err), err);
    CHECK(len == 2);
    CHECK_FAIL(kat_column_append(c, K("ab"), NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_OK(kat_column_get(c, -1, &b, &err), err);
    CHECK_BUF(b, "def", 3);
    kat_buf_free(&b);
    kat_column_free(c);

    /* Bad types and names; an existing name. */
    CHECK_FAIL(kat_column_create(db, K("x"), 99, 0, &c, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_column_create(db, K("x"), KAT_COLUMN_BYTES, 0, &c, &err),
               KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_column_create(db, K(""), KAT_COLUMN_I64, 0, &c, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_FAIL(kat_column_create(db, K("ints"), KAT_COLUMN_I64, 0, &c, &err),
               KAT_INVALID_ARGUMENT, err);
    CHECK_NOT_FOUND(kat_column_open(db, K("missing"), &c, &err), err);
}

static void test_var(kat_db *db)
{
    kat_error *err = NULL;
    kat_column *c = NULL;
    uint64_t len = 0;
    kat_buf data = {NULL, 0}, offs = {NULL, 0}, b = {NULL, 0};
    const char *text = "onetwothree";
    uint64_t offsets[4] = {0, 3, 6, 11};
    uint64_t bad[3] = {0, 5, 3};
    int32_t type = 0;
    uint32_t width = 9;

    CHECK_OK(kat_column_create(db, K("names"), KAT_COLUMN_VAR_BYTES, 0, &c, &err), err);
    CHECK_OK(kat_column_type(c, &type, &width), err);
    CHECK(type == KAT_COLUMN_VAR_BYTES && width == 0);
    CHECK_OK(kat_column_extend_var(c, offsets, 3, K(text), &len, &err), err);
    CHECK(len == 3);
    CHECK_OK(kat_column_append(c, (const uint8_t *)"", 0, &len, &err), err);
    CHECK(len == 4);
    CHECK_FAIL(kat_column_extend_var(c, bad, 2, K(text), NULL, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_FAIL(kat_column_extend_var(c, NULL, 2, K(text), NULL, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_FAIL(kat_column_extend(c, K("abc"), NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_OK(kat_column_get(c, 2, &b, &err), err);
    CHECK_BUF(b, "three", 5);
    kat_buf_free(&b);
    CHECK_OK(kat_column_set(c, 0, K("uno, longer now"), &err), err);
    CHECK_OK(kat_column_read_buf(c, 0, 4, &data, &offs, &err), err);
    CHECK_BUF(data, "uno, longer nowtwothree", 23);
    CHECK(offs.len == 5 * 8);
    {
        uint64_t o[5];
        memcpy(o, offs.data, sizeof o);
        CHECK(o[0] == 0 && o[1] == 15 && o[2] == 18 && o[3] == 23 && o[4] == 23);
    }
    kat_buf_free(&data);
    kat_buf_free(&offs);
    CHECK_FAIL(kat_column_read_buf(c, 0, 1, &data, NULL, &err), KAT_INVALID_ARGUMENT, err);
    {
        uint8_t out[8];
        size_t need = 0;
        CHECK_FAIL(kat_column_read(c, 0, 1, out, sizeof out, &need, &err),
                   KAT_INVALID_ARGUMENT, err);
    }
    kat_column_free(c);
}

static void test_appender_and_txn(kat_db *db)
{
    kat_error *err = NULL;
    kat_column *c = NULL;
    kat_column_appender *a = NULL;
    kat_txn *t = NULL, *t2 = NULL;
    kat_buf b = {NULL, 0};
    uint64_t len = 0;
    int64_t v;

    CHECK_OK(kat_column_create(db, K("log"), KAT_COLUMN_I64, 0, &c, &err), err);
    CHECK_OK(kat_column_appender_open(c, &a, &err), err);
    for (v = 0; v < 1000; v++)
        CHECK_OK(kat_column_appender_append(a, (const uint8_t *)&v, 8, &err), err);
    CHECK_FAIL(kat_column_appender_append(a, (const uint8_t *)&v, 4, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_OK(kat_column_len(c, &len, &err), err);
    CHECK(len == 0); /* still buffered */
    CHECK_OK(kat_column_appender_flush(a, &len, &err), err);
    CHECK(len == 1000);
    v = 1000;
    CHECK_OK(kat_column_appender_append(a, (const uint8_t *)&v, 8, &err), err);
    kat_column_appender_free(a); /* commits the last value */
    kat_column_appender_free(NULL);
    CHECK_OK(kat_column_len(c, &len, &err), err);
    CHECK(len == 1001);

    /* A transaction: column and KV writes together, invisible until commit. */
    CHECK_OK(kat_txn_begin(db, 0, &t, &err), err);
    v = 7;
    CHECK_OK(kat_txn_column_append(t, c, (const uint8_t *)&v, 8, &len, &err), err);
    CHECK(len == 1002);
    CHECK_OK(kat_txn_column_extend(t, c, (const uint8_t *)&v, 8, &len, &err), err);
    CHECK(len == 1003);
    CHECK_OK(kat_txn_column_set(t, c, 0, (const uint8_t *)&v, 8, &err), err);
    CHECK_OK(kat_txn_put(t, K("k"), K("v"), &err), err);
    CHECK_OK(kat_txn_column_len(t, c, &len, &err), err);
    CHECK(len == 1003);
    CHECK_OK(kat_txn_column_get(t, c, 0, &b, &err), err);
    CHECK_BUF(b, &v, 8);
    kat_buf_free(&b);
    CHECK_NOT_FOUND(kat_txn_column_get(t, c, 1003, &b, &err), err);
    CHECK_OK(kat_column_len(c, &len, &err), err);
    CHECK(len == 1001);
    CHECK_OK(kat_txn_abort(t, &err), err);
    kat_txn_free(t);
    CHECK_OK(kat_column_len(c, &len, &err), err);
    CHECK(len == 1001);

    /* Two transactions appending: the second committer conflicts and writes nothing. */
    CHECK_OK(kat_txn_begin(db, 0, &t, &err), err);
    CHECK_OK(kat_txn_begin(db, 0, &t2, &err), err);
    CHECK_OK(kat_txn_column_append(t, c, (const uint8_t *)&v, 8, NULL, &err), err);
    CHECK_OK(kat_txn_column_append(t2, c, (const uint8_t *)&v, 8, NULL, &err), err);
    CHECK_OK(kat_txn_commit(t, &err), err);
    CHECK_FAIL(kat_txn_commit(t2, &err), KAT_CONFLICT, err);
    kat_txn_free(t);
    kat_txn_free(t2);
    CHECK_OK(kat_column_len(c, &len, &err), err);
    CHECK(len == 1002);
    kat_column_free(c);
}

static void test_list_drop_null(kat_db *db)
{
    kat_error *err = NULL;
    kat_column *c = NULL;
    kat_buf b = {NULL, 0};
    size_t count = 0;
    uint64_t len = 0;
    uint32_t name_len;
    int32_t type;

    CHECK_OK(kat_column_list(db, &b, &count, &err), err);
    CHECK(count == 5);
    /* The first record: "floats", f64, width 8, one value. */
    memcpy(&name_len, b.data, 4);
    CHECK(name_len == 6 && memcmp(b.data + 4, "floats", 6) == 0);
    memcpy(&type, b.data + 10, 4);
    CHECK(type == KAT_COLUMN_F64);
    memcpy(&len, b.data + 18, 8);
    CHECK(len == 1);
    kat_buf_free(&b);

    CHECK_OK(kat_column_open(db, K("pairs"), &c, &err), err);
    CHECK_OK(kat_column_drop(db, K("pairs"), &err), err);
    CHECK_FAIL(kat_column_len(c, &len, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_NOT_FOUND(kat_column_drop(db, K("pairs"), &err), err);
    kat_column_free(c);

    /* NULL arguments are refused, never a crash. */
    CHECK_STATUS(kat_column_create(NULL, K("n"), KAT_COLUMN_I64, 0, &c, NULL),
                 KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_column_create(db, K("n"), KAT_COLUMN_I64, 0, NULL, NULL),
                 KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_column_open(db, NULL, 3, &c, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_column_len(NULL, &len, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_column_type(NULL, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_column_list(db, NULL, &count, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_column_append(NULL, K("x"), NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_column_get(NULL, 0, &b, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_column_appender_open(NULL, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_column_appender_append(NULL, K("x"), NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_column_appender_flush(NULL, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_txn_column_len(NULL, NULL, &len, NULL), KAT_INVALID_ARGUMENT);
    kat_column_free(NULL);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    char path[4096];
    kat_options *o = NULL;
    kat_db *db;
    kat_column *c = NULL;
    kat_column_appender *a = NULL;
    kat_error *err = NULL;
    uint64_t len = 0;
    int64_t v = 0;

    CHECK_OK(kat_options_new(&o), err);
    CHECK_OK(kat_options_set_sync(o, KAT_SYNC_NEVER, 0), err);
    kat_path(path, sizeof path, dir, "db");
    db = OPEN(path, o);
    test_fixed(db);
    test_var(db);
    test_appender_and_txn(db);
    test_list_drop_null(db);
    CLOSE(db);

    /* Everything committed is there after reopening. */
    db = OPEN(path, o);
    CHECK_OK(kat_column_open(db, K("log"), &c, &err), err);
    CHECK_OK(kat_column_len(c, &len, &err), err);
    CHECK(len == 1002);
    CHECK_OK(kat_column_get_i64(c, 1000, &v, &err), err);
    CHECK(v == 1000);
    CHECK_OK(kat_column_appender_open(c, &a, &err), err);

    /* After close, handles report KAT_CLOSED. */
    CLOSE(db);
    CHECK_FAIL(kat_column_len(c, &len, &err), KAT_CLOSED, err);
    CHECK_OK(kat_column_appender_append(a, (const uint8_t *)&v, 8, &err), err); /* buffered */
    CHECK_FAIL(kat_column_appender_flush(a, NULL, &err), KAT_CLOSED, err);
    kat_column_appender_free(a);
    kat_column_free(c);
    kat_options_free(o);
    CHECK_DONE("column");
}
