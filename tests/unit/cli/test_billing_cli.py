"""``bilat billing serve|listen``: what they refuse before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli.billing import billing_group


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    clean = {"BILAT_API_TOKEN": "", "BILAT_BILLING_SELLER_API": "", **(env or {})}
    result = CliRunner().invoke(billing_group, list(args), env=clean)
    return result.exit_code, result.output


@pytest.mark.parametrize("command", ["serve", "listen"])
def test_no_token_is_refused_unless_no_token_is_asked_for(command: str) -> None:
    extra = ["--seller-api", "http://hgc.example/v2"] if command == "listen" else []
    code, output = invoke(command, *extra)
    assert code == 2
    assert "no bearer token: set BILAT_API_TOKEN" in output


@pytest.mark.parametrize("command", ["serve", "listen"])
def test_a_token_on_the_command_line_is_refused(command: str) -> None:
    extra = ["--seller-api", "http://hgc.example/v2"] if command == "listen" else []
    code, output = invoke(command, *extra, "--token", "s3cret")
    assert code == 2
    assert "visible to every user in the process list" in output
    assert "s3cret" not in output


def test_a_token_file_must_hold_one_word(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("two words\n")
    path.chmod(0o600)
    code, output = invoke("serve", "--token-file", str(path))
    assert code == 2
    assert "want the token alone" in output


def test_listen_checks_the_seller_api_url() -> None:
    code, output = invoke("listen", "--seller-api", "hgc.example", env={"BILAT_API_TOKEN": "t"})
    assert code == 2
    assert "--seller-api" in output
