"""The signature on a dossier's ``manifest.json`` (``manifest.sig``).

The manifest holds the SHA-256 of every file; the signer (the guard's key, or a single-user
install's local key) signs the manifest's exact bytes. ``manifest.sig`` is JSON::

    {"schema": "graphkit.dossier-signature/v1", "key_id": "…", "manifest_sha256": "…",
     "signature": "<base64 Ed25519>", "public_key": "<PEM, for information only>"}

Verification trusts only the configured public key (never the PEM the file carries): a
dossier re-signed with another key fails. Edit one byte of any file and its hash no longer
matches the manifest; edit the manifest and the signature fails.

Examples
--------
>>> import os, tempfile
>>> from graphkit.signing import generate_keypair, Signer
>>> d = tempfile.mkdtemp(); _ = generate_keypair(os.path.join(d, "k.pem"))
>>> s = Signer.from_file(os.path.join(d, "k.pem"))
>>> sig = signature_document(b'{"files": {}}', s)
>>> check_signature(b'{"files": {}}', sig, s.verifier)
''
>>> check_signature(b'{"files": {"x": 1}}', sig, s.verifier)
'manifest.json does not match its signature (edited after signing)'
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..signing import Signer, SigningError, Verifier, default_key_path, trusted_public_key_path

__all__ = ["SIGNATURE", "signature_document", "check_signature", "read_signature", "trusted_verifier", "local_key_note"]

SIGNATURE = "manifest.sig"
SCHEMA = "graphkit.dossier-signature/v1"


def signature_document(manifest_bytes: bytes, signer: Signer) -> dict[str, Any]:
    """The content of ``manifest.sig`` for these manifest bytes (anything with ``sign``,
    ``key_id`` and ``public_pem``, e.g. the guard's client, can stand in for ``signer``)."""
    return {"schema": SCHEMA, "key_id": signer.key_id, "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
            "signature": signer.sign(manifest_bytes), "public_key": signer.public_pem}


def read_signature(folder: str | Path) -> dict[str, Any] | None:
    """``manifest.sig`` of a dossier folder (None when absent); raises ValueError when unreadable."""
    p = Path(folder) / SIGNATURE
    if not p.is_file():
        return None
    doc = json.loads(p.read_text("utf-8"))
    if not isinstance(doc, dict) or not {"key_id", "signature"} <= set(doc):
        raise ValueError(f"{SIGNATURE} lacks key_id or signature")
    return doc


def check_signature(manifest_bytes: bytes, sig: dict[str, Any], verifier: Verifier) -> str:
    """'' when ``sig`` is the trusted key's signature of the manifest, else what is wrong."""
    if sig.get("key_id") != verifier.key_id:
        return (f"manifest signed by key {sig.get('key_id')}, not by the trusted key {verifier.key_id} "
                f"(re-signed by someone else)")
    if not verifier.verify(manifest_bytes, str(sig.get("signature", ""))):
        return "manifest.json does not match its signature (edited after signing)"
    return ""


def trusted_verifier(public_key: Any = None) -> Verifier | None:
    """The key dossiers are checked with: ``public_key`` (Verifier, PEM or path), else
    ``GRAPHKIT_AUDIT_PUBKEY`` / the local key's ``.pub`` when present."""
    if isinstance(public_key, Verifier):
        return public_key
    if public_key is not None:
        if isinstance(public_key, (bytes, str)) and public_key[:10] in (b"-----BEGIN", "-----BEGIN"):
            return Verifier(public_key)
        return Verifier.from_file(public_key)
    p = trusted_public_key_path()
    return Verifier.from_file(p) if p.is_file() else None


def local_key_note(verifier: Verifier | None) -> str:
    """A warning when the trusted key is one this user holds (a single-user local key)."""
    if verifier is None:
        return ""
    k = default_key_path()
    if not os.access(k, os.R_OK):
        return ""
    try:
        if Signer.from_file(k).key_id != verifier.key_id:
            return ""
    except SigningError:
        return ""
    return ("本地密钥：持有者可重新签名，无职责分离 / local key: whoever holds it (you) can re-sign, "
            "so this gives no separation of duties")
