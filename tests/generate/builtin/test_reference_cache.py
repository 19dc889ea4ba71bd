"""The on-disk cache of reference analyses (vmb/generate/builtin/reference.py): a fresh process
finds the demo library's analyses instead of measuring the audio again; an entry is keyed by
clip id + file checksum + segment, so changed audio is measured again; a damaged entry or an
unwritable cache never breaks generation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vmb.generate.builtin import reference
from vmb.types import Hit


def _entries() -> list[Path]:
    from vmb.home import cache_home

    return sorted((cache_home() / "reference").glob("*.json"))


@pytest.fixture
def hit(reference_hits, tmp_path) -> Hit:
    """A private copy of the F# minor reference (so the test may change the file)."""
    import dataclasses

    source = reference_hits["f#m"]
    copy = tmp_path / "ref.wav"
    shutil.copyfile(source.clip.path, copy)
    return dataclasses.replace(source, clip=dataclasses.replace(source.clip, path=str(copy), id="cache-test"))


@pytest.fixture
def fresh_memory():
    reference._analyze_cached.cache_clear()
    yield
    reference._analyze_cached.cache_clear()


def test_second_process_reads_the_analysis_from_disk(hit, fresh_memory, monkeypatch):
    before = set(_entries())
    measured = reference.analyze_reference(hit)
    new = [p for p in _entries() if p not in before]
    assert len(new) == 1
    entry = json.loads(new[0].read_text())
    assert entry["key"]["clip_id"] == "cache-test" and len(entry["key"]["sha256"]) == 64
    # as in a new process: nothing in memory, and measuring is not allowed
    reference._analyze_cached.cache_clear()
    monkeypatch.setattr(reference, "analyze_audio", lambda *a, **k: pytest.fail("measured again"))
    cached = reference.analyze_reference(hit)
    assert cached == measured  # every field, the chord loop included
    assert cached.has_tempo and cached.bars


def test_changed_audio_is_measured_again(hit, fresh_memory, reference_hits):
    first = reference.analyze_reference(hit)
    # another piece under the same path and clip id (the E-flat major one, 132 BPM)
    shutil.copyfile(reference_hits["eb"].clip.path, hit.clip.path)
    os.utime(hit.clip.path, ns=(1, 1))  # even with an old modification time
    reference._analyze_cached.cache_clear()
    second = reference.analyze_reference(hit)
    assert (second.key, second.mode) != (first.key, first.mode) or abs(second.tempo_bpm - first.tempo_bpm) > 5


@pytest.mark.parametrize("damage", ["garbage", "other_key", "bad_chord", "folder"])
def test_a_damaged_entry_is_measured_again_and_replaced(hit, fresh_memory, damage):
    measured = reference.analyze_reference(hit)
    key = reference._disk_key(hit.clip, os.path.abspath(hit.clip.path))
    path = reference._entry_path(key)
    if damage == "garbage":
        path.write_bytes(b"\x00not json")
    elif damage == "other_key":
        data = json.loads(path.read_text())
        data["key"]["sha256"] = "0" * 64
        data["features"]["tempo_bpm"] = 1.0
        path.write_text(json.dumps(data))
    elif damage == "bad_chord":
        data = json.loads(path.read_text())
        data["features"]["bars"] = [[[99, "maj", ""]]]
        path.write_text(json.dumps(data))
    else:
        path.unlink()
        path.mkdir()
    reference._analyze_cached.cache_clear()
    assert reference.analyze_reference(hit) == measured
    if damage != "folder":
        assert json.loads(path.read_text())["key"] == key  # rewritten with the right entry
    else:
        path.rmdir()


def test_an_unwritable_cache_still_analyses(hit, fresh_memory, monkeypatch, tmp_path):
    blocked = tmp_path / "home-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("VMB_HOME", str(blocked))  # cache_home() = <a file>/cache: cannot be created
    features = reference.analyze_reference(hit)
    assert features.has_tempo


def test_a_fresh_process_does_not_measure_cached_references(hit, fresh_memory):
    reference.analyze_reference(hit)  # fills the disk cache
    code = (
        "import sys, vmb.generate.builtin.reference as r\n"
        "from vmb.types import Clip, Hit\n"
        f"clip = Clip(id='cache-test', path={hit.clip.path!r}, start_s=0.0, duration_s=10.0, sample_rate=32000)\n"
        "r.analyze_reference(Hit(clip, 0.9, 0, 'pinned'))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('vmb.analysis', 'scipy'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert out.stdout.strip() == "[]", out.stdout  # neither vmb.analysis nor scipy was imported
