#pragma once
// RunStore: the app's view of the activation database (engine thread only; storage/ does the SQL
// through its RAII wrappers). Lists runs, rebuilds a run as RunData for replay (routing from the
// routing reader, token texts, intervention timeline), renames, deletes and exports runs.
// The SQL lives in storage/ (storage/run_admin.h); this file turns it into what the views show.
#include <QByteArray>
#include <QString>
#include <memory>
#include <vector>

#include "app/gui/run_data.h"
#include "storage/database.h"

namespace moescope::gui {

struct RunRow {
    qint64 id = 0;
    QString label;
    QString kind;
    QString created;
    QString status;
    QString model;
    qint64 tokens = 0;
};

// <AppDataLocation>/activations.moescope.db (the per-user default database).
QString defaultDatabasePath();

std::vector<RunRow> listRuns(storage::Database& db);
// Throws moescope::Error when the run does not exist.
RunDataPtr loadRun(storage::Database& db, int64_t runId);
void renameRun(storage::Database& db, int64_t runId, const std::string& label);
void deleteRun(storage::Database& db, int64_t runId);
// {"run": id, "title", "prompt_tokens", "tokens": [{"text", "id", "generated", "experts": [[...] per layer],
//  "weights": [...]}], "moe_layers", "timeline": [{"from_token", "text"}]}
QByteArray exportRunJson(const RunData& run);

}  // namespace moescope::gui
