"""``bilat settle``: close a billing period into MEF 141 statements, review them, dispute,
resolve, record payments, and run the settlement agent, over
:class:`streams.runtime.settler.Settler`.

``streams.cli.main`` registers the group.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streams.cli.common import (
    agreement_option,
    friendly,
    party_options,
    settings_of,
    stdout_console,
)
from streams.cli.metrics_option import metrics_option, start_metrics
from streams.core.errors import StackError
from streams.ledger.entries import LedgerEntry
from streams.runtime.settler import Bill, Settler
from streams.settle import mef141

__all__ = ["settle_group"]

F = TypeVar("F", bound=Callable[..., Any])

err = Console(stderr=True, highlight=False, soft_wrap=True)

_PERIOD = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")
_OUTCOMES = {
    "credit": "credit",
    "withdrawn": "withDrawn",
    "withDrawn": "withDrawn",
    "rejected": "paymentDue",
    "paymentDue": "paymentDue",
}


def _common(func: F) -> F:
    func = click.option(
        "--partner-alias",
        default=None,
        metavar="ALIAS",
        help="MirrorMaker 2 alias of the partner's cluster [default: the partner's party id].",
    )(func)
    return party_options(agreement_option(func))


def _settler(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    partner_alias: str | None,
    console: Console,
) -> Settler:
    settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
    return Settler(settings, partner_alias, say=lambda m: console.print(escape(m)))


def parse_period(text: str, settler: Settler) -> datetime:
    """A point inside the billing period ``YYYY-MM`` (or the day ``YYYY-MM-DD`` for day and
    week periods), noon local time in the agreement's time zone."""
    match = _PERIOD.fullmatch(text.strip())
    if match is None:
        raise click.BadParameter(
            f"got {text!r}, want YYYY-MM (e.g. 2026-03) or YYYY-MM-DD", param_hint="--period"
        )
    year, month, day = int(match[1]), int(match[2]), int(match[3] or 1)
    try:
        local = datetime.combine(date(year, month, day), time(12))
    except ValueError as exc:
        raise click.BadParameter(f"got {text!r}: {exc}", param_hint="--period") from None
    return local.replace(tzinfo=settler.book.latest.timezone)


@click.group(name="settle", invoke_without_command=True)
@_common
@click.option(
    "--period",
    default=None,
    metavar="YYYY-MM",
    help="Close this billing period: issue its statements (Seller).",
)
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the batcher to sign each statement entry.",
)
@click.option("--json", "as_json", is_flag=True, help="The statements as JSON documents.")
@click.pass_context
@friendly
def settle_group(
    ctx: click.Context,
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    partner_alias: str | None,
    period: str | None,
    wait: float,
    as_json: bool,
) -> None:
    """Settlement: MEF 141 statements of agreed usage and Sonata charges, disputes with
    evidence, resolutions and payments, each a signed entry on a party's ledger.

    \b
    With --period (the Seller): close the billing period. Its statements, one per currency,
    bill the windows both ledgers agree on (within tolerance as the agreement says), the
    recurring and one-off charges of the Sonata inventory and the volume-tier adjustments,
    with two-way traffic netted. Each statement document goes to settle.documents (mirrored)
    and the batcher signs its hash into a `statement` entry. A period is issued once.

    \b
    Examples:
      bilat settle --party hgc --period 2026-03
      bilat settle status --party dcc
      bilat settle review --party dcc
      bilat settle dispute BILL --item BILL-0003 --reason "rate not as agreed" --party dcc
      bilat settle resolve DISPUTE --item BILL-0003=credit --party hgc
      bilat settle pay BILL --party hgc
      bilat settle agent --party hgc
    """
    if ctx.invoked_subcommand is not None:
        return
    if period is None:
        click.echo(ctx.get_help())
        return
    console = stdout_console()
    settler = _settler(party, kafka, topic_prefix, agreement, partner_alias, err)
    at = parse_period(period, settler)
    err.print(
        f"closing {period} for {settler.book.id} as {settler.settings.party} "
        f"({settler.role}) on {settler.settings.kafka}…"
    )
    issued = settler.issue(at)
    if as_json:
        click.echo(json.dumps([i.statement.to_json() for i in issued], indent=2))
    for item in issued:
        statement = item.statement
        if not as_json:
            console.print(_items_table(statement))
            for finding in statement.findings:
                console.print(f"[yellow]finding:[/yellow] {escape(finding.message)}")
        if not item.fresh:
            assert item.entry is not None
            err.print(
                f"{statement.id}: already issued (ledger seq {item.entry.sequence}); "
                "nothing issued again"
            )
            continue
        entry = settler.wait_for("statement", _names("bill_id", statement.id), wait)
        if entry is None:
            err.print(
                f"[yellow]{statement.id}: asked for its statement entry; not signed within "
                f"{wait:.0f} s: is `bilat batcher --party {settler.settings.party}` "
                "running?[/yellow]"
            )
        else:
            err.print(
                f"{statement.id}: issued, {item.summary()}; statement entry "
                f"seq {entry.sequence}, hash {statement.canonical_hash().hex()[:16]}…"
            )
    if not issued:
        err.print("nothing to bill in that period")


def _names(member: str, value: str) -> Callable[[LedgerEntry], bool]:
    """Whether an entry's payload has ``member`` equal to ``value``."""
    return lambda entry: bool(entry.payload_json().get(member) == value)


def _signed(settler: Settler, kind: str, member: str, value: str, wait: float) -> str:
    """Where the batcher put the entry asked for, waiting up to ``wait`` seconds."""
    entry = settler.wait_for(kind, _names(member, value), wait)
    if entry is not None:
        return f"ledger seq {entry.sequence}"
    return f"not signed yet: is `bilat batcher --party {settler.settings.party}` running?"


def _items_table(statement: Any) -> Table:
    table = Table(
        title=f"{statement.id} ({statement.bill_no}): "
        f"{statement.period_start.date()} – {statement.period_end.date()}"
    )
    for name in ("item", "type", "product", "description", "quantity", "rate", "amount"):
        table.add_column(
            name, justify="right" if name in ("quantity", "rate", "amount") else "left"
        )
    for item in statement.items:
        table.add_row(
            item.id.rsplit("-", 1)[-1],
            item.kind,
            item.product_id,
            escape(item.description),
            f"{item.quantity} {item.unit}",
            str(item.unit_rate),
            f"{item.amount} {item.currency}",
        )
    table.add_row(
        "",
        "",
        "",
        "[b]amount due[/b]",
        "",
        "",
        f"[b]{statement.amount_due} {statement.currency}[/b]",
    )
    return table


def _bill_row(bill: Bill) -> list[str]:
    if bill.statement is None or bill.status is None:
        return [bill.bill_id, "?", "", "", "", escape(bill.problem)]
    status = bill.status
    counts: dict[str, int] = {}
    for state in status.item_states.values():
        counts[state] = counts.get(state, 0) + 1
    disputes = ", ".join(f"{d.dispute_id.rsplit('/', 1)[-1]} {d.state}" for d in status.disputes)
    return [
        bill.bill_id,
        status.state,
        f"{status.amount_due} {bill.statement.currency}",
        f"{status.remaining} {bill.statement.currency}",
        ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
        disputes,
    ]


@settle_group.command(name="status")
@_common
@click.option(
    "--json", "as_json", is_flag=True, help="Each bill as MEF 141 JSON with its disputes."
)
@friendly
def status_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    partner_alias: str | None,
    as_json: bool,
) -> None:
    """Every bill on the Seller's ledger: its state (generated / paymentDue / settled, folded
    from both ledgers), amount due and remaining, items by state and disputes."""
    settler = _settler(party, kafka, topic_prefix, agreement, partner_alias, err)
    snap = settler.snapshot()
    if as_json:
        click.echo(mef141.dumps(list(settler.views(snap).values())))
        return
    table = Table(title=f"bills of {settler.book.id} ({settler.seller} → {settler.buyer})")
    for name in ("bill", "state", "amount due", "remaining", "items", "disputes"):
        table.add_column(name)
    bills = settler.bills(snap)
    for bill in bills:
        table.add_row(*_bill_row(bill))
    stdout_console().print(table)
    if not bills:
        err.print("no statement on the Seller's ledger yet: `bilat settle --period YYYY-MM`")


@settle_group.command(name="show")
@_common
@click.argument("bill_id")
@click.option("--mef", is_flag=True, help="The MEF 141 CustomerBill and its items as JSON.")
@friendly
def show_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    partner_alias: str | None,
    bill_id: str,
    mef: bool,
) -> None:
    """One bill: its items with their states, or (--mef) its MEF 141 JSON."""
    settler = _settler(party, kafka, topic_prefix, agreement, partner_alias, err)
    snap = settler.snapshot()
    views = settler.views(snap)
    if bill_id not in views:
        raise StackError(f"no bill {bill_id}; bills: {', '.join(sorted(views)) or 'none'}")
    view = views[bill_id]
    if mef:
        click.echo(mef141.dumps({"customerBill": view["bill"], "customerBillItem": view["items"]}))
        return
    table = Table(
        title=f"{bill_id}: {view['state']}, amount due {view['amount_due']} "
        f"{view['currency']}, remaining {view['remaining']}"
    )
    for name in ("item", "state", "type", "description", "amount"):
        table.add_column(name)
    for item in view["items"]:
        money = item["taxExcludedAmount"]
        table.add_row(
            item["id"],
            item["state"],
            item["customerBillItemType"],
            escape(item["description"]),
            f"{money['value']} {money['unit']}",
        )
    console = stdout_console()
    console.print(table)
    for dispute in view["disputes"]:
        console.print(
            f"dispute {dispute['dispute_id']} ({dispute['state']}): "
            f"{', '.join(dispute['items'])}: {escape(dispute['reason'])}"
        )


@settle_group.command(name="review")
@_common
@click.option(
    "--dry-run", is_flag=True, help="Say what each new statement's check finds; sign nothing."
)
@friendly
def review_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    partner_alias: str | None,
    dry_run: bool,
) -> None:
    """The Buyer: recompute every new statement from this party's own ledger; accept it when
    every item matches, else dispute the items that differ (with evidence). Accepts the
    resolutions of this party's disputes."""
    settler = _settler(party, kafka, topic_prefix, agreement, partner_alias, err)
    lines = settler.review(dry_run=dry_run)
    for line in lines:
        stdout_console().print(escape(line))
    if not lines:
        err.print("no statement to review")


@settle_group.command(name="dispute")
@_common
@click.argument("bill_id")
@click.option(
    "--item",
    "items",
    multiple=True,
    required=True,
    metavar="ITEM_ID",
    help="An item of the bill (repeatable).",
)
@click.option(
    "--record",
    "records",
    multiple=True,
    metavar="USAGE_KEY",
    help="A record cited as evidence (repeatable) [default: the items' records].",
)
@click.option("--reason", required=True, help="Why, in one sentence the Seller will read.")
@click.option("--wait", type=click.FloatRange(0), default=30.0, show_default=True)
@friendly
def dispute_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    partner_alias: str | None,
    bill_id: str,
    items: tuple[str, ...],
    records: tuple[str, ...],
    reason: str,
    wait: float,
) -> None:
    """The Buyer: dispute items of a bill within the agreement's dispute window. The evidence
    (the records with their inclusion proofs in this party's signed anchors, and the
    reconciliation alerts of their windows) goes to settle.documents; its hash into a signed
    `dispute` entry."""
    settler = _settler(party, kafka, topic_prefix, agreement, partner_alias, err)
    dispute_id = settler.dispute(bill_id, items, records, reason)
    where = _signed(settler, "dispute", "dispute_id", dispute_id, wait)
    click.echo(f"{dispute_id}: disputed {', '.join(items)} ({where})")


def _outcome(text: str) -> tuple[str, tuple[str, Decimal | None]]:
    item, _, rest = text.partition("=")
    state, _, amount = rest.partition(":")
    if not item or state not in _OUTCOMES:
        raise click.BadParameter(
            f"got {text!r}, want ITEM=credit[:AMOUNT], ITEM=withdrawn or ITEM=rejected",
            param_hint="--item",
        )
    try:
        credit = Decimal(amount) if amount else None
    except InvalidOperation:
        raise click.BadParameter(
            f"got credit {amount!r}, want a decimal", param_hint="--item"
        ) from None
    return item, (_OUTCOMES[state], credit)


@settle_group.command(name="resolve")
@_common
@click.argument("dispute_id")
@click.option(
    "--item",
    "outcomes",
    multiple=True,
    required=True,
    metavar="ITEM=credit[:AMOUNT]|ITEM=withdrawn|ITEM=rejected",
    help="The outcome of one disputed item (repeatable, one per item): credit "
    "(the whole item, or AMOUNT), withdrawn (off the bill), rejected "
    "(payment due as billed).",
)
@click.option("--note", default="", help="A sentence for the Buyer.")
@click.option("--wait", type=click.FloatRange(0), default=30.0, show_default=True)
@friendly
def resolve_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    partner_alias: str | None,
    dispute_id: str,
    outcomes: tuple[str, ...],
    note: str,
    wait: float,
) -> None:
    """The Seller: resolve a dispute with a signed `resolution` entry."""
    settler = _settler(party, kafka, topic_prefix, agreement, partner_alias, err)
    parsed = dict(_outcome(o) for o in outcomes)
    bill_id = settler.resolve(dispute_id, parsed, note)
    where = _signed(settler, "resolution", "dispute_id", dispute_id, wait)
    click.echo(f"{dispute_id} of {bill_id}: resolved ({where})")


@settle_group.command(name="pay")
@_common
@click.argument("bill_id")
@click.option("--amount", default=None, help="Amount received [default: what remains due].")
@click.option("--payment-id", default="", help="Your payment reference [default: generated].")
@click.option("--wait", type=click.FloatRange(0), default=30.0, show_default=True)
@friendly
def pay_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    partner_alias: str | None,
    bill_id: str,
    amount: str | None,
    payment_id: str,
    wait: float,
) -> None:
    """The Seller: record a payment received against a bill (a signed `payment` entry)."""
    settler = _settler(party, kafka, topic_prefix, agreement, partner_alias, err)
    try:
        value = None if amount is None else Decimal(amount)
    except InvalidOperation:
        raise click.BadParameter(f"got {amount!r}, want a decimal", param_hint="--amount") from None
    paid = settler.pay(bill_id, value, payment_id)
    where = _signed(settler, "payment", "bill_id", bill_id, wait)
    click.echo(f"{bill_id}: payment of {paid} recorded ({where})")


@settle_group.command(name="agent")
@_common
@metrics_option
@click.option(
    "--interval",
    type=click.FloatRange(1),
    default=10.0,
    show_default=True,
    help="Seconds between rounds.",
)
@click.option(
    "--max-seconds",
    type=click.FloatRange(1),
    default=None,
    help="Stop after this long (scripts, tests).",
)
@friendly
def agent_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    partner_alias: str | None,
    interval: float,
    max_seconds: float | None,
    metrics_port: int | None,
) -> None:
    """The settlement agent (foreground). The Seller issues each period's statements once its
    bill date (period end + the agreement's settlement grace) has passed; the Buyer reviews
    every new statement and resolution. Both keep the bills' MEF 141 view in Redis
    (bilat:<app>:settle:bills) with create and state-change events for the billing API."""
    console = Console(highlight=False)
    settler = _settler(party, kafka, topic_prefix, agreement, partner_alias, console)
    console.print(
        f"settlement agent of {settler.settings.party} ({settler.role}) for "
        f"{settler.book.id} on {settler.settings.kafka}, every {interval:.0f} s"
    )
    start_metrics(metrics_port, "settle", settler.settings.party, console.print)
    settler.run(interval, max_seconds)
    sys.exit(0)
