"""``bilat dashboard``: the operations web page (:mod:`streams.runtime.dashboard.app`).

``streams.cli.main`` registers the command.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from streams.cli.common import friendly
from streams.cli.http_options import HttpOptions, http_security_options
from streams.core.errors import PortInUseError
from streams.runtime.config import DEFAULT_REDIS, Settings
from streams.runtime.security import RedisSecurity

__all__ = ["dashboard_command"]

DEFAULT_PORT = 8080
_PUBLIC = frozenset({"/healthz"})
"""Paths served without credentials (a load balancer's health check)."""


@click.command(name="dashboard")
@click.option(
    "--party",
    "parties",
    multiple=True,
    metavar="PARTY",
    help="Show this party's bilateral; repeat for several [default: BILAT_PARTY, else hgc].",
)
@click.option(
    "--topic-prefix",
    envvar="BILAT_TOPIC_PREFIX",
    default="",
    help="Topic prefix of the parties' deployments (part of their app ids).",
)
@click.option(
    "--app",
    "apps",
    multiple=True,
    metavar="APP_ID",
    help="Show the deployment with this app id (bilat-<party>-<prefix or main>) instead; repeat "
    "for several.",
)
@click.option(
    "--redis-url",
    envvar="BILAT_REDIS",
    default=DEFAULT_REDIS,
    show_default=True,
    help="Redis the reconciler and settler write to [env BILAT_REDIS].",
)
@click.option(
    "--agreement",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="BILAT_AGREEMENT",
    default=None,
    help="Agreement whose bucketing checks the record proofs shown [default: the packaged "
    "example]; proofs of another agreement are shown unchecked.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    envvar="BILAT_DASHBOARD_PORT",
    default=None,
    help=f"Port to listen on (0: any free one) [default: {DEFAULT_PORT}, or a free one if it "
    "is taken; env BILAT_DASHBOARD_PORT].",
)
@http_security_options("DASHBOARD", "BILAT_DASHBOARD_TOKEN")
@friendly
def dashboard_command(
    parties: tuple[str, ...],
    topic_prefix: str,
    apps: tuple[str, ...],
    redis_url: str,
    agreement: Path | None,
    host: str,
    port: int | None,
    http: HttpOptions,
) -> None:
    """Serve the reconciliation and settlement dashboard until Ctrl-C / SIGTERM.

    \b
    A web page for operations: per bilateral and window agreed / within tolerance /
    diverged / waiting, money agreed and at stake, the live alert feed with each alert's
    records and both sides' inclusion proofs, statements with their states and disputes.
    It reads Redis only (what `bilat reconcile` and the settler write there); /metrics
    serves Prometheus metrics.

    Open on loopback by default. Beyond it, give --tls-cert and credentials: --token-file
    (BILAT_DASHBOARD_TOKEN) or --tokens-file (a browser asks for a user, any name or the
    partner id, and the token as password) and/or --client-ca; /healthz stays open.

    \b
    Examples:
      bilat dashboard                         hgc's bilateral on http://127.0.0.1:8080/
      bilat dashboard --party dcc --port 8081
      bilat dashboard --party hgc --party dcc --host 0.0.0.0
    """
    from streams.agreement.loader import load_book
    from streams.agreement.signing import book_hash
    from streams.core.redact import redact_url
    from streams.runtime import metrics
    from streams.runtime.dashboard.app import DashboardConfig, serve
    from streams.runtime.dashboard.views import ProofKey

    security = http.build(dict(os.environ), required=False, basic=True, public=_PUBLIC)
    if host not in ("127.0.0.1", "::1", "localhost") and "no credentials" in security.summary:
        click.echo(
            f"warning: listening on {host} without credentials: anyone who reaches it sees the "
            "dashboard; give --token-file, --tokens-file or --client-ca (and --tls-cert)",
            err=True,
        )
    if not apps:
        names = parties or (Settings.from_env().party,)
        apps = tuple(Settings.from_env(party=p, topic_prefix=topic_prefix).app_id for p in names)
    book = load_book(agreement or Settings.from_env().agreement)
    key = ProofKey(book.id, book.latest.digest_depth, book_hash(book))
    config = DashboardConfig(
        apps=tuple(dict.fromkeys(apps)),
        redis_url=redis_url,
        proof_key=key,
        redis_security=RedisSecurity.from_env(),
    )
    metrics.enable("dashboard", ",".join(config.apps))
    ports = [port] if port is not None else [DEFAULT_PORT, 0]

    def started(bound: int) -> None:
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        note = "" if port is not None or bound == DEFAULT_PORT else f" ({DEFAULT_PORT} is taken)"
        click.echo(
            f"dashboard on {security.scheme}://{shown}:{bound}/{note} for "
            f"{', '.join(config.apps)}; Redis {redact_url(redis_url)}; {security.summary}; "
            "metrics at /metrics; Ctrl-C stops it"
        )
        sys.stdout.flush()  # the URL is what a script or a test waits for

    try:
        serve(config, host, ports, started, checks=security.guard, tls=security.tls)
    except OSError as exc:
        raise PortInUseError(
            f"cannot listen on {host}:{ports[0]}: {exc.strerror or exc}; choose another with "
            "--port (0: any free port)"
        ) from exc
