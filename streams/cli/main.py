"""``bilat``: the one command-line entry point of a Bilat deployment.

Commands are thin: each parses options into :class:`~streams.runtime.config.Settings`, calls one
function of the package, and prints what happened. Every :class:`~streams.core.errors.BilatError`
is shown as a one-paragraph message saying what to do, with exit code 2.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from connectors.mediation.base import FormatOptions, parse_timezone
from connectors.mediation.registry import FORMAT_NAMES
from connectors.sonata.cli import sonata
from streams.cli.common import (
    agreement_option,
    friendly,
    party_options,
    settings_of,
    stdout_console,
)
from streams.cli.keys import keys_group, sign_agreement_command, verify_agreement_command
from streams.cli.ledger import batcher_command, ledger_group, verify_command
from streams.cli.read import read_command
from streams.cli.stack import down_command, status_command, up_command
from streams.core import resources
from streams.runtime.config import DEFAULT_BASE_PORT, DEFAULT_PARTIES

__all__ = ["main"]

console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="bilat")
def main() -> None:
    """Bilat: rate, sign, anchor and reconcile wholesale usage between two partners.

    \b
    Quick start on one machine:
      bilat up          start Kafka (one cluster per party) and Redis
      bilat demo        run the two-party pipeline on generated traffic
      bilat down        stop everything `bilat up` started

    Configuration comes from BILAT_* environment variables (see README, "Configuration");
    options override them.
    """


@main.command()
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
def ingest(
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


@main.command()
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
@friendly
def worker(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    loglevel: str,
    until_caught_up: bool,
) -> None:
    """Run the rating worker (Faust) in the foreground until Ctrl-C / SIGTERM.

    Reads usage.cdr, writes usage.rated and usage.dlq. Run one per party; run more to scale
    (each takes a share of the partitions).

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
    run_worker(settings, loglevel, until_caught_up=until_caught_up)


@main.command()
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
def rerate(
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
    start = _parse_time(window, "--window")
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


@main.command()
@party_options
@click.option(
    "--at",
    "at",
    default=None,
    help="Any time inside the billing period [default: now], ISO-8601 with offset.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: period, time zone, version, charges (amounts as decimal strings), "
    "excluded lines, findings, totals per currency.",
)
@agreement_option
@friendly
def charges(
    at: str | None,
    as_json: bool,
    agreement: Path | None,
    party: str,
    kafka: str | None,
    topic_prefix: str,
) -> None:
    """Recurring and non-recurring charges of the product inventory for one billing period.

    Folds every Sonata order event on sonata.orders into the product inventory and prices
    each product under the agreement version in force at the period's start: recurring
    prices prorated by active time, one-off prices in the month of activation, and the
    charge items the Buyer accepted. Findings follow the table: products whose offering the
    agreement does not price (billed only through their charge items), and charge items in
    another currency than the agreement's (shown, never billed nor totalled).
    """
    import json

    from rich.markup import escape

    from streams.agreement.loader import load_book
    from streams.core.clock import SystemClock
    from streams.runtime.offline import load_inventory
    from streams.settle.charges import billing_period, period_statement

    settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
    moment = _parse_time(at, "--at") if at else SystemClock().now()
    book = load_book(settings.agreement)
    start, _end = billing_period(book.latest, moment)
    version = book.in_force(start)
    statement = period_statement(load_inventory(settings), version, moment)
    if as_json:
        click.echo(json.dumps(statement.to_json(), indent=2))
        return
    zone = version.timezone
    table = Table(
        title=f"charges of {statement.period_start.astimezone(zone):%Y-%m-%d} to "
        f"{statement.period_end.astimezone(zone):%Y-%m-%d} ({zone.key}), "
        f"agreement v{version.version}"
    )
    for column in ("product", "kind", "source", "amount", "how"):
        table.add_column(column, justify="right" if column == "amount" else "left", overflow="fold")
    for line in statement.charges:
        amount = f"{line.amount} {line.currency}"
        table.add_row(*map(escape, (line.product_id, line.kind, line.source, amount, line.detail)))
    out = stdout_console()
    out.print(table, crop=False)
    totals = ", ".join(f"{amount} {currency}" for currency, amount in statement.totals.items())
    out.print(f"{len(statement.charges)} charges, total {totals}", markup=False, soft_wrap=True)
    for finding in statement.findings:
        out.print(f"finding {finding.code}: {finding.message}", markup=False, soft_wrap=True)


def _parse_time(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise click.BadParameter(
            f"got {text!r}, want ISO-8601 with offset, e.g. 2026-12-01T10:00:00Z", param_hint=option
        )
    return moment.astimezone(UTC)


@main.group()
def agreement() -> None:
    """Inspect bilateral agreements."""


@agreement.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@friendly
def agreement_check(file: Path) -> None:
    """Validate an agreement FILE, list every problem, and print each version's canonical hash.

    One line per version: id, version, effective_from (UTC) and the hash of its canonical
    terms; then each party's keys (every version's) with their validity. A file over 1 MiB,
    or with anchors, tags, duplicate or unknown keys, is refused.
    """
    from streams.agreement.loader import load_book

    book = load_book(file)
    latest = book.latest
    console.print(
        f"{book.id}: {len(book.versions)} version(s), parties {' & '.join(latest.parties)}; "
        f"latest: {len(latest.tariffs)} tariffs, {latest.currency}, {latest.timezone.key}",
        soft_wrap=True,
    )
    for v in book.versions:
        console.print(
            f"{v.id} v{v.version} effective_from {v.effective_from.isoformat()} "
            f"canonical hash: {v.canonical_hash().hex()}",
            soft_wrap=True,
        )
    for party in latest.parties:
        listed = ", ".join(f"{k.key_id} ({k.window()})" for k in book.party_keys(party))
        console.print(f"{party} keys: {listed}", soft_wrap=True)


@agreement.command("example")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write it to this new file instead of printing it.",
)
@click.option("--path", "show_path", is_flag=True, help="Print where the packaged file is.")
@friendly
def agreement_example(out: Path | None, show_path: bool) -> None:
    """Print the example agreement Bilat ships, the default of BILAT_AGREEMENT.

    Every term is commented; start a real agreement from a copy of it.

    \b
    Examples:
      bilat agreement example --out agreement.yaml
      bilat agreement check "$(bilat agreement example --path)"
    """
    example = resources.example_agreement()
    if show_path:
        click.echo(str(example))
        return
    text = example.read_text(encoding="utf-8")
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        with out.open("x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        raise click.UsageError(f"{out} exists: choose a new file name or remove it") from None
    console.print(f"wrote the example agreement to {out}")


@main.command()
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
def demo(
    records: int, workdir: Path, base_port: int, redis_port: int, run_dir: Path | None
) -> None:
    """Run the two-party demo: stack up, generate traffic, ingest, rate, summarise.

    Starts (or reuses) the local stack of `bilat up` with the same ports, so it works on a
    fresh machine; the first run downloads Kafka from Maven Central. Leaves the stack
    running for a look around (`bilat status`, `bilat down`). Exits 1 if the counts do not
    add up.
    """
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
    results = run_demo(records, workdir, brokers, redis, say=lambda m: err.print(m, markup=False))
    print_report(stdout_console(), results, records)
    console.print(f"done in {time.monotonic() - started:.1f} s; stop the stack with `bilat down`")
    if not all(r.consistent for r in results):
        sys.exit(1)


for _command in (
    up_command,
    down_command,
    status_command,
    read_command,
    sonata,
    keys_group,
    ledger_group,
    batcher_command,
    verify_command,
):
    main.add_command(_command)
agreement.add_command(sign_agreement_command)
agreement.add_command(verify_agreement_command)

if __name__ == "__main__":
    main()
