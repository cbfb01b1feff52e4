#!/usr/bin/env python3
"""Independent pure-Python (float64) reference for the MoE families without shared golden files.

Writes tiny seeded models in Hugging Face layout (config.json + BF16 model.safetensors) and
expected.json (logits_all, routing of the prompt forward, greedy tokens by full recomputation) to
tests/data/reference/<case>/. The C++ engine is compared against these in
tests/engine/test_reference_models.cpp. Written from ../shared/docs/architectures.md and
../shared/testdata/golden/README.md; no third-party code. Run: python3 tools/reference/moe_reference.py OUT_DIR
"""
import json, math, os, random, struct, sys

def bf16(x):  # round a float to bfloat16 (nearest even), return the float value
    u = struct.unpack('<I', struct.pack('<f', x))[0]
    u = (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000
    return struct.unpack('<f', struct.pack('<I', u))[0]

class Gen:
    def __init__(self, seed): self.r = random.Random(seed); self.tensors = {}
    def t(self, name, shape, scale, base=0.0):
        n = 1
        for d in shape: n *= d
        v = [bf16(base + self.r.uniform(-scale, scale)) for _ in range(n)]
        self.tensors[name] = (shape, v)
        return v

def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, (shape, vals) in tensors.items():
        b = b''.join(struct.pack('<H', struct.unpack('<I', struct.pack('<f', v))[0] >> 16) for v in vals)
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - (len(h) + 8) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h)
        for b in blobs: f.write(b)

# ---- math ----
def mat(W, rows, cols, x):  # y = W x, W [rows][cols] flat
    return [sum(W[r * cols + c] * x[c] for c in range(cols)) for r in range(rows)]
def rms(x, w, eps):
    r = 1.0 / math.sqrt(sum(v * v for v in x) / len(x) + eps)
    return [w[i] * x[i] * r for i in range(len(x))]
def silu(z): return z / (1.0 + math.exp(-z))
def softmax(z):
    m = max(z); e = [math.exp(v - m) for v in z]; s = sum(e); return [v / s for v in e]
def rope(x, pos, theta, interleaved):
    d = len(x); half = d // 2; y = list(x)
    for i in range(half):
        ang = pos / theta ** (2 * i / d); c, s = math.cos(ang), math.sin(ang)
        a, b = (2 * i, 2 * i + 1) if interleaved else (i, i + half)
        y[a] = x[a] * c - x[b] * s; y[b] = x[b] * c + x[a] * s
    return y
def topk(vals, k):  # indices, larger first, ties to the lower index
    return sorted(range(len(vals)), key=lambda i: (-vals[i], i))[:k]

def mlp(T, p, x, H, I):
    g = mat(T[p + 'gate_proj.weight'][1], I, H, x); u = mat(T[p + 'up_proj.weight'][1], I, H, x)
    return mat(T[p + 'down_proj.weight'][1], H, I, [silu(a) * b for a, b in zip(g, u)])

def forward(cfg, T, ids):
    """Full-sequence forward; returns (logits per position, routing per MoE layer)."""
    H, nh, L = cfg['hidden_size'], cfg['num_attention_heads'], cfg['num_hidden_layers']
    eps, theta, mt = cfg['rms_norm_eps'], cfg['rope_theta'], cfg['model_type']
    E, k = cfg.get('num_experts', cfg.get('n_routed_experts')), cfg['num_experts_per_tok']
    xs = [list(T['model.embed_tokens.weight'][1][t * H:(t + 1) * H]) for t in ids]
    n = len(ids); routing = []
    for l in range(L):
        p = 'model.layers.%d.' % l
        hn = [rms(x, T[p + 'input_layernorm.weight'][1], eps) for x in xs]
        a = p + 'self_attn.'
        if mt.startswith('deepseek'):
            nope, rp, dv, kvl = cfg['qk_nope_head_dim'], cfg['qk_rope_head_dim'], cfg['v_head_dim'], cfg['kv_lora_rank']
            qd = nope + rp; ql = cfg['q_lora_rank']
            qs, ks, vs = [], [], []
            for t, h in enumerate(hn):
                if ql:
                    qa = rms(mat(T[a + 'q_a_proj.weight'][1], ql, H, h), T[a + 'q_a_layernorm.weight'][1], 1e-6)
                    q = mat(T[a + 'q_b_proj.weight'][1], nh * qd, ql, qa)
                else:
                    q = mat(T[a + 'q_proj.weight'][1], nh * qd, H, h)
                ckv = mat(T[a + 'kv_a_proj_with_mqa.weight'][1], kvl + rp, H, h)
                c = rms(ckv[:kvl], T[a + 'kv_a_layernorm.weight'][1], 1e-6)
                kpe = rope(ckv[kvl:], t, theta, True)
                kv = mat(T[a + 'kv_b_proj.weight'][1], nh * (nope + dv), kvl, c)
                qh, kh, vh = [], [], []
                for hh in range(nh):
                    qq = q[hh * qd:(hh + 1) * qd]
                    qh.append(qq[:nope] + rope(qq[nope:], t, theta, True))
                    blk = kv[hh * (nope + dv):(hh + 1) * (nope + dv)]
                    kh.append(blk[:nope] + kpe); vh.append(blk[nope:])
                qs.append(qh); ks.append(kh); vs.append(vh)
            scale, group, Dv = qd ** -0.5, 1, dv
        else:
            nkv = cfg['num_key_value_heads']; D = cfg.get('head_dim') or H // nh
            qs, ks, vs = [], [], []
            for t, h in enumerate(hn):
                q = mat(T[a + 'q_proj.weight'][1], nh * D, H, h)
                kk = mat(T[a + 'k_proj.weight'][1], nkv * D, H, h)
                v = mat(T[a + 'v_proj.weight'][1], nkv * D, H, h)
                if mt == 'qwen2_moe':
                    q = [x + b for x, b in zip(q, T[a + 'q_proj.bias'][1])]
                    kk = [x + b for x, b in zip(kk, T[a + 'k_proj.bias'][1])]
                    v = [x + b for x, b in zip(v, T[a + 'v_proj.bias'][1])]
                if mt == 'olmoe':  # full-width q/k norm before the head split
                    q = rms(q, T[a + 'q_norm.weight'][1], eps); kk = rms(kk, T[a + 'k_norm.weight'][1], eps)
                qs.append([rope(q[i * D:(i + 1) * D], t, theta, False) for i in range(nh)])
                ks.append([rope(kk[i * D:(i + 1) * D], t, theta, False) for i in range(nkv)])
                vs.append([v[i * D:(i + 1) * D] for i in range(nkv)])
            scale, group, Dv = D ** -0.5, nh // nkv, D
        attn = []
        for t in range(n):
            o = []
            for hh in range(nh):
                kvh = hh // group
                s = softmax([sum(x * y for x, y in zip(qs[t][hh], ks[j][kvh])) * scale for j in range(t + 1)])
                o += [sum(s[j] * vs[j][kvh][d] for j in range(t + 1)) for d in range(Dv)]
            attn.append(o)
        Wo = T[a + 'o_proj.weight']
        xs = [[x + y for x, y in zip(xs[t], mat(Wo[1], H, Wo[0][1], attn[t]))] for t in range(n)]
        hn = [rms(x, T[p + 'post_attention_layernorm.weight'][1], eps) for x in xs]
        is_moe = (l >= cfg.get('first_k_dense_replace', 0))
        if not is_moe:
            outs = [mlp(T, p + 'mlp.', h, H, cfg['intermediate_size']) for h in hn]
        else:
            m = p + 'mlp.'; I = cfg.get('moe_intermediate_size') or cfg['intermediate_size']
            rl, rex, rw, outs = [], [], [], []
            for h in hn:
                z = mat(T[m + 'gate.weight'][1], E, H, h)
                if mt == 'deepseek_v3':
                    s = [1 / (1 + math.exp(-v)) for v in z]
                    bias = T[m + 'gate.e_score_correction_bias'][1]
                    c = [s[i] + bias[i] for i in range(E)]
                    G = cfg['n_group']; per = E // G
                    gs = [sum(sorted(c[g * per:(g + 1) * per], reverse=True)[:2]) for g in range(G)]
                    keep = set(topk(gs, cfg['topk_group']))
                    cm = [c[i] if i // per in keep else 0.0 for i in range(E)]
                    sel = topk(cm, k); w = [s[i] for i in sel]; tot = sum(w) + 1e-20
                    w = [x / tot * cfg['routed_scaling_factor'] for x in w]
                else:
                    pr = softmax(z); sel = topk(pr, k); w = [pr[i] for i in sel]
                    if cfg.get('norm_topk_prob'): tot = sum(w); w = [x / tot for x in w]
                y = [0.0] * H
                for e in sorted(sel):
                    out = mlp(T, m + 'experts.%d.' % e, h, H, I); we = w[sel.index(e)]
                    y = [a1 + we * b1 for a1, b1 in zip(y, out)]
                if mt == 'qwen2_moe':
                    sh = mlp(T, m + 'shared_expert.', h, H, cfg['shared_expert_intermediate_size'])
                    gsh = 1 / (1 + math.exp(-mat(T[m + 'shared_expert_gate.weight'][1], 1, H, h)[0]))
                    y = [a1 + gsh * b1 for a1, b1 in zip(y, sh)]
                if mt.startswith('deepseek'):
                    sh = mlp(T, m + 'shared_experts.', h, H, cfg['n_shared_experts'] * I)
                    y = [a1 + b1 for a1, b1 in zip(y, sh)]
                rl.append(z); rex.append(sel); rw.append(w); outs.append(y)
            routing.append({"layer": l, "router_logits": rl, "experts": rex, "weights": rw})
        xs = [[x + y for x, y in zip(xs[t], outs[t])] for t in range(n)]
    V = cfg['vocab_size']
    logits = [mat(T['lm_head.weight'][1], V, H, rms(x, T['model.norm.weight'][1], eps)) for x in xs]
    return logits, routing

def build(case, seed):
    g = Gen(seed); H, V, nh, L = 16, 40, 2, 2
    cfg = {"model_type": case, "vocab_size": V, "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": nh,
           "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 64, "tie_word_embeddings": False,
           "bos_token_id": 1, "eos_token_id": 2, "num_experts_per_tok": 2, "hidden_act": "silu"}
    E = 8
    g.t('model.embed_tokens.weight', [V, H], 1.0)
    if case == 'deepseek_v3':
        cfg.update({"n_routed_experts": E, "n_shared_experts": 1, "moe_intermediate_size": 8, "intermediate_size": 12,
                    "first_k_dense_replace": 1, "num_key_value_heads": nh, "q_lora_rank": 8, "kv_lora_rank": 8,
                    "qk_nope_head_dim": 4, "qk_rope_head_dim": 4, "v_head_dim": 4, "n_group": 4, "topk_group": 2,
                    "routed_scaling_factor": 2.5, "norm_topk_prob": True, "topk_method": "noaux_tc",
                    "scoring_func": "sigmoid", "rope_scaling": None})
    elif case == 'qwen2_moe':
        cfg.update({"num_experts": E, "moe_intermediate_size": 8, "intermediate_size": 12, "num_key_value_heads": 1,
                    "shared_expert_intermediate_size": 10, "norm_topk_prob": False, "decoder_sparse_step": 1,
                    "mlp_only_layers": []})
    else:  # olmoe
        cfg.update({"num_experts": E, "intermediate_size": 8, "num_key_value_heads": nh, "norm_topk_prob": False,
                    "clip_qkv": None})
    D = H // nh
    for l in range(L):
        p = 'model.layers.%d.' % l; a = p + 'self_attn.'
        g.t(p + 'input_layernorm.weight', [H], 0.2, 1.0); g.t(p + 'post_attention_layernorm.weight', [H], 0.2, 1.0)
        if case == 'deepseek_v3':
            g.t(a + 'q_a_proj.weight', [8, H], 0.3); g.t(a + 'q_a_layernorm.weight', [8], 0.2, 1.0)
            g.t(a + 'q_b_proj.weight', [nh * 8, 8], 0.4); g.t(a + 'kv_a_proj_with_mqa.weight', [12, H], 0.3)
            g.t(a + 'kv_a_layernorm.weight', [8], 0.2, 1.0); g.t(a + 'kv_b_proj.weight', [nh * 8, 8], 0.4)
            g.t(a + 'o_proj.weight', [H, nh * 4], 0.3)
        else:
            nkv = cfg['num_key_value_heads']
            g.t(a + 'q_proj.weight', [nh * D, H], 0.3); g.t(a + 'k_proj.weight', [nkv * D, H], 0.3)
            g.t(a + 'v_proj.weight', [nkv * D, H], 0.3); g.t(a + 'o_proj.weight', [H, nh * D], 0.3)
            if case == 'qwen2_moe':
                g.t(a + 'q_proj.bias', [nh * D], 0.2); g.t(a + 'k_proj.bias', [nkv * D], 0.2); g.t(a + 'v_proj.bias', [nkv * D], 0.2)
            if case == 'olmoe':
                g.t(a + 'q_norm.weight', [nh * D], 0.2, 1.0); g.t(a + 'k_norm.weight', [nkv * D], 0.2, 1.0)
        m = p + 'mlp.'
        if case == 'deepseek_v3' and l < 1:
            for n_, sh in (('gate_proj', [12, H]), ('up_proj', [12, H]), ('down_proj', [H, 12])): g.t(m + n_ + '.weight', sh, 0.3)
            continue
        I = cfg.get('moe_intermediate_size') or cfg['intermediate_size']
        g.t(m + 'gate.weight', [E, H], 0.8)
        if case == 'deepseek_v3': g.t(m + 'gate.e_score_correction_bias', [E], 0.05)
        for e in range(E):
            for n_, sh in (('gate_proj', [I, H]), ('up_proj', [I, H]), ('down_proj', [H, I])):
                g.t(m + 'experts.%d.%s.weight' % (e, n_), sh, 0.3)
        if case == 'qwen2_moe':
            for n_, sh in (('gate_proj', [10, H]), ('up_proj', [10, H]), ('down_proj', [H, 10])): g.t(m + 'shared_expert.' + n_ + '.weight', sh, 0.3)
            g.t(m + 'shared_expert_gate.weight', [1, H], 0.3)
        if case == 'deepseek_v3':
            for n_, sh in (('gate_proj', [I, H]), ('up_proj', [I, H]), ('down_proj', [H, I])): g.t(m + 'shared_experts.' + n_ + '.weight', sh, 0.3)
    g.t('model.norm.weight', [H], 0.2, 1.0); g.t('lm_head.weight', [V, H], 0.3)
    return cfg, g.tensors

def main(out):
    for case, seed in (('deepseek_v3', 3), ('qwen2_moe', 5), ('olmoe', 7)):
        cfg, T = build(case, seed)
        d = os.path.join(out, case); os.makedirs(d, exist_ok=True)
        json.dump(cfg, open(os.path.join(d, 'config.json'), 'w'), indent=1)
        write_safetensors(os.path.join(d, 'model.safetensors'), T)
        ids = [1, 17, 5, 33, 8, 21]
        logits, routing = forward(cfg, T, ids)
        seq, new = list(ids), []
        for _ in range(4):
            lg = forward(cfg, T, seq)[0][-1]
            nxt = max(range(len(lg)), key=lambda i: (lg[i], -i)); new.append(nxt); seq.append(nxt)
        json.dump({"model_type": case, "input_ids": ids, "logits_last": logits[-1], "logits_all": logits, "routing": routing,
                   "greedy": {"new_tokens": new}}, open(os.path.join(d, 'expected.json'), 'w'))
        print(case, 'greedy', new)

if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'tests/data/reference')
