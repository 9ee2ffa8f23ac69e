"""``bilat agreement``: inspect bilateral agreements.

``agreement check`` validates a file and prints each version's canonical hash and the parties'
keys; ``agreement example`` prints (or writes) the packaged example agreement.
:mod:`streams.cli.main` registers the group and adds the signing commands of
:mod:`streams.cli.keys` (``agreement sign``, ``agreement verify-signatures``) to it.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from streams.cli.common import friendly
from streams.core import resources

__all__ = ["agreement_group"]

console = Console(stderr=False, highlight=False)


@click.group("agreement")
def agreement_group() -> None:
    """Inspect bilateral agreements."""


@agreement_group.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@friendly
def agreement_check(file: Path) -> None:
    """Validate an agreement FILE, list every problem, and print each version's canonical hash.

    One line per version: id, version, effective_from (UTC) and the hash of its canonical
    terms; then each party's keys (every version's) with their validity. A file over 1 MiB,
    or with anchors, tags, duplicate or unknown keys, is refused.
    """
    from streams.agreement.loader import load_book

    book = load_book(file)
    latest = book.latest
    console.print(
        f"{book.id}: {len(book.versions)} version(s), parties {' & '.join(latest.parties)}; "
        f"latest: {len(latest.tariffs)} tariffs, {latest.currency}, {latest.timezone.key}",
        soft_wrap=True,
    )
    for v in book.versions:
        console.print(
            f"{v.id} v{v.version} effective_from {v.effective_from.isoformat()} "
            f"canonical hash: {v.canonical_hash().hex()}",
            soft_wrap=True,
        )
    for party in latest.parties:
        listed = ", ".join(f"{k.key_id} ({k.window()})" for k in book.party_keys(party))
        console.print(f"{party} keys: {listed}", soft_wrap=True)


@agreement_group.command("example")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write it to this new file instead of printing it.",
)
@click.option("--path", "show_path", is_flag=True, help="Print where the packaged file is.")
@friendly
def agreement_example(out: Path | None, show_path: bool) -> None:
    """Print the example agreement Bilat ships, the default of BILAT_AGREEMENT.

    Every term is commented; start a real agreement from a copy of it.

    \b
    Examples:
      bilat agreement example --out agreement.yaml
      bilat agreement check "$(bilat agreement example --path)"
    """
    example = resources.example_agreement()
    if show_path:
        click.echo(str(example))
        return
    text = example.read_text(encoding="utf-8")
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        with out.open("x", encoding="utf-8") as file:
            file.write(text)
    except FileExistsError:
        raise click.UsageError(f"{out} exists: choose a new file name or remove it") from None
    console.print(f"wrote the example agreement to {out}")
