// header_cpp.cpp: katamari.h used from C++17 (g++ -std=c++17 -Wall -Wextra -Werror
// -pedantic). The declarations must have C linkage (the header's extern "C" block), or
// this program does not link against libkatamari.so. Run with a fresh directory as
// argv[1]; prints "header_cpp: ok" on success.
#include "katamari.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#define REQUIRE(cond)                                                                 \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,     \
                         #cond);                                                      \
            std::exit(1);                                                             \
        }                                                                             \
    } while (0)

static_assert(sizeof(kat_status) == 4, "kat_status is int32_t");
static_assert(sizeof(kat_buf) == 2 * sizeof(void *), "kat_buf is {pointer, size_t}");
static_assert(KAT_VERSION_NUMBER ==
                  KAT_VERSION_MAJOR * 1000000 + KAT_VERSION_MINOR * 1000 + KAT_VERSION_PATCH,
              "version macros agree");

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <directory>\n", argv[0]);
        return 2;
    }
    REQUIRE(kat_version_number() == KAT_VERSION_NUMBER);
    REQUIRE(std::string(kat_status_str(KAT_OK)) != "unknown status");
    REQUIRE(std::string(kat_status_str(-1)) == "unknown status");

    kat_options *opts = nullptr;
    REQUIRE(kat_options_new(&opts) == KAT_OK);
    REQUIRE(kat_options_set_sync(opts, KAT_SYNC_NEVER, 0) == KAT_OK);

    const std::string path = std::string(argv[1]) + "/cpp-db";
    kat_db *db = nullptr;
    kat_error *err = nullptr;
    REQUIRE(kat_db_open(path.c_str(), opts, &db, &err) == KAT_OK);
    REQUIRE(db != nullptr && err == nullptr);
    kat_options_free(opts);

    const std::string key = "from C++", val = "with C linkage";
    REQUIRE(kat_db_put(db, reinterpret_cast<const uint8_t *>(key.data()), key.size(),
                       reinterpret_cast<const uint8_t *>(val.data()), val.size(),
                       &err) == KAT_OK);
    kat_buf out = {nullptr, 0};
    REQUIRE(kat_db_get(db, reinterpret_cast<const uint8_t *>(key.data()), key.size(), &out,
                       &err) == KAT_OK);
    REQUIRE(std::string(reinterpret_cast<const char *>(out.data), out.len) == val);
    kat_buf_free(&out);

    REQUIRE(kat_db_close(db, &err) == KAT_OK);
    REQUIRE(kat_db_put(db, nullptr, 0, nullptr, 0, &err) == KAT_CLOSED);
    REQUIRE(err != nullptr && kat_error_code(err) == KAT_CLOSED);
    kat_error_free(err);
    kat_db_free(db);

    std::printf("header_cpp: ok\n");
    return 0;
}
