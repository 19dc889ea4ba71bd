"""The last stage of rendering: exact length, loudness normalisation, a peak limiter and fades.

Loudness is the RMS level in dBFS of the louder half of the 400 ms blocks (a gate that keeps the
silence of the ending out of the measurement, in the spirit of EBU R128's relative gate). The
limiter is a look-ahead gain computer on 5 ms blocks (see :func:`limit`): the gain starts to
fall a block *before* a peak and the ceiling is guaranteed. numpy only.
"""

from __future__ import annotations

import numpy as np

CEILING_DB = -1.0
BLOCK_S = 0.4


def loudness_db(audio: np.ndarray, sr: int) -> float:
    """Gated RMS level of ``audio`` ``[C, T]`` in dBFS (-inf for silence).

    Power is averaged over the channels, not taken of a mono mix-down (wide stereo voices
    would partly cancel in one).
    """
    power = np.mean(np.square(np.atleast_2d(audio), dtype=np.float64), axis=0)
    n = max(1, int(BLOCK_S * sr))
    blocks = len(power) // n
    if blocks == 0:
        ms = np.array([np.mean(power)]) if len(power) else np.zeros(1)
    else:
        ms = np.mean(power[: blocks * n].reshape(blocks, n), axis=1)
    loud = np.sort(ms)[len(ms) // 2:]
    level = float(np.mean(loud))
    return -np.inf if level <= 0 else 10.0 * np.log10(level)


def limit(audio: np.ndarray, sr: int, ceiling_db: float = CEILING_DB, lookahead_s: float = 0.005) -> np.ndarray:
    """Peak-limit ``[C, T]`` so no sample exceeds ``ceiling_db`` dBFS.

    The gain is computed on blocks of ``lookahead_s``: each block's needed gain (ceiling over
    its peak) is min-filtered with its neighbours, then interpolated linearly to the samples, so
    every sample gets a gain no larger than its own block needs and the gain moves smoothly.
    """
    ceiling = 10.0 ** (ceiling_db / 20.0)
    peak = np.max(np.abs(audio), axis=0)
    if peak.size == 0 or peak.max() <= ceiling:
        return audio
    w = max(1, int(lookahead_s * sr))
    n_blocks = -(-len(peak) // w)
    padded = np.zeros(n_blocks * w, peak.dtype)
    padded[: len(peak)] = peak
    need = np.minimum(1.0, ceiling / np.maximum(padded.reshape(n_blocks, w).max(axis=1), 1e-12))
    need = np.minimum(need, np.minimum(np.r_[need[1:], 1.0], np.r_[1.0, need[:-1]]))
    centres = (np.arange(n_blocks) + 0.5) * w
    gain = np.interp(np.arange(len(peak)), centres, need).astype(audio.dtype)
    return np.clip(audio * gain[None, :], -ceiling, ceiling)


def master(audio: np.ndarray, sr: int, num_samples: int | None = None, target_db: float = -16.0,
           fade_in_s: float = 0.005, fade_out_s: float = 0.05) -> np.ndarray:
    """Exact length, stereo, normalised to ``target_db``, limited, faded: ``[2, num_samples]`` float32.

    ``audio`` is ``[C, T]`` (mono is duplicated). ``num_samples`` pads with silence or cuts;
    ``None`` keeps the length.
    """
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.shape[0] == 1:
        x = np.repeat(x, 2, axis=0)
    x = x[:2]
    if num_samples is not None:
        if x.shape[1] >= num_samples:
            x = x[:, :num_samples]
        else:
            x = np.pad(x, ((0, 0), (0, num_samples - x.shape[1])))
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    level = loudness_db(x, sr)
    if np.isfinite(level):
        x = x * np.float32(10.0 ** ((target_db - level) / 20.0))
    x = limit(x, sr)
    n_in = min(x.shape[1], int(fade_in_s * sr))
    n_out = min(x.shape[1], int(fade_out_s * sr))
    if n_in:
        x[:, :n_in] *= np.linspace(0.0, 1.0, n_in, dtype=np.float32)
    if n_out:
        x[:, -n_out:] *= np.linspace(1.0, 0.0, n_out, dtype=np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)
