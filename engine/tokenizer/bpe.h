#pragma once
// The BPE model of a Hugging Face tokenizer.json ("model": {"type": "BPE", ...}).
// Matches tokenizers' models/bpe/model.rs: initial symbols are the piece's characters (with
// byte_fallback to <0xXX> tokens or unk, fusing consecutive unks when fuse_unk), then the adjacent
// pair with the lowest merge rank is merged repeatedly, leftmost first on ties.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace moescope::tok {

struct ScannedModel;

// Open-addressing map from a merge pair (left id << 32 | right id) to (rank << 32 | merged id):
// the hottest lookup in encoding, so no node allocations and one multiply-shift hash.
class MergeTable {
public:
    void reserve(std::size_t n);
    // Keeps the first (lowest-rank) value for a key.
    void insert(uint64_t key, uint64_t value);
    const uint64_t* find(uint64_t key) const {
        if (mask_ == 0) return nullptr;
        for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
            if (keys_[i] == key) return &values_[i];
            if (keys_[i] == kEmpty) return nullptr;
        }
    }
    std::size_t size() const { return size_; }

private:
    static constexpr uint64_t kEmpty = ~uint64_t(0);
    std::size_t slot(uint64_t key) const { return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_) & mask_; }
    std::vector<uint64_t> keys_, values_;
    std::size_t mask_ = 0, size_ = 0;
    int shift_ = 0;
};

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class Bpe {
public:
    // Throws moescope::Error (prefixed with `where`) on a malformed model section.
    // `scanned` (optional) holds vocab/merges already extracted by the fast scanner.
    void load(const nlohmann::json& model, const std::string& where, const ScannedModel* scanned = nullptr);

    // Appends the ids of one pre-tokenized piece.
    void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;

    std::optional<int32_t> token_to_id(std::string_view token) const;
    const std::string* id_to_token(int32_t id) const;   // nullptr when not in the model vocab
    std::size_t vocab_size() const { return id_to_token_.size(); }
    std::size_t merge_count() const { return merges_.size(); }
    std::size_t merges_listed() const { return merges_listed_; }
    std::optional<int32_t> unk_id() const { return unk_id_; }
    bool byte_fallback() const { return byte_fallback_; }

private:
    void merge_word(std::string_view piece, std::vector<int32_t>& out) const;

    TokenMap vocab_;
    std::vector<std::string> id_to_token_;
    std::vector<bool> has_token_;
    // (left id << 32 | right id) -> (rank << 32 | merged id)
    MergeTable merges_;
    std::size_t merges_listed_ = 0;
    // Ids of single-code-point tokens for cp < kDirectChars (covers the byte-level alphabet).
    static constexpr uint32_t kDirectChars = 0x10000;
    // SentencePiece-style vocabularies (Mixtral) run BPE over whole segments, since there is no
    // pre-tokenizer. When no vocab token contains "▁" right after another character, no merge can
    // cross the position before a "▁" that follows a non-"▁" character, so long segments are cut
    // there (exactly the same result, but short words that the cache can serve). Checked at load.
    bool split_at_metaspace_ = false;
    void merge_or_cached(std::string_view piece, std::vector<int32_t>& out) const;
    std::vector<int32_t> char_ids_;
    void add_merge(std::string_view a, std::string_view b, uint32_t rank, std::string& merged, const std::string& where);
    std::optional<int32_t> unk_id_;
    bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
    std::string continuing_prefix_, end_suffix_;
    int32_t byte_ids_[256];

    static constexpr std::size_t kCacheMaxEntries = 200000;
    static constexpr std::size_t kCacheMaxPieceBytes = 256;
    mutable std::mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace moescope::tok
