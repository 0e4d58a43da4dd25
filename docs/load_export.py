#!/usr/bin/env python3
"""load_export.py -- load an `xover export-model` directory in PyTorch and
check it: recompute xover's validation loss on the exported batch.

    python3 docs/load_export.py EXPORT_DIR [--sample]

Needs numpy and torch (Debian: python3-numpy python3-torch), nothing else:
the safetensors files are read with the small reader below (where the
`safetensors` package is installed, safetensors.torch.load_file reads them
too). docs/export.md explains the files and the architecture.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "I32": np.int32}


def load_safetensors(path):
    """{name: torch tensor}, and the header's metadata."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        a = np.frombuffer(data[b:e], dtype=np.dtype(DTYPES[t["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(a.reshape(t["shape"]).copy())
    return out, meta


class Xover(torch.nn.Module):
    """The transformer xover trains (models/models.h): token embedding; per
    layer RMSNorm -> attention with RoPE -> residual, RMSNorm -> SwiGLU (or
    a mixture of SwiGLU experts) -> residual; final RMSNorm; untied head."""

    def __init__(self, cfg, w):
        super().__init__()
        self.cfg, self.w = cfg, w
        self.L, self.C, self.H = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]
        self.eps, self.E = cfg["rms_norm_eps"], cfg["xover"]["experts"]
        self.top_k = cfg["xover"]["top_k"]
        D = self.C // self.H
        inv = cfg["rope_theta"] ** (-torch.arange(0, D // 2, dtype=torch.float64) * 2 / D)
        ang = torch.arange(cfg["max_position_embeddings"], dtype=torch.float64)[:, None] * inv[None, :]
        self.cos, self.sin = torch.cos(ang).float(), torch.sin(ang).float()

    def norm(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    def rope(self, x, T):
        # Rotate the pairs (i, i + D/2) of each head by position * theta_i.
        h = x.shape[-1] // 2
        a, b = x[..., :h], x[..., h:]
        cos, sin = self.cos[:T], self.sin[:T]
        return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)

    def swiglu(self, x, p):
        return F.linear(F.silu(F.linear(x, self.w[p + "gate_proj.weight"])) *
                        F.linear(x, self.w[p + "up_proj.weight"]), self.w[p + "down_proj.weight"])

    def ffn(self, x, l):
        p = f"model.layers.{l}.mlp."
        if self.E == 0:
            return self.swiglu(x, p)
        # Softmax router; each token to its top_k experts, weighted by the
        # router's probability (not renormalised over the top_k).
        prob = F.linear(x, self.w[p + "router.weight"]).softmax(-1)
        gate, idx = prob.topk(self.top_k, dim=-1)
        out = torch.zeros_like(x)
        for e in range(self.E):
            g = (gate * (idx == e)).sum(-1, keepdim=True)
            if g.any():
                out = out + g * self.swiglu(x, p + f"experts.{e}.")
        return out

    def forward(self, idx, causal):
        B, T = idx.shape
        C, H, D, w = self.C, self.H, self.C // self.H, self.w
        x = F.embedding(idx, w["model.embed_tokens.weight"])
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if causal else None
        for l in range(self.L):
            p = f"model.layers.{l}."
            h = self.norm(x, w[p + "input_layernorm.weight"])
            q, k, v = (F.linear(h, w[p + f"self_attn.{n}_proj.weight"]).view(B, T, H, D).transpose(1, 2)
                       for n in "qkv")
            att = (self.rope(q, T) @ self.rope(k, T).transpose(-2, -1)) / math.sqrt(D)
            if mask is not None:
                att = att.masked_fill(mask, float("-inf"))
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
            x = x + F.linear(y, w[p + "self_attn.o_proj.weight"])
            x = x + self.ffn(self.norm(x, w[p + "post_attention_layernorm.weight"]), l)
        return F.linear(self.norm(x, w["model.norm.weight"]), w["lm_head.weight"])


def val_loss(model, cfg, batch):
    """xover's validation loss on the exported rows: the sum of
    weight * cross-entropy over the scored positions (the MDM's [MASK]
    logit left out of the softmax)."""
    x = cfg["xover"]
    logits = model(batch["inputs"].long(), x["attention"] == "causal")
    if x["mask_excluded_from_softmax"]:
        logits[..., x["mask_token_id"]] = float("-inf")
    tg = batch["targets"].long()
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tg.clamp(min=0).reshape(-1),
                         reduction="none").view_as(tg)
    return float((ce * batch["weights"] * (tg >= 0)).double().sum())


def decoder(tokenizer):
    """id -> bytes, from tokenizer.json (GPT-2's byte-to-unicode alphabet)."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    alpha, n = {}, 0
    for b in range(256):
        if b in bs:
            alpha[chr(b)] = b
        else:
            alpha[chr(256 + n)] = b
            n += 1
    special = {t["id"]: t["content"].encode() for t in tokenizer["added_tokens"]}
    out = {}
    for s, i in tokenizer["model"]["vocab"].items():
        out[i] = special.get(i) or bytes(alpha[c] for c in s)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export_dir")
    ap.add_argument("--sample", action="store_true", help="also continue the batch's first sequence (AR)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = json.load(open(os.path.join(a.export_dir, "config.json")))
    weights, _ = load_safetensors(os.path.join(a.export_dir, "model.safetensors"))
    batch, meta = load_safetensors(os.path.join(a.export_dir, "val_batch.safetensors"))
    tok = decoder(json.load(open(os.path.join(a.export_dir, "tokenizer.json"))))
    model = Xover(cfg, weights)
    n = sum(t.numel() for t in weights.values())
    with torch.no_grad():
        ours = val_loss(model, cfg, batch)
    theirs = float(meta["val_loss"])
    seqs, rows = batch["tokens"].shape[0], batch["inputs"].shape[0]
    print(f"{cfg['xover']['objective']} model: {len(weights)} tensors, {n} parameters, step {cfg['xover']['step']}")
    print(f"first validation sequence: {b''.join(tok[int(i)] for i in batch['tokens'][0][:24])!r}...")
    print(f"val_loss on {seqs} sequences ({rows} rows): torch {ours:.6f}, xover {theirs:.6f}, "
          f"difference {ours - theirs:+.2e}")
    if a.sample and cfg["xover"]["attention"] == "causal":
        ids = batch["tokens"][:1, :16].long()
        with torch.no_grad():
            for _ in range(24):
                nxt = model(ids[:, -cfg["max_position_embeddings"]:], True)[0, -1].argmax()
                ids = torch.cat([ids, nxt.view(1, 1)], dim=1)
        print("greedy continuation:", b"".join(tok[int(i)] for i in ids[0]).decode("utf-8", "replace"))
    return 0 if abs(ours - theirs) <= 1e-4 * max(1.0, abs(theirs)) else 1


if __name__ == "__main__":
    sys.exit(main())
