"""``bilat up``, ``bilat down``, ``bilat status``: the local stack from the command line.

Thin commands over :class:`~streams.devstack.localstack.LocalStack`; ``streams.cli.main`` registers
them. Any :class:`~streams.core.errors.StackError` becomes a red message on stderr and exit code 2.
``bilat up`` also starts MirrorMaker 2 both ways (:mod:`streams.cli.mirror`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.table import Table

from streams.cli.common import stdout_console
from streams.core.errors import StackError
from streams.devstack.localstack import (
    DEFAULT_REDIS_PORT,
    KafkaSpec,
    LocalStack,
    RedisSpec,
    ServiceStatus,
)
from streams.devstack.procs import LOOPBACK, port_accepts
from streams.devstack.secure import SecureFiles
from streams.runtime.config import DEFAULT_BASE_PORT, DEFAULT_PARTIES, PARTY_PORT_STEP, Settings

__all__ = [
    "Probe",
    "base_port_option",
    "default_probes",
    "down_command",
    "nothing_recorded",
    "other_run_dirs",
    "party_specs",
    "run_dir_option",
    "stack_errors",
    "status_command",
    "status_table",
    "up_command",
]

REDIS_NAME = "redis"
SECURE_BASE_PORT = 9492
"""`bilat up --secure`: hgc's SASL_SSL port (controller +1, mutual TLS +2), dcc's +100."""
SECURE_REDIS_PORT = 6391
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
def stack_errors() -> Iterator[None]:
    """Show a StackError as one red message on stderr and exit with code 2."""
    try:
        yield
    except StackError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[red]error: {escape(str(exc))}[/red]"
        )
        raise click.exceptions.Exit(EXIT_STACK_ERROR) from exc


def run_dir_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--run-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=_RUN_DIR_HELP,
    )(func)


def base_port_option(help_text: str) -> Callable[[click.decorators.FC], click.decorators.FC]:
    """``--base-port``: the Kafka port of the first party (each next one +100)."""
    return click.option(
        "--base-port",
        type=click.IntRange(1024, 65000),
        default=DEFAULT_BASE_PORT,
        show_default=True,
        help=help_text,
    )


@click.command(name="up")
@click.option(
    "--party",
    "parties",
    multiple=True,
    metavar="NAME",
    help="Start a Kafka cluster for party NAME; repeat for more [default: hgc and dcc].",
)
@base_port_option("Kafka port of the first party; each next party gets +100, controllers +1.")
@click.option(
    "--redis-port",
    type=click.IntRange(1024, 65535),
    default=DEFAULT_REDIS_PORT,
    show_default=True,
    help="Redis port (not 6379, where a system Redis may run).",
)
@click.option(
    "--mirror/--no-mirror",
    default=True,
    show_default=True,
    help="Start MirrorMaker 2 both ways between two parties (see `bilat mirror --help`).",
)
@click.option(
    "--secure",
    is_flag=True,
    help="Start the secured stack instead: TLS, SCRAM users, ACLs per role, Redis with TLS "
    f"and users, on other ports (Kafka {SECURE_BASE_PORT} and +100, Redis "
    f"{SECURE_REDIS_PORT} by default), next to the plain one; prints the client settings.",
)
@run_dir_option
def up_command(
    parties: tuple[str, ...],
    base_port: int,
    redis_port: int,
    mirror: bool,
    secure: bool,
    run_dir: Path | None,
) -> None:
    """Start the local stack: one Kafka cluster per party, Redis, and MirrorMaker 2.

    Kafka (KRaft, single node, on 127.0.0.1) runs from Maven Central jars on the local JDK,
    resolved once into ~/.cache/bilat; Redis is Debian's redis-server (installed with apt-get
    when missing and run as root). With two parties, MirrorMaker 2 (same jars) then copies
    each party's ledger to the other's cluster, one process per direction, ready when every
    mirrored topic has its copy (about 10 s). Services already running are left as they are,
    so running `up` twice is harmless. Stop everything with `bilat down`.

    \b
    Examples:
      bilat up                                  hgc on 9092, dcc on 9192, Redis on 6390,
                                                mirrors hgc -> dcc and dcc -> hgc
      bilat up --no-mirror                      brokers and Redis only
      bilat up --party hgc                      one cluster only (nothing to mirror)
      bilat up --base-port 29092 --redis-port 29379 --run-dir /tmp/bilat
      bilat up --secure                         hgc on 9492 (SASL_SSL; mTLS on 9494), dcc on
                                                9592, Redis TLS on 6391, mirrors, ACLs
    """
    from streams.cli.mirror import local_links, start_mirrors  # imports this module

    chosen = parties or DEFAULT_PARTIES
    if secure:
        base = SECURE_BASE_PORT if base_port == DEFAULT_BASE_PORT else base_port
        port = SECURE_REDIS_PORT if redis_port == DEFAULT_REDIS_PORT else redis_port
        _up_secure(chosen, base, port, mirror, run_dir)
        return
    console = Console(highlight=False)
    with stack_errors(), console.status("starting the local stack…") as spinner:
        progress = _reporter(console, spinner)
        stack = LocalStack(run_dir=run_dir, progress=progress)
        started = [stack.kafka_up(spec).started for spec in party_specs(chosen, base_port)]
        started.append(stack.redis_up(RedisSpec(name=REDIS_NAME, port=redis_port)).started)
        if mirror and len(chosen) == 2:
            progress("starting MirrorMaker 2 both ways (about 10 s)…")
            started += [h.started for h in start_mirrors(stack, local_links(chosen, base_port))]
        elif mirror:
            progress(f"{len(chosen)} part{'y' if len(chosen) == 1 else 'ies'}: nothing to mirror")
    console.print(status_table(stack.status(), stack.run_dir))
    if not any(started):
        console.print("everything was already running: nothing started")


def _reporter(console: Console, spinner: Status) -> Callable[[str], None]:
    """A progress callback printing each message dimmed and showing it on the spinner."""

    def progress(message: str) -> None:
        console.print(f"[dim]{escape(message)}[/dim]")
        spinner.update(escape(message))

    return progress


def _up_secure(
    parties: Sequence[str], base_port: int, redis_port: int, mirror: bool, run_dir: Path | None
) -> None:
    """``bilat up --secure``: see :mod:`streams.devstack.secure`."""
    from streams.cli.mirror import local_links  # imports this module
    from streams.devstack import secure

    console = Console(highlight=False)
    with stack_errors(), console.status("starting the secured local stack…") as spinner:
        progress = _reporter(console, spinner)
        stack = LocalStack(run_dir=run_dir, progress=progress)
        specs = {}
        names = [secure.broker_name(f"{party}-secure") for party in parties]
        files = secure.ensure_secure_files(stack.run_dir, [*names, "redis"])
        for index, party in enumerate(parties):
            port = base_port + PARTY_PORT_STEP * index
            specs[party] = secure.kafka_spec(files, f"{party}-secure", port)
            stack.kafka_up(specs[party])
        stack.redis_up(secure.redis_spec(files, "redis-secure", redis_port))
        for party, spec in specs.items():
            partner = next((p for p in parties if p != party), party)
            admin = secure.client_config(files, spec, secure.ADMIN, "mtls")
            progress(f"creating {party}'s topics and granting each role its ACLs…")
            secure.create_topics(admin, "", partitions=4)
            app_id = Settings.from_env({}, party=party).app_id
            secure.apply_acls(admin, topic_prefix="", app_id=app_id, partner=partner)
        if mirror and len(parties) == 2:
            progress("starting MirrorMaker 2 both ways (about 10 s)…")
            links = local_links(parties, base_port)
            for link in links:
                access = secure.mirror_access(files, link, specs[link.source], specs[link.target])
                stack.mirror_up(link, access=access)
    console.print(status_table(stack.status(), stack.run_dir))
    console.print(secure_settings_text(files, specs, redis_port), markup=False, soft_wrap=True)


def secure_settings_text(
    files: SecureFiles, specs: Mapping[str, KafkaSpec], redis_port: int
) -> str:
    """What `bilat up --secure` prints: the settings of each party's worker (SCRAM) and of its
    MirrorMaker's source, files only, and how the other roles differ."""
    from streams.devstack import secure

    lines = [
        f"secured stack: CA {files.pki.ca}, secrets in {files.folder} (0600).",
        "Principals (SCRAM user = certificate CN): "
        + ", ".join(secure.PRINCIPALS)
        + "; each role's ACLs: streams/devstack/acls.py.",
        "",
    ]
    for party, spec in specs.items():
        partner = next((p for p in specs if p != party), None)
        lines.append(f"# {party}'s worker (SASL_SSL, SCRAM-SHA-512)")
        env = {"BILAT_PARTY": party, **secure.client_env(files, spec, "worker")}
        if partner is not None:
            source = secure.client_env(files, specs[partner], "mirror-reader", prefix="PARTNER_")
            env |= source
        env |= secure.redis_env(files, redis_port)
        lines += [f"export {key}={value}" for key, value in env.items()]
        lines.append("")
    tls = secure.client_env(files, next(iter(specs.values())), "worker", mode="mtls")
    lines += [
        "Other roles: BILAT_KAFKA_USERNAME=<role> and BILAT_KAFKA_PASSWORD_FILE="
        f"{files.password_file('<role>')}; mutual TLS instead: "
        + " ".join(f"{k}={v}" for k, v in tls.items()),
    ]
    return "\n".join(lines)


@click.command(name="down")
@click.option(
    "--party",
    "parties",
    multiple=True,
    metavar="NAME",
    help="Stop only party NAME's Kafka cluster and the mirrors to and from it (Redis keeps "
    "running); repeat for more.",
)
@run_dir_option
def down_command(parties: tuple[str, ...], run_dir: Path | None) -> None:
    """Stop what `bilat up` started: every service of the run folder, or only some parties.

    Each service gets SIGTERM and up to 30 s to shut down cleanly, then SIGKILL. Data stays in
    the run folder, so the next `bilat up` continues where this one stopped.

    \b
    Examples:
      bilat down                 stop everything
      bilat down --party dcc     stop dcc's Kafka and the mirrors to and from it
    """
    console = Console(highlight=False)
    with stack_errors():
        stack = LocalStack(
            run_dir=run_dir, progress=lambda m: console.print(f"[dim]{escape(m)}[/dim]")
        )
        stopped = _down_parties(stack, parties) if parties else stack.down_all()
    if stopped:
        console.print(f"stopped: {', '.join(stopped)}")
    else:
        console.print("nothing running")


def _down_parties(stack: LocalStack, parties: Sequence[str]) -> list[str]:
    """Stop the mirrors reading or writing each party's cluster, then the cluster."""
    stopped = []
    for party in parties:
        stopped += [m for m in stack.mirrors_touching(party) if stack.mirror_down(m)]
        if stack.kafka_down(party):
            stopped.append(party)
    return stopped


@click.command(name="status")
@run_dir_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: run_dir, services (kind, name, address, pid, running, log); when "
    "nothing is recorded, answering (default ports that accept connections) and "
    "recorded_elsewhere (run folders of what answers).",
)
def status_command(run_dir: Path | None, as_json: bool) -> None:
    """Show every service of the run folder: address, pid, running or stopped, log file.

    MirrorMaker processes (service mm2) are listed with their source -> target clusters;
    `bilat mirror status` checks what they copy.

    When the run folder records nothing, say so with its path, and whether something
    answers on the default ports of `bilat up` (Kafka 9092 and 9192, Redis 6390): a stack
    started with another BILAT_RUN_DIR or --run-dir.

    Exit code 0 when all known services run (or none are known), 3 when some are stopped.

    \b
    Examples:
      bilat status
      bilat status --run-dir /tmp/bilat --json
    """
    console = stdout_console()
    with stack_errors():
        stack = LocalStack(run_dir=run_dir)
        services = stack.status()
    answering = [] if services else [probe for probe in default_probes() if probe.answers()]
    elsewhere = other_run_dirs(stack.run_dir, answering) if answering else []
    if as_json:
        document = _status_json(stack.run_dir, services, answering, elsewhere)
        click.echo(json.dumps(document, indent=2))
    elif services:
        console.print(status_table(services, stack.run_dir), crop=False)
    else:
        message = nothing_recorded(stack.run_dir, answering, elsewhere)
        console.print(message, markup=False, soft_wrap=True)
    if not all(service.running for service in services):
        raise click.exceptions.Exit(EXIT_SOME_STOPPED)


@dataclass(frozen=True, slots=True)
class Probe:
    """A local port `bilat up` uses by default, and what would listen there."""

    service: str
    port: int
    host: str = LOOPBACK

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def answers(self, timeout: float = 0.3) -> bool:
        """Whether something accepts a TCP connection there now."""
        return port_accepts(self.port, self.host, timeout)


def default_probes() -> list[Probe]:
    """The client ports of the default stack: each default party's Kafka, then Redis."""
    kafka = [
        Probe(f"kafka '{s.name}'", s.port) for s in party_specs(DEFAULT_PARTIES, DEFAULT_BASE_PORT)
    ]
    return [*kafka, Probe("redis", DEFAULT_REDIS_PORT)]


def nothing_recorded(run_dir: Path, answering: Sequence[Probe], elsewhere: Sequence[Path]) -> str:
    """What `bilat status` says when ``run_dir`` records no service; ``elsewhere`` are the
    run folders that record what answers (see :func:`other_run_dirs`)."""
    place = f"{run_dir}" if run_dir.is_dir() else f"{run_dir} (no such folder)"
    if not answering:
        ports = ", ".join(probe.address for probe in default_probes())
        return (
            f"nothing recorded in {place}, and nothing answers on the default ports "
            f"({ports}): start the stack with `bilat up`"
        )
    where = ", ".join(f"{probe.address} ({probe.service}?)" for probe in answering)
    hint = (
        f"; it is recorded in {', '.join(map(str, elsewhere))}: "
        f"`bilat status --run-dir {elsewhere[0]}`"
        if elsewhere
        else ""
    )
    return (
        f"nothing recorded in {place}; something answers on {where}: started with another "
        f"BILAT_RUN_DIR or --run-dir?{hint}"
    )


def other_run_dirs(run_dir: Path, answering: Sequence[Probe]) -> list[Path]:
    """Run folders other than ``run_dir`` whose running services listen on an ``answering``
    port. Found through the brokers `bilat up` started, whose command line ends in
    ``<run folder>/kafka-<name>/server.properties`` (Linux /proc; best effort: [] elsewhere).
    """
    ports = {probe.port for probe in answering}
    candidates: set[Path] = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = [a for a in cmdline.read_bytes().split(b"\0") if a]
        except OSError:
            continue  # the process ended, or is not ours to read
        if len(args) < 2 or args[-2] != b"kafka.Kafka":
            continue
        config = Path(args[-1].decode("utf-8", "replace"))
        if config.name == "server.properties" and config.parent.name.startswith("kafka-"):
            candidates.add(config.parent.parent)
    found = []
    for folder in sorted(candidates - {run_dir}):
        try:
            services = LocalStack(run_dir=folder).status()
        except (OSError, StackError):
            continue
        if any(s.running and _port_of(s.address) in ports for s in services):
            found.append(folder)
    return found


def _port_of(address: str) -> int | None:
    """The port of ``host:port`` or ``redis://host:port/db``."""
    tail = address.rsplit(":", 1)[-1].split("/", 1)[0]
    return int(tail) if tail.isdigit() else None


def _status_json(
    run_dir: Path,
    services: Sequence[ServiceStatus],
    answering: Sequence[Probe],
    elsewhere: Sequence[Path],
) -> dict[str, Any]:
    return {
        "run_dir": str(run_dir),
        "services": [
            {
                "kind": service.kind,
                "name": service.name,
                "address": service.address,
                "pid": service.pid,
                "running": service.running,
                "log": str(service.log_path),
            }
            for service in services
        ],
        "answering": [{"service": p.service, "address": p.address} for p in answering],
        "recorded_elsewhere": [str(folder) for folder in elsewhere],
    }
