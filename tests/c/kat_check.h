/*
 * kat_check.h: the tiny assertion helpers shared by the C test programs in tests/c.
 *
 * Each program is built by tests/c_api.rs (C99, -Wall -Wextra -Werror -pedantic) against
 * libkatamari.so and run with a fresh, empty temporary directory as argv[1]. A failed
 * check prints file:line and what went wrong, then exits with status 1. Include this
 * header first: it selects POSIX.1-2008 for the few POSIX calls the tests make (stat,
 * opendir/readdir).
 */
#ifndef KAT_CHECK_H
#define KAT_CHECK_H

#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "katamari.h"

/* Number of checks passed so far; printed by CHECK_DONE. */
static unsigned long kat_checks_passed;

#define KAT_FAIL_AT(...)                                                             \
    do {                                                                             \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                              \
        fprintf(stderr, __VA_ARGS__);                                                \
        fputc('\n', stderr);                                                         \
        exit(1);                                                                     \
    } while (0)

/* Asserts a condition. */
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond))                                                                 \
            KAT_FAIL_AT("check failed: %s", #cond);                                  \
        ++kat_checks_passed;                                                         \
    } while (0)

/* Asserts that `expr` returns the status `want` (for calls without an error object). */
#define CHECK_STATUS(expr, want)                                                     \
    do {                                                                             \
        kat_status got_ = (expr);                                                    \
        kat_status want_ = (want);                                                   \
        if (got_ != want_)                                                           \
            KAT_FAIL_AT("%s returned %d (%s), expected %d (%s)", #expr, (int)got_,   \
                        kat_status_str(got_), (int)want_, kat_status_str(want_));    \
        ++kat_checks_passed;                                                         \
    } while (0)

/* Asserts that `expr` succeeds and leaves the error object `err` (a kat_error *
 * variable passed to the call as &err) NULL. On failure prints the error's message. */
#define CHECK_OK(expr, err)                                                          \
    do {                                                                             \
        kat_status got_ = (expr);                                                    \
        if (got_ != KAT_OK)                                                          \
            KAT_FAIL_AT("%s returned %d (%s): %s", #expr, (int)got_,                 \
                        kat_status_str(got_), kat_error_message(err));               \
        if ((err) != NULL)                                                           \
            KAT_FAIL_AT("%s succeeded but set an error object", #expr);              \
        ++kat_checks_passed;                                                         \
    } while (0)

/* Asserts that `expr` returns KAT_NOT_FOUND and, as the header promises, makes no error
 * object. */
#define CHECK_NOT_FOUND(expr, err)                                                   \
    do {                                                                             \
        kat_status got_ = (expr);                                                    \
        if (got_ != KAT_NOT_FOUND)                                                   \
            KAT_FAIL_AT("%s returned %d (%s), expected KAT_NOT_FOUND: %s", #expr,    \
                        (int)got_, kat_status_str(got_), kat_error_message(err));    \
        if ((err) != NULL)                                                           \
            KAT_FAIL_AT("%s made an error object for KAT_NOT_FOUND", #expr);         \
        ++kat_checks_passed;                                                         \
    } while (0)

/* Asserts that `expr` fails with `want` and sets `err` to an error object carrying the
 * same code and a non-empty message; then frees the error and resets `err` to NULL. */
#define CHECK_FAIL(expr, want, err)                                                  \
    do {                                                                             \
        kat_status got_ = (expr);                                                    \
        kat_status want_ = (want);                                                   \
        if (got_ != want_)                                                           \
            KAT_FAIL_AT("%s returned %d (%s), expected %d (%s): %s", #expr,          \
                        (int)got_, kat_status_str(got_), (int)want_,                 \
                        kat_status_str(want_), kat_error_message(err));              \
        if ((err) == NULL)                                                           \
            KAT_FAIL_AT("%s failed without an error object", #expr);                 \
        if (kat_error_code(err) != want_)                                            \
            KAT_FAIL_AT("%s: error object carries %d, expected %d", #expr,           \
                        (int)kat_error_code(err), (int)want_);                       \
        if (kat_error_message(err) == NULL || kat_error_message(err)[0] == '\0')     \
            KAT_FAIL_AT("%s: error object has an empty message", #expr);             \
        kat_error_free(err);                                                         \
        (err) = NULL;                                                                \
        ++kat_checks_passed;                                                         \
    } while (0)

/* Asserts that a kat_buf holds exactly `len` bytes equal to `bytes`. */
#define CHECK_BUF(buf, bytes, n)                                                     \
    do {                                                                             \
        size_t n_ = (n);                                                             \
        if ((buf).len != n_)                                                         \
            KAT_FAIL_AT("%s has %lu bytes, expected %lu", #buf,                      \
                        (unsigned long)(buf).len, (unsigned long)n_);                \
        if (n_ > 0 && ((buf).data == NULL || memcmp((buf).data, (bytes), n_) != 0))  \
            KAT_FAIL_AT("%s does not hold the expected bytes", #buf);                \
        ++kat_checks_passed;                                                         \
    } while (0)

/* Prints the summary line the Rust runner looks for and returns 0 from main. */
#define CHECK_DONE(name)                                                             \
    do {                                                                             \
        printf("%s: %lu checks passed\n", (name), kat_checks_passed);                \
        return 0;                                                                    \
    } while (0)

/* Key/value helpers for NUL-terminated text. */
#define K(s) ((const uint8_t *)(s)), strlen(s)

/* Writes "<dir>/<name>" into buf (of size n); fails the test if it does not fit. */
static inline const char *kat_path(char *buf, size_t n, const char *dir, const char *name)
{
    int w = snprintf(buf, n, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= n) {
        fprintf(stderr, "path too long: %s/%s\n", dir, name);
        exit(1);
    }
    return buf;
}

/* Whether `path` exists (as anything). */
static inline int kat_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Returns argv[1] or exits with a usage message. */
static inline const char *kat_dir_arg(int argc, char **argv)
{
    if (argc != 2 || !kat_exists(argv[1])) {
        fprintf(stderr, "usage: %s <existing empty directory>\n", argc > 0 ? argv[0] : "test");
        exit(2);
    }
    return argv[1];
}

/* Opens the database in `path` with `opts` (may be NULL), failing the test on error. */
static inline kat_db *kat_open_or_die(const char *file, int line, const char *path,
                                      const kat_options *opts)
{
    kat_db *db = NULL;
    kat_error *err = NULL;
    kat_status s = kat_db_open(path, opts, &db, &err);
    if (s != KAT_OK || db == NULL || err != NULL) {
        fprintf(stderr, "%s:%d: kat_db_open(%s) returned %d (%s): %s\n", file, line, path,
                (int)s, kat_status_str(s), kat_error_message(err));
        exit(1);
    }
    ++kat_checks_passed;
    return db;
}
#define OPEN(path, opts) kat_open_or_die(__FILE__, __LINE__, (path), (opts))

/* Closes and frees a database, failing the test if close reports an error. */
static inline void kat_close_or_die(const char *file, int line, kat_db *db)
{
    kat_error *err = NULL;
    kat_status s = kat_db_close(db, &err);
    if (s != KAT_OK || err != NULL) {
        fprintf(stderr, "%s:%d: kat_db_close returned %d (%s): %s\n", file, line, (int)s,
                kat_status_str(s), kat_error_message(err));
        exit(1);
    }
    kat_db_free(db);
    ++kat_checks_passed;
}
#define CLOSE(db) kat_close_or_die(__FILE__, __LINE__, (db))

#endif /* KAT_CHECK_H */
