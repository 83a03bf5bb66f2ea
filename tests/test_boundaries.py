"""The layout's rules, checked from the imports themselves.

- Only ``ir2dis_cog/red/`` imports discord.py or Red (ruff's banned-api says the same per file).
- The pure core (``ir2dis_cog/core/``) loads neither the store nor any I/O library.
- No import cycle anywhere in the package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "ir2dis_cog"
IO_LIBRARIES = ("aiohttp", "aiosqlite", "asyncpg", "aiomysql", "yoyo", "pymysql", "psycopg", "sqlite3")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(_module_name(p) for p in PACKAGE.rglob("*.py"))
OUTSIDE_RED = [m for m in MODULES if not m.startswith("ir2dis_cog.red")]
CORE = [m for m in MODULES if m.startswith("ir2dis_cog.core")]


def _loaded_after_import(module: str) -> list[str]:
    code = f"import sys, {module}\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_the_layout_is_what_the_rules_talk_about() -> None:
    assert "ir2dis_cog.red.cog" in MODULES and "ir2dis_cog.core.cards" in MODULES
    assert len(OUTSIDE_RED) > 25 and len(CORE) >= 6


@pytest.mark.parametrize("module", OUTSIDE_RED)
def test_no_module_outside_red_imports_discord(module: str) -> None:
    bad = [m for m in _loaded_after_import(module) if m.split(".")[0] in ("discord", "redbot")]
    assert not bad, bad


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_neither_store_nor_io(module: str) -> None:
    loaded = _loaded_after_import(module)
    bad = [m for m in loaded if m.startswith("ir2dis_cog.store") or m.split(".")[0] in IO_LIBRARIES]
    assert not bad, bad


def _imports(path: Path, module: str) -> set[str]:
    """The package's modules that ``module`` imports at run time (TYPE_CHECKING blocks left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    # A module's own packages are always initialised before it: importing from them is no cycle.
    ancestors = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    return {m for m in found if m in MODULES and m != module and m not in ancestors}


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p, _module_name(p)) for p in PACKAGE.rglob("*.py")}


def test_there_is_no_import_cycle() -> None:
    graph = _graph()
    assert graph["ir2dis_cog.poller.engine"]  # the parser sees imports at all
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_the_cycle_finder_finds_a_cycle() -> None:
    with pytest.raises(CycleError):
        tuple(TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())
