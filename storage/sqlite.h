#pragma once
// Thin RAII layer over the sqlite3 C API. This header is the only place in the project that names
// sqlite3 types; everything else talks to Db / Stmt / WriteTxn. Errors become moescope::Error with the
// database path, the SQL (shortened) and SQLite's own message, so a caller can show them unchanged.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace moescope::storage {

// An Error that also carries SQLite's primary result code (SQLITE_FULL, SQLITE_BUSY, ...), so callers
// can tell "disk full" from "locked" without parsing text.
class SqliteError : public Error {
public:
    SqliteError(const std::string& message, int code) : Error(message), code_(code) {}
    int code() const { return code_; }     // primary code (extended & 0xff)
    bool disk_full() const;                 // SQLITE_FULL
    bool busy() const;                      // SQLITE_BUSY / SQLITE_LOCKED
    bool not_a_database() const;            // SQLITE_NOTADB / SQLITE_CORRUPT

private:
    int code_;
};

class Stmt;

// One connection. Move-only; closes on destruction.
class Db {
public:
    enum class Mode { ReadOnly, ReadWriteCreate };

    Db() = default;
    Db(const std::string& path, Mode mode);  // throws SqliteError naming the path
    ~Db();
    Db(Db&& o) noexcept;
    Db& operator=(Db&& o) noexcept;
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    bool is_open() const { return db_ != nullptr; }
    const std::string& path() const { return path_; }
    bool read_only() const { return mode_ == Mode::ReadOnly; }

    void exec(std::string_view sql);  // one or more statements, no results
    Stmt prepare(std::string_view sql);
    // Convenience: first column of the first row, or `def` when there is no row.
    int64_t query_int(std::string_view sql, int64_t def = 0);
    std::string query_text(std::string_view sql, const std::string& def = {});

    int64_t last_insert_rowid() const;
    int changes() const;
    bool autocommit() const;  // true when no transaction is open
    void set_busy_timeout_ms(int ms);

    // Throws SqliteError for rc (with "while ..." context) unless rc is OK/ROW/DONE.
    [[noreturn]] void raise(int rc, std::string_view what) const;
    sqlite3* handle() const { return db_; }  // for storage/ internals only

private:
    sqlite3* db_ = nullptr;
    std::string path_;
    Mode mode_ = Mode::ReadOnly;
};

// A prepared statement. Bind indexes are 1-based like SQLite's. reset() keeps bindings cleared.
class Stmt {
public:
    Stmt() = default;
    Stmt(Db& db, std::string_view sql);
    ~Stmt();
    Stmt(Stmt&& o) noexcept;
    Stmt& operator=(Stmt&& o) noexcept;
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, int64_t v);
    Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
    Stmt& bind(int i, double v);
    Stmt& bind(int i, std::string_view text);
    Stmt& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
    Stmt& bind_blob(int i, const void* data, size_t bytes);  // SQLITE_STATIC: data must outlive step()
    Stmt& bind_null(int i);

    bool step();  // true: a row is available; false: done. Throws on error.
    void run() { step(); reset(); }  // execute a statement without results; clears the bindings
    void run_keep_bindings();         // execute, reset, keep bindings (hot loops that rebind everything)
    void reset();

    bool is_null(int col) const;
    int64_t int64(int col) const;
    int int32(int col) const { return static_cast<int>(int64(col)); }
    double real(int col) const;
    std::string text(int col) const;
    std::span<const uint8_t> blob(int col) const;  // valid until the next step()/reset()
    int column_count() const;

private:
    Db* db_ = nullptr;
    sqlite3_stmt* st_ = nullptr;
    std::string sql_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back on destruction unless committed. Per SQLite's docs an error
// inside a transaction may or may not have rolled it back already, so rollback() is always issued
// explicitly and is harmless when there is nothing to roll back.
class WriteTxn {
public:
    explicit WriteTxn(Db& db);
    ~WriteTxn();
    WriteTxn(const WriteTxn&) = delete;
    WriteTxn& operator=(const WriteTxn&) = delete;
    void commit();
    void rollback() noexcept;

private:
    Db& db_;
    bool open_ = false;
};

// BEGIN (deferred) ... for readers: every query inside sees one consistent snapshot of the database
// (taken at the first read). Nested inside an open transaction it does nothing.
class ReadTxn {
public:
    explicit ReadTxn(Db& db);
    ~ReadTxn();
    ReadTxn(const ReadTxn&) = delete;
    ReadTxn& operator=(const ReadTxn&) = delete;

private:
    Db& db_;
    bool owns_ = false;
};

}  // namespace moescope::storage
