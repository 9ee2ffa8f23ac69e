"""``bilat batcher``: this party's batcher in the foreground
(:class:`streams.runtime.batcher.BatcherLoop`).

``streams.cli.main`` registers the command.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from streams.cli.common import agreement_option, friendly, key_option, party_options, settings_of
from streams.cli.metrics_option import metrics_option, start_metrics
from streams.core.keys import KeyPair
from streams.merkle.batchtree import NATIVE, NATIVE_HINT
from streams.runtime.batcher import FAULT_POINTS, BatcherLoop
from streams.runtime.faults import fault_hook

__all__ = ["batcher_command"]

console = Console(highlight=False)


@click.command(name="batcher")
@party_options
@agreement_option
@key_option
@click.option("--once", is_flag=True, help="Stop when caught up and nothing is due.")
@metrics_option
@friendly
def batcher_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    key_file: Path,
    once: bool,
    metrics_port: int | None,
) -> None:
    """Batch rated usage per event-time window, sign and anchor each batch (foreground).

    Windows close after the agreement's grace period; late usage makes a revision. Each batch
    is anchored exactly once, in one Kafka transaction with its digest, its leaves and the
    input offsets. Run one per party: a second one fences the first.
    """
    settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
    if not NATIVE:
        console.print(
            "[yellow]note: Merkle batches are built in pure Python, about 6x slower: the C module "
            f"was not compiled; {NATIVE_HINT}[/yellow]"
        )
    start_metrics(metrics_port, "batcher", settings.party, console.print)
    loop = BatcherLoop(
        settings,
        KeyPair.load(key_file),
        say=lambda m: console.print(m),
        checkpoint=fault_hook(FAULT_POINTS),  # BILAT_FAULT: the crash tests' abrupt exits
    )
    count = loop.run(once=once)
    console.print(f"{count} batches anchored")
