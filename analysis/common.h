#pragma once
// Shared plumbing for the analyses: validating RoutingArrays, choosing which tokens count, grouping rows
// into sequences, and the small "notes" list every result carries (parameters that methods.md marks
// UNCONFIRMED, approximations, skipped inputs). Pure functions, no I/O.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/error.h"
#include "storage/routing_arrays.h"

namespace moescope::analysis {

// Which token rows count (methods.md §0.4 "which token positions count").
enum class TokenKind { Prompt, Generated, All };
const char* token_kind_name(TokenKind k);
// "prompt" | "generated" | "all"; anything else -> Error naming the value.
Result<TokenKind> parse_token_kind(const std::string& text);

struct TokenFilter {
    TokenKind kind = TokenKind::All;
    std::vector<std::string> sets;          // set names; empty = every row regardless of set
    std::vector<int32_t> exclude_token_ids; // e.g. BOS / chat-template ids (methods.md §1.3 pitfalls)
    std::vector<uint8_t> mask;              // optional [n_tokens] marked span: 1 = row may count
};

// Structural sanity of an array bundle: vector sizes agree with the shape fields. `what` names the
// input in the message ("behavior arrays: experts has 10 entries, expected 12 = 2 tokens x 3 layers x 2").
Result<bool> validate(const RoutingArrays& a, const std::string& what);

// Rows selected by the filter, in row order. Unknown set names -> Error listing the known ones.
Result<std::vector<int64_t>> select_rows(const RoutingArrays& a, const TokenFilter& f, const std::string& what);

// Two bundles describe the same model layout (same MoE layers, experts per layer); otherwise Error
// naming both shapes. Used wherever two runs/checkpoints are compared.
Result<bool> same_layout(const RoutingArrays& a, const RoutingArrays& b);

// A sequence = consecutive rows sharing (run_id, prompt_id), ordered by position as stored.
struct Sequence {
    int64_t begin = 0, end = 0;  // row range [begin, end)
};
// Groups the given rows (ascending) into sequences: a new sequence starts when run_id or prompt_id
// changes or when position does not increase.
std::vector<std::vector<int64_t>> group_sequences(const RoutingArrays& a, const std::vector<int64_t>& rows);

// Index of HF layer L among a.moe_layers, or -1.
int moe_slot_of_layer(const RoutingArrays& a, int layer);

// Softmax (or sigmoid then normalise, DeepSeek-V3) of one token-layer's router logits into `out`.
enum class ScoreFunction { Softmax, Sigmoid };
void router_probs(const float* logits, int n, ScoreFunction f, std::vector<double>& out);

}  // namespace moescope::analysis
