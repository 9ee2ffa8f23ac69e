"""Crash injection for tests: ``BILAT_FAULT=<point>`` ends a process abruptly at a named point.

Production code never reads ``BILAT_FAULT``. A loop calls a :data:`Checkpoint` hook at the
points it names (the batcher's are :data:`streams.runtime.batcher.FAULT_POINTS`); it gets
:func:`no_faults` unless whoever starts it installs another. ``bilat batcher`` installs
:func:`fault_hook` read from the environment, so the integration tests kill a real process at a
real point (``os._exit``: no ``finally``, no flush of Kafka clients, as a power cut would), and
a unit test passes its own hook to see the points go by.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence

from streams.core.errors import BilatError
from streams.runtime.halt import EXIT_LOOP_FAILED, halt

__all__ = ["ENV", "Checkpoint", "fault_hook", "no_faults"]

log = logging.getLogger("bilat.faults")

ENV = "BILAT_FAULT"
Checkpoint = Callable[[str], None]
"""Called with a point's name each time a loop passes it."""


def no_faults(point: str) -> None:
    """The production hook: passing a point does nothing."""


def fault_hook(points: Sequence[str], env: Mapping[str, str] | None = None) -> Checkpoint:
    """The hook ``BILAT_FAULT`` in ``env`` (default ``os.environ``) asks for: exit with
    :data:`~streams.runtime.halt.EXIT_LOOP_FAILED` the first time the loop passes that point,
    logging ``BILAT_FAULT=<point>: exiting abruptly``; :func:`no_faults` when it is unset.

    Raises :class:`BilatError` for a value that is none of ``points``, before the loop starts.
    """
    wanted = (os.environ if env is None else env).get(ENV)
    if wanted is None:
        return no_faults
    if wanted not in points:
        raise BilatError(f"{ENV}: got {wanted!r}, want one of {list(points)}")

    def exit_at(point: str) -> None:
        if point == wanted:
            halt(EXIT_LOOP_FAILED, log, logging.ERROR, "%s=%s: exiting abruptly", ENV, point)

    return exit_at
