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

Mapping to UsageRecord fields:

============  ==================================================================================
source        ``options.source``, else ``accountcode``; else the line is malformed
record_id     ``uuid`` (the call leg's UUID)
start_ms      ``answer_stamp`` when set (billing starts at answer), else ``start_stamp``;
              local time in ``options.timezone``
quantity      ``billsec`` (``0`` for calls not answered: emitted and rated at 0)
unit          ``second``
a_number      ``caller_id_number`` without ``+``/separators; null when not digits
b_number      ``destination_number`` without ``+``/separators; letters kept: validation rejects
agreement_id, partner, direction, product: from the options
============  ==================================================================================
"""

from __future__ import annotations

from connectors.mediation._common import Call, SwitchCsv

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
    strict_quoting = False

    def call(self, row: list[str], raw: str) -> Call | list[str]:
        if len(row) not in (len(COLUMNS), len(COLUMNS) + len(CODEC_COLUMNS)):
            return [
                f"got {len(row)} columns, want {len(COLUMNS)} (built-in default template) or "
                f"{len(COLUMNS) + len(CODEC_COLUMNS)} (vanilla 'example' template)"
            ]
        cells = dict(zip(COLUMNS, row, strict=False))
        answered = bool(cells["answer_stamp"].strip())
        start_column = "answer_stamp" if answered else "start_stamp"
        return Call(
            record_id=cells["uuid"].strip(),
            account=cells["accountcode"],
            a_number=cells["caller_id_number"],
            b_number=cells["destination_number"],
            start_column=start_column,
            start=cells[start_column],
            billsec=cells["billsec"],
        )
