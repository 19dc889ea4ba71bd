"""Source readers: folders, CSV/JSONL manifests, saved datasets."""

import json
from pathlib import Path

import pytest

from vmb.errors import IndexFileError
from vmb.retrieve.sources import parse_key, read_source
from vmb.vocab import load_vocab


def test_folder_is_recursive_sorted_and_skips_hidden(tmp_path):
    for rel in [
        "b/two.flac",
        "a/one.wav",
        "c.mp3",
        "notes.txt",
        ".hidden/x.wav",
        "d/.y.wav",
        "e/UPPER.OGG",
    ]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    src = read_source(tmp_path)
    assert src.kind == "folder"
    assert [t.key for t in src.tracks] == ["a/one.wav", "b/two.flac", "c.mp3", "e/UPPER.OGG"]
    assert all(Path(t.path).is_absolute() for t in src.tracks)


def test_jsonl_manifest_paths_resolve_against_its_folder_and_tags_are_canonical(tmp_path):
    lib = tmp_path / "lib"
    (lib / "audio").mkdir(parents=True)
    rows = [
        {
            "path": "audio/a.wav",
            "caption": "Night jazz",
            "genre": "Bebop",
            "mood": "mellow; Upbeat",
            "instruments": ["sax", "Upright bass"],
            "tempo_bpm": "128",
            "key": "Bbm",
        },
        {"path": "audio/b.wav", "instruments": "kazoo", "key": "F sharp major"},
        {"path": "audio/c.wav", "key": "H minor"},
        {"path": "audio/d.wav", "tempo_bpm": "fast"},
        {"path": "audio/a.wav"},
        {"caption": "no path"},
    ]
    (lib / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    src = read_source(lib / "m.jsonl")
    a, b = src.tracks
    assert a.path == str((lib / "audio/a.wav").resolve()) and a.key == "audio/a.wav"
    assert (a.caption, a.genre, a.mood, a.instruments) == (
        "Night jazz",
        "jazz",
        ("calm", "fun"),
        ("saxophone", "bass"),
    )
    assert (a.tempo_bpm, a.key_name, a.mode) == (128.0, "A#", "minor")
    assert (b.instruments, b.key_name, b.mode) == (("kazoo",), "F#", "major")
    reasons = " | ".join(s["reason"] for s in src.skipped)
    assert (
        "key 'H minor'" in reasons and "tempo_bpm 'fast'" in reasons and "listed twice" in reasons
    )
    assert "no path" in reasons and len(src.skipped) == 4


def test_csv_manifest_and_missing_path_column(tmp_path):
    (tmp_path / "m.csv").write_text("path,genre,mood\nx.wav,rock,sad\n/abs/y.flac,,\n")
    src = read_source(tmp_path / "m.csv")
    assert [t.path for t in src.tracks] == [str((tmp_path / "x.wav").resolve()), "/abs/y.flac"]
    assert src.tracks[0].genre == "rock" and src.tracks[0].mood == ("sad",)
    assert src.tracks[1].genre is None and src.tracks[1].mood == ()
    (tmp_path / "bad.csv").write_text("file_path,genre\nx.wav,rock\n")
    with pytest.raises(IndexFileError, match="no path column"):
        read_source(tmp_path / "bad.csv")
    (tmp_path / "bad.jsonl").write_text('{"path": "x.wav"}\n{oops\n')
    src = read_source(tmp_path / "bad.jsonl")  # one bad row is skipped and reported, not fatal
    assert [t.path for t in src.tracks] == [str((tmp_path / "x.wav").resolve())]
    assert src.skipped == [{"path": "bad.jsonl:2", "reason": "line 2 is not valid JSON (Expecting property name enclosed in double quotes)"}]


def test_folder_metadata_attaches_tags(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.wav").write_bytes(b"x")
    (tmp_path / "b.wav").write_bytes(b"x")
    (tmp_path / "metadata.csv").write_text("file_name,genre\ns/a.wav,jazz\n")
    src = read_source(tmp_path)
    assert {t.key: t.genre for t in src.tracks} == {"b.wav": None, "s/a.wav": "jazz"}


def test_missing_and_unsupported_sources(tmp_path):
    with pytest.raises(IndexFileError, match="source not found"):
        read_source(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(IndexFileError, match="not a supported source"):
        read_source(tmp_path / "x.txt")


def test_saved_dataset_with_files_and_bytes(tmp_path, make_track):
    import datasets

    a = make_track(tmp_path / "a.wav", 120, ((0, "maj"),), True, seconds=1.5)
    b = make_track(tmp_path / "b.wav", 90, ((9, "min"),), False, seconds=1.5)
    ds = datasets.Dataset.from_dict(
        {
            "audio": [str(a), str(b)],
            "text": ["first", "second"],
            "genre": ["pop", "jazz"],
            "bpm": [120, 90],
        }
    ).cast_column("audio", datasets.Audio())
    ds.save_to_disk(str(tmp_path / "ds"))
    src = read_source(tmp_path / "ds")
    assert src.kind == "datasets" and len(src.tracks) == 2
    first, second = src.tracks
    assert (first.caption, first.genre, first.tempo_bpm) == ("first", "pop", 120.0)
    # save_to_disk embeds the audio: rows come back as bytes to be written into the index
    assert first.path is None and first.data[:4] == b"RIFF" and first.suffix == ".wav"
    assert second.genre == "jazz"


def test_parse_key():
    vocab = load_vocab()
    assert parse_key("D minor", vocab) == ("D", "minor")
    assert parse_key("Ebm", vocab) == ("D#", "minor")
    assert parse_key("c", vocab) == ("C", None)
    assert parse_key("G maj", vocab) == ("G", "major")
    assert parse_key(None, vocab) == (None, None)
    with pytest.raises(ValueError, match="X minor"):
        parse_key("X minor", vocab)


def test_hub_dataset_id_without_a_hub_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(
        IndexFileError, match="someone/music: no such file or folder, and the hub cannot be reached"
    ):
        read_source("someone/music")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(IndexFileError, match="hub is offline"):
        read_source("someone/music")
