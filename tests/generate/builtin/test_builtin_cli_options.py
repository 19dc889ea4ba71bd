"""The built-in generator's options through ``vmb generate``: --stems, --loop, --loudness,
--soundfont (issue 16)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from generate.builtin.listening import lufs
from typer.testing import CliRunner

from vmb.cli import app
from vmb.testing import make_tone

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    """Two tagged chord recordings indexed with the built-in encoders."""
    from vmb.retrieve import build_index

    folder = tmp_path_factory.mktemp("library")
    rows = []
    for name, freqs, mood, bpm in (("calm.wav", (261.63, 329.63, 392.0), ["calm"], 70),
                                   ("fun.wav", (220.0, 277.18, 329.63), ["fun"], 128)):
        make_tone(folder / name, freqs, seconds=12.0, sr=32000)
        rows.append({"path": name, "caption": f"a {mood[0]} piece", "genre": "pop", "mood": mood,
                     "instruments": ["piano"], "tempo_bpm": bpm})
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path_factory.mktemp("indexes") / "small"
    build_index(folder / "manifest.jsonl", out, encoder="builtin", progress=False)
    return out


def test_stems_loop_and_loudness(small_index, tmp_path):
    result = run("generate", "--text", "a funky groove at 120 bpm", "--duration", 4, "--profile", "builtin",
                 "--index", small_index, "--out", tmp_path, "--stems", "--loop", "--loudness", -18,
                 "--set", "generator.renderer=numpy", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    stems = {k: v for k, v in report["paths"].items() if k.startswith("stem:")}
    assert {"stem:drums", "stem:bass", "stem:harmony", "stem:lead"} <= set(stems)
    mix, sr = sf.read(report["paths"]["wav"], always_2d=True)
    assert sr == 48000 and mix.shape[0] == 4 * 48000
    total = sum(sf.read(p, always_2d=True)[0] for p in stems.values())
    assert 20 * np.log10(np.sqrt(np.mean((total - mix) ** 2)) / np.sqrt(np.mean(mix ** 2))) < -60
    assert lufs(mix.T, sr) == pytest.approx(-18.0, abs=1.0)
    assert any("(loop)" in n for n in report["notes"])
    assert any("120.0 BPM from the description" in n for n in report["notes"])


def test_a_bad_soundfont_is_one_line_and_nothing_is_written(small_index, tmp_path):
    bad = tmp_path / "fake.sf2"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    out = tmp_path / "out"
    result = runner.invoke(app, ["generate", "--text", "a pop song", "--duration", "2", "--profile", "builtin",
                                 "--index", str(small_index), "--out", str(out), "--soundfont", str(bad)])
    assert result.exit_code == 1
    assert "fake.sf2" in result.output and "not a SoundFont" in result.output
    assert not any(out.glob("*.vmb.*"))
