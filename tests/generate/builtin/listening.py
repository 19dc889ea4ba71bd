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
