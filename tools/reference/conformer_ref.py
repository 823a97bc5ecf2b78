#!/usr/bin/python3
"""XLSR-Conformer-TCM back-end in plain PyTorch, and its test fixture.

Written from shared/docs/reference-spec.md section 3 (dpda_ga nets/conformer_tcm.py
and nets/conformer.py): features (B, T, 1024) -> LL Linear(1024, emb) ->
BatchNorm2d(1) on (B, 1, T, emb) -> SELU -> + sinusoidal positions -> class
token prepended -> Conformer blocks with head-token attention -> fc5 on token 0.
Module names and nn.Sequential indices are the reference's, so state-dict keys
match (LL.*, first_bn.*, conformer.positional_emb, conformer.class_token,
conformer.encoder_blocks.i.{ff1.fn.norm, ff1.fn.fn.net.0/3, attn.norm,
attn.fn.{qkv, proj, ht_proj, ht_norm, pos_embed}, conv.net.{0,2,4.conv,5,7},
ff2..., post_norm}, conformer.fc5.*). All dropouts are 0 in the reference's
configuration.

Run from the repository root:
    /usr/bin/python3 tools/reference/conformer_ref.py            # writes the fixture
    /usr/bin/python3 tools/reference/conformer_ref.py --count    # trainable parameters of the full size

Fixture tests/data/fixtures/xlsr_conformer_tiny.safetensors (tiny sizes, random
weights and features; float64 truth stored as F32):
  param/<key>            every state-dict entry except positional_emb and num_batches_tracked
  const/positional_emb   the first T rows of the sinusoidal table (T, emb)
  input (B, T, d_in), labels (B,) I64
  logits_eval, logits_train, loss, grad/<key>, running_after/<key>, path{0,1}/loss, path{0,1}/grad/<key>
  relerr_torch32/<name>  ||X_float32 - X_float64|| / ||X_float64|| for each result
as in the Mamba fixture (train mode = every dropout 0, BatchNorm batch statistics).
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import st_write  # noqa: E402

OUT = os.path.join(ROOT, "tests", "data", "fixtures", "xlsr_conformer_tiny.safetensors")
CE_WEIGHT = (0.1, 0.9)


def sinusoidal_embedding(n, dim):
    pe = torch.FloatTensor([[p / (10000 ** (2 * (i // 2) / dim)) for i in range(dim)] for p in range(n)])
    pe[:, 0::2] = torch.sin(pe[:, 0::2])
    pe[:, 1::2] = torch.cos(pe[:, 1::2])
    return pe.unsqueeze(0)


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class GLU(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        out, gate = x.chunk(2, dim=self.dim)
        return out * torch.sigmoid(gate)


class Transpose12(nn.Module):
    def forward(self, x):
        return x.transpose(1, 2)


class DepthWiseConv1d(nn.Module):
    def __init__(self, chan, kernel_size, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv1d(chan, chan, kernel_size, groups=chan)

    def forward(self, x):
        return self.conv(F.pad(x, self.padding))


class Scale(nn.Module):
    def __init__(self, scale, fn):
        super().__init__()
        self.fn = fn
        self.scale = scale

    def forward(self, x):
        return self.fn(x) * self.scale


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.fn = fn
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.fn(self.norm(x))


class HeadTokenAttention(nn.Module):
    """MHSA with one extra 'head token' per head (mean of the tokens in that head's
    channels, projected, normalised, GELU); head tokens are merged into the class token."""

    def __init__(self, dim, heads, dim_head):
        super().__init__()
        self.h = heads
        self.scale = dim_head ** -0.5
        self.qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.proj = nn.Linear(heads * dim_head, dim)
        self.ht_proj = nn.Linear(dim_head, dim)
        self.ht_norm = nn.LayerNorm(dim_head)
        self.pos_embed = nn.Parameter(torch.zeros(1, heads, dim))

    def forward(self, x):
        B, N, C = x.shape
        h, dh = self.h, C // self.h
        ht = x.reshape(B, N, h, dh).mean(dim=1)                       # (B, h, dh): per head, mean over tokens
        ht = self.ht_proj(ht).reshape(B, h, h, dh)                    # (B, h, C) seen as h x h x dh
        ht = F.gelu(self.ht_norm(ht)).reshape(B, h, C) + self.pos_embed
        x = torch.cat([x, ht], dim=1)                                 # (B, N + h, C)
        q, k, v = self.qkv(x).reshape(B, N + h, 3, h, dh).permute(2, 0, 3, 1, 4)
        a = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        x = self.proj((a @ v).transpose(1, 2).reshape(B, N + h, C))
        cls, patch, heads = x[:, :1], x[:, 1:N], x[:, N:]
        cls = cls + heads.mean(dim=1, keepdim=True) + patch.mean(dim=1, keepdim=True)
        return torch.cat([cls, patch], dim=1)


class FeedForward(nn.Module):
    def __init__(self, dim, mult):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim * mult), Swish(), nn.Dropout(0.0), nn.Linear(dim * mult, dim),
                                 nn.Dropout(0.0))

    def forward(self, x):
        return self.net(x)


class ConvModule(nn.Module):
    def __init__(self, dim, expansion, kernel):
        super().__init__()
        inner = dim * expansion
        pad = (kernel // 2, kernel // 2 - (kernel + 1) % 2)
        self.net = nn.Sequential(nn.LayerNorm(dim), Transpose12(), nn.Conv1d(dim, 2 * inner, 1), GLU(1),
                                 DepthWiseConv1d(inner, kernel, pad), nn.BatchNorm1d(inner), Swish(),
                                 nn.Conv1d(inner, dim, 1), Transpose12(), nn.Dropout(0.0))

    def forward(self, x):
        return self.net(x)


class ConformerBlock(nn.Module):
    def __init__(self, dim, heads, ff_mult, expansion, kernel):
        super().__init__()
        self.ff1 = Scale(0.5, PreNorm(dim, FeedForward(dim, ff_mult)))
        self.attn = PreNorm(dim, HeadTokenAttention(dim, heads, dim // heads))
        self.conv = ConvModule(dim, expansion, kernel)
        self.ff2 = Scale(0.5, PreNorm(dim, FeedForward(dim, ff_mult)))
        self.post_norm = nn.LayerNorm(dim)

    def forward(self, x):
        x = self.ff1(x) + x
        x = self.attn(x) + x
        x = self.conv(x) + x
        x = self.ff2(x) + x
        return self.post_norm(x)


class MyConformer(nn.Module):
    def __init__(self, emb, heads, ff_mult, expansion, kernel, n_blocks):
        super().__init__()
        self.positional_emb = nn.Parameter(sinusoidal_embedding(10000, emb), requires_grad=False)
        self.encoder_blocks = nn.ModuleList([ConformerBlock(emb, heads, ff_mult, expansion, kernel) for _ in range(n_blocks)])
        self.class_token = nn.Parameter(torch.rand(1, emb))
        self.fc5 = nn.Linear(emb, 2)

    def forward(self, x):
        x = x + self.positional_emb[:, :x.size(1), :]
        x = torch.cat([self.class_token.expand(x.shape[0], 1, -1), x], dim=1)
        for blk in self.encoder_blocks:
            x = blk(x)
        return self.fc5(x[:, 0, :])


class ConformerBackend(nn.Module):
    def __init__(self, d_in=1024, emb=144, heads=4, ff_mult=4, expansion=2, kernel=31, n_blocks=4):
        super().__init__()
        self.LL = nn.Linear(d_in, emb)
        self.first_bn = nn.BatchNorm2d(1)
        self.selu = nn.SELU()
        self.conformer = MyConformer(emb, heads, ff_mult, expansion, kernel, n_blocks)

    def forward(self, feat):
        x = self.selu(self.first_bn(self.LL(feat).unsqueeze(1))).squeeze(1)
        return self.conformer(x)


def relerr(a, b):
    a, b = a.double(), b.double()
    den = b.norm().item()
    num = (a - b).norm().item()
    return num / den if den > 0 else num


def run_train(m, feat, labels):
    m.train()
    m.zero_grad(set_to_none=True)
    logits = m(feat)
    loss = F.cross_entropy(logits, labels, weight=torch.tensor(CE_WEIGHT, dtype=logits.dtype))
    loss.backward()
    grads = {k: (p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p))
             for k, p in m.named_parameters() if p.requires_grad}
    run = {k: v.detach().clone() for k, v in m.state_dict().items() if "running_" in k}
    return loss.detach(), logits.detach(), grads, run


def make_fixture(path):
    torch.manual_seed(21)
    cfg = dict(d_in=32, emb=16, heads=4, ff_mult=4, expansion=2, kernel=31, n_blocks=2)
    B, T = 4, 20
    model = ConformerBackend(**cfg)
    with torch.no_grad():
        # LayerNorm and BatchNorm affine parameters off (1, 0); head-token positions off 0
        for k, p in model.named_parameters():
            affine = "norm" in k or ".conv.net.0." in k or ".conv.net.5." in k
            if affine and k.endswith("weight"):
                p.uniform_(0.5, 1.5)
            elif affine and k.endswith("bias"):
                p.normal_(0.0, 0.1)
            elif k.endswith("pos_embed"):
                p.normal_(0.0, 0.2)
        for k, b in model.named_buffers():
            if k.endswith("running_mean"):
                b.normal_(0.0, 0.1)
            elif k.endswith("running_var"):
                b.uniform_(0.5, 1.5)
    feat = torch.randn(B, T, cfg["d_in"])
    labels = torch.tensor([1, 0, 1, 0], dtype=torch.int64)
    state = {k: v.detach().clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    out = {"param/" + k: v.numpy().astype(np.float32) for k, v in state.items() if not k.endswith("positional_emb")}
    out["const/positional_emb"] = state["conformer.positional_emb"][0, :T].numpy().astype(np.float32)
    out["input"] = feat.numpy().astype(np.float32)
    out["labels"] = labels.numpy()
    res = {}
    for prec in (torch.float64, torch.float32):
        model.load_state_dict(state, strict=False)
        m = model.to(prec)
        x = feat.to(prec)
        r = {}
        m.eval()
        with torch.no_grad():
            r["logits_eval"] = m(x)
        st = {k: v.clone() for k, v in m.state_dict().items()}
        loss, lt, g, run = run_train(m, x, labels)
        r["loss"], r["logits_train"] = loss, lt
        r.update({"grad/" + k: v for k, v in g.items()})
        r.update({"running_after/" + k: v for k, v in run.items()})
        for s, (b0, b1) in enumerate(((0, B // 2), (B // 2, B))):
            m.load_state_dict(st)
            loss, _, g, _ = run_train(m, x[b0:b1], labels[b0:b1])
            r["path%d/loss" % s] = loss
            r.update({"path%d/grad/%s" % (s, k): v for k, v in g.items()})
        m.load_state_dict(st)
        res[prec] = r
    for k, v in res[torch.float64].items():
        out[k] = v.numpy().astype(np.float32)
        out["relerr_torch32/" + k] = np.float32(relerr(res[torch.float32][k], v))
    meta = {k: str(v) for k, v in cfg.items()}
    meta.update({"generator": "tools/reference/conformer_ref.py", "torch": torch.__version__,
                 "batch": str(B), "frames": str(T), "ce_weight": "0.1,0.9",
                 "truth": "float64 (model.double() from the stored float32 weights and input)"})
    st_write.save(path, out, meta)
    print("wrote %s (%d tensors)" % (path, len(out)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.count:
        m = ConformerBackend()
        blk = sum(p.numel() for p in m.conformer.encoder_blocks[0].parameters())
        print("block %d, back-end trainable %d" % (blk, sum(p.numel() for p in m.parameters() if p.requires_grad)))
        return
    make_fixture(OUT)


if __name__ == "__main__":
    main()
