"""Where Bilat finds the files it ships beside its code, installed or in a checkout.

The Avro schemas, the example agreement, the MEF specs and the local launcher's Kafka pom and
logging config are package data of :mod:`streams._data`, read through
:mod:`importlib.resources`: in a checkout (editable install or not) they resolve to the
folders at the top of the repository, in an installed wheel to the copies inside the package.
Nothing else in ``streams`` or ``connectors`` finds a file relative to its own location.

Every function returns a real filesystem path, since the JVM and Maven take file names:
Bilat must be installed unpacked (a wheel always is), not imported from a zip archive.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path

from streams.core.errors import BilatError

__all__ = [
    "checkout",
    "data_dir",
    "deploy_dir",
    "example_agreement",
    "mef_dir",
    "schema_dir",
    "work_dir",
]

_DATA_PACKAGE = "streams._data"


@functools.cache
def data_dir() -> Path:
    """The folder of :mod:`streams._data` (symbolic links into the checkout, or real copies)."""
    root = resources.files(_DATA_PACKAGE)
    if not isinstance(root, Path):
        raise BilatError(
            f"package data: got {root!r}, want a folder on disk; install Bilat unpacked "
            "(pip install bilat-*.whl), not as a zip archive"
        )
    return root


def _data(name: str) -> Path:
    # resolve(): in a checkout, name the real folder (schemas/, not streams/_data/schemas/)
    # in messages, so what a user reads is what they edit.
    return (data_dir() / name).resolve()


def schema_dir() -> Path:
    """The Avro schemas: ``<subject>/v<N>.avsc`` (``schemas/`` in the checkout)."""
    return _data("schemas")


def example_agreement() -> Path:
    """The example agreement, the default of ``BILAT_AGREEMENT`` (``examples/agreement.yaml``)."""
    return _data("examples") / "agreement.yaml"


def mef_dir() -> Path:
    """The MEF LSO Sonata OpenAPI files (``specs/mef/`` in the checkout)."""
    return _data("mef")


def deploy_dir() -> Path:
    """``pom.xml`` and ``log4j2.properties`` of the local Kafka launcher (``deploy/local/``)."""
    return _data("deploy")


@functools.cache
def checkout() -> Path | None:
    """The repository this package runs from, None when it is installed (not editable).

    A checkout is recognised by the ``pyproject.toml`` beside the ``streams`` package, which
    no installation has.
    """
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "streams").is_dir() else None


def work_dir() -> Path:
    """Where Bilat keeps run state by default (``run/``: pid files, logs; ``demo/``).

    ``<checkout>/.bilat`` when running from a checkout, as before; otherwise
    ``$XDG_STATE_HOME/bilat`` (``~/.local/state/bilat``), never inside site-packages.
    """
    repo = checkout()
    if repo is not None:
        return repo / ".bilat"
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "bilat"
