#!/usr/bin/python3
"""check_export.py EXPORT_DIR CHECKPOINT -- read an `xover export-model`
directory with numpy alone (Debian's python3-numpy) and check it against the
run's checkpoint, read here independently of xover's C code:

  * model.safetensors is valid safetensors (header, dtypes, contiguous
    little-endian data) and every tensor has the name, shape and exact
    values the checkpoint's padded blocks hold (layout: models/checkpoint.c,
    models/model.c param_sizes);
  * config.json describes the checkpoint's model;
  * tokenizer.json's vocab and merges agree with each other;
  * a numpy forward pass of the exported weights on val_batch.safetensors
    gives the loss xover computed (its metadata "val_loss").

Prints "export ok: ..." and exits 0, or names the first mismatch and exits 1.
"""
import json
import math
import os
import struct
import sys

import numpy as np


def fail(msg):
    print("export check failed:", msg)
    sys.exit(1)


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    if (8 + n) % 8:
        fail(f"{path}: data does not start 8-byte aligned")
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    if not all(isinstance(v, str) for v in meta.values()):
        fail(f"{path}: metadata values must be strings")
    out, end = {}, 0
    for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = t["data_offsets"]
        dt = {"F32": "<f4", "I32": "<i4"}[t["dtype"]]
        if b != end:
            fail(f"{path}: {name} starts at {b}, not right after the previous tensor ({end})")
        if e - b != 4 * math.prod(t["shape"]):
            fail(f"{path}: {name}'s byte range does not match its shape {t['shape']}")
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(t["shape"])
        end = e
    if end != len(data):
        fail(f"{path}: {len(data) - end} bytes after the last tensor")
    return out, meta


def read_checkpoint(path):
    """The config and parameter floats of an xover checkpoint."""
    raw = open(path, "rb").read()
    if raw[:8] != b"XOVERCK1":
        fail(f"{path} is not an xover checkpoint")
    (version,) = struct.unpack_from("<i", raw, 8)
    nint = 12 if version >= 2 else 10
    f = struct.unpack_from(f"<{nint}i", raw, 8) + (0, 0)
    keys = "version layers dim heads hidden vocab seq_len batch objective mask_id experts top_k".split()
    cfg = dict(zip(keys, f))
    off = 8 + 4 * nint + 8 + 32 + 16 + 8 * 8
    (n,) = struct.unpack_from("<Q", raw, off)
    params = np.frombuffer(raw, dtype="<f4", count=n, offset=off + 8)
    return cfg, params


def expected_tensors(c, params):
    """The checkpoint's blocks (each padded to 16 floats), cut by name."""
    L, C, F, V, E = c["layers"], c["dim"], c["hidden"], c["vocab"], c["experts"]
    Ef = max(E, 1)
    pad = lambda k: (k + 15) // 16 * 16
    sizes = [("wte", V * C), ("whead", V * C), ("wqkv", L * 3 * C * C), ("wo", L * C * C),
             ("w13", L * Ef * 2 * F * C), ("w2", L * Ef * C * F), ("wr", L * E * C), ("lnf", C),
             ("ln1", L * C), ("ln2", L * C)]
    blk, o = {}, 0
    for name, k in sizes:
        blk[name] = params[o:o + k]
        o += pad(k)
    if o != len(params):
        fail(f"the checkpoint holds {len(params)} floats, its config says {o}")
    want = {"model.embed_tokens.weight": blk["wte"].reshape(V, C),
            "lm_head.weight": blk["whead"].reshape(V, C), "model.norm.weight": blk["lnf"]}
    qkv = blk["wqkv"].reshape(L, 3, C, C)
    for l in range(L):
        p = f"model.layers.{l}."
        want[p + "input_layernorm.weight"] = blk["ln1"].reshape(L, C)[l]
        want[p + "post_attention_layernorm.weight"] = blk["ln2"].reshape(L, C)[l]
        for i, n in enumerate("qkv"):
            want[p + f"self_attn.{n}_proj.weight"] = qkv[l, i]
        want[p + "self_attn.o_proj.weight"] = blk["wo"].reshape(L, C, C)[l]
        w13 = blk["w13"].reshape(L, Ef, 2, F, C)
        w2 = blk["w2"].reshape(L, Ef, C, F)
        ffn = [p + "mlp."] if E == 0 else [p + f"mlp.experts.{e}." for e in range(E)]
        for e, q in enumerate(ffn):
            want[q + "gate_proj.weight"] = w13[l, e, 0]
            want[q + "up_proj.weight"] = w13[l, e, 1]
            want[q + "down_proj.weight"] = w2[l, e]
        if E:
            want[p + "mlp.router.weight"] = blk["wr"].reshape(L, E, C)[l]
    return want


# ---- a numpy forward pass of the exported weights ----

def rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def swiglu(x, w, p):
    g = x @ w[p + "gate_proj.weight"].T
    return ((g / (1 + np.exp(-g))) * (x @ w[p + "up_proj.weight"].T)) @ w[p + "down_proj.weight"].T


def forward(cfg, w, idx, causal):
    x_cfg = cfg["xover"]
    L, C, H = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]
    D, eps, E, K = C // H, cfg["rms_norm_eps"], x_cfg["experts"], x_cfg["top_k"]
    B, T = idx.shape
    inv = cfg["rope_theta"] ** (-np.arange(D // 2) * 2.0 / D)
    ang = np.arange(T)[:, None] * inv[None, :]
    cos, sin = np.cos(ang), np.sin(ang)

    def rope(v):  # [B,H,T,D]: rotate the pairs (i, i + D/2)
        a, b = v[..., :D // 2], v[..., D // 2:]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin], -1)

    x = w["model.embed_tokens.weight"][idx].astype(np.float64)
    for l in range(L):
        p = f"model.layers.{l}."
        h = rmsnorm(x, w[p + "input_layernorm.weight"], eps)
        q, k, v = ((h @ w[p + f"self_attn.{n}_proj.weight"].T).reshape(B, T, H, D).transpose(0, 2, 1, 3)
                   for n in "qkv")
        att = rope(q) @ rope(k).transpose(0, 1, 3, 2) / math.sqrt(D)
        if causal:
            att = np.where(np.triu(np.ones((T, T), bool), 1), -np.inf, att)
        y = (softmax(att) @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        x = x + y @ w[p + "self_attn.o_proj.weight"].T
        h = rmsnorm(x, w[p + "post_attention_layernorm.weight"], eps)
        if E == 0:
            x = x + swiglu(h, w, p + "mlp.")
        else:
            prob = softmax(h @ w[p + "mlp.router.weight"].T)
            top = np.argsort(-prob, axis=-1, kind="stable")[..., :K]
            out = np.zeros_like(h)
            for e in range(E):
                g = (prob[..., e] * (top == e).any(-1))[..., None]
                out += g * swiglu(h, w, p + f"mlp.experts.{e}.")
            x = x + out
    return rmsnorm(x, w["model.norm.weight"], eps) @ w["lm_head.weight"].T


def main():
    if len(sys.argv) != 3:
        fail("usage: check_export.py EXPORT_DIR CHECKPOINT")
    d, ckpt = sys.argv[1], sys.argv[2]
    c, params = read_checkpoint(ckpt)
    got, meta = read_safetensors(os.path.join(d, "model.safetensors"))
    want = expected_tensors(c, params)
    if set(got) != set(want):
        fail(f"tensor names differ: extra {sorted(set(got) - set(want))}, missing {sorted(set(want) - set(got))}")
    for name, a in want.items():
        if got[name].shape != a.shape:
            fail(f"{name}: shape {got[name].shape}, the checkpoint's is {a.shape}")
        if not np.array_equal(got[name], a):
            fail(f"{name}: values differ from the checkpoint's")
    if sum(a.size for a in got.values()) != sum(a.size for a in want.values()):
        fail("parameter counts differ")

    cfg = json.load(open(os.path.join(d, "config.json")))
    x = cfg["xover"]
    for k, ck in [("vocab_size", "vocab"), ("hidden_size", "dim"), ("num_hidden_layers", "layers"),
                  ("num_attention_heads", "heads"), ("intermediate_size", "hidden"),
                  ("max_position_embeddings", "seq_len")]:
        if cfg[k] != c[ck]:
            fail(f"config.json {k} = {cfg[k]}, the checkpoint's {ck} = {c[ck]}")
    if x["objective"] != ("ar", "mdm")[c["objective"]] or x["experts"] != c["experts"]:
        fail("config.json's objective or experts differ from the checkpoint's")
    if meta.get("objective") != x["objective"]:
        fail("model.safetensors' metadata names another objective")

    tok = json.load(open(os.path.join(d, "tokenizer.json")))
    vocab, merges = tok["model"]["vocab"], tok["model"]["merges"]
    ids = sorted(vocab.values())
    if len(merges) != c["vocab"] - 258 or ids[0] != 0 or ids[-1] != c["vocab"] - 1:
        fail(f"tokenizer.json: {len(merges)} merges and ids {ids[0]}..{ids[-1]} for a vocab of {c['vocab']}")
    if len(set(vocab)) != len(vocab) or len(vocab) != len(set(ids)):
        fail("tokenizer.json: vocab is not one-to-one")
    spelled = {i: s for s, i in vocab.items()}
    for r, m in enumerate(merges):
        a, b = m.split(" ")
        if a not in vocab or b not in vocab:
            fail(f"tokenizer.json: merge {m!r} uses a token not in the vocab")
        if 258 + r in spelled and spelled[258 + r] != a + b:
            fail(f"tokenizer.json: merge {r} ({m!r}) does not spell id {258 + r} ({spelled[258 + r]!r})")
    specials = {t["id"]: t["content"] for t in tok["added_tokens"]}
    if specials != {256: "<|eos|>", 257: "<|mask|>"} or x["mask_token_id"] != c["mask_id"]:
        fail(f"special tokens {specials}, mask id {x['mask_token_id']}")

    batch, bmeta = read_safetensors(os.path.join(d, "val_batch.safetensors"))
    w = {k: v.astype(np.float64) for k, v in got.items()}
    logits = forward(cfg, w, batch["inputs"], x["attention"] == "causal")
    if x["mask_excluded_from_softmax"]:
        logits[..., x["mask_token_id"]] = -np.inf
    tg = batch["targets"]
    logp = logits - logits.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    ce = -np.take_along_axis(logp, np.maximum(tg, 0)[..., None], -1)[..., 0]
    loss = float((ce * batch["weights"] * (tg >= 0)).sum())
    xl = float(bmeta["val_loss"])
    if not abs(loss - xl) <= 1e-4 * max(1.0, abs(xl)):
        fail(f"numpy val_loss {loss:.7f} vs xover's {xl:.7f}")
    print(f"export ok: {len(got)} tensors, {params.size} floats in the checkpoint, "
          f"val_loss numpy {loss:.7f} xover {xl:.7f}")


if __name__ == "__main__":
    main()
