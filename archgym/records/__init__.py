"""Floor 3 — evaluation records: the schema (one column list), the journal a running loop
appends to, the run directory's files, the codec that turns step output and record rows into
results, and the summary computed from the records.

See :mod:`archgym.records.schema` for the columns.
"""

from archgym.records.codec import design_of, result_from_row, result_from_step, statistics_of
from archgym.records.files import consolidate, read_card
from archgym.records.journal import Journal, read_journal
from archgym.records.schema import (
    COLUMNS,
    CONSTRAINT,
    JOURNAL,
    LOOP_COLUMNS,
    METRIC,
    OPTIONAL_COLUMNS,
    PARAM,
    PARQUET,
    REWARD,
    RUN_CONSTANT_COLUMNS,
    RUN_META,
    STAT,
    RecordLayout,
    layout_from_meta,
    layout_to_meta,
    run_constants,
)
from archgym.records.summary import summarize

__all__ = [
    "COLUMNS",
    "CONSTRAINT",
    "JOURNAL",
    "LOOP_COLUMNS",
    "METRIC",
    "OPTIONAL_COLUMNS",
    "PARAM",
    "PARQUET",
    "REWARD",
    "RUN_CONSTANT_COLUMNS",
    "RUN_META",
    "STAT",
    "Journal",
    "RecordLayout",
    "consolidate",
    "design_of",
    "layout_from_meta",
    "layout_to_meta",
    "read_card",
    "read_journal",
    "result_from_row",
    "result_from_step",
    "run_constants",
    "statistics_of",
    "summarize",
]
