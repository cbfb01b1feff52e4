#pragma once
// EngineState: everything that lives on the engine thread: the loaded model, its tokenizer and the
// sessions of the current generation and its branches. Only EngineHost jobs touch it (the UI holds a
// shared_ptr only to hand it to those jobs), so it needs no lock.
#include <map>
#include <memory>
#include <optional>

#include "engine/model/model.h"
#include "engine/session.h"
#include "engine/tokenizer/tokenizer.h"
#include "storage/database.h"

namespace moescope::gui {

struct EngineState {
    std::unique_ptr<Model> model;
    std::optional<Tokenizer> tokenizer;  // absent: the model folder has no tokenizer.json (raw ids)
    // The last finished generation: prompt ids and generated ids, kept so "Branch here" can rebuild its
    // prefix exactly (replaying the intervention timeline) without the UI holding engine objects.
    std::vector<int32_t> lastPrompt;
    std::vector<int32_t> lastGenerated;
    std::vector<InterventionChange> lastTimeline;
    // Where sessions run: the CPU (cuda null) or the GPU copy of the model made at load (issue 9/10).
    SessionDevice device;
    // The activation database generations are recorded into (opened for writing; null = not recording).
    std::unique_ptr<storage::Database> db;

    // Drops everything that refers to the model (sessions must die before their model).
    void unload() {
        lastPrompt.clear();
        lastGenerated.clear();
        lastTimeline.clear();
        device = SessionDevice{};  // the GPU copy refers to the model's weights: drop it first
        tokenizer.reset();
        model.reset();
    }
};

}  // namespace moescope::gui
