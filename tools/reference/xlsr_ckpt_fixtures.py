"""Synthetic XLS-R checkpoints in the layouts sdd imports, for tests/unit/test_xlsr_import.c.
No real weights: the values are the tiny XLSR-AASIST fixture's
(tests/data/fixtures/xlsr_aasist_tiny.safetensors), renamed per layout:

  hf_model.safetensors    Hugging Face Wav2Vec2Model.save_pretrained layout (no prefix),
                          weight_g / weight_v, plus masked_spec_embed
  hf_pretrain.bin         Wav2Vec2ForPreTraining pytorch_model.bin (torch.save zip), masked_spec_embed,
                          "wav2vec2." prefix, the newer parametrizations.weight.original0/1
                          spelling, quantizer.codevectors, quantizer.weight_proj, project_q, project_hid
  fairseq.pt              a fairseq checkpoint dict {"model": state_dict, "cfg": {...}} with the
                          pretraining tensors (mask_emb, quantizer.vars, quantizer.weight_proj,
                          project_q, final_proj)
  full_model.pth          the whole XLSR-AASIST state dict as SSL_Anti-spoofing / dpda save it
                          (ssl_model.model.* with the pretraining tensors, num_batches_tracked),
                          wrapped in "module." as nn.DataParallel saves it
  bad_shape.safetensors   hf_model with post-projection weight transposed
  bad_names.safetensors   hf_model without one layer's fc1 and with an unknown tensor

Usage: /usr/bin/python3 tools/reference/xlsr_ckpt_fixtures.py [OUTDIR]
"""

import collections
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_write  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")


def fairseq_to_hf(k):
    rules = [
        (r"^feature_extractor\.conv_layers\.(\d+)\.0\.", r"feature_extractor.conv_layers.\1.conv."),
        (r"^feature_extractor\.conv_layers\.(\d+)\.2\.1\.", r"feature_extractor.conv_layers.\1.layer_norm."),
        (r"^layer_norm\.", "feature_projection.layer_norm."),
        (r"^post_extract_proj\.", "feature_projection.projection."),
        (r"^encoder\.pos_conv\.0\.", "encoder.pos_conv_embed.conv."),
        (r"^encoder\.layers\.(\d+)\.self_attn\.", r"encoder.layers.\1.attention."),
        (r"^encoder\.layers\.(\d+)\.self_attn_layer_norm\.", r"encoder.layers.\1.layer_norm."),
        (r"^encoder\.layers\.(\d+)\.fc1\.", r"encoder.layers.\1.feed_forward.intermediate_dense."),
        (r"^encoder\.layers\.(\d+)\.fc2\.", r"encoder.layers.\1.feed_forward.output_dense."),
    ]
    for a, b in rules:
        if re.match(a, k):
            return re.sub(a, b, k)
    return k


def main(out):
    os.makedirs(out, exist_ok=True)
    t, _ = st_write.load(os.path.join(ROOT, "tests", "data", "fixtures", "xlsr_aasist_tiny.safetensors"))
    full = collections.OrderedDict((k[6:], v) for k, v in t.items() if k.startswith("param/"))
    pfx = "ssl_model.model."
    enc = collections.OrderedDict((k[len(pfx):], v) for k, v in full.items() if k.startswith(pfx))
    rng = np.random.default_rng(5)
    E = enc["post_extract_proj.weight"].shape[0]
    pre_fs = {"mask_emb": rng.standard_normal(E).astype(np.float32),
              "quantizer.vars": rng.standard_normal((1, 8, 16)).astype(np.float32),
              "quantizer.weight_proj.weight": rng.standard_normal((8, 32)).astype(np.float32),
              "quantizer.weight_proj.bias": np.zeros(8, np.float32),
              "project_q.weight": rng.standard_normal((16, 16)).astype(np.float32),
              "project_q.bias": np.zeros(16, np.float32),
              "final_proj.weight": rng.standard_normal((16, E)).astype(np.float32),
              "final_proj.bias": np.zeros(16, np.float32)}

    hf = collections.OrderedDict((fairseq_to_hf(k), v) for k, v in enc.items())
    hf["masked_spec_embed"] = pre_fs["mask_emb"]
    st_write.save(os.path.join(out, "hf_model.safetensors"), hf, {"format": "pt"})

    hp = collections.OrderedDict()
    for k, v in hf.items():
        k = k.replace("conv.weight_g", "conv.parametrizations.weight.original0")
        k = k.replace("conv.weight_v", "conv.parametrizations.weight.original1")
        hp["wav2vec2." + k] = torch.from_numpy(v.copy())
    hp["quantizer.codevectors"] = torch.from_numpy(pre_fs["quantizer.vars"])
    hp["quantizer.weight_proj.weight"] = torch.from_numpy(pre_fs["quantizer.weight_proj.weight"])
    hp["quantizer.weight_proj.bias"] = torch.from_numpy(pre_fs["quantizer.weight_proj.bias"])
    hp["project_hid.weight"] = torch.from_numpy(pre_fs["final_proj.weight"])
    hp["project_hid.bias"] = torch.from_numpy(pre_fs["final_proj.bias"])
    hp["project_q.weight"] = torch.from_numpy(pre_fs["project_q.weight"])
    hp["project_q.bias"] = torch.from_numpy(pre_fs["project_q.bias"])
    torch.save(hp, os.path.join(out, "hf_pretrain.bin"))

    fs = collections.OrderedDict((k, torch.from_numpy(v.copy())) for k, v in enc.items())
    for k, v in pre_fs.items():
        fs[k] = torch.from_numpy(v)
    torch.save({"model": fs, "cfg": {"model": {"_name": "wav2vec2", "encoder_layers": 2}}, "optimizer_history": []},
               os.path.join(out, "fairseq.pt"))

    fm = collections.OrderedDict()
    for k, v in full.items():
        fm["module." + k] = torch.from_numpy(v.copy())
        if k.endswith("running_var"):
            fm["module." + k[:-len("running_var")] + "num_batches_tracked"] = torch.tensor(3, dtype=torch.int64)
    for k, v in pre_fs.items():
        fm["module." + pfx + k] = torch.from_numpy(v)
    torch.save(fm, os.path.join(out, "full_model.pth"))

    bad = collections.OrderedDict(hf)
    bad["feature_projection.projection.weight"] = np.ascontiguousarray(bad["feature_projection.projection.weight"].T)
    st_write.save(os.path.join(out, "bad_shape.safetensors"), bad, {"format": "pt"})
    bad = collections.OrderedDict(hf)
    del bad["encoder.layers.1.feed_forward.intermediate_dense.weight"]
    bad["encoder.layers.0.adapter.weight"] = np.zeros((2, 2), np.float32)
    st_write.save(os.path.join(out, "bad_names.safetensors"), bad, {"format": "pt"})
    print("wrote", sorted(os.listdir(out)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "data", "xlsr"))
