"""Hostile media inputs, through the real ``vmb`` command in a process with a time limit:
special files (FIFOs, devices) never hang, a header that lies about the length does not set
the length, a 3-hour reference is not decoded whole, names that look like FFmpeg protocols are
read as files, and names with control characters or undecodable bytes give one safe line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vmb.testing import make_video

TIME_LIMIT_S = 120


def vmb(*args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from vmb.cli import main; main()", *map(os.fsencode, map(str, args))],
        capture_output=True, timeout=TIME_LIMIT_S, check=False, cwd=cwd, stdin=subprocess.PIPE,
    )


_PEAK_RSS = (
    "import resource\n"
    "from vmb.cli import main\n"
    "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
)


def vmb_with_peak_rss(*args) -> tuple[subprocess.CompletedProcess, float]:
    """``vmb <args>`` in a process that prints its peak RSS (MB) last; the process and the peak."""
    proc = subprocess.run([sys.executable, "-c", _PEAK_RSS, *map(str, args)],
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    lines = proc.stdout.strip().splitlines()
    return proc, float(lines[-1]) if proc.returncode == 0 and lines else float("nan")


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    stderr = proc.stderr.decode("utf-8")  # must decode: vmb prints only UTF-8
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert proc.returncode == 1, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr and "\x1b" not in stderr
    return lines[0]


def lying_mkv(path: Path) -> Path:
    """A 2 s Matroska video whose segment header claims 2,400,000 ms (40 minutes)."""
    import struct

    make_video(path.with_suffix(".tmp.mkv"), seconds=2.0, size=(64, 48))
    data = bytearray(path.with_suffix(".tmp.mkv").read_bytes())
    path.with_suffix(".tmp.mkv").unlink()
    i = data.find(bytes([0x44, 0x89]))  # the Duration element of the segment info
    width = data[i + 2] & 0x7F
    data[i + 3 : i + 3 + width] = struct.pack(">d" if width == 8 else ">f", 2_400_000.0)
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile media")
    fifo = folder / "pipe.mp4"
    os.mkfifo(fifo)
    long_ref = folder / "three hours.flac"
    sr = 8000
    with sf.SoundFile(long_ref, "w", sr, 1, format="FLAC") as f:
        block = np.zeros(sr * 600, dtype=np.float32)
        block[:sr] = 0.1 * np.sin(np.arange(sr) * 2 * np.pi * 440 / sr)
        for _ in range(18):
            f.write(block)
    return {"fifo": fifo, "lying": lying_mkv(folder / "claims forty minutes.mkv"), "long_ref": long_ref}


@pytest.mark.parametrize(
    "args",
    [
        ("probe", "{fifo}"),
        ("describe", "--video", "{fifo}"),
        ("describe", "--image", "{fifo}"),
        ("retrieve", "--reference", "{fifo}", "--index", "{index}"),
        ("retrieve", "--reference", "/dev/zero", "--index", "{index}"),
        ("generate", "--reference", "/dev/zero", "--profile", "builtin", "--index", "{index}", "--out", "{out}"),
        ("generate", "--video", "{fifo}", "--profile", "builtin", "--index", "{index}", "--out", "{out}"),
    ],
    ids=lambda a: " ".join(a[:3]),
)
def test_a_pipe_or_device_is_refused_at_once(args, media, small_index, tmp_path):
    values = {"fifo": media["fifo"], "index": small_index, "out": tmp_path / "out"}
    line = one_error_line(vmb(*(a.format(**values) for a in args)))
    assert "not a regular file" in line, line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_header_claiming_forty_minutes_does_not_set_the_length(media, small_index, tmp_path):
    probe = vmb("probe", media["lying"], "--json")
    assert probe.returncode == 0, probe.stderr
    assert abs(json.loads(probe.stdout)["duration_s"] - 2.0) < 0.1
    out = tmp_path / "out"
    proc = vmb("generate", "--video", media["lying"], "--profile", "builtin", "--index", small_index, "--out", out)
    assert proc.returncode == 0, proc.stderr
    (wav,) = out.glob("*.vmb.wav")
    assert abs(sf.info(wav).duration - 2.0) < 0.05


def test_a_three_hour_reference_is_not_decoded_whole(media, small_index, tmp_path):
    """3 h at 8 kHz is 86 M samples (345 MB as float32, more once resampled): only the analysed
    window may be decoded."""
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(8000 * 30, dtype=np.float32) + 0.01, 8000)

    def peak_rss_mb(ref: Path) -> float:
        proc, peak = vmb_with_peak_rss("retrieve", "--reference", ref, "--index", small_index, "--json")
        assert proc.returncode == 0, proc.stderr
        return peak

    grown = peak_rss_mb(media["long_ref"]) - peak_rss_mb(short)
    assert grown < 100, f"a 3-hour reference costs {grown:.0f} MB more than a 30 s one"


@pytest.mark.parametrize("name", ["concat:a.mp4|b.mp4", "pipe:0.mp4", "file:x.mp4", "subfile,,start,0,end,10,,:x.mp4"])
def test_names_that_look_like_ffmpeg_protocols_are_files(name, tmp_path):
    make_video(tmp_path / name, seconds=1.5, size=(64, 48))
    proc = vmb("probe", name, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert abs(json.loads(proc.stdout)["duration_s"] - 1.5) < 0.1


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (b"line\nbreak.mp4", "line\\nbreak.mp4"),
        (b"red \x1b[31mALERT\x1b[0m.mp4", "red \\x1b[31mALERT\\x1b[0m.mp4"),
        (b"latin1 caf\xe9.mp4", "latin1 caf\\xe9.mp4"),
        (b"rtl \xe2\x80\xaeevil.mp4", "rtl \\u202eevil.mp4"),
    ],
)
def test_names_with_control_characters_or_bad_bytes_give_one_safe_line(name, shown, tmp_path):
    path = os.path.join(os.fsencode(tmp_path), name)
    with open(path, "wb") as f:
        f.write(b"this is not a video\n" * 10)
    line = one_error_line(vmb("describe", "--video", os.fsdecode(path)))
    assert shown in line and "not a media file" in line, line
    missing = one_error_line(vmb("probe", os.fsdecode(path) + "-missing"))
    assert "file not found" in missing


def test_text_with_control_characters_and_bad_bytes(tmp_path):
    proc = vmb("describe", "--text", os.fsdecode(b"calm piano \xff\x1b[2J at 70 bpm\nin D minor"), "--json")
    assert proc.returncode == 0, proc.stderr
    description = json.loads(proc.stdout)
    assert description["tempo_bpm"] == 70 and description["mode"] == "minor"
    assert "\x1b" not in proc.stdout.decode("utf-8")


def test_a_three_hour_track_in_an_index_source_is_indexed_in_bounded_memory(media, tmp_path):
    """Only the first 30 minutes of a source track are decoded (vmb.retrieve.build.MAX_TRACK_S)."""
    folder = tmp_path / "library"
    folder.mkdir()
    os.symlink(media["long_ref"], folder / "three hours.flac")
    proc, peak = vmb_with_peak_rss("index", "build", folder, "--out", tmp_path / "index", "--encoder", "builtin",
                                   "--segment-s", "600", "--hop-s", "600", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout[: proc.stdout.rindex("}") + 1])
    assert info["count"] == 3  # 1800 s in 600 s clips, not 18
    assert "only the first 1800 s are indexed" in proc.stderr
    # the README's bound: no input makes vmb use more than ~2 GB (the analysis of 600 s clips
    # dominates; decoding stops at 1800 s, which the count above shows)
    assert peak < 2000
