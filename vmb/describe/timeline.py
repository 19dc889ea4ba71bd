"""The timeline of the text bridge: sections at scene changes, cuts to hit, an energy curve.

:func:`add_timeline` turns a global :class:`~vmb.types.MusicDescription` into one that also
scores the visuals in time::

    0–8 s: a calm, sad and dark opening, slow tempo and low energy;
    8–16 s: an energetic, tense and powerful ending (rock), fast tempo and high energy.

How the timeline is made
------------------------
- **A video** is decoded once at low resolution (:func:`vmb.describe.scan.scan_video`; about
  0.3-0.5 s per minute of 640x360 video here, see ``benchmarks/bench_scenes.py``). Shots come
  from :class:`vmb.describe.scenes.CutDetector`. Every frame is measured (brightness,
  saturation, warmth, colourfulness, motion); the rule table of the built-in describer
  (``configs/visual_rules.yaml``) turns any stretch of frames into energy and valence.
- **Sections** are scenes, not shots: a shot change becomes a section boundary when the
  picture on either side differs — the energy or valence of the ``CONTEXT_S`` seconds before
  and after it differ by at least ``ENERGY_STEP`` / ``VALENCE_STEP`` — strongest first, no
  section shorter than ``MIN_SECTION_S``. Colour cards cut every 0.75 s are one section; a
  still scene followed by fast action is two, split at the first cut of the action.
  Each section is then measured on its own frames and described by the same rule table
  (mood, genre, tempo class, energy).
- **Images** are a slideshow: equal sections in order (after the video, each as long as it,
  when there is one; over ``duration_s``, the last cue's end, or :data:`DEFAULT_SLIDESHOW_S`
  otherwise). Marker cues set the slide changes.
- **Tempo from the cuts**: when the video is cut at a steady rate, the pixels' tempo is the one
  nearest theirs whose beats divide the cut period (cuts every 0.75 s: 80 BPM), so the music
  can put every cut on a beat (:func:`cut_period_tempo`; ``sync="cuts"`` only).
- **The energy curve** is the energy of each ``energy_step_s`` (1 s) window; cut rate there
  is counted over 3 s around it.
- **Cues** (:mod:`vmb.describe.cues`) are the user's: a span cue becomes one section with the
  cue's words winning over the pixels (explicit words win), splitting or merging the pixel
  sections it covers; a marker splits the section it falls in and is a cut to hit.
- **Length**: a ``duration_s`` shorter than the visuals cuts the timeline there.
- **sync**: ``cuts`` (default): sections and cuts; ``scenes``: sections, and only the user's
  markers as cuts; ``off``: no sections from the picture (the user's cues still make theirs).

The global fields become a consistent summary of the sections
(:func:`vmb.describe.schema.summarise`) when the built-in describer made them; a VLM's global
fields are kept. The user's text and ``wants`` win over both (:func:`~vmb.describe.schema.merge`,
:func:`~vmb.describe.schema.apply_wants`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vmb.describe.cues import Cue, CueError, check_cues, parse_cues
from vmb.describe.measure import colour_stats, frame_colour
from vmb.describe.schema import (
    apply_wants,
    consistent_moods,
    merge,
    section_sentence,
    summarise,
    timeline_sentence,
    write_sentence,
)
from vmb.errors import UsageError
from vmb.types import Cut, MediaInput, MusicDescription, Section, Wants

SYNC_MODES = ("cuts", "scenes", "off")
MIN_SECTION_S = 3.0
CONTEXT_S = 3.0
ENERGY_STEP = 0.15
VALENCE_STEP = 0.25
DEFAULT_SLIDESHOW_S = 30.0
ENERGY_STEP_S = 1.0
SECTION_COLOUR_FRAMES = 48


@dataclass(frozen=True)
class Timeline:
    """What :func:`build_timeline` found: sections (attributes from the pixels, then cues),
    cuts to hit, the energy curve, its length and the per-section descriptions."""

    sections: tuple[Section, ...]
    cuts: tuple[Cut, ...]
    energy_curve: tuple[float, ...]
    duration_s: float
    parts: tuple[MusicDescription, ...] = ()  # the full description of each section


# ------------------------------------------------------------------------------ video
class _FrameTable:
    """Per-frame measurements of one video and the rule table, to describe any stretch."""

    def __init__(self, scan, cuts, describer):
        from vmb.describe.scenes import frame_motion

        self.scan = scan
        self.cuts = cuts
        self.describer = describer
        self.rules = describer.rules
        self.times = scan.times_s
        self.colour = frame_colour(scan.rgb[:, ::2, ::2])  # colour needs few pixels
        self.motion = frame_motion(scan.rgb, [c.frame for c in cuts])
        self.cut_times = np.array([c.time_s for c in cuts], np.float64)

    def _slice(self, start: float, end: float) -> slice:
        # A stretch between two frames (or after the last one, in a video whose declared
        # length outruns its frames) reads the frame shown then.
        a = int(np.searchsorted(self.times, start - 1e-6))
        b = int(np.searchsorted(self.times, end - 1e-6))
        if b <= a:  # no frame starts in [start, end): the one on screen at `start`
            a = max(0, min(a, len(self.times)) - 1)
            b = a + 1
        return slice(a, b)

    def values(self, start: float, end: float, cut_span: tuple[float, float] | None = None):
        """Measurement values of frames in [start, end) as the rule table reads them."""
        part = self._slice(start, end)
        values = {k: float(np.mean(v[part])) for k, v in self.colour.items()}
        moving = self.motion[part][1:] if part.stop - part.start > 1 else self.motion[part]
        moving = moving[moving > 0] if np.any(moving > 0) else moving
        values["motion"] = float(np.mean(moving)) if moving.size else 0.0
        lo, hi = cut_span or (start, end)
        inside = np.sum((self.cut_times > lo + 1e-6) & (self.cut_times < hi - 1e-6))
        values["cut_rate"] = float(inside / max(hi - lo, 1e-6))
        return values

    def energy_valence(self, values) -> tuple[float, float]:
        r = self.rules
        return r.weighted(r.energy, values), r.weighted(r.valence, values)

    def describe(self, start: float, end: float) -> tuple[MusicDescription, dict[str, float]]:
        from vmb.describe.visual import Measurements

        part = self._slice(start, end)
        s = self.rules.sampling
        frames = self.scan.rgb[part]
        if len(frames) > SECTION_COLOUR_FRAMES:  # colour from frames spread over the section
            picks = np.linspace(0, len(frames) - 1, SECTION_COLOUR_FRAMES).round().astype(int)
            frames = frames[picks]
        colour = colour_stats(frames, s["min_saturation"])
        values = self.values(start, end)
        m = Measurements(**colour, motion=values["motion"], cut_rate=values["cut_rate"],
                         frames=part.stop - part.start)  # fmt: skip
        return self.describer.describe_measurements(m), _rounded(m)


def _scene_bounds(table: _FrameTable, duration: float) -> list[float]:
    """Section boundaries among the cuts (see the module docstring)."""
    scored = []
    for cut in table.cuts:
        c = cut.time_s
        if c < MIN_SECTION_S - 1e-6 or duration - c < MIN_SECTION_S - 1e-6:
            continue
        before = table.energy_valence(table.values(max(0.0, c - CONTEXT_S), c))
        after = table.energy_valence(table.values(c, min(duration, c + CONTEXT_S)))
        de, dv = abs(after[0] - before[0]), abs(after[1] - before[1])
        if de >= ENERGY_STEP or dv >= VALENCE_STEP:
            scored.append((max(de / ENERGY_STEP, dv / VALENCE_STEP), c))
    chosen: list[float] = []
    for _, c in sorted(scored, reverse=True):
        if all(abs(c - b) >= MIN_SECTION_S - 1e-6 for b in chosen):
            chosen.append(c)
    return sorted(chosen)


def _energy_curve(table: _FrameTable, duration: float, step: float) -> list[float]:
    curve = []
    for k in range(max(1, math.ceil(duration / step - 1e-6))):
        start, end = k * step, min(duration, (k + 1) * step)
        span = (max(0.0, start - step), min(duration, end + step))
        values = table.values(start, end, cut_span=span)
        curve.append(round(table.energy_valence(values)[0], 3))
    return curve


def _video_part(item: MediaInput, describer, sync: str, offset: float):
    """Sections, cuts and curve of one video, shifted by ``offset`` seconds."""
    from vmb.describe.scan import scan_video
    from vmb.describe.scenes import CutDetector

    scan = scan_video(item.path)
    duration = scan.duration_s
    detected = CutDetector().detect(scan.rgb, scan.times_s, scan.fps) if len(scan.rgb) > 1 else []
    table = _FrameTable(scan, detected, describer)
    bounds = [0.0, *(_scene_bounds(table, duration) if sync != "off" else []), duration]
    parts, sections = [], []
    for a, b in itertools.pairwise(bounds):
        d, measured = table.describe(a, b)
        parts.append(d)
        sections.append(_section_from(d, a + offset, b + offset, "video", measured))
    cuts = [Cut(round(c.time_s + offset, 3), round(c.strength, 3), c.kind) for c in detected]
    curve = _energy_curve(table, duration, ENERGY_STEP_S)
    return duration, sections, parts, cuts, curve


def _section_from(
    d: MusicDescription, start: float, end: float, source: str, measured: dict[str, float]
) -> Section:
    return Section(round(start, 3), round(end, 3), energy=d.energy, mood=d.mood,
                   tempo_class=d.tempo_class, genre=d.genre, source=source,
                   measured=measured)  # fmt: skip


def _rounded(m) -> dict[str, float]:
    """The measurements a section reports (no hue: it is the key's business)."""
    names = ("brightness", "saturation", "warmth", "colourfulness", "motion", "cut_rate")
    return {n: round(float(getattr(m, n)), 4) for n in names if getattr(m, n) is not None}


# ------------------------------------------------------------------------------ images
def _image_description(item: MediaInput, describer) -> tuple[MusicDescription, dict]:
    m, _ = describer.measure_each([item])[0]
    return describer.describe_measurements(m), _rounded(m)


def _slide_bounds(start: float, end: float, count: int, markers: Sequence[float]) -> list[float]:
    inside = sorted(t for t in markers if start + 1e-6 < t < end - 1e-6)
    if len(inside) == count - 1:
        return [start, *inside, end]
    return [start + (end - start) * k / count for k in range(count + 1)]


# ------------------------------------------------------------------------------ cues
def _split(sections: list[Section], parts: list[MusicDescription], at: float):
    for i, s in enumerate(sections):
        if s.start_s + 1e-6 < at < s.end_s - 1e-6:
            first, second = s.replace(end_s=round(at, 3)), s.replace(start_s=round(at, 3))
            sections[i : i + 1] = [first, second]
            parts[i : i + 1] = [parts[i], parts[i]]
            return


def _apply_cues(sections, parts, cues: Sequence[Cue], duration: float):
    """Sections with the cues put in: a span cue is one section with its words winning."""
    sections, parts = list(sections), list(parts)
    if not sections:
        sections, parts = [Section(0.0, round(duration, 3))], [MusicDescription()]
    for cue in cues:
        _split(sections, parts, cue.start_s)
        if cue.end_s is not None:
            _split(sections, parts, cue.end_s)
    for cue in (c for c in cues if not c.is_marker):
        inside = [i for i, s in enumerate(sections)
                  if s.start_s >= cue.start_s - 1e-6 and s.end_s <= cue.end_s + 1e-6]  # fmt: skip
        if not inside:
            continue
        covered = [sections[i] for i in inside]
        lead = max(covered, key=lambda s: s.duration_s)
        energies = [(s.energy, s.duration_s) for s in covered if s.energy is not None]
        energy = (sum(e * w for e, w in energies) / sum(w for _, w in energies)
                  if energies else None)  # fmt: skip
        cue_moods = lead.mood
        if cue.mood:
            cue_moods = consistent_moods([*cue.mood, *lead.mood], max(3, len(cue.mood)))
        merged = Section(
            covered[0].start_s,
            covered[-1].end_s,
            energy=cue.implied_energy
            if cue.implied_energy is not None
            else (None if energy is None else round(energy, 3)),
            mood=cue_moods,
            tempo_class=cue.tempo_class or lead.tempo_class,
            genre=cue.genre or lead.genre,
            instruments=cue.instruments or lead.instruments,
            source="+".join(dict.fromkeys(p for p in (*lead.source.split("+"), "cue") if p)),
            measured=lead.measured,
        )
        sections[inside[0] : inside[-1] + 1] = [merged]
        parts[inside[0] : inside[-1] + 1] = [parts[inside[0]]]
    return sections, parts


# ------------------------------------------------------------------------------ build
def build_timeline(
    inputs: Sequence[MediaInput],
    describer,
    cues: Sequence[Cue] = (),
    sync: str = "cuts",
    duration_s: float | None = None,
) -> Timeline | None:
    """The timeline of the visual inputs (see the module docstring); ``None`` when there is
    nothing to put on one (no visual input and no cue, or ``sync="off"`` without cues)."""
    visuals = [i for i in inputs if i.kind in ("video", "image")]
    if sync == "off" and not cues:
        return None
    if not visuals and not cues:
        return None
    sections: list[Section] = []
    parts: list[MusicDescription] = []
    cuts: list[Cut] = []
    curve: list[float] = []
    videos = [i for i in visuals if i.kind == "video" and i.path is not None]
    images = [i for i in visuals if i not in videos]
    if len(videos) > 1:
        raise UsageError("the timeline takes one video (give the others as separate runs)")
    offset = 0.0
    if videos:
        length, sections, parts, cuts, curve = _video_part(videos[0], describer, sync, 0.0)
        offset = length
    markers = [c.start_s for c in cues if c.is_marker]
    if images:
        if videos:
            end = max(duration_s or 0.0, offset * (1 + len(images)))
        else:
            spans = [c.end_s for c in cues if c.end_s is not None] + markers
            end = duration_s or (max(spans) if spans else DEFAULT_SLIDESHOW_S)
        if sync == "off" and not videos and not cues:
            end = duration_s or DEFAULT_SLIDESHOW_S
        bounds = _slide_bounds(offset, end, len(images), markers)
        slides = []
        for item, a, b in zip(images, bounds, bounds[1:], strict=False):
            d, measured = _image_description(item, describer)
            parts.append(d)
            name = item.path.rsplit("/", 1)[-1] if item.path else "image"
            slides.append(_section_from(d, a, b, f"image:{name}", measured))
        sections += slides
        # Curve windows after the video's: the energy of the slide shown at their start.
        for k in range(len(curve), max(1, math.ceil(end / ENERGY_STEP_S - 1e-6))):
            t = k * ENERGY_STEP_S
            shown = next((s for s in slides if s.start_s - 1e-6 <= t < s.end_s), slides[-1])
            curve.append(shown.energy if shown.energy is not None else 0.5)
        offset = end
    duration = offset if visuals else (
        duration_s or max((c.end_s or c.start_s) for c in cues))  # fmt: skip
    if duration_s is not None and not videos and not images:
        duration = duration_s
    if sync == "off":
        sections, parts, cuts = [], [], []
    limit = min(duration, duration_s) if duration_s else duration
    what = "music" if limit < duration else ("video" if videos else "timeline")
    cues = check_cues(cues, limit, what)
    if cues:
        sections, parts = _apply_cues(sections, parts, cues, duration)
        if not curve:
            curve = [0.5] * max(1, math.ceil(duration / ENERGY_STEP_S - 1e-6))
        for cue in cues:
            if cue.implied_energy is not None and cue.end_s is not None:
                for k in range(len(curve)):
                    if cue.start_s - 1e-6 <= k * ENERGY_STEP_S < cue.end_s - 1e-6:
                        curve[k] = cue.implied_energy
    marker_cuts = [Cut(round(t, 3), 1.0, "marker") for t in markers]
    if sync == "cuts":
        cuts = sorted([c for c in cuts if all(abs(c.time_s - t) > 0.05 for t in markers)]
                      + marker_cuts, key=lambda c: c.time_s)  # fmt: skip
    else:
        cuts = marker_cuts
    if duration_s is not None and duration_s < duration - 1e-6:  # the music is shorter
        duration = float(duration_s)
        keep = [i for i, s in enumerate(sections) if s.start_s < duration - 1e-6]
        sections = [sections[i] for i in keep]
        parts = [parts[i] for i in keep] if len(parts) >= len(keep) else parts
        if sections:
            sections[-1] = sections[-1].replace(end_s=round(duration, 3))
        cuts = [c for c in cuts if c.time_s < duration - 1e-6]
        curve = curve[: max(1, math.ceil(duration / ENERGY_STEP_S - 1e-6))]
    total = len(sections)
    sections = [s.replace(text=section_sentence(s, i, total)) for i, s in enumerate(sections)]
    return Timeline(tuple(sections), tuple(cuts), tuple(round(e, 3) for e in curve),
                    round(duration, 3), tuple(parts))  # fmt: skip


def cut_period_tempo(cuts_s: Sequence[float], bpm: float, lo: float, hi: float) -> float | None:
    """The tempo nearest ``bpm`` (within ``[lo, hi]``) whose beats fall on a steady cut rate:
    ``m`` beats per cut period ``p``, ``60 m / p`` BPM; ``None`` when the cuts are not steady
    (fewer than four, or under 70 % of the gaps within 40 ms of their median)."""
    gaps = np.diff(np.sort(np.asarray(list(cuts_s), np.float64)))
    if len(gaps) < 3:
        return None
    period = float(np.median(gaps))
    if period <= 0 or np.mean(np.abs(gaps - period) <= 0.04) < 0.7:
        return None
    options = [60.0 * m / period for m in range(1, 9) if lo <= 60.0 * m / period <= hi]
    return min(options, key=lambda t: abs(math.log(t / bpm))) if options else None


def _cut_paced(pixels: MusicDescription, cuts: Sequence[Cut], lo: float, hi: float, vocab):
    """A video cut at a steady rate sets the pixels' tempo: the cut period holds whole beats,
    so the music can hit every cut (the generator moves a tempo at most 8 %)."""
    if pixels.tempo_bpm is None:
        return pixels
    tempo = cut_period_tempo([c.time_s for c in cuts if c.kind == "hard"], pixels.tempo_bpm, lo, hi)
    if tempo is None or abs(tempo - pixels.tempo_bpm) < 0.5:
        return pixels
    paced = pixels.replace(tempo_bpm=round(tempo, 2), tempo_class=vocab.tempo_class(tempo))
    return paced.replace(text=write_sentence(paced))


def _impose_moods(section: Section, moods: Sequence[str], index: int, total: int) -> Section:
    if not moods:
        return section
    merged = section.replace(mood=consistent_moods([*moods, *section.mood]))
    return merged.replace(text=section_sentence(merged, index, total))


def add_timeline(
    description: MusicDescription,
    inputs: Sequence[MediaInput],
    describer=None,
    cues: Sequence[str | Cue] | None = None,
    sync: str = "cuts",
    duration_s: float | None = None,
    wants: Wants | None = None,
) -> MusicDescription:
    """``description`` (what a describer said about ``inputs``) with the timeline, the
    summary rule and the user's wants put in (see the module docstring).

    Args:
        description: the describer's global description of ``inputs``.
        inputs: the same inputs (videos and images by path).
        describer: a :class:`~vmb.describe.visual.VisualDescriber` for the sections (the one
            that made ``description``, or a new one).
        cues: ``--cue`` strings or :class:`~vmb.describe.cues.Cue` objects (a ``--cues`` file
            read with :func:`~vmb.describe.cues.load_cue_file`).
        sync: ``cuts``, ``scenes`` or ``off``.
        duration_s: the music's length when the user set it (images only: the slideshow's).
        wants: the user's targeted attributes.

    Raises:
        UsageError: an unknown ``sync``. CueError: a bad cue (named).
    """
    from vmb.describe.text import parse_text
    from vmb.describe.visual import VisualDescriber

    if sync not in SYNC_MODES:
        raise UsageError(f"sync={sync!r}: use one of {', '.join(SYNC_MODES)}")
    cue_list = parse_cues(list(cues or ()))
    visual_made = description.source.split("+")[0] == "visual"
    if describer is None or not isinstance(describer, VisualDescriber):
        describer = VisualDescriber.from_config()
    timeline = build_timeline(inputs, describer, cue_list, sync, duration_s)
    texts = [i.text.strip() for i in inputs if i.kind == "text" and i.text and i.text.strip()]
    words = parse_text(" ".join(texts), describer.vocab) if texts else None
    if timeline is None:
        if not wants:
            return description
        if visual_made:
            pixels = describer.describe_pixels(inputs)
            return merge(apply_wants(pixels, wants, describer.vocab), words, describer.vocab)
        return apply_wants(description, wants, describer.vocab)
    sections = list(timeline.sections)
    total = len(sections)
    if words is not None and words.mood:
        # the text's moods colour every section but those a cue named: a cue is the user's own
        # word for its span, more specific than the text's word for the whole piece
        sections = [
            s if "cue" in s.source and s.mood else _impose_moods(s, words.mood, i, total)
            for i, s in enumerate(sections)
        ]
    if wants:
        sections = list(apply_wants(MusicDescription(sections=tuple(sections)), wants).sections)
    if visual_made and timeline.parts:
        r = describer.rules
        weighted = [
            (part.replace(mood=section.mood, energy=section.energy,
                          genre=section.genre or part.genre), section.duration_s)
            for section, part in zip(sections, timeline.parts, strict=True)
        ]  # fmt: skip
        pixels = summarise(weighted, describer.vocab, r.min_bpm, r.max_bpm)
        if sync == "cuts":
            pixels = _cut_paced(pixels, timeline.cuts, r.min_bpm, r.max_bpm, describer.vocab)
        pixels = apply_wants(pixels.replace(source="visual"), wants, describer.vocab)
        glob = merge(pixels, words, describer.vocab)
    else:
        glob = apply_wants(description, wants, describer.vocab)
    body = glob.text if glob.text.strip() else write_sentence(glob)
    text = " ".join(t for t in (body, timeline_sentence(sections)) if t)
    return glob.replace(sections=tuple(sections), cuts=timeline.cuts,
                        energy_curve=timeline.energy_curve, energy_step_s=ENERGY_STEP_S,
                        sync=sync, text=text)  # fmt: skip


def timeline_lines(description: MusicDescription) -> list[str]:
    """The timeline as lines for a terminal: one per section, then the cuts."""
    lines = []
    for s in description.sections:
        energy = "-" if s.energy is None else f"{s.energy:.2f}"
        lines.append(
            f"{s.start_s:7.2f}-{s.end_s:7.2f} s  energy {energy}  {s.tempo_class or '-':6s} "
            f"{', '.join(s.mood) or '-'}  ({s.source or '-'})"
        )
    if description.cuts:
        shown = ", ".join(f"{c.time_s:.2f}" for c in description.cuts[:12])
        more = f" ... ({len(description.cuts)} in all)" if len(description.cuts) > 12 else ""
        lines.append(f"cuts to hit (s): {shown}{more}")
    return lines


__all__ = ["SYNC_MODES", "CueError", "Timeline", "add_timeline", "build_timeline", "timeline_lines"]
