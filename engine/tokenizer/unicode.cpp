// Unicode helpers: UTF-8, general categories, NFC/NFD (Unicode Standard Annex #15 algorithm).
#include "engine/tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <memory>
#include <unordered_map>

#include "engine/tokenizer/unicode_data.h"

namespace moescope::tok {
namespace {

constexpr uint32_t kMaxCp = 0x110000;

// Flat category table (1.1 MB), built once from the run-length table: O(1) lookups on the hot
// path of every regex class test.
const uint8_t* category_table() {
    static const std::unique_ptr<uint8_t[]> table = [] {
        std::unique_ptr<uint8_t[]> t(new uint8_t[kMaxCp]);
        for (std::size_t r = 0; r < ucd::kCategoryRunCount; ++r) {
            const uint32_t first = ucd::kCategoryRuns[r].first;
            const uint32_t end = r + 1 < ucd::kCategoryRunCount ? ucd::kCategoryRuns[r + 1].first : kMaxCp;
            std::fill(t.get() + first, t.get() + end, ucd::kCategoryRuns[r].category);
        }
        return t;
    }();
    return table.get();
}

struct NormData {
    std::unordered_map<uint32_t, std::pair<uint32_t, uint32_t>> decomp;
    std::unordered_map<uint64_t, uint32_t> comp;
    std::unique_ptr<uint8_t[]> ccc;
    // 1 when a code point may change under NFC or affect its neighbour: non-zero combining class,
    // a decomposition that does not recompose (singletons, exclusions), or the second element of
    // a composition. A string with none of these is already NFC (the UAX #15 quick check idea).
    std::unique_ptr<uint8_t[]> nfc_unsafe;
};

const NormData& norm_data() {
    static const NormData data = [] {
        NormData d;
        d.decomp.reserve(ucd::kDecompositionCount);
        for (std::size_t i = 0; i < ucd::kDecompositionCount; ++i)
            d.decomp[ucd::kDecompositions[i].cp] = {ucd::kDecompositions[i].first, ucd::kDecompositions[i].second};
        d.comp.reserve(ucd::kCompositionCount);
        for (std::size_t i = 0; i < ucd::kCompositionCount; ++i)
            d.comp[(uint64_t(ucd::kCompositions[i].first) << 32) | ucd::kCompositions[i].second] =
                ucd::kCompositions[i].composite;
        d.ccc.reset(new uint8_t[kMaxCp]());
        d.nfc_unsafe.reset(new uint8_t[kMaxCp]());
        for (std::size_t i = 0; i < ucd::kCombiningRunCount; ++i)
            for (uint32_t c = ucd::kCombiningRuns[i].first; c <= ucd::kCombiningRuns[i].last; ++c) {
                d.ccc[c] = ucd::kCombiningRuns[i].ccc;
                d.nfc_unsafe[c] = 1;
            }
        for (std::size_t i = 0; i < ucd::kDecompositionCount; ++i) d.nfc_unsafe[ucd::kDecompositions[i].cp] = 1;
        for (std::size_t i = 0; i < ucd::kCompositionCount; ++i) {
            d.nfc_unsafe[ucd::kCompositions[i].composite] = 0;   // a primary composite is stable alone
            d.nfc_unsafe[ucd::kCompositions[i].second] = 1;
        }
        for (std::size_t i = 0; i < ucd::kCompositionCount; ++i) d.nfc_unsafe[ucd::kCompositions[i].second] = 1;
        for (uint32_t c = 0x1161; c <= 0x1175; ++c) d.nfc_unsafe[c] = 1;   // Hangul V jamo
        for (uint32_t c = 0x11A8; c <= 0x11C2; ++c) d.nfc_unsafe[c] = 1;   // Hangul T jamo
        return d;
    }();
    return data;
}

// Hangul syllable constants (Unicode §3.12).
constexpr uint32_t SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
constexpr uint32_t LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

void decompose_into(uint32_t cp, std::vector<uint32_t>& out, const NormData& d) {
    if (cp >= SBase && cp < SBase + SCount) {
        const uint32_t s = cp - SBase;
        out.push_back(LBase + s / NCount);
        out.push_back(VBase + (s % NCount) / TCount);
        if (s % TCount) out.push_back(TBase + s % TCount);
        return;
    }
    auto it = d.decomp.find(cp);
    if (it == d.decomp.end()) {
        out.push_back(cp);
        return;
    }
    decompose_into(it->second.first, out, d);
    if (it->second.second) decompose_into(it->second.second, out, d);
}

std::vector<uint32_t> decompose_ordered(std::string_view s) {
    const NormData& d = norm_data();
    std::vector<uint32_t> cps;
    cps.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) decompose_into(utf8_next(s, i), cps, d);
    // Canonical ordering: stable sort of each run of non-starters by combining class.
    for (std::size_t a = 0; a < cps.size();) {
        if (d.ccc[cps[a]] == 0) { ++a; continue; }
        std::size_t b = a;
        while (b < cps.size() && d.ccc[cps[b]] != 0) ++b;
        std::stable_sort(cps.begin() + a, cps.begin() + b,
                         [&](uint32_t x, uint32_t y) { return d.ccc[x] < d.ccc[y]; });
        a = b;
    }
    return cps;
}

}  // namespace

Gc general_category(uint32_t cp) {
    if (cp >= kMaxCp) return Gc::Cn;
    return static_cast<Gc>(category_table()[cp]);
}

bool is_white_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

bool is_alphanumeric(uint32_t cp) {
    return (gc_bit(general_category(cp)) & (kGcLetter | kGcNumber)) != 0;
}

uint8_t combining_class(uint32_t cp) { return cp < kMaxCp ? norm_data().ccc[cp] : 0; }

static int utf8_seq_len(std::string_view s, std::size_t i);

bool utf8_valid(std::string_view s, std::size_t* error_offset) {
    std::size_t i = 0;
    while (i < s.size()) {
        const int n = utf8_seq_len(s, i);
        if (n <= 0) {
            if (error_offset) *error_offset = i;
            return false;
        }
        i += static_cast<std::size_t>(n);
    }
    return true;
}

uint32_t utf8_next(std::string_view s, std::size_t& i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) { ++i; return c; }
    std::size_t n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
    uint32_t cp = c & (0x3F >> n);
    for (std::size_t k = 1; k <= n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n + 1;
    return cp;
}

void utf8_append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::vector<uint32_t> utf8_to_codepoints(std::string_view s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) out.push_back(utf8_next(s, i));
    return out;
}

// Length of the valid sequence starting at s[i] (0 if invalid), or -1 if it is a valid but
// truncated prefix that runs into the end of the buffer.
static int utf8_seq_len(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) return 1;
    int n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    for (int k = 1; k < n; ++k) {
        if (i + k >= s.size()) return -1;
        const auto cc = static_cast<unsigned char>(s[i + k]);
        if (k == 1 ? (cc < lo || cc > hi) : (cc & 0xC0) != 0x80) return 0;
    }
    return n;
}

std::size_t utf8_complete_prefix(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const int n = utf8_seq_len(s, i);
        if (n < 0) return i;
        i += n > 0 ? n : 1;
    }
    return i;
}

std::string utf8_lossy(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        int n = utf8_seq_len(s, i);
        if (n > 0) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        // Maximal invalid subpart: the lead byte plus any continuation bytes that were valid so far.
        std::size_t j = i + 1;
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0xC2 && c <= 0xF4) {
            unsigned char lo = 0x80, hi = 0xBF;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
            const std::size_t need = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
            for (std::size_t k = 0; k < need && j < s.size(); ++k, ++j) {
                const auto cc = static_cast<unsigned char>(s[j]);
                if (k == 0 ? (cc < lo || cc > hi) : (cc & 0xC0) != 0x80) break;
            }
        }
        out += "\xEF\xBF\xBD";
        i = j;
    }
    return out;
}

std::string nfd(std::string_view s) {
    bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) return std::string(s);
    std::string out;
    for (uint32_t cp : decompose_ordered(s)) utf8_append(out, cp);
    return out;
}

namespace {
std::string nfc_full(std::string_view s);
}

// NFC in chunks: text between "safe" characters (starters that neither change under NFC nor
// combine with what precedes them) is copied as is; only the chunks around unsafe characters, from
// the last safe character before them to the next safe one, go through the full algorithm. A safe
// character is a stable boundary, so the result equals NFC of the whole string.
std::string nfc(std::string_view s) {
    const NormData& d = norm_data();
    std::string out;
    std::size_t copied = 0;      // s[0, copied) is already in out
    std::size_t last_safe = 0;   // start of the last safe character seen
    std::size_t i = 0;
    while (i < s.size()) {
        if (static_cast<unsigned char>(s[i]) < 0x80) { last_safe = i++; continue; }
        const std::size_t at = i;
        if (!d.nfc_unsafe[utf8_next(s, i)]) { last_safe = at; continue; }
        // Unsafe character: normalize [chunk_start, next safe character).
        const std::size_t chunk_start = std::max(copied, last_safe);
        std::size_t end = i;
        while (end < s.size()) {
            std::size_t k = end;
            const uint32_t cp = utf8_next(s, k);
            if (!d.nfc_unsafe[cp]) break;
            end = k;
        }
        if (out.empty()) out.reserve(s.size() + 16);
        out.append(s.substr(copied, chunk_start - copied));
        out += nfc_full(s.substr(chunk_start, end - chunk_start));
        copied = end;
        i = end;
        last_safe = end;
    }
    if (copied == 0) return std::string(s);
    out.append(s.substr(copied));
    return out;
}

namespace {
std::string nfc_full(std::string_view s) {
    const NormData& d = norm_data();
    std::vector<uint32_t> cps = decompose_ordered(s);
    // Canonical composition (UAX #15): combine each character with the last starter unless a
    // character in between blocks it (ccc 0, or ccc >= its own).
    long starter = -1;
    int last_ccc = 0;
    std::size_t w = 0;
    for (std::size_t r = 0; r < cps.size(); ++r) {
        const uint32_t c = cps[r];
        const int ccc = d.ccc[c];
        if (starter >= 0) {
            const bool adjacent = w == static_cast<std::size_t>(starter) + 1;
            if (adjacent || (last_ccc != 0 && last_ccc < ccc)) {
                const uint32_t st = cps[starter];
                uint32_t composite = 0;
                if (st >= LBase && st < LBase + LCount && c >= VBase && c < VBase + VCount) {
                    composite = SBase + ((st - LBase) * VCount + (c - VBase)) * TCount;
                } else if (st >= SBase && st < SBase + SCount && (st - SBase) % TCount == 0 && c > TBase &&
                           c < TBase + TCount) {
                    composite = st + (c - TBase);
                } else {
                    auto it = d.comp.find((uint64_t(st) << 32) | c);
                    if (it != d.comp.end()) composite = it->second;
                }
                if (composite) {
                    cps[starter] = composite;
                    continue;
                }
            }
        }
        if (ccc == 0) starter = static_cast<long>(w);
        last_ccc = ccc;
        cps[w++] = c;
    }
    cps.resize(w);
    std::string out;
    out.reserve(s.size());
    for (uint32_t cp : cps) utf8_append(out, cp);
    return out;
}
}  // namespace

}  // namespace moescope::tok
