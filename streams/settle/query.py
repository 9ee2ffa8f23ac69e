"""The ``GET /customerBill`` query of MEF 141 (``listCustomerBill``): parse, filter, page.

Pure: the HTTP shell (:mod:`connectors.billing.api`) hands :func:`parse_query` the query's
``(name, value)`` pairs as received, and :func:`find` the bills as stored (MEF
``CustomerBill`` dicts); both return plain values. Nothing here raises on bad input: a bad
query is a :class:`QueryError` whose :meth:`~QueryError.body` is the spec's ``Error400``.

Parameters, exactly those the spec lists (``billingManagement.api.yaml`` v2)::

    billingAccount.id                    equal to the bill's billingAccount.id
    billingPeriod.startDateTime.lt/.gt   the bill's billingPeriod.startDateTime <, > the value
    billingPeriod.endDateTime.lt/.gt     the bill's billingPeriod.endDateTime <, > the value
    category                             normal | duplicate | trial
    state                                generated | paymentDue | settled
    offset, limit                        integers >= 0

Dates are RFC 3339 with an offset and compare as instants (``...T01:00:00+01:00`` equals
``...T00:00:00Z``); ``lt``/``gt`` are strict. A bill without the field a filter names does
not match it. Error codes (the spec's ``Error400Code``): a parameter given with no value is
``missingQueryValue``; anything else wrong (an unknown or repeated parameter, a bad date,
enum or integer) is ``invalidQuery``. ``missingQueryParameter`` never applies: the operation
requires no parameter. Every problem is listed in ``message``, not only the first.

Order and pages: matches are sorted by ``billDate``, then ``id`` (ascending: a bill issued
later lands at the end, so offsets already read stay valid while a client pages through).
A page holds at most :data:`MAX_LIMIT` bills; a client asking for more, or giving no
``limit``, gets that many and ``X-Pagination-Throttled: true`` when more remain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "BILL_CATEGORIES",
    "BILL_STATES",
    "FIND_FIELDS",
    "MAX_LIMIT",
    "PARAMETERS",
    "BillQuery",
    "Page",
    "QueryError",
    "find",
    "find_projection",
    "parse_date_time",
    "parse_query",
]

MAX_LIMIT = 100
"""The largest page served; a larger ``limit`` is throttled to it (the spec's
``X-Pagination-Throttled``). A bill list entry is a few hundred bytes: 100 keeps an answer
near 50 KB."""

BILL_CATEGORIES = ("normal", "duplicate", "trial")
"""MEF ``CustomerBillCategory``."""
BILL_STATES = ("generated", "paymentDue", "settled")
"""MEF ``CustomerBillStateType`` (the ``state`` parameter's enum)."""

_DATE_FILTERS: Mapping[str, tuple[str, str]] = {
    "billingPeriod.startDateTime.lt": ("startDateTime", "lt"),
    "billingPeriod.startDateTime.gt": ("startDateTime", "gt"),
    "billingPeriod.endDateTime.lt": ("endDateTime", "lt"),
    "billingPeriod.endDateTime.gt": ("endDateTime", "gt"),
}
PARAMETERS = ("billingAccount.id", *_DATE_FILTERS, "category", "state", "offset", "limit")
"""Every query parameter of ``listCustomerBill``, in the spec's order."""

FIND_FIELDS = ("id", "billingAccount", "billNo", "billingPeriod", "category", "state")
"""The properties of MEF ``CustomerBill_Find``, the list's projection of a bill."""

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_PLUS_LOST = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})? \d{2}:\d{2}")
_COUNT = re.compile(r"[0-9]{1,18}")
_SHOWN = 60  # characters of a client's value quoted back in an error message


@dataclass(frozen=True, slots=True)
class BillQuery:
    """A valid ``listCustomerBill`` query; ``None`` = the filter was not given."""

    billing_account_id: str | None = None
    start_lt: datetime | None = None
    start_gt: datetime | None = None
    end_lt: datetime | None = None
    end_gt: datetime | None = None
    category: str | None = None
    state: str | None = None
    offset: int = 0
    limit: int | None = None
    """As asked; the page served holds at most :data:`MAX_LIMIT`."""

    def matches(self, bill: Mapping[str, Any]) -> bool:
        """Whether ``bill`` (a MEF ``CustomerBill`` dict) passes every filter given."""
        if self.billing_account_id is not None:
            account = bill.get("billingAccount")
            if not isinstance(account, Mapping) or account.get("id") != self.billing_account_id:
                return False
        if self.category is not None and bill.get("category") != self.category:
            return False
        if self.state is not None and bill.get("state") != self.state:
            return False
        period = bill.get("billingPeriod")
        period = period if isinstance(period, Mapping) else {}
        for field, below, above in (
            ("startDateTime", self.start_lt, self.start_gt),
            ("endDateTime", self.end_lt, self.end_gt),
        ):
            if below is None and above is None:
                continue
            value = parse_date_time(period.get(field))
            if value is None:
                return False
            if (below is not None and not value < below) or (
                above is not None and not value > above
            ):
                return False
        return True


@dataclass(frozen=True, slots=True)
class QueryError:
    """Why a query was refused: an ``Error400`` (:meth:`body`) answered with HTTP 400."""

    code: str
    """``missingQueryValue`` or ``invalidQuery`` (see the module docstring)."""
    problems: tuple[str, ...]
    """Every problem found, each naming its parameter."""

    def body(self) -> dict[str, str]:
        """The MEF ``Error400`` body: ``code``, ``reason`` (<= 255 characters), ``message``."""
        reason = (
            "A query parameter has no value"
            if self.code == "missingQueryValue"
            else "The query section of the URI is invalid"
        )
        return {"code": self.code, "reason": reason, "message": "; ".join(self.problems)}


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a bill list: the ``CustomerBill_Find`` projections and the counts."""

    bills: tuple[dict[str, Any], ...]
    total: int
    """Bills matching the filters, every page together (``X-Total-Count``)."""
    offset: int
    throttled: bool
    """The page was cut to :data:`MAX_LIMIT` and more bills follow (``X-Pagination-Throttled``)."""

    def headers(self) -> dict[str, str]:
        """The spec's three response headers."""
        return {
            "X-Total-Count": str(self.total),
            "X-Result-Count": str(len(self.bills)),
            "X-Pagination-Throttled": "true" if self.throttled else "false",
        }


def parse_query(pairs: Iterable[tuple[str, str]]) -> BillQuery | QueryError:
    """The query of ``pairs`` (name, value as percent-decoded, in the order received), or why
    not. Never raises, whatever the strings hold."""
    seen: set[str] = set()
    missing: list[str] = []
    invalid: list[str] = []
    values: dict[str, Any] = {}
    for name, value in pairs:
        if name not in PARAMETERS:
            invalid.append(f"unknown parameter {_quote(name)}: want one of {', '.join(PARAMETERS)}")
            continue
        if name in seen:
            invalid.append(f"{name}: given more than once, want it once")
            continue
        seen.add(name)
        if value == "":
            missing.append(f"{name}: got no value, want one")
            continue
        parsed = _parse_value(name, value)
        if isinstance(parsed, str):
            invalid.append(parsed)
        else:
            values[name] = parsed[0]
    if invalid or missing:
        code = "invalidQuery" if invalid else "missingQueryValue"
        return QueryError(code, tuple(missing + invalid))
    return BillQuery(
        billing_account_id=values.get("billingAccount.id"),
        start_lt=values.get("billingPeriod.startDateTime.lt"),
        start_gt=values.get("billingPeriod.startDateTime.gt"),
        end_lt=values.get("billingPeriod.endDateTime.lt"),
        end_gt=values.get("billingPeriod.endDateTime.gt"),
        category=values.get("category"),
        state=values.get("state"),
        offset=values.get("offset", 0),
        limit=values.get("limit"),
    )


def find(query: BillQuery, bills: Iterable[Mapping[str, Any]]) -> Page:
    """The page of ``bills`` that ``query`` asks for, as ``CustomerBill_Find`` projections.

    Bills that are not JSON objects are skipped (the store's reader reports them)."""
    matched = sorted((b for b in bills if isinstance(b, Mapping) and query.matches(b)), key=_order)
    size = MAX_LIMIT if query.limit is None else min(query.limit, MAX_LIMIT)
    page = matched[query.offset : query.offset + size]
    cut = query.limit is None or query.limit > MAX_LIMIT
    throttled = cut and query.offset + len(page) < len(matched)
    return Page(tuple(find_projection(b) for b in page), len(matched), query.offset, throttled)


def find_projection(bill: Mapping[str, Any]) -> dict[str, Any]:
    """``bill``'s ``CustomerBill_Find`` fields, those it has."""
    return {k: bill[k] for k in FIND_FIELDS if k in bill}


def parse_date_time(value: object) -> datetime | None:
    """An RFC 3339 date-time with an offset as an aware UTC ``datetime``; ``None`` for
    anything else (another type, no offset, month 13...)."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC)


def _parse_value(name: str, value: str) -> tuple[Any] | str:
    """``(value,)`` parsed for parameter ``name``, or the problem."""
    if name in _DATE_FILTERS:
        moment = parse_date_time(value)
        if moment is not None:
            return (moment,)
        hint = ""
        if _PLUS_LOST.fullmatch(value):
            hint = " (a '+' in a query string means a space: send the offset's '+' as %2B)"
        return f"{name}: got {_quote(value)}, want an RFC 3339 date-time with an offset{hint}"
    if name in ("category", "state"):
        allowed = BILL_CATEGORIES if name == "category" else BILL_STATES
        if value in allowed:
            return (value,)
        return f"{name}: got {_quote(value)}, want one of {', '.join(allowed)}"
    if name in ("offset", "limit"):
        if _COUNT.fullmatch(value):
            return (int(value),)
        return f"{name}: got {_quote(value)}, want an integer >= 0"
    return (value,)  # billingAccount.id: any text


def _quote(text: str) -> str:
    """``text`` for an error message: ASCII-only (no lone surrogate or control character can
    reach the JSON body or a log line), cut to a length a reader can take in."""
    shown = ascii(text[:_SHOWN])
    return shown if len(text) <= _SHOWN else f"{shown}... ({len(text)} characters)"


def _order(bill: Mapping[str, Any]) -> tuple[int, datetime, str]:
    """Sort key: bills with a valid ``billDate`` by it, then the others; ``id`` breaks ties."""
    when = parse_date_time(bill.get("billDate"))
    ident = bill.get("id")
    text = ident if isinstance(ident, str) else ""
    return (0, when, text) if when is not None else (1, _NEVER, text)


_NEVER = datetime.min.replace(tzinfo=UTC)
