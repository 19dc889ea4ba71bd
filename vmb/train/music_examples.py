"""The adapter trainer's examples: target codes, text bridge and a retrieved music bridge.

For every track of the training data (a saved ``datasets`` folder such as ``vmb data pairs``
writes, a folder of audio or a CSV/JSONL manifest: :func:`vmb.retrieve.sources.read_source`):

1. the track is cut into clips of ``segment_s`` (:func:`vmb.retrieve.segment.segment_track`);
2. the **text bridge** is the track's caption; a track without one gets a sentence written
   from its tags and the measured tempo, key and energy (:mod:`vmb.train.targets`);
3. the **music bridge** is the best *broad* hit of the index for that caption that is not the
   track itself. The training-time rule: the retriever (``allow_same_track=False``, so at most
   one hit per track) is asked for more hits than needed and every hit of the clip's own
   track is dropped. A hit is the clip's own track when its ``track_id`` is the track's key, or
   its file is the track's file. This is exact when the index was built from the training data
   (``vmb index build D``); for an index built from other files a warning says so;
4. the **target** is the clip's EnCodec codes ``[K, F]``; the reference is read the way the
   generator reads it (up to 30 s of the hit) and turned into what each mechanism reads: its
   EnCodec codes (ControlFormer), its embedding (reference tokens) and, for MusicGen-Melody,
   its chroma.

Everything is computed once and cached in ``<out>/prepared/`` (``examples.json`` +
``tensors.safetensors``); a rerun or ``--resume`` with the same data, index, model and
settings reads the cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vmb.errors import ConfigError, MediaError, UsageError
from vmb.fileio import atomic_folder, atomic_write_json

logger = logging.getLogger(__name__)

PREPARED = "prepared"
CACHE_VERSION = 1


@dataclass
class MusicExample:
    """One training clip.

    Attributes:
        track: the source track's key; ``start_s`` where the clip starts in it.
        caption: the text bridge; ``caption_source`` ``given`` or ``template``.
        reference: the retrieved clip's id, ``reference_track`` its track id.
        target: EnCodec codes of the clip ``[K, F]`` (long).
        ref_codes: EnCodec codes of the reference ``[K, F_ref]`` (ControlFormer).
        ref_embedding: the reference's embedding ``[E]`` (reference tokens), or ``None``.
        ref_chroma: the reference's chroma ``[F_c, 12]`` (MusicGen-Melody), or ``None``.
    """

    track: str
    start_s: float
    caption: str
    caption_source: str
    reference: str
    reference_track: str
    target: Any = None
    ref_codes: Any = None
    ref_embedding: Any = None
    ref_chroma: Any = None

    def meta(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("target", "ref_codes", "ref_embedding", "ref_chroma"):
            data.pop(name)
        return data


def track_audio(track) -> tuple[np.ndarray, int]:
    """The audio ``[C, T]`` of a :class:`~vmb.retrieve.sources.SourceTrack` (file or bytes)."""
    from vmb.media import read_audio

    if track.path is not None:
        return read_audio(track.path)
    import soundfile as sf

    try:
        audio, sr = sf.read(io.BytesIO(track.data or b""), dtype="float32", always_2d=True)
        return np.ascontiguousarray(audio.T), int(sr)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / f"audio{track.suffix}"
        file.write_bytes(track.data or b"")
        return read_audio(file)


def track_caption(track, audio: np.ndarray, sr: int) -> tuple[str, str]:
    """``(caption, source)``: the track's own caption, else a template sentence from its tags
    and the measured tempo, key and energy."""
    if track.caption:
        return track.caption, "given"
    from vmb.retrieve.attributes import measure_clip
    from vmb.train.targets import write_target

    measured = measure_clip(audio[:, : int(120 * sr)], sr)
    target = write_target(
        genre=track.genre,
        mood=track.mood,
        instruments=track.instruments,
        tempo_bpm=track.tempo_bpm if track.tempo_bpm is not None else measured.tempo_bpm,
        key=track.key_name or measured.key,
        mode=track.mode or measured.mode,
        energy=measured.energy,
    )
    return target.description.text, "template"


def own_track(hit, track) -> bool:
    """Whether a retrieval hit is (part of) the training clip's own track."""
    if hit.clip.track_id == track.key:
        return True
    if track.path is not None:
        return Path(hit.clip.path).resolve() == Path(track.path).resolve()
    return False


def pick_reference(retriever, caption: str, track, want: int = 1):
    """The broad hits for ``caption`` that are not the track's own, best first (up to ``want``)."""
    from vmb.types import Hit

    ask = min(len({*retriever.index.table["track_id"]}), want + 1)
    hits: list[Hit] = list(retriever.search(caption, k_broad=ask, k_targeted=0).by_track("broad"))
    return [h for h in hits if not own_track(h, track)][:want]


def fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_examples(
    generator,
    data: str,
    index: str,
    segment_s: float,
    max_segments: int | None,
    embedding_source: str,
    cache: Path | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> tuple[list[MusicExample], list[str]]:
    """The examples of ``data`` for ``generator`` (a loaded :class:`MusicGenGenerator`) and
    notes on what was skipped or assumed. Reads/writes the cache folder ``cache``.

    Raises:
        UsageError: no usable example (empty data, every track skipped, an index with nothing
            but the data's own tracks).
        IndexFileError: the index is missing or corrupt.
        ConfigError: ``embedding_source`` ``clap`` with an index not built with CLAP.
    """
    import torch

    from vmb.generate.musicgen.adapters import codes_embedding, encodec_codes
    from vmb.generate.musicgen.conditioning import read_reference
    from vmb.retrieve import MusicIndex, Retriever
    from vmb.retrieve.segment import segment_track
    from vmb.retrieve.sources import read_source

    model = generator.model
    music_index = MusicIndex.load(index)
    settings = {
        "version": CACHE_VERSION,
        "data": str(Path(data).expanduser().resolve()) if Path(data).expanduser().exists() else str(data),
        "index": str(Path(index).expanduser().resolve()),
        "index_created": music_index.info.created,
        "index_count": music_index.info.count,
        "model_type": model.config.model_type,
        "num_codebooks": int(model.config.decoder.num_codebooks),
        "vocab_size": int(model.config.decoder.vocab_size),
        "codec_rate": int(model.config.audio_encoder.sampling_rate),
        "base": generator.name,
        "segment_s": float(segment_s),
        "max_segments": max_segments,
        "embedding_source": embedding_source,
    }
    key = fingerprint(settings)
    if cache is not None:
        cached = load_prepared(cache, key)
        if cached is not None:
            return cached

    if embedding_source == "clap" and music_index.info.encoder_kind != "clap":
        raise ConfigError(
            f"--embedding-source clap needs an index built with CLAP; {index} was built with "
            f"{music_index.info.encoder_kind} (use --embedding-source encodec)"
        )
    retriever = Retriever(music_index, allow_same_track=False, device=device)
    source = read_source(data)
    notes = [f"skipped {s['path']}: {s['reason']}" for s in source.skipped]
    if not source.tracks:
        raise UsageError(f"{data}: no training audio found")
    if Path(music_index.info.source or "").resolve() != Path(settings["data"]).resolve():
        note = (
            f"the index was built from {music_index.info.source!r}, not from the training data: "
            "a clip's own track is recognised by its track id and file path only"
        )
        notes.append(note)
        logger.warning(note)

    examples: list[MusicExample] = []
    from vmb.train.loop import progress_bar

    with progress_bar(progress, len(source.tracks), "preparing", unit="clips") as bar:
        for track in source.tracks:
            bar.update()
            try:
                audio, sr = track_audio(track)
            except MediaError as exc:
                notes.append(f"skipped track {track.key}: {exc.reason}")
                continue
            spans = segment_track(audio.shape[-1] / sr, segment_s, segment_s)
            if max_segments:
                spans = spans[:max_segments]
            if not spans:
                notes.append(f"skipped track {track.key}: shorter than 1 s")
                continue
            caption, caption_source = track_caption(track, audio, sr)
            hits = pick_reference(retriever, caption, track)
            if not hits:
                notes.append(f"skipped track {track.key}: the index holds no other track to use as its reference")
                continue
            hit = hits[0]
            ref_audio, ref_sr = read_reference(hit)  # as the generator reads it
            ref_codes = encodec_codes(model, ref_audio, ref_sr)
            embedding = chroma = None
            if embedding_source == "encodec":
                embedding = codes_embedding(model, ref_codes).cpu()  # as the generator: from its codes
            elif embedding_source == "clap":
                vector = retriever.encoder.audio.embed_audio([(ref_audio, ref_sr)])[0]
                embedding = torch.as_tensor(np.asarray(vector, np.float32))
            if generator.is_melody:
                chroma = generator.chroma(ref_audio, ref_sr)[0].float().cpu()
            for start, duration in spans:
                piece = audio[:, round(start * sr) : round((start + duration) * sr)]
                examples.append(
                    MusicExample(
                        track=track.key,
                        start_s=float(start),
                        caption=caption,
                        caption_source=caption_source,
                        reference=hit.clip.id,
                        reference_track=hit.clip.track_id,
                        target=encodec_codes(model, piece, sr).cpu().long(),
                        ref_codes=ref_codes.cpu().long(),
                        ref_embedding=embedding,
                        ref_chroma=chroma,
                    )
                )
    if not examples:
        reasons = "; ".join(notes[:3])
        raise UsageError(f"{data}: no usable training clip ({reasons})")
    if cache is not None:
        save_prepared(cache, key, settings, examples, notes)
    return examples, notes


def save_prepared(folder: Path, key: str, settings: dict, examples: list[MusicExample], notes: list[str]) -> None:
    """Write the examples to ``folder`` (replaced as a whole)."""
    from safetensors.torch import save_file

    tensors = {}
    for i, ex in enumerate(examples):
        for name in ("target", "ref_codes", "ref_embedding", "ref_chroma"):
            value = getattr(ex, name)
            if value is not None:
                tensors[f"{i}.{name}"] = value.contiguous().clone()  # clips of a track share their reference
    with atomic_folder(folder) as work:
        save_file(tensors, str(work / "tensors.safetensors"))
        meta = {"key": key, "settings": settings, "notes": notes, "examples": [e.meta() for e in examples]}
        atomic_write_json(work / "examples.json", meta, indent=1)


def load_prepared(folder: Path, key: str) -> tuple[list[MusicExample], list[str]] | None:
    """The cached examples, or ``None`` when the cache is absent, stale or unreadable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        meta = json.loads((folder / "examples.json").read_text(encoding="utf-8"))
        if meta.get("key") != key:
            return None
        tensors = load_file(str(folder / "tensors.safetensors"))
    except (OSError, ValueError, SafetensorError):
        return None
    examples = []
    for i, data in enumerate(meta["examples"]):
        ex = MusicExample(**data)
        for name in ("target", "ref_codes", "ref_embedding", "ref_chroma"):
            setattr(ex, name, tensors.get(f"{i}.{name}"))
        examples.append(ex)
    return examples, list(meta.get("notes", []))


__all__ = [
    "MusicExample",
    "own_track",
    "pick_reference",
    "prepare_examples",
    "track_audio",
    "track_caption",
]
