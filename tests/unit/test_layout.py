"""The house's rules, read from the code's own imports: the shared core never imports a study (or the
site above them), and no module or package imports itself back through others."""

from __future__ import annotations

import pytest

from tests.unit.test_dvc_yaml import SRC, _imported, _module_file, _module_name

PACKAGE = SRC / "worldprobe"
STUDIES = ("spacetime", "familiarity", "causal", "karel")
ABOVE_CORE = (*STUDIES, "site")  # the site (results page, README summary) reads every study


def _room(module: str) -> str:
    """``worldprobe.spacetime.probes`` -> ``spacetime``; a core module is its own room (``config``, ``lm``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def import_graph() -> dict[str, set[str]]:
    """worldprobe module -> the worldprobe modules it imports (a package's ``__init__`` by the package's name)."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found = set()
        module = _module_name(path)
        for name in _imported(path):
            file = _module_file(name)
            # a submodule's own package is imported before it anyway (``from . import text``): no edge
            if file is not None and file != path and not module.startswith(_module_name(file) + "."):
                found.add(_module_name(file))
        graph[module] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of more than one node (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def study_imports_in_core(graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """Core module -> the study (or site) modules it imports, for every core module that imports one."""
    found = {module: sorted(i for i in imports if _room(i) in ABOVE_CORE)
             for module, imports in graph.items() if _room(module) not in ABOVE_CORE}
    return {module: imports for module, imports in found.items() if imports}


def test_the_core_imports_no_study():
    assert study_imports_in_core(import_graph()) == {}


def test_a_study_import_in_the_core_is_found():
    graph = import_graph()
    graph["worldprobe.records"] = graph["worldprobe.records"] | {"worldprobe.spacetime.inputs"}
    graph["worldprobe.lm.readout"] = graph["worldprobe.lm.readout"] | {"worldprobe.causal.intervention"}
    assert study_imports_in_core(graph) == {"worldprobe.records": ["worldprobe.spacetime.inputs"],
                                            "worldprobe.lm.readout": ["worldprobe.causal.intervention"]}


def test_no_module_imports_itself_back():
    assert cycles(import_graph()) == []


def test_no_package_imports_itself_back():
    rooms: dict[str, set[str]] = {}
    for module, imports in import_graph().items():
        rooms.setdefault(_room(module), set()).update(_room(i) for i in imports if _room(i) != _room(module))
    assert cycles(rooms) == []


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}}, [["a", "b", "c"]]),
])
def test_cycles_finds_what_a_circle_is(graph, expected):
    assert cycles(graph) == expected
