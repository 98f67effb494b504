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

__all__ = ["Journal", "JournalCheck", "check_journal", "count_journal_rows", "read_journal"]


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


def count_journal_rows(directory: Path) -> int:
    """How many complete lines a run's journal holds (0 if it has none), without parsing them."""
    path = Path(directory) / JOURNAL
    if not path.exists():
        return 0
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


class JournalCheck:
    """A journal's rows by step, checked (:func:`check_journal`); ``dropped`` lists the 1-based
    line numbers of exact duplicates left out, ``lines`` the raw complete lines kept."""

    def __init__(self, rows: dict[int, dict[str, Any]], lines: list[bytes], dropped: list[tuple[int, int]]):
        self.rows, self.lines, self.dropped = rows, lines, dropped


def check_journal(
    directory: Path, *, required: Iterable[str], allowed: Iterable[str], budget: int
) -> JournalCheck:
    """Read a run's journal checking what a resume relies on: each complete line is a JSON object
    with the ``required`` fields and no field outside ``allowed``, an integer ``step`` in
    ``[0, budget)`` and an integer ``batch``; no step twice. A line repeating an earlier one exactly
    is left out (recorded in ``dropped``); anything else is a ValueError naming the file and the
    1-based line. A torn last line (a kill mid-write) is skipped, as everywhere."""
    path = Path(directory) / JOURNAL
    required, allowed = list(required), set(allowed)
    required_set = set(required)
    rows: dict[int, dict[str, Any]] = {}
    first_line: dict[int, int] = {}
    kept: list[bytes] = []
    dropped: list[tuple[int, int]] = []
    data = path.read_bytes() if path.exists() else b""
    try:  # text lines parse faster (json.loads of bytes detects their encoding line by line)
        lines: list[str] | list[bytes] = data.decode().split("\n")[:-1]
    except UnicodeDecodeError:  # damaged: the bytes, so the error below names the line
        lines = data.split(b"\n")[:-1]
    for number, line in enumerate(lines, start=1):  # the last piece is torn or empty
        where = f"{path}:{number}"
        if not line.strip():
            raise ValueError(f"{where}: empty line in the journal (damaged; archgym writes none)")
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{where}: not a JSON journal row ({exc}); the journal is damaged") from None
        if type(row) is not dict:
            raise ValueError(f"{where}: a journal row must be a JSON object, got {type(row).__name__}")
        fields = row.keys()
        if not (required_set <= fields and fields <= allowed):  # set operations: resume is O(rows)
            missing = [f for f in required if f not in row]
            if missing:
                raise ValueError(f"{where}: journal row lacks field(s) {', '.join(missing)}")
            extra = sorted(set(row) - allowed)
            raise ValueError(f"{where}: journal row has field(s) this run's schema lacks: {', '.join(extra)}")
        step, batch = row["step"], row["batch"]
        if type(step) is not int or not 0 <= step < budget:  # JSON gives int (never a subclass) or not
            raise ValueError(f"{where}: step {step!r} is not an integer in [0, {budget}) (the run's budget)")
        if type(batch) is not int:
            raise ValueError(f"{where}: batch {batch!r} is not an integer")
        if step in rows:
            if rows[step] == row:
                dropped.append((number, first_line[step]))
                continue
            raise ValueError(
                f"{where}: step {step} is recorded twice with different content (first at line "
                f"{first_line[step]}); the journal is damaged and can't be resumed safely"
            )
        rows[step] = row
        first_line[step] = number
    if dropped:  # the lines to keep, for a rewrite without the duplicates
        skip = {number for number, _ in dropped}
        pieces = enumerate(data.split(b"\n")[:-1], start=1)
        kept = [piece + b"\n" for number, piece in pieces if number not in skip]
    return JournalCheck(rows, kept, dropped)
