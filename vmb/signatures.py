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
Kind = inspect.Parameter


def same_parameters(
    template: Callable[..., Any], *, drop: Iterable[str] = (), keep: Iterable[str] | None = None
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give the decorated function ``template``'s parameters (those in ``keep``, default all,
    less ``drop``; same names, order, kinds and defaults) beside the ones it declares itself:
    its own positional parameters first, its own keyword-only ones after the shared ones. It
    receives every parameter by keyword, defaults applied; one it declares that the template
    also has (``self``) is the template's.

    Raises:
        TypeError: a name in ``keep`` or ``drop`` that ``template`` does not have, or a
            keyword-only parameter of the function that the template has too.
    """
    signature = inspect.signature(template)
    wanted = set(signature.parameters if keep is None else keep) - set(drop)
    unknown = (wanted | set(drop)) - set(signature.parameters)
    if unknown:
        raise TypeError(f"{template.__qualname__} has no parameter(s) {', '.join(sorted(unknown))}")
    kept = [p for name, p in signature.parameters.items() if name in wanted]
    names = {p.name for p in kept}

    def decorate(function: Callable[..., R]) -> Callable[..., R]:
        own = inspect.signature(function).parameters.values()
        positional = [p for p in own if p.kind is Kind.POSITIONAL_OR_KEYWORD and p.name not in names]
        keyword_only = [p for p in own if p.kind is Kind.KEYWORD_ONLY]
        clash = {p.name for p in keyword_only} & names
        if clash:
            raise TypeError(f"{function.__qualname__} repeats {', '.join(sorted(clash))}")
        variadic = [p for p in kept if p.kind is Kind.VAR_KEYWORD]
        shared = signature.replace(
            parameters=[*positional, *(p for p in kept if p.kind is not Kind.VAR_KEYWORD),
                        *keyword_only, *variadic],
            return_annotation=inspect.signature(function).return_annotation,
        )  # fmt: skip

        @functools.wraps(function)
        def with_shared_parameters(*args: Any, **kwargs: Any) -> R:
            bound = shared.bind(*args, **kwargs)
            bound.apply_defaults()
            return function(**bound.arguments)

        del with_shared_parameters.__wrapped__  # help() shows the shared parameters, not **kwargs
        with_shared_parameters.__signature__ = shared  # type: ignore[attr-defined]
        return with_shared_parameters

    return decorate
