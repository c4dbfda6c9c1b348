/*
 * closed.c: the life cycle of a kat_db handle. Every call on a closed handle returns
 * KAT_CLOSED (with an error object, out-parameters untouched, nothing written); closing
 * twice is KAT_OK; close releases the directory lock so the directory can be opened again
 * while the old handle still exists; a second open of an open directory is KAT_LOCKED.
 */
#include "kat_check.h"

static char sentinel_obj;
#define SENTINEL ((void *)&sentinel_obj)

static void test_locked(const char *path)
{
    kat_db *db = OPEN(path, NULL);
    kat_db *second = (kat_db *)SENTINEL;
    kat_error *err = NULL;
    kat_buf b = {NULL, 0};
    kat_options *o = NULL;

    CHECK_OK(kat_db_put(db, K("owner"), K("first"), &err), err);

    /* A second open of the same directory while it is open. */
    CHECK_FAIL(kat_db_open(path, NULL, &second, &err), KAT_LOCKED, err);
    CHECK(second == (kat_db *)SENTINEL);
    CHECK_STATUS(kat_db_open(path, NULL, &second, NULL), KAT_LOCKED);
    CHECK(second == (kat_db *)SENTINEL);
    /* Whatever the options (salvage, no create). */
    CHECK_STATUS(kat_options_new(&o), KAT_OK);
    CHECK_STATUS(kat_options_set_salvage(o, true), KAT_OK);
    CHECK_STATUS(kat_options_set_create_if_missing(o, false), KAT_OK);
    CHECK_FAIL(kat_db_open(path, o, &second, &err), KAT_LOCKED, err);
    CHECK(second == (kat_db *)SENTINEL);
    kat_options_free(o);

    /* The first handle is unaffected by the refused open. */
    CHECK_OK(kat_db_get(db, K("owner"), &b, &err), err);
    CHECK_BUF(b, "first", 5);
    kat_buf_free(&b);
    CHECK_OK(kat_db_put(db, K("owner"), K("still first"), &err), err);

    CLOSE(db);
    /* Closed and freed: the directory can be opened again, with the data. */
    db = OPEN(path, NULL);
    CHECK_OK(kat_db_get(db, K("owner"), &b, &err), err);
    CHECK_BUF(b, "still first", 11);
    kat_buf_free(&b);
    CLOSE(db);
}

static void test_calls_after_close(const char *path)
{
    kat_db *db = OPEN(path, NULL);
    kat_db *again;
    kat_batch *batch = NULL;
    kat_error *err = NULL;
    uint8_t sent_bytes[2] = {5, 5};
    kat_buf b = {sent_bytes, 2};
    uint8_t buf[32];
    size_t len = 31337;
    size_t count = 0;
    bool found = true;
    kat_stats st, st_copy;

    CHECK_OK(kat_db_put(db, K("kept"), K("yes"), &err), err);
    CHECK_STATUS(kat_batch_new(&batch), KAT_OK);
    CHECK_STATUS(kat_batch_put(batch, K("batched"), K("no"), NULL), KAT_OK);

    CHECK_OK(kat_db_close(db, &err), err);
    /* Closing twice is KAT_OK. */
    CHECK_OK(kat_db_close(db, &err), err);
    CHECK_STATUS(kat_db_close(db, NULL), KAT_OK);

    /* Every call on the closed handle: KAT_CLOSED with an error object. */
    CHECK_FAIL(kat_db_put(db, K("after"), K("close"), &err), KAT_CLOSED, err);
    CHECK_STATUS(kat_db_put(db, K("after"), K("close"), NULL), KAT_CLOSED);
    CHECK_FAIL(kat_db_get(db, K("kept"), &b, &err), KAT_CLOSED, err);
    CHECK(b.data == sent_bytes && b.len == 2);
    CHECK_FAIL(kat_db_get(db, K("missing"), &b, &err), KAT_CLOSED, err);
    CHECK_FAIL(kat_db_get_into(db, K("kept"), buf, sizeof buf, &len, &err), KAT_CLOSED,
               err);
    CHECK(len == 31337);
    CHECK_FAIL(kat_db_delete(db, K("kept"), &err), KAT_CLOSED, err);
    CHECK_FAIL(kat_db_contains(db, K("kept"), &found, &err), KAT_CLOSED, err);
    CHECK(found == true);
    CHECK_FAIL(kat_db_sync(db, &err), KAT_CLOSED, err);
    memset(&st, 0x33, sizeof st);
    memcpy(&st_copy, &st, sizeof st);
    CHECK_FAIL(kat_db_stats(db, &st, &err), KAT_CLOSED, err);
    CHECK(memcmp(&st, &st_copy, sizeof st) == 0);
    CHECK_FAIL(kat_db_write(db, batch, &err), KAT_CLOSED, err);
    /* A batch is not tied to a database: it is intact after the refused write. */
    CHECK_STATUS(kat_batch_count(batch, &count), KAT_OK);
    CHECK(count == 1);
    /* Argument errors on a closed handle are still errors (either one), never crashes. */
    {
        kat_status s = kat_db_get(db, K("kept"), NULL, NULL);
        CHECK(s == KAT_CLOSED || s == KAT_INVALID_ARGUMENT);
        s = kat_db_contains(db, NULL, 4, NULL, NULL);
        CHECK(s == KAT_CLOSED || s == KAT_INVALID_ARGUMENT);
    }

    /* Close released the lock: the directory opens again while the old handle lives. */
    again = OPEN(path, NULL);
    CHECK_OK(kat_db_get(again, K("kept"), &b, &err), err);
    CHECK_BUF(b, "yes", 3);
    kat_buf_free(&b);
    CHECK_OK(kat_db_contains(again, K("after"), &found, &err), err);
    CHECK(!found); /* the refused put wrote nothing */
    CHECK_OK(kat_db_contains(again, K("batched"), &found, &err), err);
    CHECK(!found); /* nor did the refused batch */

    /* The old handle stays closed even though the directory is open again... */
    CHECK_FAIL(kat_db_get(db, K("kept"), &b, &err), KAT_CLOSED, err);
    /* ...and freeing it does not disturb the new one. */
    kat_db_free(db);
    CHECK_OK(kat_db_put(again, K("after-free"), K("fine"), &err), err);
    CHECK_OK(kat_db_write(again, batch, &err), err);
    CHECK_OK(kat_db_get(again, K("batched"), &b, &err), err);
    CHECK_BUF(b, "no", 2);
    kat_buf_free(&b);
    CLOSE(again);
    kat_batch_free(batch);

    /* Both writes made after the old handle was freed are there. */
    again = OPEN(path, NULL);
    CHECK_OK(kat_db_get(again, K("after-free"), &b, &err), err);
    CHECK_BUF(b, "fine", 4);
    kat_buf_free(&b);
    CLOSE(again);
}

/* kat_db_free on an open handle closes it: the lock is released and data is durable. */
static void test_free_closes(const char *path)
{
    kat_db *db = OPEN(path, NULL);
    kat_error *err = NULL;
    kat_buf b = {NULL, 0};
    kat_options *o = NULL;

    CHECK_OK(kat_db_put(db, K("freed-open"), K("durable"), &err), err);
    kat_db_free(db);

    db = OPEN(path, NULL);
    CHECK_OK(kat_db_get(db, K("freed-open"), &b, &err), err);
    CHECK_BUF(b, "durable", 7);
    kat_buf_free(&b);
    kat_db_free(db);

    /* The same with interval syncing: the background syncer stops with the handle. */
    CHECK_STATUS(kat_options_new(&o), KAT_OK);
    CHECK_STATUS(kat_options_set_sync(o, KAT_SYNC_INTERVAL, 5), KAT_OK);
    db = OPEN(path, o);
    kat_options_free(o);
    CHECK_OK(kat_db_put(db, K("interval"), K("synced on free"), &err), err);
    kat_db_free(db);

    db = OPEN(path, NULL);
    CHECK_OK(kat_db_get(db, K("interval"), &b, &err), err);
    CHECK_BUF(b, "synced on free", 14);
    kat_buf_free(&b);
    CLOSE(db);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    char path[4096];

    test_locked(kat_path(path, sizeof path, dir, "locked"));
    test_calls_after_close(kat_path(path, sizeof path, dir, "closed"));
    test_free_closes(kat_path(path, sizeof path, dir, "freed"));
    CHECK_DONE("closed");
}
