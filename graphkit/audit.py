"""Append-only, hash-chained audit log (JSON lines): loads, scans, clear-data views, exports.

Each entry holds ``seq``, ``at``, ``actor``, ``action``, ``details``, the previous entry's
hash (``prev``) and its own ``hash`` = sha256(prev + canonical JSON of the entry). Editing,
deleting or reordering any line breaks the chain, which :meth:`AuditLog.verify` reports.

The log lives at ``GRAPHKIT_AUDIT_LOG`` or ``~/.local/share/graphkit/audit.jsonl``; the actor
is the OS account (:func:`current_actor`); ``GRAPHKIT_USER`` is only a display name.

Examples
--------
>>> import tempfile, os
>>> log = AuditLog(os.path.join(tempfile.mkdtemp(), "audit.jsonl"))
>>> e = log.append("export", actor="alice", case="CASE-1")
>>> log.verify().ok
True
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import GraphkitError

__all__ = ["AuditLog", "AuditVerification", "default_log", "current_actor"]

GENESIS = "0" * 64


def current_actor() -> str:
    """Who is acting: the OS account of this process (``GRAPHKIT_USER`` is a display name only,
    see :mod:`graphkit.identity`)."""
    from .identity import os_account

    return os_account()


def _entry_hash(prev: str, body: dict[str, Any]) -> str:
    canon = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev + canon).encode("utf-8")).hexdigest()


@dataclass
class AuditVerification:
    ok: bool
    entries: int
    problem: str = ""
    line: int | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"审计日志完整 / audit log intact: {self.entries} entries"
        return f"审计日志被篡改 / audit log TAMPERED at line {self.line}: {self.problem}"


class AuditLog:
    """An append-only audit log file (see module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    def _last(self, fh) -> tuple[int, str]:
        fh.seek(0)
        last = None
        for line in fh:
            if line.strip():
                last = line
        if last is None:
            return 0, GENESIS
        e = json.loads(last)
        return int(e["seq"]), e["hash"]

    def append(self, action: str, *, actor: str | None = None, **details: Any) -> dict[str, Any]:
        """Append one entry (under an exclusive file lock) and return it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                seq, prev = self._last(fh)
                body = {
                    "seq": seq + 1,
                    "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "actor": actor or current_actor(),
                    "action": action,
                    "details": details,
                    "prev": prev,
                }
                entry = {**body, "hash": _entry_hash(prev, body)}
                fh.seek(0, os.SEEK_END)
                fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return entry

    def verify(self) -> AuditVerification:
        """Check the whole chain: sequence, links and hashes."""
        prev, n = GENESIS, 0
        if not self.path.exists():
            return AuditVerification(True, 0)
        with open(self.path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    e = json.loads(line)
                    body = {k: e[k] for k in ("seq", "at", "actor", "action", "details", "prev")}
                    h = e["hash"]
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    return AuditVerification(False, n, f"unreadable entry ({exc})", lineno)
                if body["seq"] != n + 1:
                    return AuditVerification(False, n, f"sequence {body['seq']} where {n + 1} was expected", lineno)
                if body["prev"] != prev:
                    return AuditVerification(False, n, "link to the previous entry broken", lineno)
                if _entry_hash(prev, body) != h:
                    return AuditVerification(False, n, "entry content does not match its hash", lineno)
                prev, n = h, n + 1
        return AuditVerification(True, n)

    def find(self, action: str | None = None, **match: Any) -> list[dict[str, Any]]:
        """Entries with this action whose details contain ``match``."""
        return [
            e for e in self.entries()
            if (action is None or e["action"] == action) and all(e["details"].get(k) == v for k, v in match.items())
        ]


def default_log() -> AuditLog:
    """The log at ``GRAPHKIT_AUDIT_LOG`` or ``~/.local/share/graphkit/audit.jsonl``."""
    path = os.environ.get("GRAPHKIT_AUDIT_LOG")
    if path:
        return AuditLog(path)
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return AuditLog(base / "graphkit" / "audit.jsonl")


def require_intact(log: AuditLog) -> None:
    """Raise when the log's chain is broken (exports refuse to extend a tampered log)."""
    v = log.verify()
    if not v.ok:
        raise GraphkitError(str(v))
