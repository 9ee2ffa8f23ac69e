"""``bilat up``, ``bilat down``, ``bilat status``: the local stack from the command line.

Thin commands over :class:`~streams.ops.localstack.LocalStack`; ``streams.cli`` registers them.
Any :class:`~streams.errors.StackError` becomes a red message on stderr and exit code 2.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streams.config import DEFAULT_BASE_PORT, DEFAULT_PARTIES, PARTY_PORT_STEP
from streams.errors import StackError
from streams.ops.localstack import (
    DEFAULT_REDIS_PORT,
    KafkaSpec,
    LocalStack,
    RedisSpec,
    ServiceStatus,
)

__all__ = ["down_command", "party_specs", "status_command", "status_table", "up_command"]

REDIS_NAME = "redis"
EXIT_STACK_ERROR = 2
EXIT_SOME_STOPPED = 3

_RUN_DIR_HELP = (
    "Run folder with each service's config, data, log and pid "
    "[default: $BILAT_RUN_DIR or <repo>/.bilat/run]."
)


def party_specs(parties: Sequence[str], base_port: int) -> list[KafkaSpec]:
    """One Kafka cluster per party: ports ``base + 100·i`` (clients) and ``+1`` (controller)."""
    specs = []
    for index, party in enumerate(parties):
        port = base_port + PARTY_PORT_STEP * index
        specs.append(KafkaSpec(name=party, port=port, controller_port=port + 1))
    return specs


def status_table(services: Sequence[ServiceStatus], run_dir: Path) -> Table:
    """The services as a table (kind, name, address, pid, state, log relative to ``run_dir``)."""
    table = Table(title=f"bilat local stack in {escape(str(run_dir))}", title_justify="left")
    for column in ("service", "name", "address", "pid", "state"):
        table.add_column(column, no_wrap=True)
    table.add_column("log", overflow="fold")
    for service in services:
        state = "[green]running[/green]" if service.running else "[red]stopped[/red]"
        pid = str(service.pid) if service.pid is not None else "-"
        log = service.log_path
        shown = log.relative_to(run_dir) if log.is_relative_to(run_dir) else log
        table.add_row(service.kind, service.name, service.address, pid, state, escape(str(shown)))
    return table


@contextmanager
def _stack_errors() -> Iterator[None]:
    """Show a StackError as one red message on stderr and exit with code 2."""
    try:
        yield
    except StackError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[red]error: {escape(str(exc))}[/red]"
        )
        raise click.exceptions.Exit(EXIT_STACK_ERROR) from exc


def _run_dir_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--run-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=_RUN_DIR_HELP,
    )(func)


@click.command(name="up")
@click.option(
    "--party",
    "parties",
    multiple=True,
    metavar="NAME",
    help="Start a Kafka cluster for party NAME; repeat for more [default: hgc and dcc].",
)
@click.option(
    "--base-port",
    type=click.IntRange(1024, 65000),
    default=DEFAULT_BASE_PORT,
    show_default=True,
    help="Kafka port of the first party; each next party gets +100, controllers +1.",
)
@click.option(
    "--redis-port",
    type=click.IntRange(1024, 65535),
    default=DEFAULT_REDIS_PORT,
    show_default=True,
    help="Redis port (not 6379, where a system Redis may run).",
)
@_run_dir_option
def up_command(
    parties: tuple[str, ...], base_port: int, redis_port: int, run_dir: Path | None
) -> None:
    """Start the local stack: one Kafka cluster per party, and Redis.

    Kafka (KRaft, single node, on 127.0.0.1) runs from Maven Central jars on the local JDK,
    resolved once into ~/.cache/bilat; Redis is Debian's redis-server (installed with apt-get
    when missing and run as root). Services already running are left as they are, so running
    `up` twice is harmless. Stop everything with `bilat down`.

    \b
    Examples:
      bilat up                                  hgc on 9092, dcc on 9192, Redis on 6390
      bilat up --party hgc                      one cluster only
      bilat up --base-port 29092 --redis-port 29379 --run-dir /tmp/bilat
    """
    console = Console(highlight=False)
    with _stack_errors(), console.status("starting the local stack…") as spinner:

        def progress(message: str) -> None:
            console.print(f"[dim]{escape(message)}[/dim]")
            spinner.update(escape(message))

        stack = LocalStack(run_dir=run_dir, progress=progress)
        started = [
            stack.kafka_up(spec).started
            for spec in party_specs(parties or DEFAULT_PARTIES, base_port)
        ]
        started.append(stack.redis_up(RedisSpec(name=REDIS_NAME, port=redis_port)).started)
    console.print(status_table(stack.status(), stack.run_dir))
    if not any(started):
        console.print("everything was already running: nothing started")


@click.command(name="down")
@click.option(
    "--party",
    "parties",
    multiple=True,
    metavar="NAME",
    help="Stop only party NAME's Kafka cluster (Redis keeps running); repeat for more.",
)
@_run_dir_option
def down_command(parties: tuple[str, ...], run_dir: Path | None) -> None:
    """Stop what `bilat up` started: every service of the run folder, or only some parties.

    Each service gets SIGTERM and up to 30 s to shut down cleanly, then SIGKILL. Data stays in
    the run folder, so the next `bilat up` continues where this one stopped.

    \b
    Examples:
      bilat down                 stop everything
      bilat down --party dcc     stop dcc's Kafka only
    """
    console = Console(highlight=False)
    with _stack_errors():
        stack = LocalStack(
            run_dir=run_dir, progress=lambda m: console.print(f"[dim]{escape(m)}[/dim]")
        )
        stopped = [p for p in parties if stack.kafka_down(p)] if parties else stack.down_all()
    if stopped:
        console.print(f"stopped: {', '.join(stopped)}")
    else:
        console.print("nothing running")


@click.command(name="status")
@_run_dir_option
def status_command(run_dir: Path | None) -> None:
    """Show every service of the run folder: address, pid, running or stopped, log file.

    Exit code 0 when all known services run (or none are known), 3 when some are stopped.

    \b
    Example:
      bilat status
    """
    console = Console(highlight=False)
    with _stack_errors():
        stack = LocalStack(run_dir=run_dir)
        services = stack.status()
    if not services:
        console.print("no services; run `bilat up`")
        return
    console.print(status_table(services, stack.run_dir))
    if not all(service.running for service in services):
        raise click.exceptions.Exit(EXIT_SOME_STOPPED)
