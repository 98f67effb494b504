"""A third-party backend: the env's own evaluation with Gaussian measurement noise, for studies of
how search strategies cope with noisy measurements. Registered by :mod:`archgym_example.plugin`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import archgym


class NoisyMeasurements:
    """Adds ``N(0, noise_sd²)`` to every metric the env measures, drawn from the evaluation's
    seeded ``context.rng``, so a noisy run is reproducible from its seed."""

    def __init__(self, env: archgym.DesignEnv, noise_sd: float) -> None:
        self.env, self.noise_sd = env, noise_sd

    def evaluate(self, design: archgym.Design, context: archgym.EvalContext) -> dict[str, float]:
        exact = self.env.evaluate(design, context)
        return {m: float(v) + float(context.rng.normal(0.0, self.noise_sd)) for m, v in exact.items()}


def noisy(
    env: archgym.DesignEnv, constructor_kwargs: Mapping[str, Any], *, noise_sd: Any = 1.0
) -> NoisyMeasurements:
    """The backend factory: gets the env just built and its constructor arguments."""
    if (
        isinstance(noise_sd, bool)
        or not isinstance(noise_sd, int | float)
        or not math.isfinite(noise_sd)
        or noise_sd < 0
    ):
        raise ValueError(f"noise_sd: {noise_sd!r} is not legal; legal values: a finite number >= 0")
    return NoisyMeasurements(env, float(noise_sd))
