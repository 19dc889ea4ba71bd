"""A laion-clap checkpoint → the transformers ``ClapModel`` folder vmb's CLAP encoder loads.

laion-clap's training saves ``{"epoch", "state_dict": {"module." + name: tensor}, ...}``; its
``CLAP`` module holds

* ``text_branch.*`` — a transformers ``RobertaModel`` (the released checkpoints' text tower),
  which becomes ``text_model.*`` unchanged;
* ``audio_branch.*`` — HTSAT, a Swin transformer over the log-mel spectrogram: ``bn0``,
  ``patch_embed``, ``layers.{i}.blocks.{j}`` (``norm1``, fused ``attn.qkv`` ``[3C, C]``,
  ``attn.proj``, ``attn.relative_position_bias_table``, ``norm2``, ``mlp.fc1/fc2``),
  ``layers.{i}.downsample`` and ``norm`` → ``audio_model.audio_encoder.*`` with transformers'
  names (``qkv`` split into ``query``/``key``/``value``);
* ``{text,audio}_projection.{0,2}`` → ``{text,audio}_projection.linear{1,2}``; ``logit_scale_{a,t}``.

Not carried over, because transformers' ``ClapModel`` has no place for them: the STFT and mel
filterbank of ``spectrogram_extractor``/``logmel_extractor`` (``ClapFeatureExtractor`` computes
the spectrogram), the AudioSet classifier ``tscam_conv``/``head``, and the training-only
``{text,audio}_transform`` MLPs. Anything else left over is an error.

The architecture (widths, depths, heads, window) comes from a transformers CLAP ``base``
(``laion/larger_clap_music`` by default), whose processor (tokenizer and feature extractor) is
saved with the weights; every weight must have the base's shape. Fusion checkpoints and other
text towers are refused with one line.
"""

from __future__ import annotations

import os
import re
from typing import Any

from vmb.convert.audiocraft import ImportResult
from vmb.convert.checkpoint import (
    CheckpointError,
    check_out,
    flat_tensors,
    load_base,
    load_weights,
    strip_prefix,
)

DEFAULT_BASE = "laion/larger_clap_music"

# laion-clap weights transformers' ClapModel does not have (see the module docstring)
DROPPED = (
    re.compile(r"^audio_branch\.(spectrogram_extractor|logmel_extractor)\."),
    re.compile(r"^audio_branch\.(tscam_conv|head)\."),
    re.compile(r"^(text|audio)_transform\."),
    re.compile(r"^text_branch\.embeddings\.position_ids$"),
    re.compile(r"^audio_branch\.layers\.\d+\.blocks\.\d+\.attn_mask$"),  # recomputed from the geometry
)
_BLOCK = re.compile(r"^audio_branch\.layers\.(\d+)\.blocks\.(\d+)\.(.+)$")
_BLOCK_NAMES = {
    "norm1": "layernorm_before",
    "norm2": "layernorm_after",
    "attn.proj": "attention.output.dense",
    "attn.relative_position_bias_table": "attention.self.relative_position_bias_table",
    "attn.relative_position_index": "attention.self.relative_position_index",
    "mlp.fc1": "intermediate.dense",
    "mlp.fc2": "output.dense",
}
AUDIO = "audio_model.audio_encoder."


def read_state(path) -> dict[str, Any]:
    """The CLAP state dict of a laion-clap checkpoint (``module.`` prefix removed)."""
    package = load_weights(path)
    if not isinstance(package, dict):
        raise CheckpointError(path, f"holds a {type(package).__name__}, not a laion-clap checkpoint")
    import torch

    state = package.get("state_dict", package)
    if state is package and not all(isinstance(v, torch.Tensor) for v in package.values()):
        keys = ", ".join(sorted(map(str, package))[:4])
        raise CheckpointError(path, f"not a laion-clap checkpoint (no state_dict; keys: {keys})")
    if not isinstance(state, dict):
        raise CheckpointError(path, "its state_dict is not a mapping of weights")
    state = strip_prefix(flat_tensors(state, path), "module.")
    if not any(k.startswith("audio_branch.") for k in state) or not any(k.startswith("text_branch.") for k in state):
        keys = ", ".join(sorted(state)[:4])
        raise CheckpointError(path, f"not a laion-clap checkpoint (no audio_branch/text_branch weights; keys: {keys})")
    if any("fusion_model" in k or "mel_conv" in k for k in state):
        raise CheckpointError(path, "a fusion checkpoint (enable_fusion); vmb imports the non-fusion HTSAT ones")
    if not any(k.startswith("audio_branch.patch_embed.") for k in state):
        raise CheckpointError(path, "its audio branch is not HTSAT (no patch_embed); only HTSAT is supported")
    if not any(k.startswith("text_branch.encoder.layer.") for k in state):
        raise CheckpointError(path, "its text branch is not RoBERTa; only the RoBERTa text tower is supported")
    return state


def rename(state: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """laion-clap names → ``(ClapModel state dict, names left over)``; fused ``qkv`` is split."""
    out: dict[str, Any] = {}
    left = []
    for name, value in state.items():
        if any(p.search(name) for p in DROPPED):
            continue
        if name.startswith("text_branch."):
            out["text_model." + name[len("text_branch."):]] = value
            continue
        match = re.match(r"^(text|audio)_projection\.([02])\.(weight|bias)$", name)
        if match:
            which, index, part = match.groups()
            out[f"{which}_projection.linear{1 if index == '0' else 2}.{part}"] = value
            continue
        if name in ("logit_scale_a", "logit_scale_t"):
            out[name] = value
            continue
        block = _BLOCK.match(name)
        if block:
            layer, number, rest = block.groups()
            prefix = f"{AUDIO}layers.{layer}.blocks.{number}."
            qkv = re.match(r"^attn\.qkv\.(weight|bias)$", rest)
            if qkv:
                part = qkv.group(1)
                query, key, val = value.chunk(3, dim=0)
                out[f"{prefix}attention.self.query.{part}"] = query.clone()
                out[f"{prefix}attention.self.key.{part}"] = key.clone()
                out[f"{prefix}attention.self.value.{part}"] = val.clone()
                continue
            stem, _, part = rest.rpartition(".")
            if stem in _BLOCK_NAMES:
                out[f"{prefix}{_BLOCK_NAMES[stem]}.{part}"] = value
                continue
            if rest in _BLOCK_NAMES:  # a buffer without a .weight/.bias suffix
                out[f"{prefix}{_BLOCK_NAMES[rest]}"] = value
                continue
            left.append(name)
            continue
        if name.startswith("audio_branch.bn0."):
            out[f"{AUDIO}batch_norm.{name[len('audio_branch.bn0.'):]}"] = value
            continue
        match = re.match(r"^audio_branch\.(patch_embed\.(proj|norm)\.|layers\.\d+\.downsample\.|norm\.)", name)
        if match:
            out[AUDIO + name[len("audio_branch."):]] = value
            continue
        left.append(name)
    return out, left


def _load_base(base: str):
    from transformers import ClapModel, ClapProcessor

    return load_base(base, "clap", "CLAP", ClapModel, ClapProcessor)


# buffers transformers computes itself; a checkpoint need not have them
_COMPUTED = ("text_model.embeddings.position_ids", "text_model.embeddings.token_type_ids")


def convert_laion_clap(path: str | os.PathLike, out: str | os.PathLike, base: str = DEFAULT_BASE) -> ImportResult:
    """Convert a laion-clap ``.pt`` into a transformers ``ClapModel`` folder at ``out`` (written
    atomically, never replacing a folder) that ``ClapEncoder.from_pretrained(out)`` loads.

    Raises:
        CheckpointError: not a laion-clap checkpoint, unsupported variant, missing or misshapen
            weights (named), weights with no place in ``ClapModel``.
        OutputError: ``out`` exists.
        ModelUnavailable / ConfigError: the base model is missing or not CLAP.
    """
    import torch

    from vmb.fileio import atomic_folder, atomic_write_json

    out = check_out(out)
    state = read_state(path)
    converted, left = rename(state)
    if left:
        raise CheckpointError(path, f"{len(left)} weight(s) with no place in transformers' ClapModel, e.g. {left[0]!r}")
    model, processor = _load_base(base)
    target = model.state_dict()
    missing = [k for k in target if k not in converted and k not in _COMPUTED]
    if missing:
        original = _original_name(missing[0])
        raise CheckpointError(path, f"missing weight {original!r} ({len(missing)} missing in all)")
    unexpected = [k for k in converted if k not in target]
    if unexpected:
        raise CheckpointError(
            path, f"weight for {unexpected[0]!r} does not exist in --base {base}'s architecture (another depth?)"
        )
    for name, value in converted.items():
        if tuple(value.shape) != tuple(target[name].shape):
            raise CheckpointError(
                path,
                f"weight {_original_name(name)!r} has shape {tuple(value.shape)}; --base {base} "
                f"expects {tuple(target[name].shape)} (another model size: give the matching --base)",
            )
    with torch.no_grad():
        model.load_state_dict({k: v.to(target[k].dtype) for k, v in converted.items()}, strict=False)
    model.eval()
    parameters = sum(p.numel() for p in model.parameters())
    notes = [
        f"architecture, tokenizer and feature extractor: {base}",
        "not carried over: the STFT/mel layers (the feature extractor computes them), "
        + "the AudioSet head and the training-only transform MLPs",
    ]
    result = ImportResult(kind="laion-clap", source=str(os.path.abspath(path)), out=str(out), base=base,
                          parameters=parameters, notes=notes)  # fmt: skip
    with atomic_folder(out) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        atomic_write_json(tmp / "vmb_import.json", result.to_dict())
    return result


def _original_name(hf_name: str) -> str:
    """The laion-clap name a ClapModel weight comes from (for messages)."""
    if hf_name.startswith("text_model."):
        return "text_branch." + hf_name[len("text_model."):]
    match = re.match(r"^(text|audio)_projection\.linear([12])\.(\w+)$", hf_name)
    if match:
        return f"{match.group(1)}_projection.{0 if match.group(2) == '1' else 2}.{match.group(3)}"
    if hf_name.startswith(AUDIO):
        rest = hf_name[len(AUDIO):]
        for ours, theirs in (("batch_norm.", "bn0."), ("attention.self.query.", "attn.qkv."),
                             ("attention.self.key.", "attn.qkv."), ("attention.self.value.", "attn.qkv."),
                             *((v + ".", k + ".") for k, v in _BLOCK_NAMES.items())):  # fmt: skip
            rest = rest.replace(ours, theirs)
        return "audio_branch." + rest
    return hf_name


__all__ = ["DEFAULT_BASE", "convert_laion_clap", "read_state", "rename"]
