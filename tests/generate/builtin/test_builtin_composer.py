"""The symbolic composer: form, harmony, parts, endings, determinism (no audio here)."""

from __future__ import annotations

import numpy as np
import pytest

from vmb.generate.builtin import BuiltinGenerator, load_tables
from vmb.generate.builtin.tables import PITCH_CLASSES
from vmb.types import Wants


@pytest.fixture(scope="module")
def gen():
    return BuiltinGenerator(renderer="numpy")


def notes_of(arrangement, role):
    track = arrangement.track(role)
    return [] if track is None else track.notes


def signature(arrangement):
    return [(t.name, [(round(n.start, 4), n.pitch, n.velocity) for n in t.notes]) for t in arrangement.tracks]


def test_same_seed_same_music_other_seed_other_music(gen, make_bridges):
    b = make_bridges(genre="pop", mood=("happy",), tempo_bpm=112, key="G", mode="major", energy=0.6)
    one = gen.compose(b, 30.0, seed=7)
    again = gen.compose(b, 30.0, seed=7)
    other = gen.compose(b, 30.0, seed=8)
    assert signature(one) == signature(again)
    assert signature(one) != signature(other)
    assert [n.pitch for n in notes_of(one, "lead")] != [n.pitch for n in notes_of(other, "lead")]


def test_three_minutes_have_sections_and_variation(gen, make_bridges):
    b = make_bridges(genre="pop", tempo_bpm=120, key="C", mode="major", energy=0.6)
    arr = gen.compose(b, 180.0, seed=3)
    names = [s.name for s in arr.sections]
    assert names[0] == "intro" and names[-1] == "ending"
    assert {"A", "B", "C"} <= set(names)
    # sections tile the bars without gaps
    for prev, nxt in zip(arr.sections, arr.sections[1:]):
        assert prev.start_bar + prev.bars == nxt.start_bar
    # the returning A sections are varied, not copied
    lead = notes_of(arr, "lead")
    a_sections = [s for s in arr.sections if s.name == "A"]
    assert len(a_sections) >= 3

    def section_line(sec):
        b0, b1 = sec.start_bar * 4, (sec.start_bar + sec.bars) * 4
        return [(round(n.start - b0, 2), n.pitch) for n in lead if b0 <= n.start < b1]

    lines = [section_line(s) for s in a_sections]
    assert all(lines)
    assert len({tuple(x) for x in lines}) == len(lines)
    # and the piece as a whole is not one bar repeated: many distinct lead bars
    bars = {}
    for n in lead:
        bars.setdefault(int(n.start // 4), []).append((round(n.start % 4, 2), n.pitch))
    assert len({tuple(v) for v in bars.values()}) > 0.6 * len(bars)
    # energy and drum density change between sections
    assert len({round(s.energy, 3) for s in arr.sections}) >= 3


@pytest.mark.parametrize("duration", [0.5, 1.0, 3.3, 7.25, 12.0, 61.7])
def test_the_ending_lands_on_the_tonic_inside_the_length(gen, make_bridges, duration):
    b = make_bridges(genre="jazz", tempo_bpm=96, key="E", mode="minor", energy=0.5)
    arr = gen.compose(b, duration, seed=1)
    events = arr.events()
    assert events, "a piece of any length has notes"
    assert max(e.start_s + e.duration_s for e in events) <= duration + 1e-6
    assert min(e.start_s for e in events) >= 0.0
    final = arr.chords[-1].chord
    assert final.root == PITCH_CLASSES.index("E") and final.is_minor
    # the last chord rings until close to the end
    last_start = max(e.start_s for e in events if not e.is_drums)
    assert duration - last_start >= min(1.5, duration / 2) - 1e-6
    if duration >= 12:
        cadence = [c.chord for c in arr.chords[-3:-1]]
        assert any(c.root == (PITCH_CLASSES.index("E") + 7) % 12 and not c.is_minor for c in cadence)
        # ritardando: the tempo falls over the cadence bar
        bpms = [bpm for _, bpm in arr.tempo_map.changes]
        assert bpms[0] == pytest.approx(96) and bpms[-1] < 0.9 * 96


def test_bass_follows_the_roots(gen, make_bridges):
    b = make_bridges(genre="rock", tempo_bpm=120, key="A", mode="major", energy=0.6)
    arr = gen.compose(b, 40.0, seed=2)
    bass = notes_of(arr, "bass")
    hits = 0
    checked = 0
    for c in arr.chords:
        at = [n for n in bass if abs(n.start - c.start) < 0.1]
        if at:
            checked += 1
            hits += at[0].pitch % 12 == c.chord.root
    assert checked >= 10
    assert hits == checked
    assert all(28 <= n.pitch <= 52 for n in bass)


def test_lead_strong_beats_are_chord_tones(gen, make_bridges):
    b = make_bridges(genre="pop", tempo_bpm=100, key="F", mode="major", energy=0.6)
    arr = gen.compose(b, 60.0, seed=4)
    chords = arr.chords
    starts = [c.start for c in chords]
    strong = [n for n in notes_of(arr, "lead") if abs(n.start % 2) < 0.05 or abs(n.start % 2 - 2) < 0.05]
    assert len(strong) > 10
    tones = 0
    for n in strong:
        i = max(0, np.searchsorted(starts, n.start + 0.05) - 1)
        tones += n.pitch % 12 in chords[i].chord.pitch_classes
    assert tones / len(strong) >= 0.9


def test_comp_is_voice_led(gen, make_bridges):
    b = make_bridges(genre="pop", tempo_bpm=100, key="D", mode="major", energy=0.5)
    arr = gen.compose(b, 40.0, seed=5)
    comp = notes_of(arr, "comp")
    by_onset = {}
    for n in comp:
        by_onset.setdefault(round(n.start * 4) / 4, []).append(n.pitch)
    tops = [max(v) for _, v in sorted(by_onset.items())]
    moves = np.abs(np.diff(tops))
    assert moves.mean() <= 3.0 and moves.max() <= 9


def test_drums_follow_energy_and_genre(gen, make_bridges):
    calm = gen.compose(make_bridges(genre="ambient", mood=("calm",), energy=0.15, tempo_bpm=70), 30.0, seed=1)
    assert calm.track("drums") is None
    assert "none" in calm.choices["drums"]

    def per_bar(energy):
        arr = gen.compose(make_bridges(genre="rock", energy=energy, tempo_bpm=120), 30.0, seed=1)
        drums = notes_of(arr, "drums")
        return len(drums) / (arr.sections[-1].start_bar or 1)

    assert per_bar(0.9) > 1.3 * per_bar(0.3)


def test_empty_description_gets_defaults(gen, make_bridges):
    arr = gen.compose(make_bridges(), 12.0, seed=0)
    tables = load_tables()
    genre = tables.fallback["genre"]
    assert arr.genre == genre and "fallback" in arr.choices["genre"]
    # no mood either: the fallback genre's defaults
    assert arr.tempo_bpm == pytest.approx(tables.genre_defaults[genre]["tempo_bpm"])
    assert arr.energy == pytest.approx(tables.genre_defaults[genre]["energy"])
    assert arr.key == tables.genre_defaults[genre]["key_major"]
    assert f"{genre} default" in arr.choices["tempo"] and "default" in arr.choices["key"]


def test_mood_alone_sets_mode_tempo_and_genre(gen, make_bridges):
    arr = gen.compose(make_bridges(mood=("sad",)), 12.0, seed=0)
    sad = load_tables().mood_defaults["sad"]
    assert arr.mode == "minor"
    assert arr.tempo_bpm == pytest.approx(sad["tempo_bpm"])
    assert arr.genre == load_tables().mood_genres["sad"]


def test_instruments_map_to_general_midi(gen, make_bridges):
    arr = gen.compose(make_bridges(instruments=("strings", "piano", "woodwinds"), genre="cinematic",
                                   energy=0.3, tempo_bpm=90), 20.0, seed=0)
    programs = {t.role: t.program for t in arr.tracks}
    assert programs["pad"] == 48 and programs["comp"] == 0 and programs["lead"] == 73
    assert "drums" not in programs  # not asked for, and too calm for the cinematic kit
    busy = gen.compose(make_bridges(instruments=("strings", "piano", "woodwinds"), genre="cinematic",
                                    energy=0.8, tempo_bpm=90), 20.0, seed=0)
    # the genre's rhythm section comes with its energy even when the instruments leave it out
    assert busy.track("drums") is not None and busy.track("timpani").program == 47
    drums = gen.compose(make_bridges(instruments=("piano", "drums"), genre="jazz", energy=0.6), 20.0, seed=0)
    assert drums.track("drums").channel == 9
    assert drums.track("bass").program == 0  # a solo piano plays its own bass line


def test_wants_override_the_description(gen, make_bridges):
    b = make_bridges(genre="pop", key="C", mode="major",
                     wants=Wants(key="D", mode="minor", tempo="fast", genre="jazz"))
    arr = gen.compose(b, 20.0, seed=0)
    assert (arr.key, arr.mode, arr.genre) == ("D", "minor", "jazz")
    lo, hi = load_tables().tempo_classes["fast"]["range"]
    assert lo <= arr.tempo_bpm < hi
    assert "want" in arr.choices["key"] and "clamped" in arr.choices["tempo"]


def test_humanisation_is_small_and_seeded(gen, make_bridges):
    arr = gen.compose(make_bridges(genre="pop", tempo_bpm=120, energy=0.6), 20.0, seed=9)
    comp = notes_of(arr, "comp")
    offsets = np.array([n.start * 4 - round(n.start * 4) for n in comp]) / 4 * 60 / 120  # seconds
    assert np.abs(offsets).max() < 0.03
    assert np.abs(offsets).mean() > 0.002  # not quantised
    vel = [n.velocity for n in comp]
    assert len(set(vel)) > 5
