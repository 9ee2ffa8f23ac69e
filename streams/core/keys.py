"""Ed25519 keys of the parties: generate, save, load, sign and verify.

Each party signs its ledger entries and the agreement with one Ed25519 key (RFC 8032). A key is
named by its *key id*, ``ed25519:`` + the first 8 bytes of SHA-256 of the raw 32-byte public key
in hex (:func:`key_id_of`), which is what ledger entries and signature documents carry.

On disk (``bilat keys new``): the private key as a PKCS#8 PEM file that only its owner may read
(mode 0600, created exclusively: an existing file is never overwritten), and the public key next
to it as ``<name>.pub.json``::

    {"algorithm": "Ed25519", "key_id": "ed25519:…", "public_key": "<64 hex digits>"}

The public JSON is what a party hands to its partner. Signing is deterministic (Ed25519), so
the same key and message always give the same 64-byte signature.

**Encrypted at rest.** With a passphrase (``bilat keys new --encrypt``) the private key is an
encrypted PKCS#8 PEM (``BEGIN ENCRYPTED PRIVATE KEY``: PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC,
what ``cryptography``'s ``BestAvailableEncryption`` writes; OpenSSL reads it, and a key that
``openssl pkcs8 -topk8 -v2 aes-256-cbc -iter N`` wrote with more rounds loads too). The passphrase
comes from the file named by ``BILAT_KEY_PASSPHRASE_FILE`` (preferred: a Docker or Kubernetes
secret) or from ``BILAT_KEY_PASSPHRASE`` (:func:`key_passphrase`), never from a command line, where
``ps`` and shell histories would show it. :meth:`KeyPair.load` reads both kinds, so every command
that takes ``--key`` reads an encrypted key when the passphrase is set; unencrypted keys keep
working. ``cryptography`` writes PKCS#8 with only 2048 PBKDF2 rounds, so a new encrypted key
wants a long passphrase (:data:`MIN_PASSPHRASE_LENGTH`), e.g. ``openssl rand -base64 32``.

**Weak keys.** A public key that encodes a point of small order (:func:`is_small_order`) is
refused wherever a key is read (:class:`PublicKey`, and so an agreement's keys, a trusted-keys
file, a genesis entry's ``parties``, a key rotation): no private key belongs to such a point,
yet Ed25519 verification (OpenSSL's too) accepts signatures under it, e.g. the all-zero key
accepts the all-zero signature on about one message in four. A key listed or published as one
is either a mistake or an attempt to sign without a key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from streams.core.errors import BilatError

__all__ = [
    "ALGORITHM",
    "MIN_PASSPHRASE_LENGTH",
    "PASSPHRASE_ENV",
    "PASSPHRASE_FILE_ENV",
    "SMALL_ORDER_ENCODINGS",
    "SMALL_ORDER_PROBLEM",
    "KeyFileError",
    "KeyPair",
    "PublicKey",
    "Signer",
    "demo_keypair",
    "demo_seed",
    "is_encrypted_pem",
    "is_small_order",
    "key_id_of",
    "key_passphrase",
    "public_path_of",
]

ALGORITHM = "Ed25519"
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
PRIVATE_MODE = 0o600

PASSPHRASE_FILE_ENV = "BILAT_KEY_PASSPHRASE_FILE"
"""Names a file holding the passphrase of encrypted private keys (one line; a final newline is
not part of it). Preferred over :data:`PASSPHRASE_ENV`: a file can be a mounted secret, mode 0600,
and never shows in ``/proc/<pid>/environ`` or a crash report's environment dump."""

PASSPHRASE_ENV = "BILAT_KEY_PASSPHRASE"
"""The passphrase itself, when no :data:`PASSPHRASE_FILE_ENV` is set."""

MIN_PASSPHRASE_LENGTH = 16
"""Shortest passphrase a *new* encrypted key accepts (characters). PKCS#8 as ``cryptography``
writes it derives the key with only 2048 rounds of PBKDF2, so the passphrase's own entropy is what
stands against an offline guess from a stolen file or backup. Loading accepts any non-empty one."""

ENCRYPTED_PEM_LABEL = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
ENCRYPTED_PEM_END = b"-----END ENCRYPTED PRIVATE KEY-----"

SMALL_ORDER_ENCODINGS = tuple(
    bytes.fromhex(h)
    for h in (
        "0000000000000000000000000000000000000000000000000000000000000000",  # y = 0: order 4
        "0100000000000000000000000000000000000000000000000000000000000000",  # y = 1: order 1
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p - 1: order 2
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p (= 0)
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p + 1 (= 1)
    )
)
"""The y coordinates (little-endian, sign bit clear) of the points of small order on
edwards25519, as libsodium's ``ge25519_has_small_order`` lists them (see also Chalkias,
Garillot and Nikolaenko, "Taming the many EdDSAs", 2020): with either sign bit they are the 8
canonical encodings of the 8 points of order 1, 2, 4 and 8, and 6 non-canonical encodings of
them (y >= p, or x = 0 with the sign bit set). ``tests/unit/test_keys.py`` recomputes the 8 points
from the curve equation."""

SMALL_ORDER_PROBLEM = "got a small-order key, want a real Ed25519 public key"


def is_small_order(raw: bytes) -> bool:
    """Whether the 32 bytes ``raw`` encode a point of small order (:data:`SMALL_ORDER_ENCODINGS`,
    the sign bit ignored): a key no one holds the private key of, that verifies forged
    signatures."""
    if len(raw) != PUBLIC_KEY_SIZE:
        return False
    return raw[:31] + bytes([raw[31] & 0x7F]) in SMALL_ORDER_ENCODINGS


class KeyFileError(BilatError):
    """A key is malformed (wrong length, not Ed25519, bad JSON or PEM), a private key file is
    readable by others, an encrypted one has no passphrase or a wrong one, or saving would
    overwrite an existing key file. The message never holds key material or a passphrase."""


def is_encrypted_pem(data: bytes) -> bool:
    """Whether ``data`` is an encrypted PKCS#8 PEM (its first label says so)."""
    return data.lstrip().startswith(ENCRYPTED_PEM_LABEL)


def key_passphrase(environ: Mapping[str, str]) -> bytes | None:
    """The passphrase of encrypted private keys from ``environ``, or None when neither
    :data:`PASSPHRASE_FILE_ENV` nor :data:`PASSPHRASE_ENV` is set.

    The file wins when both are set. Its content is taken as it is but for one final newline
    (``\\n`` or ``\\r\\n``, as ``echo`` and editors leave it), so a passphrase may hold spaces.
    Raises :class:`KeyFileError` when the file cannot be read or either source is empty.
    """
    path = environ.get(PASSPHRASE_FILE_ENV, "")
    if path:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFileError(
                f"{PASSPHRASE_FILE_ENV}={path}: cannot read the passphrase file ({exc.strerror})"
            ) from None
        for ending in (b"\r\n", b"\n"):
            if raw.endswith(ending):
                raw = raw[: -len(ending)]
                break
        if not raw:
            raise KeyFileError(
                f"{PASSPHRASE_FILE_ENV}={path}: got an empty file, want the passphrase"
            )
        return raw
    if PASSPHRASE_ENV in environ:
        if not environ[PASSPHRASE_ENV]:
            raise KeyFileError(f"{PASSPHRASE_ENV}: got an empty value, want the passphrase")
        return environ[PASSPHRASE_ENV].encode("utf-8")
    return None


def key_id_of(public_raw: bytes) -> str:
    """``"ed25519:"`` + hex of the first 8 bytes of SHA-256(``public_raw``): 16 hex digits."""
    _check_raw(public_raw)
    return "ed25519:" + hashlib.sha256(public_raw).digest()[:8].hex()


def _check_raw(raw: bytes) -> None:
    if not isinstance(raw, bytes) or len(raw) != PUBLIC_KEY_SIZE:
        size = len(raw) if isinstance(raw, bytes | bytearray) else type(raw).__name__
        raise KeyFileError(f"Ed25519 public key: got {size} bytes, want {PUBLIC_KEY_SIZE}")


@lru_cache(maxsize=1024)
def _loaded(raw: bytes) -> Ed25519PublicKey:
    """The cryptography key object of ``raw``, cached: a ledger check verifies many entries
    with the same few keys."""
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise KeyFileError(f"Ed25519 public key {raw.hex()}: not a valid key ({exc})") from None


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A raw 32-byte Ed25519 public key; never one of small order (:func:`is_small_order`)."""

    raw: bytes

    def __post_init__(self) -> None:
        _check_raw(self.raw)
        if is_small_order(self.raw):
            raise KeyFileError(f"Ed25519 public key {self.raw.hex()}: {SMALL_ORDER_PROBLEM}")

    @property
    def key_id(self) -> str:
        return key_id_of(self.raw)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``.

        Never raises for a bad or malformed signature (``False``); raises :class:`KeyFileError`
        only when the key itself is not a valid Ed25519 point.
        """
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
            return False
        try:
            _loaded(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def to_json(self) -> dict[str, str]:
        """``{"algorithm": "Ed25519", "key_id": ..., "public_key": <hex>}``."""
        return {"algorithm": ALGORITHM, "key_id": self.key_id, "public_key": self.raw.hex()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PublicKey:
        """The key of a :meth:`to_json` document; checks the algorithm and that ``key_id``
        (when present) matches the key. Raises :class:`KeyFileError` listing every problem."""
        problems = []
        if not isinstance(data, Mapping):
            raise KeyFileError(f"public key: got {type(data).__name__}, want a JSON object")
        if data.get("algorithm", ALGORITHM) != ALGORITHM:
            problems.append(f"algorithm: got {data.get('algorithm')!r}, want {ALGORITHM!r}")
        raw = _hex_bytes(data.get("public_key"), PUBLIC_KEY_SIZE, "public_key", problems)
        if raw is not None and "key_id" in data and data["key_id"] != key_id_of(raw):
            problems.append(f"key_id: got {data['key_id']!r}, want {key_id_of(raw)!r} (the key's)")
        if problems or raw is None:
            raise KeyFileError("public key: " + "; ".join(problems))
        return cls(raw)

    @classmethod
    def from_hex(cls, text: str) -> PublicKey:
        """The key of 64 hex digits; raises :class:`KeyFileError` otherwise."""
        problems: list[str] = []
        raw = _hex_bytes(text, PUBLIC_KEY_SIZE, "public_key", problems)
        if raw is None:
            raise KeyFileError("; ".join(problems))
        return cls(raw)


def _hex_bytes(text: Any, size: int, name: str, problems: list[str]) -> bytes | None:
    """``text`` as ``size`` bytes of lowercase or uppercase hex, else a problem and None."""
    if not isinstance(text, str):
        problems.append(f"{name}: got {text!r}, want {2 * size} hex digits")
        return None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        problems.append(f"{name}: got {text!r}, want {2 * size} hex digits")
        return None
    if len(raw) != size:
        problems.append(f"{name}: got {len(raw)} bytes, want {size}")
        return None
    if size == PUBLIC_KEY_SIZE and is_small_order(raw):
        problems.append(f"{name}: {SMALL_ORDER_PROBLEM}")
        return None
    return raw


class Signer(Protocol):
    """What signs ledger entries: a :class:`KeyPair`, or an HSM-backed stand-in."""

    @property
    def key_id(self) -> str: ...

    @property
    def public(self) -> PublicKey: ...

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        ...


class KeyPair:
    """An Ed25519 private key with its public half."""

    __slots__ = ("_private", "public")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = PublicKey(
            private.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    def __repr__(self) -> str:  # never the private key
        return f"KeyPair({self.key_id})"

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (deterministic)."""
        return self._private.sign(message)

    @classmethod
    def generate(cls) -> KeyPair:
        """A new key from the operating system's random source."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        """The key of a 32-byte RFC 8032 private key (seed): for test vectors and fixtures."""
        if not isinstance(seed, bytes) or len(seed) != 32:
            got = f"{len(seed)} bytes" if isinstance(seed, bytes) else type(seed).__name__
            raise KeyFileError(f"Ed25519 seed: got {got}, want 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def save(self, private_path: Path, passphrase: bytes | None = None) -> Path:
        """Write the private key to ``private_path`` and the public JSON next to it; return the
        public JSON's path (:func:`public_path_of`).

        The private key is PKCS#8 PEM, encrypted with ``passphrase`` when one is given (at least
        :data:`MIN_PASSPHRASE_LENGTH` characters), in a file created with ``O_CREAT | O_EXCL``
        and mode 0600, so no other user can ever read it, not even between creation and chmod.
        Raises :class:`KeyFileError` if either file already exists or the passphrase is too
        short (nothing is written then). Missing parent folders are created with mode 0700.
        """
        private_path = Path(private_path)
        encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
        if passphrase is not None:
            length = len(passphrase.decode("utf-8", "replace"))
            if length < MIN_PASSPHRASE_LENGTH:
                raise KeyFileError(
                    f"passphrase: got {length} characters, want at least "
                    f"{MIN_PASSPHRASE_LENGTH} (e.g. `openssl rand -base64 32`)"
                )
            encryption = serialization.BestAvailableEncryption(passphrase)
        public_path = public_path_of(private_path)
        for path in (private_path, public_path):
            if path.exists():
                raise KeyFileError(f"{path} exists: refusing to overwrite a key file")
        private_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        _write_exclusive(private_path, pem, PRIVATE_MODE)
        text = json.dumps(self.public.to_json(), indent=2, sort_keys=True) + "\n"
        try:
            _write_exclusive(public_path, text.encode(), 0o644)
        except BaseException:
            private_path.unlink()  # no private key without its public half
            raise
        return public_path

    @classmethod
    def load(
        cls,
        path: Path,
        passphrase: bytes | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> KeyPair:
        """The key in PEM file ``path``, unencrypted or encrypted; refuses one that group or
        others may access.

        An encrypted key is decrypted with ``passphrase``, or when that is None with
        :func:`key_passphrase` of ``environ`` (the process environment by default): so every
        command that loads a key reads an encrypted one once ``BILAT_KEY_PASSPHRASE_FILE`` is
        set. A passphrase given for an unencrypted key is not needed and not checked.

        Raises :class:`KeyFileError` when the file is missing, too open (the message says
        ``chmod 600 <path>``), not PEM, encrypted without a passphrase, not decrypted by the
        passphrase (wrong, or the file is damaged), or not an Ed25519 key. No message holds key
        material: the text of ``cryptography``'s error is left out for encrypted files.
        """
        path = Path(path)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise KeyFileError(f"private key {path}: cannot open ({exc.strerror})") from None
        with os.fdopen(fd, "rb") as handle:
            mode = stat.S_IMODE(os.fstat(fd).st_mode)  # of the file opened, not of a path
            if mode & 0o077 and os.name == "posix":
                raise KeyFileError(
                    f"private key {path}: got mode {mode:04o}, want 0600 (readable by its owner "
                    f"only): run `chmod 600 {path}`"
                )
            data = handle.read()
        if is_encrypted_pem(data):
            private = _decrypt(path, data, passphrase, environ)
        else:
            try:
                private = serialization.load_pem_private_key(data, password=None)
            except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
                raise KeyFileError(
                    f"private key {path}: got unreadable data ({exc}), want a PKCS#8 PEM Ed25519 "
                    "key as written by `bilat keys new` (unencrypted or encrypted)"
                ) from None
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyFileError(
                f"private key {path}: got a {type(private).__name__}, want an Ed25519 key"
            )
        return cls(private)


def _decrypt(
    path: Path, data: bytes, passphrase: bytes | None, environ: Mapping[str, str] | None
) -> PrivateKeyTypes:
    """The private key of the encrypted PEM ``data`` (see :meth:`KeyPair.load`)."""
    if passphrase is None:
        passphrase = key_passphrase(os.environ if environ is None else environ)
    if passphrase is None:
        raise KeyFileError(
            f"private key {path}: encrypted, and no passphrase: set {PASSPHRASE_FILE_ENV} to a "
            f"file holding it (or {PASSPHRASE_ENV})"
        )
    if not passphrase:
        raise KeyFileError(f"private key {path}: got an empty passphrase")
    try:
        return serialization.load_pem_private_key(data, password=passphrase)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass  # the exception's text is not shown: it is about the key's bytes
    if not _whole_pem(data):  # which failed: the file's framing or length, or the decryption
        raise KeyFileError(
            f"private key {path}: got a damaged encrypted PEM file (truncated or edited), want "
            "one as written by `bilat keys new --encrypt`"
        )
    raise KeyFileError(
        f"private key {path}: the passphrase does not decrypt it (wrong passphrase: check "
        f"{PASSPHRASE_FILE_ENV} or {PASSPHRASE_ENV}; or the file is damaged)"
    )


def _whole_pem(data: bytes) -> bool:
    """Whether ``data`` is one encrypted PEM block whose base64 body decodes to exactly one DER
    SEQUENCE of the length its header states: false for a truncated or cut file."""
    lines = [line.strip() for line in data.strip().splitlines()]
    if len(lines) < 3 or lines[0] != ENCRYPTED_PEM_LABEL or lines[-1] != ENCRYPTED_PEM_END:
        return False
    try:
        der = base64.b64decode(b"".join(lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(der) < 2 or der[0] != 0x30:  # a DER SEQUENCE
        return False
    if der[1] < 0x80:
        head, length = 2, der[1]
    else:
        count = der[1] & 0x7F
        if not 0 < count <= 4 or len(der) < 2 + count:
            return False
        head, length = 2 + count, int.from_bytes(der[2 : 2 + count], "big")
    return head + length == len(der)


DEMO_SEED_PREFIX = b"bilat demo key "
"""Demo keys are derived from public text: never sign anything real with them."""


def demo_seed(party: str) -> bytes:
    """The 32-byte seed of ``party``'s *demo* key: SHA-256 of ``b"bilat demo key " + party``
    (UTF-8), e.g. SHA-256(``b"bilat demo key hgc"``).

    Anyone can derive these private keys: they exist so ``examples/agreement.yaml``, ``bilat
    demo`` and the tests agree on which keys sign for ``hgc`` and ``dcc`` without shipping a
    private key. A real agreement lists keys made by ``bilat keys new``.
    """
    return hashlib.sha256(DEMO_SEED_PREFIX + party.encode("utf-8")).digest()


def demo_keypair(party: str) -> KeyPair:
    """``party``'s demo key pair (:func:`demo_seed`): for the demo and tests only."""
    return KeyPair.from_seed(demo_seed(party))


def public_path_of(private_path: Path) -> Path:
    """Where the public JSON of ``private_path`` goes: ``keys/hgc.key`` → ``keys/hgc.pub.json``."""
    private_path = Path(private_path)
    return private_path.with_name(private_path.stem + ".pub.json")


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` (never an existing file), write ``data``, fsync."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise KeyFileError(f"{path} exists: refusing to overwrite a key file") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # exactly ``mode``, whatever the umask
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()  # a partial key file is worse than none
        raise
