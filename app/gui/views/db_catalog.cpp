#include "app/gui/views/db_catalog.h"

#include "engine/error.h"
#include "storage/catalog.h"

namespace moescope::gui {

std::vector<PromptSetRow> listPromptSets(storage::Database& db) {
    std::vector<PromptSetRow> out;
    for (const auto& s : storage::recorded_prompt_sets(db)) out.push_back({QString::fromStdString(s.name), s.prompts});
    return out;
}

QStringList tokenTexts(storage::Database& db, const storage::RoutingSelection& sel) {
    QStringList out;
    for (const storage::TokenRow& t : storage::selection_token_rows(db, sel))
        out << (t.text.empty() ? QStringLiteral("⟨%1⟩").arg(t.token_id) : QString::fromStdString(t.text));
    return out;
}

std::unique_ptr<storage::Database> openReadOnly(const QString& path) {
    if (path.isEmpty()) throw Error("no activation database is open");
    return storage::Database::open(path.toStdString(), storage::Access::ReadOnly);
}

}  // namespace moescope::gui
