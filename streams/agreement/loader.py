"""Loading agreements from YAML: bounded, strict, and every problem reported at once with its path.

A file holds one version per YAML document (``---`` between versions); see
``examples/agreement.yaml`` for every term with comments. An invalid file raises
:class:`AgreementError` listing every problem, e.g. ``tariffs[2].rate: got 'abc', want a plain
decimal >= 0 ...``, because an agreement is negotiated by people who fix a file in one pass.

Reading is bounded and literal, because the file is written by the other party:

* **Bounded.** A file over :data:`MAX_AGREEMENT_BYTES` is refused before it is parsed. YAML is
  read as a stream of parser events (libyaml's when installed) into plain dicts, lists and
  strings; nothing is ever expanded, so the work is linear in the (capped) size. Nesting deeper
  than :data:`MAX_DEPTH`, more than :data:`MAX_VERSIONS` documents and more than
  :data:`MAX_PROBLEMS` problems stop the reading. Echoed values are cut (:func:`_show`).
* **Nothing implicit.** Anchors and aliases (and so ``<<`` merge keys), tags (``!!float``,
  ``!custom``), duplicate keys, keys that are lists or mappings, and unknown keys are refused:
  an agreement needs none of them, and each lets a reviewer read one thing while the parties
  sign another. Every scalar is read as the text written, quoted or not: ``010`` is the text
  ``010`` (never YAML 1.1's octal 8), ``yes`` is ``yes`` (never ``True``), ``1.10`` stays
  ``1.10``. Only a plain ``~``, ``null`` or nothing reads as "not given".
* **Explicit rules per term.** Each term's text is then read by its own rule: decimals are plain
  notation (``0.0150``; no sign, exponent, ``_``, ``:``, leading zero, ``inf`` or ``nan``; at
  most :data:`MAX_INTEGER_DIGITS` digits before the point and :data:`MAX_FRACTION_DIGITS`
  after) and become exact :class:`~decimal.Decimal`; whole numbers are plain digits; ids follow
  the identifier grammar usage records use; currencies are ISO 4217 (``pycountry``); time zones
  are IANA names of the installed tz database; the two parties differ.
* **Keys.** Each party lists at least one Ed25519 public key (``keys: [{public_key: <64
  lowercase hex>, valid_from: <time>, valid_until: <time, optional>}]``), never the same key
  twice nor a key of the other party, nor a key of small order
  (:func:`streams.core.keys.is_small_order`: no one holds its private key, yet it verifies forged
  signatures); see :class:`~streams.agreement.model.PartyKey`. They are part of each version's
  canonical content, so both parties' signatures pin them.
"""

from __future__ import annotations

import functools
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pycountry
import yaml

from streams.agreement.model import (
    PER_UNITS,
    RECURRING_PERIODS,
    ROUNDING_MODES,
    ROUNDING_STAGES,
    Agreement,
    AgreementBook,
    Offering,
    Party,
    PartyKey,
    Rounding,
    Tariff,
    Tier,
    Tiers,
    Tolerances,
)
from streams.agreement.timebands import Band, BandCalendar, check_bands
from streams.core.errors import AgreementError
from streams.core.keys import SMALL_ORDER_PROBLEM, is_small_order
from streams.rating.validation import PRODUCT_UNITS

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

MAX_DEPTH = 10
"""Deepest nesting of mappings and lists, the document's own mapping being level 1. The
agreement needs 6 (``tariffs[0].tiers.steps[0]``)."""

MAX_VERSIONS = 100
"""Most YAML documents (agreement versions) in one file."""

MAX_INTEGER_DIGITS = 15
"""A decimal term (rate, fee, price, tier bound, tolerance) has at most this many digits before
the point: prices below 10^15, volumes below 10^15 units."""

MAX_FRACTION_DIGITS = 10
"""A decimal term has at most this many digits after the point; also the largest rounding
scale, so that with the statement stage's 6 extra digits an amount below 10^18 keeps all its
decimals in rating's 34-digit context."""

MAX_COUNT_DIGITS = 9
"""A whole-number term (seconds, days, increments, scale, depth) has at most this many digits."""

MAX_BAND_SPANS = 100
"""Most ``hours`` spans over all time bands of a version; the coverage check is quadratic in
them, and a day has 1,440 minutes anyway."""

MAX_PROBLEMS = 50
"""Most problems reported; the rest are counted in one last line."""

MAX_SHOWN = 60
"""Longest echo of a given value in a problem, in characters (:func:`_show`)."""

_MAX_NAME = 200
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
"""Ids (agreement, version, parties, tariffs, offerings): the identifier grammar usage records
are validated with (:mod:`streams.rating.validation`) minus ``@`` and ``+``, which join a tariff and
its bands in a rated record's rate id (``voice-de-mobile@peak+offpeak``)."""
_ID_WANT = "1 to 128 characters of [A-Za-z0-9._:/-], starting with a letter or digit"
_BAND_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
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
_PREFIX = re.compile(r"[0-9]{0,15}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_MOMENT_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))
_HOURS = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])")
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday")
_DAY_GROUPS = {"weekdays": ("mon", "tue", "wed", "thu", "fri"), "weekend": ("sat", "sun")}
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_SEGMENT = re.compile(r"[^\s.\[\]'\"]{1,40}")
_PUBLIC_KEY = re.compile(r"[0-9a-f]{64}")
_PUBLIC_KEY_WANT = "an Ed25519 public key as 64 lowercase hex digits (`bilat keys show` prints it)"

_KEYS: Mapping[str, tuple[str, ...]] = {
    "": (
        "id", "version", "effective_from", "parties", "currency", "timezone", "billing_period",
        "window", "rounding", "tolerances", "holidays", "bands", "tariffs", "offerings",
    ),
    "parties": ("seller", "buyer"),
    "party": ("id", "name", "keys"),
    "key": ("public_key", "valid_from", "valid_until"),
    "window": ("size", "grace", "digest_depth"),
    "rounding": ("mode", "scale", "stage"),
    "tolerances": ("duration_seconds", "amount", "dispute_days"),
    "band": ("days", "hours"),
    "tariff": (
        "id", "product", "prefixes", "per", "rate", "rates", "connect_fee", "increment",
        "minimum_charge", "tiers",
    ),
    "tiers": ("style", "steps"),
    "step": ("up_to", "rate"),
    "offering": ("id", "recurring", "non_recurring"),
    "recurring": ("price", "period"),
    "non_recurring": ("price",),
}  # fmt: skip
"""The keys each kind of mapping may hold; any other key is a problem (a misspelt term would be
read by people but never signed)."""


# --- echoing values and naming paths -----------------------------------------------------------

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 6, 4, 60, 60


def _show(value: Any) -> str:
    """A bounded ``repr`` of a given value: containers and strings are cut while being written
    (never ``repr``'d whole), the result is at most :data:`MAX_SHOWN` characters plus a note of
    the full length."""
    if isinstance(value, str) and len(value) > MAX_SHOWN:
        return f"{value[: MAX_SHOWN - 10]!r}… ({len(value):,} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<a number of {value.bit_length():,} bits>"  # str() of a huge int is quadratic
    try:
        text = _REPR.repr(value)
    except ValueError:  # a huge int inside a container (Python's 4,300-digit limit)
        return f"<a {type(value).__name__}>"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _child(path: str, key: str) -> str:
    """The path of ``key`` in the mapping at ``path``: ``a.b``, or ``a['odd key']``."""
    if _SEGMENT.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{_show(key)}]"


def _where(path: str) -> str:
    return path or "top level"


# --- reading YAML: events into plain values -----------------------------------------------------


@dataclass(slots=True)
class _Open:
    """A mapping or list being read, with its path; for a mapping, the key awaiting its value
    and the line each key was first given on."""

    value: dict[str, Any] | list[Any]
    path: str
    key: str | None = None
    drop_value: bool = False
    lines: dict[str, int] = field(default_factory=dict)


class _YamlReader:
    """Plain values (``dict``, ``list``, ``str``, ``None``) from YAML parser events.

    Refuses anchors, aliases, tags, duplicate keys and keys that are not scalars; stops at
    nesting deeper than :data:`MAX_DEPTH`, at a key that is a collection, after
    :data:`MAX_VERSIONS` documents or :data:`MAX_PROBLEMS` problems. Each event is pulled once
    and nothing is expanded, so the work is linear in the size of the text (the parsers are
    quadratic only in flow nesting depth, which is cut). Problems are ``(document, text)``.
    """

    def __init__(self) -> None:
        self.documents: list[Any] = []
        self.problems: list[tuple[int, str]] = []
        self._stack: list[_Open] = []
        self._document = 0
        self._starts = 0  # documents begun, empty ones included

    def read(self, text: str) -> None:
        loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # libyaml: ~20x faster
        try:
            for event in yaml.parse(text, Loader=loader):
                self._event(event)
                if len(self.problems) >= MAX_PROBLEMS:
                    del self.problems[MAX_PROBLEMS:]
                    self._note(f"stopped reading after {MAX_PROBLEMS} problems")
                    return
        except yaml.YAMLError as exc:
            self._note(f"not valid YAML: {_cut(str(exc), 300)}")
        except _Stop:
            return

    def _fail(self, path: str, message: str) -> None:
        self._note(f"{_where(path)}: {message}")

    def _note(self, message: str) -> None:
        self.problems.append((self._document, message))

    def _event(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self._starts += 1
            if self._starts > MAX_VERSIONS:
                self._document = len(self.documents) + 1
                self._note(
                    f"got more than {MAX_VERSIONS} documents, want at most {MAX_VERSIONS} "
                    "versions in one file (MAX_VERSIONS)"
                )
                raise _Stop
            self._document = len(self.documents) + 1
            self._stack = []
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self._place(self._stack.pop().value)
        elif isinstance(event, yaml.NodeEvent):
            self._node(event)

    def _node(self, event: yaml.NodeEvent) -> None:
        top = self._stack[-1] if self._stack else None
        is_key = isinstance(top, _Open) and isinstance(top.value, dict) and top.key is None
        if top is None:
            path = ""
        elif isinstance(top.value, list):
            path = f"{top.path}[{len(top.value)}]"
        else:
            path = top.path if is_key else _child(top.path, top.key or "")
        if isinstance(event, yaml.AliasEvent):
            self._fail(path, f"got alias {_show('*' + str(event.anchor))}, {_NO_ANCHORS}")
            self._place(None, drop=True)
            return
        if event.anchor is not None:
            self._fail(path, f"got anchor {_show('&' + event.anchor)}, {_NO_ANCHORS}")
        tag = getattr(event, "tag", None)
        if tag is not None:
            shown = _show(tag.replace("tag:yaml.org,2002:", "!!"))
            self._fail(path, f"got tag {shown}, want a plain value (tags are refused)")
        if is_key and top is not None and not isinstance(event, yaml.ScalarEvent):
            kind = "a mapping" if isinstance(event, yaml.MappingStartEvent) else "a list"
            self._fail(path, f"got {kind} as a key, want a plain text key")
            raise _Stop
        if isinstance(event, yaml.ScalarEvent):
            plain = event.style in (None, "")
            value = None if plain and event.value in _NULLS else event.value
            if is_key and top is not None:
                line = event.start_mark.line + 1 if event.start_mark is not None else 0
                self._key(top, str(event.value), line)
            else:
                self._place(value)
            return
        if len(self._stack) >= MAX_DEPTH:
            # Stop here rather than skip: parsing deep flow nesting is quadratic in its depth
            # (libyaml and PyYAML alike: 50,000 levels take 4 s and 40 s).
            self._fail(
                path, f"got nesting deeper than {MAX_DEPTH} levels, want at most {MAX_DEPTH}"
            )
            raise _Stop
        container: dict[str, Any] | list[Any] = (
            {} if isinstance(event, yaml.MappingStartEvent) else []
        )
        self._stack.append(_Open(container, path))

    def _key(self, top: _Open, key: str, line: int) -> None:
        first = top.lines.get(key)
        if first is not None:
            self._fail(
                _child(top.path, key),
                f"got a second {_show(key)} at line {line}, want each key once "
                f"(first at line {first})",
            )
            top.drop_value = True
        else:
            top.lines[key] = line
        top.key = key

    def _place(self, value: Any, drop: bool = False) -> None:
        """Put a finished value into the mapping or list being read (or make it a document)."""
        if not self._stack:
            if value is not None:
                self.documents.append(value)
            return
        top = self._stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        elif top.key is None:  # an alias as a key: already a problem, its value goes too
            top.key, top.drop_value = "", True
        else:
            if not (top.drop_value or drop):
                top.value[top.key] = value
            top.key, top.drop_value = None, False


_NO_ANCHORS = "want the value written out (anchors and aliases are refused)"


class _Stop(Exception):
    """Internal: reading stops at a problem after which going on would cost unbounded work
    (nesting too deep, a collection as a key, too many documents); never leaves this module."""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- reading terms ------------------------------------------------------------------------------


class _Reader:
    """Collects every problem while reading a nested mapping, each tagged with its path.

    Values are what :class:`_YamlReader` builds (``dict``, ``list``, ``str``, ``None``); any
    other value (a caller's own ``int`` or ``Decimal``) is a problem like any wrong text.
    """

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, got: Any, want: str) -> None:
        self.problems.append(f"{_where(path)}: got {_show(got)}, want {want}")

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
                        f"{_child(path, key)}: got an unknown key, want one of {list(allowed)}"
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
        self.fail(_child(path, key), value, f"a printable text of 1 to {_MAX_NAME} characters")
        return ""

    def ident(self, node: Mapping[str, Any], key: str, path: str) -> str:
        value = node.get(key)
        if not isinstance(value, str) or not _ID.fullmatch(value):
            self.fail(_child(path, key), value, _ID_WANT)
            return ""
        return value

    def decimal(
        self, node: Mapping[str, Any], key: str, path: str, default: str | None = None
    ) -> Decimal:
        value = node.get(key, default)
        if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
            self.fail(_child(path, key), value, _DECIMAL_WANT)
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
        return self.count(node.get(key, str(default)), _child(path, key), minimum, maximum)

    def choice(
        self, node: Mapping[str, Any], key: str, path: str, allowed: tuple[str, ...], default: str
    ) -> str:
        value = node.get(key, default)
        if not isinstance(value, str) or value not in allowed:
            self.fail(_child(path, key), value, f"one of {list(allowed)}")
            return default
        return value

    def items(self, node: Mapping[str, Any], key: str, path: str, required: bool) -> list[Any]:
        value = node.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list) or (required and not value):
            want = "a non-empty list" if required else "a list"
            self.fail(_child(path, key), value, want)
            return []
        return value


def _bands(r: _Reader, node: Any) -> tuple[Band, ...]:
    if node is None:
        return ()
    bands: list[Band] = []
    spans = 0
    for band_id, spec in r.mapping(node, "bands").items():
        path = _child("bands", band_id)
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


def _tiers(r: _Reader, node: Any, path: str) -> Tiers | None:
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


def _rates(r: _Reader, t: Mapping[str, Any], path: str, band_ids: set[str]) -> dict[str, Decimal]:
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


def _tariff(r: _Reader, node: Any, path: str, band_ids: set[str]) -> Tariff:
    t = r.mapping(node, path, "tariff")
    product = r.choice(t, "product", path, tuple(PRODUCT_UNITS), "voice")
    per = r.choice(t, "per", path, tuple(PER_UNITS), "second")
    per_product, per_size = PER_UNITS[per]
    if per_product != product:
        r.fail(f"{path}.per", per, f"a unit of {product}, not of {per_product}")
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
        per_size=per_size,
        rates=rates,
        connect_fee=r.decimal(t, "connect_fee", path, "0"),
        first_increment=first,
        next_increment=next_,
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


def _check_unique_offerings(r: _Reader, offerings: list[Offering]) -> None:
    ids: set[str] = set()
    for i, offering in enumerate(offerings):
        if offering.id in ids:
            r.fail(f"offerings[{i}].id", offering.id, "an id not used by another offering")
        ids.add(offering.id)


def _moment(r: _Reader, doc: Mapping[str, Any], key: str, path: str = "") -> datetime:
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
        r.fail(_child(path, key), value, want)
        return _MOMENT_RANGE[0]


@functools.cache
def _zone_names() -> frozenset[str]:
    # 'localtime' is this machine's zone, never a term both parties can share.
    return frozenset(available_timezones() - {"localtime", "posixrules"})


def _zone(r: _Reader, doc: Mapping[str, Any]) -> ZoneInfo:
    name = doc.get("timezone")
    if isinstance(name, str) and name in _zone_names():
        try:
            return ZoneInfo(name)
        except (ValueError, OSError):  # listed but unreadable: report it like an unknown name
            pass
    r.fail("timezone", name, "an IANA time zone such as 'Europe/Berlin'")
    return ZoneInfo("UTC")


def _currency(r: _Reader, doc: Mapping[str, Any]) -> str:
    code = doc.get("currency")
    if (
        isinstance(code, str)
        and _CURRENCY.fullmatch(code)
        and code not in _NOT_CURRENCIES
        and pycountry.currencies.get(alpha_3=code) is not None
    ):
        return code
    r.fail("currency", code, "an ISO 4217 code such as 'EUR'")
    return ""


def _holidays(r: _Reader, doc: Mapping[str, Any]) -> tuple[date, ...]:
    days = []
    for i, day in enumerate(r.items(doc, "holidays", "", required=False)):
        try:
            if not isinstance(day, str) or not _DATE.fullmatch(day):
                raise ValueError("not YYYY-MM-DD")
            days.append(date.fromisoformat(day))
        except ValueError:
            r.fail(f"holidays[{i}]", day, "a date, e.g. 2026-12-25")
    return tuple(sorted(set(days)))


def _party(r: _Reader, parties: Mapping[str, Any], role: str) -> Party:
    path = f"parties.{role}"
    body = r.mapping(parties.get(role), path, "party")
    name = r.text(body, "name", path) if body.get("name") is not None else ""
    return Party(r.ident(body, "id", path), name, _party_keys(r, body, path))


def _party_keys(r: _Reader, body: Mapping[str, Any], path: str) -> tuple[PartyKey, ...]:
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
            r.problems.append(f"{_where(key_path + '.public_key')}: {SMALL_ORDER_PROBLEM}")
            public = None
        valid_from = _moment(r, k, "valid_from", key_path)
        valid_until = (
            None if k.get("valid_until") is None else _moment(r, k, "valid_until", key_path)
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
    r = _Reader()
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
        effective_from=_moment(r, doc, "effective_from"),
        seller=seller,
        buyer=buyer,
        currency=_currency(r, doc),
        timezone=_zone(r, doc),
        billing_period=r.choice(doc, "billing_period", "", ("day", "week", "month"), "month"),
        window_seconds=r.integer(window, "size", "window", 60, 3600),
        grace_seconds=r.integer(window, "grace", "window", 0, 600),
        digest_depth=r.integer(window, "digest_depth", "window", 0, 8, maximum=16),
        rounding=Rounding(
            mode=r.choice(rounding, "mode", "rounding", tuple(ROUNDING_MODES), "half_up"),
            scale=r.integer(rounding, "scale", "rounding", 0, 4, maximum=MAX_FRACTION_DIGITS),
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
    reader = _YamlReader()
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
