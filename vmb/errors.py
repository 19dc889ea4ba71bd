"""The one error hierarchy of vmb.

Every error a user can cause is a :class:`VMBError` whose ``str`` is a single line naming the
file (or value) and what is wrong with it. The CLI prints ``error: <message>`` and exits with
``exit_code``; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import os


class VMBError(Exception):
    """Base class of every error vmb raises for bad input or a missing resource."""

    exit_code = 1


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
