"""A tiny random CLAP (``ClapModel`` + ``ClapProcessor``) saved with ``save_pretrained``.

The pattern of transformers' own tests: the real classes, small sizes, random weights. The
tokenizer is a Roberta-style byte-level BPE trained offline with ``tokenizers`` on the
vocabulary words, so captions tokenize into real sub-words. The feature extractor is the real
one (48 kHz, 64 mel bins, 10 s windows), so the audio path is exercised exactly as with
``laion/larger_clap_music``; only the transformer stacks are shrunk.

``save_tiny_clap(folder)`` writes a folder that ``ClapModel.from_pretrained`` /
``ClapProcessor.from_pretrained`` (and so ``vmb.retrieve.encoders.ClapEncoder``) load.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def _corpus() -> list[str]:
    from vmb.vocab import load_vocab

    vocab = load_vocab()
    words: list[str] = []
    for kind in ("genre", "mood", "instrument", "tempo", "mode"):
        for name, synonyms in vocab.table(kind).items():
            words.append(name)
            words.extend(synonyms)
    sentences = [
        "This is a piece of music.",
        "A calm piano track with a slow tempo in D minor.",
        "An uplifting and catchy pop track, blending bass, synthesizer, drums.",
        "A fast-paced jazz tune featuring saxophone and drums, in the style of swing.",
        "music with fast-paced tempo, in the style of rock, featuring electric guitar",
    ]
    return words + sentences


def make_tiny_tokenizer():
    """A ``RobertaTokenizerFast`` around a byte-level BPE trained here (vocabulary ~600)."""
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        _corpus(), vocab_size=600, min_frequency=1, special_tokens=SPECIAL_TOKENS
    )
    bpe.post_processor = RobertaProcessing(
        ("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>"))
    )
    return RobertaTokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=64,
    )


def make_tiny_clap(seed: int = 0, projection_dim: int = 32):
    """``(ClapModel, ClapProcessor)`` with random weights: 1-layer text stack, 2-stage HTSAT."""
    import torch
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        ClapTextConfig,
    )

    tokenizer = make_tiny_tokenizer()
    text_config = ClapTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=72,
        projection_dim=projection_dim,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    audio_config = ClapAudioConfig(
        num_mel_bins=64,
        spec_size=256,
        window_size=8,
        patch_size=4,
        patch_stride=(4, 4),
        patch_embeds_hidden_size=16,
        depths=(1, 1),
        num_attention_heads=(2, 2),
        hidden_size=32,
        projection_dim=projection_dim,
        enable_fusion=False,
    )
    config = ClapConfig(
        text_config=text_config.to_dict(),
        audio_config=audio_config.to_dict(),
        projection_dim=projection_dim,
    )
    torch.manual_seed(seed)
    model = ClapModel(config).eval()
    feature_extractor = ClapFeatureExtractor(
        feature_size=64,
        sampling_rate=48000,
        max_length_s=10,
        truncation="rand_trunc",
        padding="repeatpad",
    )
    processor = ClapProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer)
    return model, processor


def save_tiny_clap(folder: str | Path, seed: int = 0) -> Path:
    """Build the tiny CLAP and ``save_pretrained`` model and processor into ``folder``."""
    folder = Path(folder)
    model, processor = make_tiny_clap(seed=seed)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
