#include "storage/run_admin.h"

#include "engine/error.h"
#include "storage/sqlite.h"

namespace moescope::storage {

const std::vector<std::string> kPerTokenTables = {"routing", "router_logits", "expert_activation", "layer_stat"};
const std::vector<std::string> kPerRunTables = {"token", "step", "expert_agg", "layer_agg"};

void rename_run(Database& db, int64_t run_id, const std::string& label) {
    if (!db.writable()) throw Error(db.path() + ": opened read-only; cannot rename run " + std::to_string(run_id));
    (void)db.run(run_id);  // Error naming the run when absent
    Stmt s = db.db().prepare("UPDATE run SET label=? WHERE id=?");
    s.bind(1, label).bind(2, run_id);
    s.run();
}

void delete_run(Database& db, int64_t run_id) {
    if (!db.writable()) throw Error(db.path() + ": opened read-only; cannot delete run " + std::to_string(run_id));
    (void)db.run(run_id);
    WriteTxn txn(db.db());
    // Per-token tables first: a rowid range over the run's tokens, then membership, so SQLite walks the
    // primary key instead of scanning the whole table; then the run's own rows, then the run.
    for (const std::string& table : kPerTokenTables) {
        Stmt s = db.db().prepare("DELETE FROM " + table +
                                 " WHERE id >= (SELECT IFNULL(MIN(id), 0) FROM token WHERE run_id=?1) * 1024"
                                 " AND id < (SELECT IFNULL(MAX(id), -1) + 1 FROM token WHERE run_id=?1) * 1024"
                                 " AND (id >> 10) IN (SELECT id FROM token WHERE run_id=?1)");
        s.bind(1, run_id);
        s.run();
    }
    for (const std::string& table : kPerRunTables) {
        Stmt s = db.db().prepare("DELETE FROM " + table + " WHERE run_id=?");
        s.bind(1, run_id);
        s.run();
    }
    Stmt s = db.db().prepare("DELETE FROM run WHERE id=?");
    s.bind(1, run_id);
    s.run();
    txn.commit();
}

std::vector<TokenRow> token_rows(Database& db, int64_t run_id) {
    (void)db.run(run_id);
    std::vector<TokenRow> rows;
    Stmt s = db.db().prepare("SELECT IFNULL(text, ''), IFNULL(token_id, -1), generated FROM token WHERE run_id=? ORDER BY seq, position");
    s.bind(1, run_id);
    while (s.step()) rows.push_back({s.text(0), static_cast<int32_t>(s.int64(1)), s.int64(2) != 0});
    return rows;
}

}  // namespace moescope::storage
