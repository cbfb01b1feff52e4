#pragma once
// JSON (nlohmann::json) and CSV forms of every analysis result, as printed by `moescope-cli analyze`.
// JSON objects carry "analysis", "parameters", the result body and "notes" (UNCONFIRMED parameters,
// approximations). CSV is one flat table per result with a header row.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/coactivation.h"
#include "analysis/dynamic_k.h"
#include "analysis/ftri.h"
#include "analysis/importance.h"
#include "analysis/lrc.h"
#include "analysis/router_stats.h"
#include "analysis/sinks.h"
#include "analysis/specialization.h"
#include "analysis/super_experts.h"

namespace moescope::analysis {

// {"name": name, "disable": [[L,E],...]} — the preset format `generate --preset` and the app accept.
nlohmann::json preset_json(const std::string& name, const std::vector<ExpertRef>& disable);

nlohmann::json to_json(const FtriResult& r, const std::string& preset_name);
std::string to_csv(const FtriResult& r);

nlohmann::json to_json(const LoadResult& r);
std::string to_csv(const LoadResult& r);
nlohmann::json to_json(const DomainSpecialization& r);
std::string to_csv(const DomainSpecialization& r);
nlohmann::json to_json(const TokenSpecialization& r);
std::string to_csv(const TokenSpecialization& r);

nlohmann::json to_json(const CoactivationResult& r);
std::string to_csv(const CoactivationResult& r);
nlohmann::json to_json(const TransitionResult& r);
std::string to_csv(const TransitionResult& r);

nlohmann::json to_json(const RouterStatsResult& r);
std::string to_csv(const RouterStatsResult& r);
nlohmann::json to_json(const SaturationResult& r);
std::string to_csv(const SaturationResult& r);

nlohmann::json to_json(const DynamicKResult& r);
std::string to_csv(const DynamicKResult& r);

nlohmann::json to_json(const SuperExpertResult& r);
std::string to_csv(const SuperExpertResult& r);
nlohmann::json to_json(const MassiveResult& r);
std::string to_csv(const MassiveResult& r);
nlohmann::json to_json(const SinkResult& r);
nlohmann::json to_json(const RecordedSinkResult& r);
std::string to_csv(const RecordedSinkResult& r);

nlohmann::json to_json(const LrcResult& r);
std::string to_csv(const LrcResult& r);

nlohmann::json to_json(const ImportanceResult& r);
std::string to_csv(const ImportanceResult& r);
// The prune plan `moescope-cli prune --plan` reads:
// {"kind": "moescope.prune_plan", "method", "n_experts", "layers": [{"layer", "keep": [...], "drop": [...]}]}
nlohmann::json prune_plan_json(const ImportanceResult& r);

// CSV helper: joins cells with commas, quoting cells that contain a comma, quote or newline.
std::string csv_row(const std::vector<std::string>& cells);
std::string csv_num(double v);  // shortest round-trip form; NaN/inf as empty cell

}  // namespace moescope::analysis
