#pragma once
// Engine-thread jobs the analysis views share (issue 11): recording JSONL prompt sets into the open
// activation database ("Record now": fTRI, super experts) and evaluating behaviour rates under presets
// ("Evaluate": fTRI). Both call the libraries the CLI uses (storage/prompt_recording.h,
// engine/behavior_eval.h); here they only become EngineHost jobs with progress and cancel, results
// delivered to a QPointer-guarded receiver on the UI thread.
#include <QObject>
#include <QString>
#include <QStringList>
#include <functional>
#include <vector>

#include "analysis/what_if.h"
#include "engine/interventions.h"
#include "engine/routing_tap.h"

namespace moescope::gui {

class ViewHub;

struct RecordRequest {
    QStringList files;                    // JSONL prompt files; one run per file (label = file stem)
    CaptureLevel level = CaptureLevel::Routing;
    int maxNew = 16;                      // new tokens per prompt
    bool sinkPerHead = false;
};
struct RecordOutcome {
    bool ok = false;
    bool cancelled = false;
    QString message;                      // error or summary
    QStringList sets;                     // prompt sets written (in file order, unique)
    QList<qint64> runIds;
};

struct EvalPreset {
    QString name;
    Interventions interventions;
};
struct EvalRequest {
    QStringList files;                    // held-out JSONL files
    QString detectorsPath;                // detectors.json
    QString detector = QStringLiteral("refusal");
    int maxNew = 12;
    std::vector<EvalPreset> presets;
};
struct EvalCell {
    QString preset, set, file;
    int prompts = 0, detected = 0;
    double rate = 0;
};
struct EvalOutcome {
    bool ok = false;
    bool cancelled = false;
    QString message;
    std::vector<EvalCell> cells;          // presets x files, preset-major
};

struct WhatIfRequest {
    QString file;                         // JSONL prompts (teacher-forced)
    int maxPrompts = 16;                  // first N prompts of the file
    std::vector<ExpertRef> chosen;        // e.g. the detected super experts
    QString chosenName = QStringLiteral("super experts");
    int randomRepeats = 1;                // random sets of the same size, matched per layer
    // ZeroOutput (default): the Super Experts paper's down_proj zeroing, routing unchanged (P2);
    // Disable: router logit -inf, other experts take the slots (P1). methods.md §0.3.
    analysis::PruneMode mode = analysis::PruneMode::ZeroOutput;
    quint64 seed = 0;
};
struct WhatIfRow {
    QString name;
    std::vector<ExpertRef> disabled;
    double meanKl = 0, maxKl = 0, top1 = 1, pplBase = 0, ppl = 0;
    qint64 positions = 0;
};
struct WhatIfOutcome {
    bool ok = false;
    bool cancelled = false;
    QString message;
    std::vector<WhatIfRow> rows;          // base, chosen, random...
};

// Progress callbacks get (done, total) prompts. Returns the job id; cancel with hub->host->cancel(tag).
quint64 postRecordJob(ViewHub* hub, QObject* receiver, const QString& tag, RecordRequest request,
                      std::function<void(int done, int total)> progress, std::function<void(const RecordOutcome&)> done);
quint64 postEvalJob(ViewHub* hub, QObject* receiver, const QString& tag, EvalRequest request,
                    std::function<void(int done, int total)> progress, std::function<void(const EvalOutcome&)> done);

// Base vs `chosen` disabled vs random matched sets: engine/prompt_logits.h forward passes, compared
// with analysis::distribution_shift.
quint64 postWhatIfJob(ViewHub* hub, QObject* receiver, const QString& tag, WhatIfRequest request,
                      std::function<void(int done, int total)> progress, std::function<void(const WhatIfOutcome&)> done);

// <source dir>/resources/prompts/NAME when it exists (the bundled prompt sets), else "".
QString bundledPromptFile(const QString& name);

}  // namespace moescope::gui
