"""Byte-level BPE (GPT-2 style) trainer/encoder and Hugging Face tokenizer.json writer.

The encoder reproduces HF `tokenizers` semantics for this file exactly, as long as the text
is printable ASCII plus '\n' (corpus.check_ascii): added tokens are split out first, then the
GPT-2 ByteLevel regex (with \\p{L} = [A-Za-z] and \\p{N} = [0-9], which is exact on ASCII),
bytes_to_unicode mapping, and merges applied lowest rank first (all non-overlapping
occurrences left to right, equivalent to HF's rank-then-leftmost queue because a merge that
uses a token always has a higher rank than the merge that created it).
"""
import collections
import json
import re

# GPT-2 pre-tokenizer regex, ASCII form (HF: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)
PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SPECIAL_RE = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")


def bytes_to_unicode():
    """GPT-2 byte -> printable unicode char map."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()
U2B = {c: b for b, c in B2U.items()}


def pieces(text):
    """Pre-tokenize a plain (special-free) segment into byte-level-mapped pieces."""
    return ["".join(B2U[b] for b in m.encode("utf-8")) for m in PAT.findall(text)]


def train(texts, n_merges):
    """Classic BPE on pre-token counts with incremental pair statistics."""
    freq = collections.Counter()
    for t in texts:
        for seg in SPECIAL_RE.split(t):
            if seg and seg not in SPECIALS:
                freq.update(pieces(seg))
    words = [list(w) for w in freq]
    counts = [freq[w] for w in freq]
    pair_count = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += counts[i]
            where[(a, b)].add(i)
    merges = []
    for _ in range(n_merges):
        if not pair_count:
            break
        # highest count; ties broken deterministically by the pair itself
        best = max(pair_count.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pair_count[best] < 2:
            break
        merges.append(best)
        new = best[0] + best[1]
        for i in list(where[best]):
            w = words[i]
            for a, b in zip(w, w[1:]):
                pair_count[(a, b)] -= counts[i]
                if pair_count[(a, b)] <= 0:
                    del pair_count[(a, b)]
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and (w[j], w[j + 1]) == best:
                    out.append(new)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for a, b in zip(out, out[1:]):
                pair_count[(a, b)] += counts[i]
                where[(a, b)].add(i)
        del where[best]
    return merges


class Tokenizer:
    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.rank = {m: i for i, m in enumerate(self.merges)}
        self.vocab = {B2U[b]: b for b in range(256)}
        for a, b in self.merges:
            if a + b not in self.vocab:  # two merges may spell the same token
                self.vocab[a + b] = len(self.vocab)
        self.special = {s: len(self.vocab) + i for i, s in enumerate(SPECIALS)}
        self.inv = {i: t for t, i in self.vocab.items()}
        self.inv.update({i: s for s, i in self.special.items()})
        self.cache = {}

    @property
    def size(self):
        return len(self.vocab) + len(self.special)

    def bpe(self, piece):
        if piece in self.cache:
            return self.cache[piece]
        w = list(piece)
        while len(w) > 1:
            pairs = [(self.rank.get((a, b), 1 << 30), (a, b)) for a, b in zip(w, w[1:])]
            r, best = min(pairs, key=lambda p: p[0])
            if r == 1 << 30:
                break
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and (w[j], w[j + 1]) == best:
                    out.append(w[j] + w[j + 1])
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            w = out
        ids = [self.vocab[s] for s in w]
        self.cache[piece] = ids
        return ids

    def encode(self, text, with_offsets=False):
        """ids (and the char offset where each token starts, ASCII so chars == bytes)."""
        ids, offs, pos = [], [], 0
        for seg in SPECIAL_RE.split(text):
            if not seg:
                continue
            if seg in self.special:
                ids.append(self.special[seg])
                offs.append(pos)
            else:
                p = pos
                for pc in pieces(seg):
                    for t in self.bpe(pc):
                        ids.append(t)
                        offs.append(p)
                        p += len(self.inv[t])
            pos += len(seg)
        return (ids, offs) if with_offsets else ids

    def decode(self, ids, skip_special=False):
        out = bytearray()
        for i in ids:
            t = self.inv[i]
            if i in self.special.values():
                if not skip_special:
                    out += t.encode()
            else:
                out += bytes(U2B[c] for c in t)
        return out.decode("utf-8", errors="replace")

    def to_hf_json(self):
        added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for s, i in self.special.items()]
        bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}
        return {
            "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": None, "pre_tokenizer": bl, "post_processor": dict(bl), "decoder": dict(bl),
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": False, "vocab": self.vocab,
                      "merges": [[a, b] for a, b in self.merges]},
        }


def save(tok, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tok.to_hf_json(), f, ensure_ascii=False)


def load(path):
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    tok = Tokenizer([tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in j["model"]["merges"]])
    assert tok.vocab == j["model"]["vocab"], "vocab does not follow from merges"
    return tok
