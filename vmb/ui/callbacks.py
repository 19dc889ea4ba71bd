"""What the page's buttons do: check the uploads, describe (prepare the bridges), generate
from the edited bridges, and save the files, all through :class:`vmb.pipeline.Pipeline`.

Every callback turns a :class:`~vmb.errors.VMBError` into a one-line message in the page
(``gr.Error``), and any other exception into a short message while the traceback goes to the
server log; the page never shows a traceback.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmb.errors import MediaError, VMBError
from vmb.ui.state import (
    NONE,
    Session,
    apply_edits,
    check_sync,
    cue_lines,
    page_cues,
    reference_labels,
    shown_fields,
)
from vmb.ui.uploads import UploadLimits

logger = logging.getLogger(__name__)

MAX_REFERENCE_PLAYERS = 6
WANT_KEYS = ("genre", "tempo", "mood", "instrument", "key", "mode")


def page_message(exc: BaseException) -> str:
    """One line for the page: a media error names the file by its name, not the server's
    temporary path."""
    if isinstance(exc, MediaError):
        return f"{Path(exc.path).name}: {exc.reason}"
    if isinstance(exc, VMBError):
        return str(exc)
    return f"something went wrong ({type(exc).__name__}); the server log has the details"


def shown_errors(fn: Callable) -> Callable:
    """Run ``fn``; errors become ``gr.Error`` with :func:`page_message` (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import gradio as gr

        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except VMBError as exc:
            raise gr.Error(page_message(exc), print_exception=False) from None
        except Exception as exc:
            logger.exception("vmb ui: %s failed", fn.__name__)
            raise gr.Error(page_message(exc), print_exception=False) from None

    return wrapper


@dataclass
class Worker:
    """The app's settings and its pipelines (one per profile and index, built once and shared;
    the queue lets one job at a time use them)."""

    profile: str | None = "builtin"
    index: str | None = None
    config_file: str | None = None
    overrides: tuple[str, ...] = ()
    workdir: Path = field(default_factory=lambda: Path("vmb-ui"))
    limits: UploadLimits = field(default_factory=UploadLimits)
    _pipes: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def pipeline(self, profile: str | None, index: str | None):
        from vmb.pipeline import Pipeline

        profile = None if profile in (None, "", "auto") else profile
        index = (index or "").strip() or None
        key = (profile, index)
        with self._lock:
            if key not in self._pipes:
                config = self.config_file if profile is None else None
                self._pipes[key] = Pipeline.load(config, profile if config is None else None,
                                                 overrides=list(self.overrides), index=index)  # fmt: skip
            return self._pipes[key]

    def new_folder(self) -> Path:
        folder = self.workdir / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # ------------------------------------------------------------------ uploads
    def check_upload(self, files: Any, kind: str) -> str:
        """The status line for an upload: empty when fine, else the problem (shown at once)."""
        try:
            for path in _paths(files):
                self.limits.check(path, kind)
        except VMBError as exc:
            return f"⚠️ {page_message(exc)}"
        return ""

    def checked_inputs(self, video, images, text, references, want_values, duration) -> dict[str, Any]:
        video_path = _paths(video)
        inputs = {
            "video": self.limits.check(video_path[0], "video") if video_path else None,
            "images": [self.limits.check(p, "image") for p in _paths(images)],
            "text": text if text and text.strip() else None,
            "references": [self.limits.check(p, "audio") for p in _paths(references)],
            "wants": [f"{k}={v}" for k, v in zip(WANT_KEYS, want_values, strict=True) if v and v != NONE],
        }
        inputs["duration_s"] = float(duration) if duration else None
        return inputs

    # ------------------------------------------------------------------ step 2
    def describe(self, session: Session | None, profile, index, video, images, text, references,
                 duration, text_weight, music_weight, *want_values, cue_text: str | None = None,
                 sync: str | None = "cuts", progress=None) -> tuple:  # fmt: skip
        """Prepare the bridges (with the page's cues and sync): ``(session, folder, pipeline)``."""
        if progress is not None:
            progress(0.05, desc="checking the inputs")
        cues = page_cues(cue_text)  # a bad cue is a message before anything is read
        sync = check_sync(sync)
        inputs = self.checked_inputs(video, images, text, references, want_values, duration)
        pipe = self.pipeline(profile, index)
        if progress is not None:
            progress(0.2, desc="describing and retrieving")
        prepared = pipe.prepare(**inputs, text_weight=text_weight, music_weight=music_weight,
                                cues=list(cues), sync=sync)  # fmt: skip
        session = Session(prepared=prepared, inputs=inputs, cues=cue_lines(cue_text), sync=sync)
        folder = self.new_folder()
        return session, folder, pipe

    def check_cues(self, session: Session | None, cue_text: str | None) -> str:
        """The cue box's status line: how many cues, or the first problem (shown as one types)."""
        try:
            cues = page_cues(cue_text)
            if cues and session is not None and session.prepared is not None:
                from vmb.describe.cues import check_cues

                check_cues(cues, session.prepared.duration_s, "music")
        except VMBError as exc:
            return f"⚠️ {page_message(exc)}"
        applied = session is not None and session.prepared is not None and cue_lines(cue_text) == session.cues
        if not cues:
            return "" if applied or session is None else "no cues: press Apply to remake the timeline without them"
        spans = sum(not c.is_marker for c in cues)
        counted = f"{spans} section cue(s), {len(cues) - spans} marker(s)"
        return f"{counted}, as applied" if applied else f"{counted}: press Apply to remake the timeline"

    # ------------------------------------------------------------------ step 3
    def generate(self, session: Session | None, profile, index, seed, edits: dict, keep, pin,
                 text_weight, music_weight, cue_text: str | None = None, sync: str | None = None,
                 progress=None):  # fmt: skip
        """Generate from the edited bridges and save the files: ``(result, folder)``.

        ``cue_text`` and ``sync`` (``None``: the ones the bridges were made with) must be those
        of the bridges: the timeline is remade by Describe/Apply, never silently here."""
        from vmb.errors import UsageError
        from vmb.outputs import output_stem

        if session is None or session.prepared is None:
            raise UsageError("press Describe first: the bridges are made from the inputs in step 1")
        session.check_timeline("\n".join(session.cues) if cue_text is None else cue_text,
                               session.sync if sync is None else sync)  # fmt: skip
        pipe = self.pipeline(profile, index)
        prepared, _ = apply_edits(session.prepared, edits, keep=keep, pin=pin,
                                  text_weight=text_weight, music_weight=music_weight)  # fmt: skip
        seed = None if seed is None or seed == "" else int(seed)
        inputs = session.inputs
        folder = self.new_folder()
        stem = output_stem(inputs["video"], inputs["images"], inputs["references"])
        midi_path = folder / f"{stem}.vmb.mid" if pipe.config.generator.kind == "builtin" else None
        if progress is not None:
            progress(0.3, desc=f"generating {prepared.duration_s:.1f} s of music")
        result = pipe.generate(prepared, seed=seed, midi_path=midi_path)
        if progress is not None:
            progress(0.85, desc="writing the files")
        record = {k: inputs[k] for k in ("video", "images", "text", "references", "wants")}
        result = pipe.save(result, out_dir=folder, stem=stem, video=inputs["video"], inputs=record)
        session.add(result)
        return result, folder


def _paths(files: Any) -> list[str]:
    """Gradio's file value(s) as paths (``None``, a path, a list, or dicts/objects with ``path``)."""
    if files is None:
        return []
    if not isinstance(files, (list, tuple)):
        files = [files]
    out = []
    for f in files:
        if f is None:
            continue
        path = getattr(f, "path", None) or (f.get("path") if isinstance(f, dict) else None) or getattr(f, "name", None)
        out.append(str(path if path is not None else f))
    return out


def fields_of(session: Session) -> dict[str, Any]:
    return shown_fields(session.prepared.bridges.description)


def labels_of(session: Session) -> list[str]:
    return reference_labels(session.prepared.bridges)
