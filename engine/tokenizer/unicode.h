#pragma once
// Unicode helpers for the tokenizer: UTF-8 coding, general categories, White_Space, NFC/NFD.
// Tables come from engine/tokenizer/unicode_data.cpp (generated, see tools/gen_unicode_tables.py).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moescope::tok {

// Unicode general categories, in the order the generator emits them.
enum class Gc : uint8_t {
    Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No, Pc, Pd, Ps, Pe, Pi, Pf, Po,
    Sm, Sc, Sk, So, Zs, Zl, Zp, Cc, Cf, Cs, Co, Cn
};
constexpr uint32_t gc_bit(Gc g) { return 1u << static_cast<uint32_t>(g); }
constexpr uint32_t kGcLetter = gc_bit(Gc::Lu) | gc_bit(Gc::Ll) | gc_bit(Gc::Lt) | gc_bit(Gc::Lm) | gc_bit(Gc::Lo);
constexpr uint32_t kGcMark = gc_bit(Gc::Mn) | gc_bit(Gc::Mc) | gc_bit(Gc::Me);
constexpr uint32_t kGcNumber = gc_bit(Gc::Nd) | gc_bit(Gc::Nl) | gc_bit(Gc::No);

Gc general_category(uint32_t cp);
// Unicode White_Space property (what Oniguruma's \s and Rust's char::is_whitespace test).
bool is_white_space(uint32_t cp);
// Rust char::is_alphanumeric: Alphabetic or Numeric; approximated by categories L*, Nl, Nd, No.
bool is_alphanumeric(uint32_t cp);
uint8_t combining_class(uint32_t cp);

// Strict UTF-8 decoding. Returns false on malformed input and sets *error_offset.
bool utf8_valid(std::string_view s, std::size_t* error_offset = nullptr);
// Decodes one code point at s[i] (input known valid), advancing i.
uint32_t utf8_next(std::string_view s, std::size_t& i);
void utf8_append(std::string& out, uint32_t cp);
std::vector<uint32_t> utf8_to_codepoints(std::string_view s);
// Length of the longest prefix of s that ends on a complete UTF-8 character boundary, treating an
// incomplete multi-byte sequence at the very end as "not yet complete".
std::size_t utf8_complete_prefix(std::string_view s);
// Lossy decoding like Rust's String::from_utf8_lossy: each maximal invalid subpart -> U+FFFD.
std::string utf8_lossy(std::string_view bytes);

std::string nfc(std::string_view s);
std::string nfd(std::string_view s);

}  // namespace moescope::tok
