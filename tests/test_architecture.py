"""The package's shape (DESIGN §5): sub-packages in layers, no import cycle, no oversized module.

Layers, low to high: ``data`` < ``synthetic`` < ``nets`` < ``learning`` < ``screening`` < ``book``
< ``bench`` and ``cli``. A module may import its own layer and the layers below it, never one above,
not even inside a function: a lazy import that reaches up is a cycle waiting to happen.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "replication"
LAYERS = ("data", "synthetic", "nets", "learning", "screening", "book", "bench", "cli")
TOP = {"bench", "cli", "__main__", "__init__"}  # the entry points may import anything
MAX_LINES = 700


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, name: str) -> set[str]:
    """Every ``replication`` module ``path`` imports, at any depth (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("replication"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith("replication"):
                found.add(base)
                # ``from replication.x import y`` may import the module replication.x.y
                found.update(f"{base}.{a.name}" for a in node.names)
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {m for m in _imports(path, name) if m in modules and m != name}
            for name, path in modules.items()}


def test_every_module_lives_in_a_known_layer():
    strays = [m for m in _modules() if _layer(m) not in (*LAYERS, "__init__", "__main__")]
    assert not strays, f"modules outside the layers {LAYERS}: {strays}"


def test_no_module_imports_a_higher_layer(graph):
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    upward = [f"{src} -> {dst}" for src, targets in graph.items() for dst in sorted(targets)
              if _layer(src) not in TOP and _layer(dst) in rank
              and rank[_layer(dst)] > rank[_layer(src)]]
    assert not upward, "imports reaching into a higher layer:\n" + "\n".join(upward)


def test_no_import_cycle(graph):
    # Package __init__ files that only hold a docstring or re-export their own modules don't
    # make cycles; edges into a package's __init__ from its own modules are skipped for that.
    edges = defaultdict(set)
    for src, targets in graph.items():
        for dst in targets:
            if src.startswith(dst + "."):
                continue  # a module importing its own package's __init__
            edges[src].add(dst)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_over_the_size_limit():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines())
             for name, path in _modules().items()}
    big = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split them by concern): {big}"


def test_the_checks_catch_what_they_guard(tmp_path):
    """The import scanner sees lazy, relative and aliased imports (so the tests above can fail)."""
    pkg = tmp_path / "replication" / "data"
    pkg.mkdir(parents=True)
    module = pkg / "tasks.py"
    module.write_text("def f():\n    from ..book import experiments as e\n"
                      "    import replication.learning.models\n    from . import truth\n")
    found = _imports(module, "replication.data.tasks")
    assert {"replication.book.experiments", "replication.learning.models",
            "replication.data.truth"} <= found
