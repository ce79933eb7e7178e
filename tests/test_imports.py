"""The import rules of DESIGN.md, read from the source with ``ast`` (nothing is imported, so it is fast).

- no import cycles between the project's modules: module-level and function-level imports both
  count, since a lazy import only hides a cycle of responsibilities;
- ``keras_ae`` never imports ``zoo`` or ``export``;
- ``keras_ae.layers`` never imports ``keras_ae.models``, directly or through another module;
- ``zoo`` and ``export`` import no family folder of ``keras_ae.models`` (they read the library's
  registry, ``keras_ae.presets``), and the library's recipes come from no entry point of theirs.

A package ``__init__`` importing its own submodules is normal; a submodule importing its parent
package back is a cycle when that ``__init__`` imports the submodule (import the sibling module
that defines the name instead).
"""

import ast
import functools
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("keras_ae", "zoo", "export")


def _module_files():
    """``{module name: path}`` of every ``.py`` file of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for folder, dirs, files in os.walk(os.path.join(ROOT, package)):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__pycache__")))
            parts = os.path.relpath(folder, ROOT).split(os.sep)
            for name in files:
                if name.endswith(".py"):
                    stem = name[:-3]
                    modules[".".join(parts if stem == "__init__" else parts + [stem])] = os.path.join(folder, name)
    return modules


def _targets(node, module, is_package, modules):
    """The project modules one ``import`` / ``from ... import`` statement of ``module`` names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in modules]
    if node.level:  # relative: level 1 is the package holding ``module``
        package = module if is_package else module.rpartition(".")[0]
        base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
        base = f"{base}.{node.module}" if node.module else base
    else:
        base = node.module
    # ``from pkg import name``: the submodule ``pkg.name`` when it is a module file, else ``pkg``
    found = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    return [target for target in found if target in modules]


def _edges(source, module, is_package, modules):
    """``{imported project module: first line}`` of every import statement in ``source``, at any depth."""
    edges = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in _targets(node, module, is_package, modules):
                if target != module:
                    edges.setdefault(target, node.lineno)
    return edges


@functools.lru_cache(maxsize=None)
def import_graph():
    """``{module: {imported project module: first line number}}`` of the project."""
    modules = _module_files()
    graph = {}
    for module, path in modules.items():
        with open(path, encoding="utf-8") as f:
            graph[module] = _edges(f.read(), module, path.endswith("__init__.py"), modules)
    return graph


def find_cycles(graph):
    """One cycle ``[a, b, ..., a]`` per strongly connected component of more than one module."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(node):  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_through(graph, sorted(c)[0], c) for c in components]


def _path(graph, start, goals, within=None):
    """The shortest import path ``[start, ..., goal]`` to a module in ``goals``, or ``None``."""
    previous, frontier = {start: None}, [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph[node]):
                if succ in previous or (within is not None and succ not in within):
                    continue
                previous[succ] = node
                if succ in goals:
                    path = [succ]
                    while previous[path[-1]] is not None:
                        path.append(previous[path[-1]])
                    return path[::-1]
                following.append(succ)
        frontier = following
    return None


def _cycle_through(graph, start, component):
    """The shortest cycle from ``start`` back to itself inside its component (graphs have no self-loops)."""
    return min(([start] + _path(graph, succ, {start}, component) for succ in graph[start] if succ in component),
               key=len)


def _describe(graph, path):
    """``a -> b (line 3 of a) -> ...``: each step with the line of its import statement."""
    return " -> ".join([path[0]] + [f"{b} (line {graph[a][b]} of {a})" for a, b in zip(path, path[1:])])


def _inside(module, package):
    """Whether ``module`` is ``package`` or one of its submodules."""
    return module == package or module.startswith(package + ".")


def _cycles_of(package):
    graph = import_graph()
    return [_describe(graph, cycle) for cycle in find_cycles(graph) if any(_inside(m, package) for m in cycle)]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    cycles = _cycles_of(package)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_every_kind_of_import_makes_an_edge():
    modules = {"p", "p.a", "p.b", "q", "q.r"}
    source = ("import q.r\nimport numpy\nfrom . import a\nfrom .b import thing\n"
              "def f():\n    from p import helper\n")
    assert _edges(source, "p.c", False, modules) == {"q.r": 1, "p.a": 3, "p.b": 4, "p": 6}
    assert _edges("from .a import x\nfrom p import b\n", "p", True, modules) == {"p.a": 1, "p.b": 2}
    assert set(import_graph()) >= {"keras_ae", "keras_ae.models", "keras_ae.layers", "zoo", "zoo.runner", "export"}


def test_find_cycles_reports_a_cycle_and_ignores_a_tree():
    graph = {"p": {"p.a": 1, "p.b": 1}, "p.a": {"p.b": 2}, "p.b": {"p": 3}, "q": {"p.a": 1}}
    assert find_cycles(graph) == [["p", "p.b", "p"]]
    assert find_cycles({"p": {"p.a": 1}, "p.a": {}}) == []


def test_keras_ae_never_imports_zoo_or_export():
    graph = import_graph()
    wrong = [f"{module} imports {target} (line {line})"
             for module, edges in sorted(graph.items()) if _inside(module, "keras_ae")
             for target, line in sorted(edges.items()) if not _inside(target, "keras_ae")]
    assert not wrong, "\n".join(wrong)


def test_layers_never_import_models():
    graph = import_graph()
    models = {m for m in graph if _inside(m, "keras_ae.models")}
    paths = [_path(graph, m, models) for m in sorted(graph) if _inside(m, "keras_ae.layers")]
    wrong = [_describe(graph, p) for p in paths if p]
    assert not wrong, "keras_ae.layers reaches keras_ae.models:\n" + "\n".join(wrong)


def test_the_zoo_and_export_know_no_family():
    """The zoo and export read the library's registry (``keras_ae.presets``) and build models by name
    (``keras_ae.models``); they import no family folder, and the zoo holds no recipes."""
    graph = import_graph()
    families = {m for m in graph if _inside(m, "keras_ae.models") and m not in ("keras_ae.models", "keras_ae.models.base")}
    wrong = [f"{module} imports {target} (line {line})"
             for module, edges in sorted(graph.items()) if _inside(module, "zoo") or _inside(module, "export")
             for target, line in sorted(edges.items()) if target in families]
    assert not wrong, "\n".join(wrong)
    assert not [m for m in graph if _inside(m, "zoo.recipes")]


def test_the_library_recipes_come_from_the_library_not_an_entry_point():
    """``keras_ae.presets`` reads its own registry; the entry-point group is for other packages."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    section = text.partition('[project.entry-points."keras_ae.presets"]')[2].split("\n[")[0]
    provided = [line for line in section.splitlines() if "=" in line]
    assert not [line for line in provided if line.split("=")[1].strip(' "').split(".")[0] in PACKAGES], provided
