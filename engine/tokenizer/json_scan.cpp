// Structural scanner for tokenizer.json's model.vocab / model.merges; see json_scan.h.
#include "engine/tokenizer/json_scan.h"

#include "engine/tokenizer/unicode.h"

namespace moescope::tok {
namespace {

class Scanner {
public:
    explicit Scanner(std::string_view t) : t_(t) {}
    std::size_t pos = 0;

    void ws() {
        while (pos < t_.size() && (t_[pos] == ' ' || t_[pos] == '\n' || t_[pos] == '\r' || t_[pos] == '\t')) ++pos;
    }
    bool eat(char c) {
        ws();
        if (pos < t_.size() && t_[pos] == c) { ++pos; return true; }
        return false;
    }
    char peek() {
        ws();
        return pos < t_.size() ? t_[pos] : '\0';
    }

    // Reads a JSON string at pos. `view` points into the text when there were no escapes,
    // otherwise into `buf`.
    bool string(std::string_view& view, std::string& buf) {
        ws();
        if (pos >= t_.size() || t_[pos] != '"') return false;
        const std::size_t start = ++pos;
        while (pos < t_.size() && t_[pos] != '"' && t_[pos] != '\\') {
            if (static_cast<unsigned char>(t_[pos]) < 0x20) return false;
            ++pos;
        }
        if (pos >= t_.size()) return false;
        if (t_[pos] == '"') {
            view = t_.substr(start, pos - start);
            ++pos;
            return true;
        }
        buf.assign(t_.substr(start, pos - start));
        while (pos < t_.size() && t_[pos] != '"') {
            const char c = t_[pos++];
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c != '\\') { buf.push_back(c); continue; }
            if (pos >= t_.size()) return false;
            const char e = t_[pos++];
            switch (e) {
                case '"': buf.push_back('"'); break;
                case '\\': buf.push_back('\\'); break;
                case '/': buf.push_back('/'); break;
                case 'b': buf.push_back('\b'); break;
                case 'f': buf.push_back('\f'); break;
                case 'n': buf.push_back('\n'); break;
                case 'r': buf.push_back('\r'); break;
                case 't': buf.push_back('\t'); break;
                case 'u': {
                    uint32_t cp;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        uint32_t lo;
                        if (pos + 1 >= t_.size() || t_[pos] != '\\' || t_[pos + 1] != 'u') return false;
                        pos += 2;
                        if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return false;
                    }
                    utf8_append(buf, cp);
                    break;
                }
                default: return false;
            }
        }
        if (pos >= t_.size()) return false;
        ++pos;
        view = buf;
        return true;
    }

    bool integer(int64_t& v) {
        ws();
        bool neg = false;
        if (pos < t_.size() && t_[pos] == '-') { neg = true; ++pos; }
        if (pos >= t_.size() || t_[pos] < '0' || t_[pos] > '9') return false;
        v = 0;
        while (pos < t_.size() && t_[pos] >= '0' && t_[pos] <= '9') {
            v = v * 10 + (t_[pos++] - '0');
            if (v > (int64_t(1) << 40)) return false;
        }
        if (pos < t_.size() && (t_[pos] == '.' || t_[pos] == 'e' || t_[pos] == 'E')) return false;
        if (neg) v = -v;
        return true;
    }

    // Skips any JSON value (validated loosely; the DOM parser validates the rest later).
    bool skip_value() {
        ws();
        if (pos >= t_.size()) return false;
        const char c = t_[pos];
        if (c == '"') {
            std::string_view v;
            std::string b;
            return string(v, b);
        }
        if (c == '{' || c == '[') {
            int depth = 0;
            while (pos < t_.size()) {
                const char d = t_[pos];
                if (d == '"') {
                    std::string_view v;
                    std::string b;
                    if (!string(v, b)) return false;
                    continue;
                }
                if (d == '{' || d == '[') ++depth;
                if (d == '}' || d == ']') {
                    --depth;
                    if (depth == 0) { ++pos; return true; }
                }
                ++pos;
            }
            return false;
        }
        while (pos < t_.size() && t_[pos] != ',' && t_[pos] != '}' && t_[pos] != ']') ++pos;
        return true;
    }

private:
    bool hex4(uint32_t& v) {
        if (pos + 4 > t_.size()) return false;
        v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = t_[pos++];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) return false;
            v = v * 16 + uint32_t(d);
        }
        return true;
    }
    std::string_view t_;
};

bool scan_vocab(Scanner& s, ScannedModel& out) {
    if (!s.eat('{')) return false;
    std::string buf;
    if (s.eat('}')) return true;
    for (;;) {
        std::string_view key;
        int64_t id;
        if (!s.string(key, buf) || !s.eat(':') || !s.integer(id)) return false;
        out.vocab.emplace_back(std::string(key), id);
        if (s.eat(',')) continue;
        return s.eat('}');
    }
}

bool scan_merges(Scanner& s, ScannedModel& out) {
    if (!s.eat('[')) return false;
    if (s.eat(']')) return true;
    std::string buf;
    for (;;) {
        std::string_view a, b;
        if (s.peek() == '"') {
            std::string_view m;
            if (!s.string(m, buf)) return false;
            if (m.data() == buf.data()) m = out.arena.emplace_back(buf);
            const auto sp = m.find(' ');
            if (sp == std::string_view::npos) return false;   // let the DOM path report it
            a = m.substr(0, sp);
            b = m.substr(sp + 1);
            out.merges_as_strings = true;
        } else {
            if (!s.eat('[') || !s.string(a, buf)) return false;
            if (a.data() == buf.data()) a = out.arena.emplace_back(buf);
            if (!s.eat(',') || !s.string(b, buf)) return false;
            if (b.data() == buf.data()) b = out.arena.emplace_back(buf);
            if (!s.eat(']')) return false;
        }
        out.merges.emplace_back(a, b);
        if (s.eat(',')) continue;
        return s.eat(']');
    }
}

}  // namespace

bool scan_tokenizer_json(std::string_view text, ScannedModel& out) {
    Scanner s(text);
    std::string buf;
    if (!s.eat('{')) return false;
    std::size_t vocab_b = 0, vocab_e = 0, merges_b = 0, merges_e = 0;
    if (s.eat('}')) return false;
    for (;;) {
        std::string_view key;
        if (!s.string(key, buf) || !s.eat(':')) return false;
        if (key == "model" && s.peek() == '{') {
            s.eat('{');
            if (!s.eat('}')) {
                for (;;) {
                    std::string_view mkey;
                    if (!s.string(mkey, buf) || !s.eat(':')) return false;
                    const std::string k(mkey);
                    s.ws();
                    if (k == "vocab" && s.peek() == '{') {
                        vocab_b = s.pos;
                        if (!scan_vocab(s, out)) return false;
                        vocab_e = s.pos;
                        out.found_vocab = true;
                    } else if (k == "merges" && s.peek() == '[') {
                        merges_b = s.pos;
                        if (!scan_merges(s, out)) return false;
                        merges_e = s.pos;
                        out.found_merges = true;
                    } else if (!s.skip_value()) {
                        return false;
                    }
                    if (s.eat(',')) continue;
                    if (!s.eat('}')) return false;
                    break;
                }
            }
        } else if (!s.skip_value()) {
            return false;
        }
        if (s.eat(',')) continue;
        if (!s.eat('}')) return false;
        break;
    }
    // The rest of the document, with the two big values replaced by empty containers.
    struct Cut { std::size_t b, e; const char* with; };
    Cut cuts[2] = {{vocab_b, vocab_e, "{}"}, {merges_b, merges_e, "[]"}};
    if (cuts[0].b > cuts[1].b) std::swap(cuts[0], cuts[1]);
    out.rest.clear();
    std::size_t prev = 0;
    for (const Cut& c : cuts) {
        if (c.e == 0) continue;
        out.rest.append(text.substr(prev, c.b - prev));
        out.rest.append(c.with);
        prev = c.e;
    }
    out.rest.append(text.substr(prev));
    return true;
}

}  // namespace moescope::tok
