// moescope-cli eval MODEL --tokens 1,17,42 [--disable L:E]... [--force L:E]... [--top-k K] [--greedy N]
//                        [--all-logits]
// One JSON object with the field names of a golden RESULT (../shared/testdata/golden/README.md):
// logits_last, logits_all (--all-logits), routing (per MoE layer: layer, router_logits, experts,
// weights of the prompt forward), greedy.new_tokens (N greedy tokens with the KV cache, EOS ignored).
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "app/cli/device_flags.h"
#include "app/cli/model_flags.h"
#include "engine/presets.h"
#include "engine/routing_capture.h"
#include "engine/sampling.h"
#include "engine/session.h"

namespace moescope::cli {


int cmd_eval(const CommandArgs& argv) {
    Args args;
    args.positional("MODEL", "model folder (Hugging Face layout) or 'demo'")
        .option("tokens", "comma-separated prompt token ids, e.g. 1,17,42")
        .option("greedy", "generate N tokens greedily with the KV cache (EOS ignored)")
        .flag("all-logits", "also print logits of every prompt position (logits_all)")
        .option("threads", "worker threads (default: all cores)");
    declare_intervention_flags(args);
    declare_device_flags(args);
    args.parse(argv);
    if (args.help_requested()) {
        std::cout << args.usage("eval");
        return 0;
    }
    if (!args.has("tokens")) throw UsageError("--tokens is required");
    const auto tokens = parse_token_list(args.get("tokens"), "--tokens");
    const long long n_greedy = args.get_int("greedy", 0);
    if (n_greedy < 0 || n_greedy > 1000000) throw UsageError("--greedy must be in [0, 1000000]");
    const long long threads = args.get_int("threads", 0);
    if (threads < 0 || threads > 4096) throw UsageError("--threads must be in [0, 4096]");

    auto model = load_model_or_throw(*args.pos("MODEL"));
    const ModelConfig& c = model->config();
    for (int32_t t : tokens)
        if (t >= c.vocab_size)
            throw UsageError("--tokens: token id " + std::to_string(t) + " is outside the vocabulary (0.." +
                             std::to_string(c.vocab_size - 1) + ")");
    const Interventions iv = parse_intervention_flags(args, *model);

    Session session(*model, SessionOptions{static_cast<int>(threads)},
                    parse_device_flags(args, *model, static_cast<int64_t>(tokens.size()) + n_greedy + 1));
    if (auto ok = session.set_interventions(iv); !ok.ok()) throw UsageError(ok.message());
    RoutingCapture capture(CaptureLevel::Logits);
    session.set_observer(&capture);
    std::vector<float> all;
    const bool want_all = args.has("all-logits");
    auto last = session.prefill(tokens, want_all ? &all : nullptr);
    session.set_observer(nullptr);

    nlohmann::json out;
    out["model_type"] = c.model_type;
    out["input_ids"] = tokens;
    out["moe_layers"] = c.moe_layers;
    out["interventions"] = nlohmann::json::parse(interventions_to_json(iv));
    out["logits_last"] = std::vector<float>(last.begin(), last.end());
    if (want_all) {
        nlohmann::json rows = nlohmann::json::array();
        const size_t V = static_cast<size_t>(c.vocab_size);
        for (size_t t = 0; t < tokens.size(); ++t)
            rows.push_back(std::vector<float>(all.begin() + t * V, all.begin() + (t + 1) * V));
        out["logits_all"] = std::move(rows);
    }
    nlohmann::json routing = nlohmann::json::array();
    for (const auto& [layer, L] : capture.layers())
        routing.push_back({{"layer", layer}, {"router_logits", L.router_logits}, {"experts", L.experts}, {"weights", L.weights}});
    out["routing"] = std::move(routing);
    if (n_greedy > 0) {
        std::vector<int32_t> gen;
        std::span<const float> logits = last;
        for (long long i = 0; i < n_greedy; ++i) {
            const int32_t id = Sampler::argmax(logits);
            gen.push_back(id);
            if (i + 1 < n_greedy) logits = session.step(id);
        }
        out["greedy"] = {{"new_tokens", gen}};
    }
    std::cout << out.dump() << "\n";
    return 0;
}

}  // namespace moescope::cli
