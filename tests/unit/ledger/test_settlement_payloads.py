"""Settlement payloads: the builders, the shape checks (hostile values give problems, never
exceptions) and check_ledger reporting a misshapen one as bad-payload."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.ledger.check import check_ledger
from streams.ledger.entries import KINDS, LedgerError
from streams.ledger.payloads import (
    SETTLEMENT_KINDS,
    acceptance_payload,
    dispute_payload,
    entry_ref,
    payment_payload,
    resolution_payload,
    settlement_problems,
    statement_payload,
)
from streams.ledger.settlement import is_decimal_text, normalise_item_state
from tests.fakes.recon import BOOK, KEYS, NOW, TRUSTED, Party

H = bytes(range(32))
T = datetime(2026, 4, 2, tzinfo=UTC)


def good() -> dict[str, dict[str, Any]]:
    ref = (3, H)
    return {
        "statement": statement_payload(
            agreement_id=BOOK.id,
            bill_id="b",
            currency="EUR",
            period_start=datetime(2026, 3, 1, tzinfo=UTC),
            period_end=datetime(2026, 4, 1, tzinfo=UTC),
            bill_date=T,
            statement_hash=H,
            amount_due=Decimal("-12.500"),
            item_count=3,
        ),
        "acceptance": acceptance_payload(
            agreement_id=BOOK.id,
            bill_id="b",
            statement_hash=H,
            statement_entry=ref,
            resolution_entry=(5, H),
        ),
        "dispute": dispute_payload(
            agreement_id=BOOK.id,
            dispute_id="d1",
            bill_id="b",
            statement_hash=H,
            statement_entry=ref,
            items=["b-2", "b-1", "b-2"],
            records=["s/1"],
            alerts=[],
            evidence_hash=H,
            reason="differs",
        ),
        "resolution": resolution_payload(
            agreement_id=BOOK.id,
            dispute_id="d1",
            bill_id="b",
            dispute_entry=(4, H),
            outcomes={"b-2": ("withdrawn", Decimal(0)), "b-1": ("credit", Decimal("1.50"))},
        ),
        "payment": payment_payload(
            agreement_id=BOOK.id,
            bill_id="b",
            payment_id="p",
            amount=Decimal("10.0"),
            currency="EUR",
            paid=T,
        ),
    }


def test_the_builders_write_one_spelling() -> None:
    payloads = good()
    assert set(payloads) == set(SETTLEMENT_KINDS) and set(SETTLEMENT_KINDS) <= set(KINDS)
    assert payloads["statement"]["amount_due"] == "-12.5"
    assert payloads["statement"]["bill_date_ms"] == 1775088000000
    assert payloads["dispute"]["items"] == ["b-1", "b-2"]
    assert payloads["resolution"]["outcomes"] == [
        {"item": "b-1", "state": "credit", "credit": "1.5"},
        {"item": "b-2", "state": "withDrawn", "credit": "0"},
    ]
    assert payloads["acceptance"]["resolution_entry"] == {"sequence": 5, "entry_hash": H.hex()}
    assert payloads["payment"]["amount"] == "10"
    for kind, payload in payloads.items():
        assert settlement_problems(kind, payload, BOOK.id) == [], kind


def test_the_builders_refuse_misshapen_values() -> None:
    with pytest.raises(LedgerError, match="want end > start"):
        statement_payload(
            agreement_id="a", bill_id="b", currency="EUR", period_start=T, period_end=T,
            bill_date=T, statement_hash=H, amount_due=Decimal(1), item_count=1,
        )  # fmt: skip
    with pytest.raises(LedgerError, match="aware"):
        payment_payload(agreement_id="a", bill_id="b", payment_id="p", amount=Decimal(1),
                        currency="EUR", paid=datetime(2026, 1, 1))  # noqa: DTZ001  # fmt: skip
    with pytest.raises(LedgerError, match="amount"):
        payment_payload(agreement_id="a", bill_id="b", payment_id="p", amount=Decimal(0),
                        currency="EUR", paid=T)  # fmt: skip
    with pytest.raises(LedgerError, match="credit"):
        resolution_payload(agreement_id="a", dispute_id="d", bill_id="b", dispute_entry=(1, H),
                           outcomes={"i": ("paymentDue", Decimal(1))})  # fmt: skip
    with pytest.raises(LedgerError, match="items"):
        dispute_payload(agreement_id="a", dispute_id="d", bill_id="b", statement_hash=H,
                        statement_entry=(1, H), items=[], records=[], alerts=[],
                        evidence_hash=H, reason="r")  # fmt: skip
    with pytest.raises(LedgerError, match="32 bytes"):
        entry_ref((1, b"short"))
    with pytest.raises(LedgerError, match="statement_hash"):
        acceptance_payload(agreement_id="a", bill_id="b", statement_hash=b"x",
                           statement_entry=(1, H))  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "member", "value", "want"),
    [
        ("statement", "amount_due", "12.50", "canonical decimal"),
        ("statement", "amount_due", "-0", "canonical decimal"),
        ("statement", "amount_due", "1" * 65, "canonical decimal"),
        ("statement", "item_count", True, "integer"),
        ("statement", "item_count", 2**53, "integer"),
        ("statement", "statement_hash", "AB" * 32, "hex"),
        ("statement", "currency", "eur", "ISO 4217"),
        ("acceptance", "statement_entry", {"sequence": 0, "entry_hash": "00" * 32}, "sequence"),
        ("acceptance", "resolution_entry", {"sequence": 2}, "entry_hash"),
        ("dispute", "items", ["b", "a"], "sorted"),
        ("dispute", "items", ["a", "a"], "sorted"),
        ("dispute", "records", ["", "x"], "non-empty strings"),
        ("dispute", "reason", "", "non-empty"),
        ("resolution", "outcomes", [], "non-empty list"),
        ("resolution", "outcomes", [{"item": "i", "state": "settled", "credit": "0"}], "one of"),
        ("resolution", "outcomes", [{"item": "i", "state": "credit", "credit": "-1"}], ">= 0"),
        ("payment", "amount", "-5", "> 0"),
        ("payment", "paid_ms", -1, "integer"),
        ("payment", "agreement_id", "another", "hgc-dcc"),
    ],
)
def test_each_rule(kind: str, member: str, value: Any, want: str) -> None:
    problems = settlement_problems(kind, good()[kind] | {member: value}, BOOK.id)
    assert problems and want in " ".join(problems), problems


def test_members_exactly() -> None:
    for kind, payload in good().items():
        assert settlement_problems(kind, payload | {"extra": 1})
        missing = dict(payload)
        missing.popitem()
        assert settlement_problems(kind, missing)
    assert settlement_problems("statement", [1, 2]) == [
        "statement: payload: got list, want an object"
    ]
    assert settlement_problems("anchor", {}) != []


def test_decimal_text_and_state_spelling() -> None:
    assert is_decimal_text("0") and is_decimal_text("-0.5") and not is_decimal_text("0.50")
    assert not is_decimal_text(Decimal("1")) and not is_decimal_text("1E+2")
    assert normalise_item_state("withdrawn") == "withDrawn"


HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=70),
    st.text(alphabet="0123456789abcdefABCDEF", min_size=60, max_size=68),
    st.lists(st.one_of(st.none(), st.text(max_size=4), st.integers()), max_size=4),
    st.dictionaries(
        st.text(max_size=10), st.one_of(st.none(), st.integers(), st.text()), max_size=4
    ),
    st.just("\ud800"),
)


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(SETTLEMENT_KINDS), data=st.data())
def test_hostile_values_give_problems_never_exceptions(kind: str, data: st.DataObject) -> None:
    payload = good()[kind]
    member = data.draw(st.sampled_from(sorted(payload)))
    value = data.draw(HOSTILE)
    problems = settlement_problems(kind, payload | {member: value}, BOOK.id)
    assert all(isinstance(p, str) for p in problems)
    if value is None and member != "resolution_entry":
        assert problems, (member, value)
    if isinstance(value, bool | float) or (isinstance(value, int) and abs(value) > 2**53):
        assert problems, (member, value)


@settings(max_examples=100, deadline=None)
@given(kind=st.sampled_from(SETTLEMENT_KINDS), value=HOSTILE)
def test_hostile_payloads(kind: str, value: Any) -> None:
    assert settlement_problems(kind, value, BOOK.id) != [] or isinstance(value, dict)


def test_check_ledger_reports_a_misshapen_settlement_payload() -> None:
    party = Party("hgc")
    payloads = good()
    party.entries.append(party.tip.append("statement", payloads["statement"], KEYS["hgc"], NOW))
    assert check_ledger(party.entries, "hgc", trusted=TRUSTED) == []
    bad = payloads["payment"] | {"amount": "10.00"}
    entry = party.tip.append("payment", bad, KEYS["hgc"], NOW)
    findings = check_ledger([*party.entries, entry], "hgc", trusted=TRUSTED)
    assert [(f.kind, f.sequence) for f in findings] == [("bad-payload", entry.sequence)]
    assert "payment: amount" in findings[0].detail
