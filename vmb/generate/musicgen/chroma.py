"""Chroma features for MusicGen-Melody, in torch, without torchaudio.

transformers' ``MusicgenMelodyFeatureExtractor`` needs torchaudio (for its spectrogram and its
resampler), which has no wheel matching the CPU torch used here. This module computes the same
features with ``torch.stft`` and ``soxr``:

1. mix down to mono (mean over channels) and resample to the extractor's rate (32 kHz),
2. keep at most ``chunk_length`` seconds (the extractor truncates to 30 s),
3. centre-pad to ``n_fft`` samples when shorter,
4. power spectrogram: Hann window of ``n_fft`` = 16384, hop 4096, ``center=True`` with
   reflect padding, ``|X|² / Σ w²`` (torchaudio's ``Spectrogram(power=2, normalized=True)``),
5. project onto 12 pitch classes with librosa's chroma filter bank (Gaussian bumps per
   semitone, octave weighting centred 5 octaves above C0 ± 2, starting at C),
6. normalise each frame by its maximum, then keep only the loudest pitch class as a one-hot
   vector (the extractor's argmax normalisation).

The result has shape ``[B, F, 12]`` with ``F = 1 + T // hop`` frames for ``T`` samples at 32 kHz,
which is what ``MusicgenMelodyForConditionalGeneration`` takes as ``input_features``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


def chroma_filter_bank(
    sample_rate: int,
    n_fft: int,
    num_chroma: int = 12,
    tuning: float = 0.0,
    center_octave: float = 5.0,
    octave_width: float = 2.0,
):
    """librosa's chroma filter bank as a float64 torch tensor ``[num_chroma, n_fft // 2 + 1]``.

    Row 0 is C. Each FFT bin spreads over the pitch classes with a Gaussian one semitone wide,
    columns are L2-normalised, and bins are weighted by a Gaussian over octaves centred
    ``center_octave`` octaves above C0 with half-width ``octave_width``.
    """
    import torch

    freqs = torch.arange(1, n_fft, dtype=torch.float64) * (sample_rate / n_fft)
    a440 = 440.0 * 2.0 ** (tuning / num_chroma)
    bins = num_chroma * torch.log2(freqs / (a440 / 16))
    # The 0 Hz bin gets a made-up value 1.5 octaves below bin 1 (librosa's convention).
    bins = torch.cat([bins[:1] - 1.5 * num_chroma, bins])
    widths = torch.cat(
        [torch.clamp(bins[1:] - bins[:-1], min=1.0), torch.ones(1, dtype=torch.float64)]
    )

    offsets = bins[None, :] - torch.arange(num_chroma, dtype=torch.float64)[:, None]
    half = float(round(num_chroma / 2))
    offsets = torch.remainder(offsets + half + 10 * num_chroma, num_chroma) - half
    filters = torch.exp(-0.5 * (2 * offsets / widths[None, :]) ** 2)
    filters = filters / torch.sqrt(torch.sum(filters**2, dim=0, keepdim=True))
    filters = (
        filters
        * torch.exp(-0.5 * ((bins / num_chroma - center_octave) / octave_width) ** 2)[None, :]
    )
    filters = torch.roll(filters, -3 * (num_chroma // 12), dims=0)  # start at C, not A
    return filters[:, : n_fft // 2 + 1].contiguous()


@dataclass
class ChromaExtractor:
    """MusicGen-Melody's chroma features; same parameters as ``MusicgenMelodyFeatureExtractor``.

    ``extractor(audio, sample_rate)`` takes ``[T]``, ``[C, T]`` (one clip, channels mixed down) or a
    list of those, at any sample rate, and returns one-hot chroma ``[B, F, num_chroma]`` float32.
    """

    sampling_rate: int = 32000
    n_fft: int = 16384
    hop_length: int = 4096
    num_chroma: int = 12
    chunk_length: int = 30

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChromaExtractor:
        """From a ``preprocessor_config.json`` mapping of a MusicGen-Melody checkpoint."""
        names = ("sampling_rate", "n_fft", "hop_length", "num_chroma", "chunk_length")
        return cls(**{k: int(data[k]) for k in names if data.get(k) is not None})

    @property
    def frame_rate(self) -> float:
        """Chroma frames per second (7.8125 for 32 kHz and hop 4096)."""
        return self.sampling_rate / self.hop_length

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for ``num_samples`` samples at :attr:`sampling_rate`."""
        num_samples = min(num_samples, self.chunk_length * self.sampling_rate)
        return 1 + max(num_samples, self.n_fft) // self.hop_length

    def prepare(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Mono float32 ``[T]`` at :attr:`sampling_rate`, at most ``chunk_length`` seconds."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 2:
            audio = audio.mean(axis=0)
        elif audio.ndim != 1:
            raise ValueError(f"audio must be [T] or [C, T], got shape {tuple(audio.shape)}")
        if sample_rate != self.sampling_rate:
            import soxr

            audio = soxr.resample(audio, sample_rate, self.sampling_rate, quality="HQ").astype(
                np.float32
            )
        return audio[: self.chunk_length * self.sampling_rate]

    def power_spectrogram(self, waveform):
        """``[B, T]`` float32 -> ``[B, n_fft // 2 + 1, F]``, torchaudio's normalised power spectrogram."""
        import torch

        length = waveform.shape[-1]
        if length < self.n_fft:
            pad = self.n_fft - length
            waveform = torch.nn.functional.pad(waveform, (pad // 2, pad // 2 + pad % 2))
        window = torch.hann_window(self.n_fft, dtype=waveform.dtype, device=waveform.device)
        spec = torch.stft(
            waveform,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.n_fft,
            window=window,
            center=True,
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        return spec.abs().pow(2) / window.pow(2).sum()

    def raw_chroma(self, waveform):
        """``[B, T]`` at :attr:`sampling_rate` -> energy per pitch class ``[B, num_chroma, F]``."""
        import torch

        filters = chroma_filter_bank(self.sampling_rate, self.n_fft, self.num_chroma)
        spec = self.power_spectrogram(waveform)
        return torch.einsum("cf,bft->bct", filters.to(spec.dtype), spec)

    def __call__(self, audio, sample_rate: int):
        import torch

        clips = audio if isinstance(audio, (list, tuple)) else [audio]
        prepared = [self.prepare(np.asarray(clip), sample_rate) for clip in clips]
        if any(p.size == 0 for p in prepared):
            raise ValueError("cannot compute the chroma of empty audio")
        longest = max(p.shape[-1] for p in prepared)
        # Batched clips are right-padded with silence, as the extractor's `pad` does.
        batch = torch.zeros(len(prepared), longest, dtype=torch.float32)
        for i, p in enumerate(prepared):
            batch[i, : p.shape[-1]] = torch.from_numpy(p)
        raw = self.raw_chroma(batch)
        norm = torch.nn.functional.normalize(raw, p=math.inf, dim=-2, eps=1e-6).transpose(1, 2)
        one_hot = torch.zeros_like(norm)
        one_hot.scatter_(-1, norm.argmax(-1, keepdim=True), 1.0)
        return one_hot
