"""The torch chroma against transformers' MusicgenMelodyFeatureExtractor.

The extractor cannot be instantiated without torchaudio, so the checks are:
- the filter bank equals ``transformers.audio_utils.chroma_filter_bank`` (the extractor's),
- the extractor's own ``_torch_extract_fbank_features`` (normalisation, argmax, one-hot), fed a
  spectrogram computed independently in numpy by the definition of torchaudio's
  ``Spectrogram(n_fft=16384, hop_length=4096, power=2, center=True, normalized=True)``,
  gives the same features as :class:`ChromaExtractor`,
- pure tones land on their pitch class at 16, 32, 44.1 and 48 kHz.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vmb.generate.musicgen.chroma import ChromaExtractor, chroma_filter_bank

PITCHES = {"C": 0, "C#": 1, "D": 2, "E": 4, "F#": 6, "G": 7, "A": 9, "B": 11}


def midi_hz(midi: int) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def sine(freq: float, seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def numpy_power_spectrogram(wave: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """torchaudio's Spectrogram(power=2, normalized=True, center=True, reflect) in numpy."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    padded = np.pad(wave.astype(np.float64), (n_fft // 2, n_fft // 2), mode="reflect")
    frames = 1 + (len(padded) - n_fft) // hop
    spec = np.stack(
        [np.fft.rfft(padded[i * hop : i * hop + n_fft] * window) for i in range(frames)], axis=1
    )
    return np.abs(spec) ** 2 / np.sum(window**2)


def test_filter_bank_equals_transformers():
    from transformers.audio_utils import chroma_filter_bank as reference

    for sr in (32000, 44100):
        ours = chroma_filter_bank(sr, 16384, 12).numpy()
        theirs = reference(num_frequency_bins=16384, num_chroma=12, sampling_rate=sr, tuning=0)
        assert ours.shape == theirs.shape == (12, 16384 // 2 + 1)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_spectrogram_matches_torchaudio_definition():
    extractor = ChromaExtractor()
    wave = np.random.default_rng(0).standard_normal(3 * 32000).astype(np.float32) * 0.1
    ours = extractor.power_spectrogram(torch.from_numpy(wave)[None])[0].double().numpy()
    theirs = numpy_power_spectrogram(wave, extractor.n_fft, extractor.hop_length)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-6 * theirs.max())


def test_features_equal_the_extractors_own_code():
    from transformers.audio_utils import chroma_filter_bank as reference
    from transformers.models.musicgen_melody.feature_extraction_musicgen_melody import (
        MusicgenMelodyFeatureExtractor,
    )

    # The extractor minus torchaudio: its attributes, and a numpy spectrogram in place of
    # torchaudio.transforms.Spectrogram.
    extractor = object.__new__(MusicgenMelodyFeatureExtractor)
    extractor.n_fft, extractor.hop_length = 16384, 4096
    extractor.chroma_filters = torch.from_numpy(
        reference(sampling_rate=32000, num_frequency_bins=16384, tuning=0, num_chroma=12)
    ).float()
    extractor.spectrogram = lambda w: torch.from_numpy(
        np.stack([numpy_power_spectrogram(x, 16384, 4096) for x in w.numpy()])
    ).float()

    rng = np.random.default_rng(1)
    t = np.arange(4 * 32000) / 32000
    # a melody of changing notes over noise, so that frames disagree about the loudest class
    notes = np.repeat([60, 64, 67, 71, 62, 65, 69, 72], 16000)
    wave = 0.4 * np.sin(2 * np.pi * np.cumsum(440.0 * 2 ** ((notes - 69) / 12)) / 32000)
    wave = (wave + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    short = wave[:5000]  # shorter than n_fft: both pad to n_fft
    for clip in (wave, short):
        theirs = extractor._torch_extract_fbank_features(torch.from_numpy(clip)[None])
        ours = ChromaExtractor()(clip, 32000)
        assert ours.shape == theirs.shape
        assert torch.equal(ours, theirs)


@pytest.mark.parametrize("sr", [16000, 32000, 44100, 48000])
@pytest.mark.parametrize("name,midi", [("C", 60), ("E", 64), ("F#", 66), ("A", 69), ("B", 71)])
def test_pure_tone_lands_on_its_pitch_class(sr, name, midi):
    chroma = ChromaExtractor()(sine(midi_hz(midi), 2.0, sr), sr)
    assert chroma.shape == (1, ChromaExtractor().num_frames(64000), 12)
    assert torch.all(chroma.sum(-1) == 1)  # one-hot
    classes = chroma[0].argmax(-1)
    assert torch.all(classes == PITCHES[name]), classes.tolist()


def test_stereo_is_mixed_down_and_long_audio_truncated():
    extractor = ChromaExtractor()
    left = sine(midi_hz(67), 35.0, 44100)  # G, longer than the 30 s the extractor keeps
    stereo = np.stack([left, left])
    chroma = extractor(stereo, 44100)
    assert chroma.shape == (1, 1 + 30 * 32000 // 4096, 12)
    assert torch.all(chroma[0].argmax(-1) == PITCHES["G"])


def test_batch_and_config_round_trip():
    extractor = ChromaExtractor.from_dict(
        {
            "sampling_rate": 32000,
            "n_fft": 16384,
            "hop_length": 4096,
            "chunk_length": 30,
            "feature_size": 12,
        }
    )
    assert extractor == ChromaExtractor()
    assert extractor.frame_rate == pytest.approx(7.8125)
    batch = extractor([sine(midi_hz(60), 1.0, 32000), sine(midi_hz(69), 2.0, 32000)], 32000)
    assert batch.shape[0] == 2
    assert batch[0, 0].argmax() == PITCHES["C"] and batch[1, 0].argmax() == PITCHES["A"]


def test_empty_audio_is_refused():
    with pytest.raises(ValueError, match="empty"):
        ChromaExtractor()(np.zeros(0, dtype=np.float32), 32000)
