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

// From recorded attention mass on position 0 (capture level activations). Per layer alpha_1 = mean over
// query tokens (position < window) of the head-averaged mass RoutingArrays::sink_mass. When the runs were
// recorded with per-head mass (RoutingArrays::sink_mass_head, `record --sink-heads`) the per-head
// alpha_1^{l,h} are reported too and Sink_1^eps is Gu et al.'s fraction of (layer, head) pairs with
// alpha_1^{l,h} > eps (methods.md 9.2); without them Sink_1 falls back to the fraction of LAYERS whose
// head mean exceeds eps (an approximation, stated in the notes and in `metric`). NaN entries (token-layers
// without a stored row) are skipped.
struct HeadSink {
    int head = 0;
    double alpha_first = 0;  // alpha_1^{l,h}
    bool sink = false;       // alpha_first > epsilon
};
struct LayerSink {
    int layer = 0;
    double alpha_first = 0;      // mean over queries of the head-averaged mass
    bool sink = false;           // alpha_first > epsilon
    std::vector<HeadSink> heads;  // [n_heads] when per-head mass was recorded, else empty
    int sink_heads = 0;          // heads with alpha_1^{l,h} > epsilon
};
struct RecordedSinkResult {
    SinkOptions options;
    int64_t queries = 0;
    int n_heads = 0;                 // 0: per-head mass not recorded
    std::vector<LayerSink> layers;
    double sink_fraction = 0;        // Sink_1: per-head fraction when n_heads > 0, else layer fraction
    double layer_fraction = 0;       // fraction of layers whose head-mean alpha_1 > epsilon
    bool first_token_is_sink = false;  // sink_fraction > tau
    std::string metric;              // "gu_heads" or "layer_mean" (which fraction sink_fraction is)
    std::vector<std::string> notes;
};
Result<RecordedSinkResult> attention_sinks(const RoutingArrays& a, const TokenFilter& filter, const SinkOptions& o);

// D_sink (Su et al. Eq. 9) per layer between attention before (base) and after an intervention, sink set
// = {sink_positions}; averaged over heads and over query positions >= max sink position (aggregation
// over queries UNCONFIRMED, methods.md §3.3).
Result<std::vector<double>> sink_disruption(const AttentionMaps& base, const AttentionMaps& after,
                                            const std::vector<int>& sink_positions);

}  // namespace moescope::analysis
