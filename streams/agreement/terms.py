"""Reading agreement terms: each term's text by its own explicit rule, every problem kept.

Decimals are plain notation (``0.0150``; no sign, exponent, ``_``, ``:``, leading zero, ``inf``
or ``nan``; at most :data:`MAX_INTEGER_DIGITS` digits before the point and
:data:`MAX_FRACTION_DIGITS` after) and become exact :class:`~decimal.Decimal`; whole numbers are
plain digits; ids follow the identifier grammar usage records use; currencies are ISO 4217
(``pycountry``); time zones are IANA names of the installed tz database. Mappings may hold only
the keys their kind lists (:data:`_KEYS`). A :class:`TermReader` collects every problem with its
path instead of stopping at the first; :mod:`streams.agreement.loader` builds the model with it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pycountry

from streams.agreement.yaml_reader import child, show, where

__all__ = [
    "MAX_COUNT_DIGITS",
    "MAX_FRACTION_DIGITS",
    "MAX_INTEGER_DIGITS",
    "TermReader",
    "read_currency",
    "read_holidays",
    "read_moment",
    "read_zone",
]

MAX_INTEGER_DIGITS = 15
"""A decimal term (rate, fee, price, tier bound, tolerance) has at most this many digits before
the point: prices below 10^15, volumes below 10^15 units."""

MAX_FRACTION_DIGITS = 10
"""A decimal term has at most this many digits after the point; also the largest rounding
scale, so that with the statement stage's 6 extra digits an amount below 10^18 keeps all its
decimals in rating's 34-digit context."""

MAX_COUNT_DIGITS = 9
"""A whole-number term (seconds, days, increments, scale, depth) has at most this many digits."""

_MAX_NAME = 200
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
"""Ids (agreement, version, parties, tariffs, offerings): the identifier grammar usage records
are validated with (:mod:`streams.rating.validation`) minus ``@`` and ``+``, which join a tariff and
its bands in a rated record's rate id (``voice-de-mobile@peak+offpeak``)."""
_ID_WANT = "1 to 128 characters of [A-Za-z0-9._:/-], starting with a letter or digit"
_DECIMAL = re.compile(
    rf"(?:0|[1-9][0-9]{{0,{MAX_INTEGER_DIGITS - 1}}})(?:\.[0-9]{{1,{MAX_FRACTION_DIGITS}}})?"
)
_DECIMAL_WANT = (
    f"a plain decimal >= 0 like 0.0150 (at most {MAX_INTEGER_DIGITS} digits before the point "
    f"and {MAX_FRACTION_DIGITS} after; no sign, exponent, '_' or ':')"
)
_COUNT = re.compile(rf"0|[1-9][0-9]{{0,{MAX_COUNT_DIGITS - 1}}}")
_COUNT_MAX = 10**MAX_COUNT_DIGITS - 1
_CURRENCY = re.compile(r"[A-Z]{3}")
_NOT_CURRENCIES = frozenset({"XXX", "XTS"})  # ISO 4217's "no currency" and "testing" codes
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_MOMENT_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))

_KEYS: Mapping[str, tuple[str, ...]] = {
    "": (
        "id", "version", "effective_from", "parties", "currency", "timezone", "billing_period",
        "window", "rounding", "tolerances", "holidays", "bands", "tariffs", "offerings",
        "reconciliation", "settlement",
    ),
    "parties": ("seller", "buyer"),
    "party": ("id", "name", "keys", "billing_contact"),
    "billing_contact": ("name", "email", "phone"),
    "key": ("public_key", "valid_from", "valid_until"),
    "window": ("size", "grace", "digest_depth"),
    "rounding": ("mode", "scale", "stage"),
    "tolerances": ("duration_seconds", "amount", "dispute_days"),
    "reconciliation": ("correlation", "start_tolerance_seconds", "edge_seconds", "anchor_deadline"),
    "settlement": ("grace_seconds", "payment_days", "within_tolerance", "usage_offerings"),
    "band": ("days", "hours"),
    "tariff": (
        "id", "product", "prefixes", "per", "rate", "rates", "connect_fee", "increment",
        "minimum_charge", "tiers", "currency",
    ),
    "tiers": ("style", "steps"),
    "step": ("up_to", "rate"),
    "offering": ("id", "recurring", "non_recurring"),
    "recurring": ("price", "period"),
    "non_recurring": ("price",),
}  # fmt: skip
"""The keys each kind of mapping may hold; any other key is a problem (a misspelt term would be
read by people but never signed)."""


class TermReader:
    """Collects every problem while reading a nested mapping, each tagged with its path.

    Values are what :class:`~streams.agreement.yaml_reader.YamlReader` builds (``dict``,
    ``list``, ``str``, ``None``); any other value (a caller's own ``int`` or ``Decimal``) is a
    problem like any wrong text.
    """

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, got: Any, want: str) -> None:
        self.problems.append(f"{where(path)}: got {show(got)}, want {want}")

    def mapping(self, node: Any, path: str, kind: str | None = None) -> Mapping[str, Any]:
        """``node`` as a mapping (``{}`` after a problem); with ``kind``, unknown keys are
        problems too."""
        if not isinstance(node, dict) or not all(isinstance(key, str) for key in node):
            self.fail(path, node, "a mapping")
            return {}
        if kind is not None:
            allowed = _KEYS[kind]
            for key in node:
                if key not in allowed:
                    self.problems.append(
                        f"{child(path, key)}: got an unknown key, want one of {list(allowed)}"
                    )
        return node

    def text(self, node: Mapping[str, Any], key: str, path: str) -> str:
        """Free text such as a party's name: printable, at most 200 characters."""
        value = node.get(key)
        if (
            isinstance(value, str)
            and value.strip()
            and len(value) <= _MAX_NAME
            and value.isprintable()
        ):
            return value
        self.fail(child(path, key), value, f"a printable text of 1 to {_MAX_NAME} characters")
        return ""

    def ident(self, node: Mapping[str, Any], key: str, path: str) -> str:
        value = node.get(key)
        if not isinstance(value, str) or not _ID.fullmatch(value):
            self.fail(child(path, key), value, _ID_WANT)
            return ""
        return value

    def decimal(
        self, node: Mapping[str, Any], key: str, path: str, default: str | None = None
    ) -> Decimal:
        value = node.get(key, default)
        if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
            self.fail(child(path, key), value, _DECIMAL_WANT)
            return Decimal(0)
        return Decimal(value)

    def optional_decimal(self, node: Mapping[str, Any], key: str, path: str) -> Decimal | None:
        return None if node.get(key) is None else self.decimal(node, key, path)

    def count(self, value: Any, path: str, minimum: int, maximum: int = _COUNT_MAX) -> int:
        """A whole number ``minimum`` to ``maximum`` written in plain digits."""
        if (
            not isinstance(value, str)
            or not _COUNT.fullmatch(value)
            or not minimum <= int(value) <= maximum
        ):
            self.fail(
                path,
                value,
                f"a whole number {minimum} to {maximum} in plain digits "
                "(no sign, '_', ':' or leading zero)",
            )
            return minimum
        return int(value)

    def integer(
        self,
        node: Mapping[str, Any],
        key: str,
        path: str,
        minimum: int,
        default: int,
        maximum: int = _COUNT_MAX,
    ) -> int:
        return self.count(node.get(key, str(default)), child(path, key), minimum, maximum)

    def choice(
        self, node: Mapping[str, Any], key: str, path: str, allowed: tuple[str, ...], default: str
    ) -> str:
        value = node.get(key, default)
        if not isinstance(value, str) or value not in allowed:
            self.fail(child(path, key), value, f"one of {list(allowed)}")
            return default
        return value

    def items(self, node: Mapping[str, Any], key: str, path: str, required: bool) -> list[Any]:
        value = node.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list) or (required and not value):
            want = "a non-empty list" if required else "a list"
            self.fail(child(path, key), value, want)
            return []
        return value


# --- terms read the same way wherever they appear -----------------------------------------------


def read_moment(r: TermReader, doc: Mapping[str, Any], key: str, path: str = "") -> datetime:
    """``doc[key]`` as an ISO-8601 time with offset, in UTC."""
    value = doc.get(key)
    want = "an ISO-8601 time with offset from 1970 to 9998, e.g. 2026-01-01T00:00:00Z"
    try:
        if not isinstance(value, str) or not _MOMENT.fullmatch(value):
            raise ValueError("not an ISO-8601 time with offset")
        moment = datetime.fromisoformat(value).astimezone(UTC)
        if not _MOMENT_RANGE[0] <= moment < _MOMENT_RANGE[1]:
            raise ValueError("out of range")
        return moment
    except (ValueError, OverflowError):
        r.fail(child(path, key), value, want)
        return _MOMENT_RANGE[0]


@functools.cache
def _zone_names() -> frozenset[str]:
    # 'localtime' is this machine's zone, never a term both parties can share.
    return frozenset(available_timezones() - {"localtime", "posixrules"})


def read_zone(r: TermReader, doc: Mapping[str, Any]) -> ZoneInfo:
    """The agreement's ``timezone``: an IANA name of the installed tz database."""
    name = doc.get("timezone")
    if isinstance(name, str) and name in _zone_names():
        try:
            return ZoneInfo(name)
        except (ValueError, OSError):  # listed but unreadable: report it like an unknown name
            pass
    r.fail("timezone", name, "an IANA time zone such as 'Europe/Berlin'")
    return ZoneInfo("UTC")


def read_currency(r: TermReader, doc: Mapping[str, Any], path: str = "") -> str:
    """``doc``'s ``currency`` (the agreement's, or a tariff's at ``path``): an ISO 4217 code
    that names a real currency."""
    code = doc.get("currency")
    if (
        isinstance(code, str)
        and _CURRENCY.fullmatch(code)
        and code not in _NOT_CURRENCIES
        and pycountry.currencies.get(alpha_3=code) is not None
    ):
        return code
    r.fail(child(path, "currency"), code, "an ISO 4217 code such as 'EUR'")
    return ""


def read_holidays(r: TermReader, doc: Mapping[str, Any]) -> tuple[date, ...]:
    """The agreement's ``holidays``, sorted, each day once."""
    days = []
    for i, day in enumerate(r.items(doc, "holidays", "", required=False)):
        try:
            if not isinstance(day, str) or not _DATE.fullmatch(day):
                raise ValueError("not YYYY-MM-DD")
            days.append(date.fromisoformat(day))
        except ValueError:
            r.fail(f"holidays[{i}]", day, "a date, e.g. 2026-12-25")
    return tuple(sorted(set(days)))
