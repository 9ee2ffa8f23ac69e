"""The mediation formats: JSON Lines, Asterisk and FreeSWITCH CDRs, the registry and options.

Expected epoch ms are computed by hand from UTC (``calendar.timegm``), never by the code under
test; the anchor is 2026-11-24T10:00:00Z = 1795514400000 (11:00 in Berlin, CET = UTC+1).
Europe/Berlin DST 2026: 29 March 02:00 CET -> 03:00 CEST, 25 October 03:00 CEST -> 02:00 CET.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.mediation._common import called_number, calling_number, local_ms
from connectors.mediation.asterisk import layout
from connectors.mediation.base import FormatOptions, FormatOptionsError, Line, parse_timezone
from connectors.mediation.generic_csv import COLUMNS, GenericCsv
from connectors.mediation.ingest import ingest_files
from connectors.mediation.registry import FORMAT_NAMES, make_format
from connectors.mediation.synth import synth_pair
from streams.core.errors import InvalidRecord
from streams.rating.validation import parse_usage
from streams.runtime.config import Settings
from streams.runtime.registry import make_codec

DATA = Path(__file__).resolve().parents[2] / "data" / "mediation"
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
OPTIONS = FormatOptions(
    agreement_id="hgc-dcc-2026", partner="dcc", direction="outbound", timezone=BERLIN
)
SAMPLES = {  # format: (file, numbers of the good lines, numbers of the malformed lines)
    "asterisk": ("asterisk-Master.csv", [1, 2, 4, 6], [7, 8]),
    "freeswitch": ("freeswitch-Master.csv", [1, 2, 5, 6], [7, 8]),
    "jsonl": ("usage.jsonl", [1, 2, 3, 4], [6, 7, 8, 9]),
}
UNANSWERED = {"asterisk": [3, 5], "freeswitch": [3, 4], "jsonl": []}
"""Numbers of the sample lines that are calls never answered: well-formed, not billable."""
# A complete Asterisk line with the default 16 columns (no uniqueid, no userfield).
AST16 = (
    '"pbx-fra-01","4969123456","4930901820","from-internal","""Alice"" <4969123456>",'
    '"PJSIP/alice-00000001","PJSIP/carrier-dcc-00000002","Dial",'
    '"PJSIP/4930901820@carrier-dcc,60,tT","2026-11-24 10:59:50","2026-11-24 11:00:00",'
    '"2026-11-24 11:01:01",71,61,"ANSWERED","DOCUMENTATION"'
)
# A FreeSWITCH line of the 13-column template built into mod_cdr_csv (note ', "' before the
# account code, as the template writes it).
FS13 = (
    '"Alice","4969123456","4930901820","default","2026-11-24 10:59:50","2026-11-24 11:00:00",'
    '"2026-11-24 11:01:01","71","61","NORMAL_CLEARING","6f1f3b1c-6b0e-4a8e-9a55-0c5f0e1d2a02",'
    '"9b0d7a52-1e4c-4f7e-8a2d-3c4b5d6e7f02", "fs-ber-01"'
)


def read(fmt: str, text: str, options: FormatOptions = OPTIONS) -> list[Line]:
    return list(make_format(fmt, options).lines(io.StringIO(text), "f"))


def read_sample(fmt: str, options: FormatOptions = OPTIONS) -> dict[int, Line]:
    name = SAMPLES[fmt][0]
    with (DATA / name).open(encoding="utf-8") as stream:
        return {line.number: line for line in make_format(fmt, options).lines(stream, name)}


def fields(line: Line) -> dict[str, Any]:
    assert line.error is None, line.error
    assert line.fields is not None
    return dict(line.fields)


def problems(line: Line) -> tuple[str, ...]:
    assert line.fields is None and line.error is not None
    assert line.error.code == "malformed-line"
    return line.error.problems


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- registry and options --------------------------------------------------------------------


def test_registry_names_and_unknown_format() -> None:
    assert FORMAT_NAMES == ("csv", "jsonl", "asterisk", "freeswitch")
    assert all(make_format(name, OPTIONS).name == name for name in FORMAT_NAMES)
    with pytest.raises(FormatOptionsError, match="want one of"):
        make_format("cisco", OPTIONS)


def test_csv_without_options_is_the_generic_csv() -> None:
    assert isinstance(make_format("csv"), GenericCsv)
    assert isinstance(make_format("csv", FormatOptions(timezone=BERLIN)), GenericCsv)


@pytest.mark.parametrize("fmt", ["asterisk", "freeswitch"])
def test_switch_formats_need_agreement_partner_direction_before_reading(fmt: str) -> None:
    with pytest.raises(FormatOptionsError, match="agreement_id, partner, direction"):
        make_format(fmt, FormatOptions())
    with pytest.raises(FormatOptionsError, match="partner"):
        make_format(fmt, FormatOptions(agreement_id="a", direction="inbound"))
    with pytest.raises(FormatOptionsError, match="measured in seconds"):
        make_format(
            fmt, FormatOptions(agreement_id="a", partner="p", direction="inbound", product="sms")
        )


def test_options_are_checked_when_made() -> None:
    with pytest.raises(FormatOptionsError, match="direction: got 'out'"):
        FormatOptions(direction="out")
    assert parse_timezone("Europe/Berlin") == BERLIN
    for bad in ("Mars/Olympus", "../etc/passwd", ""):
        with pytest.raises(FormatOptionsError, match="IANA"):
            parse_timezone(bad)
    assert FormatOptions().timezone == ZoneInfo("UTC")
    assert OPTIONS.record_defaults() == {
        "agreement_id": "hgc-dcc-2026",
        "partner": "dcc",
        "direction": "outbound",
    }


def test_ingest_rejects_bad_options_before_touching_kafka() -> None:
    with pytest.raises(FormatOptionsError):
        ingest_files([], Settings(kafka="127.0.0.1:1"), "asterisk")


# --- shared helpers: local time, numbers -----------------------------------------------------


def test_local_time_in_the_switch_zone() -> None:
    assert local_ms("2026-11-24 11:00:00", BERLIN) == 1795514400000  # CET, UTC+1
    assert local_ms("2026-11-24 10:00:00", ZoneInfo("UTC")) == 1795514400000
    assert local_ms("2026-07-01 12:00:00", BERLIN) == 1782900000000  # CEST, UTC+2


def test_local_time_across_dst_changes() -> None:
    # Spring forward: 01:30 CET and 03:30 CEST are one hour apart; 02:30 never happens.
    assert local_ms("2026-03-29 01:30:00", BERLIN) == 1774744200000  # 00:30Z
    assert local_ms("2026-03-29 03:30:00", BERLIN) == 1774747800000  # 01:30Z
    with pytest.raises(ValueError, match="exists in Europe/Berlin: this one does not"):
        local_ms("2026-03-29 02:30:00", BERLIN)
    # Fall back: 02:30 happens twice; fold=0 takes the first (CEST, 00:30Z), not 01:30Z.
    assert local_ms("2026-10-25 02:30:00", BERLIN) == 1792888200000
    assert local_ms("2026-10-25 03:30:00", BERLIN) == 1792895400000  # CET, 02:30Z


@pytest.mark.parametrize(
    "text", ["", "2026-11-24T11:00:00", "2026-11-24 11:00", "2026-13-01 00:00:00", "24/11/2026"]
)
def test_local_time_shapes_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        local_ms(text, BERLIN)


def test_number_normalisation() -> None:
    assert called_number(" +33 1 42-68.53(00) ") == "33142685300"
    assert called_number("s") == "s"  # Asterisk's 's' extension: kept, validation rejects it
    assert called_number("*97") == "*97"
    assert called_number("") is None
    assert calling_number("+4969123456") == "4969123456"
    assert calling_number("anonymous") is None
    assert calling_number("١٢٣") is None  # digits, but not ASCII ones


# --- Asterisk ---------------------------------------------------------------------------------


def test_asterisk_sample_maps_to_exact_fields() -> None:
    lines = read_sample("asterisk")
    assert sorted(lines) == list(range(1, 9))
    raw2 = lines[2].raw
    assert fields(lines[2]) == {
        "source": "pbx-fra-01",
        "record_id": f"pbx-fra-01-1795514390.1:{sha(raw2)[:16]}",
        "agreement_id": "hgc-dcc-2026",
        "partner": "dcc",
        "product": "voice",
        "product_id": None,
        "a_number": "4969123456",
        "b_number": "4930901820",
        "start_ms": 1795514400000,  # answer 11:00:00 CET
        "quantity": "61",
        "unit": "second",
        "direction": "outbound",
        "raw_ref": "asterisk-Master.csv:2",
    }
    good = [fields(lines[n]) for n in SAMPLES["asterisk"][1]]
    assert [f["start_ms"] for f in good] == [
        1774747800000,  # answered 2026-03-29 03:30:00 CEST (DST day) = 01:30Z
        1795514400000,
        1795514704000,  # ANSWERED: from answer 11:05:04
        1795515612000,
    ]
    assert [f["quantity"] for f in good] == ["60", "61", "66", "301"]
    assert (good[3]["a_number"], good[3]["b_number"]) == (None, "33142685300")  # anonymous, '+'
    assert [lines[n].not_billable for n in UNANSWERED["asterisk"]] == [
        "not answered: disposition 'NO ANSWER'",
        "not answered: disposition 'BUSY'",
    ]


def test_asterisk_channel_with_several_cdrs_keeps_them_apart() -> None:
    lines = read_sample("asterisk")
    answered = fields(lines[4])  # one Dial() to two parties; line 3 is the one not answered
    # After a bridge change the same channel writes a second answered CDR, same uniqueid.
    later = lines[4].raw.replace("carrier-dcc-b-00000005", "carrier-dcc-b-00000006")
    (second,) = read("asterisk", later)
    assert answered["record_id"].startswith("pbx-fra-01-1795514700.3:")
    assert fields(second)["record_id"].startswith("pbx-fra-01-1795514700.3:")
    assert fields(second)["record_id"] != answered["record_id"]
    again = read_sample("asterisk")
    assert [line.fields for line in again.values()] == [line.fields for line in lines.values()]


def test_asterisk_malformed_lines_list_every_problem() -> None:
    lines = read_sample("asterisk")
    assert problems(lines[7]) == ("CSV quoting: unexpected end of data",)
    assert problems(lines[8]) == (
        "no source: the asterisk CDR's account code is empty and no source option was given",
        "field 'answer': got '2026-11-24 11:30:5', want a time like 2026-11-24 10:00:00",
        "field 'billsec': got '-1', want whole seconds (at most 9 digits)",
    )
    assert lines[8].raw.startswith('"","4969123456"')


def test_asterisk_options_applied() -> None:
    options = FormatOptions(
        source="pbx-fra",
        agreement_id="hgc-tel-2027",
        partner="tel",
        direction="inbound",
        timezone=ZoneInfo("UTC"),
    )
    lines = read_sample("asterisk", options)
    got = fields(lines[2])
    assert (got["source"], got["agreement_id"], got["partner"], got["direction"]) == (
        "pbx-fra",
        "hgc-tel-2027",
        "tel",
        "inbound",
    )
    assert got["start_ms"] == 1795514400000 + 3_600_000  # 11:00:00 read as UTC
    assert len(problems(lines[8])) == 2  # the source now comes from the options


def test_asterisk_default_layout_without_uniqueid_hashes_the_line() -> None:
    (line,) = read("asterisk", AST16 + "\r\n")
    assert line.raw == AST16
    assert fields(line)["record_id"] == sha(AST16)[:32]
    assert fields(line)["start_ms"] == 1795514400000
    (again,) = read("asterisk", AST16 + "\n")
    assert again.fields == line.fields


def last_names(row: list[str], count: int) -> tuple[str, ...]:
    names = layout(row)
    assert names is not None and len(names) == len(row)
    return names[-count:]


def test_asterisk_optional_columns() -> None:
    row = next(csv.reader([AST16]))
    assert layout(row) is not None and len(row) == 16
    assert last_names([*row, "pbx-fra-01-1795514390.1"], 1) == ("uniqueid",)
    assert last_names([*row, "1795514390.1"], 1) == ("uniqueid",)
    assert last_names([*row, "transit"], 1) == ("userfield",)
    assert last_names([*row, "u", "f"], 2) == ("uniqueid", "userfield")
    new = ("peeraccount", "linkedid", "sequence")
    assert last_names([*row, "peer", "1795514390.1", "7"], 3) == new
    assert last_names([*row, "1795514390.1", "peer", "1795514390.1", "7"], 4) == ("uniqueid", *new)
    assert last_names([*row, "u", "f", "peer", "1795514390.1", "7"], 5) == (
        "uniqueid",
        "userfield",
        *new,
    )
    assert layout(row[:15]) is None and layout([*row, *"abcdef"]) is None
    (line,) = read("asterisk", AST16 + ',"1795514390.1","transit","","1795514390.1",7')
    assert fields(line)["record_id"].startswith("1795514390.1:")
    (line,) = read("asterisk", AST16 + ',"transit"')
    assert fields(line)["record_id"] == sha(AST16 + ',"transit"')[:32]
    (short,) = read("asterisk", AST16.rsplit(",", 1)[0])
    assert problems(short)[0].startswith("got 15 columns, want 16 to 21")


def test_asterisk_quoting_in_fields() -> None:
    clid = '"""Bob, the ""Builder"""" <4969>"'  # value: "Bob, the "Builder"" <4969>
    (line,) = read("asterisk", AST16.replace('"""Alice"" <4969123456>"', clid))
    assert fields(line)["a_number"] == "4969123456"
    (bad,) = read("asterisk", AST16.replace('"""Alice""', '""Alice"'))  # a bare quote
    assert problems(bad)[0].startswith("CSV quoting:")


def test_asterisk_times_and_values() -> None:
    nonexistent = AST16.replace("2026-11-24 11:00:00", "2026-03-29 02:30:00")
    (line,) = read("asterisk", nonexistent)
    assert problems(line)[0] == (
        "field 'answer': got '2026-03-29 02:30:00', want a time that exists in Europe/Berlin: "
        "this one does not (skipped by a DST change)"
    )
    no_answer_time = AST16.replace('"2026-11-24 11:00:00"', "")
    (line,) = read("asterisk", no_answer_time)
    assert problems(line) == (
        "field 'answer': got '', want a time like 2026-11-24 10:00:00 (the call was answered)",
    )
    (line,) = read("asterisk", AST16.replace('"4930901820","from', '"s","from'))
    assert fields(line)["b_number"] == "s"  # structure is fine; the worker rejects it
    with pytest.raises(InvalidRecord, match="b_number"):
        parse_usage(fields(line), now=NOW)


# --- FreeSWITCH -------------------------------------------------------------------------------


def test_freeswitch_sample_maps_to_exact_fields() -> None:
    lines = read_sample("freeswitch")
    assert sorted(lines) == list(range(1, 9))
    assert fields(lines[2]) == {
        "source": "fs-ber-01",
        "record_id": "6f1f3b1c-6b0e-4a8e-9a55-0c5f0e1d2a02",
        "agreement_id": "hgc-dcc-2026",
        "partner": "dcc",
        "product": "voice",
        "product_id": None,
        "a_number": "4969123456",  # '+4969123456'
        "b_number": "4930901820",
        "start_ms": 1795514400000,
        "quantity": "61",
        "unit": "second",
        "direction": "outbound",
        "raw_ref": "freeswitch-Master.csv:2",
    }
    good = [fields(lines[n]) for n in SAMPLES["freeswitch"][1]]
    assert [f["start_ms"] for f in good] == [
        1774747800000,  # DST day, 03:30:00 CEST
        1795514400000,
        1795515612000,
        1795516205000,  # caller name with unescaped quotes still read
    ]
    assert [f["quantity"] for f in good] == ["60", "61", "301", "60"]
    assert good[2]["b_number"] == "33142685300"  # '+33 1 42 68 53 00'
    # NO_ANSWER and USER_BUSY: empty answer_stamp, billsec 0
    assert {lines[n].not_billable for n in UNANSWERED["freeswitch"]} == {
        "not answered: no answer_stamp"
    }


def test_freeswitch_malformed_lines_list_every_problem() -> None:
    lines = read_sample("freeswitch")
    assert problems(lines[7]) == (
        "got 6 columns, want 13 (built-in default template) or 15 (vanilla 'example' template)",
    )
    assert problems(lines[8]) == (
        "no record id: the freeswitch CDR's call id is empty",
        "field 'answer_stamp': got '24/11/2026 11:50:00', want a time like 2026-11-24 10:00:00",
        "field 'billsec': got 'sixty', want whole seconds (at most 9 digits)",
    )


def test_freeswitch_builtin_template_and_options() -> None:
    (line,) = read("freeswitch", FS13 + "\n")
    got = fields(line)
    assert (got["source"], got["record_id"]) == (
        "fs-ber-01",
        "6f1f3b1c-6b0e-4a8e-9a55-0c5f0e1d2a02",
    )
    options = FormatOptions(source="fs-ber", agreement_id="x", partner="y", direction="inbound")
    (line,) = read("freeswitch", FS13.replace('"fs-ber-01"', '""'), options)
    got = fields(line)
    assert (got["source"], got["agreement_id"], got["partner"], got["direction"]) == (
        "fs-ber",
        "x",
        "y",
        "inbound",
    )
    assert got["start_ms"] == 1795514400000 + 3_600_000  # default zone UTC
    (line,) = read("freeswitch", FS13.replace('"fs-ber-01"', '""'))
    assert problems(line) == (
        "no source: the freeswitch CDR's account code is empty and no source option was given",
    )


# --- JSON Lines -------------------------------------------------------------------------------


def test_jsonl_sample_maps_to_exact_fields() -> None:
    lines = read_sample("jsonl", FormatOptions())
    assert sorted(lines) == [1, 2, 3, 4, 6, 7, 8, 9]  # line 5 is blank
    assert fields(lines[4]) == {
        "source": "ix",
        "record_id": "j-4",
        "agreement_id": "hgc-dcc-2026",
        "partner": "dcc",
        "product": "data",
        "product_id": "sonata-ovc-42",
        "a_number": None,
        "b_number": None,
        "start_ms": 1795515000000,
        "quantity": "1500",  # 1.5E+3, read as Decimal, written plain
        "unit": "kilobyte",
        "direction": "outbound",
        "raw_ref": "usage.jsonl:4",
    }
    good = [fields(lines[n]) for n in SAMPLES["jsonl"][1]]
    assert [f["start_ms"] for f in good] == [
        1795514400000,
        1795514704000,
        1795514700000,
        1795515000000,
    ]
    assert [f["quantity"] for f in good] == ["61", "66", "1", "1500"]
    assert "note" not in good[2]


def test_jsonl_malformed_lines_list_every_problem() -> None:
    lines = read_sample("jsonl", FormatOptions())
    assert problems(lines[6])[0].startswith("not JSON: Expecting property name")
    assert problems(lines[7]) == ('got array ["ix", "j-6", "hgc-dcc-2026"], want a JSON object',)
    assert problems(lines[8]) == (
        "field 'record_id': got number 7, want a non-empty string",
        "field 'agreement_id': got null, want a non-empty string",
        "field 'partner': got null, want a non-empty string",
        "field 'direction': got null, want a non-empty string",
        "field 'quantity': got boolean true, want a decimal string or number",
        "field 'start': got '2026-11-24 11:00:00', want ISO-8601 with offset "
        "(no UTC offset: add 'Z' or '+hh:mm')",
    )
    assert problems(lines[9]) == ("not JSON: NaN is not a number in JSON",)


def test_jsonl_options_fill_only_what_a_record_lacks() -> None:
    record = (
        '{"record_id": "r", "product": "voice", "b_number": "4930", "partner": "tel", '
        '"start_ms": 1795514400000, "quantity": "0.5", "unit": "second"}\n'
    )
    got = fields(read("jsonl", record, replace(OPTIONS, source="ix"))[0])
    assert (got["source"], got["agreement_id"], got["partner"], got["direction"]) == (
        "ix",
        "hgc-dcc-2026",
        "tel",  # the record's own value wins
        "outbound",
    )
    assert got["quantity"] == "0.5"


def test_jsonl_start_and_numbers() -> None:
    base = (
        '{"source": "ix", "record_id": "r", "agreement_id": "a", "partner": "p", '
        '"product": "voice", "unit": "second", "direction": "outbound", "b_number": "49", '
    )
    both = base + '"start": "2026-11-24T10:00:00Z", "start_ms": 1795514400000, "quantity": 1}'
    assert fields(read("jsonl", both)[0])["start_ms"] == 1795514400000
    clash = base + '"start": "2026-11-24T10:00:00Z", "start_ms": 1795514400001, "quantity": 1}'
    assert "but 'start'" in problems(read("jsonl", clash)[0])[0]
    neither = base + '"quantity": 0.1}'
    assert problems(read("jsonl", neither)[0]) == (
        "field 'start': missing, want 'start' (ISO-8601) or 'start_ms'",
    )
    float_ms = base + '"start_ms": 1795514400000.0, "quantity": 1}'
    assert "want an integer" in problems(read("jsonl", float_ms)[0])[0]
    tiny = fields(read("jsonl", base + '"start_ms": 1795514400000, "quantity": 1e-7}')[0])
    assert tiny["quantity"] == "0.0000001"
    assert not any(isinstance(value, float) for value in tiny.values())


def test_jsonl_bom_blank_lines_and_deep_nesting() -> None:
    record = '{"source": "ix"}'
    lines = read("jsonl", "\ufeff" + record + "\n\n" + "[" * 60_000 + "\n")
    assert [line.number for line in lines] == [1, 3]
    assert lines[0].raw.startswith("\ufeff")
    assert "field 'record_id'" in problems(lines[0])[0]  # parsed despite the BOM
    assert problems(lines[1])[0].startswith("not JSON")


# --- generic CSV with options -----------------------------------------------------------------


def test_csv_missing_columns_taken_from_options() -> None:
    header = "source,record_id,product,b_number,start,quantity,unit\n"
    row = "ix,1,voice,4930,2026-11-24T10:00:00Z,61,second\n"
    lines = read("csv", header + "\n" + row, OPTIONS)
    (line,) = lines
    assert (line.number, line.raw) == (3, row.rstrip("\n"))
    got = fields(line)
    assert (got["agreement_id"], got["partner"], got["direction"]) == (
        "hgc-dcc-2026",
        "dcc",
        "outbound",
    )
    (short,) = read("csv", header + "ix,1\n", OPTIONS)
    assert short.raw == "ix,1" and short.error is not None
    (no_options,) = read("csv", header + row, FormatOptions())
    assert no_options.error is not None and no_options.error.code == "malformed-file"


def test_csv_complete_file_reads_as_without_options() -> None:
    seller, _ = synth_pair(300, datetime(2026, 11, 25, 12, tzinfo=UTC))
    plain = list(GenericCsv().lines(io.StringIO(seller.text), "f"))
    with_options = read("csv", seller.text, replace(OPTIONS, source="other"))
    assert list(map(_comparable, with_options)) == list(map(_comparable, plain))
    assert COLUMNS[0] == "source"


# --- what the worker accepts ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_good_lines_pass_validation_and_encode(fmt: str) -> None:
    lines = read_sample(fmt)
    _, good, bad = SAMPLES[fmt]
    assert sorted(lines) == sorted(good + bad + UNANSWERED[fmt])
    codec = make_codec()
    for number in good:
        record = fields(lines[number])
        usage = parse_usage(record, now=NOW)
        assert usage.record_id == record["record_id"]
        assert usage.quantity == Decimal(record["quantity"])
        decoded = codec.decode("usage_record", codec.encode("usage_record", record))
        assert decoded == record
    for number in bad:
        assert problems(lines[number])


def _comparable(line: Line) -> tuple[Any, ...]:
    error = line.error and (line.error.code, line.error.problems)
    return (line.number, line.raw, line.fields, error)
