// RunStore: listing, replay, rename, delete and export of recorded runs.
#include "app/gui/run_store.h"

#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>

#include "storage/routing_reader.h"
#include "storage/run_admin.h"

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
    int prompt = 0;
    bool seenGenerated = false;
    for (const storage::TokenRow& t : storage::token_rows(db, runId)) {
        run->tokenText << (t.text.empty() ? QStringLiteral("⟨%1⟩").arg(t.token_id) : QString::fromStdString(t.text));
        if (!t.generated && !seenGenerated) ++prompt;
        if (t.generated) seenGenerated = true;
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

void renameRun(storage::Database& db, int64_t runId, const std::string& label) { storage::rename_run(db, runId, label); }

void deleteRun(storage::Database& db, int64_t runId) { storage::delete_run(db, runId); }

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
