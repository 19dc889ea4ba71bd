"""Loading a MusicGen[-Melody] checkpoint through :func:`vmb.hub.load_pretrained`: the
config, the model, the T5 tokenizer and (MusicGen-Melody) the chroma settings."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from vmb.errors import ConfigError, ModelUnavailable

if TYPE_CHECKING:
    from vmb.generate.musicgen.chroma import ChromaExtractor

logger = logging.getLogger(__name__)

MODEL_TYPES = ("musicgen", "musicgen_melody")
BUILTIN_HINT = "use the offline profile instead: --profile builtin"


def missing_hint(name: str) -> str:
    """What to do when the weights of ``name`` are missing: download them (a hub id), or use
    the built-in generator."""
    from vmb.hub import local_folder

    if local_folder(name) is not None:
        return BUILTIN_HINT
    return f"download it where there is network (huggingface-cli download {name}) or {BUILTIN_HINT}"


def load_checkpoint(name: str) -> tuple[Any, Any, ChromaExtractor | None, list[str]]:
    """Model (float32, eval), tokenizer and (melody) chroma extractor of a checkpoint, and
    notes on what loading did.

    Raises:
        ModelUnavailable: the weights are neither in the folder, the cache nor downloadable.
        ConfigError: the checkpoint is not MusicGen.
    """
    import torch
    from transformers import (
        AutoConfig,
        AutoTokenizer,
        MusicgenForConditionalGeneration,
        MusicgenMelodyForConditionalGeneration,
    )

    from vmb.hub import load_pretrained, quiet_transformers

    quiet_transformers()
    hint = missing_hint(name)
    config = load_pretrained(AutoConfig.from_pretrained, name, hint=hint)
    if config.model_type not in MODEL_TYPES:
        raise ConfigError(
            f"{name}: a {config.model_type!r} checkpoint, not MusicGen ({', '.join(MODEL_TYPES)})"
        )
    melody = config.model_type == "musicgen_melody"
    model_class = (
        MusicgenMelodyForConditionalGeneration if melody else MusicgenForConditionalGeneration
    )
    model = load_pretrained(model_class.from_pretrained, name, hint=hint, dtype=torch.float32)
    tokenizer = load_pretrained(AutoTokenizer.from_pretrained, name, hint=hint)
    chroma, notes = None, []
    if melody:
        from transformers.feature_extraction_utils import FeatureExtractionMixin

        from vmb.generate.musicgen.chroma import ChromaExtractor

        try:
            data, _ = load_pretrained(
                FeatureExtractionMixin.get_feature_extractor_dict, name, hint=hint
            )
            chroma = ChromaExtractor.from_dict(data)
        except ModelUnavailable:
            chroma = ChromaExtractor()
            notes.append(
                f"{name} has no preprocessor_config.json: MusicGen-Melody's chroma defaults"
            )
            logger.warning("%s", notes[-1])
    return model.eval(), tokenizer, chroma, notes


__all__ = ["BUILTIN_HINT", "MODEL_TYPES", "load_checkpoint", "missing_hint"]
