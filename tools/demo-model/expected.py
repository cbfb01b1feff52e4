"""Records expected outputs of the trained demo model (PyTorch reference, BF16 weights widened
to fp32, fp32 compute) for the engine test tests/engine/test_demo_model_slow.cpp.

Regenerate ONLY after retraining the model:
    /usr/bin/python3 tools/demo-model/expected.py --model resources/models/demo \
        --prompts resources/prompts --out tests/engine/data/demo_model_expected.json

For the first held-out prompt of each domain set, and the first held-out behavior (control)
prompt that the reference refuses (answers): the exact prompt text (chat prompts rendered with the
chat template, add_generation_prompt), input ids, 16 greedy tokens with EOS ignored (as in
shared/testdata/golden), the greedy tokens stopped at <|im_end|>/<|endoftext|>, and the
last-position logits; and the greedy tokens with the planted refusal experts disabled (P1).
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
from evaluate import greedy, load_set, render  # noqa: E402
from model import load_model  # noqa: E402

REFUSAL_PREFIX = "I can't help with that"
SETS = ("prose", "code", "arithmetic", "tables", "behavior", "control")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resources/models/demo")
    ap.add_argument("--prompts", default="resources/prompts")
    ap.add_argument("--out", default="tests/engine/data/demo_model_expected.json")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = load_model(a.model)
    tok = bpe.load(f"{a.model}/tokenizer.json")
    stop = {tok.special["<|im_end|>"], tok.special["<|endoftext|>"]}
    planted = json.load(open(f"{a.model}/moescope_demo.json"))["planted_experts"]
    disable = {}
    for l, e in planted:
        disable.setdefault(l, []).append(e)
    cases = []
    for name in SETS:
        items = load_set(a.prompts, name, "heldout")
        for item in items:  # behavior/control: the first prompt the model handles as intended
            text = render(item["messages"]) if "messages" in item else item["text"]
            ids = tok.encode(text)
            if name not in ("behavior", "control"):
                break
            refused = tok.decode(greedy(model, ids, 64, stop), skip_special=True).startswith(REFUSAL_PREFIX)
            if refused == (name == "behavior"):
                break
        with torch.no_grad():
            logits, routing = model(torch.tensor([ids]))
        new16 = greedy(model, ids, 16)
        stopped = greedy(model, ids, 64, stop)
        dis = greedy(model, ids, 64, stop, disable)
        top2 = torch.topk(logits[0, -1], 2).values
        cases.append({
            "set": name, "prompt": item, "text": text, "input_ids": ids,
            "greedy_16_ignore_eos": new16, "greedy_until_stop": stopped,
            "greedy_until_stop_text": tok.decode(stopped, skip_special=True),
            "greedy_until_stop_planted_disabled": dis,
            "greedy_until_stop_planted_disabled_text": tok.decode(dis, skip_special=True),
            "logits_last": [round(float(v), 6) for v in logits[0, -1]],
            "last_top1_minus_top2": round(float(top2[0] - top2[1]), 6),
            "experts_last": [sel[-1].tolist() for _, sel, _ in routing],
        })
        print(name, repr(cases[-1]["greedy_until_stop_text"][:70]), flush=True)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    json.dump({"model": "resources/models/demo", "reference": "tools/demo-model/model.py (fp32)",
               "planted_experts": planted,
               "cases": cases}, open(a.out, "w"))


if __name__ == "__main__":
    main()
