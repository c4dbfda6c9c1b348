/*
 * merge_expired_history.c: a merge drops an expired value while another thread
 * overwrites that key under an open snapshot.
 *
 * Found by the c_api fuzz target (fuzz/src/capi.rs, with background merges on); this
 * program makes the race likely. The merge panics in commit_merge (src/engine/merge.rs):
 *     debug_assert!(!st.keydir.points_into(|s| plan.inputs.contains(&s)),
 *                   "the index still points into a merged-away segment")
 * Mechanism: the merge walks a key whose only version is an expired value (candidate
 * `expired`: not copied). Before copy_chunk calls Keydir::remove_expired for it, another
 * thread overwrites the key while a snapshot (here an iterator) is open, so the expired
 * version moves into the key's history; remove_expired then sees a newer version and
 * leaves the history alone, and that history entry still points into an input segment
 * when the merge commits. With debug assertions the panic comes after the MERGE file was
 * renamed into place and before the in-memory switch-over (kat_db_merge returns
 * KAT_PANIC; a background merge thread just dies). Without them the history entry is
 * left pointing into a deleted segment until the snapshot ends.
 *
 * Build against a debug libkatamari.so (debug assertions on) and run with an empty
 * directory; exits 1 when kat_db_merge fails (KAT_PANIC), 0 if the race was not hit.
 *
 *   cc -std=c99 -pthread -Iinclude fuzz/regressions/c_api/merge_expired_history.c \
 *      -Ltarget/debug -lkatamari -Wl,-rpath,$PWD/target/debug -o /tmp/meh && /tmp/meh "$(mktemp -d)"
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "katamari.h"

#define OK(call)                                                                      \
    do {                                                                              \
        kat_status st_ = (call);                                                      \
        if (st_ != KAT_OK) {                                                          \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,             \
                    kat_status_str(st_));                                             \
            exit(2);                                                                  \
        }                                                                             \
    } while (0)

static kat_db *db;
static volatile int stop;
static kat_status merge_failed = KAT_OK;
static char merge_message[512];

static void *merger(void *arg)
{
    (void)arg;
    while (!stop) {
        kat_error *err = NULL;
        kat_status st = kat_db_merge(db, NULL, &err);
        if (st != KAT_OK) {
            merge_failed = st;
            snprintf(merge_message, sizeof merge_message, "%s", kat_error_message(err));
            kat_error_free(err);
            stop = 1;
        }
    }
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

int main(int argc, char **argv)
{
    char path[4096], key[32];
    static uint8_t big[1024];
    kat_options *o;
    pthread_t t;
    int round, i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s <empty directory>\n", argv[0]);
        return 2;
    }
    snprintf(path, sizeof path, "%s/db", argv[1]);
    memset(big, 'v', sizeof big);

    OK(kat_options_new(&o));
    OK(kat_options_set_sync(o, KAT_SYNC_NEVER, 0));
    OK(kat_options_set_auto_merge(o, 0.0, 0));
    OK(kat_db_open(path, o, &db, NULL));
    kat_options_free(o);

    /* Values every merge copies: they keep it busy between its walk of the keys and
     * its removal of their expired values ("b..." sorts after "a..."). */
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "b%05d", i);
        OK(kat_db_put(db, (const uint8_t *)key, strlen(key), big, sizeof big, NULL));
    }
    pthread_create(&t, NULL, merger, NULL);
    for (round = 1; round <= 300 && !stop; round++) {
        kat_iter *it;
        /* Keys whose only version expires at once, */
        for (i = 0; i < 500; i++) {
            snprintf(key, sizeof key, "a%03d-%04d", round, i);
            OK(kat_db_put_ttl(db, (const uint8_t *)key, strlen(key), (const uint8_t *)"x", 1,
                              1, NULL));
        }
        sleep_ms(2);
        /* a snapshot that saw them, */
        OK(kat_iter_new(db, NULL, &it, NULL));
        /* and overwrites racing with the merge. */
        for (i = 0; i < 500 && !stop; i++) {
            snprintf(key, sizeof key, "a%03d-%04d", round, i);
            OK(kat_db_put(db, (const uint8_t *)key, strlen(key), (const uint8_t *)"y", 1,
                          NULL));
        }
        kat_iter_free(it);
    }
    stop = 1;
    pthread_join(t, NULL);
    kat_db_free(db);
    if (merge_failed != KAT_OK) {
        printf("merge_expired_history: kat_db_merge failed in round %d: %s: %s\n", round - 1,
               kat_status_str(merge_failed), merge_message);
        return 1;
    }
    printf("merge_expired_history: not reproduced in %d rounds\n", round - 1);
    return 0;
}
