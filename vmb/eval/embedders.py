"""Audio embedders for the distribution metrics, each loaded through :func:`vmb.hub.load_pretrained`.

Every embedder maps one mono clip ``[T]`` at its sample rate to rows ``[R, D]`` (float32): one
row per window or pooled second, so long clips count by their length as in fadtk.

==============  ====================================  ===========================================
name            model                                 rows
==============  ====================================  ===========================================
``features``    vmb eval's built-in measured features 1 per clip, raw ``[48]`` (standardised on
                (:mod:`vmb.eval.features`; no         the reference set before FD)
                weights; *not* FAD)
``clap``        ``laion/larger_clap_music``           1 per 10 s window, L2-normalised audio
                (``ClapModel``)                       projection ``[512]``
``encodec``     ``facebook/encodec_32khz``            1 per second: the encoder's continuous
                (``EncodecModel``)                    latents (before quantisation) averaged
``ast``         ``MIT/ast-finetuned-audioset-10-10-   1 per 10.24 s window: pooled output
                0.4593`` (``ASTForAudioClassif.``)    ``[768]``; also AudioSet logits ``[527]``
==============  ====================================  ===========================================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from vmb.eval.features import EVAL_FEATURES_ID, measure_features
from vmb.hub import load_pretrained, model_record, quiet_transformers, resolve_device

logger = logging.getLogger(__name__)

DEFAULT_MODELS = {
    "clap": "laion/larger_clap_music",
    "encodec": "facebook/encodec_32khz",
    "ast": "MIT/ast-finetuned-audioset-10-10-0.4593",
}
EMBEDDERS = ("features", "clap", "encodec", "ast")
LABELS = {
    "features": "FD (built-in features; not FAD)",
    "clap": "FAD (CLAP larger_clap_music)",
    "encodec": "FAD (EnCodec 32 kHz latents)",
    "ast": "FAD (AST AudioSet embedding)",
}


def _hint(kind: str) -> str:
    return (
        f"download it while online (huggingface-cli download {DEFAULT_MODELS[kind]}) or pass a "
        f"local folder with --{kind}-model; --metrics fd-features needs no weights"
    )


def _windows(mono: np.ndarray, size: int) -> list[np.ndarray]:
    """Whole windows of ``size`` samples, plus the tail if it is at least half a window."""
    if mono.shape[0] <= size:
        return [mono]
    starts = range(0, mono.shape[0] - size // 2 + 1, size)
    return [mono[s : s + size] for s in starts]


def _resample(mono: np.ndarray, sr: int, target: int) -> np.ndarray:
    from vmb.media import resample

    mono = np.asarray(mono, np.float32)
    return mono if sr == target else resample(mono[None, :], sr, target)[0]


@dataclass
class FeaturesEmbedder:
    """vmb eval's built-in measured features (:mod:`vmb.eval.features`; offline; never called FAD)."""

    name: str = "features"
    record: str = EVAL_FEATURES_ID

    def embed(self, mono: np.ndarray, sr: int) -> dict[str, np.ndarray]:
        return {"rows": measure_features(mono, sr)[None, :]}


class ClapEmbedder:
    """CLAP audio (and text) embeddings in one space; used for FAD, CLAP score and zero-shot."""

    name = "clap"

    def __init__(self, model_id: str = DEFAULT_MODELS["clap"], device: str = "auto", batch_size: int = 8):
        import torch
        from transformers import ClapModel, ClapProcessor

        from vmb.retrieve.encoders.clap import ClapEncoder

        quiet_transformers()
        self.device = resolve_device(device)
        model = load_pretrained(ClapModel.from_pretrained, model_id, hint=_hint("clap"), dtype=torch.float32)
        processor = load_pretrained(ClapProcessor.from_pretrained, model_id, hint=_hint("clap"), required_file=None)
        self.record = model_record(model_id)
        self.encoder = ClapEncoder(model.to(self.device).eval(), processor, self.record, self.device, batch_size)
        self.sample_rate = self.encoder.sample_rate

    def embed(self, mono: np.ndarray, sr: int) -> dict[str, np.ndarray]:
        windows = self.encoder._windows(mono, sr)
        rows = self.encoder.embed_audio([(w, self.sample_rate) for w in windows])
        return {"rows": rows}

    def embed_text(self, texts: list[str]) -> np.ndarray:
        """``[N, D]`` L2-normalised text embeddings."""
        return self.encoder.embed_text(texts)

    def embed_clip(self, mono: np.ndarray, sr: int) -> np.ndarray:
        """One L2-normalised audio embedding ``[D]`` for the whole clip (windows averaged)."""
        return self.encoder.embed_audio([(mono, sr)])[0]


class EncodecEmbedder:
    """EnCodec's encoder output (continuous latents ``[B, D, F]`` before the quantiser), pooled
    to one row per second."""

    name = "encodec"

    def __init__(self, model_id: str = DEFAULT_MODELS["encodec"], device: str = "auto", window_s: float = 10.0):
        import torch
        from transformers import AutoFeatureExtractor, EncodecModel

        quiet_transformers()
        self.device = resolve_device(device)
        self.model = load_pretrained(EncodecModel.from_pretrained, model_id, hint=_hint("encodec"), dtype=torch.float32)
        self.model = self.model.to(self.device).eval()
        self.extractor = load_pretrained(
            AutoFeatureExtractor.from_pretrained, model_id, hint=_hint("encodec"), required_file=None
        )
        self.record = model_record(model_id)
        self.sample_rate = int(self.model.config.sampling_rate)
        self.frame_rate = float(self.model.config.frame_rate)
        self.window_s = window_s

    def embed(self, mono: np.ndarray, sr: int) -> dict[str, np.ndarray]:
        import torch

        mono = _resample(mono, sr, self.sample_rate)
        rows = []
        for window in _windows(mono, int(self.window_s * self.sample_rate)):
            inputs = self.extractor(raw_audio=window, sampling_rate=self.sample_rate, return_tensors="pt")
            values = inputs["input_values"].to(self.device)  # [1, 1, T]
            with torch.inference_mode():
                latents = self.model.encoder(values)[0].float().cpu().numpy()  # [D, F]
            per_second = max(1, round(self.frame_rate))
            frames = latents.shape[1]
            for start in range(0, frames, per_second):
                chunk = latents[:, start : start + per_second]
                if chunk.shape[1] * 2 >= per_second or start == 0:
                    rows.append(chunk.mean(axis=1))
        return {"rows": np.stack(rows).astype(np.float32)}


class AstEmbedder:
    """The Audio Spectrogram Transformer fine-tuned on AudioSet: pooled embedding per 10.24 s
    window and the clip's AudioSet class probabilities (softmax of the window-averaged logits).

    The fbank comes from ``ASTFeatureExtractor``; without torchaudio (which does not work with
    vmb's torch) transformers computes the same Kaldi-compatible fbank in numpy.
    """

    name = "ast"

    def __init__(self, model_id: str = DEFAULT_MODELS["ast"], device: str = "auto"):
        import torch
        from transformers import ASTFeatureExtractor, ASTForAudioClassification

        quiet_transformers()
        self.device = resolve_device(device)
        self.model = load_pretrained(
            ASTForAudioClassification.from_pretrained, model_id, hint=_hint("ast"), dtype=torch.float32
        )
        self.model = self.model.to(self.device).eval()
        self.extractor = load_pretrained(
            ASTFeatureExtractor.from_pretrained, model_id, hint=_hint("ast"), required_file=None
        )
        self.record = model_record(model_id)
        self.sample_rate = int(self.extractor.sampling_rate)
        # the extractor's max_length is in 10 ms frames (1024 → 10.24 s)
        self.window = int(self.extractor.max_length * self.sample_rate // 100)
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]

    def embed(self, mono: np.ndarray, sr: int) -> dict[str, np.ndarray]:
        import torch

        mono = _resample(mono, sr, self.sample_rate)
        windows = _windows(mono, self.window)
        inputs = self.extractor(windows, sampling_rate=self.sample_rate, return_tensors="pt")
        values = inputs["input_values"].to(self.device)  # [W, frames, mel]
        with torch.inference_mode():
            pooled = self.model.audio_spectrogram_transformer(values).pooler_output  # [W, H]
            logits = self.model.classifier(pooled)  # [W, C]
        return {
            "rows": pooled.float().cpu().numpy(),
            "logits": logits.float().mean(dim=0).cpu().numpy(),
        }


def load_embedder(name: str, model: str | None = None, device: str = "auto"):
    """The embedder called ``name`` (one of :data:`EMBEDDERS`).

    Raises:
        ModelUnavailable: the model's weights are not in the folder, the cache or the hub.
    """
    if name == "features":
        return FeaturesEmbedder()
    cls = {"clap": ClapEmbedder, "encodec": EncodecEmbedder, "ast": AstEmbedder}[name]
    return cls(model or DEFAULT_MODELS[name], device=device)
