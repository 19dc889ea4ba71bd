"""The index's clip table without pandas (:class:`vmb.retrieve.store.ClipTable`): the same
``clips.parquet`` as the contract's schema, columns as lists, and indexes written through pandas
(the pandas schema metadata in the file) still load."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vmb.retrieve.store import MusicIndex, arrow_schema, sha256_bytes


def test_columns_rows_and_the_file_schema(library_index):
    folder, _ = library_index
    index = MusicIndex.load(folder)
    on_disk = pq.read_table(folder / "clips.parquet")
    assert pq.read_schema(folder / "clips.parquet").equals(arrow_schema())  # names, order, types
    table = index.table
    assert len(table) == on_disk.num_rows == len(index) and table.columns == on_disk.column_names
    for name in on_disk.column_names:
        assert table[name] == on_disk.column(name).to_pylist(), name
    row = table.row(3)
    assert row == {name: on_disk.column(name)[3].as_py() for name in on_disk.column_names}
    clip = index.clip(3)
    assert clip.id == row["id"] and clip.track_id == row["track_id"] and clip.path.endswith(row["path"])
    assert table.to_pandas()["id"].tolist() == table["id"]
    with pytest.raises(IndexError):
        table.row(len(table))
    with pytest.raises(KeyError):
        table["no such column"]


def test_a_replaced_column_is_saved_and_read_back(library_index, tmp_path):
    folder, _ = library_index
    index = MusicIndex.load(folder)
    captions = [f"v2 {c}" for c in index.table["caption"]]
    index.table["caption"] = captions
    assert index.table["caption"] == captions and index.clip(0).caption == captions[0]
    with pytest.raises(ValueError, match="values for"):
        index.table["caption"] = captions[:-1]
    saved = MusicIndex.load(index.save(tmp_path / "copy"))
    assert saved.table["caption"] == captions
    assert pq.read_schema(tmp_path / "copy" / "clips.parquet").equals(arrow_schema())


def test_an_index_written_through_pandas_loads_the_same(library_index, tmp_path):
    """What vmb wrote before: ``pa.Table.from_pandas(frame, schema)`` (pandas metadata in the
    schema), read back clip for clip."""
    folder, _ = library_index
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    frame = pq.read_table(folder / "clips.parquet").to_pandas()
    pq.write_table(pa.Table.from_pandas(frame, schema=arrow_schema(), preserve_index=False), old / "clips.parquet")
    assert b"pandas" in pq.read_schema(old / "clips.parquet").metadata
    info = json.loads((old / "info.json").read_text())
    blob = (old / "clips.parquet").read_bytes()
    info["files"]["clips.parquet"] = {"sha256": sha256_bytes(blob), "bytes": len(blob)}
    (old / "info.json").write_text(json.dumps(info))
    assert MusicIndex.load(old).clips() == MusicIndex.load(folder).clips()
