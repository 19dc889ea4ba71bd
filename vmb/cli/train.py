"""``vmb train adapter`` and ``vmb train describer``: vmb's learned parts.

The work is done by :mod:`vmb.train.adapter` and :mod:`vmb.train.describer`. Heavy imports
happen inside the commands.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from vmb.cli.app import DeviceOpt, JsonOpt, QuietOpt, group, print_json, say, say_notes

train_app = group("Train vmb's learned parts: the music-bridge adapter and the description model.")

StepsOpt = Annotated[int, typer.Option("--steps", help="Optimizer steps in all.")]
LrOpt = Annotated[float, typer.Option("--lr", help="Learning rate (AdamW).")]
PrecisionOpt = Annotated[
    str, typer.Option("--precision", help="auto, fp32, bf16 or fp16 (fp16 on CUDA only).")
]
ResumeOpt = Annotated[
    bool, typer.Option("--resume", help="Continue from the newest checkpoint in --out.")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of batches, dropout and the split.")]
EvalEveryOpt = Annotated[int, typer.Option("--eval-every", help="Steps between held-out losses.")]
SaveEveryOpt = Annotated[int, typer.Option("--save-every", help="Steps between checkpoints.")]


@dataclass(frozen=True)
class StepOptions:
    """How a ``vmb train`` command steps: steps in all, batch size, learning rate, precision,
    resume (each trainer's own defaults). The batch counts the trainer's own examples, which
    each trainer names in its subclass (see :func:`~vmb.cli.app.option_groups`)."""

    steps: StepsOpt
    batch_size: int
    lr: LrOpt
    precision: PrecisionOpt = "auto"
    resume: ResumeOpt = False


@dataclass(frozen=True)
class ClipSteps(StepOptions):
    batch_size: Annotated[int, typer.Option("--batch-size", help="Clips per step.")]


@dataclass(frozen=True)
class PairSteps(StepOptions):
    batch_size: Annotated[int, typer.Option("--batch-size", help="Pairs per step.")]


ADAPTER_STEPS = ClipSteps(steps=1000, batch_size=8, lr=1e-4)
DESCRIBER_STEPS = PairSteps(steps=500, batch_size=2, lr=2e-4)


@dataclass(frozen=True)
class RunOptions:
    """The options every ``vmb train`` command ends with: how often it measures the held-out loss
    and saves (each trainer's own defaults), the seed, the device and the output (see
    :func:`~vmb.cli.app.option_groups`)."""

    eval_every: EvalEveryOpt
    save_every: SaveEveryOpt
    seed: SeedOpt = 0
    device: DeviceOpt = "auto"
    quiet: QuietOpt = False
    as_json: JsonOpt = False


ADAPTER_RUN = RunOptions(eval_every=100, save_every=200)
DESCRIBER_RUN = RunOptions(eval_every=50, save_every=100)


def _interrupted(out: str) -> typer.Exit:
    say(f"interrupted: the last finished step is saved in {out}/checkpoints; add --resume to continue",
        stderr=True)  # fmt: skip
    return typer.Exit(130)


def _train(what: str, train: Any, args_type: Any, options: dict[str, Any], summary: Any) -> None:
    """Build ``args_type`` from the command's options, run ``train`` (Ctrl-C ends with exit code
    130 and says how to resume), and print the result: JSON, or one line with ``summary(result)``."""
    for name, value in list(options.items()):  # the option groups' fields, as if given one by one
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            options.update(dataclasses.asdict(options.pop(name)))
    quiet, as_json = options.pop("quiet"), options.pop("as_json")
    fields = {f.name for f in dataclasses.fields(args_type)}
    args = args_type(**{k: v for k, v in options.items() if k in fields}, progress=not quiet and not as_json)
    try:
        result = train(args)
    except KeyboardInterrupt:
        raise _interrupted(options["out"]) from None
    if as_json:
        print_json(result.to_dict())
        return
    d = result.to_dict()
    held = f", held-out {d['eval_losses'][-1][1]:.4f}" if d["eval_losses"] else ""
    say(f"{what} saved to {result.out} after {result.state.step} steps: loss {d['first_loss']:.4f} -> "
        f"{d['final_loss']:.4f}{held}; {summary(result)}")  # fmt: skip
    say_notes(result.notes)


@train_app.command("adapter")
def train_adapter_command(
    data: Annotated[str, typer.Option("--data", help="Music with captions: a saved datasets folder (vmb data pairs), a folder of audio or a CSV/JSONL manifest.")],
    index: Annotated[str, typer.Option("--index", help="The index the music bridge is retrieved from (build it from --data).")],
    out: Annotated[str, typer.Option("--out", "-o", help="The adapter folder, e.g. adapters/mine.")],
    base: Annotated[str, typer.Option("--base", help="MusicGen hub id or local folder.")] = "facebook/musicgen-melody",
    mechanism: Annotated[str, typer.Option("--mechanism", help="tokens, controlformer or both.")] = "both",
    stepping: ClipSteps = ADAPTER_STEPS,
    segment_s: Annotated[float, typer.Option("--segment-s", help="Clip length cut from the tracks, seconds.")] = 10.0,
    max_segments: Annotated[int | None, typer.Option("--max-segments", help="Clips per track at most.")] = None,
    text_dropout: Annotated[float, typer.Option("--text-dropout", help="Probability of dropping the caption.")] = 0.1,
    music_dropout: Annotated[float, typer.Option("--music-dropout", help="Probability of dropping the reference.")] = 0.1,
    control_layers: Annotated[int | None, typer.Option("--control-layers", help="ControlFormer depth (copied blocks).")] = None,
    num_tokens: Annotated[int, typer.Option("--num-tokens", help="Reference tokens.")] = 4,
    embedding_source: Annotated[str, typer.Option("--embedding-source", help="encodec or clap (a CLAP index).")] = "encodec",
    eval_fraction: Annotated[float, typer.Option("--eval-fraction", help="Share of tracks held out.")] = 0.05,
    run: RunOptions = ADAPTER_RUN,
) -> None:
    """Train the music-bridge adapter of a MusicGen model (the base stays frozen)."""
    from vmb.train.adapter import AdapterTrainingArgs, train_adapter

    _train("adapter", train_adapter, AdapterTrainingArgs, dict(locals()), lambda r: (
        f"{r.trainable_parameters:,} of {r.total_parameters:,} parameters trained "
        f"({100 * r.trainable_share:.1f} %), {r.tokens_per_second:,.0f} tokens/s"))  # fmt: skip


@train_app.command("describer")
def train_describer_command(
    data: Annotated[str, typer.Option("--data", help="(video or image, description) pairs: a saved datasets folder (vmb data pairs) or a CSV/JSONL manifest.")],
    base: Annotated[str, typer.Option("--base", help="The VLM: hub id or local folder.")],
    out: Annotated[str, typer.Option("--out", "-o", help="The describer folder, e.g. describers/mine.")],
    lora_rank: Annotated[int, typer.Option("--lora-rank", help="LoRA rank r.")] = 16,
    lora_alpha: Annotated[float | None, typer.Option("--lora-alpha", help="LoRA alpha (default 2r).")] = None,
    stepping: PairSteps = DESCRIBER_STEPS,
    frames: Annotated[int, typer.Option("--frames", help="Frames per video in the prompt.")] = 8,
    merge: Annotated[bool, typer.Option("--merge/--no-merge", help="Also write the merged model (what vmb describe --model loads).")] = True,
    eval_fraction: Annotated[float, typer.Option("--eval-fraction", help="Share of pairs held out.")] = 0.1,
    run: RunOptions = DESCRIBER_RUN,
) -> None:
    """LoRA-fine-tune the description model on (visuals, JSON description) pairs."""
    from vmb.train.describer import DescriberTrainingArgs, train_describer

    options = dict(locals(), num_frames=frames)
    _train("describer", train_describer, DescriberTrainingArgs, options, lambda r: (
        f"{r.trainable_parameters:,} LoRA parameters; "
        + (f"use it with: vmb describe --describer vlm --model {r.out}" if merge else f"LoRA adapter in {r.out}/lora")))  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
