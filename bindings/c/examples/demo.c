/*
 * demo.c: a short tour of the Katamari C API.
 *
 *   cargo build
 *   cc -std=c99 -I include bindings/c/examples/demo.c -o demo \
 *      -L <dir with libkatamari.so> -lkatamari -Wl,-rpath,<that dir>
 *   ./demo /tmp/katamari-demo
 *
 * Opens (creating it if needed) the database in the directory given as argv[1], writes a
 * few keys, reads them back, closes it, reopens it and shows that the data survived.
 * Every call's status is checked; on failure the error object's message is printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "katamari.h"

/* Exits with the status text and the error's message unless `status` is KAT_OK. */
static void check(kat_status status, kat_error *err, const char *what)
{
    if (status == KAT_OK)
        return;
    fprintf(stderr, "demo: %s failed: %s: %s\n", what, kat_status_str(status),
            kat_error_message(err));
    kat_error_free(err);
    exit(1);
}

static void put(kat_db *db, const char *key, const char *value)
{
    kat_error *err = NULL;
    check(kat_db_put(db, (const uint8_t *)key, strlen(key), (const uint8_t *)value,
                     strlen(value), &err),
          err, "kat_db_put");
    printf("  put  %-10s = %s\n", key, value);
}

/* Prints the value of `key`; a missing key is an ordinary outcome, not an error. */
static void show(kat_db *db, const char *key)
{
    kat_buf value = {NULL, 0};
    kat_error *err = NULL;
    kat_status s = kat_db_get(db, (const uint8_t *)key, strlen(key), &value, &err);

    if (s == KAT_NOT_FOUND) {
        printf("  get  %-10s : not found\n", key);
        return;
    }
    check(s, err, "kat_db_get");
    printf("  get  %-10s = %.*s\n", key, (int)value.len, (const char *)value.data);
    kat_buf_free(&value); /* library-owned bytes: never free() them */
}

static kat_db *open_db(const char *path)
{
    kat_options *opts = NULL;
    kat_db *db = NULL;
    kat_error *err = NULL;

    check(kat_options_new(&opts), NULL, "kat_options_new");
    /* The default: each write is on stable storage when the call returns. */
    check(kat_options_set_sync(opts, KAT_SYNC_ALWAYS, 0), NULL, "kat_options_set_sync");
    check(kat_db_open(path, opts, &db, &err), err, "kat_db_open");
    kat_options_free(opts); /* options may be freed as soon as the open returns */
    printf("opened %s\n", path);
    return db;
}

static void close_db(kat_db *db)
{
    kat_error *err = NULL;
    check(kat_db_close(db, &err), err, "kat_db_close");
    kat_db_free(db);
    printf("closed\n");
}

int main(int argc, char **argv)
{
    /* Keys start with "c:" so the Go and Node demos sharing the directory find them. */
    static const char *keys[] = {"c:greeting", "c:language", "c:answer", "c:fruit:1",
                                 "c:fruit:2", "c:scratch"};
    kat_db *db;
    kat_batch *batch = NULL;
    kat_error *err = NULL;
    kat_stats stats;
    size_t i;

    if (argc != 2) {
        fprintf(stderr, "usage: %s <database directory>\n", argv[0]);
        return 2;
    }
    printf("katamari %s (header %d.%d.%d)\n", kat_version(), KAT_VERSION_MAJOR,
           KAT_VERSION_MINOR, KAT_VERSION_PATCH);
    if (kat_version_number() != KAT_VERSION_NUMBER) {
        fprintf(stderr, "demo: header and library versions differ\n");
        return 1;
    }

    db = open_db(argv[1]);
    put(db, "c:greeting", "hello, world");
    put(db, "c:language", "C");
    put(db, "c:answer", "42");
    put(db, "c:scratch", "temporary");

    /* A batch commits several operations at once: all of them or none. */
    check(kat_batch_new(&batch), NULL, "kat_batch_new");
    check(kat_batch_put(batch, (const uint8_t *)"c:fruit:1", 9, (const uint8_t *)"apple", 5,
                        &err),
          err, "kat_batch_put");
    check(kat_batch_put(batch, (const uint8_t *)"c:fruit:2", 9, (const uint8_t *)"banana", 6,
                        &err),
          err, "kat_batch_put");
    check(kat_batch_delete(batch, (const uint8_t *)"c:scratch", 9, &err), err,
          "kat_batch_delete");
    check(kat_db_write(db, batch, &err), err, "kat_db_write");
    kat_batch_free(batch);
    printf("  batch: put c:fruit:1, put c:fruit:2, delete c:scratch (one atomic commit)\n");

    printf("reading back:\n");
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        show(db, keys[i]);

    check(kat_db_stats(db, &stats, &err), err, "kat_db_stats");
    printf("stats: %llu live keys, %llu segment file(s), last commit #%llu\n",
           (unsigned long long)stats.live_keys, (unsigned long long)stats.segments,
           (unsigned long long)stats.last_seq);
    close_db(db);

    /* After closing, the handle is gone; reopening reads the data back from disk. */
    db = open_db(argv[1]);
    printf("after reopening:\n");
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
        show(db, keys[i]);
    close_db(db);
    return 0;
}
