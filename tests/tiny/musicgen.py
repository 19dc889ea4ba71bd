"""Tiny random MusicGen and MusicGen-Melody checkpoints for the tests.

The models are the real transformers classes (``MusicgenForConditionalGeneration``,
``MusicgenMelodyForConditionalGeneration``) built from small configs, the way transformers'
own ``MusicgenTester`` does, and written with ``save_pretrained`` next to a T5 tokenizer whose
Unigram vocabulary is trained offline with the ``tokenizers`` library. The folders load back
through the production path, ``MusicGenGenerator.from_pretrained(folder)``.

The codec keeps the real 32 kHz EnCodec geometry (hop 640, 50 frames a second, 4 codebooks)
so that durations, frame counts and sample counts are those of ``facebook/musicgen-*``;
only the widths are tiny.

    from tiny.musicgen import build_tiny_musicgen
    path = build_tiny_musicgen(tmp_path / "musicgen", melody=False)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# Small enough to sample hundreds of steps a second on one core.
TINY_VOCAB = 64  # codebook size of the codec and of the decoder
TINY_HIDDEN = 32
SAMPLE_RATE = 32000

_CORPUS = [
    (
        "An uplifting and catchy pop track, blending bass, synthesizer, drums which is perfect for "
        "nostalgic and fun moments."
    ),
    "A calm ambient piece with soft piano and warm pads, slow tempo, in C major.",
    "Energetic electronic dance music with driving drums and a fast-paced tempo.",
    "A dark cinematic score with strings, brass and choir, tense and epic.",
    "Gentle acoustic folk with guitar and harp, peaceful and dreamy, medium tempo.",
    "Funky soul groove with electric piano, bass guitar and saxophone in A minor.",
    "Sad emotional ballad with cello and piano, melancholic mood with slow tempo.",
    "Playful jazz with walking bass, brushed drums and vibraphone, fun and upbeat.",
]


def train_t5_tokenizer(vocab_size: int = 160):
    """A ``T5Tokenizer`` whose Unigram vocabulary is trained on a few music descriptions."""
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import Unigram
    from tokenizers.trainers import UnigramTrainer
    from transformers import T5Tokenizer

    specials = ["<pad>", "</s>", "<unk>"]
    tokenizer = Tokenizer(Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>")
    tokenizer.train_from_iterator(_CORPUS * 4, trainer=trainer)
    vocab = [
        (piece, float(score)) for piece, score in json.loads(tokenizer.to_str())["model"]["vocab"]
    ]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=512)


def tiny_configs(melody: bool = False, num_layers: int = 2, frame_rate: int = 50):
    """(tokenizer, text encoder, codec, decoder) configs of a tiny MusicGen of the 32 kHz family.

    ``frame_rate`` 50 is encodec_32khz's (hop 640); 10 (hop 3200) makes long pieces cheap to
    sample in tests of the long-form logic.
    """
    ratios = {50: [8, 5, 4, 4], 10: [8, 5, 4, 4, 5]}
    if frame_rate not in ratios:
        raise ValueError(f"frame_rate must be one of {sorted(ratios)}, got {frame_rate}")
    from transformers import (
        EncodecConfig,
        MusicgenDecoderConfig,
        MusicgenMelodyDecoderConfig,
        T5Config,
    )

    tokenizer = train_t5_tokenizer()
    text = T5Config(
        vocab_size=len(tokenizer),
        d_model=24,  # != decoder hidden: exercises enc_to_dec_proj like musicgen-small (768 -> 1024)
        d_kv=8,
        d_ff=48,
        num_layers=2,
        num_heads=3,
        relative_attention_num_buckets=8,
        feed_forward_proj="relu",
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    codec = EncodecConfig(
        sampling_rate=SAMPLE_RATE,
        upsampling_ratios=ratios[frame_rate],
        # 4 codebooks: 1000 * bandwidth // (frame rate * log2(64)) == 4
        target_bandwidths=[1.2 if frame_rate == 50 else 0.24],
        codebook_size=TINY_VOCAB,
        codebook_dim=16,
        hidden_size=16,
        num_filters=4,
        num_lstm_layers=1,
        use_causal_conv=False,
        use_conv_shortcut=False,
        normalize=False,
    )
    decoder_cls = MusicgenMelodyDecoderConfig if melody else MusicgenDecoderConfig
    decoder = decoder_cls(
        vocab_size=TINY_VOCAB,
        hidden_size=TINY_HIDDEN,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        ffn_dim=64,
        num_codebooks=4,
        max_position_embeddings=512,
        pad_token_id=TINY_VOCAB,
        bos_token_id=TINY_VOCAB,
        dropout=0.1,  # nonzero like the real checkpoints: inference must run in eval mode
        # Wider than the 0.02 of real training inits, so that the text, the melody and the
        # seed visibly change the sampled codes of a random model.
        initializer_factor=0.2,
    )
    return tokenizer, text, codec, decoder


def fit_codebooks(codec, seed: int = 0) -> None:
    """Give EnCodec's residual codebooks vectors drawn from its own latents.

    transformers initialises the codebooks to zeros (they are learned by k-means in training),
    which would make every input encode to one code and every code decode to the same audio.
    Here each residual layer takes its vectors from the (residual) latents of a few random
    tones, chirps and noise, like a k-means initialisation, so that codes follow the input and
    the audio follows the codes.
    """
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    sr = codec.config.sampling_rate
    t = np.arange(sr) / sr
    signals = []
    for _ in range(12):
        freqs = 110.0 * 2 ** rng.uniform(0, 4, size=3)
        signals.append(sum(np.sin(2 * np.pi * f * t) for f in freqs) / 3)
    signals.append(np.sin(2 * np.pi * (100 + 1000 * t) * t))
    signals.extend(rng.standard_normal((3, sr)) * 0.3)
    audio = torch.from_numpy(np.stack(signals).astype(np.float32))[:, None]
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        residual = codec.encoder(audio).transpose(1, 2).reshape(-1, codec.config.codebook_dim)
        for layer in codec.quantizer.layers:
            book = layer.codebook
            pick = torch.randperm(residual.shape[0], generator=generator)[: book.embed.shape[0]]
            book.embed.copy_(residual[pick])
            book.embed_avg.copy_(book.embed)
            book.cluster_size.fill_(1.0)
            residual = residual - book.decode(book.encode(residual))


def build_tiny_musicgen(
    path: str | Path, melody: bool = False, seed: int = 0, num_layers: int = 2, frame_rate: int = 50
) -> Path:
    """Build a tiny random MusicGen (or MusicGen-Melody) and ``save_pretrained`` it to ``path``.

    The folder holds what a hub snapshot holds: ``config.json``, ``model.safetensors``,
    ``generation_config.json``, the tokenizer files and ``preprocessor_config.json``.
    Returns ``path``.
    """
    import torch
    from transformers import (
        EncodecFeatureExtractor,
        GenerationConfig,
        MusicgenConfig,
        MusicgenForConditionalGeneration,
        MusicgenMelodyConfig,
        MusicgenMelodyForConditionalGeneration,
        MusicgenProcessor,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer, text, codec, decoder = tiny_configs(
        melody=melody, num_layers=num_layers, frame_rate=frame_rate
    )
    torch.manual_seed(seed)
    if melody:
        config = MusicgenMelodyConfig(
            text_encoder=text, audio_encoder=codec, decoder=decoder, num_chroma=12, chroma_length=64
        )
        model = MusicgenMelodyForConditionalGeneration(config)
    else:
        config = MusicgenConfig(text_encoder=text, audio_encoder=codec, decoder=decoder)
        model = MusicgenForConditionalGeneration(config)
    fit_codebooks(model.audio_encoder, seed=seed)
    model.generation_config = GenerationConfig(
        do_sample=True,
        guidance_scale=3.0,
        top_k=250,
        max_length=1500,
        bos_token_id=TINY_VOCAB,
        pad_token_id=TINY_VOCAB,
        decoder_start_token_id=TINY_VOCAB,
    )
    model.save_pretrained(path)
    if melody:
        # MusicgenMelodyFeatureExtractor needs torchaudio to be instantiated; its config is plain
        # JSON, written here with the keys (and values) of facebook/musicgen-melody.
        tokenizer.save_pretrained(path)
        feature_config = {
            "feature_extractor_type": "MusicgenMelodyFeatureExtractor",
            "processor_class": "MusicgenMelodyProcessor",
            "feature_size": 12,
            "sampling_rate": SAMPLE_RATE,
            "hop_length": 4096,
            "n_fft": 16384,
            "num_chroma": 12,
            "chunk_length": 30,
            "padding_value": 0.0,
            "padding_side": "left",
            "return_attention_mask": False,
            "stem_indices": [3, 2],
        }
        (path / "preprocessor_config.json").write_text(json.dumps(feature_config, indent=2))
    else:
        extractor = EncodecFeatureExtractor(
            feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0
        )
        MusicgenProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(path)
    return path


# ---------------------------------------------------------------- pytest fixtures
# Import them into a test module (``from tiny.musicgen import tiny_musicgen_path, ...``) to use
# them; the checkpoints are built once per test session.


def _quiet_transformers() -> None:
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


@pytest.fixture(scope="session")
def tiny_musicgen_path(tmp_path_factory) -> Path:
    """A tiny random MusicGen checkpoint folder (50 codec frames per second)."""
    _quiet_transformers()
    return build_tiny_musicgen(tmp_path_factory.mktemp("tiny-musicgen") / "musicgen")


@pytest.fixture(scope="session")
def tiny_melody_path(tmp_path_factory) -> Path:
    """A tiny random MusicGen-Melody checkpoint folder."""
    _quiet_transformers()
    return build_tiny_musicgen(tmp_path_factory.mktemp("tiny-melody") / "melody", melody=True)


@pytest.fixture(scope="session")
def tiny_musicgen_10hz_path(tmp_path_factory) -> Path:
    """A tiny random MusicGen whose codec runs at 10 frames per second (cheap long pieces)."""
    _quiet_transformers()
    return build_tiny_musicgen(
        tmp_path_factory.mktemp("tiny-musicgen-10hz") / "musicgen", frame_rate=10
    )


@pytest.fixture
def one_torch_thread():
    """Run the test with one torch thread (tiny models are fastest so; restored afterwards)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
