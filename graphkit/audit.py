"""Append-only, hash-chained audit log (JSON lines) anchored by signed checkpoints.

Each entry holds ``seq``, ``at``, ``actor``, ``action``, ``details``, the previous entry's
hash (``prev``), on a signed log the signer's key id (``key``), and its own ``hash`` =
sha256(prev + canonical JSON of the entry). Editing, deleting or reordering a line breaks the
chain. The chain alone cannot show a cut tail, an emptied or deleted file, or a chain
recomputed from scratch, so a log with a *signer* (:class:`graphkit.signing.Signer`: the
guard's key, or on a single-user install the user's local key) writes a **signed checkpoint**
after every append — entry count, head hash, time, key id, Ed25519 signature — to two places:

- the sidecar ``<log>.checkpoint.json`` beside the log, and
- the *anchor* ``<anchor dir>/<log id>.json``, by default in an ``anchors/`` folder beside the
  public key (the guard's state folder), where whoever can edit the log may still not write.

:meth:`AuditLog.verify` checks the chain against the newest checkpoint whose signature the
trusted public key accepts and says which of these it found (``status``): ``intact``;
``unsigned`` (no checkpoint and no anchor: chain only, no evidence against truncation,
deletion or a recomputed chain); ``truncated``; ``deleted`` (a checkpoint exists, the log is
missing or empty); ``rewritten`` (head differs from the signed one, or a checkpoint's
signature fails or comes from another key); ``unsigned_tail`` (entries after the last
checkpoint: appended without the key); ``checkpoint_missing`` (entries name a signing key but
no checkpoint is left); ``tampered`` (the chain itself is broken); ``no_key`` (checkpoints
but no public key to check them).

The log lives at ``GRAPHKIT_AUDIT_LOG`` or ``~/.local/share/graphkit/audit.jsonl``; the actor
is the OS account (:func:`current_actor`); ``GRAPHKIT_USER`` is only a display name.

Examples
--------
>>> import tempfile, os
>>> from graphkit.signing import generate_keypair, Signer
>>> d = tempfile.mkdtemp()
>>> _ = generate_keypair(os.path.join(d, "key.pem"))
>>> log = AuditLog(os.path.join(d, "audit.jsonl"), signer=Signer.from_file(os.path.join(d, "key.pem")),
...                anchor_dir=os.path.join(d, "anchors"))
>>> e = log.append("export", actor="alice", case="CASE-1")
>>> v = log.verify(); v.ok, v.status, v.signed_entries
(True, 'intact', 1)
>>> lines = open(log.path).readlines(); _ = open(log.path, "w").write("")
>>> log.verify().status
'deleted'
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Union

from .errors import GraphkitError
from .signing import Signer, SigningError, Verifier, local_signer, trusted_public_key_path

__all__ = ["AuditLog", "AuditVerification", "default_log", "current_actor", "require_intact", "canonical"]

GENESIS = "0" * 64
_FIELDS = ("seq", "at", "actor", "action", "details", "prev")
CHECKPOINT_SCHEMA = "graphkit.audit-checkpoint/v1"

SignerLike = Union[Signer, Callable[[], Signer], None]


def current_actor() -> str:
    """Who is acting: the OS account of this process (``GRAPHKIT_USER`` is a display name only,
    see :mod:`graphkit.identity`)."""
    from .identity import os_account

    return os_account()


def canonical(obj: Any) -> bytes:
    """The canonical JSON bytes that are hashed and signed (sorted keys, no spaces, UTF-8)."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def _entry_hash(prev: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(prev.encode("utf-8") + canonical(body)).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


@dataclass
class AuditVerification:
    """What :meth:`AuditLog.verify` found (``status`` names it; ``ok`` is False for any tampering)."""

    ok: bool
    entries: int
    problem: str = ""
    line: int | None = None
    status: str = "intact"
    signed_entries: int = 0  # entries covered by the newest valid checkpoint
    key_id: str = ""
    checkpoint_at: str = ""

    def __str__(self) -> str:
        if self.status == "unsigned":
            return (f"审计日志链完整但未签名 / audit log chain intact ({self.entries} entries) but UNSIGNED: no checkpoint "
                    f"or anchor, so a cut tail, an emptied or deleted file or a recomputed chain cannot be detected")
        if self.ok:
            return (f"审计日志完整 / audit log intact: {self.entries} entries, head signed by key {self.key_id} "
                    f"at {self.checkpoint_at}")
        where = f" at line {self.line}" if self.line else ""
        zh = {"truncated": "被截断", "deleted": "被删除或清空", "rewritten": "被重写", "unsigned_tail": "有未签名的追加",
              "checkpoint_missing": "签名检查点缺失", "no_key": "无法核验签名"}.get(self.status, "被篡改")
        return f"审计日志{zh} / audit log {self.status.upper().replace('_', ' ')}{where}: {self.problem}"


class AuditLog:
    """An append-only audit log file (see module docstring).

    Parameters
    ----------
    path
        The JSON-lines log.
    signer
        Signs a checkpoint after each append: a :class:`~graphkit.signing.Signer`, or a
        zero-argument callable returning one (called at the first append only). ``None``: an
        unsigned log; appending to a log that already has a checkpoint is then refused.
    public_key
        The trusted key verify checks checkpoints with (a :class:`~graphkit.signing.Verifier`,
        PEM text or bytes, or a path). Default: the signer's key, else
        ``GRAPHKIT_AUDIT_PUBKEY`` / the local key's ``.pub`` when that file exists.
    anchor_dir
        Where the anchor copy of the last checkpoint is kept. Default ``GRAPHKIT_AUDIT_ANCHORS``,
        else ``anchors/`` beside the trusted public key.
    """

    def __init__(self, path: str | Path, signer: SignerLike = None, *, public_key: Any = None,
                 anchor_dir: str | Path | None = None) -> None:
        self.path = Path(path)
        self._signer = signer
        self._public_key = public_key
        self._anchor_dir = Path(anchor_dir) if anchor_dir else None

    # -- configuration -------------------------------------------------------------------
    @property
    def log_id(self) -> str:
        """16 hex digits naming this log's anchor (SHA-256 of its absolute path)."""
        return hashlib.sha256(str(self.path.resolve()).encode("utf-8")).hexdigest()[:16]

    @property
    def checkpoint_path(self) -> Path:
        return self.path.with_name(self.path.name + ".checkpoint.json")

    @property
    def anchor_path(self) -> Path:
        if self._anchor_dir is not None:
            base = self._anchor_dir
        elif os.environ.get("GRAPHKIT_AUDIT_ANCHORS"):
            base = Path(os.environ["GRAPHKIT_AUDIT_ANCHORS"])
        else:
            base = trusted_public_key_path().parent / "anchors"
        return base / f"{self.log_id}.json"

    def signer(self) -> Signer | None:
        """The signer (resolving a lazy one)."""
        if self._signer is not None and not isinstance(self._signer, Signer):
            self._signer = self._signer()
        return self._signer

    def verifier(self) -> Verifier | None:
        """The trusted public key verify uses (None: none configured)."""
        pk = self._public_key
        if isinstance(pk, Verifier):
            return pk
        if pk is not None:
            if isinstance(pk, (bytes, str)) and (pk[:10] in (b"-----BEGIN", "-----BEGIN")):
                return Verifier(pk)
            return Verifier.from_file(pk)
        if isinstance(self._signer, Signer):
            return self._signer.verifier
        p = trusted_public_key_path()
        return Verifier.from_file(p) if p.is_file() else None

    # -- reading -------------------------------------------------------------------------
    def entries(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    def find(self, action: str | None = None, **match: Any) -> list[dict[str, Any]]:
        """Entries with this action whose details contain ``match``."""
        return [
            e for e in self.entries()
            if (action is None or e["action"] == action) and all(e["details"].get(k) == v for k, v in match.items())
        ]

    def _last(self, fh) -> tuple[int, str, bool]:
        """(seq, hash, whether the last entry names a signing key) of the last entry."""
        fh.seek(0)
        last = None
        for line in fh:
            if line.strip():
                last = line
        if last is None:
            return 0, GENESIS, False
        e = json.loads(last)
        return int(e["seq"]), e["hash"], "key" in e

    def _checkpoints(self, verifier: Verifier | None) -> tuple[dict[str, Any] | None, str]:
        """The newest checkpoint the key accepts, and a problem with any present checkpoint ('' if none)."""
        best, problem = None, ""
        for where in (self.checkpoint_path, self.anchor_path):
            try:
                raw = where.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                return None, f"cannot read checkpoint {where}: {exc.strerror or exc}"
            try:
                cp = json.loads(raw)
                signed = {k: v for k, v in cp.items() if k != "signature"}
                n, head, kid, sig = int(cp["entries"]), str(cp["head"]), str(cp["key_id"]), str(cp["signature"])
            except (ValueError, KeyError, TypeError) as exc:
                return None, f"checkpoint {where} unreadable ({exc})"
            if verifier is None:
                return None, f"checkpoint {where} present but no public key to check it (GRAPHKIT_AUDIT_PUBKEY)"
            if kid != verifier.key_id:
                return None, f"checkpoint {where} names key {kid}, not the trusted key {verifier.key_id}"
            if not verifier.verify(canonical(signed), sig):
                return None, f"checkpoint {where}: signature does not verify (forged or edited)"
            if best is not None and best["entries"] == n and best["head"] != head:
                return None, f"two signed checkpoints for {n} entries disagree on the head"
            if best is None or n > best["entries"]:
                best = {**cp, "entries": n, "head": head}
        return best, problem

    def _write_checkpoint(self, signer: Signer, entries: int, head: str) -> dict[str, Any]:
        body = {"schema": CHECKPOINT_SCHEMA, "log": self.log_id, "entries": entries, "head": head,
                "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "key_id": signer.key_id}
        cp = {**body, "signature": signer.sign(canonical(body))}
        data = (json.dumps(cp, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
        _atomic_write(self.checkpoint_path, data)
        _atomic_write(self.anchor_path, data)
        return cp

    def _check_before_signing(self, signer: Signer, seq: int, prev: str, signed_tail: bool) -> None:
        """Refuse to sign over a log that does not end where its last checkpoint says."""
        cp, problem = self._checkpoints(signer.verifier)
        if problem:
            raise GraphkitError(f"审计日志检查点异常，拒绝追加 / refusing to append: {problem}")
        if cp is None:
            if signed_tail:
                raise GraphkitError("审计日志检查点缺失 / refusing to append: the log's entries were signed but "
                                    f"no checkpoint is left ({self.checkpoint_path}); run graphkit audit verify")
            return  # first signed append: the checkpoint adopts what is there (trust on first use)
        if (cp["entries"], cp["head"]) != (seq, prev):
            raise GraphkitError(f"审计日志与签名检查点不符，拒绝追加 / refusing to append: the log ends at entry {seq} but its "
                                f"last signed checkpoint covers {cp['entries']} entries with another head; run graphkit audit verify")

    # -- writing -------------------------------------------------------------------------
    def append(self, action: str, *, actor: str | None = None, **details: Any) -> dict[str, Any]:
        """Append one entry (under an exclusive file lock), sign a checkpoint when the log has a
        signer, and return the entry."""
        signer = self.signer()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                seq, prev, signed_tail = self._last(fh)
                if signer is not None:
                    self._check_before_signing(signer, seq, prev, signed_tail)
                elif self.checkpoint_path.exists() or signed_tail:
                    raise GraphkitError("审计日志已签名，追加需要签名密钥（守护进程）/ this audit log is signed: appends "
                                        f"need its signing key (the guard); {self.path} was not extended")
                body: dict[str, Any] = {
                    "seq": seq + 1,
                    "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "actor": actor or current_actor(),
                    "action": action,
                    "details": details,
                    "prev": prev,
                }
                if signer is not None:
                    body["key"] = signer.key_id
                entry = {**body, "hash": _entry_hash(prev, body)}
                fh.seek(0, os.SEEK_END)
                fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                if signer is not None:
                    self._write_checkpoint(signer, entry["seq"], entry["hash"])
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return entry

    def checkpoint(self) -> dict[str, Any]:
        """Sign a checkpoint of the log as it is now (e.g. the guard anchoring an empty log at
        set-up, so a later deletion is told apart from 'never used'); returns the checkpoint."""
        signer = self.signer()
        if signer is None:
            raise SigningError("a checkpoint needs a signer")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                seq, prev, signed_tail = self._last(fh)
                self._check_before_signing(signer, seq, prev, signed_tail)
                return self._write_checkpoint(signer, seq, prev)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- verifying -----------------------------------------------------------------------
    def verify(self) -> AuditVerification:
        """Check the chain (sequence, links, hashes) and anchor it in the newest signed checkpoint."""
        try:
            verifier = self.verifier()
        except SigningError as exc:
            return AuditVerification(False, 0, str(exc), status="no_key")
        cp, problem = self._checkpoints(verifier)
        if problem:
            status = "no_key" if verifier is None else "rewritten"
            return AuditVerification(False, 0, problem, status=status)
        want = cp["entries"] if cp else -1
        at_cp = GENESIS if want == 0 else None
        prev, n, signed_tail, exists = GENESIS, 0, False, self.path.exists()
        if exists:
            with open(self.path, encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        e = json.loads(line)
                        body = {k: e[k] for k in _FIELDS}
                        if "key" in e:
                            body["key"] = e["key"]
                        h = e["hash"]
                    except (json.JSONDecodeError, KeyError, TypeError) as exc:
                        return AuditVerification(False, n, f"unreadable entry ({exc})", lineno, status="tampered")
                    if body["seq"] != n + 1:
                        return AuditVerification(False, n, f"sequence {body['seq']} where {n + 1} was expected", lineno, status="tampered")
                    if body["prev"] != prev:
                        return AuditVerification(False, n, "link to the previous entry broken", lineno, status="tampered")
                    if _entry_hash(prev, body) != h:
                        return AuditVerification(False, n, "entry content does not match its hash", lineno, status="tampered")
                    prev, n, signed_tail = h, n + 1, "key" in e
                    if n == want:
                        at_cp = h
        if cp is None:
            if signed_tail:
                return AuditVerification(False, n, f"the entries name a signing key but no checkpoint is left "
                                                   f"({self.checkpoint_path}, {self.anchor_path})", status="checkpoint_missing")
            return AuditVerification(True, n, status="unsigned")
        v = AuditVerification(False, n, signed_entries=min(n, want), key_id=cp["key_id"], checkpoint_at=str(cp.get("at", "")))
        if want > 0 and n == 0:
            v.status = "deleted"
            v.problem = (f"the log {'is empty' if exists else 'is missing'} but a checkpoint signed at {v.checkpoint_at} "
                         f"covers {want} entries")
            v.signed_entries = 0
        elif n < want:
            v.status, v.problem = "truncated", f"{n} entries where the checkpoint signed at {v.checkpoint_at} covers {want}"
        elif at_cp != cp["head"]:
            v.status, v.problem = "rewritten", f"entry {want} does not match the head signed at {v.checkpoint_at} (chain recomputed)"
            v.signed_entries = 0
        elif n > want:
            v.status, v.problem = "unsigned_tail", (f"{n - want} entries after the last signed checkpoint ({want} entries) "
                                                    f"were appended without the signing key")
        else:
            v.ok, v.status = True, "intact"
        return v


def default_log() -> AuditLog:
    """The log at ``GRAPHKIT_AUDIT_LOG`` or ``~/.local/share/graphkit/audit.jsonl``, signed by the
    single-user local key (:func:`graphkit.signing.local_signer`, made on the first append)."""
    path = os.environ.get("GRAPHKIT_AUDIT_LOG")
    if path:
        return AuditLog(path, signer=local_signer)
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return AuditLog(base / "graphkit" / "audit.jsonl", signer=local_signer)


def require_intact(log: AuditLog) -> None:
    """Raise when the log's chain is broken or it no longer matches its signed checkpoint."""
    v = log.verify()
    if not v.ok:
        raise GraphkitError(str(v))
