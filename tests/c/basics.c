/*
 * basics.c: version and status functions, error objects, kat_buf, options, and the
 * single-key calls (put, get, get_into, delete, contains, sync, stats) on a live
 * database, including size limits, missing vs empty values and binary data.
 */
#include "kat_check.h"

static void test_version(void)
{
    char want[64];
    const char *v = kat_version();
    unsigned n = kat_version_number();

    snprintf(want, sizeof want, "%d.%d.%d", KAT_VERSION_MAJOR, KAT_VERSION_MINOR,
             KAT_VERSION_PATCH);
    CHECK(v != NULL);
    CHECK(strcmp(v, want) == 0);
    CHECK(KAT_VERSION_NUMBER ==
          KAT_VERSION_MAJOR * 1000000 + KAT_VERSION_MINOR * 1000 + KAT_VERSION_PATCH);
    CHECK(n == KAT_VERSION_NUMBER);
    CHECK(n / 1000000u == (unsigned)KAT_VERSION_MAJOR);
    CHECK(n / 1000u % 1000u == (unsigned)KAT_VERSION_MINOR);
    CHECK(n % 1000u == (unsigned)KAT_VERSION_PATCH);
}

static void test_status_strings(void)
{
    /* The documented codes, in order: they are part of the ABI and never renumbered. */
    static const kat_status codes[] = {
        KAT_OK,           KAT_NOT_FOUND, KAT_INVALID_ARGUMENT, KAT_IO,
        KAT_CORRUPTION,   KAT_CONFLICT,  KAT_CLOSED,           KAT_LOCKED,
        KAT_NO_SPACE,     KAT_TOO_LARGE, KAT_AUTH_FAILED,      KAT_READ_ONLY,
        KAT_PANIC,        KAT_INTERNAL,  KAT_BUFFER_TOO_SMALL,
    };
    static const kat_status unknown[] = {-1, 15, 16, 100, 1000, INT32_MAX, INT32_MIN};
    const size_t n = sizeof codes / sizeof codes[0];
    size_t i, j;

    CHECK(n == 15);
    for (i = 0; i < n; i++) {
        const char *s = kat_status_str(codes[i]);
        CHECK(codes[i] == (kat_status)i);
        CHECK(s != NULL);
        CHECK(s[0] != '\0');
        CHECK(strcmp(s, "unknown status") != 0);
        CHECK(strcmp(s, kat_status_str(codes[i])) == 0); /* stable */
        for (j = 0; j < i; j++)
            CHECK(strcmp(s, kat_status_str(codes[j])) != 0); /* distinct */
    }
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = kat_status_str(unknown[i]);
        CHECK(s != NULL);
        CHECK(strcmp(s, "unknown status") == 0);
    }
}

static void test_error_objects(const char *dir)
{
    char missing[4096];
    kat_options *o = NULL;
    kat_db *db = NULL;
    kat_error *err = NULL;
    const char *msg;

    /* NULL is handled by every error function. */
    CHECK(kat_error_code(NULL) == KAT_INVALID_ARGUMENT);
    CHECK(kat_error_message(NULL) != NULL);
    CHECK(kat_error_message(NULL)[0] == '\0');
    kat_error_free(NULL);

    /* A real error: opening a missing directory with create_if_missing off. */
    kat_path(missing, sizeof missing, dir, "missing-dir");
    CHECK_STATUS(kat_options_new(&o), KAT_OK);
    CHECK_STATUS(kat_options_set_create_if_missing(o, false), KAT_OK);
    CHECK_STATUS(kat_db_open(missing, o, &db, &err), KAT_IO);
    CHECK(db == NULL);
    CHECK(err != NULL);
    CHECK(kat_error_code(err) == KAT_IO);
    msg = kat_error_message(err);
    CHECK(msg != NULL && msg[0] != '\0');
    CHECK(strstr(msg, "missing-dir") != NULL); /* names the directory */
    CHECK(kat_error_message(err) == msg);      /* valid (and stable) until freed */
    kat_error_free(err);
    err = NULL;
    CHECK(!kat_exists(missing));

    /* err may be NULL: same status, nothing to free. */
    CHECK_STATUS(kat_db_open(missing, o, &db, NULL), KAT_IO);
    CHECK(db == NULL);
    CHECK(!kat_exists(missing));
    kat_options_free(o);
}

static void test_buf_free(kat_db *db)
{
    kat_buf zero = {NULL, 0};
    kat_buf b = {NULL, 0};
    kat_error *err = NULL;

    kat_buf_free(NULL);
    kat_buf_free(&zero);
    CHECK(zero.data == NULL && zero.len == 0);

    CHECK_OK(kat_db_put(db, K("buf-key"), K("some bytes"), &err), err);
    CHECK_OK(kat_db_get(db, K("buf-key"), &b, &err), err);
    CHECK_BUF(b, "some bytes", 10);
    kat_buf_free(&b);
    CHECK(b.data == NULL); /* zeroed by kat_buf_free */
    CHECK(b.len == 0);
    kat_buf_free(&b); /* freeing the zeroed struct again is harmless */
    CHECK(b.data == NULL && b.len == 0);
}

static void test_options(void)
{
    kat_options *o = NULL;

    CHECK_STATUS(kat_options_new(&o), KAT_OK);
    CHECK(o != NULL);

    CHECK_STATUS(kat_options_set_sync(o, KAT_SYNC_ALWAYS, 0), KAT_OK);
    CHECK_STATUS(kat_options_set_sync(o, KAT_SYNC_NEVER, 0), KAT_OK);
    CHECK_STATUS(kat_options_set_sync(o, KAT_SYNC_INTERVAL, 1), KAT_OK);
    CHECK_STATUS(kat_options_set_sync(o, KAT_SYNC_INTERVAL, 100), KAT_OK);
    CHECK_STATUS(kat_options_set_sync(o, KAT_SYNC_INTERVAL, 0), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_sync(o, 3, 10), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_sync(o, 0xFFFFFFFFu, 10), KAT_INVALID_ARGUMENT);

    CHECK_STATUS(kat_options_set_segment_size(o, 0), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_segment_size(o, 1023), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_segment_size(o, 1024), KAT_OK);
    CHECK_STATUS(kat_options_set_segment_size(o, (uint64_t)128 << 20), KAT_OK);

    CHECK_STATUS(kat_options_set_salvage(o, true), KAT_OK);
    CHECK_STATUS(kat_options_set_salvage(o, false), KAT_OK);
    CHECK_STATUS(kat_options_set_create_if_missing(o, false), KAT_OK);
    CHECK_STATUS(kat_options_set_create_if_missing(o, true), KAT_OK);

    kat_options_free(o);
    kat_options_free(NULL);
}

/* Rejected option values change nothing: the database opens with the last good ones. */
static void test_rejected_options_change_nothing(const char *dir)
{
    char path[4096];
    kat_options *o = NULL;
    kat_db *db;
    kat_stats st;
    kat_error *err = NULL;
    uint8_t val[200];
    char key[32];
    int i;

    kat_path(path, sizeof path, dir, "rejected-options");
    CHECK_STATUS(kat_options_new(&o), KAT_OK);
    CHECK_STATUS(kat_options_set_segment_size(o, 2048), KAT_OK);
    CHECK_STATUS(kat_options_set_segment_size(o, 10), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_sync(o, KAT_SYNC_NEVER, 0), KAT_OK);
    CHECK_STATUS(kat_options_set_sync(o, KAT_SYNC_INTERVAL, 0), KAT_INVALID_ARGUMENT);
    db = OPEN(path, o);
    kat_options_free(o); /* may be freed right after open */

    memset(val, 'v', sizeof val);
    for (i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "k%03d", i);
        CHECK_OK(kat_db_put(db, K(key), val, sizeof val, &err), err);
    }
    CHECK_OK(kat_db_stats(db, &st, &err), err);
    /* 40 records of ~240 bytes in 2 KiB segments: the 2048 took effect, the 10 did not. */
    CHECK(st.segments >= 4);
    CHECK(st.live_keys == 40);
    CLOSE(db);
}

static void test_open_paths(const char *dir)
{
    char path[4096];
    kat_db *db = NULL;
    kat_error *err = NULL;
    kat_options *o = NULL;

    CHECK_FAIL(kat_db_open("", NULL, &db, &err), KAT_INVALID_ARGUMENT, err);
    CHECK(db == NULL);

    /* The parent must exist. */
    kat_path(path, sizeof path, dir, "no-such-parent/db");
    CHECK_FAIL(kat_db_open(path, NULL, &db, &err), KAT_IO, err);
    CHECK(db == NULL);
    CHECK(!kat_exists(path));

    /* A regular file is not a database directory. */
    {
        FILE *f;
        kat_path(path, sizeof path, dir, "plain-file");
        f = fopen(path, "w");
        CHECK(f != NULL);
        fputs("not a database\n", f);
        fclose(f);
        CHECK_FAIL(kat_db_open(path, NULL, &db, &err), KAT_IO, err);
        CHECK(db == NULL);
    }

    /* NULL options are the defaults: the directory is created. */
    kat_path(path, sizeof path, dir, "created");
    CHECK(!kat_exists(path));
    db = OPEN(path, NULL);
    CHECK(kat_exists(path));
    CLOSE(db);

    /* create_if_missing off opens an existing database. */
    CHECK_STATUS(kat_options_new(&o), KAT_OK);
    CHECK_STATUS(kat_options_set_create_if_missing(o, false), KAT_OK);
    db = OPEN(path, o);
    CLOSE(db);
    kat_options_free(o);
}

static void test_put_get_delete(kat_db *db)
{
    uint8_t sentinel[4] = {1, 2, 3, 4};
    kat_buf b = {sentinel, 4};
    kat_error *err = NULL;
    bool found = false;

    CHECK_OK(kat_db_put(db, K("alpha"), K("one"), &err), err);
    CHECK_OK(kat_db_get(db, K("alpha"), &b, &err), err);
    CHECK_BUF(b, "one", 3);
    kat_buf_free(&b);

    CHECK_OK(kat_db_contains(db, K("alpha"), &found, &err), err);
    CHECK(found);

    /* Overwrite. */
    CHECK_OK(kat_db_put(db, K("alpha"), K("uno, dos"), &err), err);
    CHECK_OK(kat_db_get(db, K("alpha"), &b, &err), err);
    CHECK_BUF(b, "uno, dos", 8);
    kat_buf_free(&b);

    /* Delete, then it is missing; deleting again (or an absent key) is fine. */
    CHECK_OK(kat_db_delete(db, K("alpha"), &err), err);
    CHECK_OK(kat_db_contains(db, K("alpha"), &found, &err), err);
    CHECK(!found);
    b.data = sentinel;
    b.len = 4;
    CHECK_NOT_FOUND(kat_db_get(db, K("alpha"), &b, &err), err);
    CHECK(b.data == sentinel && b.len == 4); /* out-param untouched */
    CHECK_OK(kat_db_delete(db, K("alpha"), &err), err);
    CHECK_OK(kat_db_delete(db, K("never-existed"), &err), err);

    /* The caller's buffers may be reused at once: the library copied them. */
    {
        char key[8] = "reuse";
        char val[8] = "first";
        CHECK_OK(kat_db_put(db, (const uint8_t *)key, 5, (const uint8_t *)val, 5, &err), err);
        memset(key, 'X', sizeof key);
        memset(val, 'Y', sizeof val);
        CHECK_OK(kat_db_get(db, K("reuse"), &b, &err), err);
        CHECK_BUF(b, "first", 5);
        kat_buf_free(&b);
    }
}

static void test_missing_vs_empty(kat_db *db)
{
    uint8_t sentinel[4] = {9, 9, 9, 9};
    kat_buf b = {sentinel, 4};
    kat_error *err = NULL;
    bool found = true;
    size_t len = 777;

    /* Missing: KAT_NOT_FOUND with no error object; out-params untouched. */
    CHECK_NOT_FOUND(kat_db_get(db, K("missing"), &b, &err), err);
    CHECK(b.data == sentinel && b.len == 4);
    CHECK_NOT_FOUND(kat_db_get_into(db, K("missing"), NULL, 0, &len, &err), err);
    CHECK(len == 777);
    CHECK_OK(kat_db_contains(db, K("missing"), &found, &err), err);
    CHECK(!found);

    /* Empty value: KAT_OK with length 0 (NULL with length 0 is a valid input). */
    CHECK_OK(kat_db_put(db, K("empty"), NULL, 0, &err), err);
    CHECK_OK(kat_db_get(db, K("empty"), &b, &err), err);
    CHECK(b.len == 0);
    kat_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
    CHECK_OK(kat_db_get_into(db, K("empty"), NULL, 0, &len, &err), err);
    CHECK(len == 0);
    CHECK_OK(kat_db_contains(db, K("empty"), &found, &err), err);
    CHECK(found);

    /* An empty value given with a non-NULL pointer is the same thing. */
    CHECK_OK(kat_db_put(db, K("empty2"), (const uint8_t *)"ignored", 0, &err), err);
    CHECK_OK(kat_db_get(db, K("empty2"), &b, &err), err);
    CHECK(b.len == 0);
    kat_buf_free(&b);

    /* The empty key is a key like any other. */
    CHECK_NOT_FOUND(kat_db_get(db, NULL, 0, &b, &err), err);
    CHECK_OK(kat_db_put(db, NULL, 0, K("value of the empty key"), &err), err);
    CHECK_OK(kat_db_get(db, NULL, 0, &b, &err), err);
    CHECK_BUF(b, "value of the empty key", 22);
    kat_buf_free(&b);
    CHECK_OK(kat_db_delete(db, NULL, 0, &err), err);
    CHECK_NOT_FOUND(kat_db_get(db, NULL, 0, &b, &err), err);
}

static void test_get_into(kat_db *db)
{
    uint8_t buf[64];
    size_t len = 0;
    kat_error *err = NULL;
    const char *v = "hello, world"; /* 12 bytes */

    CHECK_OK(kat_db_put(db, K("greeting"), K(v), &err), err);

    /* Too small: KAT_BUFFER_TOO_SMALL, the needed length, buffer untouched. */
    CHECK_FAIL(kat_db_get_into(db, K("greeting"), NULL, 0, &len, &err), KAT_BUFFER_TOO_SMALL,
               err);
    CHECK(len == 12);
    memset(buf, 'x', sizeof buf);
    len = 0;
    CHECK_FAIL(kat_db_get_into(db, K("greeting"), buf, 11, &len, &err), KAT_BUFFER_TOO_SMALL,
               err);
    CHECK(len == 12);
    {
        size_t i;
        for (i = 0; i < sizeof buf; i++)
            CHECK(buf[i] == 'x');
    }
    /* Without an error object the status and length are the same. */
    len = 0;
    CHECK_STATUS(kat_db_get_into(db, K("greeting"), buf, 1, &len, NULL), KAT_BUFFER_TOO_SMALL);
    CHECK(len == 12);

    /* Exact size. */
    len = 0;
    CHECK_OK(kat_db_get_into(db, K("greeting"), buf, 12, &len, &err), err);
    CHECK(len == 12);
    CHECK(memcmp(buf, v, 12) == 0);
    CHECK(buf[12] == 'x');

    /* Larger: the bytes past the value are untouched. */
    memset(buf, 'x', sizeof buf);
    len = 0;
    CHECK_OK(kat_db_get_into(db, K("greeting"), buf, sizeof buf, &len, &err), err);
    CHECK(len == 12);
    CHECK(memcmp(buf, v, 12) == 0);
    CHECK(buf[12] == 'x' && buf[63] == 'x');
}

static void test_binary_and_large_values(kat_db *db)
{
    uint8_t key[300];
    uint8_t *big;
    size_t i, big_len = (size_t)1 << 20;
    kat_buf b = {NULL, 0};
    kat_error *err = NULL;

    /* Every byte value, NULs included, in key and value. */
    for (i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 7);
    CHECK_OK(kat_db_put(db, key, sizeof key, key, sizeof key, &err), err);
    CHECK_OK(kat_db_get(db, key, sizeof key, &b, &err), err);
    CHECK_BUF(b, key, sizeof key);
    kat_buf_free(&b);
    /* A key differing only after a NUL is a different key. */
    CHECK_NOT_FOUND(kat_db_get(db, key, sizeof key - 1, &b, &err), err);

    big = malloc(big_len);
    CHECK(big != NULL);
    for (i = 0; i < big_len; i++)
        big[i] = (uint8_t)(i ^ (i >> 8));
    CHECK_OK(kat_db_put(db, K("one-mebibyte"), big, big_len, &err), err);
    CHECK_OK(kat_db_get(db, K("one-mebibyte"), &b, &err), err);
    CHECK_BUF(b, big, big_len);
    kat_buf_free(&b);
    free(big);
}

static void test_key_limits(kat_db *db)
{
    const size_t max = 65536;
    uint8_t *key = malloc(max + 1);
    kat_stats before, after;
    kat_buf b = {NULL, 0};
    kat_error *err = NULL;
    bool found = true;

    CHECK(key != NULL);
    memset(key, 'k', max + 1);

    /* 65537 bytes: KAT_TOO_LARGE and nothing written. */
    CHECK_OK(kat_db_stats(db, &before, &err), err);
    CHECK_FAIL(kat_db_put(db, key, max + 1, K("v"), &err), KAT_TOO_LARGE, err);
    CHECK_STATUS(kat_db_put(db, key, max + 1, K("v"), NULL), KAT_TOO_LARGE);
    CHECK_FAIL(kat_db_delete(db, key, max + 1, &err), KAT_TOO_LARGE, err);
    CHECK_OK(kat_db_stats(db, &after, &err), err);
    CHECK(after.last_seq == before.last_seq);
    CHECK(after.total_bytes == before.total_bytes);
    CHECK(after.live_keys == before.live_keys);
    CHECK_OK(kat_db_contains(db, key, max, &found, &err), err);
    CHECK(!found);

    /* Exactly 64 KiB works. */
    CHECK_OK(kat_db_put(db, key, max, K("biggest key"), &err), err);
    CHECK_OK(kat_db_get(db, key, max, &b, &err), err);
    CHECK_BUF(b, "biggest key", 11);
    kat_buf_free(&b);
    CHECK_OK(kat_db_contains(db, key, max, &found, &err), err);
    CHECK(found);
    CHECK_OK(kat_db_stats(db, &after, &err), err);
    CHECK(after.last_seq == before.last_seq + 1);
    CHECK(after.live_keys == before.live_keys + 1);
    CHECK_OK(kat_db_delete(db, key, max, &err), err);
    CHECK_OK(kat_db_contains(db, key, max, &found, &err), err);
    CHECK(!found);
    free(key);
}

static void test_sync_and_stats(const char *dir)
{
    char path[4096];
    kat_db *db;
    kat_stats st, st2;
    kat_error *err = NULL;
    size_t i;

    kat_path(path, sizeof path, dir, "stats");
    db = OPEN(path, NULL);
    memset(&st, 0xAB, sizeof st);
    CHECK_OK(kat_db_stats(db, &st, &err), err);
    CHECK(st.live_keys == 0);
    CHECK(st.live_bytes == 0);
    CHECK(st.last_seq == 0);
    CHECK(st.segments >= 1);
    CHECK(st.total_bytes == st.live_bytes + st.dead_bytes);
    for (i = 0; i < sizeof st.reserved / sizeof st.reserved[0]; i++)
        CHECK(st.reserved[i] == 0);

    CHECK_OK(kat_db_put(db, K("a"), K("1"), &err), err);
    CHECK_OK(kat_db_put(db, K("b"), K("2"), &err), err);
    CHECK_OK(kat_db_put(db, K("c"), K("3"), &err), err);
    CHECK_OK(kat_db_sync(db, &err), err);
    CHECK_OK(kat_db_stats(db, &st, &err), err);
    CHECK(st.live_keys == 3);
    CHECK(st.last_seq == 3); /* one commit per put */
    CHECK(st.live_bytes > 0);
    CHECK(st.keydir_bytes > 0);
    CHECK(st.total_bytes == st.live_bytes + st.dead_bytes);

    /* Overwriting and deleting turn live bytes into dead ones. */
    CHECK_OK(kat_db_put(db, K("a"), K("one"), &err), err);
    CHECK_OK(kat_db_delete(db, K("b"), &err), err);
    CHECK_OK(kat_db_stats(db, &st2, &err), err);
    CHECK(st2.live_keys == 2);
    CHECK(st2.last_seq == 5);
    CHECK(st2.dead_bytes > st.dead_bytes);
    CHECK(st2.total_bytes > st.total_bytes);
    CHECK(st2.total_bytes == st2.live_bytes + st2.dead_bytes);
    CLOSE(db);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    char path[4096];
    kat_db *db;

    test_version();
    test_status_strings();
    test_error_objects(dir);
    test_options();
    test_rejected_options_change_nothing(dir);
    test_open_paths(dir);

    db = OPEN(kat_path(path, sizeof path, dir, "main"), NULL);
    test_buf_free(db);
    test_put_get_delete(db);
    test_missing_vs_empty(db);
    test_get_into(db);
    test_binary_and_large_values(db);
    test_key_limits(db);
    CLOSE(db);

    test_sync_and_stats(dir);
    CHECK_DONE("basics");
}
