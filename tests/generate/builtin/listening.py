"""Listening by measuring: checks on rendered audio with tools that are not vmb's own
(librosa for HPSS, onsets, beats and chroma; pyloudnorm for loudness)."""

from __future__ import annotations

import numpy as np

ANALYSIS_SR = 22050


def mono(audio: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    y = np.asarray(audio, dtype=np.float32)
    y = y.mean(axis=0) if y.ndim == 2 else y
    return librosa.resample(y, orig_sr=sr, target_sr=ANALYSIS_SR) if sr != ANALYSIS_SR else y


def percussive_share(audio: np.ndarray, sr: int) -> float:
    """Energy of librosa's HPSS percussive part over the harmonic plus percussive energy."""
    import librosa

    y = mono(audio, sr)
    harmonic, percussive = librosa.effects.hpss(y)
    h, p = float(np.sum(harmonic.astype(np.float64) ** 2)), float(np.sum(percussive.astype(np.float64) ** 2))
    return p / (h + p) if h + p > 0 else 0.0


def onsets_per_s(audio: np.ndarray, sr: int) -> float:
    import librosa

    y = mono(audio, sr)
    onsets = librosa.onset.onset_detect(y=y, sr=ANALYSIS_SR, units="time")
    return len(onsets) / (len(y) / ANALYSIS_SR)


def tempo_bpm(audio: np.ndarray, sr: int, start_bpm: float = 120.0) -> float:
    """librosa's beat-tracked tempo (its own prior centred at ``start_bpm``)."""
    import librosa

    y = mono(audio, sr)
    tempo, beats = librosa.beat.beat_track(y=y, sr=ANALYSIS_SR, start_bpm=start_bpm, units="time")
    if len(beats) >= 5:  # the mean beat interval: finer than librosa's tempo grid
        return float(60.0 * (len(beats) - 1) / (beats[-1] - beats[0]))
    return float(np.atleast_1d(tempo)[0])


def within_octave(measured: float, asked: float, tolerance: float = 0.03) -> bool:
    """``measured`` within ``tolerance`` of ``asked``, or of its double or half."""
    return any(abs(measured / (asked * f) - 1.0) <= tolerance for f in (0.5, 1.0, 2.0))


def assert_seamless_loop(audio: np.ndarray, sr: int, seconds: float, bpm: float, tolerance: float = 0.03) -> None:
    """A loop of exactly ``seconds``: its seam (last sample to first) is a smaller step than the
    piece's largest, and played twice its tempo (librosa) runs through the seam at ``bpm``."""
    assert audio.shape[1] == round(seconds * sr)
    steps = np.abs(np.diff(audio, axis=1)).max()
    seam = np.abs(audio[:, 0] - audio[:, -1]).max()
    assert seam < steps, (seam, steps)
    measured = tempo_bpm(np.concatenate([audio, audio], axis=1), sr, start_bpm=bpm)
    assert within_octave(measured, bpm, tolerance=tolerance), measured


def lufs(audio: np.ndarray, sr: int) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(sr).integrated_loudness(np.asarray(audio, dtype=np.float64).T))


def dc(audio: np.ndarray) -> float:
    """Largest per-channel mean."""
    return float(np.max(np.abs(np.mean(np.asarray(audio, dtype=np.float64), axis=-1))))


def bar_chroma(audio: np.ndarray, sr: int, bar_s: float) -> np.ndarray:
    """librosa chroma averaged per bar, each bar max-normalised ``[bars, 12]``."""
    import librosa

    y = mono(audio, sr)
    hop = 512
    chroma = librosa.feature.chroma_stft(y=y, sr=ANALYSIS_SR, hop_length=hop)
    fps = ANALYSIS_SR / hop
    n = int(len(y) / ANALYSIS_SR // bar_s)
    out = []
    for b in range(n):
        seg = chroma[:, int(b * bar_s * fps): int((b + 1) * bar_s * fps)]
        v = seg.mean(axis=1)
        out.append(v / max(v.max(), 1e-9))
    return np.array(out)


def distinct_bars(chroma: np.ndarray, tolerance: float = 0.05) -> int:
    """Bars whose chroma differs from every earlier distinct bar by more than ``tolerance``
    (mean absolute difference of the normalised 12 bins).

    Calibrated on the figure of issue 16 ("12 distinct bar-chroma patterns out of 60" for a
    180 s piece): the composer before the issue, 120 s at 120 BPM, gives 14 of 60 here."""
    kept: list[np.ndarray] = []
    for v in chroma:
        if all(np.mean(np.abs(v - k)) > tolerance for k in kept):
            kept.append(v)
    return len(kept)


def longest_chord_s(audio: np.ndarray, sr: int, window_s: float = 1.0) -> float:
    """Longest stretch (s) over which the best-matching triad (24 major/minor templates on
    librosa chroma, 1 s windows) stays the same."""
    import librosa

    y = mono(audio, sr)
    hop = 512
    chroma = librosa.feature.chroma_stft(y=y, sr=ANALYSIS_SR, hop_length=hop)
    fps = ANALYSIS_SR / hop
    w = max(1, int(window_s * fps))
    templates = []
    for root in range(12):
        for third in (4, 3):
            t = np.zeros(12)
            t[[root, (root + third) % 12, (root + 7) % 12]] = 1
            templates.append(t / np.linalg.norm(t))
    labels = []
    for i in range(0, chroma.shape[1] - w + 1, w):
        v = chroma[:, i:i + w].mean(axis=1)
        if v.max() < 1e-3:
            labels.append(-1)
            continue
        labels.append(int(np.argmax(np.array(templates) @ (v / np.linalg.norm(v)))))
    best = run = 0
    for i, label in enumerate(labels):
        run = run + 1 if i and label == labels[i - 1] and label >= 0 else 1
        best = max(best, run)
    return best * window_s


# -- music under a picture (issue 15) --------------------------------------------------------


def beat_times(audio: np.ndarray, sr: int) -> np.ndarray:
    """librosa's beat-tracked beat times (s), default settings."""
    import librosa

    y = mono(audio, sr)
    _, beats = librosa.beat.beat_track(y=y, sr=ANALYSIS_SR, units="time")
    return np.asarray(beats, np.float64)


def cuts_on_beats(audio: np.ndarray, sr: int, cuts_s, tolerance_s: float = 0.07) -> tuple[float, float]:
    """``(share of cuts within tolerance_s of a librosa beat, chance)``; chance is the share of
    random times within the tolerance of one of the detected beats (2 x tolerance / median
    beat period)."""
    beats = beat_times(audio, sr)
    cuts = np.asarray(list(cuts_s), np.float64)
    if len(beats) < 2 or not len(cuts):
        return 0.0, 0.0
    near = np.min(np.abs(cuts[:, None] - beats[None, :]), axis=1) <= tolerance_s
    return float(np.mean(near)), float(min(1.0, 2 * tolerance_s / np.median(np.diff(beats))))


def rms_db(audio: np.ndarray, sr: int, start_s: float, end_s: float) -> float:
    """RMS level (dB) of ``[start_s, end_s)`` of the mono mix."""
    y = np.asarray(audio, np.float64)
    y = y.mean(axis=0) if y.ndim == 2 else y
    seg = y[int(start_s * sr): int(end_s * sr)]
    return float(10 * np.log10(np.mean(seg ** 2) + 1e-12))


def onset_rate(audio: np.ndarray, sr: int, start_s: float, end_s: float) -> float:
    """librosa onsets per second within ``[start_s, end_s)`` (detected on the whole piece)."""
    import librosa

    y = mono(audio, sr)
    onsets = librosa.onset.onset_detect(y=y, sr=ANALYSIS_SR, units="time")
    return float(np.sum((onsets >= start_s) & (onsets < end_s)) / (end_s - start_s))


def loudness_step(audio: np.ndarray, sr: int, lo_s: float, hi_s: float, window_s: float = 2.0) -> float:
    """The time in ``[lo_s, hi_s]`` where the loudness rises most: the largest difference of
    the RMS level (dB, 50 ms frames) over ``window_s`` after and before it."""
    frame = 0.05
    times = np.arange(0.0, np.asarray(audio).shape[-1] / sr - frame, frame)
    level = np.array([rms_db(audio, sr, t, t + frame) for t in times])
    w = int(window_s / frame)
    best, at = -np.inf, lo_s
    for i in range(w, len(times) - w):
        if lo_s <= times[i] <= hi_s:
            step = level[i:i + w].mean() - level[i - w:i].mean()
            if step > best:
                best, at = step, float(times[i])
    return at


def loudness_curve(audio: np.ndarray, sr: int, step_s: float = 1.0) -> np.ndarray:
    """RMS level (dB) of each whole ``step_s`` window."""
    n = int(np.asarray(audio).shape[-1] / sr / step_s)
    return np.array([rms_db(audio, sr, k * step_s, (k + 1) * step_s) for k in range(n)])


def correlation_vs_shuffled(a, b, shuffles: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Pearson correlation of ``a`` and ``b`` (cut to the shorter), and the 95th percentile of
    the correlation when ``a`` is shuffled (what chance gives)."""
    n = min(len(a), len(b))
    a, b = np.asarray(a[:n], np.float64), np.asarray(b[:n], np.float64)
    r = float(np.corrcoef(a, b)[0, 1])
    rng = np.random.default_rng(seed)
    chance = [np.corrcoef(rng.permutation(a), b)[0, 1] for _ in range(shuffles)]
    return r, float(np.percentile(chance, 95))
