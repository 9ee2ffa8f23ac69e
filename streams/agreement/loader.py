"""Loading agreements from YAML: bounded, strict, and every problem reported at once with its path.

A file holds one version per YAML document (``---`` between versions); see
``examples/agreement.yaml`` for every term with comments. An invalid file raises
:class:`AgreementError` listing every problem, e.g. ``tariffs[2].rate: got 'abc', want a plain
decimal >= 0 ...``, because an agreement is negotiated by people who fix a file in one pass.

Reading is bounded and literal, because the file is written by the other party, and is done in
three steps, one module each:

* **Bounded.** A file over :data:`MAX_AGREEMENT_BYTES` is refused before it is parsed.
* **Nothing implicit.** :mod:`streams.agreement.yaml_reader` reads YAML parser events into plain
  dicts, lists and strings, refusing anchors, aliases, tags and duplicate keys and stopping at
  :data:`MAX_DEPTH`, :data:`MAX_VERSIONS` documents or :data:`MAX_PROBLEMS` problems.
* **Explicit rules per term.** :mod:`streams.agreement.terms` reads each term's text by its own
  rule (plain decimals, whole numbers, ids, ISO 4217 currencies, IANA time zones) and refuses
  unknown keys; this module builds the model from those terms and checks what spans terms:
  the two parties differ, tariffs price each prefix once, bands cover their days.
* **Keys.** Each party lists at least one Ed25519 public key (``keys: [{public_key: <64
  lowercase hex>, valid_from: <time>, valid_until: <time, optional>}]``), never the same key
  twice nor a key of the other party, nor a key of small order
  (:func:`streams.core.keys.is_small_order`: no one holds its private key, yet it verifies forged
  signatures); see :class:`~streams.agreement.model.PartyKey`. They are part of each version's
  canonical content, so both parties' signatures pin them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from streams.agreement.model import (
    CORRELATIONS,
    DEFAULT_RECONCILIATION,
    DEFAULT_SETTLEMENT,
    RECURRING_PERIODS,
    ROUNDING_MODES,
    ROUNDING_STAGES,
    WITHIN_TOLERANCE_RULES,
    Agreement,
    AgreementBook,
    Contact,
    Offering,
    Party,
    PartyKey,
    Reconciliation,
    Rounding,
    Settlement,
    Tariff,
    Tier,
    Tiers,
    Tolerances,
)
from streams.agreement.terms import (
    MAX_COUNT_DIGITS,
    MAX_FRACTION_DIGITS,
    MAX_INTEGER_DIGITS,
    TermReader,
    read_currency,
    read_holidays,
    read_moment,
    read_zone,
)
from streams.agreement.timebands import Band, BandCalendar, check_bands
from streams.agreement.yaml_reader import (
    MAX_DEPTH,
    MAX_PROBLEMS,
    MAX_VERSIONS,
    YamlReader,
    child,
    where,
)
from streams.core.errors import AgreementError
from streams.core.keys import SMALL_ORDER_PROBLEM, is_small_order
from streams.core.units import PRODUCTS, TARIFF_UNITS

__all__ = [
    "MAX_AGREEMENT_BYTES",
    "MAX_BAND_SPANS",
    "MAX_COUNT_DIGITS",
    "MAX_DEPTH",
    "MAX_FRACTION_DIGITS",
    "MAX_INTEGER_DIGITS",
    "MAX_PROBLEMS",
    "MAX_VERSIONS",
    "load_agreement",
    "load_book",
    "loads_book",
    "parse_agreement",
    "parse_book",
]

MAX_AGREEMENT_BYTES = 1 << 20
"""Largest agreement file read, in bytes (1 MiB), checked before any parsing. The example is
7 KiB; 8,000 tariffs or 100,000 prefixes fit. It bounds the time and memory of reading: at
most about 0.7 s and 20 MB here with libyaml (PyYAML's default when installed, as in its
wheels), about 6 s with PyYAML's pure-Python parser."""

MAX_BAND_SPANS = 100
"""Most ``hours`` spans over all time bands of a version; the coverage check is quadratic in
them, and a day has 1,440 minutes anyway."""

_BAND_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_PREFIX = re.compile(r"[0-9]{0,15}")
_HOURS = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])")
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday")
_DAY_GROUPS = {"weekdays": ("mon", "tue", "wed", "thu", "fri"), "weekend": ("sat", "sun")}
_PUBLIC_KEY = re.compile(r"[0-9a-f]{64}")
_PUBLIC_KEY_WANT = "an Ed25519 public key as 64 lowercase hex digits (`bilat keys show` prints it)"


def _bands(r: TermReader, node: Any) -> tuple[Band, ...]:
    if node is None:
        return ()
    bands: list[Band] = []
    spans = 0
    for band_id, spec in r.mapping(node, "bands").items():
        path = child("bands", band_id)
        if not _BAND_ID.fullmatch(band_id):
            r.fail(path, band_id, "a band id of 1 to 32 characters of [A-Za-z0-9_-]")
        body = r.mapping(spec, path, "band")
        days: set[str] = set()
        for day in r.items(body, "days", path, required=True):
            if isinstance(day, str) and day in _DAY_GROUPS:
                days.update(_DAY_GROUPS[day])
            elif isinstance(day, str) and day in _DAY_NAMES:
                days.add(day)
            else:
                r.fail(f"{path}.days", day, f"one of {[*_DAY_NAMES, *_DAY_GROUPS]}")
        for hours in r.items(body, "hours", path, required=True):
            spans += 1
            match = _HOURS.fullmatch(hours) if isinstance(hours, str) else None
            if match is None or (match[3] == "24" and match[4] != "00"):
                r.fail(f"{path}.hours", hours, "'HH:MM-HH:MM' local time, e.g. '08:00-19:00'")
                continue
            start = time(int(match[1]), int(match[2]))
            end = time(0) if match[3] == "24" else time(int(match[3]), int(match[4]))
            bands.append(Band(band_id, frozenset(days), start, end))
    if spans > MAX_BAND_SPANS:
        r.fail("bands", f"{spans} hours spans", f"at most {MAX_BAND_SPANS} (MAX_BAND_SPANS)")
        return ()
    for problem in check_bands(bands):
        r.problems.append(f"bands: {problem}")
    return tuple(bands)


def _tiers(r: TermReader, node: Any, path: str) -> Tiers | None:
    if node is None:
        return None
    body = r.mapping(node, path, "tiers")
    style = r.choice(body, "style", path, ("graduated", "volume"), "graduated")
    steps: list[Tier] = []
    raw_steps = r.items(body, "steps", path, required=True)
    for i, raw in enumerate(raw_steps):
        step_path = f"{path}.steps[{i}]"
        step = r.mapping(raw, step_path, "step")
        last = i == len(raw_steps) - 1
        up_to = r.optional_decimal(step, "up_to", step_path)
        if (up_to is None) != last:
            want = "no up_to on the last step" if last else "an up_to on every step but the last"
            r.fail(f"{step_path}.up_to", step.get("up_to"), want)
        if up_to is not None and steps and steps[-1].up_to is not None and up_to <= steps[-1].up_to:
            r.fail(f"{step_path}.up_to", step.get("up_to"), f"more than {steps[-1].up_to}")
        steps.append(Tier(up_to, r.decimal(step, "rate", step_path)))
    return Tiers(style, tuple(steps))


def _rates(
    r: TermReader, t: Mapping[str, Any], path: str, band_ids: set[str]
) -> dict[str, Decimal]:
    if ("rate" in t) == ("rates" in t):
        r.fail(path, sorted(t), "exactly one of 'rate' (one price) or 'rates' (per time band)")
        return {"*": Decimal(0)}
    if "rate" in t:
        return {"*": r.decimal(t, "rate", path)}
    if not band_ids:
        r.fail(f"{path}.rates", t["rates"], "'rate' (no time bands are defined)")
        return {"*": Decimal(0)}
    rates = r.mapping(t["rates"], f"{path}.rates")
    if set(rates) != band_ids:
        r.fail(f"{path}.rates", sorted(rates), f"a rate for each time band {sorted(band_ids)}")
    return {band: r.decimal(rates, band, f"{path}.rates") for band in rates}


def _tariff(r: TermReader, node: Any, path: str, band_ids: set[str]) -> Tariff:
    t = r.mapping(node, path, "tariff")
    product = r.choice(t, "product", path, PRODUCTS, "voice")
    per = r.choice(t, "per", path, tuple(TARIFF_UNITS), "second")
    per_unit = TARIFF_UNITS[per]
    if per_unit.product != product:
        r.fail(f"{path}.per", per, f"a unit of {product}, not of {per_unit.product}")
    prefixes = r.items(t, "prefixes", path, required=False) or [""]
    for i, prefix in enumerate(prefixes):
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            r.fail(f"{path}.prefixes[{i}]", prefix, 'a string of 0 to 15 digits, e.g. "49"')
    increment = t.get("increment", ["1", "1"])
    if not (isinstance(increment, list) and len(increment) == 2):
        r.fail(f"{path}.increment", increment, "[first, next], two integers >= 1, e.g. [60, 60]")
        increment = ["1", "1"]
    first, next_ = (r.count(n, f"{path}.increment[{i}]", 1) for i, n in enumerate(increment))
    rates = _rates(r, t, path, band_ids)
    tiers = _tiers(r, t.get("tiers"), f"{path}.tiers")
    if tiers is not None and "*" not in rates:
        r.fail(f"{path}.tiers", "tiers with rates per band", "tiers on a single-rate tariff only")
    return Tariff(
        id=r.ident(t, "id", path),
        product=product,
        prefixes=tuple(p for p in prefixes if isinstance(p, str)),
        per=per,
        per_size=per_unit.size,
        rates=rates,
        connect_fee=r.decimal(t, "connect_fee", path, "0"),
        first_increment=first,
        next_increment=next_,
        minimum_charge=r.decimal(t, "minimum_charge", path, "0"),
        tiers=tiers,
        currency=None if t.get("currency") is None else read_currency(r, t, path),
    )


def _check_unique_routes(r: TermReader, tariffs: list[Tariff]) -> None:
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


def _offering(r: TermReader, node: Any, path: str) -> Offering:
    o = r.mapping(node, path, "offering")
    price = period = non_recurring_price = None
    if o.get("recurring") is not None:  # given: then with a price
        recurring = r.mapping(o["recurring"], f"{path}.recurring", "recurring")
        if isinstance(o["recurring"], dict):
            price = r.decimal(recurring, "price", f"{path}.recurring")
            period = r.choice(recurring, "period", f"{path}.recurring", RECURRING_PERIODS, "month")
    if o.get("non_recurring") is not None:
        non_recurring = r.mapping(o["non_recurring"], f"{path}.non_recurring", "non_recurring")
        if isinstance(o["non_recurring"], dict):
            non_recurring_price = r.decimal(non_recurring, "price", f"{path}.non_recurring")
    return Offering(
        id=r.ident(o, "id", path),
        recurring_price=price,
        recurring_period=period,
        non_recurring_price=non_recurring_price,
    )


def _check_unique_offerings(r: TermReader, offerings: list[Offering]) -> None:
    ids: set[str] = set()
    for i, offering in enumerate(offerings):
        if offering.id in ids:
            r.fail(f"offerings[{i}].id", offering.id, "an id not used by another offering")
        ids.add(offering.id)


def _party(r: TermReader, parties: Mapping[str, Any], role: str) -> Party:
    path = f"parties.{role}"
    body = r.mapping(parties.get(role), path, "party")
    name = r.text(body, "name", path) if body.get("name") is not None else ""
    return Party(
        r.ident(body, "id", path), name, _party_keys(r, body, path), _contact(r, body, path)
    )


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")


def _contact(r: TermReader, body: Mapping[str, Any], path: str) -> Contact | None:
    """A party's optional ``billing_contact: {name, email, phone}``, all three required."""
    if body.get("billing_contact") is None:
        return None
    path = f"{path}.billing_contact"
    node = r.mapping(body["billing_contact"], path, "billing_contact")
    email, phone = node.get("email"), node.get("phone")
    if not isinstance(email, str) or not _EMAIL.fullmatch(email):
        r.fail(f"{path}.email", email, "an e-mail address such as billing@hgc.example")
    if not isinstance(phone, str) or not _PHONE.fullmatch(phone):
        r.fail(f"{path}.phone", phone, "an E.164 number such as '+85221234567' (quoted)")
    return Contact(r.text(node, "name", path), str(email), str(phone))


def _party_keys(r: TermReader, body: Mapping[str, Any], path: str) -> tuple[PartyKey, ...]:
    """A party's ``keys``: at least one, each ``{public_key, valid_from[, valid_until]}``,
    no key twice; sorted by ``valid_from`` then key, since the order written means nothing."""
    keys: dict[str, PartyKey] = {}
    for i, node in enumerate(r.items(body, "keys", path, required=True)):
        key_path = f"{path}.keys[{i}]"
        k = r.mapping(node, key_path, "key")
        public = k.get("public_key")
        if not isinstance(public, str) or not _PUBLIC_KEY.fullmatch(public):
            r.fail(f"{key_path}.public_key", public, _PUBLIC_KEY_WANT)
            public = None
        elif is_small_order(bytes.fromhex(public)):
            r.problems.append(f"{where(key_path + '.public_key')}: {SMALL_ORDER_PROBLEM}")
            public = None
        valid_from = read_moment(r, k, "valid_from", key_path)
        valid_until = (
            None if k.get("valid_until") is None else read_moment(r, k, "valid_until", key_path)
        )
        if valid_until is not None and valid_until <= valid_from:
            r.fail(f"{key_path}.valid_until", k.get("valid_until"), "a time after valid_from")
        if public is None:
            continue
        if public in keys:
            r.fail(f"{key_path}.public_key", public, "a key not listed twice for one party")
            continue
        keys[public] = PartyKey(public, valid_from, valid_until)
    return tuple(sorted(keys.values(), key=lambda key: (key.valid_from, key.public_key)))


def parse_agreement(document: Any, source: str = "<agreement>") -> Agreement:
    """Validate one document (one version), as :func:`loads_book` reads it, into an
    :class:`Agreement`.

    ``document`` holds only ``dict`` (string keys), ``list``, ``str`` and ``None``; every term is
    read from its text by the rules in the module docstring. Raises :class:`AgreementError`
    listing every problem with its path.
    """
    r = TermReader()
    doc = r.mapping(document, "", "")
    parties = r.mapping(doc.get("parties"), "parties", "parties")
    seller, buyer = _party(r, parties, "seller"), _party(r, parties, "buyer")
    if seller.id and seller.id == buyer.id:
        r.fail("parties.buyer.id", buyer.id, "a party other than the seller")
    for key in buyer.keys:
        if key.public_key in {k.public_key for k in seller.keys}:
            r.fail("parties.buyer.keys", key.public_key, "keys other than the seller's")
    window = r.mapping(doc.get("window", {}), "window", "window")
    rounding = r.mapping(doc.get("rounding", {}), "rounding", "rounding")
    tolerances = r.mapping(doc.get("tolerances", {}), "tolerances", "tolerances")
    bands = _bands(r, doc.get("bands"))
    band_ids = {band.id for band in bands}
    tariff_nodes = r.items(doc, "tariffs", "", required=True)
    tariffs = [_tariff(r, node, f"tariffs[{i}]", band_ids) for i, node in enumerate(tariff_nodes)]
    _check_unique_routes(r, tariffs)
    offering_nodes = r.items(doc, "offerings", "", required=False)
    offerings = [_offering(r, node, f"offerings[{i}]") for i, node in enumerate(offering_nodes)]
    _check_unique_offerings(r, offerings)
    agreement = Agreement(
        id=r.ident(doc, "id", ""),
        version=r.ident(doc, "version", ""),
        effective_from=read_moment(r, doc, "effective_from"),
        seller=seller,
        buyer=buyer,
        currency=read_currency(r, doc),
        timezone=read_zone(r, doc),
        billing_period=r.choice(doc, "billing_period", "", ("day", "week", "month"), "month"),
        window_seconds=r.integer(window, "size", "window", 60, 3600),
        grace_seconds=r.integer(window, "grace", "window", 0, 600),
        digest_depth=r.integer(window, "digest_depth", "window", 0, 8, maximum=16),
        rounding=Rounding(
            mode=r.choice(rounding, "mode", "rounding", tuple(ROUNDING_MODES), "half_up"),
            scale=r.integer(rounding, "scale", "rounding", 0, 4, maximum=MAX_FRACTION_DIGITS),
            stage=r.choice(rounding, "stage", "rounding", ROUNDING_STAGES, "record"),
        ),
        holidays=read_holidays(r, doc),
        bands=bands,
        tariffs=tuple(tariffs),
        offerings=tuple(offerings),
        tolerances=Tolerances(
            duration_seconds=r.decimal(tolerances, "duration_seconds", "tolerances", "1"),
            amount=r.decimal(tolerances, "amount", "tolerances", "0.0001"),
            dispute_days=r.integer(tolerances, "dispute_days", "tolerances", 0, 30),
        ),
        reconciliation=_reconciliation(r, doc),
        settlement=_settlement(r, doc, offerings),
    )
    if bands and not r.problems:
        try:  # what only a whole calendar can check: holidays given iff a band prices them
            BandCalendar(agreement.timezone, bands, agreement.holidays, source=source)
        except AgreementError as exc:
            r.problems.extend(f"bands: {p}" for p in exc.problems)
    if r.problems:
        raise AgreementError(source, r.problems)
    return agreement


def _reconciliation(r: TermReader, doc: Mapping[str, Any]) -> Reconciliation | None:
    """The optional ``reconciliation:`` section (None when absent: the defaults apply)."""
    if doc.get("reconciliation") is None:
        return None
    node = r.mapping(doc["reconciliation"], "reconciliation", "reconciliation")
    default = DEFAULT_RECONCILIATION
    path = "reconciliation"
    return Reconciliation(
        correlation=r.choice(node, "correlation", path, CORRELATIONS, default.correlation),
        start_tolerance_seconds=r.integer(
            node, "start_tolerance_seconds", path, 0, default.start_tolerance_seconds, 3600
        ),
        edge_seconds=r.integer(node, "edge_seconds", path, 0, default.edge_seconds, 3600),
        anchor_deadline=r.integer(
            node, "anchor_deadline", path, 0, default.anchor_deadline, 30 * 86400
        ),
    )


def _settlement(
    r: TermReader, doc: Mapping[str, Any], offerings: list[Offering]
) -> Settlement | None:
    """The optional ``settlement:`` section (None when absent: the defaults apply).

    ``usage_offerings`` maps a product to an offering listed under ``offerings`` (priced or
    not: usage prices it), at most one offering per product.
    """
    if doc.get("settlement") is None:
        return None
    path = "settlement"
    node = r.mapping(doc["settlement"], path, "settlement")
    default = DEFAULT_SETTLEMENT
    usage: dict[str, str] = {}
    if node.get("usage_offerings") is not None:
        usage_path = f"{path}.usage_offerings"
        listed = {o.id for o in offerings}
        for product in r.mapping(node["usage_offerings"], usage_path):
            if product not in PRODUCTS:
                r.fail(usage_path, product, f"a product of {list(PRODUCTS)} as key")
                continue
            offering = r.ident(node["usage_offerings"], product, usage_path)
            if offering and offering not in listed:
                r.fail(
                    child(usage_path, product),
                    offering,
                    f"an offering listed under offerings (have {sorted(listed)})",
                )
            usage[product] = offering
    return Settlement(
        grace_seconds=r.integer(node, "grace_seconds", path, 0, default.grace_seconds, 31 * 86400),
        payment_days=r.integer(node, "payment_days", path, 0, default.payment_days, 366),
        within_tolerance=r.choice(
            node, "within_tolerance", path, WITHIN_TOLERANCE_RULES, default.within_tolerance
        ),
        usage_offerings=usage,
    )


def parse_book(documents: list[Any], source: str = "<agreement>") -> AgreementBook:
    """Every document one version; problems of all versions are reported together (at most
    :data:`MAX_PROBLEMS`)."""
    versions: list[Agreement] = []
    problems: list[str] = []
    for index, document in enumerate(documents):
        try:
            versions.append(parse_agreement(document, source))
        except AgreementError as exc:
            prefix = f"document {index + 1}: " if len(documents) > 1 else ""
            problems.extend(prefix + p for p in exc.problems)
    if problems:
        raise AgreementError(source, _capped(problems))
    return AgreementBook(versions, source)


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"… and {len(problems) - MAX_PROBLEMS} more problems"]


def _too_big(size: str) -> str:
    return f"got {size} bytes, want at most {MAX_AGREEMENT_BYTES:,} bytes (1 MiB)"


def loads_book(text: str, source: str = "<agreement>") -> AgreementBook:
    """Validate every version in agreement YAML ``text`` (see the module docstring for the rules
    and bounds). Raises :class:`AgreementError` for anything else."""
    try:
        size = len(text.encode("utf-8")) if len(text) <= MAX_AGREEMENT_BYTES else None
    except UnicodeEncodeError as exc:
        raise AgreementError(
            source, [f"got text that is not Unicode (character {exc.start}), want UTF-8 text"]
        ) from None
    if size is None or size > MAX_AGREEMENT_BYTES:
        shown = f"{len(text.encode('utf-8', 'surrogatepass')):,}" if size is None else f"{size:,}"
        raise AgreementError(source, [_too_big(shown)])
    reader = YamlReader()
    reader.read(text)
    if reader.problems:  # at most MAX_PROBLEMS + 1 (the reader stops there)
        several = len(reader.documents) > 1 or any(n > 1 for n, _ in reader.problems)
        raise AgreementError(
            source, [f"document {n}: {p}" if several and n else p for n, p in reader.problems]
        )
    if not reader.documents:
        raise AgreementError(source, ["the file holds no agreement"])
    return parse_book(reader.documents, source)


def load_book(path: Path | str) -> AgreementBook:
    """Read and validate every version in an agreement YAML file of at most
    :data:`MAX_AGREEMENT_BYTES` (checked before reading it whole)."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_AGREEMENT_BYTES + 1)
            if len(data) > MAX_AGREEMENT_BYTES:
                size = path.stat().st_size
                shown = f"{size:,}" if size > MAX_AGREEMENT_BYTES else "more than that many"
                raise AgreementError(str(path), [_too_big(shown)])
    except OSError as exc:
        raise AgreementError(str(path), [f"cannot read file: {exc.strerror}"]) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AgreementError(
            str(path), [f"got bytes that are not UTF-8 at byte {exc.start}, want UTF-8 text"]
        ) from None
    return loads_book(text, str(path))


def load_agreement(path: Path | str) -> Agreement:
    """The latest version in an agreement YAML file (see :func:`load_book` for all)."""
    return load_book(path).latest
