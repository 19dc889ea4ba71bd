"""No command deletes or overwrites what it did not create: user files planted in every place
an index build (or a pairs build) writes survive, and the command refuses with one line.

Each case runs the installed ``vmb`` entry point in a real process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from reliability.reliability_media import BUILD

from vmb.testing import make_video

BUILD_ARGS = ["--encoder", BUILD["encoder"], "--segment-s", str(BUILD["segment_s"]), "--hop-s", str(BUILD["hop_s"])]


def vmb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from vmb.cli import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_refused(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def built_index(small_library, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("idx") / "index ü"
    proc = vmb("index", "build", small_library, "--out", out, *BUILD_ARGS)
    assert proc.returncode == 0, proc.stderr
    return out


def test_a_folder_with_a_stray_info_json_is_not_replaced(small_library, tmp_path):
    out = tmp_path / "my notes"
    out.mkdir()
    (out / "info.json").write_text("{}")
    (out / "a.txt").write_text("keep")
    before = snapshot(out)
    assert_refused(vmb("index", "build", small_library, "--out", out, *BUILD_ARGS), "not a vmb index", "a.txt")
    assert snapshot(out) == before


def test_an_info_json_that_vmb_did_not_write_is_not_replaced(small_library, tmp_path):
    out = tmp_path / "look alike"
    out.mkdir()
    (out / "info.json").write_text(json.dumps({"name": "my project"}))
    (out / "index.faiss").write_bytes(b"mine")
    before = snapshot(out)
    assert_refused(vmb("index", "build", small_library, "--out", out, *BUILD_ARGS), "not written by vmb")
    assert snapshot(out) == before


def test_a_user_file_added_to_an_index_is_not_deleted(built_index, small_library, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    (index / "my mix.wav").write_bytes(b"RIFF....")
    before = snapshot(index)
    assert_refused(vmb("index", "build", small_library, "--out", index, *BUILD_ARGS), "my mix.wav")
    assert snapshot(index) == before


def test_a_source_inside_the_output_folder_is_not_deleted(built_index, small_library, tmp_path):
    """``vmb index build IDX/music --out IDX``: the source would go with the old index."""
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    shutil.copytree(small_library.parent, index / "audio")  # a name vmb itself uses inside an index
    before = snapshot(index)
    assert_refused(vmb("index", "build", index / "audio", "--out", index, *BUILD_ARGS), "inside the output folder")
    assert snapshot(index) == before


def test_a_manifest_whose_tracks_lie_inside_the_output_is_refused(built_index, small_library, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    (index / "audio").mkdir()
    rows = []
    for wav in sorted(small_library.parent.glob("*.wav")):
        shutil.copy(wav, index / "audio" / wav.name)
        rows.append({"path": str(index / "audio" / wav.name)})
    manifest = tmp_path / "songs.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    before = snapshot(index)
    assert_refused(vmb("index", "build", manifest, "--out", index, *BUILD_ARGS), "inside the output folder")
    assert snapshot(index) == before


def test_a_real_index_is_still_replaced(built_index, small_library, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    old = json.loads((index / "info.json").read_text())
    proc = vmb("index", "build", small_library, "--out", index, *BUILD_ARGS)
    assert proc.returncode == 0, proc.stderr
    new = json.loads((index / "info.json").read_text())
    assert new["count"] == old["count"] and new["created"] != old["created"]


def test_a_user_folder_named_like_the_partial_build_is_kept(small_library, tmp_path):
    out = tmp_path / "index"
    partial = tmp_path / ".index.partial"
    partial.mkdir()
    (partial / "thesis.tex").write_text("keep")
    assert_refused(vmb("index", "build", small_library, "--out", out, *BUILD_ARGS), "thesis.tex")
    assert (partial / "thesis.tex").read_text() == "keep"
    assert not out.exists()


def test_pairs_overwrite_never_deletes_a_folder_that_is_not_a_dataset(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    make_video(videos / "a.mp4", seconds=1.0, size=(64, 48), audio_freqs=440.0)
    out = tmp_path / "my folder"
    out.mkdir()
    (out / "holiday.txt").write_text("keep")
    assert_refused(vmb("data", "pairs", videos, "--out", out, "--overwrite"), "not a saved dataset")
    assert (out / "holiday.txt").read_text() == "keep"
    # the video folder inside --out: refused, the videos stay
    assert_refused(vmb("data", "pairs", videos, "--out", tmp_path, "--overwrite"))
    assert (videos / "a.mp4").is_file()


def test_describer_training_never_replaces_a_users_lora_folder(tmp_path):
    """``vmb train describer --out DIR`` writes ``DIR/lora``: a folder of that name holding the
    user's files is refused, a LoRA adapter folder vmb wrote is replaced."""
    from vmb.errors import OutputError
    from vmb.train.describer import save_describer

    class Adapter:  # writes what peft's save_pretrained writes
        def save_pretrained(self, folder):
            Path(folder, "adapter_config.json").write_text("{}")
            Path(folder, "adapter_model.safetensors").write_bytes(b"weights")

    (tmp_path / "lora").mkdir()
    (tmp_path / "lora" / "my notes.txt").write_text("keep")
    with pytest.raises(OutputError, match="my notes.txt"):
        save_describer(Adapter(), None, "base", tmp_path, merge=False)
    assert (tmp_path / "lora" / "my notes.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lora"]  # no temporary folder left
    (tmp_path / "lora" / "my notes.txt").unlink()
    Adapter().save_pretrained(tmp_path / "lora")
    save_describer(Adapter(), None, "base", tmp_path, merge=False)  # vmb's own adapter: replaced
    assert sorted(p.name for p in (tmp_path / "lora").iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
