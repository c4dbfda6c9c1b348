/*
 * corruption.c: damaged segment files. A flipped byte inside an early batch (with later
 * batches after it) makes kat_db_open fail with KAT_CORRUPTION and change nothing; with
 * kat_options_set_salvage the database opens without the damaged batch (wholly absent:
 * batches are atomic) and with everything else. Damage confined to the last batch of a
 * cleanly closed database is corruption too (the close left an end marker); without the
 * marker, as a crash leaves it, it is a torn tail: the database opens without salvage
 * and without that batch.
 */
#include "kat_check.h"

#include <dirent.h>
#include <unistd.h>

/* Distinctive values to find in the segment file. */
#define VICTIM "VICTIM-VALUE-0123456789-abcdefghij"
#define TAIL "TAIL-VALUE-9876543210-zyxwvutsrqpo"

/* Writes the path of the only "*.kseg" file in `dir` into `out`; fails otherwise. */
static void only_segment(const char *dir, char *out, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;

    CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".kseg") == 0) {
            kat_path(out, n, dir, e->d_name);
            found++;
        }
    }
    closedir(d);
    CHECK(found == 1);
}

/* Reads a whole file into a malloc'd buffer. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long size;

    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    size = ftell(f);
    CHECK(size > 0);
    CHECK(fseek(f, 0, SEEK_SET) == 0);
    buf = malloc((size_t)size);
    CHECK(buf != NULL);
    CHECK(fread(buf, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(buf, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

/* Offset of the only occurrence of `needle` in `hay`; fails if absent or repeated. */
static size_t find_once(const uint8_t *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle), i, at = 0;
    int hits = 0;
    for (i = 0; i + n <= hay_len; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            at = i;
            hits++;
        }
    }
    CHECK(hits == 1);
    return at;
}

/* Flips one bit in the middle of `marker` inside the segment of `dir`. */
static void flip_inside(const char *dir, const char *marker)
{
    char seg[4096];
    size_t len, at;
    uint8_t *data;

    only_segment(dir, seg, sizeof seg);
    data = read_file(seg, &len);
    at = find_once(data, len, marker) + strlen(marker) / 2;
    data[at] ^= 0x01;
    write_file(seg, data, len);
    free(data);
}

static void put(kat_db *db, const char *key, const char *val)
{
    kat_error *err = NULL;
    CHECK_OK(kat_db_put(db, K(key), K(val), &err), err);
}

static void check_value(kat_db *db, const char *key, const char *want)
{
    kat_buf b = {NULL, 0};
    kat_error *err = NULL;
    bool found = true;
    if (want == NULL) {
        CHECK_NOT_FOUND(kat_db_get(db, K(key), &b, &err), err);
        CHECK_OK(kat_db_contains(db, K(key), &found, &err), err);
        CHECK(!found);
        return;
    }
    CHECK_OK(kat_db_get(db, K(key), &b, &err), err);
    CHECK_BUF(b, want, strlen(want));
    kat_buf_free(&b);
}

/* before (1 batch), victim + victim-sibling (1 batch), after (1 batch), then damage. */
static void write_and_damage_early_batch(const char *path)
{
    kat_db *db = OPEN(path, NULL);
    kat_batch *b = NULL;
    kat_error *err = NULL;

    put(db, "before", "intact");
    CHECK_STATUS(kat_batch_new(&b), KAT_OK);
    CHECK_OK(kat_batch_put(b, K("victim"), K(VICTIM), &err), err);
    CHECK_OK(kat_batch_put(b, K("victim-sibling"), K("same batch, undamaged"), &err), err);
    CHECK_OK(kat_db_write(db, b, &err), err);
    kat_batch_free(b);
    put(db, "after", "written later");
    put(db, "after-2", "written even later");
    CLOSE(db);
    flip_inside(path, VICTIM);
}

static void test_early_damage(const char *path)
{
    char seg[4096];
    uint8_t *before_bytes, *after_bytes;
    size_t before_len, after_len;
    kat_db *db = (kat_db *)NULL;
    kat_options *o = NULL;
    kat_error *err = NULL;
    kat_stats st;

    write_and_damage_early_batch(path);
    only_segment(path, seg, sizeof seg);
    before_bytes = read_file(seg, &before_len);

    /* Without salvage: KAT_CORRUPTION, with a message, and nothing changes. */
    CHECK_FAIL(kat_db_open(path, NULL, &db, &err), KAT_CORRUPTION, err);
    CHECK(db == NULL);
    CHECK_STATUS(kat_db_open(path, NULL, &db, NULL), KAT_CORRUPTION);
    CHECK(db == NULL);
    CHECK_STATUS(kat_options_new(&o), KAT_OK);
    CHECK_STATUS(kat_options_set_salvage(o, false), KAT_OK);
    CHECK_FAIL(kat_db_open(path, o, &db, &err), KAT_CORRUPTION, err);
    CHECK(db == NULL);
    only_segment(path, seg, sizeof seg); /* still exactly one segment */
    after_bytes = read_file(seg, &after_len);
    CHECK(after_len == before_len);
    CHECK(memcmp(before_bytes, after_bytes, before_len) == 0);
    free(after_bytes);
    free(before_bytes);

    /* A failed open left no lock behind: the salvage open succeeds. */
    CHECK_STATUS(kat_options_set_salvage(o, true), KAT_OK);
    db = OPEN(path, o);
    check_value(db, "before", "intact");
    check_value(db, "after", "written later");
    check_value(db, "after-2", "written even later");
    /* The damaged batch is wholly absent, its undamaged record included. */
    check_value(db, "victim", NULL);
    check_value(db, "victim-sibling", NULL);
    CHECK_OK(kat_db_stats(db, &st, &err), err);
    CHECK(st.live_keys == 3);

    /* The salvaged database takes new writes, which survive reopening (with salvage). */
    put(db, "post-salvage", "new data");
    put(db, "victim", "rewritten");
    CLOSE(db);
    db = OPEN(path, o);
    check_value(db, "before", "intact");
    check_value(db, "after", "written later");
    check_value(db, "post-salvage", "new data");
    check_value(db, "victim", "rewritten");
    check_value(db, "victim-sibling", NULL);
    CLOSE(db);
    kat_options_free(o);
}

/* Cuts the 32-byte end marker a clean close appended to the segment of `dir`. */
static void strip_end_marker(const char *dir)
{
    char seg[4096];
    size_t len;
    uint8_t *data;

    only_segment(dir, seg, sizeof seg);
    data = read_file(seg, &len);
    free(data);
    CHECK(len > 32);
    CHECK(truncate(seg, (off_t)(len - 32)) == 0);
}

/* Damage in the last batch only: corruption after a clean close; a torn tail when the
 * segment ends as a crash leaves it (it opens without salvage, minus that batch, and
 * the repaired database is clean afterwards). */
static void test_torn_tail(const char *path)
{
    kat_db *db = OPEN(path, NULL);
    kat_batch *b = NULL;
    kat_error *err = NULL;
    kat_stats st;

    put(db, "first", "one");
    put(db, "second", "two");
    CHECK_STATUS(kat_batch_new(&b), KAT_OK);
    CHECK_OK(kat_batch_put(b, K("tail-1"), K("undamaged"), &err), err);
    CHECK_OK(kat_batch_put(b, K("tail-2"), K(TAIL), &err), err);
    CHECK_OK(kat_db_write(db, b, &err), err);
    kat_batch_free(b);
    CLOSE(db);
    flip_inside(path, TAIL);
    db = NULL;
    CHECK_FAIL(kat_db_open(path, NULL, &db, &err), KAT_CORRUPTION, err);
    CHECK(db == NULL);
    strip_end_marker(path);

    db = OPEN(path, NULL);
    check_value(db, "first", "one");
    check_value(db, "second", "two");
    check_value(db, "tail-1", NULL);
    check_value(db, "tail-2", NULL);
    CHECK_OK(kat_db_stats(db, &st, &err), err);
    CHECK(st.live_keys == 2);
    CHECK(st.last_seq == 2);
    put(db, "third", "three");
    CLOSE(db);

    db = OPEN(path, NULL);
    check_value(db, "third", "three");
    check_value(db, "tail-1", NULL);
    CLOSE(db);
}

/* A segment cut short inside its last batch (a crash mid-append) opens without it. */
static void test_truncated_tail(const char *path)
{
    char seg[4096];
    kat_db *db = OPEN(path, NULL);
    uint8_t *data;
    size_t len, at;

    put(db, "kept", "yes");
    put(db, "cut", TAIL);
    CLOSE(db);

    only_segment(path, seg, sizeof seg);
    data = read_file(seg, &len);
    at = find_once(data, len, TAIL);
    free(data);
    CHECK(truncate(seg, (off_t)(at + 3)) == 0);

    db = OPEN(path, NULL);
    check_value(db, "kept", "yes");
    check_value(db, "cut", NULL);
    put(db, "cut", "rewritten");
    CLOSE(db);
    db = OPEN(path, NULL);
    check_value(db, "kept", "yes");
    check_value(db, "cut", "rewritten");
    CLOSE(db);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    char path[4096];

    test_early_damage(kat_path(path, sizeof path, dir, "early"));
    test_torn_tail(kat_path(path, sizeof path, dir, "torn"));
    test_truncated_tail(kat_path(path, sizeof path, dir, "truncated"));
    CHECK_DONE("corruption");
}
