"""Choosing a renderer and rendering arrangements or any MIDI file to mastered audio."""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from vmb.generate.builtin.mastering import TARGET_LUFS, master_parts
from vmb.generate.builtin.midi import read_midi, to_midi_file
from vmb.generate.builtin.render_fluidsynth import (
    find_fluidsynth,
    find_soundfont,
    render_fluidsynth,
)
from vmb.generate.builtin.render_numpy import render_numpy
from vmb.signatures import same_parameters

logger = logging.getLogger(__name__)

RENDERERS = ("auto", "fluidsynth", "numpy")
DEFAULT_SAMPLE_RATE = 48000


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


def render_parts(
    source: str | os.PathLike | Arrangement,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    renderer: str | RendererChoice = "auto",
    soundfont: str | os.PathLike | None = None,
    length_s: float | None = None,
    loudness_lufs: float = TARGET_LUFS,
    balance: bool = True,
    loop: bool | None = None,
    stems: bool = False,
) -> tuple[np.ndarray, dict[str, np.ndarray], int, str]:
    """:func:`render_midi`, and with ``stems`` (an :class:`Arrangement` only) one track per
    part (drums, bass, harmony, lead...) rendered on its own: the mix is then their sum and
    every stem is mastered with the mix's own processing, so the stems sum to the mix.

    Returns ``(mix [2, T], {part: [2, T]}, sample_rate, note)``.
    """
    choice = renderer if isinstance(renderer, RendererChoice) else choose_renderer(renderer, soundfont)
    sr = int(sample_rate)
    is_arrangement = isinstance(source, Arrangement)
    if length_s is None and is_arrangement:
        length_s = source.duration_s
    if loop is None:
        loop = bool(is_arrangement and source.loop)
    if stems and not is_arrangement:
        raise ConfigError("stems need an arrangement with parts; a MIDI file is rendered as one mix")
    events = source.events() if is_arrangement else read_midi(source)[0]  # a clear MediaError first
    programs = {DRUMS if e.is_drums else e.program for e in events}
    gains = _gains(choice, programs, sr) if balance else {}
    # a loop renders its tail too (folded back onto the start by the mastering)
    render_len = None if loop else length_s
    if stems:
        groups = source.stems()
        parts = {name: _render(dataclasses.replace(source, tracks=tracks), choice, sr, render_len, gains)
                 for name, tracks in groups.items()}
        longest = max((p.shape[1] for p in parts.values()), default=0)
        parts = {k: np.pad(v, ((0, 0), (0, longest - v.shape[1]))) for k, v in parts.items()}
        audio = np.sum(list(parts.values()), axis=0) if parts else np.zeros((2, 1), np.float32)
    else:
        parts = {}
        audio = _render(source, choice, sr, render_len, gains)
    n = None if length_s is None else round(length_s * sr)
    mix, mastered = master_parts(audio, sr, n, target_lufs=loudness_lufs, loop=loop, stems=parts)
    return mix, mastered, sr, choice.note


@same_parameters(render_parts, drop=("stems",))
def render_midi(**settings: Any) -> tuple[np.ndarray, int, str]:
    """Render an arrangement or any standard MIDI file to mastered stereo audio.

    Args:
        source: an :class:`Arrangement` or the path of a ``.mid`` file.
        sample_rate: output rate in Hz.
        renderer: ``auto``, ``fluidsynth``, ``numpy`` or a :class:`RendererChoice`.
        soundfont: a soundfont to use instead of the searched ones.
        length_s: exact output length; default: the arrangement's duration, or for a MIDI file
            its length plus the instruments' release and reverb tail.
        loudness_lufs: integrated loudness of the output (LUFS); true peaks stay at or under
            -1 dBTP (see :mod:`.mastering`).
        balance: level-match the programs first (see :mod:`.levels`), so that no instrument
            of the soundfont drowns the others; the music's own channel volumes apply on top.
        loop: fold the rendered tail back onto the start (default: the arrangement's ``loop``).

    Returns:
        ``(audio [2, T] float32, sample_rate, note)``; ``note`` says which renderer ran and why.

    Raises:
        MediaError: the MIDI file is missing or unreadable.
        GenerationError: FluidSynth failed.
    """
    mix, _, sr, note = render_parts(**settings)
    return mix, sr, note


def _gains(choice: RendererChoice, programs: set[int], sr: int) -> dict[int, float]:
    if choice.kind == "fluidsynth":
        levels = fluidsynth_levels(programs, choice.soundfont, choice.executable or "fluidsynth")
    else:
        levels = numpy_levels(programs, sr)
    return {p: compensation_db(v) for p, v in levels.items()}


def _render(source, choice: RendererChoice, sr: int, length_s: float | None, gains: dict[int, float]) -> np.ndarray:
    """Raw ``[2, T]`` audio of an arrangement or MIDI file (not mastered)."""
    if choice.kind == "fluidsynth":
        with tempfile.TemporaryDirectory(prefix="vmb-render-") as tmp:
            mid = to_midi_file(source) if isinstance(source, Arrangement) else _load_midi(source)
            if gains:
                _apply_channel_gains(mid, gains)
            path = Path(tmp) / "render.mid"
            mid.save(path)
            return render_fluidsynth(path, choice.soundfont, sr, executable=choice.executable or "fluidsynth")
    events = source.events() if isinstance(source, Arrangement) else read_midi(source)[0]
    return render_numpy(events, sr, length_s, gains_db=gains)


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
