#!/usr/bin/env python3
"""Generate tests/engine/data/nfc_vectors.json: NFC/NFD test vectors from Python's unicodedata.

The tokenizer's NFC (engine/tokenizer/unicode.cpp) is checked against an independent
implementation: Python's unicodedata.normalize. Strings are built deterministically from
characters that stress the algorithm: precomposed letters, combining marks of different classes
(reordering), Hangul syllables and jamo, singletons (e.g. U+212B ANGSTROM SIGN), composition
exclusions (e.g. U+0958), and characters that compose with a preceding starter.
Run from the repository root:  python3 tools/gen_nfc_vectors.py > tests/engine/data/nfc_vectors.json
"""
import json
import random
import sys
import unicodedata

def main():
    rng = random.Random(20261124)
    pool_base = [chr(c) for c in list(range(0x41, 0x5B)) + list(range(0x61, 0x7B))]
    decomposable = [chr(c) for c in range(0xC0, 0x2000) if unicodedata.decomposition(chr(c)) and not unicodedata.decomposition(chr(c)).startswith("<")]
    marks = [chr(c) for c in range(0x300, 0x370)] + ["\u0591", "\u05B0", "\u093C", "\u0F71", "\u0F72", "\u0F74", "\u1DC0", "\u20D0", "\u302A", "\u3099"]
    hangul = ["\u1100", "\u1161", "\u11A8", "\uAC00", "\uAC01", "\uD7A3", "\u1112", "\u1175", "\u11C2"]
    special = ["\u212B", "\u2126", "\u0958", "\u0344", "\u0F73", "\u1E9B", "\uFB2C", "\u0CCB", "\u0CC6", "\u0CC2", "\u0CD5",
               "\u09C7", "\u09BE", "\u1026", "\u102E", "\u0B47", "\u0B56", "\u1B05", "\u1B35", "\U0001D15E", "\U000110AB",
               "\u0308", "\u0301", "\u0323", "\u0345", "\u3046", "\u304B", "\u30AB"]
    pools = [pool_base, decomposable, marks, hangul, special]
    cases = []
    for i in range(1500):
        n = rng.randint(1, 6)
        s = "".join(rng.choice(rng.choice(pools)) for _ in range(n))
        cases.append({"in": s, "nfc": unicodedata.normalize("NFC", s), "nfd": unicodedata.normalize("NFD", s)})
    json.dump({"generator": "tools/gen_nfc_vectors.py", "unicode_version": unicodedata.unidata_version, "cases": cases},
              sys.stdout, ensure_ascii=True, indent=0)
    sys.stdout.write("\n")

if __name__ == "__main__":
    main()
