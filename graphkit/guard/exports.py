"""How a dossier export asks for permission, clear values and its record.

With a guard configured every export is recorded by the guard (actor: the OS account), which
also signs the manifest. Clear values always come from the guard — it checks ``clear_data`` in
its own roles file and records the release before returning them — so without a guard a clear
export is refused. Without a guard a pseudonymised export is recorded in the local log.

Examples
--------
>>> import pandas as pd
>>> sorted(tokens_in(pd.DataFrame({"name": ["pz:aa", "王", None], "n": [1, 2, 3]})))
['pz:aa']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from ..audit import AuditLog, default_log, require_intact
from ..identity import display_name, os_account
from .client import GuardClient, guard_socket, require_guard

__all__ = ["ExportGate", "tokens_in"]


def tokens_in(*frames: Any) -> set[str]:
    """Every pseudonym token (``pz:…``) in these frames' text cells."""
    out: set[str] = set()
    for df in frames:
        if not isinstance(df, pd.DataFrame) or df.empty:
            continue
        for col in df.columns:
            s = df[col]
            if s.dtype == object or isinstance(s.dtype, pd.StringDtype):
                v = s.dropna()
                v = v[v.map(lambda x: isinstance(x, str) and x.startswith("pz:"))]
                out.update(v.tolist())
    return out


class ExportGate:
    """One export's permission checks, clear values and record (see module docstring)."""

    def __init__(self, audit: AuditLog | None = None) -> None:
        self.guarded = guard_socket() is not None
        self.log = None if self.guarded else (audit or default_log())
        self._client: GuardClient | None = None
        self.account = os_account()
        self.display = display_name()

    def client(self, what: str) -> GuardClient:
        if self._client is None:
            self._client = require_guard(what)
        return self._client

    def check(self, *, clear: bool) -> None:
        """Fail early (before any work) when the export cannot be allowed."""
        if clear or self.guarded:
            st = self.client("明文导出 / a clear export" if clear else "导出 / an export").call("status")
            perms = st["permissions"]
            from .client import GuardDenied

            for need, what in (("export", "export dossiers"), ("clear_data", "see personal data in clear")):
                if (need == "export" or clear) and need not in perms:
                    raise GuardDenied(f"无权限 / permission denied: OS account {st['account']} (role {st['role']}) may not {what} (needs '{need}' "
                                      "in the guard's roles file)")
            return
        assert self.log is not None
        require_intact(self.log)
        from ..roles import require

        require(self.account, "export", what="export dossiers")

    def reveal(self, bundle: str | Path, tokens: Iterable[str], *, case_id: Any, profile: str) -> dict[str, tuple[str, str]]:
        """Token → (field, clear value) for ``tokens``, released by the guard after it recorded the release."""
        want = sorted(set(tokens))
        reply = self.client("明文导出 / a clear export").call("reveal", bundle=str(bundle), tokens=want, case_id=case_id,
                                                           profile=profile)
        return {t: (f, v) for t, (f, v) in reply["values"].items()}

    def record(self, manifest_text: str, **details: Any) -> dict[str, Any]:
        """Record the export (the guard also signs ``manifest_text``); returns the guard's reply or
        ``{"entry": …}`` for the local log. Called before the dossier is put in place."""
        from ..dossier.seal import SCHEMA, signature_document

        disp = details.pop("display", None) or self.display
        signer = details.pop("signer", None)
        if self.guarded or details.get("clear_data"):
            rep = self.client("导出 / an export").call("record_export", manifest=manifest_text, display=disp, **details)
            if rep.get("signature"):  # signed by the guard's key: the same document a local signer gives
                rep["signature_document"] = {"schema": SCHEMA, "key_id": rep["key_id"], "manifest_sha256": rep["manifest_sha256"],
                                             "signature": rep["signature"], "public_key": rep["public_pem"]}
            return rep
        import hashlib

        assert self.log is not None
        data = manifest_text.encode("utf-8")
        doc = signature_document(data, signer) if signer is not None else None
        extra = {"display_name": disp} if disp and disp != self.account else {}
        sha = hashlib.sha256(data).hexdigest()
        entry = self.log.append("dossier_export", actor=self.account, manifest_sha256=sha, signed_by=doc and doc["key_id"],
                                **details, **extra)
        return {"entry": entry, "manifest_sha256": sha, "signature_document": doc, "key_id": doc and doc["key_id"]}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
