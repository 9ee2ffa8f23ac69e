"""Loading agreements from YAML: every problem reported at once, with its path.

A file holds one version per YAML document (``---`` between versions); see
``examples/agreement.yaml`` for every term with comments. Numbers are read as exact decimals
(never binary floats), dates as dates. An invalid file raises :class:`AgreementError` listing
every problem, e.g. ``tariffs[2].rate: got 'abc', want a decimal >= 0``, because an agreement is
negotiated by people who fix a file in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from streams.agreement import (
    PER_UNITS,
    RECURRING_PERIODS,
    ROUNDING_MODES,
    ROUNDING_STAGES,
    Agreement,
    AgreementBook,
    Offering,
    Party,
    Rounding,
    Tariff,
    Tier,
    Tiers,
    Tolerances,
)
from streams.errors import AgreementError
from streams.timebands import Band, BandCalendar, check_bands
from streams.validation import PRODUCT_UNITS

__all__ = ["load_agreement", "load_book", "loads_book", "parse_agreement", "parse_book"]

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PREFIX = re.compile(r"^[0-9]{0,15}$")
_HOURS = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$")
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday")
_DAY_GROUPS = {"weekdays": ("mon", "tue", "wed", "thu", "fri"), "weekend": ("sat", "sun")}


class _Reader:
    """Collects every problem while reading a nested mapping, each tagged with its path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, got: Any, want: str) -> None:
        self.problems.append(f"{path.removeprefix('$.')}: got {got!r}, want {want}")

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
        if number is None or not number.is_finite() or number < 0 or isinstance(value, bool):
            self.fail(f"{path}.{key}", value, "a decimal >= 0")
            return Decimal(0)
        return number

    def optional_decimal(self, node: Mapping[str, Any], key: str, path: str) -> Decimal | None:
        return None if node.get(key) is None else self.decimal(node, key, path)

    def integer(
        self, node: Mapping[str, Any], key: str, path: str, minimum: int, default: int
    ) -> int:
        value = node.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.fail(f"{path}.{key}", value, f"an integer >= {minimum}")
            return minimum
        return value

    def choice(
        self, node: Mapping[str, Any], key: str, path: str, allowed: tuple[str, ...], default: str
    ) -> str:
        value = node.get(key, default)
        if value not in allowed:
            self.fail(f"{path}.{key}", value, f"one of {list(allowed)}")
            return default
        return str(value)

    def items(self, node: Mapping[str, Any], key: str, path: str, required: bool) -> list[Any]:
        value = node.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list) or (required and not value):
            self.fail(f"{path}.{key}", value, "a non-empty list" if required else "a list")
            return []
        return value


def _bands(r: _Reader, node: Any) -> tuple[Band, ...]:
    if node is None:
        return ()
    bands: list[Band] = []
    for band_id, spec in r.mapping(node, "bands").items():
        path = f"bands.{band_id}"
        body = r.mapping(spec, path)
        days: set[str] = set()
        for day in r.items(body, "days", path, required=True):
            if day in _DAY_GROUPS:
                days.update(_DAY_GROUPS[day])
            elif day in _DAY_NAMES:
                days.add(day)
            else:
                r.fail(f"{path}.days", day, f"one of {[*_DAY_NAMES, *_DAY_GROUPS]}")
        for hours in r.items(body, "hours", path, required=True):
            match = _HOURS.match(str(hours))
            if match is None or (match[3] == "24" and match[4] != "00"):
                r.fail(f"{path}.hours", hours, "'HH:MM-HH:MM' local time, e.g. '08:00-19:00'")
                continue
            start = time(int(match[1]), int(match[2]))
            end = time(0) if match[3] == "24" else time(int(match[3]), int(match[4]))
            bands.append(Band(str(band_id), frozenset(days), start, end))
    for problem in check_bands(bands):
        r.problems.append(f"bands: {problem}")
    return tuple(bands)


def _tiers(r: _Reader, node: Any, path: str) -> Tiers | None:
    if node is None:
        return None
    body = r.mapping(node, path)
    style = r.choice(body, "style", path, ("graduated", "volume"), "graduated")
    steps: list[Tier] = []
    raw_steps = r.items(body, "steps", path, required=True)
    for i, raw in enumerate(raw_steps):
        step_path = f"{path}.steps[{i}]"
        step = r.mapping(raw, step_path)
        last = i == len(raw_steps) - 1
        up_to = r.optional_decimal(step, "up_to", step_path)
        if (up_to is None) != last:
            want = "no up_to on the last step" if last else "an up_to on every step but the last"
            r.fail(f"{step_path}.up_to", step.get("up_to"), want)
        if up_to is not None and steps and steps[-1].up_to is not None and up_to <= steps[-1].up_to:
            r.fail(f"{step_path}.up_to", step.get("up_to"), f"more than {steps[-1].up_to}")
        steps.append(Tier(up_to, r.decimal(step, "rate", step_path)))
    return Tiers(style, tuple(steps))


def _rates(r: _Reader, t: Mapping[str, Any], path: str, band_ids: set[str]) -> dict[str, Decimal]:
    if ("rate" in t) == ("rates" in t):
        r.fail(path, sorted(t), "exactly one of 'rate' (one price) or 'rates' (per time band)")
        return {"*": Decimal(0)}
    if "rate" in t:
        return {"*": r.decimal(t, "rate", path)}
    rates = r.mapping(t["rates"], f"{path}.rates")
    if set(rates) != band_ids:
        r.fail(f"{path}.rates", sorted(rates), f"a rate for each time band {sorted(band_ids)}")
    return {str(band): r.decimal(rates, band, f"{path}.rates") for band in rates}


def _tariff(r: _Reader, node: Any, path: str, band_ids: set[str]) -> Tariff:
    t = r.mapping(node, path)
    product = r.choice(t, "product", path, tuple(PRODUCT_UNITS), "voice")
    per = r.choice(t, "per", path, tuple(PER_UNITS), "second")
    per_product, per_size = PER_UNITS[per]
    if per_product != product:
        r.fail(f"{path}.per", per, f"a unit of {product}, not of {per_product}")
    prefixes = r.items(t, "prefixes", path, required=False) or [""]
    for i, prefix in enumerate(prefixes):
        if not isinstance(prefix, str) or not _PREFIX.match(prefix):
            r.fail(f"{path}.prefixes[{i}]", prefix, "a quoted string of 0 to 15 digits")
    increment = t.get("increment", [1, 1])
    if not (
        isinstance(increment, list)
        and len(increment) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in increment)
    ):
        r.fail(f"{path}.increment", increment, "[first, next], two integers >= 1, e.g. [60, 60]")
        increment = [1, 1]
    rates = _rates(r, t, path, band_ids)
    tiers = _tiers(r, t.get("tiers"), f"{path}.tiers")
    if tiers is not None and "*" not in rates:
        r.fail(f"{path}.tiers", "tiers with rates per band", "tiers on a single-rate tariff only")
    return Tariff(
        id=r.text(t, "id", path),
        product=product,
        prefixes=tuple(str(p) for p in prefixes),
        per=per,
        per_size=per_size,
        rates=rates,
        connect_fee=r.decimal(t, "connect_fee", path, "0"),
        first_increment=increment[0],
        next_increment=increment[1],
        minimum_charge=r.decimal(t, "minimum_charge", path, "0"),
        tiers=tiers,
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
                r.fail(f"tariffs[{i}].prefixes", prefix, f"a prefix not priced by {other!r}")


def _offering(r: _Reader, node: Any, path: str) -> Offering:
    o = r.mapping(node, path)
    recurring = r.mapping(o.get("recurring") or {}, f"{path}.recurring")
    non_recurring = r.mapping(o.get("non_recurring") or {}, f"{path}.non_recurring")
    price = r.optional_decimal(recurring, "price", f"{path}.recurring")
    period = None
    if price is not None:
        period = r.choice(recurring, "period", f"{path}.recurring", RECURRING_PERIODS, "month")
    return Offering(
        id=r.text(o, "id", path),
        recurring_price=price,
        recurring_period=period,
        non_recurring_price=r.optional_decimal(non_recurring, "price", f"{path}.non_recurring"),
    )


def _depth(r: _Reader, window: Mapping[str, Any]) -> int:
    depth = r.integer(window, "digest_depth", "window", 0, 8)
    if depth > 16:
        r.fail("window.digest_depth", depth, "at most 16 (65,536 buckets)")
    return depth


def _moment(r: _Reader, doc: Mapping[str, Any], key: str) -> datetime:
    value = doc.get(key)
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment.astimezone(UTC)
    except ValueError:
        r.fail(key, value, "an ISO-8601 time with offset, e.g. 2026-01-01T00:00:00Z")
        return datetime(1970, 1, 1, tzinfo=UTC)


def _zone(r: _Reader, doc: Mapping[str, Any]) -> ZoneInfo:
    name = r.text(doc, "timezone", "$")
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("timezone", name, "an IANA time zone such as 'Europe/Berlin'")
        return ZoneInfo("UTC")


def _holidays(r: _Reader, doc: Mapping[str, Any]) -> tuple[date, ...]:
    days = []
    for i, day in enumerate(r.items(doc, "holidays", "$", required=False)):
        if isinstance(day, date) and not isinstance(day, datetime):
            days.append(day)
        else:
            r.fail(f"holidays[{i}]", day, "a date, e.g. 2026-12-25")
    return tuple(sorted(set(days)))


def parse_agreement(document: Any, source: str = "<agreement>") -> Agreement:
    """Validate one parsed YAML document (one version) into an :class:`Agreement`.

    Raises :class:`AgreementError` listing every problem with its path.
    """
    r = _Reader()
    doc = r.mapping(document, "$")
    parties = r.mapping(doc.get("parties"), "parties")
    seller, buyer = (r.mapping(parties.get(k), f"parties.{k}") for k in ("seller", "buyer"))
    currency = r.text(doc, "currency", "$")
    if currency and not _CURRENCY.match(currency):
        r.fail("currency", currency, "an ISO 4217 code such as 'EUR'")
    window = r.mapping(doc.get("window", {}), "window")
    rounding = r.mapping(doc.get("rounding", {}), "rounding")
    tolerances = r.mapping(doc.get("tolerances", {}), "tolerances")
    bands = _bands(r, doc.get("bands"))
    band_ids = {band.id for band in bands}
    tariff_nodes = r.items(doc, "tariffs", "$", required=True)
    tariffs = [_tariff(r, node, f"tariffs[{i}]", band_ids) for i, node in enumerate(tariff_nodes)]
    _check_unique_routes(r, tariffs)
    offering_nodes = r.items(doc, "offerings", "$", required=False)
    offerings = [_offering(r, node, f"offerings[{i}]") for i, node in enumerate(offering_nodes)]
    agreement = Agreement(
        id=r.text(doc, "id", "$"),
        version=r.text(doc, "version", "$"),
        effective_from=_moment(r, doc, "effective_from"),
        seller=Party(r.text(seller, "id", "parties.seller"), str(seller.get("name", ""))),
        buyer=Party(r.text(buyer, "id", "parties.buyer"), str(buyer.get("name", ""))),
        currency=currency,
        timezone=_zone(r, doc),
        billing_period=r.choice(doc, "billing_period", "$", ("day", "week", "month"), "month"),
        window_seconds=r.integer(window, "size", "window", 60, 3600),
        grace_seconds=r.integer(window, "grace", "window", 0, 600),
        digest_depth=_depth(r, window),
        rounding=Rounding(
            mode=r.choice(rounding, "mode", "rounding", tuple(ROUNDING_MODES), "half_up"),
            scale=r.integer(rounding, "scale", "rounding", 0, 4),
            stage=r.choice(rounding, "stage", "rounding", ROUNDING_STAGES, "record"),
        ),
        holidays=_holidays(r, doc),
        bands=bands,
        tariffs=tuple(tariffs),
        offerings=tuple(offerings),
        tolerances=Tolerances(
            duration_seconds=r.decimal(tolerances, "duration_seconds", "tolerances", "1"),
            amount=r.decimal(tolerances, "amount", "tolerances", "0.0001"),
            dispute_days=r.integer(tolerances, "dispute_days", "tolerances", 0, 30),
        ),
    )
    if bands and not r.problems:
        try:  # what only a whole calendar can check: holidays given iff a band prices them
            BandCalendar(agreement.timezone, bands, agreement.holidays, source=source)
        except AgreementError as exc:
            r.problems.extend(f"bands: {p}" for p in exc.problems)
    if r.problems:
        raise AgreementError(source, r.problems)
    return agreement


def parse_book(documents: list[Any], source: str = "<agreement>") -> AgreementBook:
    """Every document one version; problems of all versions are reported together."""
    versions: list[Agreement] = []
    problems: list[str] = []
    for index, document in enumerate(documents):
        try:
            versions.append(parse_agreement(document, source))
        except AgreementError as exc:
            prefix = f"document {index + 1}: " if len(documents) > 1 else ""
            problems.extend(prefix + p for p in exc.problems)
    if problems:
        raise AgreementError(source, problems)
    return AgreementBook(versions, source)


class _DecimalLoader(yaml.SafeLoader):
    """A safe YAML loader that reads every float literal as an exact :class:`Decimal`.

    ``rate: 0.015`` must never pass through a binary float on its way to an invoice.
    """


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(str(loader.construct_scalar(node)).replace("_", ""))


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def loads_book(text: str, source: str = "<agreement>") -> AgreementBook:
    """Validate every version in agreement YAML ``text``."""
    try:
        documents = [d for d in yaml.load_all(text, Loader=_DecimalLoader) if d is not None]
    except yaml.YAMLError as exc:
        raise AgreementError(source, [f"not valid YAML: {exc}"]) from exc
    if not documents:
        raise AgreementError(source, ["the file holds no agreement"])
    return parse_book(documents, source)


def load_book(path: Path | str) -> AgreementBook:
    """Read and validate every version in an agreement YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AgreementError(str(path), [f"cannot read file: {exc.strerror}"]) from exc
    return loads_book(text, str(path))


def load_agreement(path: Path | str) -> Agreement:
    """The latest version in an agreement YAML file (see :func:`load_book` for all)."""
    return load_book(path).latest
