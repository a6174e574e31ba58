"""DESIGN.md's package rules, checked on the source: no import cycles, arrows point down, short modules.

The import graph is read with `ast` from each module's top-level imports (those that run when the
module is imported): imports inside functions (deferred on purpose, to keep heavy libraries out
of start-up) and under ``if TYPE_CHECKING:`` are left out. An edge goes to the module an import
names (``from autoslo.config import load_model`` -> ``autoslo.config``; ``from autoslo.perf import
table`` -> ``autoslo.perf.table``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "autoslo"
MAX_LINES = 600
# the simulator and the policies it shares with the live replay
SIMULATOR = ("autoslo.sim", "autoslo.policies")
# what the simulator may import from autoslo: DESIGN.md's layers below it (combinations sits beside
# config/ids: it resolves manifest entries to ids and folders and imports nothing above config)
SIMULATOR_MAY_IMPORT = ("autoslo.sim", "autoslo.policies", "autoslo.perf", "autoslo.workload",
                        "autoslo.slo", "autoslo.results", "autoslo.config", "autoslo.ids",
                        "autoslo.errors", "autoslo.datatree", "autoslo.atomic",
                        "autoslo.combinations")
FOUNDATION = ("autoslo.config", "autoslo.ids", "autoslo.errors", "autoslo.datatree", "autoslo.atomic")
ORCHESTRATION = ("prefect", "prefect_aws", "prefect_ray", "ray", "boto3", "botocore")


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of autoslo/: dotted name -> (file, is a package's __init__)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _absolute(module: str | None, level: int, importer: str, is_package: bool) -> str:
    """The absolute name a (possibly relative) ``from ... import`` refers to."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _imports(body: list[ast.stmt], importer: str, is_package: bool, *,
             top_level: bool) -> Iterator[str]:
    """The names imported in `body`; with `top_level`, only imports that run at module import."""
    for node in body:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, importer, is_package)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield full if full in MODULES else base
        elif top_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        elif top_level and isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _imports(node.orelse, importer, is_package, top_level=top_level)
        else:
            yield from _imports(_children(node), importer, is_package, top_level=top_level)


def _children(node: ast.stmt) -> list[ast.stmt]:
    """The statements nested in a compound statement (if, try, with, for, class, def)."""
    nested = [s for name in ("body", "orelse", "finalbody") for s in getattr(node, name, None) or []]
    nested += [s for handler in getattr(node, "handlers", None) or [] for s in handler.body]
    return [s for s in nested if isinstance(s, ast.stmt)]


def _parsed(module: str) -> tuple[ast.Module, bool]:
    path, is_package = MODULES[module]
    return ast.parse(path.read_text(encoding="utf-8"), str(path)), is_package


def import_graph() -> dict[str, set[str]]:
    """autoslo module -> the autoslo modules its top-level imports name."""
    graph = {}
    for module in MODULES:
        tree, is_package = _parsed(module)
        names = _imports(tree.body, module, is_package, top_level=True)
        graph[module] = {n for n in names if n in MODULES and n != module}
    return graph


def all_imports(module: str) -> set[str]:
    """Every name `module` imports anywhere: top level, inside functions, for type checking."""
    tree, is_package = _parsed(module)
    return set(_imports(tree.body, module, is_package, top_level=False))


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_the_graph_sees_imports_the_way_python_runs_them() -> None:
    graph = import_graph()
    assert "autoslo.config._loading" in graph["autoslo.config"]  # a package's re-exports
    assert "autoslo.perf.table" in graph["autoslo.perf"]
    assert "autoslo.sim._engine" in graph["autoslo.sim._simulate"]  # `from autoslo.sim import _engine`
    assert "autoslo.workload" not in graph["autoslo.perf._runtimes"]  # only under TYPE_CHECKING
    assert "autoslo.perf.bellamy" not in graph["autoslo.perf._loading"]  # only inside a function
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles_also_not_inside_a_package() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("module", [m for m in MODULES if _within(m, SIMULATOR)])
def test_the_simulator_imports_only_downward(module: str) -> None:
    names = all_imports(module)
    orchestration = sorted(n for n in names if n.split(".")[0] in ORCHESTRATION)
    assert not orchestration, f"{module} imports {orchestration} (the simulator runs without them)"
    upward = sorted(n for n in names if _within(n, ("autoslo",))
                    and not _within(n, SIMULATOR_MAY_IMPORT))
    assert not upward, f"{module} imports {upward}, above the simulator in DESIGN.md's arrows"


def test_combinations_sit_on_the_foundation() -> None:
    names = all_imports("autoslo.combinations")
    above = sorted(n for n in names if _within(n, ("autoslo",)) and not _within(n, FOUNDATION))
    assert not above, f"autoslo.combinations imports {above}; the simulator relies on it being low"


def test_importing_the_simulator_loads_no_orchestration_library() -> None:
    code = ("import sys, autoslo.sim, autoslo.sim.folders, autoslo.policies; "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {ORCHESTRATION!r}))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True, cwd=REPO).stdout.strip()
    assert loaded == "[]", f"importing the simulator loads {loaded}"


def test_no_module_is_over_600_lines() -> None:
    long = {str(path.relative_to(REPO)): n for path, _ in MODULES.values()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
