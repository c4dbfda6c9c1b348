// wrapper.cpp: tests of the C++ wrappers in bindings/c/katamari.hpp.
//
// Built with g++ -std=c++17 (and -std=c++20) -Wall -Wextra -Werror -pedantic against
// libkatamari by tests/cpp_wrapper.rs and by the CMake consumer (scripts/test-cmake.sh).
// Run with a fresh, empty directory as argv[1]; prints "wrapper: N checks passed".
#include "katamari.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__has_include)
#if __has_include(<version>)
#include <version>
#endif
#endif
#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
#include <span>
#endif

namespace {

unsigned long checks = 0;

#define REQUIRE(cond)                                                                   \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                               \
        }                                                                               \
        ++checks;                                                                       \
    } while (0)

// Runs `body` and requires it to throw katamari::Error with status `code`.
#define REQUIRE_THROWS(want, body)                                                      \
    do {                                                                                \
        bool thrown_ = false;                                                           \
        try {                                                                           \
            body;                                                                       \
        } catch (const katamari::Error &e_) {                                           \
            thrown_ = true;                                                             \
            if (e_.code() != (want)) {                                                  \
                std::fprintf(stderr, "%s:%d: %s threw %s (%s), expected %s\n", __FILE__, \
                             __LINE__, #body, katamari::status_name(e_.code()), e_.what(), \
                             katamari::status_name(want));                              \
                std::exit(1);                                                           \
            }                                                                           \
        }                                                                               \
        if (!thrown_) {                                                                 \
            std::fprintf(stderr, "%s:%d: %s did not throw\n", __FILE__, __LINE__, #body); \
            std::exit(1);                                                               \
        }                                                                               \
        ++checks;                                                                       \
    } while (0)

// Handles are move-only.
static_assert(!std::is_copy_constructible_v<katamari::Db>, "Db is move-only");
static_assert(!std::is_copy_assignable_v<katamari::Db>, "Db is move-only");
static_assert(std::is_nothrow_move_constructible_v<katamari::Db>, "Db moves");
static_assert(std::is_nothrow_move_assignable_v<katamari::Db>, "Db moves");
static_assert(!std::is_copy_constructible_v<katamari::Txn>, "Txn is move-only");
static_assert(std::is_nothrow_move_constructible_v<katamari::Txn>, "Txn moves");
static_assert(!std::is_copy_constructible_v<katamari::Iter>, "Iter is move-only");
static_assert(std::is_nothrow_move_constructible_v<katamari::Iter>, "Iter moves");
static_assert(!std::is_copy_constructible_v<katamari::Batch>, "Batch is move-only");
static_assert(!std::is_copy_constructible_v<katamari::Keyspace>, "Keyspace is move-only");
static_assert(!std::is_copy_constructible_v<katamari::Options>, "Options is move-only");
static_assert(std::is_base_of_v<std::runtime_error, katamari::Error>, "Error is runtime_error");
// BytesView takes byte containers but not containers of wider elements.
static_assert(std::is_convertible_v<std::string, katamari::BytesView>, "string");
static_assert(std::is_convertible_v<std::vector<std::byte>, katamari::BytesView>, "bytes");
static_assert(std::is_convertible_v<std::vector<unsigned char>, katamari::BytesView>, "u8");
static_assert(!std::is_convertible_v<std::vector<int>, katamari::BytesView>, "no ints");
static_assert(!std::is_convertible_v<std::vector<bool>, katamari::BytesView>, "no bools");

std::string sub(const std::string &dir, const char *name) { return dir + "/" + name; }

std::vector<std::pair<std::string, std::string>> all(katamari::Iter it)
{
    return it.collect();
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

void basics(const std::string &dir)
{
    katamari::Db db = katamari::Db::open(sub(dir, "basics"));
    REQUIRE(static_cast<bool>(db));
    REQUIRE(katamari::library_matches_header());
    REQUIRE(katamari::version_number() == KAT_VERSION_NUMBER);
    REQUIRE(!katamari::version().empty());

    db.put("k", "v");
    REQUIRE(db.get("k") == std::optional<std::string>("v"));
    REQUIRE(db.contains("k"));

    // Missing and empty stay distinct.
    REQUIRE(!db.get("missing").has_value());
    REQUIRE(!db.get_bytes("missing").has_value());
    REQUIRE(!db.contains("missing"));
    db.put("empty", "");
    REQUIRE(db.get("empty").has_value());
    REQUIRE(db.get("empty")->empty());
    REQUIRE(db.get_bytes("empty").has_value() && db.get_bytes("empty")->empty());
    REQUIRE(db.contains("empty"));

    // Binary keys and values with NUL and 0xFF bytes, through every input form.
    const std::string bin_key("\x00\xff\x00", 3);
    const std::vector<std::byte> bin_val{std::byte{0}, std::byte{0xff}, std::byte{0x7f}};
    db.put(bin_key, bin_val);
    REQUIRE(db.get_bytes(bin_key) == std::optional<std::vector<std::byte>>(bin_val));
    REQUIRE(db.get(bin_key) == std::optional<std::string>(std::string("\x00\xff\x7f", 3)));
    const std::array<unsigned char, 2> arr{{0x01, 0x02}};
    db.put(arr, katamari::BytesView("raw\0bytes", 9));
    REQUIRE(db.get(std::string("\x01\x02", 2)) == std::optional<std::string>(std::string("raw\0bytes", 9)));
    const std::string_view sv = "view-key";
    db.put(sv, std::vector<char>{'x', 'y'});
    REQUIRE(db.get(std::string("view-key")) == std::optional<std::string>("xy"));
#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
    const std::span<const std::byte> span(bin_val);
    db.put("span", span);
    REQUIRE(db.get_bytes("span") == std::optional<std::vector<std::byte>>(bin_val));
#endif

    db.remove("k");
    REQUIRE(!db.get("k").has_value());
    db.remove("never-there"); // removing an absent key is fine

    // The 64 KiB key limit: KAT_TOO_LARGE, nothing written.
    const std::string max_key(64 * 1024, 'k');
    db.put(max_key, "ok");
    REQUIRE(db.get(max_key) == std::optional<std::string>("ok"));
    const std::string big_key(64 * 1024 + 1, 'k');
    REQUIRE_THROWS(KAT_TOO_LARGE, db.put(big_key, "no"));
    try {
        (void)db.get(big_key);
    } catch (const katamari::Error &e) {
        REQUIRE(e.code() == KAT_TOO_LARGE || e.code() == KAT_INVALID_ARGUMENT);
    }

    // Errors carry code, status text and the library's message.
    try {
        db.put(big_key, "no");
        REQUIRE(false);
    } catch (const katamari::Error &e) {
        REQUIRE(e.code() == KAT_TOO_LARGE);
        REQUIRE(std::string(e.status_str()) == kat_status_str(KAT_TOO_LARGE));
        REQUIRE(std::string(e.what()).find("kat_db_put") != std::string::npos);
        REQUIRE(std::string(katamari::status_name(e.code())) == "KAT_TOO_LARGE");
    } catch (const std::runtime_error &) {
        REQUIRE(false);
    }

    // TTL (a long one is still there; a 1 ms one is gone soon after).
    db.put_ttl("lasting", "v", std::chrono::minutes(10));
    REQUIRE(db.get("lasting") == std::optional<std::string>("v"));
    db.put_ttl("ephemeral", "soon gone", std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(!db.get("ephemeral").has_value());
    REQUIRE(!db.contains("ephemeral"));

    db.sync();
    const kat_stats st = db.stats();
    REQUIRE(st.live_keys >= 5);
    REQUIRE(st.segments >= 1);

    db.close();
    db.close(); // closing twice is fine
    REQUIRE_THROWS(KAT_CLOSED, db.put("k", "v"));
    REQUIRE_THROWS(KAT_CLOSED, (void)db.get("k"));
}

void options_and_reopen(const std::string &dir)
{
    const std::string path = sub(dir, "reopen");
    {
        katamari::Options opts;
        opts.segment_size(1024).sync(katamari::Sync::Never);
        katamari::Db db = katamari::Db::open(path, opts);
        for (int i = 0; i < 200; ++i)
            db.put("key" + std::to_string(i), std::string(40, static_cast<char>('a' + i % 26)));
        REQUIRE(db.stats().segments > 1);
    } // destructor closes
    {
        katamari::Db db = katamari::Db::open(path, katamari::Options().segment_size(1024));
        REQUIRE(db.get("key0") == std::optional<std::string>(std::string(40, 'a')));
        REQUIRE(db.get("key199") == std::optional<std::string>(std::string(40, static_cast<char>('a' + 199 % 26))));
        // A second open of the same directory is KAT_LOCKED.
        REQUIRE_THROWS(KAT_LOCKED, katamari::Db::open(path));
    }
    // Interval sync and invalid settings.
    {
        katamari::Db db = katamari::Db::open(
            sub(dir, "interval"), katamari::Options().sync_interval(std::chrono::milliseconds(5)));
        db.put("a", "b");
        REQUIRE(db.get("a") == std::optional<std::string>("b"));
    }
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, katamari::Options().segment_size(1));
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT,
                   katamari::Options().sync(static_cast<katamari::Sync>(99)));
    // create_if_missing(false) on a missing directory fails; salvage is accepted.
    bool failed = false;
    try {
        katamari::Db::open(sub(dir, "absent"), katamari::Options().create_if_missing(false));
    } catch (const katamari::Error &e) {
        failed = e.code() != KAT_OK;
    }
    REQUIRE(failed);
    katamari::Db salvaged = katamari::Db::open(path, katamari::Options().salvage(true));
    REQUIRE(salvaged.contains("key7"));
}

void moves(const std::string &dir)
{
    katamari::Db a = katamari::Db::open(sub(dir, "moves"));
    a.put("x", "1");
    katamari::Db b = std::move(a);
    REQUIRE(!a); // NOLINT: moved-from state is specified
    REQUIRE(b.get("x") == std::optional<std::string>("1"));
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, a.put("x", "2"));
    katamari::Db c;
    c = std::move(b);
    REQUIRE(c.get("x") == std::optional<std::string>("1"));
    c = katamari::Db::open(sub(dir, "moves2")); // the old database closes
    katamari::Db d = katamari::Db::open(sub(dir, "moves")); // so it can open again
    REQUIRE(d.get("x") == std::optional<std::string>("1"));

    katamari::Txn t1 = d.begin_txn();
    t1.put("y", "2");
    katamari::Txn t2 = std::move(t1);
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, t1.put("z", "3"));
    t2.commit();
    REQUIRE(d.get("y") == std::optional<std::string>("2"));

    katamari::Options o1;
    katamari::Options o2 = std::move(o1);
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, o1.segment_size(4096));
    o2.segment_size(4096);
}

void batches(const std::string &dir)
{
    katamari::Db db = katamari::Db::open(sub(dir, "batch"));
    db.put("gone", "x");
    katamari::Batch b;
    REQUIRE(b.empty());
    b.put("a", "1").put("b", "2").remove("gone").put_ttl("t", "v", std::chrono::minutes(5));
    REQUIRE(b.size() == 4);
    db.write(b);
    REQUIRE(db.get("a") == std::optional<std::string>("1"));
    REQUIRE(db.get("b") == std::optional<std::string>("2"));
    REQUIRE(db.get("t") == std::optional<std::string>("v"));
    REQUIRE(!db.contains("gone"));
    REQUIRE(b.size() == 4); // the batch is left as it was
    b.clear();
    REQUIRE(b.size() == 0);
    db.write(b); // an empty batch writes nothing

    // A too-large key is refused when added; the batch keeps what it had.
    b.put("c", "3");
    REQUIRE_THROWS(KAT_TOO_LARGE, b.put(std::string(64 * 1024 + 1, 'x'), "v"));
    REQUIRE(b.size() == 1);

    katamari::Keyspace ks = db.keyspace("other");
    b.put(ks, "a", "in-ks").remove(ks, "nothing");
    db.write(b);
    REQUIRE(ks.get("a") == std::optional<std::string>("in-ks"));
    REQUIRE(db.get("a") == std::optional<std::string>("1"));
    REQUIRE(db.get("c") == std::optional<std::string>("3"));
}

void transactions(const std::string &dir)
{
    katamari::Db db = katamari::Db::open(sub(dir, "txn"));
    db.put("balance", "100");

    // Snapshot reads and own writes.
    {
        katamari::Txn t = db.begin_txn();
        db.put("balance", "200"); // after the snapshot
        REQUIRE(t.get("balance") == std::optional<std::string>("100"));
        t.put("mine", "yes");
        REQUIRE(t.get("mine") == std::optional<std::string>("yes"));
        REQUIRE(t.contains("mine"));
        REQUIRE(!db.contains("mine"));
        t.remove("mine");
        REQUIRE(!t.get("mine").has_value());
        REQUIRE(!t.get_bytes("mine").has_value());
        t.put("empty", "");
        REQUIRE(t.get("empty").has_value() && t.get("empty")->empty());
        t.put_ttl("ttl", "v", std::chrono::minutes(1));
        t.commit();
    }
    REQUIRE(db.get("empty") == std::optional<std::string>(""));
    REQUIRE(db.get("ttl") == std::optional<std::string>("v"));

    // Lost update: the second committer gets KAT_CONFLICT and writes nothing.
    {
        katamari::Txn a = db.begin_txn();
        katamari::Txn b = db.begin_txn();
        REQUIRE(a.get("balance") == std::optional<std::string>("200"));
        REQUIRE(b.get("balance") == std::optional<std::string>("200"));
        a.put("balance", "210");
        b.put("balance", "220");
        b.put("side", "effect");
        a.commit();
        REQUIRE_THROWS(KAT_CONFLICT, b.commit());
    }
    REQUIRE(db.get("balance") == std::optional<std::string>("210"));
    REQUIRE(!db.contains("side"));

    // Destruction aborts an unfinished transaction.
    {
        katamari::Txn t = db.begin_txn();
        t.put("dropped", "x");
    }
    REQUIRE(!db.contains("dropped"));
    {
        katamari::Txn t = db.begin_txn();
        t.put("aborted", "x");
        t.abort();
        t.abort(); // aborting an ended transaction is fine
    }
    REQUIRE(!db.contains("aborted"));

    // Read-only and serializable.
    {
        katamari::Txn ro = db.begin_txn(katamari::txn_read_only);
        REQUIRE(ro.get("balance") == std::optional<std::string>("210"));
        REQUIRE_THROWS(KAT_READ_ONLY, ro.put("x", "y"));
        REQUIRE_THROWS(KAT_READ_ONLY, ro.remove("balance"));
        ro.commit();
    }
    db.put("x", "0");
    db.put("y", "0");
    {
        katamari::Txn a = db.begin_txn(katamari::txn_serializable);
        katamari::Txn b = db.begin_txn(katamari::txn_serializable);
        (void)a.get("x");
        (void)a.get("y");
        (void)b.get("x");
        (void)b.get("y");
        a.put("x", "1");
        b.put("y", "1");
        a.commit();
        REQUIRE_THROWS(KAT_CONFLICT, b.commit());
    }
    REQUIRE(db.get("y") == std::optional<std::string>("0"));

    // Transactions in keyspaces.
    katamari::Keyspace ks = db.keyspace("accounts");
    ks.put("alice", "5");
    {
        katamari::Txn t = db.begin_txn();
        REQUIRE(t.get(ks, "alice") == std::optional<std::string>("5"));
        REQUIRE(!t.get(ks, "balance").has_value());
        t.put(ks, "bob", "7");
        t.remove(ks, "alice");
        REQUIRE(t.get_bytes(ks, "bob").has_value());
        REQUIRE(all(t.iter(ks)) == (Pairs{{"bob", "7"}}));
        t.commit();
    }
    REQUIRE(!ks.contains("alice"));
    REQUIRE(ks.get("bob") == std::optional<std::string>("7"));
}

void iterators(const std::string &dir)
{
    katamari::Db db = katamari::Db::open(sub(dir, "iter"));
    const std::map<std::string, std::string> data{
        {"a", "1"}, {"b:1", "2"}, {"b:2", "3"}, {std::string("b:\xff", 3), "4"}, {"c", ""}};
    for (const auto &[k, v] : data)
        db.put(k, v);

    // Range-for over everything, ascending, with views.
    Pairs seen;
    for (const katamari::Entry &e : db.iter())
        seen.emplace_back(std::string(e.key), std::string(e.value));
    REQUIRE(seen == Pairs(data.begin(), data.end()));

    // Prefix (including a 0xFF byte after it), range, reverse.
    REQUIRE(all(db.iter(katamari::IterOptions().prefix("b:"))) ==
            (Pairs{{"b:1", "2"}, {"b:2", "3"}, {std::string("b:\xff", 3), "4"}}));
    REQUIRE(all(db.iter(katamari::IterOptions().start("b").end("c"))) ==
            (Pairs{{"b:1", "2"}, {"b:2", "3"}, {std::string("b:\xff", 3), "4"}}));
    REQUIRE(all(db.iter(katamari::IterOptions().prefix("b:").reverse())) ==
            (Pairs{{std::string("b:\xff", 3), "4"}, {"b:2", "3"}, {"b:1", "2"}}));
    REQUIRE(all(db.iter(katamari::IterOptions().prefix("zzz"))).empty());
    REQUIRE(all(db.iter(katamari::IterOptions().prefix(""))).size() == data.size());

    // Manual stepping, prev and seek.
    katamari::Iter it = db.iter();
    REQUIRE(!it.valid());
    REQUIRE(it.next() && it.key() == "a" && it.value() == "1");
    REQUIRE(it.next() && it.key() == "b:1");
    REQUIRE(it.prev() && it.key() == "a");
    it.seek("b:2");
    REQUIRE(!it.valid());
    REQUIRE(it.next() && it.key() == "b:2" && it.entry().value == "3");
    it.seek("c");
    REQUIRE(it.next() && it.key() == "c" && it.value().empty());
    REQUIRE(!it.next());
    REQUIRE(!it.valid());

    // The iterator sees its snapshot, not later writes.
    katamari::Iter snap = db.iter();
    db.put("d", "later");
    REQUIRE(all(std::move(snap)).size() == data.size());

    // Transaction iterators see the transaction's own writes.
    katamari::Txn t = db.begin_txn();
    t.put("b:3", "own");
    t.remove("a");
    REQUIRE(all(t.iter(katamari::IterOptions().prefix("b:"))) ==
            (Pairs{{"b:1", "2"}, {"b:2", "3"}, {"b:3", "own"}, {std::string("b:\xff", 3), "4"}}));
    REQUIRE(all(t.iter(katamari::IterOptions().end("b"))).empty());
    t.abort();

    // Keyspace iterators.
    katamari::Keyspace ks = db.keyspace("ks");
    ks.put("k1", "v1");
    ks.put("k2", "v2");
    REQUIRE(all(ks.iter(katamari::IterOptions().reverse())) == (Pairs{{"k2", "v2"}, {"k1", "v1"}}));

    // Moving an iterator keeps its position.
    katamari::Iter m = db.iter();
    REQUIRE(m.next() && m.key() == "a");
    katamari::Iter n = std::move(m);
    REQUIRE(n.valid() && n.key() == "a");
    REQUIRE(n.next() && n.key() == "b:1");
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, m.next());
}

void keyspaces(const std::string &dir)
{
    katamari::Db db = katamari::Db::open(sub(dir, "keyspaces"));
    katamari::Keyspace users = db.keyspace("users");
    katamari::Keyspace items = db.keyspace(std::string("bin\x00name", 8));
    REQUIRE(users.name() == "users");
    REQUIRE(items.name() == std::string("bin\x00name", 8));
    users.put("k", "user");
    items.put("k", "item");
    db.put("k", "default");
    REQUIRE(users.get("k") == std::optional<std::string>("user"));
    REQUIRE(items.get_bytes("k").has_value());
    REQUIRE(db.get("k") == std::optional<std::string>("default"));
    REQUIRE(users.contains("k"));
    users.put_ttl("t", "v", std::chrono::minutes(1));
    REQUIRE(users.get("t") == std::optional<std::string>("v"));
    users.remove("t");
    REQUIRE(!users.get("t").has_value());

    REQUIRE(db.keyspaces() == (std::vector<std::string>{std::string("bin\x00name", 8), "users"}));
    REQUIRE(db.drop_keyspace("users"));
    REQUIRE(!db.drop_keyspace("users")); // already gone
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, (void)users.get("k")); // stale handle
    katamari::Keyspace again = db.keyspace("users");
    REQUIRE(!again.get("k").has_value()); // recreated empty
    REQUIRE(items.get("k") == std::optional<std::string>("item"));
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, db.keyspace(std::string("\x00reserved", 9)));
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, db.keyspace(""));
}

void children_outlive_db(const std::string &dir)
{
    katamari::Txn t;
    katamari::Iter it;
    katamari::Keyspace ks;
    {
        katamari::Db db = katamari::Db::open(sub(dir, "children"));
        db.put("k", "v");
        t = db.begin_txn();
        it = db.iter();
        ks = db.keyspace("ks");
    } // the Db closes and is freed here
    REQUIRE_THROWS(KAT_CLOSED, t.put("k", "w"));
    REQUIRE_THROWS(KAT_CLOSED, (void)ks.get("k"));
    bool closed = false;
    try {
        it.next();
    } catch (const katamari::Error &e) {
        closed = e.code() == KAT_CLOSED;
    }
    REQUIRE(closed);
}

std::string maint_key(int i)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "key-%04d", i);
    return buf;
}

std::string maint_value(int i, int round)
{
    return "value-" + std::to_string(i) + "-" + std::to_string(round) + "-padding-padding";
}

std::vector<char> read_file(const std::filesystem::path &p)
{
    std::ifstream in(p, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void maintenance(const std::string &dir)
{
    const std::string path = sub(dir, "maint");
    const std::string dest = sub(dir, "maint-backup");
    katamari::Options opts;
    opts.segment_size(16 * 1024).sync(katamari::Sync::Never).auto_merge(0.0, 0);
    kat_backup_info info;
    {
        katamari::Db db = katamari::Db::open(path, opts);
        for (int round = 0; round < 5; ++round)
            for (int i = 0; i < 500; ++i)
                db.put(maint_key(i), maint_value(i, round));
        for (int i = 0; i < 500; i += 3)
            db.remove(maint_key(i));
        const kat_stats before = db.stats();

        // Merge keeps every value, drops deleted and overwritten ones, shrinks the data.
        const kat_merge_stats m = db.merge();
        REQUIRE(m.input_segments > 1);
        REQUIRE(m.output_segments >= 1);
        REQUIRE(m.output_bytes < m.input_bytes / 3);
        REQUIRE(m.records == 500 - 167);
        REQUIRE(m.expired == 0);
        for (int i = 0; i < 500; ++i) {
            if (i % 3 == 0)
                REQUIRE(!db.contains(maint_key(i)));
            else
                REQUIRE(db.get(maint_key(i)) == std::optional<std::string>(maint_value(i, 4)));
        }
        const kat_stats after = db.stats();
        REQUIRE(after.total_bytes < before.total_bytes / 2);
        REQUIRE(after.merges == 1 && after.merge_failures == 0);

        // Backup: the copy holds exactly the commits up to info.seq.
        info = db.backup(dest);
        REQUIRE(info.seq == after.last_seq);
        REQUIRE(info.segments >= 2);
        REQUIRE(info.bytes > 0);
        db.put("after-backup", "x");
        REQUIRE_THROWS(KAT_INVALID_ARGUMENT, db.backup(dest)); // exists already
        REQUIRE_THROWS(KAT_INVALID_ARGUMENT, db.backup(""));
        REQUIRE_THROWS(KAT_INVALID_ARGUMENT, db.backup(std::string("a\0b", 3)));

        // Verify: clean, every record counted.
        const kat_verify_report r = db.verify();
        REQUIRE(r.damaged == 0 && r.hints_bad == 0);
        REQUIRE(r.hints_ok >= 1);
        REQUIRE(r.records == 500 - 167 + 1);
        REQUIRE(r.first_bad_segment == 0 && r.first_bad_offset == 0);
        REQUIRE(r.first_bad_reason[0] == '\0');

        db.close();
        REQUIRE_THROWS(KAT_CLOSED, db.merge());
        REQUIRE_THROWS(KAT_CLOSED, db.backup(sub(dir, "maint-closed")));
        REQUIRE_THROWS(KAT_CLOSED, db.verify());
    }
    {
        katamari::Db copy = katamari::Db::open(dest, opts);
        REQUIRE(copy.stats().last_seq == info.seq);
        REQUIRE(copy.stats().live_keys == 500 - 167);
        REQUIRE(copy.get(maint_key(1)) == std::optional<std::string>(maint_value(1, 4)));
        REQUIRE(!copy.contains("after-backup"));
    }

    // A flipped byte in a merged segment (header byte 12 is the kind; 2 is merged) is
    // reported, and the file is left as it was.
    namespace fs = std::filesystem;
    fs::path seg;
    std::vector<char> bytes;
    for (const auto &e : fs::directory_iterator(path)) {
        if (e.path().extension() != ".kseg")
            continue;
        std::vector<char> b = read_file(e.path());
        if (b.size() > 12 && b[12] == 2) {
            seg = e.path();
            bytes = std::move(b);
            break;
        }
    }
    REQUIRE(!seg.empty());
    const std::size_t at = bytes.size() / 2;
    bytes[at] = static_cast<char>(bytes[at] ^ 0x20);
    {
        std::ofstream out(seg, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    {
        katamari::Db db = katamari::Db::open(path, opts);
        const kat_verify_report r = db.verify();
        REQUIRE(r.damaged == 1);
        REQUIRE(r.first_bad_offset <= at);
        REQUIRE(r.first_bad_reason[0] != '\0');
        char name[32];
        std::snprintf(name, sizeof name, "%010llu", static_cast<unsigned long long>(r.first_bad_segment));
        REQUIRE(seg.filename().string().find(name) != std::string::npos);
        REQUIRE(read_file(seg) == bytes);
    }

    // The auto-merge policy's arguments.
    katamari::Options o;
    o.auto_merge(0.5, 64u << 20).auto_merge(1.0, 0).auto_merge(0.0, 0);
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, o.auto_merge(1.5, 0));
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, o.auto_merge(-0.1, 0));
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, o.auto_merge(std::nan(""), 0));
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, o.auto_merge(std::numeric_limits<double>::infinity(), 0));
    katamari::Options moved = std::move(o);
    REQUIRE_THROWS(KAT_INVALID_ARGUMENT, o.auto_merge(0.5, 0)); // moved-from
    katamari::Db off = katamari::Db::open(sub(dir, "maint-off"), moved);
    REQUIRE(off.stats().merges == 0);
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <empty directory>\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    try {
        basics(dir);
        options_and_reopen(dir);
        moves(dir);
        batches(dir);
        transactions(dir);
        iterators(dir);
        keyspaces(dir);
        children_outlive_db(dir);
        maintenance(dir);
    } catch (const katamari::Error &e) {
        std::fprintf(stderr, "wrapper: unexpected %s: %s\n", katamari::status_name(e.code()),
                     e.what());
        return 1;
    }
    std::printf("wrapper: %lu checks passed\n", checks);
    return 0;
}
