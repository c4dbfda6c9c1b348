/*
 * keyspace.c: named keyspaces through the C API: separation from the default keyspace
 * and each other, listing, dropping, persistence, transactions, batches and iterators
 * spanning keyspaces, NULL handling, and calls after drop and after close.
 */
#include "kat_check.h"

static kat_keyspace *open_ks(kat_db *db, const char *name)
{
    kat_keyspace *ks = NULL;
    kat_error *err = NULL;
    CHECK_OK(kat_keyspace_open(db, K(name), &ks, &err), err);
    CHECK(ks != NULL);
    return ks;
}

static void check_get(kat_keyspace *ks, const char *key, const char *want)
{
    kat_buf v = {0};
    kat_error *err = NULL;
    if (want == NULL) {
        CHECK_NOT_FOUND(kat_keyspace_get(ks, K(key), &v, &err), err);
        return;
    }
    CHECK_OK(kat_keyspace_get(ks, K(key), &v, &err), err);
    CHECK_BUF(v, want, strlen(want));
    kat_buf_free(&v);
}

/* Decodes a kat_keyspace_list buffer and checks it names exactly `want` in order. */
static void check_list(kat_db *db, const char **want, size_t n)
{
    kat_buf out = {0};
    size_t count = 99;
    kat_error *err = NULL;
    CHECK_OK(kat_keyspace_list(db, &out, &count, &err), err);
    CHECK(count == n);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t len;
        CHECK(at + 4 <= out.len);
        memcpy(&len, out.data + at, 4);
        at += 4;
        CHECK(len == strlen(want[i]));
        CHECK(at + len <= out.len);
        CHECK(memcmp(out.data + at, want[i], len) == 0);
        at += len;
    }
    CHECK(at == out.len);
    kat_buf_free(&out);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    char path[4096];
    kat_path(path, sizeof path, dir, "db");
    kat_error *err = NULL;
    kat_db *db = OPEN(path, NULL);

    /* Separation. */
    kat_keyspace *users = open_ks(db, "users");
    kat_keyspace *orders = open_ks(db, "orders");
    CHECK_OK(kat_db_put(db, K("k"), K("default"), &err), err);
    CHECK_OK(kat_keyspace_put(users, K("k"), K("user"), &err), err);
    CHECK_OK(kat_keyspace_put(orders, K("k"), K("order"), &err), err);
    check_get(users, "k", "user");
    check_get(orders, "k", "order");
    check_get(users, "missing", NULL);
    bool found = false;
    CHECK_OK(kat_keyspace_contains(orders, K("k"), &found, &err), err);
    CHECK(found);
    CHECK_OK(kat_keyspace_delete(orders, K("k"), &err), err);
    CHECK_OK(kat_keyspace_contains(orders, K("k"), &found, &err), err);
    CHECK(!found);
    check_get(users, "k", "user");
    kat_buf v = {0};
    CHECK_OK(kat_db_get(db, K("k"), &v, &err), err);
    CHECK_BUF(v, "default", 7);
    kat_buf_free(&v);

    /* Opening again returns the same keyspace. */
    kat_keyspace *users2 = open_ks(db, "users");
    check_get(users2, "k", "user");
    kat_keyspace_free(users2);

    /* TTL. */
    CHECK_OK(kat_keyspace_put_ttl(users, K("long"), K("lived"), 3600000, &err), err);
    {
        uint64_t at = 0;
        CHECK_OK(kat_keyspace_expires_at(users, K("long"), &at, &err), err);
        CHECK(at > 0);
        CHECK_NOT_FOUND(kat_keyspace_expires_at(users, K("no-such-key"), &at, &err), err);
        CHECK_NOT_FOUND(kat_db_expires_at(db, K("long"), &at, &err), err); /* other space */
    }
    check_get(users, "long", "lived");
    CHECK_FAIL(kat_keyspace_put_ttl(users, K("x"), K("y"), 0, &err), KAT_INVALID_ARGUMENT, err);

    /* Listing. */
    const char *two[] = {"orders", "users"};
    check_list(db, two, 2);

    /* Iterator over one keyspace sees only its keys. */
    CHECK_OK(kat_keyspace_put(users, K("a1"), K("x"), &err), err);
    CHECK_OK(kat_keyspace_put(users, K("a2"), K("y"), &err), err);
    CHECK_OK(kat_keyspace_put(orders, K("a3"), K("z"), &err), err);
    kat_iter_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.prefix = (const uint8_t *)"a";
    opts.prefix_len = 1;
    kat_iter *it = NULL;
    CHECK_OK(kat_keyspace_iter_new(users, &opts, &it, &err), err);
    const uint8_t *key, *val;
    size_t klen, vlen;
    CHECK_OK(kat_iter_next(it, &key, &klen, &val, &vlen, &err), err);
    CHECK(klen == 2 && memcmp(key, "a1", 2) == 0);
    CHECK_OK(kat_iter_next(it, &key, &klen, &val, &vlen, &err), err);
    CHECK(klen == 2 && memcmp(key, "a2", 2) == 0 && vlen == 1 && val[0] == 'y');
    CHECK_NOT_FOUND(kat_iter_next(it, &key, &klen, &val, &vlen, &err), err);
    kat_iter_free(it);

    /* A transaction spans keyspaces and commits them atomically. */
    kat_txn *t = NULL;
    CHECK_OK(kat_txn_begin(db, 0, &t, &err), err);
    CHECK_OK(kat_txn_put_in(t, users, K("t"), K("u"), &err), err);
    CHECK_OK(kat_txn_put_in(t, orders, K("t"), K("o"), &err), err);
    CHECK_OK(kat_txn_delete_in(t, users, K("a1"), &err), err);
    CHECK_OK(kat_txn_get_in(t, orders, K("t"), &v, &err), err);
    CHECK_BUF(v, "o", 1);
    kat_buf_free(&v);
    CHECK_NOT_FOUND(kat_txn_get_in(t, users, K("a1"), &v, &err), err);
    check_get(users, "t", NULL); /* not visible before commit */
    CHECK_OK(kat_txn_iter_new_in(t, users, &opts, &it, &err), err);
    CHECK_OK(kat_iter_next(it, &key, &klen, NULL, NULL, &err), err);
    CHECK(klen == 2 && memcmp(key, "a2", 2) == 0); /* a1 deleted in the txn */
    CHECK_NOT_FOUND(kat_iter_next(it, &key, &klen, NULL, NULL, &err), err);
    kat_iter_free(it);
    found = true;
    CHECK_OK(kat_txn_contains_in(t, users, K("a1"), &found, &err), err);
    CHECK(!found); /* deleted in the txn */
    CHECK_OK(kat_txn_contains_in(t, orders, K("t"), &found, &err), err);
    CHECK(found); /* written in the txn */
    CHECK_OK(kat_txn_contains_in(t, users, K("a2"), &found, &err), err);
    CHECK(found); /* in the snapshot */
    CHECK_OK(kat_txn_put_ttl_in(t, users, K("tt"), K("ttl"), 3600000, &err), err);
    CHECK_FAIL(kat_txn_put_ttl_in(t, users, K("tt"), K("ttl"), 0, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_OK(kat_txn_commit(t, &err), err);
    kat_txn_free(t);
    check_get(users, "tt", "ttl");
    check_get(users, "t", "u");
    check_get(orders, "t", "o");
    check_get(users, "a1", NULL);

    /* A batch spans keyspaces. */
    kat_batch *b = NULL;
    CHECK_STATUS(kat_batch_new(&b), KAT_OK);
    CHECK_OK(kat_batch_put_in(b, users, K("b"), K("1"), &err), err);
    CHECK_OK(kat_batch_put_in(b, orders, K("b"), K("2"), &err), err);
    CHECK_OK(kat_batch_delete_in(b, users, K("t"), &err), err);
    CHECK_OK(kat_batch_put_ttl_in(b, orders, K("bt"), K("soon"), 3600000, &err), err);
    CHECK_FAIL(kat_batch_put_ttl_in(b, orders, K("x"), K("y"), 0, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_OK(kat_db_write(db, b, &err), err);
    kat_batch_free(b);
    check_get(orders, "bt", "soon");
    check_get(users, "b", "1");
    check_get(orders, "b", "2");
    check_get(users, "t", NULL);

    /* NULL arguments. */
    kat_keyspace *none = NULL;
    CHECK_FAIL(kat_keyspace_open(NULL, K("x"), &none, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_keyspace_open(db, K("x"), NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_keyspace_open(db, NULL, 3, &none, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_keyspace_open(db, NULL, 0, &none, &err), KAT_INVALID_ARGUMENT, err);
    CHECK(none == NULL);
    CHECK_FAIL(kat_keyspace_open(db, (const uint8_t *)"\0x", 2, &none, &err),
               KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_keyspace_put(NULL, K("k"), K("v"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_keyspace_get(users, K("k"), NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_keyspace_contains(users, K("k"), NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_keyspace_delete(NULL, K("k"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_keyspace_iter_new(users, NULL, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_keyspace_list(db, NULL, &klen, &err),
               KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_keyspace_drop(NULL, K("users"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_OK(kat_txn_begin(db, 0, &t, &err), err);
    CHECK_FAIL(kat_txn_put_in(t, NULL, K("k"), K("v"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_get_in(t, NULL, K("k"), &v, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_delete_in(NULL, users, K("k"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_iter_new_in(t, NULL, NULL, &it, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_contains_in(t, users, K("k"), NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_put_ttl_in(t, NULL, K("k"), K("v"), 5, &err), KAT_INVALID_ARGUMENT,
               err);
    kat_txn_free(t);
    CHECK_STATUS(kat_batch_new(&b), KAT_OK);
    CHECK_FAIL(kat_batch_put_in(b, NULL, K("k"), K("v"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_batch_delete_in(b, NULL, K("k"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_batch_put_ttl_in(b, NULL, K("k"), K("v"), 5, &err), KAT_INVALID_ARGUMENT,
               err);
    kat_batch_free(b);
    kat_keyspace_free(NULL);

    /* Dropping: the handle fails, the name is gone, reopening the name is empty. */
    kat_keyspace *tmp = open_ks(db, "tmp");
    CHECK_OK(kat_keyspace_put(tmp, K("gone"), K("soon"), &err), err);
    CHECK_OK(kat_keyspace_drop(db, K("tmp"), &err), err);
    CHECK_FAIL(kat_keyspace_put(tmp, K("x"), K("y"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_keyspace_get(tmp, K("gone"), &v, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_NOT_FOUND(kat_keyspace_drop(db, K("tmp"), &err), err);
    kat_keyspace_free(tmp);
    tmp = open_ks(db, "tmp");
    check_get(tmp, "gone", NULL);
    kat_keyspace_free(tmp);
    CHECK_OK(kat_keyspace_drop(db, K("tmp"), &err), err);
    check_list(db, two, 2);

    /* Calls after close report KAT_CLOSED; handles are still freed normally. */
    CHECK_OK(kat_db_close(db, &err), err);
    CHECK_FAIL(kat_keyspace_put(users, K("k"), K("v"), &err), KAT_CLOSED, err);
    CHECK_FAIL(kat_keyspace_get(users, K("k"), &v, &err), KAT_CLOSED, err);
    CHECK_FAIL(kat_keyspace_open(db, K("users"), &none, &err), KAT_CLOSED, err);
    CHECK_FAIL(kat_keyspace_list(db, &v, &klen, &err), KAT_CLOSED, err);
    kat_keyspace_free(users);
    kat_keyspace_free(orders);
    kat_db_free(db);

    /* Everything survives a reopen. */
    db = OPEN(path, NULL);
    check_list(db, two, 2);
    users = open_ks(db, "users");
    orders = open_ks(db, "orders");
    check_get(users, "k", "user");
    check_get(users, "b", "1");
    check_get(orders, "b", "2");
    check_get(orders, "k", NULL);
    kat_keyspace_free(users);
    kat_keyspace_free(orders);
    CLOSE(db);
    CHECK_DONE("keyspace");
}
