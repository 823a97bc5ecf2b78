#!/usr/bin/python3
"""XLSR-Mamba back-end in plain PyTorch (no mamba_ssm), and its test fixture.

Written from shared/docs/reference-spec.md section 3 (dpda_ga nets/mamba.py,
mamba_ssm 1.x Mamba/Block/RMSNorm semantics). The selective scan is the
textbook recurrence, one time step at a time:
    delta = softplus(dt + dt_bias), A = -exp(A_log)
    h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t
    y_t = <C_t, h_t> + D * u_t,   out = y * silu(z)

Parameter names are those of the reference state dict (LL.*, first_bn.*,
conformer.{forward,backward}_layers.i.{norm,mixer.*}, conformer.norm_f, ...).
`final_norm`: "reference" reproduces the reference's fused final norm, which
adds the block input x_drop (not the last block's output) to each stack's
residual, so each stack's last block is unused; "fixed" normalises
(last block output + residual).

Run from the repository root:
    /usr/bin/python3 tools/reference/mamba_ref.py            # writes the fixture
    /usr/bin/python3 tools/reference/mamba_ref.py --count    # parameter count of the full size

Fixture tests/data/fixtures/xlsr_mamba_tiny.safetensors (tiny sizes, random
weights, random features; every float F32, ground truth computed in float64):
  param/<key>                       every state-dict entry (no num_batches_tracked)
  input (B, T, d_in), labels (B,) I64
  <mode>/logits_eval                eval mode (BatchNorm running statistics)
  <mode>/logits_train, <mode>/loss  train mode with every dropout p = 0, weighted CE [0.1, 0.9]
  <mode>/grad/<key>                 d loss / d parameter (zeros where PyTorch gives None)
  <mode>/running_after/<key>        first_bn running statistics after that forward
  <mode>/path{0,1}/loss, .../grad/<key>   the same on the first / second half of the batch alone
  relerr_torch32/<mode>/...         ||X_float32 - X_float64|| / ||X_float64|| for each of the above
with <mode> in {fixed, reference}. Metadata: the sizes (d_in, d_model, n_layer,
d_state, d_conv, expand, dt_rank), zero_grad_keys_reference.
"""

import argparse
import math
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

OUT = os.path.join(ROOT, "tests", "data", "fixtures", "xlsr_mamba_tiny.safetensors")
CE_WEIGHT = (0.1, 0.9)


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def selective_scan(u, dt, A, Bm, Cm, D, z, dt_bias):
    """u, dt, z (B, T, Di); A (Di, N); Bm, Cm (B, T, N); D, dt_bias (Di)."""
    delta = F.softplus(dt + dt_bias)                      # (B, T, Di), threshold 20 as mamba_ssm
    Bsz, T, Di = u.shape
    h = u.new_zeros(Bsz, Di, A.shape[1])
    ys = []
    for t in range(T):
        a = torch.exp(delta[:, t, :, None] * A)           # (B, Di, N)
        h = a * h + (delta[:, t] * u[:, t])[:, :, None] * Bm[:, t, None, :]
        ys.append((h * Cm[:, t, None, :]).sum(-1))        # (B, Di)
    y = torch.stack(ys, dim=1) + u * D
    return y * F.silu(z)


class Mamba(nn.Module):
    """mamba_ssm 1.x Mamba mixer (bias=False, conv_bias=True) with its initialisation."""

    def __init__(self, d_model, d_state=16, d_conv=4, expand=2, dt_rank=None,
                 dt_min=1e-3, dt_max=0.1, dt_floor=1e-4):
        super().__init__()
        self.d_inner = expand * d_model
        self.d_state = d_state
        self.dt_rank = dt_rank if dt_rank is not None else math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        std = self.dt_rank ** -0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, x):                                 # (B, T, d_model)
        T = x.shape[1]
        xz = self.in_proj(x)
        u, z = xz.chunk(2, dim=-1)
        u = self.conv1d(u.transpose(1, 2))[..., :T].transpose(1, 2)   # causal depthwise
        u = F.silu(u)
        dbc = self.x_proj(u)
        dt, Bm, Cm = torch.split(dbc, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = dt @ self.dt_proj.weight.t()                 # bias added inside the scan
        y = selective_scan(u, dt, -torch.exp(self.A_log), Bm, Cm, self.D, z, self.dt_proj.bias)
        return self.out_proj(y)


class Block(nn.Module):
    """Add -> RMSNorm -> Mamba; returns (mixer output, residual)."""

    def __init__(self, d_model, **kw):
        super().__init__()
        self.mixer = Mamba(d_model, **kw)
        self.norm = RMSNorm(d_model)

    def forward(self, h, residual):
        residual = h if residual is None else h + residual
        return self.mixer(self.norm(residual)), residual


class MixerModel(nn.Module):
    def __init__(self, d_model, n_layer, final_norm, p_drop=0.1, **kw):
        super().__init__()
        self.final_norm = final_norm
        self.forward_layers = nn.ModuleList([Block(d_model, **kw) for _ in range(n_layer)])
        self.backward_layers = nn.ModuleList([Block(d_model, **kw) for _ in range(n_layer)])
        self.norm_f = RMSNorm(d_model)
        for layers in (self.forward_layers, self.backward_layers):   # mamba_ssm _init_weights
            for blk in layers:
                nn.init.kaiming_uniform_(blk.mixer.out_proj.weight, a=math.sqrt(5))
                with torch.no_grad():
                    blk.mixer.out_proj.weight /= math.sqrt(n_layer)
        self.f_attention_pool = nn.Linear(d_model, 1)
        self.b_attention_pool = nn.Linear(d_model, 1)
        self.LL = nn.Linear(2 * d_model, d_model)
        self.dropout = nn.Dropout(p_drop)
        self.classifier = nn.Linear(d_model, 2)

    def run_stack(self, layers, h, x_drop):
        residual = None
        for blk in layers:
            h, residual = blk(h, residual)
        if self.final_norm == "reference":
            return self.norm_f(x_drop + residual)
        return self.norm_f(h + residual)

    @staticmethod
    def attention_pool(lin, x):
        return torch.matmul(F.softmax(lin(x), dim=1).transpose(-1, -2), x).squeeze(-2)

    def forward(self, x):
        x_drop = self.dropout(x)
        f = self.run_stack(self.forward_layers, x_drop, x_drop)
        b = self.run_stack(self.backward_layers, x_drop.flip([1]), x_drop)
        f = self.attention_pool(self.f_attention_pool, f)
        b = self.attention_pool(self.b_attention_pool, b)
        h = self.LL(torch.cat((f, b), dim=1))
        return self.classifier(self.dropout(h))


class MambaBackend(nn.Module):
    """features (B, T, d_in) -> logits (B, 2), as the reference Model after the SSL front end."""

    def __init__(self, d_in=1024, d_model=144, n_layer=6, final_norm="fixed", p_drop=0.1, **kw):
        super().__init__()
        self.LL = nn.Linear(d_in, d_model)
        self.first_bn = nn.BatchNorm2d(1)
        self.selu = nn.SELU()
        self.conformer = MixerModel(d_model, n_layer, final_norm, p_drop, **kw)

    def forward(self, feat):
        x = self.LL(feat).unsqueeze(1)
        x = self.selu(self.first_bn(x)).squeeze(1)
        return self.conformer(x)


def relerr(a, b):
    a = a.double()
    b = b.double()
    den = b.norm().item()
    num = (a - b).norm().item()
    return num / den if den > 0 else num


def run_train(model, feat, labels):
    """train mode, dropout 0: (loss, logits, grads {key: tensor}, running stats {key: tensor})"""
    m = model
    m.train()
    m.zero_grad(set_to_none=True)
    logits = m(feat)
    loss = F.cross_entropy(logits, labels, weight=torch.tensor(CE_WEIGHT, dtype=logits.dtype))
    loss.backward()
    grads = {}
    for k, p in m.named_parameters():
        grads[k] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
    run = {k: v.detach().clone() for k, v in m.state_dict().items() if "running_" in k}
    return loss.detach(), logits.detach(), grads, run


def make_fixture(path):
    torch.manual_seed(11)
    cfg = dict(d_in=32, d_model=24, n_layer=2, d_state=4, d_conv=4, expand=2, dt_rank=2)
    B, T = 4, 37
    model = MambaBackend(cfg["d_in"], cfg["d_model"], cfg["n_layer"], "fixed", p_drop=0.0,
                         d_state=cfg["d_state"], d_conv=cfg["d_conv"], expand=cfg["expand"], dt_rank=cfg["dt_rank"])
    # move the weights off their structured initial values so every term matters
    with torch.no_grad():
        for k, p in model.named_parameters():
            if k.endswith("norm.weight") or k.endswith("norm_f.weight"):
                p.uniform_(0.5, 1.5)
            elif k.endswith(".D"):
                p.add_(0.5 * torch.randn_like(p))
            elif k.endswith("A_log"):
                p.add_(0.3 * torch.randn_like(p))
            elif k.endswith("out_proj.weight"):
                p.mul_(3.0)
        model.first_bn.weight.fill_(1.3)
        model.first_bn.bias.fill_(-0.2)
        model.first_bn.running_mean.fill_(0.05)
        model.first_bn.running_var.fill_(0.8)
    feat = torch.randn(B, T, cfg["d_in"])
    labels = torch.tensor([1, 0, 1, 0], dtype=torch.int64)
    state = {k: v.detach().clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    out = {"param/" + k: v.numpy().astype(np.float32) for k, v in state.items()}
    out["input"] = feat.numpy().astype(np.float32)
    out["labels"] = labels.numpy()
    zero_ref = []
    for mode in ("fixed", "reference"):
        res = {}
        for prec in (torch.float64, torch.float32):
            model.conformer.final_norm = mode
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
            for k, v in g.items():
                r["grad/" + k] = v
            for k, v in run.items():
                r["running_after/" + k] = v
            for s, (b0, b1) in enumerate(((0, B // 2), (B // 2, B))):
                m.load_state_dict(st)
                loss, _, g, _ = run_train(m, x[b0:b1], labels[b0:b1])
                r["path%d/loss" % s] = loss
                for k, v in g.items():
                    r["path%d/grad/%s" % (s, k)] = v
            m.load_state_dict(st)
            res[prec] = r
            if prec == torch.float64 and mode == "reference":
                zero_ref = sorted(k[5:] for k, v in r.items() if k.startswith("grad/") and not v.any())
        for k, v in res[torch.float64].items():
            out["%s/%s" % (mode, k)] = v.numpy().astype(np.float32)
            out["relerr_torch32/%s/%s" % (mode, k)] = np.float32(relerr(res[torch.float32][k], v))
    model.double()
    meta = {k: str(v) for k, v in cfg.items()}
    meta.update({"generator": "tools/reference/mamba_ref.py", "torch": torch.__version__,
                 "batch": str(B), "frames": str(T), "ce_weight": "0.1,0.9",
                 "zero_grad_keys_reference": ",".join(zero_ref),
                 "truth": "float64 (model.double() from the stored float32 weights and input)"})
    st_write.save(path, out, meta)
    print("wrote %s (%d tensors); reference-mode zero-gradient keys: %d" % (path, len(out), len(zero_ref)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", action="store_true", help="print the full-size back-end's parameter count")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.count:
        m = MambaBackend()
        print(sum(p.numel() for p in m.parameters()))
        return
    make_fixture(OUT)


if __name__ == "__main__":
    main()
