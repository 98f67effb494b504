"""``import archgym`` stays light: no agent, simulator or data library is imported."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "torch",
    "botorch",
    "stable_baselines3",
    "ribs",
    "sklearn",
    "pandas",
    "pyarrow",
    "scipy",
    "optuna",
    "cmaes",
    "nevergrad",
    "pymoo",
    "smac",
    "ConfigSpace",
)
BUILTIN_IDS = ("archgym/Branin-v0", "archgym/Hartmann6-v0", "archgym/MixedConditional-v0", "archgym/DTLZ2-v0")


def _imported_modules(importtime_stderr: str) -> set[str]:
    """Module names from ``-X importtime`` lines: ``import time: self | cumulative | name``."""
    names = set()
    for line in importtime_stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        name = line.split("|")[-1].strip()
        if name and name != "imported package":  # the header line
            names.add(name)
    return names


def test_import_archgym_imports_no_heavy_library() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import archgym"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    modules = _imported_modules(result.stderr)
    assert "archgym" in modules and "gymnasium" in modules  # the parse works
    top_level = {name.split(".")[0] for name in modules}
    heavy = sorted(set(HEAVY) & top_level)
    assert not heavy, f"`import archgym` imports {heavy}"


def test_import_archgym_registers_the_builtin_envs() -> None:
    code = (
        "import gymnasium, archgym\n"
        f"ids = {BUILTIN_IDS!r}\n"
        "missing = [i for i in ids if i not in gymnasium.registry]\n"
        "assert not missing, missing\n"
        "assert set(ids) <= set(archgym.get_registry().env_plugins), archgym.get_registry()\n"
        "print('registered', len(ids))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"registered {len(BUILTIN_IDS)}"
