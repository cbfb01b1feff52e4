// Backtracking regex VM over code points; see regex.h for the supported subset and why.
#include "engine/tokenizer/regex.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/tokenizer/unicode.h"

namespace moescope::tok {
namespace {

constexpr int kInfinite = -1;

struct CharSet {
    bool negated = false;
    uint32_t gc_mask = 0;                                // general categories included
    bool white_space = false, not_white_space = false;   // \s, \S inside the set
    std::vector<std::pair<uint32_t, uint32_t>> ranges;   // inclusive
    uint64_t ascii[2] = {0, 0};                          // precomputed membership for cp < 128

    bool raw_contains(uint32_t cp) const {
        if (gc_mask & gc_bit(general_category(cp))) return true;
        if (white_space && is_white_space(cp)) return true;
        if (not_white_space && !is_white_space(cp)) return true;
        for (const auto& r : ranges)
            if (cp >= r.first && cp <= r.second) return true;
        return false;
    }
    void finalize() {
        for (uint32_t c = 0; c < 128; ++c)
            if (raw_contains(c) != negated) ascii[c >> 6] |= uint64_t(1) << (c & 63);
    }
    bool contains(uint32_t cp) const {
        if (cp < 128) return (ascii[cp >> 6] >> (cp & 63)) & 1;
        return raw_contains(cp) != negated;
    }
};

enum class Op : uint8_t { Char, Set, Any, Split, Jmp, Match, Look, Repeat };

struct Inst {
    Op op;
    bool flag = false;        // Split: unused; Look: negative; Repeat: greedy
    uint32_t a = 0;           // Char: code point; Set/Repeat: set index; Look: program index
    int x = 0, y = 0;         // Split: targets; Repeat: min, max (-1 = unbounded)
};

struct Node {
    enum Kind { Char, Set, Any, Concat, Alt, Repeat, Look } kind = Char;
    uint32_t value = 0;       // Char: cp; Set: set index
    int min = 0, max = 0;
    bool greedy = true, negative = false;
    std::vector<Node> kids;
};

Node make_node(Node::Kind kind) {
    Node n;
    n.kind = kind;
    return n;
}

class Parser {
public:
    Parser(std::string_view pattern, std::vector<CharSet>& sets) : sets_(sets) {
        if (!utf8_valid(pattern)) throw Error("regex: pattern is not valid UTF-8");
        p_ = utf8_to_codepoints(pattern);
        src_ = std::string(pattern);
    }
    Node parse() {
        Node n = parse_alt(false);
        if (i_ != p_.size()) fail("unbalanced ')'");
        return n;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw Error("regex '" + src_ + "': " + what + " at character " + std::to_string(i_));
    }
    bool at_end() const { return i_ >= p_.size(); }
    uint32_t peek(std::size_t k = 0) const { return i_ + k < p_.size() ? p_[i_ + k] : 0; }

    Node parse_alt(bool icase) {
        if (++depth_ > kMaxDepth) fail("groups nested too deeply");
        Node alt = make_node(Node::Alt);
        alt.kids.push_back(parse_concat(icase));
        while (!at_end() && peek() == '|') {
            ++i_;
            alt.kids.push_back(parse_concat(icase));
        }
        --depth_;
        return alt.kids.size() == 1 ? std::move(alt.kids[0]) : alt;
    }

    Node parse_concat(bool icase) {
        Node cat = make_node(Node::Concat);
        while (!at_end() && peek() != '|' && peek() != ')') {
            Node atom = parse_atom(icase);
            cat.kids.push_back(parse_quantifier(std::move(atom)));
        }
        return cat;
    }

    Node parse_quantifier(Node atom) {
        for (;;) {
            if (at_end()) return atom;
            int mn, mx;
            const uint32_t c = peek();
            std::size_t save = i_;
            if (c == '*') { mn = 0; mx = kInfinite; ++i_; }
            else if (c == '+') { mn = 1; mx = kInfinite; ++i_; }
            else if (c == '?') { mn = 0; mx = 1; ++i_; }
            else if (c == '{') {
                ++i_;
                auto num = [&](int& v) {
                    if (at_end() || peek() < '0' || peek() > '9') return false;
                    v = 0;
                    while (!at_end() && peek() >= '0' && peek() <= '9') v = v * 10 + int(p_[i_++] - '0');
                    return true;
                };
                if (!num(mn)) { i_ = save; return atom; }   // a literal '{' (Oniguruma treats it so)
                mx = mn;
                if (peek() == ',') {
                    ++i_;
                    if (!num(mx)) mx = kInfinite;
                }
                if (peek() != '}') { i_ = save; return atom; }
                ++i_;
                if (mx != kInfinite && mx < mn) fail("quantifier {n,m} with m < n");
            } else {
                return atom;
            }
            bool greedy = true;
            if (peek() == '?') { greedy = false; ++i_; }
            else if (peek() == '+' && c != '+' && c != '*' && c != '?') {}
            else if (peek() == '+') fail("possessive quantifier is not supported");
            if (mx == kInfinite && nullable(atom))
                fail("an unbounded repeat of something that can match the empty string is not supported");
            Node rep = make_node(Node::Repeat);
            rep.min = mn;
            rep.max = mx;
            rep.greedy = greedy;
            rep.kids.push_back(std::move(atom));
            atom = std::move(rep);
        }
    }

    // Whether a node can match the empty string (an unbounded loop over it could spin forever).
    static bool nullable(const Node& n) {
        switch (n.kind) {
            case Node::Char: case Node::Set: case Node::Any: return false;
            case Node::Look: return true;
            case Node::Repeat: return n.min == 0 || nullable(n.kids[0]);
            case Node::Concat:
                for (const Node& k : n.kids)
                    if (!nullable(k)) return false;
                return true;
            case Node::Alt:
                for (const Node& k : n.kids)
                    if (nullable(k)) return true;
                return false;
        }
        return true;
    }

    uint32_t add_set(CharSet s) {
        s.finalize();
        sets_.push_back(std::move(s));
        return static_cast<uint32_t>(sets_.size() - 1);
    }

    Node set_node(CharSet s) {
        Node n = make_node(Node::Set);
        n.value = add_set(std::move(s));
        return n;
    }

    Node char_node(uint32_t cp, bool icase) {
        if (icase) {
            CharSet s;
            if (cp < 128 && ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')) {
                const uint32_t lo = cp | 0x20, up = lo - 0x20;
                s.ranges = {{lo, lo}, {up, up}};
                if (lo == 's') s.ranges.push_back({0x17F, 0x17F});   // LATIN SMALL LETTER LONG S folds to s
                if (lo == 'k') s.ranges.push_back({0x212A, 0x212A}); // KELVIN SIGN folds to k
                return set_node(std::move(s));
            }
            if (cp >= 128 && general_category(cp) <= Gc::Lo) fail("case-insensitive non-ASCII letter is not supported");
        }
        Node n = make_node(Node::Char);
        n.value = cp;
        return n;
    }

    // \p{Name}: general category names (one or two letters).
    uint32_t category_mask() {
        if (peek() != '{') fail("expected '{' after \\p");
        ++i_;
        std::string name;
        while (!at_end() && peek() != '}') name.push_back(static_cast<char>(p_[i_++]));
        if (at_end()) fail("unterminated \\p{");
        ++i_;
        static const char* names[] = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe",
                                      "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"};
        uint32_t mask = 0;
        for (uint32_t k = 0; k < 30; ++k) {
            const std::string n = names[k];
            if (n == name || (name.size() == 1 && n[0] == name[0])) mask |= 1u << k;
        }
        if (name == "L&") mask = gc_bit(Gc::Lu) | gc_bit(Gc::Ll) | gc_bit(Gc::Lt);
        if (!mask) fail("unsupported Unicode property \\p{" + name + "}");
        return mask;
    }

    uint32_t hex_escape(int digits) {
        uint32_t v = 0;
        bool braces = digits < 0;
        if (braces) { if (peek() != '{') fail("expected '{'"); ++i_; }
        int n = 0;
        while (!at_end() && (braces ? peek() != '}' : n < digits)) {
            const uint32_t c = p_[i_++];
            int d = c >= '0' && c <= '9' ? int(c - '0') : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? int((c | 0x20) - 'a' + 10) : -1;
            if (d < 0) fail("bad hex escape");
            v = v * 16 + uint32_t(d);
            ++n;
        }
        if (braces) { if (peek() != '}') fail("unterminated \\x{"); ++i_; }
        if (n == 0) fail("empty hex escape");
        return v;
    }

    // Parses the escape after '\'. Returns true and fills `set` for class escapes, else sets `cp`.
    bool parse_escape(uint32_t& cp, CharSet& set, bool in_class) {
        if (at_end()) fail("trailing backslash");
        const uint32_t c = p_[i_++];
        switch (c) {
            case 't': cp = '\t'; return false;
            case 'n': cp = '\n'; return false;
            case 'r': cp = '\r'; return false;
            case 'f': cp = '\f'; return false;
            case 'v': cp = '\v'; return false;
            case 'a': cp = 7; return false;
            case 'e': cp = 27; return false;
            case 'x': cp = peek() == '{' ? hex_escape(-1) : hex_escape(2); return false;
            case 'u': cp = hex_escape(4); return false;
            case 's': set.white_space = true; return true;
            case 'S': if (in_class) set.not_white_space = true; else { set.white_space = true; set.negated = true; } return true;
            case 'd': set.gc_mask |= gc_bit(Gc::Nd); return true;
            case 'w': set.gc_mask |= kGcLetter | kGcMark | gc_bit(Gc::Nd) | gc_bit(Gc::Pc); return true;
            case 'D': case 'W':
                if (in_class) fail(std::string("\\") + char(c) + " inside a character class is not supported");
                set.gc_mask |= c == 'D' ? gc_bit(Gc::Nd) : (kGcLetter | kGcMark | gc_bit(Gc::Nd) | gc_bit(Gc::Pc));
                set.negated = true;
                return true;
            case 'p': set.gc_mask |= category_mask(); return true;
            case 'P':
                if (in_class) fail("\\P{..} inside a character class is not supported");
                set.gc_mask |= category_mask();
                set.negated = true;
                return true;
            default: break;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            fail(std::string("unsupported escape \\") + char(c));
        cp = c;   // escaped punctuation stands for itself
        return false;
    }

    Node parse_class(bool icase) {
        ++i_;  // '['
        CharSet set;
        if (peek() == '^') { set.negated = true; ++i_; }
        bool first = true;
        for (;;) {
            if (at_end()) fail("unterminated character class");
            uint32_t c = peek();
            if (c == ']' && !first) { ++i_; break; }
            first = false;
            if (c == '[') fail("nested or POSIX character class is not supported");
            if (c == '&' && peek(1) == '&') fail("class intersection && is not supported");
            uint32_t lo;
            ++i_;
            if (c == '\\') {
                CharSet sub;
                if (parse_escape(lo, sub, true)) {
                    set.gc_mask |= sub.gc_mask;
                    set.white_space |= sub.white_space;
                    set.not_white_space |= sub.not_white_space;
                    continue;
                }
            } else {
                lo = c;
            }
            uint32_t hi = lo;
            if (peek() == '-' && peek(1) != ']' && i_ + 1 < p_.size()) {
                ++i_;
                uint32_t h = p_[i_++];
                if (h == '\\') {
                    CharSet sub;
                    if (parse_escape(h, sub, true)) fail("class escape used as a range end");
                }
                hi = h;
                if (hi < lo) fail("character class range out of order");
            }
            if (icase) {
                for (uint32_t x = lo; x <= hi; ++x)
                    if (general_category(x) <= Gc::Lo) fail("case-insensitive character class with letters is not supported");
            }
            set.ranges.push_back({lo, hi});
        }
        return set_node(std::move(set));
    }

    Node parse_atom(bool icase) {
        const uint32_t c = peek();
        if (c == '(') {
            ++i_;
            bool inner_icase = icase;
            if (peek() == '?') {
                ++i_;
                const uint32_t k = peek();
                if (k == ':') { ++i_; }
                else if (k == '=' || k == '!') {
                    ++i_;
                    Node look = make_node(Node::Look);
                    look.negative = k == '!';
                    look.kids.push_back(parse_alt(icase));
                    if (peek() != ')') fail("missing ')'");
                    ++i_;
                    return look;
                } else if (k == 'i' && peek(1) == ':') { inner_icase = true; i_ += 2; }
                else if (k == '<' && (peek(1) == '=' || peek(1) == '!')) fail("lookbehind is not supported");
                else fail("unsupported group construct (?" + std::string(1, char(k)));
            }
            Node inner = parse_alt(inner_icase);
            if (peek() != ')') fail("missing ')'");
            ++i_;
            return inner;
        }
        if (c == '[') return parse_class(icase);
        if (c == '.') {
            ++i_;
            CharSet s;
            s.negated = true;
            s.ranges = {{'\n', '\n'}};   // Oniguruma's '.' excludes newline only
            return set_node(std::move(s));
        }
        if (c == '^' || c == '$') fail("anchors ^ and $ are not supported");
        if (c == '*' || c == '+' || c == '?') fail("quantifier without a target");
        ++i_;
        if (c == '\\') {
            uint32_t cp;
            CharSet s;
            if (!at_end() && (peek() == 'b' || peek() == 'B' || peek() == 'A' || peek() == 'z' || peek() == 'Z' || peek() == 'G'))
                fail(std::string("anchor \\") + char(peek()) + " is not supported");
            if (!at_end() && peek() >= '1' && peek() <= '9') fail("back-references are not supported");
            if (!at_end() && peek() == 'k') fail("named back-references are not supported");
            if (parse_escape(cp, s, false)) return set_node(std::move(s));
            return char_node(cp, icase);
        }
        return char_node(c, icase);
    }

    static constexpr int kMaxDepth = 100;
    int depth_ = 0;
    std::vector<uint32_t> p_;
    std::string src_;
    std::size_t i_ = 0;
    std::vector<CharSet>& sets_;
};

}  // namespace

struct Regex::Impl {
    std::string pattern;
    std::vector<CharSet> sets;
    std::vector<std::vector<Inst>> progs;   // progs[0] = main; others = lookahead bodies

    int emit(std::vector<Inst>& p, Inst in) {
        p.push_back(in);
        return static_cast<int>(p.size() - 1);
    }

    void compile(const Node& n, std::size_t prog) {
        switch (n.kind) {
            case Node::Char: emit(progs[prog], {Op::Char, false, n.value}); break;
            case Node::Set: emit(progs[prog], {Op::Set, false, n.value}); break;
            case Node::Any: emit(progs[prog], {Op::Any}); break;
            case Node::Concat:
                for (const Node& k : n.kids) compile(k, prog);
                break;
            case Node::Alt: {
                std::vector<int> jumps;
                for (std::size_t a = 0; a < n.kids.size(); ++a) {
                    int split = -1;
                    if (a + 1 < n.kids.size()) split = emit(progs[prog], {Op::Split});
                    compile(n.kids[a], prog);
                    if (a + 1 < n.kids.size()) {
                        jumps.push_back(emit(progs[prog], {Op::Jmp}));
                        progs[prog][split].x = split + 1;
                        progs[prog][split].y = static_cast<int>(progs[prog].size());
                    }
                }
                for (int j : jumps) progs[prog][j].x = static_cast<int>(progs[prog].size());
                break;
            }
            case Node::Repeat: {
                const Node& body = n.kids[0];
                if (body.kind == Node::Set || body.kind == Node::Char) {
                    uint32_t set = body.value;
                    if (body.kind == Node::Char) {
                        CharSet s;
                        s.ranges = {{body.value, body.value}};
                        s.finalize();
                        sets.push_back(std::move(s));
                        set = static_cast<uint32_t>(sets.size() - 1);
                    }
                    emit(progs[prog], {Op::Repeat, n.greedy, set, n.min, n.max});
                    break;
                }
                for (int k = 0; k < n.min; ++k) compile(body, prog);
                if (n.max == kInfinite) {
                    const int split = emit(progs[prog], {Op::Split});
                    compile(body, prog);
                    emit(progs[prog], {Op::Jmp, false, 0, split});
                    const int end = static_cast<int>(progs[prog].size());
                    progs[prog][split].x = n.greedy ? split + 1 : end;
                    progs[prog][split].y = n.greedy ? end : split + 1;
                } else {
                    std::vector<int> splits;
                    for (int k = n.min; k < n.max; ++k) {
                        splits.push_back(emit(progs[prog], {Op::Split}));
                        compile(body, prog);
                    }
                    const int end = static_cast<int>(progs[prog].size());
                    for (int s : splits) {
                        progs[prog][s].x = n.greedy ? s + 1 : end;
                        progs[prog][s].y = n.greedy ? end : s + 1;
                    }
                }
                break;
            }
            case Node::Look: {
                progs.emplace_back();
                const std::size_t sub = progs.size() - 1;
                compile(n.kids[0], sub);
                emit(progs[sub], {Op::Match});
                emit(progs[prog], {Op::Look, n.negative, static_cast<uint32_t>(sub)});
                break;
            }
        }
    }

    struct Frame {
        int pc;
        std::size_t pos;
        long count;   // -1: plain backtrack point; >= 0: Repeat instruction retry with this count
    };

    long run(std::size_t prog, const uint32_t* t, std::size_t n, std::size_t start, std::vector<Frame>& stack) const {
        const std::vector<Inst>& p = progs[prog];
        const std::size_t base = stack.size();
        int pc = 0;
        std::size_t pos = start;
        for (;;) {
            const Inst& in = p[static_cast<std::size_t>(pc)];
            bool ok = true;
            switch (in.op) {
                case Op::Char:
                    if (pos < n && t[pos] == in.a) { ++pos; ++pc; } else ok = false;
                    break;
                case Op::Set:
                    if (pos < n && sets[in.a].contains(t[pos])) { ++pos; ++pc; } else ok = false;
                    break;
                case Op::Any:
                    if (pos < n) { ++pos; ++pc; } else ok = false;
                    break;
                case Op::Split:
                    stack.push_back({in.y, pos, -1});
                    pc = in.x;
                    break;
                case Op::Jmp: pc = in.x; break;
                case Op::Match:
                    stack.resize(base);
                    return static_cast<long>(pos);
                case Op::Look: {
                    std::vector<Frame> sub;
                    const bool matched = run(in.a, t, n, pos, sub) >= 0;
                    if (matched != in.flag) ++pc; else ok = false;
                    break;
                }
                case Op::Repeat: {
                    const CharSet& s = sets[in.a];
                    const std::size_t limit = in.y == kInfinite ? n - pos : std::min<std::size_t>(n - pos, std::size_t(in.y));
                    if (in.flag) {
                        std::size_t k = 0;
                        while (k < limit && s.contains(t[pos + k])) ++k;
                        if (k < std::size_t(in.x)) { ok = false; break; }
                        if (k > std::size_t(in.x)) stack.push_back({pc, pos, long(k) - 1});
                        pos += k;
                        ++pc;
                    } else {
                        std::size_t k = 0;
                        while (k < std::size_t(in.x) && k < limit && s.contains(t[pos + k])) ++k;
                        if (k < std::size_t(in.x)) { ok = false; break; }
                        if (k < limit) stack.push_back({pc, pos, long(k) + 1});
                        pos += k;
                        ++pc;
                    }
                    break;
                }
            }
            while (!ok) {
                if (stack.size() == base) return -1;
                Frame f = stack.back();
                stack.pop_back();
                if (f.count < 0) {
                    pc = f.pc;
                    pos = f.pos;
                    ok = true;
                    break;
                }
                const Inst& r = p[static_cast<std::size_t>(f.pc)];
                const std::size_t k = static_cast<std::size_t>(f.count);
                if (r.flag) {   // greedy: give back one more next time
                    if (k > std::size_t(r.x)) stack.push_back({f.pc, f.pos, long(k) - 1});
                } else {        // lazy: take one more, if it matches
                    if (!sets[r.a].contains(t[f.pos + k - 1])) continue;
                    const std::size_t limit = r.y == kInfinite ? n - f.pos : std::min<std::size_t>(n - f.pos, std::size_t(r.y));
                    if (k < limit) stack.push_back({f.pc, f.pos, long(k) + 1});
                }
                pc = f.pc + 1;
                pos = f.pos + k;
                ok = true;
            }
        }
    }
};

Regex::Regex() = default;
Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

Regex Regex::compile(std::string_view pattern) {
    Regex r;
    r.impl_ = std::make_unique<Impl>();
    r.impl_->pattern = std::string(pattern);
    Parser parser(pattern, r.impl_->sets);
    Node root = parser.parse();
    r.impl_->progs.emplace_back();
    r.impl_->compile(root, 0);
    r.impl_->emit(r.impl_->progs[0], {Op::Match});
    return r;
}

long Regex::match_at(const uint32_t* text, std::size_t n, std::size_t start) const {
    thread_local std::vector<Impl::Frame> stack;
    stack.clear();
    return impl_->run(0, text, n, start, stack);
}

void Regex::find_all(const uint32_t* text, std::size_t n, std::vector<std::pair<std::size_t, std::size_t>>& out) const {
    thread_local std::vector<Impl::Frame> stack;
    std::size_t pos = 0;
    while (pos < n) {
        stack.clear();
        const long end = impl_->run(0, text, n, pos, stack);
        if (end < 0) { ++pos; continue; }
        out.emplace_back(pos, static_cast<std::size_t>(end));
        pos = static_cast<std::size_t>(end) > pos ? static_cast<std::size_t>(end) : pos + 1;
    }
}

const std::string& Regex::pattern() const { return impl_->pattern; }

}  // namespace moescope::tok
