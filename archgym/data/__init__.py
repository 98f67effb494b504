"""Floor 6 — data: evaluated designs as proxy-cost datasets (export, with a card), read back, and
space-filling samples collected through the loop."""

from archgym.data.export import (
    CARD_FORMAT,
    REQUIRED_COLUMNS,
    card_paths,
    export,
    load_dataset,
    metric_units,
    scrub_env_kwargs,
)
from archgym.data.sampling import METHODS, SpaceFillingAgent, collect, space_filling

__all__ = [
    "CARD_FORMAT",
    "METHODS",
    "REQUIRED_COLUMNS",
    "SpaceFillingAgent",
    "card_paths",
    "collect",
    "export",
    "load_dataset",
    "metric_units",
    "scrub_env_kwargs",
    "space_filling",
]
