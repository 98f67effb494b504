"""Constructor arguments, checked once for every env: a misspelt keyword is named with the
closest legal one, and declared arguments are validated like design parameters — so no env
hand-writes "is not legal" messages for them."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from archgym.spaces import Parameter

__all__ = ["check_names", "check_values", "complete"]


def _named(signature: inspect.Signature) -> list[str]:
    return [
        n
        for i, (n, p) in enumerate(signature.parameters.items())
        if i > 0 and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]


def check_names(
    owner: str, signature: inspect.Signature, kwargs: Mapping[str, Any], common: Iterable[str]
) -> None:
    """Refuse a keyword ``owner``'s constructor doesn't take (unless it takes ``**kwargs``)."""
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        return
    legal = [*_named(signature), *common]
    for name in kwargs:
        if name not in legal:
            import difflib  # only on the error path: it costs ~10 ms to import

            close = difflib.get_close_matches(name, legal, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{owner}: unknown constructor argument {name!r}{hint}; legal: {legal}")


def complete(signature: inspect.Signature, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor's arguments by name with its defaults filled in (``**kwargs`` flattened)."""
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError as exc:
        raise ValueError(f"constructor arguments: {exc}") from None
    bound.apply_defaults()
    values = dict(bound.arguments)
    values.pop(next(iter(signature.parameters)))  # self
    for name, param in signature.parameters.items():
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            values.update(values.pop(name, {}))
        elif param.kind is inspect.Parameter.VAR_POSITIONAL:
            values.pop(name, None)
    return values


def check_values(
    owner: str, declared: Sequence[Parameter], values: Mapping[str, Any], signature: inspect.Signature
) -> dict[str, Any]:
    """Validate the declared arguments among ``values`` (None stays legal where it is the
    default); returns them in their canonical types."""
    checked = {}
    for parameter in declared:
        if parameter.name not in values:
            continue
        value = values[parameter.name]
        default = signature.parameters.get(parameter.name)
        if value is None and default is not None and default.default is None:
            continue
        try:
            checked[parameter.name] = parameter.validate(value)
        except ValueError:
            none = " or None" if default is not None and default.default is None else ""
            legal = f"{parameter.legal_values()}{none}"
            raise ValueError(
                f"{owner}: {parameter.name}: {value!r} is not legal; legal values: {legal}"
            ) from None
    return checked


def env_id_guesses(env_id: str, known: Sequence[str]) -> list[str]:
    """The registered ids a mistyped ``env_id`` most likely meant: the id with its namespace added
    (``Branin-v0`` → ``archgym/Branin-v0``), else up to three close spellings. One rule for every
    place that names an env id (``--env``, ``envs --details``)."""
    import difflib  # only on the error path: it costs ~10 ms to import

    added = [k for k in known if "/" in k and k.split("/", 1)[1] == env_id]
    return added or difflib.get_close_matches(env_id, list(known), n=3, cutoff=0.6)
