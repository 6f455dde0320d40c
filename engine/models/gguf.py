"""Just enough of the GGUF format (v3) to read a model's metadata, tensor list and output matrix, and to write a file.

No dependency beyond numpy: the `gguf` package would have to travel to the air-gapped GPU machine and
match the vendored llama.cpp's enums. Block sizes and byte layouts follow ggml-common.h.
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

MAGIC = b"GGUF"
VERSION = 3
ALIGNMENT = 32  # general.alignment's default

# gguf_type: value types of the key-value section
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i", FLOAT32: "<f",
           BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}

# ggml_type ids and (values per block, bytes per block)
F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, BF16 = 0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 30
BLOCKS = {F32: (1, 4), F16: (1, 2), BF16: (1, 2), Q4_0: (32, 18), Q4_1: (32, 20), Q5_0: (32, 22), Q5_1: (32, 24),
          Q8_0: (32, 34), Q2_K: (256, 84), Q3_K: (256, 110), Q4_K: (256, 144), Q5_K: (256, 176), Q6_K: (256, 210)}
TYPE_NAMES = {F32: "F32", F16: "F16", BF16: "BF16", Q4_0: "Q4_0", Q4_1: "Q4_1", Q5_0: "Q5_0", Q5_1: "Q5_1",
              Q8_0: "Q8_0", Q2_K: "Q2_K", Q3_K: "Q3_K", Q4_K: "Q4_K", Q5_K: "Q5_K", Q6_K: "Q6_K"}


@dataclass(frozen=True, slots=True)
class Value:
    """One metadata value with its GGUF type; arrays carry their element type and a list or numpy array."""

    type: int
    value: object
    item_type: int | None = None


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # ggml order: shape[0] is the row length (ne0)
    type: int
    offset: int = 0  # from the start of the data section

    @property
    def num_bytes(self) -> int:
        per_block, block_bytes = BLOCKS[self.type]
        if self.shape[0] % per_block:
            raise ValueError(f"{self.name}: row length {self.shape[0]} is not a multiple of {per_block} for {TYPE_NAMES[self.type]}")
        rows = int(np.prod(self.shape[1:], dtype=np.int64)) if len(self.shape) > 1 else 1
        return self.shape[0] // per_block * block_bytes * rows


@dataclass(slots=True)
class GGUF:
    """A file's metadata (in file order) and tensor list; data_offset is where tensor data starts."""

    metadata: dict[str, Value]
    tensors: list[TensorInfo]
    data_offset: int = 0


class _Reader:
    def __init__(self, buf: memoryview):
        self.buf, self.pos = buf, 0

    def scalar(self, fmt: str):
        (v,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def string(self) -> str:
        n = self.scalar("<Q")
        s = bytes(self.buf[self.pos : self.pos + n]).decode("utf-8", "surrogateescape")
        self.pos += n
        return s

    def value(self, vtype: int) -> Value:
        if vtype == STRING:
            return Value(STRING, self.string())
        if vtype == ARRAY:
            item, n = self.scalar("<I"), self.scalar("<Q")
            if item == STRING:
                return Value(ARRAY, [self.string() for _ in range(n)], STRING)
            if item == ARRAY:
                raise ValueError("nested GGUF arrays are not supported")
            dtype = np.dtype(_SCALAR[item])
            arr = np.frombuffer(self.buf, dtype, n, self.pos).copy()
            self.pos += n * dtype.itemsize
            return Value(ARRAY, arr, item)
        return Value(vtype, self.scalar(_SCALAR[vtype]))


def read(path: str | Path) -> GGUF:
    """Metadata and tensor infos of a GGUF file (the tensor data is not read)."""
    with open(path, "rb") as f:
        head = f.read(24)
        if head[:4] != MAGIC:
            raise ValueError(f"{path} is not a GGUF file")
        version, n_tensors, n_kv = struct.unpack_from("<IQQ", head, 4)
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is not supported")
        size = 1 << 20
        while True:  # the header is usually a few MB: read more until it parses
            f.seek(0)
            buf = memoryview(f.read(size))
            try:
                return _parse(buf, n_tensors, n_kv)
            except struct.error:
                if len(buf) < size:
                    raise ValueError(f"{path}: truncated GGUF header") from None
                size *= 4


def _parse(buf: memoryview, n_tensors: int, n_kv: int) -> GGUF:
    r = _Reader(buf)
    r.pos = 24
    metadata = {}
    for _ in range(n_kv):
        key = r.string()
        metadata[key] = r.value(r.scalar("<I"))
    tensors = []
    for _ in range(n_tensors):
        name = r.string()
        n_dims = r.scalar("<I")
        shape = tuple(r.scalar("<Q") for _ in range(n_dims))
        ttype, offset = r.scalar("<I"), r.scalar("<Q")
        tensors.append(TensorInfo(name, shape, ttype, offset))
    align = int(metadata["general.alignment"].value) if "general.alignment" in metadata else ALIGNMENT
    return GGUF(metadata, tensors, _pad(r.pos, align))


def _pad(n: int, align: int = ALIGNMENT) -> int:
    return (n + align - 1) // align * align


def _pack_string(s: str) -> bytes:
    b = s.encode("utf-8", "surrogateescape")
    return struct.pack("<Q", len(b)) + b


def _pack_value(v: Value) -> bytes:
    if v.type == STRING:
        return _pack_string(v.value)
    if v.type == ARRAY:
        head = struct.pack("<IQ", v.item_type, len(v.value))
        if v.item_type == STRING:
            return head + b"".join(_pack_string(s) for s in v.value)
        return head + np.asarray(v.value, dtype=np.dtype(_SCALAR[v.item_type])).tobytes()
    return struct.pack(_SCALAR[v.type], v.value)


def write(path: str | Path, metadata: dict[str, Value], tensors: list[TensorInfo],
          fill: Callable[[TensorInfo, BinaryIO], None]) -> None:
    """Write a GGUF; fill(info, file) must write exactly info.num_bytes of data for each tensor, in order."""
    offsets, pos = [], 0
    for t in tensors:
        offsets.append(pos)
        pos = _pad(pos + t.num_bytes)
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<IQQ", VERSION, len(tensors), len(metadata)))
        for key, v in metadata.items():
            f.write(_pack_string(key) + struct.pack("<I", v.type) + _pack_value(v))
        for t, off in zip(tensors, offsets):
            f.write(_pack_string(t.name) + struct.pack("<I", len(t.shape)))
            f.write(struct.pack(f"<{len(t.shape)}Q", *t.shape) + struct.pack("<IQ", t.type, off))
        f.write(b"\0" * (_pad(f.tell()) - f.tell()))
        start = f.tell()
        for t, off in zip(tensors, offsets):
            f.write(b"\0" * (start + off - f.tell()))
            before = f.tell()
            fill(t, f)
            if f.tell() - before != t.num_bytes:
                raise AssertionError(f"{t.name}: wrote {f.tell() - before} bytes, expected {t.num_bytes}")
        f.write(b"\0" * (_pad(f.tell() - start) - (f.tell() - start)))


def tensor(path: str | Path, gguf: GGUF, name: str) -> tuple[TensorInfo, np.ndarray]:
    """A tensor's info and its raw bytes, memory-mapped read-only."""
    info = next((t for t in gguf.tensors if t.name == name), None)
    if info is None:
        raise KeyError(f"{path} has no tensor {name!r}")
    return info, np.memmap(path, np.uint8, "r", offset=gguf.data_offset + info.offset, shape=(info.num_bytes,))


def dequantize(info: TensorInfo, raw: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
    """Rows of a 2-D F32, F16 or Q8_0 tensor as float32 (shape[0] values per row); each value is computed by
    one IEEE operation at most (Q8_0: f16 scale times int8), so the result is the same on every machine."""
    width, n_rows = info.shape[0], int(np.prod(info.shape[1:], dtype=np.int64))
    per_block, block_bytes = BLOCKS[info.type]
    data = raw.reshape(n_rows, width // per_block * block_bytes)[rows]
    if info.type == F32:
        return data.view("<f4").astype(np.float32)
    if info.type == F16:
        return data.view("<f2").astype(np.float32)
    if info.type == Q8_0:
        blocks = data.reshape(data.shape[0], width // 32, 34)
        scale = np.ascontiguousarray(blocks[:, :, :2]).view("<f2").astype(np.float32)
        quants = np.ascontiguousarray(blocks[:, :, 2:]).view(np.int8).astype(np.float32)
        return (quants * scale).reshape(data.shape[0], width)
    raise ValueError(f"{info.name}: {TYPE_NAMES.get(info.type, info.type)} rows cannot be read here (F32, F16, Q8_0)")
