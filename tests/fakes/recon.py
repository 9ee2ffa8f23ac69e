"""Two parties' ledgers in memory, and the exchange between their reconcilers without Kafka:
what the reconciler's unit tests and the benchmark drive :class:`~streams.reconcile.engine.Engine`
with."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from streams.agreement.loader import load_book
from streams.agreement.signing import book_hash, sign_agreement
from streams.agreement.trust import TrustedKeys
from streams.contract.records import RatedUsage
from streams.core.clock import to_ms
from streams.core.keys import KeyPair, demo_keypair
from streams.ledger.anchoring import anchor_entry, digest_record
from streams.ledger.batching import Batcher
from streams.ledger.chain import ChainTip
from streams.ledger.entries import LedgerEntry
from streams.ledger.genesis import genesis_payload
from streams.ledger.payloads import countersignature_payload
from streams.reconcile.engine import Engine, Outcome
from streams.reconcile.exchange import Digest
from tests.fakes.rated import rated_call
from tests.paths import REPO

BOOK = load_book(REPO / "examples" / "agreement.yaml")
SALT = book_hash(BOOK)
TRUSTED = TrustedKeys.of_book(BOOK, "example agreement")
DAY = datetime(2026, 11, 20, tzinfo=UTC)
NOW = datetime(2026, 11, 22, tzinfo=UTC)
KEYS: dict[str, KeyPair] = {party: demo_keypair(party) for party in ("hgc", "dcc")}
SIGNATURES = [sign_agreement(BOOK, KEYS[p], p) for p in ("hgc", "dcc")]


def call(
    name: str,
    hour: int,
    offset: float,
    amount: str = "0.0142",
    seconds: int = 60,
    rate: str = "voice-de-mobile@peak",
) -> RatedUsage:
    """One rated call of the shared traffic: ``name`` is its record id, the key both see."""
    window = DAY + timedelta(hours=hour)
    record = rated_call(name, window, 0, amount, seconds=seconds)
    return dataclasses.replace(record, start=window + timedelta(seconds=offset), rate_id=rate)


class Party:
    """One party's chain, digests and leaf store, built from its rated usage."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tip = ChainTip(name, BOOK.id)
        self.entries: list[LedgerEntry] = [
            self.tip.append("genesis", genesis_payload(BOOK, SIGNATURES), KEYS[name], NOW)
        ]
        self.batcher = Batcher(BOOK.id, 600, BOOK.latest.digest_depth, SALT)
        self.digests: list[Digest] = []
        self.offset = 0

    def ingest(self, records: Iterable[RatedUsage]) -> None:
        for record in records:
            self.batcher.add(record, 0, self.offset)
            self.offset += 1

    def close(self) -> None:
        """Anchor every due batch (all windows are in the past)."""
        for batch in self.batcher.due(NOW + timedelta(days=30)):
            entry = anchor_entry(batch, self.tip, self.name, KEYS[self.name], NOW)
            self.tip.advance(entry)
            self.entries.append(entry)
            self.batcher.anchored(batch)
            self.digests.append(Digest.from_avro(digest_record(batch, self.name, entry.sequence)))
            self.leaves[(to_ms(batch.window_start), to_ms(batch.window_end), batch.revision)] = (
                batch.leaves
            )

    @property
    def leaves(self) -> dict[tuple[int, int, int], tuple]:  # type: ignore[type-arg]
        if not hasattr(self, "_leaves"):
            self._leaves: dict[tuple[int, int, int], tuple] = {}  # type: ignore[type-arg]
        return self._leaves

    def countersign(self, request: dict) -> LedgerEntry:  # type: ignore[type-arg]
        payload = countersignature_payload(
            partner=request["partner"],
            partner_sequence=request["partner_sequence"],
            partner_entry_hash=request["partner_entry_hash"],
            window_start_ms=request["window_start_ms"],
            window_end_ms=request["window_end_ms"],
            revision=request["revision"],
            root=request["root"],
            anchor_sequence=request["anchor_sequence"],
        )
        entry = self.tip.append("countersignature", payload, KEYS[self.name], NOW)
        self.entries.append(entry)
        return entry


def engine_of(party: Party, partner: Party, agreement=None) -> Engine:  # type: ignore[no-untyped-def]
    engine = Engine(
        party=party.name,
        partner=partner.name,
        agreement=agreement or BOOK.latest,
        salt=SALT,
        trusted=TRUSTED,
    )
    return engine


def feed(
    engine: Engine,
    party: Party,
    partner: Party,
    partner_entries: Sequence[LedgerEntry] | None = None,
) -> None:
    for entry in party.entries:
        engine.add_own_entry(entry)
    for key, leaves in party.leaves.items():
        engine.add_own_leaves(key[:2], key[2], leaves)
    for entry in partner.entries if partner_entries is None else partner_entries:
        engine.add_partner_entry(entry)
    for digest in partner.digests:
        engine.add_partner_digest(digest)


def reconcile(
    a: Party, b: Party, rounds: int = 6, engines: tuple[Engine, Engine] | None = None
) -> tuple[Outcome, Outcome, int]:
    """Run both reconcilers (``engines``: a's and b's, default ones for the example agreement)
    to a fixed point, exchanging requests, answers and countersignatures as the mirrored
    topics would. Returns both outcomes and the bytes of answers exchanged."""
    pair = engines or (engine_of(a, b), engine_of(b, a))
    engines_by = {a.name: pair[0], b.name: pair[1]}
    engines = engines_by
    parties = {a.name: a, b.name: b}
    answered_bytes = 0
    outcomes: dict[str, Outcome] = {}
    for _ in range(rounds):
        for name, engine in engines.items():
            other = b if name == a.name else a
            feed(engine, parties[name], other)
        moved = False
        for name, engine in engines.items():
            outcome = engine.evaluate(to_ms(NOW))
            outcomes[name] = outcome
            partner = b.name if name == a.name else a.name
            for request in outcome.requests:
                answer = engines[partner].answer(request, to_ms(NOW))
                assert answer is not None
                if request["request_id"] not in engine.answers:
                    answered_bytes += sum(len(repr(item)) for item in answer["buckets"])
                    engine.add_answer(answer)
                    moved = True
            for cosign in outcome.cosigns:
                parties[name].countersign(cosign)
                moved = True
        if not moved:
            break
    return outcomes[a.name], outcomes[b.name], answered_bytes


def amount(text: str) -> Decimal:
    return Decimal(text)
