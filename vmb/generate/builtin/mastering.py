"""The last stage of rendering, like a release master: exact length, DC removed, integrated
loudness to a target (ITU-R BS.1770-4 / EBU R128, default -14 LUFS), true peak limited to
-1 dBTP (4x oversampled), short fades. numpy only (:mod:`.filters`): no scipy on the generate
path.

Everything after the DC filter is one gain curve ``g[t]`` computed on the mix; stems get the
same filter and the same curve, so they still sum to the mix. A loop is treated as circular:
the tail rendered past its end is folded back onto its start, and the DC filter runs in its
steady state around the seam.

``loudness_db`` (a gated RMS level) stays for level comparisons between instruments.
"""

from __future__ import annotations

import functools

import numpy as np

from vmb.generate.builtin.filters import (
    butter2_highpass,
    fir_filter,
    iir_filter,
    k_weighting,
    lowpass_fir,
)

CEILING_DBTP = -1.0
TARGET_LUFS = -14.0
BLOCK_S = 0.4
BLOCK_OVERLAP = 0.75  # BS.1770-4: 400 ms gating blocks every 100 ms
ABSOLUTE_GATE_LUFS = -70.0
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs
HIGHPASS_HZ = 20.0
OVERSAMPLE = 4
TAPS_PER_PHASE = 12
HEADROOM = 0.97  # the limiter aims 0.26 dB under the ceiling: meters with longer filters read a
# little higher between samples than the 48-tap interpolator


def loudness_db(audio: np.ndarray, sr: int) -> float:
    """Gated RMS level of ``audio`` ``[C, T]`` in dBFS (-inf for silence): the mean power of
    the louder half of the 400 ms blocks, averaged over channels."""
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


def integrated_lufs(audio: np.ndarray, sr: int) -> float:
    """Integrated loudness (LUFS) of ``[C, T]`` (up to 5 channels, BS.1770 order L, R, C, Ls,
    Rs): ITU-R BS.1770-4 K-weighting, 400 ms blocks every 100 ms, the -70 LUFS absolute and
    -10 LU relative gates. Clips shorter than one block are measured as one block of the same
    sound repeated. ``-inf`` for silence.

    The measurement pyloudnorm's default meter makes, in numpy (:mod:`.filters`; pyloudnorm
    imports scipy.signal, 0.7 s of a fresh process): the same filter coefficients, the
    K-weighted signal kept in the input's float dtype after each stage as pyloudnorm keeps it,
    the same block sums (tested against pyloudnorm itself, which stays the independent meter
    of the tests and ``vmb eval``).
    """
    x = np.atleast_2d(np.asarray(audio))
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    if x.shape[1] < int(BLOCK_S * sr) + 1:
        reps = int(np.ceil((BLOCK_S * sr + 1) / max(1, x.shape[1])))
        x = np.tile(x, (1, reps))  # a steady short sound, measured as if it lasted one block
    if not np.any(x):
        return -np.inf
    weighted = x
    for stage in k_weighting(sr):
        weighted = iir_filter(weighted, [stage], dtype=x.dtype)
    weighted = np.ascontiguousarray(weighted.T)  # [T, C]: pyloudnorm's layout, its block sums
    channels, n = x.shape
    step = 1.0 - BLOCK_OVERLAP
    blocks = int(np.round((n / sr - BLOCK_S) / (BLOCK_S * step))) + 1
    z = np.zeros((channels, blocks))  # the mean square of each channel in each block
    for j in range(blocks):
        lo, hi = int(BLOCK_S * (j * step) * sr), int(BLOCK_S * (j * step + 1) * sr)
        for c in range(channels):
            z[c, j] = (1.0 / (BLOCK_S * sr)) * np.sum(np.square(weighted[lo:hi, c]))
    weights = np.array(CHANNEL_WEIGHTS[:channels])[:, None]
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(np.sum(weights * z, axis=0))
    gated = block_lufs >= ABSOLUTE_GATE_LUFS
    if not gated.any():
        return -np.inf
    relative_gate = -0.691 + 10.0 * np.log10(np.sum(weights[:, 0] * z[:, gated].mean(axis=1))) - 10.0
    gated = (block_lufs > relative_gate) & (block_lufs > ABSOLUTE_GATE_LUFS)
    if not gated.any():
        return -np.inf
    return float(-0.691 + 10.0 * np.log10(np.sum(weights[:, 0] * z[:, gated].mean(axis=1))))


@functools.lru_cache(maxsize=1)
def _interpolator() -> np.ndarray:
    """The 4x oversampling interpolator, ``[OVERSAMPLE, TAPS_PER_PHASE]``: a 48-tap windowed-sinc
    low-pass at the original Nyquist split into its polyphase components (the structure of the
    ITU-R BS.1770-4 Annex 2 true-peak meter)."""
    h = lowpass_fir(OVERSAMPLE * TAPS_PER_PHASE, 1.0 / OVERSAMPLE) * OVERSAMPLE
    return np.stack([h[k::OVERSAMPLE] for k in range(OVERSAMPLE)])


def true_peak_envelope(audio: np.ndarray, floor: float = 0.0, sample_peaks: np.ndarray | None = None) -> np.ndarray:
    """Per-sample true peak ``[T]``: the largest magnitude over the channels of the signal and
    of its 4x polyphase interpolation between each sample and the next.

    With ``floor`` > 0 the interpolation is only computed where it can reach ``floor`` (the
    sample peaks near it times the interpolator's gain bound); elsewhere the envelope is the
    sample peak, which is then below ``floor`` as the true peak is (callers that only compare
    the envelope with a level of at least ``floor`` get the same answer, faster).
    """
    x = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    env = sample_peak_envelope(x) if sample_peaks is None else sample_peaks.copy()
    if floor <= 0:
        _interpolated_peaks(x, env, 0, x.shape[1])
        return env
    n = len(env)
    blocks = -(-n // PEAK_BLOCK)
    padded = np.zeros(blocks * PEAK_BLOCK)
    padded[:n] = env
    block_max = padded.reshape(blocks, PEAK_BLOCK).max(axis=1)
    # an interpolated point depends on the TAPS_PER_PHASE samples around it: a block's
    # neighbours count too
    near = np.maximum(block_max, np.maximum(np.r_[block_max[1:], 0.0], np.r_[0.0, block_max[:-1]]))
    wanted = near * _interpolator_bound() >= floor
    if not wanted.any():
        return env
    edges = np.flatnonzero(np.diff(np.r_[0, wanted.astype(np.int8), 0]))
    for b0, b1 in zip(edges[::2], edges[1::2]):
        _interpolated_peaks(x, env, int(b0) * PEAK_BLOCK, min(n, int(b1) * PEAK_BLOCK))
    return env


def sample_peak_envelope(x: np.ndarray) -> np.ndarray:
    """The largest magnitude over the channels of ``[C, T]``, per sample ``[T]`` (float64)."""
    env = np.abs(x[0]).astype(np.float64)
    for ch in x[1:]:
        np.maximum(env, np.abs(ch), out=env)
    return env


PEAK_BLOCK = 256  # samples: the granularity at which true peaks are computed only where needed


@functools.lru_cache(maxsize=1)
def _interpolator_bound() -> float:
    """The largest magnitude any interpolated point can have for samples within [-1, 1]."""
    return float(np.abs(_interpolator()).sum(axis=1).max())


def _interpolated_peaks(x: np.ndarray, env: np.ndarray, start: int, stop: int) -> None:
    """Raise ``env[start:stop]`` to the interpolated peaks between samples ``start..stop``."""
    delay = TAPS_PER_PHASE // 2  # the interpolated points lag the input by about this many samples
    lo = max(0, start - TAPS_PER_PHASE)  # the filter starts early enough to be settled at start
    hi = min(x.shape[1], stop + delay)
    seg = x[:, lo:hi]
    for phase in _interpolator()[1:]:
        y = np.abs(fir_filter(phase.astype(np.float32), seg)).max(axis=0)
        # y[i + delay] is the point after sample lo + i
        a, b = start - lo, min(stop, hi - delay) - lo
        if b > a:
            env[lo + a: lo + b] = np.maximum(env[lo + a: lo + b], y[a + delay: b + delay])


def true_peak_dbtp(audio: np.ndarray) -> float:
    """The true peak of ``[C, T]`` in dBTP."""
    peak = float(true_peak_envelope(audio).max(initial=0.0))
    return -np.inf if peak <= 0 else 20.0 * np.log10(peak)


def limiter_gain(peak: np.ndarray, sr: int, ceiling: float, lookahead_s: float = 0.005) -> np.ndarray:
    """Gain ``[T]`` so that ``peak * gain <= ceiling``: each block of ``lookahead_s`` gets the
    gain its own peak needs, min-filtered with its neighbours and interpolated linearly, so the
    gain starts to fall a block before a peak and moves smoothly."""
    if peak.size == 0:
        return np.ones(0, np.float64)
    w = max(1, int(lookahead_s * sr))
    n_blocks = -(-len(peak) // w)
    full = len(peak) // w
    block_max = np.empty(n_blocks, np.float64)
    block_max[:full] = peak[: full * w].reshape(full, w).max(axis=1)
    if n_blocks > full:
        block_max[full:] = peak[full * w:].max()
    if block_max.max() <= ceiling:
        return np.ones(len(peak), np.float64)
    need = np.minimum(1.0, ceiling / np.maximum(block_max, 1e-12))
    need = np.minimum(need, np.minimum(np.r_[need[1:], 1.0], np.r_[1.0, need[:-1]]))
    centres = (np.arange(n_blocks) + 0.5) * w
    return np.interp(np.arange(len(peak)), centres, need)


def limit(audio: np.ndarray, sr: int, ceiling_db: float = CEILING_DBTP, lookahead_s: float = 0.005) -> np.ndarray:
    """Sample-peak limit ``[C, T]`` to ``ceiling_db`` dBFS (kept for callers of the old API)."""
    ceiling = 10.0 ** (ceiling_db / 20.0)
    gain = limiter_gain(np.max(np.abs(audio), axis=0), sr, ceiling, lookahead_s).astype(audio.dtype)
    return np.clip(audio * gain[None, :], -ceiling, ceiling)


def _fit(x: np.ndarray, num_samples: int | None, loop: bool) -> np.ndarray:
    """``[C, T]`` → ``[2, num_samples]``: mono doubled, padded or cut; a loop's tail (the
    release and reverb rendered past the end) is added back onto its start."""
    x = np.asarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    if x.ndim == 1:
        x = x[None, :]
    if x.shape[0] == 1:
        x = np.repeat(x, 2, axis=0)
    x = x[:2]
    if num_samples is None:
        return x
    if loop and x.shape[1] > num_samples > 0:
        out = np.zeros((2, num_samples), np.float32)
        for start in range(0, x.shape[1], num_samples):
            seg = x[:, start: start + num_samples]
            out[:, : seg.shape[1]] += seg
        return out
    if x.shape[1] >= num_samples:
        return x[:, :num_samples]
    return np.pad(x, ((0, 0), (0, num_samples - x.shape[1])))


def remove_dc(x: np.ndarray, sr: int, loop: bool = False) -> np.ndarray:
    """2nd-order Butterworth high-pass at :data:`HIGHPASS_HZ` ``[C, T]`` (computed in float64,
    the pole sits 0.3 % from the unit circle; returned float32); a loop is filtered in its
    steady state across the seam."""
    return iir_filter(x, [butter2_highpass(HIGHPASS_HZ, sr)], periodic=loop, dtype=np.float32)


def mastering_gain(x: np.ndarray, sr: int, target_lufs: float, ceiling_dbtp: float) -> np.ndarray:
    """The gain curve ``[T]`` that brings ``x`` to ``target_lufs`` with its true peak at most
    ``ceiling_dbtp``: a loudness gain, a true-peak limiter, then one loudness correction for
    what limiting took away (limited again), and a final scale if any true peak remains (with
    :data:`HEADROOM` under the ceiling)."""
    ceiling = 10.0 ** (ceiling_dbtp / 20.0)
    n = x.shape[1]
    level = integrated_lufs(x, sr)
    if not np.isfinite(level):
        return np.ones(n)
    g0 = 10.0 ** ((target_lufs - level) / 20.0)
    # the gain moves slowly: the peaks of x * g are peaks * g. True peaks are interpolated only
    # where they could reach the limiter's threshold at the highest gain used so far
    limit_at = ceiling * HEADROOM
    sample_peaks = sample_peak_envelope(x)
    peaks = true_peak_envelope(x, floor=limit_at / g0, sample_peaks=sample_peaks)
    limited = limiter_gain(peaks, sr, limit_at / g0)  # the limiter on peaks * g0
    # what limiting took from the loudness: the power-weighted mean of the limiter's gain
    power = np.einsum("ct,ct->t", x, x, dtype=np.float64)
    total = float(power.sum())
    now = target_lufs + (10.0 * np.log10(float(np.dot(power, limited * limited)) / total) if total > 0 else 0.0)
    del power
    gain = limited
    gain *= g0
    if abs(now - target_lufs) >= 0.3:
        lift = 10.0 ** ((target_lufs - now) / 20.0)
        # a higher gain: points that could not reach the threshold before may now
        peaks = true_peak_envelope(x, floor=limit_at / (g0 * lift), sample_peaks=sample_peaks)
        gain *= lift
        gain *= limiter_gain(peaks * gain, sr, limit_at)
    # the gain changes by well under 0.01 dB over the interpolator's 12 samples, so the true
    # peaks of x * gain are peaks * gain: this check needs no second oversampling
    peak = float((peaks * gain).max(initial=0.0))
    if peak > ceiling * HEADROOM:
        gain = gain * (ceiling * HEADROOM / peak)
    return gain


def master_parts(audio: np.ndarray, sr: int, num_samples: int | None = None, target_lufs: float = TARGET_LUFS,
                 ceiling_dbtp: float = CEILING_DBTP, loop: bool = False, stems: dict[str, np.ndarray] | None = None,
                 fade_in_s: float = 0.005, fade_out_s: float = 0.05) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Master the mix ``audio`` ``[C, T]`` and apply the very same processing to ``stems``.

    Returns ``(mix [2, num_samples] float32, {name: stem [2, num_samples] float32})``; the
    stems sum to the mix (up to float32 rounding). A loop gets no fades (its seam is continuous).
    """
    x = remove_dc(_fit(audio, num_samples, loop), sr, loop)
    gain = mastering_gain(x, sr, target_lufs, ceiling_dbtp)
    if not loop:
        n_in = min(x.shape[1], int(fade_in_s * sr))
        n_out = min(x.shape[1], int(fade_out_s * sr))
        if n_in:
            gain[:n_in] *= np.linspace(0.0, 1.0, n_in)
        if n_out:
            gain[-n_out:] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n_out))
    gain = gain.astype(np.float32)
    mix = np.ascontiguousarray(x * gain[None, :])
    out = {}
    for name, stem in (stems or {}).items():
        y = remove_dc(_fit(stem, num_samples if num_samples is not None else x.shape[1], loop), sr, loop)
        out[name] = np.ascontiguousarray(y * gain[None, :])
    return mix, out


def master(audio: np.ndarray, sr: int, num_samples: int | None = None, target_lufs: float = TARGET_LUFS,
           ceiling_dbtp: float = CEILING_DBTP, loop: bool = False) -> np.ndarray:
    """Exact length, stereo, DC-free, at ``target_lufs`` with true peaks at most
    ``ceiling_dbtp``: ``[2, num_samples]`` float32 (``None`` keeps the length)."""
    return master_parts(audio, sr, num_samples, target_lufs, ceiling_dbtp, loop)[0]
