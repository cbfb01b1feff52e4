#pragma once
// GenerationController: runs generations on the engine thread and streams them to the UI.
//
// start() builds the prompt (chat template or raw), creates a Session with the grid's interventions and
// generates; each token arrives as tokenGenerated on the UI thread. setLiveInterventions() may be called
// at any time: the engine picks the newest set up between two tokens (Session::set_interventions), so
// it shapes the forward pass that chooses the next token, and a marker "from token N: ..." is emitted.
// branch() rebuilds the last run's prefix exactly (replaying its intervention timeline) up to a token
// and continues from there with other interventions. stop() cancels between tokens.
#include <QObject>
#include <QStringList>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "app/gui/run_data.h"
#include "engine/interventions.h"
#include "engine/sampling.h"
#include "engine/scmoe.h"

namespace moescope {
class RoutingObserver;
}

namespace moescope::gui {

class EngineHost;
struct EngineState;

struct GenerationRequest {
    QString prompt;
    bool chat = true;
    QString systemPrompt;
    SamplingParams sampling;
    int maxTokens = 128;
    Interventions interventions;  // in force from the prompt on
    int branchFromToken = -1;     // >= 0: branch of the last run, diverging at this generated token
    // SCMoE self-contrast decoding (engine/scmoe.h; beta, alpha, weak routing are used, the sampling
    // settings above apply to softmax(z_sc)). Runs two CPU sessions; branches decode normally.
    std::optional<ScmoeOptions> scmoe;
};

// Per token of an SCMoE run: the strong, weak and contrast top alternatives, "piece (p=0.31)" best first.
struct ScmoeDetail {
    QStringList strong, weak, contrast;
    float strongLogprob = 0.0f;    // log p_strong(chosen)
    float weakLogprob = 0.0f;      // log p_weak(chosen)
    bool differsFromStrong = false;  // the contrast chose another token than the strong argmax
};

struct TokenEvent {
    int index = 0;        // generated-token index
    int row = 0;          // row in the run (prompt tokens first)
    int32_t id = 0;
    QString piece;
    float logprob = 0.0f;
    QStringList alternatives;  // "piece (p=0.31)" best first
    TokenRouting routing;      // the forward pass that chose this token (at the previous row)
    std::optional<ScmoeDetail> scmoe;  // SCMoE runs only
    double tokensPerSecond = 0.0;
};

class GenerationController : public QObject {
    Q_OBJECT
public:
    GenerationController(EngineHost* host, std::shared_ptr<EngineState> state, QObject* parent = nullptr);

    void start(const GenerationRequest& request);
    void branch(int fromToken, const Interventions& interventions);
    void stop();
    bool isRunning() const { return running_; }
    // Step mode: after each token the engine waits for stepOnce() (or for step mode to end, or Stop).
    // Lets the user inspect one token's routing at a time and change experts at an exact token.
    void setStepping(bool on);
    bool isStepping() const { return stepping_; }
    void stepOnce();
    // Thread-safe: the newest set is applied before the next forward pass.
    void setLiveInterventions(const Interventions& iv);
    const GenerationRequest& lastRequest() const { return request_; }
    RunDataPtr lastRun() const { return lastRun_; }
    int lastBranchAt() const { return branchAt_; }  // the token the latest branch() diverges at

signals:
    void started(bool isBranch, int promptTokens, const QStringList& promptPieces,
                 const std::vector<moescope::gui::TokenRouting>& promptRouting);
    void tokenGenerated(const moescope::gui::TokenEvent& token);
    void interventionMarker(int fromToken, const QString& text);
    void interventionRejected(const QString& message);
    void warning(const QString& message);  // e.g. the run could not be recorded; generation goes on
    void finished(bool isBranch, const moescope::gui::RunDataPtr& run, const QString& stopReason);
    void failed(const QString& message);
    void runningChanged(bool running);

private:
    void post(const GenerationRequest& request);
    // Engine thread: the whole generation; talks back only through deliveries.
    void runOnEngine(const GenerationRequest& request, const std::atomic<bool>& cancelled, quint64 gen);
    void setRunning(bool r);

    EngineHost* host_;
    std::shared_ptr<EngineState> state_;
    GenerationRequest request_;
    RunDataPtr lastRun_;
    bool running_ = false;
    int branchAt_ = -1;
    quint64 generation_ = 0;
    // Live interventions: written by the UI thread, read by the engine thread between tokens.
    std::mutex pendingMutex_;
    std::optional<Interventions> pending_;
    std::condition_variable stepCv_;  // guarded by pendingMutex_
    bool stepping_ = false;
    int stepCredits_ = 0;
};

}  // namespace moescope::gui

Q_DECLARE_METATYPE(moescope::gui::TokenEvent)
Q_DECLARE_METATYPE(std::vector<moescope::gui::TokenRouting>)
