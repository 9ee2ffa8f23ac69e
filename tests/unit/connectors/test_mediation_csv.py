from __future__ import annotations

import io
from datetime import UTC, datetime

from connectors.mediation.generic_csv import COLUMNS, GenericCsv, parse_start
from connectors.mediation.synth import BAD_LINE_KINDS, synth_pair

HEADER = ",".join(COLUMNS) + "\n"
GOOD = "ix,1,hgc-dcc-2026,dcc,voice,,4969,4930,2026-11-24T10:00:00Z,61,second,outbound\n"


def lines(text: str) -> list:  # type: ignore[type-arg]
    return list(GenericCsv().lines(io.StringIO(text), "f.csv"))


def test_good_line_maps_to_usage_fields() -> None:
    (line,) = lines(HEADER + GOOD)
    assert line.error is None
    assert line.number == 2
    assert line.raw == GOOD.rstrip("\n")
    assert line.fields is not None
    assert line.fields["start_ms"] == 1795514400000
    assert line.fields["product_id"] is None
    assert line.fields["raw_ref"] == "f.csv:2"


def test_columns_in_any_order_and_extra_columns_ignored() -> None:
    header = ",".join(["extra", *reversed(COLUMNS)]) + "\n"
    row = "x,outbound,second,61,2026-11-24T10:00:00Z,4930,4969,,voice,dcc,hgc-dcc-2026,1,ix\n"
    (line,) = lines(header + row)
    assert line.fields is not None and line.fields["source"] == "ix" and "extra" not in line.fields


def test_structural_faults_are_lines_with_errors_not_exceptions() -> None:
    text = (
        HEADER + GOOD + "ix,2,hgc\n" + GOOD.replace("2026-11-24T10:00:00Z", "2026-11-24T10:00:00")
    )
    text += GOOD.replace(",61,", ",,")
    got = lines(text)
    assert [line.number for line in got] == [2, 3, 4, 5]
    assert got[1].error is not None and "got 3 columns, want 12" in str(got[1].error)
    assert got[2].error is not None and "no UTC offset" in str(got[2].error)
    assert got[3].error is not None and "column 'quantity': empty" in str(got[3].error)
    assert all(line.error.code == "malformed-line" for line in got[1:])  # type: ignore[union-attr]


def test_blank_lines_skipped_and_numbers_kept() -> None:
    got = lines(HEADER + "\n" + GOOD + "\n\n" + GOOD)
    assert [line.number for line in got] == [3, 6]


def test_missing_header_columns_is_one_file_error() -> None:
    (line,) = lines("source,record_id\n" + GOOD)
    assert line.error is not None and line.error.code == "malformed-file"
    assert "agreement_id" in str(line.error)


def test_parse_start() -> None:
    assert parse_start("1795514400000") == 1795514400000
    assert parse_start("2026-11-24T11:00:00+01:00") == 1795514400000


def test_synth_files_parse_and_count_as_promised() -> None:
    seller, buyer = synth_pair(2000, datetime(2026, 11, 25, 12, tzinfo=UTC))
    for synth in (seller, buyer):
        got = lines(synth.text)
        structural = sum(1 for line in got if line.error is not None)
        assert structural == sum(v for k, v in synth.bad.items() if k.startswith("parse:"))
        assert len(got) == synth.good + sum(synth.bad.values())
        assert all(synth.bad[kind] == 4 for kind in BAD_LINE_KINDS)
    assert buyer.good < seller.good  # the buyer's switch misses a few records
    again, _ = synth_pair(2000, datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert again.text == seller.text
