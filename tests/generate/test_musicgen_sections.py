"""MusicGen section by section (issue 15): windows at the timeline's section boundaries, one
text per section, continuation across the boundaries, exact length; tiny random checkpoints
loaded through the production path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tiny.musicgen import (  # noqa: F401
    one_torch_thread,
    tiny_melody_path,
    tiny_musicgen_10hz_path,
)

from vmb.generate import MusicGenGenerator
from vmb.generate.musicgen import conditioning
from vmb.generate.musicgen.longform import (
    Window,
    plan_section_windows,
    plan_sections,
    plan_windows,
    section_text,
)
from vmb.testing import make_tone
from vmb.types import Bridges, Clip, Hit, MusicDescription, Section, Wants

GLOBAL = "A calm and dark cinematic track. 0–4 s: a calm opening; 4–9 s: an energetic ending."


def timeline(bounds, sync="cuts", source="video", **fields) -> MusicDescription:
    """A description whose sections split ``bounds`` (seconds) with distinct moods."""
    moods = [("calm", "dark"), ("energetic",), ("happy", "playful"), ("tense",)]
    energies = [0.2, 0.9, 0.6, 0.8]
    sections = []
    n = len(bounds) - 1
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        role = "opening" if i == 0 else "ending" if i == n - 1 else "passage"
        words = " and ".join(moods[i])
        article = "an" if words[0] in "aeiou" else "a"
        sections.append(Section(a, b, energy=energies[i], mood=moods[i], source=source,
                                text=f"{article} {words} {role}"))  # fmt: skip
    defaults = {
        "genre": "cinematic",
        "key": "D",
        "mode": "minor",
        "tempo_bpm": 96.0,
        "tempo_class": "medium",
        "instruments": ("strings", "piano"),
        "mood": ("calm",),
    }
    return MusicDescription(**{**defaults, **fields}, text=GLOBAL, sections=tuple(sections),
                            sync=sync)  # fmt: skip


# ------------------------------------------------------------------------------ the plan
def test_section_windows_start_at_every_bound_and_split_long_sections():
    windows = plan_section_windows([0, 40, 55, 91], window_frames=30, overlap_frames=10)
    assert windows == [
        Window(0, 0, 0, 30, 0), Window(1, 20, 10, 10, 0),  # section 0: 40 frames, two windows
        Window(2, 30, 10, 15, 1),  # section 1 starts a window at 40, prompted by 30..40
        Window(3, 45, 10, 20, 2), Window(4, 65, 10, 16, 2),  # section 2 split in two
    ]  # fmt: skip
    starts = {w.start_frame + w.prompt_frames for w in windows}
    assert {0, 40, 55} <= starts and windows[-1].end_frame == 91
    assert sum(w.new_frames for w in windows) == 91
    assert all(w.num_frames <= 30 for w in windows)
    for before, after in itertools.pairwise(windows):
        assert after.start_frame + after.prompt_frames == before.end_frame


def test_one_section_is_the_plain_long_form_plan():
    for total, window, overlap in [(3500, 1500, 500), (701, 100, 99), (5, 1, 0), (10, 6, 2)]:
        assert plan_section_windows([0, total], window, overlap) == plan_windows(
            total, window, overlap
        )


def test_a_short_first_section_prompts_with_what_there_is():
    windows = plan_section_windows([0, 3, 20], window_frames=10, overlap_frames=5)
    assert windows[1] == Window(1, 0, 3, 7, 1)  # only 3 frames made before it


@pytest.mark.parametrize("bounds", [[1, 5], [0, 5, 5], [0], [0, 4, 3]])
def test_section_windows_refuse_bad_bounds(bounds):
    with pytest.raises(ValueError, match="bounds"):
        plan_section_windows(bounds, 10, 2)


def test_boundaries_are_whole_frames_and_the_last_section_runs_to_the_end():
    d = timeline([0, 4.013, 5.5, 9.0])
    plan = plan_sections(Bridges(d, GLOBAL), total_frames=91, frame_rate=10.0,
                         window_frames=30, overlap_frames=10)  # fmt: skip
    assert plan is not None and plan.sections == (0, 1, 2)
    assert plan.bounds_s == (0.0, 4.0, 5.5, 9.1)  # 4.013 s -> frame 40; ends at the music's end
    assert [w.section for w in plan.windows] == [0, 0, 1, 2, 2]
    # shorter music: the sections after its end are left out, and said so
    short = plan_sections(Bridges(d, GLOBAL), 50, 10.0, 30, 10)
    assert short.sections == (0, 1) and short.bounds_s == (0.0, 4.0, 5.0)
    assert any("sections 3" in n and "not generated" in n for n in short.notes)
    # music within the first section: that section's text alone
    first = plan_sections(Bridges(d, GLOBAL), 30, 10.0, 30, 10)
    assert first.sections == (0,) and first.windows == [Window(0, 0, 0, 30, 0)]
    assert first.texts == (section_text(d, 0),)
    # longer music: the last section runs on, and said so
    long = plan_sections(Bridges(d, GLOBAL), 120, 10.0, 30, 10)
    assert long.bounds_s[-1] == 12.0
    assert any("timeline ends at 9 s" in n for n in long.notes)


def test_no_timeline_no_plan():
    plain = MusicDescription(text="calm piano")
    assert plan_sections(Bridges(plain, "calm piano"), 90, 10.0, 30, 10) is None
    one = timeline([0, 9.0])
    assert plan_sections(Bridges(one, GLOBAL), 90, 10.0, 30, 10) is None
    off = timeline([0, 4, 9], sync="off")
    assert plan_sections(Bridges(off, GLOBAL), 90, 10.0, 30, 10) is None
    # with sync off the user's cues still make sections, and those are followed
    cued = timeline([0, 4, 9], sync="off", source="cue")
    assert plan_sections(Bridges(cued, GLOBAL), 90, 10.0, 30, 10).sections == (0, 1)


def test_each_section_text_is_its_own_sentence_with_the_global_style():
    d = timeline([0, 4, 9])
    first, second = section_text(d, 0), section_text(d, 1)
    assert first == (
        "A calm and dark opening, in the style of cinematic, in D minor at 96 BPM (medium "
        "tempo), blending strings and piano."
    )
    assert second.startswith("An energetic ending,") and "at 96 BPM" in second
    for text in (first, second):
        assert "–" not in text and "0–4 s" not in text  # no timeline sentence
    assert "energetic" not in first and "calm" not in second
    # a section tempo class that disagrees with the piece's BPM is not said (one tempo)
    fast = d.replace(sections=(d.sections[0].replace(tempo_class="fast", text=""),
                               d.sections[1]))  # fmt: skip
    text = section_text(fast, 0)
    assert "fast" not in text and "at 96 BPM (medium tempo)" in text
    # a section with its own genre and instruments keeps them; the global ones are not added
    own = d.replace(sections=(d.sections[0].replace(genre="folk", instruments=("harp",),
                                                    text=""), d.sections[1]))  # fmt: skip
    text = section_text(own, 0)
    assert "(folk, harp)" in text and "cinematic" not in text and "strings" not in text


def test_section_text_says_each_want_once():
    d = timeline([0, 4, 9])
    wants = Wants(mood="calm", instrument="piano", key="D", mode="minor")
    text = section_text(d, 0, wants)
    assert text.count("calm") == 1 and text.count("piano") == 1 and text.count("D minor") == 1
    assert "with a calm mood" not in text
    # a wanted mood the section does not hold is said, and its antonym is not
    second = section_text(d, 1, wants)
    assert "with a calm mood" in second and "energetic" not in second


# ------------------------------------------------------------------------------ generation
@pytest.fixture(scope="module")
def generator_10hz(tiny_musicgen_10hz_path):  # noqa: F811
    return MusicGenGenerator.from_pretrained(tiny_musicgen_10hz_path, window_s=3.0, overlap_s=1.0)


class Spy:
    """Records each window's codes and the text its conditioning came from."""

    def __init__(self, generator, monkeypatch):
        self.codes, self.texts, self.windows = [], [], []
        by_tensor = {}
        encode, state_of, decode = (conditioning.encode_text, conditioning.window_state,
                                    generator.decode_codes)  # fmt: skip

        def spy_encode(g, text):
            states, mask = encode(g, text)
            by_tensor[id(states)] = text
            return states, mask

        def spy_state(g, weights, states, mask, references, window):
            self.texts.append(by_tensor[id(states)])
            self.windows.append(window)
            return state_of(g, weights, states, mask, references, window)

        def spy_decode(codes):
            self.codes.append(codes.clone())
            return decode(codes)

        monkeypatch.setattr(conditioning, "encode_text", spy_encode)
        monkeypatch.setattr(conditioning, "window_state", spy_state)
        monkeypatch.setattr(generator, "decode_codes", spy_decode)


@pytest.mark.usefixtures("one_torch_thread")
def test_generation_follows_the_sections(generator_10hz, monkeypatch):
    d = timeline([0, 4, 5.5, 9.04])
    bridges = Bridges(d, GLOBAL)
    spy = Spy(generator_10hz, monkeypatch)
    result = generator_10hz.generate(bridges, 9.04, seed=2)
    assert result.audio.shape == (1, round(9.04 * 32000))  # exact length
    assert np.isfinite(result.audio).all() and np.abs(result.audio).max() > 0
    plan = plan_section_windows([0, 40, 55, 91], 30, 10)
    assert spy.windows == plan
    assert [c.shape[1] for c in spy.codes] == [w.num_frames for w in plan]
    # window boundaries at the section boundaries: new frames start at 4.0 s and 5.5 s
    new_starts = [(w.start_frame + w.prompt_frames) / 10 for w in spy.windows]
    assert 4.0 in new_starts and 5.5 in new_starts
    # texts per window: its section's sentence only, never the whole timeline
    texts = [section_text(d, w.section) for w in plan]
    assert spy.texts == texts
    assert spy.texts[0].startswith("A calm and dark opening") and "at 96 BPM" in spy.texts[0]
    assert spy.texts[2].startswith("An energetic passage")
    assert spy.texts[3].startswith("A happy and playful ending")
    assert all(GLOBAL not in t and "0–4 s" not in t for t in spy.texts)
    # continuation: every window is prompted with the codes that end the one before
    for w, before, after in zip(plan[1:], spy.codes, spy.codes[1:]):
        assert np.array_equal(
            after[:, : w.prompt_frames].numpy(), before[:, -w.prompt_frames :].numpy()
        )
    # the notes say which window was made with which text
    for i, (w, text) in enumerate(zip(plan, texts)):
        start = (w.start_frame + w.prompt_frames) / 10
        assert any(n.startswith(f"window {i + 1} ({start:.2f}-") and n.endswith(text)
                   for n in result.notes), result.notes  # fmt: skip
    assert any("section by section: 5 windows for 3 sections" in n for n in result.notes)
    assert not any(n.startswith("long-form") for n in result.notes)
    again = generator_10hz.generate(bridges, 9.04, seed=2)
    assert np.array_equal(again.audio, result.audio)


@pytest.mark.usefixtures("one_torch_thread")
def test_the_first_section_is_what_its_text_alone_makes(generator_10hz):
    """Up to the crossfade into section 2, the music is the first section's text made alone
    (same seed): the text of that window is the section's, nothing else."""
    d = timeline([0, 4, 9])
    with_sections = generator_10hz.generate(Bridges(d, GLOBAL), 9.0, seed=5)
    first = section_text(d, 0)
    alone = generator_10hz.generate(Bridges(MusicDescription(text=first), first), 4.0, seed=5)
    # Section 1 (40 frames) is made in the windows the plain 4 s run is made in (0..30 and
    # 20..40, same seed); the section run's third window (30..40 as prompt) fades in from 30.
    same = 30 * 3200
    assert np.array_equal(with_sections.audio[:, :same], alone.audio[:, :same])
    plain = generator_10hz.generate(Bridges(MusicDescription(text=GLOBAL), GLOBAL), 9.0, seed=5)
    assert not np.array_equal(plain.audio[:, :same], with_sections.audio[:, :same])


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("duration_s", [2.0, 7.5])  # one window, and long-form
def test_without_a_timeline_nothing_changes(generator_10hz, duration_s, monkeypatch):
    """No sections, one section, or sync off: the global text in every window, the plain plan,
    the same audio to the bit."""
    plain = Bridges(MusicDescription(text=GLOBAL), GLOBAL)
    spy = Spy(generator_10hz, monkeypatch)
    reference = generator_10hz.generate(plain, duration_s, seed=4)
    total = round(duration_s * 10)
    assert spy.windows == plan_windows(total, 30, 10)
    assert set(spy.texts) == {GLOBAL}
    for d in (timeline([0, duration_s]), timeline([0, 1.0, duration_s], sync="off")):
        result = generator_10hz.generate(Bridges(d, GLOBAL), duration_s, seed=4)
        assert np.array_equal(result.audio, reference.audio)
        assert result.notes == reference.notes


@pytest.mark.usefixtures("one_torch_thread")
def test_references_condition_every_section_window(tiny_melody_path, tmp_path, monkeypatch):  # noqa: F811
    tone = make_tone(tmp_path / "ref.wav", [261.63, 392.0], seconds=2.0)
    references = (Hit(Clip("ref", str(tone), 0.0, 2.0, 44100), 1.0, 0, "pinned"),)
    generator = MusicGenGenerator.from_pretrained(tiny_melody_path, window_s=1.0, overlap_s=0.2)
    calls = []
    chroma_rows = conditioning.chroma_rows

    def spy(g, rows, chroma, frame_offset):
        calls.append((rows, chroma is not None, frame_offset))
        return chroma_rows(g, rows, chroma, frame_offset)

    monkeypatch.setattr(conditioning, "chroma_rows", spy)
    d = timeline([0, 0.4, 1.5])
    result = generator.generate(Bridges(d, GLOBAL, references=references), 1.5, seed=1)
    assert result.audio.shape == (1, 48000)
    assert any(n.startswith("melody: chroma of pinned reference ref") for n in result.notes)
    assert any("section by section: 3 windows for 2 sections" in n for n in result.notes)
    # the reference's chroma conditions every window (the music row), from where it starts
    assert calls == [(3, True, 0), (3, True, 10), (3, True, 50)]


@pytest.mark.usefixtures("one_torch_thread")
def test_pipeline_scores_a_still_then_action_video_section_by_section(generator_10hz, tmp_path):
    """Through the Pipeline: the describer's timeline of a real video reaches MusicGen, whose
    windows start at the scene change with that scene's text and the requested tempo."""
    from types import SimpleNamespace

    from describe.conftest import FPS, H, W, still_then_action

    from vmb.config import Config
    from vmb.describe.visual import VisualDescriber
    from vmb.pipeline import Pipeline
    from vmb.retrieve.text import bridge_text
    from vmb.testing import make_video

    class NoIndex:
        def search(self, description, wants=None, pinned=(), k_broad=1, k_targeted=1):
            return SimpleNamespace(hits=[], notes=[], text=bridge_text(description, wants))

    video = make_video(tmp_path / "still_action.mp4", seconds=16, fps=FPS, size=(W, H),
                       frame_fn=still_then_action)  # fmt: skip
    pipe = Pipeline(describer=VisualDescriber.from_config(), retriever=NoIndex(),
                    generator=generator_10hz, config=Config())  # fmt: skip
    prepared = pipe.prepare(video=video, wants={"mood": "happy"})
    d = prepared.bridges.description
    assert [(s.start_s, s.end_s) for s in d.sections] == [(0.0, 8.0), (8.0, 16.0)]
    assert "0–8 s" in prepared.bridges.text  # the global text names the timeline ...
    result = pipe.generate(prepared, seed=0)
    assert result.audio.shape == (1, 16 * 32000)
    windows = [n for n in result.notes if n.startswith("window ")]
    texts = [section_text(d, 0, d_wants := prepared.bridges.wants), section_text(d, 1, d_wants)]
    assert any(n.startswith("window ") and "(8.00-" in n and n.endswith(texts[1]) for n in windows)
    assert all(n.endswith(texts[0]) for n in windows if "section 1)" in n)
    for text in texts:  # ... each window only its section's, with the tempo, the want once
        assert "0–8 s" not in text and f"at {d.tempo_bpm:.0f} BPM" in text
        assert text.count("happy") == 1 and "sad" not in text and "dark" not in text
