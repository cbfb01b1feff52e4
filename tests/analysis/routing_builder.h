#pragma once
// Builds RoutingArrays by hand for the analysis tests (planted structure with known answers).
#include <algorithm>
#include <string>
#include <vector>

#include "storage/routing_arrays.h"

namespace moescope::test {

class RoutingBuilder {
public:
    // moe_layers: HF layer indices of the MoE layers; n_layers = all decoder layers.
    RoutingBuilder(std::vector<int> moe_layers, int k_max, int n_experts, int n_layers = 0) {
        a_.moe_layers = moe_layers;
        a_.n_moe = static_cast<int>(moe_layers.size());
        a_.k_max = k_max;
        a_.n_experts = n_experts;
        a_.n_layers = n_layers > 0 ? n_layers : (moe_layers.empty() ? 0 : moe_layers.back() + 1);
    }
    int set(const std::string& name) {
        auto it = std::find(a_.set_names.begin(), a_.set_names.end(), name);
        if (it != a_.set_names.end()) return static_cast<int>(it - a_.set_names.begin());
        a_.set_names.push_back(name);
        return static_cast<int>(a_.set_names.size()) - 1;
    }
    // experts[m] = selected ids best first (fewer than k_max are padded with -1); weights likewise
    // (default: equal weights 1/n).
    RoutingBuilder& token(long run, long prompt, int position, int token_id, bool generated, const std::string& set_name,
                          const std::vector<std::vector<int>>& experts,
                          const std::vector<std::vector<float>>& weights = {}) {
        a_.run_id.push_back(run);
        a_.prompt_id.push_back(prompt);
        a_.position.push_back(position);
        a_.token_id.push_back(token_id);
        a_.generated.push_back(generated ? 1 : 0);
        a_.set_index.push_back(set_name.empty() ? -1 : set(set_name));
        for (int m = 0; m < a_.n_moe; ++m) {
            const auto& ex = experts.at(m);
            for (int j = 0; j < a_.k_max; ++j) {
                const bool have = j < static_cast<int>(ex.size());
                a_.experts.push_back(static_cast<int16_t>(have ? ex[j] : -1));
                float w = 0;
                if (have) w = weights.empty() ? 1.0f / ex.size() : weights.at(m).at(j);
                a_.weights.push_back(w);
            }
        }
        ++a_.n_tokens;
        return *this;
    }
    RoutingArrays& arrays() { return a_; }
    const RoutingArrays& arrays() const { return a_; }

private:
    RoutingArrays a_;
};

// Small deterministic generator for test data (no <random> distribution differences across libraries).
struct TestRng {
    unsigned long long x;
    unsigned long long next() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    }
    int below(int n) { return static_cast<int>(next() % static_cast<unsigned long long>(n)); }
    double uniform() { return static_cast<double>(next() >> 11) / 9007199254740992.0; }
};

}  // namespace moescope::test
