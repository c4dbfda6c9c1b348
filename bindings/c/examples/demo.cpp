// demo.cpp: a short tour of the Katamari C++ wrappers (bindings/c/katamari.hpp).
//
//   cargo build --release
//   g++ -std=c++17 -I include -I bindings/c bindings/c/examples/demo.cpp -o demo-cpp
//       -L <dir with libkatamari.so> -lkatamari -Wl,-rpath,<that dir>     (one line)
//   ./demo-cpp /tmp/katamari-demo-cpp
//
// Or, from an installed prefix: g++ -std=c++17 demo.cpp $(pkg-config --cflags --libs katamari)
//
// Opens the database in the directory given as argv[1], writes a few keys, uses a batch,
// a transaction, a keyspace and an iterator, then reopens it and reads the data back.
// Failures are katamari::Error exceptions carrying the status code.
#include "katamari.hpp"

#include <cstdio>
#include <iostream>
#include <string>

namespace {

void show(katamari::Db &db, const std::string &key)
{
    const std::optional<std::string> value = db.get(key);
    if (value)
        std::cout << "  get  " << key << " = " << *value << '\n';
    else
        std::cout << "  get  " << key << " : not found\n";
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " <database directory>\n";
        return 2;
    }
    const std::string path = argv[1];
    std::cout << "katamari " << katamari::version() << " (C++ wrapper)\n";
    try {
        {
            katamari::Db db = katamari::Db::open(path, katamari::Options().sync(katamari::Sync::Always));
            std::cout << "opened " << path << '\n';
            db.put("greeting", "hello from C++");
            db.put("empty", "");

            // A batch commits several operations at once: all of them or none.
            katamari::Batch batch;
            batch.put("fruit:1", "apple").put("fruit:2", "banana").remove("greeting-old");
            db.write(batch);

            // A transaction reads its snapshot plus its own writes.
            katamari::Txn txn = db.begin_txn();
            const std::string count = txn.get("counter").value_or("0");
            txn.put("counter", std::to_string(std::stoi(count) + 1));
            txn.commit();

            // A conflicting transaction: the second committer fails, writing nothing.
            katamari::Txn a = db.begin_txn();
            katamari::Txn b = db.begin_txn();
            a.put("counter", "10");
            b.put("counter", "20");
            a.commit();
            try {
                b.commit();
            } catch (const katamari::Error &e) {
                if (e.code() != KAT_CONFLICT)
                    throw;
                std::cout << "  second commit: " << katamari::status_name(e.code()) << '\n';
            }

            // Keyspaces keep keys apart.
            katamari::Keyspace users = db.keyspace("users");
            users.put("greeting", "hello, users");

            std::cout << "fruit:\n";
            for (const katamari::Entry &e : db.iter(katamari::IterOptions().prefix("fruit:")))
                std::cout << "  " << e.key << " = " << e.value << '\n';
        } // the Db closes here
        std::cout << "closed\n";

        katamari::Db db = katamari::Db::open(path);
        std::cout << "after reopening:\n";
        show(db, "greeting");
        show(db, "fruit:1");
        show(db, "counter");
        show(db, "missing");
        const std::optional<std::string> empty = db.get("empty");
        std::cout << "  get  empty = " << (empty ? "\"" + *empty + "\" (present, empty)" : "missing")
                  << '\n';
        std::cout << "  users/greeting = " << db.keyspace("users").get("greeting").value_or("?")
                  << '\n';
        db.close();
        std::cout << "closed\n";
    } catch (const katamari::Error &e) {
        std::cerr << "demo-cpp: " << katamari::status_name(e.code()) << ": " << e.what() << '\n';
        return 1;
    }
    return 0;
}
