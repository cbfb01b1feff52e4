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

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class Bpe {
public:
    // Throws moescope::Error (prefixed with `where`) on a malformed model section.
    void load(const nlohmann::json& model, const std::string& where);

    // Appends the ids of one pre-tokenized piece.
    void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;

    std::optional<int32_t> token_to_id(std::string_view token) const;
    const std::string* id_to_token(int32_t id) const;   // nullptr when not in the model vocab
    std::size_t vocab_size() const { return id_to_token_.size(); }
    std::size_t merge_count() const { return merges_.size(); }
    std::optional<int32_t> unk_id() const { return unk_id_; }
    bool byte_fallback() const { return byte_fallback_; }

private:
    void merge_word(std::string_view piece, std::vector<int32_t>& out) const;

    TokenMap vocab_;
    std::vector<std::string> id_to_token_;
    std::vector<bool> has_token_;
    // (left id << 32 | right id) -> (rank << 32 | merged id)
    std::unordered_map<uint64_t, uint64_t> merges_;
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
