"""MirrorMaker 2's Java client properties from the security settings: secrets referenced through
Kafka's DirectoryConfigProvider, never inlined."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from streams.reconcile.mirroring import CONFIG_PROVIDERS, DIRECTORY_CONFIG_PROVIDER
from streams.runtime.security.settings import KafkaSecurity, SecuritySettingsError, read_secret

__all__ = [
    "DIRECTORY_CONFIG_PROVIDER",
    "JAVA_CONFIG_PROVIDERS",
    "check_java_secrets",
    "java_client_properties",
]

_JAVA_LOGIN_MODULES = {
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
}


def _dir_reference(path: Path) -> str:
    """``${dir:<folder>:<file>}``: Kafka's DirectoryConfigProvider substitutes the content of
    ``<folder>/<file>`` when MM2 loads its properties; the secret never enters the file."""
    if ":" in str(path) or "}" in str(path):
        raise SecuritySettingsError(
            f"{path}: a secret file for MirrorMaker 2 may hold no ':' or '}}' in its path "
            "(Kafka's config provider syntax)"
        )
    return f"${{dir:{path.parent}:{path.name}}}"


def java_client_properties(security: KafkaSecurity, prefix: str = "") -> dict[str, str]:
    """The Java client properties (``<prefix>security.protocol``, ...) of ``security``, for
    MirrorMaker 2: PEM trust and key stores straight from the PEM files, SCRAM or PLAIN
    through ``sasl.jaas.config``. Secrets appear only as ``${dir:...}`` references resolved by
    Kafka's DirectoryConfigProvider (see :data:`JAVA_CONFIG_PROVIDERS`), never inline: the
    properties can be printed, committed and diffed.

    Pure: reads no file, so it renders the container paths of a deployment too. OAUTHBEARER
    is refused for the Java clients (their OIDC login needs a callback handler class and
    JAAS options Bilat does not generate): run MirrorMaker 2 with SCRAM or mTLS.
    """
    p = prefix
    if security.protocol == "PLAINTEXT":
        return {}
    out = {f"{p}security.protocol": security.protocol}
    if security.uses_tls:
        out[f"{p}ssl.endpoint.identification.algorithm"] = "https"
        if security.ca_file is not None:
            out[f"{p}ssl.truststore.type"] = "PEM"
            out[f"{p}ssl.truststore.location"] = str(security.ca_file)
        if security.cert_file is not None and security.key_file is not None:
            out[f"{p}ssl.keystore.type"] = "PEM"
            out[f"{p}ssl.keystore.certificate.chain"] = _dir_reference(security.cert_file)
            out[f"{p}ssl.keystore.key"] = _dir_reference(security.key_file)
            if security.key_password_file is not None:
                out[f"{p}ssl.key.password"] = _dir_reference(security.key_password_file)
    if security.uses_sasl:
        mechanism = security.sasl_mechanism
        assert mechanism is not None
        if mechanism == "OAUTHBEARER":
            raise SecuritySettingsError(
                f"{security.env_prefix}SASL_MECHANISM: OAUTHBEARER is not generated for "
                "MirrorMaker 2's Java clients: give its principal SCRAM-SHA-512 or a client "
                "certificate"
            )
        assert security.password_file is not None and security.username is not None
        if '"' in security.username or "\\" in security.username:
            raise SecuritySettingsError(
                f"{security.env_prefix}USERNAME: got {security.username!r}: a JAAS user name "
                "may hold no '\"' or '\\'"
            )
        password = _dir_reference(security.password_file)
        out[f"{p}sasl.mechanism"] = mechanism
        out[f"{p}sasl.jaas.config"] = (
            f'{_JAVA_LOGIN_MODULES[mechanism]} required username="{security.username}" '
            f'password="{password}";'
        )
    return out


JAVA_CONFIG_PROVIDERS: Mapping[str, str] = dict(CONFIG_PROVIDERS)
"""The top-level MM2 properties that make ``${dir:...}`` references resolve."""


def check_java_secrets(security: KafkaSecurity) -> None:
    """Before MirrorMaker 2 starts on this machine: every file :func:`java_client_properties`
    references exists, and each secret file holds its secret alone. Kafka's
    DirectoryConfigProvider reads a file whole, so a trailing line break would become part of
    the password (the Python clients drop it): refused here with what to do. Also refuses
    ``"`` and ``\\`` in the password, which would break the JAAS line."""
    problems: list[str] = []
    secrets = {
        "PASSWORD_FILE": security.password_file if security.uses_sasl else None,
        "KEY_PASSWORD_FILE": security.key_password_file,
    }
    for name, path in secrets.items():
        if path is None:
            continue
        variable = f"{security.env_prefix}{name}"
        try:
            secret = read_secret(path, variable, "the secret")
        except SecuritySettingsError as exc:
            problems += exc.problems
            continue
        raw = path.read_text(encoding="utf-8")
        if raw != secret:
            problems.append(
                f"{variable}: {path} ends with a line break, which MirrorMaker 2 would read as "
                f"part of the secret: rewrite it without one (printf '%s' ... > {path})"
            )
        if name == "PASSWORD_FILE" and ('"' in secret or "\\" in secret):
            problems.append(
                f"{variable}: {path}: the password holds '\"' or '\\', which MirrorMaker 2's "
                "JAAS configuration cannot carry: choose another password"
            )
    try:
        security.checked_files()
    except SecuritySettingsError as exc:
        problems += exc.problems
    if problems:
        raise SecuritySettingsError(problems)
