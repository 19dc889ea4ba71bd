"""``vmb train describer``: LoRA fine-tuning of the description model (the paper's MMDM).

    from vmb.train.describer import DescriberTrainingArgs, train_describer
    train_describer(DescriberTrainingArgs(data="D", base="OpenGVLab/InternVL3-1B-hf",
                                          out="describers/mine", lora_rank=16))
    # then: vmb describe --describer vlm --model describers/mine --video clip.mp4

Each example is (video frames or an image, the JSON description). The prompt is exactly the
one :class:`~vmb.describe.vlm.VLMDescriber` sends ("Frame1 (0.0 s): <image> ..." and
``configs/prompts/describe.txt``, through the model's chat template); the target is the JSON
of :mod:`vmb.train.targets` followed by the end-of-turn token. The loss is the cross-entropy of
the target tokens only (the prompt is masked). LoRA adapters (the ``peft`` library) go on the
language model's attention and MLP projections; everything else is frozen.

Data (``--data``): a saved ``datasets`` folder (``vmb data pairs`` writes one: ``frames`` and
``description``) or a CSV/JSONL manifest / saved dataset with a ``video`` or ``image`` path
column. The target is the row's ``description`` (JSON, or a sentence whose fields are read
from its words); a row without one gets a target written from its tags (``genre``, ``mood``,
``instruments``, ``tempo_bpm``, ``key``, ``mode``, ``energy``, ``theme``, ``caption``), as the
paper wrote its targets from tags, BPM and key.

``out`` gets the merged model (``save_pretrained``) with the processor files, loadable by
``VLMDescriber.from_pretrained(out)`` / ``vmb describe --model out``; the LoRA adapter alone in
``out/lora/`` (``adapter_config.json``, ``adapter_model.safetensors``); ``training_args.json``,
``trainer_state.json`` and ``checkpoints/`` for ``--resume``. ``merge=False`` writes only
``out/lora/`` (load it with ``peft.PeftModel.from_pretrained(base_model, out/"lora")``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vmb.errors import ConfigError, OutputError, UsageError
from vmb.fileio import replace_folder
from vmb.manifest import read_rows
from vmb.train.runs import TrainingResult, check_range, start_run

logger = logging.getLogger(__name__)

LORA_FOLDER = "lora"
STATE_FILE = "trainer_state.json"
# The language model's projections (transformers names them alike for InternVL, Qwen2-VL, LLaVA).
LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)$"
PATH_COLUMNS = ("video", "image", "path", "file_name")
TAG_COLUMNS = ("genre", "mood", "instruments", "tempo_bpm", "key", "mode", "energy", "theme", "caption")
RESUME_KEYS = ("data", "base", "lora_rank", "lora_alpha", "lora_dropout", "batch_size", "lr", "precision",
               "num_frames", "eval_fraction", "warmup_steps", "seed")  # fmt: skip
# Files of a checkpoint folder that are weights or model configs, not processor files.
_MODEL_FILES = ("config.json", "generation_config.json", "model.safetensors", "model.safetensors.index.json")


@dataclass
class DescriberTrainingArgs:
    """Settings of :func:`train_describer` (the options of ``vmb train describer``).

    Attributes:
        data: (visuals, description) pairs: a saved ``datasets`` folder or a CSV/JSONL manifest.
        base: the VLM (hub id or folder); ``out`` where the fine-tuned describer goes.
        lora_rank, lora_alpha, lora_dropout: the LoRA adapters (``alpha`` defaults to 2·rank).
        steps, batch_size, lr, warmup_steps, grad_clip: AdamW, linear warm-up then constant.
        precision: ``auto`` (bf16 on a GPU that has it, else fp32), ``fp32``, ``bf16``, ``fp16``:
            the dtype the base weights are loaded in (LoRA weights stay float32).
        num_frames: frames per video in the prompt (those stored in the data are resampled).
        eval_fraction, eval_every: held-out share of the examples and steps between held-out losses.
        save_every, keep_checkpoints: checkpoints for ``--resume``.
        merge: also write the merged model into ``out`` (what ``vmb describe --model`` loads).
    """

    data: str
    base: str
    out: str
    lora_rank: int = 16
    lora_alpha: float | None = None
    lora_dropout: float = 0.05
    steps: int = 500
    batch_size: int = 2
    lr: float = 2e-4
    warmup_steps: int | None = None
    grad_clip: float = 1.0
    precision: str = "auto"
    num_frames: int = 8
    eval_fraction: float = 0.1
    eval_every: int = 50
    save_every: int = 100
    keep_checkpoints: int = 2
    seed: int = 0
    device: str = "auto"
    merge: bool = True
    resume: bool = False
    progress: bool = True
    stop_at: int | None = None

    def check(self) -> None:
        check_range(self, ("lora_rank", "steps", "batch_size", "num_frames"), "at least 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"--lr {self.lr}: must be a positive number")
        check_range(self, ("lora_dropout", "eval_fraction"), "in [0, 1)")
        check_range(self, ("eval_every", "save_every", "grad_clip"), "0 or more")

    @property
    def alpha(self) -> float:
        return float(self.lora_alpha) if self.lora_alpha is not None else 2.0 * self.lora_rank

    @property
    def warmup(self) -> int:
        return self.warmup_steps if self.warmup_steps is not None else min(50, self.steps // 10)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["lora_alpha"], data["warmup_steps"] = self.alpha, self.warmup
        return data


@dataclass
class DescriberExample:
    """One pair: where its visuals come from and its target JSON.

    ``frames``/``timestamps`` hold decoded frames (``[N, H, W, 3]`` uint8) when the data stores
    them; else ``path`` is read when the example is used. ``kind`` is ``video`` or ``image``.
    """

    kind: str
    target: str
    path: str | None = None
    frames: np.ndarray | None = field(default=None, repr=False)
    timestamps: tuple[float, ...] = ()
    name: str = ""

    def media(self, num_frames: int):
        """The :class:`~vmb.types.MediaInput` of the example, ``num_frames`` frames for a video."""
        from vmb.describe.inputs import ensure_frames
        from vmb.types import MediaInput

        if self.frames is None:
            return ensure_frames(MediaInput(self.kind, self.path), num_frames)
        frames, times = self.frames, self.timestamps or tuple(0.0 for _ in range(len(self.frames)))
        if self.kind == "video" and len(frames) != num_frames:
            pick = np.unique(np.linspace(0, len(frames) - 1, num_frames).round().astype(int))
            frames, times = frames[pick], tuple(times[i] for i in pick)
        return MediaInput(self.kind, self.path, frames=frames, timestamps=tuple(times))


@dataclass
class DescriberTrainingResult(TrainingResult):
    """What :func:`train_describer` did."""


def _target_of(row: dict[str, Any]) -> str:
    from vmb.train.targets import target_from_text, write_target

    given = row.get("description")
    if isinstance(given, str) and given.strip():
        return target_from_text(given).json
    tags = {k: row.get(k) for k in TAG_COLUMNS if row.get(k) not in (None, "", [])}
    if not tags:
        raise ValueError("no description and no tags to write one from")
    return write_target(**tags).json


def read_examples(data: str | os.PathLike) -> list[DescriberExample]:
    """The (visuals, target) pairs of ``data`` (see the module docstring).

    Raises:
        UsageError: ``data`` is missing or has no usable row (the first reasons are named).
    """
    path = Path(data).expanduser()
    if path.is_dir():
        from vmb.train.data import load_pairs

        dataset = load_pairs(path)
        import datasets

        if isinstance(dataset, datasets.DatasetDict):
            dataset = dataset[next(iter(dataset))]
        rows, base = dataset, path
    elif path.is_file() and path.suffix.lower() in (".csv", ".jsonl"):
        rows, base = _manifest(path), path.parent
    else:
        raise UsageError(f"{path}: not a saved dataset folder or a .csv/.jsonl manifest")
    examples, problems = [], []
    for i, row in enumerate(rows):
        name = str(row.get("id") or row.get("video") or row.get("image") or i)
        try:
            target = _target_of(row)
            if row.get("frames"):
                frames = np.stack([np.asarray(img.convert("RGB")) for img in row["frames"]])
                kind = "video" if len(frames) > 1 or row.get("video") else "image"
                examples.append(DescriberExample(kind, target, row.get("video"), frames,
                                                 tuple(row.get("timestamps") or ()), name))  # fmt: skip
                continue
            column = next((c for c in PATH_COLUMNS if row.get(c)), None)
            if column is None:
                raise ValueError(f"no frames and no {'/'.join(PATH_COLUMNS)} column")
            file = Path(str(row[column])).expanduser()
            file = file if file.is_absolute() else base / file
            kind = "image" if column == "image" or file.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp") else "video"
            examples.append(DescriberExample(kind, target, str(file), name=name))
        except ValueError as exc:
            problems.append(f"row {name}: {exc}")
    for problem in problems:
        logger.warning("%s: skipped %s", path, problem)
    if not examples:
        raise UsageError(f"{path}: no usable (visuals, description) pair ({'; '.join(problems[:3]) or 'empty'})")
    return examples


def _manifest(path: Path) -> list[dict[str, Any]]:
    return [row for row, _ in read_rows(path)]


class DescriberObjective:
    """Tokenises (prompt, target) pairs the way the describer prompts, and computes the loss."""

    def __init__(self, describer):
        self.describer = describer
        self.processor = describer.processor
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        eos = self.tokenizer.convert_tokens_to_ids("<|im_end|>") if "<|im_end|>" in self.tokenizer.get_vocab() else None
        self.end_id = eos if eos is not None else self.tokenizer.eos_token_id
        if self.end_id is None:
            raise ConfigError(f"{describer.model_id}: the tokenizer has no end-of-turn or eos token")
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.end_id

    def encode(self, example: DescriberExample, num_frames: int) -> dict[str, Any]:
        """``input_ids [T]``, ``labels [T]`` (-100 on the prompt) and ``pixel_values`` of one pair."""
        import torch

        messages, images = self.describer.build_request([example.media(num_frames)])
        prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        kwargs: dict[str, Any] = {"text": [prompt], "images": images, "return_tensors": "pt"}
        if len(images) > 1:
            kwargs["crop_to_patches"] = False  # one tile per frame, as the describer does
        try:
            encoded = self.processor(**kwargs)
        except TypeError:
            kwargs.pop("crop_to_patches", None)
            encoded = self.processor(**kwargs)
        prompt_ids = encoded["input_ids"][0]
        target_ids = torch.tensor(self.tokenizer(example.target, add_special_tokens=False)["input_ids"] + [self.end_id])
        ids = torch.cat([prompt_ids, target_ids])
        labels = torch.cat([torch.full_like(prompt_ids, -100), target_ids])
        return {"input_ids": ids, "labels": labels, "pixel_values": encoded["pixel_values"]}

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Right-padded batch: ``input_ids``/``labels``/``attention_mask`` ``[B, T]``,
        ``pixel_values`` ``[sum tiles, 3, H, W]``."""
        import torch

        length = max(int(i["input_ids"].shape[0]) for i in items)
        ids = torch.full((len(items), length), self.pad_id, dtype=torch.long)
        labels = torch.full((len(items), length), -100, dtype=torch.long)
        mask = torch.zeros((len(items), length), dtype=torch.long)
        for b, item in enumerate(items):
            n = int(item["input_ids"].shape[0])
            ids[b, :n], labels[b, :n], mask[b, :n] = item["input_ids"], item["labels"], 1
        pixels = torch.cat([i["pixel_values"] for i in items])
        return {"input_ids": ids, "labels": labels, "attention_mask": mask, "pixel_values": pixels}

    def loss_sum(self, model, items: list[dict[str, Any]]) -> tuple[Any, int]:
        """``(summed cross-entropy of the target tokens, number of target tokens)``."""
        import torch

        batch = self.collate(items)
        device = next(model.parameters()).device
        dtype = next(p for p in model.parameters() if p.is_floating_point()).dtype
        logits = model(
            input_ids=batch["input_ids"].to(device),
            attention_mask=batch["attention_mask"].to(device),
            pixel_values=batch["pixel_values"].to(device, dtype),
        ).logits
        labels = batch["labels"].to(device)[:, 1:]
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="sum"
        )
        return loss, int((labels != -100).sum())


def _processor_files(base: str) -> Path | None:
    """The folder holding the base checkpoint's files (local folder or the hub cache)."""
    local = Path(base).expanduser()
    if local.is_dir():
        return local
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(base, local_files_only=True))
    except Exception:  # noqa: BLE001  (not cached: nothing to copy)
        return None


LORA_FILES = {"adapter_config.json", "adapter_model.safetensors", "README.md"}


def _check_lora_folder(target: Path) -> None:
    """``out/lora`` is replaced only when it is a LoRA adapter vmb (peft) wrote: a user's folder
    of that name is never deleted."""
    names = {p.name for p in target.iterdir()} if target.is_dir() and not target.is_symlink() else None
    if names is None or "adapter_config.json" not in names or names - LORA_FILES:
        others = sorted((names or set()) - LORA_FILES)
        what = f"it holds {others[0]!r}" if others else "it is not a LoRA adapter folder"
        raise OutputError(target, f"{what}; vmb will not replace it: choose another --out")


def save_describer(model, describer, base: str, out: Path, merge: bool) -> list[str]:
    """Write ``out/lora/`` and (``merge``) the merged model with the processor files into ``out``.
    Returns notes. Every folder is written under a temporary name and moved into place."""
    notes = []
    work = Path(tempfile.mkdtemp(prefix=".lora.", dir=out))
    try:
        model.save_pretrained(str(work))
        target = out / LORA_FOLDER
        if target.exists() or target.is_symlink():
            _check_lora_folder(target)
        replace_folder(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if not merge:
        return notes
    merged = model.merge_and_unload()
    work = Path(tempfile.mkdtemp(prefix=".merged.", dir=out))
    try:
        merged.save_pretrained(str(work))
        describer.processor.save_pretrained(str(work))
        source = _processor_files(base)
        if source is None:
            notes.append(f"{base}: not in the local cache; only the processor files it saves itself were written")
        else:
            for file in source.iterdir():
                if file.is_file() and file.name not in _MODEL_FILES and not file.name.startswith(".") and \
                        file.suffix in (".json", ".jinja", ".txt", ".model", ".tiktoken") and not (work / file.name).exists():
                    shutil.copy2(file, work / file.name)  # fmt: skip
        for file in work.iterdir():
            os.replace(file, out / file.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return notes


def train_describer(args: DescriberTrainingArgs):
    """LoRA-fine-tune the describer (see the module docstring) and save it to ``args.out``.

    Raises:
        UsageError: bad settings, an ``out`` holding another run, or no usable pair.
        ModelUnavailable: the base VLM is not available offline.
        ConfigError: the model has no LoRA target modules, or ``--resume`` with other settings.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    from vmb.describe.vlm import VLMDescriber
    from vmb.train import loop

    out, device, precision = start_run(args, LORA_FOLDER)
    examples = read_examples(args.data)

    dtype = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}[precision]
    describer = VLMDescriber.from_pretrained(args.base, device=device, dtype=dtype, num_frames=args.num_frames)
    lora = LoraConfig(r=args.lora_rank, lora_alpha=args.alpha, lora_dropout=args.lora_dropout,
                      target_modules=LORA_TARGETS, bias="none")  # fmt: skip
    try:
        model = get_peft_model(describer.model, lora)
    except ValueError as exc:
        raise ConfigError(f"{args.base}: no LoRA target module (language-model projections) found ({exc})") from None
    model.train()
    named = {n: p for n, p in model.named_parameters() if p.requires_grad}
    parameters = list(named.values())

    import random

    order = list(range(len(examples)))
    random.Random(args.seed).shuffle(order)
    held = order[: min(len(order) - 1, max(1, round(args.eval_fraction * len(order))))] if args.eval_fraction and len(order) > 1 else []
    train = [examples[i] for i in order if i not in held]
    held_out = [examples[i] for i in held]

    objective = DescriberObjective(describer)
    pools = {"train": train, "held_out": held_out}
    encoded: dict[tuple[str, int], dict[str, Any]] = {}

    def encode(pool: str, index: int) -> dict[str, Any]:
        if (pool, index) not in encoded:
            encoded[pool, index] = objective.encode(pools[pool][index], args.num_frames)
        return encoded[pool, index]

    optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.0)
    settings = args.to_dict()
    state, _ = loop.begin_run(out, args.resume, optimizer, named, settings, RESUME_KEYS)

    from vmb.train.adapter import batch_indices

    def step_loss(step: int):
        items = [encode("train", i) for i in batch_indices(step, len(train), args.batch_size, args.seed)]
        total, tokens = objective.loss_sum(model, items)
        return loop.StepOutput(total / max(tokens, 1), tokens)

    def evaluate() -> float:
        model.eval()
        total, tokens = 0.0, 0
        try:
            with torch.no_grad():
                for start in range(0, len(held_out), args.batch_size):
                    items = [encode("held_out", i) for i in range(start, min(start + args.batch_size, len(held_out)))]
                    loss, count = objective.loss_sum(model, items)
                    total, tokens = total + float(loss), tokens + count
        finally:
            model.train()
        return total / max(tokens, 1)

    def save(state):
        loop.save_checkpoint(out, named, optimizer, state, settings, keep=args.keep_checkpoints)

    settings_loop = loop.LoopSettings.from_args(args, precision, device, "training describer")
    state = loop.run_loop(settings_loop, state, parameters, optimizer, step_loss, evaluate if held_out else None, save)
    model.eval()
    result = DescriberTrainingResult(
        out, state, len(train), len(held_out), sum(p.numel() for p in parameters),
        sum(p.numel() for p in model.parameters()),
    )  # fmt: skip
    if state.step >= args.steps:
        result.notes += save_describer(model, describer, args.base, out, args.merge)
    tmp = out / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps({**result.to_dict(), "state": state.to_dict()}, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / STATE_FILE)
    return result

__all__ = ["DescriberExample", "DescriberObjective", "DescriberTrainingArgs", "DescriberTrainingResult",
           "read_examples", "save_describer",
           "train_describer"]  # fmt: skip
