"""The topics Bilat creates: how many replicas, from the settings."""

from __future__ import annotations

from typing import Any

import pytest

from streams.runtime import topics as topics_module
from streams.runtime.config import Settings


def test_the_replication_factor_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env({}).replication_factor == 1
    settings = Settings.from_env({"BILAT_REPLICATION_FACTOR": "3"}, party="hgc")
    assert settings.replication_factor == 3
    created: list[Any] = []

    class FakeAdmin:
        def __init__(self, _config: object) -> None:
            pass

        def list_topics(self, timeout: float) -> Any:
            return type("Metadata", (), {"topics": {}})()

        def create_topics(self, wanted: list[Any], operation_timeout: float) -> dict[str, Any]:
            created.extend(wanted)
            return {}

    monkeypatch.setattr(topics_module, "AdminClient", FakeAdmin)
    topics_module.ensure_topics(settings, ["usage.cdr", "ledger.anchors"])
    assert {t.replication_factor for t in created} == {3}
