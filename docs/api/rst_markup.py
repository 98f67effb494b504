"""A griffe extension for the API reference: reStructuredText habits in docstrings, as Markdown.

The core's docstrings name objects the Sphinx way (``:class:`~archgym.AgentSpec```) and end a
paragraph with ``::`` before an indented example, while mkdocstrings renders Markdown, where both
would show as literal text. This extension rewrites a docstring before it is rendered:

* a role becomes a cross-reference: a link where the name resolves (in the scope of the object
  that holds the docstring) to a documented object, plain code where it does not; ``~`` keeps only
  the last component as the title, as in Sphinx;
* a ``::`` literal-block marker becomes ``:`` (or goes, on a line of its own): the indented block
  after it is already a Markdown code block.

Loaded by ``mkdocs.yml`` (``extensions:`` of the python handler); it reads source only.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|data|exc|obj|const):`(~?)([^`]+)`")
LITERAL_MARKER = re.compile(r"(?m)(\S)::$")
LONE_MARKER = re.compile(r"(?m)^[ \t]*::$\n?")


def _identifier(obj: griffe.Object, name: str) -> str:
    """The full path ``name`` means where ``obj``'s docstring says it; the name itself if unknown."""
    head, dot, rest = name.partition(".")
    try:
        return obj.resolve(head) + dot + rest
    except (griffe.NameResolutionError, AttributeError, KeyError):
        return name


def _markdown(obj: griffe.Object, text: str) -> str:
    def role(match: re.Match[str]) -> str:
        tilde, name = match.groups()
        name = name.strip().rstrip("()")
        title = name.rsplit(".", 1)[-1] if tilde else name
        # "optional": a name that resolves to no documented object is shown as code, not an error.
        return f'<autoref identifier="{_identifier(obj, name)}" optional><code>{title}</code></autoref>'

    text = ROLE.sub(role, text)
    text = LONE_MARKER.sub("", text)
    return LITERAL_MARKER.sub(r"\1:", text)


class RstMarkup(griffe.Extension):
    """Rewrites every docstring of a package once it is loaded (names then resolve)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if obj.docstring is not None:
                obj.docstring.value = _markdown(obj, obj.docstring.value)
            stack += [member for member in obj.members.values() if not member.is_alias]
