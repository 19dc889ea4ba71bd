"""build_index: the index contract, attributes, captions, skipped files, resume, atomic writes."""

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from retrieve.retrieve_library import MAJOR, MINOR, SEGMENT_S, TRACKS

from vmb.analysis import estimate_key
from vmb.errors import IndexFileError, UsageError
from vmb.media import read_audio
from vmb.retrieve import MusicIndex, build_index
from vmb.retrieve.build import TrackIndexer
from vmb.retrieve.store import sha256_bytes


def test_index_contract_on_disk(library_index, builtin_encoder):
    out, _info = library_index
    names = sorted(p.name for p in out.iterdir())
    assert names == ["audio.faiss", "clips.parquet", "index.faiss", "info.json"]
    data = json.loads((out / "info.json").read_text())
    assert data["encoder"] == "minilm:all-MiniLM-L6-v2" and data["encoder_kind"] == "builtin"
    assert (data["dim"], data["metric"], data["index_type"]) == (384, "ip", "flat")
    assert (data["count"], data["tracks"]) == (12, 6)
    assert data["audio"]["encoder"] == "features:v1" and data["audio"]["dim"] == 72
    assert data["vmb_version"] and data["build_time_s"] > 0 and data["created"]
    for name in ("index.faiss", "clips.parquet", "audio.faiss"):
        blob = (out / name).read_bytes()
        assert data["files"][name] == {"sha256": sha256_bytes(blob), "bytes": len(blob)}
    table = pq.read_table(out / "clips.parquet").to_pandas()
    assert len(table) == 12
    for column in (
        "id",
        "path",
        "start_s",
        "duration_s",
        "sample_rate",
        "caption",
        "track_id",
        "tempo_bpm",
        "tempo_class",
        "key",
        "mode",
        "genre",
        "mood",
        "instruments",
        "energy",
        "loudness_db",
    ):
        assert column in table.columns
    # the library lies outside the index folder: paths are absolute
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in table["path"])
    assert table["start_s"].tolist()[:2] == [0.0, SEGMENT_S]


def test_clip_attributes_are_measured_and_tags_kept(library_index, builtin_encoder):
    out, _ = library_index
    index = MusicIndex.load(out)
    clips = {c.id: c for c in index.clips()}
    rock = clips["audio/rock_anthem.wav@0.00"]
    assert rock.caption == TRACKS[1][4]["caption"]
    assert rock.attributes.genre == "rock" and rock.attributes.instruments == (
        "electric guitar",
        "drums",
    )
    assert rock.attributes.tempo_bpm == pytest.approx(150, rel=0.04)
    assert rock.attributes.tempo_class == "fast"
    pop = clips["audio/pop_summer.wav@3.00"]
    assert pop.attributes.tempo_bpm == pytest.approx(124, rel=0.04)
    # key and mode are those of the clip's own span (3-6 s: mostly F and G major chords)
    audio, sr = read_audio(pop.path, mono=True, start_s=pop.start_s, duration_s=pop.duration_s)
    key = estimate_key(audio, sr)
    assert (pop.attributes.key, pop.attributes.mode) == (key.key, key.mode)
    assert pop.attributes.mode == "major"
    assert clips["audio/jazz_club.wav@0.00"].attributes.mood == ("calm",)
    assert 0 <= rock.attributes.energy <= 1 and rock.attributes.loudness_db < 0
    # index.faiss row i is the MiniLM embedding of caption i
    vectors = index.index.reconstruct_n(0, len(index))
    expected = builtin_encoder.main.embed_text([c.caption for c in index.clips()])
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_caption_written_from_attributes_when_source_has_none(
    tmp_path, make_track, builtin_encoder
):
    make_track(tmp_path / "lib" / "x.wav", 140, MAJOR, True, seconds=3.0)
    info = build_index(
        tmp_path / "lib",
        tmp_path / "idx",
        encoder=builtin_encoder,
        segment_s=3,
        hop_s=3,
        progress=False,
    )
    clip = MusicIndex.load(tmp_path / "idx").clip(0)
    assert clip.caption.startswith("A fast-paced piece of music") and "in C major" in clip.caption
    assert "at about 14" in clip.caption and "BPM" in clip.caption
    assert info.tag_sources["genre"] == "none"
    assert any("no genre/mood/instrument tags" in n for n in info.notes)


def test_unreadable_files_are_skipped_with_reasons(tmp_path, make_track, builtin_encoder):
    lib = tmp_path / "lib"
    make_track(lib / "good.wav", 100, MINOR, True, seconds=3.0)
    (lib / "text.wav").write_text("this is not audio")
    (lib / "empty.flac").write_bytes(b"")
    good = (lib / "good.wav").read_bytes()
    (lib / "cut.wav").write_bytes(good[:30])
    info = build_index(
        lib, tmp_path / "idx", encoder=builtin_encoder, segment_s=3, hop_s=3, progress=False
    )
    assert info.count == 1 and info.tracks == 1
    skipped = {Path(s["path"]).name: s["reason"] for s in info.skipped}
    assert set(skipped) == {"text.wav", "empty.flac", "cut.wav"}
    assert all(reason for reason in skipped.values())


def test_nothing_indexable_is_a_clear_error(tmp_path, builtin_encoder):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.wav").write_text("nope")
    with pytest.raises(IndexFileError, match=r"no audio could be indexed: .*a\.wav"):
        build_index(lib, tmp_path / "idx", encoder=builtin_encoder, progress=False)
    assert not (tmp_path / "idx").exists()
    assert not (tmp_path / ".idx.partial").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexFileError, match="no audio files found"):
        build_index(tmp_path / "empty", tmp_path / "idx", encoder=builtin_encoder, progress=False)


def _index_state(folder: Path):
    table = pq.read_table(folder / "clips.parquet").to_pandas()
    index = MusicIndex.load(folder)
    return (
        table,
        index.index.reconstruct_n(0, len(index)),
        index.audio_index.reconstruct_n(0, len(index)),
    )


def test_resume_after_interruption_gives_the_clean_build(
    tmp_path, make_library, builtin_encoder, monkeypatch
):
    manifest = make_library(tmp_path / "lib", TRACKS[:3])
    kwargs = {
        "encoder": builtin_encoder,
        "segment_s": SEGMENT_S,
        "hop_s": SEGMENT_S,
        "progress": False,
    }
    build_index(manifest, tmp_path / "clean", **kwargs)

    calls = []
    original = TrackIndexer.__call__

    def crash_on_third(self, track):
        calls.append(track.key)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the third file
        return original(self, track)

    monkeypatch.setattr(TrackIndexer, "__call__", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        build_index(manifest, tmp_path / "resumed", **kwargs)
    assert not (tmp_path / "resumed").exists()  # nothing half-written
    assert len(list((tmp_path / ".resumed.partial" / "done").glob("*.json"))) == 2

    calls.clear()
    monkeypatch.setattr(
        TrackIndexer,
        "__call__",
        lambda self, track: (calls.append(track.key), original(self, track))[1],
    )
    info = build_index(manifest, tmp_path / "resumed", resume=True, **kwargs)
    assert calls == ["audio/jazz_club.wav"]  # only the unfinished file was redone
    assert any("resumed: 2 file(s)" in n for n in info.notes)
    assert not (tmp_path / ".resumed.partial").exists()
    clean, resumed = _index_state(tmp_path / "clean"), _index_state(tmp_path / "resumed")
    assert clean[0].equals(resumed[0])
    np.testing.assert_array_equal(clean[1], resumed[1])
    np.testing.assert_array_equal(clean[2], resumed[2])


def test_resume_with_other_settings_is_refused(
    tmp_path, make_library, builtin_encoder, monkeypatch
):
    manifest = make_library(tmp_path / "lib", TRACKS[:2])

    def crash(self, track):
        raise KeyboardInterrupt

    monkeypatch.setattr(TrackIndexer, "__call__", crash)
    with pytest.raises(KeyboardInterrupt):
        build_index(
            manifest,
            tmp_path / "idx",
            encoder=builtin_encoder,
            segment_s=3,
            hop_s=3,
            progress=False,
        )
    with pytest.raises(UsageError, match="other settings"):
        build_index(
            manifest,
            tmp_path / "idx",
            encoder=builtin_encoder,
            segment_s=5,
            hop_s=5,
            resume=True,
            progress=False,
        )


def test_rebuild_replaces_the_index_and_refuses_other_folders(
    tmp_path, make_track, builtin_encoder
):
    make_track(tmp_path / "lib" / "a.wav", 120, MAJOR, True, seconds=4.0)
    out = tmp_path / "idx"
    build_index(
        tmp_path / "lib", out, encoder=builtin_encoder, segment_s=4, hop_s=4, progress=False
    )
    assert MusicIndex.load(out).info.count == 1
    build_index(
        tmp_path / "lib", out, encoder=builtin_encoder, segment_s=2, hop_s=2, progress=False
    )
    assert MusicIndex.load(out).info.count == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx", "lib"]  # no temp folders left
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.txt").write_text("precious")
    with pytest.raises(IndexFileError, match="not a vmb index"):
        build_index(tmp_path / "lib", tmp_path / "docs", encoder=builtin_encoder, progress=False)
    assert (tmp_path / "docs" / "thesis.txt").read_text() == "precious"


def test_dataset_audio_bytes_are_written_into_the_index(tmp_path, make_track, builtin_encoder):
    import datasets

    a = make_track(tmp_path / "a.wav", 120, MAJOR, True, seconds=3.0)
    ds = datasets.Dataset.from_dict(
        {"audio": [str(a)], "caption": ["a tiny test loop"], "genre": ["pop"]}
    )
    ds.cast_column("audio", datasets.Audio()).save_to_disk(str(tmp_path / "ds"))
    a.unlink()  # the dataset holds the bytes
    out = tmp_path / "idx"
    info = build_index(
        tmp_path / "ds", out, encoder=builtin_encoder, segment_s=3, hop_s=3, progress=False
    )
    assert info.count == 1
    table = pq.read_table(out / "clips.parquet").to_pandas()
    assert table["path"][0].startswith("audio/")  # relative: inside the index folder
    clip = MusicIndex.load(out).clip(0)
    assert Path(clip.path).is_absolute() and Path(clip.path).is_file()
    assert clip.caption == "a tiny test loop" and clip.attributes.genre == "pop"
    shutil.rmtree(out)
