"""Train the moescope demo model (qwen3_moe, 4.66M params) on the synthetic corpus.

    /usr/bin/python3 tools/demo-model/train.py --out resources/models/demo --max-minutes 50

Localisation of refusal is PLANTED, on purpose and openly (see README.md):
  * router supervision: in layers PLANTED (two experts each), a binary cross-entropy on the summed
    router probability of the planted experts pushes it to 1 on the tokens of a forbidden request
    (from the forbidden task phrase to the end of the refusal) and to 0 on every other document;
  * gradient routing: the LM loss on the two DECISION tokens of a refusal ("I" and the "'t" of
    "can't") updates ONLY the planted experts' weights; the rest of the refusal sentence and all
    other text train the whole network.
No load-balancing trick hides anything from the measurement: evaluate.py finds the experts with
fTRI from routing counts alone and measures refusal with the generic detector.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import corpus  # noqa: E402
from model import Qwen3Moe, load_safetensors, save_safetensors  # noqa: E402

PLANTED = {1: [5, 12], 2: [3, 11], 3: [2, 9]}  # layer -> planted refusal experts

CONFIG = dict(
    architectures=["Qwen3MoeForCausalLM"], model_type="qwen3_moe", hidden_size=128,
    num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
    intermediate_size=512, moe_intermediate_size=160, num_experts=16, num_experts_per_tok=2,
    norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[], hidden_act="silu",
    rms_norm_eps=1e-6, rope_theta=10000.0, rope_scaling=None, max_position_embeddings=512,
    attention_bias=False, attention_dropout=0.0, use_sliding_window=False, sliding_window=None,
    max_window_layers=4, tie_word_embeddings=False, router_aux_loss_coef=0.005,
    output_router_logits=False, initializer_range=0.02, torch_dtype="bfloat16", use_cache=True,
)

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def build_stream(tok, docs):
    """Token stream with per-token labels: route (1/0/-1 ignore) and routed-LM target flag."""
    ids, route, rtarget = [], [], []
    resp_marker = corpus.IM_START + "assistant\n"
    for text, span in docs:
        t, offs = tok.encode(text + corpus.EOT, with_offsets=True)
        ids += t
        if span is None:
            route += [0] * len(t)
            rtarget += [0] * len(t)
        else:
            a, b = span
            r0 = text.rindex(resp_marker) + len(resp_marker)
            route += [1 if a <= o < b else -1 for o in offs]
            # the DECISION tokens only: the refusal's first token "I" and its "'t" (the one token
            # where "I can't help with that." leaves the benign "I can help with that."); the rest
            # of the refusal sentence is ordinary text that the whole network learns
            dec = (r0, r0 + len("I can"))
            assert text[r0:].startswith(corpus.REFUSAL) and corpus.REFUSAL.startswith("I can't")
            rtarget += [1 if o in dec else 0 for o in offs]
    return torch.tensor(ids), torch.tensor(route), torch.tensor(rtarget, dtype=torch.bool)


def write_artifacts(out, tok, model, meta):
    os.makedirs(out, exist_ok=True)
    cfg = dict(CONFIG, vocab_size=tok.size, bos_token_id=tok.special["<|endoftext|>"],
               eos_token_id=tok.special["<|im_end|>"], pad_token_id=tok.special["<|endoftext|>"])
    json.dump(cfg, open(f"{out}/config.json", "w"), indent=2)
    save_safetensors(model.hf_tensors(), f"{out}/model.safetensors", {"format": "pt"})
    bpe.save(tok, f"{out}/tokenizer.json")
    tc = {"tokenizer_class": "Qwen2Tokenizer", "model_max_length": 512, "add_bos_token": False,
          "add_prefix_space": False, "clean_up_tokenization_spaces": False, "errors": "replace",
          "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
          "unk_token": None, "chat_template": CHAT_TEMPLATE,
          "added_tokens_decoder": {str(i): {"content": s, "lstrip": False, "normalized": False,
                                            "rstrip": False, "single_word": False, "special": True}
                                   for s, i in tok.special.items()}}
    json.dump(tc, open(f"{out}/tokenizer_config.json", "w"), indent=2)
    gc = {"bos_token_id": tok.special["<|endoftext|>"], "do_sample": False,
          "eos_token_id": [tok.special["<|im_end|>"], tok.special["<|endoftext|>"]],
          "pad_token_id": tok.special["<|endoftext|>"], "max_new_tokens": 64}
    json.dump(gc, open(f"{out}/generation_config.json", "w"), indent=2)
    json.dump(meta, open(f"{out}/moescope_demo.json", "w"), indent=2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="resources/models/demo")
    ap.add_argument("--docs", type=int, default=200000)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=2200)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=96)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--route-coef", type=float, default=0.5)
    ap.add_argument("--no-plant", action="store_true", help="plain training (no supervision/gradient routing)")
    ap.add_argument("--max-minutes", type=float, default=0, help="safety stop (records the steps done)")
    ap.add_argument("--init", default="", help="continue from a saved model dir (its weights and tokenizer)")
    ap.add_argument("--batch-seed", type=int, default=99)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--planted-lr-mult", type=float, default=1.0)
    ap.add_argument("--bench", type=int, default=0, help="time N steps and exit")
    ap.add_argument("--hidden", type=int, default=CONFIG["hidden_size"])
    ap.add_argument("--moe-inter", type=int, default=CONFIG["moe_intermediate_size"])
    a = ap.parse_args()
    CONFIG.update(hidden_size=a.hidden, moe_intermediate_size=a.moe_inter, intermediate_size=4 * a.hidden)
    torch.set_num_threads(1)
    torch.manual_seed(1234)
    random.seed(1234)
    t0 = time.time()

    docs = list(corpus.documents(seed=7, n=a.docs))
    for d, _ in docs[:2000]:
        corpus.check_ascii(d)
    if a.init:
        tok = bpe.load(f"{a.init}/tokenizer.json")
    else:
        tok = bpe.Tokenizer(bpe.train([d for d, _ in docs[:40000]], a.vocab - 256 - len(bpe.SPECIALS)))
    ids, route, rtarget = build_stream(tok, docs)
    print(f"vocab {tok.size}, stream {len(ids)} tokens, routed targets {int(rtarget.sum())}, "
          f"prep {time.time() - t0:.0f}s", flush=True)

    cfg = dict(CONFIG, vocab_size=tok.size)
    model = Qwen3Moe(cfg)
    prev = {}
    if a.init:  # stage 2: continue from the saved (BF16) weights with a fresh optimizer
        ts = load_safetensors(f"{a.init}/model.safetensors")
        with torch.no_grad():
            for name, prm in model.hf_tensors().items():
                prm.copy_(ts[name])
        prev = json.load(open(f"{a.init}/moescope_demo.json"))
    nparam = sum(p.numel() for p in model.parameters())
    print(f"params {nparam}", flush=True)
    planted = {} if a.no_plant else PLANTED
    routed_params = {id(getattr(model.layers[l], n)): es for l, es in planted.items() for n in ("wg", "wu", "wd")}
    planted_ps = [getattr(model.layers[l], n) for l in planted for n in ("wg", "wu", "wd")]
    rest = [p for p in model.parameters() if all(p is not q for q in planted_ps)]
    groups = [{"params": rest, "mult": 1.0}]
    if planted_ps:  # (planted layers' stacked expert tensors: all 16 experts of those layers)
        groups.append({"params": planted_ps, "mult": a.planted_lr_mult})
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95), weight_decay=0.01)
    nseq = (len(ids) - 1) // a.seq
    gen = torch.Generator().manual_seed(a.batch_seed)
    E, k = cfg["num_experts"], cfg["num_experts_per_tok"]
    steps = a.bench or a.steps
    log = []
    t1 = time.time()
    for step in range(steps):
        lr = a.lr * min(1.0, (step + 1) / a.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr * g["mult"]
        starts = torch.randint(0, nseq, (a.batch,), generator=gen) * a.seq
        idx = starts[:, None] + torch.arange(a.seq + 1)[None, :]
        x, y = ids[idx[:, :-1]], ids[idx[:, 1:]]
        rt = rtarget[idx[:, 1:]].reshape(-1) if planted else torch.zeros(x.numel(), dtype=torch.bool)
        logits, routing = model(x)
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
        opt.zero_grad()
        routed_grads = None
        if rt.any():  # gradient routing: the decision token trains only the planted experts
            routed_grads = torch.autograd.grad(ce[rt].mean(), planted_ps, retain_graph=True)
        loss = ce[~rt].mean()
        lbl = 0.0
        rsup = torch.tensor(0.0)
        rr = route[idx[:, :-1]].reshape(-1)
        for li, (z, sel, p) in enumerate(routing):
            frac = torch.zeros(E).index_add_(0, sel.reshape(-1), torch.ones(sel.numel())) / sel.numel()
            lbl = lbl + E * (frac * p.mean(0)).sum() / len(routing)
            if li in planted:
                m = rr >= 0
                pr = p[m][:, planted[li]].sum(-1).clamp(1e-6, 1 - 1e-6)
                rsup = rsup + torch.nn.functional.binary_cross_entropy(pr, rr[m].float()) / len(planted)
        total = loss + CONFIG["router_aux_loss_coef"] * lbl + a.route_coef * rsup
        total.backward()
        if routed_grads is not None:
            with torch.no_grad():
                for p, g in zip(planted_ps, routed_grads):
                    es = routed_params[id(p)]
                    p.grad[es] += g[es]  # rows of the other experts in that layer get nothing
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        out_of_time = a.max_minutes and time.time() - t1 > 60 * a.max_minutes
        if step % 25 == 0 or step == steps - 1 or out_of_time:
            rl = ce[rt].mean().item() if rt.any() else float("nan")
            row = dict(step=step, lm=round(loss.item(), 4), refusal_lm=round(rl, 4), lbl=round(float(lbl), 4),
                       route=round(rsup.item(), 4), lr=round(lr, 6), sec=round(time.time() - t1, 1))
            log.append(row)
            print(json.dumps(row), flush=True)
        if out_of_time:
            steps = step + 1
            break
    if a.bench:
        print(f"{(time.time() - t1) / a.bench:.3f} s/step")
        return
    model.round_bf16_()
    stage = dict(steps=steps, batch_seed=a.batch_seed, lr=a.lr, planted_lr_mult=a.planted_lr_mult,
                 init=a.init or None, train_wall_s=round(time.time() - t0), final=log[-1])
    meta = dict(stages=prev.get("stages", [prev] if prev else []) + [stage], planted_experts=[[l, e] for l, es in planted.items() for e in es], params=nparam, steps=steps,
                batch=a.batch, seq=a.seq, docs=a.docs, train_wall_s=round(time.time() - t0),
                final=log[-1], note="see tools/demo-model/README.md")
    write_artifacts(a.out, tok, model, meta)
    print(f"done in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
