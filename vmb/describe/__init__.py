"""The text bridge: video, images and/or text → a :class:`~vmb.types.MusicDescription`.

Two describers, one interface (``.describe(inputs) -> MusicDescription``):

- :class:`VLMDescriber` (``describer="vlm"``): a transformers image-text-to-text model
  (default ``OpenGVLab/InternVL3-1B-hf``) asked for a JSON description, parsed robustly.
- :class:`VisualDescriber` (``describer="visual"``): the built-in rule table over measured
  brightness, colour, motion and cuts; no download.

Text given with the visuals is parsed into fields and wins over the pixels for every field it
sets (the merge rule is in :mod:`vmb.describe.schema`)::

    from vmb.describe import describe
    d = describe(video="clip.mp4", text="in D minor")
    print(d.text, d.tempo_bpm, d.mood)

Every description of visuals carries a timeline (:mod:`vmb.describe.timeline`): sections at
the scene changes, the cuts to hit and an energy curve; the user's cues
(:mod:`vmb.describe.cues`) override or add sections::

    d = describe(video="clip.mp4", cues=["0-8=calm", "8-16=energetic"], sync="cuts")
    for s in d.sections:
        print(s.start_s, s.end_s, s.mood, s.energy)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vmb.describe.cues import Cue, CueError, load_cue_file, parse_cue, parse_cues
from vmb.describe.inputs import load_inputs
from vmb.describe.parse import ParsedAnswer, parse_answer
from vmb.describe.schema import merge, write_sentence
from vmb.describe.text import parse_text
from vmb.errors import UsageError
from vmb.lazy import lazy_exports
from vmb.types import MusicDescription, Wants

if TYPE_CHECKING:
    from vmb.config import Config
    from vmb.describe.visual import VisualDescriber
    from vmb.describe.vlm import VLMDescriber

DESCRIBERS = ("visual", "vlm")


# The describer classes import numpy/yaml/torch paths lazily, so `vmb --help` stays fast.
__getattr__ = lazy_exports(
    __name__, {"VisualDescriber": "vmb.describe.visual", "VLMDescriber": "vmb.describe.vlm"}
)


def check_describer(kind: str, option: str = "describer") -> str:
    """Return ``kind`` if it names a describer, else raise :class:`UsageError` naming ``option``."""
    if kind not in DESCRIBERS:
        raise UsageError(f"{option} {kind!r} is not one of: {', '.join(DESCRIBERS)}")
    return kind


def load_describer(kind: str | None = None, config: Config | None = None, model: str | None = None):
    """The describer a config names (``kind`` overriding ``config.describer.kind``): ``visual``
    (:meth:`VisualDescriber.from_config`) or ``vlm`` (:meth:`VLMDescriber.from_config`, ``model``
    overriding ``config.describer.model``). The one place a describer is assembled: the
    :class:`~vmb.pipeline.Pipeline`, :func:`describe` and the CLI all come here."""
    from vmb.config import Config

    config = config or Config()
    kind = check_describer(kind or config.describer.kind)
    if kind == "visual":
        from vmb.describe.visual import VisualDescriber

        return VisualDescriber.from_config(config)
    from vmb.describe.vlm import VLMDescriber

    return VLMDescriber.from_config(config, model=model)


def describe(
    video: str | os.PathLike | None = None,
    images: Sequence[str | os.PathLike] | str | os.PathLike = (),
    text: str | None = None,
    describer: str | VisualDescriber | VLMDescriber = "visual",
    config: Config | None = None,
    model: str | None = None,
    cues: Sequence[str | Cue] | None = None,
    sync: str = "cuts",
    duration_s: float | None = None,
    wants: Wants | dict | Sequence[str] | None = None,
) -> MusicDescription:
    """Describe the music for a video, images and/or text, with its timeline.

    Args:
        video, images, text: the inputs; at least one is needed.
        describer: ``"visual"`` (built-in), ``"vlm"`` (neural), or a describer object.
        config: settings (``describer.*``, ``device``, ``dtype``); the defaults otherwise.
        model: the VLM hub id or local folder (overrides ``config.describer.model``).
        cues: the user's timeline: ``"0-8=calm"`` strings or :class:`Cue` objects (read a
            ``--cues`` file with :func:`load_cue_file`); see :mod:`vmb.describe.cues`.
        sync: ``cuts`` (sections and cuts to hit), ``scenes`` (sections only) or ``off``.
        duration_s: the music's length, when set (images alone: the slideshow's length).
        wants: targeted attributes (``{"mood": "happy"}``), put into the description.

    Raises:
        UsageError: no input, an unknown describer or sync mode.
        CueError: a bad cue (outside the video, overlapping, unknown attribute, bad file).
        MediaError: an input file that cannot be read.
        ModelUnavailable: ``vlm`` weights that are not available offline.
    """
    from vmb.describe.timeline import SYNC_MODES, add_timeline
    from vmb.vocab import parse_wants

    if sync not in SYNC_MODES:
        raise UsageError(f"sync={sync!r}: use one of {', '.join(SYNC_MODES)}")
    cue_list = parse_cues(list(cues or ()))
    if wants is not None and not isinstance(wants, Wants):
        wants = parse_wants(wants)
    from vmb.config import Config

    config = config or Config()
    if isinstance(describer, str):
        kind = check_describer(describer)
    else:
        kind = getattr(describer, "name", "custom")
    num_frames = getattr(describer, "num_frames", config.describer.num_frames)
    if kind == "vlm" and isinstance(describer, str):
        num_frames = config.describer.num_frames
    # The built-in describer samples its own short windows; the VLM needs the frames now.
    inputs = load_inputs(video, images, text, num_frames=num_frames, decode=kind != "visual")
    if all(i.kind == "text" for i in inputs):
        words = parse_text(inputs[0].text or "")
        return add_timeline(words, inputs, None, cue_list, sync, duration_s, wants)
    if isinstance(describer, str):
        describer = load_describer(kind, config, model)
    description = describer.describe(inputs)
    return add_timeline(description, inputs, describer, cue_list, sync, duration_s, wants)


__all__ = [
    "DESCRIBERS",
    "Cue",
    "CueError",
    "ParsedAnswer",
    "check_describer",
    "VLMDescriber",
    "VisualDescriber",
    "describe",
    "load_cue_file",
    "load_describer",
    "load_inputs",
    "merge",
    "parse_answer",
    "parse_cue",
    "parse_cues",
    "parse_text",
    "write_sentence",
]
