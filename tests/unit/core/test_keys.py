"""Ed25519 keys: RFC 8032 vector, sign/verify, key ids, key files (mode, no overwrite), public
JSON, and the ``bilat keys`` commands."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from streams.cli.keys import keys_group
from streams.core.keys import (
    SMALL_ORDER_ENCODINGS,
    KeyFileError,
    KeyPair,
    PublicKey,
    demo_keypair,
    demo_seed,
    is_small_order,
    key_id_of,
    public_path_of,
)

# RFC 8032 section 7.1, TEST 1 (empty message).
RFC_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rfc_8032_test_vector() -> None:
    keypair = KeyPair.from_seed(RFC_SECRET)
    assert keypair.public.raw == RFC_PUBLIC
    assert keypair.sign(b"") == RFC_SIGNATURE
    assert PublicKey(RFC_PUBLIC).verify(b"", RFC_SIGNATURE)


def test_key_id_is_a_stable_prefix_of_the_keys_sha256() -> None:
    assert key_id_of(RFC_PUBLIC) == "ed25519:21fe31dfa154a261"
    assert PublicKey(RFC_PUBLIC).key_id == KeyPair.from_seed(RFC_SECRET).key_id
    assert len(key_id_of(RFC_PUBLIC).removeprefix("ed25519:")) == 16


def test_generated_keys_sign_and_verify() -> None:
    keypair = KeyPair.generate()
    signature = keypair.sign(b"anchor")
    assert len(signature) == 64
    assert keypair.public.verify(b"anchor", signature)
    assert keypair.sign(b"anchor") == signature  # Ed25519 is deterministic
    assert KeyPair.generate().key_id != keypair.key_id


def test_tampered_message_or_signature_is_rejected_without_raising() -> None:
    keypair = KeyPair.from_seed(bytes(32))
    signature = keypair.sign(b"root=abc")
    assert not keypair.public.verify(b"root=abd", signature)
    assert not keypair.public.verify(b"root=abc", bytes([signature[0] ^ 1]) + signature[1:])
    assert not keypair.public.verify(b"root=abc", signature[:-1])  # wrong length
    assert not keypair.public.verify(b"root=abc", b"")
    assert not KeyPair.generate().public.verify(b"root=abc", signature)  # another key


@pytest.mark.parametrize("raw", [b"", bytes(31), bytes(33)])
def test_malformed_public_keys_are_refused(raw: bytes) -> None:
    with pytest.raises(KeyFileError, match="want 32"):
        PublicKey(raw)


# --- small-order keys ----------------------------------------------------------------------
# edwards25519 (RFC 8032 section 5.1), in plain integers: enough to find the points of small
# order from the curve equation, independently of the list streams.core.keys embeds.

P = 2**255 - 19
D = -121665 * pow(121666, P - 2, P) % P
L = 2**252 + 27742317777372353535851937790883648493
SQRT_M1 = pow(2, (P - 1) // 4, P)
Point = tuple[int, int, int, int]
"""Extended coordinates (X, Y, Z, T): x = X/Z, y = Y/Z, xy = T/Z (RFC 8032 section 5.1.4)."""
IDENTITY: Point = (0, 1, 1, 0)


def add(a: Point, b: Point) -> Point:
    """RFC 8032 section 5.1.4 point addition (complete: also doubles)."""
    (x1, y1, z1, t1), (x2, y2, z2, t2) = a, b
    aa, bb = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    c, dd = 2 * t1 * t2 * D % P, 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - c, dd + c, bb + aa
    return e * f % P, g * h % P, f * g % P, e * h % P


def times(n: int, point: Point) -> Point:
    result = IDENTITY
    while n:
        if n & 1:
            result = add(result, point)
        point, n = add(point, point), n >> 1
    return result


def same(a: Point, b: Point) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def decode(raw: bytes) -> Point | None:
    """RFC 8032 section 5.1.3, strict: None for y >= p, x = 0 with the sign bit, off-curve."""
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    sign = raw[31] >> 7
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P != u:
        x = x * SQRT_M1 % P
    if v * x * x % P != u or (x == 0 and sign):
        return None
    x = P - x if x & 1 != sign else x
    return x, y, 1, x * y % P


def encode(point: Point) -> bytes:
    x, y, z, _ = point
    inverse = pow(z, P - 2, P)
    x, y = x * inverse % P, y * inverse % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


@functools.cache
def small_order_points() -> frozenset[bytes]:
    """The encodings of the 8 points T with 8T = O: multiples of L·Q for a point Q of full
    order 8L (the torsion subgroup is cyclic of order 8)."""
    for seed in range(256):
        q = decode(hashlib.sha256(bytes([seed])).digest())
        if q is not None and not same(times(4, times(L, q)), IDENTITY):
            generator = times(L, q)
            return frozenset(encode(times(k, generator)) for k in range(8))
    raise AssertionError("no point of full order found")


def test_the_small_order_list_is_the_eight_points_of_small_order() -> None:
    points = small_order_points()
    assert len(points) == 8
    assert all(same(times(8, decode(p) or (1, 1, 1, 1)), IDENTITY) for p in points)
    listed = {e[:31] + bytes([e[31] | sign]) for e in SMALL_ORDER_ENCODINGS for sign in (0, 0x80)}
    assert len(listed) == 14
    assert points <= listed  # every canonical encoding of a point of small order
    for extra in listed - points:  # the others do not decode strictly: non-canonical
        assert decode(extra) is None
        y = int.from_bytes(extra, "little") & ((1 << 255) - 1)
        assert (y % P) in {int.from_bytes(p, "little") & ((1 << 255) - 1) for p in points}
    assert all(is_small_order(e) for e in listed)


@pytest.mark.parametrize("raw", sorted(small_order_points()))
def test_a_small_order_key_is_refused_wherever_a_key_is_read(raw: bytes) -> None:
    with pytest.raises(KeyFileError, match="got a small-order key, want a real Ed25519"):
        PublicKey(raw)
    with pytest.raises(KeyFileError, match="public_key: got a small-order key"):
        PublicKey.from_hex(raw.hex())
    with pytest.raises(KeyFileError, match="public_key: got a small-order key"):
        PublicKey.from_json({"algorithm": "Ed25519", "public_key": raw.hex()})
    assert key_id_of(raw).startswith("ed25519:")  # still named, for messages


def test_the_zero_key_verifies_the_zero_signature_which_is_why_it_is_refused() -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    accepted = 0
    for n in range(32):
        try:
            Ed25519PublicKey.from_public_bytes(bytes(32)).verify(bytes(64), b"entry %d" % n)
            accepted += 1
        except InvalidSignature:
            pass
    assert accepted > 0  # OpenSSL alone would let a signer without a key through


def test_real_keys_are_not_of_small_order() -> None:
    for seed in range(8):
        public = KeyPair.from_seed(hashlib.sha256(bytes([seed])).digest()).public.raw
        assert not is_small_order(public)
        point = decode(public)
        assert point is not None and same(times(L, point), IDENTITY)  # of prime order L


def test_public_json_round_trip_and_checks() -> None:
    public = KeyPair.from_seed(RFC_SECRET).public
    doc = public.to_json()
    assert doc == {
        "algorithm": "Ed25519",
        "key_id": "ed25519:21fe31dfa154a261",
        "public_key": RFC_PUBLIC.hex(),
    }
    assert PublicKey.from_json(json.loads(json.dumps(doc))) == public
    with pytest.raises(KeyFileError, match="key_id: got 'ed25519:0000000000000000'"):
        PublicKey.from_json({**doc, "key_id": "ed25519:0000000000000000"})
    with pytest.raises(KeyFileError, match="algorithm: got 'RSA'"):
        PublicKey.from_json({**doc, "algorithm": "RSA"})
    with pytest.raises(KeyFileError, match="public_key: got 'zz'"):
        PublicKey.from_json({**doc, "public_key": "zz"})


def test_save_writes_a_0600_private_key_and_the_public_json(tmp_path: Path) -> None:
    keypair = KeyPair.generate()
    private = tmp_path / "keys" / "hgc.key"
    public = keypair.save(private)
    assert public == tmp_path / "keys" / "hgc.pub.json" == public_path_of(private)
    assert mode_of(private) == 0o600
    assert mode_of(private.parent) & 0o077 == 0
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert PublicKey.from_json(json.loads(public.read_text())) == keypair.public
    loaded = KeyPair.load(private)
    assert loaded.key_id == keypair.key_id
    assert loaded.sign(b"x") == keypair.sign(b"x")


def test_save_never_overwrites(tmp_path: Path) -> None:
    private = tmp_path / "hgc.key"
    first = KeyPair.generate()
    first.save(private)
    before = private.read_bytes()
    with pytest.raises(KeyFileError, match="exists: refusing to overwrite"):
        KeyPair.generate().save(private)
    assert private.read_bytes() == before
    # A stray public file blocks too, and nothing is written then.
    other = tmp_path / "dcc.key"
    public_path_of(other).write_text("{}")
    with pytest.raises(KeyFileError, match=r"dcc\.pub\.json exists"):
        KeyPair.generate().save(other)
    assert not other.exists()


def test_save_ignores_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        KeyPair.generate().save(tmp_path / "hgc.key")
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "hgc.key") == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_load_refuses_a_key_others_can_read(tmp_path: Path, mode: int) -> None:
    private = tmp_path / "hgc.key"
    KeyPair.generate().save(private)
    private.chmod(mode)
    with pytest.raises(KeyFileError, match=re.escape(f"chmod 600 {private}")):
        KeyPair.load(private)


def test_load_refuses_missing_garbage_and_other_algorithms(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot open"):
        KeyPair.load(tmp_path / "missing.key")
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"not a key")
    garbage.chmod(0o600)
    with pytest.raises(KeyFileError, match="want a PKCS#8 PEM Ed25519 key"):
        KeyPair.load(garbage)
    p256 = tmp_path / "p256.key"
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    p256.write_bytes(pem)
    p256.chmod(0o600)
    with pytest.raises(KeyFileError, match="want an Ed25519 key"):
        KeyPair.load(p256)


def test_repr_never_shows_the_private_key() -> None:
    keypair = KeyPair.from_seed(RFC_SECRET)
    assert repr(keypair) == "KeyPair(ed25519:21fe31dfa154a261)"


# --- bilat keys ----------------------------------------------------------------------------


def test_keys_new_and_show(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(keys_group, ["new", "--party", "hgc", "--dir", str(tmp_path / "k")])
    assert result.exit_code == 0, result.output
    private, public = tmp_path / "k" / "hgc.key", tmp_path / "k" / "hgc.pub.json"
    key_id = KeyPair.load(private).key_id
    assert key_id in result.output and str(private) in result.output
    assert mode_of(private) == 0o600
    for shown in (private, public):
        result = runner.invoke(keys_group, ["show", str(shown)])
        assert result.exit_code == 0, result.output
        assert key_id in result.output


def test_keys_new_refuses_to_overwrite_with_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["new", "--party", "hgc", "--dir", str(tmp_path)]
    assert runner.invoke(keys_group, args).exit_code == 0
    before = (tmp_path / "hgc.key").read_bytes()
    result = runner.invoke(keys_group, args)
    assert result.exit_code == 2
    assert "refusing to overwrite" in result.output
    assert (tmp_path / "hgc.key").read_bytes() == before


def test_keys_show_refuses_an_open_key_with_exit_2(tmp_path: Path) -> None:
    KeyPair.generate().save(tmp_path / "hgc.key")
    (tmp_path / "hgc.key").chmod(0o644)
    result = CliRunner().invoke(keys_group, ["show", str(tmp_path / "hgc.key")])
    assert result.exit_code == 2
    assert "chmod 600" in result.output


def test_demo_keys_come_from_documented_public_seeds() -> None:
    # Anyone can derive these: SHA-256 of "bilat demo key <party>". The example agreement
    # lists their public halves; nothing real may be signed with them.
    assert demo_seed("hgc") == hashlib.sha256(b"bilat demo key hgc").digest()
    hgc, dcc = demo_keypair("hgc"), demo_keypair("dcc")
    assert hgc.public.raw.hex() == (
        "c01fb33fe8734b0f20fef8f6ff1b76712c81175ab8025fd6d8b26c5b80f53dfe"
    )
    assert dcc.public.raw.hex() == (
        "1213a9f5c934497bf5e9617cce1f7aabf3952ab338cd66d5dc85e61e509b27a9"
    )
    assert (hgc.key_id, dcc.key_id) == ("ed25519:1931b1da90ae8f40", "ed25519:3c8d25f3737f9005")


def test_the_demo_uses_the_demo_keys_and_moves_an_older_key_aside(tmp_path: Path) -> None:
    from streams.runtime.demo import _demo_key

    said: list[str] = []
    older = KeyPair.generate()
    older.save(tmp_path / "hgc.key")
    keypair = _demo_key(tmp_path, "hgc", said.append)
    assert keypair.key_id == demo_keypair("hgc").key_id
    assert KeyPair.load(tmp_path / "hgc.key").key_id == keypair.key_id
    assert mode_of(tmp_path / "hgc.key") == 0o600
    assert KeyPair.load(tmp_path / "hgc.key.replaced").key_id == older.key_id
    assert (tmp_path / "hgc.pub.json.replaced").exists() and "moved aside" in said[0]
    assert _demo_key(tmp_path, "hgc", said.append).key_id == keypair.key_id and len(said) == 1
