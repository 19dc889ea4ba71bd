"""The mastering's linear filters in numpy alone: biquad cascades applied in the frequency domain,
the 2nd-order Butterworth high-pass, the windowed-sinc low-pass, and FIR filtering.

``scipy.signal`` (which pyloudnorm imports too) costs a fresh ``vmb generate`` about 0.7 s of
imports on a 2-core machine (measured, benchmarks/bench_startup.py), more than the mastering
itself; these few filters are all the generate path needs of it. Each one is tested against
its scipy counterpart (tests/generate/builtin/test_mastering_filters.py).

An IIR filter applied in the frequency domain: the response of a signal from rest is the
convolution with the filter's impulse response, which decays as ``r**n`` (``r``: the largest
pole radius). Cut where it has fallen below :data:`TAIL_DECAY`, it is a finite convolution,
done by overlap-add with FFTs whose length leaves room for that tail, so no part of it wraps
around. The result equals ``scipy.signal.lfilter``'s to float64 rounding (1e-12 relative and
better, tested), not bit for bit: the two add the same terms in different orders.
"""

from __future__ import annotations

import numpy as np

TAIL_DECAY = 1e-18  # the impulse response is cut where its envelope has fallen this far
MIN_FFT = 1 << 16

Biquad = tuple[np.ndarray, np.ndarray]  # (b [3], a [3]) with a[0] == 1


def butter2_highpass(cutoff_hz: float, sr: float) -> Biquad:
    """A 2nd-order Butterworth high-pass at ``cutoff_hz`` (bilinear transform with pre-warping),
    the filter ``scipy.signal.butter(2, cutoff_hz, "highpass", fs=sr)`` designs."""
    k = np.tan(np.pi * cutoff_hz / sr)
    norm = 1.0 / (1.0 + np.sqrt(2.0) * k + k * k)
    b = np.array([1.0, -2.0, 1.0]) * norm
    a = np.array([1.0, 2.0 * (k * k - 1.0) * norm, (1.0 - np.sqrt(2.0) * k + k * k) * norm])
    return b, a


def k_weighting(sr: float) -> tuple[Biquad, Biquad]:
    """The two stages of the ITU-R BS.1770-4 K-weighting at ``sr``: the +4 dB high shelf at
    1500 Hz (Q 1/sqrt(2)) and the RLB high-pass at 38 Hz (Q 0.5), designed with the RBJ
    cookbook formulae exactly as pyloudnorm's default meter designs them."""
    def design(gain_db: float, q: float, fc: float, kind: str) -> Biquad:
        a_ = 10 ** (gain_db / 40.0)
        w0 = 2.0 * np.pi * (fc / sr)
        alpha = np.sin(w0) / (2.0 * q)
        if kind == "high_shelf":
            b0 = a_ * ((a_ + 1) + (a_ - 1) * np.cos(w0) + 2 * np.sqrt(a_) * alpha)
            b1 = -2 * a_ * ((a_ - 1) + (a_ + 1) * np.cos(w0))
            b2 = a_ * ((a_ + 1) + (a_ - 1) * np.cos(w0) - 2 * np.sqrt(a_) * alpha)
            a0 = (a_ + 1) - (a_ - 1) * np.cos(w0) + 2 * np.sqrt(a_) * alpha
            a1 = 2 * ((a_ - 1) - (a_ + 1) * np.cos(w0))
            a2 = (a_ + 1) - (a_ - 1) * np.cos(w0) - 2 * np.sqrt(a_) * alpha
        else:  # high_pass
            b0 = (1 + np.cos(w0)) / 2
            b1 = -(1 + np.cos(w0))
            b2 = (1 + np.cos(w0)) / 2
            a0 = 1 + alpha
            a1 = -2 * np.cos(w0)
            a2 = 1 - alpha
        return np.array([b0, b1, b2]) / a0, np.array([a0, a1, a2]) / a0

    return design(4.0, 1 / np.sqrt(2), 1500.0, "high_shelf"), design(0.0, 0.5, 38.0, "high_pass")


def lowpass_fir(numtaps: int, cutoff: float) -> np.ndarray:
    """A linear-phase low-pass, ``numtaps`` taps of a Hamming-windowed sinc with its cutoff at
    ``cutoff`` times the Nyquist frequency and unit gain at DC: the filter
    ``scipy.signal.firwin(numtaps, cutoff)`` designs (the same arithmetic, the same bits)."""
    m = np.arange(0, numtaps, dtype=np.float64) - 0.5 * (numtaps - 1)
    h = cutoff * np.sinc(cutoff * m)
    h = h * (0.54 + (1.0 - 0.54) * np.cos(np.linspace(-np.pi, np.pi, numtaps)))
    return h / np.sum(h)


def fir_filter(b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x`` ``[C, T]`` through the FIR filter ``b`` from rest, ``[C, T]`` in their common
    dtype: what ``scipy.signal.lfilter(b, 1, x)`` computes (it uses the same ``np.convolve``)."""
    dtype = np.result_type(b, x)
    b = np.asarray(b, dtype=dtype)
    x = np.asarray(x, dtype=dtype)
    out = np.empty(x.shape, dtype)
    for c in range(x.shape[0]):
        out[c] = np.convolve(b, x[c])[: x.shape[1]]
    return out


def tail_length(sections: list[Biquad] | tuple[Biquad, ...]) -> int:
    """Samples after which the impulse response of the cascade has decayed below
    :data:`TAIL_DECAY` of its start (its largest pole radius ``r``: ``n**k r**n`` with ``k`` the
    number of sections bounds the envelope, a repeated pole included)."""
    r = max(float(np.abs(np.roots(a)).max()) for _, a in sections)
    if r >= 1.0:
        raise ValueError(f"unstable filter (pole radius {r})")
    if r == 0.0:
        return 3 * len(sections)
    decay = -np.log(r)
    n = np.log(1.0 / TAIL_DECAY) / decay
    for _ in range(4):  # n = (log(1/eps) + k log n) / decay, by fixed-point iteration
        n = (np.log(1.0 / TAIL_DECAY) + len(sections) * np.log(max(n, 1.0))) / decay
    return int(np.ceil(n)) + 3 * len(sections)


def frequency_response(sections: list[Biquad] | tuple[Biquad, ...], nfft: int) -> np.ndarray:
    """The cascade's response on the ``nfft``-point real FFT's bins ``[nfft // 2 + 1]``."""
    z = np.exp(-2j * np.pi * np.arange(nfft // 2 + 1) / nfft)  # z**-1 on the unit circle
    h = np.ones(len(z), np.complex128)
    for b, a in sections:
        h *= (b[0] + z * (b[1] + z * b[2])) / (a[0] + z * (a[1] + z * a[2]))
    return h


def iir_filter(x: np.ndarray, sections: list[Biquad] | tuple[Biquad, ...], periodic: bool = False,
               dtype: np.dtype | type | None = None) -> np.ndarray:
    """``x`` ``[C, T]`` through the biquad cascade ``sections`` ``[(b, a), ...]``, computed in
    float64 and returned as ``dtype`` (default: ``x``'s float dtype) ``[C, T]``.

    From rest (zero initial state, as ``scipy.signal.lfilter``), or with ``periodic`` the steady
    state of ``x`` repeated forever (a loop: the samples before the start are the loop's end).
    FFT blocks of at least :data:`MIN_FFT` points keep the float64 working memory small.
    """
    x = np.atleast_2d(np.asarray(x))
    if dtype is None:
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    channels, n = x.shape
    if n == 0:
        return np.zeros(x.shape, dtype)
    tail = tail_length(sections)
    if periodic:  # the loop's last `tail` samples before its start settle the filter
        before = np.tile(x, (1, -(-tail // n)))[:, -tail:]
        return iir_filter(np.concatenate([before, x], axis=1), sections, dtype=dtype)[:, tail:]
    nfft = max(MIN_FFT, 1 << int(np.ceil(np.log2(4 * tail))))
    nfft = min(nfft, max(1 << int(np.ceil(np.log2(n + tail))), 16))  # a short signal: one block
    step = nfft - tail
    response = frequency_response(sections, nfft)
    out = np.empty((channels, n), dtype)
    carry = np.zeros((channels, tail))
    for start in range(0, n, step):
        block = x[:, start: start + step]
        m = block.shape[1]
        y = np.fft.irfft(np.fft.rfft(block.astype(np.float64), nfft, axis=1) * response, nfft, axis=1)
        y[:, :tail] += carry
        out[:, start: start + m] = y[:, :m]
        carry = y[:, m: m + tail]
    return out
