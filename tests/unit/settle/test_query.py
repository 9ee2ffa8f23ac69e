"""The ``GET /customerBill`` query core (streams.settle.query): parse, filter, order, page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.settle.mef_schema import problems
from streams.settle.query import (
    MAX_LIMIT,
    PARAMETERS,
    BillQuery,
    QueryError,
    find,
    parse_date_time,
    parse_query,
)
from tests.fakes.billing import bill

BILLS = [
    bill("B-03-EUR", month=3),
    bill("B-03-USD", month=3, currency="USD", state="paymentDue"),
    bill("B-04-EUR", month=4, state="settled"),
    bill("B-05-EUR", month=5, account="other", category="trial"),
]


def query(text: str) -> BillQuery | QueryError:
    return parse_query(parse_qsl(text, keep_blank_values=True))


def ids(text: str, bills: list[dict[str, Any]] = BILLS) -> list[str]:
    parsed = query(text)
    assert isinstance(parsed, BillQuery), parsed
    return [b["id"] for b in find(parsed, bills).bills]


def refused(text: str) -> QueryError:
    parsed = query(text)
    assert isinstance(parsed, QueryError), parsed
    assert problems("Error400", parsed.body()) == []
    return parsed


def test_the_fixture_bills_are_valid_customer_bills() -> None:
    for b in BILLS:
        assert problems("CustomerBill", b) == []


def test_no_filter_lists_every_bill_by_bill_date_then_id() -> None:
    assert ids("") == ["B-03-EUR", "B-03-USD", "B-04-EUR", "B-05-EUR"]
    assert ids("", list(reversed(BILLS))) == ids("")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("billingAccount.id=dcc", ["B-03-EUR", "B-03-USD", "B-04-EUR"]),
        ("billingAccount.id=nobody", []),
        ("state=paymentDue", ["B-03-USD"]),
        ("category=trial", ["B-05-EUR"]),
        ("state=generated&category=normal", ["B-03-EUR"]),
        # strict bounds: a period starting exactly at the bound does not match lt or gt
        ("billingPeriod.startDateTime.lt=2026-04-01T00:00:00Z", ["B-03-EUR", "B-03-USD"]),
        ("billingPeriod.startDateTime.gt=2026-04-01T00:00:00Z", ["B-05-EUR"]),
        ("billingPeriod.endDateTime.gt=2026-04-01T00:00:00Z", ["B-04-EUR", "B-05-EUR"]),
        ("billingPeriod.endDateTime.lt=2026-05-01T00:00:00Z", ["B-03-EUR", "B-03-USD"]),
        # instants, not texts: 02:00+02:00 is midnight UTC
        ("billingPeriod.startDateTime.gt=2026-04-01T01:59:59%2B02:00", ["B-04-EUR", "B-05-EUR"]),
        (
            "billingPeriod.startDateTime.gt=2026-03-15T00:00:00Z"
            "&billingPeriod.endDateTime.lt=2026-06-01T00:00:00.5z",
            ["B-04-EUR", "B-05-EUR"],
        ),
    ],
)
def test_filters(text: str, want: list[str]) -> None:
    assert ids(text) == want


def test_a_bill_without_the_filtered_field_does_not_match() -> None:
    bare = bill("B-bare")
    del bare["billingPeriod"]
    assert ids("billingPeriod.endDateTime.gt=2000-01-01T00:00:00Z", [bare]) == []
    assert ids("", [bare]) == ["B-bare"]


def test_the_list_holds_customer_bill_find_projections() -> None:
    parsed = query("state=settled")
    assert isinstance(parsed, BillQuery)
    (found,) = find(parsed, BILLS).bills
    assert set(found) == {"id", "billingAccount", "billNo", "billingPeriod", "category", "state"}
    assert problems("CustomerBill_Find", found) == []


def page_of(text: str, count: int) -> tuple[list[str], dict[str, str]]:
    bills = [bill(f"B-{n:04d}") for n in range(count)]
    parsed = query(text)
    assert isinstance(parsed, BillQuery)
    page = find(parsed, bills)
    return [b["id"] for b in page.bills], page.headers()


def test_offset_and_limit_select_a_page_and_the_headers_count() -> None:
    got, headers = page_of("offset=10&limit=10", 50)
    assert got == [f"B-{n:04d}" for n in range(10, 20)]
    assert headers == {
        "X-Total-Count": "50",
        "X-Result-Count": "10",
        "X-Pagination-Throttled": "false",
    }
    assert page_of("offset=45&limit=10", 50)[1]["X-Result-Count"] == "5"
    assert page_of("offset=50", 50)[1] == {
        "X-Total-Count": "50",
        "X-Result-Count": "0",
        "X-Pagination-Throttled": "false",
    }
    assert page_of("limit=0", 3)[0] == []


def test_a_page_larger_than_the_maximum_is_throttled_when_more_remain() -> None:
    total = MAX_LIMIT + 5
    got, headers = page_of(f"limit={MAX_LIMIT + 1}", total)
    assert len(got) == MAX_LIMIT
    assert headers["X-Pagination-Throttled"] == "true"
    # no limit at all: the maximum, throttled too
    assert page_of("", total)[1]["X-Pagination-Throttled"] == "true"
    # nothing follows the cut page: not throttled
    assert page_of(f"offset=5&limit={MAX_LIMIT * 2}", total)[1] == {
        "X-Total-Count": str(total),
        "X-Result-Count": str(MAX_LIMIT),
        "X-Pagination-Throttled": "false",
    }
    # a limit within the maximum is what was asked for, never "throttled"
    assert page_of(f"limit={MAX_LIMIT}", total)[1]["X-Pagination-Throttled"] == "false"


@pytest.mark.parametrize(
    ("text", "code", "says"),
    [
        ("state=", "missingQueryValue", "state: got no value"),
        ("limit", "missingQueryValue", "limit: got no value"),
        ("status=generated", "invalidQuery", "unknown parameter 'status'"),
        ("buyerId=dcc", "invalidQuery", "unknown parameter 'buyerId'"),
        ("state=paid", "invalidQuery", "want one of generated, paymentDue, settled"),
        ("state=withDrawn", "invalidQuery", "state: got 'withDrawn'"),
        ("category=Normal", "invalidQuery", "want one of normal, duplicate, trial"),
        ("offset=-1", "invalidQuery", "offset: got '-1', want an integer >= 0"),
        ("limit=1.5", "invalidQuery", "limit: got '1.5'"),
        ("limit=%2B5", "invalidQuery", "limit: got '+5'"),
        ("limit=" + "9" * 19, "invalidQuery", "want an integer >= 0"),
        ("offset=%EF%BC%91", "invalidQuery", "offset: got '\\uff11'"),  # fullwidth digit one
        ("billingPeriod.endDateTime.lt=2026-04-01", "invalidQuery", "RFC 3339"),
        ("billingPeriod.endDateTime.lt=2026-04-01T00:00:00", "invalidQuery", "with an offset"),
        ("billingPeriod.endDateTime.lt=2026-13-01T00:00:00Z", "invalidQuery", "RFC 3339"),
        ("billingPeriod.endDateTime.lt=2026-04-01T00:00:00+02:00", "invalidQuery", "%2B"),
        ("state=settled&state=generated", "invalidQuery", "state: given more than once"),
    ],
)
def test_bad_queries_are_refused_with_the_spec_code(text: str, code: str, says: str) -> None:
    error = refused(text)
    assert error.code == code
    assert says in error.body()["message"]


def test_every_problem_is_reported_and_a_wrong_value_outranks_a_missing_one() -> None:
    error = refused("state=&limit=-2&colour=blue")
    assert error.code == "invalidQuery"
    assert len(error.problems) == 3


def test_hostile_names_and_values_are_quoted_in_ascii_and_cut() -> None:
    error = refused("st%00ate%ED%A0%80=1&category=" + "x" * 500)
    message = error.body()["message"]
    assert message.isascii()
    assert "(500 characters)" in message
    assert len(message) < 400


def test_parse_date_time() -> None:
    assert parse_date_time("2026-04-01T02:00:00+02:00") == datetime(2026, 4, 1, tzinfo=UTC)
    for bad in ("2026-04-01", "2026-04-01T00:00:00", "2026-02-30T00:00:00Z", 7, None, ""):
        assert parse_date_time(bad) is None


_names = st.one_of(st.sampled_from(PARAMETERS), st.text(max_size=12))
_values = st.one_of(
    st.sampled_from(["", "0", "-1", "generated", "trial", "2026-04-01T00:00:00Z"]),
    st.from_regex(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)?", fullmatch=True),
    st.text(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_names, _values), max_size=8))
def test_hostile_pairs_give_a_query_or_a_valid_error_body(pairs: list[tuple[str, str]]) -> None:
    outcome = parse_query(pairs)
    if isinstance(outcome, QueryError):
        body = outcome.body()
        assert problems("Error400", body) == []
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # no lone surrogate in the text
    else:
        page = find(outcome, [bill("B-1"), bill("B-2", month=7)])
        assert 0 <= int(page.headers()["X-Result-Count"]) <= 2


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="latin-1"), max_size=80))
def test_hostile_query_strings_never_raise(raw: str) -> None:
    pairs = parse_qsl(raw, keep_blank_values=True, errors="surrogateescape")
    outcome = parse_query(pairs)
    assert isinstance(outcome, BillQuery | QueryError)
    if isinstance(outcome, QueryError):
        assert outcome.body()["message"].isascii()
