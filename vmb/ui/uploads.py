"""What the web app accepts from the page: size limits, a type check by extension and by
content, and the removal of old working files.

An upload is checked before any stage reads it, so a text file named ``.mp4`` or a 0-byte image
is one message in the page (:class:`~vmb.errors.UsageError` / :class:`~vmb.errors.MediaError`),
never a traceback.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from vmb.errors import MediaError, UsageError

VIDEO_TYPES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
AUDIO_TYPES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus", ".aiff")
TYPES = {"video": VIDEO_TYPES, "image": IMAGE_TYPES, "audio": AUDIO_TYPES}

DEFAULT_MAX_UPLOAD_MB = 200.0
DEFAULT_KEEP_S = 3600.0


@dataclass(frozen=True)
class UploadLimits:
    """The largest upload (``max_mb`` per file, also given to Gradio so the browser refuses a
    bigger one before sending it) and the kinds of file each input takes."""

    max_mb: float = DEFAULT_MAX_UPLOAD_MB

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)

    def check(self, path: str | os.PathLike, kind: str) -> str:
        """``path`` when it is a non-empty ``kind`` file (video, image, audio) under the limit.

        Raises:
            UsageError: wrong extension, empty or too large.
            MediaError: the content is not a readable ``kind`` (e.g. text named ``.mp4``).
        """
        file = Path(path)
        name = file.name
        if file.suffix.lower() not in TYPES[kind]:
            raise UsageError(f"{name}: not a {kind} file (accepted: {', '.join(TYPES[kind])})")
        try:
            size = file.stat().st_size
        except OSError:
            raise UsageError(f"{name}: the upload did not arrive; try again") from None
        if size == 0:
            raise UsageError(f"{name}: the file is empty (0 bytes)")
        if size > self.max_bytes:
            raise UsageError(f"{name}: {size / 2**20:.1f} MB is over the upload limit of {self.max_mb:g} MB")
        _check_content(file, kind)
        return str(file)


def _check_content(file: Path, kind: str) -> None:
    from vmb.media import probe

    info = probe(file)  # MediaError naming the file for text, truncated or unknown content
    if kind == "video" and not info.has_video:
        raise MediaError(file, "has no video stream")
    if kind == "image" and info.kind != "image":
        raise MediaError(file, f"is a {info.kind} file, not an image")
    if kind == "audio" and not info.has_audio:
        raise MediaError(file, "has no audio stream")


class Janitor:
    """Removes the entries of ``folder`` older than ``keep_s`` seconds, every ``every_s``
    seconds, in a daemon thread (the app's per-generation working folders)."""

    def __init__(self, folder: str | os.PathLike, keep_s: float = DEFAULT_KEEP_S, every_s: float | None = None):
        self.folder = Path(folder)
        self.keep_s = float(keep_s)
        self.every_s = float(every_s) if every_s is not None else max(1.0, min(self.keep_s / 2, 600.0))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self, now: float | None = None) -> list[Path]:
        """Remove what is older than ``keep_s`` now; return what was removed."""
        now = time.time() if now is None else now
        removed = []
        if not self.folder.is_dir():
            return removed
        for entry in self.folder.iterdir():
            try:
                age = now - entry.stat().st_mtime
            except OSError:
                continue
            if age > self.keep_s:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed.append(entry)
        return removed

    def start(self) -> Janitor:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="vmb-ui-janitor", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sweep()
