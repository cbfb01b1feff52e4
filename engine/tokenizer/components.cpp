// Normalizers, pre-tokenizers, decoders and post-processors of tokenizer.json; see components.h.
#include "engine/tokenizer/components.h"

#include <array>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/unicode.h"

namespace moescope::tok {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& where, const std::string& why) { throw Error(where + ": " + why); }

std::string type_of(const json& j, const std::string& where) {
    if (!j.is_object()) fail(where, "expected an object");
    auto it = j.find("type");
    if (it == j.end() || !it->is_string()) fail(where, "missing string field 'type'");
    return it->get<std::string>();
}

std::string get_string(const json& j, const char* key, const std::string& where, const char* def = nullptr) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        if (def) return def;
        fail(where, std::string("missing string field '") + key + "'");
    }
    if (!it->is_string()) fail(where, std::string("field '") + key + "' must be a string");
    return it->get<std::string>();
}

bool get_bool(const json& j, const char* key, bool def) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null() || !it->is_boolean()) return def;
    return it->get<bool>();
}

// A Split/Replace pattern: {"String": "..."} or {"Regex": "..."}.
struct Pattern {
    std::string literal;
    std::unique_ptr<Regex> regex;

    static Pattern from(const json& j, const std::string& where) {
        Pattern p;
        if (j.is_string()) { p.literal = j.get<std::string>(); return p; }
        if (!j.is_object()) fail(where, "pattern must be {\"String\": ..} or {\"Regex\": ..}");
        if (auto it = j.find("String"); it != j.end() && it->is_string()) {
            p.literal = it->get<std::string>();
        } else if (auto r = j.find("Regex"); r != j.end() && r->is_string()) {
            try {
                p.regex = std::make_unique<Regex>(Regex::compile(r->get<std::string>()));
            } catch (const Error& e) {
                fail(where, e.what());
            }
        } else {
            fail(where, "pattern must be {\"String\": ..} or {\"Regex\": ..}");
        }
        return p;
    }

    // Non-overlapping matches as byte spans.
    void find(std::string_view s, std::vector<std::pair<std::size_t, std::size_t>>& out) const {
        out.clear();
        if (!regex) {
            if (literal.empty()) return;
            for (std::size_t pos = s.find(literal); pos != std::string_view::npos; pos = s.find(literal, pos + literal.size()))
                out.emplace_back(pos, pos + literal.size());
            return;
        }
        // Local buffers: pre-tokenizers nest (a Split inside a Sequence runs while another one's
        // matches are still being consumed), so these cannot be shared per thread.
        std::vector<uint32_t> cps;
        std::vector<std::size_t> offs;
        std::vector<std::pair<std::size_t, std::size_t>> spans;
        cps.reserve(s.size());
        offs.reserve(s.size() + 1);
        for (std::size_t i = 0; i < s.size();) {
            offs.push_back(i);
            cps.push_back(utf8_next(s, i));
        }
        offs.push_back(s.size());
        regex->find_all(cps.data(), cps.size(), spans);
        for (const auto& sp : spans) out.emplace_back(offs[sp.first], offs[sp.second]);
    }
};

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior behavior_from(const std::string& s, const std::string& where) {
    if (s == "Removed") return Behavior::Removed;
    if (s == "Isolated") return Behavior::Isolated;
    if (s == "MergedWithPrevious") return Behavior::MergedWithPrevious;
    if (s == "MergedWithNext") return Behavior::MergedWithNext;
    if (s == "Contiguous") return Behavior::Contiguous;
    fail(where, "unknown split behavior '" + s + "'");
}

struct Span {
    std::size_t begin, end;
    bool flag;   // is_match before the behavior; should_remove after
};

// tokenizers' NormalizedString::split: matches -> spans covering the text -> behavior -> pieces.
void split_piece(const Piece& piece, const std::vector<std::pair<std::size_t, std::size_t>>& matches, bool invert,
                 Behavior behavior, const PieceSink& sink) {
    const std::string& s = piece.text;
    if (behavior == Behavior::Isolated || behavior == Behavior::Removed) {   // streaming fast path
        Piece sub;
        std::size_t prev = 0;
        const auto emit = [&](std::size_t b, std::size_t e, bool is_match) {
            if (b == e || (behavior == Behavior::Removed && is_match)) return;
            sub.text.assign(s, b, e - b);
            sub.at_origin = piece.at_origin && b == 0;
            sink(sub);
        };
        for (const auto& m : matches) {
            if (prev != m.first) emit(prev, m.first, invert);
            emit(m.first, m.second, !invert);
            prev = m.second;
        }
        if (prev != s.size()) emit(prev, s.size(), invert);
        return;
    }
    std::vector<Span> spans;
    std::size_t prev = 0;
    for (const auto& m : matches) {
        if (prev != m.first) spans.push_back({prev, m.first, invert});
        spans.push_back({m.first, m.second, !invert});
        prev = m.second;
    }
    if (prev != s.size()) spans.push_back({prev, s.size(), invert});
    std::vector<Span> res;
    switch (behavior) {
        case Behavior::Isolated:
            for (auto sp : spans) res.push_back({sp.begin, sp.end, false});
            break;
        case Behavior::Removed:
            res = spans;
            break;
        case Behavior::Contiguous: {
            bool prev_match = false;
            for (const auto& sp : spans) {
                if (!res.empty() && prev_match == sp.flag) res.back().end = sp.end;
                else res.push_back({sp.begin, sp.end, false});
                prev_match = sp.flag;
            }
            break;
        }
        case Behavior::MergedWithPrevious: {
            bool prev_match = false;
            for (const auto& sp : spans) {
                if (sp.flag && !prev_match && !res.empty()) res.back().end = sp.end;
                else res.push_back({sp.begin, sp.end, false});
                prev_match = sp.flag;
            }
            break;
        }
        case Behavior::MergedWithNext: {
            bool prev_match = false;
            for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
                if (it->flag && !prev_match && !res.empty()) res.back().begin = it->begin;
                else res.push_back({it->begin, it->end, false});
                prev_match = it->flag;
            }
            std::reverse(res.begin(), res.end());
            break;
        }
    }
    for (const auto& sp : res) {
        if (sp.flag || sp.begin == sp.end) continue;
        Piece sub{s.substr(sp.begin, sp.end - sp.begin), piece.at_origin && sp.begin == 0};
        sink(sub);
    }
}

// ---------------------------------------------------------------- normalizers

struct NfcNormalizer : Normalizer {
    bool compose;
    explicit NfcNormalizer(bool c) : compose(c) {}
    void apply(std::string& t) const override { t = compose ? nfc(t) : nfd(t); }
};

struct PrependNormalizer : Normalizer {
    std::string prepend;
    // tokenizers prepends only to non-empty text.
    void apply(std::string& t) const override {
        if (!t.empty()) t.insert(0, prepend);
    }
};

struct ReplaceNormalizer : Normalizer {
    Pattern pattern;
    std::string content;
    void apply(std::string& t) const override {
        std::vector<std::pair<std::size_t, std::size_t>> m;
        pattern.find(t, m);
        if (m.empty()) return;
        std::string out;
        std::size_t prev = 0;
        for (const auto& sp : m) {
            out.append(t, prev, sp.first - prev);
            out += content;
            prev = sp.second;
        }
        out.append(t, prev);
        t = std::move(out);
    }
};

struct StripNormalizer : Normalizer {
    bool left, right;
    void apply(std::string& t) const override {
        std::size_t b = 0, e = t.size();
        if (left) {
            while (b < e) {
                std::size_t i = b;
                if (!is_white_space(utf8_next(t, i))) break;
                b = i;
            }
        }
        if (right) {
            while (e > b) {
                std::size_t s = e - 1;
                while (s > b && (static_cast<unsigned char>(t[s]) & 0xC0) == 0x80) --s;
                std::size_t i = s;
                if (!is_white_space(utf8_next(t, i))) break;
                e = s;
            }
        }
        t = t.substr(b, e - b);
    }
};

struct SequenceNormalizer : Normalizer {
    std::vector<std::unique_ptr<Normalizer>> steps;
    void apply(std::string& t) const override {
        for (const auto& s : steps) s->apply(t);
    }
};

// ---------------------------------------------------------------- pre-tokenizers

const char* const kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

struct SplitPre : PreTokenizer {
    Pattern pattern;
    Behavior behavior = Behavior::Isolated;
    bool invert = false;
    void run(Piece& p, const PieceSink& sink) const override {
        std::vector<std::pair<std::size_t, std::size_t>> m;
        pattern.find(p.text, m);
        split_piece(p, m, invert, behavior, sink);
    }
};

struct ByteLevelPre : PreTokenizer {
    bool add_prefix_space = false, use_regex = true;
    Pattern gpt2;
    static void map_bytes(Piece& p, const PieceSink& sink) {
        Piece mapped;
        mapped.at_origin = p.at_origin;
        mapped.text.reserve(p.text.size() * 2);
        for (unsigned char c : p.text) mapped.text += byte_to_unicode(c);
        sink(mapped);
    }
    void run(Piece& p, const PieceSink& sink) const override {
        if (add_prefix_space && (p.text.empty() || p.text[0] != ' ')) p.text = " " + p.text;
        if (!use_regex) {
            map_bytes(p, sink);
            return;
        }
        std::vector<std::pair<std::size_t, std::size_t>> m;
        gpt2.find(p.text, m);
        split_piece(p, m, false, Behavior::Isolated, [&](Piece& sub) { map_bytes(sub, sink); });
    }
};

struct MetaspacePre : PreTokenizer {
    std::string replacement;
    enum class Scheme { Always, First, Never } scheme = Scheme::Always;
    bool split = true;
    void run(Piece& p, const PieceSink& sink) const override {
        std::vector<std::pair<std::size_t, std::size_t>> m;
        {
            std::string t;
            for (char c : p.text) {
                if (c == ' ') t += replacement; else t.push_back(c);
            }
            const bool starts = t.compare(0, replacement.size(), replacement) == 0;
            if (!starts && (scheme == Scheme::Always || (scheme == Scheme::First && p.at_origin))) t.insert(0, replacement);
            Piece np{std::move(t), p.at_origin};
            if (!split) { sink(np); return; }
            for (std::size_t pos = np.text.find(replacement); pos != std::string::npos; pos = np.text.find(replacement, pos + replacement.size()))
                m.emplace_back(pos, pos + replacement.size());
            split_piece(np, m, false, Behavior::MergedWithNext, sink);
        }
    }
};

struct DigitsPre : PreTokenizer {
    bool individual = false;
    void run(Piece& p, const PieceSink& sink) const override {
        std::vector<std::pair<std::size_t, std::size_t>> m;
        for (std::size_t i = 0; i < p.text.size(); ++i)
            if (p.text[i] >= '0' && p.text[i] <= '9') m.emplace_back(i, i + 1);
        split_piece(p, m, false, individual ? Behavior::Isolated : Behavior::Contiguous, sink);
    }
};

struct SequencePre : PreTokenizer {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    // Step k runs on every piece step k-1 produces, as tokenizers' Sequence does.
    void run_from(std::size_t k, Piece& p, const PieceSink& sink) const {
        if (k == steps.size()) {
            sink(p);
            return;
        }
        steps[k]->run(p, [&](Piece& sub) { run_from(k + 1, sub, sink); });
    }
    void run(Piece& p, const PieceSink& sink) const override { run_from(0, p, sink); }
};

// ---------------------------------------------------------------- decoders

struct ByteLevelDec : Decoder {
    void apply(std::vector<std::string>& tokens) const override {
        std::string bytes;
        for (const std::string& t : tokens) {
            std::string mapped;
            bool ok = true;
            for (std::size_t i = 0; i < t.size() && ok;) {
                const int b = unicode_to_byte(utf8_next(t, i));
                if (b < 0) ok = false; else mapped.push_back(static_cast<char>(b));
            }
            bytes += ok ? mapped : t;   // tokens outside the alphabet (added tokens) pass through as UTF-8
        }
        tokens.assign(1, utf8_lossy(bytes));
    }
};

struct ReplaceDec : Decoder {
    ReplaceNormalizer rep;
    void apply(std::vector<std::string>& tokens) const override {
        for (std::string& t : tokens) rep.apply(t);
    }
};

struct ByteFallbackDec : Decoder {
    void apply(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        std::string pending;
        std::size_t pending_count = 0;
        const auto flush = [&] {
            if (!pending_count) return;
            if (utf8_valid(pending)) out.push_back(pending);
            else for (std::size_t k = 0; k < pending_count; ++k) out.push_back("\xEF\xBF\xBD");
            pending.clear();
            pending_count = 0;
        };
        for (std::string& t : tokens) {
            int byte = -1;
            if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
                const auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
                const int hi = hex(t[3]), lo = hex(t[4]);
                if (hi >= 0 && lo >= 0) byte = hi * 16 + lo;
            }
            if (byte >= 0) {
                pending.push_back(static_cast<char>(byte));
                ++pending_count;
            } else {
                flush();
                out.push_back(std::move(t));
            }
        }
        flush();
        tokens.swap(out);
    }
};

struct FuseDec : Decoder {
    void apply(std::vector<std::string>& tokens) const override {
        std::string all;
        for (const auto& t : tokens) all += t;
        tokens.assign(1, all);
    }
};

struct StripDec : Decoder {
    uint32_t content = ' ';
    std::size_t start = 0, stop = 0;
    void apply(std::vector<std::string>& tokens) const override {
        for (std::string& t : tokens) {
            const std::vector<uint32_t> cps = utf8_to_codepoints(t);
            std::size_t b = 0, e = cps.size();
            while (b < e && b < start && cps[b] == content) ++b;
            while (e > b && cps.size() - e < stop && cps[e - 1] == content) --e;
            std::string out;
            for (std::size_t k = b; k < e; ++k) utf8_append(out, cps[k]);
            t = std::move(out);
        }
    }
};

struct MetaspaceDec : Decoder {
    uint32_t replacement = 0x2581;
    bool prepend = true;
    void apply(std::vector<std::string>& tokens) const override {
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            std::string out;
            std::size_t k = 0;
            while (k < tokens[i].size()) {
                const uint32_t c = utf8_next(tokens[i], k);
                if (c == replacement) {
                    if (!(i == 0 && prepend)) out.push_back(' ');
                } else {
                    utf8_append(out, c);
                }
            }
            tokens[i] = std::move(out);
        }
    }
};

struct SequenceDec : Decoder {
    std::vector<std::unique_ptr<Decoder>> steps;
    void apply(std::vector<std::string>& tokens) const override {
        for (const auto& s : steps) s->apply(tokens);
    }
};

uint32_t single_char(const std::string& s, const std::string& where, const char* what) {
    if (!utf8_valid(s)) fail(where, std::string(what) + " is not valid UTF-8");
    const auto cps = utf8_to_codepoints(s);
    if (cps.size() != 1) fail(where, std::string(what) + " must be a single character");
    return cps[0];
}

}  // namespace

void PreTokenizer::apply(std::vector<Piece>& pieces) const {
    std::vector<Piece> out;
    for (Piece& p : pieces) run(p, [&](Piece& sub) { out.push_back(sub); });
    pieces.swap(out);
}

const std::string& byte_to_unicode(uint8_t b) {
    static const std::array<std::string, 256> table = [] {
        std::array<std::string, 256> t;
        uint32_t next = 256;
        for (int c = 0; c < 256; ++c) {
            const bool visible = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
            utf8_append(t[static_cast<std::size_t>(c)], visible ? static_cast<uint32_t>(c) : next++);
        }
        return t;
    }();
    return table[b];
}

int unicode_to_byte(uint32_t cp) {
    static const std::array<int16_t, 324> inverse = [] {
        std::array<int16_t, 324> inv;
        inv.fill(-1);
        for (int b = 0; b < 256; ++b) {
            std::size_t i = 0;
            inv[utf8_next(byte_to_unicode(static_cast<uint8_t>(b)), i)] = static_cast<int16_t>(b);
        }
        return inv;
    }();
    return cp < inverse.size() ? inverse[cp] : -1;
}

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where) {
    if (j.is_null()) return nullptr;
    const std::string type = type_of(j, where);
    if (type == "NFC" || type == "NFD") return std::make_unique<NfcNormalizer>(type == "NFC");
    if (type == "Prepend") {
        auto n = std::make_unique<PrependNormalizer>();
        n->prepend = get_string(j, "prepend", where);
        return n;
    }
    if (type == "Replace") {
        auto n = std::make_unique<ReplaceNormalizer>();
        if (!j.contains("pattern")) fail(where, "Replace needs 'pattern'");
        n->pattern = Pattern::from(j["pattern"], where + ".pattern");
        n->content = get_string(j, "content", where);
        return n;
    }
    if (type == "Strip") {
        auto n = std::make_unique<StripNormalizer>();
        n->left = get_bool(j, "strip_left", true);
        n->right = get_bool(j, "strip_right", true);
        return n;
    }
    if (type == "Sequence") {
        auto n = std::make_unique<SequenceNormalizer>();
        auto it = j.find("normalizers");
        if (it == j.end() || !it->is_array()) fail(where, "Sequence needs a 'normalizers' array");
        for (std::size_t k = 0; k < it->size(); ++k)
            if (auto s = make_normalizer((*it)[k], where + ".normalizers[" + std::to_string(k) + "]")) n->steps.push_back(std::move(s));
        return n;
    }
    fail(where, "unsupported normalizer type '" + type + "'");
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where) {
    if (j.is_null()) return nullptr;
    const std::string type = type_of(j, where);
    if (type == "Split") {
        auto p = std::make_unique<SplitPre>();
        if (!j.contains("pattern")) fail(where, "Split needs 'pattern'");
        p->pattern = Pattern::from(j["pattern"], where + ".pattern");
        p->behavior = behavior_from(get_string(j, "behavior", where, "Isolated"), where);
        p->invert = get_bool(j, "invert", false);
        return p;
    }
    if (type == "ByteLevel") {
        auto p = std::make_unique<ByteLevelPre>();
        p->add_prefix_space = get_bool(j, "add_prefix_space", true);
        p->use_regex = get_bool(j, "use_regex", true);
        p->gpt2 = Pattern::from(json{{"Regex", kGpt2Pattern}}, where);
        return p;
    }
    if (type == "Metaspace") {
        auto p = std::make_unique<MetaspacePre>();
        p->replacement = get_string(j, "replacement", where, "\xE2\x96\x81");
        single_char(p->replacement, where, "Metaspace replacement");
        const std::string scheme = get_string(j, "prepend_scheme", where,
                                              get_bool(j, "add_prefix_space", true) ? "always" : "never");
        if (scheme == "always") p->scheme = MetaspacePre::Scheme::Always;
        else if (scheme == "first") p->scheme = MetaspacePre::Scheme::First;
        else if (scheme == "never") p->scheme = MetaspacePre::Scheme::Never;
        else fail(where, "unknown Metaspace prepend_scheme '" + scheme + "'");
        p->split = get_bool(j, "split", true);
        return p;
    }
    if (type == "Digits") {
        auto p = std::make_unique<DigitsPre>();
        p->individual = get_bool(j, "individual_digits", false);
        return p;
    }
    if (type == "Sequence") {
        auto p = std::make_unique<SequencePre>();
        auto it = j.find("pretokenizers");
        if (it == j.end() || !it->is_array()) fail(where, "Sequence needs a 'pretokenizers' array");
        for (std::size_t k = 0; k < it->size(); ++k)
            if (auto s = make_pre_tokenizer((*it)[k], where + ".pretokenizers[" + std::to_string(k) + "]")) p->steps.push_back(std::move(s));
        return p;
    }
    fail(where, "unsupported pre_tokenizer type '" + type + "'");
}

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where) {
    if (j.is_null()) return nullptr;
    const std::string type = type_of(j, where);
    if (type == "ByteLevel") return std::make_unique<ByteLevelDec>();
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDec>();
    if (type == "Fuse") return std::make_unique<FuseDec>();
    if (type == "Replace") {
        auto d = std::make_unique<ReplaceDec>();
        if (!j.contains("pattern")) fail(where, "Replace needs 'pattern'");
        d->rep.pattern = Pattern::from(j["pattern"], where + ".pattern");
        d->rep.content = get_string(j, "content", where);
        return d;
    }
    if (type == "Strip") {
        auto d = std::make_unique<StripDec>();
        d->content = single_char(get_string(j, "content", where, " "), where, "Strip content");
        d->start = j.value("start", 0u);
        d->stop = j.value("stop", 0u);
        return d;
    }
    if (type == "Metaspace") {
        auto d = std::make_unique<MetaspaceDec>();
        d->replacement = single_char(get_string(j, "replacement", where, "\xE2\x96\x81"), where, "Metaspace replacement");
        const std::string scheme = get_string(j, "prepend_scheme", where,
                                              get_bool(j, "add_prefix_space", true) ? "always" : "never");
        d->prepend = scheme != "never";
        return d;
    }
    if (type == "Sequence") {
        auto d = std::make_unique<SequenceDec>();
        auto it = j.find("decoders");
        if (it == j.end() || !it->is_array()) fail(where, "Sequence needs a 'decoders' array");
        for (std::size_t k = 0; k < it->size(); ++k)
            if (auto s = make_decoder((*it)[k], where + ".decoders[" + std::to_string(k) + "]")) d->steps.push_back(std::move(s));
        return d;
    }
    fail(where, "unsupported decoder type '" + type + "'");
}

bool PostProcessor::adds_tokens() const {
    for (const auto& it : single)
        if (!it.is_sequence) return true;
    return false;
}

std::vector<int32_t> PostProcessor::apply(const std::vector<int32_t>& ids) const {
    if (single.empty()) return ids;
    std::vector<int32_t> out;
    out.reserve(ids.size() + 4);
    for (const auto& it : single) {
        if (it.is_sequence) out.insert(out.end(), ids.begin(), ids.end());
        else out.insert(out.end(), it.special_ids.begin(), it.special_ids.end());
    }
    return out;
}

PostProcessor make_post_processor(const json& j, const std::string& where) {
    PostProcessor pp;
    if (j.is_null()) return pp;
    const std::string type = type_of(j, where);
    if (type == "ByteLevel") return pp;   // only adjusts offsets
    if (type == "TemplateProcessing") {
        auto single = j.find("single");
        if (single == j.end() || !single->is_array()) fail(where, "TemplateProcessing needs a 'single' array");
        const json specials = j.value("special_tokens", json::object());
        for (const auto& item : *single) {
            TemplateItem ti;
            if (item.contains("Sequence")) {
                ti.is_sequence = true;
            } else if (item.contains("SpecialToken")) {
                const std::string name = get_string(item["SpecialToken"], "id", where);
                auto sp = specials.find(name);
                if (sp == specials.end() || !sp->contains("ids") || !(*sp)["ids"].is_array())
                    fail(where, "TemplateProcessing special token '" + name + "' is not defined in special_tokens");
                for (const auto& id : (*sp)["ids"]) ti.special_ids.push_back(id.get<int32_t>());
            } else {
                fail(where, "TemplateProcessing item is neither Sequence nor SpecialToken");
            }
            pp.single.push_back(std::move(ti));
        }
        return pp;
    }
    if (type == "RobertaProcessing" || type == "BertProcessing") {
        auto id_of = [&](const char* key) {
            auto it = j.find(key);
            if (it == j.end() || !it->is_array() || it->size() != 2) fail(where, std::string("missing '") + key + "'");
            return (*it)[1].get<int32_t>();
        };
        pp.single = {TemplateItem{false, {id_of("cls")}}, TemplateItem{true, {}}, TemplateItem{false, {id_of("sep")}}};
        return pp;
    }
    if (type == "Sequence") {
        auto it = j.find("processors");
        if (it == j.end() || !it->is_array()) fail(where, "Sequence needs a 'processors' array");
        for (std::size_t k = 0; k < it->size(); ++k) {
            PostProcessor sub = make_post_processor((*it)[k], where + ".processors[" + std::to_string(k) + "]");
            if (!sub.single.empty()) {
                if (!pp.single.empty()) fail(where, "more than one token-adding post-processor in a Sequence");
                pp = std::move(sub);
            }
        }
        return pp;
    }
    fail(where, "unsupported post_processor type '" + type + "'");
}

}  // namespace moescope::tok
