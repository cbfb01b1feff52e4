#include "app/gui/views/engine_jobs.h"

#include <QFileInfo>
#include <QPointer>
#include <memory>

#include "app/gui/engine_host.h"
#include "app/gui/engine_state.h"
#include "app/gui/views/view_hub.h"
#include "engine/behavior_eval.h"
#include "engine/prompt_file.h"
#include "moescope/build_info.h"
#include "storage/prompt_recording.h"

namespace moescope::gui {

namespace {

std::vector<PromptLine> loadPrompts(const EngineState& st, const QString& file) {
    const std::string path = file.toStdString();
    std::vector<PromptLine> prompts = read_prompt_file(path, QFileInfo(file).completeBaseName().section('.', 0, 0).toStdString());
    tokenize_prompts(prompts, st.tokenizer ? &*st.tokenizer : nullptr, st.model->config().vocab_size, path, st.model->dir());
    return prompts;
}

}  // namespace

QString bundledPromptFile(const QString& name) {
    const QString p = QStringLiteral(MOESCOPE_SOURCE_DIR "/resources/prompts/") + name;
    return QFileInfo::exists(p) ? p : QString();
}

quint64 postRecordJob(ViewHub* hub, QObject* receiver, const QString& tag, RecordRequest req,
                      std::function<void(int, int)> progress, std::function<void(const RecordOutcome&)> done) {
    QPointer<QObject> rcv(receiver);
    EngineHost* host = hub->host;
    auto state = hub->state;
    return host->post(tag, [host, state, rcv, req, progress, done](const std::atomic<bool>& cancelled) {
        RecordOutcome out;
        auto finish = [&] { host->deliver(rcv, [done, out] { done(out); }); };
        try {
            EngineState& st = *state;
            if (!st.model) throw Error("no model is loaded");
            if (!st.db) throw Error("no activation database is open for recording");
            std::vector<std::vector<PromptLine>> sets;
            int total = 0;
            for (const QString& f : req.files) {
                sets.push_back(loadPrompts(st, f));
                total += static_cast<int>(sets.back().size());
            }
            int before = 0;
            for (size_t i = 0; i < sets.size() && !cancelled.load(); ++i) {
                storage::PromptRecordingOptions o;
                o.label = QFileInfo(req.files[static_cast<int>(i)]).completeBaseName().toStdString();
                o.level = req.level;
                o.sink_per_head = req.sinkPerHead;
                o.max_new_tokens = req.maxNew;
                o.stop = &cancelled;
                const auto r = storage::record_prompts(*st.db, *st.model, st.tokenizer ? &*st.tokenizer : nullptr, sets[i], o, {},
                                                       [&](const storage::PromptRecordingResult& p) {
                                                           const int d = before + static_cast<int>(p.done);
                                                           host->deliver(rcv, [progress, d, total] { progress(d, total); });
                                                       });
                before += static_cast<int>(sets[i].size());
                out.runIds << static_cast<qint64>(r.run_id);
                for (const auto& p : sets[i])
                    if (!out.sets.contains(QString::fromStdString(p.set))) out.sets << QString::fromStdString(p.set);
                if (!r.recorder_error.empty()) throw Error("recording stopped: " + r.recorder_error);
                if (!r.engine_error.empty()) throw Error("engine: " + r.engine_error);
            }
            out.cancelled = cancelled.load();
            out.ok = !out.cancelled;
            out.message = out.cancelled ? QObject::tr("Recording cancelled (the runs are marked interrupted).")
                                        : QObject::tr("Recorded %1 prompts into %2 run(s).").arg(total).arg(out.runIds.size());
        } catch (const std::exception& e) {
            out.ok = false;
            out.message = QString::fromUtf8(e.what());
        }
        finish();
    });
}

quint64 postEvalJob(ViewHub* hub, QObject* receiver, const QString& tag, EvalRequest req,
                    std::function<void(int, int)> progress, std::function<void(const EvalOutcome&)> done) {
    QPointer<QObject> rcv(receiver);
    EngineHost* host = hub->host;
    auto state = hub->state;
    return host->post(tag, [host, state, rcv, req, progress, done](const std::atomic<bool>& cancelled) {
        EvalOutcome out;
        try {
            EngineState& st = *state;
            if (!st.model) throw Error("no model is loaded");
            const Detector det = load_detector(req.detectorsPath.toStdString(), req.detector.toStdString()).value();
            std::vector<std::vector<PromptLine>> sets;
            int per = 0;
            for (const QString& f : req.files) {
                sets.push_back(loadPrompts(st, f));
                per += static_cast<int>(sets.back().size());
            }
            const int total = per * static_cast<int>(req.presets.size());
            int before = 0;
            for (const EvalPreset& p : req.presets) {
                for (size_t i = 0; i < sets.size() && !cancelled.load(); ++i) {
                    BehaviorEvalOptions o;
                    o.max_new_tokens = req.maxNew;
                    o.interventions = p.interventions;
                    o.stop = &cancelled;
                    const auto r = evaluate_behavior(*st.model, st.tokenizer ? &*st.tokenizer : nullptr, sets[i], det, o,
                                                     [&](size_t d) {
                                                         const int n = before + static_cast<int>(d);
                                                         host->deliver(rcv, [progress, n, total] { progress(n, total); });
                                                     });
                    before += static_cast<int>(sets[i].size());
                    if (r.stopped) break;
                    EvalCell c;
                    c.preset = p.name;
                    c.file = req.files[static_cast<int>(i)];
                    c.set = sets[i].empty() ? QString() : QString::fromStdString(sets[i].front().set);
                    c.prompts = static_cast<int>(r.prompts);
                    c.detected = static_cast<int>(r.detected);
                    c.rate = r.rate();
                    out.cells.push_back(c);
                }
            }
            out.cancelled = cancelled.load();
            out.ok = !out.cancelled;
            out.message = out.cancelled ? QObject::tr("Evaluation cancelled.") : QObject::tr("Evaluated %1 generations.").arg(total);
        } catch (const std::exception& e) {
            out.ok = false;
            out.message = QString::fromUtf8(e.what());
        }
        host->deliver(rcv, [done, out] { done(out); });
    });
}

}  // namespace moescope::gui
