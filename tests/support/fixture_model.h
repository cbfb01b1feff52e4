#pragma once
// Tiny random (seeded) MoE models in the exact Hugging Face on-disk layout, for every supported
// architecture and feature, written from the HF tensor naming of ../shared/docs/architectures.md §2
// (independently of the engine's loader). Tests PLANT structure by editing chosen tensors before the
// files are written (FixtureSpec::edits, or the plant_* helpers below).
//
//   moescope::test::FixtureSpec spec = moescope::test::FixtureSpec::forArch("qwen2_moe");
//   moescope::test::plantTokenRouting(spec, /*layer*/1, /*expert*/3, {50, 51, ..., 59});
//   std::string dir = moescope::test::writeFixture(tmpdir.path().toStdString(), spec);
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/dtype.h"

namespace moescope::test {

struct FixtureTensor {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;  // float32 values, stored as FixtureSpec::dtype
};

struct FixtureSpec {
    std::string arch = "mixtral";  // model_type: mixtral, qwen2_moe, qwen3_moe, olmoe, deepseek_v2, deepseek_v3
    uint64_t seed = 1;
    DType dtype = DType::BF16;

    int vocab = 64, hidden = 32, layers = 3, heads = 4, kv_heads = 2;
    int head_dim = 0;          // 0 = hidden / heads (qwen3 writes head_dim into config when set)
    int intermediate = 40;     // dense MLP width (mixtral/olmoe: the expert width)
    int moe_intermediate = 24; // expert width (qwen, deepseek)
    int experts = 8, top_k = 2;
    std::optional<bool> norm_topk_prob;  // written when set
    bool tie_embeddings = false;
    bool fused_experts = false;          // experts.gate_up_proj [E, 2I, H] + experts.down_proj [E, H, I]
    int shards = 1;                      // > 1: model-0000X-of-0000N.safetensors + index json
    int sliding_window = 0;              // mixtral
    // qwen2_moe / qwen3_moe
    int shared_intermediate = 32;        // qwen2_moe shared expert width (0 = none)
    std::vector<int> mlp_only_layers;
    int decoder_sparse_step = 1;
    // olmoe
    float clip_qkv = 0.0f;
    // deepseek
    int q_lora_rank = 0;                 // 0 = q_lora_rank null (plain q_proj)
    int kv_lora_rank = 16, qk_nope = 8, qk_rope = 8, v_head = 8;
    int first_k_dense = 1, n_shared = 1;
    int n_group = 1, topk_group = 1;
    std::string topk_method;             // "" = family default
    double routed_scaling = 1.0;
    std::optional<bool> rope_interleave; // absent from config unless set
    bool yarn = false;                   // rope_scaling yarn (deepseek)

    float weight_scale = 0.15f;          // uniform(-s, s) for matrices
    float router_scale = 0.6f;           // router weights: larger, so routing margins are clear
    nlohmann::json config_overrides = nlohmann::json::object();  // merged into config.json last
    std::optional<std::string> generation_config;                 // written verbatim when set

    // Hooks run on the generated tensors before writing, in insertion order: plant structure, drop or
    // add tensors, change shapes (for bad-input tests).
    std::vector<std::function<void(std::vector<FixtureTensor>&)>> edits;

    // A ready spec for an architecture with its characteristic features switched on.
    static FixtureSpec forArch(const std::string& arch);
};

// The config.json the fixture writes.
nlohmann::json fixtureConfig(const FixtureSpec& spec);
// The tensors (names, shapes, seeded values, edits applied).
std::vector<FixtureTensor> fixtureTensors(const FixtureSpec& spec);
// Writes config.json (+ generation_config.json) and the safetensors into dir/<arch-name> or `dir`
// itself when subdir is empty. Returns the model folder. Throws moescope::Error.
std::string writeFixture(const std::string& dir, const FixtureSpec& spec, const std::string& subdir = "model");

// Finds a tensor by name in an edit hook (nullptr when absent).
FixtureTensor* findTensor(std::vector<FixtureTensor>& ts, const std::string& name);
// The router tensor name of `layer` for the spec's family (e.g. model.layers.1.block_sparse_moe.gate.weight).
std::string routerName(const FixtureSpec& spec, int layer);
// The down_proj tensor name of (layer, expert) (per-expert layout).
std::string downProjName(const FixtureSpec& spec, int layer, int expert);

// Plants a router that sends `token_ids` to `expert` of `layer`: the embeddings of those ids get a large
// value on a dedicated hidden channel (`channel`, zero for every other token) and the router row of
// `expert` a large weight on that channel, so the expert is their top choice.
void plantTokenRouting(FixtureSpec& spec, int layer, int expert, const std::vector<int>& token_ids, int channel = 0);
// Sets row `hidden_channel` of (layer, expert)'s down_proj to `value` (a "super expert": one huge
// output channel whenever it is selected).
void plantHugeDownProj(FixtureSpec& spec, int layer, int expert, int hidden_channel, float value);
// Zeroes the router of `layer` (all router logits exactly 0: uniform scores, a hand-computable case).
void plantZeroRouter(FixtureSpec& spec, int layer);

}  // namespace moescope::test
