"""Against real secured brokers (TLS, SCRAM-SHA-512, ACLs) and a TLS Redis with ACL users.

The ``secure_stack`` fixture starts its own pair of clusters, Redis and mirrors (ports
25892/25992 and Redis 25879; tests/e2e/test_cli.py has 25492/25592), never the shared plain
ones. Every failure must come fast (a few seconds at most) with an error that names its cause.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from connectors.mediation.ingest import ingest_files
from connectors.mediation.synth import synth_order, synth_pair
from streams.agreement.trust import TrustedKeys
from streams.core.errors import StackError
from streams.core.keys import demo_keypair
from streams.devstack import secure
from streams.devstack.secure import Mode
from streams.ledger.check import check_ledger
from streams.runtime.batcher import BatcherLoop, init_ledger
from streams.runtime.config import Settings
from streams.runtime.preflight import KafkaAccessError, check_kafka
from streams.runtime.produce import publish
from streams.runtime.reader import read_records
from streams.runtime.security import kafka_config, redis_client
from streams.runtime.workers import start_worker, stop_worker
from tests.fakes.recon import BOOK, SIGNATURES
from tests.secure_stack import SecureStack

FAST = 5.0
"""Seconds within which every refusal must be reported."""


@pytest.fixture
def stack(secure_stack: SecureStack, topic_prefix: str) -> SecureStack:
    """The session's secured stack with this test's topics created and every role's ACLs."""
    secure_stack.deploy(topic_prefix)
    return secure_stack


def produce(
    config: dict[str, Any], topic: str, value: bytes, idempotent: bool = True
) -> KafkaError | None:
    """Produce one record; the delivery error (None when delivered)."""
    errors: list[KafkaError | None] = []
    settings = {**config, "message.timeout.ms": 10_000, "enable.idempotence": idempotent}
    producer = Producer(settings)
    producer.produce(topic, value, on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(15)
    assert errors, f"no delivery report for {topic} within 15 s"
    return errors[0]


def consume_one(config: dict[str, Any], topic: str, timeout: float = 15.0) -> Any:
    """The first message (or error) of ``topic``, read from the start."""
    consumer = Consumer(
        {
            **config,
            "group.id": f"bilat-readback-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        found = consumer.list_topics(topic, timeout=10).topics[topic].partitions or {0: None}
        consumer.assign([TopicPartition(topic, p, 0) for p in found])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            # A principal without a group (the partner's MirrorMaker reads without one) is told
            # once that librdkafka's coordinator lookup was refused; the fetch goes on.
            if message is not None and not _group_refused(message):
                return message
        raise AssertionError(f"nothing on {topic} within {timeout:.0f} s")
    finally:
        consumer.close()


def _group_refused(message: Any) -> bool:
    error = message.error()
    return error is not None and error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED


def test_scram_and_mutual_tls_through_the_settings(
    stack: SecureStack, topic_prefix: str, tmp_path: Path
) -> None:
    """ingest writes over SASL_SSL/SCRAM, the worker reads over mutual TLS, both configured
    only through BILAT_KAFKA_* variables (kafka_config)."""
    ingest = stack.settings("hgc", "ingest", topic_prefix, tmp_path)
    worker = stack.settings("hgc", "worker", topic_prefix, tmp_path, mode="mtls")
    assert ingest.security.protocol == "SASL_SSL" and worker.security.protocol == "SSL"
    topic = ingest.topic("usage.cdr")
    check_kafka(kafka_config(ingest), timeout=FAST)
    assert produce(kafka_config(ingest), topic, b"cdr-1") is None
    message = consume_one(kafka_config(worker), topic)
    assert message.error() is None and message.value() == b"cdr-1"


def test_wrong_password_fails_fast(stack: SecureStack, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password")
    settings = stack.settings(
        "hgc", "worker", "t-0000000000.", tmp_path, env={"BILAT_KAFKA_PASSWORD_FILE": str(wrong)}
    )
    began = time.monotonic()
    with pytest.raises(KafkaAccessError, match=r"refused the login of 'worker' \(SCRAM-SHA-512\)"):
        check_kafka(kafka_config(settings), timeout=30)
    assert time.monotonic() - began < FAST


def test_unknown_ca_fails_fast(stack: SecureStack, tmp_path: Path) -> None:
    """The client does not trust the broker's certificate (another CA file)."""
    rogue = {"BILAT_KAFKA_CA_FILE": str(stack.files.pki.rogue_ca)}
    settings = stack.settings("hgc", "worker", "t-0000000000.", tmp_path, env=rogue)
    began = time.monotonic()
    with pytest.raises(KafkaAccessError, match=r"does not verify against .*rogue-ca\.pem"):
        check_kafka(kafka_config(settings), timeout=30)
    assert time.monotonic() - began < FAST


def test_client_certificate_of_an_unknown_ca_is_refused_fast(stack: SecureStack) -> None:
    """The broker does not trust the client's certificate (same CN, another CA)."""
    rogue = stack.files.pki.rogue("worker")
    config = stack.config(
        "hgc",
        "worker",
        "mtls",
        **{"ssl.certificate.location": str(rogue.cert), "ssl.key.location": str(rogue.key)},
    )
    began = time.monotonic()
    with pytest.raises(KafkaAccessError, match="refused the TLS connection with the certificate"):
        check_kafka(config, timeout=30)
    assert time.monotonic() - began < FAST


def test_expired_certificate_fails_fast(stack: SecureStack, tmp_path: Path) -> None:
    expired = stack.files.pki.expired("worker")
    files = {"BILAT_KAFKA_CERT_FILE": str(expired.cert), "BILAT_KAFKA_KEY_FILE": str(expired.key)}
    settings = stack.settings("hgc", "worker", "t-0000000000.", tmp_path, mode="mtls", env=files)
    began = time.monotonic()
    with pytest.raises(KafkaAccessError, match=r"expired-worker.pem .*expired on"):
        check_kafka(kafka_config(settings), timeout=30)
    # And the broker itself refuses it, also at once (without the local check).
    config = {k: v for k, v in kafka_config(settings).items()}
    from streams.runtime.preflight import diagnose

    reports: list[KafkaError] = []
    consumer = Consumer({**config, "group.id": "x", "error_cb": reports.append, "log_level": 0})
    try:
        deadline = time.monotonic() + FAST
        while not reports and time.monotonic() < deadline:
            consumer.poll(0.2)
    finally:
        consumer.close()
    assert reports and diagnose(reports[0], config) is not None
    assert time.monotonic() - began < 2 * FAST


def test_missing_acl_fails_fast(stack: SecureStack, topic_prefix: str, tmp_path: Path) -> None:
    """The worker may write usage.rated, not the ledger, and may not join the batcher's
    group: each is refused at once with an authorization error."""
    worker = stack.settings("hgc", "worker", topic_prefix, tmp_path)
    config = kafka_config(worker)
    began = time.monotonic()
    error = produce(config, worker.topic("ledger.anchors"), b"forged")
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    consumer = Consumer({**config, "group.id": f"{worker.app_id}-batcher"})
    try:
        consumer.subscribe([worker.topic("usage.cdr")])
        message = consumer.poll(FAST)
        assert message is not None and message.error() is not None
        assert message.error().code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    finally:
        consumer.close()
    assert time.monotonic() - began < 2 * FAST


def test_partner_principal_reads_only_the_mirrored_topics(
    stack: SecureStack, topic_prefix: str
) -> None:
    """dcc's MirrorMaker logs in to hgc as mirror-reader: it reads hgc's ledger, but neither
    usage.* nor may it write hgc's ledger."""
    admin = stack.config("hgc", "admin", "mtls")
    assert produce(admin, f"{topic_prefix}ledger.anchors", b"entry") is None
    assert produce(admin, f"{topic_prefix}usage.rated", b"rated") is None
    partner = stack.config("hgc", "mirror-reader")
    assert consume_one(partner, f"{topic_prefix}ledger.anchors").value() == b"entry"
    began = time.monotonic()
    consumer = Consumer({**partner, "group.id": "never-used"})
    try:
        for topic in ("usage.rated", "usage.cdr", "ledger.batches"):
            metadata = consumer.list_topics(f"{topic_prefix}{topic}", timeout=FAST)
            error = metadata.topics[f"{topic_prefix}{topic}"].error
            assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    finally:
        consumer.close()
    # Not idempotent: an idempotent producer of a principal that may write nothing is refused
    # even earlier (CLUSTER_AUTHORIZATION_FAILED, fatal), before it names a topic.
    error = produce(partner, f"{topic_prefix}ledger.anchors", b"forged", idempotent=False)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert time.monotonic() - began < 3 * FAST


def test_mirrormaker_copies_the_ledger_between_secured_clusters(
    stack: SecureStack, topic_prefix: str, tmp_path: Path
) -> None:
    """hgc's batcher writes its ledger over SCRAM; MM2 (mirror-reader on hgc, mirror-writer on
    dcc) copies it; dcc's reconciler reads the copy; hgc's usage is never copied."""
    batcher = stack.settings("hgc", "batcher", topic_prefix, tmp_path)
    assert produce(kafka_config(batcher), batcher.topic("ledger.anchors"), b"genesis") is None
    assert produce(kafka_config(batcher), batcher.topic("ledger.digests"), b"digest") is None
    reconciler = stack.settings("dcc", "reconciler", topic_prefix, tmp_path)
    copy = f"hgc.{topic_prefix}ledger.anchors"
    admin = AdminClientTopics(stack.config("dcc", "admin", "mtls"))
    deadline = time.monotonic() + 60
    while copy not in admin.names():  # MM2 looks for new topics every 2 s
        assert time.monotonic() < deadline, f"{copy} not created on dcc within 60 s"
        time.sleep(0.3)
    message = consume_one(kafka_config(reconciler), copy, timeout=30)
    assert message.error() is None, message.error()
    assert message.value() == b"genesis"
    assert f"hgc.{topic_prefix}usage.cdr" not in admin.names()
    assert f"hgc.{topic_prefix}ledger.batches" not in admin.names()


class AdminClientTopics:
    def __init__(self, config: dict[str, Any]) -> None:
        from confluent_kafka.admin import AdminClient

        self.admin = AdminClient(config)

    def names(self) -> set[str]:
        return set(self.admin.list_topics(timeout=10).topics)


def test_redis_over_tls_with_an_acl_user(stack: SecureStack, tmp_path: Path) -> None:
    """Bilat's user may use bilat:* keys only and no dangerous command; a wrong password and
    a plain connection are refused at once."""
    settings = stack.settings("hgc", "worker", "t-0000000000.", tmp_path)
    client = redis_client(settings, socket_timeout=5)
    key = f"bilat:test:{uuid.uuid4().hex}"
    assert client.set(key, "1", ex=60)
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.set("other:key", "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.flushall()
    client.close()
    wrong = tmp_path / "wrong"
    wrong.write_text("nope-nope-nope")
    bad = stack.settings(
        "hgc", "worker", "t-0000000000.", tmp_path, env={"BILAT_REDIS_PASSWORD_FILE": str(wrong)}
    )
    began = time.monotonic()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis_client(bad, socket_timeout=5).ping()
    plain = redis.Redis(host="127.0.0.1", port=stack.redis.port, socket_timeout=2)
    with pytest.raises(redis.exceptions.ConnectionError):
        plain.ping()
    assert time.monotonic() - began < FAST


def test_the_pipeline_runs_end_to_end_as_least_privileged_principals(
    stack: SecureStack, topic_prefix: str, tmp_path: Path
) -> None:
    """ingest (SCRAM) → worker (mutual TLS; Redis over TLS as its ACL user) → batcher (SCRAM,
    transactions under its own id): every good line of a synthetic file is rated once and
    anchored on a signed chain, each process as its role with only its ACLs, configured only
    through the variables a deployment sets."""
    now = datetime.now(UTC)
    prefix = topic_prefix

    def role(name: str, mode: Mode = "scram") -> Settings:
        return Settings.from_env(
            stack.env("hgc", name, mode),
            party="hgc",
            topic_prefix=prefix,
            run_dir=tmp_path,
            partitions=2,
        )

    app_id = role("ingest").app_id
    secure.apply_acls(
        stack.config("hgc", secure.ADMIN, "mtls"), topic_prefix=prefix, app_id=app_id, partner="dcc"
    )
    seller, _buyer = synth_pair(300, now)
    path = tmp_path / "usage.csv"
    path.write_text(seller.text, encoding="utf-8")
    publish(
        role("sonata"),
        "sonata.orders",
        "sonata_order_event",
        [synth_order(now)],
        lambda r: str(r["product_id"]),
    )
    report = ingest_files([path], role("ingest"))
    assert report.produced > 0

    worker = role("worker", "mtls")
    log = tmp_path / "worker.log"
    process = start_worker(worker, log, "--until-caught-up")
    try:
        assert process.wait(180) == 0, log.read_text()[-3000:]
    finally:
        stop_worker(process)

    batcher = role("batcher")
    init_ledger(batcher, SIGNATURES, demo_keypair("hgc"))
    loop = BatcherLoop(batcher, demo_keypair("hgc"))
    assert loop.run(once=True) > 0
    chain = [e for e in read_records(batcher, "ledger.anchors") if e.party == "hgc"]
    anchored = sum(e.payload_json()["leaf_count"] for e in chain if e.kind == "anchor")
    assert anchored == seller.good  # every good line rated once, anchored once
    assert check_ledger(chain, "hgc", trusted=TrustedKeys.of_book(BOOK)) == []


def test_a_topic_the_principal_may_not_read_is_an_error_not_an_empty_topic(
    stack: SecureStack, topic_prefix: str, tmp_path: Path
) -> None:
    reader = stack.settings("hgc", "mirror-reader", topic_prefix, tmp_path)
    with pytest.raises(StackError, match=r"usage\.rated .*may not read it: the operator grants"):
        list(read_records(reader, "usage.rated"))
    # A topic it may read but that holds nothing is just empty.
    assert list(read_records(reader, "ledger.anchors")) == []
