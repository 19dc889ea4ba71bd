"""``vmb train adapter`` on a tiny random MusicGen and eight generated clips.

What is checked: the loss goes down; the saved adapter is what the generator loads; it changes
generation only through the music bridge (``music_weight = 0`` gives the base model's codes);
the teacher-forced training forward is the generator's music row; ``--resume`` continues the
same loss curve; the music bridge never comes from the clip's own track.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from vmb.train.adapter import AdapterTrainingArgs, train_adapter

STEPS = 30


def _args(clips, clips_index, tiny_musicgen, out, **changes) -> AdapterTrainingArgs:
    settings = {
        "data": str(clips), "index": str(clips_index), "base": str(tiny_musicgen), "out": str(out), "steps": STEPS,
        "batch_size": 4, "lr": 1e-2, "warmup_steps": 0, "segment_s": 1.0, "eval_fraction": 0.125, "eval_every": 10,
        "save_every": 10, "seed": 0, "device": "cpu", "progress": False,
    }  # fmt: skip
    settings.update(changes)
    return AdapterTrainingArgs(**settings)


@pytest.fixture(scope="module")
def trained(clips, clips_index, tiny_musicgen, tmp_path_factory):
    out = tmp_path_factory.mktemp("adapters") / "trained"
    return train_adapter(_args(clips, clips_index, tiny_musicgen, out))


def _examples(out):
    from vmb.train.music_examples import load_prepared

    meta = json.loads((out / "prepared" / "examples.json").read_text())
    return load_prepared(out / "prepared", meta["key"])[0]


def _bridges(index_path, example, music_weight=1.0, text_weight=3.0):
    from vmb.retrieve import MusicIndex
    from vmb.types import Bridges, Hit, MusicDescription

    index = MusicIndex.load(index_path)
    row = next(i for i in range(len(index)) if index.clip(i).id == example.reference)
    hit = Hit(clip=index.clip(row), score=1.0, rank=1, track="broad")
    return Bridges(MusicDescription(text=example.caption), example.caption, (hit,), text_weight=text_weight,
                   music_weight=music_weight)  # fmt: skip


def _codes(generator, bridges, **kwargs) -> torch.Tensor:
    """The codes the generator samples (captured at its codec decode)."""
    captured = []
    decode = generator.decode_codes

    def capture(codes):
        captured.append(codes.clone())
        return decode(codes)

    generator.decode_codes = capture
    try:
        generator.generate(bridges, duration_s=0.4, seed=7, **kwargs)
    finally:
        generator.decode_codes = decode
    return torch.cat(captured, dim=1)


def test_training_lowers_the_loss_and_trains_only_the_adapter(trained):
    losses = trained.state.losses
    assert trained.state.step == STEPS and len(losses) == STEPS
    assert np.mean(losses[-5:]) < 0.7 * losses[0], losses  # down by more than 30 %
    held = dict(trained.state.eval_losses)
    assert sorted(held) == [0, 10, 20, 30]
    assert held[30] < 0.7 * held[0], held  # the held-out track's loss goes down too
    assert (trained.train_examples, trained.held_out_examples) == (7, 1)
    assert 0 < trained.trainable_parameters < trained.total_parameters
    assert trained.tokens_per_second > 0
    out = trained.out
    assert {p.name for p in out.iterdir()} >= {
        "adapter_config.json", "adapter_model.safetensors", "training_args.json", "trainer_state.json",
        "checkpoints", "prepared",
    }  # fmt: skip
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["state"]["losses"] == pytest.approx(losses) and state["steps"] == STEPS
    # The weights file holds the adapter's tensors and nothing of the frozen base.
    from safetensors.torch import load_file

    tensors = load_file(str(out / "adapter_model.safetensors"))
    assert sum(t.numel() for t in tensors.values()) == trained.trainable_parameters
    assert {k.split(".")[0] for k in tensors} == {"reference_tokens", "control"}
    assert float(tensors["reference_tokens.gates"].abs().max()) > 0  # the zero gates opened


def test_trained_adapter_changes_generation_only_through_the_music_bridge(trained, clips_index, tiny_musicgen):
    from vmb.generate.musicgen import MusicGenGenerator
    from vmb.generate.musicgen.adapters import create_adapter

    example = _examples(trained.out)[0]
    base = MusicGenGenerator.from_pretrained(tiny_musicgen, device="cpu")
    tuned = MusicGenGenerator.from_pretrained(tiny_musicgen, device="cpu", adapter=trained.out)
    assert any("adapter loaded" in note for note in tuned.notes)
    bridges = _bridges(clips_index, example)
    base_codes = _codes(base, bridges)
    assert not torch.equal(_codes(tuned, bridges), base_codes)
    assert torch.equal(_codes(tuned, bridges, music_weight=0.0), base_codes)
    # An untrained (zero-initialised) adapter changes nothing: the difference is the training.
    fresh = MusicGenGenerator.from_pretrained(tiny_musicgen, device="cpu", adapter=create_adapter(base.model))
    assert torch.equal(_codes(fresh, bridges), base_codes)


def test_teacher_forcing_is_the_generators_music_row(trained, clips_index, tiny_musicgen):
    """Greedy generation with only the music row (w_text = w_music = 1) picks, at every position,
    the arg-max of the training forward's logits for the generated codes."""
    import dataclasses

    from vmb.generate.musicgen import MusicGenGenerator
    from vmb.train.adapter import AdapterObjective
    from vmb.train.teacher_forcing import IGNORE_INDEX, MusicBridgeForward

    example = _examples(trained.out)[0]
    tuned = MusicGenGenerator.from_pretrained(tiny_musicgen, device="cpu", adapter=trained.out)
    codes = _codes(tuned, _bridges(clips_index, example, 1.0, 1.0), top_k=0, temperature=0.0)
    batch = AdapterObjective(tuned, tuned.adapter).batch([dataclasses.replace(example, target=codes)])
    valid = batch.labels != IGNORE_INDEX
    with torch.no_grad():
        picked = MusicBridgeForward(tuned.model, tuned.adapter)(batch).argmax(-1)
        base_picked = MusicBridgeForward(tuned.model, None)(batch).argmax(-1)
    assert int(valid.sum()) == 4 * 20
    assert torch.equal(picked[valid], batch.labels[valid])
    assert not torch.equal(base_picked[valid], batch.labels[valid])


def test_training_retrieval_never_returns_the_clips_own_track(trained, clips, clips_index):
    from vmb.retrieve import MusicIndex, Retriever

    examples = _examples(trained.out)
    assert len(examples) == 8
    for example in examples:
        assert example.reference_track != example.track
        assert not example.reference.startswith(example.track)
    # Without the rule the broad track would return the clip's own track for every caption.
    retriever = Retriever(MusicIndex.load(clips_index), allow_same_track=False, device="cpu")
    own_first = [retriever.search(e.caption, k_broad=1, k_targeted=0)[0].clip.track_id == e.track for e in examples]
    assert all(own_first)


def test_resume_continues_the_uninterrupted_loss_curve(trained, clips, clips_index, tiny_musicgen, tmp_path):
    full_out, part_out = tmp_path / "full", tmp_path / "part"
    for out in (full_out, part_out):  # the same examples (the cache's key checks they fit)
        shutil.copytree(trained.out / "prepared", out / "prepared")
    args = {"steps": 20, "save_every": 0, "eval_every": 0}
    full = train_adapter(_args(clips, clips_index, tiny_musicgen, full_out, **args))
    stopped = train_adapter(_args(clips, clips_index, tiny_musicgen, part_out, stop_at=10, **args))
    assert stopped.state.step == 10 and not (part_out / "adapter_model.safetensors").exists()
    resumed = train_adapter(_args(clips, clips_index, tiny_musicgen, part_out, resume=True, **args))
    assert resumed.state.step == 20
    assert resumed.state.losses == pytest.approx(full.state.losses, abs=1e-6)
    assert resumed.notes[-1].endswith("(step 10)")
    from safetensors.torch import load_file

    a = load_file(str(full_out / "adapter_model.safetensors"))
    b = load_file(str(part_out / "adapter_model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_melody_model_reference_tokens_train_and_match_generation(clips, clips_index, tmp_path):
    """MusicGen-Melody: the text and the reference's chroma are a decoder prefix; reference
    tokens attend from its self-attention. A few steps, then the greedy-generation check."""
    import dataclasses

    from tiny.musicgen import build_tiny_musicgen
    from train.train_data import widen_output_heads

    from vmb.generate.musicgen import MusicGenGenerator
    from vmb.train.adapter import AdapterObjective
    from vmb.train.teacher_forcing import IGNORE_INDEX, MusicBridgeForward

    melody = widen_output_heads(build_tiny_musicgen(tmp_path / "melody", melody=True))
    result = train_adapter(_args(clips, clips_index, melody, tmp_path / "out", mechanism="tokens", steps=8,
                                 eval_every=0, save_every=0, eval_fraction=0.0))  # fmt: skip
    assert result.state.losses[-1] < result.state.losses[0]
    config = json.loads((tmp_path / "out" / "adapter_config.json").read_text())
    assert (config["model_type"], config["reference_tokens"], config["control_layers"]) == ("musicgen_melody", True, 0)

    example = _examples(tmp_path / "out")[1]
    assert example.ref_chroma is not None and example.ref_chroma.shape[-1] == 12
    tuned = MusicGenGenerator.from_pretrained(melody, device="cpu", adapter=tmp_path / "out")
    codes = _codes(tuned, _bridges(clips_index, example, 1.0, 1.0), top_k=0, temperature=0.0)
    batch = AdapterObjective(tuned, tuned.adapter).batch([dataclasses.replace(example, target=codes)])
    valid = batch.labels != IGNORE_INDEX
    with torch.no_grad():
        picked = MusicBridgeForward(tuned.model, tuned.adapter)(batch).argmax(-1)
    assert torch.equal(picked[valid], batch.labels[valid])


def test_bad_settings_and_outputs(clips, clips_index, tiny_musicgen, trained, tmp_path):
    from vmb.errors import ConfigError, IndexFileError, UsageError

    def run(**changes):
        return train_adapter(_args(clips, clips_index, tiny_musicgen, tmp_path / "new", **changes))

    with pytest.raises(UsageError, match="--mechanism 'lora' is not one of"):
        run(mechanism="lora")
    with pytest.raises(UsageError, match="--text-dropout 1.5: must be in"):
        run(text_dropout=1.5)
    with pytest.raises(UsageError, match="already holds a training run"):
        train_adapter(_args(clips, clips_index, tiny_musicgen, trained.out))
    with pytest.raises(UsageError, match="holds no checkpoint"):
        run(resume=True)
    with pytest.raises(IndexFileError, match="no-index"):
        run(index=str(tmp_path / "no-index"))
    with pytest.raises(ConfigError, match="needs an index built with CLAP"):
        run(embedding_source="clap")
    with pytest.raises(ConfigError, match="the run was started with lr = 0.01"):
        train_adapter(_args(clips, clips_index, tiny_musicgen, trained.out, resume=True, lr=0.5, steps=31))


def test_bf16_autocast_steps_run(trained, clips, clips_index, tiny_musicgen, tmp_path):
    """``--precision bf16`` (CPU autocast): the adapter path runs and stays finite."""
    out = tmp_path / "bf16"
    shutil.copytree(trained.out / "prepared", out / "prepared")
    result = train_adapter(_args(clips, clips_index, tiny_musicgen, out, precision="bf16", steps=3, eval_every=0,
                                 save_every=0))  # fmt: skip
    assert result.state.step == 3 and all(np.isfinite(result.state.losses))
    assert json.loads((out / "training_args.json").read_text())["precision"] == "bf16"
