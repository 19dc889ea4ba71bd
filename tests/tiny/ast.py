"""A tiny random Audio Spectrogram Transformer (``ASTForAudioClassification`` +
``ASTFeatureExtractor``) saved with ``save_pretrained``.

The feature extractor is the real one (16 kHz, 128 mel bins, 1024 frames = 10.24 s, AudioSet
mean/std), and the head has AudioSet's 527 classes, so the shapes are those of
``MIT/ast-finetuned-audioset-10-10-0.4593``; only the transformer is shrunk (1 layer, width 32).
"""

from __future__ import annotations

from pathlib import Path

NUM_CLASSES = 527


def make_tiny_ast(seed: int = 0):
    """``(ASTForAudioClassification, ASTFeatureExtractor)`` with random weights."""
    import torch
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    config = ASTConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        patch_size=16,
        frequency_stride=10,
        time_stride=10,
        max_length=1024,
        num_mel_bins=128,
        id2label={i: f"class {i}" for i in range(NUM_CLASSES)},
        label2id={f"class {i}": i for i in range(NUM_CLASSES)},
    )
    torch.manual_seed(seed)
    model = ASTForAudioClassification(config).eval()
    extractor = ASTFeatureExtractor(
        feature_size=1, sampling_rate=16000, num_mel_bins=128, max_length=1024, do_normalize=True
    )
    return model, extractor


def save_tiny_ast(folder: str | Path, seed: int = 0) -> Path:
    """Build the tiny AST and ``save_pretrained`` model and feature extractor into ``folder``."""
    folder = Path(folder)
    model, extractor = make_tiny_ast(seed=seed)
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return folder
