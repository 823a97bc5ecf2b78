#!/usr/bin/python3
# Regenerates the small .pth fixtures used by tests/unit/test_io.c (needs
# PyTorch; the tests themselves do not). Run from this folder:
#   /usr/bin/python3 make_fixtures.py
# Values the tests check are simple closed forms (arange etc.), written in
# comments next to each fixture below and in test_io.c.
import argparse, io, zipfile
from collections import OrderedDict
import torch

torch.manual_seed(0)

# tiny.pth: two tensors; also the fuzz seed
torch.save(OrderedDict(a=torch.arange(6, dtype=torch.float32).reshape(2, 3),
                       b=torch.tensor([1, -2], dtype=torch.int64)), "tiny.pth")

# views.pth: strided views, shared storages, every dtype, a Parameter
base = torch.arange(12, dtype=torch.float32).reshape(3, 4)      # 0..11
d = OrderedDict()
d["t"] = base.t()                                   # (4,3), strides (1,4)
d["slice"] = base[1:, 1:3]                          # (2,2), offset 5: [[5,6],[9,10]]
d["exp"] = torch.tensor([1., 2., 3.]).expand(2, 3)  # stride (0,1)
d["base"] = base                                    # shares storage with t, slice
d["scalar"] = torch.tensor(3.5)
d["empty"] = torch.zeros(0, 3)
d["f64"] = torch.tensor([1.5, -2.25], dtype=torch.float64)
d["f16"] = torch.tensor([1.0, -0.5, 65504.0], dtype=torch.float16)
d["bf16"] = torch.tensor([1.0, -2.0], dtype=torch.bfloat16)
d["i32"] = torch.tensor([7, -8], dtype=torch.int32)
d["i16"] = torch.tensor([300, -301], dtype=torch.int16)
d["i8"] = torch.tensor([-128, 127], dtype=torch.int8)
d["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
d["bool"] = torch.tensor([True, False, True])
d["param"] = torch.nn.Parameter(torch.tensor([[0.25, 0.5]]))
d["col"] = base[:, 2]                               # (3,), offset 2, stride 4: [2,6,10]
torch.save(d, "views.pth")

# ckpt.pth: training checkpoint, tensors under "model", other entries skipped
torch.save({"epoch": 3, "best": 0.5, "names": ["x", "y"], "big": 2**70,
            "model": OrderedDict(w=torch.ones(2, 2), b=torch.zeros(2)),
            "opt": {"lr": 0.1, "betas": (0.9, 0.999), "flag": None, "raw": b"\x00\x01"}},
           "ckpt.pth")

# sd_mixed.pth: "state_dict" with non-tensor values (2 skipped)
torch.save({"state_dict": OrderedDict(w=torch.ones(3), note="hi", n=3)}, "sd_mixed.pth")

# unknown_global.pth: an argparse.Namespace next to the tensors
torch.save({"w": torch.ones(2), "args": argparse.Namespace(lr=0.1)}, "unknown_global.pth")

# legacy.pth: the pre-1.6 non-zip format
torch.save({"w": torch.ones(2)}, "legacy.pth", _use_new_zipfile_serialization=False)

# short_storage.pth: tiny.pth with the float storage member cut to 16 of 24 bytes
src = zipfile.ZipFile("tiny.pth")
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
    sizes = {}
    for info in src.infolist():
        data = src.read(info.filename)
        if "/data/" in info.filename and len(data) == 24:
            data = data[:16]
        out.writestr(info.filename, data)
open("short_storage.pth", "wb").write(buf.getvalue())

# proto4.pth: pickle protocol 4 (FRAME, STACK_GLOBAL, MEMOIZE, SHORT_BINUNICODE)
torch.save(OrderedDict(w=torch.arange(4, dtype=torch.float32).reshape(2, 2).t(),
                       n=torch.tensor(7)), "proto4.pth", pickle_protocol=4)
