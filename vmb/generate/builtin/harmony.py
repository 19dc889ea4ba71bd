"""Harmony and the chord parts of the composer: progressions chosen by mode, genre and mood,
varied when a section comes back, coloured by the style (7ths/9ths for jazz, lofi hip hop and
soul; power chords for rock's guitar; a tonic pedal under cinematic and ambient intros), no
chord held longer than :data:`MAX_CHORD_S`; voice-led comping, pad and arpeggios.

A mixin of :class:`vmb.generate.builtin.composer._Composer` (it uses the composer's ``plan``,
``tables``, ``style``, ``tonic``, ``mode``, ``rng`` and ``parts``).
"""

from __future__ import annotations

import zlib
from bisect import bisect_right

import numpy as np

from vmb.generate.builtin.arrangement import ChordEvent, Note
from vmb.generate.builtin.tables import (
    BEATS_PER_BAR,
    SCALES,
    ChordSpec,
    Progression,
    colour_chord,
    diatonic_chord,
    parse_bar,
    parse_roman,
)

MAX_CHORD_S = 7.5  # no chord is held longer (a long piece must move)
STEP = 1.0 / 4  # a sixteenth, in beats
RANGES = {"comp": (52, 76), "pad": (55, 79), "arp": (60, 86), "bass": (28, 52), "power": (40, 64)}
# substitutes by scale steps above the chord's root: the relative (a third below), the chord a
# third above, the subdominant; counted on the mode's scale so a minor key keeps its own chords
SUBSTITUTES = (-2, 2, 3)


class HarmonyWriter:
    """Progressions, chord events and the chord-playing parts."""

    # -- choosing and varying progressions ----------------------------------------------------

    def _choose_progressions(self) -> dict[str, Progression]:
        cands = list(self.tables.candidates(self.mode, self.plan.genre))
        own = len(self.tables.progressions[self.mode].get(self.plan.genre, ()))
        moods = set(self.plan.moods)
        weights = np.array([1.0 + 2.0 * len(moods & set(p.moods)) + (1.5 if i < own else 0.0)
                            for i, p in enumerate(cands)])
        chosen: dict[str, Progression] = {}
        # A2/B2: the progressions a long piece's A and B turn to from their third time on
        for letter in ("A", "B", "C", "A2", "B2"):
            left = [i for i, p in enumerate(cands) if p.name not in {c.name for c in chosen.values()}]
            if letter == "A":
                # the first section states the key: a progression with the tonic chord, from it;
                # in minor one that also puts the minor's own degrees (III, VI) in the bass, so
                # the key is heard as minor and not as its parallel major
                left = [i for i in left if _tonic_bar(cands[i], self.mode) is not None] or left
                if self.mode == "minor":
                    left = [i for i in left if _sounds_minor(cands[i])] or left
            if not left:
                chosen[letter] = chosen["A"]
                continue
            w = weights[left] / weights[left].sum()
            pick = cands[left[int(self.rng.choice(len(left), p=w))]]
            if letter in ("A", "A2"):
                pick = _from_tonic(pick, self.mode)
            if letter != "A" and len(pick.bars) != len(chosen["A"].bars):
                # a section's progression keeps the A length so the form stays regular
                same = [i for i in left if len(cands[i].bars) == len(chosen["A"].bars)]
                pick = cands[same[int(self.rng.integers(len(same)))]] if same else chosen["A"]
            chosen[letter] = pick
        self.choices["progressions"] = ", ".join(f"{k}: {v.name}" for k, v in chosen.items() if len(k) == 1)
        return chosen

    def _varied(self, bars: list[list[ChordSpec]], letter: str, occurrence: int) -> list[list[ChordSpec]]:
        """A returning section's progression, varied: from the second time on some bars take a
        substitute (the relative, the chord a third up, the subdominant), from the third time on
        some bars also move to their dominant on the half bar. The first bar keeps its chord."""
        if occurrence == 0:
            return bars
        rng = np.random.default_rng([self.seed, zlib.crc32(letter.encode()), occurrence, 7])
        out = []
        for k, bar in enumerate(bars):
            bar = list(bar)
            if k > 0 and len(bar) == 1 and rng.random() < 0.5:
                sub = self._scale_step_chord(bar[0].root, int(rng.choice(SUBSTITUTES)), avoid_dim=True)
                bar = [sub] if sub is not None else bar
            if occurrence >= 2 and len(bar) == 1 and k < len(bars) - 1 and rng.random() < 0.5:
                bar = [bar[0], self._dominant_of(bar[0])]
            out.append(bar)
        return out

    def _scale_step_chord(self, root: int, steps: int, avoid_dim: bool = False) -> ChordSpec | None:
        """The diatonic triad ``steps`` scale degrees from ``root`` (``None`` when ``root`` is
        not a scale tone, or the triad is diminished and ``avoid_dim``)."""
        scale = [(self.tonic + s) % 12 for s in SCALES[self.mode]]
        if root % 12 not in scale:
            return None
        chord = diatonic_chord(scale[(scale.index(root % 12) + steps) % 7], self.tonic, self.mode)
        if chord.quality == "dim" and avoid_dim:
            return None
        return self._with_leading_tone(chord)

    def _dominant_of(self, chord: ChordSpec) -> ChordSpec:
        """The chord a fifth above ``chord``'s root: diatonic, except the key's own dominant in
        minor, which is major (its third is the leading tone that tells the key)."""
        return self._with_leading_tone(diatonic_chord(chord.root + 7, self.tonic, self.mode))

    def _with_leading_tone(self, chord: ChordSpec) -> ChordSpec:
        if self.mode == "minor" and (chord.root - self.tonic) % 12 == 7 and chord.quality == "min":
            return ChordSpec(chord.root, "maj", chord.symbol)
        return chord

    def _harmony(self, n_bars: int) -> list[list[ChordSpec]]:
        bars: list[list[ChordSpec]] = [[] for _ in range(n_bars)]
        ref = self.plan.reference
        loop = ref.loop_in(self.tonic) if (ref is not None and ref.bars) else []
        loop_pos = 0
        seen: dict[str, int] = {}
        for sec in self.sections:
            if sec.name == "ending":
                cad = self.tables.cadences[self.mode]
                bars[sec.start_bar] = parse_bar(cad[int(self.rng.integers(len(cad)))], self.tonic, self.mode)
                continue
            letter = sec.name if sec.name in self.progressions else "A"
            occurrence = seen.get(letter, 0)
            if sec.name != "intro":
                # the intro previews A's progression: A's first statement is still unvaried
                seen[letter] = occurrence + 1
            source = letter + "2" if occurrence >= 2 and occurrence % 2 == 0 and letter + "2" in self.progressions else letter
            base = self.progressions[source].chords(self.tonic, self.mode)
            for k in range(sec.bars):
                b = sec.start_bar + k
                if sec.harmony == "reference" and loop:
                    bars[b] = list(loop[loop_pos % len(loop)])
                    loop_pos += 1
                else:
                    # each pass of the progression within a section is varied anew
                    cycle = k // len(base)
                    prog = self._varied(base, letter, 2 * occurrence + cycle) if occurrence + cycle else base
                    bars[b] = list(prog[k % len(prog)])
        if self.loop and n_bars >= 2 and bars[-1] and bars[0]:
            # the last bar leads back into the first: its second half is the dominant of the first chord
            first = bars[0][0]
            bars[-1] = [bars[-1][0], ChordSpec((first.root + 7) % 12, "7")]
        ext = self.style.extensions
        bars = [[colour_chord(c, ext, self.tonic) for c in bar] for bar in bars]
        return self._break_long_runs(bars)

    def _break_long_runs(self, bars: list[list[ChordSpec]]) -> list[list[ChordSpec]]:
        """No chord longer than :data:`MAX_CHORD_S`: within a run of one chord, the half bar
        where it would pass the limit takes the chord a fourth up (the subdominant of the
        held chord), coloured like the rest."""
        max_beats = MAX_CHORD_S * self.plan.tempo_bpm / 60.0
        if max_beats < 2:  # a half bar already lasts longer (tempi under 16 BPM): nothing to do
            return bars
        halves = []
        for bar in bars:
            halves.extend([bar[0], bar[0]] if len(bar) == 1 else [bar[0], bar[-1]] if len(bar) == 2
                          else [bar[0], bar[len(bar) // 2]])
        run = 0.0
        for i, c in enumerate(halves):
            run = run + 2 if i and halves[i - 1] == c else 2
            if run > max_beats:
                sub = (self._scale_step_chord(c.root, 3, avoid_dim=True) or self._scale_step_chord(c.root, -2)
                       or diatonic_chord(c.root + 5, self.tonic, self.mode))
                sub = colour_chord(sub, self.style.extensions, self.tonic)
                halves[i] = sub
                run = 2
        out = []
        for b, bar in enumerate(bars):
            h0, h1 = halves[2 * b], halves[2 * b + 1]
            if len(bar) == 1 and h0 == h1 == bar[0]:
                out.append(bar)
            elif len(bar) <= 2:
                out.append([h0] if h0 == h1 else [h0, h1])
            else:
                out.append(bar if (h0, h1) == (bar[0], bar[len(bar) // 2]) else [h0, h1])
        return out

    def _chord_events(self) -> list[ChordEvent]:
        events: list[ChordEvent] = []
        for b, chords in enumerate(self.bar_chords):
            span = BEATS_PER_BAR / len(chords)
            for i, c in enumerate(chords):
                start = b * BEATS_PER_BAR + i * span
                if events and events[-1].chord == c and abs(events[-1].start + events[-1].duration - start) < 1e-9:
                    last = events.pop()
                    events.append(ChordEvent(last.start, last.duration + span, c))
                else:
                    events.append(ChordEvent(start, span, c))
        if not self.loop:
            final = parse_roman("I" if self.mode == "major" else "i", self.tonic, self.mode)
            events.append(ChordEvent(self.final_beat, self.end_beat - self.final_beat, final))
        return events

    def chord_at(self, beat: float) -> ChordSpec:
        if self.loop and beat >= self.final_beat - 1e-9 and self.chord_events:
            beat -= self.final_beat  # a loop's "next bar" is its first
        i = max(0, bisect_right(self.chord_starts, beat + 1e-9) - 1)
        return self.chord_events[i].chord

    def _chord_start(self, beat: float) -> float:
        i = max(0, bisect_right(self.chord_starts, beat + 1e-9) - 1)
        return self.chord_events[i].start

    def _segments(self, bar: int) -> list[tuple[float, float, ChordSpec]]:
        """The chords of a bar as ``(start_beat, end_beat, chord)``."""
        chords = self.bar_chords[bar]
        span = BEATS_PER_BAR / len(chords)
        b0 = bar * BEATS_PER_BAR
        return [(b0 + i * span, b0 + (i + 1) * span, c) for i, c in enumerate(chords)]

    # -- voicing ------------------------------------------------------------------------------

    def _voicing(self, chord: ChordSpec, prev: tuple[int, ...] | None, lo: int, hi: int) -> tuple[int, ...]:
        """Close voicing of up to four chord tones (a ninth chord drops its fifth) in
        ``[lo, hi]``, the one nearest the previous voicing."""
        pcs = list(chord.pitch_classes)
        if len(pcs) > 4:
            del pcs[2]
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

    def _power_voicing(self, chord: ChordSpec) -> tuple[int, ...]:
        lo, _ = RANGES["power"]
        root = lo + (chord.root - lo) % 12
        return (root, root + 7, root + 12)

    # -- comping, pad, arpeggio ---------------------------------------------------------------

    def _comp_bar(self, part, bar: int, level: int, e: float, gain: float) -> None:
        pattern = self.style.comp[min(level, len(self.style.comp) - 1)]
        vel = (48 + 42 * e) * gain
        if pattern == "arp":
            self._broken_chord(part, bar, RANGES["comp"], step=0.5 if e < 0.6 else 0.25, vel=vel, alberti=True)
            return
        onsets = _rhythm(pattern)
        b0 = bar * BEATS_PER_BAR
        power = self.style.comp_voicing == "power" and "guitar" in part.instrument
        for start, end, chord in self._segments(bar):
            hits = [(b0 + s * STEP, b0 + (s + n) * STEP) for s, n in onsets]
            hits = [(max(a, start), min(b, end)) for a, b in hits if a < end and b > start]
            held_over = any(a < start < b for a, b in ((b0 + s * STEP, b0 + (s + n) * STEP) for s, n in onsets))
            if (not hits or hits[0][0] > start + 1e-9) and held_over:
                # a chord change with no onset of its own restrikes the chord on the change
                hits.insert(0, (start, hits[0][0] if hits else end))
            voicing = self._power_voicing(chord) if power else self._voicing(chord, part.last, *RANGES["comp"])
            part.last = voicing
            strum = 0.012 * self.plan.tempo_bpm / 60 if "guitar" in part.instrument else 0.0
            for a, b in hits:
                beat = (a - b0) % BEATS_PER_BAR
                accent = 1.0 if abs(beat % 1.0) < 1e-9 else 0.85
                for i, p in enumerate(voicing):
                    part.add(self._swing(a) + i * strum, (b - a) * 0.95 - i * strum, p, vel * accent)

    def _broken_chord(self, part, bar: int, rng_: tuple[int, int], step: float, vel: float,
                      alberti: bool) -> None:
        for start, end, chord in self._segments(bar):
            voicing = self._voicing(chord, part.last, *rng_)
            part.last = voicing
            order = ([0, 2, 1, 2] if alberti and len(voicing) >= 3
                     else list(range(len(voicing))) + list(range(len(voicing) - 2, 0, -1)))
            t, i = start, 0
            while t < end - 1e-9:
                accent = 1.0 if abs(t % 1.0) < 1e-9 else 0.8
                part.add(self._swing(t), min(step, end - t) * 0.95, voicing[order[i % len(order)] % len(voicing)],
                         vel * accent)
                t += step
                i += 1

    def _pad_bar(self, part, bar: int, e: float, gain: float) -> None:
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

    def _arp_bar(self, part, bar: int, e: float, gain: float) -> None:
        step = 0.5 if e < 0.55 else 0.25
        self._broken_chord(part, bar, RANGES["arp"], step=step, vel=(45 + 35 * e) * gain,
                           alberti=self.plan.genre == "classical")


def _tonic_bar(prog: Progression, mode: str) -> int | None:
    """Index of the first bar that starts on the tonic chord, or ``None``."""
    for i, bar in enumerate(prog.chords(0, mode)):
        if bar[0].root == 0:
            return i
    return None


def _sounds_minor(prog: Progression) -> bool:
    """Whether a minor progression has a chord on the third or sixth degree (its root is a
    note the parallel major lacks)."""
    return any((c.root in (3, 8)) for bar in prog.chords(0, "minor") for c in bar)


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
