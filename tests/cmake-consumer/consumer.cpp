// consumer.cpp: a C++17 program linked against an installed Katamari, using the
// installed katamari.hpp. Run with a data directory as argv[1]; prints "<name>: ok".
#include <katamari.hpp>

#include <cstdio>
#include <string>

#ifndef CONSUMER_NAME
#define CONSUMER_NAME "consumer_cpp"
#endif

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <directory>\n", argv[0]);
        return 2;
    }
    try {
        katamari::Db db = katamari::Db::open(argv[1]);
        db.put("lang", "C++");
        db.put("empty", "");
        if (db.get("lang") != std::optional<std::string>("C++") || !db.get("empty") ||
            !db.get("empty")->empty() || db.get("missing"))
            throw std::runtime_error("unexpected values");
        katamari::Txn a = db.begin_txn();
        katamari::Txn b = db.begin_txn();
        a.put("lang", "a");
        b.put("lang", "b");
        a.commit();
        try {
            b.commit();
            throw std::runtime_error("no conflict");
        } catch (const katamari::Error &e) {
            if (e.code() != KAT_CONFLICT)
                throw;
        }
        std::size_t n = 0;
        for (const katamari::Entry &e : db.iter()) {
            (void)e;
            ++n;
        }
        if (n != 2)
            throw std::runtime_error("expected 2 entries");
        db.close();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s: %s\n", CONSUMER_NAME, e.what());
        return 1;
    }
    std::printf("%s: ok (katamari %s)\n", CONSUMER_NAME, katamari::version().data());
    return 0;
}
