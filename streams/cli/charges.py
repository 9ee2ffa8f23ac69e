"""``bilat charges``: the recurring and non-recurring charges of one billing period.

Folds the Sonata order events into the product inventory and prints the period statement of
:mod:`streams.settle.charges` as a table or JSON; :mod:`streams.cli.main` registers it.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from streams.cli.common import (
    agreement_option,
    friendly,
    parse_time,
    party_options,
    settings_of,
    stdout_console,
)

__all__ = ["charges_command"]


@click.command("charges")
@party_options
@click.option(
    "--at",
    "at",
    default=None,
    help="Any time inside the billing period [default: now], ISO-8601 with offset.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: period, time zone, version, charges (amounts as decimal strings), "
    "findings, totals per currency.",
)
@agreement_option
@friendly
def charges_command(
    at: str | None,
    as_json: bool,
    agreement: Path | None,
    party: str,
    kafka: str | None,
    topic_prefix: str,
) -> None:
    """Recurring and non-recurring charges of the product inventory for one billing period.

    Folds every Sonata order event on sonata.orders into the product inventory and prices
    each product under the agreement version in force at the period's start: recurring
    prices prorated by active time, one-off prices in the month of activation, and the
    charge items the Buyer accepted. Findings follow the table: products whose offering the
    agreement does not price (billed only through their charge items), and charge items in
    another currency than the agreement's (billed and totalled in their own currency, never
    converted).
    """
    import json

    from rich.markup import escape

    from streams.agreement.loader import load_book
    from streams.core.clock import SystemClock
    from streams.runtime.offline import load_inventory
    from streams.settle.charges import billing_period, period_statement

    settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
    moment = parse_time(at, "--at") if at else SystemClock().now()
    book = load_book(settings.agreement)
    start, _end = billing_period(book.latest, moment)
    version = book.in_force(start)
    statement = period_statement(load_inventory(settings), version, moment)
    if as_json:
        click.echo(json.dumps(statement.to_json(), indent=2))
        return
    zone = version.timezone
    table = Table(
        title=f"charges of {statement.period_start.astimezone(zone):%Y-%m-%d} to "
        f"{statement.period_end.astimezone(zone):%Y-%m-%d} ({zone.key}), "
        f"agreement v{version.version}"
    )
    for column in ("product", "kind", "source", "amount", "how"):
        table.add_column(column, justify="right" if column == "amount" else "left", overflow="fold")
    for line in statement.charges:
        amount = f"{line.amount} {line.currency}"
        table.add_row(*map(escape, (line.product_id, line.kind, line.source, amount, line.detail)))
    out = stdout_console()
    out.print(table, crop=False)
    totals = ", ".join(f"{amount} {currency}" for currency, amount in statement.totals.items())
    out.print(f"{len(statement.charges)} charges, total {totals}", markup=False, soft_wrap=True)
    for finding in statement.findings:
        out.print(f"finding {finding.code}: {finding.message}", markup=False, soft_wrap=True)
