/*
 * consumer.c: a C99 program linked against an installed Katamari (CMake targets
 * Katamari::katamari / Katamari::katamari_static, or pkg-config). Run with a data
 * directory (created if missing) as argv[1]; prints "<name>: ok" on success.
 */
#include <katamari.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CONSUMER_NAME
#define CONSUMER_NAME "consumer_c"
#endif

#define REQUIRE(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

#define K(s) (const uint8_t *)(s), strlen(s)

int main(int argc, char **argv)
{
    kat_db *db = NULL;
    kat_txn *txn = NULL;
    kat_iter *it = NULL;
    kat_error *err = NULL;
    kat_buf val = {NULL, 0};
    kat_iter_opts opts;
    const uint8_t *k, *v;
    size_t kl, vl, n = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s <directory>\n", argv[0]);
        return 2;
    }
    REQUIRE(kat_version_number() == KAT_VERSION_NUMBER);
    REQUIRE(strcmp(kat_status_str(KAT_OK), "ok") == 0);
    if (kat_db_open(argv[1], NULL, &db, &err) != KAT_OK) {
        fprintf(stderr, "open %s: %s\n", argv[1], kat_error_message(err));
        kat_error_free(err);
        return 1;
    }
    REQUIRE(kat_db_put(db, K("lang"), K("C"), NULL) == KAT_OK);
    REQUIRE(kat_db_put(db, K("empty"), NULL, 0, NULL) == KAT_OK);
    REQUIRE(kat_db_get(db, K("lang"), &val, NULL) == KAT_OK);
    REQUIRE(val.len == 1 && val.data[0] == 'C');
    kat_buf_free(&val);
    REQUIRE(kat_db_get(db, K("empty"), &val, NULL) == KAT_OK && val.len == 0);
    kat_buf_free(&val);
    REQUIRE(kat_db_get(db, K("missing"), &val, NULL) == KAT_NOT_FOUND);

    REQUIRE(kat_txn_begin(db, 0, &txn, NULL) == KAT_OK);
    REQUIRE(kat_txn_put(txn, K("txn"), K("committed"), NULL) == KAT_OK);
    REQUIRE(kat_txn_commit(txn, NULL) == KAT_OK);
    kat_txn_free(txn);

    memset(&opts, 0, sizeof opts);
    REQUIRE(kat_iter_new(db, &opts, &it, NULL) == KAT_OK);
    while (kat_iter_next(it, &k, &kl, &v, &vl, NULL) == KAT_OK)
        n++;
    kat_iter_free(it);
    REQUIRE(n == 3);

    REQUIRE(kat_db_close(db, &err) == KAT_OK);
    kat_db_free(db);
    printf("%s: ok (katamari %s)\n", CONSUMER_NAME, kat_version());
    return 0;
}
