"""Floor 8 — reports from files alone: ``archgym report`` (a campaign's figures and tables),
``archgym show`` (one run: what it found and how it got there), ``archgym compare`` (any set of
runs, grouped) and ``archgym export-optuna`` (runs as Optuna studies, for optuna-dashboard).
Nothing here builds an env or modifies a record."""

from archgym.report.campaign import FIGURES, write_report
from archgym.report.compare import compare, format_table
from archgym.report.optuna_export import export_optuna
from archgym.report.run import show

__all__ = ["FIGURES", "compare", "export_optuna", "format_table", "show", "write_report"]
