#pragma once
// Added tokens of a tokenizer.json ("added_tokens"): split out of the text before the model runs.
// Matches tokenizers' AddedVocabulary::find_matches: leftmost-longest non-overlapping matches of the
// token contents; single_word requires no word character on either side; lstrip/rstrip absorb
// adjacent whitespace into the match.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moescope::tok {

struct AddedToken {
    int32_t id = -1;
    std::string content;
    bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

struct Segment {
    std::optional<int32_t> id;   // an added token, or plain text when empty
    std::size_t begin = 0, end = 0;
};

// A byte trie over token contents.
class AddedTokenMatcher {
public:
    void add(const std::string& pattern, const AddedToken* token);
    bool empty() const { return nodes_.size() <= 1; }
    // Splits `text` into added-token and plain segments (plain segments may be empty only when the
    // text is empty, as in tokenizers).
    void split(std::string_view text, std::vector<Segment>& out) const;

private:
    struct Node {
        std::vector<std::pair<uint8_t, uint32_t>> kids;
        const AddedToken* token = nullptr;
    };
    std::vector<Node> nodes_{Node{}};
    bool first_byte_[256] = {};
};

}  // namespace moescope::tok
