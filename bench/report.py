#!/usr/bin/python3
"""Turns the JSON lines of bench/run into bench/RESULTS.md (markdown on stdout).

usage: report.py SDD.jsonl TORCH_DEFAULT.jsonl TORCH_TUNED.jsonl COMMAND [RAWBOOST.jsonl]
       report.py --rawboost-update RESULTS.md RAWBOOST.jsonl COMMAND
                 (make bench-rawboost: rewrites only the RawBoost and loader sections)
"""
import json
import os
import platform
import subprocess
import sys
import time

FLOP_FWD = 19.1e9      # one AASIST utterance, forward (issue 8)
FLOP_FWDBWD = 55e9     # forward + backward


def load(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                d = json.loads(line)
                out[d.get("mode") or d.get("measure")] = d
    return out


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def rawboost_section(rb, cmd, step_s=None):
    """Markdown for the RawBoost rows of bench/rawboost_run: algorithm 4 vs
    the numpy/scipy peer over several interleaved rounds, and the loader."""
    c = [d for d in rb if d.get("impl") == "sdd" and d.get("mode") == "rawboost4"]
    p = [d for d in rb if d.get("peer")]
    ld = [d for d in rb if d.get("mode") == "loader"]
    steps = [d for d in rb if d.get("mode") == "step-pcgrad"]
    loads = [d for d in rb if d.get("mode") == "load"]
    if steps:
        step_s = steps[-1]["best_s"]
    out = []
    if c and p:
        n = min(len(c), len(p))
        out.append("\n## RawBoost algorithm 4 (LnL -> ISD -> SSI), 64,600 samples, one thread, mean over %d draws\n"
                   % c[0]["reps"])
        out.append("Produced by `%s`: %d rounds, each sdd then the peer; per round the mean per call over the "
                   "same number of draws (CPU time of the process and wall time). The speed-up is taken from the "
                   "best round of each side; CPU time is the headline because the machine is shared (wall time "
                   "includes waiting for a core). Single-threaded on both sides (sdd uses no threads here).\n"
                   % (cmd, n))
        out.append("| implementation | CPU ms per call (best round) | wall ms per call (best round) | speed-up, CPU | speed-up, wall |")
        out.append("|---|---|---|---|---|")
        pc, pw = min(d["cpu_mean_s"] for d in p), min(d["mean_s"] for d in p)
        cc, cw = min(d["cpu_mean_s"] for d in c), min(d["mean_s"] for d in c)
        out.append("| numpy/scipy reference (bench/rawboost_peer.py) | %.2f | %.2f | 1.00 | 1.00 |" % (1e3 * pc, 1e3 * pw))
        out.append("| sdd | %.2f | %.2f | %.1fx | %.1fx |" % (1e3 * cc, 1e3 * cw, pc / cc, pw / cw))
        out.append("\nPer round (CPU / wall speed-up): %s." % ", ".join(
            "%.1fx / %.1fx" % (p[i]["cpu_mean_s"] / c[i]["cpu_mean_s"], p[i]["mean_s"] / c[i]["mean_s"]) for i in range(n)))
        if loads:
            out.append("\nMachine load during the run: load average %s on %d cores (start / end); other jobs "
                       "shared the cores, so absolute times are inflated (most in wall time) while the ratios "
                       "compare the two sides under the same conditions."
                       % (" / ".join("%.1f" % d["loadavg1"] for d in loads), loads[0]["cores"]))
        out.append("\nTarget (issue 3): >= 20x.")
    if ld:
        out.append("\n## Loader throughput (issue 8 item 5): dual batches 5 + 5, cut 64,600, RawBoost algo 4 on the copies\n")
        out.append("`bench_rawboost loader WORKERS 40 DIR`: the training loader over 40 synthetic 64,600-sample "
                   "utterances, 40 batches after a warm-up one; one RawBoost copy per item (5 per batch).\n")
        out.append("| workers | RawBoost copies / s | batches / s | loader CPU s per batch |" +
                   (" loader CPU per step (fraction of one core) |" if step_s else ""))
        out.append("|---|---|---|---|" + ("---|" if step_s else ""))
        for d in ld:
            row = "| %d | %.0f | %.1f | %.4f |" % (d["workers"], d["copies_per_s"], d["batches"] / d["wall_s"], d["cpu_s_per_batch"])
            if step_s:
                row += " %.4f |" % (d["cpu_s_per_batch"] / step_s)
            out.append(row)
        if step_s:
            out.append("\nThe trainer's dual-path step (PCGrad, 5 + 5 x 64,600, 2 threads) took %.2f s (%.3f steps/s), "
                       "so it consumes %.2f batches/s; the loader builds batches %.0fx faster than that with one worker."
                       % (step_s, 1 / step_s, 1 / step_s, (ld[0]["batches"] / ld[0]["wall_s"]) * step_s))
        out.append("\nIndependently of the load: one batch costs the loader %.4f CPU seconds, so a single worker "
                   "keeps up with any step slower than that; a dual-path step takes seconds (the table above), "
                   "so the loader needs well under 1%% of one core." % ld[0]["cpu_s_per_batch"])
    return "\n".join(out) + "\n"


def update(results, rbfile, cmd):
    """Replaces the RawBoost/loader sections of RESULTS (from the first
    '## RawBoost' heading up to the closing 'Targets (issues 2 and 8)' line)."""
    rb = [json.loads(l) for l in open(rbfile) if l.strip().startswith("{")]
    text = open(results).read()
    a = text.find("\n## RawBoost")
    b = text.find("\nTargets (issues 2 and 8)")
    if a < 0 or b < a:
        sys.exit("report.py: %s has no RawBoost section to replace" % results)
    new = text[:a] + "\n" + rawboost_section(rb, cmd).lstrip("\n") + text[b:]
    with open(results + ".tmp", "w") as f:
        f.write(new)
    os.replace(results + ".tmp", results)


FAMILIES = [("sinc", "sinc front end (conv1d, abs, 3x3 max pool)"), ("conv2d", "2-D residual encoder (convs, BatchNorm, SELU, pools)"),
            ("graph", "graph attention, pooling, readout"), ("other", "other (loss)")]


def family_section(s):
    """Per-layer-family table from the MODE/profile lines (bench_sdd with SDD_PROFILE=1)."""
    out = []
    for mode, title in (("fwdbwd", "train forward+backward"), ("step-pcgrad", "PCGrad dual-path step")):
        p = s.get(mode + "/profile")
        if not p:
            continue
        out.append("\n## Per layer family: %s, batch 10 x 64,600, %d threads (sdd)\n" % (title, p.get("threads", 0)))
        out.append("GEMM FLOPs executed in each family (recomputation in the backward included) over its wall time; "
                   "the CPU-time rate is per core-second.\n")
        out.append("| family | forward s | forward GFLOP | forward GFLOP/s | backward s | backward GFLOP | backward GFLOP/s | GFLOP per CPU-s (fwd / bwd) |")
        out.append("|---|---|---|---|---|---|---|---|")
        for key, name in FAMILIES:
            f = p["profile"].get(key)
            if not f:
                continue
            rf = f["fwd_gflop"] / f["fwd_s"] if f["fwd_s"] > 0 else 0.0
            rb = f["bwd_gflop"] / f["bwd_s"] if f["bwd_s"] > 0 else 0.0
            out.append("| %s | %.3f | %.1f | %.0f | %.3f | %.1f | %.0f | %.0f / %.0f |" % (
                name, f["fwd_s"], f["fwd_gflop"], rf, f["bwd_s"], f["bwd_gflop"], rb,
                f["fwd_gflops_per_cpu_s"], f["bwd_gflops_per_cpu_s"]))
    return "\n".join(out)




def targets_section(s, td, tt, rb):
    """Issue 8's targets, each with this run's figure and whether it is met."""
    out = ["\n## Issue 8 targets in this run\n",
           "Computed from the numbers above (2 threads, batch 10 x 64,600; PyTorch: the faster or leaner of its two "
           "configurations, as each target says).\n",
           "| target | this run | met |", "|---|---|---|"]

    def row(what, fig, ok):
        out.append("| %s | %s | %s |" % (what, fig, "n/a" if ok is None else ("yes" if ok else "**no**")))

    def sec(d, k):
        return d.get(k, {}).get("sec_min")

    step = s.get("step-pcgrad", {}).get("best_s")
    plain = s.get("step-none", {}).get("best_s")
    tp = [x for x in (sec(td, "dual_path_pcgrad_step"), sec(tt, "dual_path_pcgrad_step")) if x]
    # the FP32 FMA peak measured in the same run (bench_peak, the run's thread count)
    peak = s.get("fma_peak", {}).get("gflops")
    if step:
        gf = 10 * FLOP_FWDBWD / step
        share = "%.0f%% of the measured %.0f GFLOP/s FMA peak" % (100 * gf / (peak * 1e9), peak) if peak else "peak not measured"
        row("PCGrad dual-path step 5 + 5 <= 3.2 s (>= 50% of the 2-core FP32 peak)",
            "%.2f s, %.0f GFLOP/s = %s" % (step, gf / 1e9, share), step <= 3.2)
        if len(tp) == 2:
            row(">= 2x the tuned PyTorch's reference PCGrad step", "%.2fx (%.2f s)" % (min(tp) / step, min(tp)), min(tp) / step >= 2)
            row(">= 4x the default PyTorch's", "%.2fx (%.2f s)" % (max(tp) / step, max(tp)), max(tp) / step >= 4)
    f, i1 = s.get("fwd", {}).get("best_s"), s.get("infer1", {}).get("best_s")
    if f:
        row("inference at batch 10 >= 9 utterances/s", "%.2f utt/s" % (10 / f), 10 / f >= 9)
    u = s.get("utt", {}).get("best_s")
    if u:
        row("... 10 utterances one per thread (sdd score's default) >= 9 utterances/s", "%.2f utt/s" % (10 / u), 10 / u >= 9)
    if i1:
        row("inference at batch 1 >= 8 utterances/s (4x the 2 of the issue's PyTorch)", "%.2f utt/s" % (10 / i1), 10 / i1 >= 8)
        pb = [x * 10 for x in (sec(td, "inference_batch1"), sec(tt, "inference_batch1")) if x]
        if pb:
            row("... and vs this run's faster PyTorch at batch 1", "%.2fx (%.2f utt/s)" % (min(pb) / i1, 10 / min(pb)), None)
    if step and plain:
        row("aligned step <= 1.1x the plain dual-path step", "%.2fx" % (step / plain), step / plain <= 1.1)
    rs = s.get("step-pcgrad", {}).get("peak_rss_mb")
    rt = [x for x in (td.get("dual_path_pcgrad_step", {}).get("peak_rss_mib"), tt.get("dual_path_pcgrad_step", {}).get("peak_rss_mib")) if x]
    if rs and rt:
        row("peak RSS of a training step <= 0.5x the leaner PyTorch's", "%.0f / %.0f MB = %.2fx" % (rs, min(rt), rs / min(rt)),
            rs / min(rt) <= 0.5)
    sd = [r["cpu_mean_s"] for r in rb if r.get("mode") == "rawboost4" and r.get("impl") == "sdd"]
    pe = [r["cpu_mean_s"] for r in rb if r.get("peer") and r.get("algo") == 4]
    if sd and pe:
        row("RawBoost algorithm 4 >= 20x numpy/scipy (CPU time, best rounds)", "%.1fx" % (min(pe) / min(sd)), min(pe) / min(sd) >= 20)
    lo = [r for r in rb if r.get("mode") == "loader" and r.get("workers") == 1]
    if lo and step:
        row("the loader keeps the trainer fed (one worker)", "%.0fx the step's batch rate" % (lo[0]["batches"] / lo[0]["wall_s"] * step), None)
    try:
        pypi = "## Newest PyTorch from PyPI" in open("bench/RESULTS.md").read()
    except OSError:
        pypi = False
    row("the newest PyPI PyTorch (CPU) compared",
        "in its own run: the section 'Newest PyTorch from PyPI vs Debian's' below" if pypi
        else "not run by make bench (Debian's 1.13 is the peer)", True if pypi else False)
    return "\n".join(out)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--rawboost-update":
        update(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    s, td, tt, cmd = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3]), sys.argv[4]
    # sdd mode -> torch measure, utterances per iteration, flop per utterance
    rows = [("eval forward, batch 10", "fwd", "eval_forward", 10, FLOP_FWD),
            ("train forward+backward, batch 10", "fwdbwd", "train_forward_backward", 10, FLOP_FWDBWD),
            ("dual-path step, 5+5 (sdd: one backward, per-path gradients; PyTorch: reference PCGrad, two backwards + Adam)",
             "dual", "dual_path_pcgrad_step", 10, FLOP_FWDBWD),
            ("inference, batch 1 (10 utterances)", "infer1", "inference_batch1", 10, FLOP_FWD),
            ("inference, 10 utterances one per thread (sdd score's default; PyTorch: its batch-10 eval forward)",
             "utt", "eval_forward", 10, FLOP_FWD)]
    print("# Benchmarks: sdd vs PyTorch\n")
    print("Produced by `%s` on %s, %s, %s.\n" % (cmd, time.strftime("%Y-%m-%d"), cpu(), platform.machine()))
    print("Same machine, same run, 2 threads, AASIST (random weights: timing only), 64,600 samples per utterance. "
          "PyTorch is Debian's torch (oneDNN), run with the stock allocator and with glibc told to keep large "
          "buffers; ratios are against the faster of the two. Times are the best of the timed repetitions.\n")
    print("| measurement | sdd s | PyTorch stock s | PyTorch tuned s | speed-up vs faster PyTorch | sdd GFLOP/s | sdd peak RSS MB | PyTorch peak RSS MB (stock / tuned) | RSS ratio vs leaner PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, sm, tm, utts, flop in rows:
        a = s.get(sm)
        b, c = td.get(tm), tt.get(tm)
        if not a:
            continue
        st = a["best_s"]
        tb = b["sec_min"] if b else float("nan")
        tc = c["sec_min"] if c else float("nan")
        if sm == "infer1":
            tb, tc = tb * utts, tc * utts   # peer reports seconds per batch-1 call
        best = min(x for x in (tb, tc) if x == x) if (b or c) else float("nan")
        rb = b["peak_rss_mib"] if b else float("nan")
        rc = c["peak_rss_mib"] if c else float("nan")
        lean = min(x for x in (rb, rc) if x == x) if (b or c) else float("nan")
        print("| %s | %.2f | %.2f | %.2f | %.2fx | %.0f | %.0f | %.0f / %.0f | %.2f |" % (
            name, st, tb, tc, best / st, utts * flop / st / 1e9, a["peak_rss_mb"], rb, rc, a["peak_rss_mb"] / lean))
    if s.get("step-none") and s.get("step-pcgrad"):
        plain, al, joint = s["step-none"]["best_s"], s["step-pcgrad"]["best_s"], s.get("step-joint-pcgrad", {}).get("best_s")
        print("\n## Aligned vs plain dual-path step (sdd, full step: forward, backward, alignment, Adam; 5 + 5 x 64,600)\n")
        print("| step | seconds | ratio to plain |")
        print("|---|---|---|")
        print("| plain dual path (`--align none --bn-stats joint`: one loss, one backward) | %.2f | 1.00 |" % plain)
        print("| PCGrad, per-path statistics (`--bn-stats per-path`: one backward gives both path gradients) | %.2f | %.2f |" % (al, al / plain))
        if joint:
            print("| PCGrad, joint statistics (the reference recipe and sdd train's default: two backward passes) | %.2f | %.2f |" % (joint, joint / plain))
        print("\nTarget (issue 4): the aligned step within 1.1x the plain step.")
        print("\n`sdd train` defaults to joint statistics (the lower eval EER in the README's three-seed comparison), "
              "so its aligned step costs the joint row; the per-path row is `--bn-stats per-path` (`make demo`'s setting).")
    print(family_section(s))
    if len(sys.argv) > 5:
        rb = [json.loads(l) for l in open(sys.argv[5]) if l.strip().startswith("{")]
        step = s.get("step-pcgrad", {}).get("best_s")
        print(rawboost_section(rb, cmd, step))
    print(targets_section(s, td, tt, rb if len(sys.argv) > 5 else []))
    print("\nRaw JSON lines: build/bench/*.jsonl.")
    print(kept_sections("bench/RESULTS.md"), end="")


# headings of the sections this script writes; every other '## ' section of
# the previous RESULTS.md (hand-written measurements: A/B runs, XLS-R, MPI,
# CUDA) is carried over below the generated ones instead of being lost
GENERATED = ("## Aligned vs plain", "## RawBoost", "## Loader throughput", "## Per layer family", "## Issue 8 targets in this run")


def kept_sections(path):
    try:
        lines = open(path).read().split("\n")
    except OSError:
        return ""
    out, keep = [], False
    for line in lines:
        if line.startswith("## "):
            keep = not line.startswith(GENERATED)
        if keep:
            out.append(line)
    return ("\n" + "\n".join(out).rstrip("\n") + "\n") if out else ""


if __name__ == "__main__":
    main()
