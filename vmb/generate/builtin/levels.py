"""Instrument levels: how loud each General MIDI program (and the drum kit) sounds in a renderer,
measured, so that the mix can be balanced whatever the soundfont.

Soundfonts are far from level-matched: in FluidR3_GM a saw lead (program 81) plays about 18 dB
louder than the grand piano (program 0) at the same velocity and volume. A melody that drowns
the chords blurs both the harmony and the beat. So before rendering, each program's level is
measured (middle C, velocity 100, volume 100, no reverb, first half second, RMS dBFS), and the
renderer shifts every channel by ``REFERENCE_DB - level``: through the channel volume (CC 7,
``40 log10(v / 127)`` dB in FluidSynth) for FluidSynth, as an amplitude factor for the numpy
synthesiser. Channel volumes set by the music (the composer's role balance, a MIDI file's own
CC 7) apply on top.

FluidSynth measurements are cached per soundfont (path, size, modification time) in memory and
in ``soundfont_levels.json`` of vmb's cache folder (:func:`vmb.home.cache_home`; ``VMB_HOME``
overrides).
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from pathlib import Path

import numpy as np

from vmb.fileio import atomic_write_json
from vmb.home import cache_home

logger = logging.getLogger(__name__)

DRUMS = 128  # the "program" of the percussion channel in these tables
REFERENCE_DB = -27.0
MAX_CUT_DB = 24.0
PROBE_S = 0.5
_memory: dict[str, dict[int, float]] = {}


def compensation_db(level_db: float) -> float:
    """The gain that brings a program measured at ``level_db`` to the reference level."""
    if not math.isfinite(level_db):
        return 0.0  # silent at middle C (e.g. a contrabass sample range): leave it alone
    return float(np.clip(REFERENCE_DB - level_db, -MAX_CUT_DB, MAX_CUT_DB))


def cc7_with_gain(value: int, gain_db: float) -> int:
    """A channel volume moved by ``gain_db`` (CC 7 scales the level by ``40 log10(v / 127)`` dB)."""
    return int(np.clip(round(max(value, 1) * 10.0 ** (gain_db / 40.0)), 1, 127))


# --- FluidSynth -------------------------------------------------------------------------------

def _cache_file() -> Path:
    return cache_home() / "soundfont_levels.json"


def _font_key(soundfont: Path) -> str:
    st = soundfont.stat()
    return f"{soundfont.resolve()}|{st.st_size}|{st.st_mtime_ns}|solo"


def fluidsynth_levels(programs: set[int], soundfont: Path, executable: str = "fluidsynth",
                      sample_rate: int = 32000) -> dict[int, float]:
    """Measured level (dBFS) of each program (``DRUMS`` for the kit) in this soundfont."""
    key = _font_key(soundfont)
    known = _memory.setdefault(key, {})
    missing = sorted(p for p in programs if p not in known)
    if missing:
        disk = _read_disk().get(key, {})
        known.update({int(p): float("-inf" if v is None else v) for p, v in disk.items() if int(p) in missing})
        missing = sorted(p for p in programs if p not in known)
    if missing:
        for p in missing:  # alone: a probe's tail leaks into the next, so levels depended on the set
            known.update(_measure_fluidsynth([p], soundfont, executable, sample_rate))
        _write_disk(key, known)
    return {p: known[p] for p in programs}


def _measure_fluidsynth(programs: list[int], soundfont: Path, executable: str, sample_rate: int) -> dict[int, float]:
    import mido

    from vmb.generate.builtin.render_fluidsynth import render_fluidsynth

    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))  # one beat = 0.5 s
    for i, p in enumerate(programs):
        ch = 9 if p == DRUMS else (0 if i % 2 == 0 else 1)
        if p != DRUMS:
            track.append(mido.Message("program_change", channel=ch, program=p, time=0))
        for control, value in ((7, 100), (91, 0), (93, 0)):
            track.append(mido.Message("control_change", channel=ch, control=control, value=value, time=0))
        notes = (36, 38, 42) if p == DRUMS else (60,)
        for n in notes:
            track.append(mido.Message("note_on", channel=ch, note=n, velocity=100, time=0))
        track.append(mido.Message("note_off", channel=ch, note=notes[0], velocity=0, time=480))
        for n in notes[1:]:
            track.append(mido.Message("note_off", channel=ch, note=n, velocity=0, time=0))
        # a second of silence so each probe's release and reverb stay out of the next
        track.append(mido.Message("control_change", channel=ch, control=7, value=100, time=960))
    with tempfile.TemporaryDirectory(prefix="vmb-levels-") as tmp:
        path = Path(tmp) / "probe.mid"
        mid.save(path)
        audio = render_fluidsynth(path, soundfont, sample_rate, executable=executable)
    step = int(1.5 * sample_rate)
    n = int(PROBE_S * sample_rate)
    out = {}
    for i, p in enumerate(programs):
        seg = audio[:, i * step: i * step + n]
        rms = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64)))) if seg.size else 0.0
        out[p] = 20.0 * math.log10(rms) if rms > 1e-7 else float("-inf")
    logger.info("measured %d soundfont program levels", len(out))
    return out


def _read_disk() -> dict:
    try:
        return json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_disk(key: str, levels: dict[int, float]) -> None:
    path = _cache_file()
    data = _read_disk()
    data[key] = {str(p): (v if math.isfinite(v) else None) for p, v in levels.items()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, data, indent=None)
    except OSError as exc:  # a read-only home only costs a re-measurement next time
        logger.warning("could not cache soundfont levels in %s: %s", path, exc)


# --- numpy synthesiser ------------------------------------------------------------------------

def numpy_levels(programs: set[int], sample_rate: int = 32000) -> dict[int, float]:
    """Level (dBFS) of each program in the numpy synthesiser, measured like FluidSynth's."""
    from vmb.generate.builtin.render_numpy import DRUM_LEVEL, NOTE_LEVEL, _drum, _note, voice_for

    out = {}
    n = int(PROBE_S * sample_rate)
    amp_scale = (100 / 127.0) ** 1.6 * (100 / 127.0) ** 2
    for p in programs:
        if p == DRUMS:
            parts = [_drum(k, sample_rate) for k in (36, 38, 42)]
            wave = np.zeros(max(len(x) for x in parts), np.float32)
            for x in parts:
                wave[: len(x)] += x
            wave = wave * DRUM_LEVEL
        else:
            wave = _note(voice_for(p), 60, n, sample_rate) * NOTE_LEVEL
        seg = wave[:n] * amp_scale / math.sqrt(2)  # centre-panned: each channel gets cos(pi/4)
        rms = float(np.sqrt(np.sum(np.square(seg, dtype=np.float64)) / n))
        out[p] = 20.0 * math.log10(rms) if rms > 1e-9 else float("-inf")
    return out
