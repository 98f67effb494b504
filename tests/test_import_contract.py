"""The import contract of the core, the plugins and the agents, checked from source with ``ast``.

* The core ``archgym/`` is layered sub-packages (:data:`FLOORS`): a package imports only packages
  on lower floors (and its own modules); packages on the same floor do not import each other.
* No import cycles, counting imports inside functions (imports under ``if TYPE_CHECKING:`` do not
  count). Importing ``archgym.a.b`` also runs ``archgym.a``'s ``__init__``: that is an edge too.
* The root facade ``archgym/__init__.py`` may import any core package; only the top floor (the
  command line) may import the facade itself (``import archgym``, ``from archgym import Name``).
* The core imports no plugin or agent (no ``archgym_*`` package).
* Deprecated alias modules (:data:`ALIASES`, the old flat paths kept for one release) import only
  their target package, :data:`ALIAS_HELPER` and the standard library; nothing imports them.
* Plugins, agents and the example third-party plugin import only the public core API (``archgym``
  or ``archgym.<floor package>`` exactly, no name starting with ``_``) and never each other.

Nothing is imported: every ``.py`` file is parsed, so the check is fast and sees imports that
only run inside functions.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = "archgym"

# The floors, low -> high (the index is the floor number): the single source of truth.
# To move a package, move its name to another floor; to add one, add its name to a floor.
FLOORS: tuple[tuple[str, ...], ...] = (
    # 0: design spaces, parameters, objectives; entry-point strings; the helper behind the aliases
    ("archgym.spaces", "archgym.entrypoints", "archgym._moved"),
    # 1: env base class, design<->action codec, wrappers, checker
    ("archgym.env",),
    # 2: agent API (Agent, EvalResult, Problem, Proposal), AgentSpec, problem_of, BudgetExhausted
    ("archgym.search",),
    # 3: record schema/journal/files/codec/summary; hook specs + registry; test helpers
    ("archgym.records", "archgym.plugins", "archgym.testing"),
    # 4: evaluation tasks, executors (processes, Dask)
    ("archgym.execution",),
    # 5: the run: setup, recorder, ledger, drivers, resume, finish
    ("archgym.loop",),
    # 6: dataset export, sampling, collect
    ("archgym.data",),
    # 7: proxy models; campaigns and their tables
    ("archgym.proxy", "archgym.campaign"),
    # 8: reports from campaign files
    ("archgym.report",),
    # 9: the command line (the top floor: the only one that may import the root facade)
    ("archgym.cli", "archgym.__main__"),
)

# Deprecated alias modules (old flat path -> the package that replaced it), kept for one release.
ALIASES: dict[str, str] = {
    "archgym.agent": "archgym.search",
    "archgym.derive": "archgym.env",
    "archgym.wrappers": "archgym.env",
    "archgym.checker": "archgym.env",
    "archgym.objectives": "archgym.spaces",
    "archgym.registry": "archgym.plugins",
    "archgym.hookspecs": "archgym.plugins",
    "archgym.evaluation": "archgym.execution",
    "archgym.executors": "archgym.execution",
    "archgym.summary": "archgym.records",
    "archgym.dataset": "archgym.data",
    "archgym.campaign_tables": "archgym.campaign",
}

# What every alias module may import besides its target (it builds the alias's ``__getattr__``).
ALIAS_HELPER = "archgym._moved"

# Where the plugins, the agents and the example third-party plugin live (globs under the root).
EXTENSIONS: tuple[str, ...] = ("plugins/archgym_*", "agents/archgym_*", "docs/examples/*/archgym_*")


@dataclass(frozen=True)
class Import:
    """One imported module, resolved: ``from archgym.env import DesignEnv`` -> ``archgym.env``."""

    file: str  # relative to the root, with forward slashes
    line: int
    module: str  # the module the statement runs (``pkg.name`` when ``name`` is a module on disk)
    name: str | None  # the name taken from ``module`` (None for ``import module``)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


# --- collecting imports -----------------------------------------------------------------------


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


class _Collector(ast.NodeVisitor):
    """Every import statement at any depth, except in the body of ``if TYPE_CHECKING:``."""

    def __init__(self) -> None:
        self.statements: list[ast.Import | ast.ImportFrom] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:  # the ``else:`` branch runs
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.statements.append(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.statements.append(node)


def _modules_under(package_dir: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under ``package_dir``."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((package, *parts))] = path
    return found


def _imports_of(module: str, path: Path, root: Path, known: set[str]) -> list[Import]:
    file = path.relative_to(root).as_posix()
    collector = _Collector()
    collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=file))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in collector.statements:
        if isinstance(node, ast.Import):
            found += [Import(file, node.lineno, alias.name, None) for alias in node.names]
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            if node.level - 1 >= len(parts):
                raise AssertionError(f"{file}:{node.lineno}: relative import beyond the top-level package")
            base = ".".join([*parts[: len(parts) - node.level + 1], *([node.module] if node.module else [])])
        for alias in node.names:
            if f"{base}.{alias.name}" in known:  # ``from pkg import module``
                found.append(Import(file, node.lineno, f"{base}.{alias.name}", None))
            else:
                found.append(Import(file, node.lineno, base, alias.name))
    return found


# --- the checker ------------------------------------------------------------------------------


def _top(module: str) -> str:
    """The top-level core package or module of ``module``: ``archgym.loop.driver`` -> ``archgym.loop``."""
    return ".".join(module.split(".")[:2])


def _is_dunder(module: str) -> bool:
    """``archgym.__main__``: the entry script, a module by nature."""
    last = module.rpartition(".")[2]
    return last.startswith("__") and last.endswith("__")


def _parents(module: str) -> Iterator[str]:
    """``archgym.a.b.c`` -> ``archgym.a.b``, ``archgym.a`` (the root facade excluded)."""
    parts = module.split(".")
    for end in range(len(parts) - 1, 1, -1):
        yield ".".join(parts[:end])


def _table_problems(
    floor_of: Mapping[str, int], floors: Sequence[Sequence[str]], aliases: Mapping[str, str]
) -> list[str]:
    problems = []
    names = [name for names in floors for name in names]
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.append(f"FLOORS: {name} is on more than one floor")
    for name in [*names, *aliases]:
        if name.count(".") != 1 or not name.startswith(f"{CORE}."):
            problems.append(f"FLOORS/ALIASES: {name} is not a top-level module of {CORE} ({CORE}.<name>)")
    for old, new in aliases.items():
        if old in floor_of:
            problems.append(f"ALIASES: {old} is also on floor {floor_of[old]}")
        if new not in floor_of:
            problems.append(f"ALIASES: {old} points to {new}, which is on no floor")
    return problems


def _layout_problems(root: Path, floor_of: Mapping[str, int], aliases: Mapping[str, str]) -> list[str]:
    """Every top-level module or package under ``archgym/`` is on a floor or is an alias."""
    problems = []
    for entry in sorted((root / CORE).iterdir()):
        if entry.name in ("__init__.py", "__pycache__"):
            continue
        if entry.is_file() and entry.suffix == ".py":
            name, flat = f"{CORE}.{entry.stem}", True
        elif entry.is_dir() and any(entry.rglob("*.py")):
            name, flat = f"{CORE}.{entry.name}", False
        else:
            continue  # data files
        file = entry.relative_to(root).as_posix() + ("" if flat else "/")
        if name in aliases:
            if not flat:
                problems.append(f"{file}: deprecated alias {name} must stay a flat module ({file[:-1]}.py)")
        elif name not in floor_of:
            problems.append(
                f"{file}: unassigned module {name} — add it to a floor in FLOORS "
                "(or to ALIASES if it is a deprecated alias)"
            )
        elif flat and (root / CORE / entry.stem).is_dir():
            problems.append(
                f"{file}: {name} is both a flat module and the sub-package {CORE}/{entry.stem}/ "
                "(the package shadows the module): keep one"
            )
        elif not flat and not (entry / "__init__.py").is_file():
            problems.append(f"{file}: sub-package {name} has no __init__.py")
    return problems


def _core_problems(
    imports: Mapping[str, list[Import]],
    known: set[str],
    floor_of: Mapping[str, int],
    aliases: Mapping[str, str],
    extensions: set[str],
) -> list[str]:
    problems = []
    top_floor = max(floor_of.values())
    for module, found in imports.items():
        own = _top(module) if module != CORE else CORE
        floor = floor_of.get(own)
        for imp in found:
            first = imp.module.split(".")[0]
            if first in extensions or first.startswith(f"{CORE}_"):
                problems.append(
                    f"{imp.where} imports {imp.module}: the core imports no plugin or agent package"
                )
                continue
            if first != CORE:  # the standard library or a third-party library
                if own in aliases and first not in sys.stdlib_module_names:
                    problems.append(
                        f"{imp.where} imports {imp.module}: deprecated alias {own} may import only "
                        f"{aliases[own]} (and the standard library)"
                    )
                continue
            if imp.module == CORE:  # ``import archgym`` or ``from archgym import Name``
                what = f"from {CORE} import {imp.name}" if imp.name else f"import {CORE}"
                if own == CORE or floor == top_floor:
                    continue
                on_top = ", ".join(sorted(name for name, f in floor_of.items() if f == top_floor))
                problems.append(
                    f"{imp.where} imports the root facade {CORE} (`{what}`) from {own}: only the top floor "
                    f"(floor {top_floor}: {on_top}) may import the facade; "
                    "import from the package that defines the name"
                )
                continue
            target = _top(imp.module)
            if target in aliases and target != own:
                problems.append(
                    f"{imp.where} imports {imp.module}: deprecated alias module (use {aliases[target]})"
                )
                continue
            if own in aliases:
                if target not in (aliases[own], own, ALIAS_HELPER):
                    problems.append(
                        f"{imp.where} imports {imp.module}: deprecated alias {own} may import only "
                        f"{aliases[own]} (and the standard library)"
                    )
                continue
            if own == CORE or target == own:
                continue
            if target not in floor_of:
                if target not in known:
                    problems.append(f"{imp.where} imports {imp.module}: no such module, and on no floor")
                continue  # an unassigned module on disk is reported once, by the layout check
            if floor is None:
                continue  # the importer is unassigned: reported by the layout check
            target_floor = floor_of[target]
            if target_floor > floor:
                rule = "upward import"
            elif target_floor == floor and not _is_dunder(own):  # ``__main__`` may run its floor's cli
                rule = f"same-floor import (packages on floor {floor} must not import each other)"
            else:
                continue
            problems.append(
                f"{imp.where} imports {imp.module} (floor {target_floor}) from {own} (floor {floor}): {rule}"
            )
    return problems


def _extension_problems(
    imports: Mapping[str, list[Import]],
    floor_of: Mapping[str, int],
    aliases: Mapping[str, str],
    extensions: set[str],
) -> list[str]:
    problems = []
    for module, found in imports.items():
        own = module.split(".")[0]
        for imp in found:
            first = imp.module.split(".")[0]
            if first == own:
                continue  # its own modules, private ones included
            if first in extensions or first.startswith(f"{CORE}_"):
                problems.append(
                    f"{imp.where} imports {imp.module} from {own}: plugins and agents never import each other"
                )
                continue
            if first != CORE:
                continue
            parts = imp.module.split(".")
            target = ".".join(parts[:2])
            if target in aliases:
                rule = f"deprecated alias module (use {aliases[target]})"
            elif any(part.startswith("_") for part in parts[1:]):
                rule = f"private module (public API: {CORE} or {CORE}.<sub-package>)"
            elif len(parts) > 2:
                rule = f"deep module (public API: {CORE} or {CORE}.<sub-package>; import from {target})"
            elif len(parts) == 2 and target not in floor_of:
                rule = f"not public API ({target} is on no floor in FLOORS)"
            elif imp.name is not None and imp.name.startswith("_"):
                problems.append(f"{imp.where} imports {imp.name} from {imp.module}: private name")
                continue
            else:
                continue
            problems.append(f"{imp.where} imports {imp.module}: {rule}")
    return problems


def _strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _shortest_cycle(start: str, graph: Mapping[str, set[str]], members: set[str]) -> list[str]:
    """``[start, ..., start]`` through ``members``: breadth first, so the shortest."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in sorted(graph[node] & members):
            if succ == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if succ not in came_from:
                came_from[succ] = node
                queue.append(succ)
    raise AssertionError(f"{start} is on no cycle")


def _cycle_problems(imports: Mapping[str, list[Import]], known: set[str]) -> list[str]:
    """Cycles among core modules. ``import archgym.a.b`` is an edge to ``archgym.a.b`` and to
    ``archgym.a`` (its ``__init__`` runs first), but not to the importer's own parent packages: they
    are already running when the importer runs. The root facade is an edge only when named."""
    graph: dict[str, set[str]] = defaultdict(set)
    sites: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, found in imports.items():
        ancestors = set(_parents(module))  # already imported by the time ``module`` runs
        for imp in found:
            if imp.module.split(".")[0] != CORE:
                continue
            targets = [(imp.module, f"imports {imp.module}")]
            targets += [
                (parent, f"imports {imp.module}, which runs {parent}/__init__")
                for parent in _parents(imp.module)
                if parent not in ancestors
            ]
            for target, how in targets:
                if target in known and target != module:
                    graph[module].add(target)
                    sites[module, target].append(f"{imp.where} {how}")
    problems = []
    for component in _strongly_connected(graph):
        if len(component) < 2:
            continue
        covered: set[str] = set()
        for member in component:  # one shortest cycle through each module not on a cycle reported yet
            if member in covered:
                continue
            cycle = _shortest_cycle(member, graph, set(component))
            covered |= set(cycle)
            lines = [f"import cycle: {' -> '.join(cycle)}"]
            lines += [f"    {sites[a, b][0]}" for a, b in itertools.pairwise(cycle)]
            problems.append("\n".join(lines))
    return problems


def check_import_contract(
    root: Path,
    floors: Sequence[Sequence[str]] = FLOORS,
    aliases: Mapping[str, str] = ALIASES,
    extensions: Sequence[str] = EXTENSIONS,
) -> list[str]:
    """Every breach of the import contract in the tree at ``root``, one message each."""
    core_dir = root / CORE
    if not (core_dir / "__init__.py").is_file():
        return [f"{core_dir}: no {CORE} package"]
    floor_of = {name: number for number, names in enumerate(floors) for name in names}
    core = _modules_under(core_dir, CORE)
    extension_modules: dict[str, Path] = {}
    for pattern in extensions:
        for package_dir in sorted(root.glob(pattern)):
            if package_dir.is_dir():
                extension_modules |= _modules_under(package_dir, package_dir.name)
    extension_names = {module.split(".")[0] for module in extension_modules}
    known = set(core) | set(extension_modules)
    core_imports = {module: _imports_of(module, path, root, known) for module, path in core.items()}
    extension_imports = {
        module: _imports_of(module, path, root, known) for module, path in extension_modules.items()
    }
    problems = [
        *_table_problems(floor_of, floors, aliases),
        *_layout_problems(root, floor_of, aliases),
        *_core_problems(core_imports, known, floor_of, aliases, extension_names),
        *_cycle_problems(core_imports, known),
        *_extension_problems(extension_imports, floor_of, aliases, extension_names),
    ]
    return list(dict.fromkeys(problems))  # one message per breach, however many names it imports


def _report(problems: list[str]) -> str:
    return f"{len(problems)} breaches of the import contract:\n" + "\n".join(problems)


# --- the repository ---------------------------------------------------------------------------


def test_the_repository_keeps_the_import_contract() -> None:
    assert (REPO / CORE / "__init__.py").is_file() and any((REPO / "plugins").glob("archgym_*"))
    problems = check_import_contract(REPO)
    assert not problems, _report(problems)


# --- self-tests on synthetic trees ------------------------------------------------------------

TINY_FLOORS = (
    ("archgym.spaces",),
    ("archgym.env", "archgym.records"),
    ("archgym.loop",),
    ("archgym.cli", "archgym.__main__"),
)
TINY_ALIASES = {"archgym.derive": "archgym.env"}

# A tree that keeps the contract; each self-test changes or adds files and expects exact breaches.
CLEAN = {
    "archgym/__init__.py": "from archgym.loop import run\nfrom .env import Env\n",
    "archgym/spaces/__init__.py": "import numpy as np\n\nSPACE = np.zeros(1)\n",
    "archgym/env/__init__.py": "from archgym.env.base import Env\nfrom archgym.env.codec import codec\n",
    "archgym/env/base.py": "from archgym.spaces import SPACE\nfrom .codec import codec\n\nclass Env: ...\n",
    "archgym/env/codec.py": "from .. import spaces\n\ndef codec(): ...\n",
    "archgym/records/__init__.py": "from archgym.spaces import SPACE\n",
    "archgym/loop/__init__.py": "from archgym.loop.driver import run\nfrom archgym.loop import _progress\n",
    "archgym/loop/_progress.py": "",
    "archgym/loop/driver.py": (
        "from archgym import env, records\n\ndef run():\n    from archgym.loop._progress import bar\n"
    ),
    "archgym/cli/__init__.py": (
        "import archgym\nfrom archgym import Env\nfrom archgym.loop import run\n\ndef main(): ...\n"
    ),
    "archgym/__main__.py": "from archgym.cli import main\n",
    "archgym/derive.py": "import warnings\n\nfrom archgym.env import *\n\nwarnings.warn('moved')\n",
    "plugins/archgym_one/__init__.py": (
        "import archgym\nfrom archgym.loop import run\nfrom archgym_one import cell\n"
    ),
    "plugins/archgym_one/cell.py": "import torch\n\nfrom . import _impl\nfrom ._impl import _secret\n",
    "plugins/archgym_one/_impl.py": "_secret = 1\n",
    "plugins/archgym_two/__init__.py": "from archgym import env\nfrom archgym.env import Env\n",
    "agents/archgym_agents/__init__.py": "from archgym import Env, spaces\n",
    "docs/examples/archgym-example-plugin/archgym_example/__init__.py": "import archgym\n",
}


def _write(tmp_path: Path, files: Mapping[str, str]) -> list[str]:
    for file, text in {**CLEAN, **files}.items():
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).write_text(text, encoding="utf-8")
    return check_import_contract(tmp_path, TINY_FLOORS, TINY_ALIASES)


def test_self_a_clean_tree_passes(tmp_path: Path) -> None:
    assert _write(tmp_path, {}) == []


def test_self_importing_a_name_from_the_own_package_init_is_a_cycle(tmp_path: Path) -> None:
    # sub-modules of the own package are fine (the package is already running); its names are not
    base = (
        "from archgym.env import codec\nfrom .codec import codec\n\ndef f():\n    from archgym.env import X\n"
    )
    assert _write(tmp_path, {"archgym/env/base.py": base}) == [
        "import cycle: archgym.env -> archgym.env.base -> archgym.env\n"
        "    archgym/env/__init__.py:1 imports archgym.env.base\n"
        "    archgym/env/base.py:5 imports archgym.env"
    ]


UPWARD = "imports archgym.records (floor 1) from archgym.spaces (floor 0): upward import"
PUBLIC = "(public API: archgym or archgym.<sub-package>"
ONLY_ENV = "deprecated alias archgym.derive may import only archgym.env (and the standard library)"


def test_self_a_function_level_upward_import_is_caught(tmp_path: Path) -> None:
    shape = "import os\n\ndef f():\n    from archgym.records import x\n"
    assert _write(tmp_path, {"archgym/spaces/shape.py": shape}) == [f"archgym/spaces/shape.py:4 {UPWARD}"]


def test_self_a_same_floor_import_is_caught(tmp_path: Path) -> None:
    problems = _write(tmp_path, {"archgym/records/journal.py": "from archgym.env.base import Env\n"})
    assert problems == [
        "archgym/records/journal.py:1 imports archgym.env.base (floor 1) from archgym.records (floor 1): "
        "same-floor import (packages on floor 1 must not import each other)"
    ]


def test_self_a_two_module_cycle_through_a_function_level_import_is_caught(tmp_path: Path) -> None:
    problems = _write(
        tmp_path,
        {
            "archgym/loop/ledger.py": "from archgym.loop.recorder import record\n\ndef entry(): ...\n",
            "archgym/loop/recorder.py": "def record():\n    from archgym.loop.ledger import entry\n",
        },
    )
    assert problems == [
        "import cycle: archgym.loop.ledger -> archgym.loop.recorder -> archgym.loop.ledger\n"
        "    archgym/loop/ledger.py:1 imports archgym.loop.recorder\n"
        "    archgym/loop/recorder.py:2 imports archgym.loop.ledger"
    ]


def test_self_a_cycle_through_a_parent_package_init_is_caught(tmp_path: Path) -> None:
    problems = _write(
        tmp_path,
        {
            "archgym/loop/driver.py": "from archgym.loop.resume.state import load\n",
            "archgym/loop/resume/__init__.py": "from archgym.loop.driver import run\n",
            "archgym/loop/resume/state.py": "def load(): ...\n",
        },
    )
    assert problems == [
        "import cycle: archgym.loop.driver -> archgym.loop.resume -> archgym.loop.driver\n"
        "    archgym/loop/driver.py:1 imports archgym.loop.resume.state, "
        "which runs archgym.loop.resume/__init__\n"
        "    archgym/loop/resume/__init__.py:1 imports archgym.loop.driver"
    ]


def test_self_type_checking_imports_do_not_count(tmp_path: Path) -> None:
    shape = (
        "import typing\nfrom typing import TYPE_CHECKING\n\n"
        "if TYPE_CHECKING:\n    from archgym.loop import run\n    import archgym_one\n"
        "if typing.TYPE_CHECKING:\n    import archgym.cli\n"
        "else:\n    from archgym.records import x\n"  # the ``else`` branch runs: it counts
    )
    assert _write(tmp_path, {"archgym/spaces/shape.py": shape}) == [f"archgym/spaces/shape.py:10 {UPWARD}"]


def test_self_a_plugin_importing_a_deep_core_module_is_caught(tmp_path: Path) -> None:
    env = "from archgym.loop.driver import run\nfrom archgym.loop import driver\n"
    rule = f"deep module {PUBLIC}; import from archgym.loop)"
    assert _write(tmp_path, {"plugins/archgym_two/env.py": env}) == [
        f"plugins/archgym_two/env.py:1 imports archgym.loop.driver: {rule}",
        f"plugins/archgym_two/env.py:2 imports archgym.loop.driver: {rule}",
    ]


def test_self_a_plugin_importing_another_plugin_is_caught(tmp_path: Path) -> None:
    env = "def f():\n    from archgym_one.cell import x\n"
    assert _write(tmp_path, {"plugins/archgym_two/env.py": env}) == [
        "plugins/archgym_two/env.py:2 imports archgym_one.cell from archgym_two: "
        "plugins and agents never import each other"
    ]


def test_self_an_agent_importing_a_private_name_is_caught(tmp_path: Path) -> None:
    bo = "from archgym.loop import run, _progress_bar\nimport archgym._version\n"
    assert _write(tmp_path, {"agents/archgym_agents/bo.py": bo}) == [
        "agents/archgym_agents/bo.py:1 imports _progress_bar from archgym.loop: private name",
        f"agents/archgym_agents/bo.py:2 imports archgym._version: private module {PUBLIC})",
    ]


def test_self_the_core_importing_a_plugin_is_caught(tmp_path: Path) -> None:
    problems = _write(tmp_path, {"archgym/loop/nas.py": "def f():\n    import archgym_nas\n"})
    assert problems == [
        "archgym/loop/nas.py:2 imports archgym_nas: the core imports no plugin or agent package"
    ]


def test_self_the_root_facade_and_aliases_are_guarded(tmp_path: Path) -> None:
    problems = _write(
        tmp_path,
        {
            "archgym/env/wrap.py": "from archgym import Env\nfrom archgym.derive import old\n",
            "archgym/derive.py": "import numpy\nfrom archgym.env import *\nfrom archgym.spaces import S\n",
            "plugins/archgym_two/old.py": "import archgym.derive\n",
        },
    )
    assert problems == [
        f"archgym/derive.py:1 imports numpy: {ONLY_ENV}",
        f"archgym/derive.py:3 imports archgym.spaces: {ONLY_ENV}",
        "archgym/env/wrap.py:1 imports the root facade archgym (`from archgym import Env`) from archgym.env: "
        "only the top floor (floor 3: archgym.__main__, archgym.cli) may import the facade; "
        "import from the package that defines the name",
        "archgym/env/wrap.py:2 imports archgym.derive: deprecated alias module (use archgym.env)",
        "plugins/archgym_two/old.py:1 imports archgym.derive: deprecated alias module (use archgym.env)",
    ]


def test_self_unassigned_modules_are_caught(tmp_path: Path) -> None:
    problems = _write(tmp_path, {"archgym/extras.py": "", "archgym/spaces.py": "", "archgym/tools/x.py": ""})
    add_it = "add it to a floor in FLOORS (or to ALIASES if it is a deprecated alias)"
    assert problems == [
        f"archgym/extras.py: unassigned module archgym.extras — {add_it}",
        "archgym/spaces.py: archgym.spaces is both a flat module and the sub-package archgym/spaces/ "
        "(the package shadows the module): keep one",
        f"archgym/tools/: unassigned module archgym.tools — {add_it}",
    ]
