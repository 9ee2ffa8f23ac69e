"""What every ``bilat`` command shares: party options, settings, times, friendly errors.

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
from rich.console import Console
from rich.markup import escape

from streams.core.errors import BilatError
from streams.runtime.config import Settings

__all__ = [
    "agreement_option",
    "friendly",
    "parse_time",
    "party_options",
    "settings_of",
    "stdout_console",
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
