"""The symbolic composer: a :class:`~vmb.generate.builtin.blend.Plan` (and optionally a
:class:`~vmb.generate.builtin.form.FormPlan`) → an
:class:`~vmb.generate.builtin.arrangement.Arrangement`.

The piece is laid out on a bar grid at the plan's tempo (kept exactly):

- **form** (:mod:`.form`): the given plan's sections snapped to bar lines, or the automatic
  intro / ``A`` / ``B`` / ``C`` form; then an ending: a cadence bar (V7 or IV–V7 → I) with a
  ritardando and the tonic chord ringing out. A *loop* has no intro and no ending: a whole
  number of bars whose last leads back into the first.
- **harmony** (:mod:`.harmony`): progressions by mode, genre and mood, varied when a section
  returns, coloured by the style, no chord longer than 7.5 s; voice-led comping, pad, arpeggio.
- **rhythm** (:mod:`.rhythm`): the style's bass and drums (density set by energy, fills,
  crashes, planned cut accents), timpani and cymbal swells for cinematic styles.
- **lead** (:mod:`.melody`): a motif stated, developed and varied across the sections.
- **humanisation**: small seeded timing and velocity variation.

Everything random comes from generators seeded with ``seed``: the same plan and seed give the
same notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from vmb.generate.builtin.arrangement import (
    DRUM_CHANNEL,
    Arrangement,
    ChordEvent,
    Note,
    Section,
    TempoMap,
    Track,
)
from vmb.generate.builtin.blend import Plan
from vmb.generate.builtin.form import FormPlan, automatic_form, sections_from_plan
from vmb.generate.builtin.harmony import RANGES, HarmonyWriter
from vmb.generate.builtin.looping import fit_loop
from vmb.generate.builtin.melody import MelodyWriter, _fold
from vmb.generate.builtin.rhythm import RhythmWriter
from vmb.generate.builtin.scoring import ARP_FROM_ENERGY, CALM_BELOW, TimelineWriter
from vmb.generate.builtin.tables import (
    BEATS_PER_BAR,
    PITCH_CLASSES,
    SCALES,
    ComposerTables,
)

RITARDANDO = (0.97, 0.93, 0.89, 0.85)  # tempo factor of each beat of the cadence bar
TIMPANI_PROGRAM = 47
MODULATE_FROM_BARS = 64  # pieces this long lift their last sections a whole step
MODULATION = 2

# Mixer settings per role: (volume, pan, reverb send).
MIX = {
    "comp": (92, 48, 40),
    "pad": (72, 80, 64),
    "bass": (104, 64, 16),
    "lead": (84, 72, 48),
    "arp": (78, 36, 48),
    "drums": (100, 64, 24),
    "timpani": (100, 60, 56),
}
ROLE_ORDER = ("comp", "pad", "arp", "lead", "bass", "timpani", "drums")


@dataclass
class _Part:
    """Notes being written for one role, and the state its line needs."""

    role: str
    program: int
    instrument: str
    notes: list[Note] = field(default_factory=list)
    last: tuple[int, ...] | None = None  # last voicing, for voice leading

    def add(self, start: float, duration: float, pitch: int, velocity: float) -> None:
        if duration <= 1e-6:
            return
        self.notes.append(Note(float(start), float(duration), int(pitch), int(np.clip(round(velocity), 1, 127))))


def compose(plan: Plan, duration_s: float, seed: int, tables: ComposerTables,
            form: FormPlan | None = None, loop: bool = False) -> Arrangement:
    """Write the piece ``plan`` describes, ``duration_s`` seconds long, deterministic in ``seed``.

    Args:
        form: the sections to follow (default: the automatic form).
        loop: a piece that repeats seamlessly (no intro, no ending; see the module docstring).

    Raises:
        ValueError: ``form`` has a section that is empty, overlapping or outside the piece.
    """
    if form is not None:
        form.check(duration_s)
    return _Composer(plan, duration_s, seed, tables, form, loop).run()


class _Composer(TimelineWriter, HarmonyWriter, RhythmWriter, MelodyWriter):
    def __init__(self, plan: Plan, duration_s: float, seed: int, tables: ComposerTables,
                 form: FormPlan | None = None, loop: bool = False):
        self.plan = plan
        self.duration_s = float(duration_s)
        self.seed = int(seed)
        self.tables = tables
        self.form = form
        self.loop = bool(loop)
        self.rng = np.random.default_rng(self.seed)
        self.style = tables.style(plan.genre)
        self.kit = tables.drum_kit(plan.genre)
        self.tonic = plan.tonic
        self.mode = plan.mode
        self.scale = tuple((self.tonic + s) % 12 for s in SCALES[self.mode])
        self.choices = dict(plan.choices)
        self.drum_floor: int | None = None
        self.cut_beats: list[float] = []
        self.final_energy = plan.energy
        self.spans = []
        self.timeline = False  # a planned form laid on a beat grid (see scoring.py)
        self.rhythm_energy = plan.energy
        if form is not None and not self.loop:
            self.rhythm_energy = max(plan.energy, *(s.energy for s in form.sections if s.energy is not None))

    # -- layout ----------------------------------------------------------------------------

    def _layout(self) -> int:
        """Bars, tempo map, final and end beats. Returns the number of bars."""
        bpm = self.plan.tempo_bpm
        beat_s = 60.0 / bpm
        bar_s = BEATS_PER_BAR * beat_s
        if self.loop:
            fit = fit_loop(self.duration_s, bpm, self.plan.tempo_stated)
            self.choices["loop"] = f"{fit.note}; the last bar leads into the first"
            self.body_bpm = fit.body_bpm
            self.tempo_map = TempoMap(fit.changes)
            self.final_beat = self.end_beat = float(fit.beats)
            return fit.bars
        self.body_bpm = bpm
        rit_bar_s = sum(beat_s / f for f in RITARDANDO)
        hold_min = min(max(2.0, 3 * beat_s), 0.5 * self.duration_s)
        room = self.duration_s - hold_min - rit_bar_s
        n_bars = math.floor(room / bar_s) + 1 if room >= 0 else 0
        changes = [(0.0, bpm)]
        if n_bars >= 1:
            cad = (n_bars - 1) * BEATS_PER_BAR
            changes = ([(0.0, bpm)] if cad > 0 else []) + [(cad + k, bpm * f) for k, f in enumerate(RITARDANDO)]
        self.tempo_map = TempoMap(tuple(changes))
        self.final_beat = float(n_bars * BEATS_PER_BAR)
        final_s = float(self.tempo_map.seconds(self.final_beat))
        hold_s = self.duration_s - final_s
        # the last chord is released early enough for its release and reverb to ring out
        ring_s = float(np.clip(0.25 * hold_s, min(0.3, 0.5 * hold_s), 1.5))
        self.end_beat = self.tempo_map.beat_at(self.duration_s - ring_s)
        return n_bars

    def run(self) -> Arrangement:
        n_bars = self._layout_planned() if self.form is not None and not self.loop else None
        self.timeline = n_bars is not None
        if n_bars is None:
            n_bars = self._layout()
        progs = self._choose_progressions()
        self.progressions = progs
        bar_s = BEATS_PER_BAR * 60.0 / self.body_bpm
        ending = not self.loop
        if self.timeline:
            self._plan_spans(n_bars)
        elif self.form is not None:
            self.sections = sections_from_plan(self.form, bar_s, n_bars, self.plan.energy,
                                               self._harmony_share(), ending)
            self.cut_beats = sorted({float(round(self.tempo_map.beat_at(t))) for t in self.form.cuts_s
                                     if 0 <= t < self.duration_s})
            self.choices["form"] = f"planned: {len(self.form.sections)} sections, {len(self.form.cuts_s)} cuts"
        else:
            self.sections = automatic_form(n_bars, self.plan.energy, len(progs["A"].bars), self._harmony_share(),
                                           ending=ending, intro=not self.loop)
        self.bar_chords = self._harmony(n_bars)
        if self.timeline:
            self._fit_cadence()
        self.chord_events = self._chord_events()
        if self.timeline:
            self.chord_events = self._trim_chord_events(self.chord_events)
        self.chord_starts = [c.start for c in self.chord_events]
        self.parts = self._assign_parts()

        if self.timeline:
            self._write_planned()
        else:
            for sec in self.sections:
                self._write_section(sec)
        if not self.loop:
            self._write_final_chord()
        self._accent_cuts()
        if self.timeline:
            self._follow_energy()
        self._modulate()
        tracks = self._tracks()
        return Arrangement(
            tempo_bpm=self.body_bpm,
            key=PITCH_CLASSES[self.tonic],
            mode=self.mode,
            duration_s=self.duration_s,
            tempo_map=self.tempo_map,
            tracks=tracks,
            sections=self.sections,
            chords=self.chord_events,
            genre=self.plan.genre,
            energy=self.plan.energy,
            choices=self.choices,
            seed=self.seed,
            loop=self.loop,
        )

    def _modulate(self) -> None:
        """A long piece (:data:`MODULATE_FROM_BARS` bars or more, automatic form) lifts its last
        sections after the breakdown a whole step, like a final chorus: every pitched note and
        chord from there on moves up two semitones, the ending resolving in the new key."""
        if self.loop or self.form is not None or len(self.bar_chords) < MODULATE_FROM_BARS:
            return
        c = next((i for i, s in enumerate(self.sections) if s.name == "C"), None)
        if c is None or c + 1 >= len(self.sections):
            return
        beat = self.sections[c + 1].start_bar * BEATS_PER_BAR
        for role, part in self.parts.items():
            if role == "drums":
                continue
            part.notes = [Note(n.start, n.duration, n.pitch + MODULATION if n.start >= beat - 1e-9 else n.pitch,
                               n.velocity) for n in part.notes]
        self.chord_events = [ChordEvent(e.start, e.duration, e.chord.transpose(MODULATION)) if e.start >= beat - 1e-9
                             else e for e in self.chord_events]
        new_key = PITCH_CLASSES[(self.tonic + MODULATION) % 12]
        self.choices["modulation"] = f"up a whole step to {new_key} {self.mode} at bar {beat // BEATS_PER_BAR + 1}"

    def _harmony_share(self) -> float:
        return self.plan.music_share if self.plan.follows_reference_harmony else 0.0

    # -- instruments -------------------------------------------------------------------------

    def _assign_parts(self) -> dict[str, _Part]:
        t = self.tables
        genre = self.plan.genre
        parts: dict[str, _Part] = {}
        skipped = []
        for name in self.plan.instruments:
            spec = t.instruments.get(name)
            if spec is None:
                skipped.append(f"{name} (no GM mapping)")
                continue
            role = next((r for r in spec.roles if r not in parts), None)
            if role is None:
                skipped.append(f"{name} (its roles are taken)")
                continue
            parts[role] = _Part(role, spec.program_for(genre), name)
        melodic = [p for r, p in parts.items() if r != "drums"]
        if "comp" not in parts and "pad" not in parts:
            self._default_part(parts, "comp")
        if "bass" not in parts:
            solo = melodic[0] if len(melodic) == 1 and melodic[0].role == "comp" else None
            if self.plan.instruments_given and solo is not None:
                parts["bass"] = _Part("bass", solo.program, solo.instrument + " (left hand)")
            else:
                self._default_part(parts, "bass")
        if "lead" not in parts:
            for donor in ("comp", "pad", "arp"):
                p = parts.get(donor)
                if p is not None and "lead" in t.instruments[p.instrument].roles:
                    parts["lead"] = _Part("lead", p.program, p.instrument)
                    break
            else:
                self._default_part(parts, "lead")
        self._rhythm_section(parts)
        if skipped:
            self.choices["instruments skipped"] = ", ".join(skipped)
        self.choices["instruments"] = ", ".join(f"{r}: {p.instrument} (GM {p.program})" for r, p in parts.items())
        return parts

    def _rhythm_section(self, parts: dict[str, _Part]) -> None:
        """Drums by style: the genre's kit when its energy calls for a beat, whatever the
        instrument list says, unless the words refuse drums (``solo``, ``no drums``); drums
        asked for at low energy play the sparsest pattern. Timpani join cinematic kits."""
        genre, e = self.plan.genre, self.rhythm_energy
        asked = self.plan.drums is True or (self.plan.instruments_given and "drums" in parts)
        if self.plan.drums is False:
            parts.pop("drums", None)
            self.choices["drums"] = f"none ({self.plan.drums_reason})"
            return
        if e < self.kit.from_energy and not asked:
            parts.pop("drums", None)
            self.choices["drums"] = f"none (energy {e:.2f} below {self.kit.from_energy} for {genre})"
            return
        if "drums" not in parts:
            parts["drums"] = _Part("drums", 0, "drums")
        why = "asked for" if asked else "the genre's rhythm section"
        if e < self.kit.from_energy:
            self.drum_floor = 0  # asked for, but calm: the sparsest pattern only
            self.choices["drums"] = f"{genre} kit, sparsest pattern (asked for at low energy)"
        else:
            self.choices["drums"] = f"{genre} kit ({why})"
        if self.kit.timpani and e >= self.kit.from_energy:
            parts["timpani"] = _Part("timpani", TIMPANI_PROGRAM, "timpani")
            self.choices["drums"] += ", timpani and cymbal swells"

    def _default_part(self, parts: dict[str, _Part], role: str) -> None:
        name = self.tables.role_defaults[role]
        spec = self.tables.instruments[name]
        parts[role] = _Part(role, spec.program_for(self.plan.genre), name)

    def _tracks(self) -> list[Track]:
        tracks = []
        channel = 0
        for role in ROLE_ORDER:
            part = self.parts.get(role)
            if part is None:
                continue
            if role == "drums":
                ch = DRUM_CHANNEL
            else:
                ch = channel
                channel += 1
                if channel == DRUM_CHANNEL:
                    channel += 1
            notes = self._humanise(part.notes, drums=role == "drums")
            vol, pan, rev = MIX[role]
            if role == "drums":
                vol = self.kit.volume
            tracks.append(Track(f"{role}: {part.instrument}", role, part.program, ch, notes, vol, pan, rev))
        return tracks

    # -- sections ------------------------------------------------------------------------

    def _level(self, energy: float) -> int:
        return 0 if energy < 0.35 else 1 if energy < 0.7 else 2

    def _bar_gain(self, bar: int) -> float:
        """Velocity factor of a bar from the reference's energy envelope (depth = music share)."""
        ref = self.plan.reference
        if ref is None or not ref.bar_energy:
            return 1.0
        env = ref.bar_energy[bar % len(ref.bar_energy)]
        return float(np.clip(1.0 + self.plan.music_share * 0.5 * (env - 1.0), 0.7, 1.3))

    def _write_section(self, sec: Section) -> None:
        e = sec.energy
        level = self._level(e)
        occurrence = sum(1 for s in self.sections if s.name == sec.name and s.start_bar < sec.start_bar)
        body = [s for s in self.sections if s.name != "ending"]
        is_last_body = bool(body) and sec is body[-1] and not self.loop
        pedal = self.style.pedal and sec.name in ("intro", "C")
        for k in range(sec.bars):
            bar = sec.start_bar + k
            gain = self._bar_gain(bar)
            # B sections comp busier; the intro keeps the body's rhythm so the pulse is set
            comp_level = level + 1 if sec.name == "B" and level < len(self.style.comp) - 1 else level
            # a still scene is held by the pad alone: the comping enters with the motion
            hush = self.timeline and e < CALM_BELOW and "pad" in self.parts and sec.name != "ending"
            if "comp" in self.parts and not hush:
                self._comp_bar(self.parts["comp"], bar, comp_level, e, gain)
            if "pad" in self.parts:
                self._pad_bar(self.parts["pad"], bar, e, gain)
            if "bass" in self.parts:
                if pedal:
                    self._pedal_bar(self.parts["bass"], bar, e, gain)
                elif sec.name != "intro" or k >= sec.bars // 2:
                    self._bass_bar(self.parts["bass"], bar, e, gain, sustained=sec.name == "intro")
            if self.timeline:
                arp = e >= ARP_FROM_ENERGY  # instrumentation follows the picture's energy
            else:
                arp = sec.name in ("B", "C", "A", "ending") and (
                    sec.name != "A" or occurrence > 0 or self.plan.genre in ("classical", "electronic", "ambient"))
            if "arp" in self.parts and arp:
                self._arp_bar(self.parts["arp"], bar, e, gain)
            fill = k == sec.bars - 1 and sec.name != "ending" and not is_last_body
            if "drums" in self.parts:
                self._drum_bar(sec, k, level, e, gain, fill=fill)
            if "timpani" in self.parts:
                self._timpani_bar(sec, k, level, e, gain, fill)
        if "lead" in self.parts and sec.name not in ("intro", "ending"):
            self._lead_section(sec, occurrence)
        if sec.name == "ending":
            self._lead_cadence(sec)

    # -- ending ----------------------------------------------------------------------------

    def _write_final_chord(self) -> None:
        t0, t1 = self.final_beat, self.end_beat
        chord = self.chord_events[-1].chord
        e = self.final_energy
        dur = t1 - t0
        for role, part in self.parts.items():
            if role == "drums":
                notes = self.tables.drum_notes
                part.add(t0, 1.0, notes["crash"], 90 + 20 * e)
                part.add(t0, 0.5, notes["kick"], 90 + 20 * e)
            elif role == "timpani":
                part.add(t0, dur, 38 + (chord.root - 38) % 12, 80 + 30 * e)
            elif role == "bass":
                part.add(t0, dur, self._bass_root(chord.root), 70 + 30 * e)
            elif role == "lead":
                lo, hi = self._lead_range()
                last = part.last[0] if part.last else (lo + hi) // 2
                part.add(t0, dur, _fold(self._nearest_chord_tone(last, chord, prefer_root=True), lo, hi), 66 + 30 * e)
            else:
                lo, hi = RANGES.get(role, RANGES["comp"])
                voicing = self._voicing(chord, part.last, lo, hi)
                # the last chord has the tonic on top (the highest tonic not above the top voice)
                top_tonic = voicing[-1] - (voicing[-1] - chord.root) % 12
                voicing = tuple(sorted(set(voicing[:-1]) | {top_tonic}))
                for p in voicing:
                    part.add(t0, dur, p, (46 + 36 * e) * (0.8 if role == "pad" else 1.0))

    # -- humanisation ----------------------------------------------------------------------

    def _humanise(self, notes: list[Note], drums: bool) -> list[Note]:
        if not notes:
            return []
        sigma = (0.003 if drums else 0.007) * self.plan.tempo_bpm / 60.0  # seconds → beats
        jitter = np.clip(self.rng.normal(0.0, sigma, len(notes)), -2.5 * sigma, 2.5 * sigma)
        vjit = self.rng.normal(0.0, 4.0, len(notes))
        out = []
        for n, j, v in zip(notes, jitter, vjit):
            if n.start >= self.final_beat - 1e-9 and self.loop:
                continue
            start = max(-self.tempo_map.pickup_beats, n.start + (j if n.start < self.final_beat - 1e-9 else 0.0))
            end = min(n.start + n.duration, self.end_beat)
            if end - start <= 1e-3:
                continue
            out.append(Note(start, end - start, n.pitch, int(np.clip(round(n.velocity + v), 1, 127))))
        out.sort(key=lambda n: (n.start, n.pitch))
        return out
