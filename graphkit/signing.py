"""Ed25519 signatures for the audit log's checkpoints and for dossier manifests.

A *signer* holds the private key (the guard's service account, or — on a single-user
installation — the user's own local key); anyone holding the public key can check what it
signed. Keys are PEM files: the private key (PKCS#8, written 0600, never overwritten) and the
public key beside it as ``<private>.pub``. A key is named by its *key id*: the first 16 hex
digits of the SHA-256 of the raw 32-byte public key.

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> kid = generate_keypair(os.path.join(d, "k.pem"))
>>> s = Signer.from_file(os.path.join(d, "k.pem"))
>>> s.key_id == kid, len(kid)
(True, 16)
>>> sig = s.sign(b"manifest bytes")
>>> verify_signature(s.public_pem, b"manifest bytes", sig), verify_signature(s.public_pem, b"manifest byteS", sig)
(True, False)
>>> Verifier.from_file(os.path.join(d, "k.pem.pub")).key_id == kid
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import GraphkitError

__all__ = ["generate_keypair", "Signer", "Verifier", "verify_signature", "key_id_of", "default_key_path",
           "local_signer", "trusted_public_key_path", "SigningError"]


class SigningError(GraphkitError):
    """A key could not be read, written or used."""


def _raw_public(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _pem_public(pub: Ed25519PublicKey) -> str:
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def key_id_of(public_pem: str | bytes) -> str:
    """The key id (16 hex digits of SHA-256 over the raw public key) of a PEM public key."""
    return hashlib.sha256(_raw_public(_load_public(public_pem))).hexdigest()[:16]


def _load_public(public_pem: str | bytes) -> Ed25519PublicKey:
    data = public_pem.encode("ascii") if isinstance(public_pem, str) else public_pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically, refusing to replace an existing file (temp file + link)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)  # fails with FileExistsError: never clobbers a key
    finally:
        os.unlink(tmp)


def generate_keypair(private_path: str | Path, public_path: str | Path | None = None) -> str:
    """Create a new Ed25519 key pair; return its key id.

    The private key is written 0600 and never replaces an existing file (``FileExistsError``);
    the public key goes to ``public_path`` (default ``<private_path>.pub``, mode 0644).
    """
    priv = Path(private_path)
    pub_path = Path(public_path) if public_path else priv.with_name(priv.name + ".pub")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write_new(priv, pem, 0o600)
    public_pem = _pem_public(key.public_key()).encode("ascii")
    fd, tmp = tempfile.mkstemp(dir=pub_path.parent, prefix=f".{pub_path.name}.")
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o644)
        fh.write(public_pem)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, pub_path)  # the public half always matches the private key just made
    return key_id_of(public_pem)


class Signer:
    """Signs with an Ed25519 private key. ``sign`` returns base64 text."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_pem: str = _pem_public(private_key.public_key())
        self.key_id: str = key_id_of(self.public_pem)

    @classmethod
    def from_file(cls, path: str | Path) -> "Signer":
        """Load a PEM private key; refuses a file that group or others may read (like ssh)."""
        p = Path(path)
        try:
            st = p.stat()
            data = p.read_bytes()
        except OSError as exc:
            raise SigningError(f"cannot read the signing key {p}: {exc.strerror or exc}") from exc
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SigningError(f"signing key {p} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
                               f"chmod 600 it / 私钥文件权限过宽")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningError(f"{p} is not a PEM private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningError(f"{p}: expected an Ed25519 private key, got {type(key).__name__}")
        return cls(key)

    def sign(self, data: bytes) -> str:
        """Base64 signature of ``data``."""
        return base64.b64encode(self._key.sign(data)).decode("ascii")

    @property
    def verifier(self) -> "Verifier":
        return Verifier(self.public_pem)

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"


class Verifier:
    """Checks signatures against one public key (``key_id`` names it)."""

    def __init__(self, public_pem: str | bytes) -> None:
        self._key = _load_public(public_pem)
        self.public_pem: str = _pem_public(self._key)
        self.key_id: str = key_id_of(self.public_pem)

    @classmethod
    def from_file(cls, path: str | Path) -> "Verifier":
        try:
            return cls(Path(path).read_bytes())
        except OSError as exc:
            raise SigningError(f"cannot read the public key {path}: {exc.strerror or exc}") from exc

    def verify(self, data: bytes, signature: str) -> bool:
        """True when ``signature`` (base64) is this key's signature of ``data``."""
        try:
            self._key.verify(base64.b64decode(signature.encode("ascii"), validate=True), data)
        except (InvalidSignature, binascii.Error, ValueError, AttributeError, UnicodeEncodeError):
            return False
        return True

    def __repr__(self) -> str:
        return f"Verifier(key_id={self.key_id!r})"


def verify_signature(public_pem: str | bytes, data: bytes, signature: str) -> bool:
    """True when ``signature`` (base64) is the signature of ``data`` by ``public_pem``'s key."""
    return Verifier(public_pem).verify(data, signature)


def _data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "graphkit"


def default_key_path() -> Path:
    """The single-user signing key: ``GRAPHKIT_AUDIT_KEY`` or ``<data dir>/graphkit/keys/audit-ed25519.pem``."""
    env = os.environ.get("GRAPHKIT_AUDIT_KEY")
    return Path(env) if env else _data_dir() / "keys" / "audit-ed25519.pem"


def trusted_public_key_path() -> Path:
    """Where verifiers find the public key: ``GRAPHKIT_AUDIT_PUBKEY`` or ``<default key>.pub``."""
    env = os.environ.get("GRAPHKIT_AUDIT_PUBKEY")
    if env:
        return Path(env)
    k = default_key_path()
    return k.with_name(k.name + ".pub")


def local_signer(path: str | Path | None = None) -> Signer:
    """The single-user signer, generating its key on first use (0600, in the key folder 0700).

    A local key gives tamper evidence against anyone who cannot read it, but no separation of
    duties: whoever holds it (the user themself) can re-sign a rewritten log or dossier.
    """
    p = Path(path) if path else default_key_path()
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            generate_keypair(p)
        except FileExistsError:
            pass  # another process made it first: use that one
    return Signer.from_file(p)
