"""Hostile agreement files: every fault found when Bilat's agreement loading was attacked (issue
8, items 5 and 8), one regression test each, then property tests that throw generated documents
at the loader.

What must hold whatever a file holds: loading returns an :class:`AgreementBook` or raises
:class:`AgreementError` (a :class:`BilatError`) whose problems name the YAML path, echo no huge
value and are few; the work is bounded by construction (the size cap refuses before parsing,
aliases are refused while reading events so nothing is ever expanded, nesting is cut at
:data:`MAX_DEPTH`). No test here times anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streams.agreement.loader as loader
import streams.agreement.yaml_reader as yaml_reader
from streams.agreement.loader import (
    MAX_AGREEMENT_BYTES,
    MAX_DEPTH,
    MAX_PROBLEMS,
    MAX_VERSIONS,
    load_book,
    loads_book,
    parse_agreement,
)
from streams.agreement.model import AgreementBook
from streams.cli.main import main
from streams.core.errors import AgreementError
from tests.paths import REPO

EXAMPLE = REPO / "examples" / "agreement.yaml"
TEXT = EXAMPLE.read_text()
V1, V2 = TEXT.split("\n---\n")

LONGEST_PROBLEM = 400
"""No problem line may be longer: values are echoed cut, never whole."""


def problems_of(text: str) -> tuple[str, ...]:
    with pytest.raises(AgreementError) as info:
        loads_book(text)
    problems = info.value.problems
    assert 0 < len(problems) <= MAX_PROBLEMS + 1, problems
    assert all(len(p) <= LONGEST_PROBLEM for p in problems), [p[:500] for p in problems]
    return problems


def one_problem(text: str, start: str) -> str:
    """The single problem of ``text``, which must start with ``start``."""
    problems = problems_of(text)
    assert len(problems) == 1 and problems[0].startswith(start), problems
    return problems[0]


def check(tmp_path: Path, text: str | bytes) -> tuple[int, str]:
    """``bilat agreement check`` on ``text``: exit code and output with whitespace collapsed
    (rich wraps long lines)."""
    path = tmp_path / "agreement.yaml"
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    result = CliRunner().invoke(main, ["agreement", "check", str(path)])
    return result.exit_code, " ".join(result.output.split())


# --- aliases, anchors, tags --------------------------------------------------------------------

LAUGHS = "\n".join(
    ["lol0: &a0 [lol]"]
    + [f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    + [V1]
)


def test_billion_laughs_is_refused_while_reading_events_never_expanded() -> None:
    # Before: 20 s and out of memory, then a message repr()ing the expanded value.
    problems = problems_of(LAUGHS)
    assert problems[0] == (
        "lol0: got anchor '&a0', want the value written out (anchors and aliases are refused)"
    )
    assert problems[1].startswith("lol1: got anchor '&a1'")
    assert problems[2].startswith("lol1[0]: got alias '*a0', want the value written out")
    assert len(problems) <= MAX_PROBLEMS + 1
    assert problems[-1].startswith("stopped reading after")


def test_reading_consumes_each_event_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Structural bound: the loader pulls each YAML event once and expands nothing, so its work
    is linear in the (capped) file size whatever the aliases would expand to."""
    pulled = 0
    real = yaml.parse

    def counting(text: str, Loader: Any) -> Iterator[yaml.Event]:
        nonlocal pulled
        for event in real(text, Loader=Loader):
            pulled += 1
            yield event

    monkeypatch.setattr(yaml_reader.yaml, "parse", counting)
    small = "a: &x [1, 2]\nb: [*x, *x, *x]\n"
    with pytest.raises(AgreementError):
        loads_book(small)
    assert pulled == len(list(real(small, Loader=yaml.BaseLoader)))


def test_a_merge_key_is_an_alias_and_refused() -> None:
    text = V1.replace("window:\n", "base: &w {size: 60}\nwindow:\n  <<: *w\n")
    problems = problems_of(text)
    assert any(p.startswith("base: got anchor '&w'") for p in problems), problems
    assert any(p.startswith("window.<<: got alias '*w'") for p in problems), problems


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("!!float 0.0090", "'!!float'"),
        ("!!python/object:os.system 0.0090", "'!!python/object:os.system'"),
        ("!custom 0.0090", "'!custom'"),
    ],
)
def test_tags_are_refused(value: str, shown: str) -> None:
    one_problem(
        V1.replace("rate: 0.0090", f"rate: {value}"),
        f"tariffs[0].rate: got tag {shown}, want a plain value (tags are refused)",
    )


# --- numbers --------------------------------------------------------------------------------

HOSTILE_DECIMALS = [
    "1e999999999",
    "1E5",
    "1.5e3",
    ".inf",
    "-.inf",
    ".nan",
    "NaN",
    "Infinity",
    "1:30.5",
    "1_000.5",
    "0x10",
    "0o10",
    "010",
    "00.5",
    ".5",
    "5.",
    "+1",
    "-0.01",
    "yes",
    "on",
    "true",
    "~",
    "'١٢'",  # Arabic-Indic digits: Decimal() would read them
    "1" * 16,
    "0." + "1" * 11,
    "9" * 5000,
]


@pytest.mark.parametrize("value", HOSTILE_DECIMALS)
def test_a_rate_is_a_plain_bounded_decimal(value: str) -> None:
    # Before: 1e999999999 and 9*5000 loaded (then crashed in the hash), 1:30.5 read as 90.5,
    # 0x10 as 16, 1_000.5 as 1000.5; .inf and .nan were caught only by luck of Decimal.
    problem = one_problem(V1.replace("rate: 0.0090", f"rate: {value}"), "tariffs[0].rate: got ")
    assert problem.endswith(
        "want a plain decimal >= 0 like 0.0150 "
        f"(at most {loader.MAX_INTEGER_DIGITS} digits before the point and "
        f"{loader.MAX_FRACTION_DIGITS} after; no sign, exponent, '_' or ':')"
    ), problem


@pytest.mark.parametrize(
    "value", ["0x10", "010", "0o10", "0b10", "3_600", "1:00", "60.0", "+60", "yes", "on", "1e3"]
)
def test_an_integer_is_plain_decimal_digits(value: str) -> None:
    # Before: 0x10 read as 16, 010 as 8, 3_600 as 3600, 1:00 as 60 (YAML 1.1 int forms).
    one_problem(
        V1.replace("size: 3600 ", f"size: {value} "),
        f"window.size: got '{value}', want a whole number 60 to 999999999 in plain digits",
    )


def test_huge_integers_are_refused_without_converting_them() -> None:
    one_problem(V1.replace("scale: 4 ", f"scale: {'9' * 5000} "), "rounding.scale: got '99999")
    one_problem(V1.replace("scale: 4 ", "scale: 11 "), "rounding.scale: got '11', want a whole")


def test_booleans_are_text_never_coerced() -> None:
    # Before: `version: yes` became True and then 'True'; `name: on` became 'True'.
    book = loads_book(V1.replace('version: "1"', "version: yes").replace("DCC Wholesale", "on"))
    assert book.latest.version == "yes"
    assert book.latest.buyer.name == "on"
    one_problem(V1.replace("grace: 600 ", "grace: no "), "window.grace: got 'no', want a whole")


def test_a_version_is_read_as_written() -> None:
    # Before: `version: 1.10` read as the decimal 1.10 and `version: 010` as 8.
    assert loads_book(V1.replace('version: "1"', "version: 1.10")).latest.version == "1.10"
    assert loads_book(V1.replace('version: "1"', "version: 010")).latest.version == "010"


# --- structure ------------------------------------------------------------------------------


def test_duplicate_keys_are_refused_with_both_lines() -> None:
    # Before: the last `currency` silently won: a reviewer read EUR, the parties signed USD.
    text = V1.replace("currency: EUR\n", "currency: EUR\ncurrency: USD\n")
    line = text.splitlines().index("currency: USD") + 1
    one_problem(
        text,
        f"currency: got a second 'currency' at line {line}, want each key once "
        f"(first at line {line - 1})",
    )
    nested = V1.replace("{peak: 0.0150,", "{peak: 0.0150, peak: 0.0100,")
    one_problem(nested, "tariffs[1].rates.peak: got a second 'peak' at line ")


def test_deep_nesting_is_cut_at_max_depth() -> None:
    # Before: 50,000 levels ended in a RecursionError traceback.
    for deep in (
        "x: " + "[" * 50_000 + "]" * 50_000,
        "x:\n" + "".join(" " * i + "- \n" for i in range(1, 1_000)),
    ):
        problem = problems_of(V1 + "\n" + deep)[0]
        assert re.match(
            rf"x(\[0\]){{{MAX_DEPTH - 1}}}: got nesting deeper than {MAX_DEPTH} levels, want at "
            f"most {MAX_DEPTH}",
            problem,
        ), problem


def test_the_size_cap_refuses_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: a 10 MB file took 58 s and 1.4 GB.
    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed a file over the cap")

    monkeypatch.setattr(yaml_reader.yaml, "parse", no_parsing)
    big = V1 + "\n#" + "x" * MAX_AGREEMENT_BYTES
    size = len(big.encode())
    want = f"got {size:,} bytes, want at most {MAX_AGREEMENT_BYTES:,} bytes (1 MiB)"
    assert problems_of(big) == (want,)
    path = tmp_path / "big.yaml"
    path.write_text(big)
    with pytest.raises(AgreementError) as info:
        load_book(path)
    assert info.value.problems == (want,)


def test_too_many_versions_are_refused() -> None:
    text = "\n---\n".join(["{}"] * (MAX_VERSIONS + 5))
    assert problems_of(text)[-1].startswith(
        f"document {MAX_VERSIONS + 1}: got more than {MAX_VERSIONS} documents"
    )


def test_unknown_keys_are_refused() -> None:
    # A misspelt term is read by people but never signed: refuse it.
    one_problem(
        V1.replace("minimum_charge: 0.0100", "minimum_chrage: 0.0100"),
        "tariffs[1].minimum_chrage: got an unknown key, want one of ",
    )
    one_problem(V1.replace("window:\n", "windows: {}\nwindow:\n"), "windows: got an unknown key")


def test_complex_keys_are_refused() -> None:
    one_problem(V1 + "\n? [a, b]\n: c\n", "top level: got a list as a key, want a plain text key")


# --- terms ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["XYZ", "ABC", "XXX", "XTS", "eur", "EURO"])
def test_currency_is_an_iso_4217_code(code: str) -> None:
    # Before: XYZ, ABC, XXX (no currency) and XTS (testing) were accepted.
    one_problem(V1.replace("currency: EUR", f"currency: {code}"), f"currency: got '{code}', want")


def test_seller_and_buyer_differ() -> None:
    # Before: a party could settle with itself.
    one_problem(
        V1.replace("id: dcc\n", "id: hgc\n"),
        "parties.buyer.id: got 'hgc', want a party other than the seller",
    )


@pytest.mark.parametrize(
    "zone", ["America", "a" * 300, "localtime", "Europe/../Europe/Berlin", "UTC/", "zone.tab"]
)
def test_a_time_zone_is_an_iana_name(zone: str) -> None:
    # Before: 'America' raised IsADirectoryError and a long name OSError (tracebacks).
    problem = one_problem(V1.replace("Europe/Berlin", zone), "timezone: got ")
    assert problem.endswith("want an IANA time zone such as 'Europe/Berlin'")


@pytest.mark.parametrize(
    ("old", "new", "start"),
    [
        ('prefixes: ["49"]', "prefixes: [[49]]", "tariffs[0].prefixes[0]: got ['49']"),
        ("days: [weekdays]", "days: [[weekdays]]", "bands.peak.days: got ['weekdays']"),
        ("id: voice-uk", "id: 'voice uk'", "tariffs[2].id: got 'voice uk', want 1 to 128"),
        ("id: voice-uk", "id: voice@uk", "tariffs[2].id: got 'voice@uk', want 1 to 128"),
        ('"2026-01-01T00:00:00Z"', "0001-01-01T00:00:00+01:00", "effective_from: got '0001"),
        ('"2026-01-01T00:00:00Z"', "2026-01-01", "effective_from: got '2026-01-01', want"),
        ("2026-12-26]", "2026-02-30]", "holidays[6]: got '2026-02-30', want a date"),
        ("{price: 1200.00, period: month}", "{period: month}", "offerings[0].recurring.price"),
        ("id: evc-eline-10g", "id: evc-eline-1g", "offerings[1].id: got 'evc-eline-1g'"),
    ],
)
def test_other_faults_are_problems_with_a_path(old: str, new: str, start: str) -> None:
    assert old in V1
    assert problems_of(V1.replace(old, new, 1))[0].startswith(start)


def test_rates_per_band_need_bands() -> None:
    text = (
        V1.split("holidays:")[0] + "tariffs:\n  - {id: t, product: sms, per: message, rates: {}}\n"
    )
    one_problem(text, "tariffs[0].rates: got {}, want 'rate' (no time bands are defined)")


def test_many_problems_are_cut_to_max_problems() -> None:
    tariffs = "".join(
        f"  - {{id: t{i}, product: sms, prefixes: ['{i}'], per: message, rate: x}}\n"
        for i in range(500)
    )
    problems = problems_of(V1.split("tariffs:")[0] + "tariffs:\n" + tariffs)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == f"… and {500 - MAX_PROBLEMS} more problems"


# --- the CLI --------------------------------------------------------------------------------


def test_cli_prints_every_version_with_its_hash(tmp_path: Path) -> None:
    # Before: only the latest version was printed.
    book = load_book(EXAMPLE)
    code, out = check(tmp_path, TEXT)
    assert code == 0, out
    for v in book.versions:
        assert (
            f"{v.id} v{v.version} effective_from {v.effective_from.isoformat()} "
            f"canonical hash: {v.canonical_hash().hex()}"
        ) in out, out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (LAUGHS, "lol0: got anchor '&a0', want the value written out"),
        (V1.replace("rate: 0.0090", "rate: 1e999999999"), "tariffs[0].rate: got '1e999999999'"),
        (V1.replace("currency: EUR", "currency: XYZ"), "currency: got 'XYZ'"),
        (V1.replace("currency: EUR\n", "currency: EUR\ncurrency: USD\n"), "got a second"),
        (V1.replace("id: dcc\n", "id: hgc\n"), "want a party other than the seller"),
        ("x: " + "[" * 50_000, f"got nesting deeper than {MAX_DEPTH} levels"),
        (V1 + "#" * MAX_AGREEMENT_BYTES, f"want at most {MAX_AGREEMENT_BYTES:,}"),
        (b"id: \xff\xfe\n", "not UTF-8"),
    ],
)
def test_cli_exits_2_with_the_problem(tmp_path: Path, text: str | bytes, message: str) -> None:
    code, out = check(tmp_path, text)
    assert code == 2, out
    assert out.startswith("error: agreement ") and message in out, out
    assert "Traceback" not in out and len(out) < 20_000


# --- property tests -------------------------------------------------------------------------

WEIRD_SCALARS = st.sampled_from(
    [
        "1e999999999", ".inf", ".nan", "-.inf", "1:30.5", "0x10", "010", "0b1", "1_0", "yes",
        "no", "on", "~", "null", "''", '""', "'\\x00'", "&a x", "*a", "!!float 1", "!x y",
        "2026-01-01", "2026-01-01T00:00:00Z", "'2026-13-45T99:99:99+99:99'", "9" * 400,
        "-1", "0.0000000000001", "[", "{", "]", "}", "? x", "- x", "|", ">", "#", "%", "@",
        "`", "'", '"', ",", "\t", "\\", "weekdays", "holiday", "peak", "voice", "minute",
    ]
)  # fmt: skip
SCALARS = st.one_of(
    WEIRD_SCALARS,
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    st.text(max_size=12),
)


def _yaml_ish(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5),
        ),
        max_leaves=25,
    )


KEYS = [
    "id", "version", "effective_from", "parties", "seller", "buyer", "name", "currency",
    "timezone", "billing_period", "window", "size", "grace", "digest_depth", "rounding", "mode",
    "scale", "stage", "tolerances", "holidays", "bands", "days", "hours", "tariffs", "product",
    "prefixes", "per", "rate", "rates", "connect_fee", "increment", "minimum_charge", "tiers",
    "style", "steps", "up_to", "offerings", "recurring", "non_recurring", "price", "period",
    "keys", "public_key", "valid_from", "valid_until", "settlement", "grace_seconds",
    "payment_days", "within_tolerance", "usage_offerings",
]  # fmt: skip


def _must_load_or_refuse(text: str) -> None:
    try:
        book = loads_book(text)
    except AgreementError as exc:
        assert exc.problems and len(exc.problems) <= MAX_PROBLEMS + 1
        assert all(len(p) <= LONGEST_PROBLEM for p in exc.problems), exc.problems
        return
    assert isinstance(book, AgreementBook)
    for version in book.versions:
        assert len(version.canonical_hash()) == 32


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_yaml_ish(SCALARS))
def test_generated_structures_only_ever_raise_agreement_error(document: Any) -> None:
    text = yaml.safe_dump(document, allow_unicode=True, width=1_000_000)
    _must_load_or_refuse(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_examples_load_or_raise_agreement_error(data: st.DataObject) -> None:
    lines = (V1 if data.draw(st.booleans()) else TEXT).splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        kind = data.draw(st.sampled_from(["value", "key", "dup", "drop", "nest", "raw", "indent"]))
        line = lines[i]
        if kind == "value" and ": " in line:
            key = line.split(": ", 1)[0]
            lines[i] = f"{key}: {data.draw(WEIRD_SCALARS | SCALARS)}"
        elif kind == "key" and ":" in line:
            lines[i] = data.draw(st.sampled_from(KEYS)) + line[line.index(":") :]
        elif kind == "dup":
            lines.insert(i, line)
        elif kind == "drop":
            del lines[i]
        elif kind == "nest":
            depth = data.draw(st.integers(1, 3 * MAX_DEPTH))
            lines.insert(i, "deep: " + "[" * depth + "]" * depth)
        elif kind == "raw":
            lines.insert(i, data.draw(st.text(max_size=20)))
        elif kind == "indent":
            lines[i] = " " * data.draw(st.integers(0, 6)) + line.lstrip()
    _must_load_or_refuse("\n".join(lines))


NATIVE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.decimals(), st.floats(), st.dates(),
    st.datetimes(), st.text(max_size=8), SCALARS,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        NATIVE,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(KEYS) | st.integers() | st.text(max_size=6), inner)
        ),
        max_leaves=30,
    )
)
def test_parse_agreement_refuses_any_python_value(document: Any) -> None:
    """The public :func:`parse_agreement` takes what the reader builds; anything else a caller
    passes (ints, Decimals, dates, odd keys, as the old loader built) is a problem, not a crash."""
    with pytest.raises(AgreementError):
        parse_agreement(document)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_raw_bytes_only_ever_raise_agreement_error(blob: bytes) -> None:
    _must_load_or_refuse(blob.decode("utf-8", errors="replace"))
