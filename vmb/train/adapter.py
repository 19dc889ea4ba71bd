"""``vmb train adapter``: train the music-bridge adapter of MusicGen on the user's music.

    from vmb.train.adapter import AdapterTrainingArgs, train_adapter
    result = train_adapter(AdapterTrainingArgs(data="D", index="I", base="facebook/musicgen-melody",
                                               out="adapters/mine", steps=2000))
    # then: vmb generate --adapter adapters/mine ...

What trains: only the adapter of :mod:`vmb.generate.musicgen.adapters` (reference tokens, ControlFormer
or both: ``mechanism``); the base model (T5, EnCodec, decoder) is frozen and in eval mode.
Per example (:mod:`vmb.train.music_examples`): the target is the clip's EnCodec codes, the text
bridge its caption, the music bridge a *different* track retrieved from the index for that
caption. The loss is the cross-entropy of the codes over all codebooks in MusicGen's delay
pattern, computed by :class:`~vmb.train.teacher_forcing.MusicBridgeForward` (the generator's
music row on whole sequences).

Condition dropout, per example and step, as classifier-free guidance training does:
``text_dropout`` replaces the caption by the null text (the generator's unconditional row:
zero states, zero mask), so the adapter learns to carry the reference without leaning on the
text; ``music_dropout`` replaces the reference by the null reference (pad codes for the
ControlFormer, a zero embedding for the reference tokens, the null melody for
MusicGen-Melody). With the base frozen, the model *without* the music bridge is the base model
itself, which is what the generator's text row (and ``music_weight = 0``) runs.

The output folder ``out`` holds, when training ends, ``adapter_config.json`` and
``adapter_model.safetensors`` (exactly what ``MusicGenGenerator.from_pretrained(..., adapter=out)``
and ``vmb generate --adapter out`` load), ``training_args.json``, ``trainer_state.json`` (loss
curve, held-out losses, throughput), ``checkpoints/`` for ``--resume`` and ``prepared/`` (the
cached examples).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vmb.errors import UsageError
from vmb.train.runs import TrainingResult, check_range, start_run

logger = logging.getLogger(__name__)

MECHANISMS = ("tokens", "controlformer", "both")
STATE_FILE = "trainer_state.json"
# Settings that must not change between a run and its --resume (steps may grow).
RESUME_KEYS = (
    "data", "index", "base", "mechanism", "batch_size", "lr", "precision", "segment_s", "max_segments",
    "eval_fraction", "text_dropout", "music_dropout", "control_layers", "num_tokens", "proj_dim",
    "embedding_source", "warmup_steps", "weight_decay", "grad_clip", "seed",
)  # fmt: skip


@dataclass
class AdapterTrainingArgs:
    """Settings of :func:`train_adapter` (the options of ``vmb train adapter``).

    Attributes:
        data: training music with captions: a saved ``datasets`` folder (``vmb data pairs``), a
            folder of audio (with ``metadata.csv``/``.jsonl``) or a CSV/JSONL manifest.
        index: the retrieval index the music bridge is drawn from (build it from ``data``).
        base: the MusicGen checkpoint (hub id or folder); ``out`` the adapter folder.
        mechanism: ``tokens`` (reference tokens), ``controlformer`` or ``both``.
        steps, batch_size, lr, warmup_steps, weight_decay, grad_clip: the optimisation (AdamW,
            linear warm-up then constant).
        precision: ``auto``, ``fp32``, ``bf16`` or ``fp16`` (CUDA only) autocast.
        segment_s: clip length cut from the tracks; ``max_segments`` clips per track at most.
        eval_fraction: share of the *tracks* held out for the held-out loss (at least one track
            when there are two or more); ``eval_every`` steps between held-out losses.
        save_every: steps between checkpoints; ``keep_checkpoints`` how many are kept.
        text_dropout, music_dropout: condition dropout probabilities (see the module docstring).
        control_layers: ControlFormer depth (copied blocks); ``None``: the adapter default (2).
        num_tokens, proj_dim: reference tokens and their projection width.
        embedding_source: ``encodec`` (the model's own codec) or ``clap`` (needs a CLAP index).
        resume: continue from the newest checkpoint in ``out``.
        stop_at: end this call after that step (with a checkpoint), as an interrupt would.
    """

    data: str
    index: str
    base: str
    out: str
    mechanism: str = "both"
    steps: int = 1000
    batch_size: int = 8
    lr: float = 1e-4
    warmup_steps: int | None = None
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    precision: str = "auto"
    segment_s: float = 10.0
    max_segments: int | None = None
    eval_fraction: float = 0.05
    eval_every: int = 100
    save_every: int = 200
    keep_checkpoints: int = 2
    text_dropout: float = 0.1
    music_dropout: float = 0.1
    control_layers: int | None = None
    num_tokens: int = 4
    proj_dim: int = 512
    embedding_source: str = "encodec"
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    progress: bool = True
    stop_at: int | None = None

    def check(self) -> None:
        """Raise :class:`UsageError` for values that make no sense."""
        if self.mechanism not in MECHANISMS:
            raise UsageError(f"--mechanism {self.mechanism!r} is not one of: {', '.join(MECHANISMS)}")
        if self.embedding_source not in ("encodec", "clap"):
            raise UsageError(f"--embedding-source {self.embedding_source!r} is not one of: encodec, clap")
        check_range(self, ("steps", "batch_size", "num_tokens", "proj_dim"), "at least 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"--lr {self.lr}: must be a positive number")
        if not self.segment_s >= 1.0:
            raise UsageError(f"--segment-s {self.segment_s}: must be at least 1 second")
        check_range(self, ("text_dropout", "music_dropout", "eval_fraction"), "in [0, 1)")
        check_range(self, ("eval_every", "save_every", "weight_decay", "grad_clip"), "0 or more")
        if self.control_layers is not None and self.control_layers < 1:
            raise UsageError(f"--control-layers {self.control_layers}: must be at least 1")
        if self.max_segments is not None and self.max_segments < 1:
            raise UsageError(f"--max-segments {self.max_segments}: must be at least 1")

    @property
    def warmup(self) -> int:
        return self.warmup_steps if self.warmup_steps is not None else min(100, self.steps // 10)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["warmup_steps"] = self.warmup
        return data


@dataclass
class AdapterTrainingResult(TrainingResult):
    """What :func:`train_adapter` did."""

    @property
    def tokens_per_second(self) -> float:
        return self.state.tokens / max(self.state.train_seconds, 1e-9)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        notes = data.pop("notes")
        return {**data, "tokens_per_second": self.tokens_per_second, "notes": notes}


def split_by_track(examples: list, fraction: float, seed: int) -> tuple[list, list]:
    """``(train, held_out)``: whole tracks are held out (``fraction`` of them, at least one
    when there are two or more tracks and ``fraction > 0``), chosen with ``seed``."""
    import random

    tracks = sorted({e.track for e in examples})
    count = 0
    if fraction > 0 and len(tracks) >= 2:
        count = min(len(tracks) - 1, max(1, round(fraction * len(tracks))))
    held = set(random.Random(seed).sample(tracks, count))
    return [e for e in examples if e.track not in held], [e for e in examples if e.track in held]


def batch_indices(step: int, count: int, batch_size: int, seed: int) -> list[int]:
    """The example indices of step ``step``: consecutive slices of one seeded permutation per
    epoch (a function of the step alone, so ``--resume`` draws the same batches)."""
    import torch

    out: list[int] = []
    position = step * batch_size
    while len(out) < batch_size:
        epoch, offset = divmod(position, count)
        order = torch.randperm(count, generator=torch.Generator().manual_seed(seed * 7_919 + epoch))
        take = min(batch_size - len(out), count - offset)
        out += order[offset : offset + take].tolist()
        position += take
    return out


class AdapterObjective:
    """Builds batches of examples and computes their loss with the adapter active."""

    def __init__(self, generator, adapter, text_dropout: float = 0.0, music_dropout: float = 0.0,
                 precision: str = "fp32"):  # fmt: skip
        from vmb.train.teacher_forcing import MusicBridgeForward

        self.generator = generator
        self.model = generator.model
        self.adapter = adapter
        self.forward = MusicBridgeForward(self.model, adapter)
        self.pattern = self.forward.decoder.pattern
        self.text_dropout = text_dropout
        self.music_dropout = music_dropout
        self.precision = precision
        self.device = str(next(self.model.parameters()).device)

    def _text(self, captions: list[str]):
        import torch

        tokens = self.generator.tokenizer(captions, return_tensors="pt", padding=True)
        ids = tokens["input_ids"].to(self.device)
        mask = tokens["attention_mask"].to(self.device)
        with torch.no_grad():
            states = self.model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return states, mask

    def batch(self, examples: list, drop_text=None, drop_music=None):
        """A :class:`~vmb.train.teacher_forcing.MusicBatch` of ``examples``; ``drop_text`` /
        ``drop_music`` are per-example booleans (``None``: keep every condition)."""
        import torch

        from vmb.train.teacher_forcing import MusicBatch

        n = len(examples)
        drop_text = drop_text if drop_text is not None else [False] * n
        drop_music = drop_music if drop_music is not None else [False] * n
        ids, labels = self.pattern.teacher_forcing([e.target for e in examples])
        states, mask = self._text([e.caption for e in examples])
        lengths = [int(v) for v in mask.sum(dim=1).tolist()]
        keep_text = torch.tensor([not d for d in drop_text], device=self.device)
        mask = mask * keep_text[:, None].to(mask.dtype)
        adapter = self.adapter
        embeddings = control = None
        if adapter.reference_tokens is not None:
            embeddings = torch.stack([
                torch.zeros_like(e.ref_embedding) if d else e.ref_embedding for e, d in zip(examples, drop_music)
            ]).to(self.device, torch.float32)  # fmt: skip
        if adapter.control is not None:
            control = [None if d else e.ref_codes.to(self.device) for e, d in zip(examples, drop_music)]
        chroma = None
        if self.generator.is_melody:
            chroma = [None if d else e.ref_chroma for e, d in zip(examples, drop_music)]
        return MusicBatch(ids.to(self.device), labels.to(self.device), states, mask, embeddings, control, chroma,
                          lengths)  # fmt: skip

    def loss_sum(self, batch) -> tuple[Any, int]:
        """``(summed cross-entropy, tokens)`` of a batch. MusicGen-Melody rows are run in groups
        of equal text length: its text is part of the decoder's prefix, where padding would
        shift the positions (the generator never pads it)."""
        import torch

        from vmb.generate.musicgen.pattern import IGNORE_INDEX
        from vmb.train.loop import autocast

        rows = list(range(batch.input_ids.shape[0]))
        groups = [rows]
        if self.generator.is_melody:
            lengths = batch.text_lengths
            groups = [[i for i in rows if lengths[i] == n] for n in sorted(set(lengths))]
        total, tokens = batch.text_states.new_zeros(()), 0
        for group in groups:
            part = self._rows(batch, group)
            with autocast(self.precision, self.device):
                logits = self.forward(part)
            total = total + torch.nn.functional.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), part.labels.reshape(-1),
                ignore_index=IGNORE_INDEX, reduction="sum",
            )  # fmt: skip
            tokens += part.tokens
        return total, tokens

    def _rows(self, batch, rows: list[int]):
        """The sub-batch of ``rows``; for MusicGen-Melody its text cut to the rows' length."""
        from vmb.train.teacher_forcing import MusicBatch

        if len(rows) == batch.input_ids.shape[0] and not self.generator.is_melody:
            return batch
        index = batch.input_ids.new_tensor(rows)
        states, mask = batch.text_states[index], batch.text_mask[index]
        if self.generator.is_melody:
            length = batch.text_lengths[rows[0]]
            states, mask = states[:, :length], mask[:, :length]
        pick = (lambda t: None if t is None else t[index])
        return MusicBatch(
            batch.input_ids[index], batch.labels[index], states, mask, pick(batch.token_embeddings),
            None if batch.control_codes is None else [batch.control_codes[i] for i in rows],
            None if batch.chroma is None else [batch.chroma[i] for i in rows],
            [batch.text_lengths[i] for i in rows],
        )  # fmt: skip

    def step(self, examples: list):
        """The mean training loss of ``examples`` with condition dropout drawn from torch's RNG."""
        import torch

        from vmb.train.loop import StepOutput

        n = len(examples)
        drop_text = (torch.rand(n) < self.text_dropout).tolist()
        drop_music = (torch.rand(n) < self.music_dropout).tolist()
        total, tokens = self.loss_sum(self.batch(examples, drop_text, drop_music))
        return StepOutput(total / max(tokens, 1), tokens)

    def evaluate(self, examples: list, batch_size: int) -> float:
        """Mean held-out loss per token, every condition kept, no dropout anywhere."""
        import torch

        was_training = self.adapter.training
        self.adapter.eval()
        total, tokens = 0.0, 0
        try:
            with torch.no_grad():
                for start in range(0, len(examples), batch_size):
                    chunk = examples[start : start + batch_size]
                    loss, count = self.loss_sum(self.batch(chunk))
                    total += float(loss)
                    tokens += count
        finally:
            self.adapter.train(was_training)
        return total / max(tokens, 1)


def _mechanism_kwargs(args: AdapterTrainingArgs) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "reference_tokens": args.mechanism in ("tokens", "both"),
        "embedding_source": args.embedding_source,
        "num_tokens": args.num_tokens,
        "proj_dim": args.proj_dim,
    }
    if args.mechanism == "tokens":
        kwargs["control_layers"] = 0
    elif args.control_layers is not None:
        kwargs["control_layers"] = args.control_layers
    return kwargs


def train_adapter(args: AdapterTrainingArgs) -> AdapterTrainingResult:
    """Train the music-bridge adapter (see the module docstring) and save it to ``args.out``.

    Raises:
        UsageError: bad settings, an ``out`` that holds another run, no usable data.
        ModelUnavailable: the base model is not available offline.
        IndexFileError: the index is missing or corrupt.
        ConfigError: ``--resume`` with settings other than the run's, or a corrupt checkpoint.
    """
    import torch

    from vmb.generate.musicgen import MusicGenGenerator
    from vmb.generate.musicgen.adapters import create_adapter
    from vmb.train import loop
    from vmb.train.music_examples import prepare_examples

    out, device, precision = start_run(args, "adapter_model.safetensors")

    generator = MusicGenGenerator.from_pretrained(args.base, device=device, dtype="float32")
    model = generator.model.eval().requires_grad_(False)
    adapter = create_adapter(model, **_mechanism_kwargs(args))
    adapter.train()
    named = dict(adapter.named_parameters())
    parameters = list(named.values())

    examples, notes = prepare_examples(
        generator, args.data, args.index, args.segment_s, args.max_segments, args.embedding_source,
        cache=out / "prepared", device=device, progress=args.progress,
    )  # fmt: skip
    train, held_out = split_by_track(examples, args.eval_fraction, args.seed)
    if not train:
        raise UsageError(f"{args.data}: every clip was held out; lower --eval-fraction")

    optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=args.weight_decay)
    settings = args.to_dict()
    state, resumed_from = loop.begin_run(out, args.resume, optimizer, named, settings, RESUME_KEYS)
    if resumed_from is not None:
        notes.append(f"resumed from {resumed_from} (step {state.step})")

    objective = AdapterObjective(generator, adapter, args.text_dropout, args.music_dropout, precision)

    def step_loss(step: int):
        return objective.step([train[i] for i in batch_indices(step, len(train), args.batch_size, args.seed)])

    def save(state):
        loop.save_checkpoint(out, named, optimizer, state, settings, keep=args.keep_checkpoints)

    settings_loop = loop.LoopSettings.from_args(args, precision, device, "training adapter")
    evaluate = (lambda: objective.evaluate(held_out, args.batch_size)) if held_out else None
    state = loop.run_loop(settings_loop, state, parameters, optimizer, step_loss, evaluate, save)

    adapter.eval()
    if state.step >= args.steps:
        adapter.save_pretrained(out)
    total = sum(p.numel() for p in model.parameters()) + sum(p.numel() for p in parameters)
    result = AdapterTrainingResult(
        out, state, len(train), len(held_out), sum(p.numel() for p in parameters), total, notes
    )
    _write_json(out / STATE_FILE, {**result.to_dict(), "state": state.to_dict()})
    return result


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


__all__ = [
    "MECHANISMS",
    "AdapterObjective",
    "AdapterTrainingArgs",
    "AdapterTrainingResult",
    "batch_indices",
    "split_by_track",
    "train_adapter",
]
