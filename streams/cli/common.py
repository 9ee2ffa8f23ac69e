"""What every ``bilat`` command shares: party options, settings, times, friendly errors, the
private key and trusted keys options.

Kept apart from :mod:`streams.cli.main` so command modules (``streams.cli.*``,
``connectors.sonata.cli``) can use it without importing the CLI's entry point.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource
from rich.console import Console
from rich.markup import escape

from streams.agreement.loader import load_book
from streams.agreement.trust import TrustedKeys, TrustError
from streams.core.errors import BilatError
from streams.runtime.config import Settings

__all__ = [
    "EXISTING_FILE",
    "agreement_option",
    "friendly",
    "key_option",
    "parse_time",
    "party_options",
    "settings_of",
    "stdout_console",
    "trust_of",
    "trusted_keys_option",
]

F = TypeVar("F", bound=Callable[..., Any])
err = Console(stderr=True, highlight=False, soft_wrap=True)  # log-friendly: no hard wraps


def stdout_console() -> Console:
    """A console for standard output: the terminal's width, or, when piped or redirected, as
    wide as the rows need, so a table is never cut or wrapped for a script or a log."""
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=1_000_000)


def friendly(func: F) -> F:
    """Turn BilatError into a red message and exit code 2 instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BilatError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}")
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def party_options(func: F) -> F:
    """The options every command that talks to one party's pipeline shares."""
    options = [
        click.option(
            "--party",
            envvar="BILAT_PARTY",
            default="hgc",
            show_default=True,
            help="This deployment's party id (selects its local broker by default).",
        ),
        click.option(
            "--kafka",
            envvar="BILAT_KAFKA",
            default=None,
            help="Kafka bootstrap servers [default: the party's `bilat up` broker].",
        ),
        click.option(
            "--topic-prefix",
            envvar="BILAT_TOPIC_PREFIX",
            default="",
            help="Prefix of every topic name (isolates runs on a shared cluster).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def agreement_option(func: F) -> F:
    """``--agreement FILE`` (env ``BILAT_AGREEMENT``), for commands that load the agreement."""
    option = click.option(
        "--agreement",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        envvar="BILAT_AGREEMENT",
        default=None,
        help="Agreement YAML [default: the packaged example, `bilat agreement example --path`].",
    )
    return option(func)


def settings_of(party: str, kafka: str | None, topic_prefix: str, **extra: Any) -> Settings:
    """Settings from the environment, overridden by the shared options and ``extra``."""
    return Settings.from_env(party=party, kafka=kafka, topic_prefix=topic_prefix, **extra)


def parse_time(text: str, option: str) -> datetime:
    """``text``, ISO-8601 with offset, as a UTC time; ``click.BadParameter`` naming ``option``
    if it is not one."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise click.BadParameter(
            f"got {text!r}, want ISO-8601 with offset, e.g. 2026-12-01T10:00:00Z", param_hint=option
        )
    return moment.astimezone(UTC)


EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
key_option = click.option(
    "--key",
    "key_file",
    type=EXISTING_FILE,
    required=True,
    envvar="BILAT_KEY",
    help="This party's private key (bilat keys new) [env BILAT_KEY].",
)


trusted_keys_option = click.option(
    "--trusted-keys",
    "trusted_keys",
    type=EXISTING_FILE,
    default=None,
    help="JSON file of the keys trusted to sign for each party, with their validity "
    "(`bilat keys trusted --agreement FILE` writes one); used instead of the agreement's keys.",
)


def trust_of(
    agreement: Path | None, trusted_keys: Path | None, fallback: Path | None
) -> TrustedKeys:
    """The keys a check trusts: ``--trusted-keys``, else those the agreement lists
    (``--agreement`` or ``BILAT_AGREEMENT``, else ``fallback``: this party's agreement for its
    own commands, none for a bundle). Never the keys a chain or bundle brings itself."""
    context = click.get_current_context(silent=True)
    given = context is not None and (
        context.get_parameter_source("agreement") == ParameterSource.COMMANDLINE
    )
    if trusted_keys is not None:
        if given:
            raise click.UsageError("give --agreement or --trusted-keys, not both: one trust source")
        return TrustedKeys.load(trusted_keys)
    path = agreement or fallback
    if path is None:
        raise TrustError(
            "no trusted keys: pass --agreement FILE (the agreement both parties signed: its keys "
            "are trusted) or --trusted-keys FILE (`bilat keys trusted --agreement FILE` writes "
            "one); a bundle's own keys prove nothing"
        )
    return TrustedKeys.of_book(load_book(path), f"agreement {path}")
