#pragma once
// A small backtracking regex engine over Unicode code points, purpose-built for the pre-tokenizer
// patterns in Hugging Face tokenizer.json files.
//
// Why not std::regex: it has no \p{..} classes and is not Unicode-aware. Why not a library: the
// only Debian options (PCRE2, Oniguruma) would add a system dependency for a handful of patterns.
// HF tokenizers runs these patterns with Oniguruma (Ruby syntax, Unicode); this engine follows the
// same semantics for the subset they use: leftmost match, ordered (Perl-style) alternation, greedy
// and lazy quantifiers, character classes with ranges and negation, \p{..}/\P{..} general
// categories (Unicode tables in unicode_data.cpp), \s \S \d \D \w \W, '.', (?:..), (?i:..)
// (ASCII case folding plus U+017F/U+212A), and lookahead (?=..)/(?!..). Anything else (anchors,
// back-references, lookbehind, possessive quantifiers, named groups) is rejected with an Error
// naming the construct and its position, never silently mis-handled.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moescope::tok {

class Regex {
public:
    Regex();
    ~Regex();
    Regex(Regex&&) noexcept;
    Regex& operator=(Regex&&) noexcept;

    // Throws moescope::Error on a syntax error or unsupported construct.
    static Regex compile(std::string_view pattern);

    // All non-overlapping matches in text[0, n) scanning left to right, as [begin, end) code point
    // indices. Empty matches are reported and the scan then advances by one code point.
    void find_all(const uint32_t* text, std::size_t n, std::vector<std::pair<std::size_t, std::size_t>>& out) const;
    // Anchored match at `start`: end index, or -1.
    long match_at(const uint32_t* text, std::size_t n, std::size_t start) const;

    const std::string& pattern() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace moescope::tok
