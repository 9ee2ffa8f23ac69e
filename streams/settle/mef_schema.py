"""Validation of JSON values against the component schemas of the vendored MEF 141 specs.

:func:`problems` checks a value against ``#/components/schemas/<component>`` of
``billingManagement.api.yaml`` (``CustomerBill``, ``CustomerBillItem``, ``Error400``...) or
``billingNotification.api.yaml`` (``CustomerBillEvent``...), read through
:func:`streams.core.resources.mef_dir`, so what Bilat serves is checked against the very file it
ships. Every problem is reported, as ``$.path.to.field: message``, sorted.

OpenAPI 3.0 schema objects are JSON Schema Draft 4 with a few extra keywords, mapped here:

* ``$ref: "#/components/schemas/X"`` is resolved through a :mod:`referencing` registry holding
  the document's components (a ``$ref`` beside other keywords wins, as Draft 4 says);
* ``nullable: true`` becomes ``type: [T, "null"]`` (none in the billing specs today);
* ``format: date-time`` is checked as RFC 3339 (a time offset required);
* ``discriminator`` and every other format (``float``, ``uri``) carry no check: the billing
  specs use them only as annotations.

Pure: reads a package file once per spec, imports no I/O client.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

import yaml
from jsonschema import Draft4Validator, FormatChecker, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from streams.core import resources

__all__ = ["SPECS", "components", "problems"]

SPECS = ("billingManagement", "billingNotification")
"""The spec names :func:`problems` accepts (``<name>.api.yaml`` in the MEF folder)."""

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def problems(component: str, value: Any, spec: str = "billingManagement") -> list[str]:
    """Every way ``value`` breaks ``#/components/schemas/<component>`` of ``spec``.

    Returns ``[]`` for a valid value, else ``"$.path: message"`` strings sorted by path
    (``$.customerBillItem[0]: 'id' is a required property``). Raises ``KeyError`` for an unknown
    spec or component: that is a programming error, not bad input.
    """
    schemas = _schemas(spec)
    if component not in schemas.names:
        raise KeyError(f"MEF {spec}: got component {component!r}, want one of {schemas.names}")
    validator = Draft4Validator(
        {"$ref": f"{schemas.uri}#/components/schemas/{component}"},
        registry=schemas.registry,
        format_checker=_FORMATS,
    )
    found = sorted((_path(e), e.message) for e in validator.iter_errors(value))
    return [f"{path}: {message}" for path, message in found]


def components(spec: str = "billingManagement") -> tuple[str, ...]:
    """The component schema names of ``spec``, sorted."""
    return _schemas(spec).names


class _Schemas:
    __slots__ = ("names", "registry", "uri")

    def __init__(self, spec: str) -> None:
        if spec not in SPECS:
            raise KeyError(f"MEF spec: got {spec!r}, want one of {SPECS}")
        path = resources.mef_dir() / f"{spec}.api.yaml"
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # a safe loader
        found = document["components"]["schemas"]
        self.uri = f"urn:mef:{spec}"
        contents = {"components": {"schemas": _from_openapi(found)}}
        resource = Resource.from_contents(contents, default_specification=DRAFT4)
        self.registry: Registry[Any] = Registry().with_resource(self.uri, resource)
        self.names = tuple(sorted(found))


@functools.cache
def _schemas(spec: str) -> _Schemas:
    return _Schemas(spec)


def _from_openapi(node: Any) -> Any:
    """OpenAPI 3.0 → Draft 4: ``nullable`` folded into ``type``, ``discriminator`` dropped."""
    if isinstance(node, list):
        return [_from_openapi(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _from_openapi(v) for k, v in node.items() if k not in ("nullable", "discriminator")}
    if node.get("nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _path(error: ValidationError) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


_FORMATS = FormatChecker(formats=())


def _is_date_time(value: object) -> bool:
    """RFC 3339 ``date-time``: a calendar-valid date and time with a ``Z`` or ``±HH:MM`` offset."""
    if not isinstance(value, str):
        return True  # the type check reports it
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"got {value!r}, want an RFC 3339 date-time with an offset")
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # month 13, day 32...
    return True


_FORMATS.checks("date-time", raises=ValueError)(_is_date_time)
