"""A synthetic checkpoint in the layout of fairseq's xlsr2_300m.pt, for sdd's .pth
reader (tests/unit/test_xlsr_import.c) and, at full size, for `sdd train --ssl-weights`.

fairseq's checkpoint_utils.save_state writes one torch.save'd dict:
  "args"                 an argparse.Namespace (older runs) or None
  "cfg"                  the run's omegaconf DictConfig (model, task, optimization, ...)
  "model"                the Wav2Vec2Model state_dict (fairseq names, pretraining heads)
  "criterion"            the criterion's state dict (empty here)
  "optimizer_history"    [{"criterion_name", "optimizer_name", "lr_scheduler_state", "num_updates"}]
  "task_state"           {}
  "extra_state"          {"metrics", "previous_training_time", "train_iterator", ...}
  "last_optimizer_state" the optimizer's state dict (tensors)
Everything but "model" is made of classes a state-dict reader must not trust
(argparse.Namespace, omegaconf's DictConfig / ContainerMetadata / nodes, typing.Any,
enums, numpy scalars): sdd skips them as inert placeholders and reads only "model".
The tensor kept inside "args" and the optimizer's tensors are reachable only through
those objects or outside "model", and must not be loaded.

The real omegaconf is used when it can be imported (pip install omegaconf into a venv
created with --system-site-packages, outside the repository); otherwise a small stand-in
class with the same pickled shape (a custom class, NEWOBJ + BUILD of its __dict__).

  tiny (default): tests/data/xlsr/fairseq_full.pt, the tiny XLSR-AASIST fixture's encoder
                  (tests/data/fixtures/xlsr_aasist_tiny.safetensors) plus the pretraining
                  tensors of xlsr_ckpt_fixtures.py's fairseq.pt, so it must import to the
                  same weights as hf_model.safetensors; and tests/fuzz/corpus/pth/fairseq_layout,
                  the same layout with one small tensor as a fuzz seed (the pickle alone,
                  fuzz_pth's odd mode); and tests/data/badinput/class_in_state_dict.pt, the
                  layout with an argparse.Namespace inside "model" (must be refused).
  --full OUT:     the XLS-R 300M encoder (24 layers, 1024-d) with random weights (seeded,
                  N(0, 0.02) and LayerNorm ones; not a trained model) in this layout at OUT
                  (1.27 GB; for the bench, never committed).

Usage: python3 tools/reference/xlsr_fairseq_fixture.py [--full OUT]
"""

import argparse
import collections
import enum
import io
import os
import sys
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")

try:
    from omegaconf import OmegaConf
except ImportError:
    OmegaConf = None


class ChoiceEnum(enum.Enum):
    """Stands for fairseq's ChoiceEnum values inside the config (pickled as REDUCE of the class)."""
    LAYER_NORM = "layer_norm"
    DEFAULT = "default"


class StandInDictConfig:
    """Pickles like omegaconf's DictConfig when omegaconf is missing: a custom class
    rebuilt with NEWOBJ and its state dict (with nested instances) with BUILD."""

    def __init__(self, content, parent=None):
        self._parent = parent
        self._metadata = {"ref_type": object, "object_type": dict, "key": None, "flags": {}}
        self._content = {k: StandInDictConfig(v, self) if isinstance(v, dict) else v for k, v in content.items()}


def make_cfg(model_cfg):
    cfg = {"_name": None,
           "common": {"fp16": True, "log_interval": 200, "seed": 1},
           "task": {"_name": "audio_pretraining", "data": "/data", "sample_rate": 16000, "normalize": True},
           "criterion": {"_name": "wav2vec", "infonce": True, "loss_weights": [0.1, 0.0]},
           "optimization": {"max_update": 1000000, "lr": [0.005], "update_freq": [1]},
           "model": model_cfg}
    if OmegaConf is not None:
        c = OmegaConf.create(cfg)
        c.model.extractor_mode = ChoiceEnum.LAYER_NORM   # an enum value, as fairseq's configs hold
        return c
    cfg["model"] = dict(model_cfg, extractor_mode=ChoiceEnum.LAYER_NORM)
    return StandInDictConfig(cfg)


def fairseq_ckpt(model_sd, layers, dim, ffn, heads, extra_tensor):
    """The fairseq checkpoint dict around model_sd (an OrderedDict of tensors)."""
    model_cfg = {"_name": "wav2vec2", "extractor_mode": "layer_norm", "encoder_layers": layers,
                 "encoder_embed_dim": dim, "encoder_ffn_embed_dim": ffn, "encoder_attention_heads": heads,
                 "conv_feature_layers": "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] * 2",
                 "layer_norm_first": True, "conv_bias": True, "latent_temp": [2.0, 0.1, 0.999995]}
    args = argparse.Namespace(arch="wav2vec2", encoder_layers=layers, lr=[0.005], no_progress_bar=False,
                              init_tensor=extra_tensor)   # a tensor reachable only through the Namespace
    first = next(iter(model_sd.values()))
    return {
        "args": args,
        "cfg": make_cfg(model_cfg),
        "model": model_sd,
        "criterion": collections.OrderedDict(),
        "optimizer_history": [{"criterion_name": "Wav2vecCriterion", "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": None}, "num_updates": 250000}],
        "task_state": {},
        "extra_state": {"metrics": {"train": collections.OrderedDict(loss=np.float64(2.5))},
                        "previous_training_time": 123456.5,
                        "train_iterator": {"epoch": 17, "iterations_in_epoch": 40, "shuffle": True},
                        "best": {1, 2}},
        "last_optimizer_state": {"state": {0: {"step": 250000, "exp_avg": torch.zeros_like(first)}},
                                 "param_groups": [{"lr": 0.0, "betas": (0.9, 0.98), "params": [0]}]},
    }


def tiny():
    t, _ = st_write.load(os.path.join(ROOT, "tests", "data", "fixtures", "xlsr_aasist_tiny.safetensors"))
    pfx = "param/ssl_model.model."
    sd = collections.OrderedDict((k[len(pfx):], torch.from_numpy(v.copy())) for k, v in t.items() if k.startswith(pfx))
    E = sd["post_extract_proj.weight"].shape[0]
    rng = np.random.default_rng(5)   # the pretraining tensors of xlsr_ckpt_fixtures.py's fairseq.pt
    pre = [("mask_emb", (E,)), ("quantizer.vars", (1, 8, 16)), ("quantizer.weight_proj.weight", (8, 32)),
           ("quantizer.weight_proj.bias", None), ("project_q.weight", (16, 16)), ("project_q.bias", None),
           ("final_proj.weight", (16, E)), ("final_proj.bias", None)]
    for k, shape in pre:
        sd[k] = torch.zeros(8 if k.startswith("quantizer") else 16) if shape is None else \
            torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
    layers = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith("encoder.layers."))
    out = os.path.join(ROOT, "tests", "data", "xlsr", "fairseq_full.pt")
    torch.save(fairseq_ckpt(sd, layers, E, 4 * E, 4, torch.arange(3.0)), out)
    # the fuzz seed: the same layout around one 4-float tensor; fuzz_pth's odd mode wraps the
    # pickle into a zip whose storages 0..15 hold 256 bytes each
    buf = io.BytesIO()
    torch.save(fairseq_ckpt(collections.OrderedDict(w=torch.ones(4)), 1, 4, 16, 1, torch.ones(2)), buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        pkl = next(z.read(n) for n in z.namelist() if n.endswith("/data.pkl"))
    with open(os.path.join(ROOT, "tests", "fuzz", "corpus", "pth", "fairseq_layout"), "wb") as f:
        f.write(b"\x01" + pkl)
    # the bad input: an object of a class outside the allow-list inside the state dict itself
    bad = collections.OrderedDict(w=torch.ones(4), meta=argparse.Namespace(version=2))
    torch.save(fairseq_ckpt(bad, 1, 4, 16, 1, torch.ones(2)), os.path.join(ROOT, "tests", "data", "badinput", "class_in_state_dict.pt"))
    print("wrote", out, "with omegaconf" if OmegaConf is not None else "with the stand-in config class")


def full(out):
    """XLS-R 300M in fairseq names, random (N(0, 0.02), LayerNorm 1/0, weight-norm g = 1)."""
    g = torch.Generator().manual_seed(300)
    D, F, L = 1024, 4096, 24
    sd = collections.OrderedDict()

    def rnd(*shape):
        return torch.randn(*shape, generator=g) * 0.02

    convs = [(512, 1, 10)] + [(512, 512, 3)] * 4 + [(512, 512, 2)] * 2
    for i, (co, ci, k) in enumerate(convs):
        sd[f"feature_extractor.conv_layers.{i}.0.weight"] = rnd(co, ci, k)
        sd[f"feature_extractor.conv_layers.{i}.0.bias"] = rnd(co)
        sd[f"feature_extractor.conv_layers.{i}.2.1.weight"] = torch.ones(co)
        sd[f"feature_extractor.conv_layers.{i}.2.1.bias"] = torch.zeros(co)
    sd["layer_norm.weight"], sd["layer_norm.bias"] = torch.ones(512), torch.zeros(512)
    sd["post_extract_proj.weight"], sd["post_extract_proj.bias"] = rnd(D, 512), rnd(D)
    sd["mask_emb"] = rnd(D)
    sd["encoder.pos_conv.0.bias"] = rnd(D)
    sd["encoder.pos_conv.0.weight_g"] = torch.ones(1, 1, 128)
    sd["encoder.pos_conv.0.weight_v"] = rnd(D, D // 16, 128)
    for i in range(L):
        p = f"encoder.layers.{i}."
        for n in ("k_proj", "v_proj", "q_proj", "out_proj"):
            sd[p + f"self_attn.{n}.weight"], sd[p + f"self_attn.{n}.bias"] = rnd(D, D), rnd(D)
        sd[p + "self_attn_layer_norm.weight"], sd[p + "self_attn_layer_norm.bias"] = torch.ones(D), torch.zeros(D)
        sd[p + "fc1.weight"], sd[p + "fc1.bias"] = rnd(F, D), rnd(F)
        sd[p + "fc2.weight"], sd[p + "fc2.bias"] = rnd(D, F), rnd(D)
        sd[p + "final_layer_norm.weight"], sd[p + "final_layer_norm.bias"] = torch.ones(D), torch.zeros(D)
    sd["encoder.layer_norm.weight"], sd["encoder.layer_norm.bias"] = torch.ones(D), torch.zeros(D)
    sd["quantizer.vars"] = rnd(1, 640, 384)
    sd["quantizer.weight_proj.weight"], sd["quantizer.weight_proj.bias"] = rnd(640, 512), rnd(640)
    sd["project_q.weight"], sd["project_q.bias"] = rnd(768, 768), rnd(768)
    sd["final_proj.weight"], sd["final_proj.bias"] = rnd(768, D), rnd(768)
    torch.save(fairseq_ckpt(sd, L, D, F, 16, torch.ones(2)), out)
    print("wrote", out, sum(v.numel() for v in sd.values()), "values")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--full":
        full(sys.argv[2])
    elif len(sys.argv) == 1:
        tiny()
    else:
        sys.exit(__doc__)
