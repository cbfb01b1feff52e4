// Added-token matching; see added_vocab.h. Reference: tokenizers src/tokenizer/added_vocabulary.rs.
#include "engine/tokenizer/added_vocab.h"

#include "engine/tokenizer/unicode.h"

namespace moescope::tok {
namespace {

// Code point ending just before byte `end` (text is valid UTF-8).
uint32_t cp_before(std::string_view s, std::size_t end, std::size_t* begin_out = nullptr) {
    std::size_t b = end - 1;
    while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
    if (begin_out) *begin_out = b;
    std::size_t i = b;
    return utf8_next(s, i);
}

}  // namespace

void AddedTokenMatcher::add(const std::string& pattern, const AddedToken* token) {
    if (pattern.empty()) return;
    uint32_t node = 0;
    for (unsigned char c : pattern) {
        uint32_t next = 0;
        for (const auto& [byte, child] : nodes_[node].kids)
            if (byte == c) { next = child; break; }
        if (!next) {
            nodes_.emplace_back();
            next = static_cast<uint32_t>(nodes_.size() - 1);
            nodes_[node].kids.emplace_back(c, next);
        }
        node = next;
    }
    if (!nodes_[node].token) nodes_[node].token = token;   // first definition wins
    first_byte_[static_cast<unsigned char>(pattern[0])] = true;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
    std::size_t start_offset = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (!first_byte_[static_cast<unsigned char>(text[pos])]) { ++pos; continue; }
        // Longest match starting at pos.
        uint32_t node = 0;
        const AddedToken* best = nullptr;
        std::size_t best_end = 0;
        for (std::size_t i = pos; i < text.size(); ++i) {
            uint32_t next = 0;
            for (const auto& [byte, child] : nodes_[node].kids)
                if (byte == static_cast<unsigned char>(text[i])) { next = child; break; }
            if (!next) break;
            node = next;
            if (nodes_[node].token) { best = nodes_[node].token; best_end = i + 1; }
        }
        if (!best) { ++pos; continue; }
        std::size_t start = pos, stop = best_end;
        pos = best_end;   // non-overlapping scan continues after the raw match
        if (best->single_word) {
            const bool start_ok = start == 0 || !is_alphanumeric(cp_before(text, start));
            std::size_t k = stop;
            const bool stop_ok = stop == text.size() || !is_alphanumeric(utf8_next(text, k));
            if (!start_ok || !stop_ok) continue;
        }
        if (best->lstrip) {
            std::size_t s = start;
            while (s > 0) {
                std::size_t b;
                if (!is_white_space(cp_before(text, s, &b))) break;
                s = b;
            }
            start = std::max(s, start_offset);
        }
        if (best->rstrip) {
            while (stop < text.size()) {
                std::size_t k = stop;
                if (!is_white_space(utf8_next(text, k))) break;
                stop = k;
            }
        }
        if (start_offset < start) out.push_back({std::nullopt, start_offset, start});
        out.push_back({best->id, start, stop});
        start_offset = stop;
        if (pos < stop) pos = stop;
    }
    if (start_offset != text.size() || text.empty()) out.push_back({std::nullopt, start_offset, text.size()});
}

}  // namespace moescope::tok
