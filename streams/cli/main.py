"""``bilat``: the one command-line entry point of a Bilat deployment.

This module holds the root group and registers every command; each command group lives in its
own module of :mod:`streams.cli`. Commands are thin: each parses options into
:class:`~streams.runtime.config.Settings`, calls one function of the package, and prints what
happened. Every :class:`~streams.core.errors.BilatError` is shown as a one-paragraph message
saying what to do, with exit code 2.
"""

from __future__ import annotations

import click

from connectors.sonata.cli import sonata
from streams.cli.agreement import agreement_group
from streams.cli.batcher import batcher_command
from streams.cli.bench import bench_command
from streams.cli.billing import billing_group
from streams.cli.charges import charges_command
from streams.cli.dashboard import dashboard_command
from streams.cli.demo import demo_command
from streams.cli.keys import keys_group, sign_agreement_command, verify_agreement_command
from streams.cli.ledger import ledger_group
from streams.cli.mirror import mirror_group
from streams.cli.read import read_command
from streams.cli.recon import recon_group, reconcile_command
from streams.cli.settle import settle_group
from streams.cli.stack import down_command, status_command, up_command
from streams.cli.usage import ingest_command, rerate_command, worker_command
from streams.cli.verify import verify_command

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="bilat")
def main() -> None:
    """Bilat: rate, sign, anchor and reconcile wholesale usage between two partners.

    \b
    Quick start on one machine:
      bilat up          start Kafka (one cluster per party), Redis and MirrorMaker 2
      bilat demo        run the two-party pipeline on generated traffic
      bilat down        stop everything `bilat up` started

    Configuration comes from BILAT_* environment variables (see README, "Configuration");
    options override them.
    """


for _command in (
    ingest_command,
    worker_command,
    rerate_command,
    charges_command,
    agreement_group,
    demo_command,
    bench_command,
    billing_group,
    up_command,
    down_command,
    status_command,
    mirror_group,
    read_command,
    sonata,
    keys_group,
    ledger_group,
    batcher_command,
    reconcile_command,
    recon_group,
    settle_group,
    verify_command,
    dashboard_command,
):
    main.add_command(_command)
agreement_group.add_command(sign_agreement_command)
agreement_group.add_command(verify_agreement_command)

if __name__ == "__main__":
    main()
