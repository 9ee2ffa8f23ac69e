"""The import contract of ``make lint`` (``[tool.importlinter]`` in pyproject.toml) catches what
it promises: a pure package that imports an I/O client or a shell package, directly or through
another module.

Each case copies the package tree and the configuration to a temporary folder, plants one
violation and runs ``lint-imports`` there, with the copy first on the import path. The
unmodified copy passes, so a failure is the planted import, not the tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

PACKAGES = ("streams", "connectors")


def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "_data", "*.so", "*.c")
    for package in PACKAGES:
        shutil.copytree(REPO / package, dest / package, ignore=ignore)
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    command = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-c", command, "--no-cache", "--no-logo", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _plant(root: Path, module: str, line: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    text = path.read_text(encoding="utf-8")
    # At the end of the module: the linter reads every import statement wherever it stands.
    path.write_text(text + f"\n{line}  # planted by test_import_contract\n", encoding="utf-8")


def test_the_unmodified_tree_keeps_the_contract(tmp_path: Path) -> None:
    _copy_tree(tmp_path)
    result = _lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "named"),
    [
        ("streams.settle.tiers", "import redis", "streams.settle.tiers -> redis"),
        (
            "streams.merkle.rfc9162",
            "from streams.devstack import procs",
            "streams.merkle.rfc9162 -> streams.devstack",
        ),
        ("streams.core.clock", "import aiohttp", "streams.core.clock -> aiohttp"),
    ],
)
def test_a_planted_import_breaks_the_contract(
    tmp_path: Path, module: str, line: str, named: str
) -> None:
    _copy_tree(tmp_path)
    _plant(tmp_path, module, line)
    result = _lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert named in result.stdout


def test_an_indirect_import_breaks_the_contract_too(tmp_path: Path) -> None:
    """The ledger reaches Kafka through another pure module: that is a violation as well."""
    _copy_tree(tmp_path)
    _plant(tmp_path, "streams.core.clock", "import faust")
    result = _lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "streams.ledger is not allowed to import faust" in result.stdout
    assert "streams.core.clock -> faust" in result.stdout
