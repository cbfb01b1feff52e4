#pragma once
// RunData: one generation run as the views see it, live or replayed from the activation database.
// Immutable once published through RunContext (views hold a shared_ptr<const RunData>).
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <memory>
#include <vector>

#include "storage/routing_arrays.h"

namespace moescope::gui {

// A change of interventions during a run: "from token 37: L12 E87 off".
struct InterventionMarker {
    int fromToken = 0;  // row index (token position in the run) of the first token it affected
    QString text;       // human-readable summary of the change
};

// The routing of one token across all MoE layers: [n_moe][k_max], best first, -1/0 padded.
struct TokenRouting {
    int k_max = 0;
    std::vector<int> experts;   // [n_moe * k_max]
    std::vector<float> weights;  // [n_moe * k_max]
    bool empty() const { return experts.empty(); }
};

struct RunData {
    QString title;
    QString modelName;
    QString dbPath;       // activation database holding the run ("" = not recorded)
    qint64 runId = -1;    // run id in that database
    int promptTokens = 0;  // rows [0, promptTokens) are the prompt
    QStringList tokenText;  // [n_tokens] decoded text of each row
    RoutingArrays routing;  // [n_tokens] rows, see storage/routing_arrays.h
    std::vector<InterventionMarker> timeline;

    int tokenCount() const { return static_cast<int>(tokenText.size()); }
};

using RunDataPtr = std::shared_ptr<const RunData>;

}  // namespace moescope::gui

Q_DECLARE_METATYPE(moescope::gui::RunDataPtr)
