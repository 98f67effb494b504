"""Floor 8 — reports from files alone: ``archgym report`` (a campaign's figures and tables) and
``archgym show`` (one run: what it found and how it got there). Nothing here builds an env or
modifies a record."""

from archgym.report.campaign import FIGURES, write_report
from archgym.report.run import show

__all__ = ["FIGURES", "show", "write_report"]
