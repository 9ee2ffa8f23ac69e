"""``bilat demo``: the two-party pipeline on generated traffic, on one machine.

Starts (or reuses) the local stack of ``bilat up`` and runs :func:`streams.runtime.demo.run_demo`;
:mod:`streams.cli.main` registers it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console

from streams.cli.common import friendly, stdout_console
from streams.core import resources
from streams.runtime.config import DEFAULT_BASE_PORT, DEFAULT_PARTIES

__all__ = ["demo_command"]

console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)


@click.command("demo")
@click.option("--records", default=5000, show_default=True, help="Calls per party to generate.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=resources.work_dir() / "demo",
    show_default=True,
    help="Where generated files and worker logs go.",
)
@click.option(
    "--base-port",
    default=DEFAULT_BASE_PORT,
    show_default=True,
    help="Kafka port of hgc; dcc gets +100.",
)
@click.option("--redis-port", default=6390, show_default=True, help="Redis port.")
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run folder of the local stack [default: $BILAT_RUN_DIR or .bilat/run].",
)
@friendly
def demo_command(
    records: int, workdir: Path, base_port: int, redis_port: int, run_dir: Path | None
) -> None:
    """Run the two-party demo: stack up, generate traffic, ingest, rate, anchor, reconcile.

    Starts (or reuses) the local stack of `bilat up` with the same ports, so it works on a
    fresh machine; the first run downloads Kafka from Maven Central. Leaves the stack
    running for a look around (`bilat status`, `bilat down`). Exits 1 if the counts do not
    add up.
    """
    from streams.cli.mirror import local_links, start_mirrors
    from streams.cli.stack import party_specs
    from streams.devstack.localstack import LocalStack, RedisSpec
    from streams.runtime.demo import print_report, run_demo

    started = time.monotonic()
    stack = LocalStack(run_dir=run_dir, progress=lambda m: err.print(m, style="dim", markup=False))
    brokers = {
        spec.name: stack.kafka_up(spec).bootstrap
        for spec in party_specs(DEFAULT_PARTIES, base_port)
    }
    redis = stack.redis_up(RedisSpec(name="redis", port=redis_port)).url
    start_mirrors(stack, local_links(DEFAULT_PARTIES, base_port))
    results = run_demo(records, workdir, brokers, redis, say=lambda m: err.print(m, markup=False))
    print_report(stdout_console(), results, records)
    console.print(f"done in {time.monotonic() - started:.1f} s; stop the stack with `bilat down`")
    if not all(r.consistent for r in results):
        sys.exit(1)
