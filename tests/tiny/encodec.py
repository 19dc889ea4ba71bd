"""A tiny random EnCodec (``EncodecModel`` + ``EncodecFeatureExtractor``) saved with
``save_pretrained``.

Mono 32 kHz with a hop of 640 samples (50 frames/s), the sample and frame rates of
``facebook/encodec_32khz``; the convolution stacks are narrow (4 filters, 16-dim latents).
"""

from __future__ import annotations

from pathlib import Path


def make_tiny_encodec(seed: int = 0):
    """``(EncodecModel, EncodecFeatureExtractor)`` with random weights."""
    import torch
    from transformers import EncodecConfig, EncodecFeatureExtractor, EncodecModel

    config = EncodecConfig(
        sampling_rate=32000,
        audio_channels=1,
        num_filters=4,
        hidden_size=16,
        upsampling_ratios=[8, 5, 4, 4],
        num_lstm_layers=1,
        codebook_size=64,
        codebook_dim=16,
        target_bandwidths=[2.2],
        normalize=False,
    )
    torch.manual_seed(seed)
    model = EncodecModel(config).eval()
    extractor = EncodecFeatureExtractor(feature_size=1, sampling_rate=32000)
    return model, extractor


def save_tiny_encodec(folder: str | Path, seed: int = 0) -> Path:
    """Build the tiny EnCodec and ``save_pretrained`` model and feature extractor into ``folder``."""
    folder = Path(folder)
    model, extractor = make_tiny_encodec(seed=seed)
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return folder
