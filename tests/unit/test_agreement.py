from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from streams.agreement import load_agreement, parse_agreement
from streams.config import REPO
from streams.errors import AgreementError

EXAMPLE = REPO / "examples" / "agreement.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agreement.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_loads_with_exact_decimals() -> None:
    agreement = load_agreement(EXAMPLE)
    assert agreement.parties == ("hgc", "dcc")
    mobile = next(t for t in agreement.tariffs if t.id == "voice-de-mobile")
    assert mobile.rate == Decimal("0.0150")
    assert isinstance(mobile.rate, Decimal)
    assert (mobile.first_increment, mobile.next_increment, mobile.per_size) == (30, 6, 60)
    assert agreement.timezone.key == "Europe/Berlin"


def test_canonical_hash_ignores_formatting_but_not_terms(tmp_path: Path) -> None:
    original = load_agreement(EXAMPLE).canonical_hash()
    text = EXAMPLE.read_text()
    reordered = text.replace(
        "currency: EUR\ntimezone: Europe/Berlin", "timezone:   Europe/Berlin\ncurrency: 'EUR'"
    )
    assert reordered != text
    assert load_agreement(write(tmp_path, reordered)).canonical_hash() == original
    trailing_zero = text.replace("rate: 0.0150", "rate: 0.015")
    assert load_agreement(write(tmp_path, trailing_zero)).canonical_hash() == original
    changed = load_agreement(write(tmp_path, text.replace("rate: 0.0150", "rate: 0.0151")))
    assert changed.canonical_hash() != original


def test_every_problem_is_listed_with_its_path(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    text = text.replace("currency: EUR", "currency: euro").replace("Europe/Berlin", "Mars/Olympus")
    text = text.replace("rate: 0.0090", "rate: cheap").replace(
        "increment: [30, 6]", "increment: [30]"
    )
    text = text.replace("per: message", "per: minute")
    with pytest.raises(AgreementError) as info:
        load_agreement(write(tmp_path, text))
    problems = info.value.problems
    assert "currency: got 'euro', want an ISO 4217 code such as 'EUR'" in problems
    assert any(p.startswith("timezone: got 'Mars/Olympus'") for p in problems)
    assert any(p.startswith("tariffs[0].rate: got 'cheap'") for p in problems)
    assert any(p.startswith("tariffs[1].increment: got [30]") for p in problems)
    assert any(p.startswith("tariffs[3].per: got 'minute', want a unit of sms") for p in problems)
    assert len(problems) == 5, problems
    assert "5 problems" in str(info.value)


def test_overlapping_prefixes_are_rejected() -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    document["tariffs"][2]["prefixes"] = ["44", "49"]
    for tariff in document["tariffs"]:
        for key in ("rate", "connect_fee", "minimum_charge"):
            if key in tariff:
                tariff[key] = str(tariff[key])
    with pytest.raises(AgreementError) as info:
        parse_agreement(document)
    assert any("already priced by 'voice-de-fixed'" in p for p in info.value.problems)


def test_unreadable_files_are_agreement_errors(tmp_path: Path) -> None:
    with pytest.raises(AgreementError, match="cannot read file"):
        load_agreement(tmp_path / "missing.yaml")
    with pytest.raises(AgreementError, match="not valid YAML"):
        load_agreement(write(tmp_path, "id: [unclosed"))
    with pytest.raises(AgreementError, match="tariffs: got None"):
        load_agreement(write(tmp_path, "id: x\nversion: 1\n"))
