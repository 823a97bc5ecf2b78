#!/usr/bin/python3
"""Generate the AASIST / AASIST-L reference fixtures in tests/data/fixtures/.

Run from the repository root with Debian's torch:
    /usr/bin/python3 tools/reference/make_fixtures.py [--threads 2] [NAME ...]

Ground truth is computed in float64 (model.double(), inputs cast to double from
the stored float32 input, parameters cast from their float32 values) and stored
as F32. The same computation is repeated in float32 and, for every stored
result tensor X, "relerr_torch32/X" holds ||X_torch32 - X_float64|| /
||X_float64|| (an absolute norm where the truth is exactly zero).
See tools/reference/README.md for the list of fixtures and their keys.
"""

import argparse
import os
import sys
import time

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import aasist_ref as ref  # noqa: E402
import st_write  # noqa: E402

AUDIO = os.path.join(ROOT, "tests", "data", "audio")
OUT = os.path.join(ROOT, "tests", "data", "fixtures")
MODELS = os.environ.get("SDD_MODELS_DIR", os.path.join(ROOT, "..", "shared", "models"))
if not os.path.isdir(MODELS):
    MODELS = "/work/shared/models"
CE_WEIGHT = (0.1, 0.9)
WEIGHT_FILES = {"AASIST": "AASIST.pth", "AASIST-L": "AASIST-L.pth"}
NEGLIGIBLE = 1e-6   # grad tensors with ||g|| < NEGLIGIBLE * ||whole gradient||


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------

def read_clip(name):
    x, sr = sf.read(os.path.join(AUDIO, name), dtype="float32")
    assert sr == 16000 and x.ndim == 1, name
    return x


def add_white_noise(x, snr_db, seed):
    """x + white Gaussian noise scaled to the given SNR (power over the clip)."""
    rng = np.random.default_rng(seed)
    n = rng.standard_normal(len(x))
    ps = np.mean(x.astype(np.float64) ** 2)
    pn = np.mean(n ** 2)
    n *= np.sqrt(ps / (pn * 10.0 ** (snr_db / 10.0)))
    return (x.astype(np.float64) + n).astype(np.float32)


def random_crop(x, n, rng):
    start = int(rng.integers(0, len(x) - n + 1))
    return x[start:start + n]


def input_real():
    clean = [ref.cut_or_repeat(read_clip(c), 64600) for c in ("real_03.flac", "tts_01.flac")]
    noisy = [add_white_noise(c, 15.0, seed=1000 + i) for i, c in enumerate(clean)]
    x = np.stack(clean + noisy).astype(np.float32)
    y = np.array([1, 0, 1, 0], dtype=np.int64)
    desc = ("path0 = [real_03.flac, tts_01.flac] cut to 64600 (first samples, tiled if short); "
            "path1 = the same two + white Gaussian noise at 15 dB SNR (numpy default_rng seeds 1000, 1001)")
    return x, y, desc


def input_noise():
    g = torch.Generator().manual_seed(7)
    x = (0.1 * torch.randn(2, 64600, generator=g)).numpy().astype(np.float32)
    y = np.array([1, 0], dtype=np.int64)
    return x, y, "Gaussian noise, std 0.1, torch.Generator seed 7"


def input_crops(clips, seed, n=16000):
    rng = np.random.default_rng(seed)
    x = np.stack([random_crop(read_clip(c), n, rng) for c in clips]).astype(np.float32)
    y = np.array([1 if c.startswith("real") else 0 for c in clips], dtype=np.int64)
    return x, y, "random %d-sample crops (numpy default_rng seed %d) of %s" % (n, seed, ", ".join(clips))


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------

def released_state(name):
    sd = torch.load(os.path.join(MODELS, WEIGHT_FILES[name]), map_location="cpu")
    m = ref.build_model(name)
    m.load_state_dict(sd, strict=True)
    return m.state_dict()


def random_state(name, seed):
    """Random init (torch.manual_seed), non-trivial BN affine parameters, and
    BN running stats moved away from (0, 1) by 3 train-mode forwards on noise."""
    torch.manual_seed(seed)
    m = ref.build_model(name)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0.0, 0.1)
        ref.disable_dropout(m).train()
        for _ in range(3):
            m(0.1 * torch.randn(4, 16000))
    return m.state_dict()


def zero_grad_keys(model):
    """Parameters whose gradient is exactly zero in train mode: bn1 of blocks
    1-5 (output discarded) and biases feeding straight into a train-mode
    BatchNorm (the batch mean cancels them)."""
    keys = []
    for k, _ in model.named_parameters():
        if ".bn1." in k:
            keys.append(k)
        elif k.startswith("encoder.") and k.endswith("conv1.bias"):
            keys.append(k)
        elif ("GAT_layer" in k) and (k.endswith("proj_with_att.bias") or k.endswith("proj_without_att.bias")):
            keys.append(k)
    return keys


# --------------------------------------------------------------------------
# one full computation at a given precision
# --------------------------------------------------------------------------

def _pool_gaps(model, store):
    """Forward hooks recording, per GraphPool, the smallest relative score gap
    at the selection boundary, (s_k - s_k+1) / s_k over the batch. A tiny gap
    means float32 and float64 might keep different nodes. (The order of the
    kept nodes does not matter: everything after the pools is permutation
    equivariant and the readout is invariant.)"""
    handles = []
    for name, mod in model.named_modules():
        if isinstance(mod, ref.GraphPool):
            def hook(m, inp, out, name=name):
                h = inp[0]
                s = torch.sigmoid(m.proj(h)).squeeze(-1).detach()
                k = max(int(h.shape[1] * m.ratio), 1)
                srt, _ = torch.sort(s, dim=1, descending=True)
                if k < srt.shape[1]:
                    gap = ((srt[:, k - 1] - srt[:, k]) / srt[:, k - 1]).min().item()
                    store[name] = min(store.get(name, 1.0), gap)
            handles.append(mod.register_forward_hook(hook))
    return handles


def _taps(model, store):
    handles = []

    def save(key, fn=lambda t: t):
        def hook(m, inp, out):
            store[key] = fn(out).detach().clone()
        return hook
    handles.append(model.first_bn.register_forward_hook(save("tap/frontend", F.selu)))
    handles.append(model.encoder.register_forward_hook(save("tap/encoder")))
    handles.append(model.GAT_layer_S.register_forward_hook(save("tap/gat_S")))
    handles.append(model.GAT_layer_T.register_forward_hook(save("tap/gat_T")))
    handles.append(model.pool_S.register_forward_hook(save("tap/pool_S")))
    handles.append(model.pool_T.register_forward_hook(save("tap/pool_T")))
    return handles


def _train_pass(name, state, x, y, dtype, prefix, res, with_running):
    m = ref.build_model(name)
    m.load_state_dict(state, strict=True)
    m.to(dtype)
    ref.disable_dropout(m).train()
    m.zero_grad(set_to_none=False)
    gaps = {}
    hs = _pool_gaps(m, gaps)
    _, logits = m(x)
    for h in hs:
        h.remove()
    loss = ref.weighted_ce(logits, y, CE_WEIGHT)
    loss.backward()
    res[prefix + "loss"] = loss.detach()
    res[prefix + "logits_train"] = logits.detach()
    for k, p in m.named_parameters():
        res[prefix + "grad/" + k] = (p.grad.detach().clone() if p.grad is not None
                                     else torch.zeros_like(p))
    if with_running:
        for k, v in m.state_dict().items():
            if k.endswith("running_mean") or k.endswith("running_var"):
                res["running_after/" + k] = v.detach().clone()
    return gaps


def compute(name, state, x_np, y_np, dtype, per_path, taps):
    res = {}
    gaps = {}
    x = torch.from_numpy(x_np).to(dtype)
    y = torch.from_numpy(y_np)

    m = ref.build_model(name)
    m.load_state_dict(state, strict=True)
    m.to(dtype).eval()
    store = {}
    hs = _taps(m, store) if taps else []
    hs += _pool_gaps(m, gaps)
    with torch.no_grad():
        hidden, logits = m(x)
    for h in hs:
        h.remove()
    res["logits_eval"] = logits
    res["hidden_eval"] = hidden
    for k, v in store.items():
        res[k] = v
    gaps_eval = dict(gaps)

    gaps_train = _train_pass(name, state, x, y, dtype, "", res, with_running=True)
    if per_path:
        half = x.shape[0] // 2
        for p, sl in enumerate((slice(0, half), slice(half, None))):
            g = _train_pass(name, state, x[sl], y[sl], dtype, "path%d/" % p, res, with_running=False)
            for k, v in g.items():
                gaps_train[k] = min(gaps_train.get(k, 1.0), v)
    return res, gaps_eval, gaps_train


def relerr(a32, a64):
    d = (a32.double() - a64.double()).norm().item()
    n = a64.double().norm().item()
    return d / n if n > 0 else d


def flat_grads(res, prefix, skip):
    ks = sorted(k for k in res if k.startswith(prefix + "grad/") and k[len(prefix) + 5:] not in skip)
    return torch.cat([res[k].double().reshape(-1) for k in ks])


# --------------------------------------------------------------------------
# fixture assembly
# --------------------------------------------------------------------------

def make(fname, model, weights, xy, per_path=False, seed=None, taps=False):
    t0 = time.time()
    x_np, y_np, desc = xy
    if weights == "released":
        state = released_state(model)
    else:
        state = random_state(model, seed)
    r64, ge64, gt64 = compute(model, state, x_np, y_np, torch.float64, per_path, taps)
    r32, ge32, gt32 = compute(model, state, x_np, y_np, torch.float32, per_path, taps)

    probe = ref.build_model(model)
    zkeys = zero_grad_keys(probe)

    out = {"input": x_np.astype(np.float32), "labels": y_np.astype(np.int64)}
    for k, v in r64.items():
        out[k] = v.detach().to(torch.float32).numpy()
        out["relerr_torch32/" + k] = np.float32(relerr(r32[k], v)).reshape(())
    # whole-gradient errors (structurally zero grads excluded)
    summary = {}
    negligible = set()
    for prefix in [""] + (["path0/", "path1/"] if per_path else []):
        g64 = flat_grads(r64, prefix, zkeys)
        g32 = flat_grads(r32, prefix, zkeys)
        gnorm = g64.norm().item()
        e = (g32 - g64).norm().item() / gnorm
        out["relerr_torch32/%sgrad_all" % prefix] = np.float32(e).reshape(())
        # numerically negligible grads (e.g. saturated tanh in the HS-GAL
        # attention of the released weights): truth norm < 1e-6 of the whole
        # gradient, so a relative error on them means nothing
        for k, _ in probe.named_parameters():
            if k not in zkeys and r64[prefix + "grad/" + k].norm().item() < NEGLIGIBLE * gnorm:
                negligible.add(k)
        per = [float(out["relerr_torch32/%sgrad/%s" % (prefix, k)])
               for k, _ in probe.named_parameters() if k not in zkeys and k not in negligible]
        summary[prefix + "grad max"] = max(per)
        summary[prefix + "grad_all"] = e
        # structurally-zero grads: float64 truth must be ~0 relative to the rest
        zmax = max(r64[prefix + "grad/" + k].abs().max().item() for k in zkeys)
        gmax = g64.abs().max().item()
        assert zmax <= 1e-9 * gmax, (fname, prefix, zmax, gmax)
    if weights != "released":
        for k, v in state.items():
            if not k.endswith("num_batches_tracked"):
                out["param/" + k] = v.detach().to(torch.float32).numpy()
    out["const/sinc_filters"] = ref.sinc_filters()

    min_gap = min(list(ge64.values()) + list(gt64.values()) + [1.0])

    meta = {
        "model": model,
        "ce_weight": "%g,%g" % CE_WEIGHT,
        "generator": "tools/reference/make_fixtures.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "weights": WEIGHT_FILES[model] if weights == "released" else "random(torch.manual_seed=%d)" % seed,
        "input": desc,
        "labels": ",".join(str(int(v)) for v in y_np),
        "batch": str(x_np.shape[0]),
        "length": str(x_np.shape[1]),
        "per_path": ("path0 = samples 0..%d, path1 = samples %d..%d" %
                     (x_np.shape[0] // 2 - 1, x_np.shape[0] // 2, x_np.shape[0] - 1)) if per_path else "none",
        "train_mode": "all dropout p=0, Freq_aug off, BatchNorm batch statistics over the whole (sub)batch",
        "zero_grad_keys": ",".join(zkeys),
        "negligible_grad_keys": ",".join(k for k, _ in probe.named_parameters() if k in negligible),
        "min_topk_rel_gap": "%.3e" % min_gap,
        "truth": "float64 (stored as F32); relerr_torch32/* = relative L2 error of float32 torch vs truth",
    }
    st_write.save(os.path.join(OUT, fname + ".safetensors"), out, meta)

    rel = {k[len("relerr_torch32/"):]: float(v) for k, v in out.items() if k.startswith("relerr_torch32/")}
    size = os.path.getsize(os.path.join(OUT, fname + ".safetensors"))
    print("%-14s %6.1f s  %7.2f MB  logits_eval relerr %.2e  loss relerr %.2e  "
          "grad max %.2e  grad_all %.2e  running max %.2e  min topk gap %.1e" % (
              fname, time.time() - t0, size / 1e6, rel["logits_eval"], rel["loss"],
              summary["grad max"], summary["grad_all"],
              max([v for k, v in rel.items() if k.startswith("running_after/")]), min_gap))
    for p in ("path0/", "path1/"):
        if p + "grad max" in summary:
            print("%-14s   %s loss relerr %.2e grad max %.2e grad_all %.2e" % (
                "", p, rel[p + "loss"], summary[p + "grad max"], summary[p + "grad_all"]))
    sys.stdout.flush()
    gm = [v for k, v in summary.items() if k.endswith("grad max")]
    ga = [v for k, v in summary.items() if k.endswith("grad_all")]
    return {
        "fixture": fname, "MB": size / 1e6,
        "logits_eval": rel["logits_eval"],
        "loss": max(v for k, v in rel.items() if k.endswith("loss")),
        "grad max": max(gm), "grad_all": max(ga),
        "running": max([v for k, v in rel.items() if k.startswith("running_after/")]),
        "topk gap": min_gap, "negligible": len(negligible),
    }


FIXTURES = {
    "aasist_real": lambda: make("aasist_real", "AASIST", "released", input_real(), per_path=True),
    "aasist_noise": lambda: make("aasist_noise", "AASIST", "released", input_noise()),
    "aasistl_real": lambda: make("aasistl_real", "AASIST-L", "released", input_real(), per_path=True),
    "aasist_rand": lambda: make("aasist_rand", "AASIST", "random",
                                input_crops(["real_01.flac", "tts_01.flac", "real_02.flac", "tts_02.flac"], 11),
                                per_path=True, seed=3, taps=True),
    "aasistl_rand": lambda: make("aasistl_rand", "AASIST-L", "random",
                                 input_crops(["real_03.flac", "tts_02.flac", "real_04.flac", "tts_01.flac"], 13),
                                 per_path=True, seed=4, taps=True),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="fixtures to build (default: all): " + ", ".join(FIXTURES))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(OUT, exist_ok=True)
    rows = []
    for n in a.names or list(FIXTURES):
        if n not in FIXTURES:
            ap.error("unknown fixture %r" % n)
        rows.append(FIXTURES[n]())
    print()
    print("| fixture | size MB | logits_eval | loss (max) | grad, max per tensor | grad, whole vector | "
          "running stats, max | negligible grads | min top-k gap |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %.2f | %.1e | %.1e | %.1e | %.1e | %.1e | %d | %.1e |" % (
            r["fixture"], r["MB"], r["logits_eval"], r["loss"], r["grad max"], r["grad_all"],
            r["running"], r["negligible"], r["topk gap"]))


if __name__ == "__main__":
    main()
