#!/usr/bin/env python3
"""Reference for sdd's int8 XLS-R inference (sdd score --int8: src/models/quant.c,
src/backend/qgemm.c).

Loads the tiny XLSR-AASIST of tests/data/fixtures/xlsr_aasist_tiny.safetensors
(its weights and input) into xlsr_ref.py's independent PyTorch model, runs
the eval forward in float32 with every encoder layer's q/k/v/out/fc1/fc2
linear replaced by the int8 scheme of src/backend/qgemm.h (written here
again in torch: weights per output row, activations per row, the integer
sums exact in float64, the output rounded to float32 once), and writes
tests/data/fixtures/xlsr_aasist_tiny_int8.safetensors:
  logits_int8   (2, 2)  the int8 forward's eval logits
  logits_fp32   (2, 2)  the same model's plain float32 eval logits
The C test (tests/unit/test_qgemm.c) checks sdd's --int8 logits are close to
logits_int8, and much closer to them than to the float32 ones.
Usage: /usr/bin/python3 tools/reference/xlsr_int8_ref.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402
from xlsr_ref import CONFIGS, XLSRAASIST  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
FIX = os.path.join(ROOT, 'tests', 'data', 'fixtures', 'xlsr_aasist_tiny.safetensors')
OUT = os.path.join(ROOT, 'tests', 'data', 'fixtures', 'xlsr_aasist_tiny_int8.safetensors')


def q8_linear(x, w, b):
    """x (..., din) float32, w (dout, din), b (dout): the scheme of qgemm.h."""
    f32 = torch.float32
    shape = x.shape
    x = x.reshape(-1, shape[-1]).to(f32)
    amax = w.abs().amax(dim=1)
    sw = torch.where(amax > 0, amax / torch.tensor(127.0, dtype=f32), torch.ones_like(amax))
    q = torch.clamp(torch.round(w / sw[:, None]), -127, 127).to(torch.float64)
    zero = torch.zeros((), dtype=f32)
    lo = torch.minimum(x.amin(dim=1), zero)
    hi = torch.maximum(x.amax(dim=1), zero)
    sx = torch.where(hi > lo, (hi - lo) / torch.tensor(255.0, dtype=f32), torch.ones_like(hi))
    z = torch.clamp(torch.round(-lo / sx), 0, 255)
    a = torch.clamp(torch.round(x / sx[:, None]) + z[:, None], 0, 255).to(torch.float64)
    acc = a @ q.T                                         # exact: integers below 2^53
    v = acc - z.to(torch.float64)[:, None] * q.sum(dim=1)[None, :]
    d = v * (sx.to(torch.float64)[:, None] * sw.to(torch.float64)[None, :])
    if b is not None:
        d = d + b.to(torch.float64)[None, :]
    return d.to(f32).reshape(*shape[:-1], w.shape[0])


class Q8Linear(nn.Module):
    def __init__(self, lin):
        super().__init__()
        self.weight, self.bias = lin.weight, lin.bias

    def forward(self, x):
        return q8_linear(x, self.weight, self.bias)


def main():
    torch.set_num_threads(2)
    fx = st_write.load(FIX)
    tensors = fx[0] if isinstance(fx, tuple) else fx
    m = XLSRAASIST(CONFIGS['tiny'])
    state = {k[len('param/'):]: torch.from_numpy(np.array(v)) for k, v in tensors.items() if k.startswith('param/')}
    missing, unexpected = m.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith('num_batches_tracked') for k in missing), (missing, unexpected)
    m = m.float().eval()
    wave = torch.from_numpy(np.array(tensors['input'])).float()
    with torch.no_grad():
        fp32 = m(wave)
        n = 0
        for layer in m.ssl_model.model.encoder.layers:
            at = layer.self_attn
            at.q_proj, at.k_proj, at.v_proj, at.out_proj = (Q8Linear(at.q_proj), Q8Linear(at.k_proj),
                                                           Q8Linear(at.v_proj), Q8Linear(at.out_proj))
            layer.fc1, layer.fc2 = Q8Linear(layer.fc1), Q8Linear(layer.fc2)
            n += 6
        int8 = m(wave)
    meta = {'model': 'XLSR-AASIST-tiny', 'generator': 'tools/reference/xlsr_int8_ref.py', 'torch': torch.__version__,
            'weights': 'xlsr_aasist_tiny.safetensors', 'quantized': '%d encoder linear layers' % n}
    st_write.save(OUT, {'logits_int8': int8.numpy(), 'logits_fp32': fp32.numpy()}, meta)
    print('int8', int8.tolist(), 'fp32', fp32.tolist())


if __name__ == '__main__':
    main()
