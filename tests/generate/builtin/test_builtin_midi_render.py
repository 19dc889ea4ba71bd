"""Standard MIDI files in and out, the renderers, level balancing and mastering."""

from __future__ import annotations

import os

import mido
import numpy as np
import pytest
from generate.builtin.listening import lufs

from vmb.errors import ConfigError, MediaError, ModelUnavailable
from vmb.generate.builtin import (
    BuiltinGenerator,
    choose_renderer,
    read_midi,
    render_midi,
    write_midi,
)
from vmb.generate.builtin.arrangement import NoteEvent
from vmb.generate.builtin.mastering import loudness_db, master
from vmb.generate.builtin.render_numpy import render_numpy, voice_for


@pytest.fixture(scope="module")
def arrangement():
    from vmb.types import Bridges, MusicDescription

    d = MusicDescription(genre="jazz", tempo_bpm=110, key="D#", mode="major", energy=0.6,
                         instruments=("piano", "bass", "drums", "saxophone"))
    return BuiltinGenerator(renderer="numpy").compose(Bridges(description=d, text=""), 20.0, seed=2)


def test_write_midi_round_trip(arrangement, tmp_path):
    path = write_midi(arrangement, tmp_path / "song.mid")
    assert [p.name for p in tmp_path.iterdir()] == ["song.mid"]  # no temp file left behind
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    mid = mido.MidiFile(path)
    assert mid.type == 1 and len(mid.tracks) == len(arrangement.tracks) + 1
    meta = {m.type: m for m in mid.tracks[0] if m.is_meta}
    assert meta["key_signature"].key == "Eb"  # D# major is spelled with flats
    tempos = [mido.tempo2bpm(m.tempo) for m in mid.tracks[0] if m.type == "set_tempo"]
    assert tempos[0] == pytest.approx(110, abs=0.01) and tempos[-1] < 100  # the ritardando
    programs = {m.channel: m.program for t in mid.tracks for m in t if m.type == "program_change"}
    for track in arrangement.tracks:
        if track.is_drums:
            assert track.channel == 9 and 9 not in programs
        else:
            assert programs[track.channel] == track.program
    events, length = read_midi(path)
    expected = arrangement.events()
    assert len(events) == len(expected)
    assert length == pytest.approx(arrangement.duration_s, abs=0.05)
    for a, b in zip(sorted(events, key=lambda e: (e.channel, e.pitch, e.start_s)),
                    sorted(expected, key=lambda e: (e.channel, e.pitch, e.start_s))):
        assert (a.channel, a.pitch, a.velocity, a.program) == (b.channel, b.pitch, b.velocity, b.program)
        assert a.start_s == pytest.approx(b.start_s, abs=0.002)


def test_restruck_notes_do_not_hang(tmp_path):
    from vmb.generate.builtin.arrangement import Arrangement, Note, TempoMap, Track

    notes = [Note(0.0, 2.0, 60, 90), Note(1.0, 2.0, 60, 90)]  # same pitch struck again while sounding
    arr = Arrangement(120.0, "C", "major", 3.0, TempoMap(((0.0, 120.0),)), [Track("p", "comp", 0, 0, notes)])
    events, _ = read_midi(write_midi(arr, tmp_path / "x.mid"))
    assert [(e.start_s, round(e.duration_s, 3)) for e in events] == [(0.0, 0.5), (0.5, 1.0)]


def test_write_midi_into_a_missing_folder(arrangement, tmp_path):
    with pytest.raises(MediaError, match="folder does not exist"):
        write_midi(arrangement, tmp_path / "nope" / "x.mid")


def test_read_midi_rejects_non_midi(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"this is not a midi file")
    with pytest.raises(MediaError, match="bad.mid"):
        read_midi(bad)
    with pytest.raises(MediaError, match="not found"):
        render_midi(tmp_path / "missing.mid", renderer="numpy")


def test_render_any_midi_file(renderer, progression_midi):
    """A hand-written MIDI file (not an arrangement) renders to mastered stereo audio."""
    path = progression_midi(bpm=120.0, bars=4)
    audio, sr, note = render_midi(path, sample_rate=32000, renderer=renderer)
    assert sr == 32000 and audio.dtype == np.float32 and audio.shape[0] == 2
    assert 8.0 <= audio.shape[1] / sr <= 8.0 + 4.0  # 4 bars at 120 BPM plus the release tail
    assert np.abs(audio).max() <= 10 ** (-1 / 20) + 1e-6
    assert loudness_db(audio, sr) == pytest.approx(-16.0, abs=1.0)
    assert renderer in note.lower() or ("numpy" in note and renderer == "numpy")
    fixed, _, _ = render_midi(path, sample_rate=22050, renderer=renderer, length_s=3.0)
    assert fixed.shape == (2, 3 * 22050)


@pytest.mark.parametrize("program", [0, 11, 16, 25, 33, 40, 48, 52, 56, 65, 73, 80, 81, 89])
def test_numpy_voices_sound_at_the_right_pitch(program):
    sr = 32000
    pitch = 57 if program == 33 else 69  # A3 for the bass, A4 otherwise
    audio = render_numpy([NoteEvent(0.0, 1.0, pitch, 100, program, 0)], sr, length_s=1.0)
    x = audio[0, int(0.1 * sr):int(0.6 * sr)]
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    band = (freqs > 0.8 * f0) & (freqs < 1.2 * f0)
    assert spec[band].max() > 0.1 * spec.max(), voice_for(program)  # the fundamental is there
    assert abs(freqs[band][np.argmax(spec[band])] - f0) < 3.0


def test_numpy_drums_are_percussive():
    sr = 32000
    kick = render_numpy([NoteEvent(0.0, 0.1, 36, 100, 0, 9, reverb=0)], sr, length_s=1.0)[0]
    hat = render_numpy([NoteEvent(0.0, 0.1, 42, 100, 0, 9, reverb=0)], sr, length_s=1.0)[0]

    def centroid(x):
        power = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / sr)
        return (power * f).sum() / power.sum()

    assert centroid(kick) < 400
    assert centroid(hat) > 4000
    assert np.abs(kick[int(0.6 * sr):]).max() < 0.05 * np.abs(kick).max()  # it decays


def test_balancing_keeps_a_loud_program_from_drowning_the_others(renderer, tmp_path):
    """In FluidR3 a saw lead (81) is ~18 dB louder than a piano (0) at equal volume and
    velocity; balanced, they end up within a few dB."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for ch, program in ((0, 0), (1, 81)):
        track.append(mido.Message("program_change", channel=ch, program=program, time=0))
        track.append(mido.Message("control_change", channel=ch, control=91, value=0, time=0))
    track.append(mido.Message("note_on", channel=0, note=60, velocity=100, time=0))
    track.append(mido.Message("note_off", channel=0, note=60, velocity=0, time=480))
    track.append(mido.Message("note_on", channel=1, note=60, velocity=100, time=960))
    track.append(mido.Message("note_off", channel=1, note=60, velocity=0, time=480))
    path = tmp_path / "two.mid"
    mid.save(path)

    def gap(balance):
        audio, sr, _ = render_midi(path, renderer=renderer, balance=balance, length_s=3.0)
        piano = loudness_db(audio[:, : int(0.5 * sr)], sr)
        lead = loudness_db(audio[:, int(1.5 * sr): int(2.0 * sr)], sr)
        return abs(lead - piano)

    assert gap(True) < 4.0
    if renderer == "fluidsynth":
        assert gap(False) > 10.0


def test_mastering_is_exact_and_never_clips():
    sr = 32000
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, sr)) * 2.0).astype(np.float32)  # far too loud
    y = master(x, sr, num_samples=sr + 123, target_lufs=-10.0)
    assert y.shape == (2, sr + 123) and y.dtype == np.float32
    assert np.abs(y).max() <= 10 ** (-1 / 20) + 1e-6
    assert y[:, -1].tolist() == [0.0, 0.0]  # faded out
    mono = master(np.sin(np.linspace(0, 2000, sr)).astype(np.float32), sr, target_lufs=-20.0)
    assert mono.shape == (2, sr) and lufs(mono, sr) == pytest.approx(-20.0, abs=0.5)
    nan = np.full((2, 100), np.nan, np.float32)
    assert np.isfinite(master(nan, sr)).all()


def test_auto_falls_back_to_numpy_and_says_why(monkeypatch, caplog):
    monkeypatch.setenv("PATH", "/nonexistent")
    choice = choose_renderer("auto")
    assert choice.kind == "numpy" and "fluidsynth not found" in choice.note
    assert "fluidsynth not found" in caplog.text
    gen = BuiltinGenerator(renderer="auto")
    assert gen.name == "builtin-composer+numpy-synth"
    with pytest.raises(ModelUnavailable, match="fluidsynth"):
        choose_renderer("fluidsynth")


def test_no_soundfont_found(monkeypatch, require_fluidsynth):
    import vmb.generate.builtin.render_fluidsynth as rf

    monkeypatch.delenv("VMB_SOUNDFONT", raising=False)
    monkeypatch.setattr(rf, "SOUNDFONT_PLACES", ("/nonexistent/*.sf2",))
    choice = choose_renderer("auto")
    assert choice.kind == "numpy" and "no General MIDI soundfont found" in choice.note
    with pytest.raises(ModelUnavailable, match="soundfont"):
        choose_renderer("fluidsynth")


def test_soundfont_from_config_and_environment(monkeypatch, tmp_path, require_fluidsynth):
    real = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
    link = tmp_path / "My GM.sf2"
    os.symlink(real, link)
    monkeypatch.setenv("VMB_SOUNDFONT", str(link))
    gen = BuiltinGenerator(renderer="fluidsynth")
    assert gen.name == "builtin-composer+fluidsynth(My GM.sf2)"
    assert "$VMB_SOUNDFONT" in gen.renderer.note
    monkeypatch.setenv("VMB_SOUNDFONT", str(tmp_path / "missing.sf2"))
    with pytest.raises(ConfigError, match="missing.sf2"):
        BuiltinGenerator(renderer="auto")
    with pytest.raises(ConfigError, match="nothere.sf2"):
        BuiltinGenerator(renderer="auto", soundfont=tmp_path / "nothere.sf2")


def test_level_cache_survives_a_silent_program(require_fluidsynth):
    """A program silent at middle C is cached as null and read back as -inf (no gain change)."""
    from pathlib import Path

    from vmb.generate.builtin import levels

    font = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
    key = levels._font_key(font)
    levels._write_disk(key, {0: -30.0, 43: float("-inf")})
    levels._memory.pop(key, None)
    got = levels.fluidsynth_levels({0, 43}, font)
    assert got == {0: -30.0, 43: float("-inf")}
    assert levels.compensation_db(got[43]) == 0.0
    levels._memory.pop(key, None)  # later tests measure for real
    levels._write_disk(key, {})
