/*
 * binding.c: the Node-API addon of Katamari, written in C against node_api.h.
 *
 * index.js is the public API; this file exposes a small set of functions on opaque
 * handle objects. The rules it keeps:
 *
 *   - Every native handle (database, keyspace, transaction, iterator) lives in a `kh`
 *     with a reference count touched only on the JavaScript thread: one reference for the
 *     wrapper object (dropped by its napi_wrap finalizer), one for every piece of async
 *     work using it, one for every child handle. The last reference frees the C handle,
 *     so kat_db_free never races a call in flight and a child never outlives its parent.
 *   - Async work copies its input bytes (the caller may reuse or detach its buffers at
 *     once) and runs the C call on the libuv pool; the completion builds the result
 *     (copies into new Buffers or strings, never external memory) and settles the
 *     promise. Completions never throw and never abort: during worker termination the
 *     N-API calls they make may fail, and the failures are ignored.
 *   - Sync variants run the same code on the calling thread with the caller's bytes in
 *     place (no copy).
 *   - A transaction or iterator must not be used by two threads at once, so their calls
 *     hold a per-handle mutex.
 *   - An env cleanup hook closes every database still open in the environment (a
 *     terminated worker releases its directory lock); finalizers then free the handles.
 *   - Errors are Error objects with `.code` ("KAT_NOT_FOUND", ...) and `.status` (the
 *     numeric kat_status). Argument errors are TypeErrors with code
 *     "KAT_INVALID_ARGUMENT".
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "katamari.h"

/* ------------------------------------------------------------------------------------ */
/* Status names and errors                                                              */

static const char *status_name(kat_status s)
{
    switch (s) {
    case KAT_OK: return "KAT_OK";
    case KAT_NOT_FOUND: return "KAT_NOT_FOUND";
    case KAT_INVALID_ARGUMENT: return "KAT_INVALID_ARGUMENT";
    case KAT_IO: return "KAT_IO";
    case KAT_CORRUPTION: return "KAT_CORRUPTION";
    case KAT_CONFLICT: return "KAT_CONFLICT";
    case KAT_CLOSED: return "KAT_CLOSED";
    case KAT_LOCKED: return "KAT_LOCKED";
    case KAT_NO_SPACE: return "KAT_NO_SPACE";
    case KAT_TOO_LARGE: return "KAT_TOO_LARGE";
    case KAT_AUTH_FAILED: return "KAT_AUTH_FAILED";
    case KAT_READ_ONLY: return "KAT_READ_ONLY";
    case KAT_PANIC: return "KAT_PANIC";
    case KAT_INTERNAL: return "KAT_INTERNAL";
    case KAT_BUFFER_TOO_SMALL: return "KAT_BUFFER_TOO_SMALL";
    default: return "KAT_UNKNOWN";
    }
}

/* An Error (or TypeError) with .code and .status; NULL if even that fails. */
static napi_value make_error(napi_env env, kat_status st, const char *msg, bool type_error)
{
    napi_value code = NULL, text = NULL, e = NULL, num = NULL;
    if (napi_create_string_utf8(env, status_name(st), NAPI_AUTO_LENGTH, &code) != napi_ok)
        return NULL;
    if (napi_create_string_utf8(env, msg ? msg : kat_status_str(st), NAPI_AUTO_LENGTH, &text) !=
        napi_ok)
        return NULL;
    if ((type_error ? napi_create_type_error(env, code, text, &e)
                    : napi_create_error(env, code, text, &e)) != napi_ok)
        return NULL;
    if (napi_create_int32(env, st, &num) == napi_ok)
        napi_set_named_property(env, e, "status", num);
    return e;
}

/* Builds the error for a failed call: the error object's message when there is one. */
static napi_value status_error(napi_env env, kat_status st, kat_error *err, const char *msg)
{
    if (err && !msg)
        msg = kat_error_message(err);
    return make_error(env, st, msg, false);
}

static void throw_value(napi_env env, napi_value e)
{
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending)
        return;
    if (e)
        napi_throw(env, e);
    else
        napi_throw_error(env, "KAT_INTERNAL", "katamari: could not create an error object");
}

static void throw_type(napi_env env, const char *msg)
{
    throw_value(env, make_error(env, KAT_INVALID_ARGUMENT, msg, true));
}

/* Throws a generic error for a failed N-API call unless an exception is pending. */
#define NAPI_CALL(env, call)                                                               \
    do {                                                                                   \
        if ((call) != napi_ok) {                                                           \
            throw_value((env), make_error((env), KAT_INTERNAL, "N-API call failed: " #call, \
                                          false));                                         \
            return NULL;                                                                   \
        }                                                                                  \
    } while (0)

/* ------------------------------------------------------------------------------------ */
/* Handles                                                                              */

enum { K_DB = 1, K_KS = 2, K_TXN = 4, K_ITER = 8 };

/* One tag for every handle object this addon makes; `kh.kind` tells them apart. */
static const napi_type_tag HANDLE_TAG = {0x6b6174616d617269ULL, 0x9e3779b97f4a7c15ULL};

typedef struct kenv kenv;

typedef struct kh {
    int kind;
    int refs;            /* JavaScript thread only */
    struct kh *db;       /* owning database (a reference), NULL for a database */
    struct kh *parent;   /* iterator: the keyspace or transaction it came from */
    struct kh *parent2;  /* iterator of a transaction in a keyspace: that keyspace */
    pthread_mutex_t mu;  /* transactions and iterators: one thread at a time */
    union {
        kat_db *db;
        kat_keyspace *ks;
        kat_txn *txn;
        kat_iter *it;
    } u;
    /* databases: membership in the environment's list of open databases */
    kenv *env;
    struct kh *prev, *next;
    /* iterators: queued batch fetches, and a close waiting for them */
    int busy;
    bool close_requested;
} kh;

struct kenv {
    napi_env env;
    kh *head; /* databases of this environment not yet freed */
    /* The scratch Buffer of index.js (setScratch): sync gets copy values into it and
     * return their length, and index.js copies them out into pooled Buffers, which costs
     * far less than a new Buffer from N-API. Only used within one synchronous call. */
    napi_ref scratch_ref;
    uint8_t *scratch;
    size_t scratch_len;
};

static void kh_ref(kh *h)
{
    if (h)
        h->refs++;
}

static void iter_release_native(kh *h)
{
    pthread_mutex_lock(&h->mu);
    kat_iter *it = h->u.it;
    h->u.it = NULL;
    pthread_mutex_unlock(&h->mu);
    kat_iter_free(it);
}

static void kh_unref(kh *h)
{
    if (!h || --h->refs > 0)
        return;
    switch (h->kind) {
    case K_DB:
        if (h->env) {
            if (h->prev)
                h->prev->next = h->next;
            else
                h->env->head = h->next;
            if (h->next)
                h->next->prev = h->prev;
        }
        kat_db_free(h->u.db);
        break;
    case K_KS:
        kat_keyspace_free(h->u.ks);
        break;
    case K_TXN:
        kat_txn_free(h->u.txn);
        break;
    case K_ITER:
        kat_iter_free(h->u.it);
        break;
    }
    if (h->kind == K_TXN || h->kind == K_ITER)
        pthread_mutex_destroy(&h->mu);
    kh_unref(h->parent);
    kh_unref(h->parent2);
    kh_unref(h->db);
    free(h);
}

static kh *kh_new(int kind, kh *db, kh *parent, kh *parent2)
{
    kh *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->kind = kind;
    h->refs = 1;
    h->db = db;
    h->parent = parent;
    h->parent2 = parent2;
    kh_ref(db);
    kh_ref(parent);
    kh_ref(parent2);
    if (kind == K_TXN || kind == K_ITER)
        pthread_mutex_init(&h->mu, NULL);
    return h;
}

static void kh_finalize(napi_env env, void *data, void *hint)
{
    (void)env;
    (void)hint;
    kh_unref(data);
}

/* Wraps `h` (whose one reference passes to the wrapper) in a new object; on failure the
 * reference is dropped and NULL returned with an exception pending. */
static napi_value kh_wrap(napi_env env, kh *h)
{
    napi_value obj;
    if (napi_create_object(env, &obj) != napi_ok ||
        napi_type_tag_object(env, obj, &HANDLE_TAG) != napi_ok ||
        napi_wrap(env, obj, h, kh_finalize, NULL, NULL) != napi_ok) {
        kh_unref(h);
        throw_value(env, make_error(env, KAT_INTERNAL, "could not wrap a handle", false));
        return NULL;
    }
    return obj;
}

static const char *kind_name(int mask)
{
    switch (mask) {
    case K_DB: return "a database handle";
    case K_KS: return "a keyspace handle";
    case K_TXN: return "a transaction handle";
    case K_ITER: return "an iterator handle";
    case K_DB | K_KS: return "a database or keyspace handle";
    default: return "a database, keyspace or transaction handle";
    }
}

/* The handle in `v` if it is one of the kinds in `mask`; else throws and returns NULL. */
static kh *kh_unwrap(napi_env env, napi_value v, int mask)
{
    bool tagged = false;
    void *p = NULL;
    napi_valuetype t;
    if (napi_typeof(env, v, &t) == napi_ok && t == napi_object &&
        napi_check_object_type_tag(env, v, &HANDLE_TAG, &tagged) == napi_ok && tagged &&
        napi_unwrap(env, v, &p) == napi_ok && p && (((kh *)p)->kind & mask))
        return p;
    char msg[96];
    snprintf(msg, sizeof msg, "expected %s", kind_name(mask));
    throw_type(env, msg);
    return NULL;
}

/* Like kh_unwrap, but null and undefined give NULL without an error (*ok stays true). */
static kh *kh_unwrap_opt(napi_env env, napi_value v, int mask, bool *ok)
{
    napi_valuetype t;
    *ok = true;
    if (napi_typeof(env, v, &t) == napi_ok && (t == napi_null || t == napi_undefined))
        return NULL;
    kh *h = kh_unwrap(env, v, mask);
    *ok = h != NULL;
    return h;
}

/* ------------------------------------------------------------------------------------ */
/* Arguments                                                                            */

/* Bytes of a Buffer / Uint8Array (in place) or of a string (its UTF-8 encoding). */
typedef struct kbytes {
    const uint8_t *p;
    size_t n;
    uint8_t *heap;
    uint8_t small[192];
} kbytes;

static void kbytes_free(kbytes *b)
{
    free(b->heap);
    b->heap = NULL;
}

static bool get_bytes(napi_env env, napi_value v, kbytes *b, const char *what)
{
    napi_valuetype t;
    b->p = NULL;
    b->n = 0;
    b->heap = NULL;
    if (napi_typeof(env, v, &t) != napi_ok)
        goto bad;
    if (t == napi_string) {
        size_t len = 0;
        if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok)
            goto bad;
        uint8_t *dst = b->small;
        if (len + 1 > sizeof b->small) {
            b->heap = malloc(len + 1);
            if (!b->heap) {
                throw_value(env, make_error(env, KAT_INTERNAL, "out of memory", false));
                return false;
            }
            dst = b->heap;
        }
        if (napi_get_value_string_utf8(env, v, (char *)dst, len + 1, &len) != napi_ok) {
            kbytes_free(b);
            goto bad;
        }
        b->p = dst;
        b->n = len;
        return true;
    }
    if (t == napi_object) {
        bool is_ta = false;
        if (napi_is_typedarray(env, v, &is_ta) == napi_ok && is_ta) {
            napi_typedarray_type tt;
            size_t len;
            void *data;
            if (napi_get_typedarray_info(env, v, &tt, &len, &data, NULL, NULL) == napi_ok &&
                tt == napi_uint8_array) {
                b->p = data;
                b->n = len;
                return true;
            }
        }
    }
bad:;
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a Buffer, Uint8Array or string", what);
    throw_type(env, msg);
    return false;
}

/* Like get_bytes; null and undefined mean "not set" (*set = false). */
static bool get_bytes_opt(napi_env env, napi_value v, kbytes *b, bool *set, const char *what)
{
    napi_valuetype t;
    *set = false;
    b->p = NULL;
    b->n = 0;
    b->heap = NULL;
    if (napi_typeof(env, v, &t) == napi_ok && (t == napi_null || t == napi_undefined))
        return true;
    *set = true;
    return get_bytes(env, v, b, what);
}

static bool get_u64(napi_env env, napi_value v, uint64_t *out, const char *what)
{
    double d;
    if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 18446744073709549568.0 ||
        d != (double)(uint64_t)d) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be a non-negative integer", what);
        throw_type(env, msg);
        return false;
    }
    *out = (uint64_t)d;
    return true;
}

static bool get_bool(napi_env env, napi_value v)
{
    bool b = false;
    napi_valuetype t;
    if (napi_typeof(env, v, &t) == napi_ok && t == napi_boolean)
        napi_get_value_bool(env, v, &b);
    return b;
}

static int32_t get_flags(napi_env env, napi_value v)
{
    int32_t f = 0;
    napi_valuetype t;
    if (napi_typeof(env, v, &t) == napi_ok && t == napi_number)
        napi_get_value_int32(env, v, &f);
    return f;
}

/* Result flags: decode keys / values as UTF-8 strings, or leave them out. */
enum { F_KEY_STR = 1, F_VAL_STR = 2, F_NO_VALUES = 4, F_NO_KEYS = 8,
       /* iterNext / getMany: one Buffer in the C layout, parsed by index.js */
       F_RAW = 16,
       /* getSync: a value that fits goes to the scratch Buffer; its length is returned */
       F_SCRATCH = 32 };

/* ------------------------------------------------------------------------------------ */
/* Requests: one C call, run in place (sync) or on the libuv pool (async)                */

enum {
    OP_OPEN,
    OP_CLOSE,
    OP_GET,
    OP_GET_MANY,
    OP_HAS,
    OP_EXPIRES_AT,
    OP_PUT,
    OP_PUT_TTL,
    OP_DEL,
    OP_WRITE,
    OP_SYNC,
    OP_STATS,
    OP_COMMIT,
    OP_ITER_NEXT,
    OP_KS_DROP,
    OP_KS_LIST,
    OP_MERGE,
    OP_BACKUP,
    OP_VERIFY,
};

typedef struct req {
    int op;
    int flags;
    kenv *env;
    kh *h;  /* target: database, keyspace, transaction or iterator */
    kh *ks; /* transaction calls in a keyspace */
    const uint8_t *key;
    size_t klen;
    const uint8_t *val;
    size_t vlen;
    uint64_t ttl;
    size_t max_items, max_bytes;
    kat_batch *batch;
    kat_options *opts;
    char *path; /* open: the directory; backup: the destination */
    uint8_t *owned; /* async: the copied key and value */
    /* get many */
    size_t n;
    size_t *offs; /* n + 1 offsets into `owned` */
    kat_buf *outs;
    kat_status *sts;
    /* results */
    kat_status st;
    kat_error *err;
    const char *msg; /* a message of the binding's own, when err is NULL */
    kat_db *opened;
    kat_buf out;
    bool found;
    uint64_t expires_at; /* ms since the Unix epoch; 0: never */
    size_t count;
    union { /* by op */
        kat_stats stats;
        kat_merge_stats merge;
        kat_backup_info backup;
        kat_verify_report verify;
    };
    /* async */
    napi_async_work work;
    napi_deferred deferred;
    bool async;
    /* sync get into the scratch buffer */
    uint8_t *dst;
    size_t dst_cap;
    size_t dst_len;
    bool in_dst;
} req;

static void lock(kh *h)
{
    pthread_mutex_lock(&h->mu);
}

static void unlock(kh *h)
{
    pthread_mutex_unlock(&h->mu);
}

static kat_status txn_get(req *r, const uint8_t *key, size_t klen, kat_buf *out)
{
    kat_txn *t = r->h->u.txn;
    if (r->ks)
        return kat_txn_get_in(t, r->ks->u.ks, key, klen, out, &r->err);
    return kat_txn_get(t, key, klen, out, &r->err);
}

static kat_status one_get(req *r, const uint8_t *key, size_t klen, kat_buf *out)
{
    kh *h = r->h;
    switch (h->kind) {
    case K_DB: return kat_db_get(h->u.db, key, klen, out, &r->err);
    case K_KS: return kat_keyspace_get(h->u.ks, key, klen, out, &r->err);
    default: {
        lock(h);
        kat_status st = txn_get(r, key, klen, out);
        unlock(h);
        return st;
    }
    }
}

/* Runs the request's C call. Touches no JavaScript value: safe on any thread. */
static void perform(req *r)
{
    kh *h = r->h;
    switch (r->op) {
    case OP_OPEN:
        r->st = kat_db_open(r->path, r->opts, &r->opened, &r->err);
        break;
    case OP_CLOSE:
        r->st = kat_db_close(h->u.db, &r->err);
        break;
    case OP_GET:
        if (r->dst && h->kind == K_DB) {
            /* Straight into the scratch buffer: no intermediate copy. */
            r->st = kat_db_get_into(h->u.db, r->key, r->klen, r->dst, r->dst_cap, &r->dst_len,
                                    &r->err);
            if (r->st == KAT_OK) {
                r->in_dst = true;
                break;
            }
            if (r->st != KAT_BUFFER_TOO_SMALL)
                break;
            kat_error_free(r->err);
            r->err = NULL;
        }
        r->st = one_get(r, r->key, r->klen, &r->out);
        if (r->st == KAT_OK && r->dst && r->out.len <= r->dst_cap) {
            if (r->out.len)
                memcpy(r->dst, r->out.data, r->out.len);
            r->dst_len = r->out.len;
            r->in_dst = true;
            kat_buf_free(&r->out);
        }
        break;
    case OP_GET_MANY:
        r->st = KAT_OK;
        for (size_t i = 0; i < r->n; i++) {
            kat_status st = one_get(r, r->owned + r->offs[i], r->offs[i + 1] - r->offs[i],
                                    &r->outs[i]);
            r->sts[i] = st;
            if (st != KAT_OK && st != KAT_NOT_FOUND) {
                r->st = st; /* the first failure fails the whole call */
                break;
            }
        }
        break;
    case OP_HAS:
        switch (h->kind) {
        case K_DB:
            r->st = kat_db_contains(h->u.db, r->key, r->klen, &r->found, &r->err);
            break;
        case K_KS:
            r->st = kat_keyspace_contains(h->u.ks, r->key, r->klen, &r->found, &r->err);
            break;
        default:
            lock(h);
            r->st = r->ks ? kat_txn_contains_in(h->u.txn, r->ks->u.ks, r->key, r->klen,
                                                &r->found, &r->err)
                          : kat_txn_contains(h->u.txn, r->key, r->klen, &r->found, &r->err);
            unlock(h);
        }
        break;
    case OP_EXPIRES_AT:
        /* kv_call refuses transactions: the C API has no transaction variant. */
        if (h->kind == K_DB)
            r->st = kat_db_expires_at(h->u.db, r->key, r->klen, &r->expires_at, &r->err);
        else
            r->st = kat_keyspace_expires_at(h->u.ks, r->key, r->klen, &r->expires_at, &r->err);
        break;
    case OP_PUT:
        switch (h->kind) {
        case K_DB:
            r->st = kat_db_put(h->u.db, r->key, r->klen, r->val, r->vlen, &r->err);
            break;
        case K_KS:
            r->st = kat_keyspace_put(h->u.ks, r->key, r->klen, r->val, r->vlen, &r->err);
            break;
        default:
            lock(h);
            r->st = r->ks ? kat_txn_put_in(h->u.txn, r->ks->u.ks, r->key, r->klen, r->val,
                                           r->vlen, &r->err)
                          : kat_txn_put(h->u.txn, r->key, r->klen, r->val, r->vlen, &r->err);
            unlock(h);
        }
        break;
    case OP_PUT_TTL:
        switch (h->kind) {
        case K_DB:
            r->st = kat_db_put_ttl(h->u.db, r->key, r->klen, r->val, r->vlen, r->ttl, &r->err);
            break;
        case K_KS:
            r->st = kat_keyspace_put_ttl(h->u.ks, r->key, r->klen, r->val, r->vlen, r->ttl,
                                         &r->err);
            break;
        default:
            lock(h);
            r->st = r->ks ? kat_txn_put_ttl_in(h->u.txn, r->ks->u.ks, r->key, r->klen, r->val,
                                               r->vlen, r->ttl, &r->err)
                          : kat_txn_put_ttl(h->u.txn, r->key, r->klen, r->val, r->vlen, r->ttl,
                                            &r->err);
            unlock(h);
        }
        break;
    case OP_DEL:
        switch (h->kind) {
        case K_DB:
            r->st = kat_db_delete(h->u.db, r->key, r->klen, &r->err);
            break;
        case K_KS:
            r->st = kat_keyspace_delete(h->u.ks, r->key, r->klen, &r->err);
            break;
        default:
            lock(h);
            r->st = r->ks ? kat_txn_delete_in(h->u.txn, r->ks->u.ks, r->key, r->klen, &r->err)
                          : kat_txn_delete(h->u.txn, r->key, r->klen, &r->err);
            unlock(h);
        }
        break;
    case OP_WRITE:
        r->st = kat_db_write(h->u.db, r->batch, &r->err);
        break;
    case OP_SYNC:
        r->st = kat_db_sync(h->u.db, &r->err);
        break;
    case OP_STATS:
        r->st = kat_db_stats(h->u.db, &r->stats, &r->err);
        break;
    case OP_COMMIT:
        lock(h);
        r->st = kat_txn_commit(h->u.txn, &r->err);
        unlock(h);
        break;
    case OP_ITER_NEXT:
        lock(h);
        if (!h->u.it) {
            r->st = KAT_CLOSED;
            r->msg = "the iterator is closed";
        } else {
            r->st = kat_iter_next_batch(h->u.it, r->max_items, r->max_bytes, &r->out, &r->count,
                                        &r->err);
        }
        unlock(h);
        break;
    case OP_KS_DROP:
        r->st = kat_keyspace_drop(h->u.db, r->key, r->klen, &r->err);
        break;
    case OP_KS_LIST:
        r->st = kat_keyspace_list(h->u.db, &r->out, &r->count, &r->err);
        break;
    case OP_MERGE:
        r->st = kat_db_merge(h->u.db, &r->merge, &r->err);
        break;
    case OP_BACKUP:
        r->st = kat_db_backup(h->u.db, r->path, &r->backup, &r->err);
        break;
    case OP_VERIFY:
        r->st = kat_db_verify(h->u.db, &r->verify, &r->err);
        break;
    }
}

static void req_free(req *r)
{
    kat_buf_free(&r->out);
    kat_error_free(r->err);
    kat_batch_free(r->batch);
    kat_options_free(r->opts);
    free(r->path);
    if (r->outs) {
        for (size_t i = 0; i < r->n; i++)
            kat_buf_free(&r->outs[i]);
    }
    free(r->outs);
    free(r->sts);
    free(r->offs);
    free(r->owned);
}

static const uint8_t EMPTY[1];

static napi_status bytes_value(napi_env env, const uint8_t *p, size_t n, bool as_string,
                               napi_value *out)
{
    if (!p)
        p = EMPTY;
    if (as_string)
        return napi_create_string_utf8(env, (const char *)p, n, out);
    return napi_create_buffer_copy(env, n, p, NULL, out);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static napi_status set_u64(napi_env env, napi_value obj, const char *name, uint64_t v)
{
    napi_value n;
    napi_status s = napi_create_double(env, (double)v, &n);
    if (s == napi_ok)
        s = napi_set_named_property(env, obj, name, n);
    return s;
}

/* Builds the JavaScript result of a performed request. Returns false and sets *out to
 * an error value when the call failed (or building the result failed). */
static bool result(napi_env env, req *r, napi_value *out)
{
    napi_status s = napi_ok;
    *out = NULL;
    if ((r->op == OP_GET || r->op == OP_ITER_NEXT) && r->st == KAT_NOT_FOUND) {
        s = napi_get_undefined(env, out);
        goto done;
    }
    if (r->st != KAT_OK) {
        *out = status_error(env, r->st, r->err, r->msg);
        return false;
    }
    switch (r->op) {
    case OP_OPEN: {
        kh *h = kh_new(K_DB, NULL, NULL, NULL);
        if (!h) {
            kat_db_free(r->opened);
            r->opened = NULL;
            *out = make_error(env, KAT_INTERNAL, "out of memory", false);
            return false;
        }
        h->u.db = r->opened;
        r->opened = NULL;
        h->env = r->env;
        h->next = r->env->head;
        if (h->next)
            h->next->prev = h;
        r->env->head = h;
        napi_value obj;
        if (napi_create_object(env, &obj) != napi_ok ||
            napi_type_tag_object(env, obj, &HANDLE_TAG) != napi_ok ||
            napi_wrap(env, obj, h, kh_finalize, NULL, NULL) != napi_ok) {
            kh_unref(h);
            *out = make_error(env, KAT_INTERNAL, "could not wrap the database handle", false);
            return false;
        }
        *out = obj;
        return true;
    }
    case OP_GET:
        if (r->in_dst) {
            if (r->flags & F_VAL_STR)
                s = bytes_value(env, r->dst, r->dst_len, true, out);
            else
                s = napi_create_double(env, (double)r->dst_len, out);
        } else {
            s = bytes_value(env, r->out.data, r->out.len, r->flags & F_VAL_STR, out);
        }
        break;
    case OP_GET_MANY:
        if (r->flags & F_RAW) {
            /* One Buffer: per key a u32 LE length (0xffffffff: absent), then the bytes. */
            size_t total = 0;
            for (size_t i = 0; i < r->n; i++) {
                if (r->sts[i] == KAT_OK && r->outs[i].len >= 0xffffffffu) {
                    /* 0xffffffff marks an absent key; no Buffer holds 4 GiB - 1 anyway. */
                    *out = make_error(env, KAT_TOO_LARGE, "a value too large for a Buffer", false);
                    return false;
                }
                total += 4 + (r->sts[i] == KAT_OK ? r->outs[i].len : 0);
            }
            void *data = NULL;
            s = napi_create_buffer(env, total, &data, out);
            if (s == napi_ok) {
                uint8_t *p = data;
                for (size_t i = 0; i < r->n; i++) {
                    uint32_t n = r->sts[i] == KAT_OK ? (uint32_t)r->outs[i].len : 0xffffffffu;
                    p[0] = (uint8_t)n;
                    p[1] = (uint8_t)(n >> 8);
                    p[2] = (uint8_t)(n >> 16);
                    p[3] = (uint8_t)(n >> 24);
                    p += 4;
                    if (r->sts[i] == KAT_OK && r->outs[i].len) {
                        memcpy(p, r->outs[i].data, r->outs[i].len);
                        p += r->outs[i].len;
                    }
                }
            }
            break;
        }
        {
            napi_value arr, v;
            s = napi_create_array_with_length(env, r->n, &arr);
            for (size_t i = 0; s == napi_ok && i < r->n; i++) {
                if (r->sts[i] == KAT_OK)
                    s = bytes_value(env, r->outs[i].data, r->outs[i].len, r->flags & F_VAL_STR,
                                    &v);
                else
                    s = napi_get_undefined(env, &v);
                if (s == napi_ok)
                    s = napi_set_element(env, arr, (uint32_t)i, v);
            }
            *out = arr;
        }
        break;
    case OP_HAS:
        s = napi_get_boolean(env, r->found, out);
        break;
    case OP_EXPIRES_AT:
        /* Exact up to 2^53 ms (Number.MAX_SAFE_INTEGER, some 285,000 years from now). */
        s = napi_create_double(env, (double)r->expires_at, out);
        break;
    case OP_STATS: {
        napi_value o;
        s = napi_create_object(env, &o);
        if (s == napi_ok) s = set_u64(env, o, "liveKeys", r->stats.live_keys);
        if (s == napi_ok) s = set_u64(env, o, "liveBytes", r->stats.live_bytes);
        if (s == napi_ok) s = set_u64(env, o, "deadBytes", r->stats.dead_bytes);
        if (s == napi_ok) s = set_u64(env, o, "totalBytes", r->stats.total_bytes);
        if (s == napi_ok) s = set_u64(env, o, "segments", r->stats.segments);
        if (s == napi_ok) s = set_u64(env, o, "keydirBytes", r->stats.keydir_bytes);
        if (s == napi_ok) s = set_u64(env, o, "lastSeq", r->stats.last_seq);
        if (s == napi_ok) s = set_u64(env, o, "merges", r->stats.merges);
        if (s == napi_ok) s = set_u64(env, o, "mergeFailures", r->stats.merge_failures);
        *out = o;
        break;
    }
    case OP_MERGE: {
        napi_value o;
        s = napi_create_object(env, &o);
        if (s == napi_ok) s = set_u64(env, o, "inputSegments", r->merge.input_segments);
        if (s == napi_ok) s = set_u64(env, o, "inputBytes", r->merge.input_bytes);
        if (s == napi_ok) s = set_u64(env, o, "outputSegments", r->merge.output_segments);
        if (s == napi_ok) s = set_u64(env, o, "outputBytes", r->merge.output_bytes);
        if (s == napi_ok) s = set_u64(env, o, "records", r->merge.records);
        if (s == napi_ok) s = set_u64(env, o, "expired", r->merge.expired);
        if (s == napi_ok) s = set_u64(env, o, "millis", r->merge.millis);
        *out = o;
        break;
    }
    case OP_BACKUP: {
        napi_value o;
        s = napi_create_object(env, &o);
        if (s == napi_ok) s = set_u64(env, o, "seq", r->backup.seq);
        if (s == napi_ok) s = set_u64(env, o, "segments", r->backup.segments);
        if (s == napi_ok) s = set_u64(env, o, "bytes", r->backup.bytes);
        if (s == napi_ok) s = set_u64(env, o, "linked", r->backup.linked);
        *out = o;
        break;
    }
    case OP_VERIFY: {
        const kat_verify_report *v = &r->verify;
        /* NUL-terminated by the library; never read past the array regardless. */
        const char *nul = memchr(v->first_bad_reason, 0, sizeof v->first_bad_reason);
        size_t reason_len = nul ? (size_t)(nul - v->first_bad_reason) : sizeof v->first_bad_reason;
        napi_value o, x;
        s = napi_create_object(env, &o);
        if (s == napi_ok) s = napi_get_boolean(env, v->damaged == 0 && v->hints_bad == 0, &x);
        if (s == napi_ok) s = napi_set_named_property(env, o, "clean", x);
        if (s == napi_ok) s = set_u64(env, o, "segments", v->segments);
        if (s == napi_ok) s = set_u64(env, o, "batches", v->batches);
        if (s == napi_ok) s = set_u64(env, o, "records", v->records);
        if (s == napi_ok) s = set_u64(env, o, "bytes", v->bytes);
        if (s == napi_ok) s = set_u64(env, o, "hintsOk", v->hints_ok);
        if (s == napi_ok) s = set_u64(env, o, "hintsBad", v->hints_bad);
        if (s == napi_ok) s = set_u64(env, o, "damaged", v->damaged);
        if (s == napi_ok) s = set_u64(env, o, "firstBadSegment", v->first_bad_segment);
        if (s == napi_ok) s = set_u64(env, o, "firstBadOffset", v->first_bad_offset);
        if (s == napi_ok) s = napi_create_string_utf8(env, v->first_bad_reason, reason_len, &x);
        if (s == napi_ok) s = napi_set_named_property(env, o, "firstBadReason", x);
        *out = o;
        break;
    }
    case OP_ITER_NEXT: {
        if (r->flags & F_RAW) {
            /* The batch as the C API encodes it, in one Buffer. */
            s = bytes_value(env, r->out.data, r->out.len, false, out);
            break;
        }
        /* [key0, value0, key1, value1, ...]; a left-out half is undefined. */
        napi_value arr, k, v, undef;
        const uint8_t *p = r->out.data, *end = r->out.data + r->out.len;
        uint32_t idx = 0;
        s = napi_create_array_with_length(env, r->count * 2, &arr);
        if (s == napi_ok)
            s = napi_get_undefined(env, &undef);
        for (size_t i = 0; s == napi_ok && i < r->count; i++) {
            if (end - p < 8) {
                *out = make_error(env, KAT_INTERNAL, "malformed iterator batch", false);
                return false;
            }
            uint32_t kl = le32(p), vl = le32(p + 4);
            p += 8;
            if ((size_t)(end - p) < (size_t)kl + vl) {
                *out = make_error(env, KAT_INTERNAL, "malformed iterator batch", false);
                return false;
            }
            k = undef;
            v = undef;
            if (!(r->flags & F_NO_KEYS))
                s = bytes_value(env, p, kl, r->flags & F_KEY_STR, &k);
            if (s == napi_ok && !(r->flags & F_NO_VALUES))
                s = bytes_value(env, p + kl, vl, r->flags & F_VAL_STR, &v);
            p += (size_t)kl + vl;
            if (s == napi_ok)
                s = napi_set_element(env, arr, idx++, k);
            if (s == napi_ok)
                s = napi_set_element(env, arr, idx++, v);
        }
        *out = arr;
        break;
    }
    case OP_KS_LIST: {
        napi_value arr, name;
        const uint8_t *p = r->out.data, *end = r->out.data + r->out.len;
        s = napi_create_array_with_length(env, r->count, &arr);
        for (size_t i = 0; s == napi_ok && i < r->count; i++) {
            if (end - p < 4 || (size_t)(end - p - 4) < le32(p)) {
                *out = make_error(env, KAT_INTERNAL, "malformed keyspace list", false);
                return false;
            }
            uint32_t n = le32(p);
            s = bytes_value(env, p + 4, n, false, &name);
            p += 4 + (size_t)n;
            if (s == napi_ok)
                s = napi_set_element(env, arr, (uint32_t)i, name);
        }
        *out = arr;
        break;
    }
    default:
        s = napi_get_undefined(env, out);
    }
done:
    if (s != napi_ok) {
        /* Typically a value too large for a Buffer or string: report the exception. */
        bool pending = false;
        napi_value exc = NULL;
        if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
            napi_get_and_clear_last_exception(env, &exc);
        *out = exc ? exc : make_error(env, KAT_INTERNAL, "could not build the result", false);
        return false;
    }
    return true;
}

/* Sync: perform in place, return the result or throw. */
static napi_value run_sync(napi_env env, req *r)
{
    napi_value v;
    perform(r);
    bool ok = result(env, r, &v);
    req_free(r);
    if (!ok) {
        throw_value(env, v);
        return NULL;
    }
    return v;
}

static void exec_cb(napi_env env, void *data)
{
    (void)env;
    perform(data);
}

static void release_targets(req *r)
{
    kh *h = r->h;
    if (h && h->kind == K_ITER && r->op == OP_ITER_NEXT) {
        h->busy--;
        if (h->busy == 0 && h->close_requested)
            iter_release_native(h);
    }
    kh_unref(r->ks);
    kh_unref(h);
}

static void done_cb(napi_env env, napi_status status, void *data)
{
    req *r = data;
    napi_value v = NULL;
    bool ok;
    if (status == napi_cancelled) {
        ok = false;
        v = make_error(env, KAT_CLOSED, "the operation was cancelled", false);
    } else {
        ok = result(env, r, &v);
    }
    if (!v)
        napi_get_undefined(env, &v);
    /* Failures here (a terminating environment) are ignored: nothing to report to. */
    if (ok)
        napi_resolve_deferred(env, r->deferred, v);
    else
        napi_reject_deferred(env, r->deferred, v);
    napi_delete_async_work(env, r->work);
    release_targets(r);
    req_free(r);
    free(r);
}

/* Async: takes ownership of the heap request `r` (targets already referenced); returns
 * the promise, or NULL with an exception pending (and `r` released). */
static napi_value run_async(napi_env env, req *r)
{
    napi_value promise, name;
    r->async = true;
    if (napi_create_promise(env, &r->deferred, &promise) != napi_ok)
        goto fail;
    if (napi_create_string_utf8(env, "katamari", NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_create_async_work(env, NULL, name, exec_cb, done_cb, r, &r->work) != napi_ok) {
        napi_value e = make_error(env, KAT_INTERNAL, "could not create async work", false);
        napi_reject_deferred(env, r->deferred, e);
        release_targets(r);
        req_free(r);
        free(r);
        return promise;
    }
    if (napi_queue_async_work(env, r->work) != napi_ok) {
        napi_value e = make_error(env, KAT_INTERNAL, "could not queue async work", false);
        napi_reject_deferred(env, r->deferred, e);
        napi_delete_async_work(env, r->work);
        release_targets(r);
        req_free(r);
        free(r);
    }
    return promise;
fail:
    release_targets(r);
    req_free(r);
    free(r);
    throw_value(env, make_error(env, KAT_INTERNAL, "could not create a promise", false));
    return NULL;
}

/* A heap request for async work on target `h` (and keyspace `ks`), both referenced. */
static req *req_new(napi_env env, int op, kh *h, kh *ks)
{
    req *r = calloc(1, sizeof *r);
    if (!r) {
        throw_value(env, make_error(env, KAT_INTERNAL, "out of memory", false));
        return NULL;
    }
    r->op = op;
    r->h = h;
    r->ks = ks;
    kh_ref(h);
    kh_ref(ks);
    if (h && h->kind == K_ITER && op == OP_ITER_NEXT)
        h->busy++;
    return r;
}

/* Copies key (and value) into r->owned for async work. */
static bool own(napi_env env, req *r, const kbytes *k, const kbytes *v)
{
    size_t kn = k ? k->n : 0, vn = v ? v->n : 0;
    r->owned = malloc(kn + vn + 1);
    if (!r->owned) {
        throw_value(env, make_error(env, KAT_INTERNAL, "out of memory", false));
        return false;
    }
    if (kn)
        memcpy(r->owned, k->p, kn);
    if (vn)
        memcpy(r->owned + kn, v->p, vn);
    r->key = r->owned;
    r->klen = kn;
    r->val = r->owned + kn;
    r->vlen = vn;
    return true;
}

/* Common shape of key/value calls: f(target, ks, key[, value[, ttl]][, flags]) */
static napi_value kv_call(napi_env env, napi_callback_info info, int op, bool async)
{
    size_t argc = 5;
    napi_value argv[5];
    kenv *ke = NULL;
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&ke));
    for (size_t i = argc; i < 5; i++)
        napi_get_undefined(env, &argv[i]);
    kh *h = kh_unwrap(env, argv[0], op == OP_EXPIRES_AT ? K_DB | K_KS : K_DB | K_KS | K_TXN);
    if (!h)
        return NULL;
    bool ok;
    kh *ks = kh_unwrap_opt(env, argv[1], K_KS, &ok);
    if (!ok)
        return NULL;
    if (ks && h->kind != K_TXN) {
        throw_type(env, "a keyspace argument is only for transaction calls");
        return NULL;
    }
    kbytes k, v;
    v.heap = NULL;
    v.n = 0;
    if (!get_bytes(env, argv[2], &k, "key"))
        return NULL;
    bool has_val = op == OP_PUT || op == OP_PUT_TTL;
    if (has_val && !get_bytes(env, argv[3], &v, "value")) {
        kbytes_free(&k);
        return NULL;
    }
    uint64_t ttl = 0;
    if (op == OP_PUT_TTL && !get_u64(env, argv[4], &ttl, "ttl")) {
        kbytes_free(&k);
        kbytes_free(&v);
        return NULL;
    }
    int flags = op == OP_GET ? get_flags(env, argv[3]) : 0;
    napi_value ret = NULL;
    if (!async) {
        req r;
        memset(&r, 0, sizeof r);
        r.op = op;
        r.h = h;
        r.ks = ks;
        r.key = k.p;
        r.klen = k.n;
        r.val = has_val ? v.p : NULL;
        r.vlen = has_val ? v.n : 0;
        r.ttl = ttl;
        r.flags = flags;
        if (op == OP_GET && (flags & F_SCRATCH) && ke && ke->scratch) {
            r.dst = ke->scratch;
            r.dst_cap = ke->scratch_len;
        }
        ret = run_sync(env, &r);
    } else {
        req *r = req_new(env, op, h, ks);
        if (r) {
            r->ttl = ttl;
            r->flags = flags;
            if (own(env, r, &k, has_val ? &v : NULL))
                ret = run_async(env, r);
            else {
                release_targets(r);
                free(r);
            }
        }
    }
    kbytes_free(&k);
    kbytes_free(&v);
    return ret;
}

#define KV_FN(name, op, async)                                                             \
    static napi_value name(napi_env env, napi_callback_info info)                          \
    {                                                                                      \
        return kv_call(env, info, op, async);                                              \
    }
KV_FN(fn_get, OP_GET, true)
KV_FN(fn_get_sync, OP_GET, false)
KV_FN(fn_has, OP_HAS, true)
KV_FN(fn_has_sync, OP_HAS, false)
KV_FN(fn_expires_at, OP_EXPIRES_AT, true)
KV_FN(fn_expires_at_sync, OP_EXPIRES_AT, false)
KV_FN(fn_put, OP_PUT, true)
KV_FN(fn_put_sync, OP_PUT, false)
KV_FN(fn_put_ttl, OP_PUT_TTL, true)
KV_FN(fn_put_ttl_sync, OP_PUT_TTL, false)
KV_FN(fn_del, OP_DEL, true)
KV_FN(fn_del_sync, OP_DEL, false)

/* getMany(target, ks, keys[], flags) */
static napi_value get_many(napi_env env, napi_callback_info info, bool async)
{
    size_t argc = 4;
    napi_value argv[4];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    for (size_t i = argc; i < 4; i++)
        napi_get_undefined(env, &argv[i]);
    kh *h = kh_unwrap(env, argv[0], K_DB | K_KS | K_TXN);
    if (!h)
        return NULL;
    bool ok;
    kh *ks = kh_unwrap_opt(env, argv[1], K_KS, &ok);
    if (!ok)
        return NULL;
    bool is_arr = false;
    uint32_t n = 0;
    if (napi_is_array(env, argv[2], &is_arr) != napi_ok || !is_arr) {
        throw_type(env, "keys must be an array");
        return NULL;
    }
    NAPI_CALL(env, napi_get_array_length(env, argv[2], &n));
    req tmp, *r = &tmp;
    if (async) {
        r = req_new(env, OP_GET_MANY, h, ks);
        if (!r)
            return NULL;
    } else {
        memset(r, 0, sizeof *r);
        r->op = OP_GET_MANY;
        r->h = h;
        r->ks = ks;
    }
    r->flags = get_flags(env, argv[3]);
    r->n = n;
    r->offs = calloc((size_t)n + 1, sizeof *r->offs);
    r->outs = calloc(n ? n : 1, sizeof *r->outs);
    r->sts = calloc(n ? n : 1, sizeof *r->sts);
    size_t cap = 64, used = 0;
    r->owned = malloc(cap);
    bool good = r->offs && r->outs && r->sts && r->owned;
    if (!good)
        throw_value(env, make_error(env, KAT_INTERNAL, "out of memory", false));
    for (uint32_t i = 0; good && i < n; i++) {
        napi_value e;
        kbytes k;
        if (napi_get_element(env, argv[2], i, &e) != napi_ok || !get_bytes(env, e, &k, "key")) {
            good = false;
            break;
        }
        if (used + k.n > cap) {
            while (used + k.n > cap)
                cap *= 2;
            uint8_t *g = realloc(r->owned, cap);
            if (!g) {
                kbytes_free(&k);
                throw_value(env, make_error(env, KAT_INTERNAL, "out of memory", false));
                good = false;
                break;
            }
            r->owned = g;
        }
        if (k.n)
            memcpy(r->owned + used, k.p, k.n);
        used += k.n;
        r->offs[i + 1] = used;
        kbytes_free(&k);
    }
    if (!good) {
        if (async)
            release_targets(r);
        req_free(r);
        if (async)
            free(r);
        return NULL;
    }
    return async ? run_async(env, r) : run_sync(env, r);
}

static napi_value fn_get_many(napi_env env, napi_callback_info info)
{
    return get_many(env, info, true);
}

static napi_value fn_get_many_sync(napi_env env, napi_callback_info info)
{
    return get_many(env, info, false);
}

/* Calls on a database with no arguments: close, sync, stats, keyspace list, merge,
 * verify. */
static napi_value db_call(napi_env env, napi_callback_info info, int op, bool async)
{
    size_t argc = 1;
    napi_value argv[1];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1)
        napi_get_undefined(env, &argv[0]);
    kh *h = kh_unwrap(env, argv[0], K_DB);
    if (!h)
        return NULL;
    if (!async) {
        req r;
        memset(&r, 0, sizeof r);
        r.op = op;
        r.h = h;
        return run_sync(env, &r);
    }
    req *r = req_new(env, op, h, NULL);
    return r ? run_async(env, r) : NULL;
}

#define DB_FN(name, op, async)                                                             \
    static napi_value name(napi_env env, napi_callback_info info)                          \
    {                                                                                      \
        return db_call(env, info, op, async);                                              \
    }
DB_FN(fn_close, OP_CLOSE, true)
DB_FN(fn_close_sync, OP_CLOSE, false)
DB_FN(fn_flush, OP_SYNC, true)
DB_FN(fn_flush_sync, OP_SYNC, false)
DB_FN(fn_stats, OP_STATS, true)
DB_FN(fn_stats_sync, OP_STATS, false)
DB_FN(fn_ks_list, OP_KS_LIST, true)
DB_FN(fn_ks_list_sync, OP_KS_LIST, false)
DB_FN(fn_merge, OP_MERGE, true)
DB_FN(fn_merge_sync, OP_MERGE, false)
DB_FN(fn_verify, OP_VERIFY, true)
DB_FN(fn_verify_sync, OP_VERIFY, false)

/* backup(db, dest): the destination is copied (NUL-terminated) into r->path. */
static napi_value backup_call(napi_env env, napi_callback_info info, bool async)
{
    size_t argc = 2;
    napi_value argv[2];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2) {
        throw_type(env, "backup(db, dest) needs two arguments");
        return NULL;
    }
    kh *h = kh_unwrap(env, argv[0], K_DB);
    if (!h)
        return NULL;
    napi_valuetype t;
    size_t len = 0;
    if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_string) {
        throw_type(env, "dest must be a string");
        return NULL;
    }
    NAPI_CALL(env, napi_get_value_string_utf8(env, argv[1], NULL, 0, &len));
    char *path = malloc(len + 1);
    if (!path || napi_get_value_string_utf8(env, argv[1], path, len + 1, &len) != napi_ok) {
        free(path);
        throw_value(env, make_error(env, KAT_INTERNAL, "could not read dest", false));
        return NULL;
    }
    if (strlen(path) != len) {
        free(path);
        throw_type(env, "dest must not contain NUL characters");
        return NULL;
    }
    if (!async) {
        req r;
        memset(&r, 0, sizeof r);
        r.op = OP_BACKUP;
        r.h = h;
        r.path = path;
        return run_sync(env, &r);
    }
    req *r = req_new(env, OP_BACKUP, h, NULL);
    if (!r) {
        free(path);
        return NULL;
    }
    r->path = path;
    return run_async(env, r);
}

static napi_value fn_backup(napi_env env, napi_callback_info info)
{
    return backup_call(env, info, true);
}

static napi_value fn_backup_sync(napi_env env, napi_callback_info info)
{
    return backup_call(env, info, false);
}

/* open(path, sync, intervalMs, segmentSize | null, salvage, createIfMissing,
 *      autoMergeRatio | null, autoMergeMinDeadBytes): a null ratio keeps the default
 *      policy, 0 turns automatic merging off. */
static napi_value open_call(napi_env env, napi_callback_info info, bool async)
{
    size_t argc = 8;
    napi_value argv[8];
    kenv *ke;
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&ke));
    for (size_t i = argc; i < 8; i++)
        napi_get_undefined(env, &argv[i]);
    napi_valuetype t;
    size_t len = 0;
    if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_string) {
        throw_type(env, "path must be a string");
        return NULL;
    }
    NAPI_CALL(env, napi_get_value_string_utf8(env, argv[0], NULL, 0, &len));
    req tmp, *r = &tmp;
    if (async) {
        r = req_new(env, OP_OPEN, NULL, NULL);
        if (!r)
            return NULL;
    } else {
        memset(r, 0, sizeof *r);
        r->op = OP_OPEN;
    }
    r->env = ke;
    kat_status st = KAT_OK;
    const char *bad = NULL;
    r->path = malloc(len + 1);
    if (!r->path || napi_get_value_string_utf8(env, argv[0], r->path, len + 1, &len) != napi_ok) {
        bad = "could not read the path";
        st = KAT_INTERNAL;
    } else if (strlen(r->path) != len) {
        bad = "path must not contain NUL characters";
        st = KAT_INVALID_ARGUMENT;
    }
    if (!bad && kat_options_new(&r->opts) != KAT_OK) {
        bad = "kat_options_new failed";
        st = KAT_INTERNAL;
    }
    if (!bad) {
        uint64_t mode = 0, interval = 0, seg = 0;
        if (!get_u64(env, argv[1], &mode, "sync mode") ||
            !get_u64(env, argv[2], &interval, "syncIntervalMs"))
            goto fail;
        if (interval > UINT32_MAX) {
            bad = "syncIntervalMs is too large";
            st = KAT_INVALID_ARGUMENT;
        } else if ((st = kat_options_set_sync(r->opts, (kat_sync)mode, (uint32_t)interval)) !=
                   KAT_OK) {
            bad = mode > 2 ? "unknown sync mode" : "invalid syncIntervalMs";
        }
        if (!bad && napi_typeof(env, argv[3], &t) == napi_ok && t != napi_null &&
            t != napi_undefined) {
            if (!get_u64(env, argv[3], &seg, "segmentSize"))
                goto fail;
            if ((st = kat_options_set_segment_size(r->opts, seg)) != KAT_OK)
                bad = "invalid segmentSize (at least 1024 bytes)";
        }
        if (!bad && (st = kat_options_set_salvage(r->opts, get_bool(env, argv[4]))) != KAT_OK)
            bad = "invalid salvage";
        if (!bad && (st = kat_options_set_create_if_missing(r->opts, get_bool(env, argv[5]))) !=
                        KAT_OK)
            bad = "invalid createIfMissing";
        if (!bad && napi_typeof(env, argv[6], &t) == napi_ok && t != napi_null &&
            t != napi_undefined) {
            double ratio = 0;
            uint64_t min_dead = 0;
            if (t != napi_number || napi_get_value_double(env, argv[6], &ratio) != napi_ok) {
                throw_type(env, "autoMerge.deadRatio must be a number");
                goto fail;
            }
            if (!get_u64(env, argv[7], &min_dead, "autoMerge.minDeadBytes"))
                goto fail;
            if ((st = kat_options_set_auto_merge(r->opts, ratio, min_dead)) != KAT_OK)
                bad = "invalid autoMerge.deadRatio (0 to 1; 0 turns automatic merging off)";
        }
    }
    if (bad) {
        napi_value e = make_error(env, st, bad, false);
        throw_value(env, e);
        goto fail;
    }
    return async ? run_async(env, r) : run_sync(env, r);
fail:
    req_free(r);
    if (async) {
        release_targets(r);
        free(r);
    }
    return NULL;
}

static napi_value fn_open(napi_env env, napi_callback_info info)
{
    return open_call(env, info, false);
}

static napi_value fn_open_async(napi_env env, napi_callback_info info)
{
    return open_call(env, info, true);
}

/* write(db, ops): ops is a flat array of [type, ks | null, key, value, ttl] quintuples,
 * type 0 = put, 1 = delete, 2 = put with TTL. The batch is built here, on the calling
 * thread (it copies the bytes), and written in place or on the pool. */
static napi_value write_call(napi_env env, napi_callback_info info, bool async)
{
    size_t argc = 2;
    napi_value argv[2];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2) {
        throw_type(env, "write(db, ops) needs two arguments");
        return NULL;
    }
    kh *h = kh_unwrap(env, argv[0], K_DB);
    if (!h)
        return NULL;
    bool is_arr = false;
    uint32_t n = 0;
    if (napi_is_array(env, argv[1], &is_arr) != napi_ok || !is_arr) {
        throw_type(env, "ops must be an array");
        return NULL;
    }
    NAPI_CALL(env, napi_get_array_length(env, argv[1], &n));
    if (n % 5) {
        throw_type(env, "ops must hold quintuples");
        return NULL;
    }
    kat_batch *b = NULL;
    if (kat_batch_new(&b) != KAT_OK) {
        throw_value(env, make_error(env, KAT_INTERNAL, "kat_batch_new failed", false));
        return NULL;
    }
    for (uint32_t i = 0; i < n; i += 5) {
        napi_value e[5];
        for (uint32_t j = 0; j < 5; j++) {
            if (napi_get_element(env, argv[1], i + j, &e[j]) != napi_ok) {
                kat_batch_free(b);
                throw_value(env, make_error(env, KAT_INTERNAL, "could not read ops", false));
                return NULL;
            }
        }
        int32_t type = get_flags(env, e[0]);
        bool ok;
        kh *ks = kh_unwrap_opt(env, e[1], K_KS, &ok);
        kbytes k, v;
        v.heap = NULL;
        v.n = 0;
        v.p = NULL;
        uint64_t ttl = 0;
        if (!ok || !get_bytes(env, e[2], &k, "key")) {
            kat_batch_free(b);
            return NULL;
        }
        if (type != 1 && !get_bytes(env, e[3], &v, "value")) {
            kbytes_free(&k);
            kat_batch_free(b);
            return NULL;
        }
        if (type == 2 && !get_u64(env, e[4], &ttl, "ttl")) {
            kbytes_free(&k);
            kbytes_free(&v);
            kat_batch_free(b);
            return NULL;
        }
        kat_error *err = NULL;
        kat_status st;
        const char *msg = NULL;
        switch (type) {
        case 0:
            st = ks ? kat_batch_put_in(b, ks->u.ks, k.p, k.n, v.p, v.n, &err)
                    : kat_batch_put(b, k.p, k.n, v.p, v.n, &err);
            break;
        case 1:
            st = ks ? kat_batch_delete_in(b, ks->u.ks, k.p, k.n, &err)
                    : kat_batch_delete(b, k.p, k.n, &err);
            break;
        case 2:
            st = ks ? kat_batch_put_ttl_in(b, ks->u.ks, k.p, k.n, v.p, v.n, ttl, &err)
                    : kat_batch_put_ttl(b, k.p, k.n, v.p, v.n, ttl, &err);
            break;
        default:
            st = KAT_INVALID_ARGUMENT;
            msg = "unknown batch operation";
        }
        kbytes_free(&k);
        kbytes_free(&v);
        if (st != KAT_OK) {
            napi_value ex = status_error(env, st, err, msg);
            kat_error_free(err);
            kat_batch_free(b);
            throw_value(env, ex);
            return NULL;
        }
    }
    if (!async) {
        req r;
        memset(&r, 0, sizeof r);
        r.op = OP_WRITE;
        r.h = h;
        r.batch = b;
        return run_sync(env, &r);
    }
    req *r = req_new(env, OP_WRITE, h, NULL);
    if (!r) {
        kat_batch_free(b);
        return NULL;
    }
    r->batch = b;
    return run_async(env, r);
}

static napi_value fn_write(napi_env env, napi_callback_info info)
{
    return write_call(env, info, true);
}

static napi_value fn_write_sync(napi_env env, napi_callback_info info)
{
    return write_call(env, info, false);
}

/* ------------------------------------------------------------------------------------ */
/* Keyspaces                                                                            */

/* keyspaceOpen(db, name) -> keyspace handle (sync) */
static napi_value fn_ks_open(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2) {
        throw_type(env, "keyspaceOpen(db, name) needs two arguments");
        return NULL;
    }
    kh *db = kh_unwrap(env, argv[0], K_DB);
    if (!db)
        return NULL;
    kbytes name;
    if (!get_bytes(env, argv[1], &name, "keyspace name"))
        return NULL;
    kat_keyspace *ks = NULL;
    kat_error *err = NULL;
    kat_status st = kat_keyspace_open(db->u.db, name.p, name.n, &ks, &err);
    kbytes_free(&name);
    if (st != KAT_OK) {
        napi_value e = status_error(env, st, err, NULL);
        kat_error_free(err);
        throw_value(env, e);
        return NULL;
    }
    kh *h = kh_new(K_KS, db, NULL, NULL);
    if (!h) {
        kat_keyspace_free(ks);
        throw_value(env, make_error(env, KAT_INTERNAL, "out of memory", false));
        return NULL;
    }
    h->u.ks = ks;
    return kh_wrap(env, h);
}

/* keyspaceDrop(db, name) */
static napi_value ks_drop(napi_env env, napi_callback_info info, bool async)
{
    size_t argc = 2;
    napi_value argv[2];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2) {
        throw_type(env, "keyspaceDrop(db, name) needs two arguments");
        return NULL;
    }
    kh *db = kh_unwrap(env, argv[0], K_DB);
    if (!db)
        return NULL;
    kbytes name;
    if (!get_bytes(env, argv[1], &name, "keyspace name"))
        return NULL;
    napi_value ret = NULL;
    if (!async) {
        req r;
        memset(&r, 0, sizeof r);
        r.op = OP_KS_DROP;
        r.h = db;
        r.key = name.p;
        r.klen = name.n;
        ret = run_sync(env, &r);
    } else {
        req *r = req_new(env, OP_KS_DROP, db, NULL);
        if (r) {
            if (own(env, r, &name, NULL))
                ret = run_async(env, r);
            else {
                release_targets(r);
                free(r);
            }
        }
    }
    kbytes_free(&name);
    return ret;
}

static napi_value fn_ks_drop(napi_env env, napi_callback_info info)
{
    return ks_drop(env, info, true);
}

static napi_value fn_ks_drop_sync(napi_env env, napi_callback_info info)
{
    return ks_drop(env, info, false);
}

/* ------------------------------------------------------------------------------------ */
/* Transactions                                                                         */

/* txnBegin(db, flags) -> transaction handle (sync: takes a snapshot, no I/O) */
static napi_value fn_txn_begin(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2)
        napi_get_undefined(env, &argv[1]);
    kh *db = kh_unwrap(env, argv[0], K_DB);
    if (!db)
        return NULL;
    uint32_t flags = (uint32_t)get_flags(env, argv[1]);
    kat_txn *txn = NULL;
    kat_error *err = NULL;
    kat_status st = kat_txn_begin(db->u.db, flags, &txn, &err);
    if (st != KAT_OK) {
        napi_value e = status_error(env, st, err, NULL);
        kat_error_free(err);
        throw_value(env, e);
        return NULL;
    }
    kh *h = kh_new(K_TXN, db, NULL, NULL);
    if (!h) {
        kat_txn_free(txn);
        throw_value(env, make_error(env, KAT_INTERNAL, "out of memory", false));
        return NULL;
    }
    h->u.txn = txn;
    return kh_wrap(env, h);
}

static napi_value commit_call(napi_env env, napi_callback_info info, bool async)
{
    size_t argc = 1;
    napi_value argv[1];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1)
        napi_get_undefined(env, &argv[0]);
    kh *h = kh_unwrap(env, argv[0], K_TXN);
    if (!h)
        return NULL;
    if (!async) {
        req r;
        memset(&r, 0, sizeof r);
        r.op = OP_COMMIT;
        r.h = h;
        return run_sync(env, &r);
    }
    req *r = req_new(env, OP_COMMIT, h, NULL);
    return r ? run_async(env, r) : NULL;
}

static napi_value fn_commit(napi_env env, napi_callback_info info)
{
    return commit_call(env, info, true);
}

static napi_value fn_commit_sync(napi_env env, napi_callback_info info)
{
    return commit_call(env, info, false);
}

/* abort(txn) (sync: discards buffered writes, no I/O) */
static napi_value fn_abort(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1)
        napi_get_undefined(env, &argv[0]);
    kh *h = kh_unwrap(env, argv[0], K_TXN);
    if (!h)
        return NULL;
    kat_error *err = NULL;
    lock(h);
    kat_status st = kat_txn_abort(h->u.txn, &err);
    unlock(h);
    if (st != KAT_OK) {
        napi_value e = status_error(env, st, err, NULL);
        kat_error_free(err);
        throw_value(env, e);
        return NULL;
    }
    napi_value u;
    napi_get_undefined(env, &u);
    return u;
}

/* ------------------------------------------------------------------------------------ */
/* Iterators                                                                            */

/* iterator(target, ks | null, prefix, start, end, reverse) -> iterator handle (sync) */
static napi_value fn_iter_new(napi_env env, napi_callback_info info)
{
    size_t argc = 6;
    napi_value argv[6];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    for (size_t i = argc; i < 6; i++)
        napi_get_undefined(env, &argv[i]);
    kh *t = kh_unwrap(env, argv[0], K_DB | K_KS | K_TXN);
    if (!t)
        return NULL;
    bool ok;
    kh *ks = kh_unwrap_opt(env, argv[1], K_KS, &ok);
    if (!ok)
        return NULL;
    if (ks && t->kind != K_TXN) {
        throw_type(env, "a keyspace argument is only for transaction calls");
        return NULL;
    }
    kbytes pre, start, end;
    bool has_pre, has_start, has_end;
    if (!get_bytes_opt(env, argv[2], &pre, &has_pre, "prefix"))
        return NULL;
    if (!get_bytes_opt(env, argv[3], &start, &has_start, "start")) {
        kbytes_free(&pre);
        return NULL;
    }
    if (!get_bytes_opt(env, argv[4], &end, &has_end, "end")) {
        kbytes_free(&pre);
        kbytes_free(&start);
        return NULL;
    }
    /* A set bound must have a non-NULL pointer even when empty. */
    kat_iter_opts o;
    memset(&o, 0, sizeof o);
    if (has_pre) {
        o.prefix = pre.p ? pre.p : EMPTY;
        o.prefix_len = pre.n;
    }
    if (has_start) {
        o.start = start.p ? start.p : EMPTY;
        o.start_len = start.n;
    }
    if (has_end) {
        o.end = end.p ? end.p : EMPTY;
        o.end_len = end.n;
    }
    o.flags = get_bool(env, argv[5]) ? KAT_ITER_REVERSE : 0;
    kat_iter *it = NULL;
    kat_error *err = NULL;
    kat_status st;
    switch (t->kind) {
    case K_DB:
        st = kat_iter_new(t->u.db, &o, &it, &err);
        break;
    case K_KS:
        st = kat_keyspace_iter_new(t->u.ks, &o, &it, &err);
        break;
    default:
        lock(t);
        st = ks ? kat_txn_iter_new_in(t->u.txn, ks->u.ks, &o, &it, &err)
                : kat_txn_iter_new(t->u.txn, &o, &it, &err);
        unlock(t);
    }
    kbytes_free(&pre);
    kbytes_free(&start);
    kbytes_free(&end);
    if (st != KAT_OK) {
        napi_value e = status_error(env, st, err, NULL);
        kat_error_free(err);
        throw_value(env, e);
        return NULL;
    }
    kh *db = t->kind == K_DB ? t : t->db;
    kh *h = kh_new(K_ITER, db, t->kind == K_DB ? NULL : t, ks);
    if (!h) {
        kat_iter_free(it);
        throw_value(env, make_error(env, KAT_INTERNAL, "out of memory", false));
        return NULL;
    }
    h->u.it = it;
    return kh_wrap(env, h);
}

/* iterNext(it, maxItems, maxBytes, flags) -> [k, v, ...] | undefined at the end */
static napi_value iter_next(napi_env env, napi_callback_info info, bool async)
{
    size_t argc = 4;
    napi_value argv[4];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    for (size_t i = argc; i < 4; i++)
        napi_get_undefined(env, &argv[i]);
    kh *h = kh_unwrap(env, argv[0], K_ITER);
    if (!h)
        return NULL;
    uint64_t items = 0, bytes = 0;
    if (!get_u64(env, argv[1], &items, "maxItems") || !get_u64(env, argv[2], &bytes, "maxBytes"))
        return NULL;
    if (items == 0)
        items = 1;
    int flags = get_flags(env, argv[3]);
    if (h->close_requested || !h->u.it) {
        throw_value(env, make_error(env, KAT_CLOSED, "the iterator is closed", false));
        return NULL;
    }
    if (!async) {
        req r;
        memset(&r, 0, sizeof r);
        r.op = OP_ITER_NEXT;
        r.h = h;
        r.max_items = (size_t)items;
        r.max_bytes = (size_t)bytes;
        r.flags = flags;
        return run_sync(env, &r);
    }
    req *r = req_new(env, OP_ITER_NEXT, h, NULL);
    if (!r)
        return NULL;
    r->max_items = (size_t)items;
    r->max_bytes = (size_t)bytes;
    r->flags = flags;
    return run_async(env, r);
}

static napi_value fn_iter_next(napi_env env, napi_callback_info info)
{
    return iter_next(env, info, true);
}

static napi_value fn_iter_next_sync(napi_env env, napi_callback_info info)
{
    return iter_next(env, info, false);
}

/* iterSeek(it, key) (sync) */
static napi_value fn_iter_seek(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 2) {
        throw_type(env, "iterSeek(it, key) needs two arguments");
        return NULL;
    }
    kh *h = kh_unwrap(env, argv[0], K_ITER);
    if (!h)
        return NULL;
    kbytes k;
    if (!get_bytes(env, argv[1], &k, "key"))
        return NULL;
    kat_error *err = NULL;
    kat_status st;
    const char *msg = NULL;
    lock(h);
    if (!h->u.it || h->close_requested) {
        st = KAT_CLOSED;
        msg = "the iterator is closed";
    } else {
        st = kat_iter_seek(h->u.it, k.p ? k.p : EMPTY, k.n, &err);
    }
    unlock(h);
    kbytes_free(&k);
    if (st != KAT_OK) {
        napi_value e = status_error(env, st, err, msg);
        kat_error_free(err);
        throw_value(env, e);
        return NULL;
    }
    napi_value u;
    napi_get_undefined(env, &u);
    return u;
}

/* iterPrev(it, steps) -> Buffer | undefined (sync). Calls kat_iter_prev `steps` (>= 1)
 * times, so index.js can move the C cursor back over entries it had fetched ahead, and
 * returns the entry of the last step in the kat_iter_next_batch layout (key length u32
 * LE, value length u32 LE, key, value), or undefined once a step finds nothing before. */
static napi_value fn_iter_prev(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    for (size_t i = argc; i < 2; i++)
        napi_get_undefined(env, &argv[i]);
    kh *h = kh_unwrap(env, argv[0], K_ITER);
    if (!h)
        return NULL;
    uint64_t steps = 0;
    if (!get_u64(env, argv[1], &steps, "steps"))
        return NULL;
    if (steps == 0)
        steps = 1;
    kat_error *err = NULL;
    kat_status st = KAT_OK;
    const char *msg = NULL;
    uint8_t *copy = NULL;
    size_t total = 0;
    lock(h);
    if (!h->u.it || h->close_requested) {
        st = KAT_CLOSED;
        msg = "the iterator is closed";
    } else {
        const uint8_t *k = NULL, *v = NULL;
        size_t kl = 0, vl = 0;
        for (uint64_t i = 0; i < steps && st == KAT_OK; i++)
            st = kat_iter_prev(h->u.it, &k, &kl, &v, &vl, &err);
        if (st == KAT_OK) {
            if (kl > 0xffffffffu || vl > 0xffffffffu) {
                st = KAT_TOO_LARGE;
                msg = "an entry too large for the iterator layout";
            } else {
                total = 8 + kl + vl;
                copy = malloc(total);
                if (!copy) {
                    st = KAT_INTERNAL;
                    msg = "out of memory";
                } else {
                    for (int b = 0; b < 4; b++) {
                        copy[b] = (uint8_t)(kl >> (8 * b));
                        copy[4 + b] = (uint8_t)(vl >> (8 * b));
                    }
                    if (kl)
                        memcpy(copy + 8, k, kl);
                    if (vl)
                        memcpy(copy + 8 + kl, v, vl);
                }
            }
        }
    }
    unlock(h);
    napi_value out;
    if (st == KAT_NOT_FOUND) {
        kat_error_free(err);
        napi_get_undefined(env, &out);
        return out;
    }
    if (st != KAT_OK) {
        napi_value e = status_error(env, st, err, msg);
        kat_error_free(err);
        throw_value(env, e);
        return NULL;
    }
    napi_status s = bytes_value(env, copy, total, false, &out);
    free(copy);
    if (s != napi_ok) {
        throw_value(env, make_error(env, KAT_INTERNAL, "could not create a Buffer", false));
        return NULL;
    }
    return out;
}

/* iterClose(it): frees the C iterator (and its snapshot) now, or when the fetches in
 * flight are done. The handle object stays; later calls fail with KAT_CLOSED. */
static napi_value fn_iter_close(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1)
        napi_get_undefined(env, &argv[0]);
    kh *h = kh_unwrap(env, argv[0], K_ITER);
    if (!h)
        return NULL;
    h->close_requested = true;
    if (h->busy == 0)
        iter_release_native(h);
    napi_value u;
    napi_get_undefined(env, &u);
    return u;
}

/* ------------------------------------------------------------------------------------ */
/* Module                                                                               */

/* setScratch(buffer): the scratch Buffer for sync gets (see kenv). */
static napi_value fn_set_scratch(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    kenv *ke;
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, (void **)&ke));
    bool is_buf = false;
    void *data = NULL;
    size_t len = 0;
    if (argc < 1 || napi_is_buffer(env, argv[0], &is_buf) != napi_ok || !is_buf ||
        napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) {
        throw_type(env, "setScratch needs a Buffer");
        return NULL;
    }
    if (ke->scratch_ref) {
        napi_delete_reference(env, ke->scratch_ref);
        ke->scratch_ref = NULL;
    }
    NAPI_CALL(env, napi_create_reference(env, argv[0], 1, &ke->scratch_ref));
    ke->scratch = data;
    ke->scratch_len = len;
    napi_value u;
    napi_get_undefined(env, &u);
    return u;
}

static napi_value fn_version(napi_env env, napi_callback_info info)
{
    (void)info;
    napi_value v;
    NAPI_CALL(env, napi_create_string_utf8(env, kat_version(), NAPI_AUTO_LENGTH, &v));
    return v;
}

static napi_value fn_status_string(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1], v;
    int32_t code = 0;
    NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
    if (argc < 1 || napi_get_value_int32(env, argv[0], &code) != napi_ok) {
        throw_type(env, "code must be a number");
        return NULL;
    }
    NAPI_CALL(env, napi_create_string_utf8(env, kat_status_str(code), NAPI_AUTO_LENGTH, &v));
    return v;
}

/* Closes every database of the environment still open (kat_db_close waits for calls in
 * flight), detaches them from the environment and frees the environment record. The
 * handles themselves are freed by their finalizers. */
static void env_cleanup(void *arg)
{
    kenv *ke = arg;
    if (ke->scratch_ref)
        napi_delete_reference(ke->env, ke->scratch_ref);
    kh *h = ke->head;
    while (h) {
        kh *next = h->next;
        kat_db_close(h->u.db, NULL);
        h->env = NULL;
        h->prev = h->next = NULL;
        h = next;
    }
    free(ke);
}

NAPI_MODULE_INIT()
{
    if (kat_version_number() != KAT_VERSION_NUMBER) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "katamari: the addon was built for library %d.%d.%d but loaded %s",
                 KAT_VERSION_MAJOR, KAT_VERSION_MINOR, KAT_VERSION_PATCH, kat_version());
        napi_throw_error(env, "KAT_VERSION_MISMATCH", msg);
        return NULL;
    }
    kenv *ke = calloc(1, sizeof *ke);
    if (!ke) {
        napi_throw_error(env, "KAT_INTERNAL", "katamari: out of memory");
        return NULL;
    }
    ke->env = env;
    if (napi_add_env_cleanup_hook(env, env_cleanup, ke) != napi_ok) {
        free(ke);
        napi_throw_error(env, "KAT_INTERNAL", "katamari: could not add a cleanup hook");
        return NULL;
    }

#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, ke}
    napi_property_descriptor props[] = {
        METHOD("version", fn_version),
        METHOD("setScratch", fn_set_scratch),
        METHOD("statusString", fn_status_string),
        METHOD("open", fn_open),
        METHOD("openAsync", fn_open_async),
        METHOD("close", fn_close),
        METHOD("closeSync", fn_close_sync),
        METHOD("get", fn_get),
        METHOD("getSync", fn_get_sync),
        METHOD("getMany", fn_get_many),
        METHOD("getManySync", fn_get_many_sync),
        METHOD("has", fn_has),
        METHOD("hasSync", fn_has_sync),
        METHOD("expiresAt", fn_expires_at),
        METHOD("expiresAtSync", fn_expires_at_sync),
        METHOD("put", fn_put),
        METHOD("putSync", fn_put_sync),
        METHOD("putTTL", fn_put_ttl),
        METHOD("putTTLSync", fn_put_ttl_sync),
        METHOD("del", fn_del),
        METHOD("delSync", fn_del_sync),
        METHOD("write", fn_write),
        METHOD("writeSync", fn_write_sync),
        METHOD("flush", fn_flush),
        METHOD("flushSync", fn_flush_sync),
        METHOD("stats", fn_stats),
        METHOD("statsSync", fn_stats_sync),
        METHOD("keyspaceOpen", fn_ks_open),
        METHOD("keyspaceDrop", fn_ks_drop),
        METHOD("keyspaceDropSync", fn_ks_drop_sync),
        METHOD("keyspaceList", fn_ks_list),
        METHOD("keyspaceListSync", fn_ks_list_sync),
        METHOD("merge", fn_merge),
        METHOD("mergeSync", fn_merge_sync),
        METHOD("backup", fn_backup),
        METHOD("backupSync", fn_backup_sync),
        METHOD("verify", fn_verify),
        METHOD("verifySync", fn_verify_sync),
        METHOD("txnBegin", fn_txn_begin),
        METHOD("commit", fn_commit),
        METHOD("commitSync", fn_commit_sync),
        METHOD("abort", fn_abort),
        METHOD("iterator", fn_iter_new),
        METHOD("iterNext", fn_iter_next),
        METHOD("iterNextSync", fn_iter_next_sync),
        METHOD("iterSeek", fn_iter_seek),
        METHOD("iterPrev", fn_iter_prev),
        METHOD("iterClose", fn_iter_close),
    };
#undef METHOD
    if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok)
        return NULL;

    napi_value num;
    if (napi_create_uint32(env, KAT_VERSION_NUMBER, &num) == napi_ok)
        napi_set_named_property(env, exports, "headerVersionNumber", num);
    if (napi_create_uint32(env, kat_version_number(), &num) == napi_ok)
        napi_set_named_property(env, exports, "versionNumber", num);
    return exports;
}
