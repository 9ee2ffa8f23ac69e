"""``bilat sonata``: the MEF LSO Sonata commands (the lead registers :data:`sonata` in ``bilat``).

The shared options (``--party``, ``--kafka``, ``--topic-prefix`` and their ``BILAT_*``
variables) and the friendly errors come from :mod:`streams.ops.cli_common`, as for every
``bilat`` command.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from connectors.sonata.listener import Parties
from connectors.sonata.notifications import LISTENER_BASE_PATH
from streams.config import Settings
from streams.ops.cli_common import friendly, party_options

__all__ = ["sonata"]


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
    "--seller-api-token",
    envvar="BILAT_SONATA_SELLER_TOKEN",
    default=None,
    metavar="TOKEN",
    help="Bearer token for the Seller API, if it wants one [env BILAT_SONATA_SELLER_TOKEN].",
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
@click.option(
    "--loglevel",
    type=click.Choice(["error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@friendly
def listen(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    seller_api: str,
    seller_api_token: str | None,
    buyer_id: str | None,
    seller_id: str | None,
    agreement: Path | None,
    host: str,
    port: int,
    loglevel: str,
) -> None:
    """Run the MEF 123 notification listener in the foreground until Ctrl-C / SIGTERM.

    Each notification is validated (400 lists every problem), the ProductOrder and its Charges
    are fetched from the Seller API, one SonataOrderEvent per order item goes to sonata.orders,
    and only then does the Seller get its 204 (503 asks it to retry later).

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

    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings.from_env(party=party, kafka=kafka, topic_prefix=topic_prefix)
    try:
        from connectors.sonata.seller_api import SellerApiClient

        SellerApiClient(seller_api)  # checks the URL's shape before anything starts
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--seller-api") from exc
    parties = _parties(buyer_id, seller_id, agreement or settings.agreement)
    headers = {"Authorization": f"Bearer {seller_api_token}"} if seller_api_token else None
    click.echo(
        f"sonata listener for {parties.buyer_id} (seller {parties.seller_id}): "
        f"http://{host}:{port}{LISTENER_BASE_PATH}/listener/<eventType> → "
        f"{settings.topic('sonata.orders')} on {settings.kafka}; Seller API {seller_api}",
        err=True,
    )
    run_listener(settings, seller_api, parties, host=host, port=port, headers=headers)


def _parties(buyer_id: str | None, seller_id: str | None, agreement: Path) -> Parties:
    """The options, with the agreement's buyer and seller for those not given."""
    if buyer_id and seller_id:
        return Parties(buyer_id=buyer_id, seller_id=seller_id)
    from streams.agreement_loader import load_agreement

    loaded = load_agreement(agreement)
    return Parties(buyer_id=buyer_id or loaded.buyer.id, seller_id=seller_id or loaded.seller.id)
