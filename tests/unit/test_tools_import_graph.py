"""herald_tools' modules import one another without circles, counting imports inside functions too.

A deferred import (inside a function, or under TYPE_CHECKING) hides a circle from Python at import time but
not from a reader: the two modules still cannot be understood, or moved, one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import herald_tools

PACKAGE_DIR = Path(herald_tools.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """Every herald_tools module `module` imports, wherever the import statement is."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` imports the module a.b when there is one, else the name b of module a.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules and name != module)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE_DIR.rglob("*.py"))
    modules = {_module_name(path) for path in paths}
    return {
        _module_name(path): _imported(
            ast.parse(path.read_text(encoding="utf-8")), _module_name(path), path.name == "__init__.py", modules
        )
        for path in paths
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports (first module repeated at the end), or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            cycle = visit(imported)
            if cycle:
                return cycle
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module)
        if cycle:
            return cycle
    return None


def test_no_herald_tools_module_imports_itself_through_others() -> None:
    # Given every module of herald_tools, with the imports inside its functions and TYPE_CHECKING blocks
    graph = import_graph()
    # When the graph of who imports whom is walked
    cycle = find_cycle(graph)
    # Then there is no circle
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_graph_sees_imports_inside_functions_and_relative_ones() -> None:
    # Given a module that imports a sibling inside a function, and one that imports its parent relatively
    modules = {"pkg", "pkg.a", "pkg.b"}
    deferred = ast.parse("def f():\n    from pkg.b import thing\n")
    relative = ast.parse("from . import a\n")
    # When their imports are read
    # Then both count
    assert _imported(deferred, "pkg.a", False, modules) == {"pkg.b"}
    assert _imported(relative, "pkg.b", False, modules) == {"pkg.a"}


def test_a_circle_is_found_and_named() -> None:
    # Given a depends on b, b on c and c on a again
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    # When cycles are looked for; Then that circle is named
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
