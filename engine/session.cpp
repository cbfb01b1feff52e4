// Generation session: KV cache, interventions timeline, fork.
#include "engine/session.h"

#include <cmath>

#include "engine/cpu/forward.h"
#include "engine/cpu/thread_pool.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/model/model.h"

namespace moescope {

Result<bool> validate_interventions(const Model& model, const Interventions& iv) {
    const ModelConfig& c = model.config();
    auto where = [](const char* kind, int l, int e) {
        return std::string(kind) + " " + std::to_string(l) + ":" + std::to_string(e) + ": ";
    };
    for (const auto& d : iv.disable)
        if (auto r = model.check_expert(d.layer, d.expert); !r.ok()) return Error(where("disable", d.layer, d.expert) + r.message());
    for (const auto& f : iv.force)
        if (auto r = model.check_expert(f.layer, f.expert); !r.ok()) return Error(where("force", f.layer, f.expert) + r.message());
    for (const auto& z : iv.zero_output)
        if (auto r = model.check_expert(z.layer, z.expert); !r.ok()) return Error(where("zero", z.layer, z.expert) + r.message());
    for (const auto& b : iv.bias) {
        if (auto r = model.check_expert(b.layer, b.expert); !r.ok()) return Error(where("bias", b.layer, b.expert) + r.message());
        if (!std::isfinite(b.bias)) return Error(where("bias", b.layer, b.expert) + "bias must be finite");
    }
    if (iv.top_k && (*iv.top_k < 1 || *iv.top_k > c.n_experts))
        return Error("top-k " + std::to_string(*iv.top_k) + " is out of range [1, " + std::to_string(c.n_experts) + "]");
    for (const auto& t : iv.top_k_per_layer) {
        if (auto r = model.check_expert(t.layer, 0); !r.ok()) return Error("top-k for layer " + std::to_string(t.layer) + ": " + r.message());
        if (t.k < 1 || t.k > c.n_experts)
            return Error("top-k " + std::to_string(t.k) + " for layer " + std::to_string(t.layer) + " is out of range [1, " +
                         std::to_string(c.n_experts) + "]");
    }
    if (iv.top_p && !(*iv.top_p > 0.0f && *iv.top_p <= 1.0f)) return Error("top-p routing threshold must be in (0, 1]");
    if (iv.top_p_max_k < 0 || iv.top_p_max_k > c.n_experts)
        return Error("top-p max k must be in [0, " + std::to_string(c.n_experts) + "]");
    if (iv.rank_only) {
        const int r = *iv.rank_only;
        if (r < 1 || r > c.n_experts)
            return Error("rank-only routing: rank " + std::to_string(r) + " is out of range [1, " +
                         std::to_string(c.n_experts) + "]");
        for (int l : iv.rank_only_layers)
            if (auto e = model.check_expert(l, 0); !e.ok())
                return Error("rank-only routing, layer " + std::to_string(l) + ": " + e.message());
        if (!iv.force.empty() || iv.top_p || iv.top_k || !iv.top_k_per_layer.empty())
            return Error("rank-only routing cannot be combined with force, top-k or top-p routing");
    }
    // Forcing more experts than a layer selects cannot be honoured.
    for (int l : c.moe_layers) {
        int k = iv.top_k ? *iv.top_k : c.top_k;
        for (const auto& t : iv.top_k_per_layer)
            if (t.layer == l) k = t.k;
        if (iv.top_p) k = iv.top_p_max_k > 0 ? iv.top_p_max_k : k;
        int forced = 0, disabled_forced = 0;
        for (size_t i = 0; i < iv.force.size(); ++i) {
            if (iv.force[i].layer != l) continue;
            bool dup = false;
            for (size_t j = 0; j < i; ++j) dup |= iv.force[j] == iv.force[i];
            if (dup) continue;
            ++forced;
            for (const auto& d : iv.disable) disabled_forced += (d == iv.force[i]);
        }
        if (forced > k)
            return Error("layer " + std::to_string(l) + ": " + std::to_string(forced) + " forced experts but only " +
                         std::to_string(k) + " are selected per token (k)");
        if (disabled_forced > 0) return Error("layer " + std::to_string(l) + ": an expert is both forced and disabled");
    }
    return true;
}

Session::Session(const Model& model, SessionOptions options)
    : Session(model, std::make_shared<cpu::ThreadPool>(options.n_threads)) {
    if (options.kv_dtype != DType::F32 && options.kv_dtype != DType::BF16)
        throw Error("KV cache dtype must be f32 or bf16");
    cache_->dtype = options.kv_dtype;
}

Session::Session(const Model& model, SessionOptions options, const SessionDevice& device)
    : Session(model, std::make_shared<cpu::ThreadPool>(device.cuda ? 1 : options.n_threads)) {
    if (options.kv_dtype != DType::F32 && options.kv_dtype != DType::BF16)
        throw Error("KV cache dtype must be f32 or bf16");
    if (device.cuda && options.kv_dtype != DType::F32) throw Error("a BF16 KV cache is a CPU backend option");
    cache_->dtype = options.kv_dtype;
    if (device.cuda) {
        cuda_model_ = device.cuda;
        auto seq = gpu::CudaSequence::create(cuda_model_, device.max_context);
        if (!seq) throw seq.error();
        cuda_seq_ = std::move(seq.value());
    }
}

void Session::run_forward(std::span<const int32_t> tokens, int step, std::vector<float>* all_logits,
                          std::vector<float>& out) {
    if (cuda_seq_) {
        std::vector<float> last;
        cuda_seq_->forward(tokens, interventions_, observer_, step, all_logits, all_logits ? last : out);
        return;
    }
    forward_->run(*cache_, tokens, interventions_, observer_, step, all_logits != nullptr, out);
}

Session::Session(const Model& model, std::shared_ptr<cpu::ThreadPool> pool)
    : model_(model), pool_(std::move(pool)) {
    forward_ = std::make_unique<cpu::CpuForward>(model_, pool_.get());
    cache_ = std::make_unique<cpu::KVCache>();
    cache_->init(model_.config());
    timeline_.push_back({-1, {}});
}

Session::~Session() = default;

Result<bool> Session::set_interventions(const Interventions& iv) {
    auto ok = validate_interventions(model_, iv);
    if (!ok.ok()) return ok;
    if (cuda_model_ && iv.rank_only) return Error("rank-only routing is implemented on the CPU backend only");
    interventions_ = iv;
    const int at = prefilled_ ? next_step_ : -1;
    if (!timeline_.empty() && timeline_.back().step == at) timeline_.back().interventions = iv;
    else timeline_.push_back({at, iv});
    return true;
}

std::span<const float> Session::prefill(std::span<const int32_t> tokens, std::vector<float>* all_logits) {
    if (tokens.empty()) throw Error("prefill: empty prompt");
    std::vector<float>& out = all_logits ? *all_logits : logits_;
    run_forward(tokens, -1, all_logits, out);
    tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
    prefilled_ = true;
    if (all_logits) {
        const size_t V = static_cast<size_t>(model_.config().vocab_size);
        logits_.assign(all_logits->end() - static_cast<std::ptrdiff_t>(V), all_logits->end());
    }
    return logits_;
}

std::span<const float> Session::step(int32_t token) {
    if (!prefilled_) throw Error("step: call prefill with the prompt first");
    const int32_t one[1] = {token};
    run_forward(std::span<const int32_t>(one, 1), next_step_, nullptr, logits_);
    tokens_.push_back(token);
    ++next_step_;
    return logits_;
}

std::unique_ptr<Session> Session::fork() const {
    std::unique_ptr<Session> s(new Session(model_, pool_));
    if (cuda_seq_) {
        s->cuda_model_ = cuda_model_;
        s->cuda_seq_ = cuda_seq_->fork();
    } else {
        *s->cache_ = *cache_;
    }
    s->observer_ = observer_;
    s->interventions_ = interventions_;
    s->timeline_ = timeline_;
    s->tokens_ = tokens_;
    s->logits_ = logits_;
    s->next_step_ = next_step_;
    s->prefilled_ = prefilled_;
    return s;
}

}  // namespace moescope
