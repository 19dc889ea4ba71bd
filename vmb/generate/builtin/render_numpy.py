"""A small General MIDI synthesiser in numpy, for machines without FluidSynth or a soundfont.

Melodic voices are wavetable oscillators (one period of a harmonic spectrum per GM family,
band-limited to the note's Nyquist) read with linear interpolation, with detuned copies for
ensembles, vibrato for bowed and blown voices, a brightness that fades on plucked and struck
voices, and an ADSR-style envelope. Drums are synthesised one-shots (pitch-swept sine kicks and
toms, filtered-noise snares, hats and cymbals, noise-burst claps). Every rendered note is cached
by (voice, pitch, length), so repeated notes cost one array addition. A stereo reverb (a
convolution with decaying filtered noise) is fed by each channel's reverb send.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from vmb.generate.builtin.arrangement import NoteEvent

TABLE_SIZE = 2048
TAIL_S = 1.5  # rendered after the last note-off when no length is given
NOTE_LEVEL = 0.32  # amplitude of a melodic note at full velocity and volume
DRUM_LEVEL = 0.55


@dataclass(frozen=True)
class Voice:
    """A melodic voice: spectra (harmonic amplitudes), envelope times in seconds."""

    bright: tuple[float, ...]
    dull: tuple[float, ...] | None = None  # plucked/struck: the spectrum brightness fades to
    bright_tau: float = 0.3
    attack: float = 0.005
    decay_tau: float | None = None  # None: sustains at full level
    sustain: float = 1.0  # level the decay falls to
    release: float = 0.1
    detune_cents: tuple[float, ...] = (0.0,)
    vibrato_cents: float = 0.0
    drive: float = 0.0  # tanh distortion amount
    gain: float = 1.0
    strike: float = 0.0  # level of a short noise transient at the onset (hammer, pick)


def _harm(n: int, power: float = 1.0, odd_only: bool = False) -> tuple[float, ...]:
    return tuple((1.0 / k**power) if (not odd_only or k % 2) else 0.0 for k in range(1, n + 1))


VOICES: dict[str, Voice] = {
    "piano": Voice(_harm(12, 1.4), (1.0, 0.35, 0.12, 0.05), 0.35, 0.004, 1.4, 0.0, 0.15, gain=1.1, strike=0.25),
    "mallet": Voice((1.0, 0.0, 0.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.08), (1.0,), 0.15, 0.002, 1.2, 0.0, 0.3),
    "organ": Voice((1.0, 0.8, 0.6, 0.5, 0.0, 0.35, 0.0, 0.25), None, 0.3, 0.01, None, 1.0, 0.06, gain=0.6),
    "guitar": Voice(_harm(10, 1.2), (1.0, 0.4, 0.15), 0.15, 0.003, 1.0, 0.0, 0.1, strike=0.2),
    "dist_guitar": Voice(_harm(10, 1.0), None, 0.3, 0.004, 2.5, 0.6, 0.1, (-6.0, 6.0), 0.0, 3.0, 0.55),
    "bass": Voice((1.0, 0.55, 0.25, 0.12, 0.06), (1.0, 0.2), 0.2, 0.005, 1.5, 0.25, 0.08, gain=1.3),
    "strings": Voice(_harm(16, 1.0), None, 0.3, 0.12, None, 1.0, 0.35, (-7.0, 0.0, 7.0), 8.0, gain=0.55),
    "choir": Voice((1.0, 0.9, 0.75, 0.35, 0.2, 0.1, 0.05), None, 0.3, 0.25, None, 1.0, 0.4, (-6.0, 6.0), 6.0, gain=0.7),
    "brass": Voice(_harm(14, 1.1), None, 0.3, 0.04, 1.5, 0.8, 0.12, (-3.0, 3.0), 4.0, gain=0.6),
    "reed": Voice((1.0, 0.3, 0.6, 0.15, 0.35, 0.1, 0.2, 0.05), None, 0.3, 0.03, None, 1.0, 0.08, vibrato_cents=10.0, gain=0.8),
    "flute": Voice((1.0, 0.25, 0.08, 0.03), None, 0.3, 0.06, None, 1.0, 0.1, vibrato_cents=12.0, gain=1.0),
    "square": Voice(_harm(15, 1.0, odd_only=True), None, 0.3, 0.01, 2.0, 0.7, 0.1, (-4.0, 4.0), 5.0, gain=0.5),
    "saw": Voice(_harm(16, 1.0), None, 0.3, 0.01, 2.0, 0.7, 0.1, (-5.0, 5.0), 5.0, gain=0.5),
    "pad": Voice(_harm(10, 1.3), None, 0.3, 0.35, None, 1.0, 0.8, (-10.0, 0.0, 10.0), gain=0.55),
}


def voice_for(program: int) -> str:
    """The voice playing a General MIDI program (0-127)."""
    family = program // 8
    if program in (29, 30):
        return "dist_guitar"
    if program in (45, 46, 105, 106, 107):
        return "guitar"  # pizzicato, harp, banjo, shamisen, koto: plucked
    if program in (47, 112, 113, 114, 115, 116, 117, 118):
        return "mallet"
    if 52 <= program <= 54:
        return "choir"
    if program == 80:
        return "square"
    return {
        0: "piano", 1: "mallet", 2: "organ", 3: "guitar", 4: "bass", 5: "strings", 6: "strings",
        7: "brass", 8: "reed", 9: "flute", 10: "saw", 11: "pad", 12: "pad", 13: "guitar",
        14: "mallet", 15: "pad",
    }[family]


@functools.lru_cache(maxsize=512)
def _table(spectrum: tuple[float, ...], max_harmonic: int) -> np.ndarray:
    """One period of ``spectrum`` (harmonics above ``max_harmonic`` dropped), peak 1, ``[N+1]``."""
    phase = np.arange(TABLE_SIZE + 1) * (2 * np.pi / TABLE_SIZE)
    wave = np.zeros(TABLE_SIZE + 1)
    for k, amp in enumerate(spectrum[:max(1, max_harmonic)], start=1):
        if amp:
            wave += amp * np.sin(k * phase)
    peak = np.max(np.abs(wave))
    return (wave / peak if peak > 0 else wave).astype(np.float32)


def _oscillator(table: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Read ``table`` at fractional ``phase`` (in periods) with linear interpolation."""
    pos = (phase % 1.0) * TABLE_SIZE
    i = pos.astype(np.int64)
    frac = (pos - i).astype(np.float32)
    return table[i] + frac * (table[i + 1] - table[i])


@functools.lru_cache(maxsize=4096)
def _note(voice_name: str, pitch: int, gate_n: int, sr: int) -> np.ndarray:
    """One note at full velocity: ``[gate_n + release]`` float32."""
    v = VOICES[voice_name]
    rel_n = int(v.release * sr)
    n = gate_n + rel_n
    t = np.arange(n, dtype=np.float32) / sr
    f0 = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    max_h = int((sr / 2) / (f0 * 1.01))
    if voice_name == "mallet":
        return _mallet(pitch, f0, gate_n, rel_n, sr, t)
    bright = _table(v.bright, max_h)
    dull = _table(v.dull, max_h) if v.dull else None
    rng = np.random.default_rng(pitch)
    out = np.zeros(n, np.float32)
    for cents in v.detune_cents:
        f = f0 * 2.0 ** (cents / 1200.0)
        if v.vibrato_cents:
            depth = (2.0 ** (v.vibrato_cents / 1200.0) - 1.0) * np.clip((t - 0.25) / 0.3, 0.0, 1.0)
            inst = f * (1.0 + depth * np.sin(2 * np.pi * 5.2 * t))
            phase = np.cumsum(inst / sr, dtype=np.float64) + rng.random()
        else:
            phase = f * t.astype(np.float64) + rng.random()
        w = _oscillator(bright, phase)
        if dull is not None:
            mix = np.exp(-t / v.bright_tau)
            w = _oscillator(dull, phase) + mix * (w - _oscillator(dull, phase))
        out += w
    out /= len(v.detune_cents) ** 0.5
    if v.drive:
        out = np.tanh(v.drive * out) / np.tanh(v.drive)
    env = np.minimum(t / max(v.attack, 1e-4), 1.0)
    if v.decay_tau is not None:
        tau = v.decay_tau * 2.0 ** (-(pitch - 60) / 24.0)
        env = env * (v.sustain + (1.0 - v.sustain) * np.exp(-t / tau))
    if rel_n:
        at_gate = env[gate_n - 1] if gate_n > 0 else 0.0
        env[gate_n:] = at_gate * np.exp(-np.arange(rel_n, dtype=np.float32) / (rel_n / 5.0))
    out = out * env
    if v.strike:
        k = min(n, int(0.02 * sr))
        burst = _filtered_noise(k, sr, pitch, min(4.0 * f0, 0.4 * sr), None)
        out[:k] += v.strike * burst * np.exp(-t[:k] / 0.004)
    return (out * v.gain).astype(np.float32)


def _mallet(pitch: int, f0: float, gate_n: int, rel_n: int, sr: int, t: np.ndarray) -> np.ndarray:
    out = np.zeros(len(t), np.float32)
    tau = 1.2 * 2.0 ** (-(pitch - 60) / 24.0)
    for ratio, amp, decay in ((1.0, 1.0, 1.0), (3.93, 0.3, 0.35), (9.5, 0.1, 0.12)):
        if f0 * ratio < sr / 2:
            out += amp * np.sin(2 * np.pi * f0 * ratio * t) * np.exp(-t / (tau * decay))
    env = np.minimum(t / 0.002, 1.0)
    if rel_n:
        env[gate_n:] *= np.exp(-np.arange(rel_n, dtype=np.float32) / (rel_n / 5.0))
    return (out * env).astype(np.float32)


# --- drums -----------------------------------------------------------------------------------

def _filtered_noise(n: int, sr: int, seed: int, low: float | None, high: float | None) -> np.ndarray:
    """White noise ``[n]`` shaped by zero-phase Butterworth magnitudes (high-pass order 4 at
    ``low``, low-pass order 4 at ``high``), applied in the frequency domain."""
    noise = np.random.default_rng(seed).standard_normal(n)
    if not low and not high:
        return noise.astype(np.float32)
    f = np.fft.rfftfreq(n, 1.0 / sr)
    gain = np.ones_like(f)
    if low:
        gain /= np.sqrt(1.0 + (low / np.maximum(f, 1e-3)) ** 8)
    if high:
        gain /= np.sqrt(1.0 + (f / high) ** 8)
    return np.fft.irfft(np.fft.rfft(noise) * gain, n).astype(np.float32)


TOM_HZ = {41: 82.0, 43: 98.0, 45: 112.0, 47: 132.0, 48: 150.0, 50: 176.0}
HAND_DRUM_HZ = {60: 400.0, 61: 300.0, 62: 340.0, 63: 270.0, 64: 190.0}


@functools.lru_cache(maxsize=128)
def _drum(note: int, sr: int) -> np.ndarray:
    """A General MIDI percussion sound (key ``note``) at full velocity."""
    def time(seconds: float) -> np.ndarray:
        return np.arange(int(seconds * sr), dtype=np.float32) / sr

    if note in (35, 36):
        t = time(0.45)
        f = 48.0 + 110.0 * np.exp(-t / 0.035)
        body = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.22)
        click = _filtered_noise(len(t), sr, note, 1500, None) * np.exp(-t / 0.002) * 0.12
        return (1.3 * body + click).astype(np.float32)
    if note in (38, 40):
        t = time(0.35)
        noise = _filtered_noise(len(t), sr, note, 1200, 9000) * np.exp(-t / 0.11)
        tone = np.sin(2 * np.pi * 240.0 * t) * np.exp(-t / 0.05)
        return (1.0 * noise + 0.4 * tone).astype(np.float32)
    if note == 37:
        t = time(0.08)
        return (_filtered_noise(len(t), sr, note, 1500, 5000) * np.exp(-t / 0.012)
                + 0.4 * np.sin(2 * np.pi * 420 * t) * np.exp(-t / 0.01)).astype(np.float32)
    if note == 39:
        t = time(0.3)
        env = np.exp(-t / 0.08)
        for k in range(3):
            env = env + (t >= 0.01 * k) * np.exp(-(t - 0.01 * k).clip(0) / 0.006)
        return (_filtered_noise(len(t), sr, note, 900, 3500) * env * 0.5).astype(np.float32)
    if note in (42, 44):
        t = time(0.12)
        return (_filtered_noise(len(t), sr, note, 7000, None) * np.exp(-t / 0.025) * 0.6).astype(np.float32)
    if note == 46:
        t = time(0.6)
        return (_filtered_noise(len(t), sr, note, 6500, None) * np.exp(-t / 0.2) * 0.5).astype(np.float32)
    if note in (49, 52, 55, 57):
        t = time(2.5)
        return (_filtered_noise(len(t), sr, note, 4000, None) * np.exp(-t / 0.9) * 0.5).astype(np.float32)
    if note in (51, 53, 59):
        t = time(1.5)
        metal = sum(np.sign(np.sin(2 * np.pi * f * t)) for f in (523.0, 811.0, 1177.0)) / 3.0
        noise = _filtered_noise(len(t), sr, note, 5000, None)
        return ((0.25 * metal + 0.35 * noise) * np.exp(-t / 0.6) * 0.5).astype(np.float32)
    if note in TOM_HZ:
        t = time(0.6)
        f = TOM_HZ[note] * (1.0 + 0.6 * np.exp(-t / 0.05))
        return (np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.25) * 0.9).astype(np.float32)
    if note in HAND_DRUM_HZ:
        t = time(0.35)
        f = HAND_DRUM_HZ[note] * (1.0 + 0.25 * np.exp(-t / 0.02))
        return (np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.1) * 0.7).astype(np.float32)
    if note == 54:
        t = time(0.25)
        return (_filtered_noise(len(t), sr, note, 5000, 12000) * np.exp(-t / 0.09) * 0.5).astype(np.float32)
    if note in (69, 70, 82):
        t = time(0.1)
        env = np.minimum(t / 0.01, 1.0) * np.exp(-t / 0.03)
        return (_filtered_noise(len(t), sr, note, 4000, 10000) * env * 0.5).astype(np.float32)
    if note == 56:
        t = time(0.3)
        tone = np.sign(np.sin(2 * np.pi * 540 * t)) + np.sign(np.sin(2 * np.pi * 800 * t))
        return (tone * np.exp(-t / 0.1) * 0.2).astype(np.float32)
    t = time(0.1)  # anything else: a short click
    return (_filtered_noise(len(t), sr, note, 2000, 8000) * np.exp(-t / 0.02) * 0.4).astype(np.float32)


# --- mixing ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _reverb_ir(sr: int, seconds: float = 1.6) -> np.ndarray:
    """Stereo impulse response ``[2, N]``: decorrelated low-passed noise, exponential decay."""
    n = int(seconds * sr)
    t = np.arange(n, dtype=np.float32) / sr
    ir = np.stack([_filtered_noise(n, sr, 1000 + c, None, 6000) for c in range(2)])
    ir *= np.exp(-t / (seconds / 6.9))[None, :]  # -60 dB at ``seconds``
    ir[:, : int(0.012 * sr)] = 0.0  # pre-delay
    return (ir / np.sqrt(np.sum(ir[0] ** 2))).astype(np.float32)


def render_numpy(events: list[NoteEvent], sample_rate: int, length_s: float | None = None,
                 gains_db: dict[int, float] | None = None) -> np.ndarray:
    """Synthesise note events; returns ``[2, T]`` float32 (not normalised).

    ``length_s`` fixes the length (notes are cut there); ``None`` renders until the last
    note-off plus a tail. ``gains_db`` shifts programs (key 128: the drums) by so many dB.
    """
    sr = int(sample_rate)
    end_s = max((e.start_s + e.duration_s for e in events), default=0.0)
    total = math.ceil((end_s + TAIL_S if length_s is None else length_s) * sr)
    total = max(total, 1)
    dry = np.zeros((2, total), np.float32)
    wet = np.zeros(total, np.float32)
    grid = max(1, sr // 100)  # note lengths rounded to 10 ms so repeated notes hit the cache
    gain = {p: 10.0 ** (g / 20.0) for p, g in (gains_db or {}).items()}
    for e in events:
        start = round(e.start_s * sr)
        if start >= total:
            continue
        if e.is_drums:
            wave = _drum(e.pitch, sr)
            level = DRUM_LEVEL * gain.get(128, 1.0)
        else:
            gate = max(grid, round(e.duration_s * sr / grid) * grid)
            wave = _note(voice_for(e.program), e.pitch, gate, sr)
            level = NOTE_LEVEL * gain.get(e.program, 1.0)
        amp = level * (e.velocity / 127.0) ** 1.6 * (e.volume / 127.0) ** 2
        seg = wave[: total - start] * np.float32(amp)
        angle = (e.pan / 127.0) * (np.pi / 2)
        dry[0, start:start + len(seg)] += seg * np.float32(math.cos(angle))
        dry[1, start:start + len(seg)] += seg * np.float32(math.sin(angle))
        if e.reverb:
            wet[start:start + len(seg)] += seg * np.float32(e.reverb / 127.0)
    if wet.any():
        ir = _reverb_ir(sr)
        for c in range(2):
            dry[c] += 0.35 * _fft_convolve(wet, ir[c])
    return dry


def _fft_convolve(x: np.ndarray, ir: np.ndarray, block: int = 1 << 17) -> np.ndarray:
    """``x`` convolved with ``ir``, cut to ``len(x)`` (overlap-add of FFT blocks)."""
    n = len(x)
    size = 1 << int(np.ceil(np.log2(block + len(ir) - 1)))
    spec_ir = np.fft.rfft(ir, size)
    out = np.zeros(n + size, np.float32)
    for start in range(0, n, block):
        seg = x[start:start + block]
        if not seg.any():
            continue
        y = np.fft.irfft(np.fft.rfft(seg, size) * spec_ir, size)
        out[start:start + size] += y.astype(np.float32)
    return out[:n]
