// SCMoE self-contrast decoding over two sessions (methods.md §2; reference DavidFanzz/SCMoE moe_utils.py).
#include "engine/scmoe.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "engine/model/model.h"

namespace moescope {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// log softmax [V] in double for the normaliser.
std::vector<float> log_softmax(std::span<const float> z) {
    float mx = kNegInf;
    for (float v : z) mx = std::max(mx, v);
    double sum = 0.0;
    for (float v : z) sum += std::exp(static_cast<double>(v) - mx);
    const double lse = static_cast<double>(mx) + std::log(sum);
    std::vector<float> out(z.size());
    for (size_t i = 0; i < z.size(); ++i) out[i] = static_cast<float>(static_cast<double>(z[i]) - lse);
    return out;
}

std::vector<TokenProb> finite_top(std::span<const float> logp, int n) {
    std::vector<TokenProb> top = Sampler::top_n(logp, n);
    while (!top.empty() && !std::isfinite(top.back().logprob)) top.pop_back();
    return top;
}

}  // namespace

Result<WeakRouting> parse_weak_routing(const std::string& spec) {
    WeakRouting w;
    std::string num;
    if (spec.rfind("rank", 0) == 0) {
        w.kind = WeakRouting::Kind::Rank;
        num = spec.substr(4);
    } else if (spec.rfind("top", 0) == 0) {
        w.kind = WeakRouting::Kind::TopK;
        num = spec.substr(3);
    } else {
        return Error("unknown weak routing '" + spec + "' (expected rankR or topK, e.g. rank2, top1)");
    }
    if (num.empty() || num.size() > 4 || num.find_first_not_of("0123456789") != std::string::npos)
        return Error("weak routing '" + spec + "': expected a positive number after '" +
                     spec.substr(0, spec.size() - num.size()) + "'");
    w.n = std::stoi(num);
    if (w.n < 1) return Error("weak routing '" + spec + "': rank/k must be >= 1");
    return w;
}

Result<ScmoeOptions> parse_scmoe_spec(const std::string& spec, const ScmoeOptions& base) {
    ScmoeOptions o = base;
    std::vector<int> layers;
    bool have_layers = false;
    auto number = [](const std::string& key, const std::string& v) -> Result<double> {
        try {
            size_t used = 0;
            const double d = std::stod(v, &used);
            if (used != v.size()) throw std::invalid_argument(v);
            return d;
        } catch (const std::exception&) {
            return Error("SCMoE '" + key + "': '" + v + "' is not a number");
        }
    };
    size_t pos = 0;
    while (pos <= spec.size() && !spec.empty()) {
        const size_t end = std::min(spec.find(',', pos), spec.size());
        const std::string item = spec.substr(pos, end - pos);
        pos = end + 1;
        const size_t eq = item.find('=');
        if (eq == std::string::npos) return Error("SCMoE: expected key=value, got '" + item + "'");
        const std::string key = item.substr(0, eq), val = item.substr(eq + 1);
        if (key == "beta" || key == "alpha") {
            auto d = number(key, val);
            if (!d.ok()) return d.error();
            (key == "beta" ? o.beta : o.alpha) = static_cast<float>(d.value());
        } else if (key == "weak") {
            auto w = parse_weak_routing(val);
            if (!w.ok()) return w.error();
            o.weak.kind = w.value().kind;
            o.weak.n = w.value().n;
        } else if (key == "layers") {
            have_layers = true;
            size_t p2 = 0;
            while (p2 <= val.size()) {
                const size_t e2 = std::min(val.find(':', p2), val.size());
                const std::string t = val.substr(p2, e2 - p2);
                if (t.empty() || t.size() > 6 || t.find_first_not_of("0123456789") != std::string::npos)
                    return Error("SCMoE 'layers': '" + t + "' is not a layer index (use e.g. layers=1:2:3)");
                layers.push_back(std::stoi(t));
                p2 = e2 + 1;
            }
        } else {
            return Error("SCMoE: unknown key '" + key + "' (known: beta, alpha, weak, layers)");
        }
    }
    if (have_layers) o.weak.layers = layers;
    if (auto ok = validate_scmoe_params(o.beta, o.alpha); !ok.ok()) return ok.error();
    return o;
}

Interventions scmoe_weak_interventions(const Interventions& strong, const WeakRouting& weak) {
    Interventions iv;
    iv.disable = strong.disable;
    iv.bias = strong.bias;
    if (weak.kind == WeakRouting::Kind::Rank) {
        iv.rank_only = weak.n;
        iv.rank_only_layers = weak.layers;
    } else if (weak.layers.empty()) {
        iv.top_k = weak.n;
    } else {
        for (int l : weak.layers) iv.top_k_per_layer.push_back({l, weak.n});
    }
    return iv;
}

Result<bool> validate_scmoe_params(float beta, float alpha) {
    if (!(beta >= 0.0f) || !std::isfinite(beta)) return Error("SCMoE beta must be a finite number >= 0");
    if (!(alpha >= 0.0f && alpha <= 1.0f)) return Error("SCMoE alpha must be in [0, 1]");
    return true;
}

std::vector<float> scmoe_scores(std::span<const float> logp_strong, std::span<const float> logp_weak, float beta,
                                float alpha) {
    if (auto ok = validate_scmoe_params(beta, alpha); !ok.ok()) throw ok.error();
    if (logp_strong.size() != logp_weak.size() || logp_strong.empty())
        throw Error("scmoe_scores: strong and weak distributions differ in size (" +
                    std::to_string(logp_strong.size()) + " vs " + std::to_string(logp_weak.size()) + ")");
    float mx = kNegInf;
    for (float v : logp_strong) mx = std::max(mx, v);
    // V_valid = { i : z_strong(i) >= log(α) + max_j z_strong(j) }  (α = 0: every token)
    const float cut = alpha > 0.0f ? std::log(alpha) + mx : kNegInf;
    std::vector<float> out(logp_strong.size(), kNegInf);
    for (size_t i = 0; i < logp_strong.size(); ++i) {
        if (!(logp_strong[i] >= cut)) continue;
        // β = 0 gives exactly z_strong (no 0·(−inf) NaN from an impossible weak token).
        out[i] = beta == 0.0f ? logp_strong[i] : (1.0f + beta) * logp_strong[i] - beta * logp_weak[i];
    }
    return out;
}

ScmoeDecoder::ScmoeDecoder(const Model& model, const Interventions& strong, const ScmoeOptions& options,
                           SessionOptions session_options)
    : opt_(options) {
    if (auto ok = validate_scmoe_params(opt_.beta, opt_.alpha); !ok.ok()) throw ok.error();
    if (auto ok = opt_.sampling.validate(); !ok.ok()) throw ok.error();
    const Interventions weak = scmoe_weak_interventions(strong, opt_.weak);
    strong_ = std::make_unique<Session>(model, session_options);
    weak_ = std::make_unique<Session>(model, session_options);
    if (auto ok = strong_->set_interventions(strong); !ok.ok()) throw Error("SCMoE strong pass: " + ok.message());
    if (auto ok = weak_->set_interventions(weak); !ok.ok()) throw Error("SCMoE weak pass: " + ok.message());
}

ScmoeDecoder::~ScmoeDecoder() = default;

GenerateResult ScmoeDecoder::run(std::span<const int32_t> prompt, const std::function<bool(const ScmoeToken&)>& on_token) {
    GenerateResult result;
    std::vector<int32_t> eos = opt_.eos_ids;
    if (eos.empty())
        for (int e : strong_->model().config().eos_token_ids) eos.push_back(e);
    Sampler sampler(opt_.sampling);
    // Two forward passes per step on separate KV caches (reference: model_kwargs / model_kwargs_student).
    auto ps = strong_->prefill(prompt);
    std::vector<float> zs(ps.begin(), ps.end());
    auto pw = weak_->prefill(prompt);
    std::vector<float> zw(pw.begin(), pw.end());
    std::vector<int32_t> history(prompt.begin(), prompt.end());
    result.stop_reason = "max_new_tokens";
    for (int i = 0; i < opt_.max_new_tokens; ++i) {
        if (strong_->cancel_requested() || weak_->cancel_requested()) {
            result.stop_reason = "cancelled";
            break;
        }
        const std::vector<float> ls = log_softmax(zs), lw = log_softmax(zw);
        const std::vector<float> sc = scmoe_scores(ls, lw, opt_.beta, opt_.alpha);
        const int32_t id = sampler.sample(sc, history);
        ScmoeToken t;
        t.index = i;
        t.id = id;
        if (opt_.detokenize) t.piece = opt_.detokenize(id);
        t.strong_logprob = ls[id];
        t.weak_logprob = lw[id];
        const std::vector<float> lc = log_softmax(sc);
        t.contrast_logprob = lc[id];
        if (opt_.top_alternatives > 0) {
            t.strong_top = finite_top(ls, opt_.top_alternatives);
            t.weak_top = finite_top(lw, opt_.top_alternatives);
            t.contrast_top = finite_top(lc, opt_.top_alternatives);
        }
        t.differs_from_strong = id != Sampler::argmax(ls);
        result.tokens.push_back(id);
        history.push_back(id);
        if (on_token && !on_token(t)) {
            result.stop_reason = "callback";
            break;
        }
        bool is_eos = false;
        for (int32_t e : eos) is_eos |= (e == id);
        if (opt_.stop_on_eos && is_eos) {
            result.stop_reason = "eos";
            break;
        }
        if (i + 1 == opt_.max_new_tokens) break;
        auto s = strong_->step(id);
        zs.assign(s.begin(), s.end());
        auto w = weak_->step(id);
        zw.assign(w.begin(), w.end());
    }
    return result;
}

}  // namespace moescope
