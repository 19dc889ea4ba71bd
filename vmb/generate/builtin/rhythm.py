"""The rhythm section of the composer: the bass (the style's pattern, a walking line, or a
tonic pedal) and the drums (the genre's kit at a density set by energy, varied every fourth bar,
fills into sections, crashes at section starts and planned cuts), plus orchestral percussion
for cinematic styles: timpani on a melodic channel and cymbal swells into sections.

A mixin of :class:`vmb.generate.builtin.composer._Composer`.
"""

from __future__ import annotations

import math

from vmb.generate.builtin.harmony import RANGES, STEP
from vmb.generate.builtin.tables import BEATS_PER_BAR, STEPS_PER_BAR, ChordSpec

TIMPANI_RANGE = (38, 53)


class RhythmWriter:
    """Bass, drums and timpani."""

    # -- bass -------------------------------------------------------------------------------

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

    def _pedal_bar(self, part, bar: int, e: float, gain: float) -> None:
        """The tonic held through the bar (cinematic and ambient intros and breakdowns)."""
        part.add(bar * BEATS_PER_BAR, BEATS_PER_BAR - 0.05, self._bass_root(self.tonic), (60 + 34 * e) * gain)

    def _bass_bar(self, part, bar: int, e: float, gain: float, sustained: bool = False) -> None:
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
            part.add(self._swing(t), (end - t) * 0.9, self._bass_pitch(chord, d, nxt), vel * (1.0 if s % 4 == 0 else 0.85))

    def _walking_bar(self, part, bar: int, vel: float) -> None:
        """Four quarter notes: the root on a chord's first beat, chord tones between, a
        chromatic approach into the next chord."""
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
                tones = [root + (q - chord.root) % 12 for q in chord.pitch_classes[1:4]]
                p = tones[int(self.rng.integers(len(tones)))]
            part.add(t, 0.9, p, vel * (1.0 if beat % 2 == 0 else 0.88))

    # -- drums ----------------------------------------------------------------------------

    def _drum_bar(self, sec, k: int, level: int, e: float, gain: float, fill: bool) -> None:
        part = self.parts["drums"]
        notes = self.tables.drum_notes
        bar = sec.start_bar + k
        b0 = bar * BEATS_PER_BAR
        if sec.name == "intro":
            if e < self.kit.from_energy + 0.3 or k < sec.bars - 1:
                if self.kit.swells and k == sec.bars - 1:
                    self._swell(b0)
                return
            level = 0
        if sec.name == "C":
            if level < 2:
                if self.kit.swells and k == sec.bars - 1:
                    self._swell(b0)
                return
            level = 0
        if self.drum_floor is not None:
            level = self.drum_floor
        elif e < self.kit.from_energy:  # a calm section of a piece with drums: they rest
            return
        levels = self.kit.levels
        pattern = dict(levels[min(level, len(levels) - 1)])
        if k % 4 == 3 and not fill and level + 1 < len(levels):
            # every fourth bar borrows the next level's cymbals: the groove breathes
            for p, steps in levels[level + 1].items():
                if p in ("hat", "open_hat", "ride", "shaker", "tambourine"):
                    pattern[p] = steps
        scale = (0.72 + 0.38 * e) * gain
        if fill:
            pattern = self._fill(pattern, level)
            if self.kit.swells:
                self._swell(b0)
        for name, steps in pattern.items():
            for s, ch in enumerate(steps):
                if ch == ".":
                    continue
                v = {"X": 112, "x": 92, "o": 42}[ch]
                if name in ("snare", "clap", "stick"):
                    v *= 0.85  # the backbeat sits under the kick: the beat stays the strongest pulse
                if name in ("hat", "shaker", "ride") and s % 4 != 0:
                    v *= 0.78  # off-beat cymbals softer: the beat stays clear
                if fill and name in ("snare", "tom_lo", "tom_hi", "floor_tom") and s >= 8:
                    v *= 0.7 + 0.3 * (s - 8) / 7
                part.add(self._swing(b0 + s * STEP), 0.2, notes[name], v * scale)
        # a crash marks each new body section
        if k == 0 and sec.name in ("A", "B") and sec.start_bar > 0 and level >= 1:
            part.add(b0, 1.0, notes["crash"], 100 * scale)

    def _fill(self, pattern: dict[str, str], level: int) -> dict[str, str]:
        """The last bar of a section: the groove's first half, then a fill (snare or toms)."""
        out = {p: s[:8] + "........" for p, s in pattern.items()
               if p in ("kick", "hat", "ride", "shaker", "tom_lo", "floor_tom")}
        out["kick"] = out.get("kick", "." * 16)[:8] + "x......."
        if self.kit.fill == "toms":
            out["tom_hi"] = "........x.x....."
            out["tom_lo"] = out.get("tom_lo", "." * 16)[:8] + "....x.x."
            out["floor_tom"] = out.get("floor_tom", "." * 16)[:8] + ("......xx" if level >= 1 else "......x.")
        elif level >= 1:
            out["snare"] = "........" + ("xxxxXxXX" if level >= 2 else "x.x.X.X.")
        else:
            out["tom_lo"] = "........x.x.x.x."
        return out

    def _swell(self, b0: float) -> None:
        """A cymbal roll growing into the next bar (the last two beats of the bar at ``b0``)."""
        part = self.parts["drums"]
        note = self.tables.drum_notes.get("ride", 51)
        for i in range(8):
            part.add(b0 + 2 + i * 0.25, 0.25, note, 40 + 10 * i)

    def _accent_cuts(self) -> None:
        """Accents on the cuts. On a beat grid (:mod:`.scoring`): every cut that landed on a
        beat gets a kick, the strongest (and those on a downbeat) a crash, at most one a bar,
        with two snare strokes leading in, and a chord stab; in a section without drums a stab
        only; every section change a crash and a stab. Otherwise a crash and a kick (or a louder
        comp chord) on the beat nearest each planned cut."""
        grid = getattr(self, "grid", None)
        if grid is None:
            self._accent_nearest()
            return
        notes = self.tables.drum_notes
        drums = self.parts.get("drums")
        strengths = self.form.strengths()
        cuts = [(grid.nearest_beat(t), s) for t, s, hit in zip(grid.cuts_s, strengths, grid.on_beat) if hit]
        top = max((s for _, s in cuts), default=1.0)
        changes = {round(sp.start) for sp in self.spans[1:] if sp.section.name != "ending"}
        marks: dict[int, float] = {}
        for b, s in cuts:
            marks[b] = max(marks.get(b, 0.0), s)
        marks.update({b: 2.0 for b in changes})
        last_crash = -1e9
        pickup = self.tempo_map.pickup_beats
        for beat, s in sorted(marks.items()):
            if not -pickup - 1e-9 <= beat < self.final_beat - 1e-9:
                continue
            e = self._energy_at_beat(beat)
            playing = drums is not None and (e >= self.kit.from_energy or self.drum_floor is not None)
            big = s >= 2.0 or beat % BEATS_PER_BAR == 0 or s >= 0.9 * top
            if playing:
                drums.add(beat, 0.25, notes["kick"], 96 + 20 * min(s, 1.0))
                if big and beat - last_crash >= BEATS_PER_BAR:
                    drums.add(beat, 1.0, notes["crash"], 100 + 10 * e)
                    if beat - 0.5 > -pickup:
                        drums.add(beat - 0.5, 0.2, notes["snare"], 70 + 20 * e)
                        drums.add(beat - 0.25, 0.2, notes["snare"], 82 + 20 * e)
                    last_crash = beat
            if (big or not playing) and "comp" in self.parts:
                chord = self.chord_at(beat)
                for p in self._voicing(chord, None, *RANGES["comp"]):
                    self.parts["comp"].add(beat, 0.45, p, 84 + 30 * e)

    def _energy_at_beat(self, beat: float) -> float:
        for sp in reversed(self.spans):
            if beat >= sp.start - 1e-9:
                return sp.section.energy
        return self.spans[0].section.energy if self.spans else self.plan.energy

    def _accent_nearest(self) -> None:
        if not self.cut_beats:
            return
        drums = self.parts.get("drums")
        notes = self.tables.drum_notes
        for beat in self.cut_beats:
            if beat >= self.final_beat:
                continue
            if drums is not None:
                drums.add(beat, 1.0, notes["crash"], 104)
                drums.add(beat, 0.25, notes["kick"], 110)
            elif "comp" in self.parts:
                chord = self.chord_at(beat)
                for p in self._voicing(chord, None, *RANGES["comp"]):
                    self.parts["comp"].add(beat, 0.9, p, 100)

    def _timpani_bar(self, sec, k: int, level: int, e: float, gain: float, fill: bool) -> None:
        """Timpani on the tonic and dominant: the downbeat (and beat 3 when busier), a roll in
        the last beats of a section."""
        part = self.parts.get("timpani")
        if part is None or sec.name in ("intro", "C") and k < sec.bars - 1:
            return
        if getattr(self, "timeline", False) and e < self.kit.from_energy and not fill:
            return  # a calm scene of a scored picture: the timpani wait for the action
        b0 = (sec.start_bar + k) * BEATS_PER_BAR
        lo, hi = TIMPANI_RANGE
        root = lo + (self.chord_at(b0).root - lo) % 12
        fifth = root + 7 if root + 7 <= hi else root - 5
        vel = (70 + 40 * e) * gain
        if fill or (sec.name in ("intro", "C") and k == sec.bars - 1):
            part.add(b0, 1.0, root, vel)
            for i in range(8):  # a roll into the next section
                part.add(b0 + 2 + i * 0.25, 0.25, fifth, vel * (0.55 + 0.06 * i))
            return
        part.add(b0, 1.5, root, vel)
        if level >= 1:
            part.add(b0 + 2, 1.0, fifth, vel * 0.85)
        if level >= 2:
            part.add(b0 + 3.5, 0.5, root, vel * 0.75)

    def _swing(self, beat: float) -> float:
        s = self.style.swing
        if s == 0.5:
            return beat
        whole = math.floor(beat + 1e-9)
        p = beat - whole
        q = p * (s / 0.5) if p < 0.5 else s + (p - 0.5) * ((1 - s) / 0.5)
        return whole + q
