"""A report document rendered to both Markdown and self-contained HTML: the campaign report and
the per-run views write the same blocks (headings, paragraphs, tables, figures); and the one
reader of the JSON files (summaries, run.json) they are made from."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Doc", "cell", "read_json"]


@dataclass
class Doc:
    """Report blocks rendered to both Markdown and HTML."""

    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def h(self, text: str) -> None:
        self.blocks.append(("h", text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.blocks.append(("table", (list(header), [[cell(v) for v in r] for r in rows])))

    def img(self, name: str, caption: str) -> None:
        self.blocks.append(("img", (name, caption)))

    def markdown(self, title: str) -> str:
        out = [f"# {title}", ""]
        for kind, value in self.blocks:
            if kind == "h":
                out += [f"## {value}", ""]
            elif kind == "p":
                out += [value, ""]
            elif kind == "table":
                header, rows = value
                out += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
                out += ["| " + " | ".join(r) + " |" for r in rows] + [""]
            else:
                out += [f"![{value[1]}](figures/{value[0]})", "", f"*{value[1]}*", ""]
        return "\n".join(out)

    def html(self, title: str) -> str:
        e = html.escape
        out = [
            f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:"
            "collapse}td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}</style></head>"
            f"<body><h1>{e(title)}</h1>"
        ]
        for kind, value in self.blocks:
            if kind == "h":
                out.append(f"<h2>{e(value)}</h2>")
            elif kind == "p":
                out.append(f"<p>{e(value)}</p>")
            elif kind == "table":
                header, rows = value
                out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
                out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows]
                out.append("</table>")
            else:
                out.append(
                    f"<figure><img src='figures/{e(value[0])}'><figcaption>{e(value[1])}"
                    "</figcaption></figure>"
                )
        return "\n".join([*out, "</body></html>"])


def cell(value: Any) -> str:
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def read_json(path: Path, *, missing_ok: bool = False) -> dict[str, Any]:
    """A JSON object a run or campaign wrote; an unreadable one is an error naming it.
    ``missing_ok``: a file that is not there reads as ``{}`` (a killed run has no summary)."""
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise ValueError(f"{path}: not readable JSON (the file is missing)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not readable JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: not a JSON object")
    return value
