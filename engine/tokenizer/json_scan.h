#pragma once
// Fast extraction of the two large sections of a tokenizer.json (model.vocab and model.merges).
//
// Why: Qwen3's tokenizer.json is 11 MB, almost all of it vocab (151k entries) and merges (151k).
// Building a generic JSON DOM for that (std::map per object, one allocation per string) takes
// seconds; the load-time target is < 0.5 s. So we locate those two values with a small structural
// scanner, decode them straight into flat arrays, and let nlohmann::json parse the (small) rest.
// Any structural surprise makes scan_tokenizer_json return false, and the caller falls back to the
// plain DOM path, which also produces nlohmann's precise error message for malformed files.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moescope::tok {

struct ScannedModel {
    bool found_vocab = false, found_merges = false;
    std::vector<std::pair<std::string, int64_t>> vocab;
    // Each merge as its two token strings (views into the source text or into `arena`).
    std::vector<std::pair<std::string_view, std::string_view>> merges;
    bool merges_as_strings = false;    // legacy "a b" format (split on the first space)
    std::deque<std::string> arena;     // storage for merge strings that contained escapes
    std::string rest;                  // the document with vocab -> {} and merges -> [] (for the DOM parser)
};

// Returns false (out untouched or partial) when the document does not have the expected shape.
bool scan_tokenizer_json(std::string_view text, ScannedModel& out);

}  // namespace moescope::tok
