"""Trainable music-bridge adapters for MusicGen: reference tokens and a ControlFormer.

Both are zero-initialised the way ControlNet and LLaMA-Adapter are, so that an untrained adapter
leaves the base model's output exactly unchanged:

* :class:`ReferenceTokens` (mechanism 2, the paper's "targeted reference embedding concatenated
  with the text embedding"). The reference's audio embedding ``[B, E]`` is projected to ``K``
  tokens ``[B, K, D]``. Every decoder layer attends to them next to the text: the attention
  that reads the conditioning (cross-attention in MusicGen, the prefix self-attention in
  MusicGen-Melody) gets a second softmax over the reference tokens, computed with the layer's
  own projections and added behind a per-layer gate ``tanh(g_l)`` with ``g_l = 0`` at
  initialisation (LLaMA-Adapter's zero-init attention). A separate softmax is what makes the
  zero gate exact: appending the tokens to the text's softmax would change its normalisation.
* :class:`ControlFormer` (mechanism 3, the paper's "Music ControlFormer"). Trainable copies of
  the first ``N`` decoder blocks read the reference's EnCodec codes (embedded with a copy of the
  decoder's code embeddings, entering through a zero-initialised linear layer); the output of
  copy ``i`` goes through a zero-initialised linear layer and is added to the frozen decoder's
  hidden states after block ``i``. The reference codes are laid out with MusicGen's delay
  pattern and aligned frame by frame with the generated ones, looping over the reference.

The embedding for the reference tokens comes from one of two sources, recorded in the config:
``clap`` (a CLAP audio embedding, e.g. the vector of the clip in a CLAP index, 512 wide) or
``encodec`` (default; needs nothing but the generator itself: the reference is encoded with the
model's own EnCodec and the quantised latents ``[codebook_dim, F]`` are mean-pooled over time).
EnCodec is the default because it works for every reference, user-pinned files included,
without a second model on the generation path; ``clap`` suits adapters trained on a CLAP index.

Files: ``adapter_config.json`` (:class:`AdapterConfig`) and ``adapter_model.safetensors``
(weights). Loading uses ``safetensors`` only; nothing is unpickled.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from vmb.errors import ConfigError, ModelUnavailable

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
ADAPTER_FORMAT = "vmb-musicgen-adapter"
ADAPTER_VERSION = 1


@dataclass
class AdapterConfig:
    """What an adapter is made of, and which model it fits.

    Attributes:
        hidden_size: the decoder's hidden size ``D``.
        num_hidden_layers: how many decoder layers the base model has.
        num_codebooks: codebooks of the base model.
        vocab_size: codebook size of the base model.
        model_type: ``musicgen`` or ``musicgen_melody``.
        base_model: the model id or path the adapter was made for (informational).
        reference_tokens: whether mechanism 2 is present.
        embedding_source: ``encodec`` or ``clap``: where the reference embedding comes from.
        embedding_dim: width ``E`` of that embedding (EnCodec ``codebook_dim``, 512 for CLAP).
        num_tokens: ``K`` tokens the embedding is projected to.
        proj_dim: hidden width of the projection MLP ``E -> proj_dim -> K·D``.
        control_layers: ``N`` copied blocks of the ControlFormer (0: no ControlFormer).
    """

    hidden_size: int
    num_hidden_layers: int
    num_codebooks: int
    vocab_size: int
    model_type: str = "musicgen"
    base_model: str = ""
    reference_tokens: bool = True
    embedding_source: Literal["encodec", "clap"] = "encodec"
    embedding_dim: int = 128
    num_tokens: int = 4
    proj_dim: int = 512
    control_layers: int = 2

    def __post_init__(self) -> None:
        if self.embedding_source not in ("encodec", "clap"):
            raise ConfigError(
                f"adapter embedding_source {self.embedding_source!r} is not one of: encodec, clap"
            )
        for name in (
            "hidden_size",
            "num_hidden_layers",
            "num_codebooks",
            "vocab_size",
            "embedding_dim",
            "num_tokens",
            "proj_dim",
        ):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"adapter {name} = {getattr(self, name)!r} must be at least 1")
        if not 0 <= self.control_layers <= self.num_hidden_layers:
            raise ConfigError(
                f"adapter control_layers = {self.control_layers} must be between 0 and "
                f"the model's {self.num_hidden_layers} layers"
            )
        if not self.reference_tokens and self.control_layers == 0:
            raise ConfigError("adapter has neither reference tokens nor ControlFormer layers")

    @classmethod
    def for_model(cls, model: Any, **kwargs: Any) -> AdapterConfig:
        """A config that fits a loaded ``Musicgen[Melody]ForConditionalGeneration``."""
        decoder = model.config.decoder
        if "embedding_dim" not in kwargs:
            clap = kwargs.get("embedding_source") == "clap"
            kwargs["embedding_dim"] = 512 if clap else int(model.config.audio_encoder.codebook_dim)
        return cls(
            hidden_size=decoder.hidden_size,
            num_hidden_layers=decoder.num_hidden_layers,
            num_codebooks=decoder.num_codebooks,
            vocab_size=decoder.vocab_size,
            model_type=model.config.model_type,
            base_model=str(getattr(model.config, "_name_or_path", "") or ""),
            **kwargs,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["format"] = ADAPTER_FORMAT
        data["version"] = ADAPTER_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "adapter config") -> AdapterConfig:
        if data.get("format") != ADAPTER_FORMAT:
            raise ConfigError(
                f"{source}: not a vmb MusicGen adapter (format {data.get('format')!r})"
            )
        if data.get("version") != ADAPTER_VERSION:
            raise ConfigError(
                f"{source}: adapter version {data.get('version')!r} is not {ADAPTER_VERSION}"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    def check_fits(self, model: Any, source: str) -> None:
        """Raise :class:`ConfigError` when the adapter was made for a different architecture."""
        decoder = model.config.decoder
        expected = {
            "model_type": model.config.model_type,
            "hidden_size": decoder.hidden_size,
            "num_hidden_layers": decoder.num_hidden_layers,
            "num_codebooks": decoder.num_codebooks,
            "vocab_size": decoder.vocab_size,
        }
        for name, value in expected.items():
            if getattr(self, name) != value:
                raise ConfigError(
                    f"{source}: adapter {name} = {getattr(self, name)!r} does not fit the model ({value!r})"
                )


class ReferenceTokens(nn.Module):
    """Reference embedding ``[B, E]`` -> ``K`` zero-gated attention tokens ``[B, K, D]``."""

    def __init__(self, config: AdapterConfig):
        super().__init__()
        self.num_tokens = config.num_tokens
        self.hidden_size = config.hidden_size
        self.norm = nn.LayerNorm(config.embedding_dim)
        self.proj = nn.Sequential(
            nn.Linear(config.embedding_dim, config.proj_dim),
            nn.GELU(),
            nn.Linear(config.proj_dim, config.num_tokens * config.hidden_size),
        )
        # tanh(0) = 0: every layer's gate starts closed.
        self.gates = nn.Parameter(torch.zeros(config.num_hidden_layers))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        tokens = self.proj(self.norm(embedding))
        return tokens.view(embedding.shape[0], self.num_tokens, self.hidden_size)

    @staticmethod
    def absorb(
        attention: nn.Module, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Fold a layer's projections into the tokens (once per generation, once per batch in
        training; differentiable in the tokens).

        With ``H`` heads of width ``d``, head ``h`` scores a query ``x`` against token ``k`` as
        ``(W_q[h] x + b_q[h]) · (W_k[h] t_k) · s = x · (W_q[h]ᵀ W_k[h] t_k · s) + b_q[h] · W_k[h] t_k · s``
        and its output ``Σ_k p_hk W_o[:, h] W_v[h] t_k`` is a mix of the vectors ``W_o[:, h] W_v[h] t_k``.

        Args:
            attention: the layer's attention module (``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``).
            tokens: ``[b, K, D]``.

        Returns:
            score keys ``[b, H, K, D]``, score bias ``[b, H, K]`` and output vectors ``[b, H, K, D]``.
        """
        heads, width = attention.num_heads, attention.head_dim
        b, k, _ = tokens.shape
        keys = attention.k_proj(tokens).view(b, k, heads, width).transpose(1, 2)  # [b, H, K, d]
        values = attention.v_proj(tokens).view(b, k, heads, width).transpose(1, 2)
        w_q, b_q = _linear_parameters(attention.q_proj)
        w_o, _ = _linear_parameters(attention.out_proj)  # its bias is already in the layer's output
        score_keys = (
            torch.einsum("bhkd,hde->bhke", keys, w_q.view(heads, width, -1)) * attention.scaling
        )
        score_bias = torch.zeros(b, heads, k, dtype=keys.dtype, device=keys.device)
        if b_q is not None:
            score_bias = (
                torch.einsum("bhkd,hd->bhk", keys, b_q.view(heads, width)) * attention.scaling
            )
        out_values = torch.einsum("bhkd,ehd->bhke", values, w_o.view(-1, heads, width))
        return score_keys, score_bias, out_values

    @staticmethod
    def project_keys(
        attention: nn.Module, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A layer's keys and values of the tokens ``[b, K, D]`` -> two ``[b, H, K, d]``."""
        b, k, _ = tokens.shape
        keys = attention.k_proj(tokens).view(b, k, -1, attention.head_dim).transpose(1, 2)
        values = attention.v_proj(tokens).view(b, k, -1, attention.head_dim).transpose(1, 2)
        return keys, values

    @staticmethod
    def attend(
        attention: nn.Module, hidden_states: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ):
        """Attention of ``hidden_states [b, q, D]`` over reference ``keys/values [b, H, K, d]``
        with ``attention``'s own query and output projections -> ``[b, q, D]``.

        The plain form, the definition :meth:`absorb` and :meth:`attend_absorbed` compute
        (generation and training both use the absorbed form; a test checks they agree).
        """
        b, q, _ = hidden_states.shape
        query = attention.q_proj(hidden_states).view(b, q, -1, attention.head_dim).transpose(1, 2)
        out = nn.functional.scaled_dot_product_attention(
            query, keys, values, scale=attention.scaling
        )
        return attention.out_proj(out.transpose(1, 2).reshape(b, q, -1)) - _output_bias(attention)

    @staticmethod
    def attend_absorbed(
        hidden_states: torch.Tensor, absorbed: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ):
        """:meth:`attend` with the projections folded in by :meth:`absorb`: two small einsums
        per layer instead of two ``D × D`` matrix products; ``hidden_states [b, q, D]`` with
        tokens absorbed for the same ``b`` rows -> ``[b, q, D]``."""
        score_keys, score_bias, out_values = absorbed
        scores = torch.einsum("bqe,bhke->bhqk", hidden_states, score_keys) + score_bias[:, :, None, :]
        return torch.einsum("bhqk,bhke->bqe", torch.softmax(scores, dim=-1), out_values)


def _output_bias(attention: nn.Module) -> torch.Tensor | float:
    """The output projection's bias: already in the layer's own output, so not added twice."""
    _, bias = _linear_parameters(attention.out_proj)
    return 0.0 if bias is None else bias


def _linear_parameters(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Float weight ``[out, in]`` and bias of a Linear layer, int8 dynamic-quantized ones included."""
    if isinstance(layer, nn.Linear):
        return layer.weight, layer.bias
    weight = layer.weight()
    weight = weight.dequantize() if weight.is_quantized else weight
    bias = layer.bias() if callable(getattr(layer, "bias", None)) else getattr(layer, "bias", None)
    return weight, bias


class ControlFormer(nn.Module):
    """Trainable copies of the first ``N`` decoder blocks, fed the reference's EnCodec codes.

    The copies start as exact copies of the frozen blocks (as in ControlNet); the codes enter
    through ``zero_in`` and every copy's output leaves through its ``zero_out`` layer, both
    zero-initialised.
    """

    def __init__(self, config: AdapterConfig, base_layers, base_embeddings):
        super().__init__()
        self.blocks = nn.ModuleList(copy.deepcopy(layer) for layer in base_layers)
        self.code_embeddings = nn.ModuleList(copy.deepcopy(e) for e in base_embeddings)
        self.zero_in = nn.Linear(config.hidden_size, config.hidden_size)
        self.zero_out = nn.ModuleList(
            nn.Linear(config.hidden_size, config.hidden_size) for _ in range(config.control_layers)
        )
        for layer in [self.zero_in, *self.zero_out]:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        for parameter in self.parameters():
            parameter.requires_grad_(True)

    def embed_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """``[b, num_codebooks, q]`` code ids (the pad id included) -> ``[b, q, D]``."""
        return sum(embed(codes[:, k]) for k, embed in enumerate(self.code_embeddings))

    def forward(
        self, hidden_states: torch.Tensor, code_embeddings: torch.Tensor, run_block
    ) -> list[torch.Tensor]:
        """Residuals ``[b, q, D]`` of the copied blocks, one per block.

        Args:
            hidden_states: the frozen decoder's block-0 input ``[b, q, D]``.
            code_embeddings: embedded reference codes aligned with it ``[b, q, D]``.
            run_block: ``run_block(block, hidden) -> hidden`` runs one copied block with the
                branch's own KV cache and the frozen decoder's conditioning.
        """
        hidden = hidden_states + self.zero_in(code_embeddings)
        residuals = []
        for block, zero in zip(self.blocks, self.zero_out):
            hidden = run_block(block, hidden)
            residuals.append(zero(hidden))
        return residuals


class MusicAdapter(nn.Module):
    """The trainable part of the music bridge: optional reference tokens and ControlFormer.

    Build one with :func:`create_adapter` (fresh, zero-initialised) or :func:`load_adapter`.
    """

    def __init__(self, config: AdapterConfig, model: Any):
        super().__init__()
        config.check_fits(model, "adapter")
        self.config = config
        self.reference_tokens = ReferenceTokens(config) if config.reference_tokens else None
        if config.control_layers:
            decoder = model.decoder.model.decoder
            self.control = ControlFormer(
                config, decoder.layers[: config.control_layers], decoder.embed_tokens
            )
        else:
            self.control = None
        self.eval()

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write ``adapter_config.json`` and ``adapter_model.safetensors`` into ``path``."""
        from safetensors.torch import save_file

        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        _atomic_write(
            folder / WEIGHTS_NAME, lambda tmp: save_file(tensors, tmp, metadata={"format": "pt"})
        )
        text = json.dumps(self.config.to_dict(), indent=2) + "\n"
        _atomic_write(
            folder / CONFIG_NAME, lambda tmp: Path(tmp).write_text(text, encoding="utf-8")
        )
        return folder


def create_adapter(model: Any, config: AdapterConfig | None = None, **kwargs: Any) -> MusicAdapter:
    """A fresh, zero-initialised adapter for ``model`` (MusicGen or MusicGen-Melody).

    An untrained adapter leaves the model's output unchanged; train it, then
    ``adapter.save_pretrained(folder)``.
    """
    config = config or AdapterConfig.for_model(model, **kwargs)
    return MusicAdapter(config, model).to(next(model.decoder.parameters()).device)


def load_adapter(path: str | os.PathLike, model: Any) -> MusicAdapter:
    """Load an adapter saved with ``save_pretrained`` for ``model``.

    Raises:
        ModelUnavailable: the folder or one of its two files is missing.
        ConfigError: the files are corrupt or were made for another architecture.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(path).expanduser()
    config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    for required in (config_path, weights_path):
        if not required.is_file():
            raise ModelUnavailable(
                str(path), f"{required} does not exist", "train or copy the adapter there"
            )
    try:
        data = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{config_path}: expected a JSON object")
    config = AdapterConfig.from_dict(data, str(config_path))
    config.check_fits(model, str(config_path))
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ConfigError(f"{weights_path}: not a readable safetensors file ({exc})") from None
    adapter = MusicAdapter(config, model)
    try:
        missing, unexpected = adapter.load_state_dict(tensors, strict=False)
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines()
        raise ConfigError(
            f"{weights_path}: weights do not fit ({lines[-1].strip() if lines else exc})"
        ) from None
    if missing or unexpected:
        name = (missing or unexpected)[0]
        problem = "is missing" if missing else "is not expected"
        raise ConfigError(f"{weights_path}: tensor {name!r} {problem}")
    for name, tensor in adapter.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ConfigError(f"{weights_path}: tensor {name!r} holds NaN or inf")
    return adapter.to(next(model.decoder.parameters()).device).eval()


def _atomic_write(target: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def encodec_codes(model: Any, audio: np.ndarray, sample_rate: int):
    """EnCodec codes of a reference: audio ``[C, T]`` or ``[T]`` at ``sample_rate`` -> ``[num_codebooks, F]``.

    The audio is mixed to mono and resampled to the codec's rate; stereo models get the mono
    codes on both channels' codebooks (as transformers does for mono prompts).
    """
    codec = model.audio_encoder
    target = int(codec.config.sampling_rate)
    wave = np.asarray(audio, dtype=np.float32)
    if wave.ndim == 2:
        wave = wave.mean(axis=0)
    if sample_rate != target:
        import soxr

        wave = soxr.resample(wave, sample_rate, target, quality="HQ").astype(np.float32)
    device = next(codec.parameters()).device
    inputs = torch.from_numpy(np.ascontiguousarray(wave))[None, None].to(device)
    with torch.inference_mode():
        codes = codec.encode(inputs, bandwidth=codec.config.target_bandwidths[-1]).audio_codes[0, 0]
    if model.config.decoder.audio_channels == 2:
        codes = codes.repeat_interleave(2, dim=0)
    return codes


def encodec_embedding(model: Any, audio: np.ndarray, sample_rate: int) -> torch.Tensor:
    """The model's own EnCodec embedding of a reference: audio ``[C, T]`` -> ``[codebook_dim]``
    (see :func:`codes_embedding`)."""
    return codes_embedding(model, encodec_codes(model, audio, sample_rate))


def codes_embedding(model: Any, codes: torch.Tensor) -> torch.Tensor:
    """EnCodec embedding from a reference's codes ``[num_codebooks, F]`` (:func:`encodec_codes`):
    the quantised latents (the sum of the residual codebooks' vectors) averaged over time ->
    ``[codebook_dim]`` float32."""
    if model.config.decoder.audio_channels == 2:
        codes = codes[::2]
    with torch.inference_mode():
        latents = model.audio_encoder.quantizer.decode(codes[:, None, :])  # [1, codebook_dim, F]
    return latents[0].mean(dim=-1).float()
