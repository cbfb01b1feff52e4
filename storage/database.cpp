#include "storage/database.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/version.h"
#include "storage/schema.h"

namespace moescope::storage {

using nlohmann::json;

const char* run_status_name(RunStatus s) {
    switch (s) {
        case RunStatus::Running: return "running";
        case RunStatus::Complete: return "complete";
        case RunStatus::Failed: return "failed";
        case RunStatus::Interrupted: return "interrupted";
    }
    return "running";
}

RunStatus parse_run_status(const std::string& s) {
    if (s == "running") return RunStatus::Running;
    if (s == "complete") return RunStatus::Complete;
    if (s == "failed") return RunStatus::Failed;
    if (s == "interrupted") return RunStatus::Interrupted;
    throw Error("unknown run status '" + s + "'");
}

const char* run_kind_name(RunKind k) {
    switch (k) {
        case RunKind::Generation: return "generation";
        case RunKind::Record: return "record";
        case RunKind::Import: return "import";
    }
    return "record";
}

static RunKind parse_run_kind(const std::string& s) {
    if (s == "generation") return RunKind::Generation;
    if (s == "import") return RunKind::Import;
    return RunKind::Record;
}

std::string utc_now_iso() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string int_list_json(const std::vector<int>& v) { return json(v).dump(); }

std::vector<int> parse_int_list_json(const std::string& s) {
    if (s.empty()) return {};
    json j = json::parse(s, nullptr, false);
    std::vector<int> out;
    if (!j.is_array()) return out;
    for (const auto& x : j)
        if (x.is_number_integer()) out.push_back(x.get<int>());
    return out;
}

// ---- WriterLock ----------------------------------------------------------------------------------

WriterLock::WriterLock(const std::string& db_path) {
    std::string lock_path = db_path + "-writer.lock";
    fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
        int e = errno;
        std::string dir = db_path.find('/') == std::string::npos ? "." : db_path.substr(0, db_path.rfind('/') + 1);
        struct stat st {};
        bool dir_exists = ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
        if (e == EROFS || e == EACCES || e == EPERM || (dir_exists && e == ENOENT))
            throw Error(db_path + ": cannot record here: read-only location (cannot create " + lock_path + ": " +
                        std::strerror(e) + ")");
        throw Error(db_path + ": cannot create " + lock_path + ": " + std::strerror(e) +
                    (dir_exists ? "" : " (the folder does not exist)"));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        char buf[64] = {0};
        ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
        std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("unknown");
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
        ::close(fd_);
        fd_ = -1;
        throw Error(db_path + ": database is in use by another writer (" + holder +
                    "); only one process may record into a database at a time");
    }
    std::string me = "pid " + std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0) {
        ssize_t w = ::pwrite(fd_, me.data(), me.size(), 0);
        (void)w;  // the pid is informational only
    }
}

WriterLock::~WriterLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
}

// ---- connection ----------------------------------------------------------------------------------

static void check_file_before_open(const std::string& path, Access access) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (access == Access::ReadOnly) throw Error(path + ": no such database file");
        return;  // will be created
    }
    if (!S_ISREG(st.st_mode)) throw Error(path + ": not a moescope database (not a regular file)");
    if (st.st_size == 0) {
        if (access == Access::ReadOnly) throw Error(path + ": empty file, not a moescope database");
        return;
    }
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error(path + ": cannot read: " + std::strerror(errno));
    char head[16] = {0};
    f.read(head, sizeof head);
    static const char kMagic[16] = "SQLite format 3";  // 15 chars + NUL, the SQLite file header
    if (f.gcount() < 16 || std::memcmp(head, kMagic, 16) != 0)
        throw Error(path + ": not a moescope database (not an SQLite file: unexpected header at offset 0)");
    if (access == Access::Write && ::access(path.c_str(), W_OK) != 0)
        throw Error(path + ": cannot record here: the database file is read-only (" + std::strerror(errno) + ")");
}

Db open_connection(const std::string& path, Access access) {
    Db db(path, access == Access::Write ? Db::Mode::ReadWriteCreate : Db::Mode::ReadOnly);
    // Readers wait briefly for WAL recovery or a checkpoint; the writer does not wait long on locks it
    // should never meet (the WriterLock already excludes other moescope writers).
    db.set_busy_timeout_ms(access == Access::Write ? 2000 : 5000);
    return db;
}

void configure_writer(Db& db) {
    // A new file gets 16 KiB pages: routing rows are ~70 bytes, so bigger pages mean fewer B-tree
    // splits per inserted row (page size is fixed once the file exists, and WAL mode freezes it).
    if (db.query_int("PRAGMA page_count") == 0) db.exec("PRAGMA page_size=16384");
    std::string mode = db.query_text("PRAGMA journal_mode=WAL");
    if (mode != "wal")
        throw Error(db.path() + ": cannot use write-ahead logging (journal mode '" + mode +
                    "'); WAL does not work on network filesystems: use a local disk");
    // NORMAL: consistent after any crash and durable across application crashes; a power loss may
    // lose the last commits (style.md §2A). FULL would fsync the WAL on every batch.
    db.exec("PRAGMA synchronous=NORMAL");
    db.exec("PRAGMA journal_size_limit=67108864");
    db.exec("PRAGMA cache_size=-65536");  // 64 MiB: the right edge of the routing B-tree stays cached
    db.exec("PRAGMA foreign_keys=ON");
}

// ---- Database ------------------------------------------------------------------------------------

Database::Database(const std::string& path, Access access) : path_(path), access_(access) {}

Database::~Database() {
    if (access_ == Access::Write && db_.is_open()) {
        try {
            db_.exec("PRAGMA wal_checkpoint(PASSIVE)");
        } catch (...) {
            // a busy checkpoint is harmless: the next writer or reader finishes it
        }
    }
}

std::unique_ptr<Database> Database::open(const std::string& path, Access access) {
    check_file_before_open(path, access);
    std::unique_ptr<Database> d(new Database(path, access));
    if (access == Access::Write) d->lock_ = std::make_unique<WriterLock>(path);
    try {
        d->db_ = open_connection(path, access);
    } catch (const SqliteError& e) {
        if (access == Access::Write && (e.code() == 8 /*SQLITE_READONLY*/ || e.code() == 14 /*SQLITE_CANTOPEN*/))
            throw Error(path + ": cannot record here: read-only location (" + e.what() + ")");
        throw;
    }
    int version = check_schema(d->db_);  // before any write: a foreign file stays untouched
    if (access == Access::Write) {
        configure_writer(d->db_);
        migrate(d->db_);
        Stmt s = d->db_.prepare(
            "UPDATE run SET status='interrupted', finished_at=?, status_detail='the recording process ended "
            "without closing the run (crash, kill or power loss)' WHERE status='running'");
        s.bind(1, utc_now_iso()).run();
        d->interrupted_on_open_ = d->db_.changes();
    } else if (version == 0) {
        throw Error(path + ": empty database (no moescope schema yet)");
    } else if (version < kMinReadableVersion) {
        throw Error(path + ": schema version " + std::to_string(version) +
                    " is older than this build's; open it once for writing (e.g. moescope-cli import/record) to "
                    "migrate it");
    }
    return d;
}

int Database::schema_version() { return static_cast<int>(db_.query_int("PRAGMA user_version")); }

int64_t Database::add_model(const ModelInfo& m) {
    Stmt s = db_.prepare(
        "INSERT INTO model(name, architecture, path, config_json, content_hash, n_layers, n_experts, top_k, "
        "moe_layers_json) VALUES (?,?,?,?,?,?,?,?,?)");
    s.bind(1, m.name).bind(2, m.architecture).bind(3, m.path).bind(4, m.config_json).bind(5, m.content_hash);
    s.bind(6, m.n_layers).bind(7, m.n_experts).bind(8, m.top_k).bind(9, int_list_json(m.moe_layers));
    s.run();
    return db_.last_insert_rowid();
}

int64_t Database::find_or_add_model(const ModelInfo& m) {
    Stmt s = db_.prepare("SELECT id FROM model WHERE name=? AND IFNULL(content_hash,'')=? AND IFNULL(path,'')=?");
    s.bind(1, m.name).bind(2, m.content_hash).bind(3, m.path);
    if (s.step()) return s.int64(0);
    return add_model(m);
}

int64_t Database::prompt_set(const std::string& name) {
    Stmt s = db_.prepare("SELECT id FROM prompt_set WHERE name=?");
    s.bind(1, name);
    if (s.step()) return s.int64(0);
    Stmt ins = db_.prepare("INSERT INTO prompt_set(name) VALUES (?)");
    ins.bind(1, name).run();
    return db_.last_insert_rowid();
}

int64_t Database::add_prompt(std::optional<int64_t> set_id, const std::string& text,
                             const std::string& messages_json) {
    Stmt s = db_.prepare("INSERT INTO prompt(set_id, text, messages_json) VALUES (?,?,?)");
    if (set_id) s.bind(1, *set_id);
    s.bind(2, text);
    if (!messages_json.empty()) s.bind(3, messages_json);
    s.run();
    return db_.last_insert_rowid();
}

int64_t Database::begin_run(const RunInfo& r) {
    Stmt s = db_.prepare(
        "INSERT INTO run(model_id, kind, label, created_at, engine_version, sampling_json, interventions_json, "
        "seed, capture_level, logits_dtype, status, n_layers, n_experts, k_max, moe_layers_json, fields_json, "
        "source) VALUES (?,?,?,?,?,?,?,?,?,?,'running',?,?,?,?,?,?)");
    if (r.model_id > 0) s.bind(1, r.model_id);
    s.bind(2, run_kind_name(r.kind)).bind(3, r.label).bind(4, utc_now_iso());
    s.bind(5, r.engine_version.empty() ? std::string(engine_version()) : r.engine_version);
    s.bind(6, r.sampling_json).bind(7, r.interventions_json);
    if (r.seed) s.bind(8, *r.seed);
    s.bind(9, static_cast<int>(r.capture));
    if (r.capture >= CaptureLevel::Logits) s.bind(10, r.logits_dtype == LogitsDtype::F16 ? "F16" : "F32");
    s.bind(11, r.n_layers).bind(12, r.n_experts).bind(13, r.k_max).bind(14, int_list_json(r.moe_layers));
    s.bind(15, r.fields_json);
    if (!r.source.empty()) s.bind(16, r.source);
    s.run();
    return db_.last_insert_rowid();
}

void Database::finish_run(int64_t run_id, RunStatus status, const std::string& detail) {
    Stmt s = db_.prepare("UPDATE run SET status=?, status_detail=?, finished_at=? WHERE id=?");
    s.bind(1, run_status_name(status));
    if (!detail.empty()) s.bind(2, detail);
    s.bind(3, utc_now_iso()).bind(4, run_id).run();
}

void Database::add_intervention_change(int64_t run_id, int64_t step, const std::string& interventions_json) {
    WriteTxn txn(db_);
    std::string cur = run(run_id).interventions_json;
    json timeline = json::parse(cur, nullptr, false);
    if (!timeline.is_array()) timeline = json::array();
    json change = json::parse(interventions_json, nullptr, false);
    if (change.is_discarded()) throw Error("intervention change for run " + std::to_string(run_id) + ": not JSON");
    timeline.push_back({{"step", step}, {"interventions", change}});
    Stmt s = db_.prepare("UPDATE run SET interventions_json=? WHERE id=?");
    s.bind(1, timeline.dump()).bind(2, run_id).run();
    txn.commit();
}

static const char* kRunColumns =
    "id, IFNULL(model_id,0), kind, IFNULL(label,''), created_at, IFNULL(finished_at,''), IFNULL(engine_version,''), "
    "IFNULL(sampling_json,'{}'), interventions_json, seed, capture_level, IFNULL(logits_dtype,'F16'), status, "
    "IFNULL(status_detail,''), IFNULL(n_layers,0), IFNULL(n_experts,0), IFNULL(k_max,0), moe_layers_json, "
    "fields_json, IFNULL(source,''), dropped_steps, steps_committed FROM run";

static RunInfo read_run_row(Stmt& s) {
    RunInfo r;
    r.id = s.int64(0);
    r.model_id = s.int64(1);
    r.kind = parse_run_kind(s.text(2));
    r.label = s.text(3);
    r.created_at = s.text(4);
    r.finished_at = s.text(5);
    r.engine_version = s.text(6);
    r.sampling_json = s.text(7);
    r.interventions_json = s.text(8);
    if (!s.is_null(9)) r.seed = s.int64(9);
    r.capture = static_cast<CaptureLevel>(s.int32(10));
    r.logits_dtype = s.text(11) == "F32" ? LogitsDtype::F32 : LogitsDtype::F16;
    r.status = parse_run_status(s.text(12));
    r.status_detail = s.text(13);
    r.n_layers = s.int32(14);
    r.n_experts = s.int32(15);
    r.k_max = s.int32(16);
    r.moe_layers = parse_int_list_json(s.text(17));
    r.fields_json = s.text(18);
    r.source = s.text(19);
    r.dropped_steps = s.int64(20);
    r.steps_committed = s.int64(21);
    return r;
}

std::vector<RunInfo> Database::runs() {
    Stmt s = db_.prepare(std::string("SELECT ") + kRunColumns + " ORDER BY id");
    std::vector<RunInfo> out;
    while (s.step()) out.push_back(read_run_row(s));
    return out;
}

RunInfo Database::run(int64_t run_id) {
    Stmt s = db_.prepare(std::string("SELECT ") + kRunColumns + " WHERE id=?");
    s.bind(1, run_id);
    if (!s.step()) throw Error(path_ + ": no run with id " + std::to_string(run_id));
    return read_run_row(s);
}

std::optional<ModelInfo> Database::model(int64_t model_id) {
    Stmt s = db_.prepare(
        "SELECT id, name, IFNULL(architecture,''), IFNULL(path,''), IFNULL(config_json,''), IFNULL(content_hash,''), "
        "IFNULL(n_layers,0), IFNULL(n_experts,0), IFNULL(top_k,0), moe_layers_json FROM model WHERE id=?");
    s.bind(1, model_id);
    if (!s.step()) return std::nullopt;
    ModelInfo m;
    m.id = s.int64(0);
    m.name = s.text(1);
    m.architecture = s.text(2);
    m.path = s.text(3);
    m.config_json = s.text(4);
    m.content_hash = s.text(5);
    m.n_layers = s.int32(6);
    m.n_experts = s.int32(7);
    m.top_k = s.int32(8);
    m.moe_layers = parse_int_list_json(s.text(9));
    return m;
}

int64_t Database::token_count(int64_t run_id) {
    Stmt s = db_.prepare("SELECT count(*) FROM token WHERE run_id=?");
    s.bind(1, run_id);
    s.step();
    return s.int64(0);
}

}  // namespace moescope::storage
