#pragma once
// Synthetic routing tap events for the storage tests and benchmark: a planted, deterministic routing
// function of (seed, seq, position, layer), so a test can check what it reads back against values it
// computes independently of the recorder and the reader.
#include <cstdint>
#include <vector>

#include "engine/routing_tap.h"

namespace moescope::test {

struct SyntheticModel {
    int n_layers = 6;
    std::vector<int> moe_layers = {1, 2, 3, 5};  // layer 0 and 4 dense, like a first-k-dense model
    int n_experts = 16;
    int k = 4;
    int n_heads = 4;
    uint64_t seed = 1;
    bool shared_gate = false;  // plant a shared-expert gate on every MoE layer but the last

    // Planted values, exact in f32 (multiples of 1/64): per-head attention on position 0 and the gate.
    float sink_head(int64_t pos, int layer, int head) const {
        return static_cast<float>((layer * 8 + head + static_cast<int>(pos % 4) * 2) % 64) / 64.0f;
    }
    float contribution(int64_t pos, int layer) const {  // EASY-EP s_t, multiples of 1/128
        return static_cast<float>((static_cast<int>(pos % 16) * 4 + layer) % 128) / 128.0f;
    }
    float gate(int64_t pos, int layer) const {
        if (!shared_gate || layer == moe_layers.back()) return -1.0f;  // -1 = no shared expert
        return static_cast<float>(static_cast<int>(pos % 8) * 8 + layer) / 64.0f;
    }

    static uint64_t mix(uint64_t x) {  // splitmix64 finaliser
        x += 0x9e3779b97f4a7c15ull;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        return x ^ (x >> 31);
    }
    uint64_t key(int seq, int64_t pos, int layer) const {
        return mix(seed ^ mix(static_cast<uint64_t>(seq) * 1000003ull + static_cast<uint64_t>(pos) * 131ull +
                              static_cast<uint64_t>(layer)));
    }
    int32_t token_id(int seq, int64_t pos) const { return static_cast<int32_t>(key(seq, pos, 999) % 50000); }
    // k distinct experts, best first
    std::vector<int32_t> experts(int seq, int64_t pos, int layer) const {
        std::vector<int32_t> e;
        uint64_t h = key(seq, pos, layer);
        int start = static_cast<int>(h % static_cast<uint64_t>(n_experts));
        int stride = 1 + 2 * static_cast<int>((h >> 20) % 3);  // odd stride: distinct mod 16
        for (int j = 0; j < k; ++j) e.push_back((start + j * stride) % n_experts);
        return e;
    }
    std::vector<float> weights(int seq, int64_t pos, int layer) const {
        std::vector<float> w;
        uint64_t h = key(seq, pos, layer);
        float total = 0;
        for (int j = 0; j < k; ++j) {
            w.push_back(static_cast<float>(k - j) + static_cast<float>((h >> (8 * j)) & 0xff) / 256.0f);
            total += w.back();
        }
        for (float& x : w) x /= total;
        return w;
    }
    std::vector<float> logits(int seq, int64_t pos, int layer) const {
        std::vector<float> l(static_cast<size_t>(n_experts));
        for (int e = 0; e < n_experts; ++e)
            l[static_cast<size_t>(e)] = static_cast<float>(static_cast<int>(mix(key(seq, pos, layer) + e) % 2001) - 1000) / 256.0f;
        return l;  // multiples of 1/256 in [-3.9, 3.9]: exact in F16
    }
    float down_proj_max(int seq, int64_t pos, int layer, int j) const {
        return static_cast<float>(mix(key(seq, pos, layer) + 77 + j) % 1000) / 8.0f;
    }

    // Emits one forward step covering positions [first, first + n) of sequence `seq`.
    void emit_step(moescope::RoutingObserver& obs, int seq, int step, int64_t first, int n) const {
        const auto level = obs.capture_level();
        for (int layer : moe_layers) {  // layer-major, like a real forward pass over a batch
            for (int64_t pos = first; pos < first + n; ++pos) {
                auto e = experts(seq, pos, layer);
                auto w = weights(seq, pos, layer);
                auto lg = logits(seq, pos, layer);
                std::vector<float> norm, dpm;
                std::vector<int32_t> ch;
                for (int j = 0; j < k; ++j) {
                    norm.push_back(1.0f + static_cast<float>(j));
                    dpm.push_back(down_proj_max(seq, pos, layer, j));
                    ch.push_back(j * 10 + layer);
                }
                moescope::RoutingEvent ev;
                ev.layer = layer;
                ev.position = pos;
                ev.token_id = token_id(seq, pos);
                ev.step = step;
                ev.experts = e;
                ev.weights = w;
                ev.shared_gate = gate(pos, layer);
                if (level >= moescope::CaptureLevel::Logits) ev.router_logits = lg;
                if (level >= moescope::CaptureLevel::Activations) {
                    ev.expert_out_norm = norm;
                    ev.down_proj_max = dpm;
                    ev.down_proj_channel = ch;
                    ev.token_contribution = contribution(pos, layer);
                }
                obs.on_routing(ev);
            }
        }
        if (level >= moescope::CaptureLevel::Activations) {
            std::vector<float> heads(static_cast<size_t>(n_heads));
            for (int layer = 0; layer < n_layers; ++layer)
                for (int64_t pos = first; pos < first + n; ++pos) {
                    for (int h = 0; h < n_heads; ++h) heads[static_cast<size_t>(h)] = sink_head(pos, layer, h);
                    moescope::LayerStatsEvent s;
                    s.layer = layer;
                    s.position = pos;
                    s.step = step;
                    s.hidden_max_abs = static_cast<float>(layer * 100 + pos % 100);
                    s.hidden_max_channel = layer + 7;
                    s.hidden_norm = 2.0f * static_cast<float>(layer);
                    s.sink_mass = 0.5f;
                    s.sink_mass_per_head = heads;
                    obs.on_layer_stats(s);
                }
        }
        moescope::StepEvent se;
        se.step = step;
        se.first_position = first;
        se.n_tokens = n;
        obs.on_step_end(se);
    }
};

}  // namespace moescope::test
