"""The per-user data home (VMB_HOME) and the demo library built there: once, atomically, under a
lock that two processes starting together share, found from any directory, never built while a
Pipeline is constructed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vmb.library
from vmb.home import cache_home, data_home, file_lock
from vmb.library import demo_index_path, ensure_demo_index, is_demo_index, resolve_index_path

ONE_SCORE = (
    "seconds: 4\n"
    "entries:\n"
    "  - {work: bach/bwv66.6, programs: [52], instruments: [choir], bpm: 72, genre: classical, mood: [calm]}\n"
)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "vmb home"
    monkeypatch.setenv("VMB_HOME", str(home))
    return home


@pytest.fixture
def small_library(tmp_path, monkeypatch) -> Path:
    """configs/demo_library.yaml replaced by a one-score library (rendered in a second or two)."""
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "demo_library.yaml").write_text(ONE_SCORE)
    monkeypatch.setattr(vmb.library, "configs_dir", lambda: configs)
    return configs / "demo_library.yaml"


def test_the_test_session_never_uses_the_real_home():
    real = Path("~").expanduser()
    assert os.environ["VMB_HOME"] and not Path(os.environ["VMB_HOME"]).is_relative_to(real / ".local")
    assert data_home() == Path(os.environ["VMB_HOME"])


def test_vmb_home_holds_data_and_caches(home):
    assert data_home() == home
    assert cache_home() == home / "cache"
    assert demo_index_path() == home / "index" / "demo"
    assert resolve_index_path("demo") == home / "index" / "demo"
    assert resolve_index_path("index/mine") == Path("index/mine")  # --index paths as given
    assert is_demo_index("demo") and is_demo_index(home / "index" / "demo")
    assert not is_demo_index("index/demo")


def test_without_vmb_home_the_platform_folders_are_used(monkeypatch):
    import platformdirs

    monkeypatch.delenv("VMB_HOME")
    assert data_home() == Path(platformdirs.user_data_dir("vmb", appauthor=False))
    assert cache_home() == Path(platformdirs.user_cache_dir("vmb", appauthor=False))


def test_pipeline_builds_the_demo_library_on_first_call_not_on_construction(home, small_library, tmp_path,
                                                                              monkeypatch):
    from vmb.components import DeferredRetriever
    from vmb.pipeline import Pipeline

    elsewhere = tmp_path / "Videos"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    pipe = Pipeline.from_profile("builtin")
    assert isinstance(pipe.retriever, DeferredRetriever)
    assert not (home / "index").exists()

    result = pipe(text="calm choir", duration_s=1.0, seed=1)
    assert any("built the demo index" in n for n in result.notes)
    assert (home / "index" / "demo" / "info.json").is_file()
    assert list(elsewhere.iterdir()) == []  # nothing in the current directory
    assert result.bridges.references, "the demo library was not retrieved from"

    again = Pipeline.from_profile("builtin")(text="calm choir", duration_s=1.0, seed=1)
    assert not any("built the demo index" in n for n in again.notes)


def test_vmb_retrieve_finds_the_demo_library_from_any_directory(home, small_library, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vmb.cli import app

    ensure_demo_index(renderer="numpy")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["retrieve", "--text", "calm choir", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["index"] == str(home / "index" / "demo")
    assert data["hits"]
    info = CliRunner().invoke(app, ["index", "info", "demo", "--json"])
    assert info.exit_code == 0, info.output
    assert json.loads(info.stdout)["path"] == str(home / "index" / "demo")


def test_two_processes_starting_together_build_the_demo_library_once(home, small_library, tmp_path):
    script = textwrap.dedent(
        f"""
        import json, sys
        from vmb.library import ensure_demo_index
        notes = ensure_demo_index(library={str(small_library)!r}, renderer="numpy")
        print(json.dumps(notes))
        """
    )
    env = dict(os.environ, VMB_HOME=str(home))
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    notes = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    built = [n for n in notes if not any("already at" in line for line in n)]
    assert len(built) == 1, notes  # one process rendered and indexed, the other waited and found it
    info = json.loads((home / "index" / "demo" / "info.json").read_text())
    assert info["count"] >= 1
    leftovers = [p.name for p in (home / "index").iterdir() if p.name.startswith(".") and "tmp" in p.name]
    assert leftovers == []


def test_file_lock_excludes_a_second_holder(tmp_path):
    lock = tmp_path / "x.lock"
    probe = (
        "import fcntl, sys; f = open(sys.argv[1], 'a+b')\n"
        "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\n"
        "except BlockingIOError:\n    print('held')\n"
    )
    with file_lock(lock):
        held = subprocess.run([sys.executable, "-c", probe, str(lock)], capture_output=True, text=True, check=False)
    free = subprocess.run([sys.executable, "-c", probe, str(lock)], capture_output=True, text=True, check=False)
    assert (held.stdout.strip(), free.stdout.strip()) == ("held", "free")
