"""``bilat read TOPIC``: what is on one of the party's topics now, decoded, as a table or JSON.

Reads what exists and exits (outside any consumer group, nothing committed; see
:mod:`streams.runtime.readback`), decodes each value with the subject of its topic, and prints a
table with the columns that matter for that record type, or JSON Lines for scripts. A value
that does not decode is shown, with the codec's reason, never skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streams.cli.common import friendly, party_options, settings_of, stdout_console
from streams.contract.codec import Codec
from streams.contract.topics import SUBJECTS, TopicName
from streams.core.clock import from_ms
from streams.core.errors import BilatError, CodecError
from streams.runtime.config import Settings
from streams.runtime.readback import Message, read_messages
from streams.runtime.registry import make_codec

__all__ = ["SUBJECTS", "Decoded", "decode", "read_command", "resolve_topic", "to_json_line"]

Row = tuple[str, ...]


def resolve_topic(topic: str, settings: Settings) -> tuple[str, TopicName]:
    """``(full topic name, logical name)`` of ``topic``: a logical name gets the party's
    prefix; a full name ending in a logical name (a mirrored ``dcc.ledger.anchors``) is read
    as given. Raises :class:`click.BadParameter` for anything else."""
    for logical in SUBJECTS:
        if topic == logical:
            return settings.topic(logical), logical
    for logical in SUBJECTS:
        if topic.endswith(logical):
            return topic, logical
    raise click.BadParameter(
        f"got {topic!r}, want one of {', '.join(SUBJECTS)}, or a full topic name ending in "
        "one of them (e.g. dcc.ledger.anchors, mirrored from the partner)",
        param_hint="TOPIC",
    )


@dataclass(frozen=True, slots=True)
class Decoded:
    """A message and its decoded value, or why it has none."""

    message: Message
    value: dict[str, Any] | None
    error: str | None


def decode(codec: Codec, subject: str, message: Message) -> Decoded:
    """``message`` decoded as ``subject``; a value that does not decode keeps the reason."""
    if message.value is None:
        return Decoded(message, None, "no value (a tombstone)")
    try:
        return Decoded(message, codec.decode(subject, message.value), None)
    except CodecError as exc:
        return Decoded(message, None, str(exc))


def to_json_line(item: Decoded, subject: str) -> str:
    """One message as one line of JSON; see ``bilat read --help`` for the fields."""
    message = item.message
    line: dict[str, Any] = {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "timestamp": None if message.timestamp_ms is None else _time(message.timestamp_ms),
        "key": None,
    }
    if message.key is not None:
        try:
            line["key"] = message.key.decode("utf-8")
        except UnicodeDecodeError:
            line["key_hex"] = message.key.hex()
    if item.value is not None:
        value = _plain(item.value)
        if subject == "ledger_entry":  # its canonical JSON text, as audit bundles give it
            try:
                value["payload"] = bytes(item.value["payload"]).decode("utf-8")
            except UnicodeDecodeError:
                value["payload_hex"] = value.pop("payload")
        line["value"] = value
    else:
        line["value"] = None
        line["error"] = item.error
        if message.value is not None:
            line["value_hex"] = message.value.hex()
    return json.dumps(line, ensure_ascii=False, sort_keys=False)


def _plain(value: Any) -> Any:
    """A decoded Avro value with every ``bytes`` as lowercase hex (JSON has no bytes)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _time(ms: int) -> str:
    moment: datetime = from_ms(ms)
    spec = "seconds" if ms % 1000 == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _text(data: bytes | None) -> str:
    if data is None:
        return "-"
    return data.decode("utf-8", "backslashreplace")


def _usage(r: dict[str, Any]) -> Row:
    number = r["a_number"] or "-", r["b_number"] or "-"
    return (
        f"{r['source']}/{r['record_id']}",
        _time(r["start_ms"]),
        r["product"],
        r["product_id"] or "-",
        r["quantity"],
        r["unit"],
        r["direction"],
        r["partner"],
        f"{number[0]} → {number[1]}",
    )


def _rated(r: dict[str, Any]) -> Row:
    return (
        f"{r['source']}/{r['record_id']}",
        _time(r["start_ms"]),
        r["quantity"],
        r["unit"],
        f"{r['billed_quantity']} {r['billed_unit']}",
        r["amount"],
        r["currency"],
        r["rate_id"],
        r["agreement_version"],
        r.get("run_id") or "live",
    )


def _dead(r: dict[str, Any]) -> Row:
    errors: list[str] = r["errors"]
    first = errors[0] if errors else r["error_message"]
    if len(errors) > 1:
        first += f" (+{len(errors) - 1} more)"
    if r["source_partition"] < 0:  # ingest: a file and its 1-based line
        source = f"{r['source_topic']}:{r['source_offset']}"
    else:
        source = f"{r['source_topic']}[{r['source_partition']}]@{r['source_offset']}"
    return (_time(r["failed_ms"]), r["stage"], r["error_code"], first, source, _text(r["key"]))


def _order(r: dict[str, Any]) -> Row:
    return (
        _time(r["event_time_ms"]),
        f"{r['order_id']}/{r['order_item_id']}",
        r["state"],
        r["action"],
        r["product_id"] or "-",
        r["product_offering_id"] or "-",
        str(len(r["charge_items"])),
    )


def _entry(r: dict[str, Any]) -> Row:
    try:
        payload = json.loads(r["payload"])
        if not isinstance(payload, dict):
            raise ValueError("not an object")
    except ValueError:
        payload = {}
    window = payload.get("window_start_ms")
    totals = payload.get("totals") or {}
    detail = payload.get("root") or (
        f"book {payload['book_hash']}" if "book_hash" in payload else "-"
    )
    return (
        str(r["sequence"]),
        r["kind"],
        r["party"],
        r["agreement_id"],
        _time(r["time_ms"]),
        _time(window) if isinstance(window, int) else "-",
        str(payload.get("revision", "-")),
        str(payload.get("leaf_count", "-")),
        ", ".join(f"{amount} {currency}" for currency, amount in totals.items()) or "-",
        str(detail),
    )


def _batch(r: dict[str, Any], count: int) -> Row:
    sequence = r["anchor_sequence"]
    return (
        r["party"],
        _time(r["window_start_ms"]),
        str(r["revision"]),
        str(r["depth"]),
        str(count),
        bytes(r["root"]).hex(),
        "-" if sequence is None else str(sequence),
    )


_LAYOUTS: Mapping[str, tuple[Sequence[str], Callable[[dict[str, Any]], Row]]] = {
    "usage_record": (
        ("key", "start", "product", "product id", "quantity", "unit", "direction", "partner",
         "A → B"),
        _usage,
    ),
    "rated_usage": (
        ("key", "start", "quantity", "unit", "billed", "amount", "currency", "rate id",
         "version", "run"),
        _rated,
    ),
    "dead_letter": (("failed", "stage", "code", "first error", "source", "key"), _dead),
    "sonata_order_event": (
        ("event time", "order/item", "state", "action", "product id", "offering", "charges"),
        _order,
    ),
    "ledger_entry": (
        ("seq", "kind", "party", "agreement", "time", "window", "rev", "leaves", "totals",
         "root / genesis"),
        _entry,
    ),
    "batch_digest": (
        ("party", "window", "rev", "depth", "leaves", "root", "anchor seq"),
        lambda r: _batch(r, r["leaf_count"]),
    ),
    "batch_leaves": (
        ("party", "window", "rev", "depth", "leaves", "root", "anchor seq"),
        lambda r: _batch(r, len(r["leaves"])),
    ),
}  # fmt: skip
_RIGHT = {"quantity", "amount", "seq", "rev", "leaves", "depth", "charges", "anchor seq"}


def _table(items: Sequence[Decoded], subject: str, title: str) -> Table:
    columns, row_of = _LAYOUTS[subject]
    table = Table(title=escape(title), title_justify="left")
    table.add_column("p:offset", justify="right", overflow="fold")
    for column in columns:
        table.add_column(column, justify="right" if column in _RIGHT else "left", overflow="fold")
    for item in items:
        where = f"{item.message.partition}:{item.message.offset}"
        if item.value is None:
            cells: Row = (f"undecodable: {item.error}",) + ("",) * (len(columns) - 1)
        else:
            try:
                cells = row_of(item.value)
            except (BilatError, KeyError, TypeError, ValueError) as exc:
                cells = (f"unexpected record: {exc!r}",) + ("",) * (len(columns) - 1)
        table.add_row(where, *map(escape, cells))
    return table


@click.command(name="read")
@party_options
@click.argument("topic")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Show at most this many messages, the oldest first; 0 shows every message.",
)
@click.option(
    "--tail",
    type=click.IntRange(min=1),
    default=None,
    help="Show the newest N messages instead (overrides --limit).",
)
@click.option(
    "--partition",
    "partitions",
    type=click.IntRange(min=0),
    multiple=True,
    help="Read only this partition; repeat for more [default: all].",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON Lines, one object per message: topic, partition, offset, timestamp "
    "(ISO-8601 UTC), key (text; key_hex if not UTF-8), value (the record's Avro fields as in "
    "schemas/: decimals as strings, times as epoch-millisecond integers, bytes as lowercase "
    "hex, a ledger entry's payload as its JSON text), or value null with error and value_hex "
    "when it does not decode.",
)
@friendly
def read_command(
    topic: str,
    limit: int,
    tail: int | None,
    partitions: tuple[int, ...],
    as_json: bool,
    party: str,
    kafka: str | None,
    topic_prefix: str,
) -> None:
    """Print what is on one of this party's topics now, decoded; then exit.

    TOPIC is a logical name (usage.cdr, usage.rated, usage.dlq, sonata.orders,
    ledger.anchors, ledger.digests, ledger.batches), prefixed with --topic-prefix, or a full
    topic name ending in one (e.g. a mirrored dcc.ledger.anchors), read as given. Messages are
    shown in time order across partitions. Nothing is committed: safe beside live workers.

    Tables are never cut: piped or redirected, they are as wide as their rows.

    \b
    Examples:
      bilat read usage.dlq                     why records were refused, oldest first
      bilat read usage.rated --tail 20         the 20 newest rated records
      bilat read usage.dlq --json --limit 0 | jq -r '.value.error_code' | sort | uniq -c
      bilat read ledger.anchors --party dcc
    """
    settings = settings_of(party, kafka, topic_prefix)
    name, logical = resolve_topic(topic, settings)
    subject = SUBJECTS[logical]
    codec = make_codec(settings.schema_registry)
    wanted = tail if tail is not None else limit or None
    # One more than wanted per partition tells whether more messages are left out.
    per_partition = None if wanted is None else wanted + 1
    messages = list(
        read_messages(
            settings,
            name,
            partitions=partitions or None,
            first=per_partition if tail is None else None,
            last=per_partition if tail is not None else None,
            timeout=15.0,
            missing_ok=False,
        )
    )
    messages.sort(key=lambda m: (m.timestamp_ms or -1, m.partition, m.offset))
    more = wanted is not None and len(messages) > wanted
    if more and wanted is not None:
        messages = messages[-wanted:] if tail is not None else messages[:wanted]
    items = [decode(codec, subject, m) for m in messages]
    summary = _summary(len(items), name, settings.kafka, tail, more, partitions)
    if as_json:
        for item in items:
            click.echo(to_json_line(item, subject))
        if more or not items:
            Console(stderr=True, highlight=False, soft_wrap=True).print(summary, markup=False)
        return
    out = stdout_console()
    if items:
        out.print(_table(items, subject, f"{name} ({subject})"), crop=False)
    out.print(summary, markup=False, soft_wrap=True)


def _summary(
    count: int, name: str, kafka: str, tail: int | None, more: bool, partitions: Sequence[int]
) -> str:
    where = f"{name} on {kafka}" + (
        f", partition {', '.join(map(str, partitions))}" if partitions else ""
    )
    if not count:
        return f"{where}: no messages"
    messages = f"{count} message" + ("" if count == 1 else "s")
    if not more:
        return f"{messages} of {where} (all of them)"
    if tail is not None:
        return f"the newest {messages} of {where}; a larger --tail shows more"
    return f"the oldest {messages} of {where}; --limit 0 shows all, --tail N the newest"
