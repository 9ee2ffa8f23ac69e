"""The one exception root of Bilat and its documented subclasses.

Control flow is never signalled with these: a bad input record is *data* (a dead letter with its
reasons), and only the boundary that turns it into a dead letter catches :class:`InvalidRecord`.
Everything else here is a real failure that should reach the operator with a message saying
what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AgreementError",
    "AgreementSigningError",
    "BilatError",
    "CodecError",
    "CorruptMessageError",
    "EncodeError",
    "InvalidRecord",
    "PortInUseError",
    "RatingError",
    "SchemaError",
    "ServiceStartError",
    "StackError",
    "ToolMissingError",
    "UnknownSchemaError",
]


class BilatError(Exception):
    """Root of every error Bilat raises on purpose. Catch this, never bare ``Exception``."""


# --- input records -------------------------------------------------------------------------


class InvalidRecord(BilatError):
    """A record failed validation at the boundary.

    ``problems`` lists *every* problem found, each as ``field 'x': got G, want W``; ``code`` is
    a short stable machine-readable reason (e.g. ``invalid-usage``) used as the dead letter's
    error code.
    """

    def __init__(self, code: str, problems: Sequence[str]) -> None:
        self.code = code
        self.problems = tuple(problems)
        super().__init__(f"{code}: " + "; ".join(self.problems))


# --- the Avro contract ---------------------------------------------------------------------


class SchemaError(BilatError):
    """A schema file in ``schemas/`` is missing, unparsable, or breaks compatibility."""


class CodecError(BilatError):
    """Base of every encode/decode failure; the stream turns it into a dead letter."""

    code = "codec-error"


class EncodeError(CodecError):
    """A record does not fit its schema; the message names every offending field."""

    code = "encode-error"


class UnknownSchemaError(CodecError):
    """A message names a writer schema (fingerprint or registry id) that this side does not know."""

    code = "unknown-schema"


class CorruptMessageError(CodecError):
    """A message is truncated, has a wrong magic header, or its body does not decode."""

    code = "corrupt-message"


# --- the agreement and rating --------------------------------------------------------------


class AgreementError(BilatError):
    """An agreement file is invalid. ``problems`` holds every problem with its YAML path."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"agreement {source} is invalid ({len(self.problems)} problems):\n{lines}")


class AgreementSigningError(AgreementError):
    """A party cannot sign the agreement as asked: it is neither the seller nor the buyer, or
    its key is not one the agreement lists for it (raised by
    :func:`streams.agreement.signing.sign_agreement`). ``source`` is the agreement id and
    ``problems`` holds the one problem, as ``got G, want W``.

    Signature documents that do not verify are reported as problems, not raised; a genesis
    entry that cannot be built from them is the ledger's ``LedgerError``.
    """

    def __init__(self, agreement_id: str, problem: str) -> None:
        self.source = agreement_id
        self.problems = (problem,)
        BilatError.__init__(self, f"agreement {agreement_id}: {problem}")


class RatingError(BilatError):
    """Usage that is valid on its own cannot be rated under the agreement (no tariff, etc.)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


# --- the local stack -----------------------------------------------------------------------


class StackError(BilatError):
    """The local Kafka/Redis/MirrorMaker stack cannot be set up, started or stopped."""


class ToolMissingError(StackError):
    """A required program (java, mvn, redis-server) is missing; the message says how to get it."""


class PortInUseError(StackError):
    """A port Bilat wants to listen on is already taken by another process."""


class ServiceStartError(StackError):
    """A service started but did not become ready in time; the message carries its log tail."""
