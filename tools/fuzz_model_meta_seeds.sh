#!/bin/sh
# Writes the seeds of fuzz_model_meta (tests/fuzz/fuzz_model_meta.c) into
# DIR (default tests/fuzz/corpus/model_meta). Byte 0 of a seed is the
# target's flags (bits 0-1 architecture: 0 AASIST-L, 1 XLSR-AASIST-tiny,
# 2 XLSR-Mamba-tiny, 3 XLSR-Conformer-TCM-tiny; bit 2 pairs, else JSON;
# bit 3 pairs on an empty object; bit 4 architecture given; bit 5 average
# reopens); the rest is the metadata: JSON text, or key NUL value NUL ...
# on the model's own metadata (value \177 deletes the key).
# Not part of make or make test. Usage: tools/fuzz_model_meta_seeds.sh [DIR]
set -eu
dir=${1:-tests/fuzz/corpus/model_meta}
mkdir -p "$dir"
cal='{"format": "sdd-calibration", "version": 1, "kind": "calibration", "weights": [0.59], "bias": -1.2, "prior": 0.5, "decision": {"pspoof": 0.05, "cmiss": 1, "cfa": 10, "threshold": -0.64}}'
calj='{\"format\":\"sdd-calibration\",\"version\":1,\"weights\":[0.5],\"bias\":-1,\"decision\":{\"pspoof\":0.5,\"cmiss\":1,\"cfa\":1}}'
seed() { name=$1; shift; printf "$@" > "$dir/$name"; }
# pairs on each architecture's own metadata: cut, threshold, calibration all valid
seed pairs-aasistl-all     '\004cut\00048000\000threshold\0000.25\000calibration\000%s\000' "$cal"
seed pairs-xlsr-aasist-all '\005cut\00064600\000threshold\000-1.5e-2\000calibration\000%s\000' "$cal"
seed pairs-mamba-all       '\046cut\00066800\000threshold\0003\000calibration\000%s\000' "$cal"
seed pairs-conformer-all   '\007cut\00016000\000threshold\000-0.75\000calibration\000%s\000' "$cal"
# values the loader must refuse
seed pairs-cut-short       '\004cut\0002314\000'
seed pairs-cut-huge        '\005cut\0001073741825\000'
seed pairs-cut-word        '\006cut\00064600s\000'
seed pairs-threshold-inf   '\004threshold\000inf\000'
seed pairs-calibration-2   '\007calibration\000{"format":"sdd-calibration","version":1,"weights":[1,2],"bias":0,"decision":{"pspoof":0.5,"cmiss":1,"cfa":1}}\000'
seed pairs-mamba-norm      '\006mamba_final_norm\000fixed\000'
seed pairs-config-changed  '\044config\000{}\000nb_samp\00064600\000'
# an empty object, the architecture given (as sdd import --arch)
seed pairs-empty-forced    '\034cut\00064600\000'
# sdd metadata deleted: architecture guessed; XLS-R names through the reference mapping
seed pairs-no-format       '\045format\000\177\000cut\00032000\000'
# JSON text as the whole __metadata__
seed json-guess-aasistl    '\000{"cut":"64600","threshold":"-1e-3"}'
seed json-sdd-aasistl      '\000{"format":"sdd-model","arch":"AASIST-L","nb_samp":"64600","cut":"2315","calibration":"%s"}' "$calj"
seed json-sdd-mamba        '\002{"format":"sdd-model","arch":"XLSR-Mamba-tiny","mamba_final_norm":"reference","cut":"400"}'
seed json-ref-conformer    '\003{"cut":"16000","threshold":"0x1p-3"}'
seed json-xlsr-aasist-lc   '\001{"format":"sdd-model","arch":"xlsr-aasist-tiny","threshold":"nan"}'
seed json-not-string       '\000{"format":"sdd-model","arch":"AASIST-L","cut":64600}'
# an architecture the weights are not: shapes, missing tensors, unknown name
seed json-arch-aasist-on-l '\000{"format":"sdd-model","arch":"AASIST","cut":"64600"}'
seed json-arch-mamba-on-tcm '\003{"format":"sdd-model","arch":"XLSR-Mamba-tiny","mamba_final_norm":"fixed"}'
seed json-arch-unknown     '\001{"format":"sdd-model","arch":"ResNet"}'
# leading blanks and a sign (refused: a cut is digits only), and a calibration over the 1023-byte limit
seed pairs-cut-blank-plus  '\004cut\000 +64600\000'
long=$(printf '%01100d' 0)
seed pairs-calibration-long '\004calibration\000{"format":"sdd-calibration","version":1,"weights":[1],"bias":0,"decision":{"pspoof":0.5,"cmiss":1,"cfa":1},"inputs":["%s"]}\000' "$long"
