"""Tiny checkpoints written in the original packages' layouts, for the import tests.

* :func:`write_audiocraft_export` — a folder as ``audiocraft.utils.export`` writes it:
  ``state_dict.bin`` = ``{"best_state": LM state dict, "xp.cfg": YAML text, "version",
  "exported"}`` and ``compression_state_dict.bin`` = ``{"pretrained": "facebook/encodec_32khz",
  ...}``. The LM's names and shapes are those of audiocraft's ``LMModel`` with its custom
  ``StreamingMultiheadAttention`` (fused ``in_proj_weight`` ``[3D, D]``, no biases), pre-norm
  layers, ``out_norm``, ``linears``, and the T5 conditioner's ``output_proj``.
* :func:`audiocraft_logits` — that LM applied by hand to those weights (audiocraft's forward:
  summed codebook embeddings + sinusoidal positions ``[cos, sin]``, causal self-attention,
  cross-attention on the projected text states, GELU FFN, ``out_norm``, one head per
  codebook), the reference a conversion must reproduce.
* :func:`write_laion_clap_checkpoint` — a ``.pt`` as laion-clap's training saves it:
  ``{"epoch", "state_dict": {"module." + name: tensor}}`` with the text branch a transformers
  ``RobertaModel``, the HTSAT audio branch (``spectrogram_extractor``, ``logmel_extractor``,
  ``bn0``, ``patch_embed``, Swin ``layers.{i}.blocks.{j}`` with fused ``attn.qkv``,
  ``tscam_conv``, ``head``), the projection MLPs ``{text,audio}_projection.{0,2}``, the
  ``{text,audio}_transform.sequential.{0,3}`` MLPs and ``logit_scale_{a,t}``.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

AUDIOCRAFT_CFG = """\
sample_rate: 32000
channels: 1
compression_model_checkpoint: //pretrained/facebook/encodec_32khz
transformer_lm:
  dim: {dim}
  num_heads: {heads}
  num_layers: {layers}
  hidden_scale: {scale}
  n_q: {n_q}
  card: {card}
  bias_proj: false
  bias_ff: false
  bias_attn: false
  activation: gelu
  norm_first: true
  positional_embedding: sin
  cross_attention: true
conditioners:
  description:
    model: t5
    t5:
      name: t5-base
      finetune: false
      word_dropout: 0.3
      normalize_text: false
"""


def audiocraft_lm_state(dim=40, heads=5, layers=3, scale=2, n_q=4, card=64, text_dim=24, seed=0) -> dict:
    """An audiocraft ``LMModel`` state dict with random weights (names and shapes as saved)."""
    g = torch.Generator().manual_seed(seed)

    def w(*shape, std=0.2):
        return torch.randn(*shape, generator=g) * std

    sd = {}
    for k in range(n_q):
        sd[f"emb.{k}.weight"] = w(card + 1, dim, std=1.0)
    for i in range(layers):
        p = f"transformer.layers.{i}."
        sd[p + "self_attn.in_proj_weight"] = w(3 * dim, dim)
        sd[p + "self_attn.out_proj.weight"] = w(dim, dim)
        sd[p + "linear1.weight"] = w(scale * dim, dim)
        sd[p + "linear2.weight"] = w(dim, scale * dim)
        for norm in ("norm1", "norm2", "norm_cross"):
            sd[p + f"{norm}.weight"] = 1.0 + w(dim, std=0.1)
            sd[p + f"{norm}.bias"] = w(dim, std=0.1)
        sd[p + "cross_attention.in_proj_weight"] = w(3 * dim, dim)
        sd[p + "cross_attention.out_proj.weight"] = w(dim, dim)
    sd["out_norm.weight"] = 1.0 + w(dim, std=0.1)
    sd["out_norm.bias"] = w(dim, std=0.1)
    for k in range(n_q):
        sd[f"linears.{k}.weight"] = w(card, dim)
    sd["condition_provider.conditioners.description.output_proj.weight"] = w(dim, text_dim)
    sd["condition_provider.conditioners.description.output_proj.bias"] = w(dim, std=0.1)
    return sd


def write_audiocraft_export(folder: Path, state: dict | None = None, heads=5, with_cfg=True, **geometry) -> Path:
    """Write ``folder/state_dict.bin`` and ``folder/compression_state_dict.bin``; returns ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = state if state is not None else audiocraft_lm_state(heads=heads, **geometry)
    dim = state["emb.0.weight"].shape[1]
    n_q = sum(1 for k in state if k.startswith("emb."))
    layers = len({k.split(".")[2] for k in state if k.startswith("transformer.layers.")})
    scale = state["transformer.layers.0.linear1.weight"].shape[0] // dim
    card = state["linears.0.weight"].shape[0]
    package = {"best_state": state, "version": "1.3.0", "exported": True}
    if with_cfg:
        package["xp.cfg"] = AUDIOCRAFT_CFG.format(dim=dim, heads=heads, layers=layers, scale=scale, n_q=n_q, card=card)
    torch.save(package, folder / "state_dict.bin")
    torch.save({"pretrained": "facebook/encodec_32khz", "exported": True, "version": "1.3.0"},
               folder / "compression_state_dict.bin")  # fmt: skip
    return folder


def _layer_norm(x, sd, name):
    return F.layer_norm(x, x.shape[-1:], sd[f"{name}.weight"], sd[f"{name}.bias"], eps=1e-5)


def _attention(x, memory, in_proj, out_proj, heads, causal):
    """audiocraft's custom attention: q from x, k/v from memory, fused weights split in thirds."""
    dim = x.shape[-1]
    q = x @ in_proj[:dim].T
    k = memory @ in_proj[dim: 2 * dim].T
    v = memory @ in_proj[2 * dim:].T
    b, t, s = x.shape[0], x.shape[1], memory.shape[1]
    q, k, v = (y.reshape(b, -1, heads, dim // heads).transpose(1, 2) for y in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(dim // heads)
    if causal:
        scores = scores.masked_fill(torch.ones(t, s, dtype=torch.bool).triu(1), float("-inf"))
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, dim)
    return out @ out_proj.T


def audiocraft_logits(sd: dict, codes: torch.Tensor, text_states: torch.Tensor, heads: int) -> torch.Tensor:
    """audiocraft's LM forward on codes ``[B, K, T]`` and T5 states ``[B, S, E]`` → ``[B, K, T, card]``."""
    n_q = codes.shape[1]
    x = sum(sd[f"emb.{k}.weight"][codes[:, k]] for k in range(n_q))  # [B, T, D]
    dim, steps = x.shape[-1], x.shape[1]
    half = dim // 2
    positions = torch.arange(steps, dtype=torch.float32).view(1, -1, 1)
    phase = positions / (10000.0 ** (torch.arange(half, dtype=torch.float32).view(1, 1, -1) / (half - 1)))
    x = x + torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)
    proj = "condition_provider.conditioners.description.output_proj"
    memory = text_states @ sd[f"{proj}.weight"].T + sd[f"{proj}.bias"]
    layers = len({k.split(".")[2] for k in sd if k.startswith("transformer.layers.")})
    for i in range(layers):
        p = f"transformer.layers.{i}."
        h = _layer_norm(x, sd, p + "norm1")
        x = x + _attention(h, h, sd[p + "self_attn.in_proj_weight"], sd[p + "self_attn.out_proj.weight"], heads, True)
        h = _layer_norm(x, sd, p + "norm_cross")
        x = x + _attention(h, memory, sd[p + "cross_attention.in_proj_weight"],
                           sd[p + "cross_attention.out_proj.weight"], heads, False)  # fmt: skip
        h = _layer_norm(x, sd, p + "norm2")
        x = x + F.gelu(h @ sd[p + "linear1.weight"].T) @ sd[p + "linear2.weight"].T
    x = _layer_norm(x, sd, "out_norm")
    return torch.stack([x @ sd[f"linears.{k}.weight"].T for k in range(n_q)], dim=1)


# ---------------------------------------------------------------- laion-clap

def _relative_position_index(window: int) -> torch.Tensor:
    """Swin's pair-wise relative position index ``[W*W, W*W]`` (HTSAT's WindowAttention buffer)."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += window - 1
    rel[:, :, 1] += window - 1
    rel[:, :, 0] *= 2 * window - 1
    return rel.sum(-1)


def laion_clap_state(text_config: dict, embed=16, depths=(1, 1), heads=(2, 2), window=8, mel_bins=64,
                     spec_size=256, patch=4, num_classes=527, joint=32, n_fft=1024, seed=0) -> dict:  # fmt: skip
    """A laion-clap ``CLAP`` state dict (HTSAT audio branch, RoBERTa text branch), random weights."""
    from transformers import RobertaConfig, RobertaModel

    g = torch.Generator().manual_seed(seed)

    def w(*shape, std=0.1):
        return torch.randn(*shape, generator=g) * std

    torch.manual_seed(seed)
    roberta = RobertaModel(RobertaConfig(**text_config), add_pooling_layer=True)
    sd = {}
    for k, v in roberta.state_dict().items():  # wider than RoBERTa's 0.02 init: texts must differ
        trained = v.is_floating_point() and "LayerNorm" not in k
        sd[f"text_branch.{k}"] = w(*v.shape, std=0.3) if trained else v.clone()
    a = "audio_branch."
    sd[a + "spectrogram_extractor.stft.conv_real.weight"] = w(n_fft // 2 + 1, 1, n_fft)
    sd[a + "spectrogram_extractor.stft.conv_imag.weight"] = w(n_fft // 2 + 1, 1, n_fft)
    sd[a + "logmel_extractor.melW"] = w(n_fft // 2 + 1, mel_bins)
    sd[a + "bn0.weight"], sd[a + "bn0.bias"] = 1 + w(mel_bins), w(mel_bins)
    sd[a + "bn0.running_mean"], sd[a + "bn0.running_var"] = w(mel_bins), 1 + w(mel_bins).abs()
    sd[a + "bn0.num_batches_tracked"] = torch.tensor(1000)
    sd[a + "patch_embed.proj.weight"], sd[a + "patch_embed.proj.bias"] = w(embed, 1, patch, patch), w(embed)
    sd[a + "patch_embed.norm.weight"], sd[a + "patch_embed.norm.bias"] = 1 + w(embed), w(embed)
    for i, (depth, head) in enumerate(zip(depths, heads)):
        dim = embed * 2**i
        for j in range(depth):
            p = f"{a}layers.{i}.blocks.{j}."
            sd[p + "norm1.weight"], sd[p + "norm1.bias"] = 1 + w(dim), w(dim)
            sd[p + "attn.relative_position_bias_table"] = w((2 * window - 1) ** 2, head)
            sd[p + "attn.relative_position_index"] = _relative_position_index(window)
            sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"] = w(3 * dim, dim), w(3 * dim)
            sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"] = w(dim, dim), w(dim)
            sd[p + "norm2.weight"], sd[p + "norm2.bias"] = 1 + w(dim), w(dim)
            sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"] = w(4 * dim, dim), w(4 * dim)
            sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"] = w(dim, 4 * dim), w(dim)
        if i < len(depths) - 1:
            p = f"{a}layers.{i}.downsample."
            sd[p + "reduction.weight"] = w(2 * dim, 4 * dim)
            sd[p + "norm.weight"], sd[p + "norm.bias"] = 1 + w(4 * dim), w(4 * dim)
    features = embed * 2 ** (len(depths) - 1)
    sd[a + "norm.weight"], sd[a + "norm.bias"] = 1 + w(features), w(features)
    freq_ratio = spec_size // mel_bins
    sf = spec_size // 2 ** (len(depths) - 1) // patch // freq_ratio
    sd[a + "tscam_conv.weight"], sd[a + "tscam_conv.bias"] = w(num_classes, features, sf, 3), w(num_classes)
    sd[a + "head.weight"], sd[a + "head.bias"] = w(num_classes, num_classes), w(num_classes)
    text_width = text_config["hidden_size"]
    for which, width in (("text", text_width), ("audio", features)):
        sd[f"{which}_projection.0.weight"], sd[f"{which}_projection.0.bias"] = w(joint, width), w(joint)
        sd[f"{which}_projection.2.weight"], sd[f"{which}_projection.2.bias"] = w(joint, joint), w(joint)
        for index in (0, 3):  # MLPLayers([joint] * 3): Linear, ReLU, Dropout, Linear
            sd[f"{which}_transform.sequential.{index}.weight"] = w(joint, joint)
            sd[f"{which}_transform.sequential.{index}.bias"] = w(joint)
    sd["logit_scale_a"] = torch.tensor(math.log(1 / 0.07))
    sd["logit_scale_t"] = torch.tensor(math.log(1 / 0.07))
    return sd


def write_laion_clap_checkpoint(path: Path, state: dict) -> Path:
    """Save ``state`` as laion-clap's training does (DDP ``module.`` prefix, an epoch number)."""
    torch.save({"epoch": 15, "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    return path


def laion_text_embedding(state: dict, text_config: dict, input_ids, attention_mask) -> torch.Tensor:
    """laion-clap's ``get_text_embedding``: RoBERTa pooler → Linear, ReLU, Linear → L2 norm."""
    from transformers import RobertaConfig, RobertaModel

    roberta = RobertaModel(RobertaConfig(**text_config), add_pooling_layer=True).eval()
    text = {k[len("text_branch."):]: v for k, v in state.items() if k.startswith("text_branch.")}
    roberta.load_state_dict(text, strict=False)
    pooled = roberta(input_ids=input_ids, attention_mask=attention_mask).pooler_output
    x = F.relu(pooled @ state["text_projection.0.weight"].T + state["text_projection.0.bias"])
    x = x @ state["text_projection.2.weight"].T + state["text_projection.2.bias"]
    return F.normalize(x, dim=-1)


def htsat_window_attention(state: dict, prefix: str, x: torch.Tensor, heads: int, window: int) -> torch.Tensor:
    """HTSAT's ``WindowAttention`` (no shift mask) on windows ``[nW, W*W, C]`` from the
    original weights: fused qkv, scaled dot product + relative position bias, softmax, proj."""
    b, n, c = x.shape
    qkv = (x @ state[prefix + "attn.qkv.weight"].T + state[prefix + "attn.qkv.bias"])
    q, k, v = qkv.reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    attn = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
    table = state[prefix + "attn.relative_position_bias_table"]
    index = state[prefix + "attn.relative_position_index"]
    bias = table[index.view(-1)].view(window * window, window * window, -1).permute(2, 0, 1)
    attn = (attn + bias.unsqueeze(0)).softmax(-1)
    out = (attn @ v).transpose(1, 2).reshape(b, n, c)
    return out @ state[prefix + "attn.proj.weight"].T + state[prefix + "attn.proj.bias"]
