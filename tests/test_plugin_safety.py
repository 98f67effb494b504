"""Hostile third-party plugins, really installed: they can't hijack a built-in name or kill a
command, and a slow one is named.

One throw-away distribution is pip-installed into a private ``--target`` directory with five
entry points whose names sort before every built-in plugin's (so, loaded by name, they would
come first): an agent impostor, an env-id squatter, one that raises ``SystemExit`` at import, one
that raises ``KeyboardInterrupt`` at import, and one that sleeps at import. A fresh interpreter
with that directory on ``PYTHONPATH`` then uses archgym as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from archgym.testing import install_into

SLEEP_S = 1.0
THRESHOLD_S = SLEEP_S / 5  # the slow plugin sleeps 5x the threshold: not a timing test of the machine

MODULES = {
    "aaa_impostor": """
        import archgym

        @archgym.hookimpl
        def archgym_agents():
            return [archgym.AgentSpec("random", "aaa_impostor:Impostor", "claims to be random search")]
        """,
    "aab_squatter": """
        import gymnasium

        # Behind the hook's back: overwrite a built-in env's registration at import.
        gymnasium.register(id="archgym/Branin-v0", entry_point="aab_squatter:Evil")
        """,
    "aac_exits": "raise SystemExit(7)\n",
    "aad_interrupts": "raise KeyboardInterrupt\n",
    "aae_slow": f"""
        import time

        import archgym

        time.sleep({SLEEP_S})

        @archgym.hookimpl
        def archgym_agents():
            entry = "archgym_agents.random_search:RandomSearch"
            return [archgym.AgentSpec("slow_random", entry, "slow to import")]
        """,
}


@pytest.fixture(scope="module")
def hostile_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    src = base / "src"
    src.mkdir()
    for module, code in MODULES.items():
        (src / f"{module}.py").write_text(textwrap.dedent(code))
    entry_points = "\n".join(f"{m} = {m!r}".replace("'", '"') for m in MODULES)
    (src / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "archgym-hostile-plugins"
            version = "0.0.1"

            [tool.setuptools]
            py-modules = {modules}

            [project.entry-points.archgym]
            """
        )
        .format(modules=list(MODULES))
        .replace("'", '"')
        + entry_points
        + "\n"
    )
    target = base / "site"
    install_into(target, src)
    return target


def _python(code: str, target: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **env}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_hostile_plugins_are_reported_and_the_built_ins_keep_their_names(
    hostile_target: Path, tmp_path: Path
) -> None:
    proc = _python(
        """
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import archgym
        import gymnasium
        from archgym.loop import run

        registry = archgym.get_registry()
        broken = registry.broken
        print(sorted(broken))
        # The impostor loses to the built-in agent, and the message names both.
        assert "aaa_impostor" in broken, broken
        both = "agent name 'random' is already registered by plugin 'agents' (archgym)"
        assert both in broken["aaa_impostor"], broken
        assert registry.agent("random").entry_point == "archgym_agents.random_search:RandomSearch"
        # The squatter's gymnasium.register is undone, and it is the one marked broken.
        squatted = "re-registered env id 'archgym/Branin-v0' of plugin 'analytic' (archgym)"
        assert squatted in broken.get("aab_squatter", ""), broken
        assert gymnasium.spec("archgym/Branin-v0").entry_point == "archgym_analytic.problems:Branin"
        # SystemExit and KeyboardInterrupt at import mark the plugin broken; the command goes on.
        assert broken["aac_exits"] == "SystemExit: 7", broken
        assert broken["aad_interrupts"].startswith("KeyboardInterrupt"), broken
        # The slow plugin works, and a warning names it.
        assert "aae_slow" in registry.plugins and "slow_random" in registry.agents
        slow = [str(w.message) for w in caught if "took" in str(w.message)]
        assert len(slow) == 1 and "'aae_slow'" in slow[0] and "ARCHGYM_PLUGIN_IMPORT_WARN_S" in slow[0], slow
        # Every built-in keeps working: a real run with the real random search.
        assert not [name for name in broken if not name.startswith("aa")], broken
        summary = run(env="archgym/Branin-v0", agent="random", budget=5, seed=0, out="r", progress=False)
        assert summary["n_evaluations"] == 5 and summary["best_reward"] is not None
        print("OK")
        """,
        hostile_target,
        tmp_path,
        ARCHGYM_PLUGIN_IMPORT_WARN_S=str(THRESHOLD_S),
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), proc.stdout + proc.stderr


def test_the_cli_survives_a_plugin_that_exits_at_import(hostile_target: Path, tmp_path: Path) -> None:
    proc = _python(
        "from archgym.cli import main; raise SystemExit(main(['envs']))",
        hostile_target,
        tmp_path,
        ARCHGYM_PLUGIN_IMPORT_WARN_S="60",
    )
    assert proc.returncode == 0, proc.stderr
    assert "archgym/Branin-v0" in proc.stdout
    assert "aac_exits" in proc.stderr and "SystemExit: 7" in proc.stderr
    assert "took" not in proc.stderr  # below the threshold: no slow-import warning


def test_a_bad_threshold_is_named_and_the_default_used(hostile_target: Path, tmp_path: Path) -> None:
    proc = _python("import archgym", hostile_target, tmp_path, ARCHGYM_PLUGIN_IMPORT_WARN_S="nan")
    assert proc.returncode == 0, proc.stderr
    assert "ARCHGYM_PLUGIN_IMPORT_WARN_S='nan' is not legal" in proc.stderr
