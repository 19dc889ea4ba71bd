"""Dual-track retrieval: the music bridge.

``Retriever(index, encoder).search(description, wants, pinned, k_broad, k_targeted)``:

1. **pinned** — the user's reference files, read, measured and embedded with the index's audio
   encoder, come first, as given (score 1.0).
2. **broad** — the description text (or, without text, the mean embedding of the pinned
   references in the audio space) searched over the whole index: overall emotion and theme.
3. **targeted** — the text bridge (the description with the wants appended, see
   :func:`~vmb.retrieve.text.bridge_text`) searched only over the partition of clips matching
   every want. The partition is given to FAISS as an ID selector (see
   :mod:`vmb.retrieve.faiss_index`); an empty partition gives no targeted hit and a note, it
   is never widened.

No two hits come from the same track (``track_id``, and a pinned file's own clips are
excluded) unless ``allow_same_track``. ``Hit.rank`` is 1-based within its track;
``Hit.clip.path`` is absolute.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vmb.errors import IndexFileError, UsageError
from vmb.retrieve.attributes import caption_from_attributes, clip_attributes, measure_clip
from vmb.retrieve.encoders.base import IndexEncoder, l2_normalize, load_encoder
from vmb.retrieve.encoders.features import FeaturesEncoder, FeatureStats
from vmb.retrieve.faiss_index import Selector, gpu_status, search, set_search_param, to_gpu
from vmb.retrieve.index_type import search_on_gpu
from vmb.retrieve.segment import segment_track
from vmb.retrieve.sources import SourceTrack
from vmb.retrieve.store import MusicIndex
from vmb.retrieve.text import bridge_text, description_text
from vmb.types import Clip, Hit, MusicDescription, Wants
from vmb.vocab import load_vocab

logger = logging.getLogger(__name__)

PINNED_ANALYSIS_S = 30.0
PARTITION_CACHE = 16  # distinct wants whose partition selectors a Retriever keeps


def read_pinned(path: str | Path) -> tuple[Clip, np.ndarray, int]:
    """One pinned reference file, read and measured: ``(clip, audio [1, T], sample rate)``.

    Only the first ``PINNED_ANALYSIS_S`` seconds are decoded: a 3-hour file costs no more than a
    short one, and they are the reference the generator gets.

    Raises:
        MediaError: the file cannot be read.
    """
    from vmb.media import read_audio

    path = str(Path(path).expanduser().resolve())
    piece, sr = read_audio(path, mono=True, duration_s=PINNED_ANALYSIS_S)
    attrs = clip_attributes(measure_clip(piece, sr), SourceTrack(key=path, path=path), load_vocab())
    clip = Clip(
        id=f"pinned:{Path(path).name}",
        path=path,
        start_s=0.0,
        duration_s=piece.shape[-1] / sr,
        sample_rate=sr,
        caption=caption_from_attributes(attrs),
        attributes=attrs,
        track_id=f"pinned:{path}",
    )
    return clip, piece, sr


@dataclass(frozen=True)
class SearchResult(Sequence):
    """The ordered hits (pinned, broad, targeted) — usable as a sequence of :class:`Hit` — with
    the text bridge and notes (empty partition, fallbacks)."""

    hits: tuple[Hit, ...]
    text: str = ""
    notes: tuple[str, ...] = ()
    partition_size: int | None = None

    def __getitem__(self, i):
        return self.hits[i]

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def by_track(self, track: str) -> tuple[Hit, ...]:
        return tuple(h for h in self.hits if h.track == track)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "hits": [h.to_dict() for h in self.hits],
            "notes": list(self.notes),
            "partition_size": self.partition_size,
        }


def encoder_for_index(index: MusicIndex, device: str = "auto") -> IndexEncoder:
    """Load the encoders an index was built with (from its ``info.json``)."""
    return load_encoder(index.info.encoder_kind, index.info.encoder_model, device=device)


class Retriever:
    """Searches a :class:`MusicIndex` with the encoders it was built with.

    Raises (on construction):
        IndexFileError: ``encoder`` is not the one the index was built with (both named).
    """

    def __init__(
        self,
        index: MusicIndex,
        encoder: IndexEncoder | None = None,
        allow_same_track: bool = False,
        device: str = "auto",
    ):
        self.index = index
        self.encoder = encoder or encoder_for_index(index, device=device)
        self.allow_same_track = allow_same_track
        info = index.info
        if self.encoder.id != info.encoder:
            raise IndexFileError(
                index.path,
                f"built with encoder {info.encoder} but queried with {self.encoder.id}; "
                f"query it with --encoder {info.encoder_kind}, or rebuild it",
            )
        if info.audio and self.encoder.audio.id != info.audio["encoder"]:
            raise IndexFileError(
                index.path,
                f"audio vectors made by {info.audio['encoder']} but the audio encoder is {self.encoder.audio.id}",
            )
        if info.audio and "stats" in info.audio:
            # a features encoder of this index's statistics (the given one stays untouched)
            audio = FeaturesEncoder(FeatureStats.from_dict(info.audio["stats"]))
            self.encoder = dataclasses.replace(self.encoder, audio=audio)
        for idx, kind, params in self._indexes():
            value = params.get("efSearch", params.get("nprobe"))
            if value:
                set_search_param(idx, kind, value)
        gpu_faiss, num_gpus = gpu_status()
        self.on_gpu = search_on_gpu(info.index_type, num_gpus, gpu_faiss)
        self._broad_index = to_gpu(index.index) if self.on_gpu else index.index

    def _indexes(self):
        yield self.index.index, self.index.info.index_type, self.index.info.index_params
        if self.index.audio_index is not None:
            yield (
                self.index.audio_index,
                self.index.info.audio["index_type"],
                self.index.info.audio.get("index_params", {}),
            )

    # ----- pinned references -------------------------------------------------------------------

    def pin(self, paths: Sequence[str]) -> tuple[list[Hit], np.ndarray]:
        """Read, measure and embed the pinned files: ``(hits, audio embeddings [P, D_audio])``.

        The first ``PINNED_ANALYSIS_S`` seconds are measured, and embedded the way the index's
        clips were (cut into its segment length, the segment embeddings averaged), so that a
        reference is compared with clips like clips are with each other.

        Raises:
            MediaError: a file cannot be read.
        """
        segment_s = float(self.index.info.segment_s or 10.0)
        hits, rows = [], []
        for i, p in enumerate(paths):
            clip, piece, sr = read_pinned(p)
            hits.append(Hit(clip=clip, score=1.0, rank=i + 1, track="pinned"))
            spans = segment_track(piece.shape[-1] / sr, segment_s, segment_s) or [
                (0.0, piece.shape[-1] / sr)
            ]
            segments = [(piece[:, round(s * sr) : round((s + d) * sr)], sr) for s, d in spans]
            rows.append(
                l2_normalize(self.encoder.audio.embed_audio(segments).mean(axis=0, keepdims=True))[
                    0
                ]
            )
        if not rows:
            return hits, np.zeros((0, self.encoder.audio.dim), np.float32)
        return hits, np.stack(rows)

    # ----- search ------------------------------------------------------------------------------

    def search(
        self,
        description: MusicDescription | str | None = None,
        wants: Wants | None = None,
        pinned: Sequence[str] = (),
        k_broad: int = 1,
        k_targeted: int = 1,
    ) -> SearchResult:
        """Pinned, broad and targeted hits for a description (or text) — see the module doc.

        Raises:
            UsageError: nothing to search with (no text and no pinned file), or negative k.
            MediaError: a pinned file cannot be read.
        """
        if k_broad < 0 or k_targeted < 0:
            raise UsageError(f"-k: must be 0 or more (got broad={k_broad}, targeted={k_targeted})")
        text = description_text(description)
        bridge = bridge_text(description, wants)
        pinned_hits, pinned_vectors = self.pin(pinned)
        if not text and not len(pinned_hits):
            raise UsageError(
                "nothing to search with: give a description (--text, --video, --image) or a --reference file"
            )
        notes: list[str] = []
        taken: set[str] = set()
        if not self.allow_same_track:
            pinned_paths = {h.clip.path for h in pinned_hits}
            taken |= {
                self.index.table["track_id"][i] for i in self._rows_with_paths(pinned_paths)
            }

        if text:
            space, broad_q = "main", self.encoder.main.embed_text([text])
        else:
            space, broad_q = "audio", l2_normalize(pinned_vectors.mean(axis=0, keepdims=True))
            notes.append("no description text: searched by the sound of the pinned references")

        targeted: list[Hit] = []
        partition_size = None
        if wants and k_targeted > 0:
            ids = self._partition(wants)
            partition_size = len(ids)
            wanted = ", ".join(f"{k}={v}" for k, v in wants.items())
            if partition_size == 0:
                note = f"targeted track: no clip of the index matches {wanted}; no targeted reference (not widened to the whole index)"
                notes.append(note)  # the visible channel: SearchResult.notes
                logger.info(note)
            else:
                target_q = self.encoder.main.embed_text([bridge]) if text else broad_q
                targeted = self._top(target_q, space, k_targeted, taken, ids, "targeted")
                if len(targeted) < k_targeted:
                    notes.append(
                        f"targeted track: {len(targeted)} of {k_targeted} wanted from {partition_size} matching clip(s) ({wanted})"
                    )
        # The targeted track is the constrained one: it picks first, the broad track (which can
        # use any clip) then skips the tracks it took.
        broad = self._top(broad_q, space, k_broad, taken, None, "broad")
        if len(broad) < k_broad:
            notes.append(f"broad track: {len(broad)} of {k_broad} found (one clip per track)")
        return SearchResult(
            tuple(pinned_hits) + tuple(broad) + tuple(targeted),
            bridge,
            tuple(notes),
            partition_size,
        )

    def _partition(self, wants: Wants) -> Selector:
        """The clips matching ``wants`` as a FAISS selector, built once per distinct wants (a
        long batch asks for the same few partitions again and again; at 1M clips computing
        the rows and the bitmap costs more than searching them)."""
        key = tuple(sorted(wants.items()))
        cache = self.__dict__.setdefault("_partitions", {})
        if key not in cache:
            if len(cache) >= PARTITION_CACHE:
                cache.pop(next(iter(cache)))
            cache[key] = Selector(self.index.partition(wants), len(self.index))
        return cache[key]

    def _rows_with_paths(self, paths: set[str]) -> list[int]:
        if not paths:
            return []
        rows = []
        root = self.index.path
        for i, p in enumerate(self.index.table["path"]):
            full = str(Path(p) if Path(p).is_absolute() else (root / p).resolve())
            if full in paths:
                rows.append(i)
        return rows

    def _top(
        self,
        query: np.ndarray,
        space: str,
        k: int,
        taken: set[str],
        ids: Selector | None,
        track: str,
    ) -> list[Hit]:
        """Up to ``k`` hits, one per track not in ``taken`` (which it extends)."""
        if k <= 0:
            return []
        if space == "main" or self.index.audio_index is None:
            index, kind, params = (
                (self._broad_index if ids is None else self.index.index),
                self.index.info.index_type,
                self.index.info.index_params,
            )
        else:
            index, kind, params = (
                self.index.audio_index,
                self.index.info.audio["index_type"],
                self.index.info.audio.get("index_params", {}),
            )
        available = len(self.index) if ids is None else len(ids)
        track_ids = self.index.table["track_id"]
        fetch = k if self.allow_same_track else min(available, k + len(taken) + 4)
        while True:
            scores, rows = search(index, kind, query, fetch, params, ids)
            hits: list[Hit] = []
            chosen: set[str] = set()
            for score, row in zip(scores[0], rows[0]):
                if row < 0:
                    continue
                tid = track_ids[int(row)]
                if not self.allow_same_track and (tid in taken or tid in chosen):
                    continue
                chosen.add(tid)
                hits.append(
                    Hit(
                        clip=self.index.clip(int(row)),
                        score=float(score),
                        rank=len(hits) + 1,
                        track=track,
                    )
                )
                if len(hits) == k:
                    break
            if len(hits) == k or fetch >= available:
                break
            fetch = min(available, fetch * 4)
        taken |= {h.clip.track_id for h in hits}
        return hits
