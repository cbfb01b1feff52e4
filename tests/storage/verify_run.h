#pragma once
// Invariant checks after a recording (style.md §2F): I1 integrity, I2 acknowledged steps present,
// I3 no torn steps, plus the routing content against the planted synthetic function.
#include <QString>
#include <cstring>
#include <set>
#include <string>

#include "storage/database.h"
#include "tests/storage/synthetic_events.h"

namespace moescope::test {

// Returns an empty string when every invariant holds, else the first violation.
inline std::string verify_recording(const std::string& path, int64_t run_id, const SyntheticModel& model,
                                    const std::set<int64_t>& acknowledged) {
    using namespace moescope::storage;
    auto db = Database::open(path, Access::ReadOnly);
    Db& c = db->db();
    std::string ic = c.query_text("PRAGMA integrity_check");
    if (ic != "ok") return "integrity_check: " + ic;
    std::set<int64_t> present;
    int64_t step_tokens = 0;
    Stmt steps = c.prepare("SELECT idx, seq, first_token, n_tokens FROM step WHERE run_id=? ORDER BY idx");
    steps.bind(1, run_id);
    Stmt tok = c.prepare("SELECT id, position, token_id FROM token WHERE id >= ? AND id < ? ORDER BY id");
    Stmt rt = c.prepare("SELECT layer, experts, weights FROM routing WHERE id BETWEEN ?1 * 1024 AND ?1 * 1024 + 1023 ORDER BY id");
    while (steps.step()) {
        int64_t idx = steps.int64(0);
        int seq = steps.int32(1);
        int64_t first = steps.int64(2), n = steps.int64(3);
        present.insert(idx);
        step_tokens += n;
        tok.bind(1, first).bind(2, first + n);
        int64_t seen = 0;
        while (tok.step()) {
            ++seen;
            int64_t id = tok.int64(0), pos = tok.int64(1);
            if (tok.int32(2) != model.token_id(seq, pos)) return "step " + std::to_string(idx) + ": wrong token id";
            rt.bind(1, id);
            size_t li = 0;
            while (rt.step()) {
                if (li >= model.moe_layers.size() || rt.int32(0) != model.moe_layers[li])
                    return "step " + std::to_string(idx) + ": unexpected routing layer " + std::to_string(rt.int32(0));
                auto e = model.experts(seq, pos, rt.int32(0));
                auto w = model.weights(seq, pos, rt.int32(0));
                auto eb = rt.blob(1), wb = rt.blob(2);
                if (eb.size() != e.size() * 2 || wb.size() != w.size() * 4) return "step " + std::to_string(idx) + ": blob size";
                for (size_t j = 0; j < e.size(); ++j) {
                    int16_t x;
                    float y;
                    std::memcpy(&x, eb.data() + 2 * j, 2);
                    std::memcpy(&y, wb.data() + 4 * j, 4);
                    if (x != e[j] || y != w[j]) return "step " + std::to_string(idx) + ": routing content differs";
                }
                ++li;
            }
            rt.reset();
            if (li != model.moe_layers.size())
                return "step " + std::to_string(idx) + ": torn step, token " + std::to_string(id) + " has " +
                       std::to_string(li) + " of " + std::to_string(model.moe_layers.size()) + " MoE layers";
        }
        tok.reset();
        if (seen != n) return "step " + std::to_string(idx) + ": torn step, " + std::to_string(seen) + " of " + std::to_string(n) + " tokens";
    }
    for (int64_t a : acknowledged)
        if (!present.count(a)) return "acknowledged step " + std::to_string(a) + " is missing";
    Stmt cnt = c.prepare("SELECT count(*) FROM token WHERE run_id=?");
    cnt.bind(1, run_id);
    cnt.step();
    if (cnt.int64(0) != step_tokens) return "tokens outside committed steps";
    return {};
}

}  // namespace moescope::test
