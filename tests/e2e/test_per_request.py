"""Components resolved per request, and output names that say what they are (issue 14).

The neural profile runs on a tiny MusicGen saved locally, with ``HF_HUB_OFFLINE=1`` and no
describer weights anywhere: text-only input must not need the vision-language model, and pinned
references must be the music bridge when there is no index.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vmb.cli import app
from vmb.errors import IndexFileError, ModelUnavailable
from vmb.pipeline import Pipeline
from vmb.testing import make_tone

runner = CliRunner()
DESCRIBER = "OpenGVLab/InternVL3-1B-hf"  # the default profile's describer; not downloadable here


@pytest.fixture(scope="module")
def tiny_musicgen(tmp_path_factory) -> Path:
    from tiny.musicgen import _quiet_transformers, build_tiny_musicgen

    _quiet_transformers()
    return build_tiny_musicgen(tmp_path_factory.mktemp("per-request") / "musicgen")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No hub, an empty Hugging Face cache, and a working folder without ``index/clap``."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def click_wav(tmp_path_factory) -> Path:
    return make_tone(tmp_path_factory.mktemp("click") / "click_120bpm.wav", (440.0,), seconds=4.0, sr=32000)


def test_text_and_reference_on_the_neural_profile_need_no_describer_and_no_index(
    tiny_musicgen, click_wav, offline
):
    pipe = Pipeline.load(profile="default", overrides=[f"generator.model={tiny_musicgen}"])
    assert pipe.describer is None  # nothing visual asked for yet
    result = pipe(text="calm piano", references=[click_wav], duration_s=0.5, seed=3)
    assert pipe.describer is None
    assert result.audio.shape == (result.audio.shape[0], round(0.5 * result.sample_rate))
    assert np.isfinite(result.audio).all() and np.abs(result.audio).max() > 0
    bridges = result.bridges
    assert [h.track for h in bridges.references] == ["pinned"]
    assert bridges.references[0].clip.path == str(click_wav.resolve())
    assert "piano" in bridges.description.instruments
    assert "calm" in bridges.text
    assert any("no index at" in n and "pinned reference(s) only" in n for n in result.notes), result.notes
    # The describer loads for visual input only, and then says what is missing.
    image = offline / "frame.png"
    from vmb.testing import make_image

    make_image(image)
    with pytest.raises(ModelUnavailable, match=DESCRIBER):
        pipe(images=[image], references=[click_wav], duration_s=0.5)


def test_missing_index_with_nothing_pinned_is_one_line_naming_the_fixes(tiny_musicgen, offline):
    pipe = Pipeline.load(profile="default", overrides=[f"generator.model={tiny_musicgen}"])
    with pytest.raises(IndexFileError) as info:
        pipe(text="calm piano", duration_s=0.5)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("index/clap: index not found")
    assert "vmb index build" in message and "--index demo" in message


def test_cli_text_and_reference_default_profile(tiny_musicgen, click_wav, offline):
    """The command of the issue: it used to fail on the missing InternVL, then on index/clap,
    and named the music after the click track."""
    result = runner.invoke(
        app,
        ["generate", "--text", "calm piano", "--reference", str(click_wav), "--profile", "default",
         "--set", f"generator.model={tiny_musicgen}", "--duration", "0.5", "--seed", "1", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert Path(report["paths"]["wav"]) == offline / "calm-piano.vmb.wav"
    assert not list(click_wav.parent.glob("*.vmb.*")) and not list(offline.glob("click_120bpm*"))
    assert report["models"]["describer"] == "text parser (no visual input)"
    assert any("pinned reference(s) only" in n for n in report["notes"])


def test_cli_missing_index_error(offline):
    result = runner.invoke(app, ["generate", "--text", "calm piano", "--profile", "builtin", "--index", "nowhere"])
    assert result.exit_code == 1
    line = result.output.strip()
    assert line.startswith("error: nowhere: index not found") and "vmb index build" in line and "\n" not in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("calm piano", "calm-piano"),
        ("  Ünïcödé Jazz — saxophone, 120 BPM!  ", "unicode-jazz-saxophone-120-bpm"),
        ("../../etc/passwd", "etc-passwd"),
        ("a " + "very " * 30 + "long prompt", "a-very-very-very-very-very-very-very-very-very"),
        ("x" * 100, "x" * 48),
        ("日本語", "vmb-music"),
    ],
)
def test_prompt_names(text, expected):
    from vmb.outputs import MAX_STEM_CHARS, output_stem

    stem = output_stem(None, (), ("click_120bpm.wav",), text)
    assert stem == expected
    assert len(stem) <= MAX_STEM_CHARS and set(stem) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


def test_names_follow_the_subject_not_the_reference():
    from vmb.outputs import output_dir_for, output_stem

    assert output_stem("clips/my clip.mp4", ("a.png",), ("ref.wav",), "calm") == "my clip"
    assert output_stem(None, ("shots/sunny.png", "b.png"), ("ref.wav",), "calm") == "sunny"
    assert output_stem(None, (), ("refs/ref.wav",), None) == "ref"
    assert output_stem(None, (), (), None) == "vmb-music"
    assert output_dir_for(None, (), ("/tmp/refs/ref.wav",), "calm piano") == Path.cwd()
    assert output_dir_for(None, (), ("/tmp/refs/ref.wav",), None) == Path("/tmp/refs").resolve()
