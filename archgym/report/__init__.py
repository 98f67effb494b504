"""Floor 8 — reports from files alone: ``archgym report`` (a campaign's figures and tables) and
``archgym show`` (one run: what it found and how it got there) and ``archgym compare`` (any
set of runs, grouped). Nothing here builds an env or
modifies a record."""

from archgym.report.campaign import FIGURES, write_report
from archgym.report.compare import compare, format_table
from archgym.report.run import show

__all__ = ["FIGURES", "compare", "format_table", "show", "write_report"]
