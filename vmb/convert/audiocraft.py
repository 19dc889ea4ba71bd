"""An audiocraft MusicGen checkpoint → the transformers MusicGen folder vmb loads.

audiocraft exports a fine-tuned MusicGen as a folder with two files (``audiocraft.utils.export``):

* ``state_dict.bin`` — ``{"best_state": <LM state dict>, "xp.cfg": <the training config as
  YAML text>, "version": ..., "exported": True}``;
* ``compression_state_dict.bin`` — the audio codec: ``{"pretrained": "facebook/encodec_32khz"}``
  (a pointer to the pretrained EnCodec) or a codec trained from scratch (``best_state``).

The LM state dict (audiocraft's ``LMModel``) holds the codebook embeddings ``emb.{k}``, the
transformer ``transformer.layers.{i}`` (fused ``in_proj_weight`` for self- and cross-attention,
``linear1``/``linear2``, ``norm1``/``norm_cross``/``norm2``), ``out_norm``, the output heads
``linears.{k}`` and the T5 conditioner's projection
``condition_provider.conditioners.description.output_proj``. The T5 text encoder and EnCodec are
not in it: they are the pretrained ones, taken here from a transformers MusicGen ``base``
(``facebook/musicgen-small`` by default) together with its tokenizer and feature extractor.

Geometry (width, layers, codebooks, codebook size, FFN width, text width) is read from the
weights' shapes; the number of heads from ``xp.cfg`` (``transformer_lm.num_heads``), else from
the base when its width is the same. Everything is checked before anything is written: a
missing or misshapen weight, a weight with no place in transformers' MusicGen (biases, layer
scale, a melody conditioner) or a codec that does not fit the base is one line naming it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmb.convert.checkpoint import (
    CheckpointError,
    check_out,
    flat_tensors,
    load_base,
    load_weights,
    need,
)

DEFAULT_BASE = "facebook/musicgen-small"
LM_FILE = "state_dict.bin"
CODEC_FILE = "compression_state_dict.bin"
PROJ = "condition_provider.conditioners.description.output_proj"


@dataclass(frozen=True)
class LMGeometry:
    """The shape of an audiocraft LM, read from its weights (and ``xp.cfg`` for the heads)."""

    dim: int
    num_layers: int
    num_heads: int
    ffn_dim: int
    num_codebooks: int
    card: int
    text_dim: int


@dataclass
class ImportResult:
    """What an import wrote: the folder, where it came from, and notes on what was assumed."""

    kind: str
    source: str
    out: str
    base: str
    parameters: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source, "out": self.out, "base": self.base,
                "parameters": self.parameters, "notes": list(self.notes)}  # fmt: skip


def find_files(path: str | os.PathLike) -> tuple[Path, Path | None]:
    """``(state_dict.bin, compression_state_dict.bin or None)`` of a folder, or the file given."""
    path = Path(path).expanduser()
    if path.is_dir():
        lm = path / LM_FILE
        if not lm.exists():
            raise CheckpointError(path, f"no {LM_FILE} in this folder (audiocraft exports the LM there)")
        codec = path / CODEC_FILE
        return lm, codec if codec.exists() else None
    codec = path.parent / CODEC_FILE
    return path, codec if codec.exists() and codec != path else None


def read_lm(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(LM state dict, xp.cfg as a dict or {})`` of an exported ``state_dict.bin`` (or of a
    file holding the LM state dict itself)."""
    package = load_weights(path)
    if not isinstance(package, dict):
        raise CheckpointError(path, f"holds a {type(package).__name__}, not an audiocraft checkpoint")
    cfg: dict[str, Any] = {}
    if "best_state" in package:
        state = package["best_state"]
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]  # a training checkpoint's best_state
        raw_cfg = package.get("xp.cfg")
        if isinstance(raw_cfg, str):
            from vmb.config import parse_yaml
            from vmb.errors import ConfigError

            try:
                parsed = parse_yaml(raw_cfg, f"{path} (xp.cfg)")
            except ConfigError as exc:
                raise CheckpointError(path, f"its xp.cfg is not readable YAML ({exc})") from None
            cfg = parsed if isinstance(parsed, dict) else {}
    elif any(isinstance(k, str) and k.startswith("emb.") for k in package):
        state = package
    else:
        keys = ", ".join(sorted(map(str, package))[:5])
        raise CheckpointError(
            path, f"not an audiocraft MusicGen checkpoint (no best_state or LM weights; keys: {keys})"
        )
    state = flat_tensors(state, path, "LM state dict")
    # audiocraft's non-custom attention saves nn.MultiheadAttention's names under ".mha."
    state = {k.replace(".mha.", "."): v for k, v in state.items()}
    return state, cfg


def check_codec(path: Path | None) -> str | None:
    """The pretrained codec ``compression_state_dict.bin`` points to (``None`` without the file);
    a codec trained from scratch cannot be imported."""
    if path is None:
        return None
    package = load_weights(path)
    if not isinstance(package, dict):
        raise CheckpointError(path, "not an audiocraft compression checkpoint")
    if "pretrained" in package:
        return str(package["pretrained"])
    if "best_state" in package:
        raise CheckpointError(
            path,
            "holds an EnCodec trained from scratch; vmb imports MusicGen LMs trained on a pretrained "
            "EnCodec (facebook/encodec_32khz), whose transformers weights come from --base",
        )
    raise CheckpointError(path, "not an audiocraft compression checkpoint (no pretrained or best_state)")


def _count(state: dict[str, Any], pattern: str, path) -> int:
    regex = re.compile(pattern)
    found = {int(m.group(1)) for k in state if (m := regex.match(k))}
    if found and found != set(range(len(found))):
        raise CheckpointError(path, f"missing weights: {pattern} is numbered {sorted(found)[:8]}")
    return len(found)


def geometry(state: dict[str, Any], cfg: dict[str, Any], path, base_decoder=None) -> LMGeometry:
    """The LM's geometry from its weights; heads from ``xp.cfg`` or a base of the same width."""
    unsupported = [k for k in state if "self_wav" in k or "chroma" in k]
    if unsupported:
        raise CheckpointError(
            path, f"a MusicGen-Melody checkpoint ({unsupported[0]}); vmb imports text-conditioned MusicGen"
        )
    extra = [k for k in state if k.startswith("condition_provider.") and not k.startswith(PROJ + ".")]
    if extra:
        raise CheckpointError(path, f"a conditioner vmb cannot import ({extra[0]}); only the T5 text one")
    for pattern, what in ((r"in_proj_bias$|out_proj\.bias$|linear[12]\.bias$", "biases in attention or FFN"),
                          (r"layer_scale", "layer scale")):  # fmt: skip
        bad = [k for k in state if re.search(pattern, k)]
        if bad:
            raise CheckpointError(path, f"has {what} ({bad[0]}), which transformers' MusicGen does not have")
    num_codebooks = _count(state, r"emb\.(\d+)\.weight$", path)
    if num_codebooks == 0:
        raise CheckpointError(path, "missing weight 'emb.0.weight' (not an audiocraft MusicGen LM)")
    card_plus_one, dim = need(state, "emb.0.weight", path, (-1, -1)).shape
    num_layers = _count(state, r"transformer\.layers\.(\d+)\.", path)
    if num_layers == 0:
        raise CheckpointError(path, "missing weights 'transformer.layers.0.*' (not an audiocraft MusicGen LM)")
    ffn_dim = need(state, "transformer.layers.0.linear1.weight", path, (-1, dim)).shape[0]
    text_dim = need(state, f"{PROJ}.weight", path, (dim, -1)).shape[1]
    lm_cfg = cfg.get("transformer_lm") if isinstance(cfg.get("transformer_lm"), dict) else {}
    heads = lm_cfg.get("num_heads")
    if heads is None and base_decoder is not None and base_decoder.hidden_size == dim:
        heads = base_decoder.num_attention_heads
    if not isinstance(heads, int) or heads < 1 or dim % heads:
        raise CheckpointError(
            path,
            f"the number of attention heads is unknown (xp.cfg has no transformer_lm.num_heads "
            f"dividing {dim}); use a --base of the same width",
        )
    return LMGeometry(dim=int(dim), num_layers=num_layers, num_heads=int(heads), ffn_dim=int(ffn_dim),
                      num_codebooks=num_codebooks, card=int(card_plus_one) - 1, text_dim=int(text_dim))  # fmt: skip


def rename(state: dict[str, Any], geo: LMGeometry, path) -> tuple[dict[str, Any], dict[str, Any]]:
    """audiocraft LM names → ``(MusicgenForCausalLM state dict, enc_to_dec_proj state dict)``.

    Every weight is checked for its shape; a weight left over (no place in transformers'
    MusicGen) is an error, so nothing is silently dropped.
    """
    d, used = geo.dim, set()
    decoder: dict[str, Any] = {}

    def take(name: str, shape: tuple[int, ...]):
        used.add(name)
        return need(state, name, path, shape).float()

    for k in range(geo.num_codebooks):
        decoder[f"model.decoder.embed_tokens.{k}.weight"] = take(f"emb.{k}.weight", (geo.card + 1, d))
        decoder[f"lm_heads.{k}.weight"] = take(f"linears.{k}.weight", (geo.card, d))
    for i in range(geo.num_layers):
        src, dst = f"transformer.layers.{i}.", f"model.decoder.layers.{i}."
        for attn, hf in (("self_attn", "self_attn"), ("cross_attention", "encoder_attn")):
            q, k_, v = take(f"{src}{attn}.in_proj_weight", (3 * d, d)).split(d, dim=0)
            decoder[f"{dst}{hf}.q_proj.weight"] = q.clone()
            decoder[f"{dst}{hf}.k_proj.weight"] = k_.clone()
            decoder[f"{dst}{hf}.v_proj.weight"] = v.clone()
            decoder[f"{dst}{hf}.out_proj.weight"] = take(f"{src}{attn}.out_proj.weight", (d, d))
        for norm, hf in (("norm1", "self_attn_layer_norm"), ("norm_cross", "encoder_attn_layer_norm"),
                         ("norm2", "final_layer_norm")):  # fmt: skip
            for part in ("weight", "bias"):
                decoder[f"{dst}{hf}.{part}"] = take(f"{src}{norm}.{part}", (d,))
        decoder[f"{dst}fc1.weight"] = take(f"{src}linear1.weight", (geo.ffn_dim, d))
        decoder[f"{dst}fc2.weight"] = take(f"{src}linear2.weight", (d, geo.ffn_dim))
    for part in ("weight", "bias"):
        decoder[f"model.decoder.layer_norm.{part}"] = take(f"out_norm.{part}", (d,))
    proj = {"weight": take(f"{PROJ}.weight", (d, geo.text_dim)), "bias": take(f"{PROJ}.bias", (d,))}
    left = sorted(set(state) - used)
    if left:
        raise CheckpointError(
            path, f"{len(left)} weight(s) with no place in transformers' MusicGen, e.g. {left[0]!r}"
        )
    return decoder, proj


def _load_base(base: str):
    from transformers import AutoProcessor, MusicgenForConditionalGeneration

    return load_base(base, "musicgen", "MusicGen", MusicgenForConditionalGeneration, AutoProcessor)


def convert_audiocraft(path: str | os.PathLike, out: str | os.PathLike, base: str = DEFAULT_BASE) -> ImportResult:
    """Convert an audiocraft MusicGen export (folder or ``state_dict.bin``) into a transformers
    ``MusicgenForConditionalGeneration`` folder at ``out`` (written atomically, never replacing a
    folder) that ``MusicGenGenerator.from_pretrained(out)`` loads.

    Raises:
        CheckpointError: not an audiocraft checkpoint, wrong layout, missing/misshapen weights.
        OutputError: ``out`` exists.
        ModelUnavailable / ConfigError: the base model is missing or not MusicGen.
    """
    import copy

    import torch
    from transformers import MusicgenForCausalLM

    from vmb.fileio import atomic_folder, atomic_write_json

    out = check_out(out)
    lm_path, codec_path = find_files(path)
    state, cfg = read_lm(lm_path)
    pretrained_codec = check_codec(codec_path)
    base_model, processor = _load_base(base)
    geo = geometry(state, cfg, lm_path, base_model.config.decoder)
    decoder_state, proj_state = rename(state, geo, lm_path)
    del state

    text_hidden = base_model.config.text_encoder.hidden_size
    if text_hidden != geo.text_dim:
        raise CheckpointError(lm_path, f"its text projection takes {geo.text_dim}-wide T5 states; "
                                       f"--base {base} has a {text_hidden}-wide text encoder")  # fmt: skip
    if text_hidden == geo.dim:
        raise CheckpointError(lm_path, "the text width equals the LM width: transformers' MusicGen then "
                                       "has no projection for the checkpoint's output_proj")  # fmt: skip
    codec = base_model.config.audio_encoder
    base_decoder = base_model.config.decoder
    if codec.codebook_size != geo.card or base_decoder.num_codebooks != geo.num_codebooks:
        raise CheckpointError(
            lm_path,
            f"{geo.num_codebooks} codebooks of {geo.card} codes; --base {base}'s EnCodec gives "
            f"{base_decoder.num_codebooks} of {codec.codebook_size}",
        )
    notes = []
    rate = cfg.get("sample_rate")
    if isinstance(rate, int) and rate != codec.sampling_rate:
        raise CheckpointError(lm_path, f"trained at {rate} Hz; --base {base}'s EnCodec runs at {codec.sampling_rate} Hz")
    channels = cfg.get("channels")
    if isinstance(channels, int) and channels != base_decoder.audio_channels:
        raise CheckpointError(
            lm_path, f"{channels} audio channel(s); --base {base} has {base_decoder.audio_channels}"
        )
    if pretrained_codec:
        notes.append(f"codec: {base}'s EnCodec (the checkpoint names {pretrained_codec})")
    else:
        notes.append(f"codec: {base}'s EnCodec (no {CODEC_FILE} next to the checkpoint)")
    notes.append(f"text encoder and tokenizer: {base}'s T5")

    decoder_config = copy.deepcopy(base_decoder)
    decoder_config.update({"hidden_size": geo.dim, "num_hidden_layers": geo.num_layers,
                           "num_attention_heads": geo.num_heads, "ffn_dim": geo.ffn_dim,
                           "vocab_size": geo.card, "num_codebooks": geo.num_codebooks,
                           "pad_token_id": geo.card, "bos_token_id": geo.card})  # fmt: skip
    decoder = MusicgenForCausalLM(decoder_config).eval()
    missing, unexpected = decoder.load_state_dict(decoder_state, strict=False)
    missing = [k for k in missing if not k.endswith("embed_positions.weights")]
    if missing or unexpected:  # rename() covers every weight; this is a guard against drift
        raise CheckpointError(lm_path, f"does not fit transformers' MusicGen (missing {missing[:2]}, "
                                       f"unexpected {unexpected[:2]})")  # fmt: skip
    from transformers import MusicgenForConditionalGeneration

    model = MusicgenForConditionalGeneration(
        text_encoder=base_model.text_encoder, audio_encoder=base_model.audio_encoder, decoder=decoder
    ).eval()
    with torch.no_grad():
        model.enc_to_dec_proj.weight.copy_(proj_state["weight"])
        model.enc_to_dec_proj.bias.copy_(proj_state["bias"])
    generation = copy.deepcopy(base_model.generation_config)
    generation.decoder_start_token_id = generation.pad_token_id = generation.bos_token_id = geo.card
    model.generation_config = generation
    parameters = sum(p.numel() for p in model.parameters())
    result = ImportResult(kind="audiocraft", source=str(lm_path.resolve()), out=str(out), base=base,
                          parameters=parameters, notes=notes)  # fmt: skip
    with atomic_folder(out) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        atomic_write_json(tmp / "vmb_import.json", {**result.to_dict(), "geometry": geo.__dict__,
                                                    "audiocraft_config": {"num_heads": geo.num_heads}})  # fmt: skip
    return result


__all__ = ["DEFAULT_BASE", "ImportResult", "LMGeometry", "convert_audiocraft", "geometry", "read_lm", "rename"]
