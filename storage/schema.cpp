#include "storage/schema.h"

#include <string>
#include <vector>

#include "engine/version.h"
#include "storage/sqlite_info.h"

namespace moescope::storage {

namespace {

// Migration i takes the schema from version i to i+1. Never edit a released step: add a new one.
// Routing data is one row per (token, MoE layer) with top-k ids and weights as little-endian BLOBs
// (landscape.md §4: one row per expert would be ~8x the rows and the index overhead). The key is the
// rowid token * 1024 + layer: appends to an integer-keyed B-tree are SQLite's fastest insert path
// (about 25% faster than a WITHOUT ROWID (token, layer) key here), a run is one rowid range, and
// `token` / `layer` are generated columns for people reading the file with SQL. The bulky optional
// captures live in their own tables so a plain routing scan never reads past them.
const char* const kV1 = R"SQL(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE model(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  architecture TEXT,
  path TEXT,
  config_json TEXT,
  content_hash TEXT,
  n_layers INTEGER,
  n_experts INTEGER,
  top_k INTEGER,
  moe_layers_json TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE prompt_set(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT);
CREATE TABLE prompt(
  id INTEGER PRIMARY KEY,
  set_id INTEGER REFERENCES prompt_set(id),
  text TEXT,
  messages_json TEXT
);
CREATE INDEX prompt_by_set ON prompt(set_id);
CREATE TABLE run(
  id INTEGER PRIMARY KEY,
  model_id INTEGER REFERENCES model(id),
  kind TEXT NOT NULL CHECK (kind IN ('generation', 'record', 'import')),
  label TEXT,
  created_at TEXT NOT NULL,
  finished_at TEXT,
  engine_version TEXT,
  sampling_json TEXT,
  interventions_json TEXT NOT NULL DEFAULT '[]',
  seed INTEGER,
  capture_level INTEGER NOT NULL,
  logits_dtype TEXT CHECK (logits_dtype IS NULL OR logits_dtype IN ('F16', 'F32')),
  status TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed', 'interrupted')),
  status_detail TEXT,
  n_layers INTEGER,
  n_experts INTEGER,
  k_max INTEGER,
  moe_layers_json TEXT NOT NULL DEFAULT '[]',
  fields_json TEXT NOT NULL DEFAULT '{}',
  source TEXT
);
CREATE TABLE step(
  run_id INTEGER NOT NULL REFERENCES run(id),
  idx INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  step INTEGER NOT NULL,
  first_token INTEGER NOT NULL,
  n_tokens INTEGER NOT NULL,
  PRIMARY KEY (run_id, idx)
) WITHOUT ROWID;
CREATE TABLE token(
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES run(id),
  seq INTEGER NOT NULL,
  position INTEGER NOT NULL,
  step INTEGER,
  prompt_id INTEGER REFERENCES prompt(id),
  token_id INTEGER,
  text TEXT,
  generated INTEGER NOT NULL
);
CREATE UNIQUE INDEX token_by_run ON token(run_id, seq, position);
CREATE TABLE routing(
  id INTEGER PRIMARY KEY,  -- token * 1024 + layer
  experts BLOB NOT NULL,
  weights BLOB,
  shared_gate REAL,
  token INTEGER GENERATED ALWAYS AS (id >> 10) VIRTUAL,
  layer INTEGER GENERATED ALWAYS AS (id & 1023) VIRTUAL
);
CREATE TABLE router_logits(
  id INTEGER PRIMARY KEY,  -- token * 1024 + layer
  logits BLOB NOT NULL,
  token INTEGER GENERATED ALWAYS AS (id >> 10) VIRTUAL,
  layer INTEGER GENERATED ALWAYS AS (id & 1023) VIRTUAL
);
CREATE TABLE expert_activation(
  id INTEGER PRIMARY KEY,  -- token * 1024 + layer
  out_norm BLOB,
  down_proj_max BLOB,
  down_proj_channel BLOB,
  token INTEGER GENERATED ALWAYS AS (id >> 10) VIRTUAL,
  layer INTEGER GENERATED ALWAYS AS (id & 1023) VIRTUAL
);
CREATE TABLE layer_stat(
  id INTEGER PRIMARY KEY,  -- token * 1024 + layer
  hidden_max_abs REAL,
  hidden_max_channel INTEGER,
  hidden_norm REAL,
  sink_mass REAL,
  sink_mass_per_head BLOB,
  token INTEGER GENERATED ALWAYS AS (id >> 10) VIRTUAL,
  layer INTEGER GENERATED ALWAYS AS (id & 1023) VIRTUAL
);
CREATE TABLE expert_agg(
  run_id INTEGER NOT NULL,
  layer INTEGER NOT NULL,
  expert INTEGER NOT NULL,
  count INTEGER NOT NULL,
  weight_sum REAL,
  down_proj_max REAL,
  PRIMARY KEY (run_id, layer, expert)
) WITHOUT ROWID;
CREATE TABLE layer_agg(
  run_id INTEGER NOT NULL,
  layer INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  PRIMARY KEY (run_id, layer)
) WITHOUT ROWID;
)SQL";

// v2: the recorder's drop-on-overflow policy leaves a count, and runs keep how many steps committed.
const char* const kV2 = R"SQL(
ALTER TABLE run ADD COLUMN dropped_steps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run ADD COLUMN steps_committed INTEGER NOT NULL DEFAULT 0;
)SQL";

// v3: EASY-EP's token contribution s_t per (token, MoE layer) (methods.md §6.2), level activations.
// Additive: a v2 file still reads (the column reads as absent), so read-only opens accept v2.
const char* const kV3 = R"SQL(
ALTER TABLE expert_activation ADD COLUMN token_contribution REAL;
)SQL";

const std::vector<const char*>& migrations() {
    static const std::vector<const char*> m = {kV1, kV2, kV3};
    return m;
}

}  // namespace

int check_schema(Db& db) {
    int64_t version = 0;
    int64_t tables = 0;
    try {
        version = db.query_int("PRAGMA user_version");
        tables = db.query_int("SELECT count(*) FROM sqlite_schema");
    } catch (const SqliteError& e) {
        if (e.not_a_database())
            throw Error(db.path() + ": not a moescope database (the file is not an SQLite database or is corrupt)");
        throw;
    }
    if (version == 0) {
        if (tables != 0)
            throw Error(db.path() + ": not a moescope database (an SQLite database with " + std::to_string(tables) +
                        " other objects and no moescope schema)");
        return 0;
    }
    bool has_meta = db.query_int("SELECT count(*) FROM sqlite_schema WHERE type='table' AND name='meta'") == 1;
    std::string app = has_meta ? db.query_text("SELECT value FROM meta WHERE key='app'") : std::string();
    if (app != kAppName)
        throw Error(db.path() + ": not a moescope database (SQLite user_version " + std::to_string(version) +
                    " but no moescope meta table)");
    if (version > kSchemaVersion)
        throw Error(db.path() + ": the database has schema version " + std::to_string(version) +
                    ", written by a newer moescope (" +
                    db.query_text("SELECT value FROM meta WHERE key='written_by'", "unknown version") +
                    "); this build reads up to version " + std::to_string(kSchemaVersion) + ". Update moescope.");
    return static_cast<int>(version);
}

void migrate(Db& db, int target) {
    int version = check_schema(db);
    if (version >= target) return;
    WriteTxn txn(db);
    for (int v = version; v < target; ++v) db.exec(migrations().at(static_cast<size_t>(v)));
    Stmt put = db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
    put.bind(1, "app").bind(2, kAppName).run();
    put.bind(1, "schema_version").bind(2, std::to_string(target)).run();
    put.bind(1, "written_by").bind(2, std::string("moescope ") + engine_version()).run();
    put.bind(1, "sqlite_version").bind(2, sqlite_library_version()).run();
    if (version == 0) put.bind(1, "created_by").bind(2, std::string("moescope ") + engine_version()).run();
    db.exec("PRAGMA user_version = " + std::to_string(target));
    txn.commit();
}

}  // namespace moescope::storage
