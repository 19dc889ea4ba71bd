"""MusicGen conditioned on both bridges: the text bridge and the music bridge.

    generator = MusicGenGenerator.from_pretrained("facebook/musicgen-melody")
    result = generator.generate(bridges, duration_s=12.0, seed=0)
    result.audio  # [C, T] float32 at generator.sample_rate, T == round(12.0 * sample_rate)

The checkpoint is loaded with transformers (``MusicgenForConditionalGeneration`` or
``MusicgenMelodyForConditionalGeneration``, hub ids and local folders alike); generation runs
vmb's own sampling loop over the transformers decoder layers:

* **text bridge**: ``bridges.text`` (the description with the targeted attributes appended)
  through the T5 encoder, once per call.
* **music bridge**, three mechanisms, each used when it can be:
    1. *melody* (MusicGen-Melody checkpoints): the one-hot chroma of a reference
       (:mod:`vmb.generate.chroma`) is prepended to the decoder input as the model was trained;
    2. *reference tokens* (adapter): the reference's audio embedding as zero-gated attention
       tokens (:mod:`vmb.generate.adapters`);
    3. *ControlFormer* (adapter): zero-initialised trainable copies of the first decoder blocks
       read the reference's EnCodec codes.
  Which reference feeds which mechanism: the melody comes from a pinned reference, else the
  broad one, else the targeted one; the reference tokens from the targeted one first (the
  paper concatenates the targeted reference with the text), the ControlFormer from the broad
  one first (the paper's ControlFormer reads the broad reference).
* **guidance** (:mod:`vmb.generate.guidance`): one batched decoder forward per step over the
  rows (c_text, u, c_text+music),
  ``logits = u + w_text·(c_text − u) + w_music·(c_text+music − c_text)``; ``w_music = 0`` (or
  no usable mechanism) drops the third row and is MusicGen's ordinary CFG.
* **the loop**: KV cache (transformers ``EncoderDecoderCache``; the self-attention layers write
  into preallocated buffers instead of concatenating at every step, which costs ~2.5 ms a layer
  at the end of a 30 s window on CPU), T5 and the cross-attention keys computed once,
  MusicGen's delay pattern (codebook ``k`` runs ``k`` steps behind codebook 0), top-k sampling
  with a seeded ``torch.Generator``: the same seed gives the same audio on CPU. With
  ``w_music = 0`` the loop reproduces ``model.generate(guidance_scale=w_text, do_sample=True,
  top_k=...)`` token for token under ``torch.manual_seed(seed)``.
* **long-form** (:mod:`vmb.generate.longform`): windows of ``window_s`` prompted with the last
  ``overlap_s`` seconds of codes, crossfaded; the length is exact to the sample.
* **speed**: on CPU an optional int8 dynamic-quantized decoder (:mod:`vmb.generate.quantize`)
  and a thread count; on CUDA fp16/bf16 autocast.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vmb.errors import ConfigError, GenerationError, ModelUnavailable, UsageError
from vmb.generate.guidance import MUSIC_ROW, GuidanceWeights, combine
from vmb.types import Bridges, GenerationResult, Hit

if TYPE_CHECKING:
    import torch

    from vmb.config import Config
    from vmb.generate.adapters import MusicAdapter
    from vmb.generate.chroma import ChromaExtractor
    from vmb.generate.longform import Window

logger = logging.getLogger(__name__)

MODEL_TYPES = ("musicgen", "musicgen_melody")
BUILTIN_HINT = "use the offline profile instead: --profile builtin"


@dataclass
class _References:
    """The music bridge, prepared once per call: what each mechanism reads."""

    chroma: torch.Tensor | None = None  # [1, F, 12] one-hot (melody)
    token_keys: list[tuple[torch.Tensor, ...]] | None = None  # per layer, ReferenceTokens.absorb
    control_codes: torch.Tensor | None = None  # [num_codebooks, F] EnCodec codes
    notes: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return (
            self.chroma is not None or self.token_keys is not None or self.control_codes is not None
        )


@dataclass
class _Branch:
    """What a stack of decoder layers needs per window: one KV buffer per layer, and for
    MusicGen the cross-attention keys/values of the text ``[R, H, S, d]`` and their masks."""

    caches: list[_KVBuffer]
    cross: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    cross_masks: dict[int, Any] = field(default_factory=dict)  # by query length


@dataclass
class _WindowState:
    """Decoder state of one window: rows stacked in guidance order, caches, conditioning."""

    rows: int
    main: _Branch
    encoder_hidden_states: torch.Tensor | None = None  # [R, S, D] MusicGen cross-attention
    encoder_attention_mask: torch.Tensor | None = None  # [R, S]
    prefix: torch.Tensor | None = None  # [R, P, D] MusicGen-Melody conditioning prefix
    token_keys: list[tuple[torch.Tensor, ...]] | None = None  # reference tokens, per layer
    control: _Branch | None = None  # the ControlFormer's copied blocks (music row only)
    control_codes: torch.Tensor | None = None  # [num_codebooks, F]
    frame_offset: int = 0  # the window's first frame in the whole piece
    positions: int = 0  # code positions fed so far (start token included)


class MusicGenGenerator:
    """MusicGen (or MusicGen-Melody) driven by the text bridge and the music bridge.

    Build it with :meth:`from_pretrained` or :meth:`from_config`. Attributes: ``name`` (the
    model id or path), ``sample_rate``, ``frame_rate`` (codec frames per second),
    ``is_melody``, ``adapter`` (a :class:`~vmb.generate.adapters.MusicAdapter` or ``None``),
    ``notes`` (what loading did, e.g. quantization).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        name: str,
        device: str = "cpu",
        dtype: str = "float32",
        adapter: MusicAdapter | None = None,
        chroma: ChromaExtractor | None = None,
        window_s: float = 30.0,
        overlap_s: float = 10.0,
        reference_encoder: Any = None,
        notes: tuple[str, ...] = (),
    ):
        import torch

        if model.config.model_type not in MODEL_TYPES:
            raise ConfigError(
                f"{name}: model type {model.config.model_type!r} is not one of {MODEL_TYPES}"
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.device = torch.device(device)
        self.dtype = dtype
        self.adapter = adapter
        self.is_melody = model.config.model_type == "musicgen_melody"
        if self.is_melody and chroma is None:
            from vmb.generate.chroma import ChromaExtractor

            chroma = ChromaExtractor()
        self.chroma = chroma
        self.reference_encoder = reference_encoder
        self.notes = tuple(notes)
        self.default_top_k = 250
        self.default_temperature = 1.0
        self.default_seed: int | None = None
        self.window_s, self.overlap_s = _check_window(window_s, overlap_s)

        decoder_config = model.config.decoder
        codec = model.config.audio_encoder
        self.num_codebooks = int(decoder_config.num_codebooks)
        self.vocab_size = int(decoder_config.vocab_size)
        self.pad_id = int(
            model.generation_config.pad_token_id
            if model.generation_config.pad_token_id is not None
            else decoder_config.pad_token_id
        )
        self.start_id = int(
            model.generation_config.decoder_start_token_id
            if model.generation_config.decoder_start_token_id is not None
            else decoder_config.bos_token_id
        )
        self.audio_channels = int(decoder_config.audio_channels)
        self.sample_rate = int(codec.sampling_rate)
        self.hop_length = int(np.prod(codec.upsampling_ratios))
        self.frame_rate = self.sample_rate / self.hop_length
        # Codebook k waits delay[k] steps (stereo checkpoints interleave left/right codebooks).
        step = 2 if self.audio_channels == 2 else 1
        self.delays = [k // step for k in range(self.num_codebooks)]

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_pretrained(
        cls,
        id_or_path: str | os.PathLike,
        device: str = "auto",
        dtype: str = "auto",
        adapter: str | os.PathLike | MusicAdapter | None = None,
        quantize: str = "none",
        threads: int | None = None,
        window_s: float = 30.0,
        overlap_s: float = 10.0,
        reference_encoder: Any = None,
    ) -> MusicGenGenerator:
        """Load a MusicGen checkpoint (hub id or local folder) and optionally an adapter.

        Args:
            id_or_path: ``facebook/musicgen-{small,medium,large,melody}`` (and their stereo and
                large variants) or a folder written by ``save_pretrained``.
            device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``mps``.
            dtype: ``auto`` (bf16/fp16 autocast on CUDA, float32 elsewhere), ``float32``,
                ``float16`` or ``bfloat16``.
            adapter: a folder saved by ``MusicAdapter.save_pretrained`` or an adapter object.
            quantize: ``none`` or ``int8`` (CPU only: int8 dynamic quantization of the decoder).
            threads: torch CPU threads (``torch.set_num_threads``); ``None`` leaves torch's.
            window_s, overlap_s: long-form window and prompt length.
            reference_encoder: gives CLAP embeddings for adapters whose ``embedding_source`` is
                ``clap``: a ``vmb.retrieve`` encoder (``embed_audio([(audio, sr)]) -> [1, E]``)
                or a function ``f(audio [C, T], sample_rate) -> [E]``.

        Raises:
            ModelUnavailable: the weights are neither local nor downloadable (offline).
            ConfigError: not a MusicGen checkpoint, or settings that do not fit together.
        """
        import torch

        name = str(id_or_path)
        device = _resolve_device(device)
        dtype = _resolve_dtype(dtype, device)
        if quantize not in ("none", "int8"):
            raise ConfigError(f"generator.quantize = {quantize!r} is not one of: none, int8")
        if quantize == "int8" and device != "cpu":
            raise ConfigError(
                f"generator.quantize = int8 runs on the CPU only, not on device {device!r}"
            )
        notes = []
        if threads is not None:
            if int(threads) < 1:
                raise ConfigError(f"threads = {threads!r} must be at least 1")
            torch.set_num_threads(int(threads))
            notes.append(f"torch CPU threads set to {int(threads)}")

        model, tokenizer, chroma, load_notes = _load_checkpoint(name)
        notes.extend(load_notes)
        model.to(device)
        if dtype != "float32":
            notes.append(f"decoder runs under {dtype} autocast on {device}")
        if isinstance(adapter, (str, os.PathLike)):
            from vmb.generate.adapters import load_adapter

            notes.append(f"adapter loaded from {adapter}")
            adapter = load_adapter(adapter, model)
        if adapter is not None:
            adapter.to(device)
        if quantize == "int8":
            from vmb.generate.quantize import quantize_decoder

            notes.append(quantize_decoder(model, adapter))
        generator = cls(
            model,
            tokenizer,
            name,
            device=device,
            dtype=dtype,
            adapter=adapter,
            chroma=chroma,
            window_s=window_s,
            overlap_s=overlap_s,
            reference_encoder=reference_encoder,
            notes=tuple(notes),
        )
        return generator

    @classmethod
    def from_config(cls, config: Config, reference_encoder: Any = None) -> MusicGenGenerator:
        """From ``generator.*`` (model, adapter, quantize, window_s, overlap_s, top_k,
        temperature) and the top-level ``device``, ``dtype``, ``seed``, ``threads``."""
        g = config.generator
        generator = cls.from_pretrained(
            g.model,
            device=config.device,
            dtype=config.dtype,
            adapter=g.adapter,
            quantize=g.quantize,
            threads=config.threads,
            window_s=g.window_s,
            overlap_s=g.overlap_s,
            reference_encoder=reference_encoder,
        )
        generator.default_top_k = int(g.top_k)
        generator.default_temperature = float(g.temperature)
        generator.default_seed = config.seed
        return generator

    # --------------------------------------------------------------- generation

    def generate(
        self,
        bridges: Bridges,
        duration_s: float,
        seed: int | None = None,
        top_k: int | None = None,
        temperature: float | None = None,
        text_weight: float | None = None,
        music_weight: float | None = None,
        progress: bool = False,
        reference_embedding: Any = None,
    ) -> GenerationResult:
        """Make ``duration_s`` seconds of music conditioned on ``bridges``.

        Args:
            bridges: the text bridge (``bridges.text``) and the music bridge
                (``bridges.references``).
            duration_s: length of the result; beyond ``window_s`` it is made window by window.
            seed: seeds the sampler; ``None`` uses the configured seed, else a random one (the
                seed used is in the result).
            top_k: sample among the ``top_k`` most likely codes (default 250; 0 = all).
            temperature: softmax temperature (default 1.0; 0 = greedy).
            text_weight, music_weight: guidance weights; ``None`` takes those of ``bridges``.
            progress: show a progress bar on stderr.
            reference_embedding: a CLAP embedding ``[E]`` of the reference, for adapters whose
                reference tokens read CLAP embeddings.

        Returns:
            A :class:`~vmb.types.GenerationResult` with audio ``[C, round(duration_s · sr)]``.
        """
        import torch

        started = time.perf_counter()
        duration_s = _positive("duration_s", duration_s)
        top_k = self.default_top_k if top_k is None else top_k
        temperature = self.default_temperature if temperature is None else temperature
        if isinstance(top_k, bool) or int(top_k) != top_k or top_k < 0:
            raise UsageError(f"top_k must be a whole number >= 0, got {top_k!r}")
        if not (math.isfinite(temperature) and temperature >= 0):
            raise UsageError(f"temperature must be >= 0, got {temperature!r}")
        weights = GuidanceWeights(
            text=_weight(
                "text_weight", bridges.text_weight if text_weight is None else text_weight
            ),
            music=_weight(
                "music_weight", bridges.music_weight if music_weight is None else music_weight
            ),
        )
        seed = seed if seed is not None else self.default_seed
        if seed is None:
            seed = secrets.randbits(31)
        notes: list[str] = list(self.notes)
        timings: dict[str, float] = {}

        with torch.inference_mode(), self._autocast():
            t0 = time.perf_counter()
            text_states, text_mask = self._encode_text(bridges.text)
            timings["text_encoder"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            references = _References()
            if weights.uses_music:
                references = self._prepare_references(bridges.references, reference_embedding)
                notes.extend(references.notes)
                if not references.active:
                    weights = GuidanceWeights(text=weights.text, music=0.0)
            elif bridges.references:
                notes.append("music_weight is 0: the references were not used")
            notes.append(
                f"guidance: text {weights.text:g}, music {weights.music:g} ({weights.rows} rows per step)"
            )
            timings["references"] = time.perf_counter() - t0

            total_frames = math.ceil(round(duration_s * self.sample_rate) / self.hop_length)
            total_samples = round(duration_s * self.sample_rate)
            from vmb.generate.longform import crossfade_join, plan_windows

            windows = plan_windows(
                total_frames,
                window_frames=max(1, int(self.window_s * self.frame_rate)),
                overlap_frames=int(self.overlap_s * self.frame_rate),
            )
            if len(windows) > 1:
                notes.append(
                    f"long-form: {len(windows)} windows of up to {self.window_s:g} s, each prompted "
                    f"with the previous {self.overlap_s:g} s of codes, crossfaded"
                )
            generator = torch.Generator(device=self.device).manual_seed(int(seed))
            bar = _progress_bar(progress, sum(w.new_frames + max(self.delays) for w in windows))

            segments: list[np.ndarray] = []
            previous: torch.Tensor | None = None
            timings["sampling"] = timings["codec_decode"] = 0.0
            with bar as advance:
                for window in windows:
                    t0 = time.perf_counter()
                    prompt = previous[:, -window.prompt_frames :] if window.prompt_frames else None
                    state = self._window_state(weights, text_states, text_mask, references, window)
                    codes = self._sample_window(
                        state,
                        weights,
                        prompt,
                        window.new_frames,
                        generator,
                        int(top_k),
                        float(temperature),
                        advance,
                    )
                    timings["sampling"] += time.perf_counter() - t0
                    t0 = time.perf_counter()
                    segments.append(self.decode_codes(codes))
                    timings["codec_decode"] += time.perf_counter() - t0
                    previous = codes
            audio = crossfade_join(segments, windows, self.hop_length, total_samples)

        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if not np.isfinite(audio).all():
            raise GenerationError(f"{self.name}: the model produced NaN or infinite samples")
        if peak > 1.0:
            audio = audio * np.float32(0.99 / peak)
            notes.append(f"peak {peak:.3f} normalised to 0.99")
        timings["total"] = time.perf_counter() - started
        return GenerationResult(
            audio=audio.astype(np.float32, copy=False),
            sample_rate=self.sample_rate,
            bridges=bridges,
            generator=self.name,
            seed=int(seed),
            timings=timings,
            notes=tuple(notes),
        )

    def decode_codes(self, codes: torch.Tensor) -> np.ndarray:
        """EnCodec decode of ``[num_codebooks, F]`` codes -> ``[C, F · hop_length]`` float32."""
        import torch

        codec = self.model.audio_encoder
        with torch.inference_mode(), torch.autocast(self.device.type, enabled=False):
            codes = codes.to(self.device)[None, None]  # [1 chunk, 1 batch, K, F]
            if self.audio_channels == 2:
                left = codec.decode(codes[:, :, 0::2], [None]).audio_values
                right = codec.decode(codes[:, :, 1::2], [None]).audio_values
                audio = torch.cat([left, right], dim=1)
            else:
                audio = codec.decode(codes, [None]).audio_values
        return audio[0].float().cpu().numpy()

    # -------------------------------------------------------------- conditioning

    def _encode_text(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        """T5 states of the text bridge ``[1, S, D_text]`` and its mask ``[1, S]``."""
        inputs = self.tokenizer([text], return_tensors="pt", padding=True)
        input_ids = inputs["input_ids"].to(self.device)
        mask = inputs["attention_mask"].to(self.device)
        states = self.model.text_encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
        return states, mask

    def _window_state(
        self,
        weights: GuidanceWeights,
        text_states: torch.Tensor,
        text_mask: torch.Tensor,
        references: _References,
        window: Window,
    ) -> _WindowState:
        """Stack the conditioning rows (c_text, u[, c_text+music]) the way transformers does,
        and make the KV caches for the window."""
        import torch

        rows = weights.rows
        frame_offset = window.start_frame
        state = _WindowState(rows=rows, main=_Branch(caches=[]), frame_offset=frame_offset)

        # Text rows: conditional, null (zeros, masked), conditional again for the music row.
        text_rows = [text_states, torch.zeros_like(text_states), text_states][:rows]
        mask_rows = [text_mask, torch.zeros_like(text_mask), text_mask][:rows]
        mask = torch.cat(mask_rows, dim=0)
        project = getattr(self.model, "enc_to_dec_proj", None)
        if self.is_melody:
            states = project(text_states) if project is not None else text_states
            text_rows = [states, torch.zeros_like(states), states][:rows]
            text_hidden = torch.cat(text_rows, dim=0) * mask[..., None]
            state.prefix = torch.cat(
                [self._chroma_rows(rows, references.chroma, frame_offset), text_hidden], 1
            )
        else:
            states = torch.cat(text_rows, dim=0)
            if project is not None:
                states = project(states)
            state.encoder_hidden_states = states * mask[..., None]
            state.encoder_attention_mask = mask

        prefix = 0 if state.prefix is None else state.prefix.shape[1]
        capacity = prefix + 1 + window.num_frames + max(self.delays)
        state.main = self._branch(self._decoder.layers, state.encoder_hidden_states, capacity)
        if rows == 3:
            state.token_keys = references.token_keys
            if references.control_codes is not None:
                music = state.encoder_hidden_states
                music = None if music is None else music[MUSIC_ROW:]
                state.control = self._branch(self.adapter.control.blocks, music, capacity)
                state.control_codes = references.control_codes
        return state

    def _branch(self, layers, encoder_states: torch.Tensor | None, capacity: int) -> _Branch:
        """KV buffers for ``layers``, and their cross-attention keys/values of the text."""
        branch = _Branch(caches=[_KVBuffer(capacity) for _ in layers])
        if encoder_states is not None:
            branch.cross = [
                _heads(
                    layer.encoder_attn,
                    layer.encoder_attn.k_proj(encoder_states),
                    layer.encoder_attn.v_proj(encoder_states),
                )
                for layer in layers
            ]
        return branch

    def _chroma_rows(
        self, rows: int, chroma: torch.Tensor | None, frame_offset: int
    ) -> torch.Tensor:
        """MusicGen-Melody's projected chroma conditioning ``[R, chroma_length, D]``.

        The text and null rows get the null melody (one-hot C on one frame, as transformers);
        the music row gets the reference's chroma, started where this window starts and looped.
        """
        import torch

        config = self.model.config
        null_rows = 2 if rows >= 2 else 1
        null = torch.zeros(
            (null_rows, 1, config.num_chroma), device=self.device, dtype=self.model.dtype
        )
        null[:, :, 0] = 1
        parts = [self._fit_chroma(self._project_chroma(null))]
        if rows == 3:
            melody = chroma if chroma is not None else null[:1]
            if chroma is not None and frame_offset:
                seconds = frame_offset / self.frame_rate
                shift = round(seconds * self.chroma.frame_rate) % melody.shape[1]
                melody = torch.roll(melody, -shift, dims=1)
            parts.append(self._fit_chroma(self._project_chroma(melody.to(null.dtype))))
        return torch.cat(parts, dim=0)[:rows]

    def _project_chroma(self, chroma: torch.Tensor) -> torch.Tensor:
        config = self.model.config
        if config.num_chroma != self.model.decoder.config.hidden_size:
            return self.model.audio_enc_to_dec_proj(chroma)
        return chroma

    def _fit_chroma(self, hidden: torch.Tensor) -> torch.Tensor:
        """Loop or cut ``[R, F, D]`` to the model's ``chroma_length`` frames."""
        length = self.model.config.chroma_length
        if hidden.shape[1] < length:
            hidden = hidden.repeat(1, math.ceil(length / hidden.shape[1]), 1)
        return hidden[:, :length]

    def _prepare_references(self, hits: tuple[Hit, ...], reference_embedding: Any) -> _References:
        """Read the references each usable mechanism needs and compute its inputs once."""
        import torch

        refs = _References()
        if not hits:
            refs.notes.append("no references: the music bridge is empty, text-only guidance")
            return refs
        adapter = self.adapter
        wants_tokens = adapter is not None and adapter.reference_tokens is not None
        wants_control = adapter is not None and adapter.control is not None
        if not (self.is_melody or wants_tokens or wants_control):
            refs.notes.append(
                f"{self.name} has no melody input and no adapter is loaded: the music bridge "
                "(references) is not used, text-only guidance"
            )
            return refs
        audio_cache: dict[tuple, tuple[np.ndarray, int]] = {}
        codes_cache: dict[tuple, torch.Tensor] = {}

        def read(hit: Hit) -> tuple[np.ndarray, int]:
            key = (hit.clip.path, hit.clip.start_s, hit.clip.duration_s)
            if key not in audio_cache:
                audio_cache[key] = _read_reference(hit)
            return audio_cache[key]

        def codes(hit: Hit) -> torch.Tensor:
            from vmb.generate.adapters import encodec_codes

            key = (hit.clip.path, hit.clip.start_s, hit.clip.duration_s)
            if key not in codes_cache:
                codes_cache[key] = encodec_codes(self.model, *read(hit)).to(self.device)
            return codes_cache[key]

        if self.is_melody:
            hit = _pick(hits, ("pinned", "broad", "targeted"))
            audio, sr = read(hit)
            refs.chroma = self.chroma(audio, sr).to(self.device)
            refs.notes.append(f"melody: chroma of {hit.track} reference {hit.clip.id}")
        if wants_tokens:
            hit = _pick(hits, ("targeted", "pinned", "broad"))
            embedding = self._reference_embedding(hit, read, codes, reference_embedding)
            tokens = adapter.reference_tokens(embedding.to(self.device, torch.float32)[None])
            absorb = adapter.reference_tokens.absorb
            refs.token_keys = [absorb(module, tokens) for module in self._token_attention_modules()]
            source = adapter.config.embedding_source
            refs.notes.append(
                f"reference tokens: {source} embedding of {hit.track} reference {hit.clip.id}"
            )
        if wants_control:
            hit = _pick(hits, ("broad", "pinned", "targeted"))
            refs.control_codes = codes(hit)
            refs.notes.append(
                f"ControlFormer: EnCodec codes of {hit.track} reference {hit.clip.id}"
            )
        return refs

    def _reference_embedding(self, hit: Hit, read, codes, given: Any) -> torch.Tensor:
        import torch

        config = self.adapter.config
        if config.embedding_source == "encodec":
            from vmb.generate.adapters import codes_embedding

            embedding = codes_embedding(self.model, codes(hit))
        elif given is not None:
            embedding = torch.as_tensor(np.asarray(given, dtype=np.float32)).reshape(-1)
        elif self.reference_encoder is not None:
            audio, sr = read(hit)
            encoder = self.reference_encoder
            if hasattr(encoder, "embed_audio"):  # a vmb.retrieve encoder
                vector = encoder.embed_audio([(audio, sr)])[0]
            else:
                vector = encoder(audio, sr)
            embedding = torch.as_tensor(np.asarray(vector, dtype=np.float32)).reshape(-1)
        else:
            raise GenerationError(
                f"{self.name}: the adapter's reference tokens read CLAP embeddings; pass "
                "reference_embedding=... or build the generator with a reference_encoder"
            )
        if embedding.shape[0] != config.embedding_dim:
            raise GenerationError(
                f"{self.name}: reference embedding has {embedding.shape[0]} values, the adapter "
                f"expects {config.embedding_dim} ({config.embedding_source})"
            )
        return embedding

    def _token_attention_modules(self) -> list[Any]:
        """The attention that reads the conditioning, per layer: cross-attention (MusicGen)
        or the self-attention over the conditioning prefix (MusicGen-Melody)."""
        layers = self._decoder.layers
        return [layer.self_attn if self.is_melody else layer.encoder_attn for layer in layers]

    # -------------------------------------------------------------- the loop

    @property
    def _decoder(self) -> Any:
        """The transformers decoder stack (``Musicgen[Melody]Decoder``)."""
        return self.model.decoder.model.decoder

    def _sample_window(
        self,
        state: _WindowState,
        weights: GuidanceWeights,
        prompt: torch.Tensor | None,
        new_frames: int,
        generator: torch.Generator,
        top_k: int,
        temperature: float,
        advance,
    ) -> torch.Tensor:
        """Sample ``new_frames`` frames after ``prompt`` ``[K, n]``; returns ``[K, n + new_frames]``.

        Codes live in the delayed layout ``seq [K, L]``: position 0 holds the start token,
        codebook ``k`` holds frame ``j`` at position ``1 + delay[k] + j``, and positions outside
        ``[1 + delay[k], 1 + delay[k] + frames)`` hold the pad id.
        """
        import torch

        K = self.num_codebooks
        n = 0 if prompt is None else int(prompt.shape[1])
        frames = n + new_frames
        length = 1 + frames + max(self.delays)
        seq = torch.full((K, length), self.pad_id, dtype=torch.long, device=self.device)
        seq[:, 0] = self.start_id
        valid = torch.zeros((K, length), dtype=torch.bool, device=self.device)
        for k, d in enumerate(self.delays):
            valid[k, 1 + d : 1 + d + frames] = True
            if n:
                seq[k, 1 + d : 1 + d + n] = prompt[k]
        fixed = ~valid  # positions that keep the pad id
        for k, d in enumerate(self.delays):
            fixed[k, 1 + d : 1 + d + n] = True  # prompt codes are kept as given

        logits = self._forward(seq[:, : n + 1], state)
        for position in range(n + 1, length):
            guided = combine(logits, weights)[0].float()  # [K, V]
            tokens = _sample_codes(guided, top_k, temperature, generator)
            seq[:, position] = torch.where(fixed[:, position], seq[:, position], tokens)
            advance(1)
            if position + 1 < length:
                logits = self._forward(seq[:, position : position + 1], state)
        return torch.stack([seq[k, 1 + d : 1 + d + frames] for k, d in enumerate(self.delays)])

    def _forward(self, ids: torch.Tensor, state: _WindowState) -> torch.Tensor:
        """One decoder forward on the new positions ``ids [K, q]`` for all rows; returns the
        logits of the last position ``[R, K, V]``.

        ``q > 1`` only for the first forward of a window (an empty cache, causal attention).
        """
        import torch

        decoder = self._decoder
        ids = ids.unsqueeze(0).expand(state.rows, -1, -1)  # [R, K, q]
        past = state.main.caches[0].length
        embeds = sum(decoder.embed_tokens[k](ids[:, k]) for k in range(self.num_codebooks))
        prefix_length = 0
        if state.prefix is not None and past == 0:
            prefix_length = state.prefix.shape[1]
            embeds = torch.cat([state.prefix.to(embeds.dtype), embeds], dim=1)
        if self.is_melody:
            hidden = embeds + decoder.embed_positions(embeds, past)
        else:
            hidden = embeds + decoder.embed_positions(ids, past)
        cross_mask = self._cross_mask(state, hidden)

        residuals = []
        if state.control is not None:
            residuals = self._control_residuals(hidden, ids, prefix_length, state, cross_mask)
        gates = None
        if state.token_keys is not None:
            gates = torch.tanh(self.adapter.reference_tokens.gates).to(hidden.dtype)
        for index, layer in enumerate(decoder.layers):
            tokens = None if gates is None else (state.token_keys[index], gates[index])
            hidden = self._layer(layer, hidden, state.main, index, cross_mask, tokens)
            if index < len(residuals):
                hidden = torch.cat(
                    [hidden[:MUSIC_ROW], hidden[MUSIC_ROW:] + residuals[index]], dim=0
                )
        state.positions += ids.shape[-1]
        hidden = decoder.layer_norm(hidden[:, -1:])
        logits = torch.stack([head(hidden) for head in self.model.decoder.lm_heads], dim=1)
        return logits[:, :, -1]  # [R, K, V]

    def _cross_mask(self, state: _WindowState, hidden: torch.Tensor) -> Any:
        """transformers' cross-attention mask for the text rows (the null row is all masked),
        made once per query length."""
        if state.encoder_hidden_states is None:
            return None
        q = hidden.shape[1]
        if q not in state.main.cross_masks:
            from transformers.masking_utils import create_bidirectional_mask

            state.main.cross_masks[q] = create_bidirectional_mask(
                config=self._decoder.config,
                inputs_embeds=hidden,
                attention_mask=state.encoder_attention_mask,
                encoder_hidden_states=state.encoder_hidden_states,
            )
        return state.main.cross_masks[q]

    def _layer(self, layer, hidden, branch: _Branch, index: int, cross_mask, tokens=None):
        """One MusicGen[-Melody] decoder layer in eval mode, computed as transformers does
        (pre-norm self-attention, cross-attention, feed-forward) over ``branch``'s caches.

        Args:
            hidden: ``[B, q, D]``.
            tokens: ``(absorbed reference tokens, gate)``: adds the music row's zero-gated
                reference-token attention to the attention that reads the conditioning.
        """
        from torch.nn.functional import scaled_dot_product_attention as attention

        b, q, d = hidden.shape
        self_attn = layer.self_attn
        x = layer.self_attn_layer_norm(hidden)
        query = _heads(self_attn, self_attn.q_proj(x))
        keys, values = branch.caches[index].update(
            *_heads(self_attn, self_attn.k_proj(x), self_attn.v_proj(x))
        )
        out = attention(query, keys, values, scale=self_attn.scaling, is_causal=q > 1)
        out = self_attn.out_proj(out.transpose(1, 2).reshape(b, q, d))
        if tokens is not None and self.is_melody:
            out = _add_reference_tokens(out, x, *tokens)
        hidden = hidden + out
        if branch.cross is not None:
            cross = layer.encoder_attn
            x = layer.encoder_attn_layer_norm(hidden)
            keys, values = branch.cross[index]
            out = attention(
                _heads(cross, cross.q_proj(x)),
                keys,
                values,
                attn_mask=cross_mask,
                scale=cross.scaling,
            )
            out = cross.out_proj(out.transpose(1, 2).reshape(b, q, d))
            if tokens is not None:
                out = _add_reference_tokens(out, x, *tokens)
            hidden = hidden + out
        x = layer.final_layer_norm(hidden)
        return hidden + layer.fc2(layer.activation_fn(layer.fc1(x)))

    def _control_residuals(self, hidden, ids, prefix_length, state, cross_mask):
        """The ControlFormer's residuals for the music row, one per copied block ``[1, q, D]``."""
        import torch

        control = self.adapter.control
        q = ids.shape[-1]
        start = state.positions  # code position of ids[..., 0]
        codes = state.control_codes
        frames = codes.shape[1]
        ref = torch.full(
            (1, self.num_codebooks, q), self.pad_id, dtype=torch.long, device=self.device
        )
        positions = torch.arange(start, start + q, device=self.device)
        for k, d in enumerate(self.delays):
            frame = positions - 1 - d
            ok = frame >= 0
            ref[0, k, ok] = codes[k, (frame[ok] + state.frame_offset) % frames]
        code_embeddings = control.embed_codes(ref)
        if prefix_length:
            pad = code_embeddings.new_zeros((1, prefix_length, code_embeddings.shape[-1]))
            code_embeddings = torch.cat([pad, code_embeddings], dim=1)
        index_of = {id(block): i for i, block in enumerate(control.blocks)}
        music_mask = None if cross_mask is None else cross_mask[MUSIC_ROW:]

        def run_block(block, x):
            return self._layer(block, x, state.control, index_of[id(block)], music_mask)

        return control(hidden[MUSIC_ROW:], code_embeddings.to(hidden.dtype), run_block)

    def _autocast(self):
        import torch

        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=getattr(torch, self.dtype))


# ------------------------------------------------------------------ helpers


class _KVBuffer:
    """The keys and values of one self-attention layer, written into a preallocated
    ``[B, H, capacity, d]`` buffer (grown by doubling if ever needed): no per-step
    concatenation, whose copy costs ~2.5 ms a layer at the end of a 30 s window on CPU."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.length = 0
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None

    def update(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``[B, H, q, d]``; returns all keys and values so far (views)."""
        end = self.length + keys.shape[2]
        if self._keys is None or end > self.capacity:
            self._grow(
                keys,
                values,
                max(end, 2 * self.capacity if self._keys is not None else self.capacity),
            )
        self._keys[:, :, self.length : end] = keys
        self._values[:, :, self.length : end] = values
        self.length = end
        return self._keys[:, :, :end], self._values[:, :, :end]

    def _grow(self, keys: torch.Tensor, values: torch.Tensor, capacity: int) -> None:
        b, h, _, d = keys.shape
        new_keys = keys.new_empty((b, h, capacity, d))
        new_values = values.new_empty((b, h, capacity, values.shape[-1]))
        if self._keys is not None:
            new_keys[:, :, : self.length] = self._keys[:, :, : self.length]
            new_values[:, :, : self.length] = self._values[:, :, : self.length]
        self._keys, self._values, self.capacity = new_keys, new_values, capacity


def _heads(attention: Any, *projected: torch.Tensor):
    """``[B, T, H·d]`` -> ``[B, H, T, d]`` with ``attention``'s head count; one or a tuple."""
    out = tuple(
        p.view(p.shape[0], p.shape[1], attention.num_heads, attention.head_dim).transpose(1, 2)
        for p in projected
    )
    return out[0] if len(out) == 1 else out


def _add_reference_tokens(out: torch.Tensor, x: torch.Tensor, absorbed, gate) -> torch.Tensor:
    """Add ``gate ·`` the music row's attention over the reference tokens to an attention
    output ``out [R, q, D]`` whose (normalised) input was ``x``."""
    import torch

    from vmb.generate.adapters import ReferenceTokens

    extra = ReferenceTokens.attend_absorbed(x[MUSIC_ROW:], absorbed)
    return torch.cat([out[:MUSIC_ROW], out[MUSIC_ROW:] + gate * extra], dim=0)


def _sample_codes(
    logits: torch.Tensor, top_k: int, temperature: float, generator: torch.Generator
) -> torch.Tensor:
    """One code per codebook from guided logits ``[K, V]`` -> ``[K]``.

    Same operations, in the same order, as transformers' sampling (temperature, top-k, softmax,
    multinomial), so that a generator seeded like ``torch.manual_seed`` draws the same codes.
    """
    import torch

    if temperature == 0.0:
        return logits.argmax(dim=-1)
    if temperature != 1.0:
        logits = logits / temperature
    if 0 < top_k < logits.shape[-1]:
        threshold = torch.topk(logits, top_k)[0][..., -1, None]
        logits = logits.masked_fill(logits < threshold, -float("inf"))
    probs = torch.nn.functional.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)


def _pick(hits: tuple[Hit, ...], order: tuple[str, ...]) -> Hit:
    for track in order:
        for hit in hits:
            if hit.track == track:
                return hit
    return hits[0]


def _read_reference(hit: Hit) -> tuple[np.ndarray, int]:
    """The reference clip's audio ``[C, T]`` and its rate (at most 30 s of it)."""
    from vmb.media import read_audio

    duration = hit.clip.duration_s if hit.clip.duration_s and hit.clip.duration_s > 0 else None
    if duration is None or duration > 30.0:
        duration = 30.0
    return read_audio(hit.clip.path, start_s=max(0.0, float(hit.clip.start_s)), duration_s=duration)


def _load_checkpoint(name: str) -> tuple[Any, Any, ChromaExtractor | None, list[str]]:
    """Model, tokenizer and (melody) chroma extractor of a checkpoint; cache first, then hub."""
    import torch
    from transformers import (
        AutoConfig,
        AutoTokenizer,
        MusicgenForConditionalGeneration,
        MusicgenMelodyForConditionalGeneration,
    )

    local = Path(name).expanduser()
    if local.exists() and not local.is_dir():
        raise ModelUnavailable(name, f"{local} is a file, not a model folder", BUILTIN_HINT)
    online = not local.is_dir() and not _offline()

    source = str(local) if local.is_dir() else name

    def load(loader, **kwargs):
        try:
            return loader(source, local_files_only=True, **kwargs)
        except OSError as exc:
            if not online:
                raise ModelUnavailable(name, _where(name, local, exc), _hint(name, local)) from None
        try:  # not in the cache: download
            return loader(source, local_files_only=False, **kwargs)
        except OSError as exc:
            raise ModelUnavailable(name, _where(name, local, exc), _hint(name, local)) from None

    config = load(AutoConfig.from_pretrained)
    if config.model_type not in MODEL_TYPES:
        raise ConfigError(
            f"{name}: a {config.model_type!r} checkpoint, not MusicGen ({', '.join(MODEL_TYPES)})"
        )
    model_class = (
        MusicgenMelodyForConditionalGeneration
        if config.model_type == "musicgen_melody"
        else MusicgenForConditionalGeneration
    )
    model = load(model_class.from_pretrained, dtype=torch.float32).eval()
    tokenizer = load(AutoTokenizer.from_pretrained)
    chroma, notes = None, []
    if config.model_type == "musicgen_melody":
        from transformers.feature_extraction_utils import FeatureExtractionMixin

        from vmb.generate.chroma import ChromaExtractor

        try:
            data, _ = load(FeatureExtractionMixin.get_feature_extractor_dict)
            chroma = ChromaExtractor.from_dict(data)
        except ModelUnavailable:
            chroma = ChromaExtractor()
            notes.append(
                f"{name} has no preprocessor_config.json: MusicGen-Melody's chroma defaults"
            )
            logger.warning("%s", notes[-1])
    return model, tokenizer, chroma, notes


def _offline() -> bool:
    from huggingface_hub import constants

    value = os.environ.get("HF_HUB_OFFLINE", os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return value.strip().lower() in ("1", "true", "yes", "on") or bool(constants.HF_HUB_OFFLINE)


def _where(name: str, local: Path, error: OSError) -> str:
    from huggingface_hub import constants

    if local.is_dir():
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"the folder {local} is not a complete checkpoint: {reason}"
    mode = "offline" if _offline() else "not downloadable"
    return f"not in the Hugging Face cache {constants.HF_HUB_CACHE} and {mode}"


def _hint(name: str, local: Path) -> str:
    if local.is_dir():
        return BUILTIN_HINT
    return f"download it where there is network (huggingface-cli download {name}) or {BUILTIN_HINT}"


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device = {device!r} is not one of: auto, cpu, cuda, mps")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device = cuda but torch sees no CUDA GPU")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device = mps but torch sees no MPS device")
    return device


def _resolve_dtype(dtype: str, device: str) -> str:
    import torch

    if dtype == "auto":
        if device == "cuda":
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return "float32"
    if dtype not in ("float32", "float16", "bfloat16"):
        raise ConfigError(f"dtype = {dtype!r} is not one of: auto, float32, float16, bfloat16")
    return dtype


def _check_window(window_s: float, overlap_s: float) -> tuple[float, float]:
    if not (math.isfinite(window_s) and window_s > 0):
        raise ConfigError(f"generator.window_s = {window_s!r} must be positive")
    if not (math.isfinite(overlap_s) and 0 <= overlap_s < window_s):
        raise ConfigError(
            f"generator.overlap_s = {overlap_s!r} must be >= 0 and below window_s ({window_s!r})"
        )
    return float(window_s), float(overlap_s)


def _positive(name: str, value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{name} must be positive, got {value!r}")
    return value


def _weight(name: str, value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a number, got {value!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise UsageError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


@contextlib.contextmanager
def _progress_bar(enabled: bool, total: int):
    """Yields ``advance(n)``; a rich progress bar on stderr when ``enabled``."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("generating"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("generate", total=total)
        yield lambda n: bar.advance(task, n)
