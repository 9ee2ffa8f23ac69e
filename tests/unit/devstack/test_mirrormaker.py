"""The MirrorMaker 2 launcher and CLI without starting anything: log reading, connector state,
ports, the stop order, the rendered config, status without links."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from streams.cli.mirror import LOCAL_PREFIX_PATTERN, local_links, mirror_group, status_document
from streams.devstack.localstack import LocalStack, MirrorStatus
from streams.devstack.mirrormaker import (
    SourceState,
    TopicLag,
    _source_state,
    local_rest_port,
    log_lines_about,
)
from streams.devstack.services import KINDS, STOP_ORDER
from streams.reconcile.mirroring import is_mirrored

LOG = """\
[2026-12-01 04:00:00,000] INFO old run (x)

=== bilat 2026-12-01T04:08:30Z: starting MirrorMaker 2 (hgc->dcc) 4.1.1 ===
[2026-12-01 04:08:31,000] INFO Starting MirrorSourceConnector (org.apache.kafka.connect.mirror.X)
[2026-12-01 04:08:32,000] WARN Could not alter configuration of topic hgc.t.ledger.anchors. (m)
[2026-12-01 04:08:33,000] ERROR Error creating topic hgc.t.ledger.digests. (m)
[2026-12-01 04:08:34,000] INFO Created new topic hgc.t.ledger.anchors on dcc. (m)
"""


def test_log_lines_of_the_last_run_name_the_topic_or_warn_but_skip_known_noise(
    tmp_path: Path,
) -> None:
    log = tmp_path / "mm2.log"
    log.write_text(LOG, encoding="utf-8")
    lines = log_lines_about(log, ["hgc.t.ledger.anchors"])
    assert lines == (
        "[2026-12-01 04:08:33,000] ERROR Error creating topic hgc.t.ledger.digests. (m)",
        "[2026-12-01 04:08:34,000] INFO Created new topic hgc.t.ledger.anchors on dcc. (m)",
    )
    assert log_lines_about(tmp_path / "absent.log", ["x"]) == ()


def test_the_source_connector_state_is_the_latest_record_per_key() -> None:
    state = _source_state(
        {
            "status-connector-MirrorSourceConnector": {"state": "RUNNING", "trace": None},
            "status-task-MirrorSourceConnector-0": {
                "state": "FAILED",
                "trace": "org.apache.kafka.connect.errors.ConnectException: boom\n\tat x",
            },
            "status-connector-MirrorHeartbeatConnector": {"state": "FAILED", "trace": "other"},
        }
    )
    assert state == SourceState(
        connector="RUNNING",
        tasks={"MirrorSourceConnector-0": "FAILED"},
        trace="org.apache.kafka.connect.errors.ConnectException: boom",
    )
    assert _source_state({}) == SourceState(connector=None, tasks={}, trace=None)


def test_mirrormaker_stops_before_the_clusters_and_is_listed_last() -> None:
    assert STOP_ORDER.index("mm2") < STOP_ORDER.index("kafka")
    assert KINDS == ("kafka", "redis", "mm2")


def test_local_links_use_the_party_ports_and_mirror_demo_runs() -> None:
    forward, back = local_links(("hgc", "dcc"), 9092)
    assert (forward.target_bootstrap, forward.rest_port) == ("127.0.0.1:9192", 9202)
    assert (back.target_bootstrap, back.rest_port) == ("127.0.0.1:9092", local_rest_port(9092))
    assert forward.prefix_pattern == LOCAL_PREFIX_PATTERN and forward.replication_factor == 1
    assert is_mirrored(forward, "ledger.anchors")
    assert is_mirrored(forward, "demo-20261201032501.ledger.digests")
    assert not is_mirrored(forward, "demo-20261201032501.ledger.batches")
    literal, _ = local_links(("hgc", "dcc"), 9092, topic_prefix="p.")
    assert literal.prefix_pattern is None and is_mirrored(literal, "p.recon.requests")


def test_status_without_any_mirrormaker_says_so_and_exits_3(tmp_path: Path) -> None:
    result = CliRunner().invoke(mirror_group, ["status", "--run-dir", str(tmp_path)])
    assert result.exit_code == 3
    assert "no MirrorMaker recorded" in result.output
    assert LocalStack(run_dir=tmp_path).mirror_links() == []


def test_status_json_names_missing_copies(tmp_path: Path) -> None:
    link, _ = local_links(("hgc", "dcc"))
    status = MirrorStatus(
        link=link,
        pid=None,
        log_path=tmp_path / "mm2.log",
        source=None,
        topics=(
            TopicLag("ledger.anchors", "hgc.ledger.anchors", 10, 11),
            TopicLag("ledger.digests", "hgc.ledger.digests", 4, None),
        ),
        problems=("stopped",),
        log_lines=(),
    )
    document = status_document(tmp_path, [status])
    (entry,) = document["links"]
    assert entry["missing"] == ["hgc.ledger.digests"] and entry["running"] is False
    assert entry["topics"][0]["target_end"] == 11 and entry["topics"][1]["missing"] is True


def test_config_prints_the_properties_of_one_direction(tmp_path: Path) -> None:
    out = tmp_path / "mm2.properties"
    args = [
        "config",
        "--source",
        "dcc",
        "--source-bootstrap",
        "partner:9093",
        "--target",
        "hgc",
        "--target-bootstrap",
        "kafka:9092",
        "--replication-factor",
        "1",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(mirror_group, args)
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "--clusters hgc" in text and "dcc->hgc.enabled=true\n" in text
    assert "hgc.exactly.once.source.support=enabled\n" in text
    bad = CliRunner().invoke(mirror_group, [*args[:2], "d.cc", *args[3:]])
    assert bad.exit_code == 2 and "no dot" in bad.output
