#!/usr/bin/env python3
"""trainer_torch.py -- the PyTorch peer of xover's trainer, for bench/trainer.

The same model (token embedding; blocks of RMSNorm -> attention with RoPE ->
residual, RMSNorm -> SwiGLU -> residual; final RMSNorm; untied head; no biases)
and objective (ar: causal, next-token CE; mdm: bidirectional, t stratified per
sequence, masked CE / t over B*L, [MASK] excluded from the softmax), trained
with AdamW (0.9, 0.95), weight decay 0.1, clip 1.0, on 1 thread. Written the
way a user would write it in PyTorch 1.13 (no fused kernels exist there).

Prints one JSON line: {"tokens_per_s": ..., "loss": ..., "steps": ...}.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(T, D):
    inv = 10000.0 ** (-torch.arange(0, D // 2, dtype=torch.float32) * 2 / D)
    ang = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cos(ang), torch.sin(ang)


def rope(x, cos, sin):
    h = x.shape[-1] // 2
    a, b = x[..., :h], x[..., h:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)


class Block(nn.Module):
    def __init__(self, C, H, Fh):
        super().__init__()
        self.H = H
        self.ln1 = RMSNorm(C)
        self.qkv = nn.Linear(C, 3 * C, bias=False)
        self.o = nn.Linear(C, C, bias=False)
        self.ln2 = RMSNorm(C)
        self.w13 = nn.Linear(C, 2 * Fh, bias=False)
        self.w2 = nn.Linear(Fh, C, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        H, D = self.H, C // self.H
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=-1)
        q = rope(q.view(B, T, H, D).transpose(1, 2), cos, sin)
        k = rope(k.view(B, T, H, D).transpose(1, 2), cos, sin)
        v = v.view(B, T, H, D).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D))
        if mask is not None:
            att = att.masked_fill(mask, float("-inf"))
        y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.o(y)
        a, u = self.w13(self.ln2(x)).chunk(2, dim=-1)
        return x + self.w2(F.silu(a) * u)


class Model(nn.Module):
    def __init__(self, L, C, H, Fh, V, T):
        super().__init__()
        self.emb = nn.Embedding(V, C)
        self.blocks = nn.ModuleList([Block(C, H, Fh) for _ in range(L)])
        self.lnf = RMSNorm(C)
        self.head = nn.Linear(C, V, bias=False)
        cos, sin = rope_tables(T, C // H)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, causal):
        T = idx.shape[1]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if causal else None
        x = self.emb(idx)
        for b in self.blocks:
            x = b(x, self.cos[:T], self.sin[:T], mask)
        return self.head(self.lnf(x))


def main():
    ap = argparse.ArgumentParser()
    for k in ("layers", "dim", "heads", "hidden", "vocab", "seq", "batch", "steps", "warmup"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--objective", choices=["ar", "mdm"], default="ar")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    V, T, B = a.vocab, a.seq, a.batch
    mask_id = V - 1
    model = Model(a.layers, a.dim, a.heads, a.hidden, V, T)
    decay = [p for p in model.parameters() if p.dim() == 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": other, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(1)
    data = torch.randint(0, V - 1, (8, B, T), generator=g)

    def step(i):
        tok = data[i % 8]
        if a.objective == "ar":
            logits = model(tok, True)
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), tok[:, 1:].reshape(-1))
        else:
            u = torch.rand(1).item()
            t = 1e-3 + (1 - 1e-3) * ((u + torch.arange(B) / B) % 1.0)
            m = torch.rand(B, T) < t[:, None]
            inp = torch.where(m, torch.full_like(tok, mask_id), tok)
            logits = model(inp, False)
            logits[..., mask_id] = float("-inf")
            ce = F.cross_entropy(logits.view(-1, V), tok.view(-1), reduction="none").view(B, T)
            loss = (ce * m / t[:, None]).sum() / (B * T)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for i in range(a.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(a.steps):
        loss = step(i)
    dt = time.perf_counter() - t0
    print(json.dumps({"tokens_per_s": a.steps * B * T / dt, "loss": loss, "steps": a.steps}))


if __name__ == "__main__":
    main()
