"""Choosing a renderer and rendering arrangements or any MIDI file to mastered audio."""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vmb.errors import ConfigError, ModelUnavailable
from vmb.generate.builtin.arrangement import DRUM_CHANNEL, Arrangement
from vmb.generate.builtin.levels import (
    DRUMS,
    cc7_with_gain,
    compensation_db,
    fluidsynth_levels,
    numpy_levels,
)
from vmb.generate.builtin.mastering import master
from vmb.generate.builtin.midi import read_midi, to_midi_file
from vmb.generate.builtin.render_fluidsynth import (
    find_fluidsynth,
    find_soundfont,
    render_fluidsynth,
)
from vmb.generate.builtin.render_numpy import render_numpy

logger = logging.getLogger(__name__)

RENDERERS = ("auto", "fluidsynth", "numpy")
DEFAULT_LOUDNESS_DB = -16.0


@dataclass(frozen=True)
class RendererChoice:
    """The renderer that will run and why (``note`` is meant for users)."""

    kind: str  # "fluidsynth" or "numpy"
    note: str
    soundfont: Path | None = None
    executable: str | None = None

    @property
    def name(self) -> str:
        if self.kind == "fluidsynth":
            return f"fluidsynth({self.soundfont.name})"
        return "numpy-synth"


def choose_renderer(renderer: str = "auto", soundfont: str | os.PathLike | None = None) -> RendererChoice:
    """Resolve ``auto``/``fluidsynth``/``numpy`` on this machine.

    ``auto`` takes FluidSynth when both the executable and a soundfont are found, else the
    numpy synthesiser, and says so (a warning is logged and the note names what was missing).

    Raises:
        ConfigError: unknown renderer, or a configured soundfont path that does not exist.
        ModelUnavailable: ``fluidsynth`` was asked for but the executable or a soundfont is missing.
    """
    if renderer not in RENDERERS:
        raise ConfigError(f"generator.renderer = {renderer!r} is not one of: {', '.join(RENDERERS)}")
    if renderer == "numpy":
        return RendererChoice("numpy", "rendered with the numpy synthesiser (renderer=numpy)")
    exe = find_fluidsynth()
    font, where = find_soundfont(soundfont)
    if renderer == "fluidsynth":
        if exe is None:
            raise ModelUnavailable("fluidsynth", "executable not on PATH",
                                   "install it (Debian/Ubuntu: apt install fluidsynth) or use generator.renderer=numpy")
        if font is None:
            raise ModelUnavailable("General MIDI soundfont", where,
                                   "apt install fluid-soundfont-gm, or set generator.soundfont or $VMB_SOUNDFONT")
        return RendererChoice("fluidsynth", f"rendered with FluidSynth and {font} ({where})", font, exe)
    if exe is None:
        note = "fluidsynth not found on PATH; rendered with the numpy synthesiser"
    elif font is None:
        note = f"no General MIDI soundfont found ({where}); rendered with the numpy synthesiser"
    else:
        return RendererChoice("fluidsynth", f"rendered with FluidSynth and {font} ({where})", font, exe)
    logger.warning(note)
    return RendererChoice("numpy", note)


def render_midi(
    source: str | os.PathLike | Arrangement,
    sample_rate: int = 32000,
    renderer: str | RendererChoice = "auto",
    soundfont: str | os.PathLike | None = None,
    length_s: float | None = None,
    loudness_db: float = DEFAULT_LOUDNESS_DB,
    balance: bool = True,
) -> tuple[np.ndarray, int, str]:
    """Render an arrangement or any standard MIDI file to mastered stereo audio.

    Args:
        source: an :class:`Arrangement` or the path of a ``.mid`` file.
        sample_rate: output rate in Hz.
        renderer: ``auto``, ``fluidsynth``, ``numpy`` or a :class:`RendererChoice`.
        soundfont: a soundfont to use instead of the searched ones.
        length_s: exact output length; default: the arrangement's duration, or for a MIDI file
            its length plus the instruments' release and reverb tail.
        loudness_db: gated RMS level the output is normalised to (dBFS); peaks are limited to
            -1 dBFS.
        balance: level-match the programs first (see :mod:`.levels`), so that no instrument
            of the soundfont drowns the others; the music's own channel volumes apply on top.

    Returns:
        ``(audio [2, T] float32, sample_rate, note)``; ``note`` says which renderer ran and why.

    Raises:
        MediaError: the MIDI file is missing or unreadable.
        GenerationError: FluidSynth failed.
    """
    choice = renderer if isinstance(renderer, RendererChoice) else choose_renderer(renderer, soundfont)
    sr = int(sample_rate)
    if length_s is None and isinstance(source, Arrangement):
        length_s = source.duration_s
    if isinstance(source, Arrangement):
        events = source.events()
    else:
        events, _ = read_midi(source)  # a clear MediaError for a bad file before any renderer runs
    programs = {DRUMS if e.is_drums else e.program for e in events}
    if choice.kind == "fluidsynth":
        exe = choice.executable or "fluidsynth"
        gains = {}
        if balance:
            gains = {p: compensation_db(v) for p, v in fluidsynth_levels(programs, choice.soundfont, exe).items()}
        with tempfile.TemporaryDirectory(prefix="vmb-render-") as tmp:
            mid = to_midi_file(source) if isinstance(source, Arrangement) else _load_midi(source)
            if gains:
                _apply_channel_gains(mid, gains)
            path = Path(tmp) / "render.mid"
            mid.save(path)
            audio = render_fluidsynth(path, choice.soundfont, sr, executable=exe)
    else:
        gains = {p: compensation_db(v) for p, v in numpy_levels(programs, sr).items()} if balance else {}
        audio = render_numpy(events, sr, length_s, gains_db=gains)
    n = None if length_s is None else round(length_s * sr)
    return master(audio, sr, n, target_db=loudness_db), sr, choice.note


def _load_midi(path: str | os.PathLike):
    import mido

    return mido.MidiFile(path)


def _apply_channel_gains(mid, gains: dict[int, float]) -> None:
    """Shift each channel's volume (CC 7) by its program's gain, in place.

    Every CC 7 is rescaled, a CC 7 follows every program change, and a channel that plays
    without ever setting its volume gets one at the start of its track (base volume 100).
    """
    import mido

    program = {ch: 0 for ch in range(16)}
    volume = {ch: 100 for ch in range(16)}

    def gain(ch: int) -> float:
        return gains.get(DRUMS if ch == DRUM_CHANNEL else program[ch], 0.0)

    for track in mid.tracks:
        out = []
        seen: set[int] = set()
        for msg in track:
            if msg.type == "program_change":
                program[msg.channel] = msg.program
                out.append(msg)
                out.append(mido.Message("control_change", channel=msg.channel, control=7,
                                        value=cc7_with_gain(volume[msg.channel], gain(msg.channel)), time=0))
                seen.add(msg.channel)
                continue
            if msg.type == "control_change" and msg.control == 7:
                volume[msg.channel] = msg.value
                out.append(msg.copy(value=cc7_with_gain(msg.value, gain(msg.channel))))
                seen.add(msg.channel)
                continue
            if msg.type == "note_on" and msg.channel not in seen:
                seen.add(msg.channel)
                out.insert(0, mido.Message("control_change", channel=msg.channel, control=7,
                                           value=cc7_with_gain(volume[msg.channel], gain(msg.channel)), time=0))
            out.append(msg)
        track[:] = out
