/*
 * ttl.c: kat_db_put_ttl and kat_batch_put_ttl. A key written with a TTL (at least 1 ms;
 * 0 is KAT_INVALID_ARGUMENT and writes nothing) is invisible to every read once expired,
 * also after reopening; a later plain put or delete replaces it. A batch's TTLs count
 * from the moment the batch is written. (Expiry inside transactions and iterators is
 * covered by txn.c and iter.c.)
 */
#include "kat_check.h"

#include <errno.h>
#include <time.h>

static void sleep_ms(long ms)
{
    struct timespec ts, rem;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

/* The value of `key` is `want` (NULL: absent), checked by get, get_into and contains. */
static void check_value(kat_db *db, const char *key, const char *want)
{
    kat_buf b = {NULL, 0};
    kat_error *err = NULL;
    uint8_t buf[64];
    size_t len = 4242;
    bool found = (want == NULL);

    if (want == NULL) {
        CHECK_NOT_FOUND(kat_db_get(db, K(key), &b, &err), err);
        CHECK_NOT_FOUND(kat_db_get_into(db, K(key), buf, sizeof buf, &len, &err), err);
        CHECK(len == 4242);
    } else {
        CHECK_OK(kat_db_get(db, K(key), &b, &err), err);
        CHECK_BUF(b, want, strlen(want));
        kat_buf_free(&b);
        CHECK_OK(kat_db_get_into(db, K(key), buf, sizeof buf, &len, &err), err);
        CHECK(len == strlen(want) && memcmp(buf, want, len) == 0);
    }
    CHECK_OK(kat_db_contains(db, K(key), &found, &err), err);
    CHECK(found == (want != NULL));
}

static void test_db_put_ttl(kat_db *db)
{
    kat_error *err = NULL;
    uint8_t *big = malloc(65537);

    /* ttl_ms 0 is refused and writes nothing, not even over an existing key. */
    CHECK_FAIL(kat_db_put_ttl(db, K("zero"), K("z"), 0, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_db_put_ttl(db, K("zero"), K("z"), 0, NULL), KAT_INVALID_ARGUMENT);
    check_value(db, "zero", NULL);
    CHECK_OK(kat_db_put(db, K("plain"), K("p"), &err), err);
    CHECK_FAIL(kat_db_put_ttl(db, K("plain"), K("changed"), 0, &err), KAT_INVALID_ARGUMENT,
               err);
    check_value(db, "plain", "p");

    /* NULL arguments and size limits, as for kat_db_put. */
    CHECK_FAIL(kat_db_put_ttl(NULL, K("k"), K("v"), 1000, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_put_ttl(db, NULL, 1, K("v"), 1000, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_put_ttl(db, K("k"), NULL, 1, 1000, &err), KAT_INVALID_ARGUMENT, err);
    CHECK(big != NULL);
    memset(big, 'k', 65537);
    CHECK_FAIL(kat_db_put_ttl(db, big, 65537, K("v"), 1000, &err), KAT_TOO_LARGE, err);
    check_value(db, "k", NULL);
    free(big);

    CHECK_OK(kat_db_put_ttl(db, K("short"), K("s"), 1, &err), err);
    CHECK_OK(kat_db_put_ttl(db, K("long"), K("l"), 3600000, &err), err);
    CHECK_OK(kat_db_put_ttl(db, K("forever"), K("f"), UINT64_MAX, &err), err);
    CHECK_OK(kat_db_put_ttl(db, K("empty-value"), NULL, 0, 3600000, &err), err);
    /* A TTL put over a plain key: after expiry the old value does not come back. */
    CHECK_OK(kat_db_put(db, K("was-plain"), K("old"), &err), err);
    CHECK_OK(kat_db_put_ttl(db, K("was-plain"), K("new"), 1, &err), err);
    /* A plain put after a TTL put removes the expiry; so does a longer TTL. */
    CHECK_OK(kat_db_put_ttl(db, K("made-plain"), K("1"), 1, &err), err);
    CHECK_OK(kat_db_put(db, K("made-plain"), K("2"), &err), err);
    CHECK_OK(kat_db_put_ttl(db, K("extended"), K("1"), 1, &err), err);
    CHECK_OK(kat_db_put_ttl(db, K("extended"), K("2"), 3600000, &err), err);
    /* A shorter TTL replaces a longer one. */
    CHECK_OK(kat_db_put_ttl(db, K("shortened"), K("1"), 3600000, &err), err);
    CHECK_OK(kat_db_put_ttl(db, K("shortened"), K("2"), 1, &err), err);
    /* Delete of a key with a TTL. */
    CHECK_OK(kat_db_put_ttl(db, K("deleted"), K("d"), 3600000, &err), err);
    check_value(db, "deleted", "d");
    CHECK_OK(kat_db_delete(db, K("deleted"), &err), err);
    check_value(db, "deleted", NULL);
    /* err may be NULL on success. */
    CHECK_STATUS(kat_db_put_ttl(db, K("null-err"), K("n"), 3600000, NULL), KAT_OK);

    check_value(db, "long", "l");
    sleep_ms(20);
    check_value(db, "short", NULL);
    check_value(db, "long", "l");
    check_value(db, "forever", "f");
    check_value(db, "empty-value", "");
    check_value(db, "was-plain", NULL);
    check_value(db, "made-plain", "2");
    check_value(db, "extended", "2");
    check_value(db, "shortened", NULL);
    check_value(db, "null-err", "n");

    /* kat_db_expires_at: the absolute expiry, 0 for none, NOT_FOUND without a value. */
    {
        uint64_t at = 7, now = (uint64_t)time(NULL) * 1000u;
        CHECK_OK(kat_db_expires_at(db, K("long"), &at, &err), err);
        CHECK(at > now + 3500000u && at < now + 3700000u);
        CHECK_OK(kat_db_expires_at(db, K("made-plain"), &at, &err), err);
        CHECK(at == 0);
        at = 7;
        CHECK_NOT_FOUND(kat_db_expires_at(db, K("short"), &at, &err), err);
        CHECK_NOT_FOUND(kat_db_expires_at(db, K("never-written"), &at, &err), err);
        CHECK(at == 7);
        CHECK_FAIL(kat_db_expires_at(db, K("long"), NULL, &err), KAT_INVALID_ARGUMENT, err);
        CHECK_FAIL(kat_db_expires_at(NULL, K("long"), &at, &err), KAT_INVALID_ARGUMENT, err);
    }

    /* An expired key can be written again. */
    CHECK_OK(kat_db_put(db, K("short"), K("again"), &err), err);
    check_value(db, "short", "again");
    /* Deleting an expired key is fine. */
    CHECK_OK(kat_db_delete(db, K("shortened"), &err), err);
    check_value(db, "shortened", NULL);
}

static size_t count_of(const kat_batch *b)
{
    size_t n = (size_t)-1;
    CHECK_STATUS(kat_batch_count(b, &n), KAT_OK);
    return n;
}

static void test_batch_put_ttl(kat_db *db)
{
    kat_error *err = NULL;
    kat_batch *b = NULL;
    uint8_t *big = malloc(65537);

    CHECK_STATUS(kat_batch_new(&b), KAT_OK);
    /* Refused adds leave the batch as it was. */
    CHECK_FAIL(kat_batch_put_ttl(b, K("b:zero"), K("z"), 0, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_STATUS(kat_batch_put_ttl(b, K("b:zero"), K("z"), 0, NULL), KAT_INVALID_ARGUMENT);
    CHECK_FAIL(kat_batch_put_ttl(NULL, K("b:k"), K("v"), 1000, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_FAIL(kat_batch_put_ttl(b, NULL, 1, K("v"), 1000, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_batch_put_ttl(b, K("b:k"), NULL, 1, 1000, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK(big != NULL);
    memset(big, 'k', 65537);
    CHECK_FAIL(kat_batch_put_ttl(b, big, 65537, K("v"), 1000, &err), KAT_TOO_LARGE, err);
    free(big);
    CHECK(count_of(b) == 0);

    CHECK_OK(kat_batch_put_ttl(b, K("b:short"), K("s"), 1, &err), err);
    CHECK_OK(kat_batch_put_ttl(b, K("b:long"), K("l"), 3600000, &err), err);
    CHECK_OK(kat_batch_put(b, K("b:plain"), K("p"), &err), err);
    /* Later operations on a key win, expiry included. */
    CHECK_OK(kat_batch_put_ttl(b, K("b:then-plain"), K("1"), 1, &err), err);
    CHECK_OK(kat_batch_put(b, K("b:then-plain"), K("2"), &err), err);
    CHECK_OK(kat_batch_put(b, K("b:then-ttl"), K("1"), &err), err);
    CHECK_OK(kat_batch_put_ttl(b, K("b:then-ttl"), K("2"), 1, &err), err);
    CHECK_OK(kat_batch_put_ttl(b, K("b:then-deleted"), K("1"), 3600000, &err), err);
    CHECK_OK(kat_batch_delete(b, K("b:then-deleted"), &err), err);
    CHECK_STATUS(kat_batch_put_ttl(b, K("b:null-err"), K("n"), 3600000, NULL), KAT_OK);
    CHECK(count_of(b) == 10);
    CHECK_OK(kat_db_write(db, b, &err), err);
    check_value(db, "b:long", "l");
    check_value(db, "b:then-deleted", NULL);

    sleep_ms(20);
    check_value(db, "b:short", NULL);
    check_value(db, "b:long", "l");
    check_value(db, "b:plain", "p");
    check_value(db, "b:then-plain", "2");
    check_value(db, "b:then-ttl", NULL);
    check_value(db, "b:then-deleted", NULL);
    check_value(db, "b:null-err", "n");
    check_value(db, "b:zero", NULL);
    check_value(db, "b:k", NULL);

    /* The TTL counts from the write, not from the add: added, then kept longer than the
     * TTL before the write, the key is still there right after it; later it expires. */
    CHECK_STATUS(kat_batch_clear(b), KAT_OK);
    CHECK_OK(kat_batch_put_ttl(b, K("b:delayed"), K("d"), 500, &err), err);
    sleep_ms(600);
    CHECK_OK(kat_db_write(db, b, &err), err);
    check_value(db, "b:delayed", "d");
    sleep_ms(600);
    check_value(db, "b:delayed", NULL);
    /* Written again, the same batch gives a fresh expiry. */
    CHECK_OK(kat_db_write(db, b, &err), err);
    check_value(db, "b:delayed", "d");
    kat_batch_free(b);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    char path[4096];
    kat_db *db;
    kat_error *err = NULL;

    db = OPEN(kat_path(path, sizeof path, dir, "db"), NULL);
    test_db_put_ttl(db);
    test_batch_put_ttl(db);
    /* One that expires while the database is closed. */
    CHECK_OK(kat_db_put_ttl(db, K("expires-closed"), K("e"), 100, &err), err);
    CLOSE(db);
    sleep_ms(150);

    /* Expiry survives reopening: expired keys stay gone, the others stay. */
    db = OPEN(path, NULL);
    check_value(db, "short", "again");
    check_value(db, "long", "l");
    check_value(db, "forever", "f");
    check_value(db, "was-plain", NULL);
    check_value(db, "made-plain", "2");
    check_value(db, "extended", "2");
    check_value(db, "shortened", NULL);
    check_value(db, "expires-closed", NULL);
    check_value(db, "b:short", NULL);
    check_value(db, "b:long", "l");
    check_value(db, "b:then-plain", "2");
    check_value(db, "b:then-ttl", NULL);

    /* kat_db_put_ttl on a closed database. */
    CHECK_OK(kat_db_close(db, &err), err);
    CHECK_FAIL(kat_db_put_ttl(db, K("after-close"), K("x"), 3600000, &err), KAT_CLOSED, err);
    kat_db_free(db);
    db = OPEN(path, NULL);
    check_value(db, "after-close", NULL);
    CLOSE(db);
    CHECK_DONE("ttl");
}
