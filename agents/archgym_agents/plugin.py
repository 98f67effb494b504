"""Registers the built-in agents (specs only: listing them imports no agent library)."""

import archgym
from archgym import AgentSpec


@archgym.hookimpl
def archgym_agents() -> list[AgentSpec]:
    return []
