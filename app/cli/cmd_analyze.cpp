// moescope-cli analyze KIND --db DB [...] — runs one analysis of analysis/ on recorded runs and prints
// its result as JSON (default) or CSV. Reading goes through storage::read_routing; every number comes
// from analysis/ (docs/analyses.md has the formulas and defaults).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "analysis/serialize.h"
#include "app/cli/args.h"
#include "analysis/ftri.h"
#include "analysis/what_if.h"
#include "engine/prompt_logits.h"
#include "app/cli/commands.h"
#include "app/cli/model_flags.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/presets.h"
#include "engine/session.h"
#include "engine/tokenizer/tokenizer.h"
#include "storage/database.h"
#include "storage/routing_reader.h"

namespace moescope::cli {
namespace {

using namespace moescope::analysis;

struct Kind {
    const char* name;
    const char* summary;
};
const std::vector<Kind>& kinds() {
    static const std::vector<Kind> k = {
        {"ftri", "behaviour localisation: experts more active on --behavior than --control sets (MoTE/SteerMoE)"},
        {"load", "per-layer expert load, entropy, CV, Gini, MaxVio, dead experts"},
        {"domain", "domain specialisation across prompt sets (OLMoE)"},
        {"tokens", "token-ID / position-ID specialisation and top tokens per expert (OpenMoE, OLMoE)"},
        {"coactivation", "expert co-activation matrices per layer (all pairs or OLMoE adjacent ranks)"},
        {"transitions", "layer-to-layer expert transition matrices (MoETuner)"},
        {"router", "load-balancing loss (per micro-batch vs global), z-loss, router entropy (needs logits)"},
        {"saturation", "routing agreement of --run with --reference-run on identical tokens (OLMoE)"},
        {"dynamic-k", "experts needed per token under top-p routing, per layer and prompt set"},
        {"super-experts", "super experts from max |down_proj output| (needs capture level activations)"},
        {"massive", "massive activations in hidden states (needs capture level activations)"},
        {"sinks", "attention sinks from first-token attention mass (needs capture level activations)"},
        {"lrc", "local routing consistency: SRP and SCH (moe-lrc)"},
        {"importance", "expert importance (frequency, gate, output, mc_moe) and a keep-top-N prune plan"},
        {"what-if", "runs a MODEL with an expert set zeroed (or disabled) vs unmodified vs random sets (KL, ppl)"},
    };
    return k;
}

std::string kinds_help() {
    std::string s = "kinds:\n";
    for (const auto& k : kinds()) s += "  " + std::string(k.name) + std::string(15 - std::string(k.name).size(), ' ') + k.summary + "\n";
    return s;
}

std::vector<int> parse_int_list(const std::string& text, const std::string& what) {
    std::vector<int> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(static_cast<int>(parse_int(item, what)));
    if (out.empty()) throw UsageError(what + ": expected a comma-separated list of integers");
    return out;
}

std::vector<double> parse_double_list(const std::string& text, const std::string& what) {
    std::vector<double> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(parse_double(item, what));
    if (out.empty()) throw UsageError(what + ": expected a comma-separated list of numbers");
    return out;
}

template <class T>
T value_or_usage(Result<T> r) {
    if (!r.ok()) throw UsageError(r.message());
    return std::move(r.value());
}

template <class T>
T value_or_error(Result<T> r) {
    if (!r.ok()) throw r.error();
    return std::move(r.value());
}

// Declares the options every kind accepts plus the kind-specific ones.
void declare(Args& a, const std::string& kind) {
    a.positional("KIND", "analysis to run (see the list below)");
    a.flag("json", "print JSON (the default)");
    a.flag("csv", "print CSV instead of JSON");
    a.option("out", "write the output to this file instead of stdout");
    if (kind == "what-if") {
        a.option("model", "model folder (Hugging Face layout) or 'demo'");
        a.option("tokens", "one prompt as comma-separated token ids", true);
        a.option("prompt", "one prompt as text (needs the model's tokenizer.json)", true);
        a.option("disable", "expert of the set to test, L:E (what happens to it: --mode)", true);
        a.option("mode", "zero (default: the expert stays routed, its output is zeroed, as the Super Experts "
                         "paper) or disable (router logit -inf: another expert takes the slot)");
        a.option("preset", "preset JSON whose \"disable\" (or \"zero_output\") list is the set to test");
        a.option("random-repeats", "random sets of the same size, matched per layer (default 5)");
        a.option("seed", "seed of the random sets (default 0)");
        a.option("threads", "worker threads (default: all cores)");
        return;
    }
    a.option("db", "activation database (.db) to read");
    a.option("run", "run id to include (default: all runs)", true);
    a.option("set", "prompt set to include (default: all tokens)", true);
    a.option("tokens", "which tokens count: prompt, generated or all (default: all; ftri: prompt)");
    a.option("exclude-token", "token id to leave out (BOS, chat template)", true);
    if (kind == "ftri" || kind == "super-experts" || kind == "importance")
        a.option("preset-out", "also write the disable preset JSON here (for generate --preset / the app)");
    if (kind == "ftri") {
        a.option("behavior", "behaviour prompt set", true);
        a.option("control", "control prompt set", true);
        a.option("top", "experts in the disable preset (default 10)");
        a.option("pooling", "tokens (SteerMoE, default) or prompts (MoTE per-prompt rates, Welch t)");
        a.option("rank-by", "difference (default) or abs-difference");
        a.option("max-q", "only experts with q <= this enter the preset (default 1)");
        a.option("random-repeats", "random control sets (default 5)");
        a.option("seed", "seed of the random controls (default 0)");
        a.option("preset-name", "name of the preset (default ftri-BEHAVIOR-vs-CONTROL)");
        a.option("limit", "ranked entries in the output (default: all)");
        a.option("random-preset-out", "also write the first random control preset JSON here");
    } else if (kind == "domain" || kind == "dynamic-k") {
        if (kind == "dynamic-k") {
            a.option("top-p", "simulated top-p threshold (default 0.6, UNCONFIRMED)");
            a.option("max-k", "cap on simulated experts (default: none)");
            a.option("score", "softmax (default) or sigmoid");
        }
    } else if (kind == "tokens") {
        a.option("min-count", "minimum occurrences per id (default 128)");
        a.flag("all-slots", "count every top-k slot instead of the top-1 expert");
        a.option("top-tokens", "top tokens listed per expert (default 15)");
    } else if (kind == "coactivation") {
        a.option("pairs", "all (default) or adjacent (OLMoE adjacent ranks)");
    } else if (kind == "transitions") {
        a.option("pairs", "all (default) or rank-aligned (OLMoE)");
        a.option("gap", "MoE layers between the compared pair (default 1)");
    } else if (kind == "router") {
        a.option("score", "softmax (default) or sigmoid (DeepSeek-V3)");
        a.option("micro-batches", "pseudo micro-batch sizes in sequences (default 1,4,16)");
    } else if (kind == "saturation") {
        a.option("reference-run", "run of the reference (final/unmodified) checkpoint");
        a.option("reference-db", "database holding the reference run (default: --db)");
        a.option("k", "K for the top-K overlap (default: recorded k)");
    } else if (kind == "super-experts") {
        a.option("include-layers", "fraction of layers searched (default 0.75)");
        a.option("percentile", "percentile threshold (default 99.5)");
        a.option("times", "also above max / times (default 10)");
        a.flag("repo-quirk", "reproduce the reference repo's first-routed-token-only maxima");
    } else if (kind == "massive") {
        a.option("hidden-size", "hidden size d (default: from the model's config.json)");
        a.option("min-abs", "absolute threshold (default 100)");
        a.option("min-ratio", "ratio to the median (default 1000)");
    } else if (kind == "sinks") {
        a.option("epsilon", "attention threshold (default 0.3)");
        a.option("tau", "sink threshold on Sink_1 (head fraction; layer fraction without --sink-heads data; default 0.25)");
        a.option("window", "positions counted (default 64)");
    } else if (kind == "lrc") {
        a.option("seg-lengths", "segment lengths (default 4,16,64,256)");
        a.option("cache-ratios", "cache sizes as multiples of k (default 1,1.5,2,3,4)");
        a.flag("no-sch", "skip the cache simulation");
    } else if (kind == "importance") {
        a.option("method", "frequency, gate, output (default: w x ||y||), easy-ep (w x ||y|| x s_t; capture "
                           "activations) or mc_moe");
        a.option("keep", "experts kept per layer (default E/2)");
        a.option("mc-alpha", "MC-MoE alpha (default 1)");
        a.option("mc-beta", "MC-MoE beta (default 1.5)");
        a.option("plan-out", "also write the prune plan JSON here (for `moescope-cli prune --plan`)");
    }
}

TokenKind token_kind(const Args& a, TokenKind def) {
    return a.has("tokens") ? value_or_usage(parse_token_kind(a.get("tokens"))) : def;
}

TokenFilter base_filter(const Args& a, TokenKind def) {
    TokenFilter f;
    f.kind = token_kind(a, def);
    f.sets = a.all("set");
    for (const auto& s : a.all("exclude-token")) f.exclude_token_ids.push_back(static_cast<int32_t>(parse_int(s, "--exclude-token")));
    return f;
}

ScoreFunction score_fn(const Args& a) {
    const std::string s = a.get_or("score", "softmax");
    if (s == "softmax") return ScoreFunction::Softmax;
    if (s == "sigmoid") return ScoreFunction::Sigmoid;
    throw UsageError("--score: expected softmax or sigmoid, got '" + s + "'");
}

struct Loaded {
    std::unique_ptr<storage::Database> db;
    RoutingArrays arrays;
    std::vector<int64_t> runs;
    std::optional<storage::ModelInfo> model;
};

// Reads the selected runs; refuses runs of different models mixed in one read (the reader only checks
// the MoE layer list).
Loaded load(const std::string& path, const std::vector<int64_t>& run_ids, bool logits, bool activations,
            bool layer_stats) {
    Loaded L;
    L.db = storage::Database::open(path, storage::Access::ReadOnly);
    storage::RoutingSelection sel;
    sel.run_ids = run_ids;
    sel.logits = logits;
    sel.activations = activations;
    sel.layer_stats = layer_stats;
    L.arrays = storage::read_routing(*L.db, sel);
    std::set<int64_t> present(L.arrays.run_id.begin(), L.arrays.run_id.end());
    L.runs.assign(present.begin(), present.end());
    std::optional<storage::RunInfo> first;
    for (int64_t id : L.runs) {
        storage::RunInfo r = L.db->run(id);
        if (!first) {
            first = r;
            if (r.model_id) L.model = L.db->model(r.model_id);
            continue;
        }
        if (r.n_experts != first->n_experts || (r.model_id && first->model_id && r.model_id != first->model_id))
            throw Error(path + ": runs " + std::to_string(first->id) + " and " + std::to_string(r.id) +
                        " come from different models (" + std::to_string(first->n_experts) + " vs " +
                        std::to_string(r.n_experts) + " experts, model ids " + std::to_string(first->model_id) +
                        " vs " + std::to_string(r.model_id) + "); select runs of one model with --run");
    }
    return L;
}

std::vector<int64_t> run_list(const Args& a) {
    std::vector<int64_t> out;
    for (const auto& s : a.all("run")) out.push_back(parse_int(s, "--run"));
    return out;
}

nlohmann::json source_json(const std::string& db, const Loaded& L) {
    nlohmann::json s = {{"db", db}, {"runs", L.runs}, {"tokens", L.arrays.n_tokens}};
    if (L.model) s["model"] = L.model->name;
    return s;
}

struct Output {
    nlohmann::json json;
    std::string csv;
};

void write_json_file(const std::string& path, const nlohmann::json& j) {
    std::ofstream f(path);
    if (!f) throw Error(path + ": cannot open for writing");
    f << j.dump(2) << "\n";
    if (!f) throw Error(path + ": write failed");
}

nlohmann::json shift_json(const DistributionShift& d) {
    return {{"mean_kl", d.mean_kl}, {"max_kl", d.max_kl}, {"top1_agreement", d.top1_agreement},
            {"nll", d.nll_variant}, {"ppl", d.ppl_variant}};
}

// Super-expert "prune what-if" (methods.md §3.1-3.2): teacher-forced prompts through the model unmodified,
// with the chosen experts zeroed (default, P2) or disabled (P1), and with random matched sets of the same size.
Output what_if(const Args& a) {
    if (!a.has("model")) throw UsageError("what-if needs --model MODEL");
    auto model = load_model_or_throw(a.get("model"));
    std::vector<std::vector<int32_t>> prompts;
    for (const auto& t : a.all("tokens")) prompts.push_back(parse_token_list(t, "--tokens"));
    if (a.has("prompt")) {
        auto tok = Tokenizer::from_model_dir(model->dir());
        if (!tok.ok()) throw Error("--prompt needs the model's tokenizer: " + tok.message());
        for (const auto& text : a.all("prompt")) prompts.push_back(tok.value().encode(text, true));
    }
    if (prompts.empty()) throw UsageError("what-if needs at least one --tokens or --prompt");
    for (const auto& p : prompts)
        if (p.size() < 2) throw UsageError("what-if: every prompt needs at least 2 tokens (one next-token target)");
    std::vector<ExpertRef> chosen;
    if (a.has("preset")) {
        auto pr = load_preset_file(a.get("preset"));
        if (!pr.ok()) throw pr.error();
        Interventions only_sets;
        only_sets.disable = pr.value().interventions.disable;
        only_sets.zero_output = pr.value().interventions.zero_output;
        if (!(pr.value().interventions == only_sets))
            throw UsageError("--preset: what-if compares expert sets (\"disable\" / \"zero_output\"); the preset has "
                             "other interventions");
        chosen = only_sets.disable;
        chosen.insert(chosen.end(), only_sets.zero_output.begin(), only_sets.zero_output.end());
    }
    const std::string mode = a.get_or("mode", "zero");
    if (mode != "zero" && mode != "disable") throw UsageError("--mode must be zero or disable, got '" + mode + "'");
    const PruneMode prune_mode = mode == "zero" ? PruneMode::ZeroOutput : PruneMode::Disable;
    const bool zero_mode = prune_mode == PruneMode::ZeroOutput;
    for (const auto& d : a.all("disable")) {
        const auto colon = d.find(':');
        if (colon == std::string::npos) throw UsageError("--disable: expected L:E, got '" + d + "'");
        chosen.push_back({static_cast<int>(parse_int(d.substr(0, colon), "--disable")),
                          static_cast<int>(parse_int(d.substr(colon + 1), "--disable"))});
    }
    if (chosen.empty()) throw UsageError("what-if needs experts to disable (--disable L:E or --preset FILE)");
    const int repeats = static_cast<int>(a.get_int("random-repeats", 5));
    const uint64_t seed = static_cast<uint64_t>(a.get_int("seed", 0));
    const int threads = static_cast<int>(a.get_int("threads", 0));
    if (repeats < 0 || threads < 0) throw UsageError("--random-repeats and --threads must be >= 0");
    const int V = model->config().vocab_size;
    for (const auto& p : prompts)
        for (int32_t t : p)
            if (t < 0 || t >= V) throw UsageError("token id " + std::to_string(t) + " is outside the vocabulary");

    auto run = [&](const std::vector<ExpertRef>& set) {
        const Interventions iv = prune_interventions(set, prune_mode);
        if (auto ok = Session(*model, SessionOptions{1}).set_interventions(iv); !ok.ok())
            throw UsageError("expert set: " + ok.message());
        std::vector<LogitRun> out;
        for (auto& r : prompt_logits(*model, prompts, iv, threads)) out.push_back({r.vocab, std::move(r.logits), std::move(r.targets)});
        return out;
    };
    const auto base = run({});
    const auto variant = run(chosen);
    const DistributionShift shift = value_or_error(distribution_shift(base, variant));
    nlohmann::json randoms = nlohmann::json::array();
    std::vector<double> kls, ppls;
    for (int r = 0; r < repeats; ++r) {
        const auto set = random_matched_control(chosen, model->config().n_experts, seed + r);
        const DistributionShift d = value_or_error(distribution_shift(base, run(set)));
        nlohmann::json j = shift_json(d);
        j["disable"] = preset_json("random", set)["disable"];
        randoms.push_back(j);
        kls.push_back(d.mean_kl);
        ppls.push_back(d.ppl_variant);
    }
    auto mean_sd = [](const std::vector<double>& v) {
        if (v.empty()) return nlohmann::json(nullptr);
        double m = 0, s = 0;
        for (double x : v) m += x / v.size();
        for (double x : v) s += (x - m) * (x - m);
        return nlohmann::json{{"mean", m}, {"sd", v.size() > 1 ? std::sqrt(s / (v.size() - 1)) : 0.0}};
    };
    Output out;
    out.json = {{"analysis", "what-if"},
                {"model", a.get("model")},
                {"prompts", prompts.size()},
                {"positions", shift.positions},
                {"scored_positions", shift.scored},
                {"mode", mode},
                {"experts", preset_json("what-if", chosen)["disable"]},
                {"disable", preset_json("what-if", chosen)["disable"]},  // = experts (older name)
                {"base", {{"nll", shift.nll_base}, {"ppl", shift.ppl_base}}},
                {"variant", shift_json(shift)},
                {"disabled", shift_json(shift)},  // = variant (older name)
                {"random", randoms},
                {"random_summary", {{"mean_kl", mean_sd(kls)}, {"ppl", mean_sd(ppls)}}},
                {"notes",
                 {zero_mode ? "mode zero (default) = the Super Experts paper's pruning (methods.md 0.3 P2): the experts "
                              "stay routed with their gate weights and their down_proj output is zeroed"
                            : "mode disable = the engine's P1 (router logit -inf before top-k: another expert takes the "
                              "slot); the Super Experts paper zeroes down_proj instead (--mode zero) - results differ",
                  "random sets use the same mode, matched per layer",
                  "perplexity is teacher-forced over the prompt tokens (next-token NLL), not WikiText/C4 2048-token chunks"}}};
    out.csv = csv_row({"which", "mean_kl", "max_kl", "top1_agreement", "ppl"});
    out.csv += csv_row({"base", "0", "0", "1", csv_num(shift.ppl_base)});
    out.csv += csv_row({zero_mode ? "zeroed" : "disabled", csv_num(shift.mean_kl), csv_num(shift.max_kl), csv_num(shift.top1_agreement),
                        csv_num(shift.ppl_variant)});
    for (size_t i = 0; i < randoms.size(); ++i)
        out.csv += csv_row({"random-" + std::to_string(i + 1), csv_num(randoms[i]["mean_kl"].get<double>()),
                            csv_num(randoms[i]["max_kl"].get<double>()), csv_num(randoms[i]["top1_agreement"].get<double>()),
                            csv_num(randoms[i]["ppl"].get<double>())});
    return out;
}

Output run_kind(const std::string& kind, const Args& a) {
    if (kind == "what-if") return what_if(a);
    const std::string db = a.get("db");
    const auto runs = run_list(a);
    Output out;
    auto emit = [&](const auto& result, const Loaded& L) {
        out.json = to_json(result);
        out.json["source"] = source_json(db, L);
        out.csv = to_csv(result);
    };
    if (kind == "ftri") {
        FtriOptions o;
        o.behavior = base_filter(a, TokenKind::Prompt);
        o.control = o.behavior;
        o.behavior.sets = a.all("behavior");
        o.control.sets = a.all("control");
        if (o.behavior.sets.empty() || o.control.sets.empty())
            throw UsageError("ftri needs --behavior SET and --control SET");
        if (a.has("set")) throw UsageError("ftri takes --behavior/--control instead of --set");
        o.top_n = static_cast<int>(a.get_int("top", 10));
        const std::string pooling = a.get_or("pooling", "tokens");
        if (pooling != "tokens" && pooling != "prompts") throw UsageError("--pooling: expected tokens or prompts");
        o.pooling = pooling == "tokens" ? FtriPooling::Tokens : FtriPooling::Prompts;
        const std::string rank = a.get_or("rank-by", "difference");
        if (rank != "difference" && rank != "abs-difference") throw UsageError("--rank-by: expected difference or abs-difference");
        o.rank_by = rank == "difference" ? FtriRankBy::Difference : FtriRankBy::AbsDifference;
        o.max_q = a.get_double("max-q", 1.0);
        o.random_repeats = static_cast<int>(a.get_int("random-repeats", 5));
        o.random_seed = static_cast<uint64_t>(a.get_int("seed", 0));
        if (o.top_n < 0 || o.random_repeats < 0) throw UsageError("--top and --random-repeats must be >= 0");
        const Loaded L = load(db, runs, false, false, false);
        const FtriResult r = value_or_error(ftri(L.arrays, o));
        auto join = [](const std::vector<std::string>& v) {
            std::string out;
            for (const auto& s : v) {
                if (!out.empty()) out += '+';
                out += s;
            }
            return out;
        };
        const std::string join_b = join(o.behavior.sets), join_c = join(o.control.sets);
        out.json = to_json(r, a.get_or("preset-name", "ftri-" + join_b + "-vs-" + join_c));
        const long long limit = a.get_int("limit", -1);
        if (limit >= 0 && out.json["ranked"].size() > static_cast<size_t>(limit)) {
            auto& ranked = out.json["ranked"];
            ranked.erase(ranked.begin() + limit, ranked.end());
        }
        out.json["source"] = source_json(db, L);
        out.csv = to_csv(r);
    } else if (kind == "load") {
        LoadOptions o;
        o.filter = base_filter(a, TokenKind::All);
        const Loaded L = load(db, runs, false, false, false);
        emit(value_or_error(expert_load(L.arrays, o)), L);
    } else if (kind == "domain") {
        DomainOptions o;
        o.kind = token_kind(a, TokenKind::All);
        o.sets = a.all("set");
        const Loaded L = load(db, runs, false, false, false);
        emit(value_or_error(domain_specialization(L.arrays, o)), L);
    } else if (kind == "tokens") {
        TokenSpecOptions o;
        o.filter = base_filter(a, TokenKind::All);
        o.min_count = a.get_int("min-count", 128);
        o.top1_only = !a.has("all-slots");
        o.top_tokens_per_expert = static_cast<int>(a.get_int("top-tokens", 15));
        const Loaded L = load(db, runs, false, false, false);
        emit(value_or_error(token_specialization(L.arrays, o)), L);
    } else if (kind == "coactivation") {
        CoactivationOptions o;
        o.filter = base_filter(a, TokenKind::All);
        const std::string p = a.get_or("pairs", "all");
        if (p != "all" && p != "adjacent") throw UsageError("--pairs: expected all or adjacent");
        o.mode = p == "all" ? PairMode::AllPairs : PairMode::AdjacentRank;
        const Loaded L = load(db, runs, false, false, false);
        emit(value_or_error(coactivation(L.arrays, o)), L);
    } else if (kind == "transitions") {
        TransitionOptions o;
        o.filter = base_filter(a, TokenKind::All);
        const std::string p = a.get_or("pairs", "all");
        if (p != "all" && p != "rank-aligned") throw UsageError("--pairs: expected all or rank-aligned");
        o.mode = p == "all" ? PairMode::AllPairs : PairMode::RankAligned;
        o.layer_gap = static_cast<int>(a.get_int("gap", 1));
        const Loaded L = load(db, runs, false, false, false);
        emit(value_or_error(transitions(L.arrays, o)), L);
    } else if (kind == "router") {
        RouterStatsOptions o;
        o.filter = base_filter(a, TokenKind::All);
        o.score = score_fn(a);
        if (a.has("micro-batches")) o.micro_batch_sizes = parse_int_list(a.get("micro-batches"), "--micro-batches");
        const Loaded L = load(db, runs, true, false, false);
        emit(value_or_error(router_stats(L.arrays, o)), L);
    } else if (kind == "saturation") {
        if (runs.size() != 1 || !a.has("reference-run"))
            throw UsageError("saturation needs exactly one --run and a --reference-run");
        SaturationOptions o;
        o.k = static_cast<int>(a.get_int("k", 0));
        const Loaded L = load(db, runs, false, false, false);
        const Loaded R = load(a.get_or("reference-db", db), {parse_int(a.get("reference-run"), "--reference-run")},
                              false, false, false);
        emit(value_or_error(router_saturation(R.arrays, L.arrays, o)), L);
        out.json["reference"] = source_json(a.get_or("reference-db", db), R);
    } else if (kind == "dynamic-k") {
        DynamicKOptions o;
        o.kind = token_kind(a, TokenKind::All);
        o.sets = a.all("set");
        o.top_p = a.get_double("top-p", 0.6);
        o.max_k = static_cast<int>(a.get_int("max-k", 0));
        o.score = score_fn(a);
        const Loaded L = load(db, runs, true, false, false);
        emit(value_or_error(dynamic_k(L.arrays, o)), L);
    } else if (kind == "super-experts") {
        SuperExpertOptions o;
        o.filter = base_filter(a, TokenKind::All);
        o.include_layers = a.get_double("include-layers", 0.75);
        o.percentile = a.get_double("percentile", 99.5);
        o.times = a.get_double("times", 10);
        o.repo_first_token_quirk = a.has("repo-quirk");
        const Loaded L = load(db, runs, false, true, false);
        emit(value_or_error(super_experts(L.arrays, o)), L);
    } else if (kind == "massive") {
        MassiveOptions o;
        o.min_abs = a.get_double("min-abs", 100);
        o.min_ratio = a.get_double("min-ratio", 1000);
        const Loaded L = load(db, runs, false, false, true);
        long long d = a.get_int("hidden-size", 0);
        if (d == 0 && L.model) {
            const auto cfg = nlohmann::json::parse(L.model->config_json, nullptr, false);
            if (cfg.is_object() && cfg.contains("hidden_size") && cfg["hidden_size"].is_number_integer())
                d = cfg["hidden_size"].get<long long>();
        }
        emit(value_or_error(massive_activations(L.arrays, static_cast<int>(d), base_filter(a, TokenKind::All), o)), L);
    } else if (kind == "sinks") {
        SinkOptions o;
        o.epsilon = a.get_double("epsilon", 0.3);
        o.tau = a.get_double("tau", 0.25);
        o.window = static_cast<int>(a.get_int("window", 64));
        const Loaded L = load(db, runs, false, false, true);
        emit(value_or_error(attention_sinks(L.arrays, base_filter(a, TokenKind::All), o)), L);
    } else if (kind == "lrc") {
        LrcOptions o;
        o.filter = base_filter(a, TokenKind::All);
        if (a.has("seg-lengths")) o.seg_lengths = parse_int_list(a.get("seg-lengths"), "--seg-lengths");
        if (a.has("cache-ratios")) o.cache_ratios = parse_double_list(a.get("cache-ratios"), "--cache-ratios");
        o.compute_sch = !a.has("no-sch");
        const Loaded L = load(db, runs, false, false, false);
        emit(value_or_error(local_routing_consistency(L.arrays, o)), L);
    } else if (kind == "importance") {
        ImportanceOptions o;
        o.filter = base_filter(a, TokenKind::All);
        std::string method = a.get_or("method", "output");
        if (method == "easy-ep") method = "easy_ep";
        o.method = value_or_usage(parse_importance_method(method));
        o.keep_per_layer = static_cast<int>(a.get_int("keep", 0));
        o.mc_alpha = a.get_double("mc-alpha", 1.0);
        o.mc_beta = a.get_double("mc-beta", 1.5);
        const bool need_act = o.method == ImportanceMethod::Output || o.method == ImportanceMethod::EasyEp;
        const Loaded L = load(db, runs, true, need_act, false);
        const ImportanceResult r = value_or_error(expert_importance(L.arrays, o));
        emit(r, L);
        if (a.has("plan-out")) write_json_file(a.get("plan-out"), prune_plan_json(r));
    } else {
        throw UsageError("unknown analysis '" + kind + "'\n" + kinds_help());
    }
    if (a.has("preset-out")) write_json_file(a.get("preset-out"), out.json.at("preset"));
    if (a.has("random-preset-out")) write_json_file(a.get("random-preset-out"), out.json.at("random_control"));
    return out;
}

}  // namespace

int cmd_analyze(const CommandArgs& args) {
    // The kind decides which options exist, so peek at the first non-option argument.
    std::string kind;
    for (const auto& s : args)
        if (!s.empty() && s[0] != '-') {
            kind = s;
            break;
        }
    Args a;
    declare(a, kind);
    const bool known = std::any_of(kinds().begin(), kinds().end(), [&](const Kind& k) { return kind == k.name; });
    if (!kind.empty() && !known) throw UsageError("unknown analysis '" + kind + "'\n" + kinds_help());
    a.parse(args);
    if (a.help_requested() || kind.empty()) {
        std::cout << a.usage("analyze" + (kind.empty() ? std::string() : " " + kind)) << kinds_help();
        return a.help_requested() ? 0 : 2;
    }
    if (a.has("csv") && a.has("json")) throw UsageError("--csv and --json are exclusive");
    const Output out = run_kind(kind, a);
    const std::string text = a.has("csv") ? out.csv : out.json.dump(2) + "\n";
    if (a.has("out")) {
        std::ofstream f(a.get("out"));
        if (!f) throw Error(a.get("out") + ": cannot open for writing");
        f << text;
        if (!f) throw Error(a.get("out") + ": write failed");
    } else {
        std::cout << text;
    }
    return 0;
}

}  // namespace moescope::cli
