#pragma once
// ViewHub: what every analysis view (issue 11) gets from the shell, in one object, so views never
// reach into MainWindow or into each other (style.md §1E: one run context, one engine host).
//   - context: the shared selection (run loaded / token / layer / expert); click anywhere -> everywhere
//   - host + state: the engine thread and what lives on it (model, tokenizer) for views that drive the
//     engine ("Record now", "Evaluate", "Prune what-if", "Export pruned model")
//   - databasePath()/modelPath(): the activation database and the model the shell has open
//   - applyPreset(): hands an intervention set to the live expert grid (and shows the Generate tab)
// Pure analyses read the database on their own read-only connection in an AnalysisRunner worker, never
// on the UI thread and never through the engine thread's writer connection.
#include <QObject>
#include <QString>
#include <functional>
#include <memory>

#include "engine/interventions.h"

namespace moescope::gui {

class EngineHost;
class RunContext;
struct EngineState;

class ViewHub : public QObject {
    Q_OBJECT
public:
    explicit ViewHub(QObject* parent = nullptr) : QObject(parent) {
        // Views that recorded runs refresh at once; the shell also refreshes its Runs dock.
        connect(this, &ViewHub::runsRecorded, this, &ViewHub::runsChanged);
    }

    RunContext* context = nullptr;
    EngineHost* host = nullptr;
    std::shared_ptr<EngineState> state;
    std::function<QString()> databasePath = [] { return QString(); };
    std::function<QString()> modelPath = [] { return QString(); };
    std::function<void(const QString& name, const Interventions&)> applyPreset = [](const QString&, const Interventions&) {};
    std::function<void(const QString& path)> openModel = [](const QString&) {};  // e.g. a pruned checkpoint

signals:
    // The shell emits these; views refresh their pickers (prompt sets, runs) or enable engine actions.
    void databaseChanged(const QString& path);
    void runsChanged();                        // a run was recorded, renamed or deleted
    void runsRecorded();                       // a view wrote runs: the Runs dock refreshes, then runsChanged
    void modelChanged(const QString& path);    // "" = unloaded
};

}  // namespace moescope::gui
