"""Keyed pseudonymisation of personal fields (HMAC-SHA256).

The key comes from ``GRAPHKIT_PSEUDO_KEY`` or a key file (``GRAPHKIT_PSEUDO_KEY_FILE``).
The built-in demo key exists only so the demo runs on a fresh machine; stores record
which key (by fingerprint) pseudonymised them.

Examples
--------
>>> p = Pseudonymiser(b"k")
>>> p.token("张三") == p.token("张三")
True
>>> p.token("张三").startswith("pz:")
True
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import GraphkitError

__all__ = ["Pseudonymiser", "DEMO_KEY", "MIN_KEY_BITS", "check_key_strength", "resolve_key", "demo_key_allowed", "demo_key_refusal"]

DEMO_KEY = b"graphkit-demo-key-not-for-real-data"


def demo_key_allowed(bundle: str | Path | None) -> bool:
    """The built-in demo key may pseudonymise only a generated demo bundle whose table files are
    the bytes the generator sealed in its ``truth.json`` (:mod:`graphkit.demo.seal`: a copied
    ``truth.json`` next to other tables is not enough), or anything when
    ``GRAPHKIT_ALLOW_DEMO_KEY=1`` (tests, benchmarks)."""
    return demo_key_refusal(bundle) is None


def demo_key_refusal(bundle: str | Path | None) -> str | None:
    """Why the demo key may not serve ``bundle`` (``None``: it may), for the error message."""
    if os.environ.get("GRAPHKIT_ALLOW_DEMO_KEY", "").lower() in ("1", "true", "yes"):
        return None
    if bundle is None:
        return "no bundle folder"
    from .demo.seal import seal_problem

    return seal_problem(bundle)


#: the least key material accepted from the environment or a key file, in bits
MIN_KEY_BITS = 128
_HEX = frozenset(b"0123456789abcdefABCDEF")


def check_key_strength(key: bytes, source: str) -> bytes:
    """``key`` if it carries at least :data:`MIN_KEY_BITS` bits, else a clear error.

    A key must be *generated*, not typed: hex of ≥ 32 digits (``openssl rand -hex 32``,
    ``python -c "import secrets; print(secrets.token_hex(32))"``) or a binary key file of ≥ 16
    bytes. A passphrase cannot be measured, so it is refused: with a guessable key anyone holding
    a store could recompute tokens of known names and ID numbers (pseudonyms are HMACs of
    low-entropy values) and, from the public ``key_id``, test candidate keys offline.

    >>> check_key_strength(b"9e107d9d372bb6826bd81d3542a419d6", "test") == b"9e107d9d372bb6826bd81d3542a419d6"
    True
    >>> check_key_strength(b"bureau-key-2024", "test")
    Traceback (most recent call last):
    ...
    graphkit.errors.GraphkitError: 假名化密钥太弱 / pseudonymisation key from test is too weak: ...
    """
    need = MIN_KEY_BITS // 8
    text = all(32 <= b < 127 for b in key)
    if text and set(key) <= _HEX:
        ok = len(key) >= 2 * need and len(set(key.lower())) >= 6
    else:
        ok = not text and len(key) >= need and len(set(key)) >= need // 2
    if not ok:
        raise GraphkitError(
            f"假名化密钥太弱 / pseudonymisation key from {source} is too weak: use ≥ {MIN_KEY_BITS} random bits, "
            f"as ≥ {2 * need} hex digits (openssl rand -hex 32) or a binary key file of ≥ {need} bytes; "
            "passphrases are refused")
    return key


def resolve_key(key: bytes | str | None = None, *, allow_demo: bool = True) -> bytes:
    """Return the pseudonymisation key: explicit (trusted calling code), env, key file — both
    checked by :func:`check_key_strength` — or (if allowed) the demo key."""
    if key is not None:
        return key.encode() if isinstance(key, str) else key
    env = os.environ.get("GRAPHKIT_PSEUDO_KEY")
    if env:
        return check_key_strength(env.encode(), "GRAPHKIT_PSEUDO_KEY")
    key_file = os.environ.get("GRAPHKIT_PSEUDO_KEY_FILE")
    if key_file:
        raw = Path(key_file).read_bytes()
        data = raw.strip() if all(32 <= b < 127 or b in b"\r\n\t " for b in raw) else raw
        if not data:
            raise GraphkitError(f"pseudonymisation key file {key_file} is empty")
        return check_key_strength(data, f"key file {key_file}")
    if allow_demo:
        return DEMO_KEY
    raise GraphkitError(
        "未设置假名化密钥 / no pseudonymisation key: set GRAPHKIT_PSEUDO_KEY or GRAPHKIT_PSEUDO_KEY_FILE. "
        "The built-in demo key only serves generated demo bundles."
    )


class Pseudonymiser:
    """Deterministic keyed tokens: the same value and key always give the same token."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @property
    def key_id(self) -> str:
        """A short public fingerprint of the key (safe to store in manifests)."""
        return hashlib.sha256(b"graphkit-key-id:" + self._key).hexdigest()[:16]

    def token(self, value: str) -> str:
        return "pz:" + hmac.digest(self._key, value.encode("utf-8"), "sha256").hex()[:20]

    def series(self, s: pd.Series) -> pd.Series:
        """Pseudonymise a string series, keeping nulls null (one HMAC per distinct value)."""
        mask = s.notna().to_numpy(bool)
        if not mask.any():
            return s
        codes, uniques = pd.factorize(s[mask])
        key, digest = self._key, hmac.digest
        tokens = np.array(["pz:" + digest(key, str(u).encode("utf-8"), "sha256").hex()[:20] for u in uniques.tolist()], dtype=object)
        out = pd.Series(None, index=s.index, dtype=object)
        out[mask] = tokens[codes]
        return out.astype(s.dtype if str(s.dtype) != "object" else object)


def is_token(values: pd.Series) -> np.ndarray:
    """True where a value is already a pseudonym token."""
    return values.astype("string").str.startswith("pz:").fillna(False).to_numpy(bool)
