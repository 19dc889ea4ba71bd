"""The symbolic composer: a :class:`~vmb.generate.builtin.blend.Plan` → an
:class:`~vmb.generate.builtin.arrangement.Arrangement`.

The piece is laid out on a bar grid at the plan's tempo:

- **form**: an intro, body sections (``A``, ``B``, a ``C`` breakdown in longer pieces) and an
  ending: a cadence bar (V7 or IV–V7 → I) with a ritardando, then the tonic chord held until just
  before the requested length. Sections differ in progression, orchestration, energy and melody,
  and repeated sections come back varied, so a long piece is not one loop repeated.
- **harmony**: table progressions chosen by mode, genre and mood (seeded), or the reference's
  chord loop for the share of sections the blend gives it.
- **parts**: voice-led comping (genre rhythm, busier with energy), a pad, a bass line following
  the roots in the genre's rhythm (or walking), drums from the genre's kit at a density set by
  energy (none for calm classical/ambient) with fills and crashes at section changes, a lead
  built from two-bar motifs (chord tones on strong beats, scale tones between, question/answer
  phrases ending on chord tones and finally on the tonic) and, where an instrument takes that
  role, an arpeggio line.
- **humanisation**: small seeded timing and velocity variation.

Everything random comes from one ``numpy`` generator seeded with ``seed``: the same plan and
seed give the same notes.
"""

from __future__ import annotations

import math
import zlib
from bisect import bisect_right
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
from vmb.generate.builtin.tables import (
    BEATS_PER_BAR,
    PITCH_CLASSES,
    SCALES,
    STEPS_PER_BAR,
    ChordSpec,
    ComposerTables,
    Progression,
    parse_bar,
    parse_roman,
)

RITARDANDO = (0.97, 0.93, 0.89, 0.85)  # tempo factor of each beat of the cadence bar
STEP = 1.0 / 4  # a sixteenth, in beats

# Mixer settings per role: (volume, pan, reverb send).
MIX = {
    "comp": (92, 48, 40),
    "pad": (72, 80, 64),
    "bass": (104, 64, 16),
    "lead": (84, 72, 48),
    "arp": (78, 36, 48),
    "drums": (100, 64, 24),
}
RANGES = {"comp": (52, 76), "pad": (55, 79), "arp": (60, 86), "bass": (28, 52)}
LEAD_RANGES = {  # by GM family (program // 8)
    0: (67, 86), 1: (72, 91), 2: (65, 84), 3: (64, 83), 5: (67, 88), 6: (64, 84),
    7: (60, 81), 8: (60, 81), 9: (72, 93), 10: (67, 88), 11: (67, 86),
}


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


def compose(plan: Plan, duration_s: float, seed: int, tables: ComposerTables) -> Arrangement:
    """Write the piece ``plan`` describes, ``duration_s`` seconds long, deterministic in ``seed``."""
    return _Composer(plan, duration_s, seed, tables).run()


class _Composer:
    def __init__(self, plan: Plan, duration_s: float, seed: int, tables: ComposerTables):
        self.plan = plan
        self.duration_s = float(duration_s)
        self.seed = int(seed)
        self.tables = tables
        self.rng = np.random.default_rng(self.seed)
        self.style = tables.style(plan.genre)
        self.kit = tables.drum_kit(plan.genre)
        self.tonic = plan.tonic
        self.mode = plan.mode
        self.scale = tuple((self.tonic + s) % 12 for s in SCALES[self.mode])
        self.choices = dict(plan.choices)
        self.drum_floor: int | None = None

    # -- layout ----------------------------------------------------------------------------

    def run(self) -> Arrangement:
        bpm = self.plan.tempo_bpm
        beat_s = 60.0 / bpm
        bar_s = BEATS_PER_BAR * beat_s
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
        release_s = min(0.5, 0.25 * hold_s)
        self.end_beat = self.tempo_map.beat_at(self.duration_s - release_s)

        self.sections = self._form(n_bars)
        self.bar_chords = self._harmony(n_bars)
        self.chord_events = self._chord_events()
        self.chord_starts = [c.start for c in self.chord_events]
        self.parts = self._assign_parts()

        for sec in self.sections:
            self._write_section(sec)
        self._write_final_chord()
        tracks = self._tracks()
        return Arrangement(
            tempo_bpm=bpm,
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
        )

    def _form(self, n_bars: int) -> list[Section]:
        """Intro, body sections and the cadence bar, with their energies and harmony sources."""
        e = self.plan.energy
        if n_bars == 0:
            return []
        body = n_bars - 1
        intro = 0 if body < 3 else 1 if body < 8 else 2 if body < 24 else 4
        body -= intro
        progs = self._choose_progressions()
        self.progressions = progs
        length = len(progs["A"].bars)
        if length == 4 and body >= 40:
            length = 8
        sizes = [length] * (body // length)
        if body % length:
            if sizes and body % length < length / 2:
                sizes[-1] += body % length
            else:
                sizes.append(body % length)
        letters = self._letters(len(sizes))
        a = self.plan.music_share if self.plan.follows_reference_harmony else 0.0
        sections = []
        bar = 0
        if intro:
            src = "reference" if a >= 0.5 else "tonic"
            sections.append(Section("intro", 0, intro, max(0.0, e - 0.2), src))
            bar = intro
        for i, (size, letter) in enumerate(zip(sizes, letters)):
            use_ref = math.floor((i + 1) * a + 0.5) > math.floor(i * a + 0.5)
            lift = {"A": 0.0, "B": 0.12, "C": -0.25}[letter]
            if i == len(sizes) - 1 and len(sizes) > 2:
                lift += 0.08
            harmony = "reference" if use_ref else progs[letter].name
            sections.append(Section(letter, bar, size, float(np.clip(e + lift, 0.0, 1.0)), harmony))
            bar += size
        sections.append(Section("ending", bar, 1, e, "cadence"))
        return sections

    @staticmethod
    def _letters(n: int) -> list[str]:
        if n <= 0:
            return []
        out = ["A" if i % 2 == 0 else "B" for i in range(n)]
        if n >= 5:
            out[int(n * 0.6)] = "C"
            # after the breakdown the form returns to A, B alternation
            for i in range(int(n * 0.6) + 1, n):
                out[i] = "A" if (i - int(n * 0.6)) % 2 == 1 else "B"
        return out

    def _choose_progressions(self) -> dict[str, Progression]:
        cands = list(self.tables.candidates(self.mode, self.plan.genre))
        own = len(self.tables.progressions[self.mode].get(self.plan.genre, ()))
        moods = set(self.plan.moods)
        weights = np.array([1.0 + 2.0 * len(moods & set(p.moods)) + (1.5 if i < own else 0.0)
                            for i, p in enumerate(cands)])
        chosen: dict[str, Progression] = {}
        for letter in "ABC":
            left = [i for i, p in enumerate(cands) if p.name not in {c.name for c in chosen.values()}]
            if letter == "A":
                # the first section states the key: a progression with the tonic chord, from it
                left = [i for i in left if _tonic_bar(cands[i], self.mode) is not None] or left
            if not left:
                chosen[letter] = chosen["A"]
                continue
            w = weights[left] / weights[left].sum()
            pick = cands[left[int(self.rng.choice(len(left), p=w))]]
            if letter == "A":
                pick = _from_tonic(pick, self.mode)
            # a section's progression keeps the A length so the form stays regular
            if letter != "A" and len(pick.bars) != len(chosen["A"].bars):
                pick = chosen["A"]
            chosen[letter] = pick
        self.choices["progressions"] = ", ".join(f"{k}: {v.name}" for k, v in chosen.items())
        return chosen

    def _harmony(self, n_bars: int) -> list[list[ChordSpec]]:
        bars: list[list[ChordSpec]] = [[] for _ in range(n_bars)]
        ref = self.plan.reference
        loop = ref.loop_in(self.tonic) if (ref is not None and ref.bars) else []
        loop_pos = 0
        tonic_chord = parse_roman("I" if self.mode == "major" else "i", self.tonic, self.mode)
        for sec in self.sections:
            for k in range(sec.bars):
                b = sec.start_bar + k
                if sec.name == "ending":
                    cad = self.tables.cadences[self.mode]
                    bars[b] = parse_bar(cad[int(self.rng.integers(len(cad)))], self.tonic, self.mode)
                elif sec.harmony == "reference" and loop:
                    bars[b] = list(loop[loop_pos % len(loop)])
                    loop_pos += 1
                elif sec.name == "intro":
                    bars[b] = [tonic_chord]
                else:
                    prog = self.progressions[sec.name].chords(self.tonic, self.mode)
                    bars[b] = prog[k % len(prog)]
        return bars

    def _chord_events(self) -> list[ChordEvent]:
        events = []
        for b, chords in enumerate(self.bar_chords):
            span = BEATS_PER_BAR / len(chords)
            for i, c in enumerate(chords):
                start = b * BEATS_PER_BAR + i * span
                if events and events[-1].chord == c and abs(events[-1].start + events[-1].duration - start) < 1e-9:
                    last = events.pop()
                    events.append(ChordEvent(last.start, last.duration + span, c))
                else:
                    events.append(ChordEvent(start, span, c))
        final = parse_roman("I" if self.mode == "major" else "i", self.tonic, self.mode)
        events.append(ChordEvent(self.final_beat, self.end_beat - self.final_beat, final))
        return events

    def chord_at(self, beat: float) -> ChordSpec:
        i = max(0, bisect_right(self.chord_starts, beat + 1e-9) - 1)
        return self.chord_events[i].chord

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
        if "drums" in parts:
            asked = self.plan.instruments_given and any(
                i in ("drums", "percussion") for i in self.plan.instruments)
            if self.plan.energy < self.kit.from_energy and not asked:
                del parts["drums"]
                self.choices["drums"] = f"none (energy {self.plan.energy:.2f} below {self.kit.from_energy} for {genre})"
            elif self.plan.energy < self.kit.from_energy:
                self.drum_floor = 0  # asked for, but calm: the sparsest pattern only
                self.choices["drums"] = f"{genre} kit, sparsest pattern (asked for at low energy)"
            else:
                self.choices["drums"] = f"{genre} kit"
        else:
            self.choices["drums"] = "none (no drums or percussion among the instruments)"
        if skipped:
            self.choices["instruments skipped"] = ", ".join(skipped)
        self.choices["instruments"] = ", ".join(f"{r}: {p.instrument} (GM {p.program})" for r, p in parts.items())
        return parts

    def _default_part(self, parts: dict[str, _Part], role: str) -> None:
        name = self.tables.role_defaults[role]
        spec = self.tables.instruments[name]
        parts[role] = _Part(role, spec.program_for(self.plan.genre), name)

    def _tracks(self) -> list[Track]:
        tracks = []
        channel = 0
        for role in ("comp", "pad", "arp", "lead", "bass", "drums"):
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
        is_last_body = sec is self.sections[-2] if len(self.sections) >= 2 else False
        for k in range(sec.bars):
            bar = sec.start_bar + k
            gain = self._bar_gain(bar)
            # B sections comp busier; the intro keeps the body's rhythm so the pulse is set
            comp_level = level + 1 if sec.name == "B" and level < len(self.style.comp) - 1 else level
            if "comp" in self.parts:
                self._comp_bar(self.parts["comp"], bar, comp_level, e, gain)
            if "pad" in self.parts:
                self._pad_bar(self.parts["pad"], bar, e, gain)
            if "bass" in self.parts and (sec.name != "intro" or k >= sec.bars // 2):
                self._bass_bar(self.parts["bass"], bar, e, gain, sustained=sec.name == "intro")
            if "arp" in self.parts and sec.name in ("B", "C", "A", "ending") and (
                    sec.name != "A" or occurrence > 0 or self.plan.genre in ("classical", "electronic", "ambient")):
                self._arp_bar(self.parts["arp"], bar, e, gain)
            if "drums" in self.parts:
                self._drum_bar(sec, k, level, e, gain, fill=(k == sec.bars - 1 and sec.name != "ending"
                                                             and not is_last_body))
        if "lead" in self.parts and sec.name not in ("intro", "ending"):
            self._lead_section(sec, occurrence)
        if sec.name == "ending":
            self._lead_cadence(sec)

    # -- comping, pad, arpeggio ----------------------------------------------------------

    def _voicing(self, chord: ChordSpec, prev: tuple[int, ...] | None, lo: int, hi: int) -> tuple[int, ...]:
        pcs = list(chord.pitch_classes)[:4]
        cands = []
        for r in range(len(pcs)):
            order = pcs[r:] + pcs[:r]
            for base in range(lo, lo + 12):
                if base % 12 != order[0]:
                    continue
                notes = [base]
                for pc in order[1:]:
                    n = notes[-1] + 1
                    while n % 12 != pc:
                        n += 1
                    notes.append(n)
                for shift in (0, 12):
                    v = tuple(x + shift for x in notes)
                    if v[-1] <= hi:
                        cands.append(v)
        if not cands:
            return tuple(sorted(lo + (pc - lo) % 12 for pc in pcs))
        if prev is None:
            centre = (lo + hi) / 2 - 2
            return min(cands, key=lambda v: (abs(np.mean(v) - centre), v))

        def cost(v: tuple[int, ...]) -> float:
            n = min(len(v), len(prev))
            return sum(abs(a - b) for a, b in zip(v[:n], prev[:n])) + 3 * abs(len(v) - len(prev)) + 0.5 * abs(v[-1] - prev[-1])

        return min(cands, key=lambda v: (cost(v), v))

    def _segments(self, bar: int) -> list[tuple[float, float, ChordSpec]]:
        """The chords of a bar as ``(start_beat, end_beat, chord)``."""
        chords = self.bar_chords[bar]
        span = BEATS_PER_BAR / len(chords)
        b0 = bar * BEATS_PER_BAR
        return [(b0 + i * span, b0 + (i + 1) * span, c) for i, c in enumerate(chords)]

    def _comp_bar(self, part: _Part, bar: int, level: int, e: float, gain: float) -> None:
        pattern = self.style.comp[min(level, len(self.style.comp) - 1)]
        vel = (48 + 42 * e) * gain
        if pattern == "arp":
            self._broken_chord(part, bar, RANGES["comp"], step=0.5 if e < 0.6 else 0.25, vel=vel, alberti=True)
            return
        onsets = _rhythm(pattern)
        b0 = bar * BEATS_PER_BAR
        for start, end, chord in self._segments(bar):
            hits = [(b0 + s * STEP, b0 + (s + n) * STEP) for s, n in onsets]
            hits = [(max(a, start), min(b, end)) for a, b in hits if a < end and b > start]
            held_over = any(a < start < b for a, b in ((b0 + s * STEP, b0 + (s + n) * STEP) for s, n in onsets))
            if (not hits or hits[0][0] > start + 1e-9) and held_over:
                # a chord change with no onset of its own restrikes the chord on the change
                hits.insert(0, (start, hits[0][0] if hits else end))
            voicing = self._voicing(chord, part.last, *RANGES["comp"])
            part.last = voicing
            strum = 0.012 * self.plan.tempo_bpm / 60 if "guitar" in part.instrument else 0.0
            for j, (a, b) in enumerate(hits):
                beat = (a - b0) % BEATS_PER_BAR
                accent = 1.0 if abs(beat % 1.0) < 1e-9 else 0.85
                for i, p in enumerate(voicing):
                    part.add(a + i * strum, (b - a) * 0.95 - i * strum, p, vel * accent)

    def _broken_chord(self, part: _Part, bar: int, rng_: tuple[int, int], step: float, vel: float,
                      alberti: bool) -> None:
        for start, end, chord in self._segments(bar):
            voicing = self._voicing(chord, part.last, *rng_)
            part.last = voicing
            order = [0, 2, 1, 2] if alberti and len(voicing) >= 3 else list(range(len(voicing))) + list(range(len(voicing) - 2, 0, -1))
            t, i = start, 0
            while t < end - 1e-9:
                accent = 1.0 if abs(t % 1.0) < 1e-9 else 0.8
                part.add(t, min(step, end - t) * 0.95, voicing[order[i % len(order)] % len(voicing)], vel * accent)
                t += step
                i += 1

    def _pad_bar(self, part: _Part, bar: int, e: float, gain: float) -> None:
        vel = (40 + 38 * e) * gain
        for start, end, chord in self._segments(bar):
            voicing = self._voicing(chord, part.last, *RANGES["pad"])
            if part.last == voicing and part.notes and abs(part.notes[-1].start + part.notes[-1].duration - start) < 0.05:
                # same chord again: tie it over instead of re-attacking
                for i in range(len(voicing)):
                    n = part.notes[-1 - i]
                    part.notes[-1 - i] = Note(n.start, end - n.start - 0.02, n.pitch, n.velocity)
                continue
            part.last = voicing
            for p in voicing:
                part.add(start, end - start - 0.02, p, vel)

    def _arp_bar(self, part: _Part, bar: int, e: float, gain: float) -> None:
        step = 0.5 if e < 0.55 else 0.25
        self._broken_chord(part, bar, RANGES["arp"], step=step, vel=(45 + 35 * e) * gain,
                           alberti=self.plan.genre == "classical")

    # -- bass ------------------------------------------------------------------------------

    def _bass_root(self, pc: int) -> int:
        return 33 + (pc - 9) % 12  # A1 .. G#2

    def _bass_pitch(self, chord: ChordSpec, degree: str, next_chord: ChordSpec) -> int:
        r = self._bass_root(chord.root)
        iv = chord.pitch_classes
        if degree == "R":
            return r
        if degree == "3":
            return r + (4 if not chord.is_minor else 3)
        if degree == "5":
            fifth = (iv[2] - chord.root) % 12 if len(iv) > 2 else 7
            return r + fifth
        if degree == "6":
            return r + 9
        if degree == "8":
            return r + 12
        target = self._bass_root(next_chord.root)  # "A": chromatic approach from below
        return target - 1 if target - 1 >= RANGES["bass"][0] else target + 1

    def _bass_bar(self, part: _Part, bar: int, e: float, gain: float, sustained: bool = False) -> None:
        vel = (66 + 36 * e) * gain
        b0 = bar * BEATS_PER_BAR
        nxt = self.chord_at(b0 + BEATS_PER_BAR)
        if sustained or self.style.bass == "walking" and e < 0.3:
            for start, end, chord in self._segments(bar):
                part.add(start, end - start - 0.05, self._bass_root(chord.root), vel)
            return
        if self.style.bass == "walking":
            self._walking_bar(part, bar, vel)
            return
        pattern = self.style.bass
        if e < 0.3:  # calm: only the notes on strong beats, held
            strong = [(s, n, d) for s, n, d in pattern if s % 8 == 0] or [pattern[0]]
            pattern = tuple((s, (strong[i + 1][0] if i + 1 < len(strong) else STEPS_PER_BAR) - s, d)
                            for i, (s, _, d) in enumerate(strong))
        changes = {round((a - b0) / STEP) for a, _, _ in self._segments(bar)}
        starts = {s for s, _, _ in pattern}
        for s, n, d in pattern:
            t = b0 + s * STEP
            chord = self.chord_at(t)
            end = t + n * STEP
            # cut a note at a chord change that has no note of its own, and play the new root there
            cut = [c for c in changes if s < c < s + n and c not in starts]
            if cut:
                end = b0 + cut[0] * STEP
                c2 = self.chord_at(end)
                part.add(end, (s + n - cut[0]) * STEP * 0.9, self._bass_root(c2.root), vel * 0.9)
            part.add(t, (end - t) * 0.9, self._bass_pitch(chord, d, nxt), vel * (1.0 if s % 4 == 0 else 0.85))

    def _walking_bar(self, part: _Part, bar: int, vel: float) -> None:
        b0 = bar * BEATS_PER_BAR
        for beat in range(BEATS_PER_BAR):
            t = b0 + beat
            chord = self.chord_at(t)
            nxt = self.chord_at(t + 1)
            root = self._bass_root(chord.root)
            if abs(t - self._chord_start(t)) < 1e-9:
                p = root
            elif nxt != chord or beat == BEATS_PER_BAR - 1:
                p = self._bass_pitch(chord, "A", self.chord_at(t + 1 if nxt != chord else b0 + BEATS_PER_BAR))
            else:
                tones = [root + (q - chord.root) % 12 for q in chord.pitch_classes[1:]]
                p = tones[int(self.rng.integers(len(tones)))]
            part.add(t, 0.9, p, vel * (1.0 if beat % 2 == 0 else 0.88))

    def _chord_start(self, beat: float) -> float:
        i = max(0, bisect_right(self.chord_starts, beat + 1e-9) - 1)
        return self.chord_events[i].start

    # -- drums -----------------------------------------------------------------------------

    def _drum_bar(self, sec: Section, k: int, level: int, e: float, gain: float, fill: bool) -> None:
        part = self.parts["drums"]
        notes = self.tables.drum_notes
        bar = sec.start_bar + k
        b0 = bar * BEATS_PER_BAR
        if sec.name == "intro":
            if e < self.kit.from_energy + 0.3 or k < sec.bars - 1:
                return
            level = 0
        if sec.name == "C":
            if level < 2:
                return
            level = 0
        if self.drum_floor is not None:
            level = self.drum_floor
        pattern = dict(self.kit.levels[min(level, len(self.kit.levels) - 1)])
        scale = (0.72 + 0.38 * e) * gain
        if fill:
            pattern = {p: s[:8] + "........" for p, s in pattern.items() if p in ("kick", "hat", "ride", "shaker")}
            pattern["kick"] = pattern.get("kick", "." * 16)[:8] + "x......."
            if level >= 1:
                pattern["snare"] = "........" + ("xxxxXxXX" if level >= 2 else "x.x.X.X.")
            else:
                pattern["tom_lo"] = "........x.x.x.x."
        for name, steps in pattern.items():
            for s, ch in enumerate(steps):
                if ch == ".":
                    continue
                v = {"X": 112, "x": 92, "o": 42}[ch]
                if name in ("snare", "clap", "stick"):
                    v *= 0.85  # the backbeat sits under the kick and the chords: the beat, not
                    # the half bar, stays the strongest pulse
                if name in ("hat", "shaker", "ride") and s % 4 != 0:
                    v *= 0.78  # off-beat cymbals softer: the beat stays clear
                if fill and name in ("snare", "tom_lo") and s >= 8:
                    v *= 0.7 + 0.3 * (s - 8) / 7
                part.add(self._swing(b0 + s * STEP), 0.2, notes[name], v * scale)
        # a crash marks each new body section
        if k == 0 and sec.name in ("A", "B") and sec.start_bar > 0 and level >= 1:
            part.add(b0, 1.0, notes["crash"], 100 * scale)

    def _swing(self, beat: float) -> float:
        s = self.style.swing
        if s == 0.5:
            return beat
        whole = math.floor(beat + 1e-9)
        p = beat - whole
        q = p * (s / 0.5) if p < 0.5 else s + (p - 0.5) * ((1 - s) / 0.5)
        return whole + q

    # -- melody ---------------------------------------------------------------------------

    def _lead_range(self) -> tuple[int, int]:
        return LEAD_RANGES.get(self.parts["lead"].program // 8, (67, 86))

    def _motif(self, letter: str, density: float) -> list[tuple[list[tuple[int, int]], list[int]]]:
        """Two one-bar cells for a section letter: each a rhythm ``[(step, length)]`` and scale
        steps, from a generator seeded by the piece's seed and the letter."""
        rng = np.random.default_rng([self.seed, zlib.crc32(letter.encode())])
        target = 4.0 / max(density, 0.25)  # steps per note
        out = []
        for cell in range(2):
            rhythm, s = [], 0
            while s < STEPS_PER_BAR:
                # notes leave the beat grid only briefly (a dotted eighth is answered by a
                # sixteenth, an off-beat eighth never ties over the next beat), so the melody
                # does not blur the pulse
                if s % 2:
                    n = 1
                elif s % 4 == 2:
                    n = 2 if rng.random() < 0.75 else 1
                else:
                    lengths = np.array([1, 2, 3, 4, 8])
                    w = np.exp(-2.0 * np.abs(np.log(lengths / target)))
                    w[lengths > STEPS_PER_BAR - s] = 0
                    if s % 8:
                        w[lengths == 8] = 0
                    n = int(rng.choice(lengths, p=w / w.sum()))
                rhythm.append((s, n))
                s += n
            if cell == 1 and len(rhythm) > 1:
                # the second cell breathes: its last note is held
                s_last = rhythm[-1][0]
                while len(rhythm) > 1 and STEPS_PER_BAR - rhythm[-1][0] < 4:
                    rhythm.pop()
                    s_last = rhythm[-1][0]
                rhythm[-1] = (s_last, STEPS_PER_BAR - s_last)
            steps = [int(rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3])) for _ in rhythm]
            out.append((rhythm, steps))
        return out

    def _vary(self, cell: tuple[list[tuple[int, int]], list[int]], rng: np.random.Generator):
        rhythm, steps = list(cell[0]), list(cell[1])
        steps = [-d if rng.random() < 0.3 else d for d in steps]
        i = int(rng.integers(len(rhythm)))
        s, n = rhythm[i]
        if n >= 4 and n % 2 == 0 and rng.random() < 0.6:  # split a long note
            rhythm[i:i + 1] = [(s, n // 2), (s + n // 2, n // 2)]
            steps[i:i + 1] = [steps[i], int(rng.choice([-1, 1]))]
        elif i + 1 < len(rhythm) and rng.random() < 0.5:  # merge two notes
            rhythm[i:i + 2] = [(s, n + rhythm[i + 1][1])]
            steps[i:i + 2] = [steps[i]]
        return rhythm, steps

    def _lead_section(self, sec: Section, occurrence: int) -> None:
        part = self.parts["lead"]
        e = sec.energy
        density = self.style.lead_density * (0.55 + 0.9 * e) * (0.6 if sec.name == "C" else 1.0)
        a, b = self._motif(sec.name, density)
        rng = np.random.default_rng([self.seed, zlib.crc32(sec.name.encode()), occurrence + 1])
        if occurrence > 0:
            a, b = self._vary(a, rng), self._vary(b, rng)
        vel = 70 + 38 * e
        lo, hi = self._lead_range()
        pitch = part.last[0] if part.last else self._nearest_chord_tone((lo + hi) // 2, self.chord_at(sec.start_bar * 4))
        answer = self._vary(a, rng)  # bar 3 answers bar 1
        cadence_rhythm = [(s, n) for s, n in a[0] if s < 8] or [(0, 8)]
        cadence_rhythm[-1] = (cadence_rhythm[-1][0], 8 - cadence_rhythm[-1][0])
        cadence_rhythm.append((8, 8))
        cadence = (cadence_rhythm, (a[1] + [0] * len(cadence_rhythm))[: len(cadence_rhythm) - 1] + [0])
        for k in range(sec.bars):
            bar = sec.start_bar + k
            pos = k % 4
            phrase_end = pos == 3 or k == sec.bars - 1
            rhythm, steps = cadence if phrase_end else (a, b, answer)[pos]
            gain = self._bar_gain(bar)
            for (s, n), d in zip(rhythm, steps):
                t = self._swing(bar * BEATS_PER_BAR + s * STEP)
                chord = self.chord_at(t)
                strong = s % 8 == 0 or n >= 4
                pitch = self._next_pitch(pitch, d, chord, strong, lo, hi)
                if phrase_end and s == 8:
                    pitch = self._nearest_chord_tone(pitch, chord, prefer_root=(k == sec.bars - 1))
                accent = 1.0 if s % 4 == 0 else 0.8
                part.add(t, n * STEP * 0.92, pitch, vel * accent * gain)
        part.last = (pitch,)

    def _lead_cadence(self, sec: Section) -> None:
        if "lead" not in self.parts:
            return
        part = self.parts["lead"]
        lo, hi = self._lead_range()
        pitch = part.last[0] if part.last else (lo + hi) // 2
        b0 = sec.start_bar * BEATS_PER_BAR
        vel = 70 + 34 * self.plan.energy
        for s, n in ((0, 4), (4, 4), (8, 8)):
            chord = self.chord_at(b0 + s * STEP)
            pitch = self._nearest_chord_tone(pitch + (-1 if s else 0), chord)
            pitch = _fold(pitch, lo, hi)
            part.add(b0 + s * STEP, n * STEP * 0.92, pitch, vel * (1.0 if s == 0 else 0.9))
        part.last = (pitch,)

    def _scale_pc_over(self, pc: int, chord: ChordSpec) -> int:
        """A scale tone, or the chord's tone a semitone away from it (the raised 7th over V in
        minor, borrowed chords)."""
        tones = chord.pitch_classes
        if pc in tones:
            return pc
        for t in tones:
            if (t - pc) % 12 in (1, 11) and t not in self.scale:
                return t
        return pc

    def _next_pitch(self, pitch: int, step: int, chord: ChordSpec, strong: bool, lo: int, hi: int) -> int:
        scale_pitches = [p for p in range(lo - 12, hi + 13) if p % 12 in self.scale]
        i = int(np.argmin([abs(p - pitch) for p in scale_pitches]))
        j = int(np.clip(i + step, 0, len(scale_pitches) - 1))
        cand = scale_pitches[j]
        if strong:
            cand = self._nearest_chord_tone(cand, chord)
        else:
            cand = cand - cand % 12 + self._scale_pc_over(cand % 12, chord)
        return _fold(cand, lo, hi)

    def _nearest_chord_tone(self, pitch: int, chord: ChordSpec, prefer_root: bool = False) -> int:
        pcs = (chord.root,) if prefer_root else chord.pitch_classes[:3]
        best = min((p for p in range(pitch - 7, pitch + 8) if p % 12 in pcs), key=lambda p: (abs(p - pitch), p))
        return best

    # -- ending ----------------------------------------------------------------------------

    def _write_final_chord(self) -> None:
        t0, t1 = self.final_beat, self.end_beat
        chord = self.chord_events[-1].chord
        e = self.plan.energy
        dur = t1 - t0
        for role, part in self.parts.items():
            if role == "drums":
                notes = self.tables.drum_notes
                part.add(t0, 1.0, notes["crash"], 90 + 20 * e)
                part.add(t0, 0.5, notes["kick"], 90 + 20 * e)
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
            start = max(0.0, n.start + (j if n.start < self.final_beat - 1e-9 else 0.0))
            end = min(n.start + n.duration, self.end_beat)
            if end - start <= 1e-3:
                continue
            out.append(Note(start, end - start, n.pitch, int(np.clip(round(n.velocity + v), 1, 127))))
        out.sort(key=lambda n: (n.start, n.pitch))
        return out


def _tonic_bar(prog: Progression, mode: str) -> int | None:
    """Index of the first bar that starts on the tonic chord, or ``None``."""
    for i, bar in enumerate(prog.chords(0, mode)):
        if bar[0].root == 0:
            return i
    return None


def _from_tonic(prog: Progression, mode: str) -> Progression:
    """The progression rotated to start on its first tonic bar."""
    i = _tonic_bar(prog, mode) or 0
    return Progression(prog.name, prog.bars[i:] + prog.bars[:i], prog.moods)


def _rhythm(pattern: str) -> list[tuple[int, int]]:
    """``"x--x..x-"`` → ``[(0, 3), (3, 1), (6, 2)]`` (onset step, length in steps)."""
    out = []
    for s, ch in enumerate(pattern):
        if ch == "x":
            n = 1
            while s + n < len(pattern) and pattern[s + n] == "-":
                n += 1
            out.append((s, n))
    return out


def _fold(pitch: int, lo: int, hi: int) -> int:
    while pitch > hi:
        pitch -= 12
    while pitch < lo:
        pitch += 12
    return pitch
