"""Reading a reference clip of the music bridge: what the composer can follow.

From the audio of a :class:`~vmb.types.Hit` it measures (with :mod:`vmb.analysis`) the tempo
and beats, the key and mode, a chord per beat (beat chroma matched to triad templates) and the
energy envelope per bar, and turns the chords into a loop of bars in the reference's key.

Analyses are cached twice: in the process (by path, modification time and segment) and on disk
under ``<cache home>/reference/`` (:func:`vmb.home.cache_home`), keyed by the clip id, the
SHA-256 of the file, the segment and :data:`CACHE_VERSION`, so a fresh process does not measure
the demo library's references again. A cache entry is a small JSON file written atomically; one
that cannot be read or does not match its key is measured again and replaced.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vmb.generate.builtin.tables import BEATS_PER_BAR, PITCH_CLASSES, ChordSpec
from vmb.types import Hit

ANALYSIS_SR = 22050
MAX_LOOP_BARS = 8
# Bump when analyze_audio's results change, so old cache entries are measured again.
CACHE_VERSION = 1
# Files larger than this are analysed without the disk cache (hashing them would cost more).
MAX_CACHED_FILE_BYTES = 512 * 1024 * 1024
MAX_CACHE_ENTRY_BYTES = 256 * 1024


@dataclass(frozen=True)
class ReferenceFeatures:
    """What was measured on one reference clip.

    Attributes:
        label: the clip's id (or file name) and its track, for notes.
        tempo_bpm: beat-tracked tempo (0.0 when no beat was found).
        key, mode: estimated tonic name and mode (``key`` is ``""`` for unpitched audio).
        bars: the chord loop, one list of chords per bar, roots *relative to the reference's
            tonic* (so it can be played in any key); empty when no chord was found.
        energy: overall energy in [0, 1] (:func:`vmb.analysis.energy`).
        bar_energy: RMS of each bar of the loop divided by the loop's mean RMS ``[len(bars)]``.
    """

    label: str
    tempo_bpm: float
    tempo_confidence: float
    key: str
    mode: str
    key_confidence: float
    bars: tuple[tuple[ChordSpec, ...], ...]
    energy: float
    bar_energy: tuple[float, ...]
    duration_s: float

    @property
    def has_tempo(self) -> bool:
        return self.tempo_bpm > 0

    @property
    def has_key(self) -> bool:
        return bool(self.key)

    def loop_in(self, tonic: int) -> list[list[ChordSpec]]:
        """The chord loop transposed so that the reference's tonic becomes ``tonic``."""
        return [[c.transpose(tonic) for c in bar] for bar in self.bars]

    def describe(self) -> str:
        chords = " | ".join(" ".join(c.name for c in bar) for bar in self.loop_in(
            PITCH_CLASSES.index(self.key) if self.key else 0))
        tempo = f"{self.tempo_bpm:.1f} BPM" if self.has_tempo else "no beat found"
        key = f"{self.key} {self.mode}" if self.has_key else "no key found"
        return f"{self.label}: {tempo}, {key}, energy {self.energy:.2f}, chords {chords or 'none found'}"


def read_reference(hit: Hit, sample_rate: int = ANALYSIS_SR) -> tuple[np.ndarray, int]:
    """The hit's audio segment, mono ``[T]`` float32 at ``sample_rate``.

    Raises:
        MediaError: the file is missing or unreadable.
    """
    from vmb.media import read_audio

    clip = hit.clip
    audio, sr = read_audio(clip.path, sample_rate=sample_rate, mono=True, start_s=clip.start_s,
                           duration_s=clip.duration_s)
    return np.asarray(audio, dtype=np.float32).reshape(-1), sr


def analyze_reference(hit: Hit) -> ReferenceFeatures:
    """Measure one reference (cached by file, modification time and segment)."""
    path = os.path.abspath(hit.clip.path)
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError:
        mtime = -1  # read_reference raises the MediaError that names the file
    label = f"{hit.clip.id or os.path.basename(path)} ({hit.track})"
    return _analyze_cached(hit.clip, path, mtime, label)


@functools.lru_cache(maxsize=32)
def _analyze_cached(clip, path: str, mtime: int, label: str) -> ReferenceFeatures:
    key = _disk_key(clip, path)
    if key is not None:
        found = _read_entry(key, label)
        if found is not None:
            return found
    audio, sr = read_reference(Hit(clip, 0.0, 0, "pinned"))
    features = analyze_audio(audio, sr, label)
    if key is not None:
        _write_entry(key, features)
    return features


def _file_sha256(path: str) -> str | None:
    """SHA-256 of a regular file up to :data:`MAX_CACHED_FILE_BYTES`, else ``None`` (a pipe, a
    device, a folder or a missing file is left to :func:`read_reference` to report)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_CACHED_FILE_BYTES:
            return None
        digest = hashlib.sha256()
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _disk_key(clip, path: str) -> dict | None:
    """What a cache entry must match: clip id, file checksum, segment, analysis version."""
    checksum = _file_sha256(path)
    if checksum is None:
        return None
    return {"clip_id": str(clip.id), "sha256": checksum, "start_s": float(clip.start_s),
            "duration_s": None if clip.duration_s is None else float(clip.duration_s),
            "sample_rate": ANALYSIS_SR, "version": CACHE_VERSION}  # fmt: skip


def _entry_path(key: dict) -> Path:
    from vmb.home import cache_home

    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    return cache_home() / "reference" / f"{name}.json"


def _read_entry(key: dict, label: str) -> ReferenceFeatures | None:
    """The cached analysis for ``key``, or ``None`` (absent, unreadable or for another key)."""
    from vmb.fileio import read_limited

    try:
        data = json.loads(read_limited(_entry_path(key), MAX_CACHE_ENTRY_BYTES))
        if data.get("key") != key:
            return None
        return _features_from_dict(data["features"], label)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _write_entry(key: dict, features: ReferenceFeatures) -> None:
    """Store the analysis; a cache that cannot be written (read-only home) is skipped."""
    from vmb.fileio import atomic_write_json

    path = _entry_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"key": key, "features": _features_to_dict(features)}, indent=None)
    except OSError:
        pass  # the cache only saves time; the analysis itself is returned either way


def _features_to_dict(features: ReferenceFeatures) -> dict:
    return {"tempo_bpm": features.tempo_bpm, "tempo_confidence": features.tempo_confidence,
            "key": features.key, "mode": features.mode, "key_confidence": features.key_confidence,
            "bars": [[[c.root, c.quality, c.symbol] for c in bar] for bar in features.bars],
            "energy": features.energy, "bar_energy": list(features.bar_energy),
            "duration_s": features.duration_s}  # fmt: skip


def _features_from_dict(data: dict, label: str) -> ReferenceFeatures:
    """Inverse of :func:`_features_to_dict`; raises ``ValueError``/``TypeError``/``KeyError`` on an
    entry that is not one."""
    from vmb.generate.builtin.tables import QUALITIES

    def chord(item) -> ChordSpec:
        root, quality, symbol = item
        if not isinstance(root, int) or not 0 <= root < 12 or quality not in QUALITIES:
            raise ValueError(f"not a chord: {item!r}")
        return ChordSpec(root, str(quality), str(symbol))

    return ReferenceFeatures(
        label=label,
        tempo_bpm=float(data["tempo_bpm"]),
        tempo_confidence=float(data["tempo_confidence"]),
        key=str(data["key"]),
        mode=str(data["mode"]),
        key_confidence=float(data["key_confidence"]),
        bars=tuple(tuple(chord(c) for c in bar) for bar in data["bars"]),
        energy=float(data["energy"]),
        bar_energy=tuple(float(x) for x in data["bar_energy"]),
        duration_s=float(data["duration_s"]),
    )


def analyze_audio(audio: np.ndarray, sr: int, label: str = "reference") -> ReferenceFeatures:
    """:class:`ReferenceFeatures` of mono audio ``[T]`` at ``sr``."""
    from vmb.analysis import energy, estimate_chords, estimate_key, estimate_tempo

    duration = len(audio) / sr
    tempo = estimate_tempo(audio, sr)
    key = estimate_key(audio, sr)
    beats = np.asarray(tempo.beats_s, dtype=np.float64)
    tonic = PITCH_CLASSES.index(key.key) if key.key else 0
    bars: list[tuple[ChordSpec, ...]] = []
    bar_energy: list[float] = []
    if tempo.bpm > 0 and len(beats) >= 2:
        beats = _fill_beats(beats, 60.0 / tempo.bpm, duration)
        chords = estimate_chords(audio, sr, beats_s=beats)
        per_beat = _chord_per_beat(chords, beats, duration)
        phase = _downbeat_phase(per_beat)
        bars = _bars(per_beat[phase:], tonic)
        bar_energy = _bar_energy(audio, sr, beats[phase:], len(bars))
    return ReferenceFeatures(
        label=label,
        tempo_bpm=float(tempo.bpm),
        tempo_confidence=float(tempo.confidence),
        key=key.key,
        mode=key.mode,
        key_confidence=float(key.confidence),
        bars=tuple(bars),
        energy=float(energy(audio, sr)),
        bar_energy=tuple(bar_energy),
        duration_s=duration,
    )


def _fill_beats(beats: np.ndarray, period: float, duration: float) -> np.ndarray:
    """Extend the tracked beats back to the start of the clip with the beat period."""
    before = np.arange(beats[0] - period, -period / 2, -period)[::-1]
    return np.concatenate([np.clip(before, 0.0, None), beats]) if len(before) else beats


def _chord_per_beat(chords: list, beats: np.ndarray, duration: float) -> list[ChordSpec | None]:
    """The chord sounding at the middle of each beat (``None`` where nothing pitched plays)."""
    ends = np.append(beats[1:], duration)
    out: list[ChordSpec | None] = []
    for a, b in zip(beats, ends):
        mid = 0.5 * (a + b)
        found = next((c for c in chords if c.start_s <= mid < c.end_s), None)
        out.append(None if found is None else ChordSpec(found.root, found.quality))
    # hold the last known chord over unpitched beats so the loop has no holes
    last = next((c for c in out if c is not None), None)
    for i, c in enumerate(out):
        if c is None:
            out[i] = last
        else:
            last = c
    return out


def _downbeat_phase(per_beat: list[ChordSpec | None]) -> int:
    """The beat offset (0-3) where chord changes fall most often on bar lines."""
    changes = np.array([i for i in range(1, len(per_beat)) if per_beat[i] != per_beat[i - 1]])
    if len(changes) == 0:
        return 0
    counts = [np.sum(changes % BEATS_PER_BAR == p) for p in range(BEATS_PER_BAR)]
    return int(np.argmax(counts))


def _bars(per_beat: list[ChordSpec | None], tonic: int) -> list[tuple[ChordSpec, ...]]:
    """Whole bars of beats → one chord per bar, or two when the second half differs."""
    bars = []
    n = min(len(per_beat) // BEATS_PER_BAR, MAX_LOOP_BARS)
    for i in range(n):
        beat = per_beat[i * BEATS_PER_BAR:(i + 1) * BEATS_PER_BAR]
        if any(c is None for c in beat):
            continue
        first, second = beat[0], beat[2]
        rel = [first.transpose(-tonic)]
        if second != first:
            rel.append(second.transpose(-tonic))
        bars.append(tuple(rel))
    return bars


def _bar_energy(audio: np.ndarray, sr: int, beats: np.ndarray, num_bars: int) -> list[float]:
    if num_bars == 0:
        return []
    starts = beats[::BEATS_PER_BAR][: num_bars + 1]
    edges = (np.append(starts, len(audio) / sr) * sr).astype(int)[: num_bars + 1]
    rms = np.array([
        np.sqrt(np.mean(np.square(audio[a:b], dtype=np.float64))) if b > a else 0.0
        for a, b in itertools.pairwise(edges)
    ])
    mean = rms.mean() if len(rms) else 0.0
    return list(rms / mean) if mean > 0 else [1.0] * len(rms)
