"""``bilat reconcile`` (the long-running reconciler) and ``bilat recon status`` (where each
window stands), over :class:`streams.runtime.reconciler.ReconcilerLoop`.

``streams.cli.main`` registers both.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from streams.cli.common import (
    agreement_option,
    friendly,
    party_options,
    settings_of,
    stdout_console,
)
from streams.cli.metrics_option import metrics_option, start_metrics
from streams.reconcile.engine import Outcome
from streams.runtime.recon_view import status_table, summary
from streams.runtime.reconciler import ReconcilerLoop

__all__ = ["recon_group", "reconcile_command"]

err = Console(stderr=True, highlight=False, soft_wrap=True)


def _outcome_json(loop: ReconcilerLoop, outcome: Outcome) -> dict[str, object]:
    return {
        "party": loop.settings.party,
        "partner": loop.partner,
        "agreement_id": loop.book.id,
        "windows": [w.to_json() for w in outcome.windows],
        "alerts": [loop.seen.alerts.get(a.alert_id) or a.to_avro(0) for a in outcome.alerts],
        "missing_copies": loop.missing_copies(),
    }


@click.command(name="reconcile")
@party_options
@agreement_option
@click.option(
    "--partner-alias",
    default=None,
    metavar="ALIAS",
    help="MirrorMaker 2 alias of the partner's cluster, prefix of its copies here "
    "[default: the partner's party id].",
)
@click.option(
    "--until-idle",
    type=click.FloatRange(0.5),
    default=None,
    metavar="SECONDS",
    help="Stop once nothing new arrived for SECONDS and nothing asked is unanswered "
    "(scripts, tests); default: run until stopped.",
)
@click.option(
    "--max-seconds",
    type=click.FloatRange(1),
    default=None,
    help="Stop after this long whatever the state.",
)
@metrics_option
@friendly
def reconcile_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    partner_alias: str | None,
    until_idle: float | None,
    max_seconds: float | None,
    metrics_port: int | None,
) -> None:
    """Reconcile this party's ledger with the partner's mirrored one (foreground).

    \b
    Per window: equal roots are agreed and the partner's anchor countersigned (the batcher
    appends the entry); different roots are drilled down bucket by bucket over
    recon.requests / recon.answers (mirrored), and every divergent record becomes an alert
    on recon.alerts and in Redis (bilat:<app>:recon:alerts). The partner's chain is checked
    against the agreement's keys all along.

    \b
    Examples:
      bilat reconcile --party dcc
      bilat reconcile --party hgc --until-idle 5
    """
    settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
    console = Console(highlight=False)
    loop = ReconcilerLoop(settings, partner_alias, say=lambda m: console.print(escape(m)))
    console.print(
        f"reconciling {settings.party} with {loop.partner} (copies {loop.alias}.*) on "
        f"{settings.kafka}"
    )
    start_metrics(metrics_port, "reconcile", settings.party, console.print)
    outcome = loop.run(until_idle=until_idle, max_seconds=max_seconds)
    missing = loop.missing_copies()
    if missing:
        console.print(
            f"[yellow]not mirrored here yet: {', '.join(missing)} (is MirrorMaker 2 running? "
            "`bilat mirror status`)[/yellow]"
        )
    console.print(summary(outcome))


@click.group(name="recon")
def recon_group() -> None:
    """Reconciliation results: where each window stands."""


@recon_group.command(name="status")
@party_options
@agreement_option
@click.option("--partner-alias", default=None, metavar="ALIAS", help="As for `bilat reconcile`.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
@friendly
def status_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    partner_alias: str | None,
    as_json: bool,
) -> None:
    """Per window: agreed / agreed within tolerance / diverged (counts, money at stake) /
    waiting, and countersignatures both ways. Reads the topics; publishes nothing.

    Exit status: 0 when every window is agreed (within tolerance or exactly), 1 when some
    diverged or were not anchored, 3 when some are still waiting.
    """
    settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
    loop = ReconcilerLoop(settings, partner_alias, redis_url="")
    outcome = loop.snapshot()
    if as_json:
        click.echo(json.dumps(_outcome_json(loop, outcome), indent=2, default=str))
    else:
        title = (
            f"{settings.party} ↔ {loop.partner}, agreement {loop.book.id} "
            f"(as of {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)"
        )
        console = stdout_console()
        console.print(status_table(outcome.windows, title))
        console.print(summary(outcome))
    states = {w.state for w in outcome.windows}
    if states & {"diverged", "not-anchored", "not-anchored-here"}:
        sys.exit(1)
    if states & {"waiting", "drilling"}:
        sys.exit(3)
