"""The checkout the tests run in, for the files of the repository tests read and for running
the CLI inside it. Bilat itself finds its files through ``streams.core.resources``."""

from pathlib import Path

__all__ = ["REPO"]

REPO = Path(__file__).resolve().parents[1]
