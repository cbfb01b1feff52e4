#include "app/gui/views/db_catalog.h"

#include "engine/error.h"
#include "storage/sqlite.h"

namespace moescope::gui {

std::vector<PromptSetRow> listPromptSets(storage::Database& db) {
    std::vector<PromptSetRow> out;
    storage::Stmt s = db.db().prepare(
        "SELECT ps.name, (SELECT COUNT(*) FROM prompt p WHERE p.set_id = ps.id) FROM prompt_set ps "
        "WHERE EXISTS (SELECT 1 FROM prompt p JOIN token t ON t.prompt_id = p.id WHERE p.set_id = ps.id) "
        "ORDER BY ps.name");
    while (s.step()) out.push_back({QString::fromStdString(s.text(0)), s.int64(1)});
    return out;
}

QStringList tokenTexts(storage::Database& db, const std::vector<int64_t>& runIds, const std::string& set) {
    // Mirrors read_routing(): rows of the selected runs, optionally only prompts of the set, by token rowid.
    std::string sql =
        "SELECT IFNULL(t.text, ''), IFNULL(t.token_id, -1), t.run_id FROM token t LEFT JOIN prompt p ON p.id = t.prompt_id";
    if (!set.empty()) sql += " WHERE p.set_id = (SELECT id FROM prompt_set WHERE name = ?1)";
    sql += " ORDER BY t.id";
    storage::Stmt s = db.db().prepare(sql);
    if (!set.empty()) s.bind(1, set);
    QStringList out;
    while (s.step()) {
        if (!runIds.empty()) {
            const int64_t run = s.int64(2);
            bool keep = false;
            for (int64_t id : runIds) keep = keep || id == run;
            if (!keep) continue;
        }
        QString text = QString::fromStdString(s.text(0));
        if (text.isEmpty()) text = QStringLiteral("⟨%1⟩").arg(s.int64(1));
        out << text;
    }
    return out;
}

std::unique_ptr<storage::Database> openReadOnly(const QString& path) {
    if (path.isEmpty()) throw Error("no activation database is open");
    return storage::Database::open(path.toStdString(), storage::Access::ReadOnly);
}

}  // namespace moescope::gui
