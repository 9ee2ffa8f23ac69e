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
    "MirrorError",
    "PortInUseError",
    "RatingError",
    "SchemaError",
    "ServiceStartError",
    "StackError",
    "ToolMissingError",
    "UnknownSchemaError",
]


class BilatError(Exception):
    """Root of every error Bilat raises on purpose. Catch this, never bare ``Exception``.

    Never raised itself; the command line turns any of its subclasses into a one-line message
    and exit code 2 (:func:`streams.cli.common.friendly`). Errors that belong to one module's
    rules live beside it and subclass this root too (``LedgerError``, ``TrustError``,
    ``MerkleError``, ``KeyFileError``, the connectors' errors); this module holds the rest.
    """


# --- input records -------------------------------------------------------------------------


class InvalidRecord(BilatError):
    """A record failed validation at the boundary: raised by
    :func:`streams.rating.validation.parse_usage` (``invalid-usage``) and by the mediation
    readers for a line or file they cannot parse (``malformed-line``, ``malformed-file``), and
    caught only where the record becomes a dead letter.

    ``problems`` lists *every* problem found, each as ``field 'x': got G, want W``; ``code`` is
    a short stable machine-readable reason used as the dead letter's error code.
    """

    def __init__(self, code: str, problems: Sequence[str]) -> None:
        self.code = code
        self.problems = tuple(problems)
        super().__init__(f"{code}: " + "; ".join(self.problems))


# --- the Avro contract ---------------------------------------------------------------------


class SchemaError(BilatError):
    """A schema cannot be had or used: a file in ``schemas/`` is missing, unparsable or breaks
    backward compatibility (:class:`streams.contract.schemas.SchemaStore`,
    :mod:`streams.contract.compat`), a codec is asked for a subject its store does not hold (a
    caller bug), or a schema registry refuses to register a schema."""


class CodecError(BilatError):
    """Base of every encode/decode failure of a message (never raised itself); the stream
    turns it into a dead letter with ``code`` as the error code."""

    code = "codec-error"


class EncodeError(CodecError):
    """A codec's ``encode`` was given a record that does not fit the subject's latest schema;
    the message names every offending field."""

    code = "encode-error"


class UnknownSchemaError(CodecError):
    """A message being decoded names a writer schema (fingerprint or registry id) that this
    side does not know, or one of another subject (a message on the wrong topic)."""

    code = "unknown-schema"


class CorruptMessageError(CodecError):
    """A message being decoded is not bytes, is truncated, has a wrong magic header, or its
    body does not decode as its writer schema (or has bytes left over)."""

    code = "corrupt-message"


# --- the agreement and rating --------------------------------------------------------------


class AgreementError(BilatError):
    """An agreement cannot be loaded: the file is unreadable, too big or invalid YAML, a term
    breaks its rule, or the versions do not make a book (raised by
    :mod:`streams.agreement.loader` and :class:`streams.agreement.model.AgreementBook`).
    ``source`` names the file; ``problems`` holds every problem with its YAML path."""

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
    """Usage that is valid on its own cannot be rated under the agreement: raised by the rater,
    the agreement book, the product inventory and re-rating runs; for one usage record it is
    caught where the record becomes a dead letter. ``code`` is its error code: ``no-tariff``,
    ``unknown-agreement``, ``unknown-partner``, ``no-agreement-version``, ``unknown-version``,
    ``unknown-product``, ``product-not-active``, or ``window-misaligned`` (a re-rating run's
    window)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


# --- the services: the local stack and the brokers -----------------------------------------


class StackError(BilatError):
    """The services Bilat runs on cannot do what was asked: the local Kafka/Redis/MirrorMaker
    stack cannot be set up, started or stopped, a broker refuses or does not answer (topics,
    reads, transactions of the ledger writer), or an operator's option cannot be honoured by
    the running deployment (a key that may not sign, a missing topic). The message says what
    failed and where."""


class MirrorError(StackError):
    """MirrorMaker 2 cannot mirror as configured: a mirror link is invalid (an alias that is
    not topic-legal, a prefix pattern MM2 would split), a MirrorMaker process is not running,
    its connector or task failed, or a mirrored topic is missing on the target; raised by
    :mod:`streams.reconcile.mirroring` and :mod:`streams.devstack.mirrormaker`. The message
    names the link, the topics, and the lines of ``mm2.log`` that say why."""


class ToolMissingError(StackError):
    """Starting the local stack needs a program that is missing, too old or could not be
    installed (java 17+, mvn, redis-server); the message says how to get it."""


class PortInUseError(StackError):
    """A port a local service is to listen on is already taken by another process, found
    before starting the service."""


class ServiceStartError(StackError):
    """A local service could not be started: its preparation failed (formatting Kafka's
    storage), or it exited or did not become ready in time; the message carries the tail of
    its log."""
