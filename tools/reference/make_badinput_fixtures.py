#!/usr/bin/python3
# Writes tests/data/badinput/wrong_shape.pth for tests/unit/test_badinput.c
# (needs PyTorch; the test does not): an AASIST-L state dict, every tensor
# with its real name and shape, except out_layer.weight, which is (3, 160)
# instead of (2, 160). All values are zero (no trained weights are copied),
# so the file compresses to almost nothing in git. Run from the repository
# root with the shared AASIST-L checkpoint for the names and shapes:
#   /usr/bin/python3 tools/reference/make_badinput_fixtures.py ../shared/models/AASIST-L.pth
import sys
from collections import OrderedDict
import torch

src = torch.load(sys.argv[1], map_location="cpu")
sd = OrderedDict()
for k, v in src.items():
    sd[k] = torch.zeros(3, 160) if k == "out_layer.weight" else torch.zeros_like(v)
torch.save(sd, "tests/data/badinput/wrong_shape.pth")
