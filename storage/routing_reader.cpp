#include "storage/routing_reader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <unordered_map>

#include "engine/dtype.h"
#include "storage/schema.h"

namespace moescope::storage {

namespace {

struct TokenRow {
    int64_t rowid;
    int64_t run_id;
    int64_t prompt_id;
    int32_t position;
    int32_t token_id;
    uint8_t generated;
    int64_t set_id;
};

// rowid -> row index in the arrays. Tokens of one run are contiguous rowids in practice, so a dense
// table over [lo, hi] is the common case; a hash map covers sparse selections.
class RowMap {
public:
    void build(const std::vector<TokenRow>& rows) {
        if (rows.empty()) return;
        lo_ = rows.front().rowid;
        hi_ = rows.back().rowid;
        uint64_t span = static_cast<uint64_t>(hi_ - lo_) + 1;
        if (span <= 4 * rows.size() + 1024) {
            dense_.assign(span, -1);
            for (size_t i = 0; i < rows.size(); ++i) dense_[static_cast<size_t>(rows[i].rowid - lo_)] = static_cast<int64_t>(i);
        } else {
            for (size_t i = 0; i < rows.size(); ++i) sparse_[rows[i].rowid] = static_cast<int64_t>(i);
        }
    }
    int64_t find(int64_t rowid) const {
        if (rowid < lo_ || rowid > hi_) return -1;
        if (!dense_.empty()) return dense_[static_cast<size_t>(rowid - lo_)];
        auto it = sparse_.find(rowid);
        return it == sparse_.end() ? -1 : it->second;
    }
    int64_t lo() const { return lo_; }
    int64_t hi() const { return hi_; }

private:
    int64_t lo_ = 0, hi_ = -1;
    std::vector<int64_t> dense_;
    std::unordered_map<int64_t, int64_t> sparse_;
};

bool run_has_weights(const RunInfo& r) {
    return r.fields_json.find("\"weights\":false") == std::string::npos &&
           r.fields_json.find("\"weights\": false") == std::string::npos;
}

}  // namespace

RoutingArrays read_routing(Database& database, const RoutingSelection& sel) {
    Db& db = database.db();
    ReadTxn snapshot(db);
    RoutingArrays out;

    std::vector<RunInfo> runs;
    if (sel.run_ids.empty()) {
        runs = database.runs();
    } else {
        for (int64_t id : sel.run_ids) runs.push_back(database.run(id));
    }
    std::optional<int64_t> set_filter;
    if (sel.prompt_set) {
        Stmt s = db.prepare("SELECT id FROM prompt_set WHERE name=?");
        s.bind(1, *sel.prompt_set);
        if (!s.step()) throw Error(db.path() + ": no prompt set named '" + *sel.prompt_set + "'");
        set_filter = s.int64(0);
    }

    // ---- tokens ----
    std::vector<TokenRow> rows;
    {
        Stmt s = db.prepare(
            "SELECT t.id, t.run_id, IFNULL(t.prompt_id,-1), t.position, IFNULL(t.token_id,-1), t.generated, "
            "IFNULL(p.set_id,-1) FROM token t LEFT JOIN prompt p ON p.id = t.prompt_id WHERE t.run_id=? ORDER BY t.id");
        for (const auto& r : runs) {
            s.bind(1, r.id);
            while (s.step()) {
                TokenRow t{s.int64(0), s.int64(1), s.int64(2), s.int32(3), s.int32(4),
                           static_cast<uint8_t>(s.int32(5)), s.int64(6)};
                if (set_filter && t.set_id != *set_filter) continue;
                if (t.generated ? !sel.generated_tokens : !sel.prompt_tokens) continue;
                rows.push_back(t);
            }
            s.reset();
        }
    }
    std::sort(rows.begin(), rows.end(), [](const TokenRow& a, const TokenRow& b) { return a.rowid < b.rowid; });

    // ---- shape: MoE layer list, k, experts (must agree across runs) ----
    std::vector<int> moe_layers;
    bool any_weights = false;
    int64_t experts_run = -1;  // the first run that stated its expert count
    for (const auto& r : runs) {
        std::vector<int> layers = r.moe_layers;
        if (layers.empty()) {  // older or foreign runs: derive from the data
            Stmt s = db.prepare(
                "SELECT DISTINCT id & 1023 FROM routing WHERE id BETWEEN (SELECT MIN(id) FROM token WHERE run_id=?1) * 1024 "
                "AND (SELECT MAX(id) FROM token WHERE run_id=?1) * 1024 + 1023 ORDER BY 1");
            s.bind(1, r.id);
            while (s.step()) layers.push_back(s.int32(0));
        }
        if (database.token_count(r.id) == 0 && layers.empty()) continue;
        if (moe_layers.empty()) {
            moe_layers = layers;
        } else if (!layers.empty() && layers != moe_layers) {
            throw Error(db.path() + ": runs " + std::to_string(runs.front().id) + " and " + std::to_string(r.id) +
                        " record different MoE layer lists (" + int_list_json(moe_layers) + " vs " +
                        int_list_json(layers) + "); read them separately");
        }
        // Expert ids index the same router rows only when the runs agree on the expert count; a
        // silent max would mix a pruned checkpoint with its parent (ids renumbered) into one table.
        if (r.n_experts > 0 && out.n_experts > 0 && r.n_experts != out.n_experts)
            throw Error(db.path() + ": runs " + std::to_string(experts_run) + " (" + std::to_string(out.n_experts) +
                        " experts) and " + std::to_string(r.id) + " (" + std::to_string(r.n_experts) +
                        " experts) record models with different expert counts; read them separately");
        if (r.n_experts > 0 && out.n_experts == 0) experts_run = r.id;
        out.k_max = std::max(out.k_max, r.k_max);
        out.n_experts = std::max(out.n_experts, r.n_experts);
        out.n_layers = std::max(out.n_layers, r.n_layers);
        any_weights = any_weights || run_has_weights(r);
    }
    out.moe_layers = moe_layers;
    out.n_moe = static_cast<int>(moe_layers.size());
    out.n_tokens = static_cast<int64_t>(rows.size());
    RowMap map;
    map.build(rows);

    if (out.k_max == 0 && !rows.empty()) {
        Stmt s = db.prepare("SELECT IFNULL(MAX(length(experts)),0) FROM routing WHERE id BETWEEN ? AND ?");
        s.bind(1, routing_key(map.lo(), 0)).bind(2, routing_key(map.hi(), kMaxLayers - 1));
        s.step();
        out.k_max = static_cast<int>(s.int64(0) / 2);
    }
    int max_layer = moe_layers.empty() ? -1 : *std::max_element(moe_layers.begin(), moe_layers.end());
    std::vector<int> slot_of(static_cast<size_t>(max_layer + 1), -1);
    for (int m = 0; m < out.n_moe; ++m) slot_of[static_cast<size_t>(moe_layers[static_cast<size_t>(m)])] = m;
    if (out.n_layers == 0) out.n_layers = max_layer + 1;

    // ---- per-token columns ----
    const size_t T = rows.size();
    out.run_id.resize(T);
    out.prompt_id.resize(T);
    out.position.resize(T);
    out.token_id.resize(T);
    out.generated.resize(T);
    out.set_index.resize(T);
    std::map<int64_t, int32_t> set_index;
    {
        Stmt names = db.prepare("SELECT id, name FROM prompt_set ORDER BY id");
        while (names.step()) {
            set_index[names.int64(0)] = static_cast<int32_t>(out.set_names.size());
            out.set_names.push_back(names.text(1));
        }
    }
    for (size_t i = 0; i < T; ++i) {
        const TokenRow& t = rows[i];
        out.run_id[i] = t.run_id;
        out.prompt_id[i] = t.prompt_id;
        out.position[i] = t.position;
        out.token_id[i] = t.token_id;
        out.generated[i] = t.generated;
        auto it = set_index.find(t.set_id);
        out.set_index[i] = it == set_index.end() ? -1 : it->second;
    }

    const size_t K = static_cast<size_t>(out.k_max);
    const size_t slots = T * static_cast<size_t>(out.n_moe) * K;
    out.experts.assign(slots, -1);
    if (any_weights) out.weights.assign(slots, std::numeric_limits<float>::quiet_NaN());
    if (T == 0 || out.n_moe == 0) return out;

    // ---- routing: one range scan over the selected token rowids ----
    int max_expert = -1;
    {
        Stmt s = db.prepare("SELECT id, experts, weights, shared_gate FROM routing WHERE id BETWEEN ? AND ?");
        s.bind(1, routing_key(map.lo(), 0)).bind(2, routing_key(map.hi(), kMaxLayers - 1));
        while (s.step()) {
            const int64_t key = s.int64(0);
            int64_t row = map.find(key_token(key));
            if (row < 0) continue;
            int layer = key_layer(key);
            if (layer < 0 || layer > max_layer || slot_of[static_cast<size_t>(layer)] < 0) continue;
            size_t base = out.slot(row, slot_of[static_cast<size_t>(layer)], 0);
            auto ex = s.blob(1);
            size_t k = std::min(ex.size() / 2, K);
            std::memcpy(out.experts.data() + base, ex.data(), k * 2);
            for (size_t j = 0; j < k; ++j) max_expert = std::max<int>(max_expert, out.experts[base + j]);
            if (any_weights && !s.is_null(2)) {
                auto wb = s.blob(2);
                std::memcpy(out.weights.data() + base, wb.data(), std::min(wb.size() / 4, K) * 4);
            }
            if (!s.is_null(3)) {  // NULL = no shared expert: the column stays empty for such models
                if (out.shared_gate.empty())
                    out.shared_gate.assign(T * static_cast<size_t>(out.n_moe), std::numeric_limits<float>::quiet_NaN());
                out.shared_gate[static_cast<size_t>(row) * out.n_moe + slot_of[static_cast<size_t>(layer)]] =
                    static_cast<float>(s.real(3));
            }
        }
    }
    if (out.n_experts == 0) out.n_experts = max_expert + 1;

    if (sel.logits) {
        Stmt s = db.prepare("SELECT id, logits FROM router_logits WHERE id BETWEEN ? AND ?");
        std::map<int64_t, bool> f16;
        for (const auto& r : runs) f16[r.id] = r.logits_dtype == LogitsDtype::F16;
        const size_t E = static_cast<size_t>(out.n_experts);
        s.bind(1, routing_key(map.lo(), 0)).bind(2, routing_key(map.hi(), kMaxLayers - 1));
        while (s.step()) {
            int64_t row = map.find(key_token(s.int64(0)));
            int layer = key_layer(s.int64(0));
            if (row < 0 || layer > max_layer || slot_of[static_cast<size_t>(layer)] < 0) continue;
            if (out.router_logits.empty())
                out.router_logits.assign(T * static_cast<size_t>(out.n_moe) * E, std::numeric_limits<float>::quiet_NaN());
            float* dst = out.router_logits.data() + (static_cast<size_t>(row) * out.n_moe + slot_of[static_cast<size_t>(layer)]) * E;
            auto b = s.blob(1);
            if (f16[out.run_id[static_cast<size_t>(row)]]) {
                size_t n = std::min(b.size() / 2, E);
                for (size_t e = 0; e < n; ++e) {
                    uint16_t h;
                    std::memcpy(&h, b.data() + 2 * e, 2);
                    dst[e] = f16_to_f32(h);
                }
            } else {
                std::memcpy(dst, b.data(), std::min(b.size() / 4, E) * 4);
            }
        }
    }
    if (sel.activations) {
        // token_contribution exists from schema v3 on; a v2 file (read-only opens accept it) has none.
        const bool v3 = database.schema_version() >= 3;
        Stmt s = db.prepare(std::string("SELECT id, out_norm, down_proj_max, down_proj_channel, ") +
                            (v3 ? "token_contribution" : "NULL") + " FROM expert_activation WHERE id BETWEEN ? AND ?");
        s.bind(1, routing_key(map.lo(), 0)).bind(2, routing_key(map.hi(), kMaxLayers - 1));
        while (s.step()) {
            int64_t row = map.find(key_token(s.int64(0)));
            int layer = key_layer(s.int64(0));
            if (row < 0 || layer > max_layer || slot_of[static_cast<size_t>(layer)] < 0) continue;
            if (out.down_proj_max.empty()) {
                out.expert_out_norm.assign(slots, std::numeric_limits<float>::quiet_NaN());
                out.down_proj_max.assign(slots, std::numeric_limits<float>::quiet_NaN());
                out.down_proj_channel.assign(slots, -1);
            }
            size_t base = out.slot(row, slot_of[static_cast<size_t>(layer)], 0);
            auto a = s.blob(1), b = s.blob(2), c = s.blob(3);
            std::memcpy(out.expert_out_norm.data() + base, a.data(), std::min(a.size() / 4, K) * 4);
            std::memcpy(out.down_proj_max.data() + base, b.data(), std::min(b.size() / 4, K) * 4);
            std::memcpy(out.down_proj_channel.data() + base, c.data(), std::min(c.size() / 4, K) * 4);
            if (!s.is_null(4)) {
                if (out.token_contribution.empty())
                    out.token_contribution.assign(T * static_cast<size_t>(out.n_moe), std::numeric_limits<float>::quiet_NaN());
                out.token_contribution[static_cast<size_t>(row) * out.n_moe + slot_of[static_cast<size_t>(layer)]] =
                    static_cast<float>(s.real(4));
            }
        }
    }
    if (sel.layer_stats && out.n_layers > 0) {
        Stmt s = db.prepare("SELECT id, hidden_max_abs, hidden_max_channel, hidden_norm, sink_mass, sink_mass_per_head "
                            "FROM layer_stat WHERE id BETWEEN ? AND ?");
        s.bind(1, routing_key(map.lo(), 0)).bind(2, routing_key(map.hi(), kMaxLayers - 1));
        const size_t NL = static_cast<size_t>(out.n_layers);
        while (s.step()) {
            int64_t row = map.find(key_token(s.int64(0)));
            int layer = key_layer(s.int64(0));
            if (row < 0 || static_cast<size_t>(layer) >= NL) continue;
            if (out.hidden_max_abs.empty()) {
                float nan = std::numeric_limits<float>::quiet_NaN();
                out.hidden_max_abs.assign(T * NL, nan);
                out.hidden_max_channel.assign(T * NL, -1);
                out.hidden_norm.assign(T * NL, nan);
                out.sink_mass.assign(T * NL, nan);
            }
            size_t i = static_cast<size_t>(row) * NL + static_cast<size_t>(layer);
            out.hidden_max_abs[i] = static_cast<float>(s.real(1));
            out.hidden_max_channel[i] = s.int32(2);
            out.hidden_norm[i] = static_cast<float>(s.real(3));
            out.sink_mass[i] = static_cast<float>(s.real(4));
            if (!s.is_null(5)) {  // per-head mass: f32[n_heads], opt-in at record time
                auto hb = s.blob(5);
                const int nh = static_cast<int>(hb.size() / 4);
                if (out.sink_mass_head.empty()) {
                    out.n_heads = nh;
                    out.sink_mass_head.assign(T * NL * static_cast<size_t>(nh), std::numeric_limits<float>::quiet_NaN());
                } else if (nh != out.n_heads) {
                    throw Error(db.path() + ": run " + std::to_string(out.run_id[static_cast<size_t>(row)]) + " layer " +
                                std::to_string(layer) + " stores per-head sink mass for " + std::to_string(nh) +
                                " heads, other rows of the selection for " + std::to_string(out.n_heads) +
                                "; read the runs separately");
                }
                if (nh > 0) std::memcpy(out.sink_mass_head.data() + i * static_cast<size_t>(nh), hb.data(), static_cast<size_t>(nh) * 4);
            }
        }
    }
    return out;
}

std::vector<ExpertAggregate> expert_aggregates(Database& database, int64_t run_id) {
    Stmt s = database.db().prepare(
        "SELECT layer, expert, count, weight_sum, down_proj_max FROM expert_agg WHERE run_id=? ORDER BY layer, expert");
    s.bind(1, run_id);
    RunInfo run = database.run(run_id);
    bool weights = run_has_weights(run);
    std::vector<ExpertAggregate> out;
    while (s.step()) {
        ExpertAggregate a;
        a.layer = s.int32(0);
        a.expert = s.int32(1);
        a.count = s.int64(2);
        if (weights && !s.is_null(3)) a.weight_sum = s.real(3);
        if (!s.is_null(4)) a.down_proj_max = static_cast<float>(s.real(4));
        out.push_back(a);
    }
    return out;
}

std::vector<std::pair<int, int64_t>> layer_token_counts(Database& database, int64_t run_id) {
    Stmt s = database.db().prepare("SELECT layer, tokens FROM layer_agg WHERE run_id=? ORDER BY layer");
    s.bind(1, run_id);
    std::vector<std::pair<int, int64_t>> out;
    while (s.step()) out.emplace_back(s.int32(0), s.int64(1));
    return out;
}

}  // namespace moescope::storage
