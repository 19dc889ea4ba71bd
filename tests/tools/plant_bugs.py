"""Plant known bugs one at a time and check that the default-run tests catch each (issue 20).

Each mutant is one small edit of the production code: the bugs a reviewer planted in issue 20
and a few bugs against later promises (cuts on beats, sections that follow scene changes,
MusicGen's per-section texts, the web app's cue box, the loopback-only Ray runtime). For each, the
script copies ``vmb/`` into a temporary folder (beside links to the checkout's ``configs/``
and other folders), applies the edit there (never in the working
tree), puts that folder first on ``PYTHONPATH`` (with ``PYTHONSAFEPATH=1`` so neither pytest nor
the subprocesses the tests start put the working tree's ``vmb`` in front of it) and runs the
named tests with ``-m "not slow" -x``. A mutant is *caught* when those tests fail, *survived*
when they pass.

    python tests/tools/plant_bugs.py                 # every mutant (about 6 min on 2 cores)
    python tests/tools/plant_bugs.py faststart int8  # the mutants whose id contains a word
    python tests/tools/plant_bugs.py --list          # ids, edits and tests, nothing run
    python tests/tools/plant_bugs.py --baseline ...  # first run each selection on an unmutated copy

Exits 1 when a mutant survives or a baseline fails. This file is not collected by pytest (its
name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTEST = ["-m", "pytest", "-m", "not slow", "-q", "-x", "-p", "no:cacheprovider", "-rfE"]

_PLANTED = "\n\ndef _planted_unsafe_form(f, s, p, flag):  # planted by tests/tools/plant_bugs.py\n"


@dataclasses.dataclass(frozen=True)
class Mutant:
    id: str
    bug: str
    file: str  # relative to vmb/
    old: str  # must occur exactly once; "" appends ``new`` to the file
    new: str
    tests: tuple[str, ...]  # pytest arguments (paths, node ids, -k expressions)


def _unsafe(id_: str, bug: str, body: str) -> Mutant:
    return Mutant(id_, bug, "hub.py", "", _PLANTED + body,
                  ("tests/reliability/test_safe_loading.py", "-k", "package_has_no"))


TIMELINE = "tests/generate/builtin/test_timeline_music.py"

MUTANTS = (
    # -- issue 20 ---------------------------------------------------------------------------------
    Mutant("faststart", "a faststart mp4 cut in half is accepted by describe/retrieve (no end check)",
           "media/video.py",
           'check_complete(container, video_stream(container, path), path, duration, "video")', "pass",
           ("tests/reliability/test_bad_input_matrix.py", "-k", "truncated-faststart")),
    Mutant("length-floor", "built-in length rounded down instead of rounded",
           "generate/builtin/render.py", "else round(length_s * sr)", "else int(length_s * sr)",
           ("tests/generate/builtin/test_builtin_generator.py",)),
    Mutant("int8-as-fp16", "the decoder quantized to float16 instead of int8",
           "generate/musicgen/quantize.py", "else quantization.per_channel_dynamic_qconfig",
           "else quantization.float16_dynamic_qconfig", ("tests/generate/test_musicgen_quantize.py",)),
    Mutant("int8-metrics-self", "the int8 quality metrics compare a tensor with itself",
           "generate/musicgen/quantize.py", "cand = candidate.float().reshape(-1, candidate.shape[-1])",
           "cand = reference.float().reshape(-1, reference.shape[-1])",
           ("tests/generate/test_musicgen_quantize.py",)),
    Mutant("tempo-60-160", "the built-in tempo clamped to 60-160 BPM", "generate/builtin/blend.py",
           "tempo_bpm=float(min(max(tempo, MIN_BPM), MAX_BPM)),", "tempo_bpm=float(min(max(tempo, 60.0), 160.0)),",
           ("tests/generate/builtin/test_builtin_release.py", "-k", "explicit_bpm")),
    Mutant("keep-audio-ignored", "--keep-audio ignored when the video is written", "outputs.py",
           "keep_original_audio=keep_original_audio)", "keep_original_audio=False)",
           ("tests/cli/test_cli_generate.py", "-k", "keep_audio")),
    Mutant("targeted-empty", "the targeted track selects an empty partition (no targeted hit)",
           "retrieve/search.py", "Selector(self.index.partition(wants), len(self.index))",
           "Selector(self.index.partition(wants)[:0], len(self.index))",
           ("tests/cli/test_cli_generate.py", "tests/cli/test_cli_index_retrieve.py", "-k", "targeted")),
    Mutant("targeted-unfiltered", "the targeted track searches the whole index, not the wanted partition",
           "retrieve/search.py", 'targeted = self._top(target_q, space, k_targeted, taken, ids, "targeted")',
           'targeted = self._top(target_q, space, k_targeted, taken, None, "targeted")',
           ("tests/cli/test_cli_generate.py", "tests/retrieve/test_retrieve_search.py", "-k", "targeted")),
    _unsafe("unsafe-torch-alias", "safe-loading scan misses `import torch as T; T.load`",
            "    import torch as T\n    return T.load(f)\n"),
    _unsafe("unsafe-from-torch", "safe-loading scan misses `from torch import load`",
            "    from torch import load\n    return load(f)\n"),
    _unsafe("unsafe-from-yaml", "safe-loading scan misses `from yaml import load`",
            "    from yaml import load\n    return load(s)\n"),
    _unsafe("unsafe-run-variable", "safe-loading scan misses `from subprocess import run` with a command in a variable",
            "    from subprocess import run\n    command = 'ffmpeg -i ' + p\n    return run(command)\n"),
    _unsafe("unsafe-builtins-eval", "safe-loading scan misses `builtins.eval`",
            "    import builtins\n    return builtins.eval(s)\n"),
    _unsafe("unsafe-shell-flag", "safe-loading scan misses `shell=flag`",
            "    import subprocess\n    return subprocess.run(['ls', p], shell=flag)\n"),
    Mutant("memory-leak", "README figure: each Pipeline call keeps 1.5 MB (memory growth > 50 MB / 50 calls)",
           "pipeline.py", "        return self.generate(prepared, seed=seed,",
           "        __import__('builtins').__dict__.setdefault('_vmb_planted_leak', []).append(b'x' * (3 << 19))\n"
           "        return self.generate(prepared, seed=seed,",
           ("tests/reliability/test_memory_growth.py",)),
    Mutant("memory-keeps-results", "README figure: the Pipeline keeps every result it returns",
           "pipeline.py",
           "        return self.generate(prepared, seed=seed, midi_path=midi_path, progress=progress, "
           "stems_dir=stems_dir,\n                             loop=loop)",
           "        result = self.generate(prepared, seed=seed, midi_path=midi_path, progress=progress, "
           "stems_dir=stems_dir, loop=loop)\n"
           "        __import__('builtins').__dict__.setdefault('_vmb_planted_leak', []).append(result)\n"
           "        return result",
           ("tests/reliability/test_memory_growth.py",)),
    Mutant("trainable-share", "README figure: the adapters' trainable share changes (5 reference tokens, not 4)",
           "generate/musicgen/adapters.py", "num_tokens: int = 4", "num_tokens: int = 5",
           ("tests/train/test_trainable_share.py",)),
    # -- later promises -------------------------------------------------------------------------
    Mutant("beats-phase-0", "cuts on beats: the downbeat phase search always gives 0 (no pickup)",
           "generate/builtin/timing.py", "_, chosen, offset = best", "_, chosen, offset = best[0], best[1], 0.0",
           (TIMELINE,)),
    Mutant("beats-tempo-kept", "cuts on beats: the tempo search keeps the described tempo",
           "generate/builtin/timing.py", "    if free:\n        span", "    if False:\n        span", (TIMELINE,)),
    Mutant("key-a-tone-off", "the built-in music is written a whole tone above the asked key",
           "generate/builtin/composer.py", "self.tonic = plan.tonic", "self.tonic = (plan.tonic + 2) % 12",
           ("tests/generate/builtin/test_builtin_control.py", "-k", "librosa_hears_the_asked_key")),
    Mutant("typed-bpm-moves", "a typed BPM is moved to fit the cuts (the tempo is always free)",
           "generate/builtin/form.py", 'return not description.is_stated("tempo_bpm")',
           "return True", (TIMELINE,)),
    Mutant("sections-ignored", "sections: the description's sections are ignored (automatic form)",
           "generate/builtin/form.py", 'if not d.sections or d.sync == "off":', "if True:",
           (TIMELINE, "tests/generate/builtin/test_builtin_release.py", "-k", "not explicit_bpm")),
    Mutant("sections-bar-late", "sections: each section after the first starts a bar after its scene change",
           "generate/builtin/scoring.py", "b = 0 if i == 0 else round(self.tempo_map.beat_at(p.start_s))",
           "b = 0 if i == 0 else round(self.tempo_map.beat_at(p.start_s)) + BEATS_PER_BAR", (TIMELINE,)),
    Mutant("sections-energy-flat", "sections: every section plays at the piece's energy, not its own",
           "generate/builtin/scoring.py", "e = float(p.energy if p.energy is not None else self.plan.energy)",
           "e = float(self.plan.energy)", (TIMELINE,)),
    Mutant("musicgen-global-text", "MusicGen: every section window gets the global text",
           "generate/musicgen/longform.py",
           "texts = tuple(section_text(description, i, bridges.wants) for i, _ in starts)",
           "texts = tuple(bridges.text for i, _ in starts)", ("tests/generate/test_musicgen_sections.py",)),
    Mutant("ui-cue-dropped", "web app: the cue box drops its last cue", "ui/state.py",
           "return tuple(parse_cues(cues, vocab=vocab))", "return tuple(parse_cues(cues[:-1], vocab=vocab))",
           ("tests/ui/test_state_and_uploads.py", "-k", "cue")),
    Mutant("pcm16-scale", "integer PCM read: 16-bit samples scaled by 2^-16 (half the level libsndfile gives)",
           "media/audio.py", '"PCM_16": ("int16", 2.0**-15),', '"PCM_16": ("int16", 2.0**-16),',
           ("tests/media/test_media_audio.py", "-k", "integer_pcm")),
    Mutant("loudness-no-relative-gate", "mastering meter: the -10 LU relative gate is skipped",
           "generate/builtin/mastering.py",
           "gated = (block_lufs > relative_gate) & (block_lufs > ABSOLUTE_GATE_LUFS)",
           "gated = block_lufs > ABSOLUTE_GATE_LUFS", ("tests/generate/builtin/test_mastering_filters.py",)),
    Mutant("two-pass-bias-twice", "int8 two-pass Linear: the bias the kernel adds to both passes is kept twice",
           "generate/musicgen/quantize.py", "y.sub_(self._bias, alpha=1 / gain)", "pass",
           ("tests/generate/test_musicgen_quantize.py", "-k", "two_pass")),
    Mutant("eval-cache-ignores-mtime", "eval cache: a rewritten file of the same size is taken from the cache",
           "eval/cache.py", 'self._files[name] = (folder, f"{st.st_size}|{st.st_mtime_ns}|{resolved}")',
           'self._files[name] = (folder, f"{st.st_size}|{resolved}")',
           ("tests/eval/test_cache.py", "-k", "changed_file")),
    Mutant("ray-not-loopback", "a local Ray runtime listens on the network (loopback switch skipped)",
           "engines/runtime.py", '    os.environ[LOOPBACK_SWITCH] = "0"\n    ray_constants.ENABLE_RAY_CLUSTER = False\n',
           "", ("tests/engines/test_engines_build.py", "-k", "loopback")),
    Mutant("fused-qkv-order", "int8 fused q/k/v: keys and values taken in the wrong order from the fused output",
           "generate/musicgen/decoder.py",
           "query, keys, values = _heads(self_attn, *fused(x).chunk(3, dim=-1))",
           "query, values, keys = _heads(self_attn, *fused(x).chunk(3, dim=-1))",
           ("tests/generate/test_musicgen_quantize.py", "-k", "fused")),
    Mutant("null-row-not-zero", "cross-attention of the null guidance row left uninitialised instead of zero",
           "generate/musicgen/decoder.py", "out = query.new_zeros(query.shape)",
           "out = query.new_empty(query.shape).fill_(0.5)",
           ("tests/generate/test_musicgen_generate.py", "-k", "equals_transformers_generate")),
    Mutant("shared-parameters-no-defaults", "same_parameters: the template's defaults are not filled in",
           "signatures.py", "            bound.apply_defaults()\n", "",
           ("tests/core/test_signatures.py",)),
)

# The same bugs, run against only the tests that measure the rendered output (audio, the muxed
# video, the CLI's exit): the promise is caught on what users get, not only by a unit test.
ON_OUTPUT = {
    "faststart": ("tests/reliability/test_bad_input_matrix.py", "-k", "retrieve/video/truncated-faststart"),
    "tempo-60-160": ("tests/generate/builtin/test_builtin_release.py", "-k", "explicit_bpm_is_heard"),
    "beats-phase-0": (TIMELINE, "-k", "land_on_the_beats_of_the_output"),
    "beats-tempo-kept": (TIMELINE, "-k", "land_on_the_beats_of_the_output"),
    "typed-bpm-moves": (TIMELINE, "-k", "typed_bpm_is_kept_exactly"),
    "sections-ignored": (TIMELINE, "-k", "still_to_action or loudness_follows"),
    "sections-energy-flat": (TIMELINE, "-k", "still_to_action or loudness_follows"),
    "musicgen-global-text": ("tests/generate/test_musicgen_sections.py", "-k", "generation_follows_the_sections"),
}
MUTANTS = MUTANTS + tuple(
    dataclasses.replace(m, id=f"{m.id}@output", tests=ON_OUTPUT[m.id]) for m in MUTANTS if m.id in ON_OUTPUT
)

THEIRS: dict[str, str] = {}  # bugs planted elsewhere (none left: the librosa key test is in the default run)


def copy_package(parent: Path) -> Path:
    """A copy of ``vmb/`` in ``parent``, beside links to the checkout's other top-level folders
    (``configs/`` is found next to the package)."""
    shutil.copytree(ROOT / "vmb", parent / "vmb", ignore=shutil.ignore_patterns("__pycache__"))
    for entry in ROOT.iterdir():
        if entry.name not in ("vmb", ".git"):
            (parent / entry.name).symlink_to(entry)
    return parent


def plant(mutant: Mutant, package: Path) -> None:
    """Apply ``mutant`` to the copy of vmb at ``package``; raises if the edit no longer applies."""
    path = package / mutant.file
    text = path.read_text(encoding="utf-8")
    if mutant.old == "":
        path.write_text(text + mutant.new, encoding="utf-8")
        return
    count = text.count(mutant.old)
    if count != 1:
        raise SystemExit(f"{mutant.id}: the text to replace occurs {count} times in vmb/{mutant.file} "
                         "(the code moved on: update the mutant)")
    path.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")


def run_tests(tests: tuple[str, ...], package_parent: Path | None, timeout: float) -> tuple[int, str, float]:
    env = dict(os.environ)
    first = [str(package_parent)] if package_parent else []
    env["PYTHONPATH"] = os.pathsep.join(first + [str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["PYTHONSAFEPATH"] = "1"  # no cwd in front of PYTHONPATH, here and in the tests' subprocesses
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    start = time.monotonic()
    try:
        done = subprocess.run([sys.executable, *PYTEST, *tests], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return -1, str(exc.stdout or "")[-3000:], time.monotonic() - start
    return done.returncode, done.stdout + done.stderr, time.monotonic() - start


def first_failure(output: str) -> str:
    """The first failing test's node id, and the first line of its error."""
    for line in output.splitlines():
        match = re.match(r"(FAILED|ERROR) (\S+)", line)
        if match:
            reason = next((x[1:].strip() for x in output.splitlines() if x.startswith("E ")), "")
            return f"{match.group(2)} ({reason[:140]})" if reason else match.group(2)
    return ""


def check_loaded(package_parent: Path) -> None:
    """The tests import the mutated copy, not the working tree's vmb."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(package_parent), str(ROOT)]), PYTHONSAFEPATH="1")
    out = subprocess.run([sys.executable, "-c", "import vmb; print(vmb.__file__)"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    if not out.startswith(str(package_parent)):
        raise SystemExit(f"the mutated copy is not the vmb that loads ({out})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("select", nargs="*", help="run only mutants whose id contains one of these")
    parser.add_argument("--list", action="store_true", help="list the mutants and their tests")
    parser.add_argument("--baseline", action="store_true", help="first run each mutant's tests on an unmutated copy")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per test run")
    args = parser.parse_args()

    chosen = [m for m in MUTANTS if not args.select or any(s in m.id for s in args.select)]
    if args.list:
        for m in chosen:
            print(f"{m.id:22} vmb/{m.file}: {m.bug}\n{'':22} tests: {' '.join(m.tests)}")
        return 0
    rows, bad = [], 0
    with tempfile.TemporaryDirectory(prefix="vmb-mutants-") as tmp:
        for m in chosen:
            parent = copy_package(Path(tmp) / m.id)
            plant(m, parent / "vmb")
            check_loaded(parent)
            if args.baseline:
                rc, out, _ = run_tests(m.tests, copy_package(Path(tmp) / "baseline"), args.timeout)
                shutil.rmtree(Path(tmp) / "baseline")
                if rc != 0:
                    print(f"{m.id}: BASELINE FAILS (rc {rc}) {first_failure(out)}\n{out[-2000:]}", flush=True)
                    rows.append((m, "baseline fails", first_failure(out), 0.0))
                    bad += 1
                    continue
            rc, out, seconds = run_tests(m.tests, parent, args.timeout)
            verdict = {0: "SURVIVED", 1: "caught"}.get(rc, f"error (rc {rc})")
            if rc == 5:
                verdict = "no tests ran"
            elif rc == 0 and re.search(r"\d+ skipped", out):
                verdict = "SURVIVED (tests skipped)"
            bad += verdict != "caught"
            rows.append((m, verdict, first_failure(out), seconds))
            print(f"{m.id:22} {verdict:10} {seconds:6.0f} s  {first_failure(out)}", flush=True)
            if not verdict.startswith(("caught", "SURVIVED")):
                print(out[-2000:], flush=True)
            shutil.rmtree(parent)
    print("\n| mutant | planted bug | result | caught by |\n|---|---|---|---|")
    for m, verdict, failed, _ in rows:
        print(f"| `{m.id}` | {m.bug} | {verdict} | `{failed}` |" if failed else f"| `{m.id}` | {m.bug} | {verdict} | |")
    for bug, owner in THEIRS.items():
        print(f"| | {bug} | not planted here | {owner} |")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
