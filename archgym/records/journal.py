"""The append-only journal a running evaluation loop writes: one JSON line per evaluation,
flushed as each evaluation completes, so a killed run loses at most the evaluations in flight (a
torn last line is ignored)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from archgym.records.schema import JOURNAL

__all__ = ["Journal", "read_journal"]


class Journal:
    """Append-only JSON-lines journal. Each :meth:`append` is one unbuffered ``write`` to the
    OS, so the rows survive the process being killed right after it."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / JOURNAL
        _drop_torn_line(self.path)  # a resumed run appends after whole lines only
        self._file = self.path.open("ab", buffering=0)
        self._encode = json.JSONEncoder(default=_json_default).encode

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._file.write("".join(self._encode(row) + "\n" for row in rows).encode())

    def close(self) -> None:
        os.fsync(self._file.fileno())
        self._file.close()


def _drop_torn_line(path: Path) -> None:
    """Cut a journal back to its last complete line (a kill can leave half a line)."""
    if not path.exists():
        return
    with path.open("rb+") as fh:
        data = fh.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            fh.truncate(end)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {value!r}")


def read_journal(directory: Path) -> list[dict[str, Any]]:  # used to resume
    """All complete rows of a run's journal (a torn last line from a kill is skipped)."""
    return list(_iter_journal(Path(directory) / JOURNAL))


def _iter_journal(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                return  # torn write from a killed run
            yield json.loads(line)
