/*
 * txn.c: kat_txn_*. A transaction reads the snapshot taken at begin plus its own writes;
 * commit applies its writes atomically or, when another commit after the snapshot wrote
 * a key it writes (or, serializable, a key or range it read), fails with KAT_CONFLICT
 * and writes nothing. Abort and free discard the writes; an ended transaction refuses
 * further calls with KAT_INVALID_ARGUMENT (abort excepted); read-only transactions
 * refuse writes with KAT_READ_ONLY; after kat_db_close its transactions get KAT_CLOSED.
 * Also TTL puts inside a transaction, and NULL for every pointer argument.
 */
#include "kat_check.h"

#include <errno.h>
#include <time.h>

static char sentinel_obj;
#define SENTINEL ((void *)&sentinel_obj)

static void sleep_ms(long ms)
{
    struct timespec ts, rem;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

/* The database's value of `key` is `want` (NULL: absent). */
static void db_value(kat_db *db, const char *key, const char *want)
{
    kat_buf b = {NULL, 0};
    kat_error *err = NULL;
    bool found = !want;
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

/* The transaction's view of `key` is `want` (NULL: absent), by get and by contains. */
static void txn_value(kat_txn *t, const char *key, const char *want)
{
    kat_buf b = {NULL, 0};
    kat_error *err = NULL;
    bool found = !want;
    if (want == NULL) {
        CHECK_NOT_FOUND(kat_txn_get(t, K(key), &b, &err), err);
        CHECK(b.data == NULL && b.len == 0);
    } else {
        CHECK_OK(kat_txn_get(t, K(key), &b, &err), err);
        CHECK_BUF(b, want, strlen(want));
        kat_buf_free(&b);
    }
    CHECK_OK(kat_txn_contains(t, K(key), &found, &err), err);
    CHECK(found == (want != NULL));
}

static kat_txn *begin(kat_db *db, uint32_t flags)
{
    kat_txn *t = NULL;
    kat_error *err = NULL;
    CHECK_OK(kat_txn_begin(db, flags, &t, &err), err);
    CHECK(t != NULL);
    return t;
}

static uint64_t last_seq(kat_db *db)
{
    kat_stats st;
    kat_error *err = NULL;
    CHECK_OK(kat_db_stats(db, &st, &err), err);
    return st.last_seq;
}

static void test_flags(kat_db *db)
{
    kat_txn *t = (kat_txn *)SENTINEL;
    kat_error *err = NULL;
    static const uint32_t bad[] = {4, 8, 5, 7, 0x80000000u, 0xFFFFFFFFu};
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_FAIL(kat_txn_begin(db, bad[i], &t, &err), KAT_INVALID_ARGUMENT, err);
        CHECK(t == (kat_txn *)SENTINEL);
        CHECK_STATUS(kat_txn_begin(db, bad[i], &t, NULL), KAT_INVALID_ARGUMENT);
        CHECK(t == (kat_txn *)SENTINEL);
    }
    /* Each known flag alone, and none. */
    t = begin(db, 0);
    CHECK_OK(kat_txn_commit(t, &err), err);
    kat_txn_free(t);
    t = begin(db, KAT_TXN_READ_ONLY);
    CHECK_OK(kat_txn_commit(t, &err), err);
    kat_txn_free(t);
    t = begin(db, KAT_TXN_SERIALIZABLE);
    CHECK_OK(kat_txn_abort(t, &err), err);
    kat_txn_free(t);
    /* err may be NULL on success. */
    t = NULL;
    CHECK_STATUS(kat_txn_begin(db, 0, &t, NULL), KAT_OK);
    CHECK(t != NULL);
    kat_txn_free(t);
}

static void test_snapshot_and_own_writes(kat_db *db)
{
    kat_error *err = NULL;
    kat_txn *t;
    kat_buf b = {NULL, 0};
    uint64_t seq;

    CHECK_OK(kat_db_put(db, K("s1"), K("old"), &err), err);
    CHECK_OK(kat_db_put(db, K("s2"), K("keep"), &err), err);
    CHECK_OK(kat_db_put(db, K("gone"), K("x"), &err), err);

    t = begin(db, 0);
    txn_value(t, "s1", "old");

    /* Commits made after begin are invisible to the transaction... */
    CHECK_OK(kat_db_put(db, K("s1"), K("new"), &err), err);
    CHECK_OK(kat_db_put(db, K("s3"), K("added"), &err), err);
    CHECK_OK(kat_db_delete(db, K("s2"), &err), err);
    txn_value(t, "s1", "old");
    txn_value(t, "s3", NULL);
    txn_value(t, "s2", "keep");
    /* ...but visible outside it. */
    db_value(db, "s1", "new");
    db_value(db, "s3", "added");
    db_value(db, "s2", NULL);

    /* Its own writes: visible inside at once, outside only after commit. */
    CHECK_OK(kat_txn_put(t, K("mine"), K("1"), &err), err);
    txn_value(t, "mine", "1");
    db_value(db, "mine", NULL);
    CHECK_OK(kat_txn_put(t, K("mine"), K("2"), &err), err); /* the later put wins */
    txn_value(t, "mine", "2");
    /* Delete of a key existing in the snapshot. */
    CHECK_OK(kat_txn_delete(t, K("gone"), &err), err);
    txn_value(t, "gone", NULL);
    db_value(db, "gone", "x");
    /* Delete then put again; put then delete. */
    CHECK_OK(kat_txn_delete(t, K("s2"), &err), err);
    txn_value(t, "s2", NULL);
    CHECK_OK(kat_txn_put(t, K("s2"), K("again"), &err), err);
    txn_value(t, "s2", "again");
    CHECK_OK(kat_txn_put(t, K("back"), K("b"), &err), err);
    CHECK_OK(kat_txn_delete(t, K("back"), &err), err);
    txn_value(t, "back", NULL);
    /* Deleting an absent key is fine. */
    CHECK_OK(kat_txn_delete(t, K("never-there"), &err), err);
    /* An empty value is present with length 0; the empty key is absent. */
    CHECK_OK(kat_txn_put(t, K("empty"), NULL, 0, &err), err);
    CHECK_OK(kat_txn_get(t, K("empty"), &b, &err), err);
    CHECK(b.len == 0);
    kat_buf_free(&b);
    txn_value(t, "", NULL);
    /* The bytes are copied at the call. */
    {
        char kbuf[8] = "copied", vbuf[8] = "value";
        CHECK_OK(kat_txn_put(t, (const uint8_t *)kbuf, 6, (const uint8_t *)vbuf, 5, &err),
                 err);
        memset(kbuf, 'z', sizeof kbuf);
        memset(vbuf, 'z', sizeof vbuf);
    }
    txn_value(t, "copied", "value");

    /* A key over 64 KiB is KAT_TOO_LARGE, nothing added. */
    {
        uint8_t *big = malloc(65537);
        bool found = true;
        CHECK(big != NULL);
        memset(big, 'k', 65537);
        CHECK_FAIL(kat_txn_put(t, big, 65537, K("v"), &err), KAT_TOO_LARGE, err);
        CHECK_FAIL(kat_txn_delete(t, big, 65537, &err), KAT_TOO_LARGE, err);
        CHECK_OK(kat_txn_contains(t, big, 65536, &found, &err), err);
        CHECK(!found);
        free(big);
    }
    db_value(db, "mine", NULL);
    db_value(db, "copied", NULL);

    /* Commit: every write at once, as one new sequence. s2 was deleted by a commit
     * after the snapshot and this transaction wrote it: that conflicts, nothing is
     * written. */
    seq = last_seq(db);
    CHECK_FAIL(kat_txn_commit(t, &err), KAT_CONFLICT, err);
    CHECK(last_seq(db) == seq);
    kat_txn_free(t);
    db_value(db, "mine", NULL);
    db_value(db, "gone", "x");
    db_value(db, "copied", NULL);
    db_value(db, "s2", NULL);

    /* The same without s2. */
    t = begin(db, 0);
    CHECK_OK(kat_txn_put(t, K("mine"), K("2"), &err), err);
    CHECK_OK(kat_txn_delete(t, K("gone"), &err), err);
    CHECK_OK(kat_txn_put(t, K("empty"), NULL, 0, &err), err);
    CHECK_OK(kat_txn_delete(t, K("never-there"), &err), err);
    CHECK_OK(kat_txn_put(t, K("copied"), K("value"), &err), err);
    txn_value(t, "s1", "new"); /* this snapshot is newer */
    seq = last_seq(db);
    CHECK_OK(kat_txn_commit(t, &err), err);
    CHECK(last_seq(db) == seq + 1); /* one commit for all writes */
    kat_txn_free(t);
    db_value(db, "mine", "2");
    db_value(db, "gone", NULL);
    db_value(db, "never-there", NULL);
    db_value(db, "copied", "value");
    CHECK_OK(kat_db_get(db, K("empty"), &b, &err), err);
    CHECK(b.len == 0);
    kat_buf_free(&b);
    db_value(db, "s1", "new");

    /* A transaction that wrote nothing commits without a new sequence. */
    t = begin(db, 0);
    txn_value(t, "mine", "2");
    seq = last_seq(db);
    CHECK_OK(kat_txn_commit(t, &err), err);
    CHECK(last_seq(db) == seq);
    kat_txn_free(t);
}

/* Every call but abort on an ended transaction is KAT_INVALID_ARGUMENT. */
static void check_ended(kat_txn *t)
{
    kat_error *err = NULL;
    uint8_t sent[2] = {9, 9};
    kat_buf b = {sent, 2};
    bool found = true;
    kat_iter *it = (kat_iter *)SENTINEL;

    CHECK_FAIL(kat_txn_get(t, K("a"), &b, &err), KAT_INVALID_ARGUMENT, err);
    CHECK(b.data == sent && b.len == 2);
    CHECK_FAIL(kat_txn_contains(t, K("a"), &found, &err), KAT_INVALID_ARGUMENT, err);
    CHECK(found);
    CHECK_FAIL(kat_txn_put(t, K("late"), K("v"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_put_ttl(t, K("late"), K("v"), 60000, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_FAIL(kat_txn_delete(t, K("a"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_iter_new(t, NULL, &it, &err), KAT_INVALID_ARGUMENT, err);
    CHECK(it == (kat_iter *)SENTINEL);
    CHECK_FAIL(kat_txn_commit(t, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_txn_commit(t, NULL), KAT_INVALID_ARGUMENT);
    /* Aborting an ended transaction is KAT_OK, any number of times. */
    CHECK_OK(kat_txn_abort(t, &err), err);
    CHECK_OK(kat_txn_abort(t, &err), err);
}

static void test_commit_abort(kat_db *db)
{
    kat_error *err = NULL;
    kat_txn *t;
    uint64_t seq;

    CHECK_OK(kat_db_put(db, K("ca:c"), K("present"), &err), err);

    /* Abort discards every write. */
    t = begin(db, 0);
    CHECK_OK(kat_txn_put(t, K("ca:a"), K("1"), &err), err);
    CHECK_OK(kat_txn_put_ttl(t, K("ca:b"), K("2"), 3600000, &err), err);
    CHECK_OK(kat_txn_delete(t, K("ca:c"), &err), err);
    seq = last_seq(db);
    CHECK_OK(kat_txn_abort(t, &err), err);
    CHECK(last_seq(db) == seq);
    db_value(db, "ca:a", NULL);
    db_value(db, "ca:b", NULL);
    db_value(db, "ca:c", "present");
    check_ended(t);
    kat_txn_free(t);
    db_value(db, "ca:a", NULL);

    /* Commit applies every write; calls after it are refused; abort after commit is
     * KAT_OK and undoes nothing. */
    t = begin(db, 0);
    CHECK_OK(kat_txn_put(t, K("ca:a"), K("1"), &err), err);
    CHECK_OK(kat_txn_put_ttl(t, K("ca:b"), K("2"), 3600000, &err), err);
    CHECK_OK(kat_txn_delete(t, K("ca:c"), &err), err);
    CHECK_OK(kat_txn_commit(t, &err), err);
    db_value(db, "ca:a", "1");
    db_value(db, "ca:b", "2");
    db_value(db, "ca:c", NULL);
    check_ended(t);
    db_value(db, "ca:a", "1");
    db_value(db, "late", NULL);
    kat_txn_free(t);
    db_value(db, "ca:a", "1");
    db_value(db, "ca:b", "2");

    /* err may be NULL on success. */
    t = begin(db, 0);
    CHECK_STATUS(kat_txn_put(t, K("ca:d"), K("4"), NULL), KAT_OK);
    CHECK_STATUS(kat_txn_commit(t, NULL), KAT_OK);
    CHECK_STATUS(kat_txn_abort(t, NULL), KAT_OK);
    kat_txn_free(t);
    db_value(db, "ca:d", "4");
}

static void test_lost_update(kat_db *db)
{
    kat_error *err = NULL;
    kat_txn *t1, *t2, *t3;
    uint64_t seq;

    CHECK_OK(kat_db_put(db, K("counter"), K("0"), &err), err);

    /* Two read-modify-write transactions on one key: the first committer wins. */
    t1 = begin(db, 0);
    t2 = begin(db, 0);
    txn_value(t1, "counter", "0");
    txn_value(t2, "counter", "0");
    CHECK_OK(kat_txn_put(t1, K("counter"), K("1"), &err), err);
    CHECK_OK(kat_txn_put(t2, K("counter"), K("2"), &err), err);
    CHECK_OK(kat_txn_put(t2, K("t2-only"), K("x"), &err), err);
    CHECK_OK(kat_txn_delete(t2, K("ca:a"), &err), err);
    CHECK_OK(kat_txn_commit(t1, &err), err);
    seq = last_seq(db);
    CHECK_FAIL(kat_txn_commit(t2, &err), KAT_CONFLICT, err);
    /* Nothing of t2 was written. */
    CHECK(last_seq(db) == seq);
    db_value(db, "counter", "1");
    db_value(db, "t2-only", NULL);
    db_value(db, "ca:a", "1");
    /* The conflicted transaction has ended. */
    check_ended(t2);
    kat_txn_free(t1);
    kat_txn_free(t2);
    db_value(db, "t2-only", NULL);

    /* A plain kat_db_put after the snapshot conflicts too, even for a blind write. */
    t3 = begin(db, 0);
    CHECK_OK(kat_db_put(db, K("counter"), K("3"), &err), err);
    CHECK_OK(kat_txn_put(t3, K("counter"), K("4"), &err), err);
    CHECK_OK(kat_txn_put(t3, K("t3-only"), K("y"), &err), err);
    CHECK_STATUS(kat_txn_commit(t3, NULL), KAT_CONFLICT);
    kat_txn_free(t3);
    db_value(db, "counter", "3");
    db_value(db, "t3-only", NULL);

    /* Delete against put, and put against a batch delete. */
    t1 = begin(db, 0);
    t2 = begin(db, 0);
    CHECK_OK(kat_txn_delete(t1, K("counter"), &err), err);
    CHECK_OK(kat_txn_put(t2, K("counter"), K("5"), &err), err);
    CHECK_OK(kat_txn_commit(t1, &err), err);
    CHECK_FAIL(kat_txn_commit(t2, &err), KAT_CONFLICT, err);
    kat_txn_free(t1);
    kat_txn_free(t2);
    db_value(db, "counter", NULL);
    {
        kat_batch *b = NULL;
        CHECK_OK(kat_db_put(db, K("counter"), K("6"), &err), err);
        t1 = begin(db, 0);
        CHECK_STATUS(kat_batch_new(&b), KAT_OK);
        CHECK_OK(kat_batch_delete(b, K("counter"), &err), err);
        CHECK_OK(kat_db_write(db, b, &err), err);
        kat_batch_free(b);
        CHECK_OK(kat_txn_put(t1, K("counter"), K("7"), &err), err);
        CHECK_FAIL(kat_txn_commit(t1, &err), KAT_CONFLICT, err);
        kat_txn_free(t1);
        db_value(db, "counter", NULL);
    }

    /* Concurrent transactions writing different keys both commit. */
    t1 = begin(db, 0);
    t2 = begin(db, 0);
    CHECK_OK(kat_txn_put(t1, K("lu:one"), K("1"), &err), err);
    CHECK_OK(kat_txn_put(t2, K("lu:two"), K("2"), &err), err);
    CHECK_OK(kat_txn_commit(t2, &err), err);
    CHECK_OK(kat_txn_commit(t1, &err), err);
    kat_txn_free(t1);
    kat_txn_free(t2);
    db_value(db, "lu:one", "1");
    db_value(db, "lu:two", "2");

    /* A commit made before begin does not conflict. */
    CHECK_OK(kat_db_put(db, K("lu:one"), K("before"), &err), err);
    t1 = begin(db, 0);
    CHECK_OK(kat_txn_put(t1, K("lu:one"), K("after"), &err), err);
    CHECK_OK(kat_txn_commit(t1, &err), err);
    kat_txn_free(t1);
    db_value(db, "lu:one", "after");

    /* An aborted transaction conflicts with nobody. */
    t1 = begin(db, 0);
    t2 = begin(db, 0);
    CHECK_OK(kat_txn_put(t1, K("lu:one"), K("aborted"), &err), err);
    CHECK_OK(kat_txn_abort(t1, &err), err);
    CHECK_OK(kat_txn_put(t2, K("lu:one"), K("kept"), &err), err);
    CHECK_OK(kat_txn_commit(t2, &err), err);
    kat_txn_free(t1);
    kat_txn_free(t2);
    db_value(db, "lu:one", "kept");
}

/* Two on-call doctors: each transaction checks that both are on call, then takes
 * itself off. Under snapshot isolation both commit (write skew); serializable refuses
 * the second. */
static void write_skew(kat_db *db, uint32_t flags, kat_status second)
{
    kat_error *err = NULL;
    kat_txn *t1, *t2;

    CHECK_OK(kat_db_put(db, K("oncall:x"), K("1"), &err), err);
    CHECK_OK(kat_db_put(db, K("oncall:y"), K("1"), &err), err);
    t1 = begin(db, flags);
    t2 = begin(db, flags);
    txn_value(t1, "oncall:x", "1");
    txn_value(t1, "oncall:y", "1");
    txn_value(t2, "oncall:x", "1");
    txn_value(t2, "oncall:y", "1");
    CHECK_OK(kat_txn_put(t1, K("oncall:x"), K("0"), &err), err);
    CHECK_OK(kat_txn_put(t2, K("oncall:y"), K("0"), &err), err);
    CHECK_OK(kat_txn_commit(t1, &err), err);
    if (second == KAT_OK) {
        CHECK_OK(kat_txn_commit(t2, &err), err);
        db_value(db, "oncall:y", "0");
    } else {
        CHECK_FAIL(kat_txn_commit(t2, &err), second, err);
        db_value(db, "oncall:y", "1");
    }
    db_value(db, "oncall:x", "0");
    kat_txn_free(t1);
    kat_txn_free(t2);
}

static void test_write_skew(kat_db *db)
{
    kat_error *err = NULL;
    kat_txn *t;
    kat_iter *it = NULL;
    kat_iter_opts o;
    const uint8_t *k, *v;
    size_t kl, vl;
    int n;

    write_skew(db, 0, KAT_OK);
    write_skew(db, KAT_TXN_SERIALIZABLE, KAT_CONFLICT);

    /* Serializable: a key it only read (via contains) and nobody wrote: no conflict. */
    t = begin(db, KAT_TXN_SERIALIZABLE);
    txn_value(t, "oncall:x", "0");
    CHECK_OK(kat_db_put(db, K("unrelated"), K("u"), &err), err);
    CHECK_OK(kat_txn_put(t, K("ser:ok"), K("1"), &err), err);
    CHECK_OK(kat_txn_commit(t, &err), err);
    kat_txn_free(t);
    db_value(db, "ser:ok", "1");

    /* Serializable: a range it read (through an iterator) gets a new key: conflict
     * (a phantom). Snapshot isolation allows it. */
    CHECK_OK(kat_db_put(db, K("ward:1"), K("a"), &err), err);
    CHECK_OK(kat_db_put(db, K("ward:2"), K("b"), &err), err);
    memset(&o, 0, sizeof o);
    o.prefix = (const uint8_t *)"ward:";
    o.prefix_len = 5;
    {
        uint32_t modes[2] = {0, KAT_TXN_SERIALIZABLE};
        int m;
        for (m = 0; m < 2; m++) {
            char newkey[16];
            t = begin(db, modes[m]);
            CHECK_OK(kat_txn_iter_new(t, &o, &it, &err), err);
            n = 0;
            while (kat_iter_next(it, &k, &kl, &v, &vl, &err) == KAT_OK)
                n++;
            CHECK(err == NULL);
            CHECK(n == 2 + m);
            kat_iter_free(it);
            snprintf(newkey, sizeof newkey, "ward:new%d", m);
            CHECK_OK(kat_db_put(db, K(newkey), K("phantom"), &err), err);
            CHECK_OK(kat_txn_put(t, K("ward-count"), K("n"), &err), err);
            if (modes[m] == 0) {
                CHECK_OK(kat_txn_commit(t, &err), err);
            } else {
                CHECK_FAIL(kat_txn_commit(t, &err), KAT_CONFLICT, err);
            }
            kat_txn_free(t);
        }
    }
}

static void test_read_only(kat_db *db)
{
    kat_error *err = NULL;
    kat_txn *t;
    uint64_t seq;

    CHECK_OK(kat_db_put(db, K("ro"), K("before"), &err), err);
    t = begin(db, KAT_TXN_READ_ONLY);
    txn_value(t, "ro", "before");
    CHECK_FAIL(kat_txn_put(t, K("ro"), K("w"), &err), KAT_READ_ONLY, err);
    CHECK_STATUS(kat_txn_put(t, K("ro"), K("w"), NULL), KAT_READ_ONLY);
    CHECK_FAIL(kat_txn_put_ttl(t, K("ro"), K("w"), 60000, &err), KAT_READ_ONLY, err);
    CHECK_FAIL(kat_txn_delete(t, K("ro"), &err), KAT_READ_ONLY, err);
    CHECK_FAIL(kat_txn_put(t, K("ro:new"), K("w"), &err), KAT_READ_ONLY, err);
    /* Still a snapshot, and still usable after the refused writes. */
    CHECK_OK(kat_db_put(db, K("ro"), K("after"), &err), err);
    txn_value(t, "ro", "before");
    txn_value(t, "ro:new", NULL);
    /* It never conflicts: commit is KAT_OK and writes nothing. */
    seq = last_seq(db);
    CHECK_OK(kat_txn_commit(t, &err), err);
    CHECK(last_seq(db) == seq);
    kat_txn_free(t);
    db_value(db, "ro", "after");
    db_value(db, "ro:new", NULL);

    /* Read-only and aborted. */
    t = begin(db, KAT_TXN_READ_ONLY);
    CHECK_FAIL(kat_txn_delete(t, K("ro"), &err), KAT_READ_ONLY, err);
    CHECK_OK(kat_txn_abort(t, &err), err);
    check_ended(t);
    kat_txn_free(t);
    db_value(db, "ro", "after");
}

static void test_free_unfinished(kat_db *db)
{
    kat_error *err = NULL;
    kat_txn *t, *t2;

    CHECK_OK(kat_db_put(db, K("free:kept"), K("k"), &err), err);
    t = begin(db, 0);
    CHECK_OK(kat_txn_put(t, K("free:new"), K("n"), &err), err);
    CHECK_OK(kat_txn_put(t, K("free:kept"), K("overwritten"), &err), err);
    CHECK_OK(kat_txn_delete(t, K("free:kept"), &err), err);
    kat_txn_free(t); /* aborts */
    db_value(db, "free:new", NULL);
    db_value(db, "free:kept", "k");

    /* The freed transaction conflicts with nobody. */
    t = begin(db, 0);
    t2 = begin(db, 0);
    CHECK_OK(kat_txn_put(t, K("free:kept"), K("from t"), &err), err);
    kat_txn_free(t);
    CHECK_OK(kat_txn_put(t2, K("free:kept"), K("from t2"), &err), err);
    CHECK_OK(kat_txn_commit(t2, &err), err);
    kat_txn_free(t2);
    db_value(db, "free:kept", "from t2");

    /* A read-only and a serializable one, freed unfinished. */
    t = begin(db, KAT_TXN_READ_ONLY);
    txn_value(t, "free:kept", "from t2");
    kat_txn_free(t);
    t = begin(db, KAT_TXN_SERIALIZABLE);
    txn_value(t, "free:kept", "from t2");
    CHECK_OK(kat_txn_put(t, K("free:ser"), K("s"), &err), err);
    kat_txn_free(t);
    db_value(db, "free:ser", NULL);

    kat_txn_free(NULL);
}

static void test_ttl(kat_db *db)
{
    kat_error *err = NULL;
    kat_txn *t;
    bool found = true;

    /* ttl_ms 0 is refused, nothing added. */
    t = begin(db, 0);
    CHECK_FAIL(kat_txn_put_ttl(t, K("ttl:zero"), K("z"), 0, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_STATUS(kat_txn_put_ttl(t, K("ttl:zero"), K("z"), 0, NULL), KAT_INVALID_ARGUMENT);
    txn_value(t, "ttl:zero", NULL);

    CHECK_OK(kat_txn_put_ttl(t, K("ttl:short"), K("s"), 1, &err), err);
    CHECK_OK(kat_txn_put_ttl(t, K("ttl:long"), K("l"), 3600000, &err), err);
    /* A plain put after a TTL put replaces it, expiry included. */
    CHECK_OK(kat_txn_put_ttl(t, K("ttl:replaced"), K("old"), 1, &err), err);
    CHECK_OK(kat_txn_put(t, K("ttl:replaced"), K("new"), &err), err);
    txn_value(t, "ttl:long", "l");
    CHECK_OK(kat_txn_commit(t, &err), err);
    kat_txn_free(t);
    db_value(db, "ttl:long", "l");

    sleep_ms(20);
    db_value(db, "ttl:short", NULL);
    db_value(db, "ttl:long", "l");
    db_value(db, "ttl:replaced", "new");
    db_value(db, "ttl:zero", NULL);

    /* Inside a transaction: its own TTL write expires in its view too. */
    t = begin(db, 0);
    txn_value(t, "ttl:short", NULL);
    txn_value(t, "ttl:long", "l");
    CHECK_OK(kat_txn_put_ttl(t, K("ttl:own"), K("o"), 1, &err), err);
    CHECK_OK(kat_txn_put_ttl(t, K("ttl:own-long"), K("ol"), 3600000, &err), err);
    sleep_ms(20);
    txn_value(t, "ttl:own", NULL);
    txn_value(t, "ttl:own-long", "ol");
    CHECK_OK(kat_txn_commit(t, &err), err);
    kat_txn_free(t);
    db_value(db, "ttl:own", NULL);
    db_value(db, "ttl:own-long", "ol");

    /* A TTL write over a key that already exists: the old value does not come back. */
    CHECK_OK(kat_db_put(db, K("ttl:over"), K("plain"), &err), err);
    t = begin(db, 0);
    CHECK_OK(kat_txn_put_ttl(t, K("ttl:over"), K("short"), 1, &err), err);
    CHECK_OK(kat_txn_commit(t, &err), err);
    kat_txn_free(t);
    sleep_ms(20);
    db_value(db, "ttl:over", NULL);
    CHECK_OK(kat_db_contains(db, K("ttl:over"), &found, &err), err);
    CHECK(!found);
}

static void test_null_args(kat_db *db)
{
    kat_error *err = NULL;
    kat_txn *t = (kat_txn *)SENTINEL;
    kat_iter *it = (kat_iter *)SENTINEL;
    uint8_t sent[3] = {7, 7, 7};
    kat_buf b = {sent, 3};
    bool found = true;
    uint64_t seq;

    /* kat_txn_begin: db, out. */
    CHECK_FAIL(kat_txn_begin(NULL, 0, &t, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_txn_begin(NULL, 0, &t, NULL), KAT_INVALID_ARGUMENT);
    CHECK(t == (kat_txn *)SENTINEL);
    CHECK_FAIL(kat_txn_begin(db, 0, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_txn_begin(db, KAT_TXN_READ_ONLY, NULL, NULL), KAT_INVALID_ARGUMENT);

    CHECK_OK(kat_db_put(db, K("null:k"), K("value"), &err), err);
    t = begin(db, 0);

    /* kat_txn_get: txn, key, out. */
    CHECK_FAIL(kat_txn_get(NULL, K("null:k"), &b, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_get(t, NULL, 2, &b, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_get(t, K("null:k"), NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_txn_get(t, K("null:k"), NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK(b.data == sent && b.len == 3);

    /* kat_txn_contains: txn, key, found. */
    CHECK_FAIL(kat_txn_contains(NULL, K("null:k"), &found, &err), KAT_INVALID_ARGUMENT,
               err);
    CHECK_FAIL(kat_txn_contains(t, NULL, 2, &found, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_contains(t, K("null:k"), NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_txn_contains(t, K("null:k"), NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK(found);

    /* kat_txn_put / kat_txn_put_ttl: txn, key, value. */
    CHECK_FAIL(kat_txn_put(NULL, K("null:new"), K("v"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_put(t, NULL, 3, K("v"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_put(t, K("null:new"), NULL, 3, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_txn_put(t, K("null:new"), NULL, 3, NULL), KAT_INVALID_ARGUMENT);
    CHECK_FAIL(kat_txn_put_ttl(NULL, K("null:new"), K("v"), 1000, &err),
               KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_put_ttl(t, NULL, 3, K("v"), 1000, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_put_ttl(t, K("null:new"), NULL, 3, 1000, &err),
               KAT_INVALID_ARGUMENT, err);

    /* kat_txn_delete: txn, key. */
    CHECK_FAIL(kat_txn_delete(NULL, K("null:k"), &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_delete(t, NULL, 2, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_txn_delete(t, NULL, 2, NULL), KAT_INVALID_ARGUMENT);

    /* kat_txn_iter_new: txn, out (opts may be NULL). */
    CHECK_FAIL(kat_txn_iter_new(NULL, NULL, &it, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_txn_iter_new(t, NULL, NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_txn_iter_new(t, NULL, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK(it == (kat_iter *)SENTINEL);

    /* kat_txn_commit / kat_txn_abort: txn. */
    CHECK_FAIL(kat_txn_commit(NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_txn_commit(NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK_FAIL(kat_txn_abort(NULL, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_STATUS(kat_txn_abort(NULL, NULL), KAT_INVALID_ARGUMENT);
    kat_txn_free(NULL);

    /* Nothing was written to the transaction, which is still open and usable. */
    txn_value(t, "null:new", NULL);
    txn_value(t, "null:k", "value");
    /* Zero-length inputs may come with NULL. */
    CHECK_STATUS(kat_txn_put(t, NULL, 0, NULL, 0, NULL), KAT_OK);
    CHECK_STATUS(kat_txn_contains(t, NULL, 0, &found, NULL), KAT_OK);
    CHECK(found);
    CHECK_OK(kat_txn_get(t, NULL, 0, &b, &err), err);
    CHECK(b.len == 0);
    kat_buf_free(&b);
    CHECK_STATUS(kat_txn_delete(t, NULL, 0, NULL), KAT_OK);
    CHECK_STATUS(kat_txn_contains(t, NULL, 0, &found, NULL), KAT_OK);
    CHECK(!found);
    CHECK_STATUS(kat_txn_put_ttl(t, NULL, 0, NULL, 0, 3600000, NULL), KAT_OK);
    seq = last_seq(db);
    CHECK_OK(kat_txn_commit(t, &err), err);
    CHECK(last_seq(db) == seq + 1);
    kat_txn_free(t);
    db_value(db, "null:new", NULL);
    db_value(db, "", "");
    CHECK_OK(kat_db_delete(db, NULL, 0, &err), err);
}

/* After kat_db_close every call on a transaction of the database is KAT_CLOSED (with an
 * error object, out-parameters untouched) and nothing is written. */
static void test_after_close(const char *path)
{
    kat_db *db = OPEN(path, NULL);
    kat_error *err = NULL;
    kat_txn *t, *t2, *t3;
    kat_txn *none = (kat_txn *)SENTINEL;
    kat_iter *it = (kat_iter *)SENTINEL;
    uint8_t sent[2] = {4, 4};
    kat_buf b = {sent, 2};
    bool found = false;
    kat_status s;

    CHECK_OK(kat_db_put(db, K("k"), K("v"), &err), err);
    t = begin(db, 0);
    t2 = begin(db, KAT_TXN_SERIALIZABLE);
    t3 = begin(db, KAT_TXN_READ_ONLY);
    CHECK_OK(kat_txn_put(t, K("pending"), K("p"), &err), err);
    CHECK_OK(kat_txn_put(t2, K("pending2"), K("p"), &err), err);
    txn_value(t, "k", "v");
    CHECK_OK(kat_db_close(db, &err), err);

    CHECK_FAIL(kat_txn_begin(db, 0, &none, &err), KAT_CLOSED, err);
    CHECK(none == (kat_txn *)SENTINEL);
    CHECK_FAIL(kat_txn_get(t, K("k"), &b, &err), KAT_CLOSED, err);
    CHECK(b.data == sent && b.len == 2);
    CHECK_FAIL(kat_txn_get(t, K("pending"), &b, &err), KAT_CLOSED, err);
    CHECK(b.data == sent && b.len == 2);
    CHECK_FAIL(kat_txn_contains(t, K("k"), &found, &err), KAT_CLOSED, err);
    CHECK(!found);
    CHECK_FAIL(kat_txn_get(t3, K("k"), &b, &err), KAT_CLOSED, err);
    CHECK_FAIL(kat_txn_iter_new(t, NULL, &it, &err), KAT_CLOSED, err);
    CHECK(it == (kat_iter *)SENTINEL);
    CHECK_FAIL(kat_txn_put_ttl(t, K("late"), K("v"), 60000, &err), KAT_CLOSED, err);
    CHECK_FAIL(kat_txn_commit(t, &err), KAT_CLOSED, err);
    /* Commit ended the transaction either way; aborting it now is KAT_OK. */
    CHECK_OK(kat_txn_abort(t, &err), err);
    kat_txn_free(t);
    /* Aborting or freeing an open transaction of a closed database releases it without
     * error (an abort may report KAT_CLOSED, which frees nothing it should not). */
    s = kat_txn_abort(t3, &err);
    CHECK(s == KAT_OK || s == KAT_CLOSED);
    kat_error_free(err);
    err = NULL;
    kat_txn_free(t3);

    /* Writes into a transaction of a closed database: KAT_CLOSED as well. */
    CHECK_FAIL(kat_txn_put(t2, K("late"), K("v"), &err), KAT_CLOSED, err);
    CHECK_FAIL(kat_txn_delete(t2, K("k"), &err), KAT_CLOSED, err);
    kat_txn_free(t2);
    kat_db_free(db);

    /* Nothing of those transactions was written. */
    db = OPEN(path, NULL);
    db_value(db, "k", "v");
    db_value(db, "pending", NULL);
    db_value(db, "pending2", NULL);
    db_value(db, "late", NULL);
    CLOSE(db);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    char path[4096];
    kat_db *db;

    db = OPEN(kat_path(path, sizeof path, dir, "db"), NULL);
    test_flags(db);
    test_snapshot_and_own_writes(db);
    test_commit_abort(db);
    test_lost_update(db);
    test_write_skew(db);
    test_read_only(db);
    test_free_unfinished(db);
    test_ttl(db);
    test_null_args(db);
    CLOSE(db);

    /* Committed transactions are durable. */
    db = OPEN(path, NULL);
    db_value(db, "mine", "2");
    db_value(db, "counter", NULL);
    db_value(db, "lu:one", "kept");
    db_value(db, "oncall:x", "0");
    db_value(db, "ttl:long", "l");
    db_value(db, "ttl:short", NULL);
    db_value(db, "ttl:own-long", "ol");
    db_value(db, "free:new", NULL);
    CLOSE(db);

    test_after_close(kat_path(path, sizeof path, dir, "closed"));
    CHECK_DONE("txn");
}
