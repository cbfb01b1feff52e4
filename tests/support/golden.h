#pragma once
// Reading golden expected.json files (../shared/testdata/golden/README.md) and comparing results
// against them with the README tolerances. Shared by engine and CLI tests.
#include <QString>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/interventions.h"

namespace moescope {
class Session;
}

namespace moescope::test {

struct GoldenCase {
    QString arch, setting;             // "mixtral", "baseline" | "disable" | "force" | "topk1"
    nlohmann::json expected;           // the whole expected.json
    nlohmann::json result;             // the RESULT of this setting
    Interventions interventions() const;
};

// Loads golden/<arch>/expected.json and picks the RESULT of `setting`; QFAIL-style error text on failure.
bool loadGolden(const QString& arch, const QString& setting, GoldenCase& out, QString& error);

// Compares a RESULT-shaped object (logits_last, optional logits_all, routing, greedy.new_tokens) with
// the golden one. Returns "" when within tolerance (tokens and expert sets exact; logits <= 1e-4;
// router logits and weights <= 1e-5), else a description of the first mismatch.
QString compareWithGolden(const nlohmann::json& got, const nlohmann::json& want, bool check_all_logits);

// Runs a golden case on a fresh session (interventions already set): prefills `ids` with logits
// capture, then `n_new` greedy steps with the KV cache (EOS ignored, as the golden files do). Returns a
// RESULT-shaped object (logits_last, logits_all, routing, greedy.new_tokens) for compareWithGolden.
nlohmann::json runGoldenSession(Session& s, const std::vector<int32_t>& ids, int n_new);

}  // namespace moescope::test
