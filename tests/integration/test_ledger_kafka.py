"""The ledger through real Kafka: genesis, batching, crash safety, fencing, tampering, proofs.

Rated usage is published directly (the rating worker is tested elsewhere) so every run gets
byte-identical input. The batcher runs as `bilat batcher`, a separate process, so a crash is a
real abrupt exit (``BILAT_FAULT``), not a simulated one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer

from streams.agreement.loader import load_book
from streams.agreement.signing import book_hash, sign_agreement
from streams.agreement.trust import TrustedKeys
from streams.contract.records import RatedUsage
from streams.core.clock import ManualClock
from streams.core.keys import KeyPair, demo_keypair
from streams.ledger.batching import Batcher
from streams.ledger.check import check_ledger as check_chain
from streams.ledger.entries import LedgerEntry, make_entry
from streams.ledger.payloads import rotation_proof_ok
from streams.runtime.batcher import FAULT_POINTS, BatcherLoop
from streams.runtime.config import Settings
from streams.runtime.produce import publish
from streams.runtime.readback import read_topic
from streams.runtime.registry import make_codec
from streams.runtime.topics import ensure_topics
from tests.fakes.agreements import EXAMPLE, forged_genesis, key, with_keys
from tests.fakes.rated import rated_call
from tests.paths import REPO

CODEC = make_codec()
BOOK = load_book(REPO / "examples" / "agreement.yaml")
TRUST = TrustedKeys.of_book(BOOK)
DAY = datetime(2026, 11, 20, tzinfo=UTC)  # version 1 in force; windows long closed


def check_ledger(entries: list[LedgerEntry]) -> list[Any]:
    """hgc's chain checked against the example agreement's keys."""
    return check_chain(entries, "hgc", trusted=TRUST)


def rated(n: int, hour: int, amount: str = "0.0150", day: datetime = DAY) -> RatedUsage:
    return rated_call(f"{hour:02d}-{n:04d}", day + timedelta(hours=hour), n * 7, amount)


RECORDS = [rated(n, hour) for hour in (9, 10, 11) for n in range(40)]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The parties' demo keys (the ones examples/agreement.yaml lists) in key files, and each
    party's signature of the example agreement beside them."""
    folder = tmp_path_factory.mktemp("keys")
    paths = {}
    for party in ("hgc", "dcc"):
        pair = demo_keypair(party)
        pair.save(folder / f"{party}.key")
        paths[party] = folder / f"{party}.key"
        doc = sign_agreement(BOOK, pair, party)
        (folder / f"{party}.sig.json").write_text(json.dumps(doc), encoding="utf-8")
    return paths


def cli_env(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `bilat` process of party hgc on ``settings``' topics."""
    environment = dict(
        os.environ,
        BILAT_KAFKA=settings.kafka,
        BILAT_TOPIC_PREFIX=settings.topic_prefix,
        BILAT_PARTY="hgc",
        COLUMNS="200",
    )
    environment.pop("BILAT_FAULT", None)
    environment.pop("BILAT_AGREEMENT", None)
    environment.update(extra or {})
    return environment


def bilat(
    settings: Settings, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli.main", *args],
        capture_output=True,
        text=True,
        env=cli_env(settings, env),
        cwd=REPO,
        timeout=180,
        check=False,
    )


def start_batcher(
    settings: Settings, keys: dict[str, Path], fault: str | None = None
) -> subprocess.Popen[str]:
    """`bilat batcher` running in the background (stdout and stderr in one pipe)."""
    return subprocess.Popen(
        [sys.executable, "-m", "streams.cli.main", "batcher", "--key", str(keys["hgc"])],
        env=cli_env(settings, {"BILAT_FAULT": fault} if fault else None),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def beside(settings: Settings, suffix: str, run_dir: Path) -> Settings:
    """Settings of a second, independent ledger on the same broker (topic prefix + suffix)."""
    return replace(settings, topic_prefix=settings.topic_prefix + suffix, run_dir=run_dir)


def prepared(
    settings: Settings, keys: dict[str, Path], records: list[RatedUsage] = RECORDS
) -> Settings:
    """A ledger with its genesis, and ``records`` on usage.rated."""
    settings = Settings.from_env(
        {},
        party="hgc",
        kafka=settings.kafka,
        topic_prefix=settings.topic_prefix,
        redis=settings.redis,
        run_dir=settings.run_dir,
    )
    ensure_topics(settings)
    folder = keys["hgc"].parent
    done = bilat(
        settings,
        "ledger",
        "init",
        "--key",
        str(keys["hgc"]),
        "--signature",
        str(folder / "hgc.sig.json"),
        "--signature",
        str(folder / "dcc.sig.json"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    publish(
        settings,
        "usage.rated",
        "rated_usage",
        [r.to_avro() for r in records],
        lambda r: f"{r['source']}/{r['record_id']}",
    )
    return settings


def chain(settings: Settings) -> list[LedgerEntry]:
    entries = [
        LedgerEntry.from_avro(CODEC.decode("ledger_entry", v))
        for _k, v in read_topic(settings, settings.topic("ledger.anchors"))
    ]
    return sorted(entries, key=lambda e: e.sequence)


def anchors(settings: Settings) -> list[tuple[Any, ...]]:
    """What the ledger says, independent of signing times: window, revision, root, count, totals."""
    out = []
    for entry in chain(settings):
        if entry.kind == "anchor":
            p = entry.payload_json()
            out.append(
                (
                    p["window_start_ms"],
                    p["revision"],
                    p["root"],
                    p["leaf_count"],
                    json.dumps(p["totals"]),
                )
            )
    return out


def count(settings: Settings, logical: str) -> int:
    return sum(1 for _ in read_topic(settings, settings.topic(logical)))


def run_batcher(
    settings: Settings, keys: dict[str, Path], fault: str | None = None
) -> subprocess.CompletedProcess[str]:
    return bilat(
        settings,
        "batcher",
        "--once",
        "--key",
        str(keys["hgc"]),
        env={"BILAT_FAULT": fault} if fault else None,
    )


@pytest.fixture
def baseline(
    settings: Settings, keys: dict[str, Path]
) -> Iterator[tuple[Settings, list[tuple[Any, ...]]]]:
    ready = prepared(settings, keys)
    done = run_batcher(ready, keys)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 batches anchored" in done.stdout
    yield ready, anchors(ready)


def test_windows_are_anchored_once_with_a_clean_chain(
    baseline: tuple[Settings, list[tuple[Any, ...]]], keys: dict[str, Path]
) -> None:
    settings, expected = baseline
    assert [(a[1], a[3]) for a in expected] == [(0, 40)] * 3
    assert all(json.loads(a[4]) == {"EUR": "0.6"} for a in expected)
    assert check_ledger(chain(settings)) == []
    assert count(settings, "ledger.digests") == count(settings, "ledger.batches") == 3
    again = run_batcher(settings, keys)  # a restart recognises everything: nothing new
    assert again.returncode == 0 and "0 batches anchored" in again.stdout
    assert anchors(settings) == expected
    checked = bilat(settings, "ledger", "check")
    assert checked.returncode == 0 and "intact" in checked.stdout, checked.stdout + checked.stderr
    assert "3 anchors, digests and leaf batches match" in checked.stdout


@pytest.mark.parametrize("fault", [f for f in FAULT_POINTS if f != "during-rebalance"])
def test_a_crash_at_any_point_leaves_the_same_ledger(
    baseline: tuple[Settings, list[tuple[Any, ...]]],
    keys: dict[str, Path],
    fault: str,
    tmp_path: Path,
) -> None:
    _, expected = baseline
    ready = prepared(beside(baseline[0], "crash.", tmp_path), keys)
    crashed = run_batcher(ready, keys, fault)
    assert crashed.returncode == 70, crashed.stdout + crashed.stderr
    recovered = run_batcher(ready, keys)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert anchors(ready) == expected  # same windows, revisions, roots, counts, totals
    assert check_ledger(chain(ready)) == []  # no gap, no duplicate, every signature good
    assert count(ready, "ledger.digests") == count(ready, "ledger.batches") == len(expected)


def test_late_usage_makes_a_revision_that_supersedes(
    baseline: tuple[Settings, list[tuple[Any, ...]]], keys: dict[str, Path]
) -> None:
    settings, expected = baseline
    late = [rated(n, 10) for n in range(40, 43)] + [rated(5, 10, amount="0.0300")]
    publish(
        settings,
        "usage.rated",
        "rated_usage",
        [r.to_avro() for r in late],
        lambda r: f"{r['source']}/{r['record_id']}",
    )
    done = run_batcher(settings, keys)
    assert done.returncode == 0 and "1 batches anchored" in done.stdout, done.stdout + done.stderr
    revision = anchors(settings)[-1]
    assert (revision[0], revision[1], revision[3]) == (expected[1][0], 1, 43)
    assert json.loads(revision[4]) == {
        "EUR": "0.66"
    }  # 43 x 0.015 + 0.015 more for the re-rated call
    payload = chain(settings)[-1].payload_json()
    assert payload["supersedes"] == {"revision": 0, "root": expected[1][2]}
    assert check_ledger(chain(settings)) == []


def test_a_second_batcher_fences_the_first(
    baseline: tuple[Settings, list[tuple[Any, ...]]], keys: dict[str, Path]
) -> None:
    settings, _ = baseline
    first = start_batcher(settings, keys)
    try:
        time.sleep(6)  # let it join the group and go idle
        second = run_batcher(settings, keys)  # fences the first on start
        assert second.returncode == 0, second.stdout + second.stderr
        publish(
            settings,
            "usage.rated",
            "rated_usage",
            [rated(50 + n, 9).to_avro() for n in range(4)],
            lambda r: f"{r['source']}/{r['record_id']}",
        )
        output, _ = first.communicate(timeout=60)  # the first may no longer write: it exits
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 2, output
    assert "only one may run" in output
    assert check_ledger(chain(settings)) == []
    assert sum(1 for a in anchors(settings) if a[1] > 0) == 0  # the fenced one anchored nothing


def test_a_changed_byte_is_reported_by_ledger_check(
    baseline: tuple[Settings, list[tuple[Any, ...]]],
) -> None:
    settings, _ = baseline
    entries = chain(settings)
    target = entries[2]
    tampered_payload = target.payload.replace(b'"revision":0', b'"revision":1')
    assert tampered_payload != target.payload
    records = [e.to_avro() for e in entries]
    records[2]["payload"] = tampered_payload
    publish(settings, "ledger.tampered", "ledger_entry", records, lambda r: "hgc")
    checked = bilat(settings, "ledger", "check", "--topic", settings.topic("ledger.tampered"))
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "bad-payload" in checked.stdout and " 2 " in checked.stdout

    # A digest beside the real ledger that does not hash to the root its anchor signs.
    (digest, *_) = [
        CODEC.decode("batch_digest", v)
        for _k, v in read_topic(settings, settings.topic("ledger.digests"))
    ]
    digest["bucket_hashes"][0] = bytes(32)
    publish(settings, "ledger.digests", "batch_digest", [digest], lambda r: "hgc")
    checked = bilat(settings, "ledger", "check")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "bad-digest" in checked.stdout and "bucket hashes hash to" in checked.stdout


def test_verify_a_record_online_and_offline(
    baseline: tuple[Settings, list[tuple[Any, ...]]], tmp_path: Path
) -> None:
    settings, _ = baseline
    bundle = tmp_path / "record.json"
    live = bilat(settings, "verify", RECORDS[45].key, "--export", str(bundle))
    assert live.returncode == 0, live.stdout + live.stderr
    for check in ("leaf", "inclusion", "chain", "anchor", "salt"):
        assert f"✓ {check}" in live.stdout
    offline = bilat(
        settings,
        "verify",
        "--bundle",
        str(bundle),
        "--agreement",
        "examples/agreement.yaml",
        env={"BILAT_KAFKA": "127.0.0.1:1"},
    )
    assert offline.returncode == 0, offline.stdout + offline.stderr
    untrusted = bilat(settings, "verify", "--bundle", str(bundle))  # no agreement, no keys file
    assert untrusted.returncode == 2, untrusted.stdout + untrusted.stderr
    assert "no trusted keys: pass --agreement FILE" in untrusted.stderr
    document = json.loads(bundle.read_text())
    document["record"]["amount"] = "0.0001"
    bundle.write_text(json.dumps(document))
    forged = bilat(settings, "verify", "--bundle", str(bundle), "--agreement", str(EXAMPLE))
    assert forged.returncode == 1 and "✗ leaf" in forged.stdout
    missing = bilat(settings, "verify", "ix-fra-01/never-rated")
    assert missing.returncode == 2 and "is it rated?" in missing.stderr


def test_a_crash_during_a_rebalance_loses_nothing_and_doubles_nothing(
    baseline: tuple[Settings, list[tuple[Any, ...]]],
    keys: dict[str, Path],
    tmp_path: Path,
) -> None:
    """The batcher holds records of a window not due yet (read, not anchored, offsets not
    committed) when a rebalance starts; it dies in the middle of it. The restarted batcher
    anchors that window with every one of its records, and nothing twice."""
    _, expected = baseline
    future = datetime(2027, 6, 1, tzinfo=UTC)  # open for months: held, not anchored
    pending = [rated(n, 8, day=future) for n in range(25)]
    ready = prepared(beside(baseline[0], "rebalance.", tmp_path), keys, RECORDS + pending)
    batcher = start_batcher(ready, keys, fault="during-rebalance")
    intruder = None
    output = ""
    try:
        deadline = time.monotonic() + 90
        while len(anchors(ready)) < len(expected):  # every record read, the past anchored
            assert batcher.poll() is None, batcher.communicate()[0]
            assert time.monotonic() < deadline, "the batcher anchored nothing in 90 s"
            time.sleep(0.5)
        # Another member joins the batcher's consumer group: a rebalance revokes its partitions.
        intruder = Consumer(
            {"bootstrap.servers": ready.kafka, "group.id": f"{ready.app_id}-batcher"}
        )
        intruder.subscribe([ready.topic("usage.rated")])
        deadline = time.monotonic() + 60
        while batcher.poll() is None and time.monotonic() < deadline:
            intruder.poll(0.5)
        output, _ = batcher.communicate(timeout=10)
    finally:
        if intruder is not None:
            intruder.close()  # leaves the group, so the restarted batcher gets every partition
        if batcher.poll() is None:
            batcher.kill()
    assert batcher.returncode == 70, output
    assert "BILAT_FAULT=during-rebalance" in output

    # Restarted, months later: the held window is due and must hold all 25 records.
    clock = ManualClock(future + timedelta(days=1))
    restarted = BatcherLoop(ready, KeyPair.load(keys["hgc"]), clock=clock, say=lambda _m: None)
    assert restarted.run(once=True) == 1
    offline = Batcher("hgc-dcc-2026", 600, BOOK.latest.digest_depth, book_hash(BOOK))
    for offset, record in enumerate(pending):
        offline.add(record, 0, offset)
    (want,) = offline.due(clock.now())
    window_ms = int((future + timedelta(hours=8)).timestamp() * 1000)
    ledger = anchors(ready)
    assert ledger[: len(expected)] == expected  # the past windows once each, unchanged
    assert ledger[len(expected) :] == [(window_ms, 0, want.root.hex(), 25, '{"EUR": "0.375"}')]
    assert check_ledger(chain(ready)) == []  # no gap, no duplicate, every signature good
    again = run_batcher(ready, keys)  # and everything is recognised after that
    assert again.returncode == 0 and "0 batches anchored" in again.stdout, again.stdout


# --- trusted keys --------------------------------------------------------------------------

FRESH = {party: KeyPair.from_seed(bytes([11, n]) * 16) for n, party in enumerate(("hgc", "dcc"))}


def resigned_from_genesis(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """The forgery: hgc's chain rewritten from genesis with fresh keys for both parties (same
    agreement, same times), the first anchor's totals raised by 100,000 EUR."""
    forged: list[LedgerEntry] = []
    for entry in entries:
        body = entry.payload_json()
        if entry.kind == "genesis":
            body = forged_genesis(BOOK, FRESH)
        elif entry.sequence == 1:
            body = {**body, "totals": {"EUR": str(Decimal(body["totals"]["EUR"]) + 100_000)}}
        forged.append(
            make_entry(
                forged[-1] if forged else None,
                party=entry.party,
                agreement_id=entry.agreement_id,
                kind=entry.kind,
                payload=body,
                signer=FRESH["hgc"],
                time=entry.time,
            )
        )
    return forged


def test_a_chain_re_signed_from_genesis_fails_ledger_check_also_when_mirrored(
    baseline: tuple[Settings, list[tuple[Any, ...]]],
) -> None:
    settings, _ = baseline
    honest = chain(settings)
    forged = resigned_from_genesis(honest)
    assert forged[1].payload_json()["totals"] == {"EUR": "100000.6"}
    digests = [
        CODEC.decode("batch_digest", v)
        for _k, v in read_topic(settings, settings.topic("ledger.digests"))
    ]
    # As the partner dcc holds it after mirroring: hgc.ledger.anchors and hgc.ledger.digests.
    for name, entries in (("honest", honest), ("forged", forged)):
        publish(settings, f"{name}.hgc.ledger.anchors", "ledger_entry",
                [e.to_avro() for e in entries], lambda r: "hgc")  # fmt: skip
        publish(settings, f"{name}.hgc.ledger.digests", "batch_digest", digests, lambda r: "hgc")
    mirrored = ["ledger", "check", "--party", "dcc", "--owner", "hgc", "--json", "--topic"]
    intact = bilat(settings, *mirrored, settings.topic("honest.hgc.ledger.anchors"))
    assert intact.returncode == 0, intact.stdout + intact.stderr
    document = json.loads(intact.stdout)
    assert document["digests_checked"] and document["trusted_keys"].startswith("agreement ")

    caught = bilat(settings, *mirrored, settings.topic("forged.hgc.ledger.anchors"))
    assert caught.returncode == 1, caught.stdout + caught.stderr
    document = json.loads(caught.stdout)
    assert document["intact"] is False and document["digests_checked"]
    assert {f["kind"] for f in document["findings"]} == {"unknown-key"}
    assert {f["sequence"] for f in document["findings"]} == {e.sequence for e in forged}
    assert all(FRESH["hgc"].key_id in f["detail"] or FRESH["dcc"].key_id in f["detail"]
               for f in document["findings"])  # fmt: skip
    table = bilat(
        settings, "ledger", "check", "--topic", settings.topic("forged.hgc.ledger.anchors")
    )
    assert table.returncode == 1 and "unknown-key" in table.stdout
    assert demo_keypair("hgc").key_id in table.stdout  # the key trusted instead

    # the same with a trusted-keys file instead of the agreement
    trusted_file = settings.run_dir / "trusted.json"
    trusted_file.write_text(json.dumps(TRUST.to_json()))
    by_file = bilat(settings, *mirrored, settings.topic("forged.hgc.ledger.anchors"),
                    "--trusted-keys", str(trusted_file))  # fmt: skip
    assert by_file.returncode == 1, by_file.stdout + by_file.stderr
    assert json.loads(by_file.stdout)["trusted_keys"] == f"trusted keys {trusted_file}"


def test_batcher_and_init_refuse_a_key_the_agreement_does_not_list(
    settings: Settings, keys: dict[str, Path], tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.key"
    KeyPair.generate().save(stranger)
    folder = keys["hgc"].parent
    signatures = ["--signature", str(folder / "hgc.sig.json"), "--signature",
                  str(folder / "dcc.sig.json")]  # fmt: skip
    refused = bilat(settings, "ledger", "init", "--key", str(stranger), *signatures)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "refusing to write hgc's genesis" in refused.stderr
    assert demo_keypair("hgc").key_id in refused.stderr  # the key it wants
    ready = prepared(settings, keys)
    batcher = bilat(ready, "batcher", "--once", "--key", str(stranger))
    assert batcher.returncode == 2, batcher.stdout + batcher.stderr
    assert f"but hgc's ledger is signed by {demo_keypair('hgc').key_id}" in batcher.stderr
    partner = bilat(ready, "batcher", "--once", "--key", str(keys["dcc"]))
    assert partner.returncode == 2 and "hgc's ledger is signed by" in partner.stderr


def test_a_key_rotation_through_the_cli(
    settings: Settings, keys: dict[str, Path], tmp_path: Path
) -> None:
    """hgc's ledger starts with its demo key, rotates to the next key the agreement lists, and
    goes on signed by that one; the old key is refused from then on."""
    following = KeyPair.from_seed(bytes([12]) * 32)
    following.save(tmp_path / "hgc-next.key")
    agreement = tmp_path / "agreement.yaml"
    agreement.write_text(
        with_keys(hgc=[key(demo_keypair("hgc")), key(following, "2026-06-01T00:00:00Z")])
    )
    book = load_book(agreement)
    env = {"BILAT_AGREEMENT": str(agreement)}
    docs = []
    for party in ("hgc", "dcc"):
        path = tmp_path / f"{party}.sig.json"
        path.write_text(json.dumps(sign_agreement(book, demo_keypair(party), party)))
        docs += ["--signature", str(path)]
    ready = Settings.from_env(
        {},
        party="hgc",
        kafka=settings.kafka,
        topic_prefix=settings.topic_prefix,
        redis=settings.redis,
        run_dir=tmp_path,
    )
    ensure_topics(ready)
    init = bilat(ready, "ledger", "init", "--key", str(keys["hgc"]), *docs, env=env)
    assert init.returncode == 0, init.stdout + init.stderr
    publish(ready, "usage.rated", "rated_usage", [r.to_avro() for r in RECORDS[:40]],
            lambda r: f"{r['source']}/{r['record_id']}")  # fmt: skip
    first = bilat(ready, "batcher", "--once", "--key", str(keys["hgc"]), env=env)
    assert first.returncode == 0 and "1 batches anchored" in first.stdout, first.stdout

    stranger = KeyPair.generate()
    stranger.save(tmp_path / "stranger.key")
    unlisted = bilat(ready, "ledger", "rotate-key", "--key", str(keys["hgc"]), "--new-key",
                     str(tmp_path / "stranger.key"), env=env)  # fmt: skip
    assert unlisted.returncode == 2 and "is not trusted for hgc" in unlisted.stderr
    public_only = bilat(ready, "ledger", "rotate-key", "--key", str(keys["hgc"]), "--new-key",
                        str(tmp_path / "hgc-next.pub.json"), env=env)  # fmt: skip
    assert public_only.returncode == 2, public_only.stdout + public_only.stderr
    assert "want the new key's private key file" in public_only.stderr
    assert "proof of possession" in public_only.stderr
    rotated = bilat(ready, "ledger", "rotate-key", "--key", str(keys["hgc"]), "--new-key",
                    str(tmp_path / "hgc-next.key"), env=env)  # fmt: skip
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert f"{demo_keypair('hgc').key_id} → {following.key_id}" in rotated.stdout

    publish(ready, "usage.rated", "rated_usage", [r.to_avro() for r in RECORDS[40:80]],
            lambda r: f"{r['source']}/{r['record_id']}")  # fmt: skip
    old = bilat(ready, "batcher", "--once", "--key", str(keys["hgc"]), env=env)
    assert old.returncode == 2 and f"signed by {following.key_id}" in old.stderr, old.stderr
    new = bilat(ready, "batcher", "--once", "--key", str(tmp_path / "hgc-next.key"), env=env)
    assert new.returncode == 0 and "1 batches anchored" in new.stdout, new.stdout + new.stderr
    entries = chain(ready)
    assert [(e.kind, e.key_id) for e in entries] == [
        ("genesis", demo_keypair("hgc").key_id),
        ("anchor", demo_keypair("hgc").key_id),
        ("key-rotation", demo_keypair("hgc").key_id),
        ("anchor", following.key_id),
    ]
    # the rotation carries the new key's proof of possession over this chain's handover
    handover = entries[2].payload_json()
    assert rotation_proof_ok(handover, book.id, "hgc", demo_keypair("hgc").key_id)
    assert not rotation_proof_ok(handover, book.id, "dcc", demo_keypair("hgc").key_id)
    checked = bilat(ready, "ledger", "check", env=env)
    assert checked.returncode == 0 and "intact" in checked.stdout, checked.stdout + checked.stderr
    # against the example agreement, which lists no next key, the rotation is refused
    example = bilat(ready, "ledger", "check", "--no-batches", "--agreement", str(EXAMPLE))
    assert example.returncode == 1 and "wrong-agreement" in example.stdout
    assert "unknown-key" in example.stdout
    proof = bilat(ready, "verify", RECORDS[45].key, env=env)
    assert proof.returncode == 0 and "✓ chain" in proof.stdout, proof.stdout + proof.stderr


def test_a_window_too_large_for_one_message_is_stored_in_parts(
    settings: Settings, keys: dict[str, Path]
) -> None:
    """9,000 records in one window: the leaf store is three BatchLeaves records written in the
    anchor's transaction; a restart joins them and recognises the window, `ledger check`
    rebuilds the root from them, and a record in the last part is proven."""
    big = [
        replace(rated(n, 9), start=DAY + timedelta(hours=9, milliseconds=n * 300))
        for n in range(9_000)
    ]
    ready = prepared(settings, keys, big)
    done = run_batcher(ready, keys)
    assert done.returncode == 0 and "1 batches anchored" in done.stdout, done.stdout + done.stderr
    assert count(ready, "ledger.batches") == 3
    again = run_batcher(ready, keys)
    assert again.returncode == 0 and "0 batches anchored" in again.stdout, again.stdout
    checked = bilat(ready, "ledger", "check")
    assert checked.returncode == 0 and "leaf batches match" in checked.stdout, checked.stdout
    proven = bilat(ready, "verify", big[-1].key, "--json")
    assert proven.returncode == 0, proven.stdout + proven.stderr
