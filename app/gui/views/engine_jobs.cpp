#include "app/gui/views/engine_jobs.h"

#include <QFileInfo>
#include <QPointer>
#include <memory>

#include "app/gui/engine_host.h"
#include "app/gui/engine_state.h"
#include "app/gui/views/view_hub.h"
#include "analysis/ftri.h"
#include "analysis/what_if.h"
#include "engine/behavior_eval.h"
#include "engine/prompt_logits.h"
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
                o.device = st.device;  // the loaded model's device (CPU or its GPU copy)
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
                    o.device = st.device;
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

quint64 postWhatIfJob(ViewHub* hub, QObject* receiver, const QString& tag, WhatIfRequest req,
                      std::function<void(int, int)> progress, std::function<void(const WhatIfOutcome&)> done) {
    QPointer<QObject> rcv(receiver);
    EngineHost* host = hub->host;
    auto state = hub->state;
    return host->post(tag, [host, state, rcv, req, progress, done](const std::atomic<bool>& cancelled) {
        WhatIfOutcome out;
        try {
            EngineState& st = *state;
            if (!st.model) throw Error("no model is loaded");
            if (req.chosen.empty()) throw Error("no experts to disable");
            std::vector<PromptLine> lines = loadPrompts(st, req.file);
            std::vector<std::vector<int32_t>> prompts;
            for (const auto& l : lines)
                if (l.ids.size() >= 2 && static_cast<int>(prompts.size()) < req.maxPrompts) prompts.push_back(l.ids);
            if (prompts.empty()) throw Error(req.file.toStdString() + ": no prompt with at least 2 tokens");
            std::vector<std::pair<QString, std::vector<ExpertRef>>> variants;
            variants.emplace_back(QObject::tr("base"), std::vector<ExpertRef>{});
            variants.emplace_back(req.chosenName, req.chosen);
            for (int r = 0; r < req.randomRepeats; ++r)
                variants.emplace_back(QObject::tr("random matched #%1").arg(r + 1),
                                      analysis::random_matched_control(req.chosen, st.model->config().n_experts, req.seed + static_cast<quint64>(r)));
            const int total = static_cast<int>(variants.size() * prompts.size());
            std::vector<analysis::LogitRun> base;
            int before = 0;
            for (const auto& [name, set] : variants) {
                const Interventions iv = analysis::prune_interventions(set, req.mode);
                auto logits = prompt_logits(*st.model, prompts, iv, 0, &cancelled, [&](size_t d) {
                    const int n = before + static_cast<int>(d);
                    host->deliver(rcv, [progress, n, total] { progress(n, total); });
                }, st.device);
                before += static_cast<int>(prompts.size());
                if (cancelled.load()) break;
                std::vector<analysis::LogitRun> runs;
                for (auto& l : logits) runs.push_back({l.vocab, std::move(l.logits), std::move(l.targets)});
                if (base.empty()) base = runs;
                const analysis::DistributionShift d = analysis::distribution_shift(base, runs).value();
                WhatIfRow row;
                row.name = name;
                row.disabled = set;
                row.meanKl = d.mean_kl;
                row.maxKl = d.max_kl;
                row.top1 = d.top1_agreement;
                row.pplBase = d.ppl_base;
                row.ppl = d.ppl_variant;
                row.positions = d.positions;
                out.rows.push_back(row);
            }
            out.cancelled = cancelled.load();
            out.ok = !out.cancelled;
            out.message = out.cancelled ? QObject::tr("What-if cancelled.")
                                        : QObject::tr("What-if on %1 prompts (teacher-forced; mode %2: %3).")
                                              .arg(prompts.size())
                                              .arg(QString::fromLatin1(analysis::prune_mode_name(req.mode)))
                                              .arg(req.mode == analysis::PruneMode::ZeroOutput
                                                       ? QObject::tr("expert outputs zeroed, routing unchanged")
                                                       : QObject::tr("router logit −inf, next experts take the slots"));
        } catch (const std::exception& e) {
            out.ok = false;
            out.message = QString::fromUtf8(e.what());
        }
        host->deliver(rcv, [done, out] { done(out); });
    });
}

}  // namespace moescope::gui
