"""Long-form generation: windows of at most ``window_s`` seconds, joined with crossfades.

MusicGen was trained on 30 s windows. A longer piece is made window by window: the first
window is generated from scratch, every next one is prompted with the last ``overlap_s``
seconds of codes of the one before (codes, never re-encoded audio) and generates
``window_s − overlap_s`` new seconds. Each window's codes (prompt included) are decoded on
their own, and consecutive windows are joined with a linear crossfade over the prompt region,
where both hold the same codes. The result is trimmed to exactly ``round(duration_s · sr)``
samples.

    windows = plan_windows(total_frames=3500, window_frames=1500, overlap_frames=500)
    audio = crossfade_join([decode(w) for w in windows], windows, hop_length, total_samples)

Section by section (issue 15)
-----------------------------
When the description has a timeline (:func:`timeline_sections`: at least two sections, and
``sync`` not ``off`` unless the user's cues made them), :func:`plan_sections` puts the window
boundaries at the section boundaries, rounded to whole codec frames: every section starts a new
window, prompted with the tail of the window before (so the audio carries across), and a section
longer than ``window_s`` is split into windows with the same text. Each window's text
(:func:`section_text`) is only its section's sentence, with the piece's global style words
(genre, key, the requested tempo "at 96 BPM", instruments) so that the windows stay one piece::

    plan = plan_sections(bridges, total_frames=800, frame_rate=50, window_frames=1500,
                         overlap_frames=500)
    plan.windows  # [Window(0, 0, 0, 400, section=0), Window(1, 0, 400, 400, section=1)]
    plan.texts    # ("A calm and dark opening, ..., at 76 BPM.", "An energetic ending, ...")

Without a timeline :func:`plan_sections` returns ``None`` and the piece is made as before: the
windows of :func:`plan_windows`, all with the global text ``bridges.text``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from vmb.types import Bridges, MusicDescription, Section, Wants


@dataclass(frozen=True)
class Window:
    """One generation window, in codec frames of the full piece.

    Attributes:
        index: position of the window, from 0.
        start_frame: first frame the window covers (its prompt included).
        prompt_frames: frames copied from the end of the previous window (0 for the first).
        new_frames: frames generated in this window.
        section: the section of the timeline whose text conditions the window (0 without one).
    """

    index: int
    start_frame: int
    prompt_frames: int
    new_frames: int
    section: int = 0

    @property
    def end_frame(self) -> int:
        return self.start_frame + self.prompt_frames + self.new_frames

    @property
    def num_frames(self) -> int:
        return self.prompt_frames + self.new_frames


def plan_windows(total_frames: int, window_frames: int, overlap_frames: int) -> list[Window]:
    """Cover ``total_frames`` with windows of at most ``window_frames`` frames.

    Raises:
        ValueError: non-positive sizes, or an overlap that leaves no room for new frames.
    """
    if total_frames < 1:
        raise ValueError(f"total_frames must be at least 1, got {total_frames}")
    if window_frames < 1:
        raise ValueError(f"window_frames must be at least 1, got {window_frames}")
    if not 0 <= overlap_frames < window_frames:
        raise ValueError(f"overlap_frames must be in [0, {window_frames}), got {overlap_frames}")
    windows = [Window(0, 0, 0, min(total_frames, window_frames))]
    done = windows[0].new_frames
    while done < total_frames:
        new = min(window_frames - overlap_frames, total_frames - done)
        windows.append(Window(len(windows), done - overlap_frames, overlap_frames, new))
        done += new
    return windows


def plan_section_windows(
    bounds: Sequence[int], window_frames: int, overlap_frames: int
) -> list[Window]:
    """Windows of at most ``window_frames`` frames whose new frames start at every bound.

    ``bounds`` are the section boundaries in frames, ``[0, b1, ..., total]``, strictly
    increasing; section ``i`` covers ``[bounds[i], bounds[i + 1])``. Every section's first
    window is prompted with the last ``overlap_frames`` frames before it (fewer when less has
    been made), and a section longer than a window is split into several. With ``bounds =
    [0, total]`` the plan is :func:`plan_windows`'s.

    Raises:
        ValueError: bounds that do not start at 0 or do not increase, or impossible sizes.
    """
    if len(bounds) < 2 or bounds[0] != 0:
        raise ValueError(f"bounds must start at 0 and end at the total, got {list(bounds)}")
    if any(b <= a for a, b in itertools.pairwise(bounds)):
        raise ValueError(f"bounds must increase, got {list(bounds)}")
    if window_frames < 1:
        raise ValueError(f"window_frames must be at least 1, got {window_frames}")
    if not 0 <= overlap_frames < window_frames:
        raise ValueError(f"overlap_frames must be in [0, {window_frames}), got {overlap_frames}")
    windows: list[Window] = []
    done = 0
    for section, end in enumerate(bounds[1:]):
        while done < end:
            prompt = min(overlap_frames, done)
            new = min(window_frames - prompt, end - done)
            windows.append(Window(len(windows), done - prompt, prompt, new, section))
            done += new
    return windows


@dataclass(frozen=True)
class SectionPlan:
    """The windows of a piece made section by section and the text of each section.

    Attributes:
        windows: the windows (:attr:`Window.section` indexes ``texts``).
        texts: one text per kept section, in order.
        bounds_s: the section boundaries in seconds, ``[0, ..., duration]`` (whole frames).
        sections: the index in ``description.sections`` of each kept section.
        notes: what was done (one line per window with its text, and any adjustment).
    """

    windows: list[Window]
    texts: tuple[str, ...]
    bounds_s: tuple[float, ...]
    sections: tuple[int, ...]
    notes: tuple[str, ...]


def timeline_sections(description: MusicDescription) -> tuple[Section, ...]:
    """The sections to generate one by one: none for fewer than two, and none with
    ``sync="off"`` unless the user's cues made them (``cue`` in a section's source)."""
    sections = description.sections
    if len(sections) < 2:
        return ()
    if description.sync == "off" and not any("cue" in s.source.split("+") for s in sections):
        return ()
    return sections


def _join(words: Sequence[str]) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def section_text(description: MusicDescription, index: int, wants: Wants | None = None) -> str:
    """The text of the windows of section ``index``: its sentence and the global style words.

    The section's own sentence (``section.text``: moods, role, genre, tempo class, energy)
    comes first; then what the piece keeps throughout: the genre when the section names none,
    the key, the requested tempo ("at 96 BPM"), the instruments when the section names none,
    the theme. A section tempo class that disagrees with the piece's BPM is left out (one
    tempo throughout, the one asked for). Wanted attributes not already said are appended
    (:func:`vmb.retrieve.text.bridge_text`).

    >>> d = MusicDescription(genre="rock", key="E", mode="minor", tempo_bpm=96,
    ...     sections=(Section(0, 8, mood=("calm",), text="a calm opening, low energy"),
    ...               Section(8, 16, mood=("energetic",), text="an energetic ending")))
    >>> section_text(d, 1)
    'An energetic ending, in the style of rock, in E minor at 96 BPM (medium tempo).'
    """
    from vmb.describe.schema import MAX_INSTRUMENTS, section_sentence
    from vmb.retrieve.text import bridge_text
    from vmb.types import MusicDescription
    from vmb.vocab import load_vocab

    d = description
    section = d.sections[index]
    total = len(d.sections)
    bpm = d.tempo_bpm
    tempo_class = d.tempo_class
    if bpm is not None:
        tempo_class = load_vocab().tempo_class(bpm)
    head = section.text.strip() or section_sentence(section, index, total)
    if bpm is not None and section.tempo_class and section.tempo_class != tempo_class:
        head = section_sentence(section.replace(tempo_class=None), index, total)
    head = head.rstrip(" .;")
    head = head[:1].upper() + head[1:]
    style = []
    if d.genre and not section.genre:
        style.append(f"in the style of {d.genre}")
    key = ""
    if d.key and d.mode:
        key = f"in {d.key} {d.mode}"
    elif d.key:
        key = f"in the key of {d.key}"
    elif d.mode:
        key = f"in a {d.mode} key"
    tempo = ""
    if bpm is not None:
        tempo = f"at {bpm:.0f} BPM"
        if f"{tempo_class} tempo" not in head:  # the section's sentence may say it already
            tempo += f" ({tempo_class} tempo)"
    elif tempo_class and not section.tempo_class:
        tempo = f"with a {tempo_class} tempo"
    if key or tempo:
        style.append(" ".join(p for p in (key, tempo) if p))
    if d.instruments and not section.instruments:
        style.append(f"blending {_join(d.instruments[:MAX_INSTRUMENTS])}")
    if d.theme:
        theme = d.theme.strip().rstrip(".")
        article = "an" if theme[:1].lower() in "aeiou" else "a"
        style.append(f"perfect for {article} {theme} scene")
    text = ", ".join([head, *style]) + "."
    fields = MusicDescription(
        genre=section.genre or d.genre,
        mood=section.mood,
        instruments=section.instruments or d.instruments,
        tempo_bpm=bpm,
        tempo_class=tempo_class if bpm is not None else section.tempo_class or tempo_class,
        key=d.key,
        mode=d.mode,
        text=text,
    )
    return bridge_text(fields, wants)


def plan_sections(
    bridges: Bridges,
    total_frames: int,
    frame_rate: float,
    window_frames: int,
    overlap_frames: int,
) -> SectionPlan | None:
    """The section-by-section plan of a piece of ``total_frames`` frames, or ``None`` when the
    description has no timeline to follow (:func:`timeline_sections`).

    Section ``i`` starts at frame ``round(start_s · frame_rate)``; a section that starts at or
    after the end of the piece, or that rounds to no frame, is left out; the last kept section
    runs to the end of the piece (also when the timeline is shorter than the music). Music that
    ends within the first section is made with that section's text alone.
    """
    description = bridges.description
    sections = timeline_sections(description)
    if not sections:
        return None
    starts: list[tuple[int, int]] = [(0, 0)]  # (section index, first frame)
    dropped = []
    for i, section in enumerate(sections[1:], start=1):
        frame = round(section.start_s * frame_rate)
        if starts[-1][1] < frame < total_frames:
            starts.append((i, frame))
        else:
            dropped.append(i)
    bounds = [frame for _, frame in starts] + [total_frames]
    windows = plan_section_windows(bounds, window_frames, overlap_frames)
    texts = tuple(section_text(description, i, bridges.wants) for i, _ in starts)
    at = ", ".join(f"{b / frame_rate:.2f}" for b in bounds[1:-1])
    head = (
        f"section by section: {len(windows)} windows for {len(starts)} sections, new windows at "
        f"{at} s, each prompted with up to {overlap_frames / frame_rate:g} s of codes before it"
        if at
        else "section by section: the music ends within the first section, made with its text"
    )
    notes = [head]
    if dropped:
        notes.append(
            f"sections {', '.join(str(i + 1) for i in dropped)} of the timeline start at or "
            "after the end of the music (or on the frame before): not generated"
        )
    end_s = total_frames / frame_rate
    if description.duration_s is not None and description.duration_s < end_s - 1.0 / frame_rate:
        notes.append(
            f"the timeline ends at {description.duration_s:g} s: its last section runs on to "
            f"the end of the music"
        )
    for w in windows:
        start, end = (w.start_frame + w.prompt_frames) / frame_rate, w.end_frame / frame_rate
        notes.append(
            f"window {w.index + 1} ({start:.2f}-{end:.2f} s, section {starts[w.section][0] + 1})"
            f": {texts[w.section]}"
        )
    return SectionPlan(
        windows=windows,
        texts=texts,
        bounds_s=tuple(b / frame_rate for b in bounds),
        sections=tuple(i for i, _ in starts),
        notes=tuple(notes),
    )


def crossfade_join(
    segments: list[np.ndarray], windows: list[Window], hop_length: int, total_samples: int
) -> np.ndarray:
    """Join decoded windows into one ``[C, total_samples]`` float32 signal.

    Args:
        segments: window ``i`` decoded, ``[C, >= windows[i].num_frames · hop_length]``.
        windows: the plan the segments were made from.
        hop_length: samples per codec frame.
        total_samples: the exact length of the result (at most the frames' length).

    Where window ``i`` was prompted with ``p`` frames, the ``p · hop_length`` samples it shares
    with window ``i − 1`` fade linearly from the old window into the new one.
    """
    if len(segments) != len(windows) or not segments:
        raise ValueError(f"{len(segments)} segments for {len(windows)} windows")
    channels = segments[0].shape[0]
    length = windows[-1].end_frame * hop_length
    if total_samples > length:
        raise ValueError(
            f"total_samples {total_samples} exceeds the {length} samples of the windows"
        )
    out = np.zeros((channels, length), dtype=np.float32)
    for segment, window in zip(segments, windows):
        need = window.num_frames * hop_length
        if segment.shape[-1] < need:
            raise ValueError(f"window {window.index}: {segment.shape[-1]} samples, expected {need}")
        segment = segment[:, :need].astype(np.float32, copy=False)
        start = window.start_frame * hop_length
        fade = window.prompt_frames * hop_length
        if fade:
            # Sample midpoints, so that neither end of the ramp is exactly 0 or 1.
            ramp = ((np.arange(fade, dtype=np.float64) + 0.5) / fade).astype(np.float32)
            out[:, start : start + fade] = (
                out[:, start : start + fade] * (1.0 - ramp) + segment[:, :fade] * ramp
            )
        out[:, start + fade : start + need] = segment[:, fade:]
    return out[:, :total_samples]
