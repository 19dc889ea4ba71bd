"""`vmb generate` end to end with the built-in profile, through the CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from vmb.cli import app
from vmb.media import probe, read_audio

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def video_packets(path: Path) -> list[str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [hashlib.sha1(bytes(p)).hexdigest() for p in container.demux(stream) if p.size]


def test_video_gives_wav_mp4_and_json(video_file, builtin_index, tmp_path):
    out = tmp_path / "out"
    result = run("generate", "--video", video_file, "--profile", "builtin", "--index", builtin_index,
                 "--out", out, "--seed", 5, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    stem = "my clip"
    wav, mp4, js = out / f"{stem}.vmb.wav", out / f"{stem}.vmb.mp4", out / f"{stem}.vmb.json"
    assert wav.is_file() and mp4.is_file() and js.is_file()
    assert json.loads(js.read_text()) == report

    video_duration = probe(video_file).duration_s
    audio, sr = read_audio(wav)
    assert abs(audio.shape[-1] / sr - video_duration) <= 0.05
    assert audio.shape[0] == 2 and sr == 48000  # built-in default (issue 16)
    assert float(abs(audio).max()) > 0.05, "the music is silent"

    info = probe(mp4)
    kinds = [s["type"] for s in info.streams]
    assert kinds.count("video") == 1 and kinds.count("audio") == 1
    assert info.audio_codec == "aac"
    assert info.video_codec == probe(video_file).video_codec
    assert video_packets(mp4) == video_packets(video_file), "the video stream was re-encoded"

    assert report["profile"] == "builtin"
    assert report["seed"] == 5
    assert report["vmb_version"]
    bridges = report["bridges"]
    assert bridges["description"]["source"].startswith("visual")
    assert bridges["description"]["text"]
    assert bridges["text"].startswith(bridges["description"]["text"].rstrip("."))
    assert bridges["references"], "no reference retrieved"
    for hit in bridges["references"]:
        assert hit["track"] in ("broad", "targeted", "pinned")
        assert isinstance(hit["score"], float)
        assert Path(hit["clip"]["path"]).is_file()
    assert {"text_weight", "music_weight"} <= set(bridges)
    assert {"decode", "describe", "retrieve", "render", "mux"} <= set(report["timings"])
    assert report["models"]["generator"].startswith("builtin-composer")
    assert report["paths"] == {"wav": str(wav), "mp4": str(mp4), "json": str(js)}


def test_text_only_follows_the_words(builtin_index, tmp_path):
    result = run("generate", "--text", "a sad piano piece at 70 bpm in D minor", "--duration", 4,
                 "--profile", "builtin", "--index", builtin_index, "--out", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    desc = report["bridges"]["description"]
    assert (desc["key"], desc["mode"], desc["tempo_bpm"]) == ("D", "minor", 70)
    assert "sad" in desc["mood"] and "piano" in desc["instruments"]
    # named after the prompt
    audio, sr = read_audio(tmp_path / "a-sad-piano-piece-at-70-bpm-in-d-minor.vmb.wav")
    assert abs(audio.shape[-1] / sr - 4.0) < 1e-3
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".mp4"] == []


def test_reference_only_pins_the_file(reference_file, builtin_index, tmp_path):
    result = run("generate", "--reference", reference_file, "--duration", 3, "--profile", "builtin",
                 "--index", builtin_index, "--out", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    refs = json.loads(result.stdout)["bridges"]["references"]
    assert refs[0]["track"] == "pinned"
    assert refs[0]["clip"]["path"] == str(reference_file.resolve())
    assert (tmp_path / "my reference.vmb.wav").is_file()


def test_images_only(image_files, builtin_index, tmp_path):
    args = ["generate", "--duration", 3, "--profile", "builtin", "--index", builtin_index, "--out", tmp_path, "--json"]
    for image in image_files:
        args += ["--image", image]
    result = run(*args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["bridges"]["description"]["text"]
    assert (tmp_path / "sunny.vmb.wav").is_file()


def test_everything_together_with_wants_and_midi(video_file, reference_file, builtin_index, tmp_path):
    result = run("generate", "--video", video_file, "--text", "uplifting", "--reference", reference_file,
                 "--want", "genre=jazz", "--want", "tempo=fast", "--profile", "builtin", "--index", builtin_index,
                 "--out", tmp_path, "--midi", "--seed", 2, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    bridges = report["bridges"]
    assert bridges["wants"] == {"genre": "jazz", "tempo": "fast"}
    # the wants are in the description ("a ... jazz track at 120 BPM (fast tempo)"), said once
    assert "jazz track" in bridges["text"] and "(fast tempo)" in bridges["text"]
    assert "in the style of jazz" not in bridges["text"] and "fast-paced" not in bridges["text"]
    tracks = [h["track"] for h in bridges["references"]]
    assert tracks[0] == "pinned"
    targeted = [h for h in bridges["references"] if h["track"] == "targeted"]
    assert all(h["clip"]["attributes"]["genre"] == "jazz" for h in targeted)
    assert targeted or any("targeted track" in n for n in report["notes"])
    assert Path(report["paths"]["midi"]).is_file()


def test_human_summary(video_file, builtin_index, tmp_path):
    result = run("generate", "--video", video_file, "--profile", "builtin", "--index", builtin_index, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "text bridge:" in result.stdout
    assert "my clip.vmb.mp4" in result.stdout


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--want", "colour=red", "--text", "x"], 2, "unknown key 'colour'"),
        (["--want", "genre=polka", "--text", "x"], 2, "'polka' is not a known genre"),
        (["--duration", "-3", "--text", "x"], 2, "must be greater than 0"),
        (["--duration", "100000", "--text", "x"], 2, "longer than the maximum"),
        ([], 2, "give at least one of"),
        (["--video", "missing.mp4"], 1, "missing.mp4: file not found"),
        (["--text", "x", "--set", "generator.tempreature=2"], 1, "generator.tempreature"),
        (["--text", "x", "--profile", "fancy"], 1, "unknown profile 'fancy'"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(args, code, message, builtin_index, tmp_path):
    out = tmp_path / "out"
    profile = [] if "--profile" in args else ["--profile", "builtin"]
    result = runner.invoke(app, ["generate", *args, *profile, "--index", str(builtin_index), "--out", str(out)])
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_output_folder_that_cannot_be_made(builtin_index, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["generate", "--text", "calm", "--profile", "builtin", "--index", str(builtin_index),
                                 "--out", str(blocker / "sub")])
    assert result.exit_code == 1
    assert "cannot create the output folder" in result.stderr


def test_keep_audio_mixes_the_original_track(video_with_audio, builtin_index, tmp_path):
    result = run("generate", "--video", video_with_audio, "--keep-audio", "--profile", "builtin",
                 "--index", builtin_index, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    info = probe(tmp_path / "talk.vmb.mp4")
    assert info.audio_codec == "aac" and abs(info.duration_s - probe(video_with_audio).duration_s) < 0.1
    # the original 300 Hz track is audible in the mix: its band holds far more energy than in a
    # mix made without --keep-audio (the music alone)
    plain = tmp_path / "plain"
    assert run("generate", "--video", video_with_audio, "--profile", "builtin", "--index", builtin_index,
               "--out", plain).exit_code == 0  # fmt: skip
    with_original = _band_share(tmp_path / "talk.vmb.mp4", 300.0)
    music_only = _band_share(plain / "talk.vmb.mp4", 300.0)
    assert with_original > 3 * music_only and with_original > 0.05, (with_original, music_only)


def _band_share(mp4, hz: float, width: float = 15.0) -> float:
    """Share of the audio's spectral energy within ``hz`` ± ``width``."""
    from vmb.media import read_audio

    audio, sr = read_audio(mp4, mono=True)
    spectrum = np.abs(np.fft.rfft(audio[0])) ** 2
    freqs = np.fft.rfftfreq(audio.shape[-1], 1 / sr)
    return float(spectrum[np.abs(freqs - hz) < width].sum() / spectrum.sum())


def test_targeted_track_finds_the_wanted_partition(builtin_index, tmp_path):
    """genre=jazz exists in the index: the targeted track must return a jazz clip (not an empty
    partition note)."""
    result = run("generate", "--text", "an evening tune", "--want", "genre=jazz", "--profile", "builtin",
                 "--index", builtin_index, "--out", tmp_path, "--duration", 2, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    refs = json.loads(result.stdout)["bridges"]["references"]
    targeted = [h for h in refs if h["track"] == "targeted"]
    assert len(targeted) >= 1 and all(h["clip"]["attributes"]["genre"] == "jazz" for h in targeted), refs
