"""The neural describer, end to end on a tiny random InternVL loaded through the production path.

The model writes garbage: these tests check the plumbing (prompt, frames, batching, decoding)
and that the parser falls back cleanly; the parser itself is tested on real-looking answers in
test_describe_parse.py.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from tiny.vlm import IMAGE_SEQ_LENGTH, save_tiny_vlm
from typer.testing import CliRunner

from vmb.cli import app
from vmb.config import Config
from vmb.describe import describe, load_inputs
from vmb.describe.vlm import VLMDescriber
from vmb.errors import ConfigError, ModelUnavailable
from vmb.testing import make_image, make_video
from vmb.vocab import load_vocab

NUM_FRAMES = 4


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory):
    return save_tiny_vlm(tmp_path_factory.mktemp("tiny_internvl"))


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vlm_media")
    return {
        "video": make_video(
            folder / "clip.mp4", seconds=2, fps=12, size=(96, 64), pattern="moving"
        ),
        "image": make_image(folder / "still.png", size=(64, 48)),
    }


@pytest.fixture(scope="module")
def describer(tiny_vlm):
    return VLMDescriber.from_pretrained(
        tiny_vlm, num_frames=NUM_FRAMES, max_new_tokens=12, batch_size=4
    )


class GenerateSpy:
    """Wraps ``model.generate`` and records what it was given."""

    def __init__(self, model):
        self.model = model
        self.original = model.generate
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return self.original(**kwargs)


@pytest.fixture
def spy(describer, monkeypatch):
    spy = GenerateSpy(describer.model)
    monkeypatch.setattr(describer.model, "generate", spy)
    return spy


def test_loads_the_default_classes(describer):
    assert type(describer.model).__name__ == "InternVLForConditionalGeneration"
    assert type(describer.processor).__name__ == "InternVLProcessor"
    assert type(describer.processor.image_processor).__name__.startswith("GotOcr2ImageProcessor")
    assert describer.processor.chat_template
    assert str(describer.device) == "cpu"


def test_end_to_end_on_a_video_falls_back_cleanly(describer, media, spy, caplog):
    inputs = load_inputs(media["video"], num_frames=NUM_FRAMES)
    with caplog.at_level(logging.WARNING, logger="vmb.describe.vlm"):
        d = describer.describe(inputs)

    (call,) = spy.calls
    # One tile per sampled frame, and that many image-token blocks in the prompt.
    assert tuple(call["pixel_values"].shape) == (NUM_FRAMES, 3, 56, 56)
    tokenizer = describer.processor.tokenizer
    ids = call["input_ids"][0].tolist()
    assert (
        ids.count(tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>")) == NUM_FRAMES * IMAGE_SEQ_LENGTH
    )
    assert ids.count(tokenizer.convert_tokens_to_ids("<img>")) == NUM_FRAMES
    prompt = tokenizer.decode(ids)
    assert prompt.startswith("<|im_start|>user\n") and prompt.endswith("<|im_start|>assistant\n")
    assert "Frame1 (0.2 s)" in prompt and f"Frame{NUM_FRAMES} (" in prompt
    assert "4 frames of a video" in prompt and "one JSON object" in prompt
    assert call["do_sample"] is False and call["max_new_tokens"] == 12

    # The random model answers garbage: no fields, its text kept, a warning says so.
    (answer,) = describer.last_answers
    assert d.source == f"vlm:{describer.model_id}"
    assert d.genre is None and d.mood == () and d.instruments == () and d.tempo_bpm is None
    assert d.key is None and d.energy is None
    assert d.text == " ".join(answer.replace("\x00", "").replace("\ufffd", "").split())
    assert describer.last_notes and any("no usable JSON" in r.getMessage() or "empty answer" in r.getMessage()
                                        for r in caplog.records)  # fmt: skip


def test_prompt_lists_the_vocabularies_and_the_user_text(describer, media):
    vocab = load_vocab()
    messages, images = describer.build_request(
        load_inputs(media["video"], [media["image"]], "in D minor", num_frames=2)
    )
    assert len(images) == 3 and all(i.dtype == np.uint8 and i.ndim == 3 for i in images)
    content = messages[0]["content"]
    assert [c["type"] for c in content].count("image") == 3
    prompt = content[-1]["text"]
    for word in (*vocab.genres, *vocab.moods, *vocab.instruments):
        assert word in prompt
    assert "2 frames of a video and 1 image" in prompt
    assert 'The user asks for: "in D minor"' in prompt
    assert "$" not in prompt


def test_text_wins_over_the_model(describer, media):
    d = describer.describe(
        load_inputs(media["video"], text="a sad piano piece at 70 bpm in D minor", num_frames=2)
    )
    assert (d.mood, d.instruments, d.tempo_bpm, d.key, d.mode) == (
        ("sad",),
        ("piano",),
        70.0,
        "D",
        "minor",
    )
    assert d.source.endswith("+text")
    assert d.text.startswith("a sad piano piece at 70 bpm in D minor.")


def test_describe_batch_pads_and_batches(describer, media, spy):
    requests = [
        load_inputs(media["video"], num_frames=NUM_FRAMES),
        load_inputs(images=[media["image"]]),
        load_inputs(text="fast jazz"),
    ]
    results = describer.describe_batch(requests)
    assert len(results) == 3
    (call,) = spy.calls  # the two visual requests in one generate call, the text one not sent
    assert call["input_ids"].shape[0] == 2
    assert call["attention_mask"][1, 0] == 0  # the shorter prompt is left-padded
    assert tuple(call["pixel_values"].shape) == (NUM_FRAMES + 1, 3, 56, 56)
    assert results[2].source == "text" and results[2].genre == "jazz"
    assert [r.source.startswith("vlm:") for r in results[:2]] == [True, True]
    # One by one gives the same answers as the batch.
    alone = [describer.describe(r).text for r in requests[:2]]
    assert alone == [r.text for r in results[:2]]

    spy.calls.clear()
    describer.batch_size = 1
    try:
        describer.describe_batch(requests)
    finally:
        describer.batch_size = 4
    assert len(spy.calls) == 2


def test_describe_by_name_with_a_local_model(tiny_vlm, media):
    config = Config()
    config.describer.num_frames = 2
    config.describer.max_new_tokens = 4
    d = describe(video=media["video"], describer="vlm", config=config, model=str(tiny_vlm))
    assert d.source == f"vlm:{tiny_vlm}"


def test_missing_weights_offline_name_the_model_and_the_way_out(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable) as caught:
        VLMDescriber.from_pretrained("OpenGVLab/InternVL3-1B-hf")
    message = str(caught.value)
    assert message.startswith(
        "OpenGVLab/InternVL3-1B-hf: model weights not found (not in the Hugging Face cache "
    )
    assert "HF_HUB_OFFLINE is set" in message
    assert "--describer visual" in message and "describer.model=/path" in message
    assert "\n" not in message

    with pytest.raises(ModelUnavailable, match="no such folder"):
        VLMDescriber.from_pretrained(str(tmp_path / "nowhere" / "model"))
    with pytest.raises(ModelUnavailable, match="holds no loadable model"):
        VLMDescriber.from_pretrained(str(tmp_path))


def test_not_an_image_text_to_text_model(tmp_path):
    from tiny.vlm import make_tiny_tokenizer
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = make_tiny_tokenizer()
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=1, intermediate_size=32)  # fmt: skip
    Qwen2ForCausalLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="not a usable image-text-to-text model"):
        VLMDescriber.from_pretrained(str(tmp_path))


runner = CliRunner()


def test_cli_describe(tiny_vlm, media, monkeypatch):
    result = runner.invoke(
        app, ["describe", "--text", "a sad piano piece at 70 bpm in D minor", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["mood"], data["tempo_bpm"], data["key"], data["mode"]) == (
        ["sad"],
        70.0,
        "D",
        "minor",
    )

    result = runner.invoke(
        app, ["describe", "--video", str(media["video"]), "--image", str(media["image"])]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(("A ", "An ")) and "BPM" in lines[0]
    assert any(line.split()[:1] == ["tempo_bpm"] for line in lines)

    result = runner.invoke(app, ["describe"])
    assert (
        result.exit_code == 2 and "give at least one of --video, --image or --text" in result.stderr
    )

    args = [
        "describe",
        "--video",
        str(media["video"]),
        "--describer",
        "vlm",
        "--frames",
        "2",
        "--json",
    ]
    result = runner.invoke(
        app, [*args, "--model", str(tiny_vlm), "--set", "describer.max_new_tokens=4"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"] == f"vlm:{tiny_vlm}"

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(
        "error: OpenGVLab/InternVL3-1B-hf: model weights not found (not in the Hugging Face cache"
    )
    assert "--describer visual" in result.stderr
