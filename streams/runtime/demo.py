"""``bilat demo``: the two-party pipeline end to end on this machine.

Starts (or reuses) one Kafka cluster per party and Redis, generates a day of interconnect
traffic as both parties' switches recorded it (with malformed lines), ingests each party's
file into its own cluster, runs each party's rating worker until every record is rated or
dead-lettered, and prints what came out. Each run uses fresh topics (``demo-<run>.*``), so a
second run neither sees nor disturbs the first.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from subprocess import Popen

from confluent_kafka.admin import AdminClient
from rich.console import Console
from rich.table import Table

from connectors.mediation.ingest import ingest_files
from connectors.mediation.synth import synth_interconnect_orders, synth_order, synth_pair
from streams.agreement.loader import load_book
from streams.agreement.signing import sign_agreement
from streams.agreement.trust import TrustedKeys
from streams.contract.records import RatedUsage, totals_by_currency
from streams.core.clock import Clock, SystemClock, from_ms, to_ms
from streams.core.errors import StackError
from streams.core.keys import KeyPair, demo_keypair, public_path_of
from streams.ledger.audit import verify_bundle
from streams.ledger.check import check_ledger
from streams.reconcile.engine import Outcome
from streams.runtime.batcher import BatcherLoop, init_ledger, read_chain
from streams.runtime.config import Settings
from streams.runtime.offline import load_inventory, record_bundle
from streams.runtime.produce import publish
from streams.runtime.reader import read_records
from streams.runtime.recon_view import alerts_table, status_table, summary
from streams.runtime.reconciler import ReconcilerLoop
from streams.runtime.registry import make_codec
from streams.runtime.security import kafka_config
from streams.runtime.settler import Bill, Settler
from streams.runtime.topics import delete_topics, ensure_topics
from streams.runtime.workers import message_count, start_worker, stop_worker
from streams.settle.charges import Charge, period_charges

__all__ = ["PartyResult", "run_demo"]


@dataclass
class PartyResult:
    """What one party's pipeline made of its file."""

    party: str
    lines: int = 0
    expected_good: int = 0
    rated: int = 0
    duplicates: int = 0
    dead: Counter[str] = field(default_factory=Counter)
    """Dead letters by ``stage:code``."""
    totals: dict[str, Decimal] = field(default_factory=dict)
    seconds: float = 0.0
    charges: list[Charge] = field(default_factory=list)
    """Recurring and one-off charges of the party's product inventory this billing period."""
    examples: dict[str, str] = field(default_factory=dict)
    rated_keys: set[str] = field(default_factory=set)
    roots: dict[int, str] = field(default_factory=dict)
    """Anchored window start (epoch ms) → batch root (hex), latest revision."""
    chain_ok: bool = False
    verified: tuple[str, bool] = ("", False)
    """A record proven end to end (leaf, inclusion, anchor, chain), and whether it held."""
    recon: Outcome | None = None
    """Where reconciliation with the partner stands at the end of the demo."""
    bills: list[Bill] = field(default_factory=list)
    """The period's bills as the Seller's ledger states them, with their states."""
    """One dead letter's message per stage, to show what the reasons look like."""

    @property
    def dead_total(self) -> int:
        return sum(self.dead.values())

    @property
    def consistent(self) -> bool:
        """Every good line rated once, rated + dead-lettered = lines read, ledger sound."""
        counted = self.rated == self.expected_good and self.rated + self.dead_total == self.lines
        return counted and self.chain_ok and self.verified[1]


def print_report(console: Console, results: list[PartyResult], records: int) -> None:
    """The demo's summary: one row per party, then dead letters by reason, then examples."""
    table = Table(title=f"bilat demo: {records} calls per party", title_justify="left")
    for column in ("party", "lines", "rated", "DLQ", "dupes", "total", "seconds"):
        table.add_column(column, justify="left" if column == "party" else "right")
    for r in results:
        totals = ", ".join(f"{amount} {cur}" for cur, amount in sorted(r.totals.items()))
        row = (r.lines, r.rated, r.dead_total, r.duplicates, totals, f"{r.seconds:.1f}")
        table.add_row(r.party, *map(str, row))
    console.print(table)
    reasons = Table(title="dead letters by stage:reason", title_justify="left")
    reasons.add_column("stage:reason")
    for r in results:
        reasons.add_column(r.party, justify="right")
    for reason in sorted({k for r in results for k in r.dead}):
        reasons.add_row(reason, *(str(r.dead.get(reason, 0)) for r in results))
    console.print(reasons)
    charges = Table(title="Sonata products: charges this billing period", title_justify="left")
    for column in ("party", "product", "kind", "source", "amount"):
        charges.add_column(column, justify="right" if column == "amount" else "left")
    for r in results:
        for c in r.charges:
            charges.add_row(r.party, c.product_id, c.kind, c.source, f"{c.amount} {c.currency}")
    console.print(charges)
    ledger = Table(
        title="ledgers: signed Merkle batches per event-time window", title_justify="left"
    )
    for column in ("party", "windows anchored", "chain", "roots equal to partner's", "verified"):
        ledger.add_column(column)
    for r in results:
        partner = next(o for o in results if o is not r)
        same = sum(1 for w, root in r.roots.items() if partner.roots.get(w) == root)
        key, ok = r.verified
        ledger.add_row(
            r.party,
            str(len(r.roots)),
            "intact" if r.chain_ok else "[red]BROKEN[/red]",
            f"{same} of {len(r.roots)}",
            f"{key} {'✓' if ok else '✗'}",
        )
    console.print(ledger)
    for r in results:
        if r.recon is None:
            continue
        other = next(o.party for o in results if o is not r)
        console.print(status_table(r.recon.windows, f"{r.party}: reconciliation with {other}"))
        found = [a for a in r.recon.alerts if a.record_keys or a.kind.startswith("not-")]
        console.print(alerts_table(found, f"{r.party}: divergent records and windows"))
        console.print(summary(r.recon))
    bills = results[0].bills if results else []
    if bills:
        table = Table(title="settlement: MEF 141 bills of this period", title_justify="left")
        for column in ("bill", "items", "amount due", "state", "the Buyer"):
            table.add_column(column, justify="right" if column == "amount due" else "left")
        for bill in bills:
            if bill.statement is None or bill.status is None:
                continue
            review = (
                "accepted"
                if bill.status.accepted
                else f"disputed {sum(len(d.items) for d in bill.status.disputes)} item(s)"
            )
            table.add_row(
                bill.bill_id,
                str(len(bill.statement.items)),
                f"{bill.status.amount_due} {bill.statement.currency}",
                bill.status.state,
                review,
            )
        console.print(table)
    for r in results:
        mark = "[green]counts add up[/green]" if r.consistent else "[red]COUNTS DO NOT ADD UP[/red]"
        console.print(
            f"{r.party}: {r.rated} rated + {r.dead_total} dead-lettered = "
            f"{r.rated + r.dead_total} of {r.lines} lines: {mark}"
        )
    for example in results[0].examples.values():
        console.print(f"  e.g. {example}", markup=False, style="dim")


def summarise(settings: Settings, result: PartyResult) -> None:
    """Fill ``result`` from what is on the party's ``usage.rated`` and ``usage.dlq`` now."""
    codec = make_codec(settings.schema_registry)
    first: dict[str, RatedUsage] = {}
    for rated in read_records(settings, "usage.rated", codec=codec):
        if rated.key in first:
            result.duplicates += 1
        else:
            first[rated.key] = rated
    result.rated = len(first)
    result.rated_keys = set(first)
    result.totals = totals_by_currency((r.currency, r.amount) for r in first.values())
    origins: set[tuple[str, int, int]] = set()
    for letter in read_records(settings, "usage.dlq", codec=codec):
        origin = (letter.source_topic, letter.source_partition, letter.source_offset)
        if origin in origins:  # re-published after a crash before its claim (streams.rating.dedup)
            result.duplicates += 1
            continue
        origins.add(origin)
        result.dead[f"{letter.stage}:{letter.error_code}"] += 1
        result.examples.setdefault(letter.stage, letter.error_message)


def _last_line(log: Path) -> str:
    """The last non-empty line of a worker's log: why it stopped."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "no log"
    return next((line.strip() for line in reversed(lines) if line.strip()), "empty log")


def run_demo(
    records: int,
    workdir: Path,
    brokers: Mapping[str, str],
    redis: str,
    say: Callable[[str], object] = print,
    clock: Clock | None = None,
    timeout: float = 300.0,
) -> list[PartyResult]:
    """Run the demo for ``records`` calls per party; returns one result per party.

    ``brokers`` maps the Seller then the Buyer to their Kafka bootstrap servers, ``redis`` is
    the dedup store's URL; they must be up (``bilat demo`` starts them). Raises
    :class:`StackError` if a worker dies or the pipeline does not finish within ``timeout``
    seconds.
    """
    clock = clock or SystemClock()
    parties = tuple(brokers)
    now: datetime = clock.now()
    run = f"demo-{now:%Y%m%d%H%M%S}"
    run_dir = workdir / run
    run_dir.mkdir(parents=True, exist_ok=True)
    files = dict(
        zip(parties, synth_pair(records, now, seller=parties[0], buyer=parties[1]), strict=True)
    )
    results: list[PartyResult] = []
    workers: list[tuple[Settings, PartyResult, Popen[bytes], int, int, float]] = []
    try:
        for party in parties:
            settings = Settings.from_env(
                {},
                party=party,
                kafka=brokers[party],
                redis=redis,
                topic_prefix=f"{run}.",
                run_dir=run_dir,
            )
            _forget_old_runs(settings, keep=run)
            ensure_topics(settings)
            # The Sonata order that made the demo's Ethernet circuit billable (both inventories).
            # The interconnects carry the usage that names no product (the statement's items).
            orders = [
                synth_order(now, seller=parties[0], buyer=parties[1]),
                *synth_interconnect_orders(now, seller=parties[0], buyer=parties[1]),
            ]
            publish(
                settings,
                "sonata.orders",
                "sonata_order_event",
                orders,
                lambda r: str(r["product_id"]),
            )
            path = run_dir / f"{party}-usage.csv"
            path.write_text(files[party].text, encoding="utf-8")
            started = time.monotonic()
            report = ingest_files([path], settings)
            say(
                f"[{party}] ingested {report.lines} lines from {path.name}: {report.produced} to "
                f"{settings.topic('usage.cdr')}, {report.dead_lettered} malformed to usage.dlq"
            )
            result = PartyResult(party, lines=report.lines, expected_good=files[party].good)
            proc = start_worker(settings, run_dir / f"{party}-worker.log")
            say(
                f"[{party}] rating worker started (pid {proc.pid}, "
                f"log {run_dir.name}/{party}-worker.log)"
            )
            workers.append((settings, result, proc, report.produced, report.dead_lettered, started))
            results.append(result)
        deadline = time.monotonic() + timeout
        for settings, result, proc, produced, parsed_dead, started in workers:
            last = -1
            while (
                missing := produced
                + parsed_dead
                - message_count(settings, "usage.rated", "usage.dlq")
            ) > 0:
                if proc.poll() is not None:
                    log = run_dir / f"{settings.party}-worker.log"
                    raise StackError(
                        f"{settings.party} worker exited with code {proc.returncode}: "
                        f"{_last_line(log)} (log: {log})"
                    )
                if time.monotonic() > deadline:
                    raise StackError(
                        f"{settings.party}: {missing} records still unrated after {timeout:.0f} s"
                    )
                if missing != last:
                    say(f"[{settings.party}] rating… {produced - missing}/{produced}")
                    last = missing
                time.sleep(0.5)
            result.seconds = time.monotonic() - started
            summarise(settings, result)
            version = load_book(settings.agreement).in_force(now)
            result.charges = period_charges(load_inventory(settings), version, now)
    finally:
        for _settings, _result, proc, *_ in workers:
            stop_worker(proc)
    anchor_ledgers(workdir, [w[0] for w in workers], results, say)
    reconcile_parties([w[0] for w in workers], results, say)
    # The period of the traffic (the synthetic day may be the one before ``now``'s).
    windows = [w.window[0] for r in results if r.recon for w in r.recon.windows]
    settle_parties([w[0] for w in workers], results, from_ms(min(windows, default=to_ms(now))), say)
    return results


def settle_parties(
    parties: list[Settings],
    results: list[PartyResult],
    at: datetime,
    say: Callable[[str], object],
    timeout: float = 90.0,
) -> None:
    """Close the billing period containing ``at``: the Seller issues its statements (one per
    currency), the Buyer recomputes them from its own ledger and accepts or disputes each,
    both publish the bills to Redis (what the dashboard and the billing API read). Fills each
    result's ``bills``."""
    seller_settings, buyer_settings = parties
    seller, buyer = Settler(seller_settings), Settler(buyer_settings)
    issued = seller.issue(at)
    BatcherLoop(seller_settings, demo_keypair(seller_settings.party)).run(once=True)
    for item in issued:
        say(f"[{seller_settings.party}] statement {item.statement.id}: {item.summary()}")
    deadline = time.monotonic() + timeout
    while True:  # the statements reach the Buyer through MirrorMaker 2
        snap = buyer.snapshot()
        if sum(b.statement is not None for b in buyer.bills(snap)) >= len(issued):
            break
        if time.monotonic() > deadline:
            raise StackError(
                f"{buyer_settings.party} did not see the statements in {timeout:.0f} s"
            )
        time.sleep(1)
    for line in buyer.review(snap):
        say(f"[{buyer_settings.party}] {line}")
    BatcherLoop(buyer_settings, demo_keypair(buyer_settings.party)).run(once=True)
    while True:  # the acceptances or disputes reach the Seller the same way
        snap = seller.snapshot()
        bills = seller.bills(snap)
        if all(b.status is not None and (b.status.accepted or b.status.disputes) for b in bills):
            break
        if time.monotonic() > deadline:
            raise StackError(f"{seller_settings.party} did not see the Buyer's review in time")
        time.sleep(1)
    seller.publish(snap)
    buyer.publish(buyer.snapshot())
    for result in results:
        result.bills = bills


def reconcile_parties(
    parties: list[Settings], results: list[PartyResult], say: Callable[[str], object]
) -> None:
    """Both reconcilers at once (each answers the other's drill-down over MirrorMaker 2), then
    both batchers append the countersignatures asked for, then both reconcilers see them.
    Fills each result's ``recon``."""
    loops = {s.party: ReconcilerLoop(s, say=lambda m: None) for s in parties}
    keys = {s.party: demo_keypair(s.party) for s in parties}
    for round_ in range(2):
        with ThreadPoolExecutor(len(loops)) as pool:
            futures = [
                pool.submit(
                    ReconcilerLoop(s, say=lambda m: None).run, until_idle=3.0, max_seconds=60.0
                )
                for s in parties
            ]
            outcomes = [f.result() for f in futures]
        if round_ == 0:
            for settings in parties:
                loop = BatcherLoop(settings, keys[settings.party])
                loop.run(once=True)
                say(f"[{settings.party}] {loop.countersigned} partner anchors countersigned")
        for settings, outcome in zip(parties, outcomes, strict=True):
            say(f"[{settings.party}] reconciled with its partner: {summary(outcome)}")
    for settings, result in zip(parties, results, strict=True):
        result.recon = loops[settings.party].snapshot()


def _demo_key(folder: Path, party: str, say: Callable[[str], object]) -> KeyPair:
    """``party``'s demo key (:func:`streams.core.keys.demo_keypair`, the one
    ``examples/agreement.yaml`` lists), also written to ``folder`` to look at. A key file left
    there by an older demo (a random key, which the agreement does not list) is moved aside."""
    keypair = demo_keypair(party)
    path = folder / f"{party}.key"
    if path.exists() and KeyPair.load(path).key_id != keypair.key_id:
        for old in (path, public_path_of(path)):
            if old.exists():
                old.rename(old.with_name(old.name + ".replaced"))
        say(f"[{party}] {path} held another key than the agreement's demo key: moved aside")
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        public_path_of(path).unlink(missing_ok=True)
        keypair.save(path)
    return keypair


def anchor_ledgers(
    workdir: Path, parties: list[Settings], results: list[PartyResult], say: Callable[[str], object]
) -> None:
    """Both parties sign the agreement, write their genesis entries, and anchor every window.

    Fills each result's ``roots`` (window → root), ``chain_ok`` and one verified record.
    """
    book = load_book(parties[0].agreement)
    trusted = TrustedKeys.of_book(book, f"agreement {parties[0].agreement}")
    keys = {s.party: _demo_key(workdir / "keys", s.party, say) for s in parties}
    docs = [sign_agreement(book, keys[s.party], s.party) for s in parties]
    codec = make_codec()
    for settings, result in zip(parties, results, strict=True):
        init_ledger(settings, docs, keys[settings.party])
        anchored = BatcherLoop(settings, keys[settings.party]).run(once=True)
        chain = read_chain(settings, codec, settings.party)
        result.chain_ok = not check_ledger(chain, settings.party, trusted=trusted)
        result.roots = {
            payload["window_start_ms"]: payload["root"]
            for payload in (e.payload_json() for e in chain if e.kind == "anchor")
        }
        say(f"[{settings.party}] genesis signed by both parties; {anchored} windows anchored")
        key = next(iter(sorted(result.rated_keys)))
        checks = verify_bundle(record_bundle(settings, key), trusted)
        result.verified = (key, all(c.ok for c in checks))


def _forget_old_runs(settings: Settings, keep: str) -> None:
    """Delete topics of earlier demo runs so the demo cluster does not grow without bound."""
    admin = AdminClient(kafka_config(settings))
    old = [
        t
        for t in admin.list_topics(timeout=10).topics
        if t.startswith("demo-") and not t.startswith(keep)
    ]
    delete_topics(settings, old)
