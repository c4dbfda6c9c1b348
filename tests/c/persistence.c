/*
 * persistence.c: data survives close and reopen, in every sync mode and across many
 * segments (a small segment size forces rotation); counters survive too.
 */
#include "kat_check.h"

#include <dirent.h>

/* Number of "*.kseg" files in `path`. */
static unsigned count_segment_files(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    unsigned n = 0;

    CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".kseg") == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void fill_value(char *buf, size_t n, int i)
{
    size_t j;
    for (j = 0; j < n; j++)
        buf[j] = (char)('a' + (i + (int)j) % 26);
}

static void check_value(kat_db *db, const char *key, const void *want, size_t want_len)
{
    kat_buf b = {NULL, 0};
    kat_error *err = NULL;
    if (want == NULL) {
        CHECK_NOT_FOUND(kat_db_get(db, K(key), &b, &err), err);
        return;
    }
    CHECK_OK(kat_db_get(db, K(key), &b, &err), err);
    CHECK_BUF(b, want, want_len);
    kat_buf_free(&b);
}

static kat_options *options(kat_sync mode, uint32_t interval_ms, uint64_t segment_size)
{
    kat_options *o = NULL;
    CHECK_STATUS(kat_options_new(&o), KAT_OK);
    CHECK_STATUS(kat_options_set_sync(o, mode, interval_ms), KAT_OK);
    if (segment_size != 0)
        CHECK_STATUS(kat_options_set_segment_size(o, segment_size), KAT_OK);
    return o;
}

/* Writes, overwrites and deletes; closes; checks everything after reopening. */
static void test_reopen(const char *path, kat_sync mode, uint32_t interval_ms)
{
    kat_options *o = options(mode, interval_ms, 0);
    kat_db *db = OPEN(path, o);
    kat_error *err = NULL;
    kat_batch *b = NULL;
    kat_stats st1, st2;
    uint8_t bin[5] = {0, 1, 0, 255, 0};

    CHECK_OK(kat_db_put(db, K("keep"), K("kept value"), &err), err);
    CHECK_OK(kat_db_put(db, K("overwrite"), K("old"), &err), err);
    CHECK_OK(kat_db_put(db, K("overwrite"), K("new"), &err), err);
    CHECK_OK(kat_db_put(db, K("delete"), K("gone soon"), &err), err);
    CHECK_OK(kat_db_delete(db, K("delete"), &err), err);
    CHECK_OK(kat_db_put(db, K("empty"), NULL, 0, &err), err);
    CHECK_OK(kat_db_put(db, bin, sizeof bin, bin, sizeof bin, &err), err);
    CHECK_STATUS(kat_batch_new(&b), KAT_OK);
    CHECK_OK(kat_batch_put(b, K("batched-1"), K("x"), &err), err);
    CHECK_OK(kat_batch_put(b, K("batched-2"), K("y"), &err), err);
    CHECK_OK(kat_db_write(db, b, &err), err);
    kat_batch_free(b);
    if (mode != KAT_SYNC_ALWAYS)
        CHECK_OK(kat_db_sync(db, &err), err);
    CHECK_OK(kat_db_stats(db, &st1, &err), err);
    CHECK(st1.live_keys == 6);
    CHECK(st1.last_seq == 8);
    CLOSE(db);

    /* Reopen with the same options, then with the defaults. */
    db = OPEN(path, o);
    kat_options_free(o);
    check_value(db, "keep", "kept value", 10);
    check_value(db, "overwrite", "new", 3);
    check_value(db, "delete", NULL, 0);
    check_value(db, "empty", "", 0);
    check_value(db, "batched-1", "x", 1);
    check_value(db, "batched-2", "y", 1);
    {
        kat_buf got = {NULL, 0};
        CHECK_OK(kat_db_get(db, bin, sizeof bin, &got, &err), err);
        CHECK_BUF(got, bin, sizeof bin);
        kat_buf_free(&got);
    }
    CHECK_OK(kat_db_stats(db, &st2, &err), err);
    CHECK(st2.live_keys == st1.live_keys);
    CHECK(st2.last_seq == st1.last_seq);
    CHECK(st2.live_bytes == st1.live_bytes);

    /* New commits continue the sequence and survive the next reopen too. */
    CHECK_OK(kat_db_put(db, K("second-session"), K("2"), &err), err);
    CHECK_OK(kat_db_stats(db, &st2, &err), err);
    CHECK(st2.last_seq == st1.last_seq + 1);
    CLOSE(db);

    db = OPEN(path, NULL);
    check_value(db, "second-session", "2", 1);
    check_value(db, "overwrite", "new", 3);
    CHECK_OK(kat_db_stats(db, &st2, &err), err);
    CHECK(st2.last_seq == st1.last_seq + 1);
    CHECK(st2.live_keys == st1.live_keys + 1);
    CLOSE(db);
}

/* 1 KiB segments: many files, every value readable before and after reopening. */
static void test_many_segments(const char *path)
{
    enum { N = 300, VLEN = 120 };
    kat_options *o = options(KAT_SYNC_NEVER, 0, 1024);
    kat_db *db = OPEN(path, o);
    kat_error *err = NULL;
    kat_stats st;
    char key[32], val[VLEN];
    int i;

    for (i = 0; i < N; i++) {
        snprintf(key, sizeof key, "seg-key-%05d", i);
        fill_value(val, sizeof val, i);
        CHECK_OK(kat_db_put(db, K(key), (const uint8_t *)val, sizeof val, &err), err);
    }
    /* Overwrite every third key so old segments hold dead versions. */
    for (i = 0; i < N; i += 3) {
        snprintf(key, sizeof key, "seg-key-%05d", i);
        fill_value(val, sizeof val, i + 1000);
        CHECK_OK(kat_db_put(db, K(key), (const uint8_t *)val, sizeof val, &err), err);
    }
    CHECK_OK(kat_db_stats(db, &st, &err), err);
    CHECK(st.segments >= 20);
    CHECK(st.segments == count_segment_files(path));
    CHECK(st.live_keys == N);
    CHECK(st.dead_bytes > 0);
    CHECK(st.total_bytes == st.live_bytes + st.dead_bytes);
    for (i = 0; i < N; i++) {
        snprintf(key, sizeof key, "seg-key-%05d", i);
        fill_value(val, sizeof val, i % 3 == 0 ? i + 1000 : i);
        check_value(db, key, val, sizeof val);
    }
    CLOSE(db);

    /* Reopen (same small segments) and check every key. */
    db = OPEN(path, o);
    kat_options_free(o);
    CHECK_OK(kat_db_stats(db, &st, &err), err);
    CHECK(st.live_keys == N);
    CHECK(st.segments >= 20);
    CHECK(st.segments == count_segment_files(path));
    for (i = 0; i < N; i++) {
        snprintf(key, sizeof key, "seg-key-%05d", i);
        fill_value(val, sizeof val, i % 3 == 0 ? i + 1000 : i);
        check_value(db, key, val, sizeof val);
    }
    CLOSE(db);

    /* Reopen with the default (large) segment size: same contents. */
    db = OPEN(path, NULL);
    for (i = 0; i < N; i += 7) {
        snprintf(key, sizeof key, "seg-key-%05d", i);
        fill_value(val, sizeof val, i % 3 == 0 ? i + 1000 : i);
        check_value(db, key, val, sizeof val);
    }
    CLOSE(db);
}

/* A segment size smaller than one record still works: the record gets its own file. */
static void test_record_larger_than_segment(const char *path)
{
    kat_options *o = options(KAT_SYNC_ALWAYS, 0, 1024);
    kat_db *db = OPEN(path, o);
    kat_error *err = NULL;
    char *big = malloc(5000);
    int i;

    CHECK(big != NULL);
    for (i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof key, "big-%d", i);
        memset(big, 'A' + i, 5000);
        CHECK_OK(kat_db_put(db, K(key), (const uint8_t *)big, 5000, &err), err);
    }
    CLOSE(db);
    db = OPEN(path, o);
    kat_options_free(o);
    for (i = 0; i < 3; i++) {
        char key[16];
        snprintf(key, sizeof key, "big-%d", i);
        memset(big, 'A' + i, 5000);
        check_value(db, key, big, 5000);
    }
    CLOSE(db);
    free(big);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    char path[4096];

    test_reopen(kat_path(path, sizeof path, dir, "sync-always"), KAT_SYNC_ALWAYS, 0);
    test_reopen(kat_path(path, sizeof path, dir, "sync-interval"), KAT_SYNC_INTERVAL, 10);
    test_reopen(kat_path(path, sizeof path, dir, "sync-never"), KAT_SYNC_NEVER, 0);
    test_many_segments(kat_path(path, sizeof path, dir, "segments"));
    test_record_larger_than_segment(kat_path(path, sizeof path, dir, "big-records"));
    CHECK_DONE("persistence");
}
