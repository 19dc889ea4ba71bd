"""MusicIndex on disk: round trip, checksums, clear errors for damaged or foreign folders."""

import json
import shutil

import numpy as np
import pytest

from vmb.errors import IndexFileError
from vmb.retrieve import MusicIndex
from vmb.retrieve.store import relative_to_root


@pytest.fixture
def copy(library_index, tmp_path):
    out, _ = library_index
    target = tmp_path / "copy"
    shutil.copytree(out, target)
    return target


def test_round_trip_save_load(library_index, tmp_path):
    out, info = library_index
    index = MusicIndex.load(out)
    assert len(index) == info.count == 12
    index.save(tmp_path / "again")
    again = MusicIndex.load(tmp_path / "again")
    assert again.clips() == index.clips()
    np.testing.assert_array_equal(
        again.index.reconstruct_n(0, 12), index.index.reconstruct_n(0, 12)
    )
    np.testing.assert_array_equal(
        again.audio_index.reconstruct_n(0, 12), index.audio_index.reconstruct_n(0, 12)
    )
    a, b = again.info.to_dict(), info.to_dict()
    assert {k: v for k, v in a.items() if k != "files"} == {
        k: v for k, v in b.items() if k != "files"
    }


def test_modified_index_file_is_detected(copy):
    blob = bytearray((copy / "index.faiss").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (copy / "index.faiss").write_bytes(bytes(blob))
    with pytest.raises(IndexFileError, match=r"index\.faiss: checksum does not match info\.json"):
        MusicIndex.load(copy)


def test_truncated_files_are_detected(copy):
    blob = (copy / "clips.parquet").read_bytes()
    (copy / "clips.parquet").write_bytes(blob[:100])
    with pytest.raises(IndexFileError, match=r"clips\.parquet: size 100 bytes.*truncated"):
        MusicIndex.load(copy)


def test_garbage_faiss_file_with_matching_checksum(copy):
    from vmb.retrieve.store import sha256_bytes

    garbage = b"not a faiss index at all" * 10
    (copy / "index.faiss").write_bytes(garbage)
    info = json.loads((copy / "info.json").read_text())
    info["files"]["index.faiss"] = {"sha256": sha256_bytes(garbage), "bytes": len(garbage)}
    (copy / "info.json").write_text(json.dumps(info))
    with pytest.raises(IndexFileError, match=r"index\.faiss: not a readable FAISS index"):
        MusicIndex.load(copy)


def test_missing_pieces_and_wrong_paths(copy, tmp_path):
    (copy / "audio.faiss").unlink()
    with pytest.raises(IndexFileError, match=r"audio\.faiss: missing"):
        MusicIndex.load(copy)
    (copy / "info.json").unlink()
    with pytest.raises(IndexFileError, match=r"info\.json: missing; not a vmb index folder"):
        MusicIndex.load(copy)
    with pytest.raises(IndexFileError, match="index not found"):
        MusicIndex.load(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(IndexFileError, match="not an index folder"):
        MusicIndex.load(tmp_path / "file")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "info.json").write_text("{not json")
    with pytest.raises(IndexFileError, match="not a valid index info file"):
        MusicIndex.load(tmp_path / "broken")


def test_relative_paths_inside_the_index_folder(tmp_path):
    root = tmp_path / "idx"
    assert relative_to_root(str(root / "audio" / "a.wav"), root.resolve()) == "audio/a.wav"
    assert relative_to_root(str(tmp_path / "x.wav"), root.resolve()) == str(
        (tmp_path / "x.wav").resolve()
    )


def test_histograms(library_index):
    out, _ = library_index
    h = MusicIndex.load(out).histograms()
    assert h["genre"] == {"jazz": 4, "ambient": 2, "classical": 2, "pop": 2, "rock": 2}
    assert h["instruments"]["drums"] == 6
    assert sum(h["tempo_class"].values()) == 12 and sum(h["key"].values()) == 12
    assert set(h["mood"]) == {"sad", "energetic", "calm", "dreamy", "happy"}
