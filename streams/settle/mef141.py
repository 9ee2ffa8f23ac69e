"""A :class:`~streams.settle.statement.Statement` as MEF 141 JSON: the ``CustomerBill`` and its
``CustomerBillItem`` resources of ``billingManagement.api.yaml`` (checked against it by
:mod:`streams.settle.mef_schema` in the tests).

Money is ``Decimal`` inside and becomes MEF's ``Money`` ``{unit, value}`` only here: ``value`` is
a ``Decimal`` at the agreement's scale (amounts) or exact (unit rates), so that :func:`dumps`
writes it as a JSON number whose text is exactly that decimal. A value of more than
:data:`MAX_DIGITS` significant digits is refused (``ValueError``): a client reading JSON numbers
as IEEE doubles (most do) would silently change it.

Without a bill status (``status=None``) every item is ``generated`` and the bill is as the
Seller issued it. With one (the fold of both chains, :class:`streams.settle.disputes.BillStatus`
or anything with ``item_states``, ``credited``, ``state``, ``paid``, ``last_update``):

* an item's ``state`` is its state there (``withdrawn`` read as the enum's ``withDrawn``);
* ``amountDue`` = sum of the items not ``withDrawn`` - the credits; ``credits`` = the credits;
  ``remainingAmount`` = ``amountDue`` - paid; ``appliedPayment`` names the amount paid.

Fixed choices, since the statement carries no taxes, fees or printable document:
``taxItem`` and every item's ``appliedTax``/``appliedFee`` are empty, ``fees`` is zero,
``taxExcludedAmount`` = ``taxIncludedAmount`` = ``amountDue`` (wholesale bilateral settlement
is invoiced tax-exclusive here), ``discounts`` is the volume-tier adjustments that lower the bill,
``category`` ``normal``, ``runType`` ``onCycle``, ``billingAccount`` the Buyer's party id,
``financialAccount`` the Seller's, ``billDocument.url`` the bill's own ``href`` (no PDF is
made), ``relatedContactInformation`` the two parties' billing contacts from the agreement
(empty e-mail and number where the agreement names none).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from streams.settle.statement import Statement, StatementItem

__all__ = ["MAX_DIGITS", "BillStatusLike", "bill_items", "customer_bill", "dumps", "money"]

MAX_DIGITS = 15
"""Most significant digits of a Money value or quantity: what an IEEE double keeps exactly."""

_STATES = {"withdrawn": "withDrawn"}


class BillStatusLike(Protocol):
    """What :func:`customer_bill` reads of a bill's status (``streams.settle.disputes``)."""

    @property
    def item_states(self) -> Mapping[str, str]: ...
    @property
    def credited(self) -> Mapping[str, Decimal]: ...
    @property
    def state(self) -> str: ...
    @property
    def paid(self) -> Decimal: ...
    @property
    def last_update(self) -> datetime: ...


def money(value: Decimal, currency: str, scale: int | None = None) -> dict[str, Any]:
    """MEF ``Money``: ``{"unit": currency, "value": value}``, ``value`` quantized to ``scale``
    decimals when given (amounts), else exact (rates). ``ValueError`` beyond
    :data:`MAX_DIGITS` significant digits or for a non-finite value."""
    if scale is not None:
        value = value.quantize(Decimal(1).scaleb(-scale))
    return {"unit": currency, "value": _number(value)}


def _number(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError(f"got {value}, want a finite decimal")
    digits = len(value.normalize().as_tuple().digits)  # trailing zeros change no double
    if digits > MAX_DIGITS:
        raise ValueError(
            f"got {value} ({digits} significant digits), want at most {MAX_DIGITS}: a JSON "
            "reader using doubles would change it"
        )
    return value


def _time(at: datetime) -> str:
    """RFC 3339 in UTC, ``Z``, milliseconds only when there are any."""
    at = at.astimezone(UTC)
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    if at.microsecond:
        text += f".{at.microsecond // 1000:03d}"
    return text + "Z"


def _period(statement: Statement) -> dict[str, str]:
    return {
        "startDateTime": _time(statement.period_start),
        "endDateTime": _time(statement.period_end),
    }


def bill_items(
    statement: Statement, status: BillStatusLike | None = None, href_base: str = ""
) -> list[dict[str, Any]]:
    """Every item of ``statement`` as a MEF ``CustomerBillItem``, in statement order, ``href``
    ``<href_base>/customerBillItem/<id>``."""
    return [_item(statement, item, status, href_base) for item in statement.items]


def _item(
    statement: Statement, item: StatementItem, status: BillStatusLike | None, href_base: str
) -> dict[str, Any]:
    state = "generated" if status is None else status.item_states.get(item.id, "generated")
    currency = statement.currency
    return {
        "id": item.id,
        "href": f"{href_base}/customerBillItem/{item.id}",
        "appliedFee": [],
        "appliedTax": [],
        "customerBillItemType": item.kind,
        "description": item.description,
        "periodCoverage": {
            "startDateTime": _time(item.period_start),
            "endDateTime": _time(item.period_end),
        },
        "product": {"id": item.product_id},
        "productName": item.product_name,
        "productOrderItem": {
            "productOrderId": item.order_id,
            "productOrderItemId": item.order_item_id,
        },
        "state": _STATES.get(state, state),
        "taxExcludedAmount": money(item.amount, currency, statement.scale),
        "unit": item.unit,
        "unitRate": money(item.unit_rate, currency),
        "unitQuantity": _number(item.quantity),
    }


def customer_bill(
    statement: Statement, status: BillStatusLike | None = None, href_base: str = ""
) -> dict[str, Any]:
    """``statement`` as a MEF ``CustomerBill`` (see the module docstring); ``href_base`` is
    the API's base URL, e.g. ``https://hgc.example/mefApi/sonata/customerBillManagement/v1``
    (empty: relative hrefs)."""
    currency, scale = statement.currency, statement.scale
    href = f"{href_base}/customerBill/{statement.id}"
    states = {} if status is None else status.item_states
    credits = Decimal(0) if status is None else sum(status.credited.values(), Decimal(0))
    billed = sum(
        (i.amount for i in statement.items if states.get(i.id) not in ("withDrawn", "withdrawn")),
        Decimal(0),
    )
    due = billed - credits
    paid = Decimal(0) if status is None else status.paid
    tiers = sum(
        (i.amount for i in statement.items if i.sources[:1] and i.sources[0].startswith("tiers:")),
        Decimal(0),
    )
    zero = money(Decimal(0), currency, scale)
    return {
        "id": statement.id,
        "href": href,
        "amountDue": money(due, currency, scale),
        "appliedPayment": [{"appliedAmount": money(paid, currency, scale)}] if paid else [],
        "billCycle": statement.period_label,
        "billDate": _time(statement.bill_date),
        "billDocument": {"url": href},
        "billNo": statement.bill_no,
        "billingAccount": {"id": statement.buyer},
        "billingPeriod": _period(statement),
        "category": "normal",
        "credits": money(credits, currency, scale),
        "customerBillItem": [
            {"id": i.id, "href": f"{href_base}/customerBillItem/{i.id}"} for i in statement.items
        ],
        "discounts": money(-tiers if tiers < 0 else Decimal(0), currency, scale),
        "fees": zero,
        "financialAccount": {"id": statement.seller},
        "lastUpdate": _time(statement.bill_date if status is None else status.last_update),
        "paymentDueDate": _time(statement.payment_due),
        "relatedContactInformation": [
            {
                "role": f"{p.role}BillingContact",
                "organization": p.name or p.id,
                "name": p.contact.name if p.contact else p.name or p.id,
                "emailAddress": p.contact.email if p.contact else "",
                "number": p.contact.phone if p.contact else "",
            }
            for p in statement.parties
        ],
        "remainingAmount": money(due - paid, currency, scale),
        "runType": "onCycle",
        "state": "generated" if status is None else status.state,
        "taxExcludedAmount": money(due, currency, scale),
        "taxIncludedAmount": money(due, currency, scale),
        "taxItem": [],
    }


def dumps(value: Any) -> str:
    """``value`` as JSON text, each ``Decimal`` written with its exact digits as a number
    (``json.dumps`` would refuse it; a float would change it)."""
    return "".join(_parts(value))


def _parts(value: Any) -> Iterator[str]:
    if isinstance(value, Decimal):
        yield format(_number(value), "f")
    elif isinstance(value, Mapping):
        yield "{"
        for i, (k, v) in enumerate(value.items()):
            yield ("," if i else "") + json.dumps(str(k), ensure_ascii=False) + ":"
            yield from _parts(v)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for i, v in enumerate(value):
            yield "," if i else ""
            yield from _parts(v)
        yield "]"
    else:
        yield json.dumps(value, ensure_ascii=False)
