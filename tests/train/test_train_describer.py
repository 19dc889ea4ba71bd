"""``vmb train describer``: LoRA (peft) on a tiny random InternVL, then ``vmb describe``."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from vmb.cli import app
from vmb.train.describer import (
    DescriberObjective,
    DescriberTrainingArgs,
    read_examples,
    train_describer,
)

STEPS = 12


@pytest.fixture(scope="module")
def image_pairs(tmp_path_factory):
    """Four coloured images with tags (no written description: targets come from the tags)."""
    from train.train_data import CLIPS

    from vmb.testing import make_image

    folder = tmp_path_factory.mktemp("image_pairs")
    colours = [(200, 40, 40), (40, 60, 200), (30, 160, 60), (220, 200, 40)]
    rows = []
    for (name, _chord, bpm, _caption, tags), colour in zip(CLIPS[:4], colours):
        make_image(folder / f"{name}.png", size=(56, 56), colour=colour)
        rows.append({"image": f"{name}.png", "tempo_bpm": bpm, "key": "D minor", **tags})
    manifest = folder / "pairs.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


@pytest.fixture(scope="module")
def trained_describer(image_pairs, tiny_vlm, tmp_path_factory):
    out = tmp_path_factory.mktemp("describers") / "mine"
    args = DescriberTrainingArgs(data=str(image_pairs), base=str(tiny_vlm), out=str(out), steps=STEPS, batch_size=2,
                                 lr=5e-3, lora_rank=8, warmup_steps=0, eval_fraction=0.25, eval_every=6,
                                 save_every=6, num_frames=2, device="cpu", progress=False)  # fmt: skip
    return train_describer(args)


def test_lora_training_lowers_the_loss_on_the_target_json(trained_describer, image_pairs):
    result = trained_describer
    losses = result.state.losses
    assert result.state.step == STEPS and losses[-1] < 0.8 * losses[0], losses
    held = dict(result.state.eval_losses)
    assert sorted(held) == [0, 6, 12] and held[12] < held[0]
    assert (result.train_examples, result.held_out_examples) == (3, 1)
    assert 0 < result.trainable_parameters < 0.2 * result.total_parameters
    out = result.out
    assert (out / "lora" / "adapter_config.json").is_file() and (out / "lora" / "adapter_model.safetensors").is_file()
    assert json.loads((out / "lora" / "adapter_config.json").read_text())["r"] == 8
    targets = [json.loads(e.target) for e in read_examples(image_pairs)]
    assert targets[0]["genre"] == "ambient" and targets[0]["key"] == "D" and targets[0]["mode"] == "minor"


def test_merged_model_is_the_lora_model_and_runs_through_vmb_describe(trained_describer, image_pairs, tiny_vlm):
    from peft import PeftModel

    from vmb.describe.vlm import VLMDescriber

    out = trained_describer.out
    merged = VLMDescriber.from_pretrained(str(out), device="cpu", num_frames=2, max_new_tokens=12)
    base = VLMDescriber.from_pretrained(str(tiny_vlm), device="cpu", num_frames=2)
    lora = PeftModel.from_pretrained(base.model, str(out / "lora")).eval()
    objective = DescriberObjective(merged)
    items = [objective.encode(e, 2) for e in read_examples(image_pairs)]
    with torch.no_grad():
        merged_loss, tokens = objective.loss_sum(merged.model, items)
        lora_loss, _ = objective.loss_sum(lora, items)
        with lora.disable_adapter():
            base_loss, _ = objective.loss_sum(lora, items)
    assert float(merged_loss) == pytest.approx(float(lora_loss), rel=1e-4)
    assert float(merged_loss) / tokens < 0.8 * float(base_loss) / tokens  # the fine-tuned describer fits the targets

    image = str(image_pairs.parent / "calm_piano.png")
    result = CliRunner().invoke(app, ["describe", "--describer", "vlm", "--model", str(out), "--image", image, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"] == f"vlm:{out}"


def test_cli_trains_on_a_pairs_dataset_and_resumes(tiny_vlm, tmp_path):
    """Video pairs from ``vmb data pairs`` (frames + JSON targets); a stopped run resumes."""
    from train.train_data import write_videos

    from vmb.train.data import make_pairs

    data = tmp_path / "pairs"
    make_pairs(write_videos(tmp_path / "videos", count=2, seconds=1.0), data, num_frames=3, max_side=56, progress=False)
    out = tmp_path / "describer"
    common = {"data": str(data), "base": str(tiny_vlm), "out": str(out), "steps": 4, "batch_size": 1, "lr": 5e-3, "lora_rank": 4,
                  "warmup_steps": 0, "eval_fraction": 0.0, "save_every": 2, "num_frames": 2, "device": "cpu", "progress": False}  # fmt: skip
    stopped = train_describer(DescriberTrainingArgs(**common, stop_at=2))
    assert stopped.state.step == 2 and not (out / "lora").exists()
    command = ["train", "describer", "--data", str(data), "--base", str(tiny_vlm), "--out", str(out), "--steps", "4",
               "--batch-size", "1", "--lr", "0.005", "--lora-rank", "4", "--eval-fraction", "0", "--save-every", "2",
               "--frames", "2", "--device", "cpu", "--no-merge", "--json"]  # fmt: skip
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2 and "pass --resume" in result.stderr
    result = CliRunner().invoke(app, [*command, "--resume"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["steps"] == 4 and report["first_loss"] == pytest.approx(stopped.state.losses[0])
    full = train_describer(DescriberTrainingArgs(**{**common, "out": str(tmp_path / "full")}))
    resumed = json.loads((out / "trainer_state.json").read_text())["state"]["losses"]
    assert resumed == pytest.approx(full.state.losses, abs=1e-6)
    assert (out / "lora" / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()


def test_read_examples_from_a_video_manifest(tmp_path, caplog):
    from vmb.errors import UsageError
    from vmb.testing import make_video

    make_video(tmp_path / "a.mp4", seconds=1.0, fps=12, size=(64, 48))
    (tmp_path / "pairs.csv").write_text(
        "video,description,genre\n"
        "a.mp4,sad piano at 70 bpm in D minor,\n"
        "a.mp4,,\n"  # neither a description nor tags: skipped with a warning
        "a.mp4,,rock\n"
    )
    examples = read_examples(tmp_path / "pairs.csv")
    assert [e.kind for e in examples] == ["video", "video"]
    assert json.loads(examples[0].target)["tempo_bpm"] == 70 and json.loads(examples[1].target)["genre"] == "rock"
    assert "no description and no tags" in caplog.text
    media = examples[0].media(3)
    assert media.frames.shape[0] == 3 and len(media.timestamps) == 3
    (tmp_path / "bad.jsonl").write_text('{"video": "a.mp4"}\n')
    with pytest.raises(UsageError, match="no usable"):
        read_examples(tmp_path / "bad.jsonl")
    with pytest.raises(UsageError, match="not a saved dataset folder or a .csv/.jsonl manifest"):
        read_examples(tmp_path / "a.mp4")
