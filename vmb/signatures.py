"""One definition of a parameter set that two public functions share.

``render_midi`` takes the parameters of ``render_parts`` but ``stems``; ``plan_build`` those of
``build_index`` but the ones that run the build; ``Pipeline.check_inputs`` and
``Pipeline.prepare`` those of ``Pipeline.__call__`` that they use; the Ray index build those of
``build_index`` and its own keyword-only options. Instead of spelling the list
(names, types, defaults) twice, the second function says whose parameters it takes::

    @same_parameters(render_parts, drop=("stems",))
    def render_midi(source, **settings): ...

Calls bind exactly as a call of the template would (positional or keyword, the template's
defaults filled in, ``TypeError`` for an unknown, doubled or missing argument), and
``help()`` / :func:`inspect.signature` show the template's parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

R = TypeVar("R")


def same_parameters(
    template: Callable[..., Any], *, drop: Iterable[str] = ()
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give the decorated function ``template``'s parameters less ``drop`` (same names, order,
    kinds and defaults), followed by the keyword-only parameters it declares itself (its own
    options beside the shared ones); it receives every one of them by keyword, defaults applied.

    Raises:
        TypeError: a name in ``drop`` that ``template`` does not have, or one without a default
            (a call could not leave it out).
    """
    signature = inspect.signature(template)
    dropped = set(drop)
    unknown = dropped - set(signature.parameters)
    if unknown:
        raise TypeError(f"{template.__qualname__} has no parameter(s) {', '.join(sorted(unknown))}")
    for name in dropped:
        if signature.parameters[name].default is inspect.Parameter.empty:
            raise TypeError(f"{template.__qualname__}: {name} has no default and cannot be dropped")
    kept = [p for name, p in signature.parameters.items() if name not in dropped]

    def decorate(function: Callable[..., R]) -> Callable[..., R]:
        own = inspect.signature(function)
        extra = [p for p in own.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        clash = {p.name for p in extra} & {p.name for p in kept}
        if clash:
            raise TypeError(f"{function.__qualname__} repeats {', '.join(sorted(clash))}")
        variadic = [p for p in kept if p.kind is inspect.Parameter.VAR_KEYWORD]
        ordered = [p for p in kept if p.kind is not inspect.Parameter.VAR_KEYWORD] + extra + variadic
        shared = signature.replace(parameters=ordered, return_annotation=own.return_annotation)

        @functools.wraps(function)
        def with_shared_parameters(*args: Any, **kwargs: Any) -> R:
            bound = shared.bind(*args, **kwargs)
            bound.apply_defaults()
            return function(**bound.arguments)

        del with_shared_parameters.__wrapped__  # help() shows the shared parameters, not **kwargs
        with_shared_parameters.__signature__ = shared  # type: ignore[attr-defined]
        return with_shared_parameters

    return decorate
