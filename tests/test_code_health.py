"""The package's shape, checked from its source: no import cycle, imports only run down the
layering core -> drivers -> CLI, no `_private` name taken from another module, and no function
longer than a screen except plain tables.

Static analysis over ``src/thetaevolve`` with ``ast``: nothing is imported, so optional extras
(torch, ray) play no part. Every import counts, including those inside functions (a lazy
import still ties the two modules together); those under ``if TYPE_CHECKING:`` count too.
mypy and ruff run from ``make lint``, which ``make test`` runs before pytest.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "src" / "thetaevolve"
PACKAGE = "thetaevolve"

MAX_FUNCTION_LINES = 60
# Plain tables: one statement listing options, where splitting would only scatter the list.
FUNCTION_LENGTH_EXEMPT = {
    "thetaevolve.rl.trainer:grpo_config",  # TRL's GRPOConfig keyword arguments, one per line
}

# Modules that parse the command line (argparse subcommands), and the drivers that run a loop
# over the core. Everything else is core.
CLI_MODULES = {"thetaevolve.cli", "thetaevolve.rl.cli", "thetaevolve.problems.commands",
               "thetaevolve.dashboard.command"}
CLI_PREFIXES = ("thetaevolve.cli_",)
DRIVER_PREFIXES = ("thetaevolve.evolve", "thetaevolve.rl", "thetaevolve.compare",
                   "thetaevolve.dashboard")
LAYER_NAMES = {0: "core", 1: "driver", 2: "CLI"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE_ROOT.rglob("*.py"))}


MODULES = _modules()


def _is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _known(name: str) -> str | None:
    """The longest in-package module that `name` names (a module or a name inside one)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


@functools.cache
def _tree(module: str) -> ast.Module:
    """A module's syntax tree, parsed once for all the checks below."""
    return ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))


def _imports(module: str) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in `module`."""
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _known(alias.name)
                if target:
                    yield target, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            if not source.startswith(PACKAGE):
                continue
            for alias in node.names:
                submodule = _known(f"{source}.{alias.name}")
                if submodule and submodule != _known(source):
                    yield submodule, [], node.lineno
                else:
                    target = _known(source)
                    if target:
                        yield target, [alias.name], node.lineno


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for target, _, _ in _imports(module):
            # A package's face re-exports its modules; a module importing its own package's
            # __init__ (for a shared name) is not a cycle worth forbidding.
            if target != module and not module.startswith(target + "."):
                graph[module].add(target)
    return graph


def _layer(module: str) -> int:
    if module in CLI_MODULES or module.startswith(CLI_PREFIXES):
        return 2
    if any(module == p or module.startswith(p + ".") for p in DRIVER_PREFIXES):
        return 1
    return 0


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
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
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_the_package() -> None:
    # Guards against a checker that passes because it read nothing.
    assert {"thetaevolve.gym", "thetaevolve.cli", "thetaevolve.database.store"} <= set(MODULES)
    assert {"thetaevolve.edits", "thetaevolve.rewards"} <= _graph()["thetaevolve.gym"], \
        "the gym's imports were not seen: the checker is broken"


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles (break each with a module both sides import): " + "; ".join(
        " <-> ".join(c) for c in cycles)


def test_imports_only_run_down_the_layers() -> None:
    upward = []
    for module in MODULES:
        for target, _, line in _imports(module):
            if _layer(target) > _layer(module):
                upward.append(f"{module}:{line} ({LAYER_NAMES[_layer(module)]}) imports "
                              f"{target} ({LAYER_NAMES[_layer(target)]})")
    assert not upward, "imports that run up the layering core -> driver -> CLI:\n" + "\n".join(
        sorted(set(upward)))


def test_no_private_name_is_imported_from_another_module() -> None:
    private = []
    for module in MODULES:
        for target, names, line in _imports(module):
            for name in names:
                if name.startswith("_") and not name.startswith("__") and target != module:
                    private.append(f"{module}:{line} takes {name} from {target}")
    assert not private, "private names taken across modules (make them public or move them):\n" \
        + "\n".join(private)


def _functions() -> Iterator[tuple[str, int, int]]:
    for module in MODULES:
        for node in ast.walk(_tree(module)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno is not None
                yield f"{module}:{node.name}", node.lineno, node.end_lineno - node.lineno + 1


def test_no_function_is_longer_than_a_screen() -> None:
    long = [f"{name} (line {line}): {length} lines" for name, line, length in _functions()
            if length > MAX_FUNCTION_LINES and name not in FUNCTION_LENGTH_EXEMPT]
    assert not long, (f"functions over {MAX_FUNCTION_LINES} lines (split them along their "
                      "seams):\n" + "\n".join(long))


@pytest.mark.parametrize("name", sorted(FUNCTION_LENGTH_EXEMPT))
def test_every_exemption_names_a_real_long_function(name: str) -> None:
    lengths = {fn: length for fn, _, length in _functions()}
    assert name in lengths, f"{name} is exempt but does not exist: drop the exemption"
    assert lengths[name] > MAX_FUNCTION_LINES, f"{name} is short now: drop the exemption"


def test_no_test_module_imports_another() -> None:
    # Shared helpers live in tests/helpers.py and fixtures in conftest.py; a test module that
    # imports another runs that module's import-time code and ties the two together.
    tests_dir = Path(__file__).resolve().parent
    offenders = []
    for path in sorted(tests_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            offenders += [f"{path.relative_to(tests_dir)}:{node.lineno} imports {name}"
                          for name in names if name.split(".")[0].startswith(("test_", "conftest"))]
    assert not offenders, "test modules importing test modules (use tests/helpers.py):\n" + \
        "\n".join(offenders)
