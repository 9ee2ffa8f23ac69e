"""``bilat ledger init|rotate-key|check``: the ledger from the shell (``bilat batcher`` and
``bilat verify`` are :mod:`streams.cli.batcher` and :mod:`streams.cli.verify`).

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
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from streams.cli.common import (
    EXISTING_FILE,
    agreement_option,
    friendly,
    key_option,
    party_options,
    settings_of,
    trust_of,
    trusted_keys_option,
)
from streams.contract.codec import Codec
from streams.contract.topics import sibling_topic
from streams.core.errors import StackError
from streams.core.keys import KeyFileError, KeyPair
from streams.ledger.anchoring import join_leaf_parts
from streams.ledger.batch_check import check_batches
from streams.ledger.check import Finding, check_ledger
from streams.ledger.entries import LedgerEntry
from streams.ledger.genesis import genesis_salt
from streams.runtime.batcher import init_ledger, rotate_key
from streams.runtime.config import Settings
from streams.runtime.reader import read_records
from streams.runtime.registry import make_codec

__all__ = ["ledger_group"]

console = Console(highlight=False)

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
@key_option
@click.option(
    "--signature",
    "signatures",
    type=EXISTING_FILE,
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
@key_option
@click.option(
    "--new-key",
    "new_key_file",
    type=EXISTING_FILE,
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
@trusted_keys_option
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
    trust = trust_of(agreement, trusted_keys, settings.agreement)
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
    salt = genesis_salt(genesis[0]) if genesis else None
    digests_topic = sibling_topic(anchors_topic, "ledger.anchors", "ledger.digests")
    batches_topic = sibling_topic(anchors_topic, "ledger.anchors", "ledger.batches")
    if salt is None or digests_topic is None or batches_topic is None:
        return [], _NOT_CHECKED  # no salt (check_ledger says why), or no topic name
    digests = list(read_records(settings, "ledger.digests", topic=digests_topic, codec=codec))
    leaf_sets = None
    if own:
        stored = read_records(settings, "ledger.batches", topic=batches_topic, codec=codec)
        leaf_sets = join_leaf_parts(stored)
    checked = _Stored(
        digests=True,
        leaves=own,
        note=", digests and leaf batches match" if own else ", digests match",
    )
    return check_batches(mine, digests, leaf_sets, salt), checked
