"""The bad-input matrix: every CLI command x every input slot x every kind of bad (or merely odd)
input, through the real ``vmb`` Typer app.

A bad input must give exactly one stderr line ``error: <file or value>: <reason>``, exit status 1
(2 for usage errors), no traceback, and leave no file behind. An odd but valid input (one-frame,
portrait or variable-frame-rate video, a 6000x4000 or grayscale/RGBA/CMYK image, silent audio,
unicode and spaces in every path) must work.

Every path of the matrix lives in a folder named ``vidéos et sons ü`` (unicode + spaces). An
unwritable output folder is made as a path *under a regular file*: the tests run as root, for whom
``chmod`` does not block writes, and a path under a file cannot be created by anyone.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vmb.cli import app

runner = CliRunner()
G = ("--profile", "builtin", "--index", "{index}", "--duration", "1")  # generate's fast settings


@dataclass(frozen=True)
class Bad:
    """``vmb <args>`` must fail with ``code`` and one line naming ``names`` and matching ``reason``."""

    args: tuple[str, ...]
    names: str
    reason: str
    code: int = 1


def bad(*args: str, names: str, reason: str, code: int = 1) -> Bad:
    return Bad(tuple(args), names, reason, code)


# command / slot / case -> expectation. "{x}" is an input of the ``inputs`` fixture (or index,
# tampered, library, out, blocked); ``names`` is formatted the same way.
BAD = {
    # probe PATH
    "probe/path/missing": bad("probe", "{missing_mp4}", names="{missing_mp4}", reason="file not found"),
    "probe/path/empty": bad("probe", "{empty_mp4}", names="{empty_mp4}", reason="file is empty"),
    "probe/path/truncated-mp4": bad("probe", "{truncated_mp4}", names="{truncated_mp4}", reason="corrupt, truncated"),
    "probe/path/truncated-faststart-mp4": bad("probe", "{faststart_mp4}", names="{faststart_mp4}", reason="corrupt or truncated video: data ends at"),
    "probe/path/truncated-png": bad("probe", "{truncated_png}", names="{truncated_png}", reason="truncated image"),
    "probe/path/truncated-wav": bad("probe", "{truncated_wav}", names="{truncated_wav}", reason="truncated audio"),
    "probe/path/text-as-mp4": bad("probe", "{text_mp4}", names="{text_mp4}", reason=r"not a media file \(looks like text\)"),
    "probe/path/text-as-jpg": bad("probe", "{text_jpg}", names="{text_jpg}", reason=r"not a media file"),
    "probe/path/wav-header-claims-gigabytes": bad("probe", "{giant_wav}", names="{giant_wav}", reason=r"header claims .* s, the file holds 0\.10 s"),
    # describe --video / --image / --config / --frames
    "describe/video/missing": bad("describe", "--video", "{missing_mp4}", names="{missing_mp4}", reason="file not found"),
    "describe/video/empty": bad("describe", "--video", "{empty_mp4}", names="{empty_mp4}", reason="file is empty"),
    "describe/video/truncated": bad("describe", "--video", "{truncated_mp4}", names="{truncated_mp4}", reason="corrupt, truncated"),
    "describe/video/truncated-faststart": bad("describe", "--video", "{faststart_mp4}", names="{faststart_mp4}", reason="corrupt or truncated video: data ends at"),
    "describe/video/text-as-mp4": bad("describe", "--video", "{text_mp4}", names="{text_mp4}", reason="not a media file"),
    "describe/video/audio-only-mp4": bad("describe", "--video", "{audio_only_mp4}", names="{audio_only_mp4}", reason="no video stream"),
    "describe/image/missing": bad("describe", "--image", "{missing_png}", names="{missing_png}", reason="file not found"),
    "describe/image/empty": bad("describe", "--image", "{empty_png}", names="{empty_png}", reason="file is empty"),
    "describe/image/truncated": bad("describe", "--image", "{truncated_png}", names="{truncated_png}", reason="truncated image"),
    "describe/image/text-as-jpg": bad("describe", "--image", "{text_jpg}", names="{text_jpg}", reason="not a media file"),
    "describe/image/video-given-as-image": bad("describe", "--image", "{good_mp4}", names="{good_mp4}", reason="image"),
    "describe/config/missing": bad("describe", "--text", "calm", "--config", "{missing_yaml}", names="{missing_yaml}", reason="config file not found"),
    "describe/config/typo": bad("describe", "--text", "calm", "--config", "{typo_yaml}", names="{typo_yaml}", reason="unknown config key 'generator.duraton_s'"),
    "describe/config/not-yaml": bad("describe", "--text", "calm", "--config", "{broken_yaml}", names="{broken_yaml}", reason="not valid YAML"),
    "describe/set/typo": bad("describe", "--text", "calm", "--set", "describer.num_frame=3", names="describer.num_frame", reason="unknown config key"),
    "describe/frames/zero": bad("describe", "--video", "{good_mp4}", "--frames", "0", names="--frames 0", reason="at least 1", code=2),
    "describe/inputs/none": bad("describe", names="vmb describe", reason="give at least one of", code=2),
    # retrieve --reference / --index / --video / --image / --want / --config / -k
    "retrieve/reference/missing": bad("retrieve", "--reference", "{missing_wav}", "--index", "{index}", names="{missing_wav}", reason="file not found"),
    "retrieve/reference/empty": bad("retrieve", "--reference", "{empty_wav}", "--index", "{index}", names="{empty_wav}", reason="file is empty"),
    "retrieve/reference/truncated": bad("retrieve", "--reference", "{truncated_wav}", "--index", "{index}", names="{truncated_wav}", reason="truncated audio"),
    "retrieve/reference/text-as-wav": bad("retrieve", "--reference", "{text_wav}", "--index", "{index}", names="{text_wav}", reason="not a media file"),
    "retrieve/reference/nan-samples": bad("retrieve", "--reference", "{nan_wav}", "--index", "{index}", names="{nan_wav}", reason="NaN or infinite samples"),
    "retrieve/reference/inf-samples": bad("retrieve", "--reference", "{inf_wav}", "--index", "{index}", names="{inf_wav}", reason="NaN or infinite samples"),
    "retrieve/reference/wav-header-claims-gigabytes": bad("retrieve", "--reference", "{giant_wav}", "--index", "{index}", names="{giant_wav}", reason="header claims"),
    "retrieve/index/missing": bad("retrieve", "--text", "calm", "--index", "{missing_yaml}", names="{missing_yaml}", reason="index not found"),
    "retrieve/index/a-file": bad("retrieve", "--text", "calm", "--index", "{text_mp4}", names="{text_mp4}", reason="not an index folder"),
    "retrieve/index/tampered": bad("retrieve", "--text", "calm", "--index", "{tampered}", names="{tampered}/index.faiss", reason="checksum does not match"),
    "retrieve/video/audio-only-mp4": bad("retrieve", "--video", "{audio_only_mp4}", "--index", "{index}", names="{audio_only_mp4}", reason="no video stream"),
    "retrieve/video/missing": bad("retrieve", "--video", "{missing_mp4}", "--index", "{index}", names="{missing_mp4}", reason="file not found"),
    "retrieve/video/empty": bad("retrieve", "--video", "{empty_mp4}", "--index", "{index}", names="{empty_mp4}", reason="file is empty"),
    "retrieve/video/truncated": bad("retrieve", "--video", "{truncated_mp4}", "--index", "{index}", names="{truncated_mp4}", reason="corrupt, truncated"),
    "retrieve/video/truncated-faststart": bad("retrieve", "--video", "{faststart_mp4}", "--index", "{index}", names="{faststart_mp4}", reason="corrupt or truncated video: data ends at"),
    "retrieve/video/text-as-mp4": bad("retrieve", "--video", "{text_mp4}", "--index", "{index}", names="{text_mp4}", reason="not a media file"),
    "retrieve/image/missing": bad("retrieve", "--image", "{missing_png}", "--index", "{index}", names="{missing_png}", reason="file not found"),
    "retrieve/image/empty": bad("retrieve", "--image", "{empty_png}", "--index", "{index}", names="{empty_png}", reason="file is empty"),
    "retrieve/image/text-as-jpg": bad("retrieve", "--image", "{text_jpg}", "--index", "{index}", names="{text_jpg}", reason="not a media file"),
    "retrieve/image/video-given-as-image": bad("retrieve", "--image", "{good_mp4}", "--index", "{index}", names="{good_mp4}", reason="image"),
    "retrieve/image/truncated": bad("retrieve", "--image", "{truncated_png}", "--index", "{index}", names="{truncated_png}", reason="truncated image"),
    "retrieve/want/unknown-key": bad("retrieve", "--text", "calm", "--index", "{index}", "--want", "colour=red", names="colour", reason="unknown key", code=2),
    "retrieve/want/unknown-value": bad("retrieve", "--text", "calm", "--index", "{index}", "--want", "tempo=ludicrous", names="tempo=ludicrous", reason="not a known tempo", code=2),
    "retrieve/want/no-equals": bad("retrieve", "--text", "calm", "--index", "{index}", "--want", "jazz", names="jazz", reason="expected key=value", code=2),
    "retrieve/config/typo": bad("retrieve", "--text", "calm", "--index", "{index}", "--config", "{typo_yaml}", names="{typo_yaml}", reason="unknown config key"),
    "retrieve/config/missing": bad("retrieve", "--text", "calm", "--index", "{index}", "--config", "{missing_yaml}", names="{missing_yaml}", reason="config file not found"),
    "retrieve/config/not-yaml": bad("retrieve", "--text", "calm", "--index", "{index}", "--config", "{broken_yaml}", names="{broken_yaml}", reason="not valid YAML"),
    "retrieve/k/zero": bad("retrieve", "--text", "calm", "--index", "{index}", "-k", "0", names="-k 0", reason="at least 1", code=2),
    # index build SOURCE / --out / --config / --segment-s
    "index-build/source/missing": bad("index", "build", "{missing_yaml}", "--out", "{out}/idx", "--encoder", "builtin", names="{missing_yaml}", reason="source not found"),
    "index-build/source/empty-file": bad("index", "build", "{empty_mp4}", "--out", "{out}/idx", "--encoder", "builtin", names="{empty_mp4}", reason="not a supported source"),
    "index-build/source/unknown-kind": bad("index", "build", "{unknown_source}", "--out", "{out}/idx", "--encoder", "builtin", names="{unknown_source}", reason="not a supported source"),
    "index-build/source/truncated-manifest": bad("index", "build", "{truncated_jsonl}", "--out", "{out}/idx", "--encoder", "builtin", names="{truncated_jsonl}", reason="line 1 is not valid JSON"),
    "index-build/source/nothing-usable": bad("index", "build", "{unusable_jsonl}", "--out", "{out}/idx", "--encoder", "builtin", names="{unusable_jsonl}", reason="no audio could be indexed: .*file not found"),
    "index-build/out/unwritable": bad("index", "build", "{library}", "--out", "{blocked}", "--encoder", "builtin", names="{blocked}", reason="cannot create the output folder"),
    "index-build/out/not-an-index-folder": bad("index", "build", "{library}", "--out", "{text_mp4}", "--encoder", "builtin", names="{text_mp4}", reason="not a folder"),
    "index-build/config/typo": bad("index", "build", "{library}", "--out", "{out}/idx", "--config", "{typo_yaml}", names="{typo_yaml}", reason="unknown config key"),
    "index-build/config/missing": bad("index", "build", "{library}", "--out", "{out}/idx", "--config", "{missing_yaml}", names="{missing_yaml}", reason="config file not found"),
    "index-build/config/not-yaml": bad("index", "build", "{library}", "--out", "{out}/idx", "--config", "{broken_yaml}", names="{broken_yaml}", reason="not valid YAML"),
    "index-build/segment/negative": bad("index", "build", "{library}", "--out", "{out}/idx", "--segment-s", "-1", names="--segment-s -1", reason="greater than 0", code=2),
    "index-build/encoder/unknown": bad("index", "build", "{library}", "--out", "{out}/idx", "--encoder", "mfcc", names="--encoder mfcc", reason="use clap or builtin", code=2),
    "index-info/path/tampered": bad("index", "info", "{tampered}", names="{tampered}/index.faiss", reason="checksum does not match"),
    # generate: every slot
    "generate/video/missing": bad("generate", "--video", "{missing_mp4}", *G, "--out", "{out}", names="{missing_mp4}", reason="file not found"),
    "generate/video/empty": bad("generate", "--video", "{empty_mp4}", *G, "--out", "{out}", names="{empty_mp4}", reason="file is empty"),
    "generate/video/truncated": bad("generate", "--video", "{truncated_mp4}", *G, "--out", "{out}", names="{truncated_mp4}", reason="corrupt, truncated"),
    "generate/video/truncated-faststart": bad("generate", "--video", "{faststart_mp4}", *G, "--out", "{out}", names="{faststart_mp4}", reason="corrupt or truncated video: data ends at"),
    "generate/video/text-as-mp4": bad("generate", "--video", "{text_mp4}", *G, "--out", "{out}", names="{text_mp4}", reason="not a media file"),
    "generate/video/audio-only-mp4": bad("generate", "--video", "{audio_only_mp4}", *G, "--out", "{out}", names="{audio_only_mp4}", reason="no video stream"),
    "generate/image/missing": bad("generate", "--image", "{missing_png}", *G, "--out", "{out}", names="{missing_png}", reason="file not found"),
    "generate/image/empty": bad("generate", "--image", "{empty_png}", *G, "--out", "{out}", names="{empty_png}", reason="file is empty"),
    "generate/image/video-given-as-image": bad("generate", "--image", "{good_mp4}", *G, "--out", "{out}", names="{good_mp4}", reason="image"),
    "generate/image/truncated": bad("generate", "--image", "{truncated_png}", *G, "--out", "{out}", names="{truncated_png}", reason="truncated image"),
    "generate/image/text-as-jpg": bad("generate", "--image", "{text_jpg}", *G, "--out", "{out}", names="{text_jpg}", reason="not a media file"),
    "generate/reference/missing": bad("generate", "--reference", "{missing_wav}", *G, "--out", "{out}", names="{missing_wav}", reason="file not found"),
    "generate/reference/text-as-wav": bad("generate", "--reference", "{text_wav}", *G, "--out", "{out}", names="{text_wav}", reason="not a media file"),
    "generate/reference/empty": bad("generate", "--reference", "{empty_wav}", *G, "--out", "{out}", names="{empty_wav}", reason="file is empty"),
    "generate/reference/truncated": bad("generate", "--reference", "{truncated_wav}", *G, "--out", "{out}", names="{truncated_wav}", reason="truncated audio"),
    "generate/reference/nan-samples": bad("generate", "--reference", "{nan_wav}", *G, "--out", "{out}", names="{nan_wav}", reason="NaN or infinite samples"),
    "generate/reference/inf-samples": bad("generate", "--reference", "{inf_wav}", *G, "--out", "{out}", names="{inf_wav}", reason="NaN or infinite samples"),
    "generate/reference/wav-header-claims-gigabytes": bad("generate", "--reference", "{giant_wav}", *G, "--out", "{out}", names="{giant_wav}", reason="header claims"),
    "generate/reference/video-file": bad("generate", "--reference", "{truncated_mp4}", *G, "--out", "{out}", names="{truncated_mp4}", reason="corrupt, truncated"),
    "generate/index/missing": bad("generate", "--text", "calm", "--profile", "builtin", "--index", "{missing_yaml}", "--out", "{out}", names="{missing_yaml}", reason="index not found"),
    "generate/index/tampered": bad("generate", "--text", "calm", "--profile", "builtin", "--index", "{tampered}", "--out", "{out}", names="{tampered}/index.faiss", reason="checksum does not match"),
    "generate/config/typo": bad("generate", "--text", "calm", "--index", "{index}", "--config", "{typo_yaml}", "--out", "{out}", names="{typo_yaml}", reason="unknown config key 'generator.duraton_s'"),
    "generate/config/not-yaml": bad("generate", "--text", "calm", "--index", "{index}", "--config", "{broken_yaml}", "--out", "{out}", names="{broken_yaml}", reason="not valid YAML"),
    "generate/set/typo": bad("generate", "--text", "calm", *G, "--set", "generator.tempreature=2", "--out", "{out}", names="generator.tempreature", reason="unknown config key"),
    "generate/want/unknown-key": bad("generate", "--text", "calm", *G, "--want", "colour=red", "--out", "{out}", names="colour", reason="unknown key", code=2),
    "generate/want/unknown-value": bad("generate", "--text", "calm", *G, "--want", "genre=polka", "--out", "{out}", names="polka", reason="not a known genre", code=2),
    "generate/duration/negative": bad("generate", "--text", "calm", "--profile", "builtin", "--index", "{index}", "--duration", "-3", "--out", "{out}", names="-3", reason="must be greater than 0", code=2),
    "generate/duration/zero": bad("generate", "--text", "calm", "--profile", "builtin", "--index", "{index}", "--duration", "0", "--out", "{out}", names="0", reason="must be greater than 0", code=2),
    "generate/duration/absurd": bad("generate", "--text", "calm", "--profile", "builtin", "--index", "{index}", "--duration", "1e9", "--out", "{out}", names="1000000000", reason="longer than the maximum", code=2),
    "generate/duration/nan": bad("generate", "--text", "calm", "--profile", "builtin", "--index", "{index}", "--duration", "nan", "--out", "{out}", names="nan", reason="expected a number of seconds", code=2),
    "generate/out/unwritable": bad("generate", "--text", "calm", *G, "--out", "{blocked}", names="{blocked}", reason="cannot create the output folder"),
    "generate/profile/unknown": bad("generate", "--text", "calm", "--profile", "fancy", "--index", "{index}", "--out", "{out}", names="fancy", reason="unknown profile"),
    # parse errors of the command line itself (click): one line too, exit 2
    "index-build/out/missing-required-option": bad("index", "build", "{library}", names="vmb index build", reason="Missing option '--out'", code=2),
    "probe/path/missing-argument": bad("probe", names="vmb probe", reason="Missing argument 'path'", code=2),
    "generate/duration/not-a-number": bad("generate", "--text", "calm", "--duration", "abc", "--out", "{out}", names="vmb generate", reason="Invalid value for '--duration'", code=2),
    "retrieve/option/unknown": bad("retrieve", "--text", "calm", "--colour", "red", names="vmb retrieve", reason="No such option: --colour", code=2),
    "generate/inputs/none": bad("generate", *G, "--out", "{out}", names="vmb generate", reason="give at least one of", code=2),
}

# Odd but valid inputs: ``vmb <args>`` must exit 0 (generate cases also write their wav).
GOOD = {
    "probe/path/audio-only-mp4": ("probe", "{audio_only_mp4}"),
    "probe/path/nan-samples": ("probe", "{nan_wav}"),
    "describe/video/one-frame": ("describe", "--video", "{one_frame_mp4}"),
    "describe/video/portrait": ("describe", "--video", "{portrait_mp4}"),
    "describe/video/variable-frame-rate": ("describe", "--video", "{vfr_mp4}"),
    "describe/image/6000x4000": ("describe", "--image", "{huge_jpg}"),
    "describe/image/grayscale": ("describe", "--image", "{gray_jpg}"),
    "describe/image/rgba": ("describe", "--image", "{rgba_png}"),
    "describe/image/cmyk": ("describe", "--image", "{cmyk_jpg}"),
    "retrieve/reference/silent": ("retrieve", "--reference", "{silent_wav}", "--index", "{index}"),
    "retrieve/video/portrait": ("retrieve", "--video", "{portrait_mp4}", "--index", "{index}"),
    "generate/video/one-frame": ("generate", "--video", "{one_frame_mp4}", *G, "--out", "{out}"),
    "generate/video/variable-frame-rate": ("generate", "--video", "{vfr_mp4}", *G, "--out", "{out}"),
    "generate/image/6000x4000-cmyk-rgba": ("generate", "--image", "{huge_jpg}", "--image", "{cmyk_jpg}", "--image", "{rgba_png}", *G, "--out", "{out}"),
    "generate/reference/silent": ("generate", "--reference", "{silent_wav}", *G, "--out", "{out}"),
}


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if not p.is_dir()}


@pytest.fixture
def fill(inputs, small_index, small_library, tampered_index, tmp_path):
    values = {name: str(path) for name, path in inputs.items()}
    values.update(
        index=str(small_index),
        tampered=str(tampered_index),
        library=str(small_library),
        out=str(tmp_path / "out ü"),
        blocked=str(inputs["blocker"] / "sub"),
    )
    return lambda text: text.format(**values)


@pytest.mark.parametrize("case", list(BAD.values()), ids=list(BAD))
def test_bad_input(case: Bad, fill, inputs, tmp_path):
    watched = [inputs["good_mp4"].parent, tmp_path]
    before = set().union(*(_files_under(f) for f in watched))
    result = runner.invoke(app, [fill(a) for a in case.args])

    assert result.exit_code == case.code, (result.exit_code, result.stderr, result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fill(case.names) in lines[0], lines[0]
    assert re.search(case.reason, lines[0]), lines[0]
    assert "Traceback" not in result.output
    assert set().union(*(_files_under(f) for f in watched)) == before, "a file was left behind"


@pytest.mark.parametrize("args", list(GOOD.values()), ids=list(GOOD))
def test_odd_but_valid_input_works(args, fill, tmp_path):
    result = runner.invoke(app, [fill(a) for a in args])
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "error:" not in result.stderr
    if args[0] == "generate":
        wavs = list((tmp_path / "out ü").glob("*.vmb.wav"))
        assert len(wavs) == 1 and wavs[0].stat().st_size > 1000


def test_debug_shows_the_traceback(fill):
    result = runner.invoke(app, ["--debug", "probe", fill("{empty_mp4}")])
    assert result.exit_code != 0
    from vmb.errors import MediaError

    assert isinstance(result.exception, MediaError)


def test_installed_command_one_line_error(fill):
    """One real process: the console entry point prints one line and exits 1, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-c", "from vmb.cli import main; main()", "probe", fill("{truncated_mp4}")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {fill('{truncated_mp4}')}: corrupt"), proc.stderr


def test_a_failure_while_saving_leaves_nothing(fill, inputs, monkeypatch, tmp_path):
    """The music, MIDI and WAV are written before the mp4: if muxing fails they are removed too."""
    import vmb.media
    from vmb.errors import MediaError

    def failing_mux(video, *args, **kwargs):
        raise MediaError(video, "simulated failure while muxing")

    monkeypatch.setattr(vmb.media, "mux", failing_mux)
    out = tmp_path / "out ü"
    result = runner.invoke(app, ["generate", "--video", fill("{one_frame_mp4}"), *map(fill, G), "--midi", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == f"error: {inputs['one_frame_mp4']}: simulated failure while muxing"
    assert out.is_dir() and sorted(p.name for p in out.iterdir()) == []
