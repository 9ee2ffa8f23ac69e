"""The secured pair of clusters the ``secure_stack`` fixture starts, and what tests may rely on.

* Clusters ``hgc`` and ``dcc`` (party aliases), each with SASL_SSL/SCRAM-SHA-512 on its port,
  mutual TLS on port + 2, the StandardAuthorizer and ``allow.everyone.if.no.acl.found=false``;
  principals ``admin`` (super user) and one per role of :data:`streams.devstack.acls.ROLES`.
* MirrorMaker 2 both ways for every test prefix (``t-<10 hex>.``), logging in as
  ``mirror-reader`` on the partner's cluster and ``mirror-writer`` on its own.
* A Redis on TLS only with the users ``admin`` and ``bilat``.
* :meth:`SecureStack.deploy` creates a test's topics on both clusters (as ``admin``) and grants
  every role its ACLs for that prefix; before that, a role can do nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.devstack import secure
from streams.devstack.localstack import KafkaSpec, LocalStack, RedisSpec, local_rest_port
from streams.devstack.secure import Mode, SecureFiles
from streams.reconcile.mirroring import MirrorLink, links_for
from streams.runtime.config import Settings
from tests.mirror_pair import TEST_PREFIX_PATTERN

__all__ = ["SecureStack", "start_secure_stack"]


@dataclass
class SecureStack:
    launcher: LocalStack
    files: SecureFiles
    specs: dict[str, KafkaSpec]
    redis: RedisSpec
    links: tuple[MirrorLink, MirrorLink]
    started: list[tuple[str, str]] = field(default_factory=list)

    def partner(self, alias: str) -> str:
        return "dcc" if alias == "hgc" else "hgc"

    def config(
        self, alias: str, principal: str, mode: Mode = "scram", **extra: Any
    ) -> dict[str, Any]:
        """Raw librdkafka settings of ``principal`` on cluster ``alias`` (password inline)."""
        base = secure.client_config(self.files, self.specs[alias], principal, mode)
        return {**base, "log_level": 0, **extra}

    def env(self, alias: str, principal: str, mode: Mode = "scram") -> dict[str, str]:
        """``BILAT_KAFKA_*`` (files only) and ``BILAT_REDIS*`` for a process of ``principal``."""
        kafka = secure.client_env(self.files, self.specs[alias], principal, mode)
        return {**kafka, **secure.redis_env(self.files, self.redis.port)}

    def settings(
        self,
        alias: str,
        principal: str,
        topic_prefix: str,
        run_dir: Path,
        mode: Mode = "scram",
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings of party ``<alias>-<prefix>`` as ``principal``, through the environment
        variables a deployment would set."""
        variables = {**self.env(alias, principal, mode), **(env or {})}
        return Settings.from_env(
            variables,
            party=party_id(alias, topic_prefix),
            topic_prefix=topic_prefix,
            run_dir=run_dir,
            partitions=2,
        )

    def deploy(self, topic_prefix: str) -> None:
        """Create the topics of ``topic_prefix`` on both clusters and grant every role its
        ACLs there (principal = role)."""
        for alias in ("hgc", "dcc"):
            admin_config = self.config(alias, secure.ADMIN, "mtls")
            secure.create_topics(admin_config, topic_prefix, partitions=2)
            party = party_id(alias, topic_prefix)
            app_id = Settings.from_env({}, party=party, topic_prefix=topic_prefix).app_id
            secure.apply_acls(
                admin_config, topic_prefix=topic_prefix, app_id=app_id, partner=self.partner(alias)
            )

    def stop(self, started: list[tuple[str, str]]) -> None:
        """Stop what this session started, MirrorMaker first."""
        stop_services(self.launcher, started)


def stop_services(launcher: LocalStack, started: list[tuple[str, str]]) -> None:
    """Stop the services ``started`` (kind, name), MirrorMaker first, Redis last."""
    order = {"mm2": 0, "kafka": 1, "redis": 2}
    for kind, name in sorted(started, key=lambda item: order[item[0]]):
        if kind == "mm2":
            launcher.mirror_down(name)
        elif kind == "kafka":
            launcher.kafka_down(name)
        else:
            launcher.redis_down(name)


def party_id(alias: str, topic_prefix: str) -> str:
    """The party id of a test's deployment on cluster ``alias`` (as the ``settings`` fixture)."""
    return f"{alias}-{topic_prefix.strip('.')}"


def start_secure_stack(
    run_dir: Path, ports: Mapping[str, int], redis_port: int
) -> tuple[SecureStack, list[tuple[str, str]]]:
    """Start (or find running) the secured pair, Redis and both mirrors; return the stack and
    the services this call started."""
    launcher = LocalStack(run_dir=run_dir)
    names = {alias: f"{alias}-secure" for alias in ports}
    files = secure.ensure_secure_files(
        run_dir, [*(secure.broker_name(n) for n in names.values()), "redis"]
    )
    specs = {alias: secure.kafka_spec(files, names[alias], port) for alias, port in ports.items()}
    redis = secure.redis_spec(files, "redis-secure", redis_port)
    started: list[tuple[str, str]] = []
    try:
        links = _start(launcher, files, specs, redis, ports, started)
    except BaseException:
        stop_services(launcher, started)
        raise
    return SecureStack(launcher, files, specs, redis, links), started


def _start(
    launcher: LocalStack,
    files: SecureFiles,
    specs: Mapping[str, KafkaSpec],
    redis: RedisSpec,
    ports: Mapping[str, int],
    started: list[tuple[str, str]],
) -> tuple[MirrorLink, MirrorLink]:
    """Start what is not running, appending each service started to ``started``."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        kafka = {alias: pool.submit(launcher.kafka_up, spec) for alias, spec in specs.items()}
        redis_handle = pool.submit(launcher.redis_up, redis)
        for future in kafka.values():
            with contextlib.suppress(Exception):  # raised below, after noting the others
                handle = future.result()
                if handle.started:
                    started.append(("kafka", handle.name))
        with contextlib.suppress(Exception):
            if redis_handle.result().started:
                started.append(("redis", redis.name))
        for future in (*kafka.values(), redis_handle):
            future.result()
    links = links_for(
        {alias: f"127.0.0.1:{spec.port}" for alias, spec in specs.items()},
        rest_ports={alias: local_rest_port(port) for alias, port in ports.items()},
        prefix_pattern=TEST_PREFIX_PATTERN,
        refresh_seconds=2,
        replication_factor=1,
    )
    for link in links:  # MM2's own grants on its cluster do not depend on any test's prefix
        admin = secure.client_config(files, specs[link.target], secure.ADMIN, "mtls")
        secure.apply_acls(
            admin, topic_prefix="", app_id="-", partner=link.source, roles=("mirror-writer",)
        )
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(
                launcher.mirror_up,
                link,
                access=secure.mirror_access(files, link, specs[link.source], specs[link.target]),
            )
            for link in links
        ]
        for future in futures:
            with contextlib.suppress(Exception):
                handle = future.result()
                if handle.started:
                    started.append(("mm2", handle.name))
        for future in futures:
            future.result()
    return links
