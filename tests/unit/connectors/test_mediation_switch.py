"""Switch CDR times: every time field parsed and held against the others and the seconds.

Expected epoch ms come from ``calendar.timegm`` on UTC, never from the code under test.
Europe/Berlin 2026: 25 October 03:00 CEST -> 02:00 CET, so 02:00-02:59 occurs twice (first at
UTC+2, then at UTC+1); 29 March 02:00 CET -> 03:00 CEST.
"""

from __future__ import annotations

import calendar
import io
import time
from zoneinfo import ZoneInfo

import pytest

from connectors.mediation.base import FormatOptions, Line
from connectors.mediation.registry import make_format
from connectors.mediation.switch import Call, Columns, Timing, call_timing

BERLIN = ZoneInfo("Europe/Berlin")
OPTIONS = FormatOptions(agreement_id="a", partner="p", direction="outbound", timezone=BERLIN)
AST = Columns("start", "answer", "end")
FS = Columns("start_stamp", "answer_stamp", "end_stamp")


def utc_ms(text: str) -> int:
    """Epoch ms of ``YYYY-MM-DD HH:MM:SS`` read as UTC."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S")) * 1000


def call(
    start: str, answer: str, end: str, duration: str, billsec: str, answered: bool = True
) -> Call:
    return Call("id", "acc", "49", "4930", start, answer, end, duration, billsec, answered, "x")


def asterisk(
    start: str, answer: str, end: str, duration: int, billsec: int, disposition: str
) -> str:
    answer_cell = f'"{answer}"' if answer else ""
    return (
        f'"pbx","4969","4930","ctx","clid","chan","dchan","Dial","args","{start}",{answer_cell},'
        f'"{end}",{duration},{billsec},"{disposition}","DOCUMENTATION"'
    )


def read(fmt: str, text: str) -> Line:
    (line,) = make_format(fmt, OPTIONS).lines(io.StringIO(text), "f")
    return line


def test_consistent_answered_call() -> None:
    got = call_timing(
        call("2026-11-24 10:59:50", "2026-11-24 11:00:00", "2026-11-24 11:01:01", "71", "61"),
        AST,
        BERLIN,
    )
    assert got == Timing(
        utc_ms("2026-11-24 09:59:50"),
        utc_ms("2026-11-24 10:00:00"),
        utc_ms("2026-11-24 10:01:01"),
        71,
        61,
    )


@pytest.mark.parametrize(
    ("times", "seconds", "want"),
    [
        (
            ("10:00:00", "10:00:05", "09:59:00"),
            ("0", "0"),
            [
                "field 'end': got '2026-11-24 09:59:00', want at or after start "
                "'2026-11-24 10:00:00'",
                "field 'answer': got '2026-11-24 10:00:05', want at or before end "
                "'2026-11-24 09:59:00'",
                "field 'duration': got 0, want end - start = -60 ± 1 s",
                "field 'billsec': got 0, want end - answer = -65 ± 1 s",
            ],
        ),
        (
            ("10:00:00", "09:59:00", "10:01:00"),
            ("60", "120"),
            [
                "field 'answer': got '2026-11-24 09:59:00', want at or after start "
                "'2026-11-24 10:00:00'"
            ],
        ),
        (
            ("10:00:00", "10:00:10", "10:01:00"),
            ("58", "52"),
            [
                "field 'duration': got 58, want end - start = 60 ± 1 s",
                "field 'billsec': got 52, want end - answer = 50 ± 1 s",
            ],
        ),
    ],
)
def test_times_out_of_order_or_seconds_that_disagree(
    times: tuple[str, str, str], seconds: tuple[str, str], want: list[str]
) -> None:
    start, answer, end = (f"2026-11-24 {t}" for t in times)
    assert call_timing(call(start, answer, end, *seconds), AST, BERLIN) == want


def test_seconds_within_one_second_of_the_times_are_accepted() -> None:
    for duration, billsec in (("59", "49"), ("61", "51"), ("60", "50")):
        got = call_timing(
            call(
                "2026-11-24 10:00:00",
                "2026-11-24 10:00:10",
                "2026-11-24 10:01:00",
                duration,
                billsec,
            ),
            AST,
            BERLIN,
        )
        assert isinstance(got, Timing), got


def test_seconds_must_be_whole_and_bounded() -> None:
    got = call_timing(
        call("2026-11-24 10:00:00", "", "2026-11-24 10:01:00", "1.5", "9" * 10, answered=False),
        AST,
        BERLIN,
    )
    assert got == [
        "field 'duration': got '1.5', want whole seconds (at most 9 digits)",
        "field 'billsec': got '9999999999', want whole seconds (at most 9 digits)",
    ]


def test_no_answer_time_means_billsec_zero() -> None:
    never = call("2026-11-24 10:00:00", "", "2026-11-24 10:00:30", "30", "5", answered=False)
    assert call_timing(never, FS, BERLIN) == [
        "field 'billsec': got 5, want 0: answer_stamp is empty (never answered)"
    ]


def test_a_call_across_the_repeated_hour_takes_the_reading_its_seconds_agree_with() -> None:
    # 02:50 (first pass, CEST) to 02:10 (second pass, CET): 20 minutes, not -40.
    across = call(
        "2026-10-25 02:50:00", "2026-10-25 02:50:10", "2026-10-25 02:10:00", "1200", "1190"
    )
    got = call_timing(across, AST, BERLIN)
    assert got == Timing(
        utc_ms("2026-10-25 00:50:00"),
        utc_ms("2026-10-25 00:50:10"),
        utc_ms("2026-10-25 01:10:00"),
        1200,
        1190,
    )
    # 02:10 to 02:20 is 10 minutes or 70: the seconds say which.
    short = call("2026-10-25 02:10:00", "2026-10-25 02:10:00", "2026-10-25 02:20:00", "600", "600")
    long = call("2026-10-25 02:10:00", "2026-10-25 02:10:00", "2026-10-25 02:20:00", "4200", "4200")
    short_timing, long_timing = call_timing(short, AST, BERLIN), call_timing(long, AST, BERLIN)
    assert isinstance(short_timing, Timing) and isinstance(long_timing, Timing)
    assert short_timing.end_ms == utc_ms("2026-10-25 00:20:00")  # both first: fold=0
    assert long_timing.end_ms == utc_ms("2026-10-25 01:20:00")
    assert short_timing.answer_ms == long_timing.answer_ms == utc_ms("2026-10-25 00:10:00")


def test_a_call_across_the_skipped_hour() -> None:
    got = call_timing(
        call("2026-03-29 01:59:00", "2026-03-29 01:59:30", "2026-03-29 03:01:00", "120", "90"),
        AST,
        BERLIN,
    )
    assert isinstance(got, Timing) and got.end_ms - got.start_ms == 120_000


def test_asterisk_disposition_decides_billable() -> None:
    # Asterisk answered the caller itself (an IVR), then Dial() found the partner busy: the
    # CDR has an answer time and billsec, but the partner carried nothing.
    ivr = asterisk(
        "2026-11-24 11:00:00", "2026-11-24 11:00:01", "2026-11-24 11:00:21", 21, 20, "BUSY"
    )
    line = read("asterisk", ivr)
    assert (line.fields, line.error, line.not_billable) == (
        None,
        None,
        "not answered: disposition 'BUSY'",
    )
    for disposition in ("NO ANSWER", "FAILED", "CONGESTION", "UNKNOWN"):
        unanswered = asterisk("2026-11-24 11:00:00", "", "2026-11-24 11:00:21", 21, 0, disposition)
        assert (
            read("asterisk", unanswered).not_billable
            == f"not answered: disposition {disposition!r}"
        )
    odd = asterisk("2026-11-24 11:00:00", "", "2026-11-24 11:00:21", 21, 0, "MAYBE")
    assert read("asterisk", odd).error is not None
    assert read("asterisk", odd).error.problems == (  # type: ignore[union-attr]
        "field 'disposition': got 'MAYBE', want one of ANSWERED, NO ANSWER, BUSY, FAILED, "
        "CONGESTION, UNKNOWN",
    )


def test_an_unanswered_call_with_bad_times_is_malformed_not_unbillable() -> None:
    broken = asterisk("2026-11-24 11:00:00", "", "soon", 21, 0, "NO ANSWER")
    line = read("asterisk", broken)
    assert line.not_billable is None and line.error is not None
    assert line.error.problems == ("field 'end': got 'soon', want a time like 2026-11-24 10:00:00",)


def test_answered_calls_bill_from_answer_for_billsec() -> None:
    line = read(
        "asterisk",
        asterisk(
            "2026-11-24 11:00:00", "2026-11-24 11:00:10", "2026-11-24 11:01:10", 70, 60, "ANSWERED"
        ),
    )
    assert line.fields is not None
    assert (line.fields["start_ms"], line.fields["quantity"]) == (
        utc_ms("2026-11-24 10:00:10"),
        "60",
    )
