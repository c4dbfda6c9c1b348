/*
 * null_args.c: NULL for every pointer argument of every function in katamari.h.
 *
 * Where NULL is not allowed the call returns KAT_INVALID_ARGUMENT (with an error object
 * when the function takes one), never crashes, writes no out-parameter and changes
 * nothing. Where NULL is allowed (release functions, err, opts, zero-length inputs) the
 * call succeeds.
 */
#include "kat_check.h"

/* A recognisable pointer value to prove out-parameters are left alone. */
static char sentinel_obj;
#define SENTINEL ((void *)&sentinel_obj)

static void test_release_functions(void)
{
    kat_error_free(NULL);
    kat_buf_free(NULL);
    kat_batch_free(NULL);
    kat_db_free(NULL);
    kat_options_free(NULL);
    CHECK(kat_error_code(NULL) == KAT_INVALID_ARGUMENT);
    CHECK(strcmp(kat_error_message(NULL), "") == 0);
}

static void test_options(void)
{
    CHECK_STATUS(kat_options_new(NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_sync(NULL, KAT_SYNC_ALWAYS, 0), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_sync(NULL, KAT_SYNC_INTERVAL, 10), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_segment_size(NULL, 4096), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_salvage(NULL, true), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_create_if_missing(NULL, true), KAT_INVALID_ARGUMENT);
}

static void test_open_close(const char *dir)
{
    char path[4096];
    kat_db *db = (kat_db *)SENTINEL;
    kat_error *err = NULL;

    kat_path(path, sizeof path, dir, "open-null");

    CHECK_FAIL(kat_db_open(NULL, NULL, &db, &err), KAT_INVALID_ARGUMENT, err);
    CHECK(db == (kat_db *)SENTINEL);
    CHECK_STATUS(kat_db_open(NULL, NULL, &db, NULL), KAT_INVALID_ARGUMENT);
    CHECK(db == (kat_db *)SENTINEL);

    /* NULL out: refused before anything is created or locked. */
    CHECK_FAIL(kat_db_open(path, NULL, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_db_open(path, NULL, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK(!kat_exists(path));

    CHECK_FAIL(kat_db_close(NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_db_close(NULL, NULL), KAT_INVALID_ARGUMENT);

    /* NULL opts and NULL err are allowed. */
    db = NULL;
    CHECK_STATUS(kat_db_open(path, NULL, &db, NULL), KAT_OK);
    CHECK(db != NULL);
    CHECK_STATUS(kat_db_close(db, NULL), KAT_OK);
    kat_db_free(db);
}

static void test_db_calls(kat_db *db)
{
    uint8_t sent_bytes[3] = {7, 7, 7};
    kat_buf b = {sent_bytes, 3};
    kat_error *err = NULL;
    uint8_t buf[16];
    size_t len = 4242;
    bool found = true;
    kat_stats st, zero;
    kat_buf got = {NULL, 0};

    /* Something to read. */
    CHECK_OK(kat_db_put(db, K("k"), K("value"), &err), err);

    /* kat_db_put: db, key (with a length), value (with a length). */
    CHECK_FAIL(kat_db_put(NULL, K("k"), K("v"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_db_put(NULL, K("k"), K("v"), NULL), KAT_INVALID_ARGUMENT);
    CHECK_FAIL(kat_db_put(db, NULL, 3, K("v"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_put(db, K("new"), NULL, 5, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_put(db, K("k"), NULL, 5, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_db_put(db, K("k"), NULL, 5, NULL), KAT_INVALID_ARGUMENT);
    /* ... and nothing was written. */
    CHECK_OK(kat_db_contains(db, K("new"), &found, &err), err);
    CHECK(!found);
    CHECK_OK(kat_db_get(db, K("k"), &got, &err), err);
    CHECK_BUF(got, "value", 5);
    kat_buf_free(&got);

    /* kat_db_get: db, key, out. */
    CHECK_FAIL(kat_db_get(NULL, K("k"), &b, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_get(db, NULL, 1, &b, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_get(db, K("k"), NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_db_get(db, K("k"), NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK(b.data == sent_bytes && b.len == 3);

    /* kat_db_get_into: db, key, buf (with a length), val_len. */
    CHECK_FAIL(kat_db_get_into(NULL, K("k"), buf, sizeof buf, &len, &err),
               KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_get_into(db, NULL, 1, buf, sizeof buf, &len, &err),
               KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_get_into(db, K("k"), NULL, 16, &len, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_FAIL(kat_db_get_into(db, K("k"), buf, sizeof buf, NULL, &err),
               KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_db_get_into(db, K("k"), buf, sizeof buf, NULL, NULL),
                 KAT_INVALID_ARGUMENT);
    CHECK(len == 4242);
    /* buf may be NULL with length 0: that only asks for the length. */
    CHECK_FAIL(kat_db_get_into(db, K("k"), NULL, 0, &len, &err), KAT_BUFFER_TOO_SMALL, err);
    CHECK(len == 5);

    /* kat_db_delete: db, key. */
    CHECK_FAIL(kat_db_delete(NULL, K("k"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_delete(db, NULL, 1, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_db_delete(db, NULL, 1, NULL), KAT_INVALID_ARGUMENT);
    CHECK_OK(kat_db_contains(db, K("k"), &found, &err), err);
    CHECK(found);

    /* kat_db_contains: db, key, found. */
    found = true;
    CHECK_FAIL(kat_db_contains(NULL, K("k"), &found, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_contains(db, NULL, 1, &found, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_contains(db, K("k"), NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_db_contains(db, K("k"), NULL, NULL), KAT_INVALID_ARGUMENT);

    /* kat_db_sync: db. */
    CHECK_FAIL(kat_db_sync(NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_db_sync(NULL, NULL), KAT_INVALID_ARGUMENT);

    /* kat_db_stats: db, out. */
    memset(&st, 0x5A, sizeof st);
    memcpy(&zero, &st, sizeof st);
    CHECK_FAIL(kat_db_stats(NULL, &st, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_stats(db, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_db_stats(db, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK(memcmp(&st, &zero, sizeof st) == 0);

    /* Zero-length inputs may come with NULL; err may be NULL on success too. */
    CHECK_STATUS(kat_db_put(db, NULL, 0, NULL, 0, NULL), KAT_OK);
    CHECK_STATUS(kat_db_get_into(db, NULL, 0, NULL, 0, &len, NULL), KAT_OK);
    CHECK(len == 0);
    CHECK_STATUS(kat_db_contains(db, NULL, 0, &found, NULL), KAT_OK);
    CHECK(found);
    CHECK_STATUS(kat_db_delete(db, NULL, 0, NULL), KAT_OK);
    CHECK_STATUS(kat_db_sync(db, NULL), KAT_OK);
    CHECK_STATUS(kat_db_stats(db, &st, NULL), KAT_OK);
    CHECK(st.live_keys == 1);
}

static void test_batches(kat_db *db)
{
    kat_batch *b = NULL;
    kat_error *err = NULL;
    size_t count = 99;
    kat_stats before, after;

    CHECK_STATUS(kat_batch_new(NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_batch_new(&b), KAT_OK);
    CHECK(b != NULL);

    /* kat_batch_put: batch, key, value. */
    CHECK_FAIL(kat_batch_put(NULL, K("k"), K("v"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_batch_put(NULL, K("k"), K("v"), NULL), KAT_INVALID_ARGUMENT);
    CHECK_FAIL(kat_batch_put(b, NULL, 2, K("v"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_batch_put(b, K("k"), NULL, 2, &err), KAT_INVALID_ARGUMENT, err);

    /* kat_batch_delete: batch, key. */
    CHECK_FAIL(kat_batch_delete(NULL, K("k"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_batch_delete(b, NULL, 2, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_batch_delete(b, NULL, 2, NULL), KAT_INVALID_ARGUMENT);

    /* kat_batch_count: batch, count. Nothing was added above. */
    CHECK_STATUS(kat_batch_count(NULL, &count), KAT_INVALID_ARGUMENT);
    CHECK(count == 99);
    CHECK_STATUS(kat_batch_count(b, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_batch_count(b, &count), KAT_OK);
    CHECK(count == 0);

    /* kat_batch_clear: batch. */
    CHECK_STATUS(kat_batch_clear(NULL), KAT_INVALID_ARGUMENT);

    /* Zero-length NULL inputs are fine in a batch too. */
    CHECK_STATUS(kat_batch_put(b, NULL, 0, NULL, 0, NULL), KAT_OK);
    CHECK_STATUS(kat_batch_delete(b, NULL, 0, NULL), KAT_OK);
    CHECK_STATUS(kat_batch_count(b, &count), KAT_OK);
    CHECK(count == 2);

    /* kat_db_write: db, batch. Nothing is written. */
    CHECK_OK(kat_db_stats(db, &before, &err), err);
    CHECK_FAIL(kat_db_write(NULL, b, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_write(db, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_db_write(db, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK_OK(kat_db_stats(db, &after, &err), err);
    CHECK(after.last_seq == before.last_seq);
    CHECK(after.total_bytes == before.total_bytes);

    /* err may be NULL on success. */
    CHECK_STATUS(kat_db_write(db, b, NULL), KAT_OK);
    CHECK_OK(kat_db_stats(db, &after, &err), err);
    CHECK(after.last_seq == before.last_seq + 1);
    kat_batch_free(b);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    char path[4096];
    kat_db *db;

    test_release_functions();
    test_options();
    test_open_close(dir);

    db = OPEN(kat_path(path, sizeof path, dir, "db"), NULL);
    test_db_calls(db);
    test_batches(db);
    CLOSE(db);
    CHECK_DONE("null_args");
}
