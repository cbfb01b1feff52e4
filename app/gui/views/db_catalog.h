#pragma once
// Small read-only catalogue queries the analysis views need beside storage's routing reader: the prompt
// sets of a database and the token texts of the rows read_routing() returns for a selection (same row
// order: token rowid). They run in AnalysisRunner workers on the view's own read-only connection.
// They are SQL over storage's RAII wrappers like app/gui/run_store.cpp; both belong in storage/'s API
// once it exposes them (see docs/app.md "Not done yet").
#include <QString>
#include <QStringList>
#include <memory>
#include <string>
#include <vector>

#include "storage/database.h"

namespace moescope::gui {

struct PromptSetRow {
    QString name;
    qint64 prompts = 0;
};

// Prompt sets that have recorded tokens, by name.
std::vector<PromptSetRow> listPromptSets(storage::Database& db);

// Decoded text of each token row of the runs (all runs when empty) restricted to prompt set `set`
// ("" = no restriction), in token rowid order: row r matches row r of read_routing() for the same
// selection. Tokens without stored text show as ⟨id⟩.
QStringList tokenTexts(storage::Database& db, const std::vector<int64_t>& runIds, const std::string& set);

// Opens `path` read-only (throws moescope::Error naming the file when it cannot).
std::unique_ptr<storage::Database> openReadOnly(const QString& path);

}  // namespace moescope::gui
