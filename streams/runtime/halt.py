"""Stopping a long-running process at once, before anything more is acknowledged.

A loop that cannot go on (a send failed, Redis is gone, the inventory feed died) must not let
its framework run the clean-up that would acknowledge and commit the messages it did not
handle. :func:`halt` logs why, flushes the logs, and ends the process with ``os._exit``, which
skips every ``finally`` block and exit hook on purpose. Whatever was not committed is read
again after a restart.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

__all__ = ["EXIT_LOOP_FAILED", "halt"]

EXIT_LOOP_FAILED = 70
"""Exit code when a loop failed (sysexits' EX_SOFTWARE): nothing past the failed work was
committed; fix the cause named in the log's last line and start the process again."""


def halt(code: int, log: logging.Logger, level: int, message: str, *args: object) -> NoReturn:
    """Log ``message % args`` at ``level`` on ``log``, flush everything, exit with ``code``."""
    log.log(level, message, *args)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
