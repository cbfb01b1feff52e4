#include "storage/export.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/model/safetensors.h"
#include "storage/capture.h"
#include "storage/routing_reader.h"

namespace moescope::storage {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

std::optional<ExportFormat> parse_export_format(const std::string& name) {
    if (name == "csv") return ExportFormat::Csv;
    if (name == "jsonl") return ExportFormat::Jsonl;
    if (name == "safetensors") return ExportFormat::Safetensors;
    return std::nullopt;
}

namespace {

struct File {
    std::FILE* f = nullptr;
    std::string path;
    explicit File(const std::string& p) : path(p) {
        f = std::fopen(p.c_str(), "wb");
        if (!f) throw Error(p + ": cannot write: " + std::strerror(errno));
    }
    ~File() {
        if (f) std::fclose(f);
    }
    void put(const std::string& s) {
        if (std::fwrite(s.data(), 1, s.size(), f) != s.size()) throw Error(path + ": write failed: " + std::strerror(errno));
    }
    void close() {
        int rc = std::fclose(f);
        f = nullptr;
        if (rc != 0) throw Error(path + ": write failed: " + std::strerror(errno));
    }
};

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) {
        if (c == '"') q += '"';
        q += c;
    }
    return q + "\"";
}

std::string fmt_float(float v) {
    if (std::isnan(v)) return "";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
    return buf;
}

json parse_or(const std::string& s, json def) {
    json j = json::parse(s, nullptr, false);
    return j.is_discarded() ? def : j;
}

struct TokenExtra {
    std::vector<int32_t> seq;
    std::vector<std::optional<std::string>> text;
};

TokenExtra token_extra(Database& db, int64_t run) {
    TokenExtra x;
    Stmt s = db.db().prepare("SELECT seq, text FROM token WHERE run_id=? ORDER BY id");
    s.bind(1, run);
    while (s.step()) {
        x.seq.push_back(s.int32(0));
        x.text.push_back(s.is_null(1) ? std::nullopt : std::optional<std::string>(s.text(1)));
    }
    return x;
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
    std::vector<uint8_t> b(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}

}  // namespace

ExportResult export_routing(Database& db, ExportFormat format, const std::string& out_dir, std::optional<int64_t> run) {
    if (::mkdir(out_dir.c_str(), 0755) != 0 && errno != EEXIST)
        throw Error(out_dir + ": cannot create the export folder: " + std::strerror(errno));
    ExportResult res;
    std::vector<RunInfo> runs;
    if (run) runs.push_back(db.run(*run));
    else runs = db.runs();

    ordered_json side;
    side["format"] = "moescope-export";
    side["schema_version"] = db.schema_version();
    side["export_format"] = format == ExportFormat::Csv ? "csv" : format == ExportFormat::Jsonl ? "jsonl" : "safetensors";
    side["runs"] = json::array();
    std::set<int64_t> prompts_used;

    std::unique_ptr<File> rfile, tfile, lfile, hfile;  // lfile/hfile: layer statistics, per-head sink mass
    if (format == ExportFormat::Csv) {
        rfile = std::make_unique<File>(out_dir + "/routing.csv");
        tfile = std::make_unique<File>(out_dir + "/tokens.csv");
        rfile->put("run_id,token_index,seq,position,token_id,generated,layer,rank,expert,weight,shared_gate\n");
        tfile->put("run_id,token_index,seq,position,token_id,generated,prompt_id,prompt_set,text\n");
    } else if (format == ExportFormat::Jsonl) {
        rfile = std::make_unique<File>(out_dir + "/routing.jsonl");
        tfile = std::make_unique<File>(out_dir + "/tokens.jsonl");
    }

    for (const RunInfo& r : runs) {
        RoutingSelection sel;
        sel.run_ids = {r.id};
        sel.logits = r.capture >= CaptureLevel::Logits;
        sel.activations = sel.layer_stats = r.capture >= CaptureLevel::Activations;
        RoutingArrays a = read_routing(db, sel);
        TokenExtra x = token_extra(db, r.id);
        json fields = parse_or(r.fields_json, json::object());
        const bool gen_known = fields.value("generated", true);
        const size_t M = static_cast<size_t>(a.n_moe), K = static_cast<size_t>(a.k_max);
        ++res.runs;
        res.tokens += a.n_tokens;
        res.token_layers += a.n_tokens * a.n_moe;
        for (int64_t p : a.prompt_id)
            if (p >= 0) prompts_used.insert(p);

        ordered_json rj;
        rj["id"] = r.id;
        rj["kind"] = run_kind_name(r.kind);
        rj["label"] = r.label;
        rj["status"] = run_status_name(r.status);
        rj["status_detail"] = r.status_detail;
        rj["created_at"] = r.created_at;
        rj["finished_at"] = r.finished_at;
        rj["engine_version"] = r.engine_version;
        if (auto m = db.model(r.model_id)) {
            rj["model"] = {{"id", m->id},           {"name", m->name},         {"architecture", m->architecture},
                           {"path", m->path},       {"content_hash", m->content_hash},
                           {"n_layers", m->n_layers}, {"n_experts", m->n_experts}, {"top_k", m->top_k},
                           {"config", parse_or(m->config_json, nullptr)}};
        }
        rj["capture_level"] = capture_level_name(r.capture);
        if (r.capture >= CaptureLevel::Logits) rj["logits_dtype"] = r.logits_dtype == LogitsDtype::F16 ? "F16" : "F32";
        rj["moe_layers"] = a.moe_layers;
        rj["k_max"] = a.k_max;
        rj["n_experts"] = a.n_experts;
        rj["n_layers"] = a.n_layers;
        rj["n_tokens"] = a.n_tokens;
        rj["sampling"] = parse_or(r.sampling_json, json::object());
        rj["interventions"] = parse_or(r.interventions_json, json::array());
        rj["seed"] = r.seed ? json(*r.seed) : json(nullptr);
        rj["fields"] = fields;
        rj["source"] = r.source;
        rj["dropped_steps"] = r.dropped_steps;

        const auto set_name = [&](size_t t) -> std::string {
            int32_t s = a.set_index[t];
            return s >= 0 ? a.set_names[static_cast<size_t>(s)] : std::string();
        };
        if (format == ExportFormat::Csv) {
            std::string line;
            for (size_t t = 0; t < static_cast<size_t>(a.n_tokens); ++t) {
                std::string head = std::to_string(r.id) + "," + std::to_string(t) + "," + std::to_string(x.seq[t]) + "," +
                                   std::to_string(a.position[t]) + "," +
                                   (a.token_id[t] >= 0 ? std::to_string(a.token_id[t]) : std::string()) + "," +
                                   (gen_known ? std::to_string(a.generated[t]) : std::string()) + ",";
                tfile->put(head + (a.prompt_id[t] >= 0 ? std::to_string(a.prompt_id[t]) : std::string()) + "," +
                           csv_field(set_name(t)) + "," + (x.text[t] ? csv_field(*x.text[t]) : std::string()) + "\n");
                line.clear();
                for (size_t m = 0; m < M; ++m)
                    for (size_t j = 0; j < K; ++j) {
                        size_t i = a.slot(static_cast<int64_t>(t), static_cast<int>(m), static_cast<int>(j));
                        if (a.experts[i] < 0) continue;
                        line += head + std::to_string(a.moe_layers[m]) + "," + std::to_string(j) + "," +
                                std::to_string(a.experts[i]) + "," + (a.has_weights() ? fmt_float(a.weights[i]) : "") + "," +
                                (a.has_shared_gate() ? fmt_float(a.shared_gate[t * M + m]) : "") + "\n";
                    }
                rfile->put(line);
            }
            if (a.has_layer_stats()) {
                if (!lfile) {
                    lfile = std::make_unique<File>(out_dir + "/layer_stats.csv");
                    lfile->put("run_id,token_index,layer,hidden_max_abs,hidden_max_channel,hidden_norm,sink_mass\n");
                }
                if (a.has_sink_heads() && !hfile) {
                    hfile = std::make_unique<File>(out_dir + "/sink_heads.csv");
                    hfile->put("run_id,token_index,layer,head,sink_mass\n");
                }
                std::string lines, hlines;
                for (size_t t = 0; t < static_cast<size_t>(a.n_tokens); ++t)
                    for (int l = 0; l < a.n_layers; ++l) {
                        const size_t i = a.layer_index(static_cast<int64_t>(t), l);
                        if (std::isnan(a.hidden_max_abs[i])) continue;  // no row stored for this token-layer
                        const std::string key = std::to_string(r.id) + "," + std::to_string(t) + "," + std::to_string(l) + ",";
                        lines += key + fmt_float(a.hidden_max_abs[i]) + "," + std::to_string(a.hidden_max_channel[i]) + "," +
                                 fmt_float(a.hidden_norm[i]) + "," + fmt_float(a.sink_mass[i]) + "\n";
                        for (int h = 0; h < (a.has_sink_heads() ? a.n_heads : 0); ++h) {
                            const float v = a.sink_mass_head[a.head_index(static_cast<int64_t>(t), l, h)];
                            if (!std::isnan(v)) hlines += key + std::to_string(h) + "," + fmt_float(v) + "\n";
                        }
                    }
                lfile->put(lines);
                if (hfile) hfile->put(hlines);
            }
        } else if (format == ExportFormat::Jsonl) {
            for (size_t t = 0; t < static_cast<size_t>(a.n_tokens); ++t) {
                ordered_json tj;
                tj["run_id"] = r.id;
                tj["token_index"] = t;
                tj["seq"] = x.seq[t];
                tj["position"] = a.position[t];
                tj["token_id"] = a.token_id[t] >= 0 ? json(a.token_id[t]) : json(nullptr);
                tj["generated"] = gen_known ? json(a.generated[t] != 0) : json(nullptr);
                tj["prompt_id"] = a.prompt_id[t] >= 0 ? json(a.prompt_id[t]) : json(nullptr);
                tj["prompt_set"] = a.set_index[t] >= 0 ? json(set_name(t)) : json(nullptr);
                tj["text"] = x.text[t] ? json(*x.text[t]) : json(nullptr);
                tfile->put(tj.dump() + "\n");
                for (size_t m = 0; m < M; ++m) {
                    ordered_json rt;
                    rt["run_id"] = r.id;
                    rt["token_index"] = t;
                    rt["layer"] = a.moe_layers[m];
                    json ex = json::array(), w = json::array();
                    for (size_t j = 0; j < K; ++j) {
                        size_t i = a.slot(static_cast<int64_t>(t), static_cast<int>(m), static_cast<int>(j));
                        if (a.experts[i] < 0) continue;
                        ex.push_back(a.experts[i]);
                        if (a.has_weights()) w.push_back(a.weights[i]);
                    }
                    rt["experts"] = ex;
                    rt["weights"] = a.has_weights() ? w : json(nullptr);
                    const float g = a.has_shared_gate() ? a.shared_gate[t * M + m] : NAN;
                    rt["shared_gate"] = std::isnan(g) ? json(nullptr) : json(g);
                    rfile->put(rt.dump() + "\n");
                }
            }
            if (a.has_layer_stats()) {
                if (!lfile) lfile = std::make_unique<File>(out_dir + "/layer_stats.jsonl");
                std::string lines;
                for (size_t t = 0; t < static_cast<size_t>(a.n_tokens); ++t)
                    for (int l = 0; l < a.n_layers; ++l) {
                        const size_t i = a.layer_index(static_cast<int64_t>(t), l);
                        if (std::isnan(a.hidden_max_abs[i])) continue;
                        ordered_json lj;
                        lj["run_id"] = r.id;
                        lj["token_index"] = t;
                        lj["layer"] = l;
                        lj["hidden_max_abs"] = a.hidden_max_abs[i];
                        lj["hidden_max_channel"] = a.hidden_max_channel[i];
                        lj["hidden_norm"] = a.hidden_norm[i];
                        lj["sink_mass"] = a.sink_mass[i];
                        json heads = nullptr;
                        if (a.has_sink_heads() && !std::isnan(a.sink_mass_head[a.head_index(static_cast<int64_t>(t), l, 0)])) {
                            heads = json::array();
                            for (int h = 0; h < a.n_heads; ++h)
                                heads.push_back(a.sink_mass_head[a.head_index(static_cast<int64_t>(t), l, h)]);
                        }
                        lj["sink_mass_head"] = heads;
                        lines += lj.dump() + "\n";
                    }
                lfile->put(lines);
            }
        } else {
            const int64_t T = a.n_tokens, Mi = a.n_moe, Ki = a.k_max;
            SafetensorsWriter w;
            w.add_raw("experts", "I16", {T, Mi, Ki}, bytes_of(a.experts));
            if (a.has_weights()) w.add_raw("weights", "F32", {T, Mi, Ki}, bytes_of(a.weights));
            if (a.has_shared_gate()) w.add_raw("shared_gate", "F32", {T, Mi}, bytes_of(a.shared_gate));
            w.add_raw("token_ids", "I32", {T}, bytes_of(a.token_id));
            w.add_raw("positions", "I32", {T}, bytes_of(a.position));
            w.add_raw("seq", "I32", {T}, bytes_of(x.seq));
            if (gen_known) w.add_raw("generated", "U8", {T}, bytes_of(a.generated));
            w.add_raw("prompt_ids", "I64", {T}, bytes_of(a.prompt_id));
            if (a.has_logits()) {
                const int64_t E = a.n_experts;
                if (r.logits_dtype == LogitsDtype::F16) w.add_f32("router_logits", DType::F16, {T, Mi, E}, a.router_logits);
                else w.add_raw("router_logits", "F32", {T, Mi, E}, bytes_of(a.router_logits));
            }
            if (a.has_activations()) {
                w.add_raw("expert_out_norm", "F32", {T, Mi, Ki}, bytes_of(a.expert_out_norm));
                w.add_raw("down_proj_max", "F32", {T, Mi, Ki}, bytes_of(a.down_proj_max));
                w.add_raw("down_proj_channel", "I32", {T, Mi, Ki}, bytes_of(a.down_proj_channel));
                if (a.has_token_contribution())
                    w.add_raw("token_contribution", "F32", {T, Mi}, bytes_of(a.token_contribution));
            }
            if (a.has_layer_stats()) {
                const int64_t NL = a.n_layers;
                w.add_raw("hidden_max_abs", "F32", {T, NL}, bytes_of(a.hidden_max_abs));
                w.add_raw("hidden_max_channel", "I32", {T, NL}, bytes_of(a.hidden_max_channel));
                w.add_raw("hidden_norm", "F32", {T, NL}, bytes_of(a.hidden_norm));
                w.add_raw("sink_mass", "F32", {T, NL}, bytes_of(a.sink_mass));
                if (a.has_sink_heads())
                    w.add_raw("sink_mass_head", "F32", {T, NL, static_cast<int64_t>(a.n_heads)}, bytes_of(a.sink_mass_head));
            }
            w.set_metadata("format", "moescope-routing");
            w.set_metadata("run_id", std::to_string(r.id));
            w.set_metadata("moe_layers", json(a.moe_layers).dump());
            std::string file = out_dir + "/run_" + std::to_string(r.id) + ".safetensors";
            w.write(file);
            res.files.push_back(file);
            rj["file"] = "run_" + std::to_string(r.id) + ".safetensors";
            json texts = json::array();
            for (const auto& t : x.text) texts.push_back(t ? json(*t) : json(nullptr));
            rj["token_text"] = texts;
        }
        side["runs"].push_back(rj);
    }
    for (File* f : {rfile.get(), tfile.get(), lfile.get(), hfile.get()}) {
        if (!f) continue;
        f->close();
        res.files.push_back(f->path);
    }
    side["prompt_sets"] = json::array();
    {
        Stmt s = db.db().prepare("SELECT id, name FROM prompt_set ORDER BY id");
        while (s.step()) side["prompt_sets"].push_back({{"id", s.int64(0)}, {"name", s.text(1)}});
    }
    side["prompts"] = json::array();
    {
        Stmt s = db.db().prepare("SELECT id, set_id, text, messages_json FROM prompt WHERE id=?");
        for (int64_t p : prompts_used) {
            s.bind(1, p);
            if (s.step()) {
                ordered_json pj;
                pj["id"] = s.int64(0);
                pj["set_id"] = s.is_null(1) ? json(nullptr) : json(s.int64(1));
                pj["text"] = s.is_null(2) ? json(nullptr) : json(s.text(2));
                pj["messages"] = s.is_null(3) ? json(nullptr) : parse_or(s.text(3), nullptr);
                side["prompts"].push_back(pj);
            }
            s.reset();
        }
    }
    File sf(out_dir + "/runs.json");
    sf.put(side.dump(2) + "\n");
    sf.close();
    res.files.push_back(sf.path);
    return res;
}

}  // namespace moescope::storage
