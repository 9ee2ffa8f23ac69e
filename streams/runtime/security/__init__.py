"""How Bilat's clients authenticate to Kafka and Redis, and the one place their configs are built.

Every Kafka client Bilat opens (confluent-kafka Producer, Consumer and AdminClient; Faust over
aiokafka; MirrorMaker 2's Java clients) and every Redis client gets its connection settings
from the builders here, never from a bare bootstrap string: a deployment secured by setting a
few variables is secured everywhere, and a new call site cannot forget TLS.

Settings come from ``BILAT_KAFKA_*`` variables (the partner's cluster, MirrorMaker 2's source:
``BILAT_PARTNER_KAFKA_*``), else from the YAML file named by ``BILAT_KAFKA_CONFIG`` (the same
keys in lower case without the prefix: ``security_protocol: SASL_SSL``); a variable wins over
the file. Secrets (the SASL password, the key's password, the OAuth client secret, Redis's
password) are only ever *files*: read when a client is built, never taken from the command
line or a variable's value, so they appear in no process list, shell history or ``env`` dump.

==================================  =============================================================
variable (``BILAT_KAFKA_`` + ...)   meaning
==================================  =============================================================
``SECURITY_PROTOCOL``               ``PLAINTEXT`` (default) | ``SSL`` | ``SASL_SSL`` |
                                    ``SASL_PLAINTEXT`` (only with ``ALLOW_PLAINTEXT_SASL=1``: tests)
``CA_FILE``                         PEM bundle of the CAs that signed the brokers' certificates
                                    (default: the system's); host names are always verified
``CERT_FILE`` + ``KEY_FILE``        this client's PEM certificate (chain) and key: mutual TLS
``KEY_PASSWORD_FILE``               file holding the key's password, if the key is encrypted
``SASL_MECHANISM``                  ``SCRAM-SHA-512`` | ``SCRAM-SHA-256`` | ``PLAIN`` |
                                    ``OAUTHBEARER``
``USERNAME`` + ``PASSWORD_FILE``    the SCRAM or PLAIN principal and the file with its password
``OAUTH_TOKEN_URL``,                OAUTHBEARER through OIDC client credentials: the token
``OAUTH_CLIENT_ID``,                endpoint, the client id, the file with the client secret and
``OAUTH_CLIENT_SECRET_FILE``,       an optional scope
``OAUTH_SCOPE``
==================================  =============================================================

Redis: ``BILAT_REDIS`` may be ``rediss://user@host:port/0`` (TLS, the user in the URL);
``BILAT_REDIS_PASSWORD_FILE``, ``BILAT_REDIS_CA_FILE``, ``BILAT_REDIS_CERT_FILE``,
``BILAT_REDIS_KEY_FILE``.

A secret file holds the secret alone; one trailing line break (``echo secret > file``) is not
part of it for the Python clients. MirrorMaker 2 reads the file whole (Kafka's
``DirectoryConfigProvider``), so :func:`check_java_secrets` refuses a file ending in a line
break before MM2 starts rather than let it fail to log in.
"""

from streams.runtime.security.java import (
    DIRECTORY_CONFIG_PROVIDER,
    JAVA_CONFIG_PROVIDERS,
    check_java_secrets,
    java_client_properties,
)
from streams.runtime.security.kafka import (
    OidcTokenProvider,
    aiokafka_kwargs,
    faust_broker_settings,
    kafka_client_config,
    kafka_config,
)
from streams.runtime.security.redis_clients import (
    aioredis_client,
    aioredis_from_url,
    redis_client,
    redis_from_url,
    redis_kwargs,
)
from streams.runtime.security.settings import (
    KAFKA_ENV_PREFIX,
    MECHANISMS,
    PARTNER_ENV_PREFIX,
    PROTOCOLS,
    REDIS_ENV_PREFIX,
    KafkaSecurity,
    RedisSecurity,
    SecuritySettingsError,
    read_secret,
)

__all__ = [
    "DIRECTORY_CONFIG_PROVIDER",
    "JAVA_CONFIG_PROVIDERS",
    "KAFKA_ENV_PREFIX",
    "MECHANISMS",
    "PARTNER_ENV_PREFIX",
    "PROTOCOLS",
    "REDIS_ENV_PREFIX",
    "KafkaSecurity",
    "OidcTokenProvider",
    "RedisSecurity",
    "SecuritySettingsError",
    "aiokafka_kwargs",
    "aioredis_client",
    "aioredis_from_url",
    "check_java_secrets",
    "faust_broker_settings",
    "java_client_properties",
    "kafka_client_config",
    "kafka_config",
    "read_secret",
    "redis_client",
    "redis_from_url",
    "redis_kwargs",
]
