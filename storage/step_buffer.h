#pragma once
// Internal to the recorder (and its benchmark): one finished step as copied from the tap events, and
// the writer thread's state. The pools hold exactly the bytes of the BLOBs the writer binds.
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "storage/recorder.h"
#include "storage/sqlite.h"

namespace moescope::storage {

struct StepBuffer {
    struct Rec {
        int64_t position = 0;
        int32_t layer = 0;
        int32_t token_id = 0;
        uint32_t k = 0;
        uint32_t off = 0;  // into experts / weights
        float shared_gate = -1.0f;
        uint32_t logit_off = 0, n_logits = 0;
        bool has_act = false;
        uint32_t act_off = 0;  // into out_norm / dp_max / dp_chan
        float contribution = NAN;  // EASY-EP s_t (level activations), NaN = not computed
    };
    struct Stat {
        int64_t position = 0;
        int32_t layer = 0;
        float hidden_max_abs = 0, hidden_norm = 0, sink_mass = 0;
        int32_t hidden_max_channel = 0;
        uint32_t head_off = 0, n_heads = 0;
    };
    int64_t index = 0;  // step index within the run (order of on_step_end)
    int seq = 0;
    int step = -1;
    int64_t first_position = 0;
    int n_tokens = 0;
    int64_t prompt_id = -1;
    bool text_only = false;  // carries token texts set after the last step (finish()); not a step
    std::vector<Rec> recs;
    std::vector<int16_t> experts;
    std::vector<float> weights;
    std::vector<float> logits;
    std::vector<float> out_norm, dp_max;
    std::vector<int32_t> dp_chan;
    std::vector<Stat> stats;
    std::vector<float> heads;
    std::vector<std::pair<int64_t, std::string>> texts;

    void reserve_like(const StepBuffer& o) {
        recs.reserve(o.recs.size());
        experts.reserve(o.experts.size());
        weights.reserve(o.weights.size());
        logits.reserve(o.logits.size());
        out_norm.reserve(o.out_norm.size());
        dp_max.reserve(o.dp_max.size());
        dp_chan.reserve(o.dp_chan.size());
        stats.reserve(o.stats.size());
        heads.reserve(o.heads.size());
    }
    size_t bytes() const {
        size_t n = sizeof(*this) + recs.size() * sizeof(Rec) + experts.size() * 2 + weights.size() * 4 +
                   logits.size() * 4 + (out_norm.size() + dp_max.size() + dp_chan.size()) * 4 +
                   stats.size() * sizeof(Stat) + heads.size() * 4;
        for (const auto& t : texts) n += t.second.size() + 16;
        return n;
    }
};

struct Recorder::Writer {
    Db db;  // declared first: destroyed after the statements
    Stmt ins_token, upd_text, ins_routing, ins_logits, ins_act, ins_stat, ins_step, upd_run, put_agg, put_layer;
    int64_t next_token = 1;
    int64_t steps_written = 0;

    // Aggregates: `agg` holds committed totals, `pend` what the open transaction adds. Written with
    // absolute values (agg + pend) inside the transaction; merged after COMMIT, dropped on rollback,
    // so a retried batch never counts twice.
    struct Agg {
        int64_t count = 0;
        double weight_sum = 0;
        float dp_max = 0;
        bool has_dp = false;
        bool dirty = false;
        void add(const Agg& o) {
            count += o.count;
            weight_sum += o.weight_sum;
            if (o.has_dp && (!has_dp || o.dp_max > dp_max)) dp_max = o.dp_max;
            has_dp = has_dp || o.has_dp;
        }
    };
    std::vector<std::vector<Agg>> agg, pend;  // [layer][expert]
    std::vector<int64_t> layer_tokens, pend_tokens;  // [layer]
    std::vector<std::pair<int, int>> dirty;
    std::vector<int> dirty_layers;

    void aggregate(const StepBuffer::Rec& r, const StepBuffer& b) {
        if (r.layer < 0) return;
        size_t L = static_cast<size_t>(r.layer);
        if (L >= agg.size()) {
            agg.resize(L + 1);
            pend.resize(L + 1);
            layer_tokens.resize(L + 1, 0);
            pend_tokens.resize(L + 1, 0);
        }
        if (pend_tokens[L]++ == 0) dirty_layers.push_back(r.layer);
        for (uint32_t j = 0; j < r.k; ++j) {
            int e = b.experts[r.off + j];
            if (e < 0) continue;
            size_t E = static_cast<size_t>(e);
            if (E >= pend[L].size()) {
                pend[L].resize(E + 1);
                agg[L].resize(E + 1);
            }
            Agg& a = pend[L][E];
            ++a.count;
            float wgt = b.weights[r.off + j];
            if (!std::isnan(wgt)) a.weight_sum += wgt;
            if (r.has_act) {
                float d = std::fabs(b.dp_max[r.act_off + j]);
                if (!a.has_dp || d > a.dp_max) a.dp_max = d;
                a.has_dp = true;
            }
            if (!a.dirty) {
                a.dirty = true;
                dirty.emplace_back(r.layer, e);
            }
        }
    }
    Agg total(int layer, int expert) const {
        Agg t = agg[static_cast<size_t>(layer)][static_cast<size_t>(expert)];
        t.add(pend[static_cast<size_t>(layer)][static_cast<size_t>(expert)]);
        return t;
    }
    // commit: fold the pending deltas into the totals; rollback: forget them.
    void end_batch(bool committed) {
        for (auto [l, e] : dirty) {
            Agg& p = pend[static_cast<size_t>(l)][static_cast<size_t>(e)];
            if (committed) agg[static_cast<size_t>(l)][static_cast<size_t>(e)].add(p);
            p = Agg{};
        }
        for (int l : dirty_layers) {
            if (committed) layer_tokens[static_cast<size_t>(l)] += pend_tokens[static_cast<size_t>(l)];
            pend_tokens[static_cast<size_t>(l)] = 0;
        }
        dirty.clear();
        dirty_layers.clear();
    }
};

}  // namespace moescope::storage
