"""eval's per-item cache: what goes in comes out (dtypes, shapes, strings, 0-d), a damaged or
truncated entry is computed again, never read as numbers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vmb.eval.cache import ItemCache, pack_arrays, unpack_arrays


def test_arrays_round_trip_with_their_dtype_and_shape():
    arrays = {
        "rows": np.arange(12, dtype=np.float32).reshape(2, 6)[:, ::2],  # not contiguous
        "key": np.asarray("C#"),
        "empty": np.zeros((0, 3)),
        "lufs": np.asarray(np.nan),
        "beats": np.asarray([0.5, 1.0], np.float64),
    }
    back = unpack_arrays(pack_arrays(arrays))
    assert list(back) == list(arrays)
    for name, value in arrays.items():
        assert back[name].dtype == value.dtype and back[name].shape == value.shape
        np.testing.assert_array_equal(back[name], value)
    with pytest.raises(TypeError):
        pack_arrays({"o": np.asarray([object()])})


def test_a_damaged_shard_is_a_miss_and_is_written_again(tmp_path):
    source = tmp_path / "a.wav"
    source.write_bytes(b"RIFF....")
    with ItemCache(tmp_path / "cache") as cache:
        cache.put(source, "emb:x", {"rows": np.ones((1, 4), np.float32)})
    shard = next(Path(tmp_path / "cache").rglob("*.vmbcache"))
    good = shard.read_bytes()
    for damaged in (good[:-3], good + b"!", b"garbage", good[:12], good.replace(b"eval-3", b"eval-0")):
        shard.write_bytes(damaged)
        fresh = ItemCache(tmp_path / "cache")
        assert fresh.get(source, "emb:x") is None and fresh.misses == 1
    with ItemCache(tmp_path / "cache") as again:  # computed again: written again
        again.put(source, "emb:x", {"rows": np.full((1, 4), 2, np.float32)})
    fresh = ItemCache(tmp_path / "cache")
    np.testing.assert_array_equal(fresh.get(source, "emb:x")["rows"], np.full((1, 4), 2, np.float32))
    assert fresh.hits == 1


def test_one_shard_per_run_and_folder_written_once_and_merged_when_many(tmp_path, monkeypatch):
    import vmb.eval.cache as C

    files = [tmp_path / "g" / f"{i}.wav" for i in range(5)] + [tmp_path / "r" / f"{i}.wav" for i in range(5)]
    for f in files:
        f.parent.mkdir(exist_ok=True)
        f.write_bytes(b"x" * 10)
    writes = []
    real = C.atomic_write_bytes
    monkeypatch.setattr(C, "atomic_write_bytes", lambda path, data: writes.append(path) or real(path, data))
    with ItemCache(tmp_path / "cache") as cache:
        for f in files:
            cache.put(f, "emb:x", {"rows": np.zeros((1, 2))})
        assert writes == []  # nothing written per item
    assert len(writes) == 2 and len({Path(w).parent for w in writes}) == 2  # one shard per folder
    # an interrupted run keeps what was flushed: flush_every_s=0 writes at each put
    with ItemCache(tmp_path / "cache", flush_every_s=0) as cache:
        for i in range(C.MAX_SHARDS + 2):
            cache.put(files[0], f"emb:{i}", {"rows": np.zeros((1, 2))})
    folder = Path(writes[0]).parent
    assert len(list(folder.glob("*.vmbcache"))) == 1  # merged on close
    files[1].write_bytes(b"changed")  # its entry is left out of the next merge
    fresh = ItemCache(tmp_path / "cache")
    assert all(fresh.has(files[0], f"emb:{i}") for i in range(C.MAX_SHARDS + 2))
    assert fresh.has(files[2], "emb:x") and not fresh.has(files[1], "emb:x")


def test_a_rerun_computes_only_the_changed_file(chord_sets, tmp_path, monkeypatch):
    import shutil

    import soundfile as sf

    import vmb.eval.embedders as E
    from vmb.eval import evaluate

    gen = tmp_path / "gen"
    shutil.copytree(chord_sets["gen"], gen)
    first = evaluate(gen, chord_sets["ref"], metrics="fd-features", cache_dir=tmp_path / "cache", bootstrap=0)
    assert first.settings["cache"] == {"folder": str(tmp_path / "cache"), "hits": 0, "misses": 10}
    audio, sr = sf.read(gen / "s2.wav")
    before = os.stat(gen / "s2.wav")
    sf.write(gen / "s2.wav", 0.5 * audio, sr)  # same size, new content
    os.utime(gen / "s2.wav", ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    measured = []
    real = E.measure_features
    monkeypatch.setattr(E, "measure_features", lambda mono, sr: measured.append(len(mono)) or real(mono, sr))
    second = evaluate(gen, chord_sets["ref"], metrics="fd-features", cache_dir=tmp_path / "cache", bootstrap=0)
    assert second.settings["cache"] == {"folder": str(tmp_path / "cache"), "hits": 9, "misses": 1}
    assert len(measured) == 1  # only s2 is measured again
    assert second.metric("fd-features").value != first.metric("fd-features").value
