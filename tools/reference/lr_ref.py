#!/usr/bin/python3
"""Reference fixture for the cosine learning-rate schedule (tests/data/train/lr_cosine.safetensors).

Run from the repository root: /usr/bin/python3 tools/reference/lr_ref.py

The AASIST recipe (clovaai/aasist utils.py, main.py): torch.optim.Adam with a
LambdaLR whose factor is  m + (1 - m) * 0.5 * (1 + cos(step / T * pi)),
m = lr_min / base_lr, written here in numpy float64 from that description;
T = epochs * steps_per_epoch; scheduler.step() after every optimizer.step().
The fixture holds the learning rate each update used (as the optimizer saw it)
for T = 3 epochs x 4 steps and 14 updates (two past T), and the parameters
after 14 Adam updates (wd 1e-4) on fixed random gradients.
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_write  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "tests", "data", "train")
BASE, LR_MIN, EPOCHS, STEPS_PER_EPOCH, UPDATES = 1e-4, 5e-6, 3, 4, 14


def factor(step, total, m):
    return m + (1.0 - m) * 0.5 * (1 + np.cos(step / total * np.pi))


def main():
    torch.manual_seed(7)
    p = torch.nn.Parameter(torch.randn(37))
    p0 = p.detach().numpy().copy()
    total = EPOCHS * STEPS_PER_EPOCH
    opt = torch.optim.Adam([p], lr=BASE, betas=(0.9, 0.999), weight_decay=1e-4)
    sch = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=lambda s: factor(s, total, LR_MIN / BASE))
    lrs, grads = [], []
    for _ in range(UPDATES):
        g = torch.randn(37)
        grads.append(g.numpy().copy())
        lrs.append(opt.param_groups[0]["lr"])
        p.grad = g.clone()
        opt.step()
        sch.step()
    tensors = {"lr": np.array(lrs, dtype=np.float64), "p_init": p0, "grads": np.stack(grads),
               "p_final": p.detach().numpy().copy()}
    meta = {"base_lr": repr(BASE), "lr_min": repr(LR_MIN), "total_steps": str(total), "updates": str(UPDATES),
            "weight_decay": "1e-4", "torch": torch.__version__, "numpy": np.__version__,
            "generator": "tools/reference/lr_ref.py"}
    os.makedirs(OUT, exist_ok=True)
    st_write.save(os.path.join(OUT, "lr_cosine.safetensors"), tensors, meta)
    print("wrote lr_cosine.safetensors; lrs", ", ".join("%.6g" % x for x in lrs))


if __name__ == "__main__":
    main()
