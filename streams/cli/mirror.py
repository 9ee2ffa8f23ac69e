"""``bilat mirror up|down|status|config``: MirrorMaker 2 between the two parties' clusters.

Thin commands over :class:`~streams.devstack.localstack.LocalStack` (the local stack) and
:mod:`streams.reconcile.mirroring` (the settings); ``streams.cli.main`` registers the group and
``bilat up`` starts the mirrors through :func:`start_mirrors`. A StackError becomes a red
message and exit code 2; ``status`` exits 3 when a link does not mirror fully.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streams.cli.common import stdout_console
from streams.cli.stack import (
    EXIT_SOME_STOPPED,
    base_port_option,
    party_specs,
    run_dir_option,
    stack_errors,
)
from streams.core.errors import StackError
from streams.devstack.localstack import LocalStack, MirrorHandle, MirrorStatus, local_rest_port
from streams.reconcile.mirroring import (
    ClientProperties,
    MirrorLink,
    links_for,
    render_mm2_properties,
)
from streams.runtime.config import DEFAULT_BASE_PORT, DEFAULT_PARTIES, Settings
from streams.runtime.security import SecuritySettingsError, java_client_properties

__all__ = [
    "LOCAL_PREFIX_PATTERN",
    "local_links",
    "mirror_group",
    "start_mirrors",
    "status_document",
]

LOCAL_PREFIX_PATTERN = r"(?:demo-[0-9]{14}\.)?"
"""What the local stack mirrors by default: the unprefixed topics and every demo run's."""
LOCAL_REFRESH_SECONDS = 2
"""Locally a new topic (a new demo run) is mirrored within about 2 s."""


def local_links(
    parties: Sequence[str],
    base_port: int = DEFAULT_BASE_PORT,
    topic_prefix: str = "",
    prefix_pattern: str | None = None,
    clients: Mapping[str, ClientProperties] | None = None,
) -> tuple[MirrorLink, MirrorLink]:
    """The two links between the local clusters of ``parties`` (as ``bilat up`` starts them):
    replication factor 1, refresh 2 s, each MM2's REST on its target broker's port + 10.
    Without a prefix or pattern, :data:`LOCAL_PREFIX_PATTERN`. ``clients``: each party's
    cluster's Java client properties for MM2 (a secured stack; see ``links_for``)."""
    specs = party_specs(parties, base_port)
    if not topic_prefix and prefix_pattern is None:
        prefix_pattern = LOCAL_PREFIX_PATTERN
    return links_for(
        {spec.name: spec.bootstrap for spec in specs},
        rest_ports={spec.name: local_rest_port(spec.port) for spec in specs},
        topic_prefix=topic_prefix,
        prefix_pattern=prefix_pattern,
        refresh_seconds=LOCAL_REFRESH_SECONDS,
        replication_factor=1,
        clients=clients,
    )


def start_mirrors(stack: LocalStack, links: Sequence[MirrorLink]) -> list[MirrorHandle]:
    """Start the MM2 of every link (in parallel) and wait until each mirrors."""
    return stack.mirror_up_all(links)


def _progress_console() -> tuple[Console, Callable[[str], None]]:
    console = Console(highlight=False)
    return console, lambda message: console.print(f"[dim]{escape(message)}[/dim]")


def _parties_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--party",
        "parties",
        multiple=True,
        metavar="NAME",
        help="The two parties, seller first (give it twice) [default: hgc and dcc].",
    )(func)


def _prefix_options(default: str) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """``--topic-prefix`` and ``--prefix-pattern``; ``default`` says what neither means."""

    def decorate(func: click.decorators.FC) -> click.decorators.FC:
        func = click.option(
            "--prefix-pattern",
            metavar="REGEX",
            default=None,
            help="Mirror the topics under every prefix this regex matches whole, e.g. "
            rf"'t-[0-9a-f]{{10}}\.' [default: {default}].",
        )(func)
        return click.option(
            "--topic-prefix",
            metavar="PREFIX",
            default="",
            help="Mirror the topics under this one prefix (the parties' BILAT_TOPIC_PREFIX).",
        )(func)

    return decorate


def _two(parties: tuple[str, ...]) -> tuple[str, ...]:
    chosen = parties or DEFAULT_PARTIES
    if len(chosen) != 2:
        raise click.BadParameter(
            f"got {len(chosen)} ({', '.join(chosen)}), want two: --party A --party B",
            param_hint="--party",
        )
    return chosen


@click.group(name="mirror")
def mirror_group() -> None:
    """MirrorMaker 2: copy each party's ledger to its partner's cluster, exactly once.

    Each direction is one MirrorMaker 2 process next to the cluster it writes to. It copies
    ledger.anchors, ledger.digests, recon.requests and recon.answers (never ledger.batches)
    as <source party>.<topic>, in Kafka transactions, reading the source read_committed.
    `bilat up` starts both directions; these commands start, stop and check them alone.

    \b
    Examples:
      bilat mirror up                      hgc -> dcc and dcc -> hgc on the local stack
      bilat mirror status                  per topic: source and copy end offsets, missing
      bilat mirror down
      bilat mirror config --source dcc --source-bootstrap partner.example:9093 \\
          --target hgc --target-bootstrap kafka:9092 --out mm2.properties
    """


@mirror_group.command(name="up")
@_parties_option
@base_port_option("Kafka port of the first party, as given to `bilat up`.")
@_prefix_options(f"{LOCAL_PREFIX_PATTERN}: the unprefixed topics and every demo run's")
@run_dir_option
def mirror_up_command(
    parties: tuple[str, ...],
    base_port: int,
    topic_prefix: str,
    prefix_pattern: str | None,
    run_dir: Path | None,
) -> None:
    """Start MirrorMaker 2 both ways between the two parties' local clusters.

    The clusters must run (`bilat up`). Each MirrorMaker is ready when its source connector
    runs and every mirrored topic of the source has its copy on the target; a topic it
    cannot create fails the start with the lines of its log about it. Its settings
    (mm2.properties in its folder) are rendered on every start; a running MirrorMaker whose
    settings changed is restarted.

    \b
    Examples:
      bilat mirror up
      bilat mirror up --topic-prefix demo-20261201120000.
      bilat mirror up --party hgc --party dcc --base-port 29092 --run-dir /tmp/bilat
    """
    console, progress = _progress_console()
    with stack_errors():
        links = local_links(_two(parties), base_port, topic_prefix, prefix_pattern)
        stack = LocalStack(run_dir=run_dir, progress=progress)
        handles = start_mirrors(stack, links)
    for handle in handles:
        state = f"started in {handle.seconds:.1f} s" if handle.started else "already running"
        console.print(f"mm2 {handle.source} -> {handle.target}: {state} (pid {handle.pid})")


@mirror_group.command(name="down")
@run_dir_option
def mirror_down_command(run_dir: Path | None) -> None:
    """Stop every MirrorMaker of the run folder (the clusters keep running).

    MirrorMaker keeps its position in topics on the target cluster, so `bilat mirror up`
    continues where it stopped: nothing is copied twice or skipped.

    \b
    Example:
      bilat mirror down
    """
    console, progress = _progress_console()
    with stack_errors():
        stack = LocalStack(run_dir=run_dir, progress=progress)
        stopped = [link.name for link in stack.mirror_links() if stack.mirror_down(link.name)]
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "no MirrorMaker running")


@mirror_group.command(name="status")
@run_dir_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: run_dir and links (name, source, target, pid, running, connector, "
    "tasks, topics with source_end/target_end/missing, missing, problems, log_lines).",
)
def mirror_status_command(run_dir: Path | None, as_json: bool) -> None:
    """Check every MirrorMaker of the run folder: process, connector, each mirrored topic.

    For each direction: whether its process runs, the state of its source connector, and
    for every source topic it mirrors the end offset on the source and of its copy on the
    target (the copy's runs ahead: it also holds transaction markers). A copy missing on the
    target is named with the lines of mm2.log about it: MirrorMaker only logs a WARN when it
    cannot create a topic, and keeps running.

    Exit code 0 when every link mirrors fully, 3 when a process is stopped, a connector
    failed, a copy is missing or no MirrorMaker is known.

    \b
    Examples:
      bilat mirror status
      bilat mirror status --json | jq '.links[].missing'
    """
    console = stdout_console()
    with stack_errors():
        stack = LocalStack(run_dir=run_dir)
        statuses = [stack.mirror_status(link) for link in stack.mirror_links()]
    if as_json:
        click.echo(json.dumps(status_document(stack.run_dir, statuses), indent=2))
    elif not statuses:
        console.print(
            f"no MirrorMaker recorded in {stack.run_dir}: start them with `bilat mirror up`",
            markup=False,
        )
    else:
        for status in statuses:
            console.print(_status_table(status), crop=False)
            _print_problems(console, status)
    if not statuses or not all(status.healthy for status in statuses):
        raise click.exceptions.Exit(EXIT_SOME_STOPPED)


def _status_table(status: MirrorStatus) -> Table:
    link = status.link
    process = f"pid {status.pid}" if status.running else "[red]stopped[/red]"
    connector = status.source.connector if status.source else "unknown"
    tasks = ", ".join(f"{t} {s}" for t, s in (status.source.tasks if status.source else {}).items())
    title = f"mm2 {link.source} -> {link.target}: {process}, connector {connector}" + (
        f", {tasks}" if tasks else ""
    )
    table = Table(title=title, title_justify="left")
    table.add_column("source topic", overflow="fold")
    table.add_column("copy on target", overflow="fold")
    table.add_column("source end", justify="right")
    table.add_column("copy end", justify="right")
    table.add_column("state")
    for lag in status.topics:
        state = "[red]MISSING[/red]" if lag.missing else "[green]ok[/green]"
        copy_end = "-" if lag.target_end is None else str(lag.target_end)
        table.add_row(
            escape(lag.source_topic),
            escape(lag.target_topic),
            str(lag.source_end),
            copy_end,
            state,
        )
    return table


def _print_problems(console: Console, status: MirrorStatus) -> None:
    for problem in status.problems:
        console.print(f"[red]{escape(problem)}[/red]")
    if status.log_lines:
        console.print(f"lines of {escape(str(status.log_path))}:")
        for line in status.log_lines:
            console.print(f"  {escape(line)}", soft_wrap=True)


def status_document(run_dir: Path, statuses: Sequence[MirrorStatus]) -> dict[str, Any]:
    """What ``bilat mirror status --json`` prints."""
    return {
        "run_dir": str(run_dir),
        "links": [
            {
                "name": s.link.name,
                "source": s.link.source,
                "target": s.link.target,
                "pid": s.pid,
                "running": s.running,
                "connector": s.source.connector if s.source else None,
                "tasks": dict(s.source.tasks) if s.source else {},
                "topics": [
                    {
                        "source_topic": lag.source_topic,
                        "target_topic": lag.target_topic,
                        "source_end": lag.source_end,
                        "target_end": lag.target_end,
                        "missing": lag.missing,
                    }
                    for lag in s.topics
                ],
                "missing": list(s.missing),
                "problems": list(s.problems),
                "log_lines": list(s.log_lines),
                "log": str(s.log_path),
            }
            for s in statuses
        ],
    }


def _int_option(
    name: str, low: int, high: int, default: int, help_text: str
) -> Callable[[click.decorators.FC], click.decorators.FC]:
    return click.option(
        name, type=click.IntRange(low, high), default=default, show_default=True, help=help_text
    )


@mirror_group.command(name="config")
@click.option("--source", required=True, metavar="PARTY", help="Party whose topics are copied.")
@click.option("--source-bootstrap", required=True, metavar="HOST:PORT", help="Its cluster.")
@click.option("--target", required=True, metavar="PARTY", help="Party the copies are for.")
@click.option("--target-bootstrap", required=True, metavar="HOST:PORT", help="Its cluster.")
@_prefix_options("the unprefixed topics")
@_int_option("--rest-port", 1, 65535, 8083, "Port of MirrorMaker's internal REST server.")
@click.option(
    "--rest-host",
    default="127.0.0.1",
    show_default=True,
    help="Host it listens on (a routable address only for a multi-node MirrorMaker).",
)
@_int_option(
    "--replication-factor",
    1,
    10,
    3,
    "Of the copies and MirrorMaker's internal topics (1 on a single broker).",
)
@_int_option("--refresh-seconds", 1, 3600, 60, "How often MirrorMaker looks for new topics.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the file here instead of printing it.",
)
def mirror_config_command(
    source: str,
    source_bootstrap: str,
    target: str,
    target_bootstrap: str,
    topic_prefix: str,
    prefix_pattern: str | None,
    rest_port: int,
    rest_host: str,
    replication_factor: int,
    refresh_seconds: int,
    out: Path | None,
) -> None:
    """Print (or write) the mm2.properties of one direction, for a deployment of your own.

    Run it with `connect-mirror-maker.sh mm2.properties --clusters <target>` next to the
    target cluster (deploy/compose does so). The settings are those `bilat mirror up` uses,
    each preceded by a comment saying why. Without --topic-prefix or --prefix-pattern the
    unprefixed topics are mirrored.

    The clusters' security comes from the environment: the source (the partner's cluster)
    from BILAT_PARTNER_KAFKA_*, the target (ours) from BILAT_KAFKA_*. Secrets are not in the
    file: it refers to the secret files (${dir:<folder>:<file>}), which must be readable where
    MirrorMaker 2 runs; the file is written readable by its owner only.

    \b
    Examples:
      bilat mirror config --source dcc --source-bootstrap dcc-kafka.example:9093 \\
          --target hgc --target-bootstrap kafka:9092 --replication-factor 1 \\
          --out deploy/compose/mm2.properties
    """
    with stack_errors():
        source_client, target_client = _clients_from_env()
        link = MirrorLink(
            source,
            source_bootstrap,
            target,
            target_bootstrap,
            topic_prefix=topic_prefix,
            prefix_pattern=prefix_pattern,
            rest_port=rest_port,
            rest_host=rest_host,
            refresh_seconds=refresh_seconds,
            replication_factor=replication_factor,
            source_client=source_client,
            target_client=target_client,
        )
        header = (
            f"MirrorMaker 2, {link.flow}: written by `bilat mirror config`; regenerate it, do "
            f"not edit.\nRun: connect-mirror-maker.sh mm2.properties --clusters {link.target}"
        )
        text = render_mm2_properties(link, header)
        if out is None:
            click.echo(text, nl=False)
            return
        try:
            _write_private(out, text)
        except OSError as exc:
            raise StackError(f"cannot write {out}: {exc}") from exc
    click.echo(f"wrote {out} ({link.flow})", err=True)


def _clients_from_env() -> tuple[ClientProperties, ClientProperties]:
    """MM2's client properties of the partner's cluster (``BILAT_PARTNER_KAFKA_*``) and of ours
    (``BILAT_KAFKA_*``); bad settings become a StackError (red message, exit 2)."""
    try:
        settings = Settings.from_env()
        return (
            tuple(java_client_properties(settings.partner_security).items()),
            tuple(java_client_properties(settings.security).items()),
        )
    except SecuritySettingsError as exc:
        raise StackError(str(exc)) from exc


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable and writable by its owner only (0600), also when the
    file exists: MM2's properties name the secret files and the principals."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
