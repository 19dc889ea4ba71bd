"""CLAP (contrastive language-audio pretraining) through transformers' ``ClapModel``.

Audio (resampled to 48 kHz mono) and text land in one space, so a text description finds
music directly. Default weights: ``laion/larger_clap_music``; any hub id or local
``save_pretrained`` folder works.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vmb.retrieve.encoders.base import AudioClip, Encoder, l2_normalize

logger = logging.getLogger(__name__)

DEFAULT_CLAP = "laion/larger_clap_music"
CLAP_SAMPLE_RATE = 48000
MISSING_HINT = (
    "download it while online (huggingface-cli download ID), pass a local folder with --model, "
    "or use --encoder builtin"
)


def clap_encoder_id(model: str) -> str:
    """``clap:<hub id>``, or ``clap:<absolute folder>`` for a local model."""
    path = Path(model).expanduser()
    return f"clap:{path.resolve()}" if path.is_dir() else f"clap:{model}"


class ClapEncoder(Encoder):
    """Text and audio embeddings ``[N, D]`` in CLAP's joint space (D = ``projection_dim``).

    Use :meth:`from_pretrained`. Audio longer than the model's window (10 s for
    larger_clap_music) is cut into windows whose embeddings are averaged, so the result is
    deterministic (the feature extractor's random crop is never used).
    """

    modalities = ("text", "audio")

    def __init__(self, model, processor, model_id: str, device: str = "cpu", batch_size: int = 8):
        self.model = model
        self.processor = processor
        self.model_id = model_id
        self.id = clap_encoder_id(model_id)
        self.dim = int(model.config.projection_dim)
        self.device = device
        self.batch_size = batch_size
        extractor = processor.feature_extractor
        self.sample_rate = int(getattr(extractor, "sampling_rate", CLAP_SAMPLE_RATE))
        self.window_s = float(getattr(extractor, "max_length_s", 10))

    @classmethod
    def from_pretrained(
        cls,
        model_id_or_path: str = DEFAULT_CLAP,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
    ) -> ClapEncoder:
        """Load ``ClapModel`` + ``ClapProcessor`` from a hub id or a local folder, through
        :func:`vmb.hub.load_pretrained` (the folder, then the cache, then the hub when allowed).

        Raises:
            ModelUnavailable: neither the folder, the cache nor the hub has the weights.
        """
        from transformers import ClapModel, ClapProcessor

        from vmb.hub import (
            load_pretrained,
            model_record,
            quiet_transformers,
            resolve_device,
            resolve_dtype,
        )

        device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, device)
        quiet_transformers()
        name = str(model_id_or_path)
        model = load_pretrained(ClapModel.from_pretrained, name, hint=MISSING_HINT, dtype=torch_dtype)
        processor = load_pretrained(ClapProcessor.from_pretrained, name, hint=MISSING_HINT)
        model = model.to(device).eval()
        # a local folder is recorded absolute, so the index can be queried from anywhere
        return cls(model, processor, model_record(name), device=device, batch_size=batch_size)

    def _features(self, output):
        # transformers >= 5 returns a ModelOutput whose pooler_output is the projected embedding.
        return output if hasattr(output, "dim") else output.pooler_output

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        rows = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t or " " for t in texts[start : start + self.batch_size]]
            inputs = self.processor.tokenizer(
                batch, padding=True, truncation=True, return_tensors="pt"
            )
            with torch.inference_mode():
                out = self.model.get_text_features(
                    **{k: v.to(self.device) for k, v in inputs.items()}
                )
            rows.append(self._features(out).float().cpu().numpy())
        return l2_normalize(np.concatenate(rows) if rows else np.zeros((0, self.dim), np.float32))

    def _windows(self, audio: np.ndarray, sr: int) -> list[np.ndarray]:
        """Mono 48 kHz windows of at most ``window_s`` covering the clip ``[C, T]``."""
        from vmb.media import resample

        audio = np.asarray(audio, dtype=np.float32)
        mono = audio if audio.ndim == 1 else audio.mean(axis=0)
        if sr != self.sample_rate:
            mono = resample(mono[None, :], sr, self.sample_rate)[0]
        size = int(self.window_s * self.sample_rate)
        if mono.shape[0] <= size:
            return [mono]
        # whole windows, and a last one for a tail of at least half a window
        starts = range(0, mono.shape[0] - size // 2 + 1, size)
        return [mono[s : s + size] for s in starts]

    def embed_audio(self, clips: Sequence[AudioClip]) -> np.ndarray:
        import torch

        windows: list[np.ndarray] = []
        owner: list[int] = []
        for i, (audio, sr) in enumerate(clips):
            for w in self._windows(audio, sr):
                windows.append(w)
                owner.append(i)
        rows = []
        for start in range(0, len(windows), self.batch_size):
            batch = windows[start : start + self.batch_size]
            inputs = self.processor.feature_extractor(
                batch, sampling_rate=self.sample_rate, return_tensors="pt"
            )
            dtype = next(self.model.parameters()).dtype
            inputs = {
                k: (v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device))
                for k, v in inputs.items()
            }
            with torch.inference_mode():
                out = self.model.get_audio_features(**inputs)
            rows.append(self._features(out).float().cpu().numpy())
        if not rows:
            return np.zeros((0, self.dim), np.float32)
        per_window = l2_normalize(np.concatenate(rows))
        sums = np.zeros((len(clips), self.dim), np.float32)
        np.add.at(sums, np.asarray(owner), per_window)
        return l2_normalize(sums)
