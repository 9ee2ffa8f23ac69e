"""The schema registry wiring: make_codec picks the framing, ConfluentRegistry adapts
confluent_kafka's client (its in-memory mock:// registry here, no network) to the codec's
RegistryClient seam, turning a refusal into SchemaError and a missing id into None."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError

from streams.contract.codec import CONFLUENT_MAGIC, ConfluentCodec, SingleObjectCodec
from streams.contract.compat import sample_records
from streams.contract.schemas import SchemaStore
from streams.core.errors import SchemaError, UnknownSchemaError
from streams.runtime.registry import ConfluentRegistry, make_codec

STORE = SchemaStore.default()
DEAD_LETTER = next(iter(sample_records(STORE.latest("dead_letter"))))


class Refusing:
    """A ``SchemaRegistryClient`` stand-in whose every call fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def register_schema(self, subject_name: str, schema: Any) -> int:
        raise self.error

    def get_schema(self, schema_id: int) -> Any:
        raise self.error


def test_make_codec_chooses_the_framing() -> None:
    assert isinstance(make_codec(), SingleObjectCodec)
    assert isinstance(make_codec(None, STORE), SingleObjectCodec)
    codec = make_codec("mock://bilat-test")
    assert isinstance(codec, ConfluentCodec) and isinstance(codec.client, ConfluentRegistry)
    with pytest.raises(ValueError, match="want http"):
        make_codec("localhost:8081")


@pytest.mark.parametrize("subject", STORE.subjects())
def test_every_subject_round_trips_through_the_mock_registry(subject: str) -> None:
    codec = make_codec("mock://bilat-registry-test")
    assert isinstance(codec, ConfluentCodec)
    # A second codec on the same registry knows no id locally: it must look each up there.
    reader = ConfluentCodec(STORE, codec.client, codec.url)
    for record in sample_records(STORE.latest(subject)):
        data = codec.encode(subject, record)
        assert data[:1] == CONFLUENT_MAGIC
        assert codec.client.lookup(int.from_bytes(data[1:5], "big")) is not None
        assert codec.decode(subject, data) == record
        assert reader.decode(subject, data) == record


def test_an_id_the_registry_does_not_have_is_none_and_an_unknown_schema() -> None:
    registry = ConfluentRegistry.connect("mock://bilat-registry-missing")
    assert registry.lookup(4242) is None
    codec = ConfluentCodec(STORE, registry, "mock://bilat-registry-missing")
    with pytest.raises(UnknownSchemaError, match="schema id 4242 of registry mock://"):
        codec.decode("dead_letter", CONFLUENT_MAGIC + (4242).to_bytes(4, "big") + b"\x00")


def test_a_refusal_is_a_schema_error_without_credentials() -> None:
    error = SchemaRegistryError(409, 409, "incompatible at https://bilat:s3cret@registry.example")
    registry = ConfluentRegistry(Refusing(error))  # type: ignore[arg-type]
    with pytest.raises(SchemaError) as caught:
        registry.register("bilat.dead_letter", "{}")
    assert caught.value.__cause__ is error
    assert "incompatible" in str(caught.value) and "s3cret" not in str(caught.value)
    codec = ConfluentCodec(STORE, registry, "https://bilat:s3cret@registry.example")
    with pytest.raises(SchemaError, match=r"registry https://bilat:\*\*\*@registry\.example "):
        codec.encode("dead_letter", DEAD_LETTER)


def test_other_registry_failures_propagate_unchanged() -> None:
    """A registry that is down is not about the message: no dead letter, the caller decides."""
    error = SchemaRegistryError(503, 50301, "unavailable")
    registry = ConfluentRegistry(Refusing(error))  # type: ignore[arg-type]
    with pytest.raises(SchemaRegistryError) as caught:
        registry.lookup(1)
    assert caught.value is error
