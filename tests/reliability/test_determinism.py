"""Same inputs and seed, bit-identical built-in output: across processes with different hash
seeds, and whether the soundfont levels are measured fresh or read from the on-disk cache.

(In one process, seeded reproducibility is tested in tests/generate/builtin/test_builtin_generator.py and
tests/e2e/test_pipeline_api.py; neural CPU output in tests/generate/test_musicgen_generate.py.)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from typer.testing import CliRunner

from vmb.cli import app


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.suffix in (".wav", ".mid", ".mp4")}


def test_builtin_output_is_bit_identical_across_processes(inputs, small_index, tmp_path):
    args = ["generate", "--video", str(inputs["vfr_mp4"]), "--text", "calm piano", "--want", "tempo=slow",
            "--profile", "builtin", "--index", str(small_index), "--duration", "2", "--seed", "7", "--midi"]
    here = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "here")])
    assert here.exit_code == 0, here.output

    env = dict(os.environ, PYTHONHASHSEED="12345", VMB_HOME=str(tmp_path / "fresh home"))
    proc = subprocess.run(
        [sys.executable, "-c", "from vmb.cli import main; main()", *args, "--out", str(tmp_path / "there")],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "fresh home" / "cache" / "soundfont_levels.json").is_file(), (
        "the fresh process did not measure the soundfont"
    )

    here_files, there_files = _digests(tmp_path / "here"), _digests(tmp_path / "there")
    assert set(here_files) == {"variable rate.vmb.wav", "variable rate.vmb.mid", "variable rate.vmb.mp4"}
    assert here_files["variable rate.vmb.wav"] == there_files["variable rate.vmb.wav"]
    assert here_files["variable rate.vmb.mid"] == there_files["variable rate.vmb.mid"]
