"""``bilat ledger init|rotate-key|check``, ``bilat batcher`` and ``bilat verify``: the ledger
from the shell.

Every check of signatures (``ledger check``, ``verify``) is made against trusted keys
(:mod:`streams.agreement.trust`): ``--trusted-keys FILE``, else the agreement's (``--agreement`` or
``BILAT_AGREEMENT``; for a party's own commands, its configured agreement; an offline bundle
has no default and is refused without one, exit 2).

Thin commands: options → :class:`~streams.runtime.config.Settings`, one call into the package, a
clear report. ``streams.cli.main`` registers them; shared options come from
:func:`streams.cli.common.party_options`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table

from streams.agreement.loader import load_book
from streams.agreement.trust import TrustedKeys, TrustError
from streams.cli.common import agreement_option, friendly, party_options, settings_of
from streams.contract.codec import Codec
from streams.core.errors import StackError
from streams.core.keys import KeyFileError, KeyPair
from streams.ledger.audit import Check, verify_bundle
from streams.ledger.batch_check import check_batches
from streams.ledger.check import Finding, check_ledger
from streams.ledger.entries import LedgerEntry, LedgerError
from streams.merkle.batchtree import NATIVE, NATIVE_HINT
from streams.runtime.batcher import FAULT_POINTS, BatcherLoop, init_ledger, rotate_key
from streams.runtime.config import Settings
from streams.runtime.faults import fault_hook
from streams.runtime.reader import read_records
from streams.runtime.registry import make_codec

__all__ = ["batcher_command", "ledger_group", "verify_command"]

console = Console(highlight=False)
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_KEY = click.option(
    "--key",
    "key_file",
    type=_FILE,
    required=True,
    envvar="BILAT_KEY",
    help="This party's private key (bilat keys new) [env BILAT_KEY].",
)


_TRUSTED = click.option(
    "--trusted-keys",
    "trusted_keys",
    type=_FILE,
    default=None,
    help="JSON file of the keys trusted to sign for each party, with their validity "
    "(`bilat keys trusted --agreement FILE` writes one); used instead of the agreement's keys.",
)


def _trust(agreement: Path | None, trusted_keys: Path | None, fallback: Path | None) -> TrustedKeys:
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


_CHECK_JSON = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: intact, owner, topic, trusted_keys (the trust source), entries, anchors, "
    "digests_checked, leaf_batches_checked, tip (sequence, entry_hash), findings (kind, "
    "sequence, detail).",
)


@click.group(name="ledger")
def ledger_group() -> None:
    """This party's signed, hash-chained ledger (ledger.anchors)."""


@ledger_group.command(name="init")
@party_options
@agreement_option
@_KEY
@click.option(
    "--signature",
    "signatures",
    type=_FILE,
    multiple=True,
    required=True,
    help="A signature document (bilat agreement sign); give both parties'.",
)
@friendly
def init_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    key_file: Path,
    signatures: tuple[Path, ...],
) -> None:
    """Write the genesis entry: the agreement both parties signed, and both signatures.

    Nothing is anchored before this. Every signature must be by a key the agreement lists for
    its party, valid now, and --key must be the key this party signed the agreement with.
    Idempotent: a ledger that already starts with this genesis is left as it is.

    \b
    Example:
      bilat ledger init --party hgc --key keys/hgc.key \\
          --signature agreement.sig.hgc.json --signature agreement.sig.dcc.json
    """
    settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
    docs = [json.loads(path.read_text(encoding="utf-8")) for path in signatures]
    entry = init_ledger(settings, docs, KeyPair.load(key_file))
    if entry is None:
        console.print(f"ledger of {settings.party} already starts with this genesis: nothing to do")
        return
    console.print(
        f"genesis of {settings.party} on {settings.topic('ledger.anchors')}: agreement "
        f"{entry.agreement_id}, book hash {entry.payload_json()['book_hash'][:16]}…, "
        f"entry {entry.entry_hash().hex()[:16]}…"
    )


@ledger_group.command(name="rotate-key")
@party_options
@agreement_option
@_KEY
@click.option(
    "--new-key",
    "new_key_file",
    type=_FILE,
    required=True,
    help="The next key's private key file (bilat keys new writes PARTY.key, mode 0600): it "
    "signs the rotation to prove this party holds it. A public key (.pub.json) is refused.",
)
@friendly
def rotate_key_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    key_file: Path,
    new_key_file: Path,
) -> None:
    """Hand this party's ledger over to its next key: a key-rotation entry signed by the
    current key (--key) naming the new one, which the agreement must list for this party,
    valid now.

    The entry also carries the new key's own signature over the rotation (proof of
    possession: the agreement id, this party, the old and new key ids and the new key's
    valid_from), so the ledger can only be handed to a key this party holds; --new-key is
    therefore the new private key, not its public JSON.

    From the next entry on, only the new key signs: the running batcher is fenced (it exits);
    start it again with --key set to the new private key.

    \b
    Example:
      bilat keys new --party hgc --dir keys2
      bilat ledger rotate-key --party hgc --key keys/hgc.key --new-key keys2/hgc.key
    """
    settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
    new_key = _new_private_key(new_key_file)
    entry = rotate_key(settings, KeyPair.load(key_file), new_key)
    console.print(
        f"key rotation of {settings.party} at sequence {entry.sequence}: "
        f"{entry.key_id} → {new_key.key_id}; restart `bilat batcher` with the new key"
    )


def _new_private_key(path: Path) -> KeyPair:
    """The private key of ``--new-key``; a public key file is refused saying why."""
    try:
        head = path.read_bytes()[:64].lstrip()
    except OSError as exc:
        raise KeyFileError(f"--new-key {path}: cannot read ({exc.strerror})") from None
    if path.name.endswith(".json") or head.startswith(b"{"):
        raise KeyFileError(
            f"--new-key {path}: got a public key file, want the new key's private key file "
            f"(bilat keys new writes PARTY.key beside PARTY.pub.json): the rotation carries "
            "the new key's signature (proof of possession), so that a ledger is never handed "
            "to a key its party does not hold"
        )
    return KeyPair.load(path)


@ledger_group.command(name="check")
@party_options
@agreement_option
@_TRUSTED
@click.option("--owner", default=None, help="Whose chain to check [default: --party].")
@click.option(
    "--topic",
    default=None,
    help="Full topic name to read, e.g. a mirrored partner ledger 'dcc.ledger.anchors' "
    "[default: this party's <prefix>ledger.anchors].",
)
@click.option(
    "--batches/--no-batches",
    default=True,
    show_default=True,
    help="Also hold every anchor's digest (the topic beside the anchors, '…ledger.digests') "
    "and, on one's own ledger, its stored leaves ('ledger.batches') against what it signs.",
)
@_CHECK_JSON
@friendly
def check_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    trusted_keys: Path | None,
    owner: str | None,
    topic: str | None,
    batches: bool,
    as_json: bool,
) -> None:
    """Walk a ledger and report every bad signature, broken link, gap or equivocation, and
    every digest or leaf batch that does not match the anchor signing it.

    Signatures are checked against the keys the agreement lists for each party (this party's
    agreement: --agreement or BILAT_AGREEMENT), or those of --trusted-keys, valid at each
    entry's time; the genesis must carry that agreement's book hash.

    Exit 0 when the chain is intact, 1 when anything is wrong.

    \b
    Examples:
      bilat ledger check
      bilat ledger check --owner dcc --topic dcc.ledger.anchors
      bilat ledger check --trusted-keys hgc-dcc.trusted.json
      bilat ledger check --json | jq '.findings[] | .kind'
    """
    settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
    trust = _trust(agreement, trusted_keys, settings.agreement)
    name = topic or settings.topic("ledger.anchors")
    codec = make_codec(settings.schema_registry)
    who = owner or settings.party
    entries = read_records(settings, "ledger.anchors", topic=name, codec=codec)
    mine = [e for e in entries if e.party == who]
    if not mine:
        raise StackError(f"{name}: no entries of {who}")
    findings = check_ledger(mine, who, trusted=trust)
    stored = _Stored(digests=False, leaves=False, note="")
    if batches:
        own = topic is None and who == settings.party
        found, stored = _check_stored(settings, codec, name, mine, own)
        findings += found
    tip = max(mine, key=lambda e: e.sequence)
    anchors = sum(1 for e in mine if e.kind == "anchor")
    if as_json:
        document = {
            "intact": not findings,
            "owner": who,
            "topic": name,
            "trusted_keys": trust.source,
            "entries": len(mine),
            "anchors": anchors,
            "digests_checked": stored.digests,
            "leaf_batches_checked": stored.leaves,
            "tip": {"sequence": tip.sequence, "entry_hash": tip.entry_hash().hex()},
            "findings": [
                {"kind": f.kind, "sequence": f.sequence, "detail": f.detail} for f in findings
            ],
        }
        click.echo(json.dumps(document, indent=2))
        if findings:
            sys.exit(1)
        return
    if not findings:
        console.print(
            f"[green]intact[/green]: {len(mine)} entries of {who} on {name} "
            f"({anchors} anchors{stored.note}), tip {tip.sequence} {tip.entry_hash().hex()[:16]}…; "
            f"keys trusted: {trust.source}"
        )
        return
    table = Table(
        title=f"{len(findings)} problems in the ledger of {who} on {name} "
        f"(keys trusted: {trust.source})"
    )
    for column in ("sequence", "finding", "detail"):
        table.add_column(column, overflow="fold")
    for finding in findings:
        seq = "-" if finding.sequence is None else str(finding.sequence)
        table.add_row(seq, finding.kind, finding.detail)
    console.print(table)
    sys.exit(1)


@dataclass(frozen=True, slots=True)
class _Stored:
    """What ``ledger check`` held against the anchors besides the chain itself."""

    digests: bool
    leaves: bool
    note: str
    """For the summary line, e.g. ", digests match"."""


_NOT_CHECKED = _Stored(digests=False, leaves=False, note=", digests not checked")


def _check_stored(
    settings: Settings, codec: Codec, anchors_topic: str, mine: list[LedgerEntry], own: bool
) -> tuple[list[Finding], _Stored]:
    """Findings about the digests (and, if ``own``, the leaf batches) beside ``anchors_topic``,
    and what was checked."""
    genesis = [e for e in mine if e.kind == "genesis" and e.sequence == 0]
    suffix = "ledger.anchors"
    if not genesis or not anchors_topic.endswith(suffix):
        return [], _NOT_CHECKED  # no salt (check_ledger says why), or no topic name
    try:
        salt = bytes.fromhex(genesis[0].payload_json()["book_hash"])
    except (LedgerError, KeyError, TypeError, ValueError):
        return [], _NOT_CHECKED  # a bad genesis payload: check_ledger reports it
    base = anchors_topic[: -len(suffix)]
    digests = list(
        read_records(settings, "ledger.digests", topic=base + "ledger.digests", codec=codec)
    )
    leaf_sets = None
    if own:
        leaf_sets = list(
            read_records(settings, "ledger.batches", topic=base + "ledger.batches", codec=codec)
        )
    checked = _Stored(
        digests=True,
        leaves=own,
        note=", digests and leaf batches match" if own else ", digests match",
    )
    return check_batches(mine, digests, leaf_sets, salt), checked


@click.command(name="batcher")
@party_options
@agreement_option
@_KEY
@click.option("--once", is_flag=True, help="Stop when caught up and nothing is due.")
@friendly
def batcher_command(
    party: str,
    kafka: str | None,
    topic_prefix: str,
    agreement: Path | None,
    key_file: Path,
    once: bool,
) -> None:
    """Batch rated usage per event-time window, sign and anchor each batch (foreground).

    Windows close after the agreement's grace period; late usage makes a revision. Each batch
    is anchored exactly once, in one Kafka transaction with its digest, its leaves and the
    input offsets. Run one per party: a second one fences the first.
    """
    settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
    if not NATIVE:
        console.print(
            "[yellow]note: Merkle batches are built in pure Python, about 6x slower: the C module "
            f"was not compiled; {NATIVE_HINT}[/yellow]"
        )
    loop = BatcherLoop(
        settings,
        KeyPair.load(key_file),
        say=lambda m: console.print(m),
        checkpoint=fault_hook(FAULT_POINTS),  # BILAT_FAULT: the crash tests' abrupt exits
    )
    count = loop.run(once=once)
    console.print(f"{count} batches anchored")


@click.command(name="verify")
@party_options
@agreement_option
@_TRUSTED
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
    type=_FILE,
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
        trust = _trust(agreement, trusted_keys, None)
    elif usage_key:
        from streams.runtime.offline import record_bundle

        settings = settings_of(party, kafka, topic_prefix, agreement=agreement)
        trust = _trust(agreement, trusted_keys, settings.agreement)
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
