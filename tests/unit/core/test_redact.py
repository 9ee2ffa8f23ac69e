from __future__ import annotations

import pytest

from streams.core.errors import StackError
from streams.core.redact import redact_text, redact_url
from streams.runtime.config import Settings
from streams.runtime.worker import _check_redis


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@db:6379/0", "redis://:***@db:6379/0"),
        ("rediss://bilat:s3cret@db:6380/1", "rediss://bilat:***@db:6380/1"),
        ("redis://s3cret@db", "redis://***@db"),
        ("https://user:p%40ss@registry.example/x", "https://user:***@registry.example/x"),
        ("https://seller.example/api?token=s3cret&x=1", "https://seller.example/api?token=***&x=1"),
        ("redis://127.0.0.1:6390/0", "redis://127.0.0.1:6390/0"),
        ("127.0.0.1:9092,broker:9093", "127.0.0.1:9092,broker:9093"),
    ],
)
def test_credentials_are_hidden_and_the_rest_kept(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_urls_inside_text_are_redacted() -> None:
    text = "Error 111 connecting to redis://u:s3cret@10.0.0.1:6379/0. Connection refused."
    assert "s3cret" not in redact_text(text)
    assert "redis://u:***@10.0.0.1:6379/0" in redact_text(text)
    sasl = "cannot reach SASL_SSL://bilat:s3cret@kafka:9093 (timeout)"
    assert redact_text(sasl) == "cannot reach SASL_SSL://bilat:***@kafka:9093 (timeout)"


def test_the_worker_never_prints_the_redis_password() -> None:
    with pytest.raises(StackError) as info:
        _check_redis(Settings(redis="redis://bilat:s3cret@127.0.0.1:1/0"))  # nothing on port 1
    assert "s3cret" not in str(info.value)
    assert "redis://bilat:***@127.0.0.1:1/0" in str(info.value)
