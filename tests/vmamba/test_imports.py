"""No import cycle inside paperzoo.vmamba, lazy (function-level) imports included: the network
(model.py) must not depend on the loaders (checkpoint.py) that depend on it (issue 21)."""

import ast
from pathlib import Path

import paperzoo.vmamba

PACKAGE = Path(paperzoo.vmamba.__file__).parent


def import_graph(package: Path, prefix: str) -> dict[str, set[str]]:
    """module -> the modules of the package it imports anywhere in its source."""
    modules = {prefix + ("" if f.stem == "__init__" else "." + f.stem): f for f in package.glob("*.py")}
    graph = {}
    for name, file in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith(prefix):
                subs = [f"{node.module}.{alias.name}" for alias in node.names]
                edges |= {s for s in subs if s in modules}
                if any(s not in modules for s in subs):
                    edges.add(node.module)
            elif isinstance(node, ast.Import):
                edges |= {alias.name for alias in node.names if alias.name in modules}
        graph[name] = {m for m in edges if m in modules and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path of modules, or None (depth-first search with colours)."""
    state, path = {}, []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_vmamba_has_no_import_cycle():
    graph = import_graph(PACKAGE, "paperzoo.vmamba")
    assert "paperzoo.vmamba.checkpoint" not in graph["paperzoo.vmamba.model"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))
