"""Types of the optional C module built from streams/contract/_flatavro.c (see its header)."""

from typing import Any

def read(
    layout: tuple[tuple[str, int, bool], ...], data: bytes, offset: int, /
) -> dict[str, Any] | None: ...
def write(
    layout: tuple[tuple[str, int, bool], ...], values: tuple[Any, ...], /
) -> bytes | None: ...
