"""MEF LSO Sonata connector: Product Order notifications in, ``SonataOrderEvent`` records out.

The Buyer runs a MEF 123 notification listener; for each Product Order notification it fetches
the full ProductOrder and the Charges its items reference from the Seller's Sonata API, maps
each concerned order item to a ``SonataOrderEvent`` and publishes it to ``sonata.orders``
before it answers the Seller (see ``README.md`` beside this file).

Modules, pure core first:

- :mod:`~connectors.sonata.notifications`: MEF 123 notification bodies → ``Notification`` or
  every problem (no I/O);
- :mod:`~connectors.sonata.orders`: ProductOrder + Charge JSON → ``SonataOrderEvent`` dicts
  (no I/O);
- :mod:`~connectors.sonata.seller_api`: the Seller API client (aiohttp, retries);
- :mod:`~connectors.sonata.publisher`: the Kafka producer (confluent-kafka);
- :mod:`~connectors.sonata.listener`: the aiohttp listener app wiring the above;
- :mod:`~connectors.sonata.cli`: ``bilat sonata listen``.

This package module holds only the connector's exceptions, so every submodule can import them
without import cycles.
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.core.errors import BilatError

__all__ = [
    "PublishError",
    "SellerApiError",
    "SellerDataError",
    "SellerUnavailableError",
    "SonataError",
]


class SonataError(BilatError):
    """Root of the Sonata connector's errors."""


class SellerApiError(SonataError):
    """The Seller's Sonata API gave no usable answer, and retrying now would not help.

    Raised for a 4xx other than 429 (e.g. 404 for an unknown Product Order, 401 for bad
    credentials), an unexpected 2xx/3xx status, or a 200 whose body is not JSON. ``url`` is the
    request, ``status`` the last HTTP status (``None`` when no answer was received) and
    ``attempts`` how many requests were made. The listener answers 500: not acknowledged.
    """

    def __init__(self, message: str, *, url: str, status: int | None, attempts: int) -> None:
        self.url = url
        self.status = status
        self.attempts = attempts
        super().__init__(message)


class SellerUnavailableError(SellerApiError):
    """Transient failures (5xx, 429, timeouts, refused connections) outlasted the retry policy.

    The listener answers 503 so that the Seller sends the notification again later.
    """


class SellerDataError(SonataError):
    """The Seller's ProductOrder or Charge JSON cannot be mapped to ``SonataOrderEvent`` records.

    ``problems`` lists every problem, each as ``<where> <json path>: got G, want W``. The
    listener answers 500: the notification is not acknowledged, and the Seller's operators see
    the problems in the error body.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"Seller data is not usable ({len(self.problems)} problems):\n{lines}")


class PublishError(SonataError):
    """Kafka did not acknowledge every record of a notification within the delivery timeout.

    The listener answers 503; records that did reach Kafka are published again, identical and
    under the same ``event_id``, when the Seller retries.
    """
