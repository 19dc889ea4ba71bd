"""User cues: the parser, the library call, and the real command line (good and bad input)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from vmb.cli import app
from vmb.describe import CueError, describe, load_cue_file, parse_cue, parse_cues
from vmb.errors import UsageError

runner = CliRunner()


def test_parse_cue_forms():
    cue = parse_cue("0-8=calm")
    assert (cue.start_s, cue.end_s, cue.mood) == (0.0, 8.0, ("calm",))
    cue = parse_cue("1:20-1:35.5=energetic, fast, jazz, piano, loud")
    assert (cue.start_s, cue.end_s) == (80.0, 95.5)
    assert (cue.mood, cue.tempo_class, cue.genre, cue.instruments, cue.energy) == (
        ("energetic",),
        "fast",
        "jazz",
        ("piano",),
        0.85,
    )
    cue = parse_cue("8\u201316=mood:sad;energy:0.3;tempo:slow")
    assert (cue.end_s, cue.mood, cue.energy, cue.tempo_class) == (16.0, ("sad",), 0.3, "slow")
    marker = parse_cue("12.5")
    assert marker.is_marker and marker.start_s == 12.5
    for bad, error in [
        ("abc=calm", UsageError),
        ("0-8=calmish", CueError),
        ("8-4=calm", CueError),
        ("0-8=key:D", CueError),
        ("3=calm", UsageError),
        ("0-8=energy:7", CueError),
    ]:
        with pytest.raises(error) as info:
            parse_cue(bad)
        assert bad in str(info.value) and "\n" not in str(info.value)


def test_cue_files_csv_json_and_markers(tmp_path):
    csv_file = tmp_path / "cues.csv"
    csv_file.write_text(
        "start,end,mood,energy,instrument\n0,8,calm,low,piano\n8,16,energetic,high,\n"
    )
    cues = load_cue_file(csv_file)
    assert [(c.start_s, c.end_s, c.mood, c.energy) for c in cues] == [
        (0.0, 8.0, ("calm",), 0.2),
        (8.0, 16.0, ("energetic",), 0.85),
    ]
    assert cues[0].instruments == ("piano",)
    json_file = tmp_path / "cues.json"
    json_file.write_text(
        json.dumps(
            {"cues": [{"start": "0:02", "end": 6, "mood": ["dark", "tense"]}], "markers": [7.25]}
        )
    )
    cues = load_cue_file(json_file)
    assert [(c.start_s, c.end_s, c.mood) for c in cues] == [
        (2.0, 6.0, ("dark", "tense")),
        (7.25, None, ()),
    ]
    markers = tmp_path / "markers.json"
    markers.write_text("[1.5, 3, 4.75]")
    assert [c.start_s for c in load_cue_file(markers) if c.is_marker] == [1.5, 3.0, 4.75]
    plain = tmp_path / "markers.csv"
    plain.write_text("1.5\n3\n")
    assert [c.start_s for c in load_cue_file(plain)] == [1.5, 3.0]
    with pytest.raises(CueError, match="overlaps"):
        parse_cues(["0-8=calm", "6-10=sad"])


@pytest.mark.parametrize(
    "content, message",
    [
        ('[{"start": 0, "end":', "not valid JSON"),
        ("start,end,colour\n0,8,red\n", "unknown column 'colour'"),
        ("start,end,mood\n0,8,calmish\n", "row 2: 'calmish' is not a mood"),
        ('{"sections": []}', "expected a list"),
        ('[{"start": 0}]', "cue 1: needs start and end"),
        ("", "empty"),
    ],
)
def test_malformed_cue_files_name_the_file(tmp_path, content, message):
    path = tmp_path / ("bad.json" if content.startswith(("[", "{")) else "bad.csv")
    path.write_text(content)
    with pytest.raises(CueError) as info:
        load_cue_file(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_explicit_words_win_over_the_pixels(samples):
    pixels = describe(video=samples["still_action"])
    assert "calm" in pixels.sections[0].mood
    d = describe(video=samples["still_action"], cues=["0-8=energetic,high", "8-16=calm,quiet,slow"])
    first, second = d.sections
    assert (first.start_s, first.end_s) == (0.0, 8.0)
    assert first.mood[0] == "energetic" and "calm" not in first.mood and first.energy == 0.85
    assert second.mood[0] == "calm" and second.energy == 0.2 and second.tempo_class == "slow"
    assert first.source == "video+cue"
    assert d.energy_curve[2] == 0.85 and d.energy_curve[12] == 0.2
    # A cue over part of a scene adds a section; the rest keeps what the pixels say.
    part = describe(video=samples["still_action"], cues=["2-5=tense"])
    assert [(s.start_s, s.end_s) for s in part.sections] == [(0, 2), (2, 5), (5, 8), (8, 16.0)]
    assert part.sections[1].mood[0] == "tense" and part.sections[2].mood == pixels.sections[0].mood
    # Text alone with cues: the cues make the timeline.
    text = describe(text="a piano piece", cues=["0-10=calm", "10-20=energetic"])
    assert [(s.start_s, s.end_s, s.mood) for s in text.sections] == [
        (0, 10, ("calm",)),
        (10, 20, ("energetic",)),
    ]
    assert "0\u201310 s: a calm" in text.text


def test_cli_describe_with_cues_and_files(samples, tmp_path):
    result = runner.invoke(app, ["describe", "--video", str(samples["still_action"]), "--cue",
                                 "0-8=calm", "--cue", "8-16=energetic", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(s["start_s"], s["end_s"], s["mood"][0]) for s in data["sections"]] == [
        (0.0, 8.0, "calm"),
        (8.0, 16.0, "energetic"),
    ]
    assert data["sync"] == "cuts" and len(data["cuts"]) >= 8 and len(data["energy_curve"]) == 16
    cues = tmp_path / "cues.csv"
    cues.write_text("start,end,mood\n0,4,dreamy\n")
    result = runner.invoke(app, ["describe", "--video", str(samples["still_action"]), "--cues",
                                 str(cues), "--sync", "scenes"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "0\u20134 s: a dreamy" in result.stdout and "cuts to hit" not in result.stdout
    assert any(line.strip().startswith("0.00-") for line in result.stdout.splitlines())


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--cue", "0-40=calm"], 1, "--cue 0-40=calm: outside the video"),
        (["--cue", "0-8=calm", "--cue", "6-10=sad"], 1, "--cue 6-10=sad overlaps --cue 0-8=calm"),
        (["--cue", "0-8=calmish"], 1, "--cue 0-8=calmish: unknown attribute 'calmish'"),
        (["--cue", "zero-8=calm"], 2, "--cue zero-8=calm: 'zero' is not a time"),
        (["--sync", "fast"], 2, "fast"),
    ],
)
def test_cli_bad_cues_one_line_and_exit_code(samples, args, code, message):
    result = runner.invoke(app, ["describe", "--video", str(samples["still_action"]), *args])
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_generate_with_a_bad_cue_writes_nothing(samples, tmp_path):
    """Through the installed command: exit 1, one line naming the cue, no output folder."""
    out = tmp_path / "out"
    bad = tmp_path / "bad.json"
    bad.write_text("[{]")
    for args, needle in [
        (["--cue", "10-30=calm"], "--cue 10-30=calm"),
        (["--cues", str(bad)], str(bad)),
    ]:
        proc = subprocess.run(
            [sys.executable, "-m", "vmb.cli", "generate", "--video", str(samples["still_action"]),
             "--profile", "builtin", "--out", str(out), *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.count("\n") == 1 and needle in proc.stderr
        assert not out.exists()


def test_a_cue_word_wins_over_the_text_for_its_span():
    """--text "calm piano" with --cue 8-16=energetic: the cue's span is energetic, not calm."""
    from vmb.describe import describe

    d = describe(text="calm piano", cues=["0-8=calm", "8-16=energetic"])
    assert [s.mood for s in d.sections] == [("calm",), ("energetic",)]
