/*
 * katamari_go.h: small C helpers for the Go binding. They keep every cgo call flat
 * (pointer + length arguments only): structs that would hold Go pointers are built
 * here, on the C stack, so no Go pointer is ever stored in memory handed to C.
 */
#ifndef KATAMARI_GO_H
#define KATAMARI_GO_H

#include <stdlib.h>
#include "katamari.h"

/* What an iterator is opened on. */
enum { KAT_GO_ON_DB = 0, KAT_GO_ON_TXN = 1, KAT_GO_ON_KS = 2, KAT_GO_ON_TXN_KS = 3 };

/* Builds kat_iter_opts from flat arguments (a NULL pointer leaves the bound unset) and
   opens the iterator on the handle(s) chosen by `on`. */
static inline kat_status kat_go_iter_new(int on, kat_db *db, kat_txn *txn,
                                         kat_keyspace *ks, const uint8_t *prefix,
                                         size_t prefix_len, const uint8_t *start,
                                         size_t start_len, const uint8_t *end,
                                         size_t end_len, uint32_t flags, kat_iter **out,
                                         kat_error **err)
{
    kat_iter_opts o;
    o.prefix = prefix;
    o.prefix_len = prefix_len;
    o.start = start;
    o.start_len = start_len;
    o.end = end;
    o.end_len = end_len;
    o.flags = flags;
    switch (on) {
    case KAT_GO_ON_TXN:
        return kat_txn_iter_new(txn, &o, out, err);
    case KAT_GO_ON_KS:
        return kat_keyspace_iter_new(ks, &o, out, err);
    case KAT_GO_ON_TXN_KS:
        return kat_txn_iter_new_in(txn, ks, &o, out, err);
    default:
        return kat_iter_new(db, &o, out, err);
    }
}

/* Calls kat_iter_prev `n` (>= 1) times in one crossing; the views of the last step are
   returned. Used to move the C cursor back over entries the binding had prefetched. */
static inline kat_status kat_go_iter_prev_n(kat_iter *it, size_t n, const uint8_t **key,
                                            size_t *key_len, const uint8_t **val,
                                            size_t *val_len, kat_error **err)
{
    kat_status s = KAT_OK;
    size_t i;
    for (i = 0; i < n; i++) {
        s = kat_iter_prev(it, key, key_len, val, val_len, err);
        if (s != KAT_OK)
            return s;
    }
    return s;
}

#endif /* KATAMARI_GO_H */
