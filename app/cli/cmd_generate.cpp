// moescope-cli generate MODEL (--prompt TEXT | --tokens IDS) [--chat] [--max-new N]
//                         [--greedy | --temperature T --top-k K --top-p P --min-p M --repeat-penalty R --seed S]
//                         [--disable L:E]... [--force L:E]... [--bias L:E:B]... [--top-k-experts K] [--json]
// Streams the generated text to stdout; with --json prints one object {text, tokens, prompt_tokens,
// stop_reason, interventions, steps: [{index, id, piece, logprob, top, routing}]} instead.
// Without --greedy or sampling flags, generation_config.json decides (do_sample and its parameters),
// else greedy. Ctrl-C stops after the current token.
#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/cli/commands.h"
#include "app/cli/device_flags.h"
#include "app/cli/model_flags.h"
#include "app/cli/record_support.h"
#include "engine/generate.h"
#include "engine/presets.h"
#include "engine/scmoe.h"
#include "engine/session.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"

namespace moescope::cli {

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

// One user turn, rendered with the tokenizer's chat_template (transformers' apply_chat_template,
// add_generation_prompt=true). Tokenizers without a template (e.g. base Mixtral) get the family's
// official single-turn layout, with a notice on stderr.
std::string chat_text(const Tokenizer& tok, const std::string& model_type, const std::string& user) {
    if (!tok.chat_template().empty()) {
        auto r = render_chat(tok, {{"user", user}}, true);
        if (!r.ok()) throw r.error();
        return r.value();
    }
    std::cerr << "note: the tokenizer has no chat_template; using the " << model_type << " chat layout\n";
    const std::string& t = tok.chat_template();
    if (t.find("<|im_start|>") != std::string::npos || model_type == "qwen2_moe" || model_type == "qwen3_moe")
        return "<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n";
    if (t.find("<｜User｜>") != std::string::npos || model_type == "deepseek_v3")
        return tok.bos_token() + "<｜User｜>" + user + "<｜Assistant｜>";
    if (t.find("[INST]") != std::string::npos || model_type == "mixtral")
        return tok.bos_token() + "[INST] " + user + " [/INST]";
    if (t.find("<|user|>") != std::string::npos || model_type == "olmoe")
        return tok.eos_token() + "<|user|>\n" + user + "\n<|assistant|>\n";
    if (model_type == "deepseek_v2") return tok.bos_token() + "User: " + user + "\n\nAssistant:";
    throw Error("--chat: no chat format known for this tokenizer/model (" + model_type + ")");
}

nlohmann::json routing_json(const std::vector<LayerRouting>& r) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& l : r) {
        nlohmann::json o = {{"layer", l.layer}, {"experts", l.experts}, {"weights", l.weights}};
        if (l.shared_gate >= 0.0f) o["shared_gate"] = l.shared_gate;
        a.push_back(std::move(o));
    }
    return a;
}

nlohmann::json top_json(const std::vector<TokenProb>& top) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& t : top) a.push_back({{"id", t.id}, {"logprob", t.logprob}});
    return a;
}

// --scmoe: self-contrast decoding over two CPU sessions (engine/scmoe.h). Streams text, or with --json
// prints {text, tokens, prompt_tokens, stop_reason, scmoe, steps: [{index, id, piece, differs_from_strong,
// strong: {logprob, top}, weak: {...}, contrast: {...}}]}.
int run_scmoe(const Model& model, const Interventions& iv, ScmoeOptions opt, const std::vector<int32_t>& ids,
              const Tokenizer* tok, int threads, bool as_json) {
    std::optional<IncrementalDecoder> dec;
    if (tok) dec.emplace(*tok);
    if (dec) opt.detokenize = [&](int32_t id) { return dec->push(id); };
    opt.top_alternatives = as_json ? 5 : 0;
    std::unique_ptr<ScmoeDecoder> d;
    try {
        d = std::make_unique<ScmoeDecoder>(model, iv, opt, SessionOptions{threads});
    } catch (const Error& e) {
        throw UsageError(e.what());  // bad weak routing for this model (rank > n_experts, dense layer, ...)
    }
    g_interrupted.store(false);
    auto old_handler = std::signal(SIGINT, on_sigint);
    std::string text;
    nlohmann::json steps = nlohmann::json::array();
    GenerateResult res = d->run(ids, [&](const ScmoeToken& t) {
        text += t.piece;
        if (as_json)
            steps.push_back({{"index", t.index}, {"id", t.id}, {"piece", t.piece},
                             {"differs_from_strong", t.differs_from_strong},
                             {"strong", {{"logprob", t.strong_logprob}, {"top", top_json(t.strong_top)}}},
                             {"weak", {{"logprob", t.weak_logprob}, {"top", top_json(t.weak_top)}}},
                             {"contrast", {{"logprob", t.contrast_logprob}, {"top", top_json(t.contrast_top)}}}});
        else
            std::cout << t.piece << std::flush;
        return !g_interrupted.load();
    });
    std::signal(SIGINT, old_handler);
    if (dec) {
        const std::string rest = dec->finish();
        text += rest;
        if (!as_json) std::cout << rest;
    }
    if (!as_json) {
        std::cout << "\n";
        return 0;
    }
    const WeakRouting& w = d->options().weak;
    nlohmann::json out;
    out["text"] = text;
    out["tokens"] = res.tokens;
    out["prompt_tokens"] = ids;
    out["stop_reason"] = g_interrupted.load() ? "interrupted" : res.stop_reason;
    out["scmoe"] = {{"beta", opt.beta},
                    {"alpha", opt.alpha},
                    {"weak", (w.kind == WeakRouting::Kind::Rank ? "rank" : "top") + std::to_string(w.n)},
                    {"layers", w.layers},
                    {"greedy", opt.sampling.greedy}};
    out["steps"] = std::move(steps);
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
}

}  // namespace

int cmd_generate(const CommandArgs& argv) {
    Args args;
    args.positional("MODEL", "model folder (Hugging Face layout) or 'demo'")
        .option("prompt", "prompt text (needs the model's tokenizer.json)")
        .option("tokens", "prompt as comma-separated token ids instead of text")
        .flag("chat", "wrap the prompt as one user turn of the model's chat format")
        .option("max-new", "maximum new tokens (default 64)")
        .flag("greedy", "greedy decoding (argmax)")
        .option("temperature", "sampling temperature (> 0)")
        .option("top-k", "sample from the K most likely tokens (0 = off)")
        .option("top-p", "nucleus sampling threshold in (0, 1]")
        .option("min-p", "drop tokens below min-p x the top probability")
        .option("repeat-penalty", "repetition penalty (1 = off)")
        .option("seed", "random seed (default 0)")
        .flag("ignore-eos", "do not stop at EOS")
        .flag("json", "print one JSON object (text, tokens, per-step routing) instead of streaming text")
        .option("threads", "worker threads (default: all cores)")
        .option("kv-dtype", "CPU KV cache storage: f32 (default) or bf16 (half the memory; keys/values rounded)")
        .option("scmoe", "self-contrast decoding: beta=B,alpha=A,weak=rankR|topK[,layers=L1:L2] (CPU)");
    // Interventions use the shared flags; the expert top-k is --top-k-experts here because --top-k is
    // the sampling option.
    args.option("preset", "intervention preset JSON file (flags below add to it)")
        .option("disable", "disable expert L:E (router logit -> -inf); repeatable", true)
        .option("force", "force expert L:E into the selection; repeatable", true)
        .option("zero", "zero the output of expert L:E (still selected, keeps its weight); repeatable", true)
        .option("bias", "add B to the router logit of expert L:E:B; repeatable", true)
        .option("top-k-experts", "experts per token in every MoE layer (default: the model's)")
        .option("route-top-p", "dynamic-k routing: smallest expert set with probability mass >= P")
        .option("route-top-p-max-k", "upper bound on experts with --route-top-p");
    declare_device_flags(args);
    args.option("record", "record the generation's routing into this activation database")
        .option("capture", "with --record: routing (default) | logits | activations");
    args.parse(argv);
    if (args.help_requested()) {
        std::cout << args.usage("generate");
        return 0;
    }
    if (args.has("prompt") == args.has("tokens")) throw UsageError("give exactly one of --prompt or --tokens");
    if (args.has("chat") && !args.has("prompt")) throw UsageError("--chat needs --prompt");
    const long long max_new = args.get_int("max-new", 64);
    if (max_new < 0 || max_new > 1000000) throw UsageError("--max-new must be in [0, 1000000]");
    const long long threads = args.get_int("threads", 0);
    if (threads < 0 || threads > 4096) throw UsageError("--threads must be in [0, 4096]");
    std::optional<std::vector<int32_t>> ids;
    if (args.has("tokens")) ids = parse_token_list(args.get("tokens"), "--tokens");

    auto model = load_model_or_throw(*args.pos("MODEL"));
    const ModelConfig& c = model->config();
    // Same intervention parsing as eval, reading --top-k-experts for the expert count.
    Interventions iv;
    {
        Args ivargs;
        declare_intervention_flags(ivargs);
        std::vector<std::string> sub;
        for (const char* f : {"disable", "force", "zero", "bias"})
            for (const auto& v : args.all(f)) sub.insert(sub.end(), {std::string("--") + f, v});
        if (args.has("preset")) sub.insert(sub.end(), {"--preset", args.get("preset")});
        if (args.has("top-k-experts")) sub.insert(sub.end(), {"--top-k", args.get("top-k-experts")});
        if (args.has("route-top-p")) sub.insert(sub.end(), {"--route-top-p", args.get("route-top-p")});
        if (args.has("route-top-p-max-k")) sub.insert(sub.end(), {"--route-top-p-max-k", args.get("route-top-p-max-k")});
        ivargs.parse(sub);
        iv = parse_intervention_flags(ivargs, *model);
    }

    // Sampling: explicit flags, else generation_config.json, else greedy.
    SamplingParams sp;
    const bool any_sampling = args.has("temperature") || args.has("top-k") || args.has("top-p") || args.has("min-p") ||
                              args.has("repeat-penalty") || args.has("seed");
    if (args.has("greedy") && any_sampling) throw UsageError("--greedy cannot be combined with sampling flags");
    const GenerationDefaults& g = c.generation;
    sp.greedy = args.has("greedy") || (!any_sampling && !(g.present && g.do_sample));
    if (!sp.greedy) {
        const bool from_cfg = g.present && g.do_sample;
        sp.temperature = static_cast<float>(args.get_double("temperature", from_cfg ? g.temperature : 1.0));
        sp.top_k = static_cast<int>(args.get_int("top-k", from_cfg ? g.top_k : 0));
        sp.top_p = static_cast<float>(args.get_double("top-p", from_cfg ? g.top_p : 1.0));
        sp.min_p = static_cast<float>(args.get_double("min-p", from_cfg ? g.min_p : 0.0));
        sp.repeat_penalty = static_cast<float>(args.get_double("repeat-penalty", from_cfg ? g.repetition_penalty : 1.0));
        const long long seed = args.get_int("seed", 0);
        if (seed < 0) throw UsageError("--seed must be >= 0");
        sp.seed = static_cast<uint64_t>(seed);
    }
    if (auto ok = sp.validate(); !ok.ok()) throw UsageError(ok.message());

    // Tokenizer: required for text prompts, optional (for text output) with --tokens.
    std::optional<Tokenizer> tok;
    const bool has_tok = std::filesystem::exists(std::filesystem::path(model->dir()) / "tokenizer.json");
    if (has_tok || args.has("prompt")) {
        auto t = Tokenizer::from_model_dir(model->dir());
        if (!t.ok()) throw t.error();
        tok = t.value();
    }
    if (!ids) {
        const std::string text = args.has("chat") ? chat_text(*tok, c.model_type, args.get("prompt")) : args.get("prompt");
        ids = tok->encode(text, !args.has("chat"));
        if (ids->empty()) throw UsageError("--prompt encodes to no tokens");
    }
    for (int32_t t : *ids)
        if (t >= c.vocab_size)
            throw UsageError("token id " + std::to_string(t) + " is outside the model's vocabulary (0.." +
                             std::to_string(c.vocab_size - 1) + ")");

    if (args.has("scmoe")) {
        if (args.has("record")) throw UsageError("--scmoe cannot be combined with --record");
        if (args.get_or("device", "cpu") != "cpu") throw UsageError("--scmoe runs on the CPU only (--device cpu)");
        ScmoeOptions so;
        so.sampling = sp;
        so.max_new_tokens = static_cast<int>(max_new);
        so.stop_on_eos = !args.has("ignore-eos");
        auto parsed = parse_scmoe_spec(args.get("scmoe"), so);
        if (!parsed.ok()) throw UsageError("--scmoe: " + parsed.message());
        return run_scmoe(*model, iv, parsed.value(), *ids, tok ? &*tok : nullptr, static_cast<int>(threads),
                         args.has("json"));
    }

    SessionOptions sess_opt{static_cast<int>(threads)};
    const std::string kv = args.get_or("kv-dtype", "f32");
    if (kv != "f32" && kv != "bf16") throw UsageError("--kv-dtype must be f32 or bf16");
    if (kv == "bf16" && args.get_or("device", "cpu") != "cpu") throw UsageError("--kv-dtype bf16 is a CPU option");
    sess_opt.kv_dtype = kv == "bf16" ? DType::BF16 : DType::F32;
    Session session(*model, sess_opt,
                    parse_device_flags(args, *model, static_cast<int64_t>(ids->size()) + max_new + 1));
    if (auto ok = session.set_interventions(iv); !ok.ok()) throw UsageError(ok.message());
    std::unique_ptr<GenerationRecording> recording;
    if (args.has("record"))
        recording = std::make_unique<GenerationRecording>(args.get("record"), args.get_or("capture", "routing"), *model, iv,
                                                          sp, static_cast<int>(max_new), *ids,
                                                          args.get_or("prompt", ""), tok ? &*tok : nullptr);
    else if (args.has("capture"))
        throw UsageError("--capture needs --record DB");
    session.set_observer(recording ? recording->observer() : nullptr);

    std::optional<IncrementalDecoder> dec;
    if (tok) dec.emplace(*tok);
    GenerateOptions opt;
    opt.sampling = sp;
    opt.max_new_tokens = static_cast<int>(max_new);
    opt.stop_on_eos = !args.has("ignore-eos");
    opt.capture_routing = args.has("json");
    opt.top_alternatives = args.has("json") ? 5 : 0;
    if (dec) opt.detokenize = [&](int32_t id) { return dec->push(id); };

    const bool as_json = args.has("json");
    g_interrupted.store(false);
    auto old_handler = std::signal(SIGINT, on_sigint);
    std::string text;
    nlohmann::json steps = nlohmann::json::array();
    GenerateResult res = generate(session, *ids, opt, [&](const GeneratedToken& t) {
        text += t.piece;
        if (recording) recording->token_text(static_cast<int64_t>(ids->size()) + t.index, t.piece);
        if (as_json) {
            nlohmann::json top = nlohmann::json::array();
            for (const auto& a : t.top) top.push_back({{"id", a.id}, {"logprob", a.logprob}});
            steps.push_back({{"index", t.index}, {"id", t.id}, {"piece", t.piece}, {"logprob", t.logprob},
                             {"top", top}, {"routing", routing_json(t.routing)},
                             {"timeline_index", t.timeline_index}});
        } else {
            std::cout << t.piece << std::flush;
        }
        return !g_interrupted.load();
    });
    std::signal(SIGINT, old_handler);
    if (dec) {
        const std::string rest = dec->finish();
        text += rest;
        if (!as_json) std::cout << rest;
    }
    if (as_json) {
        nlohmann::json out;
        out["text"] = text;
        out["tokens"] = res.tokens;
        out["prompt_tokens"] = *ids;
        out["stop_reason"] = g_interrupted.load() ? "interrupted" : res.stop_reason;
        out["interventions"] = nlohmann::json::parse(interventions_to_json(iv));
        out["sampling"] = {{"greedy", sp.greedy}, {"temperature", sp.temperature}, {"top_k", sp.top_k},
                           {"top_p", sp.top_p}, {"min_p", sp.min_p}, {"repeat_penalty", sp.repeat_penalty},
                           {"seed", sp.seed}};
        out["steps"] = std::move(steps);
        std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
        std::cout << "\n";
    }
    if (recording && !recording->finish(g_interrupted.load(), std::cerr)) return 1;
    return 0;
}

}  // namespace moescope::cli
