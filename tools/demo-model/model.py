"""qwen3_moe written from the equations (matches HF Qwen3MoeForCausalLM semantics as described in
shared/testdata/golden/README.md): pre-norm blocks, RMSNorm, per-head q/k RMSNorm before
rotate-half RoPE, GQA, softmax router -> top-k -> renormalise iff norm_topk_prob, SwiGLU experts.
Also: BF16 safetensors writer/reader with HF tensor names, and routing interventions.
"""
import json
import struct

import torch
import torch.nn.functional as F


def rms(x, w, eps):
    x32 = x.float()
    return w * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps))


def rope(x, pos, theta):
    # x [B, heads, T, D]; rotate-half convention, inv_freq = 1/theta^(arange(0,D,2)/D)
    d = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = pos.float()[:, None] * inv[None, :]  # [T, D/2]
    emb = torch.cat([ang, ang], -1)
    cos, sin = emb.cos(), emb.sin()
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Qwen3Moe(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = c = cfg
        H, D, E, I = c["hidden_size"], c["head_dim"], c["num_experts"], c["moe_intermediate_size"]
        nh, nkv, V, L = c["num_attention_heads"], c["num_key_value_heads"], c["vocab_size"], c["num_hidden_layers"]
        P = torch.nn.Parameter
        self.embed = P(torch.randn(V, H) * 0.02)
        self.lm_head = P(torch.randn(V, H) * 0.02)
        self.norm = P(torch.ones(H))
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            m = torch.nn.Module()
            m.ln1, m.ln2 = P(torch.ones(H)), P(torch.ones(H))
            m.q, m.k = P(torch.randn(nh * D, H) * H ** -0.5), P(torch.randn(nkv * D, H) * H ** -0.5)
            m.v = P(torch.randn(nkv * D, H) * H ** -0.5)
            m.o = P(torch.randn(H, nh * D) * (nh * D) ** -0.5 / (2 * L) ** 0.5)
            m.qn, m.kn = P(torch.ones(D)), P(torch.ones(D))
            m.gate = P(torch.randn(E, H) * 0.02)
            m.wg, m.wu = P(torch.randn(E, I, H) * H ** -0.5), P(torch.randn(E, I, H) * H ** -0.5)
            m.wd = P(torch.randn(E, H, I) * I ** -0.5 / (2 * L) ** 0.5)
            self.layers.append(m)

    def attn(self, m, x, cache=None):
        # x [B, T, H] (already normed); cache: [k, v] of earlier positions, extended in place
        c = self.cfg
        B, T, _ = x.shape
        nh, nkv, D = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        q = (x @ m.q.T).view(B, T, nh, D)
        k = (x @ m.k.T).view(B, T, nkv, D)
        v = (x @ m.v.T).view(B, T, nkv, D).transpose(1, 2)
        q = rms(q, m.qn, c["rms_norm_eps"]).transpose(1, 2)  # per-head q_norm before RoPE
        k = rms(k, m.kn, c["rms_norm_eps"]).transpose(1, 2)
        p0 = 0 if cache is None or cache[0] is None else cache[0].shape[2]
        pos = torch.arange(p0, p0 + T)
        q, k = rope(q, pos, c["rope_theta"]), rope(k, pos, c["rope_theta"])
        if cache is not None:
            if cache[0] is not None:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[0], cache[1] = k, v
        rep = nh // nkv  # query head h uses kv head h // rep
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        s = (q @ k.transpose(-1, -2)) * D ** -0.5  # [B, nh, T, p0+T]
        s = s.masked_fill(torch.ones(T, p0 + T, dtype=torch.bool).triu(p0 + 1), float("-inf"))
        o = torch.softmax(s.float(), -1) @ v  # [B, nh, T, D]
        return o.transpose(1, 2).reshape(B, T, nh * D) @ m.o.T

    def moe(self, m, x, disable=()):
        # x [N, H]; returns out [N, H], router logits z [N, E], selected ids [N, k]
        c = self.cfg
        z = x @ m.gate.T
        zz = z
        if disable:
            zz = z.clone()
            zz[:, list(disable)] = float("-inf")  # P1: masked before top-k, next expert takes the slot
        p = torch.softmax(zz.float(), -1)
        w, sel = torch.topk(p, c["num_experts_per_tok"], -1)
        if c["norm_topk_prob"]:
            w = w / w.sum(-1, keepdim=True)
        out = torch.zeros_like(x)
        for e in range(c["num_experts"]):
            tok, slot = (sel == e).nonzero(as_tuple=True)
            if tok.numel() == 0:
                continue
            xe = x[tok]
            y = (F.silu(xe @ m.wg[e].T) * (xe @ m.wu[e].T)) @ m.wd[e].T
            out.index_add_(0, tok, y * w[tok, slot, None])
        return out, z, sel, p

    def forward(self, ids, disable=None, cache=None):
        """ids [B, T] -> logits [B, T, V], list of (router logits [B*T,E], selected [B*T,k], probs).
        cache: None, or a list with one [k, v] (initially [None, None]) per layer, extended in place."""
        c = self.cfg
        B, T = ids.shape
        h = self.embed[ids]
        routing = []
        for li, m in enumerate(self.layers):
            h = h + self.attn(m, rms(h, m.ln1, c["rms_norm_eps"]), None if cache is None else cache[li])
            x = rms(h, m.ln2, c["rms_norm_eps"]).reshape(B * T, -1)
            o, z, sel, p = self.moe(m, x, (disable or {}).get(li, ()))
            routing.append((z, sel, p))
            h = h + o.view(B, T, -1)
        return rms(h, self.norm, c["rms_norm_eps"]) @ self.lm_head.T, routing

    # ---- HF tensor names ----
    def hf_tensors(self):
        t = {"model.embed_tokens.weight": self.embed, "model.norm.weight": self.norm,
             "lm_head.weight": self.lm_head}
        for i, m in enumerate(self.layers):
            p = f"model.layers.{i}."
            t[p + "input_layernorm.weight"] = m.ln1
            t[p + "post_attention_layernorm.weight"] = m.ln2
            for n, w in (("q_proj", m.q), ("k_proj", m.k), ("v_proj", m.v), ("o_proj", m.o),
                         ("q_norm", m.qn), ("k_norm", m.kn)):
                t[p + f"self_attn.{n}.weight"] = w
            t[p + "mlp.gate.weight"] = m.gate
            for e in range(self.cfg["num_experts"]):
                for n, w in (("gate_proj", m.wg), ("up_proj", m.wu), ("down_proj", m.wd)):
                    t[p + f"mlp.experts.{e}.{n}.weight"] = w[e]
        return t

    def round_bf16_(self):
        with torch.no_grad():
            for prm in self.parameters():
                prm.copy_(prm.to(torch.bfloat16).float())


def save_safetensors(tensors, path, metadata=None):
    """safetensors: u64 LE header length, JSON header (dtype, shape, data_offsets), raw LE data."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.bfloat16).contiguous()
        raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)  # align data to 8 bytes (allowed: trailing spaces)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        bits = torch.from_numpy(np.frombuffer(data[a:b], dtype="<i2").copy())
        out[name] = bits.view(torch.bfloat16).float().reshape(info["shape"])
    return out


def load_model(dirpath):
    cfg = json.load(open(f"{dirpath}/config.json"))
    model = Qwen3Moe(cfg)
    ts = load_safetensors(f"{dirpath}/model.safetensors")
    with torch.no_grad():
        for name, prm in model.hf_tensors().items():
            prm.copy_(ts[name])
    return model
