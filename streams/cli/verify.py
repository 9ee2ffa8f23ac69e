"""``bilat verify``: prove one rated record, live from Kafka or offline from an audit bundle.

Signatures are checked against trusted keys (:func:`streams.cli.common.trust_of`), never the
bundle's own. ``streams.cli.main`` registers the command.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from streams.cli.common import (
    EXISTING_FILE,
    agreement_option,
    friendly,
    party_options,
    settings_of,
    trust_of,
    trusted_keys_option,
)
from streams.ledger.audit import Check, verify_bundle
from streams.ledger.entries import LedgerError

__all__ = ["verify_command"]

console = Console(highlight=False)


@click.command(name="verify")
@party_options
@agreement_option
@trusted_keys_option
@click.argument("usage_key", required=False)
@click.option(
    "--export",
    "export",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the record's self-contained audit bundle (JSON) to this file.",
)
@click.option(
    "--bundle",
    "bundle",
    type=EXISTING_FILE,
    help="Check a bundle offline (no Kafka needed) instead of a live record.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: ok, usage_key, source (kafka or the bundle file), checks (name, ok, "
    "detail), the record's leaf fields, its batch, the anchor's sequence, exported_to, "
    "trusted_keys (the trust source).",
)
@friendly
def verify_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    trusted_keys: Path | None,
    usage_key: str | None,
    export: Path | None,
    bundle: Path | None,
    as_json: bool,
) -> None:
    """Prove one rated record: leaf, inclusion proof, anchor, chain and signatures.

    Signatures are checked against trusted keys, never the bundle's own: those the agreement
    lists (--agreement, or BILAT_AGREEMENT; for a live record, this party's agreement) or
    those of --trusted-keys. A bundle with neither is refused (exit 2).

    \b
    Examples:
      bilat verify ix-fra-01/20261124-0000042
      bilat verify ix-fra-01/20261124-0000042 --export record.bundle.json
      bilat verify --bundle record.bundle.json --agreement agreement.yaml   # offline, auditors
      bilat verify --bundle record.bundle.json --trusted-keys trusted.json --json | jq .ok
    Exit 0 when every check passes, 1 otherwise.
    """
    if bundle is not None:
        document: dict[str, Any] = _read_bundle(bundle)
        trust = trust_of(agreement, trusted_keys, None)
    elif usage_key:
        from streams.runtime.offline import record_bundle

        settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
        trust = trust_of(agreement, trusted_keys, settings.agreement)
        document = record_bundle(settings, usage_key)
    else:
        raise click.UsageError("give a USAGE_KEY (source/record_id) or --bundle FILE")
    checks = verify_bundle(document, trust)
    if export is not None:
        export.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if as_json:
        source = "kafka" if bundle is None else str(bundle)
        result = {**_verify_json(document, checks, source, export), "trusted_keys": trust.source}
        click.echo(json.dumps(result, indent=2))
    else:
        for check in checks:
            mark = "[green]✓[/green]" if check.ok else "[red]✗[/red]"
            console.print(f"{mark} {check.name:<10} {check.detail}", soft_wrap=True)
        if export is not None:
            console.print(f"bundle written to {export}")
    if not all(check.ok for check in checks):
        sys.exit(1)


def _verify_json(
    document: Mapping[str, Any], checks: Sequence[Check], source: str, export: Path | None
) -> dict[str, Any]:
    """``bilat verify --json``: the checks, and the bundle's facts as far as it has them."""
    record = document.get("record")
    chain = document.get("chain")
    batch = document.get("batch")
    anchor = chain[-1] if isinstance(chain, list) and chain else None  # version 1: the last
    if isinstance(batch, dict) and "anchor_sequence" in batch:  # version 2: named
        anchor = {"sequence": batch["anchor_sequence"]}
    return {
        "ok": all(check.ok for check in checks),
        "usage_key": record.get("key") if isinstance(record, dict) else None,
        "source": source,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
        "record": record,
        "batch": document.get("batch"),
        "anchor_sequence": anchor.get("sequence") if isinstance(anchor, dict) else None,
        "exported_to": None if export is None else str(export),
    }


MAX_BUNDLE_BYTES = 16 * 1024 * 1024
"""A bundle is one record's proof: a few kilobytes; anything past this is not a bundle."""


def _read_bundle(path: Path) -> dict[str, Any]:
    """The bundle at ``path`` as a JSON object, or a :class:`LedgerError` saying what is wrong."""
    size = path.stat().st_size
    if size > MAX_BUNDLE_BYTES:
        raise LedgerError(
            f"{path}: got {size:,} bytes, want a bundle of at most {MAX_BUNDLE_BYTES:,}"
        )
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LedgerError(
            f"{path}: not a bundle: want the JSON that `bilat verify KEY --export FILE` "
            f"writes ({exc})"
        ) from exc
    if not isinstance(document, dict):
        raise LedgerError(f"{path}: got a JSON {type(document).__name__}, want a bundle object")
    return document
