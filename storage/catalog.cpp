#include "storage/catalog.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "storage/sqlite.h"

namespace moescope::storage {

std::vector<PromptSetSummary> recorded_prompt_sets(Database& db) {
    std::vector<PromptSetSummary> out;
    Stmt s = db.db().prepare(
        "SELECT ps.name, (SELECT COUNT(*) FROM prompt p WHERE p.set_id = ps.id) FROM prompt_set ps "
        "WHERE EXISTS (SELECT 1 FROM prompt p JOIN token t ON t.prompt_id = p.id WHERE p.set_id = ps.id) "
        "ORDER BY ps.name");
    while (s.step()) out.push_back({s.text(0), s.int64(1)});
    return out;
}

std::vector<TokenRow> selection_token_rows(Database& database, const RoutingSelection& sel) {
    // Mirrors read_routing() (routing_reader.cpp): the selected runs' tokens (all runs when none are
    // selected), the set and prompt/generated filters, then every row in token rowid order.
    Db& db = database.db();
    ReadTxn snapshot(db);
    std::vector<int64_t> runs = sel.run_ids;
    if (runs.empty())
        for (const RunInfo& r : database.runs()) runs.push_back(r.id);
    else
        for (int64_t id : runs) (void)database.run(id);  // throws for an unknown run
    std::optional<int64_t> set_filter;
    if (sel.prompt_set) {
        Stmt s = db.prepare("SELECT id FROM prompt_set WHERE name=?");
        s.bind(1, *sel.prompt_set);
        if (!s.step()) throw Error(db.path() + ": no prompt set named '" + *sel.prompt_set + "'");
        set_filter = s.int64(0);
    }
    std::vector<std::pair<int64_t, TokenRow>> rows;  // (token rowid, row)
    Stmt s = db.prepare(
        "SELECT IFNULL(t.text, ''), IFNULL(t.token_id, -1), t.generated, IFNULL(p.set_id, -1), t.id FROM token t "
        "LEFT JOIN prompt p ON p.id = t.prompt_id WHERE t.run_id=? ORDER BY t.id");
    for (int64_t run : runs) {
        s.bind(1, run);
        while (s.step()) {
            const bool generated = s.int64(2) != 0;
            if (set_filter && s.int64(3) != *set_filter) continue;
            if (generated ? !sel.generated_tokens : !sel.prompt_tokens) continue;
            rows.push_back({s.int64(4), {s.text(0), static_cast<int32_t>(s.int64(1)), generated}});
        }
        s.reset();
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<TokenRow> out;
    out.reserve(rows.size());
    for (auto& r : rows) out.push_back(std::move(r.second));
    return out;
}

}  // namespace moescope::storage
