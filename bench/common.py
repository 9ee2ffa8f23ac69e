"""Timing helpers shared by the benchmarks: best-of-N rates, a table, a JSON file."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def arguments(doc: str | None, repeat: int) -> argparse.ArgumentParser:
    """A benchmark's command line: its docstring as ``--help``, and ``--repeat`` (best of N)."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=repeat,
        help=f"timed runs per case, best kept (default {repeat})",
    )
    return parser


@dataclass
class Row:
    name: str
    items: int
    seconds: float
    """Best of the repeats."""

    @property
    def rate(self) -> float:
        return self.items / self.seconds


def best_of(name: str, items: int, run: Callable[[], object], repeat: int) -> Row:
    """Run ``run`` ``repeat`` times (after one warm-up) and keep the fastest."""
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return Row(name, items, min(times))


def report(
    title: str, rows: Sequence[Row], baseline: Row, extra: dict[str, object], out: str
) -> None:
    """Print a table with each row's rate and ratio to ``baseline``; write JSON to results/."""
    print(f"\n{title}")
    print(f"{'case':<44} {'items':>10} {'best s':>9} {'items/s':>12} {'vs baseline':>12}")
    for row in rows:
        ratio = row.rate / baseline.rate
        rate = f"{row.rate:>12,.0f}"
        print(f"{row.name:<44} {row.items:>10,} {row.seconds:>9.4f} {rate} {ratio:>11.2f}x")
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "title": title,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "baseline": baseline.name,
        "rows": [
            {**asdict(r), "rate": r.rate, "vs_baseline": r.rate / baseline.rate} for r in rows
        ],
        **extra,
    }
    path = RESULTS / out
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
