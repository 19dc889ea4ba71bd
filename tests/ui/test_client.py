"""gradio_client against the app on 127.0.0.1: a Python call does what the page does (the
README's example), and the page's music is the CLI's music, bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner
from ui.browser import require_ui_extra

from vmb.cli import app as cli

require_ui_extra()

NONE = "(none)"
FIELDS = ("genre", "mood", "instruments", "tempo_bpm", "key", "mode", "energy", "text")


def describe(client, clip: Path, index: Path, cues: str = "", sync: str = "cuts"):
    """The README's example, step 2: Describe; the shown fields and references."""
    from gradio_client import handle_file

    out = client.predict(
        "builtin", str(index),  # profile, index
        handle_file(str(clip)), None, "", None,  # video, images, text, references
        0, 3.0, 1.0,  # duration (0: the video's length), text and music bridge weights
        NONE, NONE, NONE, NONE, NONE, NONE,  # wants: genre, tempo, mood, instrument, key, mode
        cues, sync,  # the cue box (one cue a line, as --cue) and the sync
        api_name="/describe",
    )  # fmt: skip
    status, fields, keep = out[0], {n: out[1 + i]["value"] for i, n in enumerate(FIELDS)}, out[10]["value"]
    return status, fields, keep, json.loads(out[-3]), out[-2]  # ..., the bridges, the sections table


def generate(client, index: Path, fields: dict, keep: list, seed: int, cues: str = "", sync: str = "cuts"):
    """Step 3: Generate with the (edited) fields; the status, wav and result JSON."""
    out = client.predict(
        "builtin", str(index), seed, keep, [], 3.0, 1.0, *(fields[n] for n in FIELDS), cues, sync,
        api_name="/generate",
    )
    assert len(out) == 8  # status, video, wav, waveform, files, report, history, earlier (the README's)
    status, video, audio, _waveform, files, report, _history, _earlier = out
    return status, video, audio, files, json.loads(report)


def test_client_generates_the_cli_music_bit_for_bit(app_url, ui_index, clip, tmp_path):
    from gradio_client import Client

    client = Client(app_url, verbose=False, download_files=str(tmp_path / "downloads"))
    status, fields, keep, bridges, _ = describe(client, clip, ui_index)
    assert status.startswith("✅ described")
    assert bridges["duration_s"] == 2.0 and keep, bridges
    assert fields["tempo_bpm"] == round(bridges["bridges"]["description"]["tempo_bpm"], 1)
    status, video, audio, files, report = generate(client, ui_index, fields, keep, seed=1)
    assert status.startswith("✅ made 2.00 s"), status
    assert Path(audio).name == "clip.vmb.wav" and Path(video).suffix == ".mp4"
    assert {Path(f).name for f in files} == {"clip.vmb.mp4", "clip.vmb.wav", "clip.vmb.mid", "clip.vmb.json"}

    out = tmp_path / "cli"
    run = CliRunner().invoke(cli, ["generate", "--video", str(clip), "--profile", "builtin", "--index",
                                   str(ui_index), "--seed", "1", "--out", str(out), "--json"])  # fmt: skip
    assert run.exit_code == 0, run.output
    page, sr_page = sf.read(audio, dtype="int16", always_2d=True)
    cli_audio, sr_cli = sf.read(out / "clip.vmb.wav", dtype="int16", always_2d=True)
    assert sr_page == sr_cli and page.shape == cli_audio.shape and page.shape[0] == 2 * sr_page
    assert np.array_equal(page, cli_audio)
    assert Path(audio).read_bytes() == (out / "clip.vmb.wav").read_bytes()
    cli_report = json.loads((out / "clip.vmb.json").read_text())
    assert report["bridges"] == cli_report["bridges"] and report["seed"] == cli_report["seed"] == 1


def test_client_edits_reach_the_generator(app_url, ui_index, clip, tmp_path):
    from gradio_client import Client

    client = Client(app_url, verbose=False, download_files=str(tmp_path / "downloads"))
    _, fields, _, _, _ = describe(client, clip, ui_index)
    edited = {**fields, "tempo_bpm": 150.0, "mood": ["calm"]}
    _, _, audio, _, report = generate(client, ui_index, edited, [], seed=3)
    description = report["bridges"]["description"]
    assert description["tempo_bpm"] == 150.0 and description["tempo_class"] == "fast"
    assert description["mood"] == ["calm"] and "150 BPM" in description["text"]
    assert report["bridges"]["references"] == []  # every reference dropped
    assert "edited in the page: tempo_bpm = 150.0" in report["notes"]
    assert sf.info(audio).duration == 2.0


def test_generate_before_describe_is_a_message(app_url, ui_index, tmp_path):
    from gradio_client import Client

    client = Client(app_url, verbose=False, download_files=str(tmp_path / "downloads"))
    from gradio_client.exceptions import AppError

    fields = {"genre": NONE, "mood": [], "instruments": [], "tempo_bpm": 100, "key": NONE, "mode": NONE,
              "energy": 0.5, "text": ""}  # fmt: skip
    with pytest.raises(AppError, match="press Describe first"):
        generate(client, ui_index, fields, [], seed=0)


def test_client_cues_and_sync_are_the_cli_cues_bit_for_bit(app_url, ui_index, clip, tmp_path):
    """A cue typed in the page is the section the generator gets: the same wav, bit for bit, as
    ``vmb generate --cue ... --sync scenes``."""
    from gradio_client import Client

    client = Client(app_url, verbose=False, download_files=str(tmp_path / "downloads"))
    cue = "0.5-1.5=sad, energy:0.2"
    _, fields, keep, bridges, table = describe(client, clip, ui_index, cues=f"# my cue\n{cue}\n", sync="scenes")
    sections = bridges["bridges"]["description"]["sections"]
    assert [(s["start_s"], s["end_s"]) for s in sections] == [(0.0, 0.5), (0.5, 1.5), (1.5, 2.0)], sections
    assert "sad" in sections[1]["mood"] and sections[1]["energy"] == 0.2 and "cue" in sections[1]["source"]
    assert [row[1:4] + row[7:8] for row in table["data"]] == [
        [s["start_s"], s["end_s"], round(s["energy"], 2), s["source"]] for s in sections
    ], table  # the table the page shows
    _, _, audio, _, report = generate(client, ui_index, fields, keep, seed=2, cues=cue, sync="scenes")
    assert report["bridges"]["description"]["sections"] == sections
    assert report["bridges"]["description"]["sync"] == "scenes"

    out = tmp_path / "cli"
    run = CliRunner().invoke(cli, ["generate", "--video", str(clip), "--profile", "builtin", "--index", str(ui_index),
                                   "--seed", "2", "--cue", cue, "--sync", "scenes", "--out", str(out)])  # fmt: skip
    assert run.exit_code == 0, run.output
    assert Path(audio).read_bytes() == (out / "clip.vmb.wav").read_bytes()


@pytest.mark.parametrize(
    "cues, message",
    [
        ("0-1=calm\n1-2=flibbertigibbet", "cue line 2: 1-2=flibbertigibbet: unknown attribute 'flibbertigibbet'"),
        ("0-1.5=calm\n1-2=sad", "overlaps cue line 1 (0-1.5=calm)"),
        ("1-9=calm", "cue line 1 (1-9=calm): outside the video (0 to 2.00 s)"),
        ("2-1=calm", "cue line 1: 2-1=calm: ends at 1 s, not after its start 2 s"),
    ],
)
def test_client_bad_cue_is_a_message(app_url, ui_index, clip, tmp_path, cues, message):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False, download_files=str(tmp_path / "downloads"))
    with pytest.raises(AppError) as caught:
        describe(client, clip, ui_index, cues=cues)
    assert message in str(caught.value) and "Traceback" not in str(caught.value)


def test_client_generate_with_cues_not_applied_is_a_message(app_url, ui_index, clip, tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False, download_files=str(tmp_path / "downloads"))
    _, fields, keep, _, _ = describe(client, clip, ui_index)
    with pytest.raises(AppError, match="press 'Apply cues and sync' first"):
        generate(client, ui_index, fields, keep, seed=0, cues="0-1=calm")
    with pytest.raises(AppError, match="press 'Apply cues and sync' first"):
        generate(client, ui_index, fields, keep, seed=0, sync="off")
