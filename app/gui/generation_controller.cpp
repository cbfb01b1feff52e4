// GenerationController: prompt building, streaming generation, live interventions and branches.
#include "app/gui/generation_controller.h"

#include <QPointer>
#include <chrono>
#include <cmath>

#include "app/gui/chat_prompt.h"
#include "app/gui/engine_host.h"
#include "app/gui/engine_state.h"
#include "app/gui/expert_preset.h"
#include "app/gui/routing_collector.h"
#include "engine/generate.h"
#include "engine/presets.h"
#include "storage/recorder.h"
#include <filesystem>
#include "engine/tokenizer/chat_template.h"

namespace moescope::gui {

namespace {
std::string samplingJson(const GenerationRequest& r) {
    const SamplingParams& p = r.sampling;
    return QStringLiteral(R"({"greedy": %1, "temperature": %2, "top_k": %3, "top_p": %4, "min_p": %5, )"
                          R"("repeat_penalty": %6, "seed": %7, "max_new_tokens": %8, "chat": %9})")
        .arg(p.greedy ? "true" : "false")
        .arg(p.temperature)
        .arg(p.top_k)
        .arg(p.top_p)
        .arg(p.min_p)
        .arg(p.repeat_penalty)
        .arg(p.seed)
        .arg(r.maxTokens)
        .arg(r.chat ? "true" : "false")
        .toStdString();
}

// The SCMoE settings of a recorded run, appended to its sampling JSON.
std::string scmoeJson(const GenerationRequest& r) {
    if (!r.scmoe) return {};
    const ScmoeOptions& o = *r.scmoe;
    std::string weak = (o.weak.kind == WeakRouting::Kind::Rank ? "rank" : "top") + std::to_string(o.weak.n);
    return QStringLiteral(R"(, "scmoe": {"beta": %1, "alpha": %2, "weak": "%3", "recorded": "strong pass"})")
        .arg(o.beta)
        .arg(o.alpha)
        .arg(QString::fromStdString(weak))
        .toStdString();
}

QString pieceOf(const std::optional<Tokenizer>& tok, int32_t id) {
    if (!tok) return QStringLiteral("⟨%1⟩").arg(id);
    try {
        return QString::fromStdString(tok->decode({id}));
    } catch (const std::exception&) {
        return QStringLiteral("⟨%1⟩").arg(id);
    }
}
}  // namespace

GenerationController::GenerationController(EngineHost* host, std::shared_ptr<EngineState> state, QObject* parent)
    : QObject(parent), host_(host), state_(std::move(state)) {
    qRegisterMetaType<TokenEvent>();
    qRegisterMetaType<std::vector<TokenRouting>>();
    qRegisterMetaType<RunDataPtr>();
}

void GenerationController::setRunning(bool r) {
    if (running_ == r) return;
    running_ = r;
    emit runningChanged(r);
}

void GenerationController::setLiveInterventions(const Interventions& iv) {
    std::lock_guard lock(pendingMutex_);
    pending_ = iv;
}

void GenerationController::setStepping(bool on) {
    {
        std::lock_guard lock(pendingMutex_);
        stepping_ = on;
        stepCredits_ = 0;
    }
    stepCv_.notify_all();
}

void GenerationController::stepOnce() {
    {
        std::lock_guard lock(pendingMutex_);
        ++stepCredits_;
    }
    stepCv_.notify_all();
}

void GenerationController::start(const GenerationRequest& request) {
    request_ = request;
    request_.branchFromToken = -1;
    post(request_);
}

void GenerationController::branch(int fromToken, const Interventions& interventions) {
    GenerationRequest r = request_;
    r.branchFromToken = std::max(0, fromToken);
    branchAt_ = r.branchFromToken;
    r.interventions = interventions;
    post(r);
}

void GenerationController::post(const GenerationRequest& request) {
    host_->cancel(QStringLiteral("generate"));
    {
        std::lock_guard lock(pendingMutex_);
        pending_.reset();
    }
    const quint64 gen = ++generation_;
    setRunning(true);
    host_->post(QStringLiteral("generate"), [this, request, gen](const std::atomic<bool>& cancelled) {
        runOnEngine(request, cancelled, gen);
    });
}

void GenerationController::stop() {
    host_->cancel(QStringLiteral("generate"));
    stepCv_.notify_all();
    // A queued (not yet started) generation is simply dropped: finish the UI state here.
    if (host_->runningTag() != QStringLiteral("generate")) setRunning(false);
}

void GenerationController::runOnEngine(const GenerationRequest& req, const std::atomic<bool>& cancelled, quint64 gen) {
    QPointer<QObject> self(this);
    const bool isBranch = req.branchFromToken >= 0;
    auto fail = [&](const QString& msg) {
        host_->deliver(self, [this, msg, gen] {
            if (gen != generation_) return;
            setRunning(false);
            emit failed(msg);
        });
    };
    EngineState& st = *state_;
    if (!st.model) return fail(tr("No model is loaded."));
    const Model& model = *st.model;
    const ModelSummary& sum = model.summary();
    try {
        // ---- prompt ids ----
        std::vector<int32_t> prompt;
        if (isBranch) {
            if (st.lastPrompt.empty()) return fail(tr("There is no finished generation to branch from."));
            prompt = st.lastPrompt;
        } else if (st.tokenizer) {
            std::string text = req.prompt.toStdString();
            if (req.chat) {
                // The model's own Jinja chat template (transformers' apply_chat_template semantics).
                std::vector<ChatMessage> messages;
                if (!req.systemPrompt.trimmed().isEmpty()) messages.push_back({"system", req.systemPrompt.toStdString()});
                messages.push_back({"user", req.prompt.toStdString()});
                auto rendered = render_chat(*st.tokenizer, messages, /*add_generation_prompt=*/true);
                if (!rendered) return fail(QString::fromStdString(rendered.message()));
                text = rendered.value();
            }
            prompt = st.tokenizer->encode(text, /*add_special=*/!req.chat);
            if (prompt.empty()) return fail(tr("The prompt is empty."));
        } else {
            auto ids = parseTokenIds(req.prompt, sum.vocab_size);
            if (!ids) return fail(QString::fromStdString(ids.message()));
            prompt = ids.value();
        }
        const int nPrompt = static_cast<int>(prompt.size());
        QStringList promptPieces;
        for (int32_t id : prompt) promptPieces << pieceOf(st.tokenizer, id);

        // ---- recording into the activation database (when one is open) ----
        std::unique_ptr<storage::Recorder> recorder;
        int64_t runId = -1;
        const QString title = isBranch ? tr("branch at token %1").arg(req.branchFromToken) : req.prompt.left(48).simplified();
        if (st.db) {
            try {
                storage::ModelInfo mi;
                mi.name = std::filesystem::path(sum.path).filename().string();
                mi.architecture = sum.architecture;
                mi.path = sum.path;
                mi.n_layers = sum.n_layers;
                mi.n_experts = sum.n_experts;
                mi.top_k = sum.top_k;
                mi.moe_layers = sum.moe_layers;
                storage::RunInfo ri;
                ri.model_id = st.db->find_or_add_model(mi);
                ri.kind = storage::RunKind::Generation;
                ri.label = title.toStdString();
                ri.sampling_json = samplingJson(req);
                if (req.scmoe && !isBranch) ri.sampling_json.insert(ri.sampling_json.size() - 1, scmoeJson(req));
                ri.seed = static_cast<int64_t>(req.sampling.seed);
                ri.n_layers = sum.n_layers;
                ri.n_experts = sum.n_experts;
                ri.k_max = std::min(sum.n_experts, 2 * sum.top_k);  // room for top-k overrides
                ri.moe_layers = sum.moe_layers;
                runId = st.db->begin_run(ri);
                recorder = std::make_unique<storage::Recorder>(*st.db, runId);
                recorder->begin_sequence();
            } catch (const std::exception& e) {
                recorder.reset();
                runId = -1;
                const QString msg = tr("This run is not recorded: %1").arg(QString::fromUtf8(e.what()));
                host_->deliver(self, [this, msg, gen] {
                    if (gen == generation_) emit warning(msg);
                });
            }
        }

        // ---- session ----
        // SCMoE: two CPU sessions in the engine's ScmoeDecoder; its strong session is the one recorded,
        // shown and steered (live changes reach the weak session too, as scmoe_weak_interventions says).
        std::unique_ptr<ScmoeDecoder> scmoe;
        std::unique_ptr<Session> plain;
        std::function<std::string(int32_t)> scmoeDetok;  // set below, once the incremental decoder exists
        if (req.scmoe && !isBranch) {
            if (st.device.cuda)
                host_->deliver(self, [this, gen] {
                    if (gen == generation_) emit warning(tr("SCMoE decodes on the CPU (its two sessions are CPU sessions)"));
                });
            ScmoeOptions so = *req.scmoe;
            so.sampling = req.sampling;
            so.max_new_tokens = req.maxTokens;
            so.top_alternatives = 5;
            so.detokenize = [&scmoeDetok](int32_t id) { return scmoeDetok ? scmoeDetok(id) : std::string(); };
            try {
                scmoe = std::make_unique<ScmoeDecoder>(model, req.interventions, so);
            } catch (const std::exception& e) {
                return fail(QString::fromUtf8(e.what()));
            }
        } else {
            plain = std::make_unique<Session>(model, SessionOptions{}, st.device);
        }
        Session& s = scmoe ? scmoe->strong() : *plain;
        RoutingCollector collector(sum.moe_layers, recorder.get());
        if (recorder)
            for (int i = 0; i < nPrompt; ++i) recorder->set_token_text(i, promptPieces[i].toStdString());
        s.set_observer(&collector);
        std::vector<InterventionMarker> markers;
        std::vector<int32_t> generated;
        GenerateOptions opt;
        opt.sampling = req.sampling;
        opt.max_new_tokens = req.maxTokens;
        opt.top_alternatives = 5;
        opt.capture_routing = false;  // the collector has every position
        std::optional<IncrementalDecoder> decoder;
        if (st.tokenizer) {
            decoder.emplace(*st.tokenizer);
            opt.detokenize = [&](int32_t id) { return decoder->push(id); };
        }

        std::span<const int32_t> feed(prompt);
        if (!isBranch) {
            if (auto ok = s.set_interventions(req.interventions); !ok) return fail(QString::fromStdString(ok.message()));
        } else {
            // Rebuild the shared prefix exactly as the original run computed it: same tokens, same
            // interventions at the same steps; the branch's own set shapes the forward that picks token b.
            const int b = std::min<int>(req.branchFromToken, static_cast<int>(st.lastGenerated.size()));
            auto applyTimelineAt = [&](int step) {
                for (const InterventionChange& c : st.lastTimeline)
                    if (c.step == step) (void)s.set_interventions(c.interventions);
            };
            applyTimelineAt(-1);
            if (b == 0) {
                if (auto ok = s.set_interventions(req.interventions); !ok) return fail(QString::fromStdString(ok.message()));
                // generate() prefills the prompt below.
            } else {
                s.prefill(prompt);
                for (int j = 0; j < b; ++j) {
                    if (cancelled) break;
                    if (j == b - 1) {
                        if (auto ok = s.set_interventions(req.interventions); !ok) return fail(QString::fromStdString(ok.message()));
                    } else {
                        applyTimelineAt(j);
                    }
                    if (recorder) recorder->set_token_text(nPrompt + j, pieceOf(st.tokenizer, st.lastGenerated[static_cast<size_t>(j)]).toStdString());
                    s.step(st.lastGenerated[static_cast<size_t>(j)]);
                    generated.push_back(st.lastGenerated[static_cast<size_t>(j)]);
                    if (decoder) (void)decoder->push(st.lastGenerated[static_cast<size_t>(j)]);
                }
                feed = {};
            }
        }
        const int firstIndex = static_cast<int>(generated.size());
        // A branch keeps the original's total length, so the two transcripts line up side by side.
        opt.max_new_tokens = std::max(1, req.maxTokens - firstIndex);
        std::vector<TokenRouting> promptRouting;
        for (int r = 0; r < nPrompt - 1 + firstIndex && r < collector.positions(); ++r) promptRouting.push_back(collector.at(r));
        QStringList shownPieces = promptPieces;
        for (int32_t id : generated) shownPieces << pieceOf(st.tokenizer, id);
        host_->deliver(self, [this, isBranch, nPrompt, shownPieces, promptRouting, gen] {
            if (gen == generation_) emit started(isBranch, nPrompt, shownPieces, promptRouting);
        });

        // ---- stream ----
        const auto t0 = std::chrono::steady_clock::now();
        QStringList pieces;
        const ScmoeToken* currentScmoe = nullptr;  // set while an SCMoE token is being shown
        auto onToken = [&](const GeneratedToken& g) -> bool {
            TokenEvent ev;
            ev.index = firstIndex + g.index;
            ev.row = nPrompt + ev.index;
            ev.id = g.id;
            ev.piece = st.tokenizer ? QString::fromStdString(g.piece) : QStringLiteral("⟨%1⟩").arg(g.id);
            ev.logprob = g.logprob;
            auto probs = [&](const std::vector<TokenProb>& top) {
                QStringList out;
                for (const TokenProb& t : top) out << QStringLiteral("%1 (p=%2)").arg(pieceOf(st.tokenizer, t.id)).arg(std::exp(t.logprob), 0, 'f', 3);
                return out;
            };
            ev.alternatives = probs(g.top);
            if (currentScmoe) {
                ScmoeDetail d;
                d.strong = probs(currentScmoe->strong_top);
                d.weak = probs(currentScmoe->weak_top);
                d.contrast = probs(currentScmoe->contrast_top);
                d.strongLogprob = currentScmoe->strong_logprob;
                d.weakLogprob = currentScmoe->weak_logprob;
                d.differsFromStrong = currentScmoe->differs_from_strong;
                ev.scmoe = d;
            }
            ev.routing = collector.at(ev.row - 1);
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            ev.tokensPerSecond = secs > 0 ? (g.index + 1) / secs : 0.0;
            generated.push_back(g.id);
            pieces << ev.piece;
            if (recorder) recorder->set_token_text(ev.row, ev.piece.toStdString());
            host_->deliver(self, [this, ev, gen] {
                if (gen == generation_) emit tokenGenerated(ev);
            });
            // Step mode: wait here (engine thread) for the user; the wait wakes up regularly to see Stop.
            std::optional<Interventions> next;
            {
                std::unique_lock lock(pendingMutex_);
                while (stepping_ && stepCredits_ == 0 && !cancelled.load())
                    stepCv_.wait_for(lock, std::chrono::milliseconds(50));
                if (stepCredits_ > 0) --stepCredits_;
                // Live interventions: the newest set the UI posted shapes the next forward pass, which
                // picks token ev.index + 1.
                next.swap(pending_);
            }
            if (next && !(*next == s.interventions())) {
                const QStringList changes = describeChange(s.interventions(), *next);
                auto ok = s.set_interventions(*next);
                if (ok && scmoe) ok = scmoe->weak().set_interventions(scmoe_weak_interventions(*next, scmoe->options().weak));
                if (!ok) {
                    const QString msg = QString::fromStdString(ok.message());
                    host_->deliver(self, [this, msg, gen] {
                        if (gen == generation_) emit interventionRejected(msg);
                    });
                } else {
                    const QString text = markerText(ev.index + 1, changes);
                    markers.push_back({ev.row, text});
                    const int from = ev.index + 1;
                    host_->deliver(self, [this, from, text, gen] {
                        if (gen == generation_) emit interventionMarker(from, text);
                    });
                }
            }
            return !cancelled.load();
        };
        GenerateResult result;
        if (scmoe) {
            // The decoder detokenizes itself; each ScmoeToken is shown like a normal token whose
            // probabilities are the contrast distribution's, with the three top lists beside it.
            scmoeDetok = opt.detokenize;
            result = scmoe->run(prompt, [&](const ScmoeToken& t) {
                GeneratedToken g;
                g.index = t.index;
                g.id = t.id;
                g.piece = t.piece;
                g.logprob = t.contrast_logprob;
                g.top = t.contrast_top;
                currentScmoe = &t;
                const bool go = onToken(g);
                currentScmoe = nullptr;
                return go;
            });
        } else {
            result = generate(s, feed, opt, onToken);
        }
        if (decoder) (void)decoder->finish();

        // ---- the run as the views see it ----
        auto run = std::make_shared<RunData>();
        run->title = title;
        if (recorder) {
            for (const InterventionChange& c : s.timeline())
                st.db->add_intervention_change(runId, c.step, interventions_to_json(c.interventions));
            const std::string err = recorder->finish(cancelled ? storage::RunStatus::Interrupted : storage::RunStatus::Complete,
                                                     cancelled ? "stopped by the user" : "");
            run->runId = runId;
            run->dbPath = QString::fromStdString(st.db->path());
            if (!err.empty()) {
                const QString msg = tr("Recording failed: %1").arg(QString::fromStdString(err));
                host_->deliver(self, [this, msg, gen] {
                    if (gen == generation_) emit warning(msg);
                });
            }
        }
        run->modelName = QString::fromStdString(sum.path);
        run->promptTokens = nPrompt;
        run->tokenText = promptPieces;
        std::vector<int32_t> all = prompt;
        for (int32_t id : generated) {
            all.push_back(id);
        }
        for (size_t j = 0; j < generated.size(); ++j)
            run->tokenText << (j < static_cast<size_t>(firstIndex) ? pieceOf(st.tokenizer, generated[j]) : pieces.value(static_cast<int>(j) - firstIndex));
        run->routing = collector.toArrays(all, nPrompt);
        run->routing.n_experts = sum.n_experts;  // the collector sees ids only; analyses need E
        run->timeline = markers;
        if (!isBranch) {
            st.lastPrompt = prompt;
            st.lastGenerated = generated;
            st.lastTimeline = s.timeline();
        }
        const QString reason = cancelled ? QStringLiteral("cancelled") : QString::fromStdString(result.stop_reason);
        RunDataPtr done = run;
        host_->deliver(self, [this, isBranch, done, reason, gen] {
            if (gen != generation_) return;
            if (!isBranch) lastRun_ = done;
            setRunning(false);
            emit finished(isBranch, done, reason);
        });
    } catch (const std::exception& e) {
        fail(QString::fromUtf8(e.what()));
    }
}

}  // namespace moescope::gui
