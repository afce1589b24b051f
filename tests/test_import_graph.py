"""No import cycle in ``tlcore``, counting every import: module level and function level (the lazy imports that
keep torch out of page processes).

The graph is built from the source (AST), so the test is fast and deterministic: an edge ``a -> b`` for each
``import``/``from ... import`` anywhere in ``a`` (``from pkg import name`` points at ``pkg.name`` when that is a
module, else at ``pkg``). A cycle is a strongly connected component of more than one module. Not counted:

- edges to a module's own parent packages, which Python runs implicitly before the module: a package
  ``__init__`` that re-exports from its submodules would otherwise close a cycle with each of them, and that one
  is harmless (the package is already initialising when the submodule runs);
- registry references by name (``"tlcore.strategies.mcc:Mcc"`` in the torch-free strategy specs,
  ``"tlcore.pipeline:run_experiment"`` in ``tlcore.producers``), resolved with ``importlib`` when a run is made.
  They point from a spec to its implementation, which imports the spec for its ``Params``: the direction the
  torch-free spec design wants (counted, every strategy with a spec would form one component with it).

A lazy import hides a cycle at import time but keeps the modules tangled: the fix is to move the shared piece to
the lower layer (e.g. ``tlcore.runs.home``, ``tlcore.sweep_naming``, ``tlcore.errors``), not to hide the import.
``ALLOWED`` lists the components accepted on purpose, each with its reason; it is empty.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "tlcore"

ALLOWED: dict[frozenset[str], str] = {}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _known(name: str, modules: set[str]) -> str | None:
    """``name`` or its nearest enclosing module of the package (``tlcore.x.func`` -> ``tlcore.x``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node: ast.AST, package: str, modules: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join(parts + ([node.module] if node.module else []))
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    return []


def import_graph(root: Path = ROOT) -> dict[str, dict[str, int]]:
    """``{module: {imported module: first line}}`` for every module of the package under ``root``."""
    files = {_module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}
    modules = set(files)
    graph: dict[str, dict[str, int]] = {m: {} for m in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for target in _targets(node, package, modules):
                t = _known(target, modules)
                if t and t != name and not name.startswith(t + "."):
                    line = graph[name].get(t)
                    graph[name][t] = min(line, node.lineno) if line else node.lineno
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return sorted(out)


def describe(comp: list[str], graph: dict[str, dict[str, int]]) -> str:
    inside = set(comp)
    return "\n".join(f"  {a}:{line} imports {b}" for a in comp for b, line in sorted(graph[a].items())
                     if b in inside)


def test_tlcore_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 100 and "tlcore.pipeline" in graph  # the scan found the package
    found = [c for c in cycles(graph) if frozenset(c) not in ALLOWED]
    assert not found, "import cycles in tlcore (function-level imports count):\n" + "\n".join(
        describe(c, graph) for c in found)
    stale = [sorted(k) for k in ALLOWED if list(sorted(k)) not in cycles(graph)]
    assert not stale, f"ALLOWED lists cycles that no longer exist; remove them: {stale}"


def test_the_scan_sees_function_level_and_relative_imports(tmp_path):
    """The checker can fail: a cycle through a function-level import and one through relative imports are
    found; a parent package importing its submodule is not a cycle, nor a registry reference by name."""
    pkg = tmp_path / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from tlcore.b import g\n    return g\n")
    (pkg / "b.py").write_text("from tlcore import a\n\ndef g():\n    return a\n")
    (pkg / "c.py").write_text("REF = 'tlcore.e:x'\n\ndef f():\n    from .sub.d import run\n    return run\n")
    (pkg / "sub" / "__init__.py").write_text("from .d import run\n")
    (pkg / "sub" / "d.py").write_text("from .. import c\n\ndef run():\n    return c\n")
    (pkg / "e.py").write_text("import tlcore.sub.d\n")
    graph = import_graph(tmp_path)
    assert graph["tlcore.a"] == {"tlcore.b": 2} and graph["tlcore.sub"] == {"tlcore.sub.d": 1}
    assert graph["tlcore.sub.d"] == {"tlcore.c": 1} and graph["tlcore.c"] == {"tlcore.sub.d": 4}
    assert graph["tlcore.e"] == {"tlcore.sub.d": 1}
    assert cycles(graph) == [["tlcore.a", "tlcore.b"], ["tlcore.c", "tlcore.sub.d"]]
