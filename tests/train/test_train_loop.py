"""The shared training loop: checkpoints with optimizer state, resume, schedule, precision."""

from __future__ import annotations

import os
import signal

import pytest
import torch

from vmb.errors import ConfigError
from vmb.train import loop
from vmb.train.adapter import batch_indices, split_by_track


def _toy(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.2), torch.nn.Linear(8, 1))
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2)


def _run(out, steps: int, stop_at=None, resume: bool = False, interrupt_at=None):
    """A toy regression trained with run_loop; its loss needs the step's seed (data, dropout)."""
    model, optimizer = _toy()
    named = dict(model.named_parameters())
    state = loop.TrainState()
    if resume:
        checkpoint = loop.load_checkpoint(loop.list_checkpoints(out)[-1])
        loop.restore_trainable(named, checkpoint.trainable, "ckpt")
        optimizer.load_state_dict(checkpoint.optimizer)
        state = checkpoint.state

    def step_loss(step):
        if step == interrupt_at:  # Ctrl-C in the middle of a step
            os.kill(os.getpid(), signal.SIGINT)
        x = torch.randn(16, 4)
        y = x.sum(dim=1, keepdim=True)
        return loop.StepOutput(torch.nn.functional.mse_loss(model(x), y), 16)

    def evaluate():
        model.eval()
        with torch.no_grad():
            x = torch.ones(4, 4)
            loss = float(torch.nn.functional.mse_loss(model(x), x.sum(1, keepdim=True)))
        model.train()
        return loss

    settings = loop.LoopSettings(steps=steps, lr=1e-2, seed=3, warmup_steps=4, eval_every=5, save_every=5,
                                 progress=False, stop_at=stop_at)  # fmt: skip
    model.train()
    return loop.run_loop(settings, state, list(named.values()), optimizer, step_loss, evaluate,
                         lambda s: loop.save_checkpoint(out, named, optimizer, s, {"lr": 1e-2}, keep=2))


def test_resume_continues_the_same_loss_curve(tmp_path):
    full = _run(tmp_path / "full", 12)
    part = _run(tmp_path / "part", 12, stop_at=7)
    assert part.step == 7 and [p.name for p in loop.list_checkpoints(tmp_path / "part")] == ["step-000005", "step-000007"]
    resumed = _run(tmp_path / "part", 12, resume=True)
    assert resumed.step == 12 and len(resumed.losses) == 12
    assert resumed.losses == pytest.approx(full.losses, abs=1e-6)
    assert [s for s, _ in resumed.eval_losses] == [0, 5, 10, 12] == [s for s, _ in full.eval_losses]
    assert [v for _, v in resumed.eval_losses] == pytest.approx([v for _, v in full.eval_losses], abs=1e-6)
    assert full.losses[-1] < full.losses[0]
    # Only the newest two checkpoints are kept, each complete.
    assert [p.name for p in loop.list_checkpoints(tmp_path / "full")] == ["step-000010", "step-000012"]
    assert not [p for p in (tmp_path / "full" / "checkpoints").iterdir() if p.name.startswith(".")]


def test_ctrl_c_finishes_the_step_saves_and_resumes_the_same_curve(tmp_path):
    full = _run(tmp_path / "full", 8)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "part", 8, interrupt_at=2)
    assert [p.name for p in loop.list_checkpoints(tmp_path / "part")] == ["step-000003"]
    resumed = _run(tmp_path / "part", 8, resume=True)
    assert resumed.losses == pytest.approx(full.losses, abs=1e-6)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored


def test_optimizer_state_round_trips_through_safetensors(tmp_path):
    model, optimizer = _toy()
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    named = dict(model.named_parameters())
    state = loop.TrainState(step=1, losses=[0.5], eval_losses=[(1, 0.25)], tokens=2)
    folder = loop.save_checkpoint(tmp_path, named, optimizer, state, {"x": (1, 2)})
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [loop.TRAINABLE_FILE, loop.OPTIMIZER_FILE, loop.OPTIMIZER_META, loop.STATE_FILE]
    )
    checkpoint = loop.load_checkpoint(folder)
    _, fresh = _toy(seed=1)
    fresh.load_state_dict(checkpoint.optimizer)
    for a, b in zip(optimizer.state_dict()["state"].values(), fresh.state_dict()["state"].values()):
        for name in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(a[name], b[name])
    assert fresh.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]
    assert checkpoint.state == state and checkpoint.args == {"x": [1, 2]}
    with pytest.raises(ConfigError, match="missing"):
        loop.restore_trainable({**named, "extra": torch.nn.Parameter(torch.zeros(1))}, checkpoint.trainable, "ckpt")
    (folder / loop.OPTIMIZER_FILE).write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="not a readable checkpoint"):
        loop.load_checkpoint(folder)


def test_schedule_precision_batches_and_split():
    assert [loop.learning_rate(s, 1.0, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert loop.resolve_precision("auto", "cpu") == "fp32"
    with pytest.raises(ConfigError, match="fp16 needs a CUDA GPU"):
        loop.resolve_precision("fp16", "cpu")
    with pytest.raises(ConfigError, match="not one of"):
        loop.resolve_precision("fp8", "cpu")
    # Batches: one permutation per epoch, a function of the step alone.
    first = [batch_indices(s, 7, 3, seed=1) for s in range(7)]
    assert first == [batch_indices(s, 7, 3, seed=1) for s in range(7)]
    flat = [i for batch in first for i in batch]
    assert sorted(flat[:7]) == list(range(7)) and sorted(flat[7:14]) == list(range(7))
    assert flat[:7] != flat[7:14]
    # Held-out tracks are whole tracks.
    class E:
        def __init__(self, track):
            self.track = track

    examples = [E(t) for t in "aabbccdd"]
    train, held = split_by_track(examples, 0.25, seed=0)
    assert len({e.track for e in held}) == 1 and not {e.track for e in held} & {e.track for e in train}
    assert split_by_track(examples[:2], 0.5, 0)[1] == []  # one track: nothing to hold out


@pytest.mark.parametrize(
    ("trainer", "change", "message"),
    [
        ("adapter", {"steps": 0}, "--steps 0: must be at least 1"),
        ("adapter", {"music_dropout": 1.0}, "--music-dropout 1.0: must be in [0, 1)"),
        ("adapter", {"weight_decay": -0.5}, "--weight-decay -0.5: must be 0 or more"),
        ("describer", {"num_frames": 0}, "--num-frames 0: must be at least 1"),
        ("describer", {"lora_dropout": -0.1}, "--lora-dropout -0.1: must be in [0, 1)"),
        ("describer", {"save_every": -3}, "--save-every -3: must be 0 or more"),
    ],
)
def test_trainer_options_out_of_range_name_the_option(trainer, change, message):
    from vmb.errors import UsageError
    from vmb.train.adapter import AdapterTrainingArgs
    from vmb.train.describer import DescriberTrainingArgs

    def make(**kwargs):
        if trainer == "adapter":
            return AdapterTrainingArgs("data", "index", "base", "out", **kwargs)
        return DescriberTrainingArgs("data", "base", "out", **kwargs)

    make().check()  # the defaults pass
    with pytest.raises(UsageError) as caught:
        make(**change).check()
    assert str(caught.value) == message
