"""The Smart Bilateral: the agreement both partners sign, loaded from YAML into frozen values.

Loading validates the whole document and reports *every* problem with its path
(``tariffs[2].rate: got 'abc', want a decimal >= 0``), because an agreement is negotiated by
people who fix a file in one pass. :func:`canonical_hash` gives both sides the same bytes to
sign: it is computed over the normalised values, not the YAML text, so formatting and key
order do not matter but every priced term does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
    InvalidOperation,
)
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from streams.errors import AgreementError
from streams.validation import PRODUCT_UNITS

__all__ = ["ROUNDING_MODES", "Agreement", "Party", "Tariff", "load_agreement", "parse_agreement"]

ROUNDING_MODES: Mapping[str, str] = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "up": ROUND_UP,
    "down": ROUND_DOWN,
    "ceiling": ROUND_CEILING,
    "floor": ROUND_FLOOR,
}
"""Agreement rounding names → :mod:`decimal` rounding modes."""

PER_UNITS: Mapping[str, tuple[str, int]] = {
    "second": ("voice", 1),
    "minute": ("voice", 60),
    "message": ("sms", 1),
    "kilobyte": ("data", 1_000),
    "megabyte": ("data", 1_000_000),
    "gigabyte": ("data", 1_000_000_000),
}
"""A tariff's ``per`` unit → (product, size in the product's base unit: seconds, messages, bytes).
Data units are decimal (SI), as MEF and the GSMA TAP/BCE guidelines use."""

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PREFIX = re.compile(r"^[0-9]{0,15}$")


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Tariff:
    """One price line: usage of ``product`` to a destination matching one of ``prefixes``."""

    id: str
    product: str
    prefixes: tuple[str, ...]
    """Destination prefixes of the B number; ``""`` matches everything (longest match wins)."""
    rate: Decimal
    """Price per ``per`` unit."""
    per: str
    per_size: int
    """Size of ``per`` in the product's base unit (seconds, messages, bytes)."""
    connect_fee: Decimal
    """Charged once per record with a billed quantity above zero."""
    first_increment: int
    next_increment: int
    """Rating increments in the base unit, e.g. 60/60, 30/6, 1/1 for voice seconds."""
    minimum_charge: Decimal


@dataclass(frozen=True, slots=True)
class Agreement:
    """One version of a bilateral agreement, as both parties signed it."""

    id: str
    version: str
    effective_from: datetime
    seller: Party
    buyer: Party
    currency: str
    timezone: ZoneInfo
    billing_period: str
    window_seconds: int
    grace_seconds: int
    rounding_mode: str
    """A :mod:`decimal` rounding constant (see :data:`ROUNDING_MODES`)."""
    rounding_scale: int
    """Decimal places of every rated amount."""
    tariffs: tuple[Tariff, ...]

    @property
    def parties(self) -> tuple[str, str]:
        return (self.seller.id, self.buyer.id)

    def canonical(self) -> dict[str, Any]:
        """The normalised content both parties sign (JSON-ready, decimals as strings)."""
        rounding = next(k for k, v in ROUNDING_MODES.items() if v == self.rounding_mode)
        return {
            "id": self.id,
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "parties": {
                "seller": {"id": self.seller.id, "name": self.seller.name},
                "buyer": {"id": self.buyer.id, "name": self.buyer.name},
            },
            "currency": self.currency,
            "timezone": self.timezone.key,
            "billing_period": self.billing_period,
            "window": {"size": self.window_seconds, "grace": self.grace_seconds},
            "rounding": {"mode": rounding, "scale": self.rounding_scale},
            "tariffs": [
                {
                    "id": t.id,
                    "product": t.product,
                    "prefixes": sorted(t.prefixes),
                    "rate": _norm(t.rate),
                    "per": t.per,
                    "connect_fee": _norm(t.connect_fee),
                    "increment": [t.first_increment, t.next_increment],
                    "minimum_charge": _norm(t.minimum_charge),
                }
                for t in sorted(self.tariffs, key=lambda t: t.id)
            ],
        }

    def canonical_hash(self) -> bytes:
        """SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8): the signed bytes."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(b"bilat.agreement.v1\x00" + text.encode()).digest()


def _norm(value: Decimal) -> str:
    """A decimal as a canonical string: no exponent, no trailing zeros ("0.0150" → "0.015")."""
    text = format(value.normalize(), "f")
    return text


class _Reader:
    """Collects every problem while reading a nested mapping, each tagged with its path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, got: Any, want: str) -> None:
        self.problems.append(f"{path}: got {got!r}, want {want}")

    def mapping(self, node: Any, path: str) -> Mapping[str, Any]:
        if not isinstance(node, Mapping):
            self.fail(path, node, "a mapping")
            return {}
        return node

    def text(self, node: Mapping[str, Any], key: str, path: str) -> str:
        value = node.get(key)
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{path}.{key}", value, "a non-empty string")
            return ""
        return value

    def decimal(
        self, node: Mapping[str, Any], key: str, path: str, default: str | None = None
    ) -> Decimal:
        value = node.get(key, default)
        try:
            number = Decimal(str(value)) if isinstance(value, str | int | Decimal) else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number < 0:
            self.fail(f"{path}.{key}", value, "a decimal >= 0")
            return Decimal(0)
        return number

    def integer(
        self, node: Mapping[str, Any], key: str, path: str, minimum: int, default: int | None = None
    ) -> int:
        value = node.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.fail(f"{path}.{key}", value, f"an integer >= {minimum}")
            return minimum
        return value


def _tariff(r: _Reader, node: Any, path: str) -> Tariff:
    t = r.mapping(node, path)
    tariff_id = r.text(t, "id", path)
    per = str(t.get("per"))
    product = r.text(t, "product", path)
    if product and product not in PRODUCT_UNITS:
        r.fail(f"{path}.product", product, f"one of {sorted(PRODUCT_UNITS)}")
    per_size = 1
    if per not in PER_UNITS:
        r.fail(f"{path}.per", per, f"one of {list(PER_UNITS)}")
    else:
        per_product, per_size = PER_UNITS[per]
        if product in PRODUCT_UNITS and per_product != product:
            r.fail(f"{path}.per", per, f"a unit of {product}, not of {per_product}")
    prefixes = t.get("prefixes", [""])
    if not isinstance(prefixes, list) or not prefixes:
        r.fail(f"{path}.prefixes", prefixes, "a non-empty list of digit strings")
        prefixes = []
    for i, prefix in enumerate(prefixes):
        if not isinstance(prefix, str) or not _PREFIX.match(prefix):
            r.fail(f"{path}.prefixes[{i}]", prefix, "a quoted string of 0 to 15 digits")
    increment = t.get("increment", [1, 1])
    if (
        not isinstance(increment, list)
        or len(increment) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in increment)
    ):
        r.fail(f"{path}.increment", increment, "[first, next], two integers >= 1, e.g. [60, 60]")
        increment = [1, 1]
    return Tariff(
        id=tariff_id,
        product=product,
        prefixes=tuple(str(p) for p in prefixes),
        rate=r.decimal(t, "rate", path),
        per=per,
        per_size=per_size,
        connect_fee=r.decimal(t, "connect_fee", path, "0"),
        first_increment=increment[0],
        next_increment=increment[1],
        minimum_charge=r.decimal(t, "minimum_charge", path, "0"),
    )


def _check_unique_routes(r: _Reader, tariffs: list[Tariff]) -> None:
    seen: dict[tuple[str, str], str] = {}
    ids: set[str] = set()
    for i, tariff in enumerate(tariffs):
        if tariff.id in ids:
            r.fail(f"tariffs[{i}].id", tariff.id, "an id not used by another tariff")
        ids.add(tariff.id)
        for prefix in tariff.prefixes:
            other = seen.setdefault((tariff.product, prefix), tariff.id)
            if other != tariff.id:
                r.fail(
                    f"tariffs[{i}].prefixes", prefix, f"a prefix not already priced by {other!r}"
                )


def parse_agreement(document: Any, source: str = "<agreement>") -> Agreement:
    """Validate a parsed YAML document into an :class:`Agreement`.

    Raises :class:`AgreementError` listing every problem with its path.
    """
    r = _Reader()
    doc = r.mapping(document, "$")
    parties = r.mapping(doc.get("parties"), "parties")
    seller, buyer = (r.mapping(parties.get(k), f"parties.{k}") for k in ("seller", "buyer"))
    currency = r.text(doc, "currency", "$")
    if currency and not _CURRENCY.match(currency):
        r.fail("currency", currency, "an ISO 4217 code such as 'EUR'")
    zone_name = r.text(doc, "timezone", "$")
    try:
        zone = ZoneInfo(zone_name) if zone_name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("timezone", zone_name, "an IANA time zone such as 'Europe/Berlin'")
        zone = ZoneInfo("UTC")
    effective_text = doc.get("effective_from")
    effective = datetime(1970, 1, 1, tzinfo=UTC)
    try:
        parsed = (
            effective_text
            if isinstance(effective_text, datetime)
            else datetime.fromisoformat(str(effective_text).replace("Z", "+00:00"))
        )
        if parsed.tzinfo is None:
            raise ValueError("naive")
        effective = parsed.astimezone(UTC)
    except ValueError:
        r.fail(
            "effective_from",
            effective_text,
            "an ISO-8601 time with offset, e.g. 2026-01-01T00:00:00Z",
        )
    period = doc.get("billing_period", "month")
    if period not in ("day", "week", "month"):
        r.fail("billing_period", period, "one of ['day', 'week', 'month']")
    window = r.mapping(doc.get("window", {}), "window")
    rounding = r.mapping(doc.get("rounding", {}), "rounding")
    mode = rounding.get("mode", "half_up")
    if mode not in ROUNDING_MODES:
        r.fail("rounding.mode", mode, f"one of {list(ROUNDING_MODES)}")
        mode = "half_up"
    raw_tariffs = doc.get("tariffs")
    if not isinstance(raw_tariffs, list) or not raw_tariffs:
        r.fail("tariffs", raw_tariffs, "a non-empty list of tariffs")
        raw_tariffs = []
    tariffs = [_tariff(r, node, f"tariffs[{i}]") for i, node in enumerate(raw_tariffs)]
    _check_unique_routes(r, tariffs)
    agreement = Agreement(
        id=r.text(doc, "id", "$"),
        version=r.text(doc, "version", "$"),
        effective_from=effective,
        seller=Party(r.text(seller, "id", "parties.seller"), str(seller.get("name", ""))),
        buyer=Party(r.text(buyer, "id", "parties.buyer"), str(buyer.get("name", ""))),
        currency=currency,
        timezone=zone,
        billing_period=str(period),
        window_seconds=r.integer(window, "size", "window", 60, 3600),
        grace_seconds=r.integer(window, "grace", "window", 0, 600),
        rounding_mode=ROUNDING_MODES[str(mode)],
        rounding_scale=r.integer(rounding, "scale", "rounding", 0, 4),
        tariffs=tuple(tariffs),
    )
    if r.problems:
        raise AgreementError(source, [p.replace("$.", "") for p in r.problems])
    return agreement


class _DecimalLoader(yaml.SafeLoader):
    """A safe YAML loader that reads every float literal as an exact :class:`Decimal`.

    ``rate: 0.015`` must never pass through a binary float on its way to an invoice.
    """


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(str(loader.construct_scalar(node)).replace("_", ""))


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def load_agreement(path: Path | str) -> Agreement:
    """Read and validate an agreement YAML file (see ``examples/agreement.yaml``)."""
    path = Path(path)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_DecimalLoader)
    except OSError as exc:
        raise AgreementError(str(path), [f"cannot read file: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        raise AgreementError(str(path), [f"not valid YAML: {exc}"]) from exc
    return parse_agreement(document, str(path))
