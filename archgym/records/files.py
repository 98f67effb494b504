"""A run directory's files: ``evaluations.parquet`` consolidated from ``run.json`` and the
journal, and the JSON cards (datasets, proxy models) that describe record files."""

from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from archgym.records.schema import JOURNAL, PARQUET, RUN_META, layout_from_meta, run_constants

__all__ = ["consolidate", "parquet_rows", "read_card"]


def consolidate(directory: Path) -> Path:
    """Write ``evaluations.parquet`` from ``run.json`` and the journal; works on killed runs.

    The journal is parsed by Arrow's JSON reader against the run's schema (a torn last line is
    cut off first), sorted by step and joined with the run-constant columns.

    Records are never destroyed: an existing ``evaluations.parquet`` holding more rows than the
    journal gives (an emptied or truncated journal) is left as it is, with a ValueError naming
    both counts. The new file replaces the old one atomically (a unique temporary file, renamed).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    directory = Path(directory)
    meta = json.loads((directory / RUN_META).read_text())
    constant = run_constants(meta)
    schema = layout_from_meta(meta).arrow_schema()
    per_row = pa.schema(
        [
            pa.field(f.name, pa.float64()) if f.name == "timestamp" else f
            for f in schema
            if f.name not in constant
        ]
    )
    path = directory / JOURNAL
    data = path.read_bytes() if path.exists() else b""
    data = data[: data.rfind(b"\n") + 1]  # drop a torn last line
    if data:
        options = pajson.ParseOptions(explicit_schema=per_row, unexpected_field_behavior="error")
        table = pajson.read_json(io.BytesIO(data), parse_options=options).sort_by("step")
    else:
        table = per_row.empty_table()
    n = table.num_rows
    micros = pc.cast(pc.round(pc.multiply(table["timestamp"], 1e6)), pa.int64())
    columns = {
        f.name: pa.array([constant[f.name]] * n, f.type)
        if f.name in constant
        else micros.cast(f.type)
        if f.name == "timestamp"
        else table[f.name]
        for f in schema
    }
    out = directory / PARQUET
    existing = parquet_rows(out)
    if existing is not None and existing > n:
        raise ValueError(
            f"{out} holds {existing} rows but {path} only {n}: refusing to replace the records with "
            "fewer (was the journal truncated?); the existing Parquet is kept"
        )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{PARQUET}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        pq.write_table(pa.table(columns, schema=schema), tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def parquet_rows(path: Path) -> int | None:
    """The row count of a Parquet file from its footer; None if there is none (or it is unreadable,
    with a warning: it holds no records anyone can read, so it may be rebuilt)."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        return None
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception as exc:  # pyarrow raises several kinds for a damaged footer
        warnings.warn(
            f"{path}: unreadable Parquet ({exc}); it will be rebuilt from the journal", stacklevel=3
        )
        return None


def read_card(path: Path, *, card_format: str, kind: str) -> dict[str, Any]:
    """A JSON card (dataset or proxy model) checked for its format tag; errors name the file."""
    try:
        card = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(card, dict) or card.get("format") != card_format:
        found = card.get("format") if isinstance(card, dict) else None
        raise ValueError(f"{path}: not an archgym {kind} card (format {found!r})")
    return card
