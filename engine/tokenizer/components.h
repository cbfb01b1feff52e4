#pragma once
// The pipeline stages of a Hugging Face tokenizer.json, built from their JSON descriptions:
// normalizers, pre-tokenizers, decoders and post-processors. Each factory throws moescope::Error
// naming the JSON path and the unsupported type, never silently ignoring a stage.
// Reference semantics: huggingface/tokenizers src/{normalizers,pre_tokenizers,decoders,processors}.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace moescope::tok {

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual void apply(std::string& text) const = 0;
};

// One piece of text during pre-tokenization. `at_origin` is true when the piece starts at byte 0
// of the original input (Metaspace's prepend_scheme "first" needs it).
struct Piece {
    std::string text;
    bool at_origin = false;
};

// Receives the pieces a pre-tokenizer produces, one at a time (streaming keeps a long text from
// being materialized as millions of small strings before BPE sees them).
using PieceSink = std::function<void(Piece&)>;

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Splits/transforms one piece and hands each result to `sink`, in order.
    virtual void run(Piece& piece, const PieceSink& sink) const = 0;
    // Convenience for tests: applies the pre-tokenizer to every piece of a list.
    void apply(std::vector<Piece>& pieces) const;
};

class Decoder {
public:
    virtual ~Decoder() = default;
    // tokenizers' decode_chain: transforms the list of token strings.
    virtual void apply(std::vector<std::string>& tokens) const = 0;
};

// Resolves a special-token name used by TemplateProcessing to ids.
struct TemplateItem {
    bool is_sequence = false;          // $A (or $B)
    std::vector<int32_t> special_ids;  // for special tokens
};

struct PostProcessor {
    std::vector<TemplateItem> single;  // empty: the post-processor adds nothing
    bool adds_tokens() const;
    std::vector<int32_t> apply(const std::vector<int32_t>& ids) const;
};

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& where);
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j, const std::string& where);
PostProcessor make_post_processor(const nlohmann::json& j, const std::string& where);

// GPT-2 bytes_to_unicode: the visible character (UTF-8) each byte maps to, and the inverse.
const std::string& byte_to_unicode(uint8_t b);
// Returns -1 when cp is not in the byte-level alphabet.
int unicode_to_byte(uint32_t cp);

}  // namespace moescope::tok
