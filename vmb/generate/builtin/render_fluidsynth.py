"""Rendering with the FluidSynth command line and a General MIDI soundfont.

Runs ``fluidsynth -ni -q -g GAIN -o synth.cpu-cores=N -F out.wav -T wav -O float -r SR SOUNDFONT
FILE.mid`` (an argument list, no shell) and reads back the 32-bit float wav it writes.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from vmb.errors import ConfigError, GenerationError

SOUNDFONT_ENV = "VMB_SOUNDFONT"
SOUNDFONT_PLACES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/*.sf2",
    "/usr/share/soundfonts/*.sf2",
    "/usr/local/share/soundfonts/*.sf2",
    "~/.local/share/soundfonts/*.sf2",
)
GAIN = 0.5
TIMEOUT_S = 600


def find_fluidsynth() -> str | None:
    """The ``fluidsynth`` executable on ``PATH``, or ``None``."""
    return shutil.which("fluidsynth")


def find_soundfont(configured: str | os.PathLike | None = None) -> tuple[Path | None, str]:
    """The soundfont to use and where it was found.

    Order: ``configured`` (``generator.soundfont`` / the constructor argument), ``$VMB_SOUNDFONT``,
    then :data:`SOUNDFONT_PLACES`. A configured or ``$VMB_SOUNDFONT`` path that does not exist
    is an error (it was asked for); the usual places are only searched.

    Raises:
        ConfigError: the configured or environment path is not a file.
    """
    if configured:
        p = Path(configured).expanduser()
        if not p.is_file():
            raise ConfigError(f"generator.soundfont = {configured}: soundfont file not found")
        check_soundfont(p, "generator.soundfont")
        return p, "configured"
    env = os.environ.get(SOUNDFONT_ENV)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise ConfigError(f"${SOUNDFONT_ENV} = {env}: soundfont file not found")
        check_soundfont(p, f"${SOUNDFONT_ENV}")
        return p, f"${SOUNDFONT_ENV}"
    for pattern in SOUNDFONT_PLACES:
        for hit in sorted(glob.glob(os.path.expanduser(pattern))):
            if os.path.isfile(hit):
                return Path(hit), "searched"
    return None, "searched " + ", ".join(SOUNDFONT_PLACES)


def check_soundfont(path: Path, where: str = "soundfont") -> None:
    """Raise :class:`ConfigError` unless ``path`` is a SoundFont 2 file (SF2, or SF3 with
    compressed samples: both a RIFF ``sfbk`` form with an ``INFO`` list). FluidSynth passes
    over a file it cannot load and renders silence, so the check comes first."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError as exc:
        raise ConfigError(f"{where} = {path}: cannot read the soundfont ({exc.strerror or exc})") from None
    if len(head) < 24 or head[:4] != b"RIFF" or head[8:12] != b"sfbk" or head[12:16] != b"LIST" or head[20:24] != b"INFO":
        raise ConfigError(f"{where} = {path}: not a SoundFont (SF2/SF3) file")


def render_fluidsynth(midi_path: str | os.PathLike, soundfont: str | os.PathLike, sample_rate: int,
                      executable: str = "fluidsynth", gain: float = GAIN) -> np.ndarray:
    """Render a MIDI file; returns ``[2, T]`` float32 at ``sample_rate`` (with the reverb tail).

    Raises:
        GenerationError: FluidSynth failed or wrote no audio.
    """
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="vmb-fluidsynth-") as tmp:
        out = os.path.join(tmp, "out.wav")
        cores = 1  # one synthesis thread: extra threads cost more CPU than they save on short pieces
        cmd = [executable, "-ni", "-q", "-g", str(gain), "-o", f"synth.cpu-cores={cores}", "-F", out,
               "-T", "wav", "-O", "float", "-r", str(int(sample_rate)), str(soundfont), str(midi_path)]
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise GenerationError(f"{executable}: could not run FluidSynth ({exc})") from None
        if proc.returncode != 0 or not os.path.isfile(out):
            why = (proc.stderr or proc.stdout or "").strip().splitlines()
            raise GenerationError(
                f"{midi_path}: FluidSynth exited with {proc.returncode} ({why[-1] if why else 'no output'})")
        audio, sr = sf.read(out, dtype="float32", always_2d=True)
    if sr != sample_rate:
        raise GenerationError(f"{midi_path}: FluidSynth wrote {sr} Hz instead of {sample_rate} Hz")
    if audio.shape[0] == 0:
        raise GenerationError(f"{midi_path}: FluidSynth rendered no samples")
    return np.ascontiguousarray(audio.T)
