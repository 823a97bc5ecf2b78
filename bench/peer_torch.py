#!/usr/bin/python3
"""PyTorch peer benchmark for `make bench` (AASIST / AASIST-L, float32, CPU;
--device cuda for tests/gpu/run.sh, FP32 without TF32).

Usage:
    /usr/bin/python3 bench/peer_torch.py [--model AASIST] [--threads 2]
        [--batch 10] [--len 64600] [--reps 3] [--warmup 1]
        [--measure all|eval|train|pcgrad|infer1] [--weights FILE.pth] [--device cpu|cuda]

Measurements (each in its own subprocess when --measure all, so that the peak
RSS reported is that of one measurement):
  eval    eval-mode forward of one batch under torch.no_grad()
  train   train-mode forward + backward of one batch, weighted CE [0.1, 0.9]
          (dropout as in training, Freq_aug off), no optimizer step
  pcgrad  the reference dual-path PCGrad step: batch = [B/2 originals |
          B/2 augmented copies], one forward, per-path weighted-CE losses, two
          backward passes (retain_graph=True) each into a flat gradient
          vector, PCGrad projection (mean on shared entries, sum elsewhere),
          the result written to .grad, Adam step (lr 1e-4, weight decay 1e-4)
  infer1  eval-mode forward at batch 1 (utterances per second)
Each prints one JSON object on one line: seconds per iteration (mean, min
over --reps timed iterations after --warmup untimed ones), utterances per
second (batch / mean) and peak RSS in MiB (ru_maxrss).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "reference"))

MEASURES = ("eval", "train", "pcgrad", "infer1")


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="AASIST", choices=("AASIST", "AASIST-L"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--len", type=int, default=64600, dest="length")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--measure", default="all", choices=("all",) + MEASURES)
    ap.add_argument("--weights", default=None,
                    help="a .pth state dict to load (default: random init; timing does not depend on it)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    a = ap.parse_args()
    if a.batch < 1 or a.reps < 1 or a.warmup < 0 or a.threads < 1 or a.length < 1000:
        ap.error("batch, reps, threads must be >= 1, warmup >= 0, len >= 1000")
    if a.measure == "pcgrad" and (a.batch < 2 or a.batch % 2):
        ap.error("pcgrad needs an even batch (originals | copies)")
    return a


def run_all(a):
    rc = 0
    for m in MEASURES:
        if m == "pcgrad" and (a.batch < 2 or a.batch % 2):
            continue
        cmd = [sys.executable, os.path.abspath(__file__), "--model", a.model, "--threads", str(a.threads),
               "--batch", str(a.batch), "--len", str(a.length), "--reps", str(a.reps),
               "--warmup", str(a.warmup), "--measure", m, "--seed", str(a.seed), "--device", a.device]
        if a.weights:
            cmd += ["--weights", a.weights]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, universal_newlines=True)
        sys.stdout.write(p.stdout)
        sys.stdout.flush()
        if p.returncode != 0:
            sys.stderr.write("peer_torch: measurement %s failed (exit %d)\n" % (m, p.returncode))
            rc = 1
    return rc


def flat_grad(params):
    import torch
    vec, has = [], []
    for p in params:
        if p.grad is None:
            vec.append(torch.zeros(p.numel(), dtype=p.dtype, device=p.device))
            has.append(torch.zeros(p.numel(), dtype=torch.bool, device=p.device))
        else:
            vec.append(p.grad.detach().reshape(-1).clone())
            has.append(torch.ones(p.numel(), dtype=torch.bool, device=p.device))
    return torch.cat(vec), torch.cat(has)


def pcgrad_merge(grads, has):
    """PCGrad: project each task gradient off the others it conflicts with
    (against the original gradients), then mean on shared entries, sum on
    the rest."""
    import torch
    pc = [g.clone() for g in grads]
    for i in range(len(pc)):
        for j in range(len(grads)):
            if i == j:
                continue
            dot = torch.dot(pc[i], grads[j])
            if dot < 0:
                pc[i] -= dot / (grads[j].norm() ** 2) * grads[j]
    shared = has[0]
    for h in has[1:]:
        shared = shared & h
    stacked = torch.stack(pc)
    return torch.where(shared, stacked.mean(0), stacked.sum(0))


def pcgrad_step(params, losses, opt):
    """The reference recipe's aligned step: one backward pass per path loss
    (the graph kept), PCGrad on the two flat gradients, then the optimizer."""
    grads, has = [], []
    for loss in losses:
        opt.zero_grad(set_to_none=True)
        loss.backward(retain_graph=True)
        gv, hv = flat_grad(params)
        grads.append(gv)
        has.append(hv)
    merged = pcgrad_merge(grads, has)
    off = 0
    for p in params:
        n = p.numel()
        p.grad = merged[off:off + n].view_as(p).clone()
        off += n
    opt.step()


def measure(a):
    import numpy as np
    import torch
    import aasist_ref as ref

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = ref.build_model(a.model)
    if a.weights:
        model.load_state_dict(torch.load(a.weights, map_location="cpu"), strict=True)
    g = torch.Generator().manual_seed(a.seed + 1)
    batch = 1 if a.measure == "infer1" else a.batch
    x = 0.1 * torch.randn(batch, a.length, generator=g)
    y = torch.tensor([1 if i % 2 == 0 else 0 for i in range(batch)])
    cew = torch.tensor([0.1, 0.9])
    dev = torch.device(a.device)
    if a.device == "cuda":
        # FP32 GEMMs and convolutions, as sdd's CUDA backend
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    model = model.to(dev)
    x, y, cew = x.to(dev), y.to(dev), cew.to(dev)
    ce = torch.nn.CrossEntropyLoss(weight=cew)

    if a.measure in ("eval", "infer1"):
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
    elif a.measure == "train":
        model.train()

        def step():
            model.zero_grad(set_to_none=True)
            _, logits = model(x)
            ce(logits, y).backward()
    else:
        model.train()
        half = batch // 2
        # [originals | augmented copies]; the augmentation itself is not timed
        x = torch.cat([x[:half], x[:half] + 0.01 * torch.randn(half, a.length, generator=g).to(dev)])
        y = torch.cat([y[:half], y[:half]])
        params = list(model.parameters())
        opt = torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4)

        def step():
            _, logits = model(x)
            pcgrad_step(params, [ce(logits[:half], y[:half]), ce(logits[half:], y[half:])], opt)

    def sync():
        if a.device == "cuda":
            torch.cuda.synchronize()

    for _ in range(a.warmup):
        step()
    sync()
    times, cpu = [], []
    for _ in range(a.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        sync()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    mean = float(np.mean(times))
    names = {"eval": "eval_forward", "train": "train_forward_backward",
             "pcgrad": "dual_path_pcgrad_step", "infer1": "inference_batch1"}
    rec = {
        "peer": "pytorch", "torch": torch.__version__, "device": a.device, "dtype": "float32",
        "model": a.model, "measure": names[a.measure], "threads": a.threads,
        "batch": batch, "len": a.length, "warmup": a.warmup, "reps": a.reps,
        "sec_mean": round(mean, 4), "sec_min": round(float(np.min(times)), 4),
        # CPU seconds of the process (all threads), least over the timed iterations:
        # on a shared machine the steadier figure at one thread
        "cpu_sec_min": round(float(np.min(cpu)), 4),
        "utt_per_sec": round(batch / mean, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }
    if a.device == "cuda":
        rec["card"] = torch.cuda.get_device_name(0)
        rec["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 1048576.0, 1)
    print(json.dumps(rec))
    return 0


def main():
    a = parse()
    if a.measure == "all":
        return run_all(a)
    return measure(a)


if __name__ == "__main__":
    sys.exit(main())
