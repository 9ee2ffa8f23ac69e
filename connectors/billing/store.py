"""The billing connector's Redis data: bills (read), hub subscriptions and delivery cursors,
bills received by a Buyer.

Keys, ``<app>`` being :attr:`Settings.app_id <streams.runtime.config.Settings.app_id>`:

=========================================  ======  ============================================
key                                        type    content
=========================================  ======  ============================================
``bilat:<app>:settle:bills``               hash    bill id → JSON ``{"bill": CustomerBill,
                                                   "items": [CustomerBillItem], "role", ...}``
                                                   (written by the settle runtime; the API
                                                   serves the entries whose ``role`` is
                                                   ``seller``: the bills this party issued)
``bilat:<app>:settle:events``              stream  ``event``, ``bill_id``, ``state``, ``time``
                                                   (written by the settle runtime)
``bilat:<app>:billing:hub``                hash    subscription id → JSON (see
                                                   :meth:`Subscription.to_json
                                                   <connectors.billing.events.Subscription.to_json>`)
``bilat:<app>:billing:hub:cursors``        hash    subscription id → the last stream id of
                                                   ``settle:events`` dealt with (delivered, or
                                                   not wanted by that subscriber)
``bilat:<app>:billing:received``           hash    bill id → JSON ``{"bill", "event",
                                                   "event_id", "received_ms"}`` (Buyer side)
``bilat:<app>:billing:received:events``    stream  ``event_id``, ``event_type``, ``bill_id``,
                                                   ``state``, ``time``, ``received_ms``
``bilat:<app>:billing:received:ids``       hash    event id → the stream id it was recorded
                                                   under (a redelivery is recorded once)
=========================================  ======  ============================================
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from connectors.billing.answers import dumps
from connectors.billing.events import Subscription
from connectors.sonata.notifications import loads_exact
from streams.runtime.config import Settings

__all__ = ["BillStore", "BillingKeys", "HubStore", "ReceivedStore"]

log = logging.getLogger("bilat.billing.store")

_ITEM_SUFFIX = re.compile(r"-\d{4,}")
RECEIVED_STREAM_MAXLEN = 100_000
"""About how many received events the Buyer's stream keeps (trimmed approximately)."""


@dataclass(frozen=True, slots=True)
class BillingKeys:
    """Every Redis key of one deployment's billing data (see the module docstring)."""

    bills: str
    events: str
    hub: str
    cursors: str
    received: str
    received_events: str
    received_ids: str

    @classmethod
    def of(cls, settings: Settings) -> BillingKeys:
        app = f"bilat:{settings.app_id}"
        return cls(
            bills=f"{app}:settle:bills",
            events=f"{app}:settle:events",
            hub=f"{app}:billing:hub",
            cursors=f"{app}:billing:hub:cursors",
            received=f"{app}:billing:received",
            received_events=f"{app}:billing:received:events",
            received_ids=f"{app}:billing:received:ids",
        )


class BillStore:
    """The bills this party issued, as the settle runtime keeps them (read only)."""

    def __init__(self, redis: aioredis.Redis[str], keys: BillingKeys) -> None:
        self.redis = redis
        self.keys = keys

    async def bills(self) -> list[dict[str, Any]]:
        """Every issued bill's MEF ``CustomerBill``, in no particular order."""
        raw: Mapping[str, str] = await self.redis.hgetall(self.keys.bills)  # type: ignore[misc]
        return [entry["bill"] for k, v in raw.items() if (entry := self._entry(k, v))]

    async def bill(self, bill_id: str) -> dict[str, Any] | None:
        entry = await self._get(bill_id)
        return None if entry is None else entry["bill"]

    async def item(self, item_id: str) -> dict[str, Any] | None:
        """The ``CustomerBillItem`` ``item_id`` of an issued bill, or ``None``."""
        found = await self.item_and_bill(item_id)
        return None if found is None else found[0]

    async def item_and_bill(self, item_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The ``CustomerBillItem`` ``item_id`` and the ``CustomerBill`` it belongs to, or
        ``None``.

        Bilat's item ids are ``<bill id>-NNNN``: that bill is asked first, then every bill (an
        id of another shape, from another writer)."""
        if match := _ITEM_SUFFIX.search(item_id):
            entry = await self._get(item_id[: match.start()])
            if entry is not None and (found := _item_in(entry, item_id)) is not None:
                return found, entry["bill"]
        raw: Mapping[str, str] = await self.redis.hgetall(self.keys.bills)  # type: ignore[misc]
        for key, value in raw.items():
            if (entry := self._entry(key, value)) and (found := _item_in(entry, item_id)):
                return found, entry["bill"]
        return None

    async def _get(self, bill_id: str) -> dict[str, Any] | None:
        value = await self.redis.hget(self.keys.bills, bill_id)  # type: ignore[misc]
        return None if value is None else self._entry(bill_id, value)

    def _entry(self, key: str, value: str) -> dict[str, Any] | None:
        """The entry when it is one of this party's issued bills; a damaged one is logged."""
        try:
            entry = loads_exact(value)
        except ValueError as exc:
            log.error("%s[%r]: not JSON (%s); not served", self.keys.bills, key, exc)
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("bill"), dict):
            log.error("%s[%r]: no 'bill' object; not served", self.keys.bills, key)
            return None
        return entry if entry.get("role") == "seller" else None


def _item_in(entry: Mapping[str, Any], item_id: str) -> dict[str, Any] | None:
    items = entry.get("items")
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and item.get("id") == item_id:
            return item
    return None


_SUBSCRIBE = """
local last = '0-0'
local top = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
if #top > 0 then last = top[1][1] end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], last)
return last
"""
_ADVANCE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  return 1
end
return 0
"""


class HubStore:
    """Hub subscriptions and where each subscriber's delivery stands."""

    def __init__(self, redis: aioredis.Redis[str], keys: BillingKeys) -> None:
        self.redis = redis
        self.keys = keys
        self._subscribe = redis.register_script(_SUBSCRIBE)
        self._advance = redis.register_script(_ADVANCE)

    async def add(self, subscription: Subscription) -> str:
        """Store ``subscription``; its delivery starts after the last event now in the
        stream (returned). Events appended from then on reach it."""
        keys = [self.keys.hub, self.keys.cursors, self.keys.events]
        text = json.dumps(subscription.to_json())
        last: str = await self._subscribe(keys=keys, args=[subscription.id, text])
        return last

    async def get(self, ident: str) -> Subscription | None:
        value = await self.redis.hget(self.keys.hub, ident)  # type: ignore[misc]
        return None if value is None else self._parse(ident, value)

    async def all(self) -> list[Subscription]:
        raw: Mapping[str, str] = await self.redis.hgetall(self.keys.hub)  # type: ignore[misc]
        return [s for k, v in sorted(raw.items()) if (s := self._parse(k, v)) is not None]

    async def delete(self, ident: str) -> bool:
        """Remove the subscription and its cursor; ``False`` when there was none."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.keys.hub, ident)
            pipe.hdel(self.keys.cursors, ident)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def cursor(self, ident: str) -> str:
        """The last stream id dealt with for ``ident`` (``0-0``: none)."""
        value = await self.redis.hget(self.keys.cursors, ident)  # type: ignore[misc]
        return value or "0-0"

    async def advance(self, ident: str, stream_id: str) -> bool:
        """Record ``stream_id`` as dealt with, if ``ident`` is still subscribed."""
        keys = [self.keys.hub, self.keys.cursors]
        return bool(await self._advance(keys=keys, args=[ident, stream_id]))

    async def events_after(
        self, stream_id: str, *, count: int, block_ms: int
    ) -> list[tuple[str, dict[str, str]]]:
        """Up to ``count`` events after ``stream_id``, waiting up to ``block_ms`` for one."""
        found = await self.redis.xread({self.keys.events: stream_id}, count=count, block=block_ms)
        return [(i, dict(f)) for _stream, entries in found for i, f in entries]

    def _parse(self, ident: str, value: str) -> Subscription | None:
        try:
            return Subscription.from_json(json.loads(value))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("%s[%r]: damaged subscription (%r); ignored", self.keys.hub, ident, exc)
            return None


_RECORD = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then return 0 end
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 5))
redis.call('HSET', KEYS[2], ARGV[3], id)
return 1
"""


class ReceivedStore:
    """The bills a Buyer was notified of, for its dashboard and agent."""

    def __init__(self, redis: aioredis.Redis[str], keys: BillingKeys) -> None:
        self.redis = redis
        self.keys = keys
        self._record = redis.register_script(_RECORD)

    async def record(
        self, event: Mapping[str, Any], bill: Mapping[str, Any], received_ms: int
    ) -> bool:
        """Keep ``bill`` (the latest fetched) and, the first time its ``eventId`` is seen, the
        event on the stream; ``True`` when the event was new. Atomic (one script)."""
        event_id = str(event["eventId"])
        entry = {"bill": bill, "event": event, "event_id": event_id, "received_ms": received_ms}
        fields = {
            "event_id": event_id,
            "event_type": str(event["eventType"]),
            "bill_id": str(bill["id"]),
            "state": str(bill.get("state", "")),
            "time": str(event["eventTime"]),
            "received_ms": str(received_ms),
        }
        flat = [x for pair in fields.items() for x in pair]
        keys = [self.keys.received, self.keys.received_ids, self.keys.received_events]
        args = [
            str(bill["id"]),
            dumps(entry).decode(),
            event_id,
            str(RECEIVED_STREAM_MAXLEN),
            *flat,
        ]
        return bool(await self._record(keys=keys, args=args))

    async def bill(self, bill_id: str) -> dict[str, Any] | None:
        """The recorded entry of ``bill_id`` (``{"bill", "event", ...}``), or ``None``."""
        value = await self.redis.hget(self.keys.received, bill_id)  # type: ignore[misc]
        return None if value is None else dict(loads_exact(value))
