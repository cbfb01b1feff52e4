#include "storage/sqlite.h"

#include <sqlite3.h>

#include <utility>

namespace moescope::storage {

bool SqliteError::disk_full() const { return code_ == SQLITE_FULL; }
bool SqliteError::busy() const { return code_ == SQLITE_BUSY || code_ == SQLITE_LOCKED; }
bool SqliteError::not_a_database() const { return code_ == SQLITE_NOTADB || code_ == SQLITE_CORRUPT; }

static std::string shorten(std::string_view sql) {
    std::string s(sql.substr(0, 80));
    for (char& c : s)
        if (c == '\n') c = ' ';
    if (sql.size() > 80) s += "...";
    return s;
}

// ---- Db ------------------------------------------------------------------------------------------

Db::Db(const std::string& path, Mode mode) : path_(path), mode_(mode) {
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    flags |= mode == Mode::ReadOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw SqliteError(path + ": cannot open database: " + msg, rc & 0xff);
    }
    sqlite3_extended_result_codes(db_, 1);
}

Db::~Db() {
    if (db_) sqlite3_close_v2(db_);
}

Db::Db(Db&& o) noexcept : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)), mode_(o.mode_) {}

Db& Db::operator=(Db&& o) noexcept {
    if (this != &o) {
        if (db_) sqlite3_close_v2(db_);
        db_ = std::exchange(o.db_, nullptr);
        path_ = std::move(o.path_);
        mode_ = o.mode_;
    }
    return *this;
}

void Db::raise(int rc, std::string_view what) const {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    throw SqliteError(path_ + ": " + msg + " (while " + std::string(what) + ")", rc & 0xff);
}

void Db::exec(std::string_view sql) {
    std::string s(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw SqliteError(path_ + ": " + msg + " (while running '" + shorten(sql) + "')", rc & 0xff);
    }
}

Stmt Db::prepare(std::string_view sql) { return Stmt(*this, sql); }

int64_t Db::query_int(std::string_view sql, int64_t def) {
    Stmt s(*this, sql);
    if (!s.step() || s.is_null(0)) return def;
    return s.int64(0);
}

std::string Db::query_text(std::string_view sql, const std::string& def) {
    Stmt s(*this, sql);
    if (!s.step() || s.is_null(0)) return def;
    return s.text(0);
}

int64_t Db::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Db::changes() const { return sqlite3_changes(db_); }
bool Db::autocommit() const { return sqlite3_get_autocommit(db_) != 0; }
void Db::set_busy_timeout_ms(int ms) { sqlite3_busy_timeout(db_, ms); }

// ---- Stmt ----------------------------------------------------------------------------------------

Stmt::Stmt(Db& db, std::string_view sql) : db_(&db), sql_(sql) {
    int rc = sqlite3_prepare_v3(db.handle(), sql_.data(), static_cast<int>(sql_.size()), SQLITE_PREPARE_PERSISTENT,
                                &st_, nullptr);
    if (rc != SQLITE_OK) db.raise(rc, "preparing '" + shorten(sql) + "'");
}

Stmt::~Stmt() {
    if (st_) sqlite3_finalize(st_);
}

Stmt::Stmt(Stmt&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), st_(std::exchange(o.st_, nullptr)), sql_(std::move(o.sql_)) {}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
    if (this != &o) {
        if (st_) sqlite3_finalize(st_);
        db_ = std::exchange(o.db_, nullptr);
        st_ = std::exchange(o.st_, nullptr);
        sql_ = std::move(o.sql_);
    }
    return *this;
}

Stmt& Stmt::bind(int i, int64_t v) {
    int rc = sqlite3_bind_int64(st_, i, v);
    if (rc != SQLITE_OK) db_->raise(rc, "binding '" + shorten(sql_) + "'");
    return *this;
}

Stmt& Stmt::bind(int i, double v) {
    int rc = sqlite3_bind_double(st_, i, v);
    if (rc != SQLITE_OK) db_->raise(rc, "binding '" + shorten(sql_) + "'");
    return *this;
}

Stmt& Stmt::bind(int i, std::string_view text) {
    int rc = sqlite3_bind_text64(st_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) db_->raise(rc, "binding '" + shorten(sql_) + "'");
    return *this;
}

Stmt& Stmt::bind_blob(int i, const void* data, size_t bytes) {
    // A zero-length blob must still be a BLOB (not NULL): SQLite needs a non-null pointer for that.
    static const char empty = 0;
    int rc = sqlite3_bind_blob64(st_, i, data ? data : &empty, bytes, SQLITE_STATIC);
    if (rc != SQLITE_OK) db_->raise(rc, "binding '" + shorten(sql_) + "'");
    return *this;
}

Stmt& Stmt::bind_null(int i) {
    int rc = sqlite3_bind_null(st_, i);
    if (rc != SQLITE_OK) db_->raise(rc, "binding '" + shorten(sql_) + "'");
    return *this;
}

bool Stmt::step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3_reset(st_);
    db_->raise(rc, "running '" + shorten(sql_) + "'");
}

void Stmt::run_keep_bindings() {
    int rc = sqlite3_step(st_);
    sqlite3_reset(st_);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) db_->raise(rc, "running '" + shorten(sql_) + "'");
}

void Stmt::reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
int64_t Stmt::int64(int col) const { return sqlite3_column_int64(st_, col); }
double Stmt::real(int col) const { return sqlite3_column_double(st_, col); }

std::string Stmt::text(int col) const {
    const unsigned char* p = sqlite3_column_text(st_, col);
    int n = sqlite3_column_bytes(st_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::span<const uint8_t> Stmt::blob(int col) const {
    const void* p = sqlite3_column_blob(st_, col);
    int n = sqlite3_column_bytes(st_, col);
    if (!p || n <= 0) return {};
    return {static_cast<const uint8_t*>(p), static_cast<size_t>(n)};
}

int Stmt::column_count() const { return sqlite3_column_count(st_); }

// ---- transactions --------------------------------------------------------------------------------

WriteTxn::WriteTxn(Db& db) : db_(db) {
    db_.exec("BEGIN IMMEDIATE");
    open_ = true;
}

WriteTxn::~WriteTxn() { rollback(); }

void WriteTxn::commit() {
    try {
        db_.exec("COMMIT");
    } catch (...) {
        rollback();
        throw;
    }
    open_ = false;
}

void WriteTxn::rollback() noexcept {
    if (!open_) return;
    open_ = false;
    if (!db_.autocommit()) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

ReadTxn::ReadTxn(Db& db) : db_(db) {
    if (!db_.autocommit()) return;  // already inside a transaction: its snapshot applies
    db_.exec("BEGIN");
    owns_ = true;
}

ReadTxn::~ReadTxn() {
    if (owns_ && !db_.autocommit()) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace moescope::storage
