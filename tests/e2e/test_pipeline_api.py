"""The Python API (`vmb.Pipeline`), profile choice, the demo library, and the neural profile on
tiny random models built in the tests and passed as local paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vmb import Pipeline, UsageError
from vmb.cli import app
from vmb.config import load_config
from vmb.pipeline import missing_models, model_available

runner = CliRunner()


@pytest.fixture(scope="module")
def builtin_pipe(builtin_index) -> Pipeline:
    return Pipeline.from_config(load_config(profile="builtin"), index=builtin_index)


def test_call_returns_a_result_with_every_stage_timed(builtin_pipe, video_file):
    result = builtin_pipe(video=video_file, wants={"mood": "calm"}, seed=3)
    assert result.audio.dtype == np.float32 and result.audio.shape[0] == 2
    assert abs(result.duration_s - 3.0) < 0.05
    assert result.seed == 3
    assert {"decode", "describe", "retrieve"} <= set(result.timings)
    assert result.bridges.wants.mood == "calm"
    assert "calm" in result.bridges.description.mood and " calm" in result.bridges.text
    assert result.generator.startswith("builtin-composer")


def test_same_seed_same_music_other_seed_other_music(builtin_pipe):
    a = builtin_pipe(text="a happy folk tune", duration_s=4, seed=1)
    b = builtin_pipe(text="a happy folk tune", duration_s=4, seed=1)
    c = builtin_pipe(text="a happy folk tune", duration_s=4, seed=2)
    assert np.array_equal(a.audio, b.audio)
    assert not np.array_equal(a.audio, c.audio)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "nothing to make music for"),
        ({"text": "x", "duration_s": 0}, r"duration_s=0: must be greater than 0"),
        ({"text": "x", "duration_s": float("nan")}, r"duration_s=nan"),
        ({"text": "x", "seed": -1}, r"seed=-1"),
        ({"text": "x", "music_weight": 99}, r"music_weight=99"),
        ({"text": "x", "images": "one.png"}, r"images='one.png': expected a list"),
        ({"text": "x", "wants": {"tempo": "ludicrous"}}, r"'ludicrous' is not a known tempo"),
    ],
)
def test_check_inputs_names_the_offending_value(builtin_pipe, kwargs, match):
    with pytest.raises(UsageError, match=match):
        builtin_pipe(**kwargs)


def test_save_writes_next_to_the_input(builtin_pipe, video_file, tmp_path):
    result = builtin_pipe(video=video_file, seed=0)
    saved = builtin_pipe.save(result, out_dir=tmp_path, stem="clip", video=video_file)
    assert set(saved.paths) == {"wav", "mp4", "json"}
    report = json.loads(Path(saved.paths["json"]).read_text())
    assert report["profile"] == "builtin" and report["models"]["describer"] == "builtin-visual"


def _fake_cache(root: Path, repo: str) -> None:
    snapshot = root / f"models--{repo.replace('/', '--')}" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (root / f"models--{repo.replace('/', '--')}" / "refs").mkdir()
    (root / f"models--{repo.replace('/', '--')}" / "refs" / "main").write_text("abc123")


def test_model_availability_reads_local_folders_and_the_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    assert not model_available("facebook/musicgen-melody")
    _fake_cache(cache, "facebook/musicgen-melody")
    assert model_available("facebook/musicgen-melody")
    folder = tmp_path / "local-model"
    folder.mkdir()
    assert not model_available(str(folder))
    (folder / "config.json").write_text("{}")
    assert model_available(str(folder))
    cfg = load_config(profile="default")
    assert missing_models(cfg) == [cfg.describer.model, cfg.encoder.model]


def test_no_profile_without_local_models_runs_builtin_and_says_why(builtin_index, monkeypatch):
    monkeypatch.setattr("vmb.pipeline.model_available", lambda model: False)
    pipe = Pipeline.from_profile(None, index=builtin_index)
    assert pipe.config.profile == "builtin"
    assert "running the built-in profile" in pipe.notes[0]
    assert "OpenGVLab/InternVL3-1B-hf" in pipe.notes[0]


def test_default_profile_with_missing_weights_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    result = runner.invoke(app, ["generate", "--text", "calm", "--profile", "default", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "model weights not found" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_demo_index_is_built_from_the_music21_corpus(tmp_path):
    library = tmp_path / "library.yaml"
    library.write_text(
        "seconds: 12\n"
        "entries:\n"
        "  - {work: bach/bwv66.6, programs: [52], instruments: [choir], bpm: 72, genre: classical, mood: [calm]}\n"
        "  - {work: ryansMammoth/7thRegimentReel.abc, programs: [110], instruments: [strings], bpm: 176, genre: folk, mood: [energetic]}\n"
    )
    from vmb.retrieve import MusicIndex
    from vmb.library import ensure_demo_index

    out = tmp_path / "index" / "demo"
    notes = ensure_demo_index(out, library=library, renderer="numpy")
    index = MusicIndex.load(out)
    assert len(index) >= 2
    captions = [c.caption for c in index.clips()]
    assert any("Chorale BWV 66.6 by J.S. Bach" in c for c in captions)
    assert any("7th Regiment" in c for c in captions)
    assert {c.attributes.genre for c in index.clips()} == {"classical", "folk"}
    assert any("numpy" in n for n in notes)
    again = ensure_demo_index(out, library=library)
    assert again == [f"demo index already at {out}"]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory, music_folder):
    from tiny.clap import save_tiny_clap
    from tiny.musicgen import build_tiny_musicgen
    from tiny.vlm import save_tiny_vlm

    from vmb.retrieve import build_index

    root = tmp_path_factory.mktemp("tiny-models")
    clap = save_tiny_clap(root / "clap")
    index = root / "clap-index"
    build_index(music_folder / "manifest.jsonl", index, encoder="clap", model=str(clap), progress=False)
    return {
        "vlm": save_tiny_vlm(root / "vlm"),
        "clap": clap,
        "musicgen": build_tiny_musicgen(root / "melody", melody=True),
        "index": index,
    }


def test_default_profile_on_tiny_models(tiny_models, video_file, reference_file, tmp_path):
    result = runner.invoke(
        app,
        [
            "generate", "--video", str(video_file), "--reference", str(reference_file), "--want", "genre=jazz",
            "--profile", "default", "--index", str(tiny_models["index"]), "--duration", "1.5", "--seed", "4",
            "--set", f"describer.model={tiny_models['vlm']}",
            "--set", f"encoder.model={tiny_models['clap']}",
            "--set", f"generator.model={tiny_models['musicgen']}",
            "--set", "describer.num_frames=2", "--set", "describer.max_new_tokens=8",
            "--out", str(tmp_path), "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["profile"] == "default"
    assert report["models"]["describer"] == str(tiny_models["vlm"])
    assert report["models"]["encoder"].startswith("clap:")
    assert report["models"]["generator"] == str(tiny_models["musicgen"])
    tracks = [h["track"] for h in report["bridges"]["references"]]
    assert tracks[0] == "pinned" and "broad" in tracks
    from vmb.media import probe, read_audio

    audio, sr = read_audio(tmp_path / "my clip.vmb.wav")
    assert abs(audio.shape[-1] / sr - 1.5) < 1e-3
    assert probe(tmp_path / "my clip.vmb.mp4").audio_codec == "aac"


def test_cpu_neural_output_is_deterministic(tiny_models):
    cfg = load_config(
        profile="default",
        overrides=[
            f"describer.model={tiny_models['vlm']}",
            f"encoder.model={tiny_models['clap']}",
            f"generator.model={tiny_models['musicgen']}",
            "describer.num_frames=2",
            "describer.max_new_tokens=8",
        ],
    )
    pipe = Pipeline.from_config(cfg, index=tiny_models["index"])
    # adapters trained on CLAP embeddings get them from the index's own CLAP encoder
    assert pipe.generator.reference_encoder is pipe.retriever.encoder.audio
    a = pipe(text="calm piano", duration_s=1.0, seed=9)
    b = pipe(text="calm piano", duration_s=1.0, seed=9)
    assert np.array_equal(a.audio, b.audio)
