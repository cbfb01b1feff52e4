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
#include "engine/tokenizer/tokenizer.h"
#include "storage/capture.h"
#include "storage/prompt_recording.h"
#include "engine/prompt_file.h"

namespace moescope::cli {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_record_sigint(int) { g_stop.store(true); }

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
        .flag("sink-heads", "with --capture activations: also store the attention mass on position 0 per head")
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
    const bool sink_heads = args.has("sink-heads");
    if (sink_heads && *level < CaptureLevel::Activations)
        throw UsageError("--sink-heads needs --capture activations (per-head sink mass is a layer statistic)");
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

    std::vector<PromptLine> prompts = read_prompt_file(prompts_path, args.get_or("set", stem));
    auto model = load_model_or_throw(*args.pos("MODEL"));
    Interventions iv = parse_intervention_flags(args, *model);

    std::optional<Tokenizer> tok;
    if (std::filesystem::exists(std::filesystem::path(model->dir()) / "tokenizer.json")) {
        auto t = Tokenizer::from_model_dir(model->dir());
        if (!t.ok()) throw t.error();
        tok = t.value();
    }
    tokenize_prompts(prompts, tok ? &*tok : nullptr, model->config().vocab_size, prompts_path, model->dir());

    auto db = storage::Database::open(db_path, storage::Access::Write);
    storage::PromptRecordingOptions ro;
    ro.label = args.get_or("label", stem);
    ro.level = *level;
    ro.logits_dtype = args.has("logits-f32") ? storage::LogitsDtype::F32 : storage::LogitsDtype::F16;
    ro.max_new_tokens = static_cast<int>(max_new);
    ro.sampling = sp;
    ro.stop_on_eos = !args.has("ignore-eos");
    ro.threads = static_cast<int>(threads);
    ro.interventions = iv;
    ro.stop = &g_stop;
    ro.stop_detail = "stopped by the user (Ctrl-C)";

    ro.sink_per_head = sink_heads;
    const bool tty = ::isatty(2) != 0;
    g_stop.store(false);
    auto old_handler = std::signal(SIGINT, on_record_sigint);
    const auto t0 = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    storage::PromptRecordingResult res;
    try {
        res = storage::record_prompts(
            *db, *model, tok ? &*tok : nullptr, prompts, ro,
            [&](const storage::PromptRecordingResult& r) {
                std::cerr << "record: run " << r.run_id << " into " << db_path << ": " << r.prompts << " prompts, capture "
                          << storage::capture_level_name(*level) << ", about " << storage::human_bytes(r.bytes_per_token)
                          << " per token (up to " << storage::human_bytes(r.bytes_per_token * static_cast<double>(r.planned_tokens))
                          << " for " << r.planned_tokens << " tokens)\n";
            },
            [&](const storage::PromptRecordingResult& r) { progress(r.done, r.prompts, r.tokens, elapsed(), tty); });
    } catch (const storage::InvalidInterventions& e) {
        std::signal(SIGINT, old_handler);
        throw UsageError(e.what());
    } catch (...) {
        std::signal(SIGINT, old_handler);
        throw;
    }
    std::signal(SIGINT, old_handler);
    if (tty) std::fprintf(stderr, "\n");
    storage::RunInfo fin = db->run(res.run_id);
    const double secs = elapsed();
    std::cout << "recorded run " << res.run_id << " (" << storage::run_status_name(fin.status) << "): " << res.done << "/"
              << res.prompts << " prompts, " << db->token_count(res.run_id) << " tokens, " << fin.steps_committed
              << " steps committed, " << fin.dropped_steps << " dropped, " << secs << " s\n";
    if (!res.recorder_error.empty()) {
        std::cerr << "moescope-cli record: error: recording stopped: " << res.recorder_error << "\n";
        return 1;
    }
    if (!res.engine_error.empty()) {
        std::cerr << "moescope-cli record: error: " << res.engine_error << "\n";
        return 1;
    }
    return g_stop.load() ? 130 : 0;
}

}  // namespace moescope::cli
