"""Chords: beat-synchronous chroma matched to the 24 major/minor triad templates, smoothed over
beats with a Viterbi pass that makes staying on a chord cheaper than changing."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from vmb.analysis.chromagram import CHROMA_HOP, beat_chroma_from_energy, chroma_prepared
from vmb.analysis.onset import onset_envelope_prepared
from vmb.analysis.spectral import ANALYSIS_SR, frame_times, prepare
from vmb.analysis.tempo import tempo_from_envelope
from vmb.vocab import PITCH_CLASSES

logger = logging.getLogger(__name__)

QUALITIES = ("maj", "min")
STAY_PROB = 0.8  # prior probability that the chord does not change at a beat
_FALLBACK_STEP_S = 0.5  # segment length when no beat can be found


@dataclass(frozen=True)
class Chord:
    """One chord of a sequence: ``root`` pitch class 0-11 (0 = C), ``quality`` maj|min."""

    start_s: float
    end_s: float
    root: int
    quality: str

    @property
    def name(self) -> str:
        """``"C"``, ``"Am"``."""
        return PITCH_CLASSES[self.root] + ("m" if self.quality == "min" else "")


def chord_templates() -> np.ndarray:
    """Unit-norm triad templates ``[24, 12]``: rows 0-11 major on C..B, rows 12-23 minor."""
    out = np.zeros((24, 12))
    for q, third in enumerate((4, 3)):
        for root in range(12):
            out[12 * q + root, [root, (root + third) % 12, (root + 7) % 12]] = 1.0
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _viterbi(log_emission: np.ndarray, stay: float) -> np.ndarray:
    """Most likely state path ``[B]`` for emissions ``[B, S]`` with a uniform 'change' prior."""
    b, s = log_emission.shape
    log_stay, log_move = np.log(stay), np.log((1 - stay) / (s - 1))
    trans = np.full((s, s), log_move)
    np.fill_diagonal(trans, log_stay)
    score = log_emission[0].copy()
    back = np.zeros((b, s), dtype=np.int64)
    for i in range(1, b):
        cand = score[:, None] + trans  # [from, to]
        back[i] = np.argmax(cand, axis=0)
        score = cand[back[i], np.arange(s)] + log_emission[i]
    path = np.zeros(b, dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for i in range(b - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def estimate_chords(audio: np.ndarray, sr: int, beats_s: np.ndarray | None = None,
                    stay_prob: float = STAY_PROB) -> list[Chord]:
    """Chord sequence of ``audio`` (``[T]`` or ``[C, T]`` at ``sr``).

    Args:
        beats_s: beat times; estimated with :func:`~vmb.analysis.tempo.estimate_tempo` when
            ``None`` (if no beat is found, fixed 0.5 s segments are used).
        stay_prob: Viterbi probability of keeping the chord at a beat; higher = fewer changes.

    Returns:
        Chords in time order, consecutive equal chords merged; segments with no pitched sound
        (silence, drums only) are left out.
    """
    x = prepare(audio, sr)
    duration = len(x) / ANALYSIS_SR
    if duration == 0:
        return []
    if beats_s is None:
        beats_s = tempo_from_envelope(onset_envelope_prepared(x)).beats_s
    return chords_from_energy(chroma_prepared(x), duration, beats_s, stay_prob)


def chords_from_energy(energy: np.ndarray, duration_s: float, beats_s: np.ndarray,
                       stay_prob: float = STAY_PROB) -> list[Chord]:
    """:func:`estimate_chords` from chroma energy ``[12, F]`` (frames at the default chroma hop)
    and beat times; fewer than two beats: fixed 0.5 s segments (logged)."""
    duration = float(duration_s)
    if duration <= 0 or energy.size == 0 or energy.max() <= 0:
        return []
    beats = np.asarray(beats_s, dtype=np.float64).ravel()
    beats = beats[(beats >= 0) & (beats < duration)]
    if len(beats) < 2:
        logger.warning("no beat found: chords are estimated on fixed %.1f s segments", _FALLBACK_STEP_S)
        beats = np.arange(0.0, duration, _FALLBACK_STEP_S)
    if beats[0] > 0.05:
        beats = np.insert(beats, 0, 0.0)
    times = frame_times(energy.shape[1], CHROMA_HOP, ANALYSIS_SR)
    bc = beat_chroma_from_energy(energy, times, beats, duration)  # [12, B]
    edges = np.append(beats, duration)
    seg_energy = np.array([energy[:, (times >= a) & (times < b)].sum() for a, b in zip(edges[:-1], edges[1:])])
    voiced = seg_energy > 1e-3 * max(seg_energy.max(initial=0.0), 1e-12)
    voiced &= bc.max(axis=0) > 0
    if not voiced.any():
        return []
    # cosine similarity of each segment with each template
    cols = bc.T / np.maximum(np.linalg.norm(bc.T, axis=1, keepdims=True), 1e-12)
    sim = cols @ chord_templates().T  # [B, 24]
    log_emission = sim / 0.05  # a softmax temperature: 0.05 in cosine ~ one nat
    path = _viterbi(log_emission[voiced], stay_prob)
    seg_index = np.flatnonzero(voiced)
    chords: list[Chord] = []
    for state, j in zip(path, seg_index):
        root, quality = int(state % 12), QUALITIES[int(state // 12)]
        start, end = float(edges[j]), float(edges[j + 1])
        last = chords[-1] if chords else None
        if last and last.root == root and last.quality == quality and abs(last.end_s - start) < 1e-6:
            chords[-1] = Chord(last.start_s, end, root, quality)
        else:
            chords.append(Chord(start, end, root, quality))
    return chords
