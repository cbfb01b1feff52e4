#pragma once
// Qt adapters over storage/catalog.h for the analysis views: the prompt sets of a database and the token
// texts of the rows read_routing() returns for a selection, as QString lists. They run in AnalysisRunner
// workers on the view's own read-only connection.
#include <QString>
#include <QStringList>
#include <memory>
#include <string>
#include <vector>

#include "storage/database.h"
#include "storage/routing_reader.h"

namespace moescope::gui {

struct PromptSetRow {
    QString name;
    qint64 prompts = 0;
};

// Prompt sets that have recorded tokens, by name.
std::vector<PromptSetRow> listPromptSets(storage::Database& db);

// Decoded text of each token row read_routing(db, sel) returns: row r matches routing row r. Tokens
// without stored text show as ⟨id⟩.
QStringList tokenTexts(storage::Database& db, const storage::RoutingSelection& sel);

// Opens `path` read-only (throws moescope::Error naming the file when it cannot).
std::unique_ptr<storage::Database> openReadOnly(const QString& path);

}  // namespace moescope::gui
