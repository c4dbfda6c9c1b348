/*
 * bucket.c: kat_bucket_*, kat_put_options_*, kat_blob_writer_*, kat_blob_reader_* and
 * kat_txn_bucket_*. Buckets with every codec, with and without encryption; versions per
 * key (1, 2, 3, also after deletes); object infos (size, SHA-256 and its hex, content type,
 * metadata); list paging; streamed uploads (commit, abort, free without commit, calls
 * after the end); streamed reads with seek; an expected checksum that does not match;
 * the wrong key; transactions; keys with NUL and 0xFF bytes; NULL arguments; calls after
 * close.
 */
#include "kat_check.h"

#define CHUNK 4096

static uint8_t *pattern(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len ? len : 1);
    size_t i;
    uint32_t x = seed * 2654435761u + 1;
    for (i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        /* Half text-like (compressible), half noise. */
        p[i] = (i / 512) % 2 ? (uint8_t)x : (uint8_t)('a' + i % 7);
    }
    return p;
}

static kat_bucket *open_bucket(kat_db *db, const char *name, int32_t codec, int32_t level,
                               const uint8_t *key)
{
    kat_bucket_options *o = NULL;
    kat_bucket *b = NULL;
    kat_error *err = NULL;
    CHECK_OK(kat_bucket_options_new(&o), err);
    CHECK_OK(kat_bucket_options_set_chunk_size(o, CHUNK), err);
    CHECK_OK(kat_bucket_options_set_compression(o, codec, level), err);
    if (key != NULL)
        CHECK_OK(kat_bucket_options_set_encryption_key(o, key, KAT_KEY_LEN), err);
    CHECK_OK(kat_bucket_open(db, (const uint8_t *)name, strlen(name), o, &b, &err), err);
    kat_bucket_options_free(o);
    return b;
}

static void round_trip(kat_bucket *b, size_t len, unsigned seed)
{
    kat_error *err = NULL;
    kat_object_info *info = NULL, *again = NULL;
    kat_blob_writer *w = NULL;
    kat_blob_reader *r = NULL;
    kat_buf got = {NULL, 0};
    uint8_t *data = pattern(len, seed);
    uint8_t *back = malloc(len + 1);
    size_t at = 0, n = 0, piece;

    CHECK_OK(kat_bucket_put(b, K("obj"), data, len, NULL, &info, &err), err);
    CHECK(info->size == len);
    CHECK(info->stored_size > 0 || len == 0);
    CHECK(strlen(info->sha256_hex) == 64);
    CHECK_OK(kat_bucket_get(b, K("obj"), 0, &got, NULL, &err), err);
    CHECK_BUF(got, data, len);
    kat_buf_free(&got);

    /* The same content streamed in uneven pieces: a newer version, the same checksum. */
    CHECK_OK(kat_blob_writer_open(b, K("obj"), NULL, &w, &err), err);
    for (at = 0; at < len; at += piece) {
        piece = len - at < 1000 ? len - at : 1000;
        CHECK_OK(kat_blob_writer_write(w, data + at, piece, &err), err);
    }
    CHECK_OK(kat_blob_writer_commit(w, &again, &err), err);
    CHECK(again->version == info->version + 1);
    CHECK(memcmp(again->sha256, info->sha256, KAT_SHA256_LEN) == 0);
    kat_blob_writer_free(w);

    CHECK_OK(kat_blob_reader_open(b, K("obj"), 0, &r, NULL, &err), err);
    at = 0;
    do {
        CHECK_OK(kat_blob_reader_read(r, back + at, 777, &n, &err), err);
        at += n;
    } while (n > 0);
    CHECK(at == len && (len == 0 || memcmp(back, data, len) == 0));
    kat_blob_reader_free(r);
    kat_object_info_free(info);
    kat_object_info_free(again);
    free(data);
    free(back);
}

static void test_codecs(kat_db *db)
{
    static const int32_t codecs[3][2] = {
        {KAT_COMPRESSION_NONE, 0}, {KAT_COMPRESSION_ZLIB, 6}, {KAT_COMPRESSION_ZSTD, 3}};
    static const size_t sizes[6] = {0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5};
    uint8_t key[KAT_KEY_LEN];
    char name[32];
    int c, e, s;

    memset(key, 0x5a, sizeof key);
    for (c = 0; c < 3; c++) {
        for (e = 0; e < 2; e++) {
            kat_bucket *b;
            snprintf(name, sizeof name, "codec-%d-%d", c, e);
            b = open_bucket(db, name, codecs[c][0], codecs[c][1], e ? key : NULL);
            for (s = 0; s < 6; s++)
                round_trip(b, sizes[s], (unsigned)(c * 100 + s));
            kat_bucket_free(b);
        }
    }
}

static void test_versions_and_info(kat_db *db)
{
    kat_error *err = NULL;
    kat_bucket *b = open_bucket(db, "docs", KAT_COMPRESSION_NONE, 0, NULL);
    kat_put_options *po = NULL;
    kat_object_info *info = NULL;
    kat_object_list *list = NULL;
    kat_buf got = {NULL, 0};
    const uint8_t odd_key[4] = {'a', 0, 0xff, 'z'};
    uint8_t sum[KAT_SHA256_LEN];
    size_t i;

    CHECK_OK(kat_put_options_new(&po), err);
    CHECK_OK(kat_put_options_set_content_type(po, K("text/plain")), err);
    CHECK_OK(kat_put_options_add_metadata(po, K("owner"), K("ada")), err);
    CHECK_OK(kat_put_options_add_metadata(po, K("lang"), K("en")), err);
    CHECK_STATUS(kat_put_options_add_metadata(po, (const uint8_t *)"\xff", 1, K("v")),
                 KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_put_options_set_content_type(po, (const uint8_t *)"\xc3", 1),
                 KAT_INVALID_ARGUMENT);
    CHECK_OK(kat_bucket_put(b, odd_key, sizeof odd_key, K("hello"), po, &info, &err), err);
    CHECK(info->version == 1 && info->size == 5);
    CHECK(info->key_len == 4 && memcmp(info->key, odd_key, 4) == 0);
    CHECK(info->content_type_len == 10 && memcmp(info->content_type, "text/plain", 10) == 0);
    CHECK(info->metadata_count == 2);
    /* Sorted by key: lang, owner. */
    CHECK(info->metadata[0].key_len == 4 && memcmp(info->metadata[0].key, "lang", 4) == 0);
    CHECK(info->metadata[1].value_len == 3 && memcmp(info->metadata[1].value, "ada", 3) == 0);
    CHECK(strcmp(info->sha256_hex,
                 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824") == 0);
    CHECK(info->sha256[0] == 0x2c && info->sha256[31] == 0x24);
    CHECK(info->created_ms > 1600000000000ull);
    memcpy(sum, info->sha256, sizeof sum);
    kat_object_info_free(info);

    /* An expected checksum: matching content is stored, other content is refused. */
    CHECK_OK(kat_put_options_set_expected_sha256(po, sum, sizeof sum), err);
    CHECK_STATUS(kat_put_options_set_expected_sha256(po, sum, 31), KAT_INVALID_ARGUMENT);
    CHECK_FAIL(kat_bucket_put(b, odd_key, sizeof odd_key, K("other"), po, NULL, &err),
               KAT_INVALID_ARGUMENT, err);
    CHECK_OK(kat_bucket_put(b, odd_key, sizeof odd_key, K("hello"), po, NULL, &err), err);
    kat_put_options_free(po);

    CHECK_OK(kat_bucket_put(b, odd_key, sizeof odd_key, K("third"), NULL, NULL, &err), err);
    CHECK_OK(kat_bucket_versions(b, odd_key, sizeof odd_key, &list, &err), err);
    CHECK(list->len == 3);
    for (i = 0; i < list->len; i++)
        CHECK(list->items[i].version == i + 1);
    kat_object_list_free(list);
    CHECK_OK(kat_bucket_get(b, odd_key, sizeof odd_key, 1, &got, &info, &err), err);
    CHECK_BUF(got, "hello", 5);
    CHECK(info->version == 1);
    kat_buf_free(&got);
    kat_object_info_free(info);
    CHECK_OK(kat_bucket_head(b, odd_key, sizeof odd_key, 0, &info, &err), err);
    CHECK(info->version == 3 && info->size == 5);
    kat_object_info_free(info);
    CHECK_NOT_FOUND(kat_bucket_head(b, odd_key, sizeof odd_key, 9, &info, &err), err);
    CHECK_NOT_FOUND(kat_bucket_get(b, K("missing"), 0, &got, NULL, &err), err);

    /* Deleting the newest version makes the one before it the newest; deleting all
     * leaves nothing, and the next put is version 4. */
    CHECK_OK(kat_bucket_delete(b, odd_key, sizeof odd_key, 3, &err), err);
    CHECK_NOT_FOUND(kat_bucket_delete(b, odd_key, sizeof odd_key, 3, &err), err);
    CHECK_OK(kat_bucket_head(b, odd_key, sizeof odd_key, 0, &info, &err), err);
    CHECK(info->version == 2);
    kat_object_info_free(info);
    CHECK_OK(kat_bucket_delete(b, odd_key, sizeof odd_key, 0, &err), err);
    CHECK_NOT_FOUND(kat_bucket_delete(b, odd_key, sizeof odd_key, 0, &err), err);
    CHECK_NOT_FOUND(kat_bucket_head(b, odd_key, sizeof odd_key, 0, &info, &err), err);
    CHECK_OK(kat_bucket_put(b, odd_key, sizeof odd_key, K("again"), NULL, &info, &err), err);
    CHECK(info->version == 4);
    kat_object_info_free(info);

    /* list: prefix, after and limit page through keys in order. */
    {
        const char *keys[5] = {"p/a", "p/b", "p/c", "p/d", "q/x"};
        const uint8_t *after = NULL;
        size_t after_len = 0, seen = 0;
        uint8_t last[16];
        for (i = 0; i < 5; i++)
            CHECK_OK(kat_bucket_put(b, K(keys[i]), K(keys[i]), NULL, NULL, &err), err);
        for (;;) {
            CHECK_OK(kat_bucket_list_objects(b, K("p/"), after, after_len, 3, &list, &err), err);
            if (list->len == 0) {
                kat_object_list_free(list);
                break;
            }
            CHECK(list->len <= 3);
            for (i = 0; i < list->len; i++, seen++)
                CHECK(list->items[i].key_len == 3 &&
                      memcmp(list->items[i].key, keys[seen], 3) == 0);
            memcpy(last, list->items[list->len - 1].key, 3);
            after = last;
            after_len = 3;
            kat_object_list_free(list);
        }
        CHECK(seen == 4);
        CHECK_OK(kat_bucket_list_objects(b, NULL, 0, NULL, 0, 0, &list, &err), err);
        CHECK(list->len == 6);
        kat_object_list_free(list);
    }
    kat_bucket_free(b);
}

static void test_streams(kat_db *db)
{
    kat_error *err = NULL;
    kat_bucket *b = open_bucket(db, "streams", KAT_COMPRESSION_ZSTD, 1, NULL);
    kat_blob_writer *w = NULL;
    kat_blob_reader *r = NULL;
    kat_object_info *info = NULL;
    size_t len = 10 * CHUNK + 123, n = 0;
    uint8_t *data = pattern(len, 7);
    uint8_t buf[100];

    /* Aborted, and freed without commit: nothing visible. */
    CHECK_OK(kat_blob_writer_open(b, K("gone"), NULL, &w, &err), err);
    CHECK_OK(kat_blob_writer_write(w, data, len, &err), err);
    CHECK_OK(kat_blob_writer_abort(w, &err), err);
    CHECK_FAIL(kat_blob_writer_write(w, data, 1, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_FAIL(kat_blob_writer_commit(w, NULL, &err), KAT_INVALID_ARGUMENT, err);
    kat_blob_writer_free(w);
    CHECK_OK(kat_blob_writer_open(b, K("gone"), NULL, &w, &err), err);
    CHECK_OK(kat_blob_writer_write(w, data, len, &err), err);
    kat_blob_writer_free(w);
    CHECK_NOT_FOUND(kat_bucket_head(b, K("gone"), 0, &info, &err), err);
    CHECK_NOT_FOUND(kat_blob_reader_open(b, K("gone"), 0, &r, NULL, &err), err);

    /* A committed stream, read back with seeks. */
    CHECK_OK(kat_blob_writer_open(b, K("big"), NULL, &w, &err), err);
    CHECK_OK(kat_blob_writer_write(w, data, len, &err), err);
    CHECK_OK(kat_blob_writer_commit(w, NULL, &err), err);
    CHECK_FAIL(kat_blob_writer_abort(w, &err), KAT_INVALID_ARGUMENT, err);
    kat_blob_writer_free(w);
    CHECK_OK(kat_blob_reader_open(b, K("big"), 0, &r, &info, &err), err);
    CHECK(info->size == len);
    CHECK_OK(kat_blob_reader_seek(r, CHUNK - 10, &err), err);
    CHECK_OK(kat_blob_reader_read(r, buf, sizeof buf, &n, &err), err);
    CHECK(n == 10 && memcmp(buf, data + CHUNK - 10, 10) == 0);
    CHECK_OK(kat_blob_reader_read(r, buf, sizeof buf, &n, &err), err);
    CHECK(n == 100 && memcmp(buf, data + CHUNK, 100) == 0);
    CHECK_OK(kat_blob_reader_seek(r, len, &err), err);
    CHECK_OK(kat_blob_reader_read(r, buf, sizeof buf, &n, &err), err);
    CHECK(n == 0);
    CHECK_FAIL(kat_blob_reader_seek(r, len + 1, &err), KAT_INVALID_ARGUMENT, err);
    CHECK_OK(kat_blob_reader_read(r, NULL, 0, &n, &err), err);
    CHECK(n == 0);
    kat_blob_reader_free(r);
    kat_object_info_free(info);
    free(data);
    kat_bucket_free(b);
}

static void test_txn_and_keys(kat_db *db)
{
    kat_error *err = NULL;
    kat_bucket *b = open_bucket(db, "txn", KAT_COMPRESSION_NONE, 0, NULL);
    kat_txn *t = NULL;
    kat_blob_writer *w = NULL;
    kat_object_info *info = NULL;
    kat_buf got = {NULL, 0};
    uint8_t key[KAT_KEY_LEN], wrong[KAT_KEY_LEN];
    kat_bucket_options *o = NULL;
    kat_bucket *eb = NULL;

    CHECK_OK(kat_txn_begin(db, 0, &t, &err), err);
    CHECK_OK(kat_txn_put(t, K("kv"), K("1"), &err), err);
    CHECK_OK(kat_txn_bucket_put(t, b, K("o"), K("in txn"), NULL, &info, &err), err);
    CHECK(info->version == 1);
    kat_object_info_free(info);
    CHECK_OK(kat_txn_bucket_get(t, b, K("o"), 0, &got, NULL, &err), err);
    CHECK_BUF(got, "in txn", 6);
    kat_buf_free(&got);
    CHECK_OK(kat_txn_bucket_head(t, b, K("o"), 0, &info, &err), err);
    kat_object_info_free(info);
    CHECK_OK(kat_blob_writer_open(b, K("s"), NULL, &w, &err), err);
    CHECK_OK(kat_blob_writer_write(w, K("streamed"), &err), err);
    CHECK_OK(kat_blob_writer_commit_txn(w, t, NULL, &err), err);
    kat_blob_writer_free(w);
    CHECK_NOT_FOUND(kat_bucket_head(b, K("o"), 0, &info, &err), err);
    CHECK_OK(kat_txn_abort(t, &err), err);
    kat_txn_free(t);
    CHECK_NOT_FOUND(kat_bucket_head(b, K("o"), 0, &info, &err), err);
    CHECK_NOT_FOUND(kat_bucket_head(b, K("s"), 0, &info, &err), err);

    CHECK_OK(kat_txn_begin(db, 0, &t, &err), err);
    CHECK_OK(kat_txn_bucket_put(t, b, K("o"), K("kept"), NULL, NULL, &err), err);
    CHECK_OK(kat_txn_commit(t, &err), err);
    kat_txn_free(t);
    CHECK_OK(kat_txn_begin(db, 0, &t, &err), err);
    CHECK_OK(kat_txn_bucket_delete(t, b, K("o"), 0, &err), err);
    CHECK_NOT_FOUND(kat_txn_bucket_delete(t, b, K("nothing"), 0, &err), err);
    CHECK_NOT_FOUND(kat_txn_bucket_get(t, b, K("o"), 0, &got, NULL, &err), err);
    CHECK_OK(kat_txn_commit(t, &err), err);
    kat_txn_free(t);
    CHECK_NOT_FOUND(kat_bucket_head(b, K("o"), 0, &info, &err), err);
    kat_bucket_free(b);

    /* Encrypted: the wrong key is KAT_AUTH_FAILED, no key KAT_INVALID_ARGUMENT. */
    memset(key, 1, sizeof key);
    memset(wrong, 2, sizeof wrong);
    eb = open_bucket(db, "vault", KAT_COMPRESSION_NONE, 0, key);
    CHECK_OK(kat_bucket_put(eb, K("secret"), K("value"), NULL, NULL, &err), err);
    kat_bucket_free(eb);
    CHECK_OK(kat_bucket_options_new(&o), err);
    CHECK_OK(kat_bucket_options_set_encryption_key(o, wrong, sizeof wrong), err);
    CHECK_FAIL(kat_bucket_open(db, K("vault"), o, &eb, &err), KAT_AUTH_FAILED, err);
    kat_bucket_options_free(o);
    CHECK_FAIL(kat_bucket_open(db, K("vault"), NULL, &eb, &err), KAT_INVALID_ARGUMENT, err);
}

static void test_options_list_drop_null(kat_db *db)
{
    kat_error *err = NULL;
    kat_bucket_options *o = NULL;
    kat_bucket *b = NULL;
    kat_buf names = {NULL, 0};
    size_t count = 0;
    uint32_t first_len = 0;
    kat_object_info *info = NULL;
    kat_object_list *list = NULL;
    kat_blob_writer *w = NULL;
    kat_blob_reader *r = NULL;
    kat_put_options *po = NULL;
    size_t n = 0;
    uint8_t k[KAT_KEY_LEN] = {0};

    CHECK_OK(kat_bucket_options_new(&o), err);
    CHECK_STATUS(kat_bucket_options_set_compression(o, KAT_COMPRESSION_ZLIB, 10),
                 KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_options_set_compression(o, KAT_COMPRESSION_ZSTD, 0),
                 KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_options_set_compression(o, 9, 1), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_options_set_chunk_size(o, 100), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_options_set_chunk_size(o, (64u << 20) + 1), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_options_set_encryption_key(o, k, 16), KAT_INVALID_ARGUMENT);
    CHECK_OK(kat_bucket_options_set_versioning(o, 0), err);
    CHECK_OK(kat_bucket_open(db, K("flat"), o, &b, &err), err);
    kat_bucket_options_free(o);
    CHECK_OK(kat_bucket_put(b, K("k"), K("1"), NULL, NULL, &err), err);
    CHECK_OK(kat_bucket_put(b, K("k"), K("2"), NULL, NULL, &err), err);
    CHECK_OK(kat_bucket_versions(b, K("k"), &list, &err), err);
    CHECK(list->len == 1 && list->items[0].version == 2);
    kat_object_list_free(list);
    CHECK_FAIL(kat_bucket_put(b, NULL, 0, K("x"), NULL, NULL, &err), KAT_INVALID_ARGUMENT, err);

    CHECK_OK(kat_bucket_list(db, &names, &count, &err), err);
    CHECK(count == 11);
    memcpy(&first_len, names.data, 4);
    CHECK(first_len == 9 && memcmp(names.data + 4, "codec-0-0", 9) == 0);
    kat_buf_free(&names);
    CHECK_OK(kat_bucket_drop(db, K("flat"), &err), err);
    CHECK_NOT_FOUND(kat_bucket_drop(db, K("flat"), &err), err);
    CHECK_FAIL(kat_bucket_put(b, K("k"), K("3"), NULL, NULL, &err), KAT_INVALID_ARGUMENT, err);
    kat_bucket_free(b);

    /* NULL arguments are refused, never a crash. */
    CHECK_STATUS(kat_bucket_options_new(NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_options_set_versioning(NULL, 1), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_put_options_new(NULL), KAT_INVALID_ARGUMENT);
    CHECK_OK(kat_put_options_new(&po), err);
    CHECK_STATUS(kat_put_options_set_expected_sha256(po, NULL, 32), KAT_INVALID_ARGUMENT);
    kat_put_options_free(po);
    CHECK_STATUS(kat_bucket_open(NULL, K("x"), NULL, &b, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_open(db, K("x"), NULL, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_list(db, NULL, &count, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_put(NULL, K("k"), K("v"), NULL, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_get(NULL, K("k"), 0, &names, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_head(NULL, K("k"), 0, &info, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_versions(NULL, K("k"), &list, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_bucket_list_objects(NULL, NULL, 0, NULL, 0, 0, &list, NULL),
                 KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_blob_writer_open(NULL, K("k"), NULL, &w, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_blob_writer_write(NULL, K("x"), NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_blob_reader_open(NULL, K("k"), 0, &r, NULL, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_blob_reader_read(NULL, k, 1, &n, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_blob_reader_seek(NULL, 0, NULL), KAT_INVALID_ARGUMENT);
    CHECK_STATUS(kat_txn_bucket_put(NULL, NULL, K("k"), K("v"), NULL, NULL, NULL),
                 KAT_INVALID_ARGUMENT);
    kat_bucket_free(NULL);
    kat_blob_writer_free(NULL);
    kat_blob_reader_free(NULL);
    kat_object_info_free(NULL);
    kat_object_list_free(NULL);
    kat_bucket_options_free(NULL);
    kat_put_options_free(NULL);
}

int main(int argc, char **argv)
{
    const char *dir = kat_dir_arg(argc, argv);
    char path[4096];
    kat_options *o = NULL;
    kat_db *db;
    kat_bucket *b;
    kat_blob_reader *r = NULL;
    kat_object_info *info = NULL;
    kat_error *err = NULL;
    uint8_t buf[16];
    size_t n = 0;

    CHECK_OK(kat_options_new(&o), err);
    CHECK_OK(kat_options_set_sync(o, KAT_SYNC_NEVER, 0), err);
    kat_path(path, sizeof path, dir, "db");
    db = OPEN(path, o);
    test_codecs(db);
    test_versions_and_info(db);
    test_streams(db);
    test_txn_and_keys(db);
    test_options_list_drop_null(db);
    CLOSE(db);

    /* After reopening everything committed is there; after close, KAT_CLOSED. */
    db = OPEN(path, o);
    b = open_bucket(db, "streams", KAT_COMPRESSION_NONE, 0, NULL);
    CHECK_OK(kat_bucket_head(b, K("big"), 0, &info, &err), err);
    CHECK(info->size == 10 * CHUNK + 123);
    kat_object_info_free(info);
    CHECK_OK(kat_blob_reader_open(b, K("big"), 0, &r, NULL, &err), err);
    CLOSE(db);
    CHECK_FAIL(kat_blob_reader_read(r, buf, sizeof buf, &n, &err), KAT_CLOSED, err);
    CHECK_FAIL(kat_bucket_head(b, K("big"), 0, &info, &err), KAT_CLOSED, err);
    kat_blob_reader_free(r);
    kat_bucket_free(b);
    kat_options_free(o);
    CHECK_DONE("bucket");
}
