"""Cut/beat alignment (BCS/BHS) on cut lists, synthetic click tracks and videos with known cuts."""

from __future__ import annotations

import numpy as np
import pytest

from vmb.eval.alignment import beat_alignment, hits, music_events, rhythm_from_frames, video_rhythm

SR = 22050


def click_track(times: list[float], seconds: float, sr: int = SR) -> np.ndarray:
    """Short decaying 2 kHz clicks at ``times``."""
    y = np.zeros(int(seconds * sr), np.float32)
    n = int(0.02 * sr)
    click = np.sin(2 * np.pi * 2000 * np.arange(n) / sr) * np.exp(-np.arange(n) / (0.004 * sr))
    for t in times:
        i = int(t * sr)
        y[i : i + n] += click[: len(y) - i].astype(np.float32)
    return y * 0.8


def test_bhs_bcs_on_cut_lists_with_known_answers():
    beats = np.arange(0.0, 8.0, 0.5)  # 16 beats at 120 BPM
    cuts = np.array([1.0, 2.04, 3.3, 6.52])  # on, 40 ms off, 200 ms off, 20 ms off
    ba = beat_alignment(cuts, beats, span_s=8.0, tolerance_s=0.1)
    assert ba.bhs == pytest.approx(3 / 4)
    assert ba.bcs == pytest.approx(16 / 4)
    assert ba.beats_on_cuts == pytest.approx(3 / 16)
    tight = beat_alignment(cuts, beats, span_s=8.0, tolerance_s=0.03)
    assert tight.bhs == pytest.approx(2 / 4)
    # onsets count as hits for cuts too
    assert beat_alignment(np.array([3.3]), beats, onsets=np.array([3.31]), tolerance_s=0.05).bhs == 1.0
    # music past the video's end is not counted
    assert beat_alignment(cuts, beats, span_s=4.0).num_beats == 9
    none = beat_alignment(np.array([]), beats)
    assert none.bhs is None and none.bcs is None


def test_hits_edges():
    assert hits(np.array([0.0, 1.0]), np.array([]), 0.1).tolist() == [False, False]
    assert hits(np.array([0.95, 2.0]), np.array([1.0, 5.0]), 0.05).tolist() == [True, False]


def test_click_track_beats_hit_cuts_on_the_beat_and_miss_cuts_between_beats():
    beat_times = list(np.arange(0.5, 10.0, 0.5))
    y = click_track(beat_times, 10.0)
    ev = music_events(y, SR)
    assert 110 <= ev.tempo_bpm <= 130
    on = beat_alignment(np.array([2.0, 4.0, 6.0, 8.0]), ev.beats, ev.onsets, span_s=10.0, tolerance_s=0.1)
    off = beat_alignment(np.array([2.25, 4.25, 6.25, 8.25]), ev.beats, ev.onsets, span_s=10.0, tolerance_s=0.1)
    assert on.bhs == 1.0
    assert off.bhs == 0.0
    assert on.beats_on_cuts > off.beats_on_cuts


def test_silence_has_no_events():
    ev = music_events(np.zeros(SR * 3, np.float32), SR)
    assert ev.beats.size == 0 and ev.onsets.size == 0


def test_cuts_found_at_known_times_in_frames_and_in_a_video(tmp_path):
    stamps = np.arange(0, 40) / 10.0
    grey = np.stack([np.full((16, 16), 0.2 if (t < 1.5 or t >= 3.0) else 0.8) for t in stamps])
    grey += np.random.default_rng(0).uniform(0, 0.01, grey.shape)
    rh = rhythm_from_frames(grey, stamps)
    assert np.allclose(rh.cuts, [1.5, 3.0])

    from vmb.testing import make_video

    colours = [(220, 30, 30), (30, 30, 220), (30, 200, 30), (240, 240, 240)]

    def frame(index, time_s):
        return np.full((64, 64, 3), colours[int(time_s)], np.uint8)

    path = make_video(tmp_path / "cuts.mp4", seconds=4.0, fps=20, size=(64, 64), frame_fn=frame)
    rh = video_rhythm(path)
    assert np.allclose(rh.cuts, [1.0, 2.0, 3.0], atol=0.06)
