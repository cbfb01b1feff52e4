// moescope-cli record MODEL --prompts FILE.jsonl --db DB [--set NAME] [--capture LEVEL] [--max-new N]
// Runs every prompt of a JSONL file through the model (one fresh session each) and records routing
// into an activation database: one run, one prompt row per line, tokens and routing per step.
// JSONL lines: {"text": "..."} | {"messages": [{"role": ..., "content": ...}, ...]} | {"tokens": [ids]},
// each with an optional "set" (prompt set name; --set is the default).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/model_flags.h"
#include "app/cli/record_support.h"
#include "engine/generate.h"
#include "engine/session.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "storage/capture.h"
#include "storage/recorder.h"

namespace moescope::cli {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_record_sigint(int) { g_stop.store(true); }

struct PromptLine {
    int line = 0;
    std::string text;           // as given ("text"), or empty
    std::string messages_json;  // as given ("messages"), or empty
    std::vector<int32_t> ids;   // "tokens", or filled after tokenization
    std::string set;
    bool needs_tokenizer = false;
};

std::vector<PromptLine> read_prompts(const std::string& path, const std::string& default_set) {
    std::ifstream f(path);
    if (!f) throw Error(path + ": cannot open the prompts file");
    std::vector<PromptLine> out;
    std::string line;
    int n = 0;
    while (std::getline(f, line)) {
        ++n;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        auto bad = [&](const std::string& why) { throw Error(path + ": line " + std::to_string(n) + ": " + why); };
        if (j.is_discarded() || !j.is_object()) bad("not a JSON object");
        PromptLine p;
        p.line = n;
        p.set = default_set;
        if (j.contains("set")) {
            if (!j["set"].is_string()) bad("\"set\" must be a string");
            p.set = j["set"].get<std::string>();
        }
        int kinds = j.contains("text") + j.contains("messages") + j.contains("tokens");
        if (kinds != 1) bad("needs exactly one of \"text\", \"messages\" or \"tokens\"");
        if (j.contains("text")) {
            if (!j["text"].is_string() || j["text"].get<std::string>().empty()) bad("\"text\" must be a non-empty string");
            p.text = j["text"].get<std::string>();
            p.needs_tokenizer = true;
        } else if (j.contains("messages")) {
            const auto& m = j["messages"];
            if (!m.is_array() || m.empty()) bad("\"messages\" must be a non-empty array");
            for (const auto& x : m)
                if (!x.is_object() || !x.contains("role") || !x.contains("content") || !x["role"].is_string() ||
                    !x["content"].is_string())
                    bad("each message needs string \"role\" and \"content\"");
            p.messages_json = m.dump();
            p.needs_tokenizer = true;
        } else {
            const auto& t = j["tokens"];
            if (!t.is_array() || t.empty()) bad("\"tokens\" must be a non-empty array of ids");
            for (const auto& x : t) {
                if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX) bad("\"tokens\" holds a non-id value");
                p.ids.push_back(x.get<int32_t>());
            }
        }
        out.push_back(std::move(p));
    }
    if (out.empty()) throw Error(path + ": no prompts");
    return out;
}

void progress(size_t done, size_t total, int64_t tokens, double seconds, bool tty) {
    if (!tty) return;
    const int width = 30;
    int filled = total ? static_cast<int>(width * done / total) : width;
    std::fprintf(stderr, "\r[%s%s] %zu/%zu prompts, %lld tokens, %.1f tok/s ", std::string(static_cast<size_t>(filled), '=').c_str(),
                 std::string(static_cast<size_t>(width - filled), ' ').c_str(), done, total, static_cast<long long>(tokens),
                 seconds > 0 ? static_cast<double>(tokens) / seconds : 0.0);
    std::fflush(stderr);
}

}  // namespace

int cmd_record(const CommandArgs& argv) {
    Args args;
    args.positional("MODEL", "model folder (Hugging Face layout) or 'demo'")
        .option("prompts", "JSONL file: {\"text\"|\"messages\"|\"tokens\": ..., \"set\": optional}")
        .option("db", "activation database (created when missing)")
        .option("set", "prompt set for lines without \"set\" (default: the prompts file name)")
        .option("capture", "routing (ids+weights, default) | logits | activations")
        .flag("logits-f32", "store router logits as F32 instead of F16")
        .option("max-new", "new tokens per prompt (default 32; 0 = prompt only)")
        .option("label", "run label (default: the prompts file name)")
        .option("temperature", "sample with this temperature (default: greedy)")
        .option("seed", "sampling seed (default 0)")
        .flag("ignore-eos", "do not stop at EOS")
        .option("threads", "worker threads (default: all cores)");
    declare_intervention_flags(args);
    args.parse(argv);
    if (args.help_requested()) {
        std::cout << args.usage("record")
                  << "\nPrints the estimated database bytes per token before starting, a progress bar on a terminal,\n"
                     "and a summary. Ctrl-C stops after the current token; the run is then marked interrupted.\n";
        return 0;
    }
    const std::string prompts_path = args.get("prompts");
    const std::string db_path = args.get("db");
    const std::string stem = std::filesystem::path(prompts_path).stem().string();
    auto level = storage::parse_capture_level(args.get_or("capture", "routing"));
    if (!level) throw UsageError("--capture must be routing, logits or activations");
    const long long max_new = args.get_int("max-new", 32);
    if (max_new < 0 || max_new > 1000000) throw UsageError("--max-new must be in [0, 1000000]");
    const long long threads = args.get_int("threads", 0);
    if (threads < 0 || threads > 4096) throw UsageError("--threads must be in [0, 4096]");
    SamplingParams sp;
    sp.greedy = !args.has("temperature");
    if (!sp.greedy) sp.temperature = static_cast<float>(args.get_double("temperature", 1.0));
    const long long seed = args.get_int("seed", 0);
    if (seed < 0) throw UsageError("--seed must be >= 0");
    sp.seed = static_cast<uint64_t>(seed);
    if (auto ok = sp.validate(); !ok.ok()) throw UsageError(ok.message());

    std::vector<PromptLine> prompts = read_prompts(prompts_path, args.get_or("set", stem));
    auto model = load_model_or_throw(*args.pos("MODEL"));
    Interventions iv = parse_intervention_flags(args, *model);
    const ModelSummary& ms = model->summary();

    std::optional<Tokenizer> tok;
    if (std::filesystem::exists(std::filesystem::path(model->dir()) / "tokenizer.json")) {
        auto t = Tokenizer::from_model_dir(model->dir());
        if (!t.ok()) throw t.error();
        tok = t.value();
    }
    for (auto& p : prompts) {
        if (p.needs_tokenizer && !tok)
            throw Error(prompts_path + ": line " + std::to_string(p.line) + ": text prompts need " + model->dir() +
                        "/tokenizer.json (use {\"tokens\": [...]} for models without one)");
        if (!p.text.empty()) p.ids = tok->encode(p.text, true);
        if (!p.messages_json.empty()) {
            std::vector<ChatMessage> msgs;
            for (const auto& m : nlohmann::json::parse(p.messages_json))
                msgs.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
            auto r = render_chat(*tok, msgs, true);
            if (!r.ok()) throw Error(prompts_path + ": line " + std::to_string(p.line) + ": " + r.message());
            p.ids = tok->encode(*r, false);
        }
        if (p.ids.empty()) throw Error(prompts_path + ": line " + std::to_string(p.line) + ": the prompt encodes to no tokens");
        for (int32_t id : p.ids)
            if (id >= model->config().vocab_size)
                throw Error(prompts_path + ": line " + std::to_string(p.line) + ": token id " + std::to_string(id) +
                            " is outside the model's vocabulary (0.." + std::to_string(model->config().vocab_size - 1) + ")");
    }

    auto db = storage::Database::open(db_path, storage::Access::Write);
    storage::RunInfo run;
    run.model_id = db->find_or_add_model(model_info(*model));
    run.kind = storage::RunKind::Record;
    run.label = args.get_or("label", stem);
    run.sampling_json = sampling_json(sp, static_cast<int>(max_new));
    run.seed = seed;
    run.capture = *level;
    run.logits_dtype = args.has("logits-f32") ? storage::LogitsDtype::F32 : storage::LogitsDtype::F16;
    run.n_layers = ms.n_layers;
    run.n_experts = ms.n_experts;
    run.k_max = ms.top_k;
    if (iv.top_k) run.k_max = std::max(run.k_max, *iv.top_k);
    for (const auto& t : iv.top_k_per_layer) run.k_max = std::max(run.k_max, t.k);
    if (iv.top_p) run.k_max = std::max(run.k_max, iv.top_p_max_k > 0 ? iv.top_p_max_k : ms.top_k);
    run.moe_layers = ms.moe_layers;
    const int64_t run_id = db->begin_run(run);
    db->add_intervention_change(run_id, -1, interventions_json(iv));
    std::vector<int64_t> prompt_ids;
    for (const auto& p : prompts) prompt_ids.push_back(db->add_prompt(db->prompt_set(p.set), p.text, p.messages_json));

    storage::ModelShape shape{ms.n_layers, static_cast<int>(ms.moe_layers.size()), run.k_max, ms.n_experts, model->config().n_heads};
    int64_t planned = 0;
    for (const auto& p : prompts) planned += static_cast<int64_t>(p.ids.size()) + max_new;
    const double per_token = storage::estimate_bytes_per_token(shape, *level, run.logits_dtype);
    std::cerr << "record: run " << run_id << " into " << db_path << ": " << prompts.size() << " prompts, capture "
              << storage::capture_level_name(*level) << ", about " << storage::human_bytes(per_token) << " per token (up to "
              << storage::human_bytes(per_token * static_cast<double>(planned)) << " for " << planned << " tokens)\n";

    storage::RecorderOptions ropt;
    ropt.level = *level;
    ropt.logits_dtype = run.logits_dtype;
    storage::Recorder rec(*db, run_id, ropt);
    const bool tty = ::isatty(2) != 0;
    g_stop.store(false);
    auto old_handler = std::signal(SIGINT, on_record_sigint);
    const auto t0 = std::chrono::steady_clock::now();
    int64_t tokens = 0;
    size_t done = 0;
    std::string engine_error;
    GenerateOptions gopt;
    gopt.sampling = sp;
    gopt.max_new_tokens = static_cast<int>(max_new);
    gopt.stop_on_eos = !args.has("ignore-eos");
    gopt.capture_routing = false;
    gopt.top_alternatives = 0;
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    try {
        for (size_t i = 0; i < prompts.size() && !g_stop.load() && !rec.failed(); ++i) {
            const PromptLine& p = prompts[i];
            Session session(*model, SessionOptions{static_cast<int>(threads)});
            if (auto ok = session.set_interventions(iv); !ok.ok()) throw UsageError(ok.message());
            session.set_observer(&rec);
            rec.begin_sequence(prompt_ids[i]);
            if (tok)
                for (size_t k = 0; k < p.ids.size(); ++k) rec.set_token_text(static_cast<int64_t>(k), tok->decode({p.ids[k]}));
            std::optional<IncrementalDecoder> dec;
            if (tok) dec.emplace(*tok);
            if (dec) gopt.detokenize = [&](int32_t id) { return dec->push(id); };
            tokens += static_cast<int64_t>(p.ids.size());
            generate(session, p.ids, gopt, [&](const GeneratedToken& t) {
                rec.set_token_text(static_cast<int64_t>(p.ids.size()) + t.index, t.piece);
                ++tokens;
                return !g_stop.load() && !rec.failed();
            });
            ++done;
            progress(done, prompts.size(), tokens, elapsed(), tty);
        }
    } catch (const UsageError&) {
        std::signal(SIGINT, old_handler);
        rec.finish(storage::RunStatus::Failed, "bad interventions");
        throw;
    } catch (const std::exception& e) {
        engine_error = e.what();
    }
    std::signal(SIGINT, old_handler);
    if (tty) std::fprintf(stderr, "\n");
    storage::RunStatus status = storage::RunStatus::Complete;
    std::string detail;
    if (!engine_error.empty()) {
        status = storage::RunStatus::Failed;
        detail = "engine: " + engine_error;
    } else if (g_stop.load()) {
        status = storage::RunStatus::Interrupted;
        detail = "stopped by the user (Ctrl-C)";
    }
    const std::string rec_error = rec.finish(status, detail);
    storage::RunInfo fin = db->run(run_id);
    const double secs = elapsed();
    std::cout << "recorded run " << run_id << " (" << storage::run_status_name(fin.status) << "): " << done << "/"
              << prompts.size() << " prompts, " << db->token_count(run_id) << " tokens, " << fin.steps_committed
              << " steps committed, " << fin.dropped_steps << " dropped, " << secs << " s\n";
    if (!rec_error.empty()) {
        std::cerr << "moescope-cli record: error: recording stopped: " << rec_error << "\n";
        return 1;
    }
    if (!engine_error.empty()) {
        std::cerr << "moescope-cli record: error: " << engine_error << "\n";
        return 1;
    }
    return g_stop.load() ? 130 : 0;
}

}  // namespace moescope::cli
