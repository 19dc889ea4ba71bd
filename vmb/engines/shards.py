"""The finished shards of a distributed index build, in ``.<NAME>.partial/shards/``.

A shard is a run of consecutive source tracks (shard ``s`` of ``n`` holds tracks
``bounds[s]:bounds[s + 1]``), so reading the shards in order gives the tracks in source order,
as the single-process build has them. Each finished shard is two files written atomically
with ``fsync``: ``shard-00003.npz`` (the main vectors ``[n, D]`` and, builtin, the feature
vectors ``[n, F]``) and then ``shard-00003.json`` (the clips per track and the skipped tracks),
whose presence marks the shard done. A killed build (even ``kill -9``) resumes with the shards
that have no JSON; a shard written halfway has no JSON and is done again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vmb.fileio import atomic_path, atomic_write_json
from vmb.retrieve.build import TrackResult
from vmb.types import Clip


def shard_bounds(tracks: int, shards: int) -> list[int]:
    """``shards + 1`` boundaries splitting ``tracks`` tracks into contiguous, near-equal runs."""
    return [round(i * tracks / shards) for i in range(shards + 1)]


@dataclass
class ShardRecord:
    """One finished shard: the results of its indexed tracks (in order) and its skips."""

    results: list[TrackResult]
    skipped: list[dict[str, str]]


class ShardStore:
    """The ``shards/`` folder of a partial build (``partial_folder`` from
    :class:`vmb.retrieve.build.Partial`)."""

    def __init__(self, partial_folder: Path):
        self.folder = Path(partial_folder) / "shards"
        self.folder.mkdir(parents=True, exist_ok=True)

    def _stem(self, shard: int) -> Path:
        return self.folder / f"shard-{shard:05d}"

    def done(self, shard: int) -> bool:
        return self._stem(shard).with_suffix(".json").is_file()

    def save(self, shard: int, keys: list[str], record: ShardRecord) -> None:
        """Write shard ``shard`` (tracks ``keys``): vectors first, then the JSON marking it done."""
        stem = self._stem(shard)
        arrays: dict[str, np.ndarray] = {}
        for name in ("vectors", "features"):
            parts = [getattr(r, name) for r in record.results]
            if parts and all(p is not None for p in parts):
                arrays[name] = np.concatenate(parts).astype(np.float32)
        with atomic_path(stem.with_suffix(".npz"), suffix=".tmp.npz", fsync=True) as tmp:
            np.savez(tmp, **arrays)
        meta = {
            "shard": shard,
            "keys": keys,
            "tracks": [[c.to_dict() for c in r.clips] for r in record.results],
            "skipped": record.skipped,
        }
        atomic_write_json(stem.with_suffix(".json"), meta, indent=None, fsync=True)

    def load(self, shard: int) -> ShardRecord:
        stem = self._stem(shard)
        meta = json.loads(stem.with_suffix(".json").read_text())
        with np.load(stem.with_suffix(".npz")) as arrays:
            vectors = arrays["vectors"] if "vectors" in arrays.files else None
            features = arrays["features"] if "features" in arrays.files else None
        results, row = [], 0
        for track in meta["tracks"]:
            clips = [Clip.from_dict(c) for c in track]
            end = row + len(clips)
            results.append(
                TrackResult(
                    clips,
                    None if vectors is None else vectors[row:end],
                    None if features is None else features[row:end],
                )
            )
            row = end
        return ShardRecord(results, list(meta["skipped"]))


__all__ = ["ShardRecord", "ShardStore", "shard_bounds"]
