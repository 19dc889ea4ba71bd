"""The composer tables (configs/composer.yaml) and the roman-numeral notation they use."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmb.errors import ConfigError
from vmb.generate.builtin.tables import PITCH_CLASSES, load_tables, parse_bar, parse_roman
from vmb.vocab import load_vocab


def names(chords):
    return [c.name for c in chords]


@pytest.mark.parametrize(
    "symbol, tonic, mode, expected",
    [
        ("I", "C", "major", "C"),
        ("vi", "C", "major", "Am"),
        ("V7", "C", "major", "G7"),
        ("ii7", "C", "major", "Dm7"),
        ("Imaj7", "F", "major", "Fmaj7"),
        ("bVII", "E", "major", "D"),
        ("i", "A", "minor", "Am"),
        ("III", "A", "minor", "C"),  # degrees count on the minor scale
        ("VII", "A", "minor", "G"),
        ("V", "A", "minor", "E"),  # upper case: the harmonic-minor dominant
        ("m7b5", "A", "minor", "Bm7b5"),
        ("bII", "D", "minor", "D#"),
        ("IVsus4", "G", "major", "Csus4"),
    ],
)
def test_roman_numerals(symbol, tonic, mode, expected):
    assert parse_roman(symbol, PITCH_CLASSES.index(tonic), mode).name == expected


def test_chord_pitch_classes():
    g7 = parse_roman("V7", 0, "major")
    assert g7.pitch_classes == (7, 11, 2, 5)
    assert parse_roman("vi", 0, "major").is_minor


def test_a_bar_can_hold_two_chords():
    assert names(parse_bar("ii7 V7", 0, "major")) == ["Dm7", "G7"]


@pytest.mark.parametrize("bad", ["VIII", "Xmaj7", "Ifoo", ""])
def test_unknown_chords_are_rejected(bad):
    with pytest.raises(ValueError, match=f"'{bad}'"):
        parse_roman(bad, 0, "major")


def test_shipped_tables_cover_the_vocabularies():
    tables = load_tables()
    vocab = load_vocab()
    for genre in vocab.genres:
        assert genre in tables.genre_defaults, genre
        assert genre in tables.styles, genre
        assert genre in tables.drums, genre
    for mood in vocab.moods:
        assert mood in tables.mood_defaults, mood
        assert mood in tables.mood_genres, mood
    for instrument in vocab.instruments:
        assert instrument in tables.instruments, instrument
    # every progression is playable in every key of its mode
    for mode, by_genre in tables.progressions.items():
        for progs in by_genre.values():
            for p in progs:
                for tonic in range(12):
                    assert all(bar for bar in p.chords(tonic, mode))


def test_candidates_prefer_the_genre():
    tables = load_tables()
    jazz = tables.candidates("major", "jazz")
    assert jazz[0].name == "ii-V-I"
    assert {p.name for p in tables.progressions["major"]["any"]} <= {p.name for p in jazz}


def _write(tmp_path, text):
    path = tmp_path / "composer.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_broken_table_names_the_entry(tmp_path):
    text = Path(load_tables().path).read_text(encoding="utf-8")
    broken = text.replace("bars: [I, V, vi, IV]", "bars: [I, V, vi, XIV]", 1)
    with pytest.raises(ConfigError, match=r"progressions\.major\.any\[0\].*XIV"):
        load_tables(_write(tmp_path, broken))


def test_a_bad_drum_pattern_is_rejected(tmp_path):
    text = Path(load_tables().path).read_text(encoding="utf-8")
    broken = text.replace('stick: "....x.......x...", hat: "x...x...x...x..."', 'stick: "....x...", hat: "x...x...x...x..."', 1)
    assert broken != text
    with pytest.raises(ConfigError, match="16 steps"):
        load_tables(_write(tmp_path, broken))


def test_missing_tables_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_tables(tmp_path / "nope.yaml")
