#!/usr/bin/env python3
"""Generate tests/engine/data/regex_cases.json: expected matches of the tokenizer's regex engine.

Expectations come from Python's third-party `regex` module (Perl-compatible, Unicode \\p{..}
classes), an implementation independent of engine/tokenizer/regex.cpp and close to Oniguruma,
which Hugging Face tokenizers uses. Each case lists every non-overlapping match (findall order).
Run from the repository root:  python3 tools/gen_regex_cases.py > tests/engine/data/regex_cases.json
"""
import json
import sys

import regex

QWEN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
CL100K = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
DSV3 = r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
TEXTS = [
    "Hello world", "I'M HERE, you're there; it's fine.  Don't", "  leading and trailing   ", "a\n\n b\r\n\tc",
    "1234567 3.14159 x2y", "Führer naïve café Привет мир 日本語のテキスト 中文", "emoji 🦙👍🏽 and 🏳️‍🌈!", "tabs\t\tand   spaces    \n",
    "def f(x):\n    return x**2  # comment\n", "NBSP\u00a0here and ZWSP\u200bthere", "U+20000 \U00020000 ok", "'S 'T 'RE 'VE 'M 'LL 'D",
    "a  b   c\n\n\n  d", "!!!???...,,,", "https://example.com/a?b=c&d=e", "مرحبا بالعالم नमस्ते 한국어 Ελληνικά",
]
CASES = [(QWEN, t) for t in TEXTS] + [(GPT2, t) for t in TEXTS] + [(CL100K, t) for t in TEXTS[:6]] + [(DSV3, t) for t in TEXTS[:8]] + [
    (r"\p{N}{1,3}", "1234567 89"), (r"[一-龥぀-ゟ゠-ヿ]+", "日本語のテキストと中文abc"), (r"\p{Lu}+", "abcDEFghiÄÖ"),
    (r"a+?b", "aaab ab"), (r"(?:ab)+", "abababx ab"), (r"x{2,3}", "xxxxxxx"), (r"[^a-c]+", "abcdefabc"),
    (r"\S+", "two words\u3000ideographic"), (r".+", "line1\nline2"), (r"a(?=b)", "ab ac ab"), (r"\w+", "snake_case and ÄÖ 123"),
    (r"\d+", "12 ٣٤ x"), (r"[\p{P}\p{S}]+", "a+b=c! €5 «q»"), (r"(?i:ab)", "AB ab Ab aB"),
]

def main():
    out = []
    for pattern, text in CASES:
        out.append({"pattern": pattern, "text": text, "matches": regex.findall(pattern, text)})
    json.dump({"generator": "tools/gen_regex_cases.py (Python regex %s)" % regex.__version__, "cases": out},
              sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")

if __name__ == "__main__":
    main()
