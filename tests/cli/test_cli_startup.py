"""What keeps a fresh ``vmb generate --video`` (builtin) quick (issue 14): the libraries it does
not import. The time itself is measured in benchmarks/bench_startup.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# the import costs measured in a fresh process on 2 cores: scipy.signal (pyloudnorm's import)
# 0.7 s, pandas 0.2 s, the torch/transformers stack seconds
NOT_ON_THE_BUILTIN_PATH = ("scipy.signal", "pyloudnorm", "pandas", "torch", "transformers",
                           "sentence_transformers", "sklearn")  # fmt: skip


def fresh_generate(video: Path, index: Path, out: Path, home: Path) -> list[str]:
    """Run ``vmb generate --video`` (builtin) in a new process; the heavy modules it imported."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['vmb', 'generate', '--video', {str(video)!r}, '--profile', 'builtin',\n"
        f"            '--index', {str(index)!r}, '--seed', '1', '--out', {str(out)!r}, '--json']\n"
        "try:\n"
        "    runpy.run_module('vmb.cli', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"heavy = sorted(m for m in sys.modules if m in {(*NOT_ON_THE_BUILTIN_PATH, 'scipy')!r})\n"
        "print('IMPORTED', ','.join(heavy), file=sys.stderr)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "VMB_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                          check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert Path(report["paths"]["mp4"]).is_file() and report["models"]["generator"].startswith("builtin")
    line = [x for x in proc.stderr.splitlines() if x.startswith("IMPORTED")][-1]
    return [m for m in line.split(" ", 1)[1].split(",") if m]


def test_fresh_builtin_generate_imports_no_scipy_pandas_or_torch(video_file, builtin_index, tmp_path):
    """The first run measures the references (vmb.analysis: scipy.fft, scipy.ndimage) and
    caches what it measured; the runs after it import no scipy at all."""
    first = fresh_generate(video_file, builtin_index, tmp_path / "first", tmp_path / "home")
    assert not set(first) & set(NOT_ON_THE_BUILTIN_PATH), first
    again = fresh_generate(video_file, builtin_index, tmp_path / "again", tmp_path / "home")
    assert again == [], again
