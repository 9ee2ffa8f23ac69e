"""The Confluent Schema Registry client, wired to the pure codecs of :mod:`streams.contract.codec`.

The contract frames and encodes messages without any I/O; this module holds what talks to a
registry: :class:`ConfluentRegistry` adapts ``confluent_kafka``'s ``SchemaRegistryClient`` (an
HTTP client) to the codec's :class:`~streams.contract.codec.RegistryClient` seam, and
:func:`make_codec` picks a deployment's codec from its ``BILAT_SCHEMA_REGISTRY`` setting.

``confluent_kafka.schema_registry`` is imported only when a registry is configured: it costs
a tenth of a second at start-up, and most deployments (and every partner link) use the
single-object encoding, which needs no registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.contract.codec import Codec, ConfluentCodec, SingleObjectCodec
from streams.contract.schemas import SchemaStore
from streams.core.errors import SchemaError
from streams.core.redact import redact_text

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

__all__ = ["ConfluentRegistry", "make_codec"]


class ConfluentRegistry:
    """:class:`~streams.contract.codec.RegistryClient` over ``SchemaRegistryClient``.

    A registry's refusal of a schema (any ``SchemaRegistryError`` on register) becomes
    :class:`~streams.core.errors.SchemaError`; an id the registry does not have (HTTP 404) is
    ``None``. Every other failure, transport errors included, propagates unchanged: it is not
    about the message, and the caller's retry or crash policy applies.
    """

    def __init__(self, client: SchemaRegistryClient) -> None:
        self.client = client

    @classmethod
    def connect(cls, url: str) -> ConfluentRegistry:
        """A client of the registry at ``url`` (``http(s)://`` or ``mock://<scope>``)."""
        from confluent_kafka.schema_registry import SchemaRegistryClient

        return cls(SchemaRegistryClient.new_client({"url": url}))

    def register(self, subject: str, schema_str: str) -> int:
        from confluent_kafka.schema_registry import Schema
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            return self.client.register_schema(subject, Schema(schema_str, "AVRO"))
        except SchemaRegistryError as exc:
            raise SchemaError(redact_text(str(exc))) from exc

    def lookup(self, schema_id: int) -> str | None:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            registered = self.client.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code != 404:
                raise
            return None
        return registered.schema_str


def make_codec(registry_url: str | None = None, store: SchemaStore | None = None) -> Codec:
    """The codec for a deployment: single-object encoding, or Confluent's with a registry.

    ``registry_url`` is ``None`` (no registry), ``mock://<scope>`` (confluent_kafka's in-memory
    registry, for tests) or an ``http(s)://`` URL; anything else raises ``ValueError``.
    """
    store = store or SchemaStore.default()
    if registry_url is None:
        return SingleObjectCodec(store)
    if not registry_url.startswith(("mock://", "http://", "https://")):
        raise ValueError(f"schema registry URL: got {registry_url!r}, want http(s):// or mock://")
    return ConfluentCodec(store, ConfluentRegistry.connect(registry_url), registry_url)
