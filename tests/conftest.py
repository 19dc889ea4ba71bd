"""Session-wide test settings: vmb's data home is a temporary folder, never the user's.

``VMB_HOME`` (see :mod:`vmb.home`) is set before any test runs, so the demo library, the
soundfont-level cache and anything else vmb keeps per user go to a folder removed at the end;
subprocesses started by the tests inherit it.
"""

from __future__ import annotations

import os
import shutil
import tempfile

_HOME = tempfile.mkdtemp(prefix="vmb-test-home-")
_OLD = os.environ.get("VMB_HOME")
os.environ["VMB_HOME"] = _HOME


def pytest_unconfigure(config):
    shutil.rmtree(_HOME, ignore_errors=True)
    if _OLD is None:
        os.environ.pop("VMB_HOME", None)
    else:
        os.environ["VMB_HOME"] = _OLD
