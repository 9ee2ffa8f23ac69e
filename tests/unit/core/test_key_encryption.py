"""Private keys encrypted at rest: ``KeyPair.save(path, passphrase)``, ``KeyPair.load`` with the
passphrase from an argument or ``BILAT_KEY_PASSPHRASE_FILE`` / ``BILAT_KEY_PASSPHRASE``, the
errors without it, with a wrong one and for a damaged file (never key material in a message),
and ``bilat keys new --encrypt`` / ``bilat keys encrypt`` / commands that take ``--key``."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli.batcher import batcher_command
from streams.cli.keys import keys_group, sign_agreement_command
from streams.core.keys import (
    MIN_PASSPHRASE_LENGTH,
    PASSPHRASE_ENV,
    PASSPHRASE_FILE_ENV,
    KeyFileError,
    KeyPair,
    demo_keypair,
    is_encrypted_pem,
    key_passphrase,
    public_path_of,
)
from tests.fakes.agreements import EXAMPLE as EXAMPLE_FILE

PASSPHRASE = b"correct horse battery staple"
RFC_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def encrypted(tmp_path: Path) -> Path:
    """An encrypted key file (of the RFC 8032 test key) with :data:`PASSPHRASE`."""
    path = tmp_path / "hgc.key"
    KeyPair.from_seed(RFC_SECRET).save(path, PASSPHRASE)
    return path


def secret_file(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "passphrase"
    path.write_bytes(content)
    path.chmod(0o600)
    return path


def assert_no_secret_in(message: str, path: Path) -> None:
    """Neither the passphrase nor any line of the key file's body shows in ``message``."""
    assert PASSPHRASE.decode() not in message
    for line in path.read_bytes().splitlines()[1:-1]:
        assert line.decode() not in message


def test_an_encrypted_key_round_trips_and_is_pkcs8_encrypted(encrypted: Path) -> None:
    data = encrypted.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") and is_encrypted_pem(data)
    assert mode_of(encrypted) == 0o600
    loaded = KeyPair.load(encrypted, PASSPHRASE)
    original = KeyPair.from_seed(RFC_SECRET)
    assert loaded.key_id == original.key_id == "ed25519:21fe31dfa154a261"
    assert loaded.sign(b"m") == original.sign(b"m")
    public = json.loads(public_path_of(encrypted).read_text())
    assert public["key_id"] == original.key_id  # the public half is never encrypted


def test_the_passphrase_comes_from_the_file_before_the_environment(
    tmp_path: Path, encrypted: Path
) -> None:
    # A final newline (echo, editors) is not part of the passphrase; the file wins over the
    # variable, which is only the fallback.
    for content in (PASSPHRASE + b"\n", PASSPHRASE + b"\r\n", PASSPHRASE):
        environ = {
            PASSPHRASE_FILE_ENV: str(secret_file(tmp_path, content)),
            PASSPHRASE_ENV: "something else entirely",
        }
        assert key_passphrase(environ) == PASSPHRASE
        assert KeyPair.load(encrypted, environ=environ).key_id == "ed25519:21fe31dfa154a261"
    environ = {PASSPHRASE_ENV: PASSPHRASE.decode()}
    assert KeyPair.load(encrypted, environ=environ).key_id == "ed25519:21fe31dfa154a261"
    assert key_passphrase({}) is None


def test_the_process_environment_is_the_default(
    tmp_path: Path, encrypted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    monkeypatch.setenv(PASSPHRASE_FILE_ENV, str(secret_file(tmp_path, PASSPHRASE + b"\n")))
    assert KeyPair.load(encrypted).key_id == "ed25519:21fe31dfa154a261"


def test_bad_passphrase_sources_are_named(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"BILAT_KEY_PASSPHRASE_FILE=.*missing: cannot read"):
        key_passphrase({PASSPHRASE_FILE_ENV: str(tmp_path / "missing")})
    empty = secret_file(tmp_path, b"\n")
    with pytest.raises(KeyFileError, match="got an empty file, want the passphrase"):
        key_passphrase({PASSPHRASE_FILE_ENV: str(empty)})
    with pytest.raises(KeyFileError, match="BILAT_KEY_PASSPHRASE: got an empty value"):
        key_passphrase({PASSPHRASE_ENV: ""})


def test_an_encrypted_key_without_a_passphrase_says_how_to_give_one(encrypted: Path) -> None:
    with pytest.raises(KeyFileError) as caught:
        KeyPair.load(encrypted, environ={})
    message = str(caught.value)
    assert f"private key {encrypted}: encrypted, and no passphrase" in message
    assert PASSPHRASE_FILE_ENV in message and PASSPHRASE_ENV in message


def test_a_wrong_passphrase_is_refused_without_key_material(encrypted: Path) -> None:
    for wrong in (b"correct horse battery stapler", b"x", "pässwörd".encode()):
        with pytest.raises(KeyFileError) as caught:
            KeyPair.load(encrypted, wrong)
        message = str(caught.value)
        assert "the passphrase does not decrypt it (wrong passphrase" in message
        assert caught.value.__cause__ is None and caught.value.__context__ is None
        assert_no_secret_in(message, encrypted)


@pytest.mark.parametrize("keep", [0, 20, 37, 38, 60, 100, 150, -37, -36, -2])
def test_a_truncated_encrypted_file_is_named_damaged(encrypted: Path, keep: int) -> None:
    whole = encrypted.read_bytes()
    encrypted.write_bytes(whole[:keep])
    with pytest.raises(KeyFileError) as caught:
        KeyPair.load(encrypted, PASSPHRASE)
    message = str(caught.value)
    if 0 <= keep < len(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"):  # no longer says encrypted
        assert "got unreadable data" in message
    else:
        assert "got a damaged encrypted PEM file (truncated or edited)" in message
    encrypted.write_bytes(whole)
    assert_no_secret_in(message, encrypted)


def test_every_cut_of_an_encrypted_file_fails_cleanly(encrypted: Path) -> None:
    whole = encrypted.read_bytes()
    end = len(whole.rstrip())
    for keep in range(end):
        encrypted.write_bytes(whole[:keep])
        with pytest.raises(KeyFileError):
            KeyPair.load(encrypted, PASSPHRASE)
    encrypted.write_bytes(whole[:end])  # only the final newline cut: still whole
    assert KeyPair.load(encrypted, PASSPHRASE).key_id == "ed25519:21fe31dfa154a261"


def test_an_edited_ciphertext_is_refused(encrypted: Path) -> None:
    lines = encrypted.read_bytes().splitlines(keepends=True)
    body = bytearray(lines[3])
    body[10] = ord("A") if body[10] != ord("A") else ord("B")
    lines[3] = bytes(body)
    encrypted.write_bytes(b"".join(lines))
    with pytest.raises(KeyFileError, match=r"does not decrypt it|damaged"):
        KeyPair.load(encrypted, PASSPHRASE)


def test_an_unencrypted_key_loads_whatever_passphrase_is_set(tmp_path: Path) -> None:
    path = tmp_path / "plain.key"
    KeyPair.from_seed(RFC_SECRET).save(path)
    assert not is_encrypted_pem(path.read_bytes())
    assert KeyPair.load(path, b"irrelevant").key_id == "ed25519:21fe31dfa154a261"
    environ = {PASSPHRASE_ENV: "irrelevant too"}
    assert KeyPair.load(path, environ=environ).key_id == "ed25519:21fe31dfa154a261"


def test_an_encrypted_key_still_must_be_0600(encrypted: Path) -> None:
    encrypted.chmod(0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        KeyPair.load(encrypted, PASSPHRASE)


def test_a_short_passphrase_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "hgc.key"
    short = b"x" * (MIN_PASSPHRASE_LENGTH - 1)
    with pytest.raises(KeyFileError, match=f"got {MIN_PASSPHRASE_LENGTH - 1} characters"):
        KeyPair.generate().save(path, short)
    assert not path.exists() and not public_path_of(path).exists()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
def test_a_key_openssl_encrypted_with_more_rounds_loads(tmp_path: Path) -> None:
    plain = tmp_path / "plain.key"
    KeyPair.from_seed(RFC_SECRET).save(plain)
    secret = secret_file(tmp_path, PASSPHRASE + b"\n")
    strong = tmp_path / "strong.key"
    command = "openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -iter 100000"
    subprocess.run(
        [*command.split(), "-in", str(plain), "-out", str(strong), "-passout", f"file:{secret}"],
        check=True,
        capture_output=True,
    )
    strong.chmod(0o600)
    environ = {PASSPHRASE_FILE_ENV: str(secret)}
    assert KeyPair.load(strong, environ=environ).key_id == "ed25519:21fe31dfa154a261"


# --- the commands ----------------------------------------------------------------------------


def test_keys_new_encrypt_with_a_passphrase_file(tmp_path: Path) -> None:
    secret = secret_file(tmp_path, PASSPHRASE + b"\n")
    env = {PASSPHRASE_FILE_ENV: str(secret), PASSPHRASE_ENV: None}
    runner = CliRunner(env=env)
    folder = tmp_path / "k"
    result = runner.invoke(keys_group, ["new", "--party", "hgc", "--dir", str(folder), "--encrypt"])
    assert result.exit_code == 0, result.output
    private = folder / "hgc.key"
    assert is_encrypted_pem(private.read_bytes()) and mode_of(private) == 0o600
    key_id = KeyPair.load(private, PASSPHRASE).key_id
    assert key_id in result.output and "encrypted" in result.output
    shown = runner.invoke(keys_group, ["show", str(private)])
    assert shown.exit_code == 0, shown.output
    assert key_id in shown.output and "private key file, encrypted" in shown.output


def test_keys_new_encrypt_without_a_passphrase_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    runner = CliRunner(env={PASSPHRASE_FILE_ENV: None, PASSPHRASE_ENV: None})
    result = runner.invoke(keys_group, ["new", "--party", "hgc", "--dir", str(tmp_path), "-E"])
    assert result.exit_code == 2  # an unknown option: there is no --passphrase to give either
    result = runner.invoke(
        keys_group, ["new", "--party", "hgc", "--dir", str(tmp_path), "--encrypt"]
    )
    assert result.exit_code == 2
    assert "no passphrase to encrypt the key with" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "hgc.key").exists()


def test_keys_encrypt_in_place_keeps_the_key_and_its_public_file(tmp_path: Path) -> None:
    private = tmp_path / "hgc.key"
    KeyPair.from_seed(RFC_SECRET).save(private)
    public_before = public_path_of(private).read_bytes()
    runner = CliRunner(env={PASSPHRASE_FILE_ENV: str(secret_file(tmp_path, PASSPHRASE))})
    result = runner.invoke(keys_group, ["encrypt", str(private)])
    assert result.exit_code == 0, result.output
    assert is_encrypted_pem(private.read_bytes()) and mode_of(private) == 0o600
    assert KeyPair.load(private, PASSPHRASE).key_id == "ed25519:21fe31dfa154a261"
    assert public_path_of(private).read_bytes() == public_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hgc.key", "hgc.pub.json", "passphrase"]
    again = runner.invoke(keys_group, ["encrypt", str(private)])
    assert again.exit_code == 2 and "already encrypted" in again.output


def test_agreement_sign_reads_an_encrypted_key(tmp_path: Path) -> None:
    key = tmp_path / "hgc.key"
    demo_keypair("hgc").save(key, PASSPHRASE)
    args = [str(EXAMPLE_FILE), "--party", "hgc", "--key", str(key), "--out", str(tmp_path / "s")]

    bare = CliRunner(env={PASSPHRASE_FILE_ENV: None, PASSPHRASE_ENV: None})
    result = bare.invoke(sign_agreement_command, args)
    assert result.exit_code == 2, result.output
    assert "encrypted, and no passphrase: set BILAT_KEY_PASSPHRASE_FILE" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "s").exists()

    wrong = CliRunner(env={PASSPHRASE_FILE_ENV: None, PASSPHRASE_ENV: "not the passphrase"})
    result = wrong.invoke(sign_agreement_command, args)
    assert result.exit_code == 2 and "does not decrypt it" in result.output
    assert_no_secret_in(result.output, key)

    right = CliRunner(env={PASSPHRASE_FILE_ENV: str(secret_file(tmp_path, PASSPHRASE + b"\n"))})
    result = right.invoke(sign_agreement_command, args)
    assert result.exit_code == 0, result.output
    assert demo_keypair("hgc").key_id in result.output


def test_the_batcher_refuses_an_encrypted_key_without_its_passphrase_before_any_kafka(
    tmp_path: Path,
) -> None:
    key = tmp_path / "hgc.key"
    demo_keypair("hgc").save(key, PASSPHRASE)
    runner = CliRunner(env={PASSPHRASE_FILE_ENV: None, PASSPHRASE_ENV: None})
    result = runner.invoke(
        batcher_command,
        [
            *("--party", "hgc", "--kafka", "127.0.0.1:9", "--agreement", str(EXAMPLE_FILE)),
            *("--key", str(key), "--once"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "encrypted, and no passphrase" in result.output
    assert "Traceback" not in result.output
