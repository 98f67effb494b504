"""The flat module paths of archgym 0.1 keep working for one release: each serves the same objects
as the package it moved to, with a DeprecationWarning pointing at the importing line."""

from __future__ import annotations

import importlib

import pytest

MOVED = {
    "archgym.agent": ("archgym.search", ["Agent", "EvalResult", "Problem", "AskTellAdapter"]),
    "archgym.registry": ("archgym.plugins", ["AgentSpec", "get_registry", "load_entry_point"]),
    "archgym.hookspecs": ("archgym.plugins", ["hookimpl", "hookspec"]),
    "archgym.derive": ("archgym.env", ["codec_for", "derive_design_space", "ActionCodec"]),
    "archgym.wrappers": ("archgym.env", ["FlatActions", "ScalarizeReward", "reward_space_of"]),
    "archgym.checker": ("archgym.env", ["check_env"]),
    "archgym.objectives": ("archgym.spaces", ["Objective", "Objectives", "Reward"]),
    "archgym.evaluation": ("archgym.execution", ["EnvRecipe", "Task", "resolve_spec"]),
    "archgym.executors": ("archgym.execution", ["ProcessExecutor", "spawn_pool"]),
    "archgym.summary": ("archgym.records", ["summarize"]),
    "archgym.dataset": ("archgym.data", ["export", "load_dataset", "collect"]),
    "archgym.campaign_tables": ("archgym.campaign", ["write_tables", "best_so_far"]),
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_serves_the_new_objects_with_a_deprecation_warning(old: str) -> None:
    new, names = MOVED[old]
    module, target = importlib.import_module(old), importlib.import_module(new)
    for name in names:
        with pytest.warns(DeprecationWarning, match=rf"{old} is deprecated .* import from {new}"):
            assert getattr(module, name) is getattr(target, name)
    with pytest.raises(AttributeError):
        module.__path__  # noqa: B018 - an alias is a module, never a package
