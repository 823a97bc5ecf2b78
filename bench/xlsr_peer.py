#!/usr/bin/python3
"""PyTorch peer for the XLSR-AASIST benchmark (bench/run_xlsr): the reference
module of tools/reference/xlsr_ref.py with the XLS-R 300M configuration and
random weights (timing only), float32, CPU or CUDA (FP32: TF32 disabled unless --tf32).

Usage:
    /usr/bin/python3 bench/xlsr_peer.py [--threads 2] [--batch 2] [--len 66800]
        [--reps 2] [--measure all|eval|train|pcgrad] [--device cpu|cuda] [--int8]

  eval   eval-mode forward under torch.no_grad()
  train  train-mode forward + backward (dropout as in training), weighted CE
         [0.1, 0.9], no optimizer step
  pcgrad the reference dual-path PCGrad step (batch = originals | copies, two
         backward passes, PCGrad, Adam), as bench/peer_torch.py's
Each measurement runs in its own subprocess (its own peak RSS) and prints one
JSON line like bench_sdd: best and mean seconds over --reps timed iterations
after one untimed one, and peak RSS in MiB.
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
sys.path.insert(0, HERE)


def measure(a):
    import torch
    import torch.nn.functional as F
    import xlsr_ref
    from peer_torch import pcgrad_step
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    if a.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
    m = xlsr_ref.XLSRAASIST(xlsr_ref.CONFIGS["300m"]).to(dev)
    if a.int8:
        # the peer of sdd's --int8: PyTorch's dynamic quantization (int8 weights per tensor,
        # activations quantized per call; fbgemm) of the encoder layers' linears only
        import torch.nn as nn
        torch.ao.quantization.quantize_dynamic(m.ssl_model.model.encoder.layers, {nn.Linear}, dtype=torch.qint8,
                                               inplace=True)
    x = (0.1 * torch.randn(a.batch, a.length)).to(dev)
    y = (torch.arange(a.batch) % 2).to(dev)
    w = torch.tensor([0.1, 0.9]).to(dev)
    params = list(m.parameters())
    opt = torch.optim.Adam(params, lr=1e-6, weight_decay=1e-4) if a.measure == "pcgrad" else None
    half = a.batch // 2
    times = []
    for r in range(a.reps + 1):
        t0 = time.perf_counter()
        if a.measure == "eval":
            m.eval()
            with torch.no_grad():
                m(x)
        elif a.measure == "train":
            m.train()
            m.zero_grad(set_to_none=True)
            F.cross_entropy(m(x), y, weight=w).backward()
        else:
            m.train()
            z = m(x)
            pcgrad_step(params, [F.cross_entropy(z[:half], y[:half], weight=w), F.cross_entropy(z[half:], y[half:], weight=w)], opt)
        if a.device == "cuda":
            torch.cuda.synchronize()
        if r:
            times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    mode = {"eval": "fwd", "train": "fwdbwd", "pcgrad": "dual_path_pcgrad_step"}[a.measure]
    rec = {"impl": "torch", "mode": mode, "arch": "XLSR-AASIST", "device": a.device, "batch": a.batch, "len": a.length,
           "threads": a.threads, "reps": a.reps, "best_s": round(min(times), 4),
           "mean_s": round(sum(times) / len(times), 4), "peak_rss_mb": round(rss, 1), "torch": torch.__version__}
    if a.int8:
        rec["int8"] = 1
    if a.device == "cuda":
        rec["card"] = torch.cuda.get_device_name(0)
        rec["math"] = "tf32" if a.tf32 else "fp32"
        rec["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 1048576.0, 1)
    print(json.dumps(rec), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--len", type=int, default=66800, dest="length")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--measure", default="all", choices=("all", "eval", "train", "pcgrad"))
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--tf32", action="store_true", help="CUDA: TF32 tensor cores for matmuls and convolutions (the peer of SDD_CUDA_TF32=1)")
    ap.add_argument("--int8", action="store_true", help="eval on the CPU: the encoder layers' linears dynamically quantized to int8")
    a = ap.parse_args()
    if a.int8 and (a.measure != "eval" or a.device != "cpu"):
        ap.error("--int8 times --measure eval on the CPU only")
    if a.measure != "all":
        measure(a)
        return 0
    rc = 0
    for m in ("eval", "train"):
        args = [sys.executable, os.path.abspath(__file__), "--threads", str(a.threads), "--batch", str(a.batch),
                "--len", str(a.length), "--reps", str(a.reps), "--measure", m, "--device", a.device]
        rc |= subprocess.call(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
