"""The lead of the composer: a motif that develops across the form.

Section ``A`` states two one-bar cells (rhythm and scale steps, seeded); ``B`` develops them
(the steps inverted, the line a step higher), ``C`` augments them (fewer, longer notes); a
section that comes back varies its cells (notes split or merged, steps turned). Bars run in
four-bar phrases: statement, second cell, answer, and a cadence on a chord tone (finally the
tonic). Chord tones fall on strong beats, scale tones between.

A mixin of :class:`vmb.generate.builtin.composer._Composer`.
"""

from __future__ import annotations

import zlib

import numpy as np

from vmb.generate.builtin.harmony import STEP
from vmb.generate.builtin.tables import BEATS_PER_BAR, STEPS_PER_BAR, ChordSpec

LEAD_RANGES = {  # by GM family (program // 8)
    0: (67, 86), 1: (72, 91), 2: (65, 84), 3: (64, 83), 5: (67, 88), 6: (64, 84),
    7: (60, 81), 8: (60, 81), 9: (72, 93), 10: (67, 88), 11: (67, 86),
}

Cell = tuple[list[tuple[int, int]], list[int]]


class MelodyWriter:
    """The lead line."""

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

    def _developed_motif(self, letter: str, density: float) -> list[Cell]:
        """The section's two cells: A's own; B's are A's with the steps inverted and the first
        step raised (a sequence upwards); C's are A's augmented (each note twice as long, the
        bar filled by the first half of the cell). Other section names get their own motif."""
        if letter not in ("B", "C"):
            return self._motif(letter, density)
        base = self._motif("A", density)
        if letter == "B":
            return [(list(r), [1] + [-d for d in st[1:]]) for r, st in base]
        out = []
        for rhythm, steps in base:
            r2, st2 = [], []
            for (s, n), d in zip(rhythm, steps):
                if 2 * s >= STEPS_PER_BAR:
                    break
                r2.append((2 * s, min(2 * n, STEPS_PER_BAR - 2 * s)))
                st2.append(d)
            out.append((r2 or [(0, STEPS_PER_BAR)], st2 or [0]))
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

    def _lead_section(self, sec, occurrence: int) -> None:
        part = self.parts["lead"]
        e = sec.energy
        density = self.style.lead_density * (0.55 + 0.9 * e) * (0.6 if sec.name == "C" else 1.0)
        a, b = self._developed_motif(sec.name, density)
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

    def _lead_cadence(self, sec) -> None:
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



def _fold(pitch: int, lo: int, hi: int) -> int:
    while pitch > hi:
        pitch -= 12
    while pitch < lo:
        pitch += 12
    return pitch
