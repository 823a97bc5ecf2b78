"""Minimal safetensors writer (and reader, for round-trip checks).

File layout:
    u64 little-endian N | N bytes of JSON header | raw tensor data
Header: {"NAME": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
         ..., "__metadata__": {"key": "value", ...}}
Offsets are relative to the start of the data section. The header is padded
with spaces so that 8 + N is a multiple of 8. Data is little-endian, C order.
Tensors are written in sorted name order, so the same content always gives the
same bytes.
"""

import json
import struct

import numpy as np

_DTYPES = {
    np.dtype("float64"): "F64",
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("int16"): "I16",
    np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8",
    np.dtype("bool"): "BOOL",
}
_NUMPY = {v: k for k, v in _DTYPES.items()}


def save(path, tensors, metadata=None):
    """Write dict name -> numpy array to `path`. metadata: dict str -> str."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved")
        arr = np.asarray(tensors[name])
        if arr.dtype not in _DTYPES:
            raise TypeError("%s: unsupported dtype %s" % (name, arr.dtype))
        data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _DTYPES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("metadata must map str to str (%r: %r)" % (k, v))
        header["__metadata__"] = dict(metadata)
    raw = json.dumps(header, separators=(",", ":"), sort_keys=False).encode("utf-8")
    raw += b" " * ((-(8 + len(raw))) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def load(path):
    """Read a safetensors file: returns (dict name -> numpy array, metadata)."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = memoryview(buf)[8 + n:]
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = _NUMPY[info["dtype"]].newbyteorder("<")
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(info["shape"]).copy()
    return out, meta


if __name__ == "__main__":
    import os
    import sys
    import tempfile
    if len(sys.argv) > 1:
        for p in sys.argv[1:]:
            t, m = load(p)
            print(p, json.dumps(m, indent=1))
            for k in sorted(t):
                print("  %-60s %-4s %s" % (k, _DTYPES[t[k].dtype.newbyteorder("=")], list(t[k].shape)))
        sys.exit(0)
    # self test
    rng = np.random.default_rng(0)
    t = {"a": rng.standard_normal((3, 5)).astype(np.float32),
         "b": np.arange(7, dtype=np.int64), "s": np.float32(1.5).reshape(())}
    fd, p = tempfile.mkstemp(suffix=".safetensors")
    os.close(fd)
    save(p, t, {"x": "y"})
    r, m = load(p)
    assert m == {"x": "y"}
    assert all(np.array_equal(r[k], t[k]) and r[k].dtype == t[k].dtype for k in t)
    with open(p, "rb") as f:
        assert (8 + struct.unpack("<Q", f.read(8))[0]) % 8 == 0
    os.unlink(p)
    print("st_write self-test ok")
