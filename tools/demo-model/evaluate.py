"""Evaluate the demo model in PyTorch (BF16 weights widened to fp32, fp32 compute).

1. greedy generation on the held-out domain prompts: in-domain rate per domain;
2. refusal rate on held-out behavior/control prompts (detector from resources/prompts/detectors.json);
3. MoTE/fTRI: per (layer, expert) activation rate over the user-prompt tokens (template and special
   tokens excluded) on the two DISCOVERY sets, D = rate(behavior) - rate(control), disable the top-N
   (P1: router logit -inf before top-k, in prefill and every decode step), regenerate on the
   HELD-OUT sets; random control: N experts matched per layer, drawn outside the top-N, 5 seeds.

    nice -n 10 /usr/bin/python3 tools/demo-model/evaluate.py --model resources/models/demo \
        --prompts resources/prompts --out tools/demo-model/results.json
"""
import argparse
import json
import os
import random
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
from model import load_model  # noqa: E402

DOMAINS = ("prose", "code", "arithmetic", "tables")


def render(messages):
    # same as the chat template in tokenizer_config.json, add_generation_prompt=True
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


@torch.no_grad()
def greedy(model, ids, n, stop=(), disable=None):
    cache = [[None, None] for _ in model.layers]
    logits, _ = model(torch.tensor([ids]), disable=disable, cache=cache)
    out = []
    for _ in range(n):
        t = int(torch.argmax(logits[0, -1]))
        out.append(t)
        if t in stop:
            break
        logits, _ = model(torch.tensor([[t]]), disable=disable, cache=cache)
    return out


def in_domain(name, text):
    body = text.split("<|endoftext|>")[0]
    if len(body.replace(" ", "").replace("\n", "")) < 3 or "<|im_" in body:
        return False
    if name == "prose":
        return re.fullmatch(r"[A-Za-z .,'!?\n]*", body) is not None and len(body.split()) >= 3
    if name == "code":
        return any(s in body for s in ("return", "def ", "print(", "for ", "if ", ".append("))
    if name == "arithmetic":
        return re.fullmatch(r"[0-9 +*=\n-]*", body) is not None and "=" in body
    lines = [ln for ln in body.split("\n") if ln.strip()]
    return all(ln.startswith("|") or ln.startswith("- ") or ln.endswith(":") for ln in lines)


def load_set(d, name, split):
    return [json.loads(ln) for ln in open(f"{d}/{name}.{split}.jsonl")]


class Ctx:
    def __init__(self, model_dir, prompt_dir):
        self.model = load_model(model_dir)  # BF16 on disk -> exact fp32
        self.tok = bpe.load(f"{model_dir}/tokenizer.json")
        self.stop = {self.tok.special["<|im_end|>"], self.tok.special["<|endoftext|>"]}
        self.det = json.load(open(f"{prompt_dir}/detectors.json"))["refusal"]
        self.pd = prompt_dir

    def reply(self, item, disable=None, n=40):
        ids = self.tok.encode(render(item["messages"]))
        out = greedy(self.model, ids, n, self.stop, disable)
        return self.tok.decode(out, skip_special=True)

    def refusal_rate(self, items, disable=None):
        hits = [re.match(self.det["regex"], self.reply(it, disable)) is not None for it in items]
        return sum(hits) / len(hits)

    @torch.no_grad()
    def rates(self, items):
        """Mean over prompts of the per-token selection rate [L, E] over user-content tokens."""
        c = self.model.cfg
        acc = torch.zeros(c["num_hidden_layers"], c["num_experts"])
        for it in items:
            text = render(it["messages"])
            ids, offs = self.tok.encode(text, with_offsets=True)
            a = len("<|im_start|>user\n")
            b = a + len(it["messages"][0]["content"])
            keep = torch.tensor([a <= o < b for o in offs])
            _, routing = self.model(torch.tensor([ids]))
            for li, (_, sel, _) in enumerate(routing):
                s = sel[keep]
                acc[li] += torch.zeros(c["num_experts"]).index_add_(0, s.reshape(-1), torch.ones(s.numel())) / len(s)
        return acc / len(items)


def to_disable(pairs):
    d = {}
    for l, e in pairs:
        d.setdefault(l, []).append(e)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resources/models/demo")
    ap.add_argument("--prompts", default="resources/prompts")
    ap.add_argument("--out", default="tools/demo-model/results.json")
    ap.add_argument("--n", type=int, nargs="+", default=[3, 6])
    ap.add_argument("--random-seeds", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    ctx = Ctx(a.model, a.prompts)
    res = {"domains": {}, "samples": {}}
    for d in DOMAINS:
        items = load_set(a.prompts, d, "heldout")
        ok = []
        for it in items:
            ids = ctx.tok.encode(it["text"])
            out = ctx.tok.decode(greedy(ctx.model, ids, 32, {ctx.tok.special["<|endoftext|>"]}))
            ok.append(in_domain(d, out))
        res["domains"][d] = sum(ok) / len(ok)
        res["samples"][d] = [it["text"], out]
        print(d, res["domains"][d], repr(out[:80]), flush=True)
    beh, ctl = load_set(a.prompts, "behavior", "heldout"), load_set(a.prompts, "control", "heldout")
    res["samples"]["behavior"] = [beh[0]["messages"][0]["content"], ctx.reply(beh[0])]
    res["samples"]["control"] = [ctl[0]["messages"][0]["content"], ctx.reply(ctl[0])]
    res["baseline"] = {"behavior": ctx.refusal_rate(beh), "control": ctx.refusal_rate(ctl)}
    print("baseline", res["baseline"], flush=True)
    diff = ctx.rates(load_set(a.prompts, "behavior", "discovery")) - ctx.rates(load_set(a.prompts, "control", "discovery"))
    L, E = diff.shape
    order = sorted(((float(diff[l, e]), l, e) for l in range(L) for e in range(E)), reverse=True)
    res["ftri_top"] = [{"layer": l, "expert": e, "diff": round(v, 4)} for v, l, e in order[:10]]
    print("fTRI top", res["ftri_top"][:6], flush=True)
    res["mote"] = []
    for n in a.n:
        top = [(l, e) for _, l, e in order[:n]]
        row = {"n": n, "experts": top,
               "behavior": ctx.refusal_rate(beh, to_disable(top)), "control": ctx.refusal_rate(ctl, to_disable(top))}
        per_layer = {}
        for l, _ in top:
            per_layer[l] = per_layer.get(l, 0) + 1
        rnd = []
        for seed in range(a.random_seeds):
            rng = random.Random(1000 + seed)
            pick = [(l, e) for l, c in per_layer.items()
                    for e in rng.sample([e for e in range(E) if (l, e) not in top], c)]
            rnd.append({"experts": pick, "behavior": ctx.refusal_rate(beh, to_disable(pick)),
                        "control": ctx.refusal_rate(ctl, to_disable(pick))})
        row["random"] = rnd
        row["random_behavior_mean"] = sum(r["behavior"] for r in rnd) / len(rnd)
        res["mote"].append(row)
        print("mote", json.dumps(row), flush=True)
    json.dump(res, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
