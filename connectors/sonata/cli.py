"""``bilat sonata``: the MEF LSO Sonata commands (the lead registers :data:`sonata` in ``bilat``).

The shared options (``--party``, ``--kafka``, ``--topic-prefix`` and their ``BILAT_*``
variables) and the friendly errors come from :mod:`streams.cli.common`, as for every
``bilat`` command.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import click

from connectors.sonata.listener import Parties
from connectors.sonata.notifications import LISTENER_BASE_PATH
from streams.cli.common import friendly, party_options
from streams.cli.http_options import HttpOptions, http_security_options
from streams.cli.metrics_option import metrics_option, start_metrics
from streams.core.redact import redact_text, redact_url
from streams.runtime.config import Settings

if TYPE_CHECKING:
    from streams.agreement.model import AgreementBook

__all__ = ["LISTENER_TOKEN_ENV", "TOKEN_ENV", "sonata"]

TOKEN_ENV = "BILAT_SONATA_SELLER_TOKEN"
"""The environment variable holding the Seller API bearer token."""
LISTENER_TOKEN_ENV = "BILAT_SONATA_TOKEN"
"""The environment variable holding the bearer token the Seller must send to the listener."""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def sonata() -> None:
    """MEF LSO Sonata: product order notifications from a Seller into sonata.orders."""


@sonata.command("listen")
@party_options
@click.option(
    "--seller-api",
    envvar="BILAT_SONATA_SELLER_API",
    required=True,
    metavar="URL",
    help="The Seller's Sonata Product Ordering API base URL, e.g. "
    "https://seller.example/mefApi/sonata/productOrderingManagement/v10 "
    "[env BILAT_SONATA_SELLER_API].",
)
@click.option(
    "--seller-api-token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    metavar="PATH",
    help="File holding the Seller API's bearer token, if it wants one (one line; keep it 0600) "
    f"[default: env {TOKEN_ENV}]. Never on the command line: every user can read that.",
)
@click.option(
    "--seller-api-token",
    "token_on_command_line",
    default=None,
    hidden=True,
    expose_value=True,
    help="Refused: a token on the command line is visible to every user in the process list.",
)
@click.option(
    "--buyer-id",
    envvar="BILAT_SONATA_BUYER_ID",
    default=None,
    help="buyer_id recorded when a notification names none [default: the agreement's buyer].",
)
@click.option(
    "--seller-id",
    envvar="BILAT_SONATA_SELLER_ID",
    default=None,
    help="seller_id recorded when a notification names none [default: the agreement's seller].",
)
@click.option(
    "--agreement",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="BILAT_AGREEMENT",
    default=None,
    help="Agreement YAML naming buyer and seller [default: examples/agreement.yaml].",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    envvar="BILAT_SONATA_PORT",
    type=click.IntRange(0, 65535),
    default=8440,
    show_default=True,
    help="Port to listen on [env BILAT_SONATA_PORT].",
)
@http_security_options("SONATA", LISTENER_TOKEN_ENV)
@click.option(
    "--loglevel",
    type=click.Choice(["error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@metrics_option
@friendly
def listen(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    seller_api: str,
    seller_api_token_file: Path | None,
    token_on_command_line: str | None,
    buyer_id: str | None,
    seller_id: str | None,
    agreement: Path | None,
    host: str,
    port: int,
    http: HttpOptions,
    loglevel: str,
    metrics_port: int | None,
) -> None:
    """Run the MEF 123 notification listener in the foreground until Ctrl-C / SIGTERM.

    Each notification is validated (400 lists every problem), the ProductOrder and its Charges
    are fetched from the Seller API, one SonataOrderEvent per order item goes to sonata.orders,
    and only then does the Seller get its 204 (503 asks it to retry later).

    The Seller API's bearer token, if it wants one, comes from the environment variable
    BILAT_SONATA_SELLER_TOKEN or from --seller-api-token-file, never from the command line.

    The Seller proves who it is with a bearer token (BILAT_SONATA_TOKEN or --token-file; one
    per Seller with --tokens-file) and, with --client-ca, a client certificate; --no-token
    when a proxy in front checks it. --tls-cert/--tls-key serve HTTPS; --rate-limit bounds
    each caller (429 + Retry-After past it).

    \b
    Example:
      bilat sonata listen --party dcc \\
        --seller-api https://hgc.example/mefApi/sonata/productOrderingManagement/v10
    \b
    Then subscribe at the Seller (POST <seller-api>/hub, MEF EventSubscriptionInput) with
      {"callback": "https://<this host>:8440"}
    the Seller appends /mefApi/sonata/productOrderingNotification/v10/listener/<eventType>.
    """
    from connectors.sonata.listener import run_listener

    if token_on_command_line is not None:
        raise click.UsageError(
            "--seller-api-token is refused: a token on the command line is visible to every "
            f"user in the process list. Set {TOKEN_ENV} in the environment, or pass "
            "--seller-api-token-file PATH (a file only you can read)."
        )
    token = _token(seller_api_token_file)
    security = http.build(dict(os.environ))
    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings.from_env(party=party, kafka=kafka, topic_prefix=topic_prefix)
    try:
        from connectors.sonata.seller_api import SellerApiClient

        SellerApiClient(seller_api)  # checks the URL's shape before anything starts
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--seller-api") from exc
    book = _book(agreement or settings.agreement, required=not (buyer_id and seller_id))
    parties = _parties(buyer_id, seller_id, book)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    click.echo(
        f"sonata listener for {parties.buyer_id} (seller {parties.seller_id}): "
        f"{redact_url(f'{security.scheme}://{host}:{port}{LISTENER_BASE_PATH}')}"
        f"/listener/<eventType> → {settings.topic('sonata.orders')} on "
        f"{redact_text(settings.kafka)}; {security.summary}; "
        f"Seller API {redact_url(seller_api)}"
        f"{' (bearer token set)' if token else ''}",
        err=True,
    )
    if book is None:
        click.echo("no agreement: order items' offerings are not checked for prices", err=True)
    start_metrics(
        metrics_port, "sonata-listener", settings.party, lambda m: click.echo(m, err=True)
    )
    run_listener(
        settings,
        seller_api,
        parties,
        host=host,
        port=port,
        headers=headers,
        book=book,
        checks=security.guard,
        tls=security.tls,
    )


def _token(path: Path | None) -> str | None:
    """The bearer token: the file's one line when ``path`` is given, else the environment."""
    if path is None:
        return os.environ.get(TOKEN_ENV) or None
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc}", param_hint="--seller-api-token-file"
        ) from exc
    token = text.strip()
    if not token or any(c.isspace() or not c.isprintable() for c in token):
        raise click.BadParameter(
            f"{path}: got {'nothing' if not token else 'more than one word or line'}, want the "
            "token alone on one line",
            param_hint="--seller-api-token-file",
        )
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        click.echo(
            f"warning: {path} is readable by others (mode {stat.S_IMODE(mode):o}); "
            f"chmod 600 {path}",
            err=True,
        )
    return token


def _book(agreement: Path, *, required: bool) -> AgreementBook | None:
    """The agreement, or ``None`` when it is not needed for the parties and absent."""
    if not required and not agreement.is_file():
        return None
    from streams.agreement.loader import load_book

    return load_book(agreement)


def _parties(
    buyer_id: str | None, seller_id: str | None, agreement: Path | AgreementBook | None
) -> Parties:
    """The options, with the agreement's buyer and seller for those not given."""
    if buyer_id and seller_id:
        return Parties(buyer_id=buyer_id, seller_id=seller_id)
    if isinstance(agreement, Path):
        agreement = _book(agreement, required=True)
    assert agreement is not None
    latest = agreement.latest
    return Parties(buyer_id=buyer_id or latest.buyer.id, seller_id=seller_id or latest.seller.id)
