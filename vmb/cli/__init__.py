"""The ``vmb`` command line: thin Typer commands over the library functions.

:mod:`vmb.cli.app` holds the root app, the error handling (``error: ...``, exit 1, or 2 for
usage), :func:`print_json` and the options several commands share. Each command group is one
module here with a ``register(app)`` function; adding a group is adding its module and its name
to :data:`COMMAND_GROUPS` (the order is the order of ``vmb --help``).
"""

from __future__ import annotations

from importlib import import_module

from vmb.cli.app import app, main, print_json

COMMAND_GROUPS = (
    "probe",
    "describe",
    "index",
    "retrieve",
    "generate",
    "train",
    "data",
    "eval",
    "ui",
    "models",
    "doctor",
)

for _name in COMMAND_GROUPS:
    import_module(f"vmb.cli.{_name}").register(app)

__all__ = ["COMMAND_GROUPS", "app", "main", "print_json"]
