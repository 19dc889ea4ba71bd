"""``vmb ui``'s options are checked before anything starts (one line, exit 2)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from vmb.cli import COMMAND_GROUPS, app


@pytest.mark.parametrize(
    "args, message",
    [
        (["--share", "maybe"], "--share 'maybe': expected on or off"),
        (["--port", "0"], "--port 0: expected a port from 1 to 65535"),
        (["--max-upload-mb", "0"], "--max-upload-mb 0: expected a size above 0"),
    ],
)
def test_bad_options_are_one_line(args, message):
    result = CliRunner().invoke(app, ["ui", *args])
    assert result.exit_code == 2, result.output
    assert f"error: {message}" in result.output


def test_ui_is_a_command_group():
    assert "ui" in COMMAND_GROUPS
    result = CliRunner().invoke(app, ["ui", "--help"])
    assert result.exit_code == 0 and "--keep-minutes" in result.output and "127.0.0.1" in result.output
