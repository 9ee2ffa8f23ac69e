"""The I/O shell around the pure core: Kafka, Faust and Redis wired to rating and the ledger.

Every module here does I/O (or starts processes that do); the decisions are made by the pure
packages it calls. Settings come from ``BILAT_*`` variables (:mod:`~streams.runtime.config`).

* :mod:`~streams.runtime.config`: the settings of one deployment (one party), from the
  environment.
* :mod:`~streams.runtime.topics`: creating the pipeline's topics up front, with explicit
  partition counts.
* :mod:`~streams.runtime.worker`: the rating worker, a Faust app driving the rating pipeline.
* :mod:`~streams.runtime.workers`: starting and stopping rating workers as child processes.
* :mod:`~streams.runtime.inventory_feed`: keeps a worker's product inventory current from
  ``sonata.orders``.
* :mod:`~streams.runtime.batcher`: rated usage in, signed anchors out, exactly once, one writer
  per chain.
* :mod:`~streams.runtime.ledger_writer`: the ledger's transactional writes behind a small
  protocol, and Kafka's.
* :mod:`~streams.runtime.faults`: crash injection for tests at named points (``BILAT_FAULT``).
* :mod:`~streams.runtime.halt`: stopping a process at once, before anything more is
  acknowledged.
* :mod:`~streams.runtime.registry`: the Confluent Schema Registry client, and the codec of a
  deployment.
* :mod:`~streams.runtime.produce`: publishing Avro records and waiting until Kafka has them all.
* :mod:`~streams.runtime.readback`: reading a topic as it stands now, outside any consumer group.
* :mod:`~streams.runtime.reader`: typed records of a topic (``read_records``).
* :mod:`~streams.runtime.offline`: whole-topic reads for ``bilat rerate`` and ``bilat charges``.
* :mod:`~streams.runtime.progress`: how far a consumer group has come on a topic.
* :mod:`~streams.runtime.demo`: the two-party demo, end to end on this machine.
"""
