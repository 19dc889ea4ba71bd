"""ASTFeatureExtractor's fbank without torchaudio (transformers' numpy path, which vmb uses:
torchaudio does not work with vmb's torch) against an independent Kaldi fbank written here
from Kaldi's definition (feat/feature-fbank.cc, mel-computations.cc)."""

from __future__ import annotations

import numpy as np

SR = 16000
FRAME, SHIFT, NFFT, MELS = 400, 160, 512, 128


def kaldi_fbank(wave: np.ndarray) -> np.ndarray:
    """Kaldi fbank ``[F, 128]``: snip edges, DC removal, pre-emphasis 0.97, Hanning (symmetric)
    window, power spectrum of a 512-point FFT, 128 triangular mel bins 20 Hz–8 kHz on Kaldi's
    mel scale, natural log floored at float32 epsilon; no dither."""
    num = 1 + (len(wave) - FRAME) // SHIFT
    frames = np.stack([wave[i * SHIFT : i * SHIFT + FRAME] for i in range(num)]).astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    emphasised = frames.copy()
    emphasised[:, 1:] -= 0.97 * frames[:, :-1]
    emphasised[:, 0] -= 0.97 * frames[:, 0]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / (FRAME - 1))
    power = np.abs(np.fft.rfft(emphasised * window, n=NFFT, axis=1)) ** 2  # [F, 257]

    def mel(f):
        return 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)

    low, high = mel(20.0), mel(SR / 2)
    delta = (high - low) / (MELS + 1)
    bin_mel = mel(np.arange(NFFT // 2) * SR / NFFT)
    banks = np.zeros((MELS, NFFT // 2 + 1))
    for m in range(MELS):
        left, centre, right = low + m * delta, low + (m + 1) * delta, low + (m + 2) * delta
        up = (bin_mel - left) / (centre - left)
        down = (right - bin_mel) / (right - centre)
        banks[m, : NFFT // 2] = np.maximum(0.0, np.minimum(up, down)) * ((bin_mel > left) & (bin_mel < right))
    energies = power @ banks.T
    return np.log(np.maximum(energies, np.finfo(np.float32).eps))


def test_ast_extractor_fbank_matches_an_independent_kaldi_fbank():
    from transformers import ASTFeatureExtractor
    from transformers.utils import is_speech_available

    assert not is_speech_available()  # the numpy path is the one vmb runs
    rng = np.random.default_rng(0)
    t = np.arange(SR * 2) / SR
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    expected = kaldi_fbank(wave)
    extractor = ASTFeatureExtractor(sampling_rate=SR, num_mel_bins=MELS, max_length=expected.shape[0], do_normalize=False)
    got = extractor(wave, sampling_rate=SR, return_tensors="np")["input_values"][0]
    assert got.shape == expected.shape
    loud = expected > np.log(1e-3)  # compare where there is energy (the log floor differs by round-off)
    assert np.abs(got - expected)[loud].max() < 1e-2
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > 0.9999
