"""Scoring a picture: a planned form (:class:`~vmb.generate.builtin.form.FormPlan`) laid on a
beat grid that hits its cuts.

A mixin of :class:`vmb.generate.builtin.composer._Composer`. With a planned form the piece:

- **keeps one tempo on a chosen grid** (:func:`vmb.generate.builtin.timing.choose_grid`): the
  tempo within 8 % of the plan's (exactly the plan's when it was stated) and the phase that put
  the most cuts on beats and the strongest on downbeats. A phase other than 0 is a *pickup*: the
  first chord held softly, the drums (when the first section has them) counting in on the
  beats before the first whole bar.
- **changes at each scene on the beat nearest it**, not only at a bar line: the section's parts
  are written over the bars it touches and cut at its first and last beat (held notes are
  struck again there), so density, drums, dynamics, register (calm sections play the lead an
  octave lower, the most energetic an octave higher) and instrumentation (the arpeggio from
  energy 0.45, drums from the kit's energy) change at once. The harmony changes on the nearest
  bar line (:func:`vmb.generate.builtin.form.sections_from_plan`). A fill leads into every
  section change that falls inside a bar.
- **follows the picture's energy within sections**: velocities move with the description's
  energy curve around the section's energy (up to ±25 %).
- **ends on the last frame**: no ritardando (the grid runs to the end); the tonic chord lands on
  the last downbeat that leaves it at most a second more than its ring (else on the last beat
  that does, the cadence bar shortened to end there) — or later, on the last cut it can hit —
  and rings out to the last sample; so a short video has a short form and no long held chord.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vmb.generate.builtin.arrangement import ChordEvent, Note, Section, TempoMap
from vmb.generate.builtin.form import PlannedSection
from vmb.generate.builtin.harmony import RANGES
from vmb.generate.builtin.tables import BEATS_PER_BAR
from vmb.generate.builtin.timing import BeatGrid, choose_grid, grid_at

CURVE_DEPTH = 0.6  # velocity change per unit of energy above/below the section's
CURVE_RANGE = (0.75, 1.25)
ARP_FROM_ENERGY = 0.45
CALM_BELOW = 0.3
BRIGHT_FROM = 0.75
LEAD_DYNAMICS = (0.75, 0.4)  # the lead's velocity factor a + b * energy: soft in a still scene
EXTRA_HOLD_S = 1.0  # the final chord may ring this much longer to land on a downbeat


@dataclass(frozen=True)
class Span:
    """A planned section on the beat grid: beats ``[start, end)`` and how it is played."""

    start: float
    end: float
    section: Section  # the bars it touches, its name, energy and moods
    planned: PlannedSection | None = None


class TimelineWriter:
    """Layout, sections, pickup, dynamics and ending of a piece that follows a planned form."""

    grid: BeatGrid | None = None

    # -- layout --------------------------------------------------------------------------

    def _layout_planned(self) -> int | None:
        """Grid, tempo map, final and end beats of a planned form; the number of bars (the
        cadence bar last), or ``None`` when the piece is too short for one (the caller uses
        the plain layout)."""
        form = self.form
        anchors = [s.start_s for s in form.sections[1:]]
        grid = choose_grid(form.cuts_s, form.strengths(), self.plan.tempo_bpm, form.tempo_free, anchors)
        beat_s = 60.0 / grid.bpm
        ring_min = float(np.clip(beat_s, 0.5, 1.0))
        limit = self.duration_s - ring_min
        offset = grid.offset_s
        last = math.floor((limit - offset) / beat_s + 1e-9)
        if last < 4 and offset > 0:  # no room for the pickup: start on the downbeat
            offset, last = 0.0, math.floor(limit / beat_s + 1e-9)
            grid = grid_at(grid.cuts_s, grid.bpm, 0.0, grid.searched.split(";")[0] + "; no room for a pickup")
        if last < 2:
            return None
        down = last - last % BEATS_PER_BAR
        final = down if down >= BEATS_PER_BAR and self.duration_s - (offset + down * beat_s) <= ring_min + EXTRA_HOLD_S \
            else last
        # a cut on one of the last beats: the tonic lands on it
        on_cut = [b for b in (grid.nearest_beat(t) for t, hit in zip(grid.cuts_s, grid.on_beat) if hit)
                  if final < b <= last]
        final = max(on_cut, default=final)
        n_body = math.ceil(final / BEATS_PER_BAR) - 1
        self.cadence_beats = final - n_body * BEATS_PER_BAR  # 1..4
        self.body_bpm = grid.bpm
        self.tempo_map = TempoMap(((0.0, grid.bpm),), offset_s=offset)
        self.final_beat = float(final)
        final_s = float(self.tempo_map.seconds(self.final_beat))
        hold_s = self.duration_s - final_s
        ring_s = float(np.clip(0.25 * hold_s, min(0.3, 0.5 * hold_s), 1.5))
        self.end_beat = self.tempo_map.beat_at(self.duration_s - ring_s)
        self.grid = grid
        said = self.choices.get("tempo", f"{self.plan.tempo_bpm:.1f} BPM")
        if self.form.tempo_free:
            said = said.replace("(stated: kept exactly)", "(estimated from the picture, free to move 8 %)")
        if abs(grid.bpm - self.plan.tempo_bpm) > 1e-6:
            said += f"; moved to {grid.bpm:.2f} BPM to put the cuts on beats"
        self.choices["tempo"] = said
        self.choices["beat grid"] = grid.searched
        self.choices["cuts on beats"] = grid.describe()
        self.choices["ending"] = (f"the tonic lands on beat {final} at {final_s:.2f} s after a "
                                  f"{self.cadence_beats}-beat cadence and rings {hold_s:.2f} s to the last frame")
        return n_body + 1

    # -- sections --------------------------------------------------------------------------

    def _plan_spans(self, n_bars: int) -> None:
        """``self.sections`` (bars, for the harmony) and ``self.spans`` (beats, for the parts)."""
        body_end = (n_bars - 1) * BEATS_PER_BAR
        share = self._harmony_share()
        kept: list[tuple[PlannedSection, int]] = []
        for i, p in enumerate(self.form.sections):
            b = 0 if i == 0 else round(self.tempo_map.beat_at(p.start_s))
            if b >= body_end or (kept and b <= kept[-1][1]):
                continue
            kept.append((p, b))
        sections: list[Section] = []
        spans: list[Span] = []
        alternate = iter(["A", "B"] * (len(kept) + 1))
        for i, (p, b) in enumerate(kept):
            end = kept[i + 1][1] if i + 1 < len(kept) else body_end
            name = p.name or next(alternate)
            e = float(p.energy if p.energy is not None else self.plan.energy)
            use_ref = math.floor((i + 1) * share + 0.5) > math.floor(i * share + 0.5)
            harmony = "reference" if use_ref else name
            bar0, bar1 = math.floor(b / BEATS_PER_BAR), math.ceil(end / BEATS_PER_BAR)
            spans.append(Span(b, end, Section(name, bar0, bar1 - bar0, e, harmony, tuple(p.moods)), p))
            hb = round(b / BEATS_PER_BAR)
            if sections and hb <= sections[-1].start_bar:
                continue
            if sections:
                prev = sections[-1]
                sections[-1] = Section(prev.name, prev.start_bar, hb - prev.start_bar, prev.energy, prev.harmony,
                                       prev.moods)
            sections.append(Section(name, hb, (n_bars - 1) - hb, e, harmony, tuple(p.moods)))
        last_e = spans[-1].section.energy if spans else self.plan.energy
        ending = Section("ending", n_bars - 1, 1, last_e, "cadence")
        self.sections = [s for s in sections if s.bars > 0] + [ending]
        spans.append(Span(float(body_end), self.final_beat, ending))
        self.spans = spans
        self.final_energy = last_e
        self.choices["form"] = (f"planned from {self.form.source or 'a form plan'}: "
                                + ", ".join(f"{s.section.name} beats {s.start:g}-{s.end:g} (energy {s.section.energy:.2f}"
                                            + "".join(f", {w}" for w in (*s.section.moods[:2],
                                                      *((s.planned.tempo_class,) if s.planned and s.planned.tempo_class else ())))
                                            + ")" for s in spans))

    def _fit_cadence(self) -> None:
        """The cadence bar ends where the final chord lands: a cadence of one or two beats
        plays only its last chord; chords after the final beat go."""
        if self.cadence_beats <= 2 and self.bar_chords and self.bar_chords[-1]:
            self.bar_chords[-1] = [self.bar_chords[-1][-1]]

    def _trim_chord_events(self, events: list[ChordEvent]) -> list[ChordEvent]:
        out = []
        for e in events:
            if e.start >= self.final_beat - 1e-9 and e is not events[-1]:
                continue
            if e is not events[-1] and e.start + e.duration > self.final_beat:
                e = ChordEvent(e.start, self.final_beat - e.start, e.chord)
            out.append(e)
        return out

    # -- writing ---------------------------------------------------------------------------

    def _write_planned(self) -> None:
        self._write_pickup()
        for i, span in enumerate(self.spans):
            counts = {role: len(part.notes) for role, part in self.parts.items()}
            self._write_section(span.section)
            self._clip_span(counts, span)
            nxt = self.spans[i + 1] if i + 1 < len(self.spans) else None
            if nxt is not None and nxt.section.name != "ending" and span.end % BEATS_PER_BAR:
                self._fill_into(span.end, span.section.energy)

    def _clip_span(self, counts: dict[str, int], span: Span) -> None:
        """Notes a section wrote over the bars it touches, cut to its beats; held notes that
        began before its start are struck again there. The lead moves an octave down in calm
        sections and up in the most energetic."""
        e = span.section.energy
        shift = -12 if e < CALM_BELOW else 12 if e >= BRIGHT_FROM else 0
        for role, part in self.parts.items():
            new = part.notes[counts[role]:]
            kept = []
            for n in new:
                a, b = n.start, n.start + n.duration
                if role == "drums":
                    if span.start - 1e-6 <= a < span.end - 1e-6:
                        kept.append(n)
                    continue
                if b <= span.start + 0.05 or a >= span.end - 1e-6:
                    continue
                a, b = max(a, span.start), min(b, span.end)
                if b - a <= 0.05:
                    continue
                pitch, velocity = n.pitch, n.velocity
                if role == "lead" and span.section.name != "ending":
                    lo, hi = self._lead_range()
                    if shift and lo - 7 <= pitch + shift <= hi + 7:
                        pitch += shift
                    velocity = int(np.clip(round(velocity * (LEAD_DYNAMICS[0] + LEAD_DYNAMICS[1] * e)), 1, 127))
                kept.append(Note(a, b - a, pitch, velocity))
            part.notes[counts[role]:] = kept

    def _fill_into(self, beat: float, e: float) -> None:
        """A one-beat fill leading into a section change inside a bar (the groove's last beat
        before it replaced)."""
        drums = self.parts.get("drums")
        if drums is None or e < self.kit.from_energy and self.drum_floor is None:
            return
        notes = self.tables.drum_notes
        drums.notes = [n for n in drums.notes if not beat - 1.0 - 1e-6 <= n.start < beat - 1e-6]
        run = ("tom_hi", "tom_hi", "tom_lo", "floor_tom") if self.kit.fill == "toms" else ("snare",) * 4
        for i, name in enumerate(run):
            drums.add(beat - 1.0 + 0.25 * i, 0.2, notes.get(name, notes["snare"]), (60 + 40 * e) * (0.75 + 0.08 * i))

    def _write_pickup(self) -> None:
        """The beats before the first whole bar: the first chord held softly, the drums
        counting in on the beats when the first section has them, a lead note into bar one."""
        pickup = self.tempo_map.pickup_beats
        if pickup < 0.2 or not self.spans:
            return
        first = self.spans[0].section
        e = first.energy
        chord = self.chord_at(0.0)
        for role in ("pad", "comp"):
            part = self.parts.get(role)
            if part is not None:
                voicing = self._voicing(chord, None, *RANGES[role])
                for p in voicing:
                    part.add(-pickup, pickup - 0.02, p, 36 + 30 * e)
                break
        drums = self.parts.get("drums")
        if drums is not None and (e >= self.kit.from_energy or self.drum_floor is not None):
            notes = self.tables.drum_notes
            cymbal = notes.get("hat", notes.get("ride", 42))
            for k in range(1, math.floor(pickup + 1e-9) + 1):
                drums.add(-float(k), 0.2, cymbal, 60 + 30 * e)
                drums.add(-float(k), 0.2, notes["kick"], 70 + 30 * e)
            if pickup >= 1.0:
                drums.add(-0.5, 0.2, notes["snare"], 66 + 30 * e)
                drums.add(-0.25, 0.2, notes["snare"], 74 + 30 * e)
        lead = self.parts.get("lead")
        if lead is not None and pickup >= 1.0:
            lo, hi = self._lead_range()
            pitch = self._nearest_chord_tone((lo + hi) // 2 - 2, chord)
            lead.add(-1.0, 0.9, pitch, 60 + 30 * e)

    # -- dynamics --------------------------------------------------------------------------

    def _follow_energy(self) -> None:
        """Velocities follow the picture's energy curve around each section's energy."""
        form = self.form
        if not form.energy_curve or not self.spans:
            return
        starts = np.array([s.start for s in self.spans])
        levels = np.array([s.section.energy for s in self.spans])
        lo, hi = CURVE_RANGE
        for part in self.parts.values():
            if not part.notes:
                continue
            beats = np.array([n.start for n in part.notes])
            seconds = self.tempo_map.seconds(beats)
            section_e = levels[np.clip(np.searchsorted(starts, beats, side="right") - 1, 0, len(levels) - 1)]
            centres = (np.arange(len(form.energy_curve)) + 0.5) * form.energy_step_s
            curve = np.interp(seconds, centres, form.energy_curve)  # as FormPlan.energy_at
            factor = np.clip(1.0 + CURVE_DEPTH * (curve - section_e), lo, hi)
            factor[beats >= self.final_beat - 1e-9] = 1.0
            part.notes = [Note(n.start, n.duration, n.pitch, int(np.clip(round(n.velocity * f), 1, 127)))
                          for n, f in zip(part.notes, factor)]
        self.choices["dynamics"] = (f"velocities follow the picture's energy curve ({len(form.energy_curve)} "
                                    f"windows of {form.energy_step_s:g} s) around each section's energy")
