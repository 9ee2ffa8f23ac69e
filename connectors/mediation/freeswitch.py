"""FreeSWITCH ``mod_cdr_csv`` files: ``/var/log/freeswitch/cdr-csv/Master.csv``.

Layout: the stock templates, no header, one A-leg call per line (``legs=a``)::

     1 caller_id_name      2 caller_id_number   3 destination_number   4 context
     5 start_stamp         6 answer_stamp       7 end_stamp            8 duration
     9 billsec            10 hangup_cause      11 uuid                12 bleg_uuid
    13 accountcode       [14 read_codec        15 write_codec]

13 columns is the template built into ``mod_cdr_csv.c`` (``default_template``, used when the
config names none; it writes ``, "${accountcode}"`` with a space, which is skipped); 15 columns
is the ``example`` template that the shipped ``conf/vanilla/autoload_configs/cdr_csv.conf.xml``
selects with ``default-template``. Other templates are not this format. Times are
``YYYY-MM-DD HH:MM:SS`` in the switch's local time (``switch_time_exp_lt``); ``answer_stamp``
is empty for a call never answered. FreeSWITCH does not escape ``"`` inside a value, so quoting
is read leniently: a stray quote in a caller name does not lose the call.

Every time is parsed and held against the others and the seconds (see
:mod:`connectors.mediation.switch`): ``start_stamp <= answer_stamp <= end_stamp``; ``duration``
is ``end_stamp - start_stamp`` and ``billsec`` is ``end_stamp - answer_stamp`` (``0`` with no
answer), each within a second (``switch_channel_set_timestamps()`` subtracts the same whole
seconds the stamps show).

**Billable** is a call with an ``answer_stamp``. A call without one is **not billable**,
counted by ingest and never produced. ``hangup_cause`` is not used: answered calls end with
many causes (``NORMAL_CLEARING``, but also ``MEDIA_TIMEOUT``, ``ALLOTTED_TIMEOUT``...), and the
answer stamp is what FreeSWITCH bills from itself.

Mapping of a billable call to UsageRecord fields:

============  ==================================================================================
source        ``options.source``, else ``accountcode``; else the line is malformed
record_id     ``uuid`` (the call leg's UUID)
start_ms      ``answer_stamp`` (billing starts at answer); local time in ``options.timezone``
quantity      ``billsec``
unit          ``second``
a_number      ``caller_id_number`` without ``+``/separators; null when not digits
b_number      ``destination_number`` without ``+``/separators; letters kept: validation rejects
agreement_id, partner, direction, product: from the options
============  ==================================================================================
"""

from __future__ import annotations

from connectors.mediation.switch import Call, Columns, SwitchCsv

__all__ = ["CODEC_COLUMNS", "COLUMNS", "FreeSwitch"]

COLUMNS = (
    "caller_id_name",
    "caller_id_number",
    "destination_number",
    "context",
    "start_stamp",
    "answer_stamp",
    "end_stamp",
    "duration",
    "billsec",
    "hangup_cause",
    "uuid",
    "bleg_uuid",
    "accountcode",
)
"""The columns of the built-in default template, in order."""
CODEC_COLUMNS = ("read_codec", "write_codec")
"""Appended by the vanilla ``example`` template."""


class FreeSwitch(SwitchCsv):
    """Reads FreeSWITCH ``mod_cdr_csv`` lines as described in this module's docstring."""

    name = "freeswitch"
    columns = Columns(start="start_stamp", answer="answer_stamp", end="end_stamp")
    strict_quoting = False

    def call(self, row: list[str], raw: str) -> Call | list[str]:
        if len(row) not in (len(COLUMNS), len(COLUMNS) + len(CODEC_COLUMNS)):
            return [
                f"got {len(row)} columns, want {len(COLUMNS)} (built-in default template) or "
                f"{len(COLUMNS) + len(CODEC_COLUMNS)} (vanilla 'example' template)"
            ]
        cells = dict(zip(COLUMNS, row, strict=False))
        return Call(
            record_id=cells["uuid"].strip(),
            account=cells["accountcode"],
            a_number=cells["caller_id_number"],
            b_number=cells["destination_number"],
            start=cells["start_stamp"],
            answer=cells["answer_stamp"],
            end=cells["end_stamp"],
            duration=cells["duration"],
            billsec=cells["billsec"],
            answered=bool(cells["answer_stamp"].strip()),
            unanswered="no answer_stamp",
        )
