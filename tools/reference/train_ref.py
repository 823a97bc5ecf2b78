#!/usr/bin/python3
"""Reference fixtures for gradient alignment and Adam (tests/data/train/).

Run from the repository root: /usr/bin/python3 tools/reference/train_ref.py
and /usr/bin/python3 tools/reference/train_ref.py --joint (the AASIST-L step fixture).

Alignment follows the reference recipe's semantics (reference-spec section 7),
written here in numpy (float64) from that description:
  PCGrad: pc_i = g_i - min(0, g_i.g_j)/|g_j|^2 g_j against the original g_j, then the mean.
  GradVac: running targets rho_T (2x2, zeros), beta 0.5; rho = pc_i.g_j/(|pc_i||g_j| + 1e-8);
           if rho < rho_T: pc_i += g_j |pc_i| (rho_T sqrt(1-rho^2) - rho sqrt(1-rho_T^2)) / (|g_j| sqrt(1-rho_T^2) + 1e-8);
           if rho > 0: rho_T = 0.5 rho_T + 0.5 rho. Mean over the two.
  CAGrad (c 0.5, rescale 1): G = g g^T; g0n = sqrt(mean(G) + 1e-8); c' = 0.5 g0n + 1e-8;
           w = argmin over the simplex of w^T G b + c' sqrt(w^T G w + 1e-8), b = (1/2, 1/2),
           solved as the reference does (scipy.optimize.minimize, SLSQP, x0 = b) AND by a
           dense grid + golden-section search on the 1-D problem (the exact answer sdd uses);
           g = (mean + c'/(|g_w| + 1e-8) g_w) / 1.25. Fixtures hold the exact-solution output;
           the SLSQP distance is recorded in the metadata and printed.
Adam: torch.optim.Adam (lr 1e-4, wd 1e-4) for 5 steps on random parameters and gradients.
"""
import json
import os
import sys

import numpy as np
import scipy.optimize

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_write  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "tests", "data", "train")


def pcgrad(g):
    pc = [g[0].copy(), g[1].copy()]
    for i in range(2):
        j = 1 - i
        d = pc[i] @ g[j]
        if d < 0:
            pc[i] = pc[i] - d / (g[j] @ g[j]) * g[j]
    return (pc[0] + pc[1]) / 2


def gradvac(g, rho_t):
    pc = [g[0].copy(), g[1].copy()]
    for i in range(2):
        j = 1 - i
        rho = pc[i] @ g[j] / (np.linalg.norm(pc[i]) * np.linalg.norm(g[j]) + 1e-8)
        rt = rho_t[i, j]
        if rho < rt:
            w = np.linalg.norm(pc[i]) * (rt * np.sqrt(1 - rho ** 2) - rho * np.sqrt(1 - rt ** 2)) / (
                np.linalg.norm(g[j]) * np.sqrt(1 - rt ** 2) + 1e-8)
            pc[i] = pc[i] + g[j] * w
        if rho > 0:
            rho_t[i, j] = 0.5 * rt + 0.5 * rho
    return (pc[0] + pc[1]) / 2


def cagrad_obj(w, G, b, cp):
    return w @ G @ b + cp * np.sqrt(w @ G @ w + 1e-8)


def cagrad(g):
    G = np.array([[g[0] @ g[0], g[0] @ g[1]], [g[1] @ g[0], g[1] @ g[1]]])
    g0n = np.sqrt(G.mean() + 1e-8)
    cp = 0.5 * g0n + 1e-8
    b = np.array([0.5, 0.5])
    res = scipy.optimize.minimize(lambda w: cagrad_obj(w, G, b, cp), b, bounds=[(0, 1), (0, 1)],
                                  constraints={"type": "eq", "fun": lambda w: 1 - w.sum()})
    f = lambda t: cagrad_obj(np.array([t, 1 - t]), G, b, cp)
    ts = np.linspace(0, 1, 2001)
    k = int(np.argmin([f(t) for t in ts]))
    lo, hi = ts[max(k - 1, 0)], ts[min(k + 1, len(ts) - 1)]
    r = scipy.optimize.minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-14})
    t = min([lo, hi, r.x], key=f)
    out = []
    for tt in (t, res.x[0]):
        w = np.array([tt, 1 - tt])
        gw = w[0] * g[0] + w[1] * g[1]
        lam = cp / (np.linalg.norm(gw) + 1e-8)
        out.append(((g[0] + g[1]) / 2 + lam * gw) / 1.25)
    return out[0], t, res.x[0], out[1], f(t), f(res.x[0])


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2026)
    n = 1000
    cases = []
    base = rng.standard_normal(n)
    other = rng.standard_normal(n)
    cases.append(("conflict", base, -0.6 * base + 0.5 * other))
    cases.append(("aligned", base, 0.7 * base + 0.3 * other))
    cases.append(("orthogonal", base, other - (other @ base) / (base @ base) * base))
    cases.append(("scaled_conflict", 10 * base, -0.01 * base + 0.02 * other))
    cases.append(("tiny", 1e-4 * base, -1e-4 * other))
    tensors, meta = {}, {"generator": "tools/reference/train_ref.py"}
    rho_t = np.zeros((2, 2))
    worst = 0.0
    for name, a, b in cases:
        g = [a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)]
        tensors[name + "/g0"] = g[0].astype(np.float32)
        tensors[name + "/g1"] = g[1].astype(np.float32)
        tensors[name + "/pcgrad"] = pcgrad(g).astype(np.float32)
        tensors[name + "/gradvac_rho_t_before"] = rho_t.astype(np.float64).copy()
        tensors[name + "/gradvac"] = gradvac(g, rho_t).astype(np.float32)
        tensors[name + "/gradvac_rho_t_after"] = rho_t.astype(np.float64).copy()
        exact, t, t_slsqp, out_slsqp, f_exact, f_slsqp = cagrad(g)
        tensors[name + "/cagrad"] = exact.astype(np.float32)
        tensors[name + "/cagrad_w"] = np.array(t, dtype=np.float64)
        d = np.linalg.norm(exact - out_slsqp) / np.linalg.norm(exact)
        worst = max(worst, d)
        meta[name + "/slsqp"] = json.dumps({"w_exact": t, "w_slsqp": float(t_slsqp), "obj_exact": f_exact,
                                            "obj_slsqp": f_slsqp, "output_rel_l2": d})
        print("%-16s cagrad w exact %.12f slsqp %.12f  objective exact %.15g slsqp %.15g  output rel diff %.3g"
              % (name, t, t_slsqp, f_exact, f_slsqp, d))
    meta["slsqp_worst_output_rel_l2"] = "%.6g" % worst
    # Adam: 5 steps on random parameters (two tensors) with random gradients
    import torch  # only here and in the step fixture: the alignment functions need numpy and scipy alone
    torch.manual_seed(7)
    p1 = torch.nn.Parameter(torch.randn(37, 11))
    p2 = torch.nn.Parameter(torch.randn(5))
    tensors["adam/p1_init"] = p1.detach().numpy().copy()
    tensors["adam/p2_init"] = p2.detach().numpy().copy()
    opt = torch.optim.Adam([p1, p2], lr=1e-4, weight_decay=1e-4)
    for s in range(5):
        g1, g2 = torch.randn(37, 11), torch.randn(5) * 10 ** (s - 2)
        tensors["adam/g1_%d" % s] = g1.numpy().copy()
        tensors["adam/g2_%d" % s] = g2.numpy().copy()
        p1.grad, p2.grad = g1.clone(), g2.clone()
        opt.step()
        tensors["adam/p1_%d" % s] = p1.detach().numpy().copy()
        tensors["adam/p2_%d" % s] = p2.detach().numpy().copy()
    st_write.save(os.path.join(OUT, "align_adam.safetensors"), tensors, meta)
    print("wrote", os.path.join(OUT, "align_adam.safetensors"), "; SLSQP worst output distance %.3g" % worst)


if __name__ == "__main__" and len(sys.argv) == 1:
    main()


def joint_step_fixture():
    """The reference recipe's aligned dual-path step on AASIST-L (random weights
    of the aasistl_rand fixture, dropout off): ONE forward of [path 0 | path 1]
    with joint BatchNorm statistics, each path's weighted-CE loss, one backward
    per path (autograd.grad), the flattened gradients combined by each method.
    Ground truth in float64; stored per parameter as F32."""
    import torch
    import aasist_ref as ref
    fx, _ = st_write.load(os.path.join(HERE, "..", "..", "tests", "data", "fixtures", "aasistl_rand.safetensors"))
    sd = {k[6:]: torch.from_numpy(np.array(v)) for k, v in fx.items() if k.startswith("param/")}
    m = ref.build_model("AASIST-L")
    m.load_state_dict(sd, strict=False)
    m.double()
    ref.disable_dropout(m).train()
    x = torch.from_numpy(np.array(fx["input"])).double()
    y = torch.from_numpy(np.array(fx["labels"]))
    _, logits = m(x)
    w = torch.tensor([0.1, 0.9], dtype=torch.float64)
    l0 = torch.nn.functional.cross_entropy(logits[:2], y[:2], weight=w)
    l1 = torch.nn.functional.cross_entropy(logits[2:], y[2:], weight=w)
    names = [k for k, _ in m.named_parameters()]
    params = [p for _, p in m.named_parameters()]
    g0 = torch.autograd.grad(l0, params, retain_graph=True, allow_unused=True)
    g1 = torch.autograd.grad(l1, params, allow_unused=True)
    flat = lambda gs: np.concatenate([(g if g is not None else torch.zeros_like(p)).detach().numpy().ravel()
                                      for g, p in zip(gs, params)])
    f0, f1 = flat(g0), flat(g1)
    out = {"joint/loss0": np.array(l0.item(), dtype=np.float32), "joint/loss1": np.array(l1.item(), dtype=np.float32)}
    combos = {"g0": f0, "g1": f1, "pcgrad": pcgrad([f0, f1]), "gradvac": gradvac([f0, f1], np.zeros((2, 2))),
              "cagrad": cagrad([f0, f1])[0]}
    for key, vec in combos.items():
        off = 0
        for nm, p in zip(names, params):
            k = p.numel()
            out["joint/%s/%s" % (key, nm)] = vec[off:off + k].reshape(tuple(p.shape)).astype(np.float32)
            off += k
    cos = f0 @ f1 / (np.linalg.norm(f0) * np.linalg.norm(f1))
    st_write.save(os.path.join(OUT, "joint_step.safetensors"), out,
                  {"generator": "tools/reference/train_ref.py", "model": "AASIST-L",
                   "source": "tests/data/fixtures/aasistl_rand.safetensors", "cos": "%.9g" % cos})
    print("wrote joint_step.safetensors; losses %.6f %.6f, cos(g0, g1) = %.6f" % (l0.item(), l1.item(), cos))


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--joint":
    joint_step_fixture()
