"""Closing a billing period: the statements (one per currency) from agreed anchors, the product
inventory and the agreement. Pure: every input is a value; no clock, no I/O.

Contract of :func:`build_statements` (the rules in full: ``docs/spec/settlement.md``):

* **Windows.** Each window of the period comes as a :class:`StatementWindow`: its state, the
  anchors both parties agreed on, and the calling party's own leaves of its anchored batch.
  Only ``agreed`` and ``agreed-within-tolerance`` windows are billed; every other window is a
  ``window-not-agreed`` finding with the amount it leaves out.
* **Who bills whom.** A leaf's direction is as its party saw it. The Seller bills the traffic
  it terminated: sign +1 when (party is the Seller and the leaf is ``inbound``) or (party is
  the Buyer and the leaf is ``outbound``), else -1 (the Buyer terminated it and bills the
  Seller, netted in the same bill). So the Seller's and the Buyer's leaves give the same
  items: both views hash alike.
* **Within tolerance.** For a record agreed only within tolerance, the amount billed is the
  one the agreement's ``settlement.within_tolerance`` names (``seller``, ``buyer``, or the
  ``lower``), from the window's :attr:`StatementWindow.differing`.
* **Usage items.** One per (product, rate id, sign, currency, agreement version): quantity in
  the tariff's ``per`` unit, the tariff's rate as unit rate (the effective rate, amount over
  quantity, for a call split across time bands), the summed amount, every anchor summed.
* **Products.** A record's ``product_id``, else the agreement's
  ``settlement.usage_offerings`` product for its kind of usage (the product of that offering
  active in the period; the earliest activated, then the lowest id, if several). Usage that
  names no product the inventory knows and has no usage offering is still billed, under the
  placeholder product ``unlinked:<kind>`` of order ``agreement:<agreement id>`` item
  ``<kind>``, with an ``unlinked-usage`` finding: both parties agreed the usage, so leaving it
  out would shift money silently; the finding tells the Seller to order the product or name
  the offering.
* **Charges and tiers.** Recurring and one-off charges are
  :func:`streams.settle.charges.period_statement`'s lines; a tariff with volume tiers adds one
  adjustment item per (tariff, version, sign, currency) over the period's volume
  (:func:`streams.settle.tiers.tier_adjustment`), on the product of that tariff's first usage
  item.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from streams.agreement.model import Agreement, AgreementBook, Tariff
from streams.core.canonical import decimal_text
from streams.core.clock import to_ms
from streams.core.units import UNITS
from streams.ledger.batching import Leaf
from streams.rating.inventory import Inventory, Product
from streams.reconcile.alerts import Alert
from streams.settle.charges import (
    Charge,
    Finding,
    PeriodStatement,
    billing_period,
    period_statement,
)
from streams.settle.statement import AnchorRef, Statement, StatementItem, StatementParty
from streams.settle.tiers import tier_adjustment

__all__ = [
    "AGREED_STATES",
    "NO_DIRECTION",
    "QUANTITY_PLACES",
    "UNLINKED_USAGE",
    "WINDOW_NOT_AGREED",
    "Disagreement",
    "StatementWindow",
    "build_statements",
    "disagreements",
]

AGREED_STATES = ("agreed", "agreed-within-tolerance")
"""Window states whose usage is billed (:class:`streams.reconcile.status.WindowStatus`)."""

WINDOW_NOT_AGREED = "window-not-agreed"
"""Finding code: a window of the period not agreed (yet): its usage is not on this bill."""
UNLINKED_USAGE = "unlinked-usage"
"""Finding code: usage billed under a placeholder product (no Sonata product found)."""
NO_DIRECTION = "no-direction"
"""Finding code: a leaf stored without direction (before ``batch_leaves`` v4): not billed."""

QUANTITY_PLACES = 6
"""Decimal places a usage quantity in the tariff's unit is rounded to when the division by
the unit's size does not end (seconds to minutes); exact otherwise."""

_RATE_PLACES = 6
"""Extra decimal places (beyond the agreement's scale) of an effective unit rate."""


@dataclass(frozen=True, slots=True)
class Disagreement:
    """Both parties' values of one record agreed within tolerance (the usage key is the
    calling party's). Quantities are base-unit decimal text as in the leaf; None: the calling
    party's own."""

    seller_amount: Decimal
    buyer_amount: Decimal
    seller_quantity: str | None = None
    buyer_quantity: str | None = None


def disagreements(
    alerts: Iterable[Alert], seller_side: bool
) -> dict[tuple[int, int], dict[str, Disagreement]]:
    """The records reconciliation agreed within tolerance, per window ``(start_ms, end_ms)``
    and usage key, with both parties' amounts and quantities, from the ``within-tolerance``
    alerts of the calling party's reconciler (``seller_side``: the caller is the Seller, so
    its ``here`` values are the Seller's). Each alert's facts hold the quantities as
    ``"<base-unit quantity> <unit>"``; an alert without them gives amounts only."""
    found: dict[tuple[int, int], dict[str, Disagreement]] = {}
    for alert in alerts:
        if alert.kind != "within-tolerance" or not alert.record_keys:
            continue
        if alert.here_value is None or alert.partner_value is None:
            continue
        here, there = Decimal(alert.here_value), Decimal(alert.partner_value)
        quantities = [
            text.split(" ", 1)[0] if (text := alert.facts.get(f"{side}_quantity")) else None
            for side in ("here", "partner")
        ]
        mine, theirs = quantities
        if seller_side:
            agreed = Disagreement(here, there, mine, theirs)
        else:
            agreed = Disagreement(there, here, theirs, mine)
        window = (alert.window_start_ms, alert.window_end_ms)
        found.setdefault(window, {})[alert.record_keys[0]] = agreed
    return found


@dataclass(frozen=True, slots=True)
class StatementWindow:
    """What the caller knows of one window of the period."""

    window_start_ms: int
    window_end_ms: int
    state: str
    """A :class:`~streams.reconcile.status.WindowStatus` state; billed if in
    :data:`AGREED_STATES`."""
    anchors: tuple[AnchorRef, ...] = ()
    """The agreed anchors: the calling party's latest agreed revision and the partner's."""
    leaves: tuple[Leaf, ...] = ()
    """The calling party's own leaves of that revision (with direction, ``batch_leaves`` v4)."""
    differing: Mapping[str, Disagreement | tuple[Decimal, Decimal]] = field(default_factory=dict)
    """Usage key → both parties' values, for records agreed within tolerance;
    ``(seller amount, buyer amount)`` is short for a :class:`Disagreement` without quantities."""


def build_statements(
    agreement: AgreementBook | Agreement,
    party: str,
    period_at: datetime,
    windows: Iterable[StatementWindow],
    inventory: Inventory,
) -> list[Statement]:
    """The statements of the billing period containing ``period_at``, one per currency,
    sorted by currency (the agreement's currency always has one), as ``party`` (the Seller or
    the Buyer: both compute the same) sees them. See the module docstring.

    Raises ``ValueError`` for a party not in the agreement, a window outside the period, or a
    leaf whose rate id names no tariff of its agreement version.
    """
    book = agreement if isinstance(agreement, AgreementBook) else AgreementBook([agreement])
    first = book.versions[0]
    start, end = billing_period(first, period_at)
    terms = book.in_force(max(start, first.effective_from))
    start, end = billing_period(terms, period_at)
    if party not in terms.parties:
        raise ValueError(f"party: got {party!r}, want one of {terms.parties}")
    close = _Close(book, terms, party, start, end, inventory)
    for window in windows:
        close.window(window)
    close.charges(period_statement(inventory, terms, period_at))
    close.tiers()
    return close.statements()


_ProductRef = tuple[str, str, str, str]
"""``(product id, product name, order id, order item id)``."""


@dataclass
class _Group:
    """Usage items in the making: one per (product, rate id, sign, currency, version)."""

    tariff: Tariff
    product: _ProductRef
    base_quantity: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)
    records: int = 0
    tolerated: int = 0
    anchors: set[AnchorRef] = field(default_factory=set)


class _Close:
    """One period's close: accumulates items and findings per currency."""

    def __init__(
        self,
        book: AgreementBook,
        terms: Agreement,
        party: str,
        start: datetime,
        end: datetime,
        inventory: Inventory,
    ) -> None:
        self.book, self.terms, self.start, self.end = book, terms, start, end
        self.inventory = inventory
        self.is_seller = party == terms.seller.id
        self.rule = terms.settle.within_tolerance
        self.quantum = terms.rounding.quantum()
        self.groups: dict[tuple[str, str, int, str, str], _Group] = {}
        self.items: list[StatementItem] = []
        self.findings: dict[str, list[Finding]] = {}
        self.seen_findings: set[tuple[str, str, str]] = set()

    # --- usage ----------------------------------------------------------------------------

    def window(self, window: StatementWindow) -> None:
        if not to_ms(self.start) <= window.window_start_ms < to_ms(self.end):
            raise ValueError(
                f"window {window.window_start_ms}-{window.window_end_ms}: got a window "
                f"starting outside the period {self.start.isoformat()}..{self.end.isoformat()}"
            )
        if window.state not in AGREED_STATES:
            self._not_agreed(window)
            return
        for leaf in window.leaves:
            self._leaf(leaf, window)

    def _not_agreed(self, window: StatementWindow) -> None:
        amounts: dict[str, Decimal | None] = {}
        for leaf in window.leaves:
            sign = self._sign(leaf) or 1
            amounts[leaf.currency] = (amounts.get(leaf.currency) or Decimal(0)) + sign * leaf.amount
        span = f"{window.window_start_ms}-{window.window_end_ms}"
        for currency, amount in sorted(amounts.items()) or [(self.terms.currency, None)]:
            shown = "no usage of its own" if amount is None else f"{amount} {currency} of usage"
            self._finding(
                currency,
                Finding(
                    WINDOW_NOT_AGREED,
                    "",
                    f"window:{span}",
                    f"window {span} is {window.state}, not agreed: {shown} not on this bill; "
                    "it is billed once reconciliation agrees it (a later statement)",
                    amount,
                    currency,
                ),
            )

    def _sign(self, leaf: Leaf) -> int | None:
        """+1: the Seller terminated it (billed to the Buyer); -1: the Buyer did; None: the
        leaf has no direction."""
        if leaf.direction is None:
            return None
        inbound = leaf.direction == "inbound"
        return 1 if inbound == self.is_seller else -1

    def _leaf(self, leaf: Leaf, window: StatementWindow) -> None:
        sign = self._sign(leaf)
        if sign is None or leaf.unit is None or leaf.quantity is None or leaf.rate_id is None:
            self._finding(
                leaf.currency,
                Finding(
                    NO_DIRECTION,
                    leaf.product_id or "",
                    f"record:{leaf.usage_key}",
                    f"record {leaf.usage_key} was stored without its direction or fields "
                    "(a leaf store older than batch_leaves v4): not billed; re-anchor the "
                    "window to bill it",
                    leaf.amount,
                    leaf.currency,
                ),
            )
            return
        version = self.book.version(leaf.agreement_version)
        tariff = _tariff(version, leaf.rate_id)
        kind = UNITS[leaf.unit].product
        amount, quantity = leaf.amount, Decimal(leaf.quantity)
        differing = window.differing.get(leaf.usage_key)
        if differing is not None:
            amount, quantity = self._tolerated(differing, quantity)
        product = self._product(leaf.product_id, kind, leaf.currency)
        key = (product[0], leaf.rate_id, sign, leaf.currency, leaf.agreement_version)
        group = self.groups.setdefault(key, _Group(tariff, product))
        group.base_quantity += quantity
        group.amount += amount
        group.records += 1
        group.tolerated += differing is not None
        group.anchors.update(window.anchors)

    def _tolerated(
        self, value: Disagreement | tuple[Decimal, Decimal], own: Decimal
    ) -> tuple[Decimal, Decimal]:
        d = value if isinstance(value, Disagreement) else Disagreement(*value)
        seller = (d.seller_amount, Decimal(d.seller_quantity) if d.seller_quantity else None)
        buyer = (d.buyer_amount, Decimal(d.buyer_quantity) if d.buyer_quantity else None)
        if self.rule == "seller":
            chosen = seller
        elif self.rule == "buyer":
            chosen = buyer
        else:  # lower; the Seller's on a tie
            chosen = buyer if d.buyer_amount < d.seller_amount else seller
        amount, quantity = chosen
        return amount, own if quantity is None else quantity

    def _product(self, product_id: str | None, kind: str, currency: str) -> _ProductRef:
        """``(product id, product name, order id, order item id)`` of usage."""
        product = self.inventory.product(product_id) if product_id else None
        if product is None and product_id is None:
            product = self._usage_product(kind)
        if product is not None:
            return _ref(product, self.start)
        agreement_id = self.terms.id
        why = (
            f"names product {product_id!r}, which no Sonata order created"
            if product_id
            else "names no product and the agreement's settlement.usage_offerings gives "
            f"no {kind} product active in the period"
        )
        self._finding(
            currency,
            Finding(
                UNLINKED_USAGE,
                product_id or "",
                f"usage:{kind}",
                f"{kind} usage {why}: billed under the placeholder product unlinked:{kind}; "
                "order the product, or name its offering in settlement.usage_offerings",
            ),
        )
        return (
            f"unlinked:{kind}",
            f"{kind} usage without a Sonata product",
            f"agreement:{agreement_id}",
            kind,
        )

    def _usage_product(self, kind: str) -> Product | None:
        offering = self.terms.settle.usage_offerings.get(kind)
        if offering is None:
            return None
        found = []
        for product_id in self.inventory.product_ids():
            product = self.inventory.product(product_id)
            if product is None or product.active_from is None:
                continue
            until = product.active_until or self.end
            if product.active_from >= self.end or until <= self.start:
                continue
            if product.offering_at(max(self.start, product.active_from)) == offering:
                found.append((product.active_from, product_id, product))
        return min(found, key=lambda f: f[:2])[2] if found else None

    # --- charges and tiers -----------------------------------------------------------------

    def charges(self, period: PeriodStatement) -> None:
        for charge in period.charges:
            self._charge(charge)
        for finding in period.findings:
            self._finding(finding.currency or self.terms.currency, finding)

    def _charge(self, charge: Charge) -> None:
        product = self.inventory.product(charge.product_id)
        assert product is not None, "period_statement bills inventory products only"
        ref = _ref(product, self.start)
        self.items.append(
            StatementItem(
                id="",
                kind=charge.kind,
                description=f"{charge.kind} charge ({charge.source}): {charge.detail}",
                product_id=ref[0],
                product_name=ref[1],
                order_id=ref[2],
                order_item_id=ref[3],
                period_start=self.start,
                period_end=self.end,
                quantity=Decimal(1),
                unit="charge",
                unit_rate=charge.amount,
                amount=charge.amount,
                currency=charge.currency,
                sources=(charge.source,),
            )
        )

    def tiers(self) -> None:
        volumes: dict[tuple[str, str, int, str], tuple[Decimal, _Group, set[AnchorRef]]] = {}
        for (_, _, sign, currency, version), group in sorted(self.groups.items()):
            if group.tariff.tiers is None:
                continue
            key = (group.tariff.id, version, sign, currency)
            volume, first, anchors = volumes.get(key, (Decimal(0), group, set()))
            volumes[key] = (
                volume + group.base_quantity / group.tariff.per_size,
                first,
                anchors | group.anchors,
            )
        for (tariff_id, version, sign, currency), (volume, first, anchors) in volumes.items():
            with localcontext() as ctx:
                ctx.prec = 34
                adjustment = self._round(tier_adjustment(first.tariff, volume))
            if adjustment == 0:
                continue
            tiers = first.tariff.tiers
            assert tiers is not None
            self.items.append(
                StatementItem(
                    id="",
                    kind="usageBased",
                    description=f"{_TIER_STYLES[tiers.style]} volume tiers of {tariff_id} "
                    f"(agreement v{version}) over {_quantity(volume)} {first.tariff.per}: "
                    "adjustment to the base rate",
                    product_id=first.product[0],
                    product_name=first.product[1],
                    order_id=first.product[2],
                    order_item_id=first.product[3],
                    period_start=self.start,
                    period_end=self.end,
                    quantity=_quantity(volume),
                    unit=first.tariff.per,
                    unit_rate=_rate(abs(adjustment), volume, self.terms),
                    amount=sign * adjustment,
                    currency=currency,
                    sources=(f"tiers:{tariff_id}",),
                    anchors=tuple(sorted(anchors, key=lambda a: a.order)),
                    rate_id=tariff_id,
                    direction="inbound" if sign > 0 else "outbound",
                )
            )

    # --- assembly ----------------------------------------------------------------------------

    def _usage_items(self) -> list[StatementItem]:
        items = []
        for (_product, rate_id, sign, currency, version), g in self.groups.items():
            quantity = _quantity(g.base_quantity / g.tariff.per_size)
            amount = self._round(g.amount)
            bands = rate_id.partition("@")[2].split("+") if "@" in rate_id else []
            if len(bands) <= 1:
                unit_rate = g.tariff.rate_in(bands[0] if bands else "*")
            else:
                unit_rate = _rate(amount, quantity, self.terms)
            who = self.terms.seller.id if sign > 0 else self.terms.buyer.id
            note = "" if not g.tolerated else (
                f"; {g.tolerated} agreed within tolerance, billed at the {self.rule}'s amount"
            )  # fmt: skip
            items.append(
                StatementItem(
                    id="",
                    kind="usageBased",
                    description=f"{UNITS[g.tariff.per].product} usage terminated by {who}, "
                    f"{rate_id} (agreement v{version}): {g.records} record"
                    f"{'s' if g.records != 1 else ''}, {quantity} {g.tariff.per}{note}",
                    product_id=g.product[0],
                    product_name=g.product[1],
                    order_id=g.product[2],
                    order_item_id=g.product[3],
                    period_start=self.start,
                    period_end=self.end,
                    quantity=quantity,
                    unit=g.tariff.per,
                    unit_rate=unit_rate,
                    amount=sign * amount,
                    currency=currency,
                    sources=tuple(a.source for a in sorted(g.anchors, key=lambda a: a.order)),
                    anchors=tuple(sorted(g.anchors, key=lambda a: a.order)),
                    rate_id=rate_id,
                    direction="inbound" if sign > 0 else "outbound",
                    billed_by=self.rule if g.tolerated else "agreed",
                )
            )
        return items

    def statements(self) -> list[Statement]:
        items = self._usage_items() + self.items
        versions: dict[str, set[str]] = {}
        for _p, _r, _s, currency, version in self.groups:
            versions.setdefault(currency, set()).add(version)
        currencies = sorted({self.terms.currency, *(i.currency for i in items)})
        label = _period_label(self.terms, self.start)
        grace = timedelta(seconds=self.terms.settle.grace_seconds)
        bill_date = self.end + grace
        due = bill_date + timedelta(days=self.terms.settle.payment_days)
        seller, buyer = self.terms.seller, self.terms.buyer
        result = []
        for currency in currencies:
            statement_id = f"{self.terms.id}-{label}-{currency}"
            mine = sorted((i for i in items if i.currency == currency), key=_item_order)
            numbered = tuple(
                replace(item, id=f"{statement_id}-{n:04d}") for n, item in enumerate(mine, 1)
            )
            result.append(
                Statement(
                    id=statement_id,
                    bill_no=statement_id,
                    agreement_id=self.terms.id,
                    agreement_versions=tuple(
                        sorted(versions.get(currency, set()) | {self.terms.version})
                    ),
                    seller=self.terms.seller.id,
                    buyer=self.terms.buyer.id,
                    currency=currency,
                    period_start=self.start,
                    period_end=self.end,
                    bill_date=bill_date,
                    payment_due=due,
                    items=numbered,
                    findings=tuple(self.findings.get(currency, ())),
                    scale=self.terms.rounding.scale,
                    parties=(
                        StatementParty("seller", seller.id, seller.name, seller.billing_contact),
                        StatementParty("buyer", buyer.id, buyer.name, buyer.billing_contact),
                    ),
                    period_label=label,
                )
            )
        return result

    def _round(self, amount: Decimal) -> Decimal:
        return amount.quantize(self.quantum, rounding=self.terms.rounding.decimal_mode)

    def _finding(self, currency: str, finding: Finding) -> None:
        key = (currency, finding.code, finding.source)
        if key in self.seen_findings:
            return
        self.seen_findings.add(key)
        self.findings.setdefault(currency, []).append(finding)


def _tariff(version: Agreement, rate_id: str) -> Tariff:
    tariff_id = rate_id.partition("@")[0]
    for tariff in version.tariffs:
        if tariff.id == tariff_id:
            return tariff
    raise ValueError(
        f"rate id {rate_id!r}: no tariff {tariff_id!r} in agreement {version.id} v{version.version}"
    )


def _ref(product: Product, start: datetime) -> _ProductRef:
    """``(product id, product name, order id, order item id)`` of an inventory product; the
    name is the offering at the period's start (or activation), else the product id."""
    offering = product.offering_at(max(start, product.active_from or start))
    return (product.product_id, offering or product.product_id, product.order_id,
            product.order_item_id)  # fmt: skip


def _quantity(value: Decimal) -> Decimal:
    """Exact when it has at most :data:`QUANTITY_PLACES` decimals, else rounded half-even."""
    if value.as_tuple().exponent >= -QUANTITY_PLACES:  # type: ignore[operator]
        return value
    return value.quantize(Decimal(1).scaleb(-QUANTITY_PLACES))


def _rate(amount: Decimal, quantity: Decimal, terms: Agreement) -> Decimal:
    """The effective rate ``amount / quantity`` at the scale plus :data:`_RATE_PLACES`."""
    if quantity == 0:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 34
        rate = (amount / quantity).quantize(terms.rounding.quantum(_RATE_PLACES))
    return Decimal(decimal_text(rate))  # 0.0005, not 0.0005000000


def _period_label(terms: Agreement, start: datetime) -> str:
    local = start.astimezone(terms.timezone)
    return f"{local:%Y-%m}" if terms.billing_period == "month" else f"{local:%Y-%m-%d}"


_TIER_STYLES = {"graduated": "graduated", "volume": "all-units"}

_KIND_RANK = {"recurring": 0, "nonRecurring": 1, "usageBased": 2}


def _item_order(item: StatementItem) -> tuple[object, ...]:
    """Canonical item order: product, kind (recurring, one-off, usage), rate id, usage before
    its tier adjustment, Seller-terminated before Buyer-terminated, agreement versions (by
    description), then the sources."""
    is_tier = item.sources[:1] and item.sources[0].startswith("tiers:")
    return (
        item.product_id,
        _KIND_RANK[item.kind],
        item.rate_id or "",
        bool(is_tier),
        item.direction or "",
        item.description,
        item.sources,
    )
