// Tokenizer: loading tokenizer.json (+ tokenizer_config.json), encode, decode. See tokenizer.h.
#include "engine/tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "engine/tokenizer/added_vocab.h"
#include "engine/tokenizer/bpe.h"
#include "engine/tokenizer/components.h"
#include "engine/tokenizer/json_scan.h"
#include "engine/tokenizer/unicode.h"

namespace moescope {

using json = nlohmann::json;

struct Tokenizer::Impl {
    std::string source;
    tok::Bpe bpe;
    std::vector<tok::AddedToken> added;                 // in file order
    std::unordered_map<int32_t, std::size_t> added_by_id;
    tok::TokenMap added_by_content;
    tok::AddedTokenMatcher raw_matcher, normalized_matcher;
    std::unique_ptr<tok::Normalizer> normalizer;
    std::unique_ptr<tok::PreTokenizer> pre_tokenizer;
    std::unique_ptr<tok::Decoder> decoder;
    tok::PostProcessor post;
    int32_t vocab_size = 0;
    std::string bos_token, eos_token, pad_token, chat_template;
    std::optional<int32_t> bos_id, eos_id, pad_id;

    std::optional<int32_t> lookup(std::string_view t) const {
        if (auto it = added_by_content.find(t); it != added_by_content.end()) return it->second;
        return bpe.token_to_id(t);
    }
    const std::string* piece(int32_t id) const {
        if (auto it = added_by_id.find(id); it != added_by_id.end()) return &added[it->second].content;
        return bpe.id_to_token(id);
    }
    bool special(int32_t id) const {
        auto it = added_by_id.find(id);
        return it != added_by_id.end() && added[it->second].special;
    }
};

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw Error(path + ": cannot open file");
    const std::streamoff size = in.tellg();
    if (size < 0) throw Error(path + ": cannot determine the file size");
    std::string text(static_cast<std::size_t>(size), '\0');
    in.seekg(0);
    if (!in.read(text.data(), size)) throw Error(path + ": read error");
    return text;
}

json parse_json(std::string_view text, const std::string& name) {
    try {
        return json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
        throw Error(name + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
    }
}

// tokenizer_config.json stores special tokens as a string or as {"content": "...", ...}.
std::string token_name(const json& cfg, const char* key) {
    auto it = cfg.find(key);
    if (it == cfg.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
    return {};
}

void load(Tokenizer::Impl& t, const json& root, const std::string& name, const tok::ScannedModel* scanned) {
    if (!root.is_object()) throw Error(name + ": top level is not a JSON object");
    auto model = root.find("model");
    if (model == root.end()) throw Error(name + ": missing 'model'");
    const std::string type = model->is_object() ? model->value("type", std::string("BPE")) : std::string();
    if (type != "BPE") throw Error(name + ": unsupported model type '" + type + "' (only BPE is supported)");
    t.bpe.load(*model, name, scanned);

    int32_t max_id = static_cast<int32_t>(t.bpe.vocab_size()) - 1;
    if (auto at = root.find("added_tokens"); at != root.end() && !at->is_null()) {
        if (!at->is_array()) throw Error(name + ": 'added_tokens' must be an array");
        for (std::size_t k = 0; k < at->size(); ++k) {
            const json& a = (*at)[k];
            const std::string where = name + ": added_tokens[" + std::to_string(k) + "]";
            if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
                !a["content"].is_string())
                throw Error(where + ": needs integer 'id' and string 'content'");
            tok::AddedToken tk;
            tk.id = a["id"].get<int32_t>();
            if (tk.id < 0) throw Error(where + ": negative id");
            tk.content = a["content"].get<std::string>();
            if (!tok::utf8_valid(tk.content)) throw Error(where + ": content is not valid UTF-8");
            tk.special = a.value("special", false);
            tk.lstrip = a.value("lstrip", false);
            tk.rstrip = a.value("rstrip", false);
            tk.single_word = a.value("single_word", false);
            tk.normalized = a.value("normalized", !tk.special);
            t.added.push_back(std::move(tk));
            max_id = std::max(max_id, t.added.back().id);
        }
    }
    t.vocab_size = max_id + 1;
    for (std::size_t k = 0; k < t.added.size(); ++k) {
        t.added_by_id.emplace(t.added[k].id, k);
        t.added_by_content.emplace(t.added[k].content, t.added[k].id);
    }
    t.normalizer = tok::make_normalizer(root.value("normalizer", json()), name + ": normalizer");
    t.pre_tokenizer = tok::make_pre_tokenizer(root.value("pre_tokenizer", json()), name + ": pre_tokenizer");
    t.decoder = tok::make_decoder(root.value("decoder", json()), name + ": decoder");
    t.post = tok::make_post_processor(root.value("post_processor", json()), name + ": post_processor");
    // Normalized added tokens are matched against normalized text, so their pattern is normalized too.
    for (const auto& tk : t.added) {
        if (tk.normalized && t.normalizer) {
            std::string pattern = tk.content;
            t.normalizer->apply(pattern);
            t.normalized_matcher.add(pattern, &tk);
        } else if (tk.normalized) {
            t.normalized_matcher.add(tk.content, &tk);
        } else {
            t.raw_matcher.add(tk.content, &tk);
        }
    }
}

// Parses tokenizer.json (fast path for vocab/merges, see json_scan.h) and loads it into t.
void load_document(Tokenizer::Impl& t, std::string_view text, const std::string& name) {
    tok::ScannedModel scanned;
    if (tok::scan_tokenizer_json(text, scanned)) {
        json rest;
        try {
            rest = json::parse(scanned.rest);
        } catch (const json::parse_error&) {
            rest = parse_json(text, name);   // reports the error at its real offset
        }
        load(t, rest, name, &scanned);
        return;
    }
    load(t, parse_json(text, name), name, nullptr);
}

// transformers' LlamaTokenizerFast (and its relatives) rebuild the post-processor from
// add_bos_token / add_eos_token; DeepSeek-V3's tokenizer.json has a ByteLevel post-processor and
// gets its BOS this way. For other classes the flags only add what the post-processor lacks.
void apply_config(Tokenizer::Impl& t, const json& cfg, const std::string& name) {
    if (!cfg.is_object()) throw Error(name + ": top level is not a JSON object");
    t.bos_token = token_name(cfg, "bos_token");
    t.eos_token = token_name(cfg, "eos_token");
    t.pad_token = token_name(cfg, "pad_token");
    if (auto ct = cfg.find("chat_template"); ct != cfg.end()) {
        if (ct->is_string()) {
            t.chat_template = ct->get<std::string>();
        } else if (ct->is_array()) {   // [{"name": "default", "template": "..."}, ...]
            for (const auto& e : *ct)
                if (e.is_object() && e.value("name", std::string()) == "default" && e.contains("template"))
                    t.chat_template = e["template"].get<std::string>();
        }
    }
    const auto id_of = [&](const std::string& tokname, const char* what) -> std::optional<int32_t> {
        if (tokname.empty()) return std::nullopt;
        auto id = t.lookup(tokname);
        if (!id) throw Error(name + ": " + what + " '" + tokname + "' is not in the vocabulary");
        return id;
    };
    t.bos_id = id_of(t.bos_token, "bos_token");
    t.eos_id = id_of(t.eos_token, "eos_token");
    t.pad_id = id_of(t.pad_token, "pad_token");
    const std::string cls = cfg.value("tokenizer_class", std::string());
    const bool llama_like = cls.rfind("Llama", 0) == 0 || cls.rfind("CodeLlama", 0) == 0 || cls.rfind("Gemma", 0) == 0;
    const auto flag = [&](const char* key, bool def) {
        auto it = cfg.find(key);
        return it != cfg.end() && it->is_boolean() ? it->get<bool>() : def;
    };
    const bool add_bos = flag("add_bos_token", llama_like);
    const bool add_eos = flag("add_eos_token", false);
    if (llama_like) {
        tok::PostProcessor pp;
        if (add_bos && t.bos_id) pp.single.push_back({false, {*t.bos_id}});
        pp.single.push_back({true, {}});
        if (add_eos && t.eos_id) pp.single.push_back({false, {*t.eos_id}});
        if (pp.single.size() == 1) pp.single.clear();
        t.post = std::move(pp);
        return;
    }
    if (!t.post.adds_tokens() && ((add_bos && t.bos_id) || (add_eos && t.eos_id))) {
        tok::PostProcessor pp;
        if (add_bos && t.bos_id) pp.single.push_back({false, {*t.bos_id}});
        pp.single.push_back({true, {}});
        if (add_eos && t.eos_id) pp.single.push_back({false, {*t.eos_id}});
        t.post = std::move(pp);
    }
}

}  // namespace

Result<Tokenizer> Tokenizer::from_json(std::string_view tokenizer_json, std::string_view config_json, const std::string& name) {
    return try_result([&]() -> Tokenizer {
        auto impl = std::make_shared<Impl>();
        impl->source = name;
        load_document(*impl, tokenizer_json, name);
        if (!config_json.empty()) {
            const std::string cname = name + " (tokenizer_config.json)";
            apply_config(*impl, parse_json(config_json, cname), cname);
        }
        Tokenizer t;
        t.impl_ = std::move(impl);
        return t;
    });
}

Result<Tokenizer> Tokenizer::from_file(const std::string& tokenizer_json_path, const std::string& tokenizer_config_path) {
    return try_result([&]() -> Tokenizer {
        const std::string text = read_file(tokenizer_json_path);
        auto impl = std::make_shared<Impl>();
        impl->source = tokenizer_json_path;
        load_document(*impl, text, tokenizer_json_path);
        if (!tokenizer_config_path.empty())
            apply_config(*impl, parse_json(read_file(tokenizer_config_path), tokenizer_config_path), tokenizer_config_path);
        Tokenizer t;
        t.impl_ = std::move(impl);
        return t;
    });
}

Result<Tokenizer> Tokenizer::from_model_dir(const std::string& dir) {
    namespace fs = std::filesystem;
    const fs::path json_path = fs::path(dir) / "tokenizer.json";
    const fs::path cfg_path = fs::path(dir) / "tokenizer_config.json";
    std::error_code ec;
    if (!fs::exists(json_path, ec)) return Error(json_path.string() + ": not found (the model folder has no tokenizer.json)");
    return from_file(json_path.string(), fs::exists(cfg_path, ec) ? cfg_path.string() : std::string());
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special) const {
    impl();
    std::size_t bad = 0;
    if (!tok::utf8_valid(text, &bad))
        throw Error("tokenize: input text is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
    const Impl& t = *impl_;
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    std::vector<tok::Segment> raw, norm;
    t.raw_matcher.split(text, raw);
    for (const tok::Segment& seg : raw) {
        if (seg.id) { ids.push_back(*seg.id); continue; }
        std::string s(text.substr(seg.begin, seg.end - seg.begin));
        if (t.normalizer) t.normalizer->apply(s);
        norm.clear();
        t.normalized_matcher.split(s, norm);
        for (const tok::Segment& sub : norm) {
            if (sub.id) { ids.push_back(*sub.id); continue; }
            if (sub.begin == sub.end) continue;
            tok::Piece piece{s.substr(sub.begin, sub.end - sub.begin), seg.begin == 0 && sub.begin == 0};
            if (t.pre_tokenizer) t.pre_tokenizer->run(piece, [&](tok::Piece& p) { t.bpe.encode_piece(p.text, ids); });
            else t.bpe.encode_piece(piece.text, ids);
        }
    }
    if (add_special) return t.post.apply(ids);
    return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
    const Impl& t = impl();
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
        const std::string* p = t.piece(id);
        if (!p) throw Error("decode: token id " + std::to_string(id) + " is not in the vocabulary (size " +
                            std::to_string(t.vocab_size) + ")");
        if (skip_special && t.special(id)) continue;
        tokens.push_back(*p);
    }
    if (t.decoder) {
        t.decoder->apply(tokens);
        std::string out;
        for (const auto& s : tokens) out += s;
        return out;
    }
    std::string out;
    for (std::size_t k = 0; k < tokens.size(); ++k) {
        if (k) out.push_back(' ');
        out += tokens[k];
    }
    return out;
}

const Tokenizer::Impl& Tokenizer::impl() const {
    if (!impl_) throw Error("tokenizer: used before being loaded (default-constructed Tokenizer)");
    return *impl_;
}

std::string Tokenizer::token_to_piece(int32_t id) const {
    const std::string* p = impl_ ? impl_->piece(id) : nullptr;
    if (!p) throw Error("token id " + std::to_string(id) + " is not in the vocabulary");
    return *p;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const { return impl().lookup(token); }
int32_t Tokenizer::vocab_size() const { return impl().vocab_size; }
bool Tokenizer::is_special(int32_t id) const { return impl().special(id); }
std::optional<int32_t> Tokenizer::bos_id() const { return impl().bos_id; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl().eos_id; }
std::optional<int32_t> Tokenizer::pad_id() const { return impl().pad_id; }
std::optional<int32_t> Tokenizer::unk_id() const { return impl().bpe.unk_id(); }
const std::string& Tokenizer::bos_token() const { return impl().bos_token; }
const std::string& Tokenizer::eos_token() const { return impl().eos_token; }
const std::string& Tokenizer::chat_template() const { return impl().chat_template; }
const std::string& Tokenizer::source() const { return impl().source; }

// ---------------------------------------------------------------- IncrementalDecoder
// The approach of text-generation-inference's decode_token: decode a short window of recent ids
// twice (with and without the new ones) and emit the difference, unless it ends in an incomplete
// character (U+FFFD produced by a partial UTF-8 sequence), which is held back until it completes.

IncrementalDecoder::IncrementalDecoder(Tokenizer tokenizer, bool skip_special)
    : tok_(std::move(tokenizer)), skip_special_(skip_special) {}

namespace {
bool ends_with_replacement(const std::string& s) {
    return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}
}  // namespace

std::string IncrementalDecoder::push(int32_t id) {
    ids_.push_back(id);
    const std::vector<int32_t> window_prev(ids_.begin() + static_cast<long>(prefix_), ids_.begin() + static_cast<long>(read_));
    const std::vector<int32_t> window_all(ids_.begin() + static_cast<long>(prefix_), ids_.end());
    const std::string prev = tok_.decode(window_prev, skip_special_);
    const std::string all = tok_.decode(window_all, skip_special_);
    // A partial character can only be pending for up to 3 more byte tokens; past that the U+FFFD
    // is real (invalid bytes) and is emitted.
    if (ends_with_replacement(all) && ids_.size() - read_ < 4) return {};
    std::string out;
    if (all.compare(0, prev.size(), prev) == 0) out = all.substr(prev.size());
    else {
        std::size_t common = 0;
        while (common < prev.size() && common < all.size() && prev[common] == all[common]) ++common;
        common = tok::utf8_complete_prefix(all.substr(0, common));
        out = all.substr(common);
    }
    prefix_ = read_;
    read_ = ids_.size();
    return out;
}

std::string IncrementalDecoder::finish() {
    if (read_ == ids_.size()) return {};
    const std::vector<int32_t> window_prev(ids_.begin() + static_cast<long>(prefix_), ids_.begin() + static_cast<long>(read_));
    const std::vector<int32_t> window_all(ids_.begin() + static_cast<long>(prefix_), ids_.end());
    const std::string prev = tok_.decode(window_prev, skip_special_);
    const std::string all = tok_.decode(window_all, skip_special_);
    prefix_ = read_ = ids_.size();
    if (all.compare(0, prev.size(), prev) == 0) return all.substr(prev.size());
    return all;
}

}  // namespace moescope
