"""Issue #29: a clone in a folder named ``archgym``, with Python run from the folder above it,
gets a clear error naming the cause instead of an empty namespace package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_checkout_as_archgym_says_why(tmp_path: Path) -> None:
    (tmp_path / "archgym").symlink_to(ROOT, target_is_directory=True)  # the clone, named archgym
    done = subprocess.run(
        [sys.executable, "-c", "import archgym"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "found the source checkout" in done.stderr and "not the archgym package" in done.stderr


def test_the_installed_package_imports_from_inside_the_checkout() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import archgym; print(archgym.__file__)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == ROOT / "archgym" / "__init__.py"
