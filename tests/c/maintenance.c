/*
 * maintenance.c: merge, hot backup and verify from C. A merge keeps every value and
 * drops deleted and overwritten ones; a backup opens as a database at the commit point
 * it reports; verify counts records and reports damage without changing anything; the
 * auto-merge option validates its arguments; closed handles and NULL arguments are
 * refused with a status, never a crash.
 */
#include "kat_check.h"

#include <math.h>

static void put_n(kat_db *db, int n, int round)
{
    char key[32], val[64];
    kat_error *err = NULL;
    int i;
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof key, "key-%04d", i);
        snprintf(val, sizeof val, "value-%d-%d-padding-padding", i, round);
        CHECK_OK(kat_db_put(db, K(key), K(val), &err), err);
    }
}

static void check_n(kat_db *db, int n, int round, int deleted_every)
{
    char key[32], val[64];
    kat_error *err = NULL;
    kat_buf b = {NULL, 0};
    int i;
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof key, "key-%04d", i);
        if (deleted_every > 0 && i % deleted_every == 0) {
            CHECK_NOT_FOUND(kat_db_get(db, K(key), &b, &err), err);
            continue;
        }
        snprintf(val, sizeof val, "value-%d-%d-padding-padding", i, round);
        CHECK_OK(kat_db_get(db, K(key), &b, &err), err);
        CHECK_BUF(b, val, strlen(val));
        kat_buf_free(&b);
    }
}

static void test_merge_backup_verify(const char *dir)
{
    char path[4096], dest[4096];
    kat_options *o = NULL;
    kat_db *db, *copy;
    kat_error *err = NULL;
    kat_merge_stats m;
    kat_backup_info info;
    kat_verify_report r;
    kat_stats st;
    char key[32];
    int i;

    kat_path(path, sizeof path, dir, "db");
    kat_path(dest, sizeof dest, dir, "backup");
    CHECK_STATUS(kat_options_new(&o), KAT_OK);
    CHECK_STATUS(kat_options_set_segment_size(o, 16 * 1024), KAT_OK);
    CHECK_STATUS(kat_options_set_sync(o, KAT_SYNC_NEVER, 0), KAT_OK);
    CHECK_STATUS(kat_options_set_auto_merge(o, 0.0, 0), KAT_OK);
    db = OPEN(path, o);
    for (i = 0; i < 5; i++)
        put_n(db, 500, i);
    for (i = 0; i < 500; i += 3) {
        snprintf(key, sizeof key, "key-%04d", i);
        CHECK_OK(kat_db_delete(db, K(key), &err), err);
    }

    memset(&m, 0xAB, sizeof m);
    CHECK_OK(kat_db_merge(db, &m, &err), err);
    CHECK(m.input_segments > 1);
    CHECK(m.output_bytes < m.input_bytes / 3);
    CHECK(m.records == 500 - 167);
    CHECK(m.expired == 0);
    CHECK(m.reserved[0] == 0);
    check_n(db, 500, 4, 3);
    CHECK_OK(kat_db_merge(db, NULL, &err), err); /* out is optional */

    CHECK_OK(kat_db_stats(db, &st, &err), err);
    CHECK(st.merges == 2);
    CHECK(st.merge_failures == 0);
    memset(&info, 0, sizeof info);
    CHECK_OK(kat_db_backup(db, dest, &info, &err), err);
    CHECK(info.seq == st.last_seq);
    CHECK(info.segments >= 2);
    CHECK(info.bytes > 0);
    CHECK_FAIL(kat_db_backup(db, dest, &info, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_backup(db, NULL, &info, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_backup(db, "", NULL, &err), KAT_INVALID_ARGUMENT, err);
    /* An existing file is refused like an existing directory. */
    {
        char file[4096];
        FILE *f = fopen(kat_path(file, sizeof file, dir, "a-file"), "w");
        CHECK(f != NULL);
        fclose(f);
        CHECK_FAIL(kat_db_backup(db, file, NULL, &err), KAT_INVALID_ARGUMENT, err);
    }
    /* Writes after the backup do not reach the copy. */
    CHECK_OK(kat_db_put(db, K("after-backup"), K("x"), &err), err);

    memset(&r, 0xAB, sizeof r);
    CHECK_OK(kat_db_verify(db, &r, &err), err);
    CHECK(r.damaged == 0);
    CHECK(r.hints_bad == 0);
    CHECK(r.hints_ok >= 1);
    CHECK(r.records == 500 - 167 + 1);
    CHECK(r.first_bad_segment == 0 && r.first_bad_offset == 0);
    CHECK(r.first_bad_reason[0] == '\0');
    CHECK(sizeof r.first_bad_reason == KAT_VERIFY_REASON_LEN);
    CHECK_FAIL(kat_db_verify(db, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CLOSE(db);

    copy = OPEN(dest, o);
    check_n(copy, 500, 4, 3);
    CHECK_OK(kat_db_stats(copy, &st, &err), err);
    CHECK(st.last_seq == info.seq);
    CHECK(st.live_keys == 500 - 167);
    CHECK_NOT_FOUND(kat_db_get(copy, K("after-backup"), &(kat_buf){NULL, 0}, &err), err);
    CLOSE(copy);

    db = OPEN(path, o);
    check_n(db, 500, 4, 3);
    CLOSE(db);
    kat_options_free(o);
}

static void test_options_and_bad_handles(const char *dir)
{
    char path[4096];
    kat_options *o = NULL;
    kat_db *db;
    kat_error *err = NULL;
    kat_merge_stats m;
    kat_verify_report r;

    CHECK_STATUS(kat_options_new(&o), KAT_OK);
    CHECK_STATUS(kat_options_set_auto_merge(o, 0.5, 64u << 20), KAT_OK);
    CHECK_STATUS(kat_options_set_auto_merge(o, 1.0, 0), KAT_OK);
    CHECK_STATUS(kat_options_set_auto_merge(o, 1.5, 0), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_auto_merge(o, -0.1, 0), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_auto_merge(o, NAN, 0), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_options_set_auto_merge(NULL, 0.5, 0), KAT_INVALID_ARGUMENT);

    CHECK_FAIL(kat_db_merge(NULL, &m, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_backup(NULL, dir, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_db_verify(NULL, &r, &err), KAT_INVALID_ARGUMENT, err);

    kat_path(path, sizeof path, dir, "closed");
    db = OPEN(path, o);
    CHECK_OK(kat_db_close(db, &err), err);
    CHECK_FAIL(kat_db_merge(db, &m, &err), KAT_CLOSED, err);
    kat_path(path, sizeof path, dir, "closed-backup");
    CHECK_FAIL(kat_db_backup(db, path, NULL, &err), KAT_CLOSED, err);
    CHECK_FAIL(kat_db_verify(db, &r, &err), KAT_CLOSED, err);
    kat_db_free(db);
    kat_options_free(o);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    test_merge_backup_verify(dir);
    test_options_and_bad_handles(dir);
    CHECK_DONE("maintenance");
}
