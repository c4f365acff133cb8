"""Redaction: which personal values a dossier shows in clear, masked, or pseudonymised.

The store holds only pseudonyms. Clear (or masked) values are recovered from the original
bundle by pseudonymising its personal fields again with the same key, which needs the
bundle *and* the key: a :class:`ClearSource`. Every use is recorded in the audit log.

Examples
--------
>>> mask_id_number("110105198001011234")
'110***********1234'
>>> mask_name("张三丰"), mask_phone("13812345678")
('张**', '138****5678')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..pseudo import Pseudonymiser, resolve_key

__all__ = ["ClearSource", "Redactor", "WITHHELD", "profile_reveals", "mask_id_number", "mask_name", "mask_phone", "mask_text",
           "PERSONAL_TABLES"]

#: the bundle tables whose values a dossier may reveal (names, ID numbers, contact values)
PERSONAL_TABLES = ("patients", "contacts")


def mask_id_number(v: str) -> str:
    return v[:3] + "*" * max(len(v) - 7, 0) + v[-4:] if len(v) > 7 else "*" * len(v)


def mask_name(v: str) -> str:
    return v[:1] + "*" * (len(v) - 1) if v else v


def mask_phone(v: str) -> str:
    return v[:3] + "*" * max(len(v) - 7, 0) + v[-4:] if len(v) > 7 else "*" * len(v)


def mask_text(v: str) -> str:
    keep = max(len(v) // 3, 1)
    return v[:keep] + "…"


@dataclass
class ClearSource:
    """Token → clear value, rebuilt from the original bundle and the pseudonymisation key."""

    bundle: str
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token -> (field, clear)

    @classmethod
    def from_bundle(cls, bundle: str | Path, *, key: bytes | str | None = None, mapping: Any = None) -> "ClearSource":
        """Read only the tables that hold the revealable values (``patients``, ``contacts``): never
        the claims or items, which hold none and are most of a bundle."""
        from loaders.bundle import locate_tables, read_table

        p = Pseudonymiser(resolve_key(key, allow_demo=True))
        raws = {t: read_table(path, t, mapping=mapping) for t, path in locate_tables(bundle, mapping).items()
                if t in PERSONAL_TABLES}
        tokens: dict[str, tuple[str, str]] = {}
        if "patients" in raws:
            df = raws["patients"].frame
            for col in ("name", "id_number"):
                if col in df.columns:
                    for v in pd.unique(df[col].dropna().astype(str)):
                        tokens[p.token(v)] = (col, v)
        if "contacts" in raws:
            df = raws["contacts"].frame
            if {"kind", "value"} <= set(df.columns):
                for kind, v in zip(df["kind"].astype(str), df["value"].astype(str)):
                    if kind != "family":
                        tokens[p.token(v)] = (kind, v)
        return cls(str(bundle), tokens)


#: what a dossier shows for a personal value of a clear store (``load --keep-personal``) that its
#: profile keeps pseudonymised: no key is at hand to make the token, and the value is not shown
WITHHELD = "（已隐去 / withheld）"


def profile_reveals(profile: dict[str, str]) -> bool:
    """Whether a redaction profile shows any personal field in clear or masked.

    >>> profile_reveals({"name": "masked", "id_number": "pseudonymised"}), profile_reveals({"name": "pseudonymised"})
    (True, False)
    """
    return any(v in ("clear", "masked") for v in profile.values())


class Redactor:
    """Applies a profile (field → clear / masked / pseudonymised) to the personal values a dossier
    shows: pseudonyms (revealed through a :class:`ClearSource`) or, from a store loaded with
    ``--keep-personal`` (``clear_store``), the clear values themselves — shown, masked or withheld
    as the profile says, and counted in ``revealed`` either way (the manifest's ``clear_data``).

    >>> r = Redactor({"name": "masked", "id_number": "pseudonymised"}, None, clear_store=True)
    >>> r.value("张三丰", "name"), r.value("110105198001011234", "id_number"), r.revealed
    ('张**', '（已隐去 / withheld）', {'name:masked': 1})
    """

    def __init__(self, profile: dict[str, str], source: ClearSource | None, *, clear_store: bool = False) -> None:
        self.profile = profile
        self.source = source
        self.clear_store = clear_store
        self.revealed: dict[str, int] = {}

    def value(self, token: Any, field_name: str) -> Any:
        if not isinstance(token, str) or not token:
            return token
        if token.startswith("pz:"):
            hit = self.source.tokens.get(token) if self.source is not None else None
            if hit is None:
                return token
            kind, clear = hit
        elif self.clear_store:  # the store holds the clear value itself
            kind, clear = field_name, token
        else:
            return token
        rule = self.profile.get("contact" if field_name not in ("name", "id_number") else field_name, "pseudonymised")
        if rule == "pseudonymised":
            return token if token.startswith("pz:") else WITHHELD
        self.revealed[f"{field_name}:{rule}"] = self.revealed.get(f"{field_name}:{rule}", 0) + 1
        if rule == "clear":
            return clear
        if field_name == "name":
            return mask_name(clear)
        if field_name == "id_number":
            return mask_id_number(clear)
        if kind == "phone":
            return mask_phone(clear)
        return mask_text(clear)
