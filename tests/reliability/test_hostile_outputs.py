"""Writing the results under hostile conditions, through the real ``vmb generate`` in a process:
a full disk, a folder where an output file goes, SIGTERM and Ctrl-C during rendering, a failing
renderer after the MIDI was written, and two runs into one folder at the same time. Each ends
in one line (or success) and leaves no partial file, no stray FluidSynth and no temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vmb.testing import make_video

HAVE_FLUIDSYNTH = shutil.which("fluidsynth") is not None


def command(*args) -> list[str]:
    return [sys.executable, "-c", "from vmb.cli import main; main()", *map(str, args)]


def run(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=300, check=False, env=env)


def one_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=2.0, size=(64, 48))


def generate_args(clip, index, out, *extra):
    return ("generate", "--video", clip, "--profile", "builtin", "--index", index, "--out", out, *extra)


def test_a_folder_where_the_output_file_goes(clip, small_index, tmp_path):
    out = tmp_path / "out"
    (out / "clip.vmb.wav").mkdir(parents=True)
    line = one_line(run(*generate_args(clip, small_index, out)))
    assert f"{out / 'clip.vmb.wav'}" in line and "folder" in line
    assert sorted(p.name for p in out.iterdir()) == ["clip.vmb.wav"]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 200 kB tmpfs: the WAV of 2 s of stereo music does not fit."""
    mount = tmp_path / "tiny disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)], capture_output=True, check=False)
    if proc.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs in CI: {proc.stderr!r}")
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_is_one_line_and_leaves_nothing(clip, small_index, tiny_disk):
    proc = run(*generate_args(clip, small_index, tiny_disk))
    assert proc.returncode == 1
    line = one_line(proc)
    assert "No space left on device" in line and "clip.vmb." in line, line
    assert list(tiny_disk.iterdir()) == []


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append((int(entry.name), name))
    return found


@pytest.mark.skipif(not HAVE_FLUIDSYNTH, reason="needs the fluidsynth program")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_while_fluidsynth_renders_leaves_nothing(sig, code, clip, small_index, tmp_path):
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen(command(*generate_args(clip, small_index, out, "--duration", "600", "--midi")),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 240
    renderer = None
    while renderer is None and time.monotonic() < deadline and proc.poll() is None:
        renderer = next((p for p, name in _children(proc.pid) if name.startswith("fluidsynth")), None)
        time.sleep(0.05)
    assert renderer is not None, "FluidSynth never started"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert stderr.strip().splitlines() == [f"error: stopped by {'SIGTERM' if sig == signal.SIGTERM else 'Ctrl-C'}; no partial output was kept"]
    assert not Path(f"/proc/{renderer}").exists() or "zombie" in Path(f"/proc/{renderer}/status").read_text().lower()
    assert list(tmp.iterdir()) == [], "a temporary file or folder was left"
    assert not out.exists() or list(out.iterdir()) == []


def test_a_failing_renderer_after_the_midi_leaves_no_midi(clip, small_index, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "fluidsynth").write_text("#!/bin/sh\necho 'fluidsynth: simulated crash' >&2\nexit 3\n")
    (fake / "fluidsynth").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    out = tmp_path / "out"
    proc = run(*generate_args(clip, small_index, out, "--midi"), env=env)
    assert proc.returncode == 1
    assert "simulated crash" in one_line(proc)
    assert not out.exists() or list(out.iterdir()) == []


def test_two_runs_into_one_folder_leave_one_consistent_set(clip, small_index, tmp_path):
    out = tmp_path / "out"
    procs = [
        subprocess.Popen(command(*generate_args(clip, small_index, out, "--seed", str(seed), "--midi")),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for seed in (1, 2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    report = json.loads((out / "clip.vmb.json").read_text())
    solo = tmp_path / f"solo{report['seed']}"
    assert run(*generate_args(clip, small_index, solo, "--seed", str(report["seed"]), "--midi")).returncode == 0
    for name in ("clip.vmb.wav", "clip.vmb.mid"):
        assert (out / name).read_bytes() == (solo / name).read_bytes(), f"{name} is not from the run the JSON names"
    assert sorted(p.name for p in out.iterdir()) == ["clip.vmb.json", "clip.vmb.mid", "clip.vmb.mp4", "clip.vmb.wav"]
