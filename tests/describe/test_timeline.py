"""The timeline of the text bridge: shots, sections, energy, round trip, several inputs."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from vmb.describe import describe
from vmb.describe.scan import scan_video
from vmb.describe.scenes import CutDetector
from vmb.describe.schema import contradicts, mood_antonyms
from vmb.describe.visual import VisualDescriber
from vmb.testing import make_video
from vmb.types import Bridges, Cut, MusicDescription, Section, Wants


@pytest.fixture(scope="module")
def describer():
    return VisualDescriber.from_config()


def detect(path):
    scan = scan_video(path)
    return [c for c in CutDetector().detect(scan.rgb, scan.times_s, scan.fps)]


@pytest.mark.parametrize("period", [0.5, 0.6, 0.75, 1.0])
def test_steady_cuts_are_all_found_at_their_frame(tmp_path, frame_fns, period):
    w, h = frame_fns["size"]
    fps = frame_fns["fps"]
    path = make_video(tmp_path / f"cards{period}.mp4", seconds=6, fps=fps, size=(w, h),
                      frame_fn=frame_fns["cards"](period))  # fmt: skip
    # Frame i shows card int(i / fps / period): the first frame of each new card.
    truth = [np.ceil(k * period * fps - 1e-6) / fps for k in range(1, int(6 / period - 1e-9) + 1)]
    truth = [t for t in truth if t < 6 - 1e-6]
    found = [c.time_s for c in detect(path)]
    assert len(found) == len(truth), (found, truth)
    assert np.max(np.abs(np.array(found) - np.array(truth))) <= 0.5 / fps + 1e-6


def test_a_fade_is_one_gradual_cut_and_a_pan_is_none(tmp_path, frame_fns):
    w, h = frame_fns["size"]
    textured = frame_fns["textured"]

    def fade(i, t):
        mix = float(np.clip(t - 3.0, 0.0, 1.0))
        return ((1 - mix) * textured((40, 60, 200)) + mix * textured((240, 150, 40))).astype(
            np.uint8
        )

    def pan(i, t):
        return np.roll(textured((90, 140, 90), 0.4).astype(np.uint8), 5 * i, axis=1)

    faded = detect(make_video(tmp_path / "fade.mp4", seconds=7, fps=25, size=(w, h), frame_fn=fade))
    assert len(faded) == 1 and faded[0].kind == "gradual"
    assert abs(faded[0].time_s - 3.5) <= 0.25
    assert (
        detect(make_video(tmp_path / "pan.mp4", seconds=5, fps=25, size=(w, h), frame_fn=pan)) == []
    )


def test_still_then_action_gets_two_sections_at_the_change_and_rising_energy(samples):
    d = describe(video=samples["still_action"])
    assert len(d.sections) == 2
    first, second = d.sections
    assert abs(first.end_s - 8.0) <= 0.5 and first.end_s == second.start_s
    assert first.start_s == 0.0 and second.end_s == pytest.approx(16.0, abs=0.05)
    assert second.energy > first.energy + 0.2
    assert first.tempo_class == "slow" and second.tempo_class in ("medium", "fast")
    # Per-scene measurements: the still has no cut and no motion, the action a cut a second.
    assert first.measured["cut_rate"] == 0 and first.measured["motion"] < 0.002
    assert second.measured["cut_rate"] == pytest.approx(7 / 8, abs=0.01)
    assert second.measured["motion"] > 10 * max(first.measured["motion"], 1e-3)
    assert second.measured["warmth"] > 0.2 > first.measured["warmth"]
    curve = np.array(d.energy_curve)
    assert d.energy_step_s == 1.0 and len(curve) == 16
    assert curve[9:].mean() > curve[:7].mean() + 0.2  # the energy curve follows the picture
    cut_times = [c.time_s for c in d.cuts]
    assert all(any(abs(t - k) <= 0.05 for t in cut_times) for k in range(8, 16))
    assert d.sync == "cuts"
    # The fluent text names the sections with their times.
    assert "0\u20138 s: a calm" in d.text and "8\u201316 s: a " in d.text
    assert first.text and first.text in d.text and second.text in d.text


def test_sync_scenes_keeps_sections_but_no_cuts_and_off_keeps_neither(samples):
    scenes = describe(video=samples["still_action"], sync="scenes")
    assert len(scenes.sections) == 2 and scenes.cuts == () and scenes.sync == "scenes"
    off = describe(video=samples["still_action"], sync="off")
    assert off.sections == () and off.cuts == () and "0\u20138 s" not in off.text
    # A user's marker is a cut to hit whatever the sync.
    marked = describe(video=samples["still_action"], sync="scenes", cues=["4.5"])
    assert [(c.time_s, c.kind) for c in marked.cuts] == [(4.5, "marker")]
    assert [s.end_s for s in marked.sections][:2] == [4.5, 8.0]


def test_round_trip_and_old_json(samples):
    d = describe(video=samples["still_action"], cues=["0-4=calm,piano"])
    again = MusicDescription.from_dict(json.loads(json.dumps(d.to_dict())))
    assert again == d and again.text == d.text
    assert isinstance(again.sections[0], Section) and isinstance(again.cuts[0], Cut)
    assert again.sections[0].instruments == ("piano",)
    bridges = Bridges(description=d, text=d.text, wants=Wants(mood="calm"))
    assert Bridges.from_dict(json.loads(json.dumps(bridges.to_dict()))).description == d
    old = {"genre": "pop", "mood": ["happy"], "tempo_bpm": 120.0, "text": "A happy pop track."}
    loaded = MusicDescription.from_dict(old)
    assert (loaded.sections, loaded.cuts, loaded.energy_curve, loaded.sync) == ((), (), (), None)
    assert loaded.duration_s is None and d.duration_s == pytest.approx(16.0, abs=0.05)


def test_images_make_a_slideshow_and_a_video_plus_an_image_a_sequence(samples):
    d = describe(images=[samples["sunny"], samples["dark_blue"]])
    assert [(s.start_s, s.end_s) for s in d.sections] == [(0.0, 15.0), (15.0, 30.0)]
    assert [s.source for s in d.sections] == ["image:sunny.jpg", "image:dark_blue.png"]
    assert d.sections[0].energy > d.sections[1].energy
    assert "dark" in d.sections[1].mood and "dark" not in d.sections[0].mood
    timed = describe(images=[samples["sunny"], samples["dark_blue"]], cues=["10"], duration_s=24)
    assert [(s.start_s, s.end_s) for s in timed.sections] == [(0.0, 10.0), (10.0, 24.0)]
    assert len(timed.energy_curve) == 24 and len(set(timed.energy_curve[:10])) == 1
    assert timed.energy_curve[:10] == (timed.sections[0].energy,) * 10
    assert timed.energy_curve[10:] == (timed.sections[1].energy,) * 14
    odd = describe(images=[samples["sunny"], samples["dark_blue"]], duration_s=15)
    assert len(odd.energy_curve) == 15 and odd.energy_curve[7] == odd.sections[0].energy
    both = describe(video=samples["sunny_pastoral"], images=[samples["green_forest"]])
    assert [s.source for s in both.sections] == ["video", "image:green_forest.jpg"]
    assert both.sections[1].start_s == both.sections[0].end_s
    assert both.sections[1].duration_s == pytest.approx(both.sections[0].duration_s)


PAIRS = [
    *itertools.product(["sunny_pastoral", "red_action"], ["green_forest", "dark_blue", "sunny"]),
    *itertools.combinations(["green_forest", "dark_blue", "sunny"], 2),
]
BRIGHT = {"sunny_pastoral", "sunny"}


def _inputs(samples, names):
    video = next((samples[n] for n in names if n in ("sunny_pastoral", "red_action")), None)
    images = [samples[n] for n in names if n not in ("sunny_pastoral", "red_action")]
    return video, images


def _no_contradiction(moods):
    return not any(contradicts(m, [o for o in moods if o != m]) for m in moods)


@pytest.mark.parametrize("names", PAIRS, ids=["+".join(p) for p in PAIRS])
def test_each_pair_of_sample_inputs_is_coherent(samples, describer, names):
    video, images = _inputs(samples, names)
    d = describe(video=video, images=images, describer=describer)
    alone = [describe(video=samples[n]) if n in ("sunny_pastoral", "red_action")
             else describe(images=[samples[n]]) for n in names]  # fmt: skip
    assert len(d.sections) >= 2 and len(d.sections) >= len(names)
    # Never contradicts itself: no mood beside its antonym, globally or in a section.
    assert _no_contradiction(d.mood) and all(_no_contradiction(s.mood) for s in d.sections)
    # Never states what no input shows: every global mood is some section's, the theme, key,
    # mode and genre are one input's own.
    assert set(d.mood) <= {m for s in d.sections for m in s.mood}
    assert not any(contradicts(m, s.mood) for m in d.mood for s in d.sections)
    assert d.theme is None or {a.theme for a in alone} == {d.theme}
    assert (d.key, d.mode, d.genre) in {(a.key, a.mode, a.genre) for a in alone}
    # Each section describes its own input: a bright input is never dark or sad.
    for name, section in zip(names, [d.sections[0], d.sections[-1]], strict=True):
        if name in BRIGHT:
            assert not {"dark", "sad"} & set(section.mood), (name, section)
    # A wanted mood replaces the moods that contradict it.
    happy = describe(video=video, images=images, describer=describer, wants={"mood": "happy"})
    assert happy.mood[0] == "happy" and _no_contradiction(happy.mood)
    assert all(s.mood[0] == "happy" and _no_contradiction(s.mood) for s in happy.sections)
    antonyms = {m for pair in mood_antonyms() if "happy" in pair for m in pair} - {"happy"}
    assert antonyms and not antonyms & {*happy.mood, *(m for s in happy.sections for m in s.mood)}


def test_the_forest_and_the_sunny_video_are_not_a_cold_blue_evening(samples):
    """The issue's case: a sunny video and a green forest image together."""
    d = describe(video=samples["sunny_pastoral"], images=[samples["green_forest"]])
    assert "cold blue evening" not in d.text and "dark" not in d.mood
    assert d.sections[0].mood == describe(video=samples["sunny_pastoral"]).sections[0].mood


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no mean of an empty stretch
def test_variable_frame_rate_with_long_gaps_gives_finite_numbers(tmp_path, frame_fns):
    """Frames 40 ms to 2.5 s apart (a phone pausing), the last just short of the end: every
    second of the curve is measured on the frame shown then."""
    from fractions import Fraction

    import av

    w, h = frame_fns["size"]
    path = tmp_path / "vfr.mp4"
    times_ms = [0, 40, 80, 2580, 2620, 2660, 5200, 5240, 5970]  # ends just short of 6 s
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for i, t in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(frame_fns["cards"](2.5)(i, t / 1000), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    d = describe(video=path)
    assert d.energy_curve and np.all(np.isfinite(d.energy_curve))
    assert all(s.energy is not None and np.isfinite(s.energy) for s in d.sections)
    assert d.sections[0].start_s == 0.0 and d.sections[-1].end_s > 5.97
