#pragma once
// Hugging Face tokenizer.json reader and encoder/decoder that reproduces the ids of the HF
// `tokenizers` library exactly for the model families moescope supports (Qwen2/3, DeepSeek-V3/R1,
// Mixtral/Mistral, OLMoE/GPT-NeoX, GPT-2, OLMo-2). See docs/tokenizer.md for what is supported and
// how exactness is checked. No Qt.
//
// Pipeline (tokenizers' TokenizerImpl::encode): added tokens are split out of the raw text first
// (leftmost-longest; lstrip/rstrip/single_word honoured; `normalized` tokens matched after
// normalization), then each remaining segment is normalized, pre-tokenized and run through BPE;
// with add_special the post-processor (or tokenizer_config.json's add_bos/add_eos) adds BOS/EOS.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.h"

namespace moescope {

// Cheap to copy (shared immutable state); safe to use from several threads at once.
class Tokenizer {
public:
    // tokenizer_config_path may be empty; when given it supplies bos/eos/pad names, add_bos_token /
    // add_eos_token and the chat template. Errors name the file and the reason.
    static Result<Tokenizer> from_file(const std::string& tokenizer_json_path,
                                       const std::string& tokenizer_config_path = {});
    // Reads DIR/tokenizer.json and, if present, DIR/tokenizer_config.json.
    static Result<Tokenizer> from_model_dir(const std::string& dir);
    // From in-memory JSON text; `name` is used in error messages.
    static Result<Tokenizer> from_json(std::string_view tokenizer_json, std::string_view config_json = {},
                                       const std::string& name = "tokenizer.json");

    // Throws moescope::Error when text is not valid UTF-8 (the message gives the byte offset).
    // Special-token text in the input is matched (HF default).
    std::vector<int32_t> encode(std::string_view text, bool add_special = false) const;
    // Throws moescope::Error on an id outside the vocabulary. Invalid UTF-8 produced by byte-level
    // tokens is replaced by U+FFFD (as HF does).
    std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

    // The token's vocabulary string (e.g. "Ġthe", "▁Hello", "<0x0A>", "<|im_start|>"); throws on a
    // bad id.
    std::string token_to_piece(int32_t id) const;
    std::optional<int32_t> token_to_id(std::string_view token) const;
    // Number of ids: max(model vocab, added tokens) + 1.
    int32_t vocab_size() const;
    bool is_special(int32_t id) const;   // an added token with special=true

    std::optional<int32_t> bos_id() const;
    std::optional<int32_t> eos_id() const;
    std::optional<int32_t> pad_id() const;
    std::optional<int32_t> unk_id() const;
    const std::string& bos_token() const;   // empty when none
    const std::string& eos_token() const;

    // chat_template from tokenizer_config.json (empty when none).
    const std::string& chat_template() const;
    // Where the tokenizer was loaded from (for messages).
    const std::string& source() const;

    struct Impl;

private:
    // Throws Error when the tokenizer was default-constructed and never loaded.
    const Impl& impl() const;
    std::shared_ptr<const Impl> impl_;
};

// Streaming detokenizer: push ids one at a time and get back only complete text. A multi-byte
// character split across tokens is emitted once, when its last byte arrives; leading-space
// handling of the decoder (Mixtral's Strip, Metaspace) is applied as in a full decode, so the
// concatenation of all outputs plus finish() equals decode(all ids).
class IncrementalDecoder {
public:
    explicit IncrementalDecoder(Tokenizer tokenizer, bool skip_special = false);
    std::string push(int32_t id);
    // Flushes text held back (an incomplete character at the end becomes U+FFFD).
    std::string finish();

private:
    Tokenizer tok_;
    bool skip_special_;
    std::vector<int32_t> ids_;
    std::size_t prefix_ = 0, read_ = 0;
};

}  // namespace moescope
