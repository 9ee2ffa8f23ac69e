"""The local stack of ``bilat up``: Kafka (KRaft, one cluster per party), Redis and MirrorMaker 2
between the parties' clusters, no Docker.

Part of the I/O shell, for development, the demo and the tests; a production deployment brings
its own Kafka and Redis.

* :mod:`~streams.devstack.localstack`: start, stop and inspect the whole stack of a run folder.
* :mod:`~streams.devstack.services`: what every local service shares: its state and the steps of
  starting and stopping it.
* :mod:`~streams.devstack.kafka_broker`: the Kafka launcher: single-node KRaft clusters from
  Maven Central jars.
* :mod:`~streams.devstack.redis_server`: the Redis launcher: Debian's ``redis-server`` on
  loopback.
* :mod:`~streams.devstack.mirrormaker`: the MirrorMaker 2 launcher: one process per mirror
  link, ready only when every mirrored topic has its copy; the status of a link.
* :mod:`~streams.devstack.procs`: the process side of one service: folder, pid file, log,
  identity, start, stop.
"""
