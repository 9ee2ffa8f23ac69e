"""The mediation package has no import cycle, counting imports made only for type checking.

Formats import ``base`` and ``_common``; only ``registry`` imports the formats, and nothing in
the package imports ``registry`` but ``ingest``. A cycle would make the import order decide
whether a module loads (and hide behind ``TYPE_CHECKING`` until someone needs the name at run
time), so the graph is read from the source, ``if TYPE_CHECKING:`` blocks included.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import connectors.mediation

PACKAGE = "connectors.mediation"
FOLDER = Path(connectors.mediation.__file__).parent
MODULES = sorted(
    f"{PACKAGE}.{path.stem}" for path in FOLDER.glob("*.py") if path.stem != "__init__"
)


def imports_within_package(module: str) -> set[str]:
    """Every module of the package that ``module`` imports anywhere in its source."""
    tree = ast.parse((FOLDER / f"{module.rsplit('.', 1)[1]}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in MODULES}
    return found - {module}


GRAPH = {module: imports_within_package(module) for module in MODULES}


def test_the_import_graph_has_no_cycle() -> None:
    try:
        order = list(TopologicalSorter(GRAPH).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle in {PACKAGE}: {' -> '.join(exc.args[1])}")
    assert order[0].endswith((".base", "._common", ".synth"))


def test_formats_depend_on_the_contract_not_on_the_registry() -> None:
    assert GRAPH[f"{PACKAGE}.base"] == set()
    importers = {module for module, imported in GRAPH.items() if f"{PACKAGE}.registry" in imported}
    assert importers == {f"{PACKAGE}.ingest"}


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports_alone_in_a_fresh_interpreter(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        cwd=FOLDER.parents[1],
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
