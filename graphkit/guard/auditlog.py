"""The guard's audit log as a client sees it, and which key a verifier trusts.

Where a guard runs, the audit log that counts is the guard's: :class:`GuardAuditLog` appends
(as the caller's OS account), looks records up and verifies through the guard, with the same
``append``/``find``/``verify``/``verifier`` as :class:`graphkit.audit.AuditLog`, so the case
store, sign-offs and ``dossier verify`` use it unchanged. :func:`active_log` picks it (else the
local log). :func:`trusted_key` decides which public key ``dossier verify`` and ``audit verify``
trust: the guard's (from ``status``) in guarded mode, whatever ``GRAPHKIT_AUDIT_PUBKEY`` says; an
explicit ``--public-key`` is used but always reported as such.

A caller without the ``audit`` permission learns the log's *verdict* (status, entry counts,
key id) and the records it can name (a manifest hash it holds, its case database's id, a
sign-off's case and digest); reading the log's entries needs ``audit``.

Examples
--------
>>> describe_key(None, "GRAPHKIT_AUDIT_PUBKEY")
'签名未核验：没有可信公钥 / no trusted public key (GRAPHKIT_AUDIT_PUBKEY)'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

from ..audit import AuditLog, AuditVerification, default_log
from ..identity import account_of_uid, display_name, os_account
from ..signing import Verifier
from .client import GuardClient, guard_socket

__all__ = ["GuardAuditLog", "active_log", "trusted_key", "describe_key", "TrustedKey"]


class GuardAuditLog:
    """The guard's log through its socket (``path``: the socket; default ``GRAPHKIT_GUARD``)."""

    def __init__(self, socket_path: str | Path | None = None) -> None:
        p = Path(socket_path) if socket_path is not None else guard_socket()
        if p is None:
            from .client import GuardUnavailable

            raise GuardUnavailable("未配置守护进程 / no guard configured (GRAPHKIT_GUARD)")
        self.path = p
        self._status: dict[str, Any] | None = None

    def _call(self, op: str, **fields: Any) -> dict[str, Any]:
        with GuardClient(self.path) as c:
            return c.call(op, **fields)

    def status(self) -> dict[str, Any]:
        """The guard's ``status`` for this caller (cached), plus ``peer_uid``/``peer_account``: the
        account the kernel says runs the guard."""
        if self._status is None:
            with GuardClient(self.path) as c:
                st = c.call("status")
                peer = c.peer
            self._status = {**st, "peer_uid": peer.uid, "peer_account": account_of_uid(peer.uid)}
        return self._status

    def signer(self) -> None:
        """Clients never sign: the guard signs its own checkpoints and exports."""
        return None

    def verifier(self) -> Verifier | None:
        """The guard's public key (None when the guard signs nothing)."""
        pem = self.status().get("public_pem")
        return Verifier(pem) if pem else None

    def append(self, action: str, *, actor: str | None = None, **details: Any) -> dict[str, Any]:
        """Append through the guard; the actor is the OS account, a differing ``actor`` is kept as
        the display name."""
        disp = actor if actor and actor != os_account() else display_name()
        return self._call("append", action=action, details=details, display=disp)["entry"]

    def sign_off(self, record: dict[str, Any], *, assignee: str, display: str | None = None) -> dict[str, Any]:
        """A reviewer's sign-off through the guard (``sign_off`` permission of the OS account, which
        the guard records as the reviewer; :func:`graphkit.dossier.signoff.sign_off`)."""
        return self._call("sign_off", record=record, assignee=assignee, display=display or display_name())["entry"]

    def find(self, action: str | None = None, **match: Any) -> list[dict[str, Any]]:
        """Records of ``action`` matching ``match`` in the log's verified part (an empty list when
        the log does not verify)."""
        return self._call("find", action=action, match=match)["entries"]

    def verify(self) -> AuditVerification:
        """The guard's verdict on its log."""
        r = self._call("verify_log")["log"]
        return AuditVerification(bool(r["ok"]), int(r["entries"]), r.get("problem") or "", r.get("line"),
                                 status=r.get("status", "intact" if r["ok"] else "tampered"),
                                 signed_entries=int(r.get("signed_entries") or 0), key_id=r.get("key_id") or "",
                                 checkpoint_at=r.get("checkpoint_at") or "")

    def entries(self, tail: int = 0) -> Iterator[dict[str, Any]]:
        """The last ``tail`` entries (all when 0; needs ``audit``)."""
        yield from self._call("show_log", tail=tail or 10 ** 9)["entries"]

    def __repr__(self) -> str:
        return f"GuardAuditLog({str(self.path)!r})"


def active_log() -> AuditLog | GuardAuditLog:
    """The guard's log where a guard is configured, else the local log (:func:`graphkit.audit.default_log`)."""
    return GuardAuditLog() if guard_socket() is not None else default_log()


class TrustedKey:
    """The key a verifier trusts and where it came from (``source``: guard / option / environment / local)."""

    def __init__(self, verifier: Verifier | None, source: str, where: str, note: str = "") -> None:
        self.verifier, self.source, self.where, self.note = verifier, source, where, note

    def __str__(self) -> str:
        line = describe_key(self.verifier, self.where)
        return line + (f"\n  注意 / note: {self.note}" if self.note else "")


def describe_key(verifier: Verifier | None, where: str) -> str:
    """One line saying which key is trusted and from where."""
    if verifier is None:
        return f"签名未核验：没有可信公钥 / no trusted public key ({where})"
    return f"可信公钥 / trusted key {verifier.key_id}: {where}"


def trusted_key(explicit: str | None = None, log: Any = None) -> TrustedKey:
    """Which public key to check signatures with.

    ``explicit`` (``--public-key``) wins and is reported as given by the caller. Otherwise, with
    a :class:`GuardAuditLog` (guarded mode), the guard's key from ``status``;
    ``GRAPHKIT_AUDIT_PUBKEY`` is then ignored (and said so). Otherwise the environment's or the
    local key, as :func:`graphkit.dossier.seal.trusted_verifier` finds it.
    """
    from ..dossier.seal import trusted_verifier
    from ..signing import trusted_public_key_path

    if explicit:
        v = trusted_verifier(explicit)
        note = ""
        if isinstance(log, GuardAuditLog):
            gk = log.verifier()
            if gk is None or gk.key_id != v.key_id:
                note = (f"--public-key 不是守护进程的密钥 {gk.key_id if gk else '-'} / the key given with --public-key is not "
                        "the guard's key: a signature it accepts is not the guard's")
        return TrustedKey(v, "option", f"--public-key {explicit}（调用者指定 / given by the caller）", note)
    if isinstance(log, GuardAuditLog):
        st = log.status()
        v = log.verifier()
        note = ""
        if st["peer_uid"] == os.geteuid():
            note = ("守护进程以您自己的账户运行 / the guard runs as your own account: its signature separates no duties "
                    "from you")
        if os.environ.get("GRAPHKIT_AUDIT_PUBKEY"):
            note = (note + "; " if note else "") + "GRAPHKIT_AUDIT_PUBKEY 已忽略 / GRAPHKIT_AUDIT_PUBKEY ignored: the guard's key is used"
        where = f"守护进程 / the guard at {log.path} (account {st['peer_account']}, uid {st['peer_uid']})"
        return TrustedKey(v, "guard", where, note)
    v = trusted_verifier(None)
    env = os.environ.get("GRAPHKIT_AUDIT_PUBKEY")
    return TrustedKey(v, "environment" if env else "local",
                      f"GRAPHKIT_AUDIT_PUBKEY={env}" if env else f"本地密钥 / the local key {trusted_public_key_path()}")
