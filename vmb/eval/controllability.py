"""Controllability: did the tempo, key, mode, energy and instruments asked for come out?

Read from a vmb result JSON (``<stem>.vmb.json``: the text bridge's description and the user's
``--want``s) and measured on the audio with independent tools: librosa (beat tracker tempo;
key and mode by Krumhansl–Kessler profiles on a CQT chromagram), pyloudnorm (integrated
loudness, LUFS) and librosa's HPSS (percussive share of the energy). Instruments are checked by
CLAP zero-shot (the asked instrument among the top 3 of the vocabulary's instruments) only when
CLAP weights are present; otherwise they are reported as not computed.

ΔCLAP per attribute (with CLAP weights): the clip's CLAP score with the asked value's text minus
its mean score with the other values of the same attribute in vmb's vocabulary. This is vmb's
reading of the paper's ΔCLAP (there: with against without the control), computable from one set.

Following a pinned reference: the chroma-profile cosine and the tempo ratio between the output
and its pinned reference, against the same numbers with an unrelated reference (another item's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vmb.eval.deps import require
from vmb.vocab import PITCH_CLASSES, load_vocab, normalize_key

TEMPO_TOLERANCE = 0.08
ANALYSIS_SR = 22050
# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class AudioMeasures:
    """What an independent listener measures on a clip."""

    tempo_bpm: float
    key: str | None
    mode: str | None
    chroma: np.ndarray  # [12] mean chroma profile, sums to 1 (zeros for silence)
    lufs: float | None
    percussive_share: float | None

    def to_dict(self) -> dict:
        return {
            "tempo_bpm": round(self.tempo_bpm, 2),
            "key": self.key,
            "mode": self.mode,
            "lufs": None if self.lufs is None else round(self.lufs, 2),
            "percussive_share": None if self.percussive_share is None else round(self.percussive_share, 3),
        }

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "tempo_bpm": np.asarray(self.tempo_bpm),
            "key": np.asarray(self.key or ""),
            "mode": np.asarray(self.mode or ""),
            "chroma": self.chroma,
            "lufs": np.asarray(np.nan if self.lufs is None else self.lufs),
            "percussive_share": np.asarray(np.nan if self.percussive_share is None else self.percussive_share),
        }

    @classmethod
    def from_arrays(cls, data: dict[str, np.ndarray]) -> AudioMeasures:
        def opt(name):
            v = float(data[name])
            return None if np.isnan(v) else v

        return cls(
            tempo_bpm=float(data["tempo_bpm"]),
            key=str(data["key"]) or None,
            mode=str(data["mode"]) or None,
            chroma=np.asarray(data["chroma"], np.float64),
            lufs=opt("lufs"),
            percussive_share=opt("percussive_share"),
        )


def estimate_key(chroma_profile: np.ndarray) -> tuple[str | None, str | None]:
    """Key and mode with the best Pearson correlation to the rotated KK profiles."""
    if not np.any(chroma_profile > 0):
        return None, None
    best, best_r = (None, None), -np.inf
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            r = np.corrcoef(chroma_profile, np.roll(profile, tonic))[0, 1]
            if r > best_r:
                best, best_r = (PITCH_CLASSES[tonic], mode), r
    return best


def measure_audio(mono: np.ndarray, sr: int) -> AudioMeasures:
    """Tempo, key, mode, chroma profile, loudness and percussive share of a mono clip ``[T]``."""
    librosa = require("librosa")
    pyloudnorm = require("pyloudnorm")

    from vmb.media import resample

    y = np.asarray(mono, np.float32)
    if sr != ANALYSIS_SR:
        y = resample(y[None, :], sr, ANALYSIS_SR)[0]
    if not np.any(np.abs(y) > 1e-6):
        return AudioMeasures(0.0, None, None, np.zeros(12), None, None)
    tempo, _ = librosa.beat.beat_track(y=y, sr=ANALYSIS_SR)
    chroma = librosa.feature.chroma_cqt(y=y, sr=ANALYSIS_SR).mean(axis=1)
    chroma = chroma / max(chroma.sum(), 1e-12)
    key, mode = estimate_key(chroma)
    lufs = None
    if y.shape[0] >= int(0.4 * ANALYSIS_SR):
        value = pyloudnorm.Meter(ANALYSIS_SR).integrated_loudness(y.astype(np.float64))
        lufs = float(value) if np.isfinite(value) else None
    stft = librosa.stft(y)
    harmonic, percussive = librosa.decompose.hpss(stft)
    total = float((np.abs(harmonic) ** 2).sum() + (np.abs(percussive) ** 2).sum())
    share = float((np.abs(percussive) ** 2).sum() / total) if total > 0 else None
    return AudioMeasures(float(np.atleast_1d(tempo)[0]), key, mode, chroma, lufs, share)


def tempo_matches(asked: float, measured: float, tolerance: float = TEMPO_TOLERANCE) -> tuple[bool, bool]:
    """``(exact, up to an octave)``: within ``tolerance`` of the asked BPM, or of its half/double."""
    if asked <= 0 or measured <= 0:
        return False, False
    exact = abs(measured / asked - 1.0) <= tolerance
    octave = exact or any(abs(measured * f / asked - 1.0) <= tolerance for f in (0.5, 2.0))
    return exact, octave


def asked_attributes(result: dict) -> dict:
    """What the result JSON asked for: ``tempo_bpm``, ``tempo_class``, ``key``, ``mode``,
    ``energy``, ``instruments`` (the text bridge's description; ``--want`` values win)."""
    bridges = result.get("bridges") or {}
    description = bridges.get("description") or {}
    wants = bridges.get("wants") or {}
    asked: dict = {}
    if description.get("tempo_bpm"):
        asked["tempo_bpm"] = float(description["tempo_bpm"])
    tempo_class = wants.get("tempo") or description.get("tempo_class")
    if tempo_class:
        asked["tempo_class"] = tempo_class
    key = wants.get("key") or description.get("key")
    if key:
        asked["key"] = normalize_key(key) or key
    mode = wants.get("mode") or description.get("mode")
    if mode:
        asked["mode"] = mode
    if description.get("energy") is not None:
        asked["energy"] = float(description["energy"])
    instruments = list(description.get("instruments") or [])
    if wants.get("instrument") and wants["instrument"] not in instruments:
        instruments.insert(0, wants["instrument"])
    if instruments:
        asked["instruments"] = instruments
    return asked


def check_item(asked: dict, measured: AudioMeasures) -> dict:
    """Per-attribute verdicts of one item: ``{attribute: {"asked", "measured", "ok"}}``."""
    out: dict = {}
    vocab = load_vocab()
    if "tempo_bpm" in asked:
        exact, octave = tempo_matches(asked["tempo_bpm"], measured.tempo_bpm)
        out["tempo_bpm"] = {
            "asked": asked["tempo_bpm"], "measured": round(measured.tempo_bpm, 1), "ok": exact, "ok_octave": octave
        }
    if "tempo_class" in asked and measured.tempo_bpm > 0:
        got = vocab.tempo_class(measured.tempo_bpm)
        out["tempo_class"] = {"asked": asked["tempo_class"], "measured": got, "ok": got == asked["tempo_class"]}
    if "key" in asked:
        out["key"] = {"asked": asked["key"], "measured": measured.key, "ok": measured.key == asked["key"]}
    if "mode" in asked:
        out["mode"] = {"asked": asked["mode"], "measured": measured.mode, "ok": measured.mode == asked["mode"]}
    if "energy" in asked:
        out["energy"] = {
            "asked": asked["energy"], "measured_lufs": measured.lufs, "measured_percussive_share": measured.percussive_share
        }
    return out


def zero_shot_instruments(clap, audio_embedding: np.ndarray, asked: list[str], top: int = 3) -> dict:
    """Whether each asked instrument is among CLAP's ``top`` vocabulary instruments for the clip."""
    names = list(load_vocab().instruments)
    text = clap.embed_text([f"the sound of {name}" for name in names])
    scores = text @ np.asarray(audio_embedding, np.float32)
    ranked = [names[i] for i in np.argsort(-scores)]
    return {
        name: {"rank": ranked.index(name) + 1 if name in ranked else None, "ok": name in ranked[:top]}
        for name in asked
    }


DELTA_TEMPLATES = {
    "genre": "{} music",
    "mood": "{} music",
    "instrument": "music featuring {}",
    "tempo": "music with a {} tempo",
    "mode": "music in a {} key",
}


def asked_for_delta(asked: dict, result: dict) -> dict[str, str]:
    """``{attribute: value}`` for ΔCLAP: genre, first mood, first instrument, tempo class, mode."""
    description = (result.get("bridges") or {}).get("description") or {}
    wants = (result.get("bridges") or {}).get("wants") or {}
    out = {}
    genre = wants.get("genre") or description.get("genre")
    moods = ([wants["mood"]] if wants.get("mood") else []) + list(description.get("mood") or [])
    if genre:
        out["genre"] = genre
    if moods:
        out["mood"] = moods[0]
    if asked.get("instruments"):
        out["instrument"] = asked["instruments"][0]
    if asked.get("tempo_class"):
        out["tempo"] = asked["tempo_class"]
    if asked.get("mode"):
        out["mode"] = asked["mode"]
    return out


def delta_clap(clap, audio_embedding: np.ndarray, attribute: str, value: str) -> float | None:
    """ΔCLAP of one attribute: the CLAP score of the clip with the asked value's text minus the
    mean score with the vocabulary's other values of that attribute (same template); ``None``
    for a value outside the vocabulary. Above 0: the audio is closer to what was asked."""
    names = list(load_vocab().table(attribute))
    if value not in names or len(names) < 2:
        return None
    template = DELTA_TEMPLATES[attribute]
    scores = clap.embed_text([template.format(n) for n in names]) @ np.asarray(audio_embedding, np.float32)
    i = names.index(value)
    return float(scores[i] - np.delete(scores, i).mean())


def chroma_cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0


def tempo_closeness(a: float, b: float) -> float:
    """``|log2(a / b)|`` (0 = same tempo, 1 = an octave apart); ``nan`` without a tempo."""
    return float(abs(np.log2(a / b))) if a > 0 and b > 0 else float("nan")


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman rank correlation, ``None`` with fewer than 3 points or a constant side."""
    if len(x) < 3:
        return None
    from scipy.stats import spearmanr

    if np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(spearmanr(x, y).statistic)
