"""``bilat billing``: the MEF 141 Billing API (Seller) and its notification listener (Buyer).

Bearer tokens come from the environment or a file, never from the command line (every user on
the host can read a process's arguments), as for ``bilat sonata listen``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from streams.cli.common import EXISTING_FILE, friendly, party_options, settings_of
from streams.cli.http_options import HttpOptions, http_security_options
from streams.cli.metrics_option import metrics_option, start_metrics
from streams.core.redact import redact_text, redact_url

__all__ = ["API_TOKEN_ENV", "billing_group"]

F = TypeVar("F", bound=Callable[..., Any])

API_TOKEN_ENV = "BILAT_API_TOKEN"
"""The bearer token callers of this process's API (or listener) must send."""
NOTIFY_TOKEN_ENV = "BILAT_BILLING_NOTIFY_TOKEN"
"""The bearer token the Buyer's listener expects of the Seller's notifier."""
SELLER_TOKEN_ENV = "BILAT_BILLING_SELLER_TOKEN"
"""The bearer token the Seller's Billing API expects of the Buyer's listener."""


@click.group(
    "billing",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
def billing_group() -> None:
    """MEF 141 Billing: serve bills and notify (Seller), receive notifications (Buyer)."""


_redis_option = click.option(
    "--redis", envvar="BILAT_REDIS", default=None, help="Redis URL [env BILAT_REDIS]."
)
_tls_options = [
    click.option(
        "--client-cert",
        envvar="BILAT_BILLING_CLIENT_CERT",
        type=EXISTING_FILE,
        default=None,
        help="PEM client certificate for calls to a partner that wants mutual TLS "
        "[env BILAT_BILLING_CLIENT_CERT].",
    ),
    click.option(
        "--client-key",
        envvar="BILAT_BILLING_CLIENT_KEY",
        type=EXISTING_FILE,
        default=None,
        help="Its PEM private key, unless the certificate file holds it "
        "[env BILAT_BILLING_CLIENT_KEY].",
    ),
    click.option(
        "--ca-file",
        envvar="BILAT_BILLING_CA_FILE",
        type=EXISTING_FILE,
        default=None,
        help="PEM CAs trusted for the partner's server certificate instead of the system's "
        "[env BILAT_BILLING_CA_FILE].",
    ),
]


def _with(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _server_options(port_env: str, port: int) -> Callable[[F], F]:
    """``--host``, ``--port`` (env ``port_env``, default ``port``) and ``--loglevel``."""
    options = [
        click.option(
            "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
        ),
        click.option(
            "--port",
            envvar=port_env,
            type=click.IntRange(0, 65535),
            default=port,
            show_default=True,
            help=f"Port to listen on [env {port_env}].",
        ),
        click.option(
            "--loglevel",
            type=click.Choice(["error", "warning", "info", "debug"]),
            default="info",
            show_default=True,
        ),
    ]
    return _with(options)


@billing_group.command("serve")
@party_options
@_redis_option
@http_security_options("BILLING", API_TOKEN_ENV)
@click.option(
    "--notify-token-file",
    type=EXISTING_FILE,
    default=None,
    metavar="PATH",
    help=f"File holding the bearer token the Buyer's listener expects [default: env "
    f"{NOTIFY_TOKEN_ENV}; none: no Authorization header].",
)
@click.option("--no-notify", is_flag=True, help="Serve the API only; send no notifications.")
@_with(_tls_options)
@click.option(
    "--public-url",
    envvar="BILAT_BILLING_PUBLIC_URL",
    default=None,
    metavar="URL",
    help="This API's base URL as Buyers reach it, for the events' href [env "
    "BILAT_BILLING_PUBLIC_URL; default: http://HOST:PORT/mefApi/sonata/customerBillManagement/v2].",
)
@click.option(
    "--buyer-id",
    envvar="BILAT_BILLING_BUYER_ID",
    default=None,
    help="The partner: hub requests naming another buyerId get 403 [default: any].",
)
@_server_options("BILAT_BILLING_PORT", 8441)
@metrics_option
@friendly
def serve_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    redis: str | None,
    http: HttpOptions,
    notify_token_file: Path | None,
    no_notify: bool,
    client_cert: Path | None,
    client_key: Path | None,
    ca_file: Path | None,
    public_url: str | None,
    buyer_id: str | None,
    host: str,
    port: int,
    loglevel: str,
    metrics_port: int | None,
) -> None:
    """Serve the Seller's MEF 141 Billing API and notify hub subscribers, until Ctrl-C.

    \b
    GET    /mefApi/sonata/customerBillManagement/v2/customerBill[?filters]
    GET    .../customerBill/{id}     GET .../customerBillItem/{id}
    POST   .../hub                   GET, DELETE .../hub/{id}
    \b
    Bills come from Redis (bilat:<app>:settle:bills, written by `bilat settle`); events from
    the stream bilat:<app>:settle:events go to every subscriber's callback
    (<callback>/mefApi/sonata/customerBillNotification/v2/listener/<eventType>), retried until
    acknowledged. Every request needs Authorization: Bearer <BILAT_API_TOKEN> (or a
    partner's token of --tokens-file); --tls-cert serves HTTPS, --client-ca asks callers
    for certificates, --rate-limit bounds each caller (docs/api.md).
    \b
    Example:
      BILAT_API_TOKEN=... BILAT_BILLING_NOTIFY_TOKEN=... bilat billing serve --party hgc
    """
    from connectors.billing.api import ApiConfig, build_app
    from connectors.billing.events import MANAGEMENT_BASE_PATH
    from connectors.billing.notifier import Notifier
    from connectors.billing.serving import client_tls
    from connectors.billing.store import HubStore
    from streams.runtime.http_security import run_guarded

    security = http.build(dict(os.environ))
    notify_token = _token(notify_token_file, NOTIFY_TOKEN_ENV, "--notify-token-file")
    tls = client_tls(client_cert, client_key, ca_file)
    _logging(loglevel)
    settings = settings_of(party, kafka, topic_prefix, redis=redis)
    own_url = f"{security.scheme}://{host}:{port}{MANAGEMENT_BASE_PATH}"
    api_url = (public_url or own_url).rstrip("/")

    def notifier(hub: HubStore) -> Notifier:
        return Notifier(hub, source=settings.app_id, api_url=api_url, token=notify_token, tls=tls)

    app = build_app(
        settings,
        ApiConfig(token=None, seller_id=settings.party, buyer_id=buyer_id, guard=security.guard),
        notifier=None if no_notify else notifier,
    )
    click.echo(
        f"billing API of {settings.party}: {own_url} "
        f"(public {redact_url(api_url)}) on {redact_text(settings.redis)}; {security.summary}; "
        f"{'notifications off' if no_notify else 'notifier on'}"
        f"{' (bearer token set)' if notify_token and not no_notify else ''}",
        err=True,
    )
    start_metrics(metrics_port, "billing-api", settings.party, lambda m: click.echo(m, err=True))
    api_log = logging.getLogger("bilat.billing.api")
    run_guarded(app, host=host, port=port, log=api_log, tls=security.tls)


@billing_group.command("listen")
@party_options
@_redis_option
@click.option(
    "--seller-api",
    envvar="BILAT_BILLING_SELLER_API",
    required=True,
    metavar="URL",
    help="The Seller's Billing API base URL, e.g. "
    "https://hgc.example/mefApi/sonata/customerBillManagement/v2 [env BILAT_BILLING_SELLER_API].",
)
@click.option(
    "--seller-api-token-file",
    type=EXISTING_FILE,
    default=None,
    metavar="PATH",
    help=f"File holding the Seller API's bearer token [default: env {SELLER_TOKEN_ENV}].",
)
@_with(_tls_options)
@http_security_options("BILLING_LISTEN", API_TOKEN_ENV)
@_server_options("BILAT_BILLING_LISTEN_PORT", 8442)
@metrics_option
@friendly
def listen_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    redis: str | None,
    seller_api: str,
    seller_api_token_file: Path | None,
    client_cert: Path | None,
    client_key: Path | None,
    ca_file: Path | None,
    http: HttpOptions,
    host: str,
    port: int,
    loglevel: str,
    metrics_port: int | None,
) -> None:
    """Receive the Seller's MEF 141 bill notifications (Buyer side), until Ctrl-C.

    Each customerBillCreateEvent / customerBillStateChangeEvent is checked (bearer token,
    CustomerBillEvent schema), the bill fetched from the Seller's API and both recorded in
    Redis (bilat:<app>:billing:received, and the stream bilat:<app>:billing:received:events)
    before the Seller gets its 204.

    \b
    Example:
      BILAT_API_TOKEN=... BILAT_BILLING_SELLER_TOKEN=... bilat billing listen --party dcc \\
        --seller-api https://hgc.example/mefApi/sonata/customerBillManagement/v2
    \b
    Then subscribe at the Seller:
      curl -X POST -H "Authorization: Bearer $SELLER_TOKEN" \\
        -H 'Content-Type: application/json;charset=utf-8' \\
        -d '{"callback": "https://<this host>:8442"}' <seller-api>/hub
    """
    from connectors.billing.events import NOTIFICATION_BASE_PATH
    from connectors.billing.listener import BillingApiClient, build_listener
    from connectors.billing.serving import client_tls
    from streams.runtime.http_security import run_guarded

    security = http.build(dict(os.environ))
    tls = client_tls(client_cert, client_key, ca_file)
    seller_token = _token(seller_api_token_file, SELLER_TOKEN_ENV, "--seller-api-token-file")
    try:
        BillingApiClient(seller_api)  # checks the URL's shape before anything starts
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--seller-api") from exc
    _logging(loglevel)
    settings = settings_of(party, kafka, topic_prefix, redis=redis)
    app = build_listener(
        settings, seller_api, token=None, checks=security.guard, seller_token=seller_token, tls=tls
    )
    click.echo(
        f"billing listener of {settings.party}: "
        f"{security.scheme}://{host}:{port}{NOTIFICATION_BASE_PATH}/listener/<eventType> → "
        f"{redact_text(settings.redis)}; {security.summary}; Seller API {redact_url(seller_api)}"
        f"{' (bearer token set)' if seller_token else ''}",
        err=True,
    )
    start_metrics(
        metrics_port, "billing-listener", settings.party, lambda m: click.echo(m, err=True)
    )
    listener_log = logging.getLogger("bilat.billing.listener")
    run_guarded(app, host=host, port=port, log=listener_log, tls=security.tls)


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(message)s")


def _token(path: Path | None, env: str, option: str) -> str | None:
    """The token alone on the one line of ``path``, else the variable ``env``, else None."""
    from streams.runtime.http_security import HttpSecurityError, read_token

    if path is None:
        return os.environ.get(env) or None
    try:
        return read_token(path)
    except HttpSecurityError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc
