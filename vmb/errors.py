"""The one error hierarchy of vmb.

Every error a user can cause is a :class:`VMBError` whose ``str`` is a single line naming the
file (or value) and what is wrong with it. The CLI prints ``error: <message>`` and exits with
``exit_code``; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import os

MAX_MESSAGE_CHARS = 2000
VALUE_CHARS = 60
_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))


def printable(text: str, limit: int | None = MAX_MESSAGE_CHARS) -> str:
    """``text`` safe to print on one terminal line: control characters (newlines, ESC
    sequences), bidi overrides and undecodable file-name bytes (surrogate escapes) become
    visible escapes (``\\n``, ``\\x1b``, ``\\xff``); cut to ``limit`` characters with ``…``."""
    out = []
    for ch in text:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:  # a byte of a non-UTF-8 name (os.fsdecode's surrogateescape)
            out.append(f"\\x{o - 0xDC00:02x}")
        elif 0xD800 <= o <= 0xDFFF or o in _BIDI:
            out.append(f"\\u{o:04x}")
        elif o < 0x20 or 0x7F <= o < 0xA0:
            out.append(repr(ch)[1:-1])
        else:
            out.append(ch)
    text = "".join(out)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def show_value(value: object, limit: int = VALUE_CHARS) -> str:
    """A user's value quoted for a message: ``repr`` cut to ``limit`` characters.

    Never expands more than needed: a huge or deeply nested value is summarised by its type.
    """
    if isinstance(value, (dict, list, tuple, set)) and len(value) > 20:
        return f"<a {type(value).__name__} of {len(value)} items>"
    try:
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else "<a very long integer>"
    except (RecursionError, ValueError):
        text = f"<a deeply nested {type(value).__name__}>"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return printable(text, None)


class VMBError(Exception):
    """Base class of every error vmb raises for bad input or a missing resource.

    ``str(error)`` is always one printable line (see :func:`printable`), whatever file names or
    values the message quotes.
    """

    exit_code = 1

    def __str__(self) -> str:
        return printable(super().__str__())


class UsageError(VMBError):
    """A command-line value that makes no sense (unknown ``--want`` key, negative duration...)."""

    exit_code = 2


class ConfigError(VMBError):
    """A configuration file or ``--set`` override that is wrong (unknown key, bad value)."""


class MediaError(VMBError):
    """A media file that cannot be used: missing, empty, corrupt, wrong kind, bad samples."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class IndexFileError(VMBError):
    """A retrieval index on disk that is missing, corrupt, tampered with or mismatched."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class OutputError(VMBError):
    """An output location vmb must not or cannot write: a user's folder it would replace, a
    source inside the output, a folder that cannot be created."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelUnavailable(VMBError):
    """Model weights that are neither in the local cache nor downloadable."""

    def __init__(self, model_id: str, where: str, hint: str = ""):
        self.model_id = model_id
        self.where = where
        self.hint = hint
        message = f"{model_id}: model weights not found ({where})"
        if hint:
            message += f"; {hint}"
        super().__init__(message)


class GenerationError(VMBError):
    """Generation could not run with the given bridges and settings."""
