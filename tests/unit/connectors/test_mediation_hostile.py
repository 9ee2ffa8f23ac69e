"""Hostile mediation files: every fault found when Bilat was attacked, one regression test each,
then property tests that throw generated files at every format.

What must hold whatever a file holds: ``ingest_files`` never raises for content; every non-blank
line is produced, dead-lettered (stage ``parse``, with its file, line and reasons) or counted as
not billable, exactly once; no message it writes comes near Kafka's size limit and no reason
repeats a huge value. Files are written as bytes and read as ingest reads them.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.mediation.base import FormatOptions, Line
from connectors.mediation.generic_csv import COLUMNS
from connectors.mediation.ingest import IngestReport, ingest_files
from connectors.mediation.registry import FORMAT_NAMES, make_format
from streams.runtime.config import Settings
from streams.runtime.registry import make_codec

CODEC = make_codec()
BERLIN = ZoneInfo("Europe/Berlin")
OPTIONS = FormatOptions(
    agreement_id="hgc-dcc-2026", partner="dcc", direction="outbound", timezone=BERLIN
)
HEADER = ",".join(COLUMNS)
CSV_GOOD = "ix,1,hgc-dcc-2026,dcc,voice,,4969,4930,2026-11-24T10:00:00Z,61,second,outbound"
JSON_GOOD = (
    '{"source": "ix", "record_id": "j-1", "agreement_id": "hgc-dcc-2026", "partner": "dcc", '
    '"product": "voice", "b_number": "4930", "start": "2026-11-24T10:00:00Z", "quantity": "61", '
    '"unit": "second", "direction": "outbound"}'
)
# Answered: start 10:59:50, answer 11:00:00, end 11:01:01 (Berlin), duration 71, billsec 61.
AST_GOOD = (
    '"pbx-fra-01","4969123456","4930901820","from-internal","""Alice"" <4969123456>",'
    '"PJSIP/alice-01","PJSIP/dcc-02","Dial","PJSIP/4930901820@dcc,60","2026-11-24 10:59:50",'
    '"2026-11-24 11:00:00","2026-11-24 11:01:01",71,61,"ANSWERED","DOCUMENTATION",'
    '"pbx-fra-01-1795514390.1",""'
)
AST_BUSY = (
    '"pbx-fra-01","4969123458","999","from-internal","""Carol"" <4969123458>",'
    '"PJSIP/carol-06","PJSIP/dcc-07","Dial","PJSIP/999@dcc,60","2026-11-24 11:10:00",,'
    '"2026-11-24 11:10:03",3,0,"BUSY","DOCUMENTATION","pbx-fra-01-1795515000.6",""'
)
FS_GOOD = (
    '"Alice","+4969123456","4930901820","default","2026-11-24 10:59:50","2026-11-24 11:00:00",'
    '"2026-11-24 11:01:01","71","61","NORMAL_CLEARING","6f1f3b1c-6b0e-4a8e-9a55-0c5f0e1d2a02",'
    '"9b0d7a52-1e4c-4f7e-8a2d-3c4b5d6e7f02","fs-ber-01","PCMA","PCMA"'
)
FS_NO_ANSWER = (
    '"Bob","4969123457","999","default","2026-11-24 11:05:00","","2026-11-24 11:05:30","30","0",'
    '"NO_ANSWER","6f1f3b1c-6b0e-4a8e-9a55-0c5f0e1d2a03","","fs-ber-01","PCMA","PCMA"'
)
GOOD = {"csv": CSV_GOOD, "jsonl": JSON_GOOD, "asterisk": AST_GOOD, "freeswitch": FS_GOOD}
MAX_MESSAGE = 1_000_000
"""librdkafka's default ``message.max.bytes``: a bigger message is refused when produced."""
MAX_REASON = 1_000
"""No reason a format gives may be longer (the longest echo is a few hundred characters)."""


def read(fmt: str, data: bytes, options: FormatOptions = OPTIONS) -> list[Line]:
    """The lines of ``data`` as ingest reads a file: UTF-8 with surrogateescape, newline=None."""
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")
    return list(make_format(fmt, options).lines(stream, "f"))


def problems(line: Line) -> tuple[str, ...]:
    assert line.fields is None and line.error is not None, line
    return line.error.problems


class KeptSink:
    """A sink that keeps what ingest sends and counts it stored, refusing what Kafka would."""

    def __init__(self, report: IngestReport) -> None:
        self.report = report
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    def send(self, logical: str, key: bytes | None, value: bytes, counter: str) -> None:
        assert len(value) + len(key or b"") < MAX_MESSAGE, f"{logical}: {len(value)} bytes"
        self.sent.append((logical, key, value))
        setattr(self.report, counter, getattr(self.report, counter) + 1)

    def flush(self) -> None:
        pass

    def decoded(self, logical: str) -> list[dict[str, Any]]:
        subject = "usage_record" if logical == "usage.cdr" else "dead_letter"
        return [CODEC.decode(subject, value) for topic, _, value in self.sent if topic == logical]


def ingest(
    fmt: str, data: bytes, folder: Path, options: FormatOptions = OPTIONS
) -> tuple[IngestReport, KeptSink]:
    path = folder / "Master.csv"
    path.write_bytes(data)
    sinks: list[KeptSink] = []

    def make(_settings: Settings, report: IngestReport) -> KeptSink:
        sinks.append(KeptSink(report))
        return sinks[0]

    report = ingest_files([path], Settings(kafka="127.0.0.1:1"), fmt, options=options, sink=make)
    return report, sinks[0]


# --- item 3: ingest ---------------------------------------------------------------------------


def test_csv_line_beyond_the_csv_field_limit_is_a_dead_letter_and_ingest_goes_on(
    tmp_path: Path,
) -> None:
    # Was: _csv.Error "field larger than field limit (131072)" out of ingest, file half sent.
    huge = "ix," + "x" * 200_000
    data = f"{HEADER}\n{CSV_GOOD}\n{huge}\n{CSV_GOOD.replace(',1,', ',2,')}\n".encode()
    report, sink = ingest("csv", data, tmp_path, FormatOptions())
    assert (report.lines, report.produced, report.dead_lettered) == (3, 2, 1)
    (letter,) = sink.decoded("usage.dlq")
    assert letter["stage"] == "parse" and letter["source_offset"] == 3
    assert letter["source_topic"] == f"file:{tmp_path / 'Master.csv'}"
    assert letter["errors"] == ["got a line of 200,003 characters, want at most 65,536"]
    assert letter["error_message"].startswith(f"parse failed at {tmp_path / 'Master.csv'}:3: ")


def test_overlong_lines_are_dead_letters_in_every_format() -> None:
    for fmt, good in GOOD.items():
        header = HEADER + "\n" if fmt == "csv" else ""
        data = f"{header}{good}\n{'y' * 150_000}\r\n{good}\n".encode()
        got = read(fmt, data, OPTIONS if fmt != "csv" else FormatOptions())
        assert [line.fields is not None for line in got] == [True, False, True], fmt
        assert problems(got[1]) == ("got a line of 150,000 characters, want at most 65,536",)
        assert len(got[1].raw) == 65_536  # what is kept of it is bounded too


def test_csv_starting_with_a_byte_order_mark_is_read() -> None:
    # Was: the whole file refused, "header lacks columns ['source']; got ['\ufeffsource', ...".
    (line,) = read("csv", f"\ufeff{HEADER}\r\n{CSV_GOOD}\r\n".encode(), FormatOptions())
    assert line.fields is not None and line.fields["source"] == "ix"
    (line,) = read("csv", f"\ufeff{HEADER}\n{CSV_GOOD}\n".encode(), OPTIONS)  # with defaults
    assert line.fields is not None


def test_jsonl_duplicate_keys_are_refused_naming_the_key() -> None:
    # Was: accepted with the last value, so the two parties' parsers could disagree.
    twice = JSON_GOOD.replace('"quantity": "61"', '"quantity": "61", "quantity": "6100"')
    nested = JSON_GOOD.replace('"product": "voice"', '"product": "voice", "x": {"a": 1, "a": 2}')
    thrice = JSON_GOOD.replace('{"source": "ix"', '{"source": "ix", "source": "a", "source": "b"')
    got = read("jsonl", "\n".join([twice, nested, thrice, JSON_GOOD]).encode())
    assert problems(got[0]) == ("key 'quantity' appears 2 times in one object, want it once",)
    assert problems(got[1]) == ("key 'a' appears 2 times in one object, want it once",)
    assert problems(got[2]) == ("key 'source' appears 3 times in one object, want it once",)
    assert got[3].fields is not None


def test_csv_header_naming_a_column_twice_is_refused() -> None:
    header = HEADER.replace("product_id", "quantity")
    (line,) = read("csv", f"{header}\n{CSV_GOOD}\n".encode(), FormatOptions())
    assert line.error is not None and line.error.code == "malformed-file"
    assert line.error.problems == (
        "f: header names columns ['quantity'] more than once, want each once",
    )
    extra = HEADER + ",,"  # empty trailing names are ignored columns: harmless
    (line,) = read("csv", f"{extra}\n{CSV_GOOD},,\n".encode(), FormatOptions())
    assert line.fields is not None


def test_invalid_utf8_in_a_read_field_is_a_dead_letter_in_an_ignored_one_it_is_not() -> None:
    data = AST_GOOD.encode().replace(b'"pbx-fra-01",', b'"pbx-fra-\xff01",', 1)
    (line,) = read("asterisk", data)
    assert problems(line) == (
        "field 'source': got 'pbx-fra-\\udcff01', want UTF-8 text (byte 0xff at character 9 "
        "is not)",
    )
    latin1_name = AST_GOOD.encode().replace(b"Alice", "Mélanie".encode("latin-1"))
    (line,) = read("asterisk", latin1_name)
    assert line.fields is not None  # a caller name in Latin-1 does not lose the call
    for fmt in ("csv", "jsonl"):
        header = HEADER.encode() + b"\n" if fmt == "csv" else b""
        data = header + GOOD[fmt].encode().replace(b"ix", b"i\xc3x", 1)
        (line,) = read(fmt, data, FormatOptions())
        assert "want UTF-8 text (byte 0xc3 at character 2 is not)" in problems(line)[0], fmt


def test_nul_bytes_make_a_line_malformed() -> None:
    for fmt, good in GOOD.items():
        header = HEADER + "\n" if fmt == "csv" else ""
        damaged = good[:10] + "\0" + good[10:]
        data = f"{header}{good}\n{damaged}\n{chr(0) * 40}\n".encode()
        got = read(fmt, data, OPTIONS if fmt != "csv" else FormatOptions())
        assert [line.fields is not None for line in got] == [True, False, False], fmt
        assert problems(got[1]) == (
            "got a NUL byte at character 11, want text (NULs mark a damaged file)",
        )


def test_cr_only_line_ends_and_blank_lines() -> None:
    data = f"{HEADER}\r{CSV_GOOD}\r\r{CSV_GOOD.replace(',1,', ',2,')}\r".encode()
    assert [line.number for line in read("csv", data, FormatOptions())] == [2, 4]
    data = f"{AST_GOOD}\r \t\r{AST_GOOD}\r\n".encode()
    assert [line.number for line in read("asterisk", data)] == [1, 3]
    data = f"{JSON_GOOD}\r\x0c\r".encode()  # a form feed is no blank line: accounted for
    got = read("jsonl", data)
    assert [line.number for line in got] == [1, 2] and got[1].error is not None


def test_empty_and_header_only_files_have_no_lines(tmp_path: Path) -> None:
    for data in (b"", b"\n\n", b"\xef\xbb\xbf", HEADER.encode(), f"\ufeff{HEADER}\r\n\n".encode()):
        report, sink = ingest("csv", data, tmp_path, FormatOptions())
        assert (report.lines, report.produced, report.dead_lettered, sink.sent) == (0, 0, 0, [])
    for fmt in ("jsonl", "asterisk", "freeswitch"):
        report, _ = ingest(fmt, b"\xef\xbb\xbf\n", tmp_path)
        assert report.lines == 0


def test_json_lines_that_are_no_object_or_not_json() -> None:
    texts = ["[1, 2]", '"text"', "12", "null", "true", "{", "[" * 60_000, "{} {}"]
    got = read("jsonl", "\n".join(texts).encode())
    assert [line.number for line in got] == list(range(1, 9))
    assert all(line.error is not None for line in got)
    assert problems(got[0]) == ("got array [1, 2], want a JSON object",)
    assert problems(got[3]) == ("got null, want a JSON object",)


def test_echoes_of_huge_values_are_bounded() -> None:
    start = "x" * 60_000
    record = JSON_GOOD.replace("2026-11-24T10:00:00Z", start)
    (line,) = read("jsonl", record.encode())
    (problem,) = problems(line)
    assert len(problem) < 250 and "(60,000 characters)" in problem
    (line,) = read("jsonl", JSON_GOOD.replace('"61"', "1" * 4000).encode())
    assert len(problems(line)[0]) < 250  # a 4000-digit number
    row = CSV_GOOD.replace("2026-11-24T10:00:00Z", "y" * 60_000)
    (line,) = read("csv", f"{HEADER}\n{row}\n".encode(), FormatOptions())
    assert len(problems(line)[0]) < 250
    (line,) = read("csv", ("a" * 60_000 + "\n" + CSV_GOOD).encode(), FormatOptions())
    assert line.error is not None and len(line.error.problems[0]) < 450  # a bad header


def test_jsonl_numbers_that_would_be_huge_strings_are_refused() -> None:
    # format(Decimal("1e999999999"), "f") is a billion characters.
    for number in ("1e999999999", "1e-999999999", "1" * 100 + ".5"):
        record = JSON_GOOD.replace('"61"', number)
        (line,) = read("jsonl", record.encode())
        assert "want at most 64 digits and an exponent within ±64" in problems(line)[0]
    big_ms = JSON_GOOD.replace('"start": "2026-11-24T10:00:00Z"', '"start_ms": ' + "9" * 30)
    (line,) = read("jsonl", big_ms.encode())
    assert "want an integer of epoch ms (64-bit)" in problems(line)[0]


def test_epoch_ms_beyond_the_calendar_or_in_other_digits_is_malformed() -> None:
    for start in ("9" * 30, "253402300800000", "١٧٩٥٥١٤٤٠٠٠٠٠"):
        row = CSV_GOOD.replace("2026-11-24T10:00:00Z", start)
        (line,) = read("csv", f"{HEADER}\n{row}\n".encode(), FormatOptions())
        assert problems(line)[0].startswith("column 'start': got "), start
    row = CSV_GOOD.replace("2026-11-24T10:00:00Z", "253402300799999")
    (line,) = read("csv", f"{HEADER}\n{row}\n".encode(), FormatOptions())
    assert line.fields is not None and line.fields["start_ms"] == 253402300799999


def test_switch_times_outside_the_calendar_are_dead_letters_not_crashes() -> None:
    # Was: OverflowError out of ingest ("date value out of range") from astimezone().
    year1 = re.sub("2026-11-24 ..:..:..", "0001-01-01 00:00:00", AST_GOOD)
    (line,) = read("asterisk", year1.encode())  # Berlin is east of UTC: before year 1 in UTC
    assert problems(line) == tuple(
        f"field {name!r}: got '0001-01-01 00:00:00', want a time like 2026-11-24 10:00:00"
        for name in ("start", "end", "answer")
    )
    new_york = FormatOptions(
        agreement_id="a", partner="p", direction="inbound", timezone=ZoneInfo("America/New_York")
    )
    year9999 = FS_GOOD.replace("2026-11-24 11:01:01", "9999-12-31 23:59:59")
    (line,) = read("freeswitch", year9999.encode(), new_york)
    assert problems(line)[0] == (
        "field 'end_stamp': got '9999-12-31 23:59:59', want a time like 2026-11-24 10:00:00"
    )


def test_nothing_in_a_file_name_or_content_breaks_the_dead_letter(tmp_path: Path) -> None:
    folder = tmp_path / "caf\udce9"  # a directory name that is not UTF-8
    folder.mkdir()
    data = b"\xff\xfe\x00garbage\n" + AST_GOOD.encode() + b"\n"
    report, sink = ingest("asterisk", data, folder)
    assert (report.lines, report.produced, report.dead_lettered) == (2, 1, 1)
    (letter,) = sink.decoded("usage.dlq")
    assert letter["source_topic"].endswith("caf\\udce9/Master.csv")
    (usage,) = sink.decoded("usage.cdr")
    assert usage["raw_ref"].endswith("caf\\udce9/Master.csv:2")


# --- item 4: switch CDRs ----------------------------------------------------------------------


def test_asterisk_answered_call_with_bad_start_or_end_is_not_billed() -> None:
    # Was: only `answer` was parsed for an answered call, so these were billed.
    garbage_end = AST_GOOD.replace('"2026-11-24 11:01:01"', '"garbage"')
    garbage_start = AST_GOOD.replace('"2026-11-24 10:59:50"', '"yesterday"')
    got = read("asterisk", f"{garbage_end}\n{garbage_start}\n".encode())
    assert problems(got[0]) == ("field 'end': got 'garbage', want a time like 2026-11-24 10:00:00",)
    assert problems(got[1]) == (
        "field 'start': got 'yesterday', want a time like 2026-11-24 10:00:00",
    )


def test_billsec_and_duration_must_match_the_times() -> None:
    wrong_billsec = AST_GOOD.replace(",71,61,", ",71,70,")
    wrong_duration = FS_GOOD.replace('"71","61"', '"81","61"')
    (line,) = read("asterisk", wrong_billsec.encode())
    assert problems(line) == ("field 'billsec': got 70, want end - answer = 61 ± 1 s",)
    (line,) = read("freeswitch", wrong_duration.encode())
    assert problems(line) == ("field 'duration': got 81, want end_stamp - start_stamp = 71 ± 1 s",)
    within = AST_GOOD.replace(",71,61,", ",72,60,")  # truncation / initiatedseconds
    (line,) = read("asterisk", within.encode())
    assert line.fields is not None and line.fields["quantity"] == "60"


def test_unanswered_calls_are_not_billable_and_never_produced(tmp_path: Path) -> None:
    # Was: produced with quantity 0, then a `no-tariff` dead letter at rating (999 has none).
    report, sink = ingest("asterisk", f"{AST_GOOD}\n{AST_BUSY}\n".encode(), tmp_path)
    assert (report.lines, report.produced, report.dead_lettered, report.not_billable) == (
        2,
        1,
        0,
        1,
    )
    assert [u["b_number"] for u in sink.decoded("usage.cdr")] == ["4930901820"]
    report, sink = ingest("freeswitch", f"{FS_NO_ANSWER}\n{FS_GOOD}\n".encode(), tmp_path)
    assert (report.produced, report.not_billable) == (1, 1)
    (line,) = read("freeswitch", FS_NO_ANSWER.encode())
    assert (line.fields, line.error, line.not_billable) == (
        None,
        None,
        "not answered: no answer_stamp",
    )


# --- generated hostile files ------------------------------------------------------------------

LINE_ENDS = st.sampled_from([b"\n", b"\r\n", b"\r"])
WEIRD_TIMES = [
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "2026-02-30 10:00:00",
    "2026-03-29 02:30:00",  # skipped in Berlin
    "2026-10-25 02:30:00",  # twice in Berlin
    "2026-11-24 10:00:00.5",
    "2026-11-24T10:00:00Z",
    "garbage",
    "",
    "２０２６-11-24 10:00:00",
]
INSERTS = [
    b"\xef\xbb\xbf",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",  # an encoded surrogate: not UTF-8
    b'"',
    b",",
    b"\\",
    b"\x0c",
    b"\r",
    b'"quantity": "1", ',
    b'"source": "x", ',
    b"{",
    b"]",
    b"9" * 25,
    b"x" * 140_000,  # beyond the csv module's field limit (131,072)
]
SEED_LINES: dict[str, list[str]] = {
    "csv": [HEADER, CSV_GOOD, CSV_GOOD.replace(",61,", ",1.5E+3,")],
    "jsonl": [JSON_GOOD, JSON_GOOD.replace('"61"', "61")],
    "asterisk": [AST_GOOD, AST_BUSY],
    "freeswitch": [FS_GOOD, FS_NO_ANSWER],
}


@st.composite
def mutated_line(draw: st.DrawFn, fmt: str) -> bytes:
    """A valid line of ``fmt`` with a few hostile changes."""
    line = draw(st.sampled_from(SEED_LINES[fmt])).encode()
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(line)))
        action = draw(st.sampled_from(["insert", "time", "order", "key", "cut", "swap"]))
        times = re.findall(rb"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}Z?", line)
        if action == "insert":
            line = line[:at] + draw(st.sampled_from(INSERTS)) + line[at:]
        elif action == "time" and times:
            old = draw(st.sampled_from(times))
            line = line.replace(old, draw(st.sampled_from(WEIRD_TIMES)).encode(), 1)
        elif action == "order" and len(times) > 1:  # the call ends before it starts
            first, last = times[0], times[-1]
            line = line.replace(first, b"\0").replace(last, first).replace(b"\0", last)
        elif action == "key":  # a key given twice (JSON), a column named twice (CSV header)
            name = draw(st.sampled_from(COLUMNS)).encode()
            line = line.replace(b"{", b'{"' + name + b'": "1", ', 1).replace(b"unit,", name + b",")
        elif action == "cut":
            line = line[:at]
        else:
            line = line[:at] + line[at:][::-1]
    return line


def hostile_file(fmt: str) -> st.SearchStrategy[bytes]:
    lines = st.one_of(
        mutated_line(fmt),
        st.binary(max_size=200),
        st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.sampled_from(SEED_LINES[fmt]).map(str.encode),
    )
    with_ends = st.tuples(lines, LINE_ENDS).map(lambda pair: pair[0] + pair[1])
    text_file = st.lists(with_ends, max_size=12).map(b"".join)
    header_first = text_file.map(lambda data: HEADER.encode() + b"\n" + data)
    files = [st.binary(max_size=3000), text_file]
    return st.one_of(*files, header_first) if fmt == "csv" else st.one_of(*files)


def nonblank_line_numbers(data: bytes) -> list[int]:
    """Numbers of the lines a format must account for, computed without the code under test."""
    text = data.decode("utf-8", "surrogateescape")
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()  # the line break ends the last line; no line follows it
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    return [number for number, line in enumerate(lines, 1) if line.strip(" \t")]


def check_accounted(fmt: str, data: bytes, options: FormatOptions) -> None:
    with tempfile.TemporaryDirectory() as folder:
        report, sink = ingest(fmt, data, Path(folder), options)
    assert report.lines == report.produced + report.dead_lettered + report.not_billable
    assert report.failed == 0 and report.files == 1
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")
    numbers = [line.number for line in make_format(fmt, options).lines(stream, "f")]
    expected = nonblank_line_numbers(data)
    if fmt == "csv" and expected:
        letters = sink.decoded("usage.dlq")
        if letters and letters[0]["error_code"] == "malformed-file":
            expected = expected[:1]  # the file is one dead letter: its header
        else:
            expected = expected[1:]  # the header is no usage line
    assert numbers == expected
    assert report.lines == len(expected)
    for letter in sink.decoded("usage.dlq"):
        assert letter["stage"] == "parse" and letter["errors"]
        assert letter["source_offset"] in expected
        assert all(len(reason) <= MAX_REASON for reason in letter["errors"]), letter["errors"]
    for usage in sink.decoded("usage.cdr"):
        assert usage["source"] and usage["record_id"]


def hypothesis_settings(test: Callable[..., None]) -> Callable[..., None]:
    return settings(
        max_examples=100,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(test)


@hypothesis_settings
@given(data=hostile_file("csv"), with_defaults=st.booleans())
def test_generated_csv_files_are_accounted_for(data: bytes, with_defaults: bool) -> None:
    check_accounted("csv", data, OPTIONS if with_defaults else FormatOptions())


@hypothesis_settings
@given(data=hostile_file("jsonl"))
def test_generated_jsonl_files_are_accounted_for(data: bytes) -> None:
    check_accounted("jsonl", data, FormatOptions())


@hypothesis_settings
@given(data=hostile_file("asterisk"))
def test_generated_asterisk_files_are_accounted_for(data: bytes) -> None:
    check_accounted("asterisk", data, OPTIONS)


@hypothesis_settings
@given(data=hostile_file("freeswitch"))
def test_generated_freeswitch_files_are_accounted_for(data: bytes) -> None:
    check_accounted("freeswitch", data, OPTIONS)


def test_every_format_is_fuzzed() -> None:
    assert set(SEED_LINES) == set(FORMAT_NAMES)
