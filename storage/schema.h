#pragma once
// The activation database's schema: created and migrated by code. `PRAGMA user_version` holds the
// schema version, and the meta table repeats it next to the application name so that a foreign SQLite
// file is told apart from ours. docs/database.md documents every table.
#include "storage/sqlite.h"

namespace moescope::storage {

constexpr int kSchemaVersion = 2;
constexpr const char* kAppName = "moescope";

// Brings a database that passed check_schema() to kSchemaVersion (or to `target`, for tests of the
// migration path), inside one transaction. An empty database gets the full schema.
void migrate(Db& db, int target = kSchemaVersion);

// Classifies an open database: returns its schema version (0 = empty, nothing created yet). Throws a
// clear Error for a foreign SQLite file, a newer schema, or a file that is not a database at all.
int check_schema(Db& db);

}  // namespace moescope::storage
