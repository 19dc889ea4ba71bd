"""The Pipeline hands cues, sync and wants to the description (real describer and pipeline;
the retriever and generator are recording stand-ins, so no index or model is needed)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from vmb.config import Config
from vmb.describe import CueError
from vmb.describe.visual import VisualDescriber
from vmb.pipeline import Pipeline
from vmb.retrieve.text import bridge_text
from vmb.types import GenerationResult


class RecordingRetriever:
    def search(self, description, wants=None, pinned=(), k_broad=1, k_targeted=1):
        return SimpleNamespace(hits=[], notes=[], text=bridge_text(description, wants))


class RecordingGenerator:
    name = "recording"
    sample_rate = 8000

    def generate(self, bridges, duration_s, seed=None, **kwargs):
        self.bridges, self.duration_s = bridges, duration_s
        audio = np.zeros((1, round(duration_s * self.sample_rate)), np.float32)
        return GenerationResult(audio=audio, sample_rate=self.sample_rate, bridges=bridges)


@pytest.fixture()
def pipe():
    return Pipeline(describer=VisualDescriber.from_config(), retriever=RecordingRetriever(),
                    generator=RecordingGenerator(), config=Config())  # fmt: skip


def test_pipeline_passes_cues_sync_and_wants(pipe, samples):
    result = pipe(video=samples["still_action"], cues=["0-8=calm", "12"], sync="cuts",
                  wants={"mood": "happy"})  # fmt: skip
    d = pipe.generator.bridges.description
    assert d is result.bridges.description
    assert [(s.start_s, s.end_s) for s in d.sections] == [(0, 8), (8, 12), (12, 16.0)]
    assert d.sections[0].mood[:2] == ("happy", "calm") and "sad" not in d.sections[0].mood
    assert any(c.kind == "marker" and c.time_s == 12 for c in d.cuts)
    assert d.mood[0] == "happy" and not {"sad", "dark"} & set(d.mood)
    assert pipe.generator.duration_s == pytest.approx(16.0, abs=0.05)


def test_pipeline_video_plus_image_music_covers_the_slideshow(pipe, samples):
    pipe(video=samples["sunny_pastoral"], images=[samples["green_forest"]])
    d = pipe.generator.bridges.description
    assert d.sections[-1].source == "image:green_forest.jpg"
    assert pipe.generator.duration_s == pytest.approx(d.sections[-1].end_s)
    pipe(video=samples["sunny_pastoral"], images=[samples["green_forest"]], duration_s=10.0)
    assert pipe.generator.duration_s == 10.0
    assert pipe.generator.bridges.description.sections[-1].end_s == pytest.approx(10.0)


def test_pipeline_bad_cue_is_named(pipe, samples):
    with pytest.raises(CueError, match="--cue 0-99=calm: outside the video"):
        pipe(video=samples["still_action"], cues=["0-99=calm"])
