// RunStore: listing, replay, rename, delete and export of recorded runs.
#include "app/gui/run_store.h"

#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>

#include "storage/routing_reader.h"
#include "storage/sqlite.h"

namespace moescope::gui {

QString defaultDatabasePath() {
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    QDir().mkpath(dir);
    return QDir(dir).filePath(QStringLiteral("activations.moescope.db"));
}

std::vector<RunRow> listRuns(storage::Database& db) {
    std::vector<RunRow> rows;
    for (const storage::RunInfo& r : db.runs()) {
        RunRow row;
        row.id = r.id;
        row.label = QString::fromStdString(r.label);
        row.kind = QString::fromLatin1(storage::run_kind_name(r.kind));
        row.created = QString::fromStdString(r.created_at);
        row.status = QString::fromLatin1(storage::run_status_name(r.status));
        if (r.model_id > 0)
            if (auto m = db.model(r.model_id)) row.model = QString::fromStdString(m->name);
        row.tokens = db.token_count(r.id);
        rows.push_back(row);
    }
    return rows;
}

RunDataPtr loadRun(storage::Database& db, int64_t runId) {
    const storage::RunInfo info = db.run(runId);  // throws when absent
    auto run = std::make_shared<RunData>();
    run->runId = runId;
    run->dbPath = QString::fromStdString(db.path());
    run->title = QString::fromStdString(info.label);
    if (info.model_id > 0)
        if (auto m = db.model(info.model_id)) run->modelName = QString::fromStdString(m->path);
    run->routing = storage::read_run_routing(db, runId);
    // Token texts in row order (the routing reader orders rows by sequence, then position).
    storage::Stmt s = db.db().prepare("SELECT IFNULL(text, ''), IFNULL(token_id, -1), generated FROM token "
                                      "WHERE run_id=? ORDER BY seq, position");
    s.bind(1, runId);
    int prompt = 0;
    bool seenGenerated = false;
    while (s.step()) {
        QString text = QString::fromStdString(s.text(0));
        if (text.isEmpty()) text = QStringLiteral("⟨%1⟩").arg(s.int64(1));
        run->tokenText << text;
        if (s.int64(2) == 0 && !seenGenerated) ++prompt;
        if (s.int64(2) != 0) seenGenerated = true;
    }
    run->promptTokens = prompt;
    // Timeline: [{"step": s, "interventions": {...}}]; step s's forward feeds generated token s, at row
    // prompt + s, and chooses token s + 1.
    const QJsonArray timeline = QJsonDocument::fromJson(QByteArray::fromStdString(info.interventions_json)).array();
    for (const auto& v : timeline) {
        const QJsonObject o = v.toObject();
        const int step = o.value("step").toInt();
        if (step < 0) continue;  // the state at the prompt
        const QString ivText = QString::fromUtf8(QJsonDocument(o.value("interventions").toObject()).toJson(QJsonDocument::Compact));
        run->timeline.push_back({prompt + step, QStringLiteral("from token %1: %2").arg(step + 1).arg(ivText)});
    }
    return run;
}

void renameRun(storage::Database& db, int64_t runId, const std::string& label) {
    (void)db.run(runId);  // Error when absent
    storage::Stmt s = db.db().prepare("UPDATE run SET label=? WHERE id=?");
    s.bind(1, label).bind(2, runId);
    s.run();
}

void deleteRun(storage::Database& db, int64_t runId) {
    (void)db.run(runId);
    storage::WriteTxn txn(db.db());
    // Per-token tables first (rowid = token * 1024 + layer: a rowid range over the run's tokens, then
    // membership, so SQLite walks the primary key instead of the whole table), then the run's own rows.
    for (const char* table : {"routing", "router_logits", "expert_activation", "layer_stat"}) {
        storage::Stmt s = db.db().prepare(
            std::string("DELETE FROM ") + table +
            " WHERE id >= (SELECT IFNULL(MIN(id), 0) FROM token WHERE run_id=?1) * 1024"
            " AND id < (SELECT IFNULL(MAX(id), -1) + 1 FROM token WHERE run_id=?1) * 1024"
            " AND (id >> 10) IN (SELECT id FROM token WHERE run_id=?1)");
        s.bind(1, runId);
        s.run();
    }
    for (const char* table : {"token", "step", "expert_agg", "layer_agg"}) {
        storage::Stmt s = db.db().prepare(std::string("DELETE FROM ") + table + " WHERE run_id=?");
        s.bind(1, runId);
        s.run();
    }
    storage::Stmt s = db.db().prepare("DELETE FROM run WHERE id=?");
    s.bind(1, runId);
    s.run();
    txn.commit();
}

QByteArray exportRunJson(const RunData& run) {
    const RoutingArrays& a = run.routing;
    QJsonArray tokens;
    for (int t = 0; t < run.tokenCount(); ++t) {
        QJsonObject o;
        o["text"] = run.tokenText[t];
        o["generated"] = t >= run.promptTokens;
        if (t < a.n_tokens) {
            o["id"] = a.token_id[static_cast<size_t>(t)];
            QJsonArray experts, weights;
            for (int m = 0; m < a.n_moe; ++m) {
                QJsonArray e, w;
                for (int j = 0; j < a.k_max; ++j) {
                    const int16_t x = a.experts[a.slot(t, m, j)];
                    if (x < 0) continue;
                    e.append(x);
                    if (!a.weights.empty()) w.append(static_cast<double>(a.weights[a.slot(t, m, j)]));
                }
                experts.append(e);
                weights.append(w);
            }
            o["experts"] = experts;
            o["weights"] = weights;
        }
        tokens.append(o);
    }
    QJsonArray layers, timeline;
    for (int l : a.moe_layers) layers.append(l);
    for (const auto& m : run.timeline) timeline.append(QJsonObject{{"from_row", m.fromToken}, {"text", m.text}});
    QJsonObject root{{"run", run.runId}, {"title", run.title}, {"model", run.modelName}, {"prompt_tokens", run.promptTokens},
                     {"moe_layers", layers}, {"tokens", tokens}, {"timeline", timeline}};
    return QJsonDocument(root).toJson(QJsonDocument::Indented);
}

}  // namespace moescope::gui
