"""Checks that tokenizer.json encodes/decodes exactly like the real Hugging Face `tokenizers`
library (via its Node binding, a dev-only check):

    (cd /tmp && npm install @anush008/tokenizers@0.6.0)
    /usr/bin/python3 tools/demo-model/verify_tokenizer.py resources/models/demo/tokenizer.json /tmp/node_modules
"""
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import corpus  # noqa: E402

TRICKY = ["", " ", "  ", "\n", "\n\n", "a  b", "x   \n  y", "it's Don't we'll I'M", "trailing  ",
          "tab\there", "<|im_start|>user\nHi<|im_end|>\n", "a<|endoftext|>b", "<|im_end|><|im_end|>",
          "12345 + 678 = 9023", "def f(x):\n    return x\n", "| a | b |\n|---|---|", "!!! ??? ...",
          "<|im_start", "email@example.com 100%"]


def main():
    path, nm = sys.argv[1], sys.argv[2]
    tok = bpe.load(path)
    rng = random.Random(5)
    texts = TRICKY + [d for d, _ in corpus.documents(seed=11, n=3000)]
    texts += [corpus.chat(corpus.request(rng, *corpus.FORBIDDEN[i % 10], corpus.TEMPLATES)[0], "ok") for i in range(50)]
    cases = [{"text": t, "ids": tok.encode(t)} for t in texts]
    js = """
const { Tokenizer } = require(process.argv[1] + '/@anush008/tokenizers');
const fs = require('fs');
(async () => {
  const t = Tokenizer.fromFile(process.argv[2]);
  const cases = JSON.parse(fs.readFileSync(0, 'utf8'));
  let bad = 0;
  for (const c of cases) {
    const enc = await t.encode(c.text, null, { addSpecialTokens: true });
    const ids = enc.getIds();
    const dec = await t.decode(c.ids, false);
    if (JSON.stringify(ids) !== JSON.stringify(c.ids) || dec !== c.text) {
      if (bad++ < 5) console.log('MISMATCH', JSON.stringify(c.text), JSON.stringify(ids), JSON.stringify(c.ids), JSON.stringify(dec));
    }
  }
  console.log(`${cases.length - bad} passed, ${bad} failed`);
  process.exit(bad ? 1 : 0);
})();
"""
    r = subprocess.run(["node", "-e", js, nm, path], input=json.dumps(cases), text=True)
    sys.exit(r.returncode)


if __name__ == "__main__":
    main()
