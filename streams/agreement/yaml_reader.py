"""Reading agreement YAML into plain values: strict, bounded, and nothing implicit.

The file is written by the other party, so YAML is read as a stream of parser events (libyaml's
when installed) into plain dicts, lists and strings; nothing is ever expanded, so the work is
linear in the (capped) size. Nesting deeper than :data:`MAX_DEPTH`, more than
:data:`MAX_VERSIONS` documents and more than :data:`MAX_PROBLEMS` problems stop the reading.
Echoed values are cut (:func:`show`).

Anchors and aliases (and so ``<<`` merge keys), tags (``!!float``, ``!custom``), duplicate keys
and keys that are lists or mappings are refused: an agreement needs none of them, and each lets
a reviewer read one thing while the parties sign another. Every scalar is read as the text
written, quoted or not: ``010`` is the text ``010`` (never YAML 1.1's octal 8), ``yes`` is
``yes`` (never ``True``), ``1.10`` stays ``1.10``. Only a plain ``~``, ``null`` or nothing reads
as "not given". What the values mean is for :mod:`streams.agreement.terms` and
:mod:`streams.agreement.loader`.
"""

from __future__ import annotations

import re
import reprlib
from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = [
    "MAX_DEPTH",
    "MAX_PROBLEMS",
    "MAX_SHOWN",
    "MAX_VERSIONS",
    "YamlReader",
    "child",
    "show",
    "where",
]

MAX_DEPTH = 10
"""Deepest nesting of mappings and lists, the document's own mapping being level 1. The
agreement needs 6 (``tariffs[0].tiers.steps[0]``)."""

MAX_VERSIONS = 100
"""Most YAML documents (agreement versions) in one file."""

MAX_PROBLEMS = 50
"""Most problems reported; the rest are counted in one last line."""

MAX_SHOWN = 60
"""Longest echo of a given value in a problem, in characters (:func:`show`)."""

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_SEGMENT = re.compile(r"[^\s.\[\]'\"]{1,40}")

# --- echoing values and naming paths -----------------------------------------------------------

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 6, 4, 60, 60


def show(value: Any) -> str:
    """A bounded ``repr`` of a given value: containers and strings are cut while being written
    (never ``repr``'d whole), the result is at most :data:`MAX_SHOWN` characters plus a note of
    the full length."""
    if isinstance(value, str) and len(value) > MAX_SHOWN:
        return f"{value[: MAX_SHOWN - 10]!r}… ({len(value):,} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<a number of {value.bit_length():,} bits>"  # str() of a huge int is quadratic
    try:
        text = _REPR.repr(value)
    except ValueError:  # a huge int inside a container (Python's 4,300-digit limit)
        return f"<a {type(value).__name__}>"
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def child(path: str, key: str) -> str:
    """The path of ``key`` in the mapping at ``path``: ``a.b``, or ``a['odd key']``."""
    if _SEGMENT.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{show(key)}]"


def where(path: str) -> str:
    """``path`` as a problem names it: the document's own mapping is the top level."""
    return path or "top level"


# --- reading YAML: events into plain values -----------------------------------------------------


@dataclass(slots=True)
class _Open:
    """A mapping or list being read, with its path; for a mapping, the key awaiting its value
    and the line each key was first given on."""

    value: dict[str, Any] | list[Any]
    path: str
    key: str | None = None
    drop_value: bool = False
    lines: dict[str, int] = field(default_factory=dict)


class YamlReader:
    """Plain values (``dict``, ``list``, ``str``, ``None``) from YAML parser events.

    Refuses anchors, aliases, tags, duplicate keys and keys that are not scalars; stops at
    nesting deeper than :data:`MAX_DEPTH`, at a key that is a collection, after
    :data:`MAX_VERSIONS` documents or :data:`MAX_PROBLEMS` problems. Each event is pulled once
    and nothing is expanded, so the work is linear in the size of the text (the parsers are
    quadratic only in flow nesting depth, which is cut). Problems are ``(document, text)``.
    """

    def __init__(self) -> None:
        self.documents: list[Any] = []
        self.problems: list[tuple[int, str]] = []
        self._stack: list[_Open] = []
        self._document = 0
        self._starts = 0  # documents begun, empty ones included

    def read(self, text: str) -> None:
        loader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # libyaml: ~20x faster
        try:
            for event in yaml.parse(text, Loader=loader):
                self._event(event)
                if len(self.problems) >= MAX_PROBLEMS:
                    del self.problems[MAX_PROBLEMS:]
                    self._note(f"stopped reading after {MAX_PROBLEMS} problems")
                    return
        except yaml.YAMLError as exc:
            self._note(f"not valid YAML: {_cut(str(exc), 300)}")
        except _Stop:
            return

    def _fail(self, path: str, message: str) -> None:
        self._note(f"{where(path)}: {message}")

    def _note(self, message: str) -> None:
        self.problems.append((self._document, message))

    def _event(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self._starts += 1
            if self._starts > MAX_VERSIONS:
                self._document = len(self.documents) + 1
                self._note(
                    f"got more than {MAX_VERSIONS} documents, want at most {MAX_VERSIONS} "
                    "versions in one file (MAX_VERSIONS)"
                )
                raise _Stop
            self._document = len(self.documents) + 1
            self._stack = []
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self._place(self._stack.pop().value)
        elif isinstance(event, yaml.NodeEvent):
            self._node(event)

    def _node(self, event: yaml.NodeEvent) -> None:
        top = self._stack[-1] if self._stack else None
        is_key = isinstance(top, _Open) and isinstance(top.value, dict) and top.key is None
        if top is None:
            path = ""
        elif isinstance(top.value, list):
            path = f"{top.path}[{len(top.value)}]"
        else:
            path = top.path if is_key else child(top.path, top.key or "")
        if isinstance(event, yaml.AliasEvent):
            self._fail(path, f"got alias {show('*' + str(event.anchor))}, {_NO_ANCHORS}")
            self._place(None, drop=True)
            return
        if event.anchor is not None:
            self._fail(path, f"got anchor {show('&' + event.anchor)}, {_NO_ANCHORS}")
        tag = getattr(event, "tag", None)
        if tag is not None:
            shown = show(tag.replace("tag:yaml.org,2002:", "!!"))
            self._fail(path, f"got tag {shown}, want a plain value (tags are refused)")
        if is_key and top is not None and not isinstance(event, yaml.ScalarEvent):
            kind = "a mapping" if isinstance(event, yaml.MappingStartEvent) else "a list"
            self._fail(path, f"got {kind} as a key, want a plain text key")
            raise _Stop
        if isinstance(event, yaml.ScalarEvent):
            plain = event.style in (None, "")
            value = None if plain and event.value in _NULLS else event.value
            if is_key and top is not None:
                line = event.start_mark.line + 1 if event.start_mark is not None else 0
                self._key(top, str(event.value), line)
            else:
                self._place(value)
            return
        if len(self._stack) >= MAX_DEPTH:
            # Stop here rather than skip: parsing deep flow nesting is quadratic in its depth
            # (libyaml and PyYAML alike: 50,000 levels take 4 s and 40 s).
            self._fail(
                path, f"got nesting deeper than {MAX_DEPTH} levels, want at most {MAX_DEPTH}"
            )
            raise _Stop
        container: dict[str, Any] | list[Any] = (
            {} if isinstance(event, yaml.MappingStartEvent) else []
        )
        self._stack.append(_Open(container, path))

    def _key(self, top: _Open, key: str, line: int) -> None:
        first = top.lines.get(key)
        if first is not None:
            self._fail(
                child(top.path, key),
                f"got a second {show(key)} at line {line}, want each key once "
                f"(first at line {first})",
            )
            top.drop_value = True
        else:
            top.lines[key] = line
        top.key = key

    def _place(self, value: Any, drop: bool = False) -> None:
        """Put a finished value into the mapping or list being read (or make it a document)."""
        if not self._stack:
            if value is not None:
                self.documents.append(value)
            return
        top = self._stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        elif top.key is None:  # an alias as a key: already a problem, its value goes too
            top.key, top.drop_value = "", True
        else:
            if not (top.drop_value or drop):
                top.value[top.key] = value
            top.key, top.drop_value = None, False


_NO_ANCHORS = "want the value written out (anchors and aliases are refused)"


class _Stop(Exception):
    """Internal: reading stops at a problem after which going on would cost unbounded work
    (nesting too deep, a collection as a key, too many documents); never leaves this module."""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
