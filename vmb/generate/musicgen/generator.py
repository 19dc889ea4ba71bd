"""The MusicGen generator: the text bridge and the music bridge in, audio out.

    generator = MusicGenGenerator.from_pretrained("facebook/musicgen-melody")
    result = generator.generate(bridges, duration_s=12.0, seed=0)
    result.audio  # [C, T] float32 at generator.sample_rate, T == round(12.0 * sample_rate)

The pieces live next to this module (see the package docstring of :mod:`vmb.generate.musicgen`):
loading (:mod:`.loading`), conditioning (:mod:`.conditioning`), the one decoder forward
(:mod:`.decoder`), the sampling loop (:mod:`.sampling`), long-form windows (:mod:`.longform`),
guidance (:mod:`.guidance`), int8 (:mod:`.quantize`), chroma (:mod:`.chroma`) and adapters
(:mod:`.adapters`).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from vmb.errors import ConfigError, GenerationError, UsageError
from vmb.generate.musicgen.guidance import GuidanceWeights
from vmb.generate.musicgen.loading import BUILTIN_HINT, MODEL_TYPES
from vmb.limits import check_duration, check_weight, resolve_seed
from vmb.types import Bridges, GenerationResult

if TYPE_CHECKING:
    import torch

    from vmb.config import Config
    from vmb.generate.musicgen.adapters import MusicAdapter
    from vmb.generate.musicgen.chroma import ChromaExtractor


class MusicGenGenerator:
    """MusicGen (or MusicGen-Melody) driven by the text bridge and the music bridge.

    Build it with :meth:`from_pretrained` or :meth:`from_config`. Attributes: ``name`` (the
    model id or path), ``sample_rate``, ``frame_rate`` (codec frames per second),
    ``is_melody``, ``adapter`` (a :class:`~vmb.generate.musicgen.adapters.MusicAdapter` or ``None``),
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
            from vmb.generate.musicgen.chroma import ChromaExtractor

            chroma = ChromaExtractor()
        self.chroma = chroma
        self.reference_encoder = reference_encoder
        self.notes = tuple(notes)
        self.default_top_k = 250
        self.default_temperature = 1.0
        self.default_seed: int | None = None
        self.window_s, self.overlap_s = _check_window(window_s, overlap_s)

        from vmb.generate.musicgen.decoder import MusicGenDecoder

        codec = model.config.audio_encoder
        self.decoder = MusicGenDecoder(model, adapter)
        self.pattern = self.decoder.pattern  # delays, pad and start ids
        self.num_codebooks = self.pattern.num_codebooks
        self.vocab_size = int(model.config.decoder.vocab_size)
        self.audio_channels = int(model.config.decoder.audio_channels)
        self.sample_rate = int(codec.sampling_rate)
        self.hop_length = int(np.prod(codec.upsampling_ratios))
        self.frame_rate = self.sample_rate / self.hop_length

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

        from vmb.generate.musicgen.loading import load_checkpoint
        from vmb.hub import resolve_device, resolve_dtype

        name = str(id_or_path)
        device = resolve_device(device)
        dtype = str(resolve_dtype(dtype, device)).removeprefix("torch.")
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

        model, tokenizer, chroma, load_notes = load_checkpoint(name)
        notes.extend(load_notes)
        model.to(device)
        if dtype != "float32":
            notes.append(f"decoder runs under {dtype} autocast on {device}")
        if isinstance(adapter, (str, os.PathLike)):
            from vmb.generate.musicgen.adapters import load_adapter

            notes.append(f"adapter loaded from {adapter}")
            adapter = load_adapter(adapter, model)
        if adapter is not None:
            adapter.to(device)
        if quantize == "int8":
            from vmb.generate.musicgen.quantize import quantize_decoder

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
        from vmb.config import loader_settings

        settings = loader_settings(cls.from_pretrained, config, g)
        generator = cls.from_pretrained(g.model, reference_encoder=reference_encoder, **settings)
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
                When ``bridges.description`` has a timeline (sections; see
                :mod:`vmb.generate.musicgen.longform`), it is made section by section: each
                window starts at a section boundary and is conditioned on that section's text
                only, continuing the audio of the window before; the notes list the windows
                and their texts. Without one, every window gets ``bridges.text``.
            seed: seeds the sampler; ``None`` uses the configured seed, else
                :data:`vmb.limits.DEFAULT_SEED` (:func:`vmb.limits.resolve_seed`).
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

        from vmb.generate.musicgen import conditioning
        from vmb.generate.musicgen.longform import crossfade_join, plan_sections, plan_windows
        from vmb.generate.musicgen.sampling import sample_window

        started = time.perf_counter()
        duration_s = check_duration(duration_s)
        top_k = self.default_top_k if top_k is None else top_k
        temperature = self.default_temperature if temperature is None else temperature
        if isinstance(top_k, bool) or int(top_k) != top_k or top_k < 0:
            raise UsageError(f"top_k must be a whole number >= 0, got {top_k!r}")
        if not (math.isfinite(temperature) and temperature >= 0):
            raise UsageError(f"temperature must be >= 0, got {temperature!r}")
        weights = GuidanceWeights(
            text=check_weight(bridges.text_weight if text_weight is None else text_weight, "text_weight"),
            music=check_weight(bridges.music_weight if music_weight is None else music_weight, "music_weight"),
        )
        seed = resolve_seed(seed, self.default_seed)
        notes: list[str] = list(self.notes)
        timings: dict[str, float] = {}

        total_frames = math.ceil(round(duration_s * self.sample_rate) / self.hop_length)
        total_samples = round(duration_s * self.sample_rate)
        window_frames = max(1, int(self.window_s * self.frame_rate))
        overlap_frames = int(self.overlap_s * self.frame_rate)
        # A timeline: one text per section, windows starting at the section boundaries.
        sections = plan_sections(
            bridges, total_frames, self.frame_rate, window_frames, overlap_frames
        )
        texts = sections.texts if sections is not None else (bridges.text,)

        with torch.inference_mode(), self._autocast():
            t0 = time.perf_counter()
            encoded: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
            for text in texts:
                if text not in encoded:
                    encoded[text] = conditioning.encode_text(self, text)
            timings["text_encoder"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            references = conditioning.References()
            if weights.uses_music:
                references = conditioning.prepare_references(
                    self, bridges.references, reference_embedding
                )
                notes.extend(references.notes)
                if not references.active:
                    weights = GuidanceWeights(text=weights.text, music=0.0)
            elif bridges.references:
                notes.append("music_weight is 0: the references were not used")
            notes.append(
                f"guidance: text {weights.text:g}, music {weights.music:g} ({weights.rows} rows per step)"
            )
            timings["references"] = time.perf_counter() - t0

            if sections is not None:
                windows = sections.windows
                notes.extend(sections.notes)
            else:
                windows = plan_windows(total_frames, window_frames, overlap_frames)
            if sections is None and len(windows) > 1:
                notes.append(
                    f"long-form: {len(windows)} windows of up to {self.window_s:g} s, each prompted "
                    f"with the previous {self.overlap_s:g} s of codes, crossfaded"
                )
            generator = torch.Generator(device=self.device).manual_seed(int(seed))
            steps = sum(w.new_frames + self.pattern.max_delay for w in windows)
            bar = _progress_bar(progress, steps)

            segments: list[np.ndarray] = []
            previous: torch.Tensor | None = None
            timings["sampling"] = timings["codec_decode"] = 0.0
            with bar as advance:
                for window in windows:
                    t0 = time.perf_counter()
                    prompt = previous[:, -window.prompt_frames :] if window.prompt_frames else None
                    text_states, text_mask = encoded[texts[window.section]]
                    state = conditioning.window_state(
                        self, weights, text_states, text_mask, references, window
                    )
                    codes = sample_window(
                        self.decoder,
                        self.pattern,
                        state,
                        weights,
                        prompt,
                        window.new_frames,
                        generator,
                        int(top_k),
                        float(temperature),
                        advance,
                        device=self.device,
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

    def _autocast(self):
        import torch

        if self.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=getattr(torch, self.dtype))

    @property
    def adapter(self) -> MusicAdapter | None:
        """The music-bridge adapter the decoder runs with (``None``: the base model)."""
        return self.decoder.adapter if hasattr(self, "decoder") else self._adapter

    @adapter.setter
    def adapter(self, adapter: MusicAdapter | None) -> None:
        self._adapter = adapter
        if hasattr(self, "decoder"):
            self.decoder.adapter = adapter


def _check_window(window_s: float, overlap_s: float) -> tuple[float, float]:
    if not (math.isfinite(window_s) and window_s > 0):
        raise ConfigError(f"generator.window_s = {window_s!r} must be positive")
    if not (math.isfinite(overlap_s) and 0 <= overlap_s < window_s):
        raise ConfigError(
            f"generator.overlap_s = {overlap_s!r} must be >= 0 and below window_s ({window_s!r})"
        )
    return float(window_s), float(overlap_s)


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



__all__ = ["BUILTIN_HINT", "MODEL_TYPES", "MusicGenGenerator"]
