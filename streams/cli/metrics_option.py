"""``--metrics-port``: the Prometheus endpoint of a long-running command
(:mod:`streams.runtime.metrics`), shared by ``bilat worker``, ``bilat batcher``,
``bilat reconcile`` and ``bilat sonata listen``.

Off unless asked for: one machine often runs several of these processes, and each needs a port
of its own (the README suggests 9464 to 9467).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["metrics_option", "start_metrics"]

F = TypeVar("F", bound=Callable[..., Any])


def metrics_option(func: F) -> F:
    """``--metrics-port PORT`` (env ``BILAT_METRICS_PORT``), default off."""
    option = click.option(
        "--metrics-port",
        type=click.IntRange(0, 65535),
        envvar="BILAT_METRICS_PORT",
        default=None,
        metavar="PORT",
        help="Serve Prometheus metrics on http://0.0.0.0:PORT/metrics (0: any free port) "
        "[env BILAT_METRICS_PORT; default: off].",
    )
    return option(func)


def start_metrics(
    port: int | None, process: str, party: str, say: Callable[[str], object]
) -> int | None:
    """Serve ``process``'s metrics on ``port`` (None: do nothing); says the URL, returns the
    port bound. Raises :class:`~streams.core.errors.PortInUseError` for a taken port."""
    if port is None:
        return None
    from streams.runtime.metrics import enable, serve_metrics

    enable(process, party)
    bound = serve_metrics(port)
    say(f"metrics: http://127.0.0.1:{bound}/metrics")
    return bound
