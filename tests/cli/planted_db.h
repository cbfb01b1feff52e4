#pragma once
// Writes an activation database with planted routing through the real Database + Recorder, for the
// `moescope-cli analyze` tests: 20 "behavior" prompts whose token ids 50-59 are routed to expert 3 of
// layer 1, 20 "control" prompts without those ids; one planted super expert (layer 0, expert 5, channel 17
// on position 0 of prompt 3). 2 decoder layers, both MoE, 8 experts, k = 2. At level activations: per-head
// sink mass for 3 heads (heads 0 and 1 sinks, head 2 not).
#include <functional>
#include <string>
#include <vector>

#include "storage/database.h"
#include "storage/recorder.h"

namespace moescope::test {

// Changes the experts of one routing event (prompt 0-39, layer 0-1, position 0-11) before it is recorded.
// It must not draw random numbers, so the token ids and every other event stay those of the unperturbed run.
using RoutePerturb = std::function<void(int prompt, int layer, int pos, std::vector<int32_t>& experts)>;

// Appends one run to `path` (created when absent). Called twice with the same level, it writes two runs on
// identical tokens; a `perturb` on the second gives it known routing differences (router saturation tests).
inline void write_planted_db(const std::string& path, CaptureLevel level, const RoutePerturb& perturb = {}) {
    auto db = storage::Database::open(path, storage::Access::Write);
    storage::ModelInfo mi;
    mi.name = "planted-moe";
    mi.architecture = "PlantedForCausalLM";
    mi.path = "/nowhere/planted";
    mi.config_json = "{\"num_experts\": 8, \"hidden_size\": 64}";
    mi.content_hash = "feed";
    mi.n_layers = 2;
    mi.n_experts = 8;
    mi.top_k = 2;
    mi.moe_layers = {0, 1};
    storage::RunInfo r;
    r.model_id = db->find_or_add_model(mi);
    r.kind = storage::RunKind::Record;
    r.label = "planted";
    r.capture = level;
    r.n_layers = 2;
    r.n_experts = 8;
    r.k_max = 2;
    r.moe_layers = {0, 1};
    const int64_t run = db->begin_run(r);
    storage::RecorderOptions ro;
    ro.level = level;
    ro.sink_per_head = true;  // 3 heads: two put .95 on position 0, one .2 (mean .7 = sink_mass)
    storage::Recorder rec(*db, run, ro);
    unsigned long long x = 12345;
    auto rnd = [&](int n) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return static_cast<int>(x % static_cast<unsigned long long>(n));
    };
    for (int p = 0; p < 40; ++p) {
        const bool behaviour = p < 20;
        const int64_t pid = db->add_prompt(db->prompt_set(behaviour ? "behavior" : "control"), "prompt " + std::to_string(p), "[]");
        rec.begin_sequence(pid);
        const int n_planted = behaviour ? 2 + p % 3 : 0;
        std::vector<int32_t> ids;
        for (int pos = 0; pos < 12; ++pos) {
            const bool planted = pos >= 3 && pos < 3 + n_planted;
            int id = rnd(90);
            ids.push_back(planted ? 50 + (p + pos) % 10 : (id < 50 ? id : id + 10));
        }
        for (int layer : {0, 1}) {
            for (int pos = 0; pos < 12; ++pos) {
                const bool planted = ids[pos] >= 50 && ids[pos] < 60;
                std::vector<int32_t> ex;
                if (layer == 1 && planted) {
                    int y;
                    do y = rnd(8);
                    while (y == 3);
                    ex = {3, y};
                } else {
                    int a, b;
                    do a = rnd(8);
                    while (layer == 1 && a == 3);
                    do b = rnd(8);
                    while (b == a || (layer == 1 && b == 3));
                    ex = {a, b};
                }
                if (layer == 0 && p == 3 && pos == 0) ex = {5, 1};
                if (perturb) perturb(p, layer, pos, ex);
                std::vector<float> w = {0.6f, 0.4f}, norm = {1.0f, 2.0f}, dpm = {1.0f + rnd(4), 1.0f + rnd(4)};
                std::vector<int32_t> ch = {rnd(64), rnd(64)};
                if (layer == 0 && p == 3 && pos == 0) {
                    dpm[0] = 900.0f;
                    ch[0] = 17;
                }
                std::vector<float> logits(8, 0.0f);
                logits[ex[0]] = 2.0f;
                logits[ex[1]] = 1.0f;
                RoutingEvent ev;
                ev.layer = layer;
                ev.position = pos;
                ev.token_id = ids[pos];
                ev.step = -1;
                ev.experts = ex;
                ev.weights = w;
                if (level >= CaptureLevel::Logits) ev.router_logits = logits;
                if (level >= CaptureLevel::Activations) {
                    ev.expert_out_norm = norm;
                    ev.down_proj_max = dpm;
                    ev.down_proj_channel = ch;
                    ev.token_contribution = layer == 0 ? 0.25f : 0.5f;  // EASY-EP s_t, planted per layer
                }
                rec.on_routing(ev);
            }
        }
        if (level >= CaptureLevel::Activations)
            for (int layer : {0, 1})
                for (int pos = 0; pos < 12; ++pos) {
                    LayerStatsEvent s;
                    s.layer = layer;
                    s.position = pos;
                    s.hidden_max_abs = layer == 1 && pos == 0 ? 2000.0f : 1.5f;
                    s.hidden_max_channel = layer == 1 && pos == 0 ? 9 : 2;
                    s.hidden_norm = layer == 1 && pos == 0 ? 2000.1f : 4.0f;
                    s.sink_mass = pos == 0 ? 1.0f : 0.7f;
                    const std::vector<float> heads = pos == 0 ? std::vector<float>{1.0f, 1.0f, 1.0f}
                                                              : std::vector<float>{0.95f, 0.95f, 0.2f};
                    s.sink_mass_per_head = heads;
                    rec.on_layer_stats(s);
                }
        StepEvent se;
        se.step = -1;
        se.first_position = 0;
        se.n_tokens = 12;
        rec.on_step_end(se);
    }
    const std::string err = rec.finish(storage::RunStatus::Complete);
    if (!err.empty()) throw Error("planted database: " + err);
}

}  // namespace moescope::test
