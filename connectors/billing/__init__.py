"""MEF LSO Sonata Billing (MEF 141, API v2): the Seller's bill API and its notifications, and
the Buyer's notification listener.

Seller side (``bilat billing serve``): the read endpoints of ``billingManagement.api.yaml``
over the bills the settle runtime keeps in Redis, the ``/hub`` subscriptions, and a notifier
task that sends ``customerBillCreateEvent`` / ``customerBillStateChangeEvent`` to every
subscriber per ``billingNotification.api.yaml``. Buyer side (``bilat billing listen``): the
listener of those events, which fetches each notified bill from the Seller's API and records
both in Redis. See ``docs/api.md`` for the HTTP contract.

Modules, pure first:

- :mod:`~connectors.billing.events`: paths, event bodies, subscription queries (no I/O);
- :mod:`~connectors.billing.answers`: JSON answers, MEF Error bodies, bearer-token checks;
- :mod:`~connectors.billing.store`: the Redis keys, bills, hub subscriptions and cursors;
- :mod:`~connectors.billing.api`: the Seller's aiohttp app;
- :mod:`~connectors.billing.notifier`: delivery of events to subscribers;
- :mod:`~connectors.billing.listener`: the Buyer's aiohttp listener app.

The query grammar of ``GET /customerBill`` (filters, order, pages) is pure core:
:mod:`streams.settle.query`.
"""

from __future__ import annotations

from streams.core.errors import BilatError

__all__ = ["BillingError"]


class BillingError(BilatError):
    """Root of the billing connector's errors: raised when a process cannot start as
    configured (e.g. no bearer token and ``--no-token`` not given)."""
