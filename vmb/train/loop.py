"""The training loop both trainers share: seeding, learning rate, checkpoints, resume, held-out
loss, progress.

A checkpoint is a folder ``<out>/checkpoints/step-000010/``:

* ``trainable.safetensors`` — the trainable tensors by parameter name;
* ``optimizer.safetensors`` + ``optimizer.json`` — the optimizer's state tensors
  (``state.<param index>.<name>``) and the rest of its state dict (param groups, scalars);
* ``trainer_state.json`` — :class:`TrainState` (step, loss curve, held-out losses, tokens,
  the grad scaler's state) and the training arguments.

Nothing is unpickled. A checkpoint folder is written under a temporary name and renamed when
complete, so a crash never leaves a half checkpoint that ``--resume`` would pick.

Determinism: every step reseeds torch with :func:`step_seed` ``(seed, step)`` before it draws its
batch and dropout masks, and the learning rate is a function of the step alone, so a run
resumed at step ``n`` continues with exactly the steps an uninterrupted run would take.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmb.errors import ConfigError
from vmb.fileio import atomic_folder, atomic_write_json

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
TRAINABLE_FILE = "trainable.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
OPTIMIZER_META = "optimizer.json"
STATE_FILE = "trainer_state.json"
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class TrainState:
    """Where a run is: ``step`` steps done; ``losses[i]`` the training loss of step ``i + 1``;
    ``eval_losses`` ``[(step, loss)]``; ``tokens`` target tokens seen; ``scaler`` the fp16
    grad scaler's state (``{}`` otherwise)."""

    step: int = 0
    losses: list[float] = field(default_factory=list)
    eval_losses: list[tuple[int, float]] = field(default_factory=list)
    tokens: int = 0
    train_seconds: float = 0.0
    scaler: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["eval_losses"] = [[int(s), float(v)] for s, v in self.eval_losses]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainState:
        return cls(
            step=int(data.get("step", 0)),
            losses=[float(v) for v in data.get("losses", [])],
            eval_losses=[(int(s), float(v)) for s, v in data.get("eval_losses", [])],
            tokens=int(data.get("tokens", 0)),
            train_seconds=float(data.get("train_seconds", 0.0)),
            scaler=dict(data.get("scaler") or {}),
        )


@dataclass(frozen=True)
class StepOutput:
    """What one step's loss function returns: the mean loss (a scalar tensor with grad) and the
    number of target tokens it covered."""

    loss: torch.Tensor
    tokens: int


# ------------------------------------------------------------------ seeding, lr, precision


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def step_seed(seed: int, step: int) -> int:
    """The seed of step ``step`` (0-based) of a run seeded with ``seed``."""
    return (int(seed) * 1_000_003 + int(step) * 7_919 + 17) % 2**63


def learning_rate(step: int, lr: float, warmup_steps: int) -> float:
    """Linear warm-up over ``warmup_steps``, then constant: a function of the step alone, so
    that a resumed run and a longer run (more ``--steps``) keep the same curve."""
    if warmup_steps > 0 and step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    return lr


def resolve_precision(precision: str, device: str) -> str:
    """``auto`` → ``bf16`` on a CUDA GPU that has it, ``fp16`` on other GPUs, ``fp32`` on CPU.

    Raises:
        ConfigError: an unknown precision, or ``fp16`` on the CPU (no fp16 autocast there).
    """
    import torch

    if precision not in PRECISIONS:
        raise ConfigError(f"--precision {precision!r} is not one of: {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.startswith("cuda"):
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if precision == "fp16" and not device.startswith("cuda"):
        raise ConfigError(f"--precision fp16 needs a CUDA GPU (device is {device}); use bf16 or fp32")
    return precision


def autocast(precision: str, device: str):
    """The autocast context of ``precision`` (a no-op for ``fp32``)."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


# ------------------------------------------------------------------ checkpoints


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def optimizer_tensors(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into safetensors-ready tensors and a JSON-ready rest."""
    import torch

    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state_dict["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{index}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(index), {})[name] = _json_value(value)
    meta = {"param_groups": _json_value(state_dict["param_groups"]), "scalars": scalars}
    return tensors, meta


def optimizer_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`optimizer_tensors`."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    groups = []
    for group in meta["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}


def checkpoint_name(step: int) -> str:
    return f"step-{step:06d}"


def save_checkpoint(
    out: str | os.PathLike,
    trainable: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    args: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write ``<out>/checkpoints/step-NNNNNN/`` (see the module docstring) and keep only the
    newest ``keep`` checkpoints. Returns the checkpoint folder."""
    from safetensors.torch import save_file

    final = Path(out) / CHECKPOINTS / checkpoint_name(state.step)
    with atomic_folder(final) as work:
        weights = {k: v.detach().contiguous().cpu() for k, v in trainable.items()}
        save_file(weights, str(work / TRAINABLE_FILE), metadata={"format": "pt"})
        tensors, meta = optimizer_tensors(optimizer.state_dict())
        save_file(tensors, str(work / OPTIMIZER_FILE), metadata={"format": "pt"})
        atomic_write_json(work / OPTIMIZER_META, meta, indent=1)
        atomic_write_json(work / STATE_FILE, {"state": state.to_dict(), "args": _json_value(args)}, indent=1)
    for old in list_checkpoints(out)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(out: str | os.PathLike) -> list[Path]:
    """Complete checkpoint folders of a run, oldest first."""
    root = Path(out) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-") and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: p.name)


@dataclass
class Checkpoint:
    """A loaded checkpoint."""

    path: Path
    trainable: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    state: TrainState
    args: dict[str, Any]


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint folder written by :func:`save_checkpoint`.

    Raises:
        ConfigError: a file is missing or unreadable.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(path)
    try:
        trainable = load_file(str(folder / TRAINABLE_FILE))
        tensors = load_file(str(folder / OPTIMIZER_FILE))
        meta = json.loads((folder / OPTIMIZER_META).read_text(encoding="utf-8"))
        data = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, SafetensorError, ValueError) as exc:
        raise ConfigError(f"{folder}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    return Checkpoint(folder, trainable, optimizer_state(tensors, meta), TrainState.from_dict(data["state"]),
                      data.get("args", {}))  # fmt: skip


def restore_trainable(named: dict[str, torch.nn.Parameter], tensors: dict[str, torch.Tensor], source: str) -> None:
    """Copy checkpoint tensors into the trainable parameters, which must match by name and shape."""
    import torch

    missing = sorted(set(named) - set(tensors))
    unexpected = sorted(set(tensors) - set(named))
    if missing or unexpected:
        name = (missing or unexpected)[0]
        raise ConfigError(f"{source}: checkpoint does not fit this run (tensor {name!r} "
                          f"{'missing' if missing else 'unexpected'}); train into a new --out")  # fmt: skip
    with torch.no_grad():
        for name, parameter in named.items():
            value = tensors[name]
            if value.shape != parameter.shape:
                raise ConfigError(f"{source}: tensor {name!r} has shape {tuple(value.shape)}, "
                                  f"the run needs {tuple(parameter.shape)}")  # fmt: skip
            parameter.copy_(value.to(parameter.device, parameter.dtype))


def check_resume_args(saved: dict[str, Any], current: dict[str, Any], keys: tuple[str, ...], source: str) -> None:
    """Resuming with other settings for ``keys`` would not continue the same run."""
    for key in keys:
        if key in saved and _json_value(saved[key]) != _json_value(current.get(key)):
            raise ConfigError(
                f"{source}: the run was started with {key} = {saved[key]!r}, not {current.get(key)!r}; "
                "resume with the same settings or train into a new --out"
            )


ARGS_FILE = "training_args.json"


def begin_run(
    out: Path,
    resume: bool,
    optimizer: torch.optim.Optimizer,
    named: dict[str, torch.nn.Parameter],
    settings: dict[str, Any],
    resume_keys: tuple[str, ...],
) -> tuple[TrainState, Path | None]:
    """Start a run in ``out``, or continue its newest checkpoint when ``resume``.

    On resume the trainable tensors and the optimizer state are restored (after checking that
    ``resume_keys`` match). ``settings`` are written to ``out/training_args.json``. Returns the
    state to start from and the checkpoint it came from (``None`` for a fresh run).
    """
    state, source = TrainState(), None
    if resume:
        checkpoint = load_checkpoint(list_checkpoints(out)[-1])
        check_resume_args(checkpoint.args, settings, resume_keys, str(checkpoint.path))
        restore_trainable(named, checkpoint.trainable, str(checkpoint.path))
        optimizer.load_state_dict(checkpoint.optimizer)
        state, source = checkpoint.state, checkpoint.path
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / ARGS_FILE, settings)
    return state, source


# ------------------------------------------------------------------ progress


class _Bar:
    """Updates a rich progress task with the loss and the throughput."""

    def __init__(self, bar, task, unit: str):
        self.bar, self.task, self.unit = bar, task, unit
        self.started = time.perf_counter()
        self.tokens = 0

    def update(self, loss: float | None = None, tokens: int = 0, advance: int = 1, **fields: Any) -> None:
        self.tokens += tokens
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        info = []
        if loss is not None:
            info.append(f"loss {loss:.4f}")
        if self.tokens:
            info.append(f"{self.tokens / elapsed:,.0f} {self.unit}/s")
        info += [f"{k} {v}" for k, v in fields.items() if v is not None]
        if self.bar is not None:
            self.bar.update(self.task, advance=advance, info="  ".join(info))


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, label: str, unit: str = "tokens", start: int = 0) -> Iterator[_Bar]:
    """A rich progress bar on stderr (``enabled``) whose ``update(loss=, tokens=)`` shows the
    loss and tokens per second; a silent one otherwise."""
    if not enabled:
        yield _Bar(None, None, unit)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"), console=Console(stderr=True), transient=False,
    ) as bar:  # fmt: skip
        task = bar.add_task(label, total=total, completed=start, info="")
        yield _Bar(bar, task, unit)


# ------------------------------------------------------------------ the loop


@dataclass
class LoopSettings:
    """How :func:`run_loop` runs: ``steps`` in all, learning rate ``lr`` after ``warmup_steps``,
    gradient clipping at ``grad_clip`` (0: none), a held-out loss every ``eval_every`` steps
    (0: only at the end), a checkpoint every ``save_every`` steps (0: only at the end),
    ``stop_at`` to end this call early (as an interrupt would) with a checkpoint."""

    steps: int
    lr: float
    seed: int = 0
    warmup_steps: int = 0
    grad_clip: float = 1.0
    eval_every: int = 0
    save_every: int = 0
    keep_checkpoints: int = 2
    precision: str = "fp32"
    device: str = "cpu"
    progress: bool = True
    label: str = "training"
    stop_at: int | None = None

    @classmethod
    def from_args(cls, args: Any, precision: str, device: str, label: str) -> LoopSettings:
        """From a trainer's arguments (``steps``, ``lr``, ``seed``, ``warmup``, ``grad_clip``,
        ``eval_every``, ``save_every``, ``keep_checkpoints``, ``progress``, ``stop_at``)."""
        return cls(
            steps=args.steps, lr=args.lr, seed=args.seed, warmup_steps=args.warmup,
            grad_clip=args.grad_clip, eval_every=args.eval_every, save_every=args.save_every,
            keep_checkpoints=args.keep_checkpoints, precision=precision, device=device,
            progress=args.progress, label=label, stop_at=args.stop_at,
        )  # fmt: skip


def run_loop(
    settings: LoopSettings,
    state: TrainState,
    parameters: list[torch.nn.Parameter],
    optimizer: torch.optim.Optimizer,
    step_loss: Callable[[int], StepOutput],
    evaluate: Callable[[], float] | None,
    checkpoint: Callable[[TrainState], Any],
    on_step: Callable[[TrainState], None] | None = None,
) -> TrainState:
    """Run steps ``state.step`` … ``settings.steps - 1``.

    ``step_loss(step)`` computes one step's loss (it draws its own batch; the global torch seed
    is already :func:`step_seed`); ``evaluate()`` the held-out loss (also before the first
    step, recorded as step 0); ``checkpoint(state)`` saves.

    Ctrl-C (SIGINT, in the main thread) lets the running step finish, saves a checkpoint of it
    and then raises ``KeyboardInterrupt``: a checkpoint never holds half an optimizer update. A
    second Ctrl-C interrupts at once (the last checkpoint stays the one to resume from).
    """
    import torch

    scaler = torch.amp.GradScaler(settings.device.split(":")[0], enabled=settings.precision == "fp16")
    if state.scaler and settings.precision == "fp16":
        scaler.load_state_dict(state.scaler)
    end = settings.steps if settings.stop_at is None else min(settings.steps, settings.stop_at)
    saved_step = state.step
    with _deferred_interrupt() as interrupted:
        saved_step = _steps(settings, state, parameters, optimizer, step_loss, evaluate, checkpoint, on_step,
                            scaler, end, saved_step, interrupted)  # fmt: skip
    if state.step > saved_step:
        checkpoint(state)
    if interrupted():
        logger.warning("interrupted after step %d: checkpoint saved; --resume continues", state.step)
        raise KeyboardInterrupt
    return state


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """While active, the first SIGINT only sets a flag (yielded as a function); the second
    raises ``KeyboardInterrupt`` as usual. Outside the main thread nothing changes."""
    import signal
    import threading

    flag = {"set": False}
    if threading.current_thread() is not threading.main_thread():
        yield lambda: flag["set"]
        return

    def handler(signum, frame):
        if flag["set"]:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        flag["set"] = True
        logger.warning("interrupt: finishing the current step and saving a checkpoint (Ctrl-C again to stop now)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: flag["set"]
    finally:
        signal.signal(signal.SIGINT, previous)


def _steps(settings, state, parameters, optimizer, step_loss, evaluate, checkpoint, on_step, scaler, end,
           saved_step, interrupted) -> int:  # fmt: skip
    """The steps of :func:`run_loop`; returns the step of the last checkpoint written."""
    import torch

    if evaluate is not None and state.step == 0 and not state.eval_losses:
        state.eval_losses.append((0, float(evaluate())))  # the held-out loss before training
    with progress_bar(settings.progress, settings.steps, settings.label, start=state.step) as bar:
        while state.step < end and not interrupted():
            step = state.step
            torch.manual_seed(step_seed(settings.seed, step))
            lr = learning_rate(step, settings.lr, settings.warmup_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            started = time.perf_counter()
            out = step_loss(step)
            if not torch.isfinite(out.loss.detach()):
                raise ConfigError(f"step {step + 1}: the training loss is {out.loss.item()}; lower --lr, or train "
                                  "in --precision fp32")  # fmt: skip
            scaler.scale(out.loss).backward()
            if settings.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(parameters, settings.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            state.step += 1
            state.losses.append(float(out.loss.detach()))
            state.tokens += int(out.tokens)
            state.train_seconds += time.perf_counter() - started
            state.scaler = scaler.state_dict() if settings.precision == "fp16" else {}
            eval_loss = None
            last = state.step == settings.steps
            if evaluate is not None and (last or settings.eval_every and state.step % settings.eval_every == 0):
                eval_loss = float(evaluate())
                state.eval_losses.append((state.step, eval_loss))
            if on_step is not None:
                on_step(state)
            bar.update(loss=state.losses[-1], tokens=out.tokens,
                       held_out=f"{eval_loss:.4f}" if eval_loss is not None else None)  # fmt: skip
            if settings.save_every and state.step % settings.save_every == 0 and not last:
                checkpoint(state)
                saved_step = state.step
    return saved_step


__all__ = [
    "Checkpoint",
    "LoopSettings",
    "StepOutput",
    "TrainState",
    "autocast",
    "check_resume_args",
    "learning_rate",
    "list_checkpoints",
    "load_checkpoint",
    "optimizer_state",
    "optimizer_tensors",
    "progress_bar",
    "resolve_precision",
    "restore_trainable",
    "run_loop",
    "save_checkpoint",
    "seed_everything",
    "step_seed",
]
