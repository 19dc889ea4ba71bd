"""MiniLM's weights mapped from the safetensors file instead of copied (a fresh ``vmb generate``
spent 0.1-0.3 s copying them, benchmarks/bench_startup.py)."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from vmb.retrieve.encoders.minilm import _packaged_model_path, map_safetensors


def test_mapped_weights_equal_safetensors_own_reader():
    path = f"{_packaged_model_path()}/model.safetensors"
    mapped, read = map_safetensors(path), load_file(path)
    assert mapped.keys() == read.keys()
    for name, array in read.items():
        assert mapped[name].dtype == array.dtype and np.array_equal(mapped[name], array), name
    assert not any(a.flags.writeable for a in mapped.values())  # the file is never written through


def test_every_numpy_dtype_and_the_bf16_fallback(tmp_path):
    tensors = {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4),
        "f16": np.linspace(-1, 1, 5).astype(np.float16),
        "i64": np.array([[1, -2], [3, 4]], np.int64),
        "u8": np.arange(7, dtype=np.uint8),
        "empty": np.zeros((0, 3), np.float32),
    }
    path = tmp_path / "t.safetensors"
    save_file(tensors, str(path))
    mapped = map_safetensors(path)
    for name, array in tensors.items():
        assert mapped[name].dtype == array.dtype and np.array_equal(mapped[name], array), name

    import json

    raw = path.read_bytes()  # the same bytes with f16 declared bf16, which numpy has no type for
    length = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8: 8 + length])
    header["f16"]["dtype"] = "BF16"
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    bf16 = tmp_path / "bf16.safetensors"
    bf16.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + length:])
    try:  # whatever safetensors' own reader makes of it, map_safetensors makes too
        want = load_file(str(bf16))
    except Exception as exc:  # noqa: BLE001
        with pytest.raises(type(exc)):
            map_safetensors(bf16)
    else:
        got = map_safetensors(bf16)
        assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in want)


@pytest.mark.parametrize("damage", ["header length", "header json", "offsets"])
def test_a_damaged_file_is_an_error(tmp_path, damage):
    path = tmp_path / "t.safetensors"
    save_file({"w": np.ones((4, 4), np.float32)}, str(path))
    raw = bytearray(path.read_bytes())
    length = int.from_bytes(raw[:8], "little")
    if damage == "header length":
        raw[:8] = (10**9).to_bytes(8, "little")
    elif damage == "header json":
        raw[8:12] = b"\x00\x00\x00\x00"
    else:
        raw = raw[: 8 + length + 10]  # the data cut short
    path.write_bytes(bytes(raw))
    with pytest.raises(OSError, match="safetensors|outside"):
        map_safetensors(path)
