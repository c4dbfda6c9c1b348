//go:build katamari_bench

package katamari

// Native baselines for the benchmarks (build tag katamari_bench): the same operations
// run in a C loop, one cgo crossing for the whole loop, so the difference to the Go
// benchmark is exactly the binding's cost per call.

/*
#include "katamari_go.h"

static uint64_t kat_go_splitmix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Gets keys[i % nkeys] (16 bytes each) iters times; copies each value out and frees it.
static kat_status kat_go_bench_get(kat_db *db, const uint8_t *keys, size_t nkeys,
                                   size_t iters, size_t *total) {
    size_t i;
    for (i = 0; i < iters; i++) {
        kat_buf b = {NULL, 0};
        kat_status st = kat_db_get(db, keys + (i % nkeys) * 16, 16, &b, NULL);
        if (st != KAT_OK)
            return st;
        *total += b.len;
        kat_buf_free(&b);
    }
    return KAT_OK;
}

// Puts iters fresh 16-byte keys (the Go benchmark's key function) with 100-byte values.
static kat_status kat_go_bench_put(kat_db *db, uint64_t seed, uint64_t first, size_t iters) {
    uint8_t k[16], v[100] = {0};
    size_t i;
    for (i = 0; i < iters; i++) {
        uint64_t n = first + i, a = kat_go_splitmix(seed ^ kat_go_splitmix(n)),
                 b = kat_go_splitmix(seed + n);
        int j;
        for (j = 0; j < 8; j++) {
            k[j] = (uint8_t)(a >> (8 * j));
            k[8 + j] = (uint8_t)(b >> (8 * j));
        }
        kat_status st = kat_db_put(db, k, 16, v, 100, NULL);
        if (st != KAT_OK)
            return st;
    }
    return KAT_OK;
}
// Scans the whole database with kat_iter_next_batch (1,024 entries or 1 MiB per call,
// as the Go iterator's largest batches) and returns the number of entries.
static kat_status kat_go_bench_scan(kat_db *db, size_t *entries) {
    kat_iter *it = NULL;
    kat_status st = kat_iter_new(db, NULL, &it, NULL);
    if (st != KAT_OK)
        return st;
    for (;;) {
        kat_buf b = {NULL, 0};
        size_t n = 0;
        st = kat_iter_next_batch(it, 1024, 1 << 20, &b, &n, NULL);
        if (st != KAT_OK)
            break;
        *entries += n;
        kat_buf_free(&b);
    }
    kat_iter_free(it);
    return st == KAT_NOT_FOUND ? KAT_OK : st;
}
*/
import "C"

import "runtime"

// nativeGet runs the C get loop over keys (16 bytes each, concatenated).
func nativeGet(db *DB, keys []byte, iters int) (int, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var total C.size_t
	st := C.kat_go_bench_get(db.h, bytesPtr(keys), C.size_t(len(keys)/16), C.size_t(iters), &total)
	runtime.KeepAlive(db)
	return int(total), statusError("bench_get", st, nil)
}

// nativePut runs the C put loop.
func nativePut(db *DB, seed, first uint64, iters int) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	st := C.kat_go_bench_put(db.h, C.uint64_t(seed), C.uint64_t(first), C.size_t(iters))
	runtime.KeepAlive(db)
	return statusError("bench_put", st, nil)
}

// nativeScan runs the C full-scan loop and returns the number of entries.
func nativeScan(db *DB) (int, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var n C.size_t
	st := C.kat_go_bench_scan(db.h, &n)
	runtime.KeepAlive(db)
	return int(n), statusError("bench_scan", st, nil)
}
