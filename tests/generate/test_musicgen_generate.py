"""MusicGenGenerator on tiny random checkpoints loaded through the production path."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny.musicgen import one_torch_thread, tiny_melody_path, tiny_musicgen_path  # noqa: F401

from vmb.config import build_config
from vmb.errors import ConfigError, ModelUnavailable, UsageError
from vmb.generate import MusicGenGenerator
from vmb.testing import make_tone
from vmb.types import Bridges, Clip, Hit, MusicDescription

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEXT = "A calm ambient piece with soft piano and warm pads, slow tempo, in C major."


def bridges(
    *hits: Hit, text: str = TEXT, text_weight: float = 3.0, music_weight: float = 1.0
) -> Bridges:
    return Bridges(
        description=MusicDescription(text=text),
        text=text,
        references=hits,
        text_weight=text_weight,
        music_weight=music_weight,
    )


def hit(path, track="pinned", clip_id="ref", start_s=0.0, duration_s=3.0) -> Hit:
    return Hit(Clip(clip_id, str(path), start_s, duration_s, 44100), score=1.0, rank=0, track=track)


@pytest.fixture(scope="module")
def musicgen(tiny_musicgen_path):  # noqa: F811
    return MusicGenGenerator.from_pretrained(tiny_musicgen_path)


@pytest.fixture(scope="module")
def melody(tiny_melody_path):  # noqa: F811
    return MusicGenGenerator.from_pretrained(tiny_melody_path)


@pytest.mark.parametrize("duration_s", [1.0, 7.0, 0.3333])
def test_length_is_exact(musicgen, duration_s):
    result = musicgen.generate(bridges(), duration_s, seed=0)
    assert result.audio.shape == (1, round(duration_s * 32000))
    assert result.audio.dtype == np.float32 and np.isfinite(result.audio).all()
    assert result.sample_rate == musicgen.sample_rate == 32000
    assert result.generator == musicgen.name and result.seed == 0
    assert np.abs(result.audio).max() > 0
    assert {"text_encoder", "sampling", "codec_decode", "total"} <= set(result.timings)


def test_seeded_runs_are_reproducible(musicgen):
    first = musicgen.generate(bridges(), 1.0, seed=7)
    again = musicgen.generate(bridges(), 1.0, seed=7)
    other = musicgen.generate(bridges(), 1.0, seed=8)
    assert np.array_equal(first.audio, again.audio)
    assert not np.array_equal(first.audio, other.audio)
    drawn = musicgen.generate(bridges(), 0.5)  # no seed: one is drawn and reported
    assert isinstance(drawn.seed, int)
    assert np.array_equal(musicgen.generate(bridges(), 0.5, seed=drawn.seed).audio, drawn.audio)


def test_text_changes_the_music(musicgen):
    calm = musicgen.generate(bridges(text="calm piano"), 1.0, seed=1)
    loud = musicgen.generate(
        bridges(text="energetic electronic dance music with drums"), 1.0, seed=1
    )
    assert not np.array_equal(calm.audio, loud.audio)


@pytest.mark.parametrize("which", ["musicgen", "melody"])
def test_text_only_sampling_equals_transformers_generate(which, musicgen, melody):
    """w_music = 0: vmb's loop draws the same codes as model.generate under manual_seed."""
    generator = {"musicgen": musicgen, "melody": melody}[which]
    result = generator.generate(bridges(music_weight=0.0), 1.0, seed=11, top_k=250)
    inputs = generator.tokenizer([TEXT], return_tensors="pt")
    torch.manual_seed(11)
    with torch.inference_mode():
        plain = generator.model.generate(
            **inputs, do_sample=True, guidance_scale=3.0, top_k=250, max_new_tokens=50 + 3
        )
    assert np.array_equal(plain[0, :, :32000].numpy(), result.audio)


def test_greedy_ignores_the_seed(musicgen):
    a = musicgen.generate(bridges(), 0.5, seed=1, temperature=0.0)
    b = musicgen.generate(bridges(), 0.5, seed=2, temperature=0.0)
    assert np.array_equal(a.audio, b.audio)


def test_melody_follows_the_reference_chroma(melody, tmp_path):
    c_major = make_tone(tmp_path / "c.wav", [261.63, 329.63, 392.0], seconds=3.0)
    f_sharp = make_tone(tmp_path / "fs.wav", [369.99, 466.16], seconds=3.0)
    with_c = melody.generate(bridges(hit(c_major)), 1.0, seed=3)
    with_c_again = melody.generate(bridges(hit(c_major)), 1.0, seed=3)
    with_fs = melody.generate(bridges(hit(f_sharp)), 1.0, seed=3)
    text_only = melody.generate(bridges(), 1.0, seed=3)
    assert np.array_equal(with_c.audio, with_c_again.audio)
    assert not np.array_equal(with_c.audio, with_fs.audio)
    assert not np.array_equal(with_c.audio, text_only.audio)
    assert any("melody: chroma of pinned reference" in n for n in with_c.notes)
    assert any("3 rows" in n for n in with_c.notes)
    muted = melody.generate(bridges(hit(c_major), music_weight=0.0), 1.0, seed=3)
    assert np.array_equal(
        muted.audio, melody.generate(bridges(music_weight=0.0), 1.0, seed=3).audio
    )
    assert any("music_weight is 0" in n for n in muted.notes)


def test_melody_prefers_pinned_then_broad(melody, tmp_path):
    tone = make_tone(tmp_path / "a.wav", 440.0, seconds=2.0)
    result = melody.generate(
        bridges(hit(tone, "targeted", "t"), hit(tone, "broad", "b")), 0.5, seed=0
    )
    assert any("chroma of broad reference b" in n for n in result.notes)


def test_references_without_a_mechanism_are_reported(musicgen, tmp_path):
    tone = make_tone(tmp_path / "a.wav", 440.0, seconds=2.0)
    result = musicgen.generate(bridges(hit(tone)), 0.5, seed=0)
    plain = musicgen.generate(bridges(), 0.5, seed=0)
    assert np.array_equal(result.audio, plain.audio)
    assert any("music bridge (references) is not used" in n for n in result.notes)


def test_missing_reference_file_is_a_media_error(melody, tmp_path):
    from vmb.errors import MediaError

    with pytest.raises(MediaError, match="missing.wav"):
        melody.generate(bridges(hit(tmp_path / "missing.wav")), 0.5, seed=0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"duration_s": 0.0}, "duration_s"),
        ({"duration_s": float("nan")}, "duration_s"),
        ({"duration_s": 1.0, "top_k": -1}, "top_k"),
        ({"duration_s": 1.0, "temperature": -0.5}, "temperature"),
        ({"duration_s": 1.0, "text_weight": -1.0}, "text_weight"),
        ({"duration_s": 1.0, "music_weight": float("inf")}, "music_weight"),
    ],
)
def test_bad_arguments_are_usage_errors(musicgen, kwargs, match):
    with pytest.raises(UsageError, match=match):
        musicgen.generate(bridges(), **kwargs)


def test_missing_weights_offline_name_the_id_and_the_cache(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable) as info:
        MusicGenGenerator.from_pretrained("vmb-tests/no-such-musicgen")
    message = str(info.value)
    assert info.value.model_id == "vmb-tests/no-such-musicgen"
    assert "vmb-tests/no-such-musicgen" in message and str(constants.HF_HUB_CACHE) in message
    assert "--profile builtin" in message and "\n" not in message


def test_incomplete_folder_and_other_checkpoints(tmp_path, tiny_musicgen_path):  # noqa: F811
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "config.json").write_text((tiny_musicgen_path / "config.json").read_text())
    with pytest.raises(ModelUnavailable, match="incomplete"):
        MusicGenGenerator.from_pretrained(incomplete)
    other = tmp_path / "t5"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "t5", "d_model": 8}))
    with pytest.raises(ConfigError, match="not MusicGen"):
        MusicGenGenerator.from_pretrained(other)
    with pytest.raises(ConfigError, match="quantize"):
        MusicGenGenerator.from_pretrained(tiny_musicgen_path, quantize="int4")
    with pytest.raises(ConfigError, match="overlap_s"):
        MusicGenGenerator.from_pretrained(tiny_musicgen_path, window_s=10.0, overlap_s=10.0)


def test_from_config(tiny_musicgen_path):  # noqa: F811
    config = build_config(
        {
            "device": "cpu",
            "dtype": "float32",
            "seed": 5,
            "threads": 1,
            "generator": {
                "kind": "musicgen",
                "model": str(tiny_musicgen_path),
                "top_k": 10,
                "temperature": 0.9,
            },
        }
    )
    generator = MusicGenGenerator.from_config(config)
    assert generator.name == str(tiny_musicgen_path)
    assert (generator.default_top_k, generator.default_temperature, generator.default_seed) == (
        10,
        0.9,
        5,
    )
    result = generator.generate(bridges(), 0.5, progress=True)
    assert result.seed == 5
    assert np.array_equal(
        result.audio, generator.generate(bridges(), 0.5, seed=5, top_k=10, temperature=0.9).audio
    )


def test_melody_without_feature_extractor_config_says_so(tiny_melody_path, tmp_path):  # noqa: F811
    import shutil

    copy = tmp_path / "melody"
    shutil.copytree(tiny_melody_path, copy)
    (copy / "preprocessor_config.json").unlink()
    generator = MusicGenGenerator.from_pretrained(copy)
    assert generator.chroma.n_fft == 16384 and generator.chroma.hop_length == 4096
    assert any("no preprocessor_config.json" in note for note in generator.notes)
