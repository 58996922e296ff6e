"""The package's import graph: no cycle, and every deferred import says why it is deferred.

Module-level imports are the dependency graph a newcomer reads; an import hidden in a function
hides an edge. Such an import is allowed where it keeps start-up fast or guards an optional
dependency, and then its line carries a ``# lazy: ...`` comment saying which. The command
modules (grader/commands/, grader/cli.py) defer everything so that `grader --help` answers at
once; they are exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "grader"
EXEMPT = ("commands/", "cli.py", "__main__.py")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _target(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(node: ast.AST, module: str, is_package: bool) -> list[tuple[str, ast.stmt]]:
    found = []
    if isinstance(node, ast.Import):
        found = [(alias.name, node) for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = _target(node, module, is_package)
        # `from pkg import sub` is an edge to the module pkg.sub where there is one, else to pkg
        found = [(f"{base}.{alias.name}", node) for alias in node.names]
    return [(name, stmt) for name, stmt in found if name.split(".")[0] == "grader"]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(
    node: ast.AST, top: bool, name: str, path: Path, lines: list[str], files: dict[str, Path]
) -> tuple[set[str], list[str]]:
    """The module-level grader imports below ``node``, and the deferred ones without a reason."""
    edges: set[str] = set()
    undocumented: list[str] = []
    exempt = str(path.relative_to(PACKAGE)).startswith(EXEMPT)
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            continue  # annotations only: no edge at run time
        for target, stmt in _imports(child, name, path.name == "__init__.py"):
            resolved = target if target in files else target.rsplit(".", 1)[0]
            if resolved not in files or resolved == name:
                continue
            if top:
                edges.add(resolved)
            elif "# lazy:" not in lines[stmt.lineno - 1] and not exempt:
                undocumented.append(f"{path.relative_to(PACKAGE.parent)}:{stmt.lineno}")
        nested = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        more_edges, more_undocumented = _walk(child, nested, name, path, lines, files)
        edges |= more_edges
        undocumented += more_undocumented
    return edges, undocumented


def scan() -> tuple[dict[str, set[str]], list[str]]:
    """(module -> grader modules it imports at module level, deferred imports without a reason)."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    undocumented: list[str] = []
    for name, path in files.items():
        source = path.read_text(encoding="utf-8")
        graph[name], missing = _walk(ast.parse(source), True, name, path, source.splitlines(), files)
        undocumented += missing
    return graph, sorted(set(undocumented))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_import_cycle() -> None:
    graph, _ = scan()
    assert cycles(graph) == []


def test_every_deferred_import_says_why() -> None:
    _, undocumented = scan()
    assert undocumented == [], (
        "add '# lazy: <why>' (start-up or optional dependency) or import at module level"
    )


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
