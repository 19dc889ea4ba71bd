"""Long-form generation: the window plan, the crossfade, and 70 s on a tiny model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tiny.musicgen import one_torch_thread, tiny_melody_path, tiny_musicgen_10hz_path  # noqa: F401

from vmb.generate import MusicGenGenerator
from vmb.generate.musicgen.longform import Window, crossfade_join, plan_windows
from vmb.testing import make_tone
from vmb.types import Bridges, Clip, Hit, MusicDescription

TEXT = "Energetic electronic dance music with driving drums and a fast-paced tempo."


def test_plan_covers_the_piece_once():
    assert plan_windows(100, 1500, 500) == [Window(0, 0, 0, 100)]
    windows = plan_windows(3500, 1500, 500)
    assert [w.new_frames for w in windows] == [1500, 1000, 1000]
    assert [(w.start_frame, w.prompt_frames) for w in windows] == [(0, 0), (1000, 500), (2000, 500)]
    assert windows[-1].end_frame == 3500
    for total, window, overlap in [(3500, 100, 20), (701, 100, 99), (5, 1, 0), (1234, 300, 0)]:
        windows = plan_windows(total, window, overlap)
        assert sum(w.new_frames for w in windows) == total
        assert all(w.num_frames <= window for w in windows)
        for before, after in itertools.pairwise(windows):
            assert (
                after.start_frame + after.prompt_frames == before.end_frame
            )  # new frames follow on
            assert after.prompt_frames == overlap


@pytest.mark.parametrize("args", [(0, 10, 2), (10, 0, 0), (10, 5, 5), (10, 5, -1)])
def test_plan_refuses_impossible_sizes(args):
    with pytest.raises(ValueError, match=r"(total_frames|window_frames) must be at least 1|overlap_frames must be in"):
        plan_windows(*args)


def test_crossfade_fades_linearly_over_the_prompt_and_cuts_exactly():
    windows = plan_windows(10, 6, 2)  # frames [0, 6) then [4, 10)
    hop = 4
    first = np.ones((2, 6 * hop), dtype=np.float32)
    second = np.full((2, 6 * hop), 3.0, dtype=np.float32)
    joined = crossfade_join([first, second], windows, hop, total_samples=37)
    assert joined.shape == (2, 37) and joined.dtype == np.float32
    assert np.all(joined[:, : 4 * hop] == 1.0)
    fade = joined[0, 4 * hop : 6 * hop]
    assert np.all(np.diff(fade) > 0) and 1.0 < fade[0] < fade[-1] < 3.0
    np.testing.assert_allclose(fade, 1.0 + 2.0 * (np.arange(8) + 0.5) / 8, rtol=1e-6)
    assert np.all(joined[:, 6 * hop :] == 3.0)
    with pytest.raises(ValueError, match="exceeds"):
        crossfade_join([first, second], windows, hop, total_samples=41)
    with pytest.raises(ValueError, match="expected"):
        crossfade_join([first, second[:, :5]], windows, hop, total_samples=40)


@pytest.fixture(scope="module")
def generator_10hz(tiny_musicgen_10hz_path):  # noqa: F811
    return MusicGenGenerator.from_pretrained(tiny_musicgen_10hz_path, window_s=10.0, overlap_s=2.0)


@pytest.mark.usefixtures("one_torch_thread")
def test_seventy_seconds_in_small_windows(generator_10hz, monkeypatch):
    windows_codes = []
    decode = generator_10hz.decode_codes

    def spy(codes):
        windows_codes.append(codes.clone())
        return decode(codes)

    monkeypatch.setattr(generator_10hz, "decode_codes", spy)
    result = generator_10hz.generate(Bridges(MusicDescription(text=TEXT), TEXT), 70.0, seed=1)
    assert result.audio.shape == (1, 70 * 32000)
    assert np.isfinite(result.audio).all()
    plan = plan_windows(700, 100, 20)
    assert len(windows_codes) == len(plan) == 9
    assert any("long-form: 9 windows" in note for note in result.notes)
    for codes, window in zip(windows_codes, plan):
        assert codes.shape == (4, window.num_frames)
    for before, after in itertools.pairwise(windows_codes):
        assert np.array_equal(after[:, :20].numpy(), before[:, -20:].numpy())  # prompted with codes
        assert not np.array_equal(after[:, 20:40].numpy(), before[:, -20:].numpy())
    # the same seed gives the same 70 s
    again = generator_10hz.generate(Bridges(MusicDescription(text=TEXT), TEXT), 70.0, seed=1)
    assert np.array_equal(result.audio, again.audio)


@pytest.mark.usefixtures("one_torch_thread")
def test_odd_length_without_overlap(generator_10hz):
    generator = MusicGenGenerator(
        generator_10hz.model, generator_10hz.tokenizer, "tiny", window_s=3.0, overlap_s=0.0
    )
    result = generator.generate(Bridges(MusicDescription(text=TEXT), TEXT), 7.77777, seed=0)
    assert result.audio.shape == (1, round(7.77777 * 32000))


@pytest.mark.usefixtures("one_torch_thread")
def test_melody_and_control_across_windows(tiny_melody_path, tmp_path):  # noqa: F811
    from vmb.generate.musicgen.adapters import create_adapter

    tone = make_tone(tmp_path / "ref.wav", [261.63, 392.0], seconds=2.0)
    references = (Hit(Clip("ref", str(tone), 0.0, 2.0, 44100), 1.0, 0, "broad"),)
    bridges = Bridges(MusicDescription(text=TEXT), TEXT, references=references)
    base = MusicGenGenerator.from_pretrained(tiny_melody_path, window_s=1.0, overlap_s=0.4)
    plain = base.generate(bridges, 2.5, seed=3)
    adapted = MusicGenGenerator(
        base.model,
        base.tokenizer,
        base.name,
        adapter=create_adapter(base.model, control_layers=1),
        chroma=base.chroma,
        window_s=1.0,
        overlap_s=0.4,
    ).generate(bridges, 2.5, seed=3)
    assert plain.audio.shape == adapted.audio.shape == (1, 80000)
    assert np.array_equal(plain.audio, adapted.audio)  # zero-init identity holds in every window
    assert any("long-form: 4 windows" in note for note in plain.notes)
