"""Option groups (vmb.cli.app.option_groups): a dataclass of Typer options stands in a command's
option list at its own place, with the command's defaults, and reaches the command as one
object; vmb eval and vmb train use them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from vmb.cli.app import group, option_groups

Level = Annotated[int, typer.Option("--level", help="How much.")]
Tag = Annotated[str, typer.Option("--tag", help="Which.")]


@dataclass(frozen=True)
class Knobs:
    level: Level
    tag: Tag = "plain"


LOUD = Knobs(level=11)


def _app(seen: dict) -> typer.Typer:
    app = group("test")

    @app.command("run")
    def run(
        first: Annotated[str, typer.Option("--first", help="Before.")] = "a",
        knobs: Knobs = LOUD,
        last: Annotated[bool, typer.Option("--last", help="After.")] = False,
    ) -> None:
        seen.update(first=first, knobs=knobs, last=last)

    @app.command("other")
    def other() -> None:
        seen.update(other=True)

    return app


def test_a_group_stands_in_place_with_the_commands_defaults():
    seen: dict = {}
    app = _app(seen)
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "100", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    options = [w for w in result.output.split() if w.startswith("--")]
    assert options[:4] == ["--first", "--level", "--tag", "--last"]
    assert "[default: 11]" in result.output and "[default: plain]" in result.output
    result = CliRunner().invoke(app, ["run", "--tag", "x", "--last"])
    assert result.exit_code == 0, result.output
    assert seen == {"first": "a", "knobs": Knobs(level=11, tag="x"), "last": True}


def test_a_group_needs_an_instance_as_its_default():
    def command(knobs: Knobs = None) -> None: ...

    with pytest.raises(TypeError, match="needs a Knobs instance"):
        option_groups(command)


def test_a_command_without_groups_is_registered_as_it_is():
    def command(level: Level = 1) -> None: ...

    assert option_groups(command) is command


def test_vmb_eval_and_train_list_their_group_options_in_order():
    from vmb.cli import app
    from vmb.cli.eval import MeasureOptions
    from vmb.cli.train import RunOptions, StepOptions

    env = {"COLUMNS": "200", "TERM": "dumb"}
    measure = ["--clap-model", "--encodec-model", "--ast-model", "--device", "--no-cache", "--json"]
    assert len(measure) == len(dataclasses.fields(MeasureOptions))
    for command in (["eval"], ["eval", "run"]):
        words = CliRunner().invoke(app, [*command, "--help"], env=env).output.split()
        options = [w for w in words if w.startswith("--")]
        assert options[-7:] == [*measure, "--help"], command
    for trainer in ("adapter", "describer"):
        words = CliRunner().invoke(app, ["train", trainer, "--help"], env=env).output.split()
        options = [w for w in words if w.startswith("--") and not w.startswith("--no-")]
        steps = options.index("--steps")
        assert options[steps : steps + len(dataclasses.fields(StepOptions))] == [
            "--steps", "--batch-size", "--lr", "--precision", "--resume"]  # fmt: skip
        assert options[-len(dataclasses.fields(RunOptions)) - 1 :] == [
            "--eval-every", "--save-every", "--seed", "--device", "--quiet", "--json", "--help"]  # fmt: skip
