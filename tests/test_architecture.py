"""The package's shape: subsystems are handed their parts, and imports form no cycle.

Read from the source with ``ast`` (nothing is imported), so the test sees lazy imports
inside functions too: an import moved into a function to dodge a cycle is still a cycle.
Imports under ``if TYPE_CHECKING:`` are left out of the cycle check (they never run) but
count for the ``Sentient`` rule, whose point is what a module knows about, not when.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fastapi_sentient"

#: the wiring: builds the handle, installs it on the app, and hands its parts to routes
WIRING = {
    "fastapi_sentient",
    "fastapi_sentient._sentient",
    "fastapi_sentient._install",
    "fastapi_sentient._dependencies",
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _targets(node: ast.Import | ast.ImportFrom, module: str, path: Path) -> set[str]:
    """The package modules an import statement loads (a submodule, not its package)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in MODULES}
    base = node.module or ""
    if node.level:
        package = _package_of(module, path).split(".")
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, *([node.module] if node.module else [])])
    submodules = {f"{base}.{alias.name}" for alias in node.names} & MODULES.keys()
    if len(submodules) == len(node.names):
        return (
            submodules  # `from package import module, module`: the package itself is loaded already
        )
    return ({base} & MODULES.keys()) | submodules


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST, *, runtime_only: bool) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if runtime_only and isinstance(child, ast.If) and _is_type_checking(child):
                for statement in child.orelse:
                    visit_one(statement)
                continue
            visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        visit(node)

    visit(tree)
    return found


def _graph(*, runtime_only: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges: set[str] = set()
        for node in _imports(tree, runtime_only=runtime_only):
            edges |= _targets(node, module, path)
        edges.discard(module)
        graph[module] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_only_the_wiring_knows_the_sentient_handle() -> None:
    """No subsystem imports Sentient: each is handed the parts it uses."""
    graph = _graph(runtime_only=False)
    handle = {"fastapi_sentient._sentient"} & MODULES.keys()
    assert handle, "the module defining Sentient moved; update this test"
    importers = {module for module, edges in graph.items() if edges & handle}
    assert importers - WIRING == set()


def test_the_import_graph_has_no_cycle() -> None:
    """Modules import in one direction, so any of them can be read and tested alone."""
    assert _cycles(_graph(runtime_only=True)) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    """The checker itself finds a two-module cycle and a lazy (in-function) import."""
    source = "def f():\n    import fastapi_sentient.b\n"
    tree = ast.parse(source)
    assert [type(node).__name__ for node in _imports(tree, runtime_only=True)] == ["Import"]
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
