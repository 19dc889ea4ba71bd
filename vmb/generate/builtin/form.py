"""The form of a piece: which sections, where, how energetic — the seam between *what happens
when* and the composer.

A :class:`FormPlan` is an ordered list of :class:`PlannedSection` s in seconds (start, end,
energy, moods, an optional tempo class) and the cut times to accent. The composer consumes one:

- by default :func:`automatic_form` lays out today's form on the bar grid: an intro, body
  sections ``A``/``B`` alternating with a ``C`` breakdown in longer pieces, and the cadence bar;
- a description with a timeline (a video's scenes and cuts, cues) becomes a plan through
  :func:`form_from_description`; a caller may also pass its own plan to
  :func:`vmb.generate.builtin.composer.compose` (``form=``). The composer lays a planned form on
  a beat grid chosen to hit the cuts (:mod:`.timing`): each section starts on the beat nearest
  its start (:func:`section_beats`), its harmony on the nearest bar line
  (:func:`sections_from_plan`), and it keeps its energy and moods.

Both give :class:`~vmb.generate.builtin.arrangement.Section` s in bars.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from vmb.generate.builtin.arrangement import Section
from vmb.types import MusicDescription

LIFT = {"A": 0.0, "B": 0.12, "C": -0.25}  # energy of a body section relative to the piece's


@dataclass(frozen=True)
class PlannedSection:
    """One section of a :class:`FormPlan`, in seconds.

    ``energy`` ``None`` takes the piece's; ``name`` (``A``, ``B``, ``C``, ``intro``) ``None``
    lets the composer choose (A and B alternate). ``tempo_class`` is recorded for the composer's
    notes; the piece keeps one tempo.
    """

    start_s: float
    end_s: float
    energy: float | None = None
    moods: tuple[str, ...] = ()
    tempo_class: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class FormPlan:
    """Ordered sections covering the piece, and the times of the cuts to accent (a crash and a
    kick on the nearest beat where there are drums, a stronger chord where there are not).

    ``cut_strengths`` (0..1, default 1 each) steer which cuts go on downbeats; ``tempo_free``
    lets the composer move the tempo up to 8 % to put cuts on beats (``False``: the tempo was
    stated and is kept exactly, only the phase moves); ``energy_curve`` (0..1 per
    ``energy_step_s`` window from 0 s) shapes the dynamics within sections.
    """

    sections: tuple[PlannedSection, ...]
    cuts_s: tuple[float, ...] = ()
    cut_strengths: tuple[float, ...] = ()
    tempo_free: bool = False
    energy_curve: tuple[float, ...] = ()
    energy_step_s: float = 1.0
    source: str = ""

    def strengths(self) -> tuple[float, ...]:
        """The strength of each cut (1 where none was given)."""
        if len(self.cut_strengths) == len(self.cuts_s):
            return tuple(float(x) for x in self.cut_strengths)
        return (1.0,) * len(self.cuts_s)

    def energy_at(self, time_s: float) -> float | None:
        """The energy curve at ``time_s`` (linear between window centres), ``None`` without one."""
        if not self.energy_curve:
            return None
        centres = (np.arange(len(self.energy_curve)) + 0.5) * self.energy_step_s
        return float(np.interp(time_s, centres, self.energy_curve))

    def check(self, duration_s: float) -> None:
        """Raises ``ValueError`` naming the section that is empty, out of order or outside the piece."""
        last = 0.0
        for i, s in enumerate(self.sections):
            if not (0.0 <= s.start_s < s.end_s <= duration_s + 1e-6) or s.start_s < last - 1e-6:
                raise ValueError(f"section {i} ({s.start_s:g}-{s.end_s:g} s) is empty, overlaps or lies "
                                 f"outside the piece (0-{duration_s:g} s)")
            if s.energy is not None and not 0.0 <= s.energy <= 1.0:
                raise ValueError(f"section {i}: energy {s.energy!r} is not in [0, 1]")
            last = s.end_s


def intro_bars(body: int) -> int:
    """Bars of intro before a body of ``body`` bars."""
    return 0 if body < 3 else 1 if body < 8 else 2 if body < 24 else 4


def letters(n: int) -> list[str]:
    """Section letters of ``n`` body sections: A/B alternating, a C breakdown at 60 % of five
    or more, then A/B again."""
    if n <= 0:
        return []
    out = ["A" if i % 2 == 0 else "B" for i in range(n)]
    if n >= 5:
        c = int(n * 0.6)
        out[c] = "C"
        for i in range(c + 1, n):
            out[i] = "A" if (i - c) % 2 == 1 else "B"
    return out


def automatic_form(n_bars: int, energy: float, section_length: int, music_share: float,
                   ending: bool = True, intro: bool = True) -> list[Section]:
    """The default form of ``n_bars`` bars (the last one the cadence when ``ending``).

    ``section_length`` is the progression's length in bars (sections are whole progressions);
    ``music_share`` is the share of body sections that play the reference's chord loop.
    """
    if n_bars <= 0:
        return []
    body = n_bars - (1 if ending else 0)
    n_intro = intro_bars(body) if intro else 0
    body -= n_intro
    length = section_length
    if length == 4 and body >= 40:
        length = 8
    sizes = [length] * (body // length)
    if body % length:
        if sizes and body % length < length / 2:
            sizes[-1] += body % length
        else:
            sizes.append(body % length)
    names = letters(len(sizes))
    sections = []
    bar = 0
    if n_intro:
        src = "reference" if music_share >= 0.5 else "progression"
        sections.append(Section("intro", 0, n_intro, max(0.0, energy - 0.2), src))
        bar = n_intro
    for i, (size, letter) in enumerate(zip(sizes, names)):
        use_ref = math.floor((i + 1) * music_share + 0.5) > math.floor(i * music_share + 0.5)
        lift = LIFT[letter] + (0.08 if i == len(sizes) - 1 and len(sizes) > 2 else 0.0)
        sections.append(Section(letter, bar, size, float(np.clip(energy + lift, 0.0, 1.0)),
                                "reference" if use_ref else letter))
        bar += size
    if ending:
        sections.append(Section("ending", bar, 1, energy, "cadence"))
    return sections


def sections_from_plan(form: FormPlan, bar_s: float, n_bars: int, energy: float, music_share: float,
                       ending: bool = True) -> list[Section]:
    """A :class:`FormPlan` on the bar grid: each boundary at the nearest bar line (a section
    keeps at least one bar), the last section up to the cadence bar."""
    body = n_bars - (1 if ending else 0)
    if body <= 0:
        return automatic_form(n_bars, energy, 4, music_share, ending)
    starts = []
    for s in form.sections:
        b = round(s.start_s / bar_s)
        b = max(b, starts[-1] + 1 if starts else 0)
        if b >= body:
            break
        starts.append(b)
    if not starts:
        return automatic_form(n_bars, energy, 4, music_share, ending)
    starts[0] = 0
    sections = []
    auto = iter(["A", "B"] * len(starts))
    for i, b in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else body
        planned = form.sections[i]
        name = planned.name or next(auto)
        e = float(planned.energy if planned.energy is not None else energy)
        use_ref = math.floor((i + 1) * music_share + 0.5) > math.floor(i * music_share + 0.5)
        sections.append(Section(name, b, end - b, e, "reference" if use_ref else name, tuple(planned.moods)))
    if ending:
        sections.append(Section("ending", body, 1, sections[-1].energy, "cadence"))
    return sections


def tempo_is_free(description: MusicDescription) -> bool:
    """Whether the composer may move the tempo (by up to 8 %, to put cuts on beats): no BPM in
    the description, or one the user did not give (``description.stated``: a describer's or a
    VLM's reading of the picture). A BPM the user typed or wanted is kept exactly. Descriptions
    written before ``stated`` existed keep the old rule: only the built-in describer's estimate
    (``source == "visual"``) may move."""
    if description.tempo_bpm is None:
        return True
    if description.stated is None:
        return description.source == "visual"
    return not description.is_stated("tempo_bpm")


def form_from_description(description: MusicDescription, duration_s: float) -> FormPlan | None:
    """The form a description's timeline asks for, or ``None`` (no sections, or ``sync="off"``:
    the automatic form).

    Each of the description's sections becomes a :class:`PlannedSection` with its energy,
    moods and tempo class (the timeline is cut at ``duration_s``, its last section stretched
    to it); the cuts (all of them with ``sync="cuts"``, the user's markers with ``"scenes"``,
    as the describer put them) keep their strengths; the energy curve comes along. Sections
    whose moods repeat an earlier one's take its letter (``A``, ``B`` alternate by first
    appearance), so a returning scene returns to its music.
    """
    d = description
    if not d.sections or d.sync == "off":
        return None
    duration = float(duration_s)
    letters_by_mood: dict[tuple[str, ...], str] = {}
    planned = []
    for s in d.sections:
        if s.start_s >= duration - 1e-6:
            break
        key = tuple(s.mood)
        name = letters_by_mood.setdefault(key, "AB"[len(letters_by_mood) % 2])
        planned.append(PlannedSection(start_s=float(s.start_s), end_s=min(float(s.end_s), duration),
                                      energy=None if s.energy is None else float(np.clip(s.energy, 0, 1)),
                                      moods=tuple(s.mood), tempo_class=s.tempo_class, name=name))
    if not planned:
        return None
    planned[0] = dataclasses.replace(planned[0], start_s=0.0)
    planned[-1] = dataclasses.replace(planned[-1], end_s=duration)
    cuts = [c for c in d.cuts if 0.0 < c.time_s < duration - 1e-6]
    return FormPlan(
        sections=tuple(planned),
        cuts_s=tuple(c.time_s for c in cuts),
        cut_strengths=tuple(float(np.clip(c.strength, 0, 1)) for c in cuts),
        tempo_free=tempo_is_free(d),
        energy_curve=tuple(d.energy_curve),
        energy_step_s=float(d.energy_step_s or 1.0),
        source=f"the description's timeline ({len(planned)} sections, {len(cuts)} cuts, sync {d.sync or 'cuts'})",
    )
