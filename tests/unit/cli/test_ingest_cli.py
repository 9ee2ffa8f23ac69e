"""``bilat ingest`` as an operator reads it: the totals it prints add up, unanswered calls shown.

Ingest runs for real on the files, into a sink that keeps messages instead of Kafka.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import connectors.mediation.ingest as ingest_module
import streams.runtime.topics
from connectors.mediation.ingest import IngestReport
from streams.cli.main import main
from streams.runtime.config import Settings

# Answered, BUSY, NO ANSWER, then a line whose end is no time.
MASTER_CSV = "\n".join(
    f'"pbx","4969123456","{dst}","ctx","clid","chan","dchan","Dial","args",'
    f'"2026-11-24 10:59:50",{answer},"{end}",71,{billsec},"{disposition}","DOCUMENTATION"'
    for dst, answer, end, billsec, disposition in [
        ("4930901820", '"2026-11-24 11:00:00"', "2026-11-24 11:01:01", 61, "ANSWERED"),
        ("33142685300", "", "2026-11-24 11:01:01", 0, "BUSY"),
        ("4930901821", "", "2026-11-24 11:01:01", 0, "NO ANSWER"),
        ("4930901822", '"2026-11-24 11:00:00"', "garbage", 61, "ANSWERED"),
    ]
)


class _Counted:
    def __init__(self, _settings: Settings, report: IngestReport) -> None:
        self.report = report

    def send(self, logical: str, key: bytes | None, value: bytes, counter: str) -> None:
        setattr(self.report, counter, getattr(self.report, counter) + 1)

    def flush(self) -> None:
        pass


def test_ingest_prints_unanswered_calls_and_totals_that_add_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ingest_module.ingest_files

    def without_kafka(paths: Iterable[Path], settings: Settings, *args: Any, **kw: Any) -> Any:
        return real(paths, settings, *args, sink=_Counted, **kw)

    monkeypatch.setattr(ingest_module, "ingest_files", without_kafka)
    monkeypatch.setattr(streams.runtime.topics, "ensure_topics", lambda settings: None)
    path = tmp_path / "Master.csv"
    path.write_text(MASTER_CSV + "\n", encoding="utf-8")
    args = ["ingest", "--format", "asterisk", "--agreement-id", "hgc-dcc-2026"]
    args += ["--partner", "dcc", "--direction", "outbound", "--kafka", "127.0.0.1:1", str(path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "1 file(s), 4 lines in" in said
    assert re.search(
        r"1 usage records to \S*usage\.cdr, 1 malformed lines to \S*usage\.dlq, ", said
    )
    assert said.endswith("2 unanswered calls not billable")
