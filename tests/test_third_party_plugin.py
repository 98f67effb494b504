"""Third-party plugins: really installed distributions, and broken ones.

The first group installs ``docs/examples/archgym-example-plugin`` and the deliberately broken
``tests/fixtures/broken_plugin`` with pip into a private target directory and drives them in a
subprocess with that directory on ``PYTHONPATH``: entry-point discovery then goes through real
``.dist-info`` metadata, exactly as for a user's ``pip install``, and the test process's own
plugin registry is untouched.

The second group feeds hand-made :class:`importlib.metadata.EntryPoint` objects to
``archgym.load_plugins(eps=...)`` in-process, to cover the ways a plugin can be rejected
(duplicate ids, the reserved ``archgym/`` namespace, malformed registrations).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
import warnings
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import gymnasium
import pytest

import archgym
from archgym.testing import install_into

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "archgym-example-plugin"
BROKEN = Path(__file__).resolve().parent / "fixtures" / "broken_plugin"


# --- real installs ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def plugin_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both plugins pip-installed (one pip run) into a fresh ``--target`` directory."""
    base = tmp_path_factory.mktemp("third_party")
    sources = []
    for src in (EXAMPLE, BROKEN):
        # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
        copy = base / "src" / src.name
        shutil.copytree(src, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        sources.append(str(copy))
    target = base / "site"
    install_into(target, *sources)
    for dist in ("archgym_example_plugin", "archgym_broken_plugin"):
        [info] = target.glob(f"{dist}-*.dist-info")
        assert "[archgym]" in (info / "entry_points.txt").read_text()
    return target


def run_python(code: str, target: Path, cwd: Path) -> str:
    """Run ``code`` in a fresh interpreter that sees ``target``; fail with its output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"subprocess failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_installed_plugin_is_registered_and_passes_check_env(plugin_target: Path, tmp_path: Path) -> None:
    out = run_python(
        """
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import archgym
        import gymnasium
        import numpy as np

        registry = archgym.get_registry()
        info = registry.plugins["example"]
        assert info.distribution == "archgym-example-plugin", info
        assert {"example/Knapsack-v0", "example/KnapsackDesign-v0"} <= set(info.envs), info
        assert "example/Knapsack-v0" in gymnasium.registry

        # A plain gymnasium.Env: MultiBinary actions, scalar float reward, deterministic.
        env = gymnasium.make("example/Knapsack-v0")
        assert not isinstance(env.unwrapped, archgym.DesignEnv)
        assert isinstance(env.action_space, gymnasium.spaces.MultiBinary)
        n = env.action_space.n
        first = env.reset(seed=3)[0]
        assert np.array_equal(first, env.reset(seed=3)[0])
        _, reward, terminated, _, info = env.step(np.zeros(n, dtype=np.int8))
        assert reward == 0.0 and terminated and info["fits"], (reward, info)
        _, reward, _, _, info = env.step(np.ones(n, dtype=np.int8))
        assert isinstance(reward, float) and reward < 0 and not info["fits"], (reward, info)
        archgym.check_env(env)

        # Its design space is derived from the action space.
        codec = archgym.codec_for(env)
        assert codec.design_space.names == [f"a[{i}]" for i in range(n)]

        # The DesignEnv variant from the same plugin.
        design_env = gymnasium.make("example/KnapsackDesign-v0")
        archgym.check_env(design_env)
        space = design_env.unwrapped.design_space
        design_env.reset(seed=0)
        _, reward, _, _, info = design_env.step(space.to_action({p: 1 for p in space.names}))
        assert not info["feasible"] and reward == design_env.unwrapped.objective.penalty, info

        plugin_warnings = [w for w in caught if issubclass(w.category, archgym.PluginWarning)]
        print("OK", sorted(registry.broken), [str(w.message) for w in plugin_warnings])
        """,
        plugin_target,
        tmp_path,
    )
    assert out.startswith("OK")


def test_installed_plugins_backend_serves_any_design_env(plugin_target: Path, tmp_path: Path) -> None:
    """The example plugin registers a backend through the hook, exactly as the built-in proxy and
    table backends are registered; every DesignEnv then takes it, built-in ones included."""
    out = run_python(
        """
        import archgym, gymnasium, pytest
        from archgym.loop import run

        registry = archgym.get_registry()
        assert registry.plugins["example"].backends == ["noisy"], registry.plugins["example"]
        assert {"proxy", "noisy"} <= set(registry.backends), registry.backends

        env = gymnasium.make("example/KnapsackDesign-v0", backend="noisy", noise_sd=2.0)
        inner = env.unwrapped
        design = {p: int(i == 0) for i, p in enumerate(inner.design_space.names)}  # fits the capacity
        env.reset(seed=0)
        _, reward, _, _, info = env.step(inner.design_space.to_action(design))
        exact = inner.evaluate_on("simulator", design)  # the same instance, its own simulator
        assert info["backend"] == "noisy" and info["feasible"], info
        noisy = info["metrics"]["value"]
        assert noisy != exact["value"] and abs(noisy - exact["value"]) < 20, (noisy, exact)
        assert reward == info["metrics"]["value"]
        assert inner.constructor_kwargs == {"n_items": 8, "instance_seed": 0}

        # A built-in env takes the third-party backend too, and a run records it.
        summary = run(env="archgym/Branin-v0", agent="random", budget=3, seed=0, out="noisy-run",
                      env_kwargs={"backend": "noisy", "noise_sd": 0.5}, progress=False)
        import pyarrow.parquet as pq
        assert set(pq.read_table("noisy-run/evaluations.parquet")["backend"].to_pylist()) == {"noisy"}

        with pytest.raises(ValueError, match="noise_sd: -1 is not legal"):
            gymnasium.make("example/KnapsackDesign-v0", backend="noisy", noise_sd=-1)
        with pytest.raises(ValueError, match="noise_sd is only legal with backend='noisy'"):
            gymnasium.make("example/KnapsackDesign-v0", noise_sd=1.0)
        misspelt = r"unknown constructor argument 'noise_std' \\(did you mean 'noise_sd'\\?\\)"
        with pytest.raises(ValueError, match=misspelt):
            gymnasium.make("example/KnapsackDesign-v0", backend="noisy", noise_std=1.0)
        print("OK")
        """,
        plugin_target,
        tmp_path,
    )
    assert out.startswith("OK")


def test_archgym_prefix_makes_env_without_importing_archgym(plugin_target: Path, tmp_path: Path) -> None:
    out = run_python(
        """
        import sys
        import gymnasium
        assert "archgym" not in sys.modules
        env = gymnasium.make("archgym:example/Knapsack-v0")
        assert "archgym" in sys.modules
        obs, _ = env.reset(seed=0)
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert isinstance(reward, float) and terminated and not truncated
        print("OK", type(env.unwrapped).__name__)
        """,
        plugin_target,
        tmp_path,
    )
    assert out.split() == ["OK", "Knapsack"]


def test_broken_plugin_is_reported_and_others_keep_working(plugin_target: Path, tmp_path: Path) -> None:
    out = run_python(
        """
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import archgym
        import gymnasium
        import numpy as np

        messages = [str(w.message) for w in caught if issubclass(w.category, archgym.PluginWarning)]
        assert any("'broken'" in m and "nonexistent_simulator" in m for m in messages), messages
        broken = archgym.get_registry().broken
        assert "broken" in broken and "ImportError" in broken["broken"], broken
        assert "broken" not in archgym.get_registry().plugins
        assert "broken/Never-v0" not in gymnasium.registry

        # The good third-party plugin still works ...
        env = gymnasium.make("example/Knapsack-v0")
        env.reset(seed=0)
        env.step(np.zeros(env.action_space.n, dtype=np.int8))
        # ... and so do the built-ins.
        env = gymnasium.make("archgym/Branin-v0")
        env.reset(seed=0)
        _, reward, _, _, info = env.step(env.unwrapped.design_space.to_action({"x1": 3.0, "x2": 2.0}))
        assert info["feasible"] and reward < 0, info
        print("OK")
        """,
        plugin_target,
        tmp_path,
    )
    assert out.strip() == "OK"


# --- in-process: rejected registrations --------------------------------------------------------


@pytest.fixture
def make_plugin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Callable[[str, str], EntryPoint]]:
    """Write plugin modules to ``tmp_path``; yield a factory of entry points for them.

    ``load_plugins(eps=...)`` replaces the global registry, so it is rebuilt from the installed
    entry points afterwards and the ids these tests registered are removed from Gymnasium.
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    modules: list[str] = []
    ids_before = set(gymnasium.registry)

    def factory(name: str, body: str) -> EntryPoint:
        module = f"archgym_test_{name}_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{module}.py").write_text("import archgym\n\n" + textwrap.dedent(body))
        modules.append(module)
        return EntryPoint(name=name, value=module, group="archgym")

    yield factory

    for env_id in set(gymnasium.registry) - ids_before:
        del gymnasium.registry[env_id]
    for module in modules:
        sys.modules.pop(module, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", archgym.PluginWarning)
        archgym.load_plugins()


def envs_hook(*registrations: dict[str, str]) -> str:
    return f"@archgym.hookimpl\ndef archgym_envs():\n    return {list(registrations)!r}\n"


def test_duplicate_id_of_another_plugin_is_broken(make_plugin: Callable[..., EntryPoint]) -> None:
    first = make_plugin("aaa_first", envs_hook({"id": "tpdup/Thing-v0", "entry_point": "first:Thing"}))
    second = make_plugin(
        "bbb_second",
        envs_hook(
            {"id": "tpdup/Other-v0", "entry_point": "second:Other"},
            {"id": "tpdup/Thing-v0", "entry_point": "second:Thing"},
        ),
    )
    with pytest.warns(archgym.PluginWarning, match="bbb_second") as record:
        registry = archgym.load_plugins(eps=[second, first])
    assert len(record) == 1
    assert registry is archgym.get_registry()
    assert registry.plugins["aaa_first"].envs == ["tpdup/Thing-v0"]
    assert "already registered by plugin 'aaa_first'" in registry.broken["bbb_second"]
    assert gymnasium.registry["tpdup/Thing-v0"].entry_point == "first:Thing"
    # A broken plugin registers none of its envs, not even the ones that were fine.
    assert "tpdup/Other-v0" not in gymnasium.registry


def test_id_already_known_to_gymnasium_is_broken(make_plugin: Callable[..., EntryPoint]) -> None:
    gymnasium.register(id="tpknown/Thing-v0", entry_point="elsewhere:Thing")
    ep = make_plugin("clash", envs_hook({"id": "tpknown/Thing-v0", "entry_point": "mine:Thing"}))
    with pytest.warns(archgym.PluginWarning, match="clash"):
        registry = archgym.load_plugins(eps=[ep])
    assert "already registered" in registry.broken["clash"]
    assert gymnasium.registry["tpknown/Thing-v0"].entry_point == "elsewhere:Thing"


@pytest.mark.parametrize("env_id", ["archgym/Sneaky-v0", "archgym/Branin-v0"])
def test_reserved_archgym_namespace_is_broken(make_plugin: Callable[..., EntryPoint], env_id: str) -> None:
    branin = gymnasium.registry["archgym/Branin-v0"].entry_point
    ep = make_plugin("squatter", envs_hook({"id": env_id, "entry_point": "squatter:Env"}))
    with pytest.warns(archgym.PluginWarning, match="squatter"):
        registry = archgym.load_plugins(eps=[ep])
    assert "'archgym' namespace is for built-ins" in registry.broken["squatter"]
    assert "squatter" not in registry.plugins
    assert "archgym/Sneaky-v0" not in gymnasium.registry
    assert gymnasium.registry["archgym/Branin-v0"].entry_point == branin


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("raise ImportError('no simulator')\n", "ImportError: no simulator"),
        (
            "@archgym.hookimpl\ndef archgym_envs():\n    return {'id': 'tpbad/A-v0', 'entry_point': 'm:A'}\n",
            "must return a list",
        ),
        (envs_hook({"id": "NoNamespace-v0", "entry_point": "m:A"}), "namespaced"),
        (envs_hook({"id": "tpbad/A-v0", "entry_point": "m.A"}), "entry_point"),
        (envs_hook({"id": "tpbad/A-v0", "entry_point": "m:A", "colour": "red"}), "colour"),
        ("@archgym.hookimpl\ndef archgym_envs():\n    raise RuntimeError('boom')\n", "RuntimeError: boom"),
    ],
    ids=["import-error", "not-a-list", "no-namespace", "bad-entry-point", "unknown-key", "hook-raises"],
)
def test_malformed_plugin_is_broken_and_others_keep_working(
    make_plugin: Callable[..., EntryPoint], body: str, reason: str
) -> None:
    bad = make_plugin("bad", body)
    good = make_plugin(
        "good", envs_hook({"id": "tpgood/Branin-v0", "entry_point": "archgym_analytic.problems:Branin"})
    )
    with pytest.warns(archgym.PluginWarning, match="'bad'"):
        registry = archgym.load_plugins(eps=[bad, good])
    assert reason in registry.broken["bad"]
    assert list(registry.plugins) == ["good"]
    assert "tpbad/A-v0" not in gymnasium.registry
    env = gymnasium.make("tpgood/Branin-v0")
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.unwrapped.design_space.to_action({"x1": 0.0, "x2": 0.0}))
    assert info["feasible"]


def test_registry_is_restored_after_in_process_tests() -> None:
    # Runs after the tests above (file order): the make_plugin finaliser rebuilt the registry.
    registry = archgym.get_registry()
    assert "analytic" in registry.plugins
    assert not any(name in registry.plugins for name in ("bad", "good", "squatter", "clash"))
    assert not any(env_id.startswith(("tpdup/", "tpgood/", "tpknown/")) for env_id in gymnasium.registry)
