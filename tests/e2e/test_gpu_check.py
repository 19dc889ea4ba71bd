"""benchmarks/gpu_check.sh: the CUDA check runs on the CPU too (the smoke mode), writes its JSON,
and refuses unknown parts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"


def run_check(*args: str, timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_TIMEOUT": str(timeout)}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=timeout + 60,
                          check=False)  # fmt: skip


def test_gpu_check_faiss_part_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = run_check("--device", "cpu", "--parts", "faiss", "--out", str(out), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["parts"] == ["faiss"]
    assert {"commit", "date", "machine", "command"} <= set(report)
    faiss = report["faiss"]
    assert faiss["vectors"] == 10_000 and faiss["cpu_search_s"] > 0
    assert faiss["gpu"].startswith("skipped:")


def test_gpu_check_refuses_unknown_parts(tmp_path):
    done = run_check("--device", "cpu", "--parts", "musicgen,warp-drive", "--out", str(tmp_path / "x.json"),
                     timeout=60)  # fmt: skip
    assert done.returncode == 2 and "--parts: unknown warp-drive" in done.stderr
    assert not (tmp_path / "x.json").exists()


@pytest.mark.slow
def test_gpu_check_smoke_on_cpu(tmp_path):
    """Every part on full-size random-weight models, on the CPU (minutes: musicgen-small and an
    InternVL3-1B-sized describer are built, saved and loaded through vmb's loaders)."""
    out = tmp_path / "gpu_check.json"
    done = run_check("--device", "cpu", "--seconds", "1", "--frames", "1", "--max-new-tokens", "4",
                     "--out", str(out), timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    (musicgen,) = report["musicgen"]
    assert musicgen["dtype"] == "float32" and musicgen["audio_ok"] and musicgen["audio_shape"] == [1, 32000]
    assert musicgen["decoder_steps"] == 50 and musicgen["vmb_generate_s"] > 0
    assert report["describer"]["device"] == "cpu" and report["describer"]["describe_s"] > 0
    assert report["faiss"]["cpu_search_s"] > 0
