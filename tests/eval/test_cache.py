"""eval's per-item cache: what goes in comes out (dtypes, shapes, strings, 0-d), a damaged or
truncated entry is computed again, never read as numbers."""

from __future__ import annotations

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


def test_a_damaged_entry_is_a_miss_and_is_written_again(tmp_path):
    source = tmp_path / "a.wav"
    source.write_bytes(b"RIFF....")
    cache = ItemCache(tmp_path / "cache")
    cache.put(source, "emb:x", {"rows": np.ones((1, 4), np.float32)})
    entry = next(Path(tmp_path / "cache").rglob("*.arrays"))
    good = entry.read_bytes()
    for damaged in (good[:-3], good + b"!", b"garbage", good[:12]):
        entry.write_bytes(damaged)
        fresh = ItemCache(tmp_path / "cache")
        assert fresh.get(source, "emb:x") is None and fresh.misses == 1
    entry.write_bytes(good)
    fresh = ItemCache(tmp_path / "cache")
    np.testing.assert_array_equal(fresh.get(source, "emb:x")["rows"], np.ones((1, 4), np.float32))
    assert fresh.hits == 1
