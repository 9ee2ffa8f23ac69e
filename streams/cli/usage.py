"""``bilat ingest``, ``bilat worker`` and ``bilat rerate``: usage in, rated usage out.

``ingest`` sends mediation files to usage.cdr, ``worker`` rates usage.cdr into usage.rated, and
``rerate`` rates one window again under an agreement version, as a new run. Each parses its
options into :class:`~streams.runtime.config.Settings` and calls one function of the package;
:mod:`streams.cli.main` registers them.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from connectors.mediation.base import FormatOptions, parse_timezone
from connectors.mediation.registry import FORMAT_NAMES
from streams.cli.common import agreement_option, friendly, parse_time, party_options, settings_of
from streams.cli.metrics_option import metrics_option, start_metrics

__all__ = ["ingest_command", "rerate_command", "worker_command"]

console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)


@click.command("ingest")
@party_options
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMAT_NAMES),
    default="csv",
    show_default=True,
    help="Mediation file format (see connectors/mediation/README.md).",
)
@click.option("--source", help="Mediation source id [default: from the file, e.g. accountcode].")
@click.option("--agreement-id", help="Agreement of the usage, for formats that lack it.")
@click.option("--partner", help="Partner party id, for formats that lack it.")
@click.option(
    "--direction",
    type=click.Choice(["outbound", "inbound"]),
    help="Traffic direction, for formats that lack it.",
)
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="IANA zone of switch timestamps without offset (asterisk, freeswitch).",
)
@friendly
def ingest_command(
    files: tuple[Path, ...],
    fmt: str,
    source: str | None,
    agreement_id: str | None,
    partner: str | None,
    direction: str | None,
    timezone: str,
    party: str,
    kafka: str | None,
    topic_prefix: str,
) -> None:
    """Send mediation FILES to usage.cdr; malformed lines go to usage.dlq with their reason.

    Switch CDRs (asterisk, freeswitch) do not name the agreement, partner or direction: give
    them as options. Their calls never answered are counted as not billable and not sent.

    \b
    Examples:
      bilat ingest --party hgc cdrs/2026-11-24.csv
      bilat ingest --format asterisk --agreement-id hgc-dcc-2026 --partner dcc \\
          --direction outbound --timezone Europe/Berlin /var/log/asterisk/cdr-csv/Master.csv
    """
    from connectors.mediation.ingest import ingest_files
    from streams.runtime.topics import ensure_topics

    options = FormatOptions(
        source=source,
        agreement_id=agreement_id,
        partner=partner,
        direction=direction,
        timezone=parse_timezone(timezone),
    )
    settings = settings_of(party, kafka, topic_prefix)
    ensure_topics(settings)
    total = sum(f.stat().st_size for f in files)
    with Progress(
        TextColumn("[bold]ingest"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("ingest", total=total)
        report = ingest_files(
            files, settings, fmt, on_progress=lambda n: progress.advance(task, n), options=options
        )
    rate = report.lines / report.seconds if report.seconds else 0.0
    unanswered = (
        f", {report.not_billable} unanswered calls not billable" if report.not_billable else ""
    )
    console.print(
        f"{report.files} file(s), {report.lines} lines in {report.seconds:.1f} s ({rate:,.0f}/s): "
        f"{report.produced} usage records to {settings.topic('usage.cdr')}, "
        f"{report.dead_lettered} malformed lines to {settings.topic('usage.dlq')}{unanswered}"
    )


@click.command("worker")
@party_options
@agreement_option
@click.option(
    "--loglevel",
    type=click.Choice(["crit", "error", "warn", "info", "debug"]),
    default="warn",
    show_default=True,
)
@click.option(
    "--until-caught-up",
    is_flag=True,
    help="Stop (exit 0) once every message on usage.cdr at start is rated or dead-lettered "
    "and committed: run the worker as a batch job.",
)
@click.option(
    "--engine",
    type=click.Choice(["kafka", "faust"]),
    default="kafka",
    show_default=True,
    help="The loop: kafka (librdkafka, fast) or faust (the Faust agent, for comparison).",
)
@click.option(
    "--member",
    metavar="ID",
    envvar="BILAT_WORKER_ID",
    default=None,
    help="Static group membership id of this worker (e.g. 1, 2): a restarted worker takes its "
    "partitions back at once [default: BILAT_WORKER_ID, else dynamic].",
)
@metrics_option
@friendly
def worker_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    loglevel: str,
    until_caught_up: bool,
    engine: str,
    member: str | None,
    metrics_port: int | None,
) -> None:
    """Run the rating worker in the foreground until Ctrl-C / SIGTERM.

    Reads usage.cdr, writes usage.rated and usage.dlq. Run one per party; run more to scale:
    workers of one party share its partitions (BILAT_PARTITIONS, default 4); give each a
    --member id so a restart takes its partitions back at once.

    \b
    Exit codes:
      0   stopped by a signal, or caught up (--until-caught-up)
      2   cannot start (no broker, no Redis, bad agreement): the message says what to do
      70  the loop failed (a send, Redis): nothing past the failed batch was committed;
          fix the cause named in the log and start it again
    """
    from streams.runtime.worker import run_worker

    settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
    err.print(
        f"rating worker for {settings.party}: {settings.topic('usage.cdr')} on {settings.kafka}"
        + (" (until caught up)" if until_caught_up else ""),
        markup=False,
    )
    start_metrics(metrics_port, "worker", settings.party, lambda m: err.print(m, markup=False))
    run_worker(settings, loglevel, until_caught_up=until_caught_up, engine=engine, member=member)


@click.command("rerate")
@party_options
@click.option(
    "--window",
    "window",
    required=True,
    help="Start of the event-time window to re-rate, ISO-8601 with offset (a window boundary).",
)
@click.option("--version", "version", required=True, help="Agreement version to rate under.")
@click.option(
    "--supersedes",
    default="live",
    show_default=True,
    help="The run this one replaces: 'live' (the workers' rating) or an earlier run id.",
)
@click.option("--dry-run", is_flag=True, help="Show the run, publish nothing.")
@agreement_option
@friendly
def rerate_command(
    window: str,
    version: str,
    supersedes: str,
    dry_run: bool,
    agreement: Path | None,
    party: str,
    kafka: str | None,
    topic_prefix: str,
) -> None:
    """Re-rate one window of usage under an agreement VERSION, as a new complete run.

    Reads every valid record of the window from usage.cdr, rates it under the version, and
    appends the run to usage.rated; each record names the run and what it supersedes.
    Nothing is overwritten.

    \b
    Example:
      bilat rerate --window 2026-12-01T10:00:00Z --version 2
    """
    from streams.agreement.loader import load_book
    from streams.core.clock import SystemClock
    from streams.rating.rater import Rater
    from streams.rating.rerate import rerate as rerate_window
    from streams.runtime.offline import load_inventory, publish_run, valid_usage

    settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
    start = parse_time(window, "--window")
    now = SystemClock().now()
    rater = Rater(load_book(settings.agreement), load_inventory(settings))
    run = rerate_window(valid_usage(settings, now), rater, version, start, supersedes, now)
    totals = ", ".join(f"{amount} {currency}" for currency, amount in run.totals.items()) or "0"
    console.print(
        f"run {run.run_id}: {len(run.records)} records of {run.window_start.isoformat()} to "
        f"{run.window_end.isoformat()} under version {run.version}, total {totals}; "
        f"supersedes {run.supersedes}"
    )
    for key, reason in run.refused:
        console.print(f"  not rated: {key}: {reason}", markup=False)
    if dry_run:
        console.print("dry run: nothing published")
        return
    count = publish_run(settings, run)
    console.print(f"published {count} records to {settings.topic('usage.rated')}")
