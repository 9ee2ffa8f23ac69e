"""The data contract between the parties: records, Avro schemas, codecs and the topic table.

Pure: imports no Kafka, Faust, Redis or HTTP client; the schema registry, where one is
configured, is reached through :class:`~streams.contract.codec.RegistryClient`, whose HTTP
implementation is :mod:`streams.runtime.registry`.

* :mod:`~streams.contract.records`: the records of one party's pipeline, as frozen typed values.
* :mod:`~streams.contract.schemas`: the schema store: every version of every schema in
  ``schemas/``, parsed and fingerprinted.
* :mod:`~streams.contract.compat`: backward compatibility between consecutive versions of a
  schema.
* :mod:`~streams.contract.codec`: a record to message bytes and back (single-object or
  Confluent framing).
* :mod:`~streams.contract.topics`: the topic table: the Avro subject each logical topic carries.
"""
