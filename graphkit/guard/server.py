"""The guard: a small privileged process that holds what is confidential.

It runs as a service account (``graphkit``) and owns the pseudonymisation key, the signing key
and the audit log; it reads a roles file only the administrator can write. Callers reach it on a
Unix socket and are identified by the kernel (``SO_PEERCRED``), never by what they send or by
their environment. It is the only way to:

- **load with the key** — ``open_load`` (role permission ``load``, recorded) then ``tokenise``
  batches of distinct values on the same connection (a loader sends up to 100,000 values a
  request, so 10M claims with ~3M people need a few dozen round trips);
- **re-identify** — ``reveal`` tokens of a bundle (``clear_data``; recorded *before* the values
  leave);
- **keep personal data clear on load** — ``keep_personal`` (``clear_data`` and a reason; recorded);
- **record and sign an export** — ``record_export`` (``export``, and ``clear_data`` when the
  dossier holds clear values): appends ``dossier_export`` with the manifest's hash, signs the
  manifest bytes with the guard's signer (when one is configured);
- **append to the audit log** — ``append`` of the caller's own events (``load``, ``scan``, case
  changes); the actor is the caller's OS account, reserved actions are refused;
- **sign off a case's dossier** — ``sign_off`` (``sign_off``): the reviewer recorded is the caller's
  OS account, never a name it sends, and not the case's assignee.

Every record is written before anything is released; when the log cannot be written, the guard
refuses. Startup refuses a roles file, key or signing key that is not owned by root or the service
account or that group/others may write (the keys: may read), and an audit log that is not a
regular file the service account owns (``/dev/null`` is refused).

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> _ = open(os.path.join(d, "roles.toml"), "w").write(
...     'default_role = "analyst"\\n[roles.analyst]\\npermissions = ["export"]\\n')
>>> g = Guard(GuardConfig(socket=os.path.join(d, "g.sock"), roles=os.path.join(d, "roles.toml"),
...                       audit_log=os.path.join(d, "audit.jsonl"), allow_demo_key=True)).start()
>>> from graphkit.guard.client import GuardClient
>>> with GuardClient(g.config.socket) as c:
...     c.call("status")["permissions"]
['export']
>>> g.close()
"""

from __future__ import annotations

import hashlib
import os
import re
import socketserver
import stat
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .._config import load_toml
from ..audit import AuditLog, AuditVerification
from ..errors import GraphkitError
from ..identity import account_of_uid
from ..pseudo import DEMO_KEY, Pseudonymiser, check_key_strength
from ..roles import Roles
from .protocol import PeerCredentials, ProtocolError, peer_credentials, recv_message, send_message

__all__ = ["Guard", "GuardConfig", "GuardSetupError", "check_admin_file", "RESERVED_ACTIONS", "MAX_BATCH"]

#: actions only the guard itself records (a client's ``append`` of one is refused)
RESERVED_ACTIONS = frozenset({"dossier_export", "clear_release", "keep_personal", "load_key_use", "load_key_use_end",
                              "guard_start", "guard_stop", "checkpoint", "dossier_sign_off"})
#: a sign-off's fields as a client sends them (the reviewer is the caller's OS account, added here)
_SIGN_OFF_FIELDS = ("case_id", "date", "decision", "level", "note", "digest")
_SIGN_OFF_VALUES = {"decision": ("approve", "return"), "level": ("可疑", "违规", "骗取")}  # dossier.signoff's, tested
_CASE_ID = re.compile(r"CASE-\d{6,}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
#: the most values one ``tokenise`` or ``reveal`` request may carry
MAX_BATCH = 200_000
_ACTION = re.compile(r"[a-z][a-z0-9_]{0,39}")
_CLIENT_KEYS_REFUSED = frozenset({"actor", "account", "uid", "pid", "display_name", "by_guard"})
CASE_CHANGE = "case_change"  # graphkit.workbench.case_chain.ACTION
#: ``find`` without the ``audit`` permission: the action and the fields the caller must name
_FIND_OPEN = {"dossier_export": ("manifest_sha256",), CASE_CHANGE: ("cases_db",),
              "dossier_sign_off": ("case_id", "digest")}
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class GuardSetupError(GraphkitError):
    """The guard refuses to start (unsafe file permissions, unusable audit log, bad config)."""


class _Denied(Exception):
    code = "denied"


class _Refused(Exception):
    code = "refused"


class _BadRequest(Exception):
    code = "bad_request"


def check_admin_file(path: str | Path, what: str, *, secret: bool = False, owners: tuple[int, ...] | None = None) -> Path:
    """``path`` if it is a regular file owned by root or this process's account that group and
    others may not write (``secret``: nor read), in a folder they may not write either (a sticky
    folder such as /tmp is fine); else :class:`GuardSetupError`.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "roles.toml"); _ = open(p, "w").write("x")
    >>> os.chmod(p, 0o664); check_admin_file(p, "roles file")
    Traceback (most recent call last):
    ...
    graphkit.guard.server.GuardSetupError: 守护进程拒绝启动 / guard refuses to start: roles file ... is writable by group or others (mode 664); chmod go-w it
    """
    owners = owners or (0, os.geteuid())
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise GuardSetupError(f"守护进程拒绝启动 / guard refuses to start: cannot read {what} {p}: {exc.strerror or exc}") from None
    mode = stat.S_IMODE(st.st_mode)
    why = None
    if not stat.S_ISREG(st.st_mode):
        why = "is not a regular file"
    elif st.st_uid not in owners:
        why = f"is owned by {account_of_uid(st.st_uid)}, not by root or the service account {account_of_uid(os.geteuid())}"
    elif mode & 0o022:
        why = f"is writable by group or others (mode {mode:o}); chmod go-w it"
    elif secret and mode & 0o077:
        why = f"is readable by group or others (mode {mode:o}); chmod 600 it"
    else:
        _check_folder(p.resolve().parent, what, owners)
    if why:
        raise GuardSetupError(f"守护进程拒绝启动 / guard refuses to start: {what} {p} {why}")
    return p


def _check_folder(d: Path, what: str, owners: tuple[int, ...]) -> None:
    st = d.stat()
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        raise GuardSetupError(f"守护进程拒绝启动 / guard refuses to start: the folder {d} of the {what} is writable by "
                              f"group or others (mode {stat.S_IMODE(st.st_mode):o}), so the file could be replaced")
    if st.st_uid not in owners:
        raise GuardSetupError(f"守护进程拒绝启动 / guard refuses to start: the folder {d} of the {what} is owned by "
                              f"{account_of_uid(st.st_uid)}, not by root or the service account")


def _check_log(path: Path) -> Path:
    """The audit log must be a regular file this account owns (created 0640 when absent)."""
    if not path.exists() and not path.is_symlink():
        _check_folder(path.resolve().parent, "audit log", (0, os.geteuid()))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        os.close(fd)
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise GuardSetupError(f"守护进程拒绝启动 / guard refuses to start: audit log {path} is not a regular file "
                              "(a device such as /dev/null would lose every record)")
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise GuardSetupError(f"守护进程拒绝启动 / guard refuses to start: audit log {path} must be owned by the service "
                              f"account {account_of_uid(os.geteuid())} and not writable by group or others "
                              f"(owner {account_of_uid(st.st_uid)}, mode {stat.S_IMODE(st.st_mode):o})")
    _check_folder(path.resolve().parent, "audit log", (0, os.geteuid()))
    return path


def _check_anchor_dir(config: "GuardConfig", log_path: Path) -> Path:
    """Where the signed checkpoints are anchored: ``anchor_dir`` (default ``anchors/`` beside the
    log), created 0755 when absent; it must be owned by the service account or root and closed
    to writes by group and others."""
    d = Path(config.anchor_dir) if config.anchor_dir else log_path.resolve().parent / "anchors"
    if not d.exists():
        _check_folder(d.resolve().parent, "anchor folder", (0, os.geteuid()))
        d.mkdir(mode=0o755)
    st = d.stat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid not in (0, os.geteuid()) or st.st_mode & 0o022:
        raise GuardSetupError(f"守护进程拒绝启动 / guard refuses to start: anchor folder {d} must be a folder owned by the "
                              f"service account {account_of_uid(os.geteuid())} or root that group and others may not write "
                              f"(owner {account_of_uid(st.st_uid)}, mode {stat.S_IMODE(st.st_mode):o})")
    return d


def _read_key_file(path: Path) -> bytes:
    raw = path.read_bytes()
    data = raw.strip() if all(32 <= b < 127 or b in b"\r\n\t " for b in raw) else raw
    if not data:
        raise GuardSetupError(f"pseudonymisation key file {path} is empty")
    return check_key_strength(data, f"key file {path}")


@dataclass
class GuardConfig:
    """Where the guard's socket, roles, key, signing key and audit log are (see ``docs/security.md``)."""

    socket: str | Path
    roles: str | Path
    audit_log: str | Path
    key_file: str | Path | None = None
    allow_demo_key: bool = False  # only for demo bundles and tests: the demo key is public
    signing_key: str | Path | None = None
    socket_mode: int = 0o666  # who may connect; permissions come from the roles file
    anchor_dir: str | Path | None = None  # where signed checkpoints are anchored (graphkit.audit); service-account only

    @classmethod
    def load(cls, path: str | Path) -> "GuardConfig":
        """Read ``guard.toml`` (keys: socket, roles, audit_log, key_file, signing_key, anchor_dir,
        socket_mode, allow_demo_key); the file itself must be the administrator's."""
        check_admin_file(path, "guard config")
        data, source = load_toml(path, "", "guard config")
        missing = [k for k in ("socket", "roles", "audit_log") if not data.get(k)]
        if missing:
            raise GuardSetupError(f"guard config {source} lacks {missing}")
        known = set(cls.__dataclass_fields__)
        extra = sorted(set(data) - known)
        if extra:
            raise GuardSetupError(f"guard config {source}: unknown keys {extra}")
        if isinstance(data.get("socket_mode"), str):
            data["socket_mode"] = int(data["socket_mode"], 8)
        return cls(**data)


@dataclass
class _Conn:
    cred: PeerCredentials
    account: str
    loading: dict[str, Any] | None = None
    tokenised: int = 0


class Guard:
    """The guard process's state and request handlers (see module docstring).

    ``signer`` is anything with ``sign(bytes) -> str`` (and ideally ``key_id``, ``public_pem``),
    e.g. :class:`graphkit.signing.Signer`; given, it overrides ``config.signing_key``."""

    def __init__(self, config: GuardConfig, *, signer: Any = None) -> None:
        self.config = config
        self.socket_path = Path(config.socket)
        self._roles_path = check_admin_file(config.roles, "roles file")
        self._roles_stamp: tuple[int, int] | None = None
        self._roles = self._load_roles()
        if config.key_file:
            self._key = _read_key_file(check_admin_file(config.key_file, "pseudonymisation key", secret=True))
        elif config.allow_demo_key:
            self._key = DEMO_KEY
        else:
            raise GuardSetupError("守护进程拒绝启动 / guard refuses to start: no key_file (allow_demo_key only for demo data)")
        self._pseudo = Pseudonymiser(self._key)
        if signer is None and config.signing_key:
            check_admin_file(config.signing_key, "signing key", secret=True)
            from ..signing import Signer  # noqa: PLC0415 (optional until graphkit.signing exists)

            signer = Signer.from_file(config.signing_key)
        self.signer = signer
        self._log_path = _check_log(Path(config.audit_log))
        self._anchor_dir = _check_anchor_dir(config, self._log_path) if self.signer is not None else None
        self._lock = threading.RLock()
        self._case_rows: dict[str, int] | None = None  # cases_db -> highest audit-row id recorded (built lazily)
        self._clear_cache: dict[tuple, dict[str, tuple[str, str]]] = {}
        v = self._log().verify()
        if not v.ok:
            raise GuardSetupError(f"守护进程拒绝启动 / guard refuses to start: {v}")
        self._server: socketserver.BaseServer | None = None
        self._thread: threading.Thread | None = None

    # -- state ---------------------------------------------------------------------------------
    def _log(self) -> AuditLog:
        if self.signer is not None:
            try:
                return AuditLog(self._log_path, signer=self.signer, anchor_dir=self._anchor_dir)  # signed checkpoints
            except TypeError:  # an AuditLog without signing
                pass
        return AuditLog(self._log_path)

    def _load_roles(self) -> Roles:
        st = self._roles_path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._roles_stamp:
            check_admin_file(self._roles_path, "roles file")
            self._roles = Roles.load(self._roles_path)
            self._roles_stamp = stamp
        return self._roles

    def _require(self, conn: _Conn, permission: str, what: str) -> None:
        try:
            roles = self._load_roles()
        except GraphkitError as exc:
            raise _Refused(f"roles file unusable: {exc}") from None
        if not roles.allows(conn.account, permission):
            role = roles.role(conn.account)
            zh = roles.data["roles"][role].get("zh", role)
            raise _Denied(f"无权限 / permission denied: OS account {conn.account} ({zh} {role}) may not {what} "
                          f"(needs '{permission}'; roles: {self._roles_path})")

    def _record(self, conn: _Conn, action: str, display: Any, **details: Any) -> dict[str, Any]:
        """Append one record as the caller; :class:`_Refused` when the log cannot take it."""
        if isinstance(display, str) and display.strip() and display.strip() != conn.account:
            details["display_name"] = display.strip()[:200]
        details["pid"] = conn.cred.pid
        with self._lock:
            try:
                st = self._log_path.lstat()
                if not stat.S_ISREG(st.st_mode):
                    raise OSError(f"{self._log_path} is no longer a regular file")
                return self._log().append(action, actor=conn.account, **details)
            except (OSError, GraphkitError, ValueError) as exc:
                raise _Refused(f"审计日志无法写入，拒绝执行 / the audit log cannot be written, so nothing is released: {exc}") from None

    # -- operations ----------------------------------------------------------------------------
    def op_status(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        roles = self._load_roles()
        role = roles.role(conn.account)
        return {"account": conn.account, "uid": conn.cred.uid, "role": role,
                "permissions": list(roles.data["roles"][role].get("permissions", [])),
                "key_id": self._pseudo.key_id, "signer_key_id": getattr(self.signer, "key_id", None),
                "public_pem": getattr(self.signer, "public_pem", None), "guard_pid": os.getpid(),
                "guard_account": account_of_uid(os.geteuid())}

    def op_append(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        action, details = req.get("action"), req.get("details") or {}
        if not isinstance(action, str) or not _ACTION.fullmatch(action):
            raise _BadRequest(f"action must match {_ACTION.pattern}; got {action!r}")
        if action in RESERVED_ACTIONS or action.startswith("guard"):
            raise _Denied(f"拒绝伪造记录 / refused: '{action}' records are written by the guard itself, never appended by a client")
        if not isinstance(details, dict):
            raise _BadRequest("details must be an object")
        bad = sorted(set(details) & _CLIENT_KEYS_REFUSED) + (["actor"] if "actor" in req else [])
        if bad:
            raise _Denied(f"拒绝伪造记录 / refused: a client may not set {bad}; the guard records who you are from the kernel")
        if action == CASE_CHANGE:
            with self._lock:  # the check and the append are one step: no row id recorded twice
                self._check_case_change(details)
                entry = self._record(conn, action, req.get("display"), **details)
                self._case_rows[details["cases_db"]] = max([self._case_rows.get(details["cases_db"], 0)]
                                                          + [int(r[0]) for r in details["rows"]])
            return {"entry": entry}
        return {"entry": self._record(conn, action, req.get("display"), **details)}

    def _check_case_change(self, d: dict[str, Any]) -> None:
        """A ``case_change`` has exactly the fields :mod:`graphkit.workbench.case_chain` writes, and
        its audit-row ids are new for that case database: an edited row cannot be recorded again."""
        if set(d) != {"cases_db", "case_id", "rows", "state_sha256"}:
            raise _BadRequest(f"case_change needs exactly cases_db, case_id, rows, state_sha256; got {sorted(d)}")
        rows = d["rows"]
        if not (isinstance(d["cases_db"], str) and _HEX32.fullmatch(d["cases_db"]) and isinstance(d["case_id"], int)
                and isinstance(d["state_sha256"], str) and _HEX64.fullmatch(d["state_sha256"]) and isinstance(rows, list)
                and all(isinstance(r, list) and len(r) == 2 and isinstance(r[0], int) and isinstance(r[1], str)
                        and _HEX64.fullmatch(r[1]) for r in rows)):
            raise _BadRequest("case_change: cases_db (32 hex), case_id (int), rows ([[id, sha256], …]), state_sha256 (sha256)")
        if self._case_rows is None:
            self._case_rows = {}
            for e in self._log().entries():
                if e.get("action") == CASE_CHANGE:
                    db = e["details"].get("cases_db")
                    self._case_rows[db] = max([self._case_rows.get(db, 0)] + [int(r[0]) for r in e["details"].get("rows", [])])
        last = self._case_rows.get(d["cases_db"], 0)
        old = sorted(int(r[0]) for r in rows if int(r[0]) <= last)
        if old:
            raise _Denied(f"拒绝重复登记 / refused: case audit row(s) {old[:5]} of database {d['cases_db']} were recorded "
                          f"before (rows up to {last} are on record); a changed row cannot be recorded again")

    def op_sign_off(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        """A reviewer's decision on a case (:mod:`graphkit.dossier.signoff`): needs ``sign_off``;
        recorded as ``dossier_sign_off`` with ``reviewer`` = the caller's OS account; refused when
        that account (or the name it shows) is the case's ``assignee``."""
        self._require(conn, "sign_off", "sign off dossiers")
        rec, assignee = req.get("record"), req.get("assignee") or ""
        if not (isinstance(rec, dict) and set(rec) == set(_SIGN_OFF_FIELDS) and all(isinstance(rec[k], str) for k in rec)
                and isinstance(assignee, str) and _CASE_ID.fullmatch(rec["case_id"]) and _DATE.fullmatch(rec["date"])
                and _HEX64.fullmatch(rec["digest"]) and all(rec[k] in v for k, v in _SIGN_OFF_VALUES.items())):
            raise _BadRequest(f"sign_off needs record {{{', '.join(_SIGN_OFF_FIELDS)}}} (case_id CASE-nnnnnn, date "
                              "YYYY-MM-DD, digest sha256, a known decision and level) and assignee (a string)")
        display = req.get("display").strip() if isinstance(req.get("display"), str) else ""
        if assignee.strip() and assignee.strip() in (conn.account, display):
            raise _Denied(f"the reviewer may not be the case's assignee ({assignee.strip()}): a second person signs off")
        return {"entry": self._record(conn, "dossier_sign_off", display, reviewer=conn.account, **rec)}

    def op_open_load(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        self._require(conn, "load", "load with the pseudonymisation key")
        bundle = str(req.get("bundle") or "")
        entry = self._record(conn, "load_key_use", req.get("display"), bundle=bundle, store=str(req.get("store") or ""),
                             key_id=self._pseudo.key_id)
        conn.loading = {"bundle": bundle, "seq": entry["seq"]}
        return {"key_id": self._pseudo.key_id, "entry": entry}

    def op_tokenise(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        if conn.loading is None:
            raise _Denied("tokenise needs open_load first on the same connection (that records the key's use)")
        values = _string_list(req.get("values"), "values")
        conn.tokenised += len(values)
        return {"tokens": [self._pseudo.token(v) for v in values]}

    def op_keep_personal(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        self._require(conn, "clear_data", "load personal data in clear (--keep-personal)")
        reason = str(req.get("reason") or "").strip()
        if len(reason) < 4:
            raise _BadRequest("--keep-personal needs a reason (at least 4 characters) / 需要说明理由")
        entry = self._record(conn, "keep_personal", req.get("display"), bundle=str(req.get("bundle") or ""),
                             store=str(req.get("store") or ""), reason=reason[:1000])
        return {"entry": entry}

    def op_reveal(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        self._require(conn, "clear_data", "see personal data in clear")
        tokens = _string_list(req.get("tokens"), "tokens")
        bundle = req.get("bundle")
        if not isinstance(bundle, str) or not bundle:
            raise _BadRequest("reveal needs the bundle that holds the clear values")
        table = self._clear_table(bundle)
        found = {t: table[t] for t in dict.fromkeys(tokens) if t in table}
        fields: dict[str, int] = {}
        for f, _ in found.values():
            fields[f] = fields.get(f, 0) + 1
        entry = self._record(conn, "clear_release", req.get("display"), bundle=str(Path(bundle).resolve()),
                             case_id=req.get("case_id"), profile=req.get("profile"), requested=len(tokens),
                             released=len(found), fields=fields)  # recorded before anything leaves
        return {"values": {t: list(v) for t, v in found.items()}, "entry": entry}

    def op_record_export(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        self._require(conn, "export", "export dossiers")
        clear = req.get("clear_data") or {}
        if clear:
            self._require(conn, "clear_data", "export personal data in clear")
        manifest = req.get("manifest")
        if not isinstance(manifest, str) or not manifest:
            raise _BadRequest("record_export needs the manifest text")
        data = manifest.encode("utf-8")
        sha = hashlib.sha256(data).hexdigest()
        keep = {k: req.get(k) for k in ("case_id", "findings", "out", "profile", "clear_source", "routes")}
        signature = self.signer.sign(data) if self.signer is not None else None
        key_id = getattr(self.signer, "key_id", None)
        entry = self._record(conn, "dossier_export", req.get("display"), **keep, manifest_sha256=sha,
                             clear_data=clear, signed_by=key_id)
        return {"entry": entry, "manifest_sha256": sha, "signature": signature, "key_id": key_id,
                "public_pem": getattr(self.signer, "public_pem", None)}

    def op_lookup_export(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        sha = str(req.get("manifest_sha256") or "")
        rep = self.op_find(conn, {"action": "dossier_export", "match": {"manifest_sha256": sha}}) if sha else {"entries": []}
        return {**rep, "entries": [{k: e[k] for k in ("seq", "at", "actor", "hash")} for e in rep["entries"]]}

    def _verdict(self) -> tuple[AuditVerification, dict[str, Any]]:
        v = self._log().verify()
        return v, {"ok": v.ok, "status": v.status, "entries": v.entries, "signed_entries": v.signed_entries,
                   "key_id": v.key_id, "checkpoint_at": v.checkpoint_at, "problem": v.problem, "line": v.line, "text": str(v)}

    def op_verify_log(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        """The verdict on the guard's log for any caller (``log``: ok, status, counts, key id; no entry content)."""
        return {"log": self._verdict()[1]}

    def op_find(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        """Entries of one action matching ``match``, from the log's verified part, with the log's verdict.
        Without ``audit`` a caller names what it holds: a manifest hash, a case database id, a sign-off."""
        action, match = req.get("action"), req.get("match") or {}
        if not isinstance(action, str) or not isinstance(match, dict):
            raise _BadRequest("find needs action (text) and match (an object)")
        need = _FIND_OPEN.get(action)
        if need is None or not all(isinstance(match.get(k), str) and match.get(k) for k in need):
            self._require(conn, "audit", f"read '{action}' records of the audit log"
                          + (f" without naming {', '.join(need)}" if need else ""))
        v, verdict = self._verdict()
        limit = (v.signed_entries if v.status == "intact" else v.entries) if v.ok else 0
        hits = [e for e in self._log().find(action, **match) if int(e["seq"]) <= limit]
        return {"entries": hits, "log": verdict}

    def op_show_log(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        """The last ``tail`` entries (``audit``)."""
        self._require(conn, "audit", "read the audit log")
        tail = req.get("tail", 20)
        if not isinstance(tail, int) or tail < 0:
            raise _BadRequest("tail must be a whole number ≥ 0")
        entries = list(self._log().entries())
        return {"entries": entries[len(entries) - tail:] if tail else []}

    def _clear_table(self, bundle: str) -> dict[str, tuple[str, str]]:
        from ..dossier.redact import ClearSource

        p = Path(bundle).resolve()
        try:
            stamp = tuple(sorted((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in p.iterdir() if f.is_file()))
        except OSError as exc:
            raise _BadRequest(f"bundle {bundle} unreadable by the guard: {exc.strerror or exc}") from None
        key = (str(p), stamp)
        if key not in self._clear_cache:
            try:
                self._clear_cache = {key: ClearSource.from_bundle(p, key=self._key).tokens}  # keep one bundle
            except (OSError, GraphkitError) as exc:
                raise _BadRequest(f"bundle {bundle} unreadable by the guard: {exc}") from None
        return self._clear_cache[key]

    # -- dispatch ------------------------------------------------------------------------------
    def dispatch(self, conn: _Conn, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        handler: Callable[[_Conn, dict[str, Any]], dict[str, Any]] | None = getattr(self, f"op_{op}", None) if isinstance(op, str) and op.isidentifier() else None
        if handler is None:
            return {"ok": False, "code": "bad_request", "error": f"unknown op {op!r}"}
        try:
            return {"ok": True, **handler(conn, req)}
        except (_Denied, _Refused, _BadRequest) as exc:
            return {"ok": False, "code": exc.code, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 — the guard answers, never dies on one request
            print(f"graphkit guard: {op} failed: {exc!r}", file=sys.stderr)
            return {"ok": False, "code": "error", "error": f"guard error in {op}: {type(exc).__name__}"}

    def handle_connection(self, sock: Any) -> None:
        cred = peer_credentials(sock)
        conn = _Conn(cred, account_of_uid(cred.uid))
        try:
            while True:
                try:
                    req = recv_message(sock)
                except ProtocolError as exc:
                    send_message(sock, {"ok": False, "code": "bad_request", "error": str(exc)})
                    return
                if req is None:
                    return
                send_message(sock, self.dispatch(conn, req))
        except OSError:
            return
        finally:
            if conn.loading is not None:
                try:
                    self._record(conn, "load_key_use_end", None, opened=conn.loading["seq"], tokenised=conn.tokenised)
                except _Refused:
                    pass

    # -- serving -------------------------------------------------------------------------------
    def _bind(self) -> socketserver.BaseServer:
        guard = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                guard.handle_connection(self.request)

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        path = self.socket_path
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise GuardSetupError(f"守护进程拒绝启动 / guard refuses to start: {path} exists and is not a socket")
            path.unlink()  # a stale socket from a previous run
        old = os.umask(0o177)
        try:
            server = Server(str(path), Handler)
        finally:
            os.umask(old)
        os.chmod(path, self.config.socket_mode)
        self._record(_Conn(PeerCredentials(os.getpid(), os.geteuid(), os.getegid()), account_of_uid(os.geteuid())),
                     "guard_start", None, key_id=self._pseudo.key_id, roles=str(self._roles_path),
                     signer_key_id=getattr(self.signer, "key_id", None))
        return server

    def start(self) -> "Guard":
        """Serve in a background thread (tests, embedding); returns self."""
        self._server = self._bind()
        self._thread = threading.Thread(target=self._server.serve_forever, name="graphkit-guard", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve until SIGTERM/SIGINT (``graphkit guard serve``)."""
        import signal

        self._server = self._bind()
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=self._server.shutdown).start())
        print(f"graphkit guard: serving on {self.socket_path} (pid {os.getpid()}, key {self._pseudo.key_id})", file=sys.stderr, flush=True)
        try:
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
            self._server.server_close()
            self._server = None
            try:
                self.socket_path.unlink()
            except FileNotFoundError:
                pass


def _string_list(v: Any, name: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _BadRequest(f"{name} must be a list of strings")
    if len(v) > MAX_BATCH:
        raise _BadRequest(f"{len(v):,} {name} in one request; send batches of at most {MAX_BATCH:,}")
    return v
