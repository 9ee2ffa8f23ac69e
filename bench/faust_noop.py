"""A Faust app that forwards every message unchanged: the framework's ceiling (bench.pipeline).

The same settings as the rating worker had when issue 12 was filed (``streams/runtime/worker.py``,
``create_app``): ``take_events(500, within=0.2)``, raw key and value serializers, ``acks=-1``,
an in-memory store, agent concurrency 1, one ``Topic.send`` per message and every
acknowledgement of a batch awaited before the next batch. Nothing is decoded, rated or claimed:
whatever this app cannot reach, no worker built the same way on Faust can.

They are written out here, not imported, on purpose: this is a fixed reference point, and the
worker it is compared with may change. Run by ``bench.pipeline`` as a child process; it stops
itself (SIGTERM, Faust's clean shutdown) once it has forwarded ``--count`` messages.

    python -m bench.faust_noop --kafka H --source T --sink T --app-id A --datadir D --count N
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from typing import Any

import faust

from streams.runtime.config import Settings
from streams.runtime.security import faust_broker_settings

BATCH_SIZE = 500
BATCH_WITHIN = 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kafka", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--datadir", required=True)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()

    app = faust.App(
        args.app_id,
        **faust_broker_settings(Settings.from_env(kafka=args.kafka)),
        store="memory://",
        web_enabled=False,
        datadir=args.datadir,
        topic_partitions=args.partitions,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
    )
    raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
    source = app.topic(args.source, **raw)
    sink = app.topic(args.sink, **raw)
    forwarded = 0

    @app.agent(source, name="forward", concurrency=1)
    async def forward(stream: Any) -> None:
        nonlocal forwarded
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN):
            pending = [await sink.send(key=e.message.key, value=e.message.value) for e in events]
            await asyncio.gather(*pending)
            forwarded += len(events)
            if forwarded >= args.count:
                os.kill(os.getpid(), signal.SIGTERM)

    worker = faust.Worker(app, loglevel="warn", quiet=True)
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
