"""What the trainers (:mod:`vmb.train.adapter`, :mod:`vmb.train.describer`) share around the
loop of :mod:`vmb.train.loop`: checking their arguments and the run folder before any work,
and the result they return."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmb.errors import UsageError
from vmb.train.loop import TrainState, list_checkpoints, resolve_precision, seed_everything

# the range rules of the trainers' numeric options; the key is also the message's wording
_RANGES: dict[str, Callable[[Any], bool]] = {
    "at least 1": lambda value: int(value) >= 1,
    "in [0, 1)": lambda value: 0.0 <= value < 1.0,
    "0 or more": lambda value: not value < 0,
}


def check_range(args: Any, names: tuple[str, ...], rule: str) -> None:
    """Raise :class:`UsageError` for the first of the options ``names`` (attributes of a
    trainer's arguments) outside ``rule`` (a key of :data:`_RANGES`), naming it as on the command
    line: ``--eval-every -1: must be 0 or more``."""
    for name in names:
        value = getattr(args, name)
        if not _RANGES[rule](value):
            raise UsageError(f"--{name.replace('_', '-')} {value}: must be {rule}")


def start_run(args: Any, result_name: str) -> tuple[Path, str, str]:
    """What every trainer does first: check ``args`` (``args.check()``) and the run folder
    ``args.out``, resolve the device and the precision, seed everything. Returns
    ``(out, device, precision)``.

    Raises:
        UsageError: ``--resume`` where ``out`` holds no checkpoint, or a new run where ``out``
            already holds one (checkpoints, or the trainer's result ``out/result_name``).
        ConfigError: an unknown precision, or one the device cannot run.
    """
    from vmb.hub import resolve_device

    args.check()
    out = Path(args.out).expanduser()
    if args.resume:
        if not list_checkpoints(out):
            raise UsageError(f"--resume: {out} holds no checkpoint to resume from")
    elif out.exists() and (list_checkpoints(out) or (out / result_name).exists()):
        raise UsageError(
            f"{out}: already holds a training run; pass --resume to continue it or choose another --out"
        )
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    seed_everything(args.seed)
    return out, device, precision


@dataclass
class TrainingResult:
    """What a trainer did (the adapter and describer trainers return subclasses): the folder it
    wrote, the loop's final :class:`~vmb.train.loop.TrainState`, the split and the parameter
    counts."""

    out: Path
    state: TrainState
    train_examples: int
    held_out_examples: int
    trainable_parameters: int
    total_parameters: int
    notes: list[str] = field(default_factory=list)

    @property
    def trainable_share(self) -> float:
        return self.trainable_parameters / max(1, self.total_parameters)

    def to_dict(self) -> dict[str, Any]:
        losses = self.state.losses
        return {
            "out": str(self.out),
            "steps": self.state.step,
            "first_loss": losses[0] if losses else None,
            "final_loss": losses[-1] if losses else None,
            "eval_losses": [[s, v] for s, v in self.state.eval_losses],
            "train_examples": self.train_examples,
            "held_out_examples": self.held_out_examples,
            "trainable_parameters": self.trainable_parameters,
            "total_parameters": self.total_parameters,
            "trainable_share": self.trainable_share,
            "notes": list(self.notes),
        }
