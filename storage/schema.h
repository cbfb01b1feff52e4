#pragma once
// The activation database's schema: created and migrated by code. `PRAGMA user_version` holds the
// schema version, and the meta table repeats it next to the application name so that a foreign SQLite
// file is told apart from ours. docs/database.md documents every table.
#include <cstdint>

#include "storage/sqlite.h"

namespace moescope::storage {

constexpr int kSchemaVersion = 3;
// Oldest version a read-only open accepts (later versions only added columns readers treat as absent).
constexpr int kMinReadableVersion = 2;
constexpr const char* kAppName = "moescope";

// Row key of the per (token, layer) tables: routing, router_logits, expert_activation, layer_stat.
constexpr int kLayerBits = 10;
constexpr int kMaxLayers = 1 << kLayerBits;  // HF layer indices 0..1023
constexpr int64_t routing_key(int64_t token, int layer) { return (token << kLayerBits) | layer; }
constexpr int64_t key_token(int64_t key) { return key >> kLayerBits; }
constexpr int key_layer(int64_t key) { return static_cast<int>(key & (kMaxLayers - 1)); }

// Brings a database that passed check_schema() to kSchemaVersion (or to `target`, for tests of the
// migration path), inside one transaction. An empty database gets the full schema.
void migrate(Db& db, int target = kSchemaVersion);

// Classifies an open database: returns its schema version (0 = empty, nothing created yet). Throws a
// clear Error for a foreign SQLite file, a newer schema, or a file that is not a database at all.
int check_schema(Db& db);

}  // namespace moescope::storage
