"""Hostile configuration (``--config FILE`` and ``--set``): bounded work and one line, through the
real ``vmb`` command in a process with a time and memory limit.

An alias bomb ("billion laughs") once printed a 722 MB error line and used 4.3 GB.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

MEMORY_LIMIT = 3 << 30  # address space: the models are not loaded for `vmb describe --text`

BOMB = "a: &a [" + ",".join(['"lol"'] * 9) + "]\n" + "".join(
    f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")
)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def vmb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from vmb.cli import main; main()", *map(str, args)],
        capture_output=True, text=True, timeout=60, check=False, preexec_fn=_limit_memory,
    )


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


FILES = {
    "alias bomb": (BOMB, r"expands to more than 100000 values"),
    "recursive alias": ("describer: &a {x: *a}\n", "a recursive alias"),
    "nested 500 deep": ("x: " + "[" * 500 + "]" * 500 + "\n", "nested more than 100 levels deep"),
    "an integer of 6000 digits": ("seed: " + "9" * 6000 + "\n", r"out of range \(an integer with too many digits\)"),
    "a 100 kB string value": ("generator:\n  duration_s: " + "x" * 100_000 + "\n", r"duration_s = 'x{40,60}… is not a number"),
    "a 100 kB key": ("k" * 100_000 + ": 1\n", "not valid YAML"),
    "a 1000-character key": ("k" * 1000 + ": 1\n", r"unknown config key .k{40,60}…"),
    "not UTF-8": (b"seed: \xff\xfe\n", r"not valid YAML \(not UTF-8 text\)"),
    "over 1 MiB": ("# " + "x" * (1 << 20) + "\n", "larger than the 1048576 bytes allowed"),
    "two documents": ("seed: 1\n---\nseed: 2\n", "not valid YAML"),
}


@pytest.mark.parametrize("case", list(FILES), ids=list(FILES))
def test_hostile_config_file(case, tmp_path):
    content, reason = FILES[case]
    path = write(tmp_path, "hostile config.yaml", content)
    proc = vmb("describe", "--text", "calm piano", "--config", path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), proc.stderr[:2000]
    assert re.search(reason, lines[0]), lines[0]
    assert len(lines[0]) < 400


@pytest.mark.parametrize(
    ("special", "reason"),
    [("fifo", "not a regular file"), ("/dev/zero", "not a regular file"), ("folder", "Is a directory")],
)
def test_a_config_that_is_no_regular_file_is_refused_without_hanging(special, reason, tmp_path):
    import os

    if special == "fifo":
        path = tmp_path / "pipe.yaml"
        os.mkfifo(path)
    elif special == "folder":
        path = tmp_path / "folder.yaml"
        path.mkdir()
    else:
        path = Path(special)
    proc = vmb("describe", "--text", "calm", "--config", path)
    assert proc.returncode == 1 and reason in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr


SETS = {
    "alias bomb": ("describer.num_frames=" + "[" + ",".join(["&a [1,2,3,4,5,6,7,8,9,10]"] + ["*a"] * 20) + "]", "not a number|not a whole number"),
    "recursive alias": ("describer.num_frames=&a [*a]", "a recursive alias"),
    "an integer of 6000 digits": ("seed=" + "9" * 6000, r"out of range \(an integer with too many digits\)"),
    "nested 500 deep": ("seed=" + "[" * 500 + "]" * 500, "nested more than 100 levels deep"),
    "a 10 kB value": ("generator.duration_s=" + "x" * 10_000, r"duration_s = 'x{40,60}… is not a number"),
    "a 10 kB key": ("k" * 10_000 + "=1", r"unknown config key 'k{40,60}…"),
    "a newline in the value": ("generator.genre=a\nb", None),
}


@pytest.mark.parametrize("case", list(SETS), ids=list(SETS))
def test_hostile_set(case):
    item, reason = SETS[case]
    proc = vmb("describe", "--text", "calm piano", "--set", item)
    assert proc.returncode == 1, proc.stderr[:2000]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[:2000]
    if reason:
        assert re.search(reason, lines[0]), lines[0]
    assert len(lines[0]) < 400
