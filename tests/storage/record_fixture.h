#pragma once
// Shared set-up for the storage tests: a database with one model row and a run shaped like the
// synthetic model.
#include <memory>
#include <string>

#include "storage/database.h"
#include "tests/storage/synthetic_events.h"

namespace moescope::test {

inline int64_t make_synthetic_run(storage::Database& db, const SyntheticModel& m, CaptureLevel level,
                                  const std::string& label = "synthetic") {
    storage::ModelInfo mi;
    mi.name = "synthetic-moe";
    mi.architecture = "SyntheticForCausalLM";
    mi.path = "/nowhere/synthetic";
    mi.config_json = "{\"num_experts\": " + std::to_string(m.n_experts) + "}";
    mi.content_hash = "0123abcd";
    mi.n_layers = m.n_layers;
    mi.n_experts = m.n_experts;
    mi.top_k = m.k;
    mi.moe_layers = m.moe_layers;
    storage::RunInfo r;
    r.model_id = db.find_or_add_model(mi);
    r.kind = storage::RunKind::Record;
    r.label = label;
    r.capture = level;
    r.n_layers = m.n_layers;
    r.n_experts = m.n_experts;
    r.k_max = m.k;
    r.moe_layers = m.moe_layers;
    r.sampling_json = "{\"temperature\": 0}";
    r.seed = 42;
    return db.begin_run(r);
}

}  // namespace moescope::test
