"""Safe loading: nothing a user may have downloaded is unpickled, remote code runs only when asked,
manifest paths are resolved against the manifest's folder, no shell ever sees a user string."""

from __future__ import annotations

import ast
import json
import pickle
import shutil
from pathlib import Path

import pytest

import vmb
from vmb.errors import ModelUnavailable

PACKAGE = Path(vmb.__file__).resolve().parent
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "joblib", "cloudpickle", "marshal", "shelve"}
UNSAFE_CALLS = {
    "os.system", "os.popen", "os.execl", "os.execlp", "os.execv", "os.execvp", "os.spawnl",
    "os.spawnlp", "subprocess.getoutput", "subprocess.getstatusoutput", "yaml.load",
    "yaml.unsafe_load", "yaml.full_load", "pandas.read_pickle", "numpy.load_pickle",
    "builtins.eval", "builtins.exec", "builtins.compile", "eval", "exec",
}
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}
LIST_NODES = (ast.List, ast.Tuple, ast.ListComp)


def _dotted(node: ast.AST) -> tuple[str, ...]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    parts.append(node.id if isinstance(node, ast.Name) else "<expr>")  # model.to(d).eval() is no eval()
    return tuple(reversed(parts))


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> the dotted name it stands for (``import torch as T`` gives T -> torch,
    ``from yaml import load`` gives load -> yaml.load)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _list_variables(tree: ast.AST) -> set[str]:
    """Names that are only ever assigned a list/tuple literal (a command given as a list)."""
    lists, others = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    (lists if isinstance(node.value, LIST_NODES) else others).add(target.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            (lists if isinstance(node.value, LIST_NODES) else others).add(node.target.id)
    return lists - others


def unsafe_spots(source: str, filename: str) -> list[str]:
    """Every place in ``source`` that could unpickle, run remote code or hand a string to a shell.

    Names are resolved through the module's imports, so ``import torch as T; T.load(f)``,
    ``from yaml import load`` and ``builtins.eval`` are found as ``torch.load``, ``yaml.load``
    and ``eval``.
    """
    tree = ast.parse(source, filename)
    aliases = _aliases(tree)
    list_vars = _list_variables(tree)
    found = []
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where}: import {a.name}" for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            found.append(f"{where}: from {node.module} import")
        elif isinstance(node, ast.Call):
            raw = _dotted(node.func)
            name = tuple(aliases.get(raw[0], raw[0]).split(".")) + raw[1:]
            dotted = ".".join(name).replace("builtins.", "", 1) if name[0] == "builtins" else ".".join(name)
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            if dotted in UNSAFE_CALLS or ".".join(name) in UNSAFE_CALLS:
                found.append(f"{where}: {dotted}()")
            if name == ("torch", "load"):
                weights_only = keywords.get("weights_only")
                if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                    found.append(f"{where}: torch.load without weights_only=True")
            for key in ("trust_remote_code", "allow_pickle"):
                value = keywords.get(key)
                if isinstance(value, ast.Constant) and value.value is True:
                    found.append(f"{where}: {key}=True")
            shell = keywords.get("shell")
            if shell is not None and not (isinstance(shell, ast.Constant) and shell.value is False):
                found.append(f"{where}: shell={ast.unparse(shell)}")
            command = node.args[0] if node.args else keywords.get("args")
            if name[:1] == ("subprocess",) and name[-1] in SUBPROCESS_CALLS and not (
                isinstance(command, LIST_NODES) or (isinstance(command, ast.Name) and command.id in list_vars)
            ):
                found.append(f"{where}: subprocess.{name[-1]} with a command string")
    return found


def test_the_audit_finds_what_it_looks_for():
    source = (
        "import pickle, os, subprocess, torch, yaml, numpy as np\n"
        "torch.load(f)\ntorch.load(f, weights_only=False)\ntorch.load(f, weights_only=True)\n"
        "os.system('ls ' + p)\nsubprocess.run(f'ffmpeg -i {p}', shell=True)\nsubprocess.run(['ls', p])\n"
        "yaml.load(s)\nyaml.safe_load(s)\nnp.load(p, allow_pickle=True)\nnp.load(p)\n"
        "M.from_pretrained(x, trust_remote_code=True)\nM.from_pretrained(x, trust_remote_code=flag)\neval(s)\nm.to(d).eval()\n"
    )
    spots = unsafe_spots(source, "bad.py")
    assert [s.split(": ", 1)[1] for s in spots] == [
        "import pickle",
        "torch.load without weights_only=True",
        "torch.load without weights_only=True",
        "os.system()",
        "shell=True",
        "subprocess.run with a command string",
        "yaml.load()",
        "allow_pickle=True",
        "trust_remote_code=True",
        "eval()",
    ], spots


@pytest.mark.parametrize(
    ("source", "finding"),
    [
        ("import torch as T\nT.load(f)\n", "torch.load without weights_only=True"),
        ("from torch import load\nload(f)\n", "torch.load without weights_only=True"),
        ("from torch import load as tl\ntl(f, weights_only=False)\n", "torch.load without weights_only=True"),
        ("from yaml import load\nload(s)\n", "yaml.load()"),
        ("import yaml as Y\nY.unsafe_load(s)\n", "yaml.unsafe_load()"),
        ("from subprocess import run\ncmd = 'ffmpeg -i ' + p\nrun(cmd)\n", "subprocess.run with a command string"),
        ("import subprocess as sp\nsp.Popen(command)\n", "subprocess.Popen with a command string"),
        ("import builtins\nbuiltins.eval(s)\n", "eval()"),
        ("import subprocess\nsubprocess.run(['ls'], shell=flag)\n", "shell=flag"),
        ("from os import system\nsystem(c)\n", "os.system()"),
        ("import pandas as pd\npd.read_pickle(p)\n", "pandas.read_pickle()"),
        ("from pickle import loads\n", "from pickle import"),
        ("import dill as d\n", "import dill"),
    ],
)
def test_the_audit_resolves_aliases_and_imports(source, finding):
    assert [s.split(": ", 1)[1] for s in unsafe_spots(source, "bad.py")] == [finding]


@pytest.mark.parametrize(
    "source",
    [
        "import subprocess\ncmd = ['fluidsynth', '-ni', sf]\nsubprocess.run(cmd, stdin=subprocess.DEVNULL)\n",
        "import torch as T\nT.load(f, weights_only=True)\n",
        "model.eval()\nm.to(d).eval()\n",
        "import yaml\nyaml.safe_load(s)\n",
    ],
)
def test_the_audit_passes_safe_forms(source):
    assert unsafe_spots(source, "ok.py") == []


def test_the_package_has_no_unsafe_loading_or_shell_strings():
    spots = []
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 40
    for file in files:
        spots += unsafe_spots(file.read_text(encoding="utf-8"), str(file.relative_to(PACKAGE.parent)))
    assert spots == []


class _Bomb:
    """A pickle that, if ever loaded, leaves a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickled_adapter_is_refused_and_never_unpickled(tmp_path):
    from vmb.generate.musicgen.adapters import CONFIG_NAME, load_adapter

    marker = tmp_path / "unpickled"
    folder = tmp_path / "downloaded adapter"
    folder.mkdir()
    (folder / CONFIG_NAME).write_text(json.dumps({"mechanism": "both"}))
    for name in ("adapter_model.bin", "pytorch_model.bin", "adapter.pt"):
        (folder / name).write_bytes(pickle.dumps(_Bomb(marker)))
    with pytest.raises(ModelUnavailable, match=r"adapter_model\.safetensors does not exist"):
        load_adapter(folder, model=None)
    assert not marker.exists()


def test_trust_remote_code_is_off_unless_the_config_asks(tmp_path, monkeypatch):
    import transformers

    from vmb.config import load_config
    from vmb.describe import vlm

    seen = []

    def refuse(source, **kwargs):
        seen.append(kwargs["trust_remote_code"])
        raise OSError("stop here: only the arguments are under test")

    monkeypatch.setattr(vlm, "load_processor", refuse)
    monkeypatch.setattr(transformers.AutoModelForImageTextToText, "from_pretrained", refuse)
    folder = tmp_path / "some vlm"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    for config in (load_config(), load_config(overrides=["describer.trust_remote_code=true"])):
        with pytest.raises(ModelUnavailable, match="some vlm"):
            vlm.VLMDescriber.from_config(config, model=str(folder))
    with pytest.raises(ModelUnavailable, match="some vlm"):
        vlm.VLMDescriber.from_pretrained(str(folder))
    assert seen == [False, True, False]


def test_manifest_paths_are_resolved_against_the_manifest_folder(tmp_path, monkeypatch):
    from vmb.retrieve.sources import read_source

    library = tmp_path / "music library"
    (library / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere" / "sub").mkdir(parents=True)
    rows = [{"path": "sub/a.wav"}, {"path": "./b.wav"}, {"path": str(tmp_path / "abs.wav")}]
    (library / "list.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    monkeypatch.chdir(tmp_path / "elsewhere")  # a cwd that also holds sub/: it must not be used
    source = read_source(library / "list.jsonl")
    assert [t.path for t in source.tracks] == [
        str(library / "sub" / "a.wav"),
        str(library / "b.wav"),
        str(tmp_path / "abs.wav"),
    ]


def test_manifest_rows_that_point_nowhere_are_reported_by_path(tmp_path, monkeypatch):
    """A missing file listed in a manifest is named by its resolved path when the build skips it."""
    from vmb.errors import IndexFileError
    from vmb.retrieve import build_index

    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "list.jsonl").write_text('{"path": "../gone/x.wav"}\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(IndexFileError, match=rf"{tmp_path / 'gone' / 'x.wav'}: file not found"):
        build_index(tmp_path / "lib" / "list.jsonl", tmp_path / "idx", encoder="builtin", progress=False)
    assert not (tmp_path / "idx").exists()


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="needs the fluidsynth program")
def test_fluidsynth_sees_a_hostile_file_name_as_one_argument(tmp_path, monkeypatch):
    import mido

    from vmb.generate.builtin.render_fluidsynth import find_soundfont, render_fluidsynth

    soundfont, _ = find_soundfont()
    if soundfont is None:
        pytest.skip("no General MIDI soundfont installed")
    monkeypatch.chdir(tmp_path)
    midi = tmp_path / "song; touch PWNED $(touch PWNED2) `touch PWNED3`.mid"
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.Message("note_on", note=60, velocity=90, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=240))
    mid.save(midi)
    audio = render_fluidsynth(midi, soundfont, 16000)
    assert audio.shape[0] == 2 and abs(audio).max() > 0.001
    assert sorted(p.name for p in tmp_path.iterdir()) == [midi.name]
