"""The mastering without scipy (issue 14, a fast start): its numpy filters against scipy.signal,
its BS.1770-4 loudness against pyloudnorm (the independent meter), and its output against the
scipy/pyloudnorm mastering it replaced."""

from __future__ import annotations

import io

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from scipy.signal import butter, firwin, lfilter

from vmb.generate.builtin import mastering
from vmb.generate.builtin.filters import (
    butter2_highpass,
    fir_filter,
    iir_filter,
    k_weighting,
    lowpass_fir,
    tail_length,
)
from vmb.generate.builtin.render_numpy import render_numpy

RATES = (32000, 44100, 48000, 96000)


def noise(channels: int, seconds: float, sr: int, seed: int = 0, level: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((channels, int(seconds * sr))) * level).astype(np.float32)


def sine(freq: float, seconds: float, sr: int, level: float = 0.5, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return np.repeat((level * np.sin(2 * np.pi * freq * t))[None], channels, axis=0).astype(np.float32)


@pytest.fixture(scope="module")
def rendered():
    """Eight seconds of real rendered music (the numpy synthesiser, before mastering) ``[2, T]``."""
    from vmb.generate.builtin import BuiltinGenerator
    from vmb.types import Bridges, MusicDescription

    d = MusicDescription(text="a pop song", genre="pop", energy=0.7)
    gen = BuiltinGenerator(renderer="numpy")
    arr = gen.compose(Bridges(description=d, text=d.text, references=(), text_weight=3.0, music_weight=1.0),
                      8.0, seed=2)
    return render_numpy(arr.events(), 48000, arr.duration_s), 48000


@pytest.mark.parametrize("sr", RATES)
def test_iir_filter_equals_lfilter(sr):
    """The DC high-pass and both K-weighting stages, from rest, on noise with a DC step (the
    lowest frequencies are where the poles sit 0.2-0.5 % from the unit circle)."""
    x = noise(2, 3.0, sr, seed=sr)
    x[:, : sr // 10] += 0.25
    b, a = butter(2, 20.0, btype="highpass", fs=sr)
    assert np.allclose(butter2_highpass(20.0, sr), (b, a), rtol=0, atol=1e-14)
    for sections in ([(b, a)], list(k_weighting(sr)), [k_weighting(sr)[1]]):
        want = x.astype(np.float64)
        for bb, aa in sections:
            want = lfilter(bb, aa, want, axis=1)
        got = iir_filter(x, sections, dtype=np.float64)
        assert got.shape == x.shape and got.dtype == np.float64
        assert np.abs(got - want).max() <= 1e-11 * np.abs(want).max()
    assert iir_filter(x, [(b, a)]).dtype == np.float32  # the input's dtype by default


def test_iir_filter_short_empty_and_periodic():
    sr = 48000
    sections = [butter2_highpass(20.0, sr)]
    short = noise(1, 0.01, sr)  # far shorter than the filter's tail
    want = lfilter(*sections[0], short.astype(np.float64), axis=1)
    assert np.allclose(iir_filter(short, sections, dtype=np.float64), want, rtol=0, atol=1e-12)
    assert iir_filter(np.zeros((2, 0), np.float32), sections).shape == (2, 0)
    # periodic: the steady state of the signal repeated, i.e. the last of many copies through lfilter
    for seconds in (0.05, 2.0):  # shorter and longer than the tail
        x = noise(2, seconds, sr, seed=3)
        reps = tail_length(sections) // x.shape[1] + 3
        want = lfilter(*sections[0], np.tile(x.astype(np.float64), (1, reps)), axis=1)[:, -x.shape[1]:]
        got = iir_filter(x, sections, periodic=True, dtype=np.float64)
        assert np.abs(got - want).max() <= 1e-11 * np.abs(want).max()
    with pytest.raises(ValueError, match="unstable"):
        iir_filter(short, [(np.array([1.0, 0, 0]), np.array([1.0, -2.0, 1.0]))])


def test_fir_design_and_filter_are_scipys():
    assert np.allclose(lowpass_fir(48, 0.25), firwin(48, 0.25), rtol=0, atol=1e-16)
    assert np.allclose(lowpass_fir(31, 0.4), firwin(31, 0.4), rtol=0, atol=1e-16)
    x = noise(2, 1.0, 48000)
    for b in (lowpass_fir(48, 0.25)[1::4].astype(np.float32), lowpass_fir(48, 0.25)):
        want = lfilter(b, np.array([1.0], b.dtype), x, axis=1)
        got = fir_filter(b, x)
        assert got.dtype == want.dtype and np.array_equal(got, want)  # the same np.convolve


def pyloudnorm_lufs(x: np.ndarray, sr: int) -> float:
    return float(pyloudnorm.Meter(sr).integrated_loudness(np.asarray(x).T))


def gated_signal(sr: int) -> np.ndarray:
    """Loud noise, a stretch at -80 dBFS (under the absolute gate), a stretch 25 dB down (under
    the relative gate) and digital silence: blocks of every gating class."""
    loud = noise(2, 3.0, sr, seed=1)
    faint = noise(2, 2.0, sr, seed=2, level=3e-5)
    quiet = noise(2, 2.0, sr, seed=3, level=0.3 * 10 ** (-25 / 20))
    return np.concatenate([loud, faint, quiet, np.zeros((2, sr), np.float32), loud[:, : sr]], axis=1)


@pytest.mark.parametrize("sr", RATES)
def test_loudness_equals_pyloudnorm(sr):
    """Noise, sines low to high, gated material, mono, stereo and five channels, float32 and
    float64: within 1e-6 LU of pyloudnorm (0.01 LU is what a meter must agree to)."""
    cases = {
        "noise": noise(2, 4.0, sr),
        "noise f64": noise(2, 4.0, sr).astype(np.float64),
        "mono noise": noise(1, 2.5, sr),
        "five channels": noise(5, 2.0, sr),
        "gated": gated_signal(sr),
        **{f"sine {f} Hz": sine(f, 2.0, sr) for f in (25.0, 100.0, 997.0, 6000.0, 0.45 * sr)},
    }
    for name, x in cases.items():
        mine, theirs = mastering.integrated_lufs(x, sr), pyloudnorm_lufs(x, sr)
        assert abs(mine - theirs) <= 1e-6, (name, mine, theirs)


def test_loudness_of_rendered_music_equals_pyloudnorm(rendered):
    audio, sr = rendered
    for x in (audio, mastering.remove_dc(audio, sr), mastering.master(audio, sr)):
        assert abs(mastering.integrated_lufs(x, sr) - pyloudnorm_lufs(x, sr)) <= 1e-6


def test_loudness_edge_cases():
    sr = 48000
    assert mastering.integrated_lufs(np.zeros((2, sr), np.float32), sr) == -np.inf
    faint = noise(2, 1.0, sr, level=1e-6)  # every block under the -70 LUFS gate
    assert mastering.integrated_lufs(faint, sr) == -np.inf
    assert pyloudnorm_lufs(faint, sr) == -np.inf
    short = sine(440.0, 0.1, sr)  # shorter than a block: measured as the same sound repeated
    tiled = np.tile(short, (1, 5))[:, : int(0.4 * sr) + 1]
    assert abs(mastering.integrated_lufs(short, sr) - pyloudnorm_lufs(np.tile(short, (1, 5)), sr)) < 1e-6
    assert abs(mastering.integrated_lufs(tiled, sr) - pyloudnorm_lufs(tiled, sr)) < 1e-6
    ints = (noise(2, 1.0, sr) * 2**15).astype(np.int16)
    assert np.isfinite(mastering.integrated_lufs(ints, sr))


def scipy_mastering(monkeypatch):
    """The mastering as it was: the DC filter through scipy.signal.lfilter in chunks, the
    loudness through pyloudnorm."""
    def remove_dc(x, sr, loop=False):
        b, a = butter(2, mastering.HIGHPASS_HZ, btype="highpass", fs=sr)
        reps = max(2, int(np.ceil(sr / max(x.shape[1], 1))) + 1) if loop else 1
        y = lfilter(b, a, np.tile(x.astype(np.float64), (1, reps)), axis=1)
        return y[:, -x.shape[1]:].astype(np.float32)

    def integrated_lufs(audio, sr):
        x = np.atleast_2d(audio)
        return -np.inf if not np.any(x) else pyloudnorm_lufs(x, sr)

    monkeypatch.setattr(mastering, "remove_dc", remove_dc)
    monkeypatch.setattr(mastering, "integrated_lufs", integrated_lufs)


def pcm16(x: np.ndarray, sr: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, x.T, sr, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.mark.parametrize("loop", [False, True])
def test_mastered_music_is_what_the_scipy_mastering_made(rendered, monkeypatch, loop):
    """The same 16-bit WAV bytes as the scipy/pyloudnorm mastering; the float32 mix within one
    float32 step (the IIR filters add the same terms in another order: 1e-12 relative)."""
    audio, sr = rendered
    n = 7 * sr
    mix, _ = mastering.master_parts(audio, sr, n, loop=loop)
    with monkeypatch.context() as m:
        scipy_mastering(m)
        before, _ = mastering.master_parts(audio, sr, n, loop=loop)
    assert np.abs(mix - before).max() <= 6e-8
    assert np.count_nonzero(mix != before) <= 1e-3 * mix.size
    assert pcm16(mix, sr) == pcm16(before, sr)
