"""The secured local stack: brokers with TLS and SCRAM, ACLs per role, Redis with TLS and users.

Everything secret lives in ``<run_dir>/secure/`` (folder 0700, files 0600)::

    pki/                 the throwaway CA and certificates (:mod:`streams.devstack.certs`)
    secrets/<user>.password
                         the SCRAM password of each principal (Kafka) and Redis user
    redis-users.acl      Redis users (passwords as SHA-256, never in clear)

A secured cluster (:func:`kafka_spec`) listens on three ports: SASL_SSL (SCRAM-SHA-512) on
``port``, mutual TLS on ``port + 2``, its controller (mutual TLS) on ``port + 1``; the
StandardAuthorizer denies whatever no ACL grants. Its principals are ``admin`` (super user)
and one per role of :data:`~streams.devstack.acls.ROLES`, each with a SCRAM password and a
client certificate (CN = principal). :func:`apply_acls` grants each role the table of
:mod:`streams.devstack.acls`; :func:`client_env` is what a process of a role sets
(``BILAT_KAFKA_*``, files only). Redis (:func:`redis_spec`) listens on TLS only; its users
are ``admin`` (everything) and ``bilat`` (keys and channels ``bilat:*``, no dangerous command).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from streams.core.errors import StackError
from streams.devstack.acls import ROLES, Acl, role_acls
from streams.devstack.certs import Pki, ensure_pki, write_secret
from streams.devstack.kafka_broker import BrokerSecurity, KafkaSpec
from streams.devstack.mirrormaker import MirrorAccess
from streams.devstack.procs import LOOPBACK
from streams.devstack.redis_server import RedisSpec, RedisTls
from streams.reconcile.mirroring import MirrorLink

__all__ = [
    "ADMIN",
    "FAILURE_PRINCIPAL",
    "PRINCIPALS",
    "REDIS_USER",
    "TLS_PORT_OFFSET",
    "Mode",
    "SecureFiles",
    "apply_acls",
    "client_config",
    "client_env",
    "create_topics",
    "ensure_secure_files",
    "kafka_spec",
    "mirror_access",
    "redis_env",
    "redis_spec",
    "to_bindings",
]

ADMIN = "admin"
PRINCIPALS: tuple[str, ...] = (ADMIN, *ROLES)
FAILURE_PRINCIPAL = "worker"
"""The principal with an expired certificate and one from an unknown CA (failure tests)."""
REDIS_USER = "bilat"
TLS_PORT_OFFSET = 2
"""A secured cluster on port p: SASL_SSL on p, controller on p + 1, mutual TLS on p + 2."""
_TIMEOUT = 10.0

Mode = Literal["scram", "mtls"]


@dataclass(frozen=True, slots=True)
class SecureFiles:
    """The files of ``<run_dir>/secure/``."""

    folder: Path

    @property
    def pki(self) -> Pki:
        return Pki(self.folder / "pki")

    def password_file(self, user: str) -> Path:
        return self.folder / "secrets" / f"{user}.password"

    def password(self, user: str) -> str:
        return self.password_file(user).read_text(encoding="utf-8").strip()

    @property
    def redis_acl(self) -> Path:
        return self.folder / "redis-users.acl"


def ensure_secure_files(run_dir: Path, servers: Iterable[str]) -> SecureFiles:
    """The CA, certificates (a server one per name of ``servers``, a client one per principal)
    and passwords of the secured stack in ``run_dir``; what exists is kept."""
    files = SecureFiles(run_dir / "secure")
    files.folder.mkdir(parents=True, exist_ok=True)
    files.folder.chmod(0o700)
    ensure_pki(files.pki.folder, servers, PRINCIPALS, failure_principal=FAILURE_PRINCIPAL)
    for user in (*PRINCIPALS, REDIS_USER):
        path = files.password_file(user)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.parent.chmod(0o700)
            write_secret(path, secrets.token_urlsafe(24))
    return files


def broker_name(cluster: str) -> str:
    """The server certificate's CN (and the broker's principal) of cluster ``cluster``."""
    return f"kafka-{cluster}"


def kafka_spec(files: SecureFiles, name: str, port: int) -> KafkaSpec:
    """A secured single-node cluster ``name``: SASL_SSL on ``port``, controller on ``port + 1``,
    mutual TLS on ``port + 2``; every principal a SCRAM user."""
    pki = files.pki
    admin = pki.client(ADMIN)
    security = BrokerSecurity(
        keystore=pki.keystore(broker_name(name)),
        truststore=pki.ca,
        tls_port=port + TLS_PORT_OFFSET,
        principal=broker_name(name),
        scram_users={user: files.password_file(user) for user in PRINCIPALS},
        super_users=(ADMIN,),
        probe={
            "security.protocol": "SSL",
            "ssl.ca.location": str(pki.ca),
            "ssl.certificate.location": str(admin.cert),
            "ssl.key.location": str(admin.key),
        },
    )
    return KafkaSpec(name=name, port=port, controller_port=port + 1, security=security)


def client_config(
    files: SecureFiles, spec: KafkaSpec, principal: str, mode: Mode = "scram"
) -> dict[str, Any]:
    """librdkafka settings of ``principal`` on the secured cluster of ``spec`` (a password
    inline: for the stack's own use and tests; processes take :func:`client_env`)."""
    if spec.security is None:
        raise StackError(f"kafka '{spec.name}' is not secured")
    pki = files.pki
    tls = {"ssl.ca.location": str(pki.ca), "ssl.endpoint.identification.algorithm": "https"}
    if mode == "mtls":
        pair = pki.client(principal)
        return {
            "bootstrap.servers": f"{LOOPBACK}:{spec.security.tls_port}",
            "security.protocol": "SSL",
            "ssl.certificate.location": str(pair.cert),
            "ssl.key.location": str(pair.key),
            **tls,
        }
    return {
        "bootstrap.servers": f"{LOOPBACK}:{spec.port}",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": principal,
        "sasl.password": files.password(principal),
        **tls,
    }


def client_env(
    files: SecureFiles, spec: KafkaSpec, principal: str, mode: Mode = "scram", prefix: str = ""
) -> dict[str, str]:
    """The ``BILAT_KAFKA_*`` settings (``BILAT_PARTNER_KAFKA_*`` with ``prefix="PARTNER_"``) of
    ``principal`` on the cluster of ``spec``: files only, never a secret."""
    if spec.security is None:
        raise StackError(f"kafka '{spec.name}' is not secured")
    pki = files.pki
    key = f"BILAT_{prefix}KAFKA"
    env = {f"{key}_CA_FILE": str(pki.ca)}
    if mode == "mtls":
        pair = pki.client(principal)
        env |= {
            key: f"{LOOPBACK}:{spec.security.tls_port}",
            f"{key}_SECURITY_PROTOCOL": "SSL",
            f"{key}_CERT_FILE": str(pair.cert),
            f"{key}_KEY_FILE": str(pair.key),
        }
    else:
        env |= {
            key: f"{LOOPBACK}:{spec.port}",
            f"{key}_SECURITY_PROTOCOL": "SASL_SSL",
            f"{key}_SASL_MECHANISM": "SCRAM-SHA-512",
            f"{key}_USERNAME": principal,
            f"{key}_PASSWORD_FILE": str(files.password_file(principal)),
        }
    return dict(sorted(env.items()))


def redis_spec(files: SecureFiles, name: str, port: int) -> RedisSpec:
    """A Redis on TLS only (``port``) with the users ``admin`` and ``bilat``; writes the ACL
    file (passwords as SHA-256)."""
    pki = files.pki

    def hashed(user: str) -> str:
        return hashlib.sha256(files.password(user).encode()).hexdigest()

    write_secret(
        files.redis_acl,
        "user default off\n"
        f"user {ADMIN} on #{hashed(ADMIN)} ~* &* +@all\n"
        f"user {REDIS_USER} on #{hashed(REDIS_USER)} ~bilat:* &bilat:* +@all -@dangerous\n",
    )
    server = pki.server("redis")
    tls = RedisTls(
        cert=server.cert,
        key=server.key,
        ca=pki.ca,
        acl_file=files.redis_acl,
        probe_user=ADMIN,
        probe_password_file=files.password_file(ADMIN),
    )
    return RedisSpec(name=name, port=port, tls=tls)


def redis_env(files: SecureFiles, port: int, user: str = REDIS_USER) -> dict[str, str]:
    """The ``BILAT_REDIS*`` settings of ``user`` on the secured Redis (files only)."""
    return {
        "BILAT_REDIS": f"rediss://{user}@{LOOPBACK}:{port}/0",
        "BILAT_REDIS_CA_FILE": str(files.pki.ca),
        "BILAT_REDIS_PASSWORD_FILE": str(files.password_file(user)),
    }


_RESOURCE = {
    "topic": ResourceType.TOPIC,
    "group": ResourceType.GROUP,
    "transactional_id": ResourceType.TRANSACTIONAL_ID,
    "cluster": ResourceType.BROKER,
}
_PATTERN = {"literal": ResourcePatternType.LITERAL, "prefixed": ResourcePatternType.PREFIXED}


def to_bindings(principal: str, acls: Iterable[Acl]) -> list[AclBinding]:
    """The ACL table's rows for ``principal`` as confluent-kafka bindings (ALLOW, any host)."""
    return [
        AclBinding(
            _RESOURCE[acl.resource],
            acl.name,
            _PATTERN[acl.pattern],
            f"User:{principal}",
            "*",
            AclOperation[acl.operation],
            AclPermissionType.ALLOW,
        )
        for acl in acls
    ]


def apply_acls(
    admin_config: Mapping[str, Any],
    *,
    topic_prefix: str,
    app_id: str,
    partner: str,
    roles: Sequence[str] = ROLES,
    principals: Mapping[str, str] | None = None,
) -> int:
    """Grant each role of ``roles`` its ACLs (principal = the role's name unless
    ``principals`` maps it); return how many bindings were created (creating one that exists
    is a no-op). Raises StackError naming the binding the broker refused."""
    bindings = []
    for role in roles:
        principal = (principals or {}).get(role, role)
        acls = role_acls(role, topic_prefix=topic_prefix, app_id=app_id, partner=partner)
        bindings += to_bindings(principal, acls)
    admin = AdminClient({**admin_config, "log_level": 0})
    for binding, future in admin.create_acls(bindings, request_timeout=_TIMEOUT).items():
        try:
            future.result()
        except KafkaException as exc:
            raise StackError(f"cannot create the ACL {binding}: {exc}") from exc
    _await_acls(admin, bindings)
    return len(bindings)


def _key(binding: AclBinding) -> tuple[str, ...]:
    return tuple(
        str(part)
        for part in (
            binding.restype,
            binding.name,
            binding.resource_pattern_type,
            binding.principal,
            binding.host,
            binding.operation,
            binding.permission_type,
        )
    )


def _await_acls(admin: AdminClient, bindings: Sequence[AclBinding], timeout: float = 30.0) -> None:
    """Wait until the broker's authorizer shows every binding: a created ACL is committed by
    the controller and applied by the broker from the metadata log a moment later, and a
    client acting at once may still be refused (seen under CI load)."""
    wanted = {_key(b) for b in bindings}
    anything: Any = None  # matches any name, principal and host (the stubs say str)
    everything = AclBindingFilter(
        ResourceType.ANY, anything, ResourcePatternType.ANY, anything, anything,
        AclOperation.ANY, AclPermissionType.ANY,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        shown = admin.describe_acls(everything, request_timeout=_TIMEOUT).result()
        if wanted <= {_key(b) for b in shown}:
            return
        if time.monotonic() > deadline:
            raise StackError(
                f"the broker did not show {len(wanted)} new ACLs within {timeout:.0f} s"
            )
        time.sleep(0.1)


_DIR_PROVIDER = "org.apache.kafka.common.config.provider.DirectoryConfigProvider"


def mirror_access(
    files: SecureFiles,
    link: MirrorLink,
    source: KafkaSpec,
    target: KafkaSpec,
    *,
    reader: str = "mirror-reader",
    writer: str = "mirror-writer",
) -> MirrorAccess:
    """How the MM2 of ``link`` reaches two secured clusters: SCRAM over TLS as ``reader`` on
    the partner's (source) cluster and as ``writer`` on its own (target) one, passwords read by
    Kafka's DirectoryConfigProvider from their files; the launcher's checks as ``admin``."""
    secrets_dir = files.password_file(reader).parent
    properties = {
        "config.providers": "dir",
        "config.providers.dir.class": _DIR_PROVIDER,
        "config.providers.dir.param.allowed.paths": str(secrets_dir),
    }
    for alias, spec, user in ((link.source, source, reader), (link.target, target, writer)):
        password = f"${{dir:{secrets_dir}:{files.password_file(user).name}}}"
        properties |= {
            f"{alias}.bootstrap.servers": f"{LOOPBACK}:{spec.port}",
            f"{alias}.security.protocol": "SASL_SSL",
            f"{alias}.sasl.mechanism": "SCRAM-SHA-512",
            f"{alias}.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{user}" password="{password}";'
            ),
            f"{alias}.ssl.truststore.type": "PEM",
            f"{alias}.ssl.truststore.location": str(files.pki.ca),
            f"{alias}.ssl.endpoint.identification.algorithm": "https",
        }

    def admin(spec: KafkaSpec) -> dict[str, str]:
        return {k: str(v) for k, v in client_config(files, spec, ADMIN, "mtls").items()}

    return MirrorAccess(source=admin(source), target=admin(target), properties=properties)


def create_topics(admin_config: Mapping[str, Any], topic_prefix: str, partitions: int) -> None:
    """Create every topic of a deployment (``topic_prefix``) as the operator, as
    :func:`~streams.runtime.topics.ensure_topics` would (the roles may not create them)."""
    from confluent_kafka.cimpl import NewTopic

    from streams.runtime.config import LEDGER_TOPICS, RECON_TOPICS, SETTLE_TOPICS, TOPICS
    from streams.runtime.topics import topic_config

    single = {*LEDGER_TOPICS, *RECON_TOPICS, *SETTLE_TOPICS}
    admin = AdminClient({**admin_config, "log_level": 0})
    existing = set(admin.list_topics(timeout=_TIMEOUT).topics)
    wanted = [
        NewTopic(
            f"{topic_prefix}{name}",
            num_partitions=1 if name in single else partitions,
            replication_factor=1,
            config=topic_config(name),
        )
        for name in TOPICS
        if f"{topic_prefix}{name}" not in existing
    ]
    for topic, future in (
        admin.create_topics(wanted, operation_timeout=_TIMEOUT) if wanted else {}
    ).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise StackError(f"cannot create topic {topic}: {exc}") from exc
