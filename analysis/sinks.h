#pragma once
// Massive activations (methods.md §9.3, Sun et al. arXiv 2402.17762) and attention sinks (§9.2,
// Gu et al. arXiv 2410.10781; §3.3 D_sink of Su et al.).
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/common.h"

namespace moescope::analysis {

// ---- massive activations ---------------------------------------------------------------------------
enum class MedianScope { LayerTensor, PerToken };  // methods.md §9.3: which median is UNCONFIRMED
struct MassiveOptions {
    double min_abs = 100;     // |h| > 100
    double min_ratio = 1000;  // |h| >= 1000 x median |h|
    MedianScope median = MedianScope::LayerTensor;
};
struct MassiveHit {
    int layer = 0;
    int64_t token = 0;   // row (recorded arrays) or position (exact tensors)
    int32_t position = 0;
    int32_t token_id = -1;
    int channel = 0;
    double value = 0;    // |h|
    double ratio = 0;    // |h| / median
};
struct MassiveLayer {
    int layer = 0;
    double median = 0;       // the median |h| used for the ratio (or its estimate)
    double top[3] = {0, 0, 0};  // three largest |h| (Sun et al.'s standard figure)
};
struct MassiveResult {
    MassiveOptions options;
    std::vector<MassiveLayer> layers;
    std::vector<MassiveHit> hits;     // sorted by value descending
    std::vector<std::string> notes;
};

// Exact definition on full hidden states: hidden[l] is the OUTPUT residual of layer l, [T][d] row-major.
struct HiddenStates {
    int n_layers = 0, n_tokens = 0, hidden_size = 0;
    std::vector<std::vector<float>> layers;  // [n_layers][T*d]
    std::vector<int32_t> token_ids;          // optional [T]
};
Result<MassiveResult> massive_activations(const HiddenStates& h, const MassiveOptions& o);

// From recorded per-token statistics (capture level Activations): only max |h| and its channel and the
// L2 norm per token and layer are stored, so the median is ESTIMATED per token as
// 0.6745 x rms of the other d-1 entries (the median |x| of a zero-mean Gaussian), which needs
// hidden_size. Flags at most one channel per token-layer (the max).
Result<MassiveResult> massive_activations(const RoutingArrays& a, int hidden_size, const TokenFilter& filter,
                                          const MassiveOptions& o);

// ---- attention sinks -------------------------------------------------------------------------------
struct SinkOptions {
    double epsilon = 0.3;   // Gu: alpha > 0.3
    double tau = 0.25;      // sink set: Sink_k > tau (third-party heuristic, not Gu)
    int window = 64;        // Gu fixes T = 64; only positions < window count
};
// Exact Gu metric: probs[l][h] is a causal attention matrix [T][T] (row = query, col = key).
struct AttentionMaps {
    int n_layers = 0, n_heads = 0, n_tokens = 0;
    std::vector<float> probs;  // [L][H][T][T]
    float at(int l, int h, int q, int k) const {
        return probs[((static_cast<size_t>(l) * n_heads + h) * n_tokens + q) * n_tokens + k];
    }
};
struct SinkResult {
    SinkOptions options;
    int T = 0;
    std::vector<double> sink_score;          // [T] Sink_k^eps: fraction of (layer, head) with alpha_k > eps
    std::vector<int> sink_positions;         // k with sink_score > tau
    std::vector<std::vector<double>> alpha;  // [L*H][T] alpha_k per layer-head (exact) or [L][1] (recorded)
    std::vector<std::string> notes;
};
Result<SinkResult> attention_sinks(const AttentionMaps& maps, const SinkOptions& o);

// From recorded head-averaged attention mass on position 0 (RoutingArrays::sink_mass): per layer alpha_1
// = mean over queries (position < window) of the head-averaged mass; Sink_1 = fraction of LAYERS with
// alpha_1 > eps (per-head values are not recorded, so this approximates Gu's fraction of heads).
struct LayerSink {
    int layer = 0;
    double alpha_first = 0;
    bool sink = false;
};
struct RecordedSinkResult {
    SinkOptions options;
    int64_t queries = 0;
    std::vector<LayerSink> layers;
    double sink_fraction = 0;
    bool first_token_is_sink = false;  // sink_fraction > tau
    std::vector<std::string> notes;
};
Result<RecordedSinkResult> attention_sinks(const RoutingArrays& a, const TokenFilter& filter, const SinkOptions& o);

// D_sink (Su et al. Eq. 9) per layer between attention before (base) and after an intervention, sink set
// = {sink_positions}; averaged over heads and over query positions >= max sink position (aggregation
// over queries UNCONFIRMED, methods.md §3.3).
Result<std::vector<double>> sink_disruption(const AttentionMaps& base, const AttentionMaps& after,
                                            const std::vector<int>& sink_positions);

}  // namespace moescope::analysis
