#include "storage/import.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "storage/npy.h"
#include "storage/schema.h"
#include "storage/sqlite.h"

namespace moescope::storage {

using nlohmann::json;

std::optional<ImportFormat> parse_import_format(const std::string& name) {
    if (name == "vllm-routed-experts" || name == "vllm") return ImportFormat::VllmRoutedExperts;
    if (name == "sglang-per-token" || name == "sglang") return ImportFormat::SglangPerToken;
    return std::nullopt;
}

namespace {

// One imported sequence: ids[T][M][K] (negative = empty slot) and what else the source carried.
struct Sequence {
    int64_t T = 0;
    int M = 0, K = 0;
    std::vector<int64_t> ids;
    std::vector<int64_t> token_ids;  // [T] or empty (absent)
    int64_t prompt_len = -1;         // >= 0 when prompt/generated is known
};

[[noreturn]] void bad(const std::string& file, const std::string& why) {
    throw Error(file + ": cannot import: " + why);
}

std::vector<uint8_t> read_all(const std::string& file) {
    std::ifstream f(file, std::ios::binary);
    if (!f) bad(file, "cannot open the file");
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::vector<uint8_t> base64_decode(const std::string& file, const std::string& s) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+' || c == '-') return 62;
        if (c == '/' || c == '_') return 63;
        return -1;
    };
    std::vector<uint8_t> out;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
        int v = val(c);
        if (v < 0) bad(file, "routed_experts: invalid base64 character at index " + std::to_string(i));
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
        }
    }
    return out;
}

// A nested JSON list of integers with exactly `rank` levels, rectangular. Returns shape + flat values.
void flatten(const std::string& file, const std::string& what, const json& j, int rank, std::vector<int64_t>& shape,
             std::vector<int64_t>& out, int depth = 0) {
    if (depth == rank) {
        if (!j.is_number_integer()) bad(file, what + ": expected integers, found " + std::string(j.type_name()));
        out.push_back(j.get<int64_t>());
        return;
    }
    if (!j.is_array()) bad(file, what + ": expected a " + std::to_string(rank) + "-level nested list");
    if (static_cast<int>(shape.size()) <= depth) shape.push_back(static_cast<int64_t>(j.size()));
    else if (shape[static_cast<size_t>(depth)] != static_cast<int64_t>(j.size()))
        bad(file, what + ": ragged nested list at depth " + std::to_string(depth));
    for (const auto& x : j) flatten(file, what, x, rank, shape, out, depth + 1);
}

Sequence from_tmk(const std::string& file, const std::vector<int64_t>& shape, std::vector<int64_t> values) {
    if (shape.size() != 3) bad(file, "expected a [tokens, moe_layers, top_k] array, got rank " + std::to_string(shape.size()));
    Sequence s;
    s.T = shape[0];
    s.M = static_cast<int>(shape[1]);
    s.K = static_cast<int>(shape[2]);
    s.ids = std::move(values);
    return s;
}

// [L][T][K] (SGLang's topk_ids_of_layer layout) -> [T][L][K]
Sequence from_ltk(const std::string& file, const std::vector<int64_t>& shape, const std::vector<int64_t>& v) {
    if (shape.size() != 3) bad(file, "expected a [layers, tokens, top_k] array, got rank " + std::to_string(shape.size()));
    Sequence s;
    s.M = static_cast<int>(shape[0]);
    s.T = shape[1];
    s.K = static_cast<int>(shape[2]);
    s.ids.resize(v.size());
    for (int l = 0; l < s.M; ++l)
        for (int64_t t = 0; t < s.T; ++t)
            for (int k = 0; k < s.K; ++k)
                s.ids[(static_cast<size_t>(t) * s.M + l) * s.K + k] = v[(static_cast<size_t>(l) * s.T + t) * s.K + k];
    return s;
}

std::vector<int64_t> int_list(const std::string& file, const json& j, const char* what) {
    std::vector<int64_t> shape, out;
    flatten(file, what, j, 1, shape, out);
    return out;
}

void attach_tokens(Sequence& s, const json& obj, const std::string& file) {
    std::vector<int64_t> prompt, output;
    bool has_prompt = obj.contains("prompt_token_ids") && obj["prompt_token_ids"].is_array();
    if (has_prompt) prompt = int_list(file, obj["prompt_token_ids"], "prompt_token_ids");
    for (const char* k : {"output_token_ids", "token_ids", "output_ids"})
        if (obj.contains(k) && obj[k].is_array()) {
            output = int_list(file, obj[k], k);
            break;
        }
    std::vector<int64_t> all = prompt;
    all.insert(all.end(), output.begin(), output.end());
    // the last generated token is never fed back, so routing may cover one token fewer than the ids
    if (!all.empty() && (static_cast<int64_t>(all.size()) == s.T || static_cast<int64_t>(all.size()) == s.T + 1)) {
        all.resize(static_cast<size_t>(s.T));
        s.token_ids = all;
    }
    if (has_prompt) s.prompt_len = static_cast<int64_t>(prompt.size());
}

Sequence from_base64(const std::string& file, const json& obj, const std::string& b64, bool tlk) {
    std::vector<uint8_t> raw = base64_decode(file, b64);
    if (raw.size() % 4 != 0) bad(file, "routed_experts: base64 payload is not a whole number of int32 values");
    std::vector<int64_t> v(raw.size() / 4);
    for (size_t i = 0; i < v.size(); ++i)
        v[i] = static_cast<int32_t>(raw[4 * i] | (raw[4 * i + 1] << 8) | (raw[4 * i + 2] << 16) |
                                    (static_cast<uint32_t>(raw[4 * i + 3]) << 24));
    std::vector<int64_t> shape;
    if (obj.contains("shape")) {
        shape = int_list(file, obj["shape"], "shape");
    } else {
        int64_t L = 0, K = 0;
        for (const char* k : {"num_moe_layers", "num_layers", "moe_layers"})
            if (obj.contains(k) && obj[k].is_number_integer()) L = obj[k].get<int64_t>();
        for (const char* k : {"top_k", "topk", "num_experts_per_tok"})
            if (obj.contains(k) && obj[k].is_number_integer()) K = obj[k].get<int64_t>();
        if (L <= 0 || K <= 0)
            bad(file, "routed_experts is base64 but the shape is unknown: add \"shape\": [tokens, layers, top_k] "
                      "(or \"num_layers\" and \"top_k\")");
        if (v.size() % static_cast<size_t>(L * K) != 0) bad(file, "routed_experts length is not a multiple of layers x top_k");
        shape = {static_cast<int64_t>(v.size()) / (L * K), L, K};
    }
    if (shape.size() != 3 || shape[0] * shape[1] * shape[2] != static_cast<int64_t>(v.size()))
        bad(file, "routed_experts: shape does not match the " + std::to_string(v.size()) + " decoded values");
    (void)tlk;
    return from_tmk(file, shape, std::move(v));
}

const json* find_key(const json& obj, const char* key) {
    if (obj.contains(key)) return &obj[key];
    for (const char* nest : {"meta_info", "sgl_ext"})
        if (obj.contains(nest) && obj[nest].is_object() && obj[nest].contains(key)) return &obj[nest][key];
    return nullptr;
}

Sequence vllm_object(const std::string& file, const json& obj) {
    const json* re = find_key(obj, "routed_experts");
    if (!re) bad(file, "no \"routed_experts\" entry");
    Sequence s;
    if (re->is_string()) {
        s = from_base64(file, obj, re->get<std::string>(), true);
    } else {
        std::vector<int64_t> shape, v;
        flatten(file, "routed_experts", *re, 3, shape, v);
        s = from_tmk(file, shape, std::move(v));
    }
    attach_tokens(s, obj, file);
    return s;
}

std::vector<Sequence> parse_vllm(const std::string& file) {
    if (file.size() > 4 && file.substr(file.size() - 4) == ".npy") {
        NpyArray a = read_npy(file);
        return {from_tmk(file, a.shape, std::move(a.values))};
    }
    std::vector<uint8_t> bytes = read_all(file);
    json j = json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (j.is_discarded()) bad(file, "neither .npy nor valid JSON");
    if (j.is_array() && !j.empty() && j[0].is_object()) {
        std::vector<Sequence> out;
        for (const auto& o : j) out.push_back(vllm_object(file, o));
        return out;
    }
    if (j.is_array()) {
        std::vector<int64_t> shape, v;
        flatten(file, "routed_experts", j, 3, shape, v);
        return {from_tmk(file, shape, std::move(v))};
    }
    if (j.is_object()) return {vllm_object(file, j)};
    bad(file, "unexpected JSON layout (expected a [T][M][K] list or an object with \"routed_experts\")");
}

std::vector<Sequence> parse_sglang(const std::string& file) {
    if (file.size() > 3 && (file.substr(file.size() - 3) == ".pt" || file.substr(file.size() - 4) == ".pth"))
        bad(file, "SGLang .pt files are Python pickles and are never loaded (unsafe); dump them to JSON or .npy first "
                  "(see docs/database.md)");
    if (file.size() > 4 && file.substr(file.size() - 4) == ".npy") {
        NpyArray a = read_npy(file);
        return {from_ltk(file, a.shape, a.values)};
    }
    std::vector<uint8_t> bytes = read_all(file);
    if (bytes.size() >= 2 && bytes[0] == 0x80) bad(file, "looks like a Python pickle; never loaded: dump it to JSON or .npy first");
    json j = json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (j.is_discarded()) bad(file, "neither .npy nor valid JSON");
    // per-request form
    if (j.is_object() && find_key(j, "routed_experts")) {
        const json* re = find_key(j, "routed_experts");
        Sequence s;
        if (re->is_string()) {
            const json& holder = j.contains("routed_experts") ? j : (j.contains("meta_info") ? j["meta_info"] : j["sgl_ext"]);
            json merged = holder;
            for (auto it = j.begin(); it != j.end(); ++it)
                if (!merged.contains(it.key())) merged[it.key()] = it.value();
            s = from_base64(file, merged, re->get<std::string>(), true);
        } else {
            std::vector<int64_t> shape, v;
            flatten(file, "routed_experts", *re, 3, shape, v);
            s = from_tmk(file, shape, std::move(v));
        }
        attach_tokens(s, j, file);
        return {s};
    }
    // recorder dump: records with topk_ids_of_layer [L][T][K], concatenated along tokens
    json records = j;
    if (j.is_object() && j.contains("records")) records = j["records"];
    if (j.is_object() && j.contains("topk_ids_of_layer")) records = json::array({j});
    if (!records.is_array() || records.empty()) bad(file, "no \"topk_ids_of_layer\" records and no \"routed_experts\"");
    std::vector<int64_t> p2l_shape, p2l;
    if (j.is_object() && j.contains("physical_to_logical_map")) flatten(file, "physical_to_logical_map", j["physical_to_logical_map"], 2, p2l_shape, p2l);
    std::vector<const json*> ordered;
    for (const auto& r : records) {
        if (!r.is_object() || !r.contains("topk_ids_of_layer")) bad(file, "a record has no \"topk_ids_of_layer\"");
        ordered.push_back(&r);
    }
    std::stable_sort(ordered.begin(), ordered.end(), [](const json* a, const json* b) {
        return a->value("forward_pass_id", 0) < b->value("forward_pass_id", 0);
    });
    Sequence all;
    for (const json* r : ordered) {
        std::vector<int64_t> shape, v;
        flatten(file, "topk_ids_of_layer", (*r)["topk_ids_of_layer"], 3, shape, v);
        Sequence s = from_ltk(file, shape, v);
        std::vector<int64_t> rs, rmap;
        const std::vector<int64_t>* map = &p2l;
        const std::vector<int64_t>* mshape = &p2l_shape;
        if (r->contains("physical_to_logical_map")) {
            flatten(file, "physical_to_logical_map", (*r)["physical_to_logical_map"], 2, rs, rmap);
            map = &rmap;
            mshape = &rs;
        }
        if (!map->empty()) {  // redundant experts: physical slot -> logical expert, per layer
            if ((*mshape)[0] != s.M) bad(file, "physical_to_logical_map has " + std::to_string((*mshape)[0]) + " layers, routing has " + std::to_string(s.M));
            for (int64_t t = 0; t < s.T; ++t)
                for (int l = 0; l < s.M; ++l)
                    for (int k = 0; k < s.K; ++k) {
                        int64_t& id = s.ids[(static_cast<size_t>(t) * s.M + l) * s.K + k];
                        if (id < 0) continue;
                        if (id >= (*mshape)[1]) bad(file, "physical expert " + std::to_string(id) + " beyond physical_to_logical_map");
                        id = (*map)[static_cast<size_t>(l * (*mshape)[1] + id)];
                    }
        }
        if (all.T == 0) {
            all.M = s.M;
            all.K = s.K;
        } else if (s.M != all.M || s.K != all.K) {
            bad(file, "records disagree on layers x top_k");
        }
        all.T += s.T;
        all.ids.insert(all.ids.end(), s.ids.begin(), s.ids.end());
    }
    return {all};
}

}  // namespace

ImportResult import_routing(Database& db, ImportFormat format, const std::string& file, const ImportOptions& opt) {
    if (!db.writable()) throw Error(db.path() + ": import needs the database opened for writing");
    std::vector<Sequence> seqs = format == ImportFormat::VllmRoutedExperts ? parse_vllm(file) : parse_sglang(file);
    int M = 0, K = 0;
    int64_t max_id = -1;
    for (const auto& s : seqs) {
        if (M == 0) {
            M = s.M;
            K = s.K;
        } else if (s.M != M || s.K != K) {
            bad(file, "sequences disagree on moe_layers x top_k");
        }
        for (int64_t id : s.ids) {
            if (id > 32767) bad(file, "expert id " + std::to_string(id) + " does not fit int16");
            max_id = std::max(max_id, id);
        }
    }
    if (M <= 0 || K <= 0) bad(file, "no routing in the file (zero layers or top_k)");
    if (!opt.moe_layers.empty() && static_cast<int>(opt.moe_layers.size()) != M)
        bad(file, "--moe-layers lists " + std::to_string(opt.moe_layers.size()) + " layers, the file has " + std::to_string(M));
    if (opt.n_experts > 0 && max_id >= opt.n_experts)
        bad(file, "expert id " + std::to_string(max_id) + " >= n_experts " + std::to_string(opt.n_experts));
    for (int l : opt.moe_layers)
        if (l < 0 || l >= kMaxLayers) bad(file, "--moe-layers: layer " + std::to_string(l) + " out of range 0.." + std::to_string(kMaxLayers - 1));
    std::vector<int> layers = opt.moe_layers;
    if (layers.empty())
        for (int m = 0; m < M; ++m) layers.push_back(m);
    bool have_tokens = true, have_generated = true;
    for (const auto& s : seqs) {
        have_tokens = have_tokens && !s.token_ids.empty();
        have_generated = have_generated && s.prompt_len >= 0;
    }
    json fields = {{"experts", true},
                   {"weights", false},
                   {"shared_gate", false},
                   {"router_logits", false},
                   {"activations", false},
                   {"token_ids", have_tokens},
                   {"token_text", false},
                   {"generated", have_generated},
                   {"moe_layers", !opt.moe_layers.empty()},
                   {"n_experts", opt.n_experts > 0}};

    ImportResult res;
    Db& c = db.db();
    WriteTxn txn(c);
    ModelInfo mi;
    mi.name = opt.model_name.empty() ? "unknown (imported)" : opt.model_name;
    mi.top_k = K;
    mi.n_experts = opt.n_experts > 0 ? opt.n_experts : static_cast<int>(max_id + 1);
    mi.moe_layers = layers;
    mi.n_layers = layers.back() + 1;
    RunInfo r;
    r.model_id = db.find_or_add_model(mi);
    r.kind = RunKind::Import;
    r.label = opt.label.empty() ? file.substr(file.rfind('/') == std::string::npos ? 0 : file.rfind('/') + 1) : opt.label;
    r.capture = CaptureLevel::Routing;
    r.n_layers = mi.n_layers;
    r.n_experts = mi.n_experts;
    r.k_max = K;
    r.moe_layers = layers;
    r.fields_json = fields.dump();
    r.source = (format == ImportFormat::VllmRoutedExperts ? "vllm-routed-experts:" : "sglang-per-token:") + file;
    r.sampling_json = "{}";
    const int64_t run = db.begin_run(r);
    std::optional<int64_t> set_id;
    if (opt.prompt_set) set_id = db.prompt_set(*opt.prompt_set);

    Stmt ins_prompt = c.prepare("INSERT INTO prompt(set_id, text) VALUES (?, NULL)");
    Stmt ins_tok = c.prepare(
        "INSERT INTO token(id, run_id, seq, position, step, prompt_id, token_id, text, generated) VALUES (?,?,?,?,NULL,?,?,NULL,?)");
    Stmt ins_rt = c.prepare("INSERT INTO routing(id, experts, weights, shared_gate) VALUES (?,?,NULL,NULL)");
    Stmt ins_step = c.prepare("INSERT INTO step(run_id, idx, seq, step, first_token, n_tokens) VALUES (?,?,?,-1,?,?)");
    int64_t next = c.query_int("SELECT IFNULL(MAX(id),0)+1 FROM token");
    std::map<std::pair<int, int64_t>, int64_t> counts;
    std::vector<int16_t> blob;
    for (size_t si = 0; si < seqs.size(); ++si) {
        const Sequence& s = seqs[si];
        int64_t prompt = -1;
        if (set_id) {
            ins_prompt.bind(1, *set_id).run();
            prompt = c.last_insert_rowid();
        }
        ins_step.bind(1, run).bind(2, static_cast<int64_t>(si)).bind(3, static_cast<int64_t>(si)).bind(4, next).bind(5, s.T).run();
        for (int64_t t = 0; t < s.T; ++t) {
            const int64_t tok = next++;
            ins_tok.bind(1, tok).bind(2, run).bind(3, static_cast<int64_t>(si)).bind(4, t);
            if (prompt >= 0) ins_tok.bind(5, prompt);
            if (!s.token_ids.empty()) ins_tok.bind(6, s.token_ids[static_cast<size_t>(t)]);
            ins_tok.bind(7, s.prompt_len >= 0 && t >= s.prompt_len ? 1 : 0);
            ins_tok.run();
            for (int m = 0; m < M; ++m) {
                blob.clear();
                for (int k = 0; k < K; ++k) {
                    int64_t id = s.ids[(static_cast<size_t>(t) * M + m) * K + k];
                    if (id < 0) continue;  // padding / dropped slot: absent
                    blob.push_back(static_cast<int16_t>(id));
                    ++counts[{layers[static_cast<size_t>(m)], id}];
                }
                ins_rt.bind(1, routing_key(tok, layers[static_cast<size_t>(m)]));
                ins_rt.bind_blob(2, blob.data(), blob.size() * sizeof(int16_t));
                ins_rt.run();
            }
        }
        res.tokens += s.T;
    }
    Stmt agg = c.prepare("INSERT INTO expert_agg(run_id, layer, expert, count, weight_sum, down_proj_max) VALUES (?,?,?,?,NULL,NULL)");
    for (const auto& [key, n] : counts) agg.bind(1, run).bind(2, key.first).bind(3, key.second).bind(4, n).run();
    Stmt lagg = c.prepare("INSERT INTO layer_agg(run_id, layer, tokens) VALUES (?,?,?)");
    for (int layer : layers) lagg.bind(1, run).bind(2, layer).bind(3, res.tokens).run();
    Stmt fin = c.prepare("UPDATE run SET status='complete', finished_at=?, steps_committed=? WHERE id=?");
    fin.bind(1, utc_now_iso()).bind(2, static_cast<int64_t>(seqs.size())).bind(3, run).run();
    txn.commit();
    res.run_id = run;
    res.sequences = static_cast<int64_t>(seqs.size());
    res.n_moe = M;
    res.top_k = K;
    res.fields_json = fields.dump();
    return res;
}

}  // namespace moescope::storage
