/*
 * batch.c: kat_batch_* and kat_db_write. A batch is an ordered list of puts and
 * deletes, committed as one unit (one commit sequence), left intact by the write,
 * reusable after kat_batch_clear and not tied to any database.
 */
#include "kat_check.h"

static size_t count_of(const kat_batch *b)
{
    size_t n = (size_t)-1;
    CHECK_STATUS(kat_batch_count(b, &n), KAT_OK);
    return n;
}

static kat_stats stats_of(kat_db *db)
{
    kat_stats st;
    kat_error *err = NULL;
    CHECK_OK(kat_db_stats(db, &st, &err), err);
    return st;
}

static void check_value(kat_db *db, const char *key, const char *want)
{
    kat_buf b = {NULL, 0};
    kat_error *err = NULL;
    if (want == NULL) {
        CHECK_NOT_FOUND(kat_db_get(db, K(key), &b, &err), err);
        return;
    }
    CHECK_OK(kat_db_get(db, K(key), &b, &err), err);
    CHECK_BUF(b, want, strlen(want));
    kat_buf_free(&b);
}

static void test_building(void)
{
    kat_batch *b = NULL;
    kat_error *err = NULL;
    uint8_t *key = malloc(65537);
    char kbuf[8] = "copied";
    char vbuf[8] = "value";

    CHECK(key != NULL);
    memset(key, 'q', 65537);
    CHECK_STATUS(kat_batch_new(&b), KAT_OK);
    CHECK(b != NULL);
    CHECK(count_of(b) == 0);

    CHECK_OK(kat_batch_put(b, K("a"), K("1"), &err), err);
    CHECK_OK(kat_batch_delete(b, K("b"), &err), err);
    CHECK(count_of(b) == 2);

    /* Over the key limit: KAT_TOO_LARGE and nothing added. */
    CHECK_FAIL(kat_batch_put(b, key, 65537, K("v"), &err), KAT_TOO_LARGE, err);
    CHECK_FAIL(kat_batch_delete(b, key, 65537, &err), KAT_TOO_LARGE, err);
    CHECK_STATUS(kat_batch_put(b, key, 65537, K("v"), NULL), KAT_TOO_LARGE);
    CHECK(count_of(b) == 2);
    /* Exactly at the limit is fine. */
    CHECK_OK(kat_batch_put(b, key, 65536, K("v"), &err), err);
    CHECK_OK(kat_batch_delete(b, key, 65536, &err), err);
    CHECK(count_of(b) == 4);

    /* The batch copies its inputs. */
    CHECK_OK(kat_batch_put(b, (const uint8_t *)kbuf, 6, (const uint8_t *)vbuf, 5, &err), err);
    memset(kbuf, 0, sizeof kbuf);
    memset(vbuf, 0, sizeof vbuf);
    CHECK(count_of(b) == 5);

    CHECK_STATUS(kat_batch_clear(b), KAT_OK);
    CHECK(count_of(b) == 0);
    CHECK_STATUS(kat_batch_clear(b), KAT_OK); /* clearing an empty batch */
    CHECK(count_of(b) == 0);
    kat_batch_free(b);
    free(key);
}

static void test_write(kat_db *db)
{
    kat_batch *b = NULL;
    kat_error *err = NULL;
    kat_stats before, after;

    CHECK_OK(kat_db_put(db, K("old"), K("to be deleted"), &err), err);
    CHECK_OK(kat_db_put(db, K("e"), K("zeroth"), &err), err);
    CHECK_STATUS(kat_batch_new(&b), KAT_OK);

    /* An empty batch is KAT_OK and writes nothing. */
    before = stats_of(db);
    CHECK_OK(kat_db_write(db, b, &err), err);
    after = stats_of(db);
    CHECK(after.last_seq == before.last_seq);
    CHECK(after.total_bytes == before.total_bytes);

    /* Operations apply in order: the later of two operations on a key wins. */
    CHECK_OK(kat_batch_put(b, K("a"), K("1"), &err), err);
    CHECK_OK(kat_batch_put(b, K("b"), K("2"), &err), err);
    CHECK_OK(kat_batch_put(b, K("c"), NULL, 0, &err), err);
    CHECK_OK(kat_batch_delete(b, K("old"), &err), err);
    CHECK_OK(kat_batch_put(b, K("d"), K("short-lived"), &err), err);
    CHECK_OK(kat_batch_delete(b, K("d"), &err), err);
    CHECK_OK(kat_batch_put(b, K("e"), K("first"), &err), err);
    CHECK_OK(kat_batch_put(b, K("e"), K("second"), &err), err);
    CHECK_OK(kat_batch_delete(b, K("never-there"), &err), err);
    CHECK(count_of(b) == 9);

    before = stats_of(db);
    CHECK(before.live_keys == 2);
    CHECK_OK(kat_db_write(db, b, &err), err);
    after = stats_of(db);
    CHECK(after.last_seq == before.last_seq + 1); /* one commit for the whole batch */
    CHECK(after.live_keys == 4);                  /* a, b, c, e */
    check_value(db, "a", "1");
    check_value(db, "b", "2");
    check_value(db, "c", "");
    check_value(db, "old", NULL);
    check_value(db, "d", NULL);
    check_value(db, "e", "second");
    check_value(db, "never-there", NULL);

    /* The batch is left as it was: writing it again re-applies it as a new commit. */
    CHECK(count_of(b) == 9);
    CHECK_OK(kat_db_put(db, K("a"), K("changed"), &err), err);
    CHECK_OK(kat_db_put(db, K("d"), K("back"), &err), err);
    before = stats_of(db);
    CHECK_OK(kat_db_write(db, b, &err), err);
    after = stats_of(db);
    CHECK(after.last_seq == before.last_seq + 1);
    check_value(db, "a", "1");
    check_value(db, "d", NULL);

    /* Cleared, it is reusable. */
    CHECK_STATUS(kat_batch_clear(b), KAT_OK);
    CHECK_OK(kat_batch_delete(b, K("a"), &err), err);
    CHECK_OK(kat_batch_put(b, K("f"), K("6"), &err), err);
    CHECK(count_of(b) == 2);
    CHECK_OK(kat_db_write(db, b, &err), err);
    check_value(db, "a", NULL);
    check_value(db, "f", "6");
    check_value(db, "b", "2");
    kat_batch_free(b);
}

static void test_large_batch(kat_db *db)
{
    kat_batch *b = NULL;
    kat_error *err = NULL;
    kat_stats before, after;
    char key[32], val[32];
    int i;

    CHECK_STATUS(kat_batch_new(&b), KAT_OK);
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "bulk-%04d", i);
        snprintf(val, sizeof val, "value-%d", i * i);
        CHECK_OK(kat_batch_put(b, K(key), K(val), &err), err);
    }
    CHECK(count_of(b) == 1000);
    before = stats_of(db);
    CHECK_OK(kat_db_write(db, b, &err), err);
    after = stats_of(db);
    CHECK(after.last_seq == before.last_seq + 1);
    CHECK(after.live_keys == before.live_keys + 1000);
    for (i = 0; i < 1000; i += 37) {
        snprintf(key, sizeof key, "bulk-%04d", i);
        snprintf(val, sizeof val, "value-%d", i * i);
        check_value(db, key, val);
    }
    kat_batch_free(b);
}

/* One batch written to two databases: batches are not tied to a database. */
static void test_two_databases(const char *dir)
{
    char p1[4096], p2[4096];
    kat_db *one = OPEN(kat_path(p1, sizeof p1, dir, "one"), NULL);
    kat_db *two = OPEN(kat_path(p2, sizeof p2, dir, "two"), NULL);
    kat_batch *b = NULL;
    kat_error *err = NULL;

    CHECK_STATUS(kat_batch_new(&b), KAT_OK);
    CHECK_OK(kat_batch_put(b, K("shared"), K("both"), &err), err);
    CHECK_OK(kat_db_write(one, b, &err), err);
    CHECK_OK(kat_db_write(two, b, &err), err);
    check_value(one, "shared", "both");
    check_value(two, "shared", "both");
    CLOSE(one);
    /* Still usable after one of the databases is gone. */
    CHECK_OK(kat_batch_put(b, K("only-two"), K("2"), &err), err);
    CHECK_OK(kat_db_write(two, b, &err), err);
    check_value(two, "only-two", "2");
    CLOSE(two);
    kat_batch_free(b);

    /* Both batches survived reopening. */
    one = OPEN(p1, NULL);
    check_value(one, "shared", "both");
    check_value(one, "only-two", NULL);
    CLOSE(one);
    two = OPEN(p2, NULL);
    check_value(two, "shared", "both");
    check_value(two, "only-two", "2");
    CLOSE(two);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    char path[4096];
    kat_db *db;

    test_building();
    db = OPEN(kat_path(path, sizeof path, dir, "db"), NULL);
    test_write(db);
    test_large_batch(db);
    CLOSE(db);

    /* Everything the batches wrote is there after reopening. */
    db = OPEN(path, NULL);
    check_value(db, "a", NULL);
    check_value(db, "b", "2");
    check_value(db, "c", "");
    check_value(db, "e", "second");
    check_value(db, "f", "6");
    check_value(db, "bulk-0999", "value-998001");
    CLOSE(db);

    test_two_databases(dir);
    CHECK_DONE("batch");
}
