"""Asterisk ``cdr_csv`` files: ``/var/log/asterisk/cdr-csv/Master.csv`` (and per-account files).

Layout, from ``build_csv_record()`` in Asterisk's ``cdr/cdr_csv.c``: no header, one CDR per
line, strings in double quotes with ``"`` doubled, integers bare, an unset time empty::

     1 accountcode   2 src          3 dst         4 dcontext    5 clid       6 channel
     7 dstchannel    8 lastapp      9 lastdata   10 start      11 answer    12 end
    13 duration     14 billsec     15 disposition 16 amaflags
    [17 uniqueid]  [18 userfield]  [peeraccount, linkedid, sequence]

The bracketed columns are off by default and switched on in ``cdr.conf`` ``[csv]``:
``loguniqueid``, ``loguserfield`` and ``newcdrcolumns`` (Asterisk >= 12); so a line has 16 to 21
columns. With exactly one of uniqueid/userfield, column 17 is taken as the uniqueid when it
looks like one (``[systemname-]epoch.counter``), else as the userfield. Times are
``YYYY-MM-DD HH:MM:SS`` in the switch's local time (in UTC with ``usegmtime=yes``, which is
recommended: no DST ambiguity). ``disposition`` is what ``ast_cdr_disp2str()`` writes:
``ANSWERED``, ``NO ANSWER`` (also a cancelled dial), ``BUSY``, ``FAILED``, ``CONGESTION``, or
``UNKNOWN``.

Every time is parsed and held against the others and the seconds (see
:mod:`connectors.mediation.switch`): ``start <= answer <= end``; ``duration`` is ``end - start``
and ``billsec`` is ``end - answer`` (``0`` with no answer time), each within a second
(``cdr.c`` truncates milliseconds, or rounds billsec with ``initiatedseconds``).

**Billable** is a call whose disposition is ``ANSWERED``: the dialled party answered. Any other
disposition is a call **not billable**, counted by ingest and never produced, even when it has
an answer time and billsec (Asterisk sets them when it answered the caller itself, e.g. an IVR,
before a ``Dial()`` that then failed).

Mapping of a billable call to UsageRecord fields:

============  ==================================================================================
source        ``options.source``, else ``accountcode``; else the line is malformed
record_id     ``uniqueid:<16 hex>`` when the uniqueid is logged, else ``<32 hex>``: SHA-256 of
              the raw line. Asterisk >= 12 writes several CDRs per channel (one per dialled
              party, per bridge change) that share the uniqueid, so the uniqueid alone would
              make the dedup key drop real calls; the line digest keeps ids unique and equal
              for the same line read twice (``Master.csv`` and the account file)
start_ms      ``answer`` (billing starts at answer); local time in ``options.timezone``
quantity      ``billsec``
unit          ``second``
a_number      ``src`` without ``+``/separators; null when not digits (withheld caller id)
b_number      ``dst`` without ``+``/separators; letters (``s``, ``h``) kept: validation rejects
agreement_id, partner, direction, product: from the options
============  ==================================================================================
"""

from __future__ import annotations

import re

from connectors.mediation._common import digest, shown
from connectors.mediation.switch import Call, Columns, SwitchCsv

__all__ = ["BASE_COLUMNS", "DISPOSITIONS", "NEW_COLUMNS", "Asterisk"]

BASE_COLUMNS = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
)
"""The 16 columns every ``cdr_csv`` line has, in order."""
NEW_COLUMNS = ("peeraccount", "linkedid", "sequence")
"""Appended last with ``newcdrcolumns=yes``."""
DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION", "UNKNOWN")
"""Every disposition ``ast_cdr_disp2str()`` writes; only ``ANSWERED`` is billable."""

_UNIQUEID = re.compile(r"(?:[^\s,]+-)?[0-9]+\.[0-9]+")


def layout(row: list[str]) -> tuple[str, ...] | None:
    """Column names of a ``cdr_csv`` line split into ``row``; ``None`` if no layout fits."""
    base = len(BASE_COLUMNS)
    optional = len(row) - base
    new = NEW_COLUMNS if optional >= len(NEW_COLUMNS) else ()
    optional -= len(new)
    if optional == 2:
        return (*BASE_COLUMNS, "uniqueid", "userfield", *new)
    if optional == 1:
        logged = "uniqueid" if _UNIQUEID.fullmatch(row[base]) else "userfield"
        return (*BASE_COLUMNS, logged, *new)
    if optional == 0:
        return (*BASE_COLUMNS, *new)
    return None


class Asterisk(SwitchCsv):
    """Reads Asterisk ``cdr_csv`` lines as described in this module's docstring."""

    name = "asterisk"
    columns = Columns(start="start", answer="answer", end="end")
    strict_quoting = True

    def call(self, row: list[str], raw: str) -> Call | list[str]:
        names = layout(row)
        if names is None:
            return [
                f"got {len(row)} columns, want 16 to 21 (cdr_csv: 16 + uniqueid, userfield, "
                "newcdrcolumns as enabled in cdr.conf)"
            ]
        cells = dict(zip(names, row, strict=True))
        uniqueid = cells.get("uniqueid", "").strip()
        disposition = cells["disposition"].strip()
        problems = []
        if disposition not in DISPOSITIONS:
            problems.append(
                f"field 'disposition': got {shown(cells['disposition'])}, "
                f"want one of {', '.join(DISPOSITIONS)}"
            )
        return Call(
            record_id=f"{uniqueid}:{digest(raw, 16)}" if uniqueid else digest(raw, 32),
            account=cells["accountcode"],
            a_number=cells["src"],
            b_number=cells["dst"],
            start=cells["start"],
            answer=cells["answer"],
            end=cells["end"],
            duration=cells["duration"],
            billsec=cells["billsec"],
            answered=disposition == "ANSWERED",
            unanswered=f"disposition {shown(disposition)}",
            problems=tuple(problems),
        )
