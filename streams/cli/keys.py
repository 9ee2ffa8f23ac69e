"""``bilat keys new|show|encrypt|trusted`` and ``bilat agreement sign|verify-signatures``.

Thin commands over :mod:`streams.core.keys` and the agreement signatures of
:mod:`streams.ledger.entries`; ``streams.cli.main`` registers them (``keys_group`` at the top level,
the two commands under ``agreement``). Any :class:`~streams.core.errors.BilatError` becomes a red
message on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from streams.agreement.signing import book_hash, sign_agreement, verify_agreement_signature
from streams.cli.common import friendly
from streams.core.keys import (
    PASSPHRASE_ENV,
    PASSPHRASE_FILE_ENV,
    KeyFileError,
    KeyPair,
    PublicKey,
    is_encrypted_pem,
    key_passphrase,
    public_path_of,
)
from streams.ledger.entries import LedgerError

__all__ = ["keys_group", "sign_agreement_command", "verify_agreement_command"]

EXIT_ERROR = 2
EXIT_INVALID = 1

F = TypeVar("F", bound=Callable[..., Any])
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True)


@click.group(name="keys")
def keys_group() -> None:
    """Create and inspect the Ed25519 keys a party signs its ledger and agreements with.

    \b
    Examples:
      bilat keys new --party hgc                 keys/hgc.key (0600) + keys/hgc.pub.json
      BILAT_KEY_PASSPHRASE_FILE=pass bilat keys new --party hgc --encrypt
                                                 the same, encrypted with the passphrase
      bilat keys encrypt keys/hgc.key            encrypt an existing key in place
      bilat keys show keys/hgc.pub.json          key id and public key
      bilat keys trusted --agreement FILE        the agreement's keys, as a trusted-keys file
    """


@keys_group.command(name="new", short_help="Generate a party's key pair; never overwrites.")
@click.option("--party", required=True, help="Party id the key signs for, e.g. hgc.")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("keys"),
    show_default=True,
    help="Folder for PARTY.key and PARTY.pub.json (created with mode 0700 when missing).",
)
@click.option(
    "--encrypt",
    is_flag=True,
    help=f"Encrypt the private key with the passphrase in the file ${PASSPHRASE_FILE_ENV} "
    f"(or ${PASSPHRASE_ENV}; asked for on a terminal when neither is set).",
)
@friendly
def new_command(party: str, folder: Path, encrypt: bool) -> None:
    """Generate a party's key: FOLDER/PARTY.key (private, mode 0600) and FOLDER/PARTY.pub.json.

    Never overwrites an existing key. Keep the .key file secret and backed up; hand the
    .pub.json to the partner. With --encrypt the .key file is an encrypted PKCS#8 PEM: every
    command that loads it (--key) then needs the same passphrase, from the file named by
    BILAT_KEY_PASSPHRASE_FILE (or BILAT_KEY_PASSPHRASE); never a command-line value.

    \b
    Examples:
      bilat keys new --party hgc --dir keys
      openssl rand -base64 32 > pass && chmod 600 pass
      BILAT_KEY_PASSPHRASE_FILE=pass bilat keys new --party hgc --encrypt
    """
    if not party or "/" in party or party.startswith("."):
        raise KeyFileError(f"--party: got {party!r}, want a party id such as hgc")
    private = folder / f"{party}.key"
    passphrase = _new_passphrase() if encrypt else None
    keypair = KeyPair.generate()
    public = keypair.save(private, passphrase)
    out = _out()
    out.print(f"key id      {keypair.key_id}")
    out.print(f"public key  {keypair.public.raw.hex()}")
    how = "mode 0600, encrypted: keep it and its passphrase secret" if encrypt else "mode 0600"
    out.print(f"private     {escape(str(private))}  ({how}: keep it secret)")
    out.print(f"public      {escape(str(public))}  (give this to the partner)")


@keys_group.command(name="encrypt", short_help="Encrypt an existing private key in place.")
@click.argument("file", type=_FILE)
@friendly
def encrypt_command(file: Path) -> None:
    """Encrypt the unencrypted private key FILE in place with the passphrase of
    BILAT_KEY_PASSPHRASE_FILE (or BILAT_KEY_PASSPHRASE); the key, its id and its .pub.json stay
    the same.

    The encrypted copy is written next to FILE (mode 0600) and renamed over it, so FILE is
    never half written. An already encrypted FILE is refused. Backups of the unencrypted file
    still hold the key in clear: replace them.

    \b
    Example:
      BILAT_KEY_PASSPHRASE_FILE=/run/secrets/key_passphrase bilat keys encrypt keys/hgc.key
    """
    try:
        head = file.read_bytes()[:64]
    except OSError as exc:
        raise KeyFileError(f"private key {file}: cannot read ({exc.strerror})") from None
    if is_encrypted_pem(head):
        raise KeyFileError(f"private key {file}: already encrypted")
    keypair = KeyPair.load(file)  # refuses a key others can read, or not Ed25519
    passphrase = _new_passphrase()
    scratch = file.with_name(f".{file.name}.encrypting")
    for stale in (scratch, public_path_of(scratch)):  # of an interrupted earlier run
        stale.unlink(missing_ok=True)
    keypair.save(scratch, passphrase).unlink()  # the existing .pub.json stays: same key
    os.replace(scratch, file)
    _out().print(f"encrypted   {escape(str(file))}  ({keypair.key_id}, mode 0600)")


def _new_passphrase() -> bytes:
    """The passphrase to encrypt a key with: from the environment (:func:`key_passphrase`),
    else asked twice on a terminal; never from the command line."""
    passphrase = key_passphrase(os.environ)
    if passphrase is not None:
        return passphrase
    if not sys.stdin.isatty():
        raise KeyFileError(
            f"no passphrase to encrypt the key with: set {PASSPHRASE_FILE_ENV} to a file "
            f"holding it (or {PASSPHRASE_ENV}); it is never taken from the command line"
        )
    text = click.prompt(
        "Passphrase for the private key", hide_input=True, confirmation_prompt=True, err=True
    )
    return str(text).encode("utf-8")


@keys_group.command(name="show", short_help="Print the key id and public key of a key file.")
@click.argument("file", type=_FILE)
@friendly
def show_command(file: Path) -> None:
    """Print the key id and public key of a private key FILE (.key) or public JSON (.pub.json).

    \b
    Examples:
      bilat keys show keys/hgc.key
      bilat keys show keys/dcc.pub.json
    """
    if file.name.endswith(".json"):
        public = PublicKey.from_json(_read_json(file))
        kind = "public key file"
    else:
        public = KeyPair.load(file).public
        kind = "private key file, " + (
            "encrypted" if is_encrypted_pem(file.read_bytes()[:64]) else "not encrypted"
        )
    out = _out()
    out.print(f"file        {escape(str(file))} ({kind})")
    out.print("algorithm   Ed25519")
    out.print(f"key id      {public.key_id}")
    out.print(f"public key  {public.raw.hex()}")


@keys_group.command(name="trusted", short_help="Print the agreement's trusted keys as JSON.")
@click.option(
    "--agreement",
    type=_FILE,
    envvar="BILAT_AGREEMENT",
    required=True,
    help="The agreement both parties signed [env BILAT_AGREEMENT].",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON to this file instead of printing it.",
)
@friendly
def trusted_command(agreement: Path, out: Path | None) -> None:
    """Print the keys AGREEMENT trusts for each party (every version's, with validity), its id
    and book hash: the trusted-keys file `bilat verify --bundle` and `bilat ledger check`
    take as --trusted-keys, for whoever checks without the agreement.

    \b
    Examples:
      bilat keys trusted --agreement examples/agreement.yaml
      bilat keys trusted --agreement agreement.yaml --out hgc-dcc.trusted.json
    """
    from streams.agreement.loader import load_book
    from streams.agreement.trust import TrustedKeys

    document = TrustedKeys.of_book(load_book(agreement)).to_json()
    if out is None:
        click.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    _write_json(out, document)
    _out().print(f"wrote       {escape(str(out))}")


@click.command(name="sign")
@click.argument("file", type=_FILE)
@click.option("--party", required=True, help="The party signing: the seller or buyer id.")
@click.option(
    "--key",
    "key_file",
    type=_FILE,
    required=True,
    help="The party's private key file (bilat keys new).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Signature document to write [default: FILE.sig.PARTY.json].",
)
@friendly
def sign_agreement_command(file: Path, party: str, key_file: Path, out: Path | None) -> None:
    """Sign the agreement FILE (every version in it) as PARTY; write the signature document.

    The signature covers the book hash: the canonical hash of each version, in order. Both
    parties sign the same file and exchange their documents; the genesis entry of each ledger
    needs both.

    \b
    Examples:
      bilat agreement sign examples/agreement.yaml --party hgc --key keys/hgc.key
      bilat agreement verify-signatures examples/agreement.yaml \\
          examples/agreement.yaml.sig.hgc.json examples/agreement.yaml.sig.dcc.json
    """
    from streams.agreement.loader import load_book

    book = load_book(file)
    keypair = KeyPair.load(key_file)
    doc = sign_agreement(book, keypair, party)
    target = out or file.with_name(f"{file.name}.sig.{party}.json")
    _write_json(target, doc)
    console = _out()
    console.print(f"agreement   {book.id} ({len(book.versions)} versions)")
    console.print(f"book hash   {doc['book_hash']}")
    console.print(f"signed by   {party} with {keypair.key_id}")
    console.print(f"wrote       {escape(str(target))}")


@click.command(name="verify-signatures")
@click.argument("file", type=_FILE)
@click.argument("signatures", nargs=-1, required=True, type=_FILE)
@click.option(
    "--complete",
    is_flag=True,
    help="Also require a valid signature by both the seller and the buyer.",
)
@friendly
def verify_agreement_command(file: Path, signatures: tuple[Path, ...], complete: bool) -> None:
    """Check signature documents SIGNATURES against the agreement FILE.

    Exit code 0 when every document is a valid signature of FILE (and, with --complete, both
    parties signed), 1 otherwise; every problem of every document is listed.

    \b
    Example:
      bilat agreement verify-signatures examples/agreement.yaml \\
          examples/agreement.yaml.sig.hgc.json examples/agreement.yaml.sig.dcc.json --complete
    """
    from streams.agreement.loader import load_book

    book = load_book(file)
    console = _out()
    console.print(f"agreement   {book.id}, book hash {book_hash(book).hex()}")
    failed = False
    signed: set[str] = set()
    for path in signatures:
        doc = _read_json(path)
        problems = verify_agreement_signature(book, doc)
        who = f"{doc.get('party', '?')} ({doc.get('key_id', '?')})"
        if problems:
            failed = True
            console.print(f"[red]INVALID[/red] {escape(str(path))}: {escape(who)}")
            for problem in problems:
                console.print(f"  - {escape(problem)}")
        else:
            signed.add(str(doc["party"]))
            console.print(f"[green]ok[/green]      {escape(str(path))}: {escape(who)}")
    parties = (book.latest.seller.id, book.latest.buyer.id)
    missing = [p for p in parties if p not in signed]
    if missing:
        console.print(f"not signed yet by: {', '.join(missing)}")
        failed = failed or complete
    else:
        console.print("signed by both parties: ready for the genesis entry")
    if failed:
        raise click.exceptions.Exit(EXIT_INVALID)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LedgerError(f"{path}: got unreadable JSON ({exc}), want a JSON object") from None
    if not isinstance(value, dict):
        raise LedgerError(f"{path}: got JSON {type(value).__name__}, want an object")
    return value


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """Write ``value`` to ``path`` atomically (a reader never sees half a document)."""
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
