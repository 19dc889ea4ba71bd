"""vmb.signatures.same_parameters: a function that takes another's parameters binds calls exactly
as the template would, and the public functions built with it keep their parameter lists."""

from __future__ import annotations

import inspect

import pytest

from vmb.signatures import same_parameters


def template(a, b=2, *, c=3, d=4):
    return a, b, c, d


@same_parameters(template, drop=("d",))
def without_d(**args):
    return args


@same_parameters(template, keep=("b", "c"))
def own_and_shared(x, y=0, *, z=9, **shared):
    return x, y, z, shared


def test_calls_bind_as_the_template_would():
    assert without_d(1) == {"a": 1, "b": 2, "c": 3}
    assert without_d(1, 5, c=6) == without_d(a=1, b=5, c=6) == {"a": 1, "b": 5, "c": 6}
    with pytest.raises(TypeError):
        without_d(1, d=4)  # dropped
    with pytest.raises(TypeError):
        without_d()  # a is required
    with pytest.raises(TypeError):
        without_d(1, 2, 3)  # c is keyword-only, as in the template
    with pytest.raises(TypeError):
        without_d(1, a=1)  # given twice


def test_own_parameters_stand_around_the_shared_ones():
    assert str(inspect.signature(own_and_shared)) == "(x, y=0, b=2, *, c=3, z=9)"
    assert own_and_shared(1, 2, 3, c=4, z=5) == (1, 2, 5, {"b": 3, "c": 4})


def test_wrong_names_fail_where_they_are_written():
    with pytest.raises(TypeError, match="no parameter"):
        same_parameters(template, drop=("e",))
    with pytest.raises(TypeError, match="repeats c"):
        same_parameters(template)(lambda *, c=1, **rest: rest)


def _parameters(function, skip=()):
    return [(p.name, p.kind, p.default, p.annotation)
            for p in inspect.signature(function).parameters.values() if p.name not in skip]  # fmt: skip


def test_the_public_functions_take_their_templates_parameters():
    from vmb.components import PinnedReferences
    from vmb.engines.ray_build import build_index_distributed
    from vmb.eval.api import evaluate
    from vmb.eval.runner import run_benchmark
    from vmb.generate.builtin import render_midi, render_parts
    from vmb.outputs import output_dir_for, output_stem
    from vmb.pipeline import Pipeline
    from vmb.retrieve import Retriever
    from vmb.retrieve.build import build_index, plan_build

    call = _parameters(Pipeline.__call__)
    assert _parameters(Pipeline.check_inputs) == call[:10]  # self, video ... music_weight
    assert _parameters(Pipeline.prepare) == [p for p in call if p[0] not in ("seed", "midi_path", "stems_dir", "loop")]
    assert _parameters(render_midi) == _parameters(render_parts, skip=("stems",))
    assert _parameters(plan_build) == _parameters(build_index, skip=("resume", "progress", "console"))
    assert _parameters(build_index_distributed)[:13] == _parameters(build_index)
    assert _parameters(output_dir_for) == _parameters(output_stem)
    assert _parameters(PinnedReferences.search) == _parameters(Retriever.search)
    measuring = ("metrics", "models", "device", "cache_dir", "progress")
    assert [p for p in _parameters(run_benchmark) if p[0] in measuring] == [
        p for p in _parameters(evaluate) if p[0] in measuring
    ]
    assert [p[0] for p in _parameters(run_benchmark)][:4] == ["manifest", "profile", "out", "metrics"]
