// BPE model; see bpe.h. Reference: huggingface/tokenizers models/bpe/{model.rs,word.rs}.
#include "engine/tokenizer/bpe.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/tokenizer/json_scan.h"
#include "engine/tokenizer/unicode.h"

namespace moescope::tok {

void MergeTable::reserve(std::size_t n) {
    std::size_t cap = 16;
    int bits = 4;
    while (cap < n * 2) { cap <<= 1; ++bits; }
    keys_.assign(cap, kEmpty);
    values_.assign(cap, 0);
    mask_ = cap - 1;
    shift_ = 64 - bits;
    size_ = 0;
}

void MergeTable::insert(uint64_t key, uint64_t value) {
    if ((size_ + 1) * 2 > keys_.size()) {
        std::vector<uint64_t> k = std::move(keys_), v = std::move(values_);
        reserve(std::max<std::size_t>(size_ + 1, k.size()));
        for (std::size_t i = 0; i < k.size(); ++i)
            if (k[i] != kEmpty) insert(k[i], v[i]);
    }
    for (std::size_t i = slot(key);; i = (i + 1) & mask_) {
        if (keys_[i] == key) return;
        if (keys_[i] == kEmpty) {
            keys_[i] = key;
            values_[i] = value;
            ++size_;
            return;
        }
    }
}

void Bpe::add_merge(std::string_view a, std::string_view b, uint32_t rank, std::string& merged, const std::string& where) {
    const auto ia = vocab_.find(a);
    const auto ib = vocab_.find(b);
    if (ia == vocab_.end() || ib == vocab_.end())
        throw Error(where + ": model: merge #" + std::to_string(rank) + " refers to unknown token '" +
                    std::string(ia == vocab_.end() ? a : b) + "'");
    merged.assign(a);
    std::string_view tail = b;
    if (!continuing_prefix_.empty() && tail.substr(0, continuing_prefix_.size()) == continuing_prefix_)
        tail.remove_prefix(continuing_prefix_.size());
    merged.append(tail);
    const auto im = vocab_.find(std::string_view(merged));
    if (im == vocab_.end())
        throw Error(where + ": model: merge #" + std::to_string(rank) + " produces '" + merged +
                    "', which is not in the vocab");
    merges_.insert((uint64_t(uint32_t(ia->second)) << 32) | uint32_t(ib->second), (uint64_t(rank) << 32) | uint32_t(im->second));
}

void Bpe::load(const nlohmann::json& model, const std::string& where, const ScannedModel* scanned) {
    const auto fail = [&](const std::string& why) { throw Error(where + ": model: " + why); };
    if (!model.is_object()) fail("not an object");
    const auto str_or_null = [&](const char* key) -> std::optional<std::string> {
        auto it = model.find(key);
        if (it == model.end() || it->is_null()) return std::nullopt;
        if (!it->is_string()) fail(std::string("'") + key + "' must be a string or null");
        return it->get<std::string>();
    };
    const auto flag = [&](const char* key) {
        auto it = model.find(key);
        if (it == model.end() || it->is_null()) return false;
        if (!it->is_boolean()) fail(std::string("'") + key + "' must be a boolean");
        return it->get<bool>();
    };
    if (auto d = model.find("dropout"); d != model.end() && !d->is_null() && d->get<double>() > 0.0)
        fail("BPE dropout is not supported (it makes encoding random)");
    fuse_unk_ = flag("fuse_unk");
    byte_fallback_ = flag("byte_fallback");
    ignore_merges_ = flag("ignore_merges");
    continuing_prefix_ = str_or_null("continuing_subword_prefix").value_or("");
    end_suffix_ = str_or_null("end_of_word_suffix").value_or("");

    int64_t max_id = -1;
    const auto add_vocab = [&](std::string key, int64_t id) {
        if (id < 0 || id > 100000000) fail("vocab entry '" + key + "' has out-of-range id " + std::to_string(id));
        max_id = std::max(max_id, id);
        vocab_.emplace(std::move(key), static_cast<int32_t>(id));
    };
    if (scanned && scanned->found_vocab) {
        vocab_.reserve(scanned->vocab.size());
        for (const auto& [k, id] : scanned->vocab) add_vocab(k, id);
    } else {
        auto vit = model.find("vocab");
        if (vit == model.end() || !vit->is_object()) fail("'vocab' must be an object of token -> id");
        vocab_.reserve(vit->size());
        for (auto it = vit->begin(); it != vit->end(); ++it) {
            if (!it.value().is_number_integer()) fail("vocab entry '" + it.key() + "' has a non-integer id");
            add_vocab(it.key(), it.value().get<int64_t>());
        }
    }
    id_to_token_.assign(static_cast<std::size_t>(max_id + 1), std::string());
    has_token_.assign(static_cast<std::size_t>(max_id + 1), false);
    for (const auto& [tok, id] : vocab_) {
        id_to_token_[static_cast<std::size_t>(id)] = tok;
        has_token_[static_cast<std::size_t>(id)] = true;
    }
    if (auto unk = str_or_null("unk_token")) {
        auto it = vocab_.find(*unk);
        if (it == vocab_.end()) fail("unk_token '" + *unk + "' is not in the vocab");
        unk_id_ = it->second;
    }
    char_ids_.assign(kDirectChars, -1);
    split_at_metaspace_ = continuing_prefix_.empty() && end_suffix_.empty();
    for (const auto& [tok, id] : vocab_) {
        for (std::size_t p = tok.find("\xE2\x96\x81", 1); p != std::string::npos && split_at_metaspace_; p = tok.find("\xE2\x96\x81", p + 1))
            if (p < 3 || tok.compare(p - 3, 3, "\xE2\x96\x81") != 0) split_at_metaspace_ = false;
        if (tok.empty() || tok.size() > 3) continue;
        std::size_t i = 0;
        const uint32_t cp = utf8_next(tok, i);
        if (i == tok.size() && cp < kDirectChars) char_ids_[cp] = id;
    }
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        auto it = vocab_.find(std::string_view(name));
        byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
    }

    std::string merged;
    if (scanned && scanned->found_merges) {
        merges_.reserve(scanned->merges.size());
        uint32_t rank = 0;
        for (const auto& [a, b] : scanned->merges) add_merge(a, b, rank++, merged, where);
        merges_listed_ = scanned->merges.size();
        return;
    }
    auto mit = model.find("merges");
    if (mit == model.end() || mit->is_null()) return;   // a BPE without merges is legal (pure vocab)
    if (!mit->is_array()) fail("'merges' must be an array");
    merges_.reserve(mit->size());
    uint32_t rank = 0;
    for (const auto& m : *mit) {
        std::string_view a, b;
        if (m.is_string()) {
            // Legacy format "a b": split on the first space (tokens never contain spaces there).
            const std::string& s = m.get_ref<const std::string&>();
            const auto sp = s.find(' ');
            if (sp == std::string::npos) fail("merge #" + std::to_string(rank) + " '" + s + "' is not of the form 'a b'");
            a = std::string_view(s).substr(0, sp);
            b = std::string_view(s).substr(sp + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            a = m[0].get_ref<const std::string&>();
            b = m[1].get_ref<const std::string&>();
        } else {
            fail("merge #" + std::to_string(rank) + " is neither \"a b\" nor [\"a\", \"b\"]");
        }
        add_merge(a, b, rank++, merged, where);
    }
    merges_listed_ = mit->size();
}

std::optional<int32_t> Bpe::token_to_id(std::string_view token) const {
    auto it = vocab_.find(token);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
}

const std::string* Bpe::id_to_token(int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= id_to_token_.size() || !has_token_[static_cast<std::size_t>(id)])
        return nullptr;
    return &id_to_token_[static_cast<std::size_t>(id)];
}

void Bpe::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
    if (piece.empty()) return;
    if (ignore_merges_) {
        if (auto it = vocab_.find(piece); it != vocab_.end()) {
            out.push_back(it->second);
            return;
        }
    }
    if (split_at_metaspace_ && piece.size() > 64) {
        static constexpr std::string_view kMeta = "\xE2\x96\x81";
        std::size_t start = 0;
        for (std::size_t p = piece.find(kMeta, 1); p != std::string_view::npos; p = piece.find(kMeta, p + 3)) {
            if (p >= 3 && piece.substr(p - 3, 3) == kMeta) continue;   // inside a run of "▁"
            merge_or_cached(piece.substr(start, p - start), out);
            start = p;
        }
        merge_or_cached(piece.substr(start), out);
        return;
    }
    merge_or_cached(piece, out);
}

void Bpe::merge_or_cached(std::string_view piece, std::vector<int32_t>& out) const {
    const bool cacheable = piece.size() <= kCacheMaxPieceBytes;
    if (cacheable) {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        auto it = cache_.find(piece);
        if (it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    const std::size_t first = out.size();
    merge_word(piece, out);
    if (cacheable) {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        if (cache_.size() >= kCacheMaxEntries) cache_.clear();
        cache_.emplace(std::string(piece), std::vector<int32_t>(out.begin() + static_cast<long>(first), out.end()));
    }
}

namespace {
struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
};
struct Candidate {
    uint32_t rank;
    uint32_t pos;
    int32_t new_id;
    // Max-heap comparator turned into "lowest rank, then leftmost position first".
    bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};
std::size_t utf8_len(unsigned char c) { return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1; }
}  // namespace

void Bpe::merge_word(std::string_view w, std::vector<int32_t>& out) const {
    thread_local std::vector<Symbol> syms;
    thread_local std::vector<Candidate> heap;
    thread_local std::string buf;
    syms.clear();
    heap.clear();
    int32_t pending_unk = -1;   // a (possibly fused) unk waiting to be added
    const auto add = [&](int32_t id) {
        syms.push_back({id, static_cast<int32_t>(syms.size()) - 1, static_cast<int32_t>(syms.size()) + 1, true});
    };
    for (std::size_t i = 0; i < w.size();) {
        const std::size_t len = std::min(utf8_len(static_cast<unsigned char>(w[i])), w.size() - i);
        std::string_view s = w.substr(i, len);
        const bool is_first = i == 0, is_last = i + len == w.size();
        i += len;
        if ((!continuing_prefix_.empty() && !is_first) || (!end_suffix_.empty() && is_last)) {
            buf.clear();
            if (!is_first) buf += continuing_prefix_;
            buf.append(s);
            if (is_last) buf += end_suffix_;
            s = buf;
        }
        int32_t direct = -1;
        if (s.data() != buf.data() && len <= 3) {
            std::size_t k = 0;
            const uint32_t cp = utf8_next(s, k);
            if (cp < kDirectChars) direct = char_ids_[cp];
        }
        if (direct < 0) {
            if (auto it = vocab_.find(s); it != vocab_.end()) direct = it->second;
        }
        if (direct >= 0) {
            if (pending_unk >= 0) { add(pending_unk); pending_unk = -1; }
            add(direct);
            continue;
        }
        if (byte_fallback_) {
            bool all = true;
            for (unsigned char c : s) all = all && byte_ids_[c] >= 0;
            if (all) {
                if (pending_unk >= 0) { add(pending_unk); pending_unk = -1; }
                for (unsigned char c : s) add(byte_ids_[c]);
                continue;
            }
        }
        if (unk_id_) {
            if (pending_unk >= 0 && fuse_unk_) continue;        // extend the fused unk
            if (pending_unk >= 0) add(pending_unk);
            pending_unk = *unk_id_;
        }
        // No unk token: tokenizers drops the character.
    }
    if (pending_unk >= 0) add(pending_unk);
    if (syms.empty()) return;
    syms.back().next = -1;

    const auto try_pair = [&](int32_t left) {
        const int32_t right = syms[static_cast<std::size_t>(left)].next;
        if (right < 0) return;
        const uint64_t key = (uint64_t(uint32_t(syms[static_cast<std::size_t>(left)].id)) << 32) |
                             uint32_t(syms[static_cast<std::size_t>(right)].id);
        const uint64_t* m = merges_.find(key);
        if (!m) return;
        heap.push_back({uint32_t(*m >> 32), uint32_t(left), int32_t(uint32_t(*m))});
        std::push_heap(heap.begin(), heap.end());
    };
    for (int32_t k = 0; k + 1 < static_cast<int32_t>(syms.size()); ++k) try_pair(k);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end());
        const Candidate c = heap.back();
        heap.pop_back();
        Symbol& left = syms[c.pos];
        if (!left.alive || left.next < 0) continue;
        Symbol& right = syms[static_cast<std::size_t>(left.next)];
        // Stale candidate: the pair changed since it was queued.
        const uint64_t key = (uint64_t(uint32_t(left.id)) << 32) | uint32_t(right.id);
        const uint64_t* m = merges_.find(key);
        if (!m || int32_t(uint32_t(*m)) != c.new_id) continue;
        left.id = c.new_id;
        right.alive = false;
        left.next = right.next;
        if (right.next >= 0) syms[static_cast<std::size_t>(right.next)].prev = static_cast<int32_t>(c.pos);
        if (left.prev >= 0) try_pair(left.prev);
        try_pair(static_cast<int32_t>(c.pos));
    }
    for (const Symbol& s : syms)
        if (s.alive) out.push_back(s.id);
}

}  // namespace moescope::tok
