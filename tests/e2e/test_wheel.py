"""A built wheel works on its own: installed in a fresh virtual environment outside the checkout,
it finds its schemas, example agreement, MEF specs and launcher files, and its CLI runs.

The wheel is built from a copy of the files a release is made from (so nothing left in the
checkout, such as an in-place C build, can leak into it), installed with its dependencies
(``pip install``; ``PIP_FIND_LINKS`` and pip's cache keep that quick), and every command runs
with a working directory outside the checkout and without ``PYTHONPATH``, so only the
installed package can answer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.paths import REPO

# What a release is built from: the packages, the data they ship and the build configuration.
SOURCES = ("streams", "connectors", "schemas", "examples", "specs", "deploy")
BUILD_FILES = ("pyproject.toml", "setup.py", "README.md")
BUILD_TIMEOUT = 300  # seconds, for each of build and install (the first install downloads)

CODEC_ROUND_TRIP = """
import json
from streams.contract.compat import sample_records
from streams.contract.schemas import SchemaStore
from streams.runtime.registry import make_codec

store = SchemaStore.default()
codec = make_codec()
done = {}
for subject in store.subjects():
    for record in sample_records(store.latest(subject)):
        assert codec.decode(subject, codec.encode(subject, record)) == record, subject
    done[subject] = store.latest(subject).version
print(json.dumps({"root": str(store.root), "subjects": done}))
"""

PACKAGE_DATA = """
import json
from streams.core import resources
from streams.devstack.kafka_broker import LOG4J2_CONFIG, POM_PATH, read_kafka_version
import streams, streams.merkle.batchtree as batchtree

print(json.dumps({
    "streams": streams.__file__,
    "checkout": str(resources.checkout()),
    "mef": sorted(p.name for p in resources.mef_dir().glob("*.api.yaml")),
    "pom": str(POM_PATH),
    "log4j2": LOG4J2_CONFIG.is_file(),
    "kafka": read_kafka_version(),
    "native": batchtree.NATIVE,
}))
"""


@dataclass(frozen=True)
class Installed:
    venv: Path
    workdir: Path
    env: dict[str, str]

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=120
        )

    def bilat(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.venv / "bin" / "bilat"), *args)

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.venv / "bin" / "python"), "-c", code)


def _checked(command: list[str], **kwargs: object) -> None:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False, **kwargs
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The wheel of this checkout, installed in a new virtual environment."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info", "build")
    for name in SOURCES:
        # symlinks=True: streams/_data's links into the checkout's folders stay links, as in git.
        shutil.copytree(REPO / name, source / name, symlinks=True, ignore=ignore)
    for name in BUILD_FILES:
        shutil.copy(REPO / name, source / name)
    dist = base / "dist"
    _checked([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(source)])
    (wheel,) = dist.glob("bilat-*.whl")
    venv = base / "venv"
    _checked([sys.executable, "-m", "venv", str(venv)])
    _checked([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)])
    workdir = base / "work"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BILAT_"))}
    env |= {"HOME": str(base / "home"), "VIRTUAL_ENV": str(venv)}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    yield Installed(venv=venv, workdir=workdir, env=env)


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Installed) -> None:
    result = installed.python(PACKAGE_DATA)
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert Path(facts["streams"]).is_relative_to(installed.venv)
    assert facts["checkout"] == "None"
    assert facts["mef"] == sorted(p.name for p in (REPO / "specs" / "mef").glob("*.api.yaml"))
    assert Path(facts["pom"]).is_relative_to(installed.venv)
    assert facts["log4j2"]
    assert facts["kafka"]  # the packaged pom names a Kafka version
    if os.environ.get("BILAT_EXPECT_NATIVE") == "1":
        assert facts["native"], "the wheel was built without the C Merkle batch builder"


def test_every_schema_subject_round_trips_through_the_packaged_schemas(
    installed: Installed,
) -> None:
    result = installed.python(CODEC_ROUND_TRIP)
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert Path(facts["root"]).is_relative_to(installed.venv)
    subjects = {p.name for p in (REPO / "schemas").iterdir() if p.is_dir()}
    assert set(facts["subjects"]) == subjects


def test_the_packaged_example_agreement_checks(installed: Installed) -> None:
    located = installed.bilat("agreement", "example", "--path")
    assert located.returncode == 0, located.stderr
    example = Path(located.stdout.strip())
    assert example.is_relative_to(installed.venv) and example.is_file()
    checked = installed.bilat("agreement", "check", str(example))
    assert checked.returncode == 0, checked.stderr
    assert "canonical hash" in checked.stdout

    written = installed.bilat("agreement", "example", "--out", "agreement.yaml")
    assert written.returncode == 0, written.stderr
    copy = installed.workdir / "agreement.yaml"
    assert copy.read_text() == (REPO / "examples" / "agreement.yaml").read_text()
    assert installed.bilat("agreement", "check", "agreement.yaml").returncode == 0
    again = installed.bilat("agreement", "example", "--out", "agreement.yaml")
    assert again.returncode == 2 and "exists" in again.stderr


def test_the_cli_runs_and_names_the_one_version(installed: Installed) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    shown = installed.bilat("--version")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().endswith(f"version {version}")
    up = installed.bilat("up", "--help")
    assert up.returncode == 0, up.stderr
    assert "--run-dir" in up.stdout
