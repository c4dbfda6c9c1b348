/*
 * katamari.hpp: header-only C++17 RAII wrappers over the Katamari C API (katamari.h).
 *
 *   #include "katamari.hpp"
 *
 *   katamari::Db db = katamari::Db::open("./data");
 *   db.put("greeting", "hello");
 *   std::optional<std::string> v = db.get("greeting");   // std::nullopt when missing
 *   for (const katamari::Entry &e : db.iter(katamari::IterOptions().prefix("g")))
 *       std::cout << e.key << " = " << e.value << '\n';
 *
 *   katamari::Txn txn = db.begin_txn();
 *   txn.put("a", "1");
 *   txn.commit();       // throws katamari::Error with code() == KAT_CONFLICT on conflict
 *
 * Rules
 *   - Handles (Db, Options, Txn, Iter, Batch, Keyspace) are move-only and release their C
 *     handle on destruction: a Db closes, an unfinished Txn aborts. A moved-from object
 *     holds no handle; calling it throws Error(KAT_INVALID_ARGUMENT).
 *   - Every failure throws katamari::Error (a std::runtime_error) carrying the status code
 *     (code()) and the library's message. A missing key is not a failure: get() returns
 *     std::nullopt, while an empty value is an engaged, empty std::string, so missing and
 *     empty stay distinct.
 *   - Keys and values go in as BytesView, which converts implicitly from std::string,
 *     std::string_view, C strings, std::vector<std::byte> / <uint8_t> / <char>,
 *     std::array and (C++20) std::span of byte-sized elements, or explicitly from
 *     (const void *, size_t). The library copies what it keeps.
 *   - Values come out as std::string (get) or std::vector<std::byte> (get_bytes).
 *     Iterator entries are std::string_view views valid until the iterator moves.
 *   - Thread safety is the C API's: a Db may be used from many threads at once; a Txn,
 *     Iter, Batch or Options by one thread at a time.
 *   - Child handles (Txn, Iter, Keyspace) keep the engine alive: they may outlive the Db
 *     object, and once it is closed their calls throw Error(KAT_CLOSED).
 *   - Db::open checks that the loaded library matches this header (same major version,
 *     not older).
 *
 * Link with -lkatamari (CMake: Katamari::katamari, pkg-config: katamari).
 */
#ifndef KATAMARI_HPP
#define KATAMARI_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "katamari.h"

namespace katamari {

/** A status code (KAT_OK, KAT_NOT_FOUND, ...; see katamari.h). */
using Status = kat_status;

/** The constant's name of a status ("KAT_NOT_FOUND"), or "KAT_UNKNOWN". */
inline const char *status_name(Status code) noexcept
{
    switch (code) {
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

/** A failed call: the status code and the library's message. */
class Error : public std::runtime_error {
public:
    Error(Status code, const std::string &message) : std::runtime_error(message), code_(code)
    {
    }
    /** The status code (never KAT_OK). */
    Status code() const noexcept { return code_; }
    /** Static text for the code (kat_status_str). */
    const char *status_str() const noexcept { return kat_status_str(code_); }

private:
    Status code_;
};

/** The loaded library's version, "MAJOR.MINOR.PATCH". */
inline std::string_view version() noexcept { return kat_version(); }

/** The loaded library's version number (MAJOR * 1000000 + MINOR * 1000 + PATCH). */
inline std::uint32_t version_number() noexcept { return kat_version_number(); }

/** Whether the loaded library can serve this header: same major version, not older. */
inline bool library_matches_header() noexcept
{
    const std::uint32_t lib = kat_version_number();
    return lib / 1000000u == static_cast<std::uint32_t>(KAT_VERSION_MAJOR) &&
           lib >= static_cast<std::uint32_t>(KAT_VERSION_NUMBER);
}

namespace detail {

/* Holds the optional error object of one call and frees it. */
class ErrorOut {
public:
    ErrorOut() noexcept = default;
    ErrorOut(const ErrorOut &) = delete;
    ErrorOut &operator=(const ErrorOut &) = delete;
    ~ErrorOut() { kat_error_free(err_); }
    kat_error **ptr() noexcept { return &err_; }
    const kat_error *get() const noexcept { return err_; }

private:
    kat_error *err_ = nullptr;
};

[[noreturn]] inline void raise(Status code, const kat_error *err, const char *what)
{
    std::string message(what);
    message += ": ";
    const char *detail = err != nullptr ? kat_error_message(err) : nullptr;
    message += (detail != nullptr && *detail != '\0') ? detail : kat_status_str(code);
    throw Error(code, message);
}

/* Throws unless `code` is KAT_OK. */
inline void check(Status code, const ErrorOut &err, const char *what)
{
    if (code != KAT_OK)
        raise(code, err.get(), what);
}

/* Throws unless `code` is KAT_OK (for calls without an error object). */
inline void check(Status code, const char *what)
{
    if (code != KAT_OK)
        raise(code, nullptr, what);
}

/* Throws KAT_INVALID_ARGUMENT for a moved-from (empty) wrapper. */
template <typename T> T *live(T *handle, const char *what)
{
    if (handle == nullptr)
        raise(KAT_INVALID_ARGUMENT, nullptr, what);
    return handle;
}

/* An owned kat_buf, freed on destruction. */
class Buf {
public:
    Buf() noexcept = default;
    Buf(const Buf &) = delete;
    Buf &operator=(const Buf &) = delete;
    ~Buf() { kat_buf_free(&buf_); }
    kat_buf *ptr() noexcept { return &buf_; }
    std::string str() const
    {
        return buf_.len == 0 ? std::string()
                             : std::string(reinterpret_cast<const char *>(buf_.data), buf_.len);
    }
    std::vector<std::byte> bytes() const
    {
        std::vector<std::byte> out(buf_.len);
        if (buf_.len != 0)
            std::memcpy(out.data(), buf_.data, buf_.len);
        return out;
    }

private:
    kat_buf buf_{nullptr, 0};
};

/* Containers (class types) whose data() points at byte-sized, trivially copyable
 * elements: std::string, std::vector<std::byte>, std::array<uint8_t, N>, std::span, ... */
template <typename C, typename = void> struct is_byte_container : std::false_type {
};
template <typename C>
struct is_byte_container<
    C, std::void_t<decltype(std::data(std::declval<const C &>())),
                   decltype(std::size(std::declval<const C &>()))>> {
    using elem = std::remove_cv_t<
        std::remove_pointer_t<decltype(std::data(std::declval<const C &>()))>>;
    static constexpr bool value = std::is_class_v<C> && sizeof(elem) == 1 &&
                                  std::is_trivially_copyable_v<elem> && !std::is_same_v<elem, bool>;
};

} // namespace detail

/**
 * A borrowed byte range (pointer and length) for keys, values, prefixes and names. It
 * does not own the bytes: keep them alive for the duration of the call.
 */
class BytesView {
public:
    constexpr BytesView() noexcept = default;
    /** `size` bytes at `data` (`data` may be NULL when `size` is 0). */
    BytesView(const void *data, std::size_t size) noexcept
        : data_(static_cast<const std::uint8_t *>(data)), size_(size)
    {
    }
    /** The bytes of a NUL-terminated string, without the terminator; NULL is empty. */
    BytesView(const char *s) noexcept
        : data_(reinterpret_cast<const std::uint8_t *>(s)), size_(s != nullptr ? std::strlen(s) : 0)
    {
    }
    BytesView(std::string_view s) noexcept
        : data_(reinterpret_cast<const std::uint8_t *>(s.data())), size_(s.size())
    {
    }
    /** Any contiguous container of byte-sized elements. */
    template <typename C,
              typename std::enable_if_t<detail::is_byte_container<C>::value &&
                                            !std::is_same_v<C, BytesView> &&
                                            !std::is_same_v<C, std::string_view>,
                                        int> = 0>
    BytesView(const C &c) noexcept
        : data_(reinterpret_cast<const std::uint8_t *>(std::data(c))), size_(std::size(c))
    {
    }

    const std::uint8_t *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::string_view str() const noexcept
    {
        return size_ == 0 ? std::string_view()
                          : std::string_view(reinterpret_cast<const char *>(data_), size_);
    }

private:
    const std::uint8_t *data_ = nullptr;
    std::size_t size_ = 0;
};

/** Sync modes for Options::sync. */
enum class Sync : std::uint32_t {
    Always = KAT_SYNC_ALWAYS,     /**< commit returns after fdatasync (default) */
    Interval = KAT_SYNC_INTERVAL, /**< a background thread syncs every interval */
    Never = KAT_SYNC_NEVER,       /**< only rotation and close sync */
};

/** Transaction flags for Db::begin_txn (combine with |). */
inline constexpr std::uint32_t txn_read_write = 0;
inline constexpr std::uint32_t txn_read_only = KAT_TXN_READ_ONLY;
inline constexpr std::uint32_t txn_serializable = KAT_TXN_SERIALIZABLE;

/** Settings for Db::open, as a fluent builder: Options().segment_size(1 << 20). */
class Options {
public:
    Options()
    {
        detail::check(kat_options_new(&handle_), "kat_options_new");
    }
    Options(Options &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Options &operator=(Options &&other) noexcept
    {
        if (this != &other) {
            kat_options_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Options(const Options &) = delete;
    Options &operator=(const Options &) = delete;
    ~Options() { kat_options_free(handle_); }

    /** Sync mode; `interval` (at least 1 ms) is used only with Sync::Interval. */
    Options &sync(Sync mode, std::chrono::milliseconds interval = std::chrono::milliseconds(0))
    {
        const auto ms = static_cast<std::uint32_t>(interval.count());
        detail::check(kat_options_set_sync(live(), static_cast<kat_sync>(mode), ms),
                      "kat_options_set_sync");
        return *this;
    }
    /** Sync::Interval every `interval`. */
    Options &sync_interval(std::chrono::milliseconds interval)
    {
        return sync(Sync::Interval, interval);
    }
    /** Size at which the active segment is sealed (at least 1024 bytes). */
    Options &segment_size(std::uint64_t bytes)
    {
        detail::check(kat_options_set_segment_size(live(), bytes),
                      "kat_options_set_segment_size");
        return *this;
    }
    /** Open a damaged database anyway, skipping damaged batches. */
    Options &salvage(bool on)
    {
        detail::check(kat_options_set_salvage(live(), on), "kat_options_set_salvage");
        return *this;
    }
    /** The automatic merge policy: after the active segment fills up, a background merge
     * starts when unreachable bytes make up at least `dead_ratio` (0 to 1) of all segment
     * bytes and amount to at least `min_dead_bytes` (default 0.5 and 256 MiB). A ratio of
     * 0 turns automatic merging off (Db::merge still works); one above 1, below 0 or NaN
     * throws Error(KAT_INVALID_ARGUMENT). */
    Options &auto_merge(double dead_ratio, std::uint64_t min_dead_bytes)
    {
        detail::check(kat_options_set_auto_merge(live(), dead_ratio, min_dead_bytes),
                      "kat_options_set_auto_merge");
        return *this;
    }
    /** Create the directory if missing (default true). */
    Options &create_if_missing(bool on)
    {
        detail::check(kat_options_set_create_if_missing(live(), on),
                      "kat_options_set_create_if_missing");
        return *this;
    }

    const kat_options *handle() const noexcept { return handle_; }

private:
    kat_options *live() { return detail::live(handle_, "katamari::Options: moved-from"); }
    kat_options *handle_ = nullptr;
};

/** What an iterator covers: prefix, [start, end), direction. Copies the bounds. */
class IterOptions {
public:
    IterOptions() = default;
    /** Keys starting with `p`. */
    IterOptions &prefix(BytesView p)
    {
        prefix_.emplace(p.str());
        return *this;
    }
    /** Keys >= `k`. */
    IterOptions &start(BytesView k)
    {
        start_.emplace(k.str());
        return *this;
    }
    /** Keys < `k`. */
    IterOptions &end(BytesView k)
    {
        end_.emplace(k.str());
        return *this;
    }
    /** From the largest key down. */
    IterOptions &reverse(bool on = true)
    {
        reverse_ = on;
        return *this;
    }

    /** The C struct; its pointers stay valid while this object lives unchanged. */
    kat_iter_opts raw() const noexcept
    {
        kat_iter_opts o;
        std::memset(&o, 0, sizeof o);
        set(prefix_, &o.prefix, &o.prefix_len);
        set(start_, &o.start, &o.start_len);
        set(end_, &o.end, &o.end_len);
        o.flags = reverse_ ? static_cast<std::uint32_t>(KAT_ITER_REVERSE) : 0u;
        return o;
    }

private:
    static void set(const std::optional<std::string> &s, const std::uint8_t **ptr,
                    std::size_t *len) noexcept
    {
        if (s) {
            /* A set bound needs a non-NULL pointer even when empty. */
            *ptr = reinterpret_cast<const std::uint8_t *>(s->c_str());
            *len = s->size();
        }
    }

    std::optional<std::string> prefix_;
    std::optional<std::string> start_;
    std::optional<std::string> end_;
    bool reverse_ = false;
};

/** One iterator entry: views valid until the iterator moves or is destroyed. */
struct Entry {
    std::string_view key;
    std::string_view value;
};

/**
 * An ordered cursor over one snapshot. Either step by hand (next/prev/seek, then
 * key()/value()) or use it in a range-for loop, which is single-pass:
 *
 *   for (const katamari::Entry &e : db.iter()) use(e.key, e.value);
 */
class Iter {
public:
    Iter() noexcept = default;
    /** Takes ownership of a C iterator. */
    explicit Iter(kat_iter *handle) noexcept : handle_(handle) {}
    Iter(Iter &&other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)), entry_(other.entry_),
          valid_(std::exchange(other.valid_, false))
    {
    }
    Iter &operator=(Iter &&other) noexcept
    {
        if (this != &other) {
            kat_iter_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
            entry_ = other.entry_;
            valid_ = std::exchange(other.valid_, false);
        }
        return *this;
    }
    Iter(const Iter &) = delete;
    Iter &operator=(const Iter &) = delete;
    ~Iter() { kat_iter_free(handle_); }

    /** Moves to the next entry; false at the end. */
    bool next() { return step(&kat_iter_next, "kat_iter_next"); }
    /** Moves to the previous entry; false before the first. */
    bool prev() { return step(&kat_iter_prev, "kat_iter_prev"); }
    /** The next next() returns the first entry at or after `key` in iteration order. */
    void seek(BytesView key)
    {
        detail::ErrorOut err;
        detail::check(kat_iter_seek(live(), key.data(), key.size(), err.ptr()), err,
                      "kat_iter_seek");
        valid_ = false;
    }
    /** Whether the iterator is on an entry (after a next()/prev() that returned true). */
    bool valid() const noexcept { return valid_; }
    std::string_view key() const noexcept { return entry_.key; }
    std::string_view value() const noexcept { return entry_.value; }
    const Entry &entry() const noexcept { return entry_; }

    /** Copies every remaining entry. */
    std::vector<std::pair<std::string, std::string>> collect()
    {
        std::vector<std::pair<std::string, std::string>> out;
        while (next())
            out.emplace_back(std::string(entry_.key), std::string(entry_.value));
        return out;
    }

    /** Single-pass input iterator for range-for; begin() moves to the first entry. */
    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = Entry;
        using difference_type = std::ptrdiff_t;
        using pointer = const Entry *;
        using reference = const Entry &;

        iterator() noexcept = default;
        reference operator*() const noexcept { return it_->entry(); }
        pointer operator->() const noexcept { return &it_->entry(); }
        iterator &operator++()
        {
            if (!it_->next())
                it_ = nullptr;
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator &a, const iterator &b) noexcept
        {
            return a.it_ == b.it_;
        }
        friend bool operator!=(const iterator &a, const iterator &b) noexcept
        {
            return a.it_ != b.it_;
        }

    private:
        friend class Iter;
        explicit iterator(Iter *it) noexcept : it_(it) {}
        Iter *it_ = nullptr;
    };

    iterator begin() { return next() ? iterator(this) : iterator(); }
    iterator end() noexcept { return iterator(); }

    kat_iter *handle() const noexcept { return handle_; }

private:
    using StepFn = kat_status (*)(kat_iter *, const std::uint8_t **, std::size_t *,
                                  const std::uint8_t **, std::size_t *, kat_error **);

    bool step(StepFn fn, const char *what)
    {
        const std::uint8_t *k = nullptr, *v = nullptr;
        std::size_t kl = 0, vl = 0;
        detail::ErrorOut err;
        const Status s = fn(live(), &k, &kl, &v, &vl, err.ptr());
        if (s == KAT_NOT_FOUND) {
            valid_ = false;
            entry_ = Entry{};
            return false;
        }
        detail::check(s, err, what);
        entry_.key = kl == 0 ? std::string_view() : std::string_view(reinterpret_cast<const char *>(k), kl);
        entry_.value = vl == 0 ? std::string_view() : std::string_view(reinterpret_cast<const char *>(v), vl);
        valid_ = true;
        return true;
    }
    kat_iter *live() { return detail::live(handle_, "katamari::Iter: moved-from"); }

    kat_iter *handle_ = nullptr;
    Entry entry_{};
    bool valid_ = false;
};

class Db;
class Txn;

/** A named keyspace: keys in different keyspaces never collide. From Db::keyspace. */
class Keyspace {
public:
    Keyspace() noexcept = default;
    Keyspace(Keyspace &&other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)), name_(std::move(other.name_))
    {
    }
    Keyspace &operator=(Keyspace &&other) noexcept
    {
        if (this != &other) {
            kat_keyspace_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
            name_ = std::move(other.name_);
        }
        return *this;
    }
    Keyspace(const Keyspace &) = delete;
    Keyspace &operator=(const Keyspace &) = delete;
    ~Keyspace() { kat_keyspace_free(handle_); }

    const std::string &name() const noexcept { return name_; }

    void put(BytesView key, BytesView value)
    {
        detail::ErrorOut err;
        detail::check(kat_keyspace_put(live(), key.data(), key.size(), value.data(),
                                       value.size(), err.ptr()),
                      err, "kat_keyspace_put");
    }
    void put_ttl(BytesView key, BytesView value, std::chrono::milliseconds ttl)
    {
        detail::ErrorOut err;
        detail::check(kat_keyspace_put_ttl(live(), key.data(), key.size(), value.data(),
                                           value.size(), ttl_ms(ttl), err.ptr()),
                      err, "kat_keyspace_put_ttl");
    }
    std::optional<std::string> get(BytesView key)
    {
        detail::Buf buf;
        if (!fetch(key, buf))
            return std::nullopt;
        return buf.str();
    }
    std::optional<std::vector<std::byte>> get_bytes(BytesView key)
    {
        detail::Buf buf;
        if (!fetch(key, buf))
            return std::nullopt;
        return buf.bytes();
    }
    /** Removes `key`; removing an absent key is fine. */
    void remove(BytesView key)
    {
        detail::ErrorOut err;
        detail::check(kat_keyspace_delete(live(), key.data(), key.size(), err.ptr()), err,
                      "kat_keyspace_delete");
    }
    bool contains(BytesView key)
    {
        bool found = false;
        detail::ErrorOut err;
        detail::check(kat_keyspace_contains(live(), key.data(), key.size(), &found, err.ptr()),
                      err, "kat_keyspace_contains");
        return found;
    }
    Iter iter(const IterOptions &opts = IterOptions())
    {
        const kat_iter_opts raw = opts.raw();
        kat_iter *it = nullptr;
        detail::ErrorOut err;
        detail::check(kat_keyspace_iter_new(live(), &raw, &it, err.ptr()), err,
                      "kat_keyspace_iter_new");
        return Iter(it);
    }

    kat_keyspace *handle() const noexcept { return handle_; }

    /* Used by Txn and Batch. */
    const kat_keyspace *checked() const
    {
        return detail::live(handle_, "katamari::Keyspace: moved-from");
    }

private:
    friend class Db;
    Keyspace(kat_keyspace *handle, std::string name) noexcept
        : handle_(handle), name_(std::move(name))
    {
    }
    static std::uint64_t ttl_ms(std::chrono::milliseconds ttl) noexcept
    {
        return ttl.count() < 1 ? 1u : static_cast<std::uint64_t>(ttl.count());
    }
    bool fetch(BytesView key, detail::Buf &buf)
    {
        detail::ErrorOut err;
        const Status s = kat_keyspace_get(live(), key.data(), key.size(), buf.ptr(), err.ptr());
        if (s == KAT_NOT_FOUND)
            return false;
        detail::check(s, err, "kat_keyspace_get");
        return true;
    }
    kat_keyspace *live() { return detail::live(handle_, "katamari::Keyspace: moved-from"); }

    kat_keyspace *handle_ = nullptr;
    std::string name_;
};

/** An ordered list of puts and deletes applied all-or-nothing by Db::write. */
class Batch {
public:
    Batch() { detail::check(kat_batch_new(&handle_), "kat_batch_new"); }
    Batch(Batch &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Batch &operator=(Batch &&other) noexcept
    {
        if (this != &other) {
            kat_batch_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Batch(const Batch &) = delete;
    Batch &operator=(const Batch &) = delete;
    ~Batch() { kat_batch_free(handle_); }

    Batch &put(BytesView key, BytesView value)
    {
        detail::ErrorOut err;
        detail::check(kat_batch_put(live(), key.data(), key.size(), value.data(), value.size(),
                                    err.ptr()),
                      err, "kat_batch_put");
        return *this;
    }
    Batch &put_ttl(BytesView key, BytesView value, std::chrono::milliseconds ttl)
    {
        detail::ErrorOut err;
        const std::uint64_t ms = ttl.count() < 1 ? 1u : static_cast<std::uint64_t>(ttl.count());
        detail::check(kat_batch_put_ttl(live(), key.data(), key.size(), value.data(),
                                        value.size(), ms, err.ptr()),
                      err, "kat_batch_put_ttl");
        return *this;
    }
    Batch &remove(BytesView key)
    {
        detail::ErrorOut err;
        detail::check(kat_batch_delete(live(), key.data(), key.size(), err.ptr()), err,
                      "kat_batch_delete");
        return *this;
    }
    Batch &put(const Keyspace &ks, BytesView key, BytesView value)
    {
        detail::ErrorOut err;
        detail::check(kat_batch_put_in(live(), ks.checked(), key.data(), key.size(),
                                       value.data(), value.size(), err.ptr()),
                      err, "kat_batch_put_in");
        return *this;
    }
    Batch &remove(const Keyspace &ks, BytesView key)
    {
        detail::ErrorOut err;
        detail::check(kat_batch_delete_in(live(), ks.checked(), key.data(), key.size(),
                                          err.ptr()),
                      err, "kat_batch_delete_in");
        return *this;
    }
    /** Number of operations. */
    std::size_t size() const
    {
        std::size_t n = 0;
        detail::check(kat_batch_count(detail::live(handle_, "katamari::Batch: moved-from"), &n),
                      "kat_batch_count");
        return n;
    }
    bool empty() const { return size() == 0; }
    void clear() { detail::check(kat_batch_clear(live()), "kat_batch_clear"); }

    const kat_batch *handle() const noexcept { return handle_; }

private:
    kat_batch *live() { return detail::live(handle_, "katamari::Batch: moved-from"); }
    kat_batch *handle_ = nullptr;
};

/**
 * A transaction: reads see the snapshot taken at begin plus its own writes. commit()
 * applies every write atomically or throws Error(KAT_CONFLICT) and writes nothing. The
 * destructor aborts a transaction that was neither committed nor aborted.
 */
class Txn {
public:
    Txn() noexcept = default;
    /** Takes ownership of a C transaction. */
    explicit Txn(kat_txn *handle) noexcept : handle_(handle) {}
    Txn(Txn &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Txn &operator=(Txn &&other) noexcept
    {
        if (this != &other) {
            kat_txn_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Txn(const Txn &) = delete;
    Txn &operator=(const Txn &) = delete;
    ~Txn() { kat_txn_free(handle_); }

    std::optional<std::string> get(BytesView key)
    {
        detail::Buf buf;
        if (!fetch(nullptr, key, buf))
            return std::nullopt;
        return buf.str();
    }
    std::optional<std::string> get(const Keyspace &ks, BytesView key)
    {
        detail::Buf buf;
        if (!fetch(ks.checked(), key, buf))
            return std::nullopt;
        return buf.str();
    }
    std::optional<std::vector<std::byte>> get_bytes(BytesView key)
    {
        detail::Buf buf;
        if (!fetch(nullptr, key, buf))
            return std::nullopt;
        return buf.bytes();
    }
    std::optional<std::vector<std::byte>> get_bytes(const Keyspace &ks, BytesView key)
    {
        detail::Buf buf;
        if (!fetch(ks.checked(), key, buf))
            return std::nullopt;
        return buf.bytes();
    }
    bool contains(BytesView key)
    {
        bool found = false;
        detail::ErrorOut err;
        detail::check(kat_txn_contains(live(), key.data(), key.size(), &found, err.ptr()), err,
                      "kat_txn_contains");
        return found;
    }
    void put(BytesView key, BytesView value)
    {
        detail::ErrorOut err;
        detail::check(kat_txn_put(live(), key.data(), key.size(), value.data(), value.size(),
                                  err.ptr()),
                      err, "kat_txn_put");
    }
    void put(const Keyspace &ks, BytesView key, BytesView value)
    {
        detail::ErrorOut err;
        detail::check(kat_txn_put_in(live(), ks.checked(), key.data(), key.size(), value.data(),
                                     value.size(), err.ptr()),
                      err, "kat_txn_put_in");
    }
    void put_ttl(BytesView key, BytesView value, std::chrono::milliseconds ttl)
    {
        detail::ErrorOut err;
        const std::uint64_t ms = ttl.count() < 1 ? 1u : static_cast<std::uint64_t>(ttl.count());
        detail::check(kat_txn_put_ttl(live(), key.data(), key.size(), value.data(), value.size(),
                                      ms, err.ptr()),
                      err, "kat_txn_put_ttl");
    }
    void remove(BytesView key)
    {
        detail::ErrorOut err;
        detail::check(kat_txn_delete(live(), key.data(), key.size(), err.ptr()), err,
                      "kat_txn_delete");
    }
    void remove(const Keyspace &ks, BytesView key)
    {
        detail::ErrorOut err;
        detail::check(kat_txn_delete_in(live(), ks.checked(), key.data(), key.size(), err.ptr()),
                      err, "kat_txn_delete_in");
    }
    /** Iterates the transaction's view (its snapshot plus its writes so far). */
    Iter iter(const IterOptions &opts = IterOptions())
    {
        const kat_iter_opts raw = opts.raw();
        kat_iter *it = nullptr;
        detail::ErrorOut err;
        detail::check(kat_txn_iter_new(live(), &raw, &it, err.ptr()), err, "kat_txn_iter_new");
        return Iter(it);
    }
    Iter iter(const Keyspace &ks, const IterOptions &opts = IterOptions())
    {
        const kat_iter_opts raw = opts.raw();
        kat_iter *it = nullptr;
        detail::ErrorOut err;
        detail::check(kat_txn_iter_new_in(live(), ks.checked(), &raw, &it, err.ptr()), err,
                      "kat_txn_iter_new_in");
        return Iter(it);
    }
    /** Applies every write atomically; throws Error (code() KAT_CONFLICT, ...) and writes
     * nothing on failure. The transaction has ended either way. */
    void commit()
    {
        detail::ErrorOut err;
        detail::check(kat_txn_commit(live(), err.ptr()), err, "kat_txn_commit");
    }
    /** Discards the writes and ends the transaction (fine on an ended one). */
    void abort()
    {
        detail::ErrorOut err;
        detail::check(kat_txn_abort(live(), err.ptr()), err, "kat_txn_abort");
    }

    kat_txn *handle() const noexcept { return handle_; }

private:
    bool fetch(const kat_keyspace *ks, BytesView key, detail::Buf &buf)
    {
        detail::ErrorOut err;
        const Status s = ks != nullptr
                             ? kat_txn_get_in(live(), ks, key.data(), key.size(), buf.ptr(), err.ptr())
                             : kat_txn_get(live(), key.data(), key.size(), buf.ptr(), err.ptr());
        if (s == KAT_NOT_FOUND)
            return false;
        detail::check(s, err, ks != nullptr ? "kat_txn_get_in" : "kat_txn_get");
        return true;
    }
    kat_txn *live() { return detail::live(handle_, "katamari::Txn: moved-from"); }
    kat_txn *handle_ = nullptr;
};

/** An open database; closes on destruction. Safe to use from many threads at once. */
class Db {
public:
    Db() noexcept = default;
    /** Takes ownership of a C handle. */
    explicit Db(kat_db *handle) noexcept : handle_(handle) {}
    Db(Db &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Db &operator=(Db &&other) noexcept
    {
        if (this != &other) {
            kat_db_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    Db(const Db &) = delete;
    Db &operator=(const Db &) = delete;
    ~Db() { kat_db_free(handle_); }

    /** Opens (creating it if missing) the database in directory `path`. */
    static Db open(const std::string &path) { return open_raw(path, nullptr); }
    static Db open(const std::string &path, const Options &opts)
    {
        return open_raw(path, detail::live(opts.handle(), "katamari::Options: moved-from"));
    }

    /** Syncs and releases the directory; later calls throw Error(KAT_CLOSED). Closing
     * twice is fine. The destructor closes too, ignoring errors. */
    void close()
    {
        detail::ErrorOut err;
        detail::check(kat_db_close(live(), err.ptr()), err, "kat_db_close");
    }

    void put(BytesView key, BytesView value)
    {
        detail::ErrorOut err;
        detail::check(kat_db_put(live(), key.data(), key.size(), value.data(), value.size(),
                                 err.ptr()),
                      err, "kat_db_put");
    }
    /** Sets `key`, expiring `ttl` (at least 1 ms) from now. */
    void put_ttl(BytesView key, BytesView value, std::chrono::milliseconds ttl)
    {
        detail::ErrorOut err;
        const std::uint64_t ms = ttl.count() < 1 ? 1u : static_cast<std::uint64_t>(ttl.count());
        detail::check(kat_db_put_ttl(live(), key.data(), key.size(), value.data(), value.size(),
                                     ms, err.ptr()),
                      err, "kat_db_put_ttl");
    }
    /** The value of `key`; std::nullopt when absent (an empty value is an empty string). */
    std::optional<std::string> get(BytesView key)
    {
        detail::Buf buf;
        if (!fetch(key, buf))
            return std::nullopt;
        return buf.str();
    }
    /** The value of `key` as bytes; std::nullopt when absent. */
    std::optional<std::vector<std::byte>> get_bytes(BytesView key)
    {
        detail::Buf buf;
        if (!fetch(key, buf))
            return std::nullopt;
        return buf.bytes();
    }
    /** Removes `key`; removing an absent key is fine. */
    void remove(BytesView key)
    {
        detail::ErrorOut err;
        detail::check(kat_db_delete(live(), key.data(), key.size(), err.ptr()), err,
                      "kat_db_delete");
    }
    bool contains(BytesView key)
    {
        bool found = false;
        detail::ErrorOut err;
        detail::check(kat_db_contains(live(), key.data(), key.size(), &found, err.ptr()), err,
                      "kat_db_contains");
        return found;
    }
    /** Applies every operation of `batch` atomically. */
    void write(const Batch &batch)
    {
        detail::ErrorOut err;
        detail::check(kat_db_write(live(), detail::live(batch.handle(), "katamari::Batch: moved-from"),
                                   err.ptr()),
                      err, "kat_db_write");
    }
    /** Forces everything written so far onto stable storage. */
    void sync()
    {
        detail::ErrorOut err;
        detail::check(kat_db_sync(live(), err.ptr()), err, "kat_db_sync");
    }
    kat_stats stats()
    {
        kat_stats s;
        std::memset(&s, 0, sizeof s);
        detail::ErrorOut err;
        detail::check(kat_db_stats(live(), &s, err.ptr()), err, "kat_db_stats");
        return s;
    }
    /** Compacts now: rewrites the live data into merged segments and removes the old
     * ones while reads and writes on other threads go on. A close from another thread
     * stops it with Error(KAT_CLOSED). */
    kat_merge_stats merge()
    {
        kat_merge_stats m;
        std::memset(&m, 0, sizeof m);
        detail::ErrorOut err;
        detail::check(kat_db_merge(live(), &m, err.ptr()), err, "kat_db_merge");
        return m;
    }
    /** Writes a consistent copy (every commit up to now) into the new directory `dest`,
     * whose parent must exist; an existing `dest` throws Error(KAT_INVALID_ARGUMENT). The
     * copy opens with Db::open at commit `seq` of the result. */
    kat_backup_info backup(const std::string &dest)
    {
        if (dest.find('\0') != std::string::npos)
            detail::raise(KAT_INVALID_ARGUMENT, nullptr, "kat_db_backup: dest contains a NUL byte");
        kat_backup_info b;
        std::memset(&b, 0, sizeof b);
        detail::ErrorOut err;
        detail::check(kat_db_backup(live(), dest.c_str(), &b, err.ptr()), err, "kat_db_backup");
        return b;
    }
    /** Checks every checksum and hint file, changing nothing. Damage is reported in the
     * result (`damaged`, `first_bad_*`), not thrown. */
    kat_verify_report verify()
    {
        kat_verify_report r;
        std::memset(&r, 0, sizeof r);
        detail::ErrorOut err;
        detail::check(kat_db_verify(live(), &r, err.ptr()), err, "kat_db_verify");
        return r;
    }
    /** An iterator over a snapshot taken now. */
    Iter iter(const IterOptions &opts = IterOptions())
    {
        const kat_iter_opts raw = opts.raw();
        kat_iter *it = nullptr;
        detail::ErrorOut err;
        detail::check(kat_iter_new(live(), &raw, &it, err.ptr()), err, "kat_iter_new");
        return Iter(it);
    }
    /** Starts a transaction: txn_read_write (default), txn_read_only, txn_serializable. */
    Txn begin_txn(std::uint32_t flags = txn_read_write)
    {
        kat_txn *t = nullptr;
        detail::ErrorOut err;
        detail::check(kat_txn_begin(live(), flags, &t, err.ptr()), err, "kat_txn_begin");
        return Txn(t);
    }
    /** Opens keyspace `name` (1 to 255 bytes), creating it if missing. */
    Keyspace keyspace(BytesView name)
    {
        kat_keyspace *ks = nullptr;
        detail::ErrorOut err;
        detail::check(kat_keyspace_open(live(), name.data(), name.size(), &ks, err.ptr()), err,
                      "kat_keyspace_open");
        try {
            return Keyspace(ks, std::string(name.str()));
        } catch (...) {
            kat_keyspace_free(ks);
            throw;
        }
    }
    /** Drops keyspace `name` and its keys; false if it did not exist. */
    bool drop_keyspace(BytesView name)
    {
        detail::ErrorOut err;
        const Status s = kat_keyspace_drop(live(), name.data(), name.size(), err.ptr());
        if (s == KAT_NOT_FOUND)
            return false;
        detail::check(s, err, "kat_keyspace_drop");
        return true;
    }
    /** The keyspace names, sorted. */
    std::vector<std::string> keyspaces()
    {
        detail::Buf buf;
        std::size_t count = 0;
        detail::ErrorOut err;
        detail::check(kat_keyspace_list(live(), buf.ptr(), &count, err.ptr()), err,
                      "kat_keyspace_list");
        const std::string raw = buf.str();
        std::vector<std::string> names;
        names.reserve(count);
        std::size_t at = 0;
        for (std::size_t i = 0; i < count; ++i) {
            if (raw.size() - at < 4)
                detail::raise(KAT_INTERNAL, nullptr, "kat_keyspace_list: truncated list");
            std::uint32_t len = 0;
            for (int b = 3; b >= 0; --b)
                len = (len << 8) | static_cast<std::uint8_t>(raw[at + static_cast<std::size_t>(b)]);
            at += 4;
            if (raw.size() - at < len)
                detail::raise(KAT_INTERNAL, nullptr, "kat_keyspace_list: truncated name");
            names.emplace_back(raw, at, len);
            at += len;
        }
        return names;
    }

    kat_db *handle() const noexcept { return handle_; }
    explicit operator bool() const noexcept { return handle_ != nullptr; }

private:
    static Db open_raw(const std::string &path, const kat_options *opts)
    {
        if (!library_matches_header()) {
            throw Error(KAT_INVALID_ARGUMENT,
                        std::string("katamari.hpp: header version ") +
                            std::to_string(KAT_VERSION_MAJOR) + "." +
                            std::to_string(KAT_VERSION_MINOR) + "." +
                            std::to_string(KAT_VERSION_PATCH) + " but library " + kat_version());
        }
        kat_db *db = nullptr;
        detail::ErrorOut err;
        detail::check(kat_db_open(path.c_str(), opts, &db, err.ptr()), err, "kat_db_open");
        return Db(db);
    }
    bool fetch(BytesView key, detail::Buf &buf)
    {
        detail::ErrorOut err;
        const Status s = kat_db_get(live(), key.data(), key.size(), buf.ptr(), err.ptr());
        if (s == KAT_NOT_FOUND)
            return false;
        detail::check(s, err, "kat_db_get");
        return true;
    }
    kat_db *live() { return detail::live(handle_, "katamari::Db: moved-from"); }

    kat_db *handle_ = nullptr;
};

} // namespace katamari

#endif /* KATAMARI_HPP */
