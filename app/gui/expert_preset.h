#pragma once
// Intervention presets as JSON files: Qt wrappers over engine/presets.h, which defines the one format
// the app and the CLI's --preset share (see there); plus the human-readable change markers shown in
// transcripts.
#include <QString>
#include <QStringList>

#include "engine/error.h"
#include "engine/interventions.h"

namespace moescope::gui {

struct ExpertPreset {
    QString name;
    Interventions interventions;
};

// `source` names the file in error messages ("presets/refusal.json: 'disable'[3]: expected [layer, expert]").
Result<ExpertPreset> parsePreset(const QByteArray& json, const QString& source);
QByteArray presetToJson(const ExpertPreset& preset);
Result<ExpertPreset> loadPresetFile(const QString& path);
// Returns an empty string on success, else a message naming the file and the reason.
QString savePresetFile(const QString& path, const ExpertPreset& preset);

// What changed between two intervention sets, one short phrase per change, in a stable order:
// "L12 E87 off", "L12 E3 forced", "L12 E9 zeroed", "L12 E87 normal", "L12 E5 bias +1.5", "L12 top-k 4",
// "L12 top-k default", "top-k 4", "top-k default", "top-p 0.9", "top-p off", "rank-2 only", "rank-only off".
QStringList describeChange(const Interventions& before, const Interventions& after);
// "from token 37: L12 E87 off, L3 E1 forced"
QString markerText(int fromToken, const QStringList& changes);

// Most-recent-first list without duplicates, at most `max` entries.
QStringList pushRecent(QStringList list, const QString& item, int max = 8);

}  // namespace moescope::gui
