#pragma once
// The activation database: one SQLite file holding models, runs, prompt sets, prompts, tokens and
// routing. Open it for writing (one writer per file, enforced with a lock file, see WriterLock) or
// read-only (any number of readers, also while a recording is in progress: WAL mode).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/routing_tap.h"
#include "storage/sqlite.h"

namespace moescope::storage {

enum class Access { ReadOnly, Write };

enum class RunStatus { Running, Complete, Failed, Interrupted };
const char* run_status_name(RunStatus s);
RunStatus parse_run_status(const std::string& s);  // throws Error for an unknown name

enum class RunKind { Generation, Record, Import };
const char* run_kind_name(RunKind k);

enum class LogitsDtype { F16, F32 };

struct ModelInfo {
    int64_t id = 0;
    std::string name;
    std::string architecture;
    std::string path;
    std::string config_json;   // the model's config.json as recorded
    std::string content_hash;  // hash of the weights' headers (who computes it: the caller)
    int n_layers = 0;          // decoder layers
    int n_experts = 0;         // routed experts per MoE layer
    int top_k = 0;
    std::vector<int> moe_layers;  // HF layer indices of the MoE layers
};

struct RunInfo {
    int64_t id = 0;
    int64_t model_id = 0;  // 0 = no model row
    RunKind kind = RunKind::Record;
    std::string label;
    std::string created_at;   // ISO-8601 UTC
    std::string finished_at;  // empty while running
    std::string engine_version;
    std::string sampling_json = "{}";
    std::string interventions_json = "[]";  // timeline: [{"step": s, "interventions": {...}}, ...]
    std::optional<int64_t> seed;
    CaptureLevel capture = CaptureLevel::Routing;
    LogitsDtype logits_dtype = LogitsDtype::F16;
    RunStatus status = RunStatus::Running;
    std::string status_detail;  // reason for failed/interrupted
    int n_layers = 0;
    int n_experts = 0;
    int k_max = 0;
    std::vector<int> moe_layers;
    std::string fields_json = "{}";  // which fields the run has ({"weights": false, ...} for imports)
    std::string source;              // imported file
    int64_t dropped_steps = 0;
    int64_t steps_committed = 0;
};

// Exclusive "one writer per database" lock: an flock()ed file `<db>-writer.lock` beside the database
// holding the writer's pid. flock is released by the kernel when the process dies (kill -9 included),
// which is what lets the next writer tell a dead recording (interrupted) from a live one (in use).
// A separate file, never the database itself: closing any descriptor of the database would drop
// SQLite's own POSIX locks (sqlite.org/howtocorrupt.html §2.2).
class WriterLock {
public:
    explicit WriterLock(const std::string& db_path);  // throws Error: "in use" or "read-only location"
    ~WriterLock();
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;

private:
    int fd_ = -1;
};

class Database {
public:
    // Write: takes the writer lock, creates or migrates the schema, and marks runs left 'running' by a
    // dead writer as 'interrupted'. ReadOnly: checks the schema, never writes. Throws Error with the
    // path and reason (not a database, foreign SQLite file, newer schema, read-only location, in use).
    static std::unique_ptr<Database> open(const std::string& path, Access access);
    ~Database();

    Db& db() { return db_; }
    const std::string& path() const { return path_; }
    bool writable() const { return access_ == Access::Write; }
    int interrupted_on_open() const { return interrupted_on_open_; }
    int schema_version();

    // ---- writes (Access::Write) ----
    int64_t add_model(const ModelInfo& m);
    int64_t find_or_add_model(const ModelInfo& m);  // same name + content_hash + path -> existing id
    int64_t prompt_set(const std::string& name);    // get or create
    int64_t add_prompt(std::optional<int64_t> set_id, const std::string& text, const std::string& messages_json);
    int64_t begin_run(const RunInfo& r);  // inserts with status running; returns the id
    void finish_run(int64_t run_id, RunStatus status, const std::string& detail = {});
    // Appends {"step": step, "interventions": <json>} to the run's intervention timeline.
    void add_intervention_change(int64_t run_id, int64_t step, const std::string& interventions_json);

    // ---- reads ----
    std::vector<RunInfo> runs();
    RunInfo run(int64_t run_id);  // throws Error when absent
    std::optional<ModelInfo> model(int64_t model_id);
    int64_t token_count(int64_t run_id);

private:
    Database(const std::string& path, Access access);
    std::string path_;
    Access access_;
    std::unique_ptr<WriterLock> lock_;
    Db db_;
    int interrupted_on_open_ = 0;
};

// Opens a connection (busy timeout set). configure_writer() then switches a write connection to WAL,
// synchronous=NORMAL, journal_size_limit and foreign keys; the recorder's writer thread uses both.
Db open_connection(const std::string& path, Access access);
void configure_writer(Db& db);

std::string utc_now_iso();
std::string int_list_json(const std::vector<int>& v);
std::vector<int> parse_int_list_json(const std::string& s);

}  // namespace moescope::storage
