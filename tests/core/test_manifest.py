"""The one CSV/JSONL manifest reader (vmb.manifest): rows with where they came from, and one
error naming the file and line for each kind of bad manifest."""

from __future__ import annotations

import pytest

from vmb.errors import IndexFileError, UsageError
from vmb.manifest import first_value, folder_metadata, read_rows


def test_csv_and_jsonl_rows_with_their_lines(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("\ufeff path , caption\na.wav,one\nb.wav,two\n", encoding="utf-8")
    assert read_rows(csv, ("path",)) == [({"path": "a.wav", "caption": "one"}, "m.csv:2"),
                                         ({"path": "b.wav", "caption": "two"}, "m.csv:3")]  # fmt: skip
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text('{"path": "a.wav"}\n\n{"path": "b.wav", "mood": ["calm"]}\n')
    assert [where for _, where in read_rows(jsonl)] == ["m.jsonl:1", "m.jsonl:3"]


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("cut.jsonl", '{"path": "a.wav"}\n{"path": "b.w', "line 2 is not valid JSON"),
        ("list.jsonl", '["a.wav"]\n', "line 1 is not a JSON object"),
        ("empty.csv", "", "empty manifest"),
        ("nopath.csv", "caption\nhello\n", "no path column (expected one of: path, file)"),
    ],
)
def test_bad_manifests_are_one_error_naming_the_file(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UsageError, match=rf"^{path}: " + message.replace("(", r"\(").replace(")", r"\)")):
        read_rows(path, ("path", "file"))
    with pytest.raises(IndexFileError) as caught:
        read_rows(path, ("path", "file"), error=IndexFileError)
    assert caught.value.path == str(path) and message in caught.value.reason


def test_unreadable_file_names_its_role(tmp_path):
    with pytest.raises(UsageError, match="cannot read the metadata"):
        read_rows(tmp_path / "missing.csv", what="metadata")


def test_folder_metadata_keys_rows_by_resolved_path(tmp_path):
    (tmp_path / "metadata.csv").write_text("file_name,genre\nsub/a.mp4,jazz\n,rock\n")
    found = folder_metadata(tmp_path, ("file_name", "path"))
    assert found == {(tmp_path / "sub" / "a.mp4").resolve().as_posix(): {"file_name": "sub/a.mp4", "genre": "jazz"}}
    assert folder_metadata(tmp_path / "nothing", ("path",)) == {}


def test_first_value_skips_empty_values():
    assert first_value({"a": " ", "b": None, "c": 0}, ("a", "b", "c")) == 0
    assert first_value({}, ("a",)) is None
