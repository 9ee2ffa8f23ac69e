"""The Smart Bilateral: the agreement both partners sign, as frozen values.

One :class:`Agreement` is one *version* of a bilateral; an :class:`AgreementBook` holds every
version and answers which one was in force at an event time, so each rated record names the
version it was rated under. Loading and validation live in :mod:`streams.agreement.loader`.

:meth:`Agreement.canonical_hash` gives both sides the same bytes to sign. It is computed over
the normalised values, walked generically from the dataclasses below (so a new term can never
be left out of the hash): formatting, key order and trailing zeros do not change it, every
priced term does.
"""

from __future__ import annotations

import dataclasses
import hashlib
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
)
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from streams.agreement.timebands import Band
from streams.core.canonical import canonical_json, decimal_text, tagged
from streams.core.errors import AgreementError, RatingError
from streams.core.keys import PublicKey, key_id_of

__all__ = [
    "CORRELATIONS",
    "DEFAULT_RECONCILIATION",
    "DEFAULT_SETTLEMENT",
    "ROUNDING_MODES",
    "ROUNDING_STAGES",
    "WITHIN_TOLERANCE_RULES",
    "Agreement",
    "AgreementBook",
    "Contact",
    "Offering",
    "Party",
    "PartyKey",
    "Reconciliation",
    "Rounding",
    "Settlement",
    "Tariff",
    "Tier",
    "Tiers",
    "Tolerances",
]

ROUNDING_MODES: Mapping[str, str] = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "up": ROUND_UP,
    "down": ROUND_DOWN,
    "ceiling": ROUND_CEILING,
    "floor": ROUND_FLOOR,
}
"""Agreement rounding names → :mod:`decimal` rounding modes."""

ROUNDING_STAGES = ("record", "segment", "statement")
"""Where amounts are rounded to the agreement's scale:

* ``record``: each rated record's amount (the usual wholesale rule);
* ``segment``: each time-band segment of a record, then the record is their sum;
* ``statement``: records keep :data:`STATEMENT_EXTRA_DIGITS` more decimals; only statement
  totals are rounded to the scale.
"""

STATEMENT_EXTRA_DIGITS = 6

RECURRING_PERIODS = ("hour", "day", "week", "month", "year")
"""MEF ``MEFChargePeriod`` values a recurring price may be stated per."""


@dataclass(frozen=True, slots=True)
class PartyKey:
    """One Ed25519 public key a party signs its ledger and the agreement with, and the time
    during which it may: from ``valid_from`` (inclusive) until ``valid_until`` (exclusive;
    ``None``: no end).

    In a version's canonical content (:meth:`Agreement.canonical`) a key is
    ``{"public_key": <64 lowercase hex>, "valid_from": <isoformat>, "valid_until": <isoformat>
    | null}``, times in UTC as :meth:`datetime.isoformat` writes them
    (``2026-01-01T00:00:00+00:00``). Windows of one party may overlap: which key signs at a
    point of a chain is the chain's to say (genesis, then ``key-rotation`` entries,
    :mod:`streams.ledger.check`); the agreement says which keys may.
    """

    public_key: str
    """The raw 32-byte key as 64 lowercase hex digits (``bilat keys show`` prints it)."""
    valid_from: datetime
    valid_until: datetime | None = None

    @property
    def key_id(self) -> str:
        """:func:`streams.core.keys.key_id_of` of the raw key, e.g. ``ed25519:34750f98bd59fcfc``."""
        return key_id_of(bytes.fromhex(self.public_key))

    @property
    def public(self) -> PublicKey:
        return PublicKey(bytes.fromhex(self.public_key))

    def valid_at(self, at: datetime) -> bool:
        """Whether the key may sign at ``at``: ``valid_from <= at < valid_until``."""
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)

    def window(self) -> str:
        """``valid from 2026-01-01T00:00:00+00:00[ until …]``, for messages."""
        until = "" if self.valid_until is None else f" until {self.valid_until.isoformat()}"
        return f"valid from {self.valid_from.isoformat()}{until}"


@dataclass(frozen=True, slots=True)
class Contact:
    """Who handles a party's bills (MEF 141 ``RelatedContactInformation``)."""

    name: str
    email: str
    phone: str
    """E.164 with the ``+`` and digits only, e.g. ``+85221234567``."""


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    name: str
    keys: tuple[PartyKey, ...] = ()
    """The party's Ed25519 keys, sorted by ``valid_from`` then key (the order written carries
    no meaning). The loader requires at least one; they are part of what both parties sign,
    so the agreement pins every key that may sign for the party."""
    billing_contact: Contact | None = field(default=None, metadata={"omit_if_none": True})
    """The optional ``billing_contact`` (named on statements); left out of the canonical
    content when None, so agreements without it keep their hash."""


@dataclass(frozen=True, slots=True)
class Tier:
    """One step of a volume tier: ``rate`` applies up to ``up_to`` units of the tariff's
    ``per`` (``None``: no upper bound; only the last step)."""

    up_to: Decimal | None
    rate: Decimal


@dataclass(frozen=True, slots=True)
class Tiers:
    """Volume tiers over one billing period.

    ``graduated``: each step's rate applies to the volume inside that step;
    ``volume`` (all-units): the step the period's total volume reaches prices *all* of it.
    Records are rated at the tariff's base rate; the tier difference is a period-level
    adjustment (:mod:`streams.settle.tiers`), so per-record amounts never depend on record order.
    """

    style: str
    steps: tuple[Tier, ...]


@dataclass(frozen=True, slots=True)
class Tariff:
    """One price line: usage of ``product`` to a destination matching one of ``prefixes``."""

    id: str
    product: str
    prefixes: tuple[str, ...]
    """Destination prefixes of the B number; ``""`` matches everything (longest match wins)."""
    per: str
    """The unit the rates are per, one of :data:`streams.core.units.TARIFF_UNITS`."""
    per_size: int
    """Size of ``per`` in the product's base unit (seconds, messages, bytes)."""
    rates: Mapping[str, Decimal]
    """Price per ``per`` by time-band id; the single key ``"*"`` means one rate at all times."""
    connect_fee: Decimal
    """Charged once per record with a billed quantity above zero."""
    first_increment: int
    next_increment: int
    """Rating increments in the base unit, e.g. 60/60, 30/6, 1/1 for voice seconds."""
    minimum_charge: Decimal
    tiers: Tiers | None = None
    currency: str | None = field(default=None, metadata={"omit_if_none": True})
    """ISO 4217 code the rates, fees and tiers are in; None (the usual case): the agreement's
    currency (:meth:`Agreement.currency_of`). Left out of the canonical content when None, so
    agreements without it keep their hash. One agreement may so rate usage in two currencies;
    each currency is then billed on its own statement (:mod:`streams.settle.statement`)."""

    @property
    def banded(self) -> bool:
        return "*" not in self.rates

    def rate_in(self, band: str) -> Decimal:
        """The rate in ``band`` (the flat rate for an unbanded tariff)."""
        return self.rates["*"] if "*" in self.rates else self.rates[band]


@dataclass(frozen=True, slots=True)
class Rounding:
    mode: str
    """A key of :data:`ROUNDING_MODES`."""
    scale: int
    """Decimal places of amounts at the rounding stage."""
    stage: str
    """One of :data:`ROUNDING_STAGES`."""

    @property
    def decimal_mode(self) -> str:
        return ROUNDING_MODES[self.mode]

    def quantum(self, extra: int = 0) -> Decimal:
        return Decimal(1).scaleb(-(self.scale + extra))


@dataclass(frozen=True, slots=True)
class Offering:
    """Prices of a Sonata product offering (MEF ``productOffering.id``)."""

    id: str
    recurring_price: Decimal | None
    recurring_period: str | None
    """One of :data:`RECURRING_PERIODS` when ``recurring_price`` is set."""
    non_recurring_price: Decimal | None


@dataclass(frozen=True, slots=True)
class Tolerances:
    """How far the partners' values may differ before reconciliation calls it a mismatch."""

    duration_seconds: Decimal
    amount: Decimal
    dispute_days: int
    """Days after a statement during which a record may still be disputed."""


CORRELATIONS = ("usage-key", "numbers")
"""How the two parties' records of one usage are paired (see :class:`Reconciliation`)."""


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """How reconciliation pairs records and when it stops waiting (the optional
    ``reconciliation:`` section; :data:`DEFAULT_RECONCILIATION` when absent).

    * ``correlation``: ``usage-key`` — both mediations report one key per usage (an IMS
      charging id, the trunk's call reference), records pair by it; ``numbers`` — no shared
      key: records pair by normalised A and B numbers with starts at most
      ``start_tolerance_seconds`` apart.
    * ``edge_seconds``: a record starting this close to a window edge gets a cross-window pass
      (the partner may have put it in the adjacent window) before it is called missing.
    * ``anchor_deadline``: seconds of event time after a window's end by which the partner's
      chain must have anchored it: once the partner has anchored a window starting that much
      later and still not this one, the window is reported ``not-anchored``. Measured on the
      partner's own chain, not the wall clock, so a mirror outage only delays.
    """

    correlation: str = "usage-key"
    start_tolerance_seconds: int = 2
    edge_seconds: int = 5
    anchor_deadline: int = 3600


DEFAULT_RECONCILIATION = Reconciliation()

WITHIN_TOLERANCE_RULES = ("seller", "buyer", "lower")
"""Whose amount a statement bills for a record the parties agreed within tolerance."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """How a billing period becomes a statement (the optional ``settlement:`` section;
    :data:`DEFAULT_SETTLEMENT` when absent).

    * ``grace_seconds``: the statement's bill date is the period's end plus this (the Seller's
      agent closes the period then, when late windows have been anchored and reconciled). It
      is a term, not a wall-clock reading, so both parties compute the same bill date and so
      the same statement hash.
    * ``payment_days``: the payment due date is the bill date plus this many days.
    * ``within_tolerance``: for a record the parties agreed only within tolerance, whose
      amount is billed: ``seller``, ``buyer`` or ``lower`` (the smaller of the two).
    * ``usage_offerings``: product (``voice``, ``sms``, ``data``) → the Sonata product offering
      whose product carries usage records that name no ``product_id`` (the product of that
      offering active in the period). Such an offering needs no price: usage prices it.
    """

    grace_seconds: int = 86_400
    payment_days: int = 30
    within_tolerance: str = "seller"
    usage_offerings: Mapping[str, str] = field(default_factory=dict)


DEFAULT_SETTLEMENT = Settlement()


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
    digest_depth: int
    """Bucket depth d of each window's batch tree: 2^d buckets for reconciliation drill-down."""
    rounding: Rounding
    holidays: tuple[date, ...]
    bands: tuple[Band, ...]
    """Time bands in ``timezone``; empty when every tariff has a single rate."""
    tariffs: tuple[Tariff, ...]
    offerings: tuple[Offering, ...]
    tolerances: Tolerances
    reconciliation: Reconciliation | None = field(default=None, metadata={"omit_if_none": True})
    """The ``reconciliation:`` section, None when the file has none (then
    :attr:`recon` gives the defaults). Left out of :meth:`canonical` when None, so an agreement
    written before the section existed keeps its hash and its signatures."""
    settlement: Settlement | None = field(default=None, metadata={"omit_if_none": True})
    """The ``settlement:`` section, None when the file has none (then :attr:`settle` gives the
    defaults); left out of :meth:`canonical` when None, like ``reconciliation``."""

    @property
    def recon(self) -> Reconciliation:
        """The reconciliation terms in force: the section's, or the defaults."""
        return self.reconciliation or DEFAULT_RECONCILIATION

    @property
    def settle(self) -> Settlement:
        """The settlement terms in force: the section's, or the defaults."""
        return self.settlement or DEFAULT_SETTLEMENT

    def currency_of(self, tariff: Tariff) -> str:
        """The currency ``tariff`` rates in: its own, else the agreement's."""
        return tariff.currency or self.currency

    @property
    def currencies(self) -> tuple[str, ...]:
        """Every currency this version rates or prices in, sorted (the agreement's at least)."""
        return tuple(sorted({self.currency, *(t.currency for t in self.tariffs if t.currency)}))

    @property
    def parties(self) -> tuple[str, str]:
        return (self.seller.id, self.buyer.id)

    def offering(self, offering_id: str) -> Offering | None:
        return next((o for o in self.offerings if o.id == offering_id), None)

    def canonical(self) -> dict[str, Any]:
        """The normalised content both parties sign (JSON-ready, decimals as strings)."""
        result = _canonical(self)
        assert isinstance(result, dict)
        return result

    def canonical_hash(self) -> bytes:
        """SHA-256 of ``tagged("agreement.v1", canonical_json(canonical()))``
        (:mod:`streams.core.canonical`): the bytes both parties sign, through the book hash."""
        return hashlib.sha256(tagged("agreement.v1", canonical_json(self.canonical()))).digest()


def _canonical(value: Any) -> Any:
    """A JSON-ready, order-independent form of agreement values (the input to the hash)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.metadata.get("omit_if_none") and getattr(value, f.name) is None)
        }
    if isinstance(value, Decimal):
        return decimal_text(value)  # "0.0150" and "0.015" are one price
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, ZoneInfo):
        return value.key
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, frozenset | set):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, tuple | list):
        items = [_canonical(v) for v in value]
        # Lists whose order carries no meaning are sorted; tier steps keep their order.
        if items and all(isinstance(i, dict) and "id" in i for i in items):
            return sorted(items, key=lambda i: str(i["id"]))
        return items
    return value


class AgreementBook:
    """Every version of one agreement, ordered by ``effective_from``.

    A version is in force from its ``effective_from`` until the next version's. All versions
    must share the agreement id and the parties (a new partner is a new agreement).
    """

    __slots__ = ("_starts", "versions")

    def __init__(self, versions: Sequence[Agreement], source: str = "<agreement>") -> None:
        if not versions:
            raise AgreementError(source, ["no agreement version given"])
        ordered = sorted(versions, key=lambda v: v.effective_from)
        first = ordered[0]
        problems = []
        seen: set[str] = set()
        for v in ordered:
            if (v.id, v.parties) != (first.id, first.parties):
                problems.append(
                    f"version {v.version}: got agreement {v.id} {v.parties}, "
                    f"want {first.id} {first.parties} as in version {first.version}"
                )
            if v.version in seen:
                problems.append(f"version {v.version}: given twice")
            seen.add(v.version)
        problems += _key_problems(ordered)
        for a, b in pairwise(ordered):
            if a.effective_from == b.effective_from:
                problems.append(
                    f"versions {a.version} and {b.version}: both effective from "
                    f"{a.effective_from.isoformat()}"
                )
        if problems:
            raise AgreementError(source, problems)
        self.versions: tuple[Agreement, ...] = tuple(ordered)
        self._starts = [v.effective_from for v in ordered]

    @property
    def id(self) -> str:
        return self.versions[0].id

    @property
    def latest(self) -> Agreement:
        return self.versions[-1]

    def version(self, version: str) -> Agreement:
        """The version named ``version``; raises :class:`RatingError` ``unknown-version``."""
        for v in self.versions:
            if v.version == version:
                return v
        known = [v.version for v in self.versions]
        raise RatingError("unknown-version", f"{self.id}: no version {version!r}; have {known}")

    def party_keys(self, party: str) -> tuple[PartyKey, ...]:
        """Every key any version lists for ``party`` (by id), once each, in ``valid_from``
        order: the keys that may sign for it (:mod:`streams.agreement.trust`). ``()`` for a
        stranger."""
        found: dict[str, PartyKey] = {}
        for v in self.versions:
            for p in (v.seller, v.buyer):
                if p.id == party:
                    found.update((k.public_key, k) for k in p.keys)
        return tuple(sorted(found.values(), key=lambda k: (k.valid_from, k.public_key)))

    def in_force(self, at: datetime) -> Agreement:
        """The version in force at event time ``at``; ``no-agreement-version`` before the first."""
        index = bisect_right(self._starts, at) - 1
        if index < 0:
            raise RatingError(
                "no-agreement-version",
                f"{self.id}: usage at {at.isoformat()} precedes the first version "
                f"(effective {self._starts[0].isoformat()})",
            )
        return self.versions[index]


def _key_problems(versions: Sequence[Agreement]) -> list[str]:
    """A key listed for two parties, or for one party with two validity windows, across
    ``versions``: either would make it ambiguous whose key signed, or when it may."""
    problems: list[str] = []
    first: dict[str, tuple[str, PartyKey, str]] = {}
    for v in versions:
        for role, party in (("seller", v.seller), ("buyer", v.buyer)):
            for key in party.keys:
                owner, listed, where = first.setdefault(key.public_key, (party.id, key, v.version))
                if owner != party.id:
                    problems.append(
                        f"version {v.version}: parties.{role}: key {key.key_id} got as "
                        f"{party.id}'s, but version {where} lists it as {owner}'s: want one "
                        "party per key"
                    )
                elif (listed.valid_from, listed.valid_until) != (key.valid_from, key.valid_until):
                    problems.append(
                        f"version {v.version}: parties.{role}: key {key.key_id} got "
                        f"{key.window()}, but version {where} lists it {listed.window()}: "
                        "want one validity per key in every version"
                    )
    return problems
