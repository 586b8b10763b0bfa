"""The package layout: imports between sftdata's modules go one way.

Every ``import`` / ``from ... import`` of an ``sftdata`` module, at the top of a file or
inside a function, is an edge; the graph over modules must have no cycle. (A cycle
hidden inside a function still ties two modules together: neither can change alone.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import sftdata

SRC = Path(sftdata.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The sftdata modules ``path`` imports (a package's ``__init__`` counts as the package)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.add(full if full in modules else base)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m for m in out if m in modules}


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    modules = set(files)
    graph = {name: _imports(path, modules) - {name} for name, path in files.items()}
    # A package's __init__ re-exports its modules: importing the package is not a cycle
    # with the modules inside it.
    return {
        name: {d for d in deps if not name.startswith(d + ".") and not d.startswith(name + ".")}
        for name, deps in graph.items()
    }


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_module_imports_have_no_cycle() -> None:
    """No chain of imports between sftdata modules leads back to where it started."""
    cycle = _find_cycle(_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_engines_know_nothing_of_the_runner() -> None:
    """The runner picks an engine; no engine module imports the runner."""
    graph = _graph()
    engines = {m: deps for m, deps in graph.items() if m.startswith("sftdata.engines")}
    assert engines, "no engine modules found"
    for module, deps in engines.items():
        assert not any(d.startswith("sftdata.runner") for d in deps), (module, deps)


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The checker itself reports a planted cycle (so the test above can fail)."""
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_sd_encode_is_the_function_and_the_package_is_importable() -> None:
    """``sd.encode`` stays the function although ``sftdata.encode`` is also a package."""
    import importlib

    importlib.import_module("sftdata.encode._pack")
    assert callable(sftdata.encode) and sftdata.encode.__name__ == "encode"
    from sftdata import encode

    assert encode is sftdata.encode
    assert sftdata.view.__name__ == "sftdata.encode.view"
