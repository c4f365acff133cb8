"""Talking to the guard from an analyst's, investigator's or loader's process.

The socket is ``GRAPHKIT_GUARD`` or, when that is unset, ``/run/graphkit/guard.sock`` if it
exists. Pointing ``GRAPHKIT_GUARD`` at a guard of one's own gains nothing: that guard holds
neither the real key (no clear values come out) nor the real audit log or signing key (its
records and signatures are not the bureau's).

Examples
--------
>>> guard_socket({"GRAPHKIT_GUARD": "/run/g.sock"})
PosixPath('/run/g.sock')
>>> guard_socket({"GRAPHKIT_GUARD": "off"}) is None
True
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import GraphkitError
from ..identity import display_name, os_account
from ..pseudo import Pseudonymiser, demo_key_refusal, resolve_key
from ..roles import PermissionDenied
from .protocol import PeerCredentials, peer_credentials, recv_message, send_message

__all__ = ["GuardClient", "GuardUnavailable", "GuardRefused", "GuardDenied", "guard_socket", "require_guard", "record",
           "GuardPseudonymiser", "pseudonymiser_for", "DEFAULT_SOCKET", "BATCH"]

DEFAULT_SOCKET = "/run/graphkit/guard.sock"
#: distinct values a loader sends per ``tokenise`` request
BATCH = 100_000


class GuardUnavailable(GraphkitError):
    """No guard answers (none configured, or it is not running)."""


class GuardRefused(GraphkitError):
    """The guard refused (it could not write the audit record, or the request was malformed)."""


class GuardDenied(PermissionDenied):
    """The guard's roles file does not give the caller's OS account this permission."""


def guard_socket(env: Mapping[str, str] | None = None) -> Path | None:
    """The guard's socket: ``GRAPHKIT_GUARD`` (``off``/empty: none), else the default if it exists."""
    env = os.environ if env is None else env
    v = env.get("GRAPHKIT_GUARD")
    if v is not None:
        return None if v.strip().lower() in ("", "off", "none", "0") else Path(v)
    return Path(DEFAULT_SOCKET) if Path(DEFAULT_SOCKET).exists() else None


class GuardClient:
    """One connection to the guard; :meth:`call` sends a request and returns the reply."""

    def __init__(self, path: str | Path | None = None, *, timeout: float | None = 600.0) -> None:
        p = Path(path) if path is not None else guard_socket()
        if p is None:
            raise GuardUnavailable("未配置守护进程 / no guard configured: start `graphkit guard serve` and set GRAPHKIT_GUARD")
        self.path = p
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(p))
        except OSError as exc:
            self._sock.close()
            raise GuardUnavailable(f"守护进程无响应 / the guard at {p} does not answer: {exc.strerror or exc}") from None

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send ``op`` with ``fields`` (the display name is added); raise on a refusal."""
        try:
            send_message(self._sock, {"op": op, "display": display_name(), **fields})
            reply = recv_message(self._sock)
        except OSError as exc:
            raise GuardUnavailable(f"守护进程连接中断 / connection to the guard at {self.path} lost: {exc}") from None
        if reply is None:
            raise GuardUnavailable(f"守护进程连接中断 / the guard at {self.path} closed the connection")
        if not reply.get("ok"):
            err = reply.get("error", "refused")
            raise (GuardDenied if reply.get("code") == "denied" else GuardRefused)(err)
        return reply

    @property
    def peer(self) -> "PeerCredentials":
        """The guard process as the kernel reports it (pid, uid, gid): not what the guard says."""
        return peer_credentials(self._sock)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "GuardClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def require_guard(what: str) -> GuardClient:
    """A connection to the guard, or a clear error saying ``what`` needs one."""
    if guard_socket() is None:
        raise GuardUnavailable(f"{what}必须经由守护进程 / {what} goes through the guard: an administrator runs "
                               "`graphkit guard serve` (docs/security.md) and GRAPHKIT_GUARD names its socket; "
                               "no roles file or user name unlocks it")
    return GuardClient()


def record(action: str, **details: Any) -> dict[str, Any]:
    """Record an event: through the guard where one is configured (it names the OS account),
    else in the local log (``GRAPHKIT_AUDIT_LOG``; a personal record, no separation of duties)."""
    if guard_socket() is not None:
        with GuardClient() as c:
            return c.call("append", action=action, details=details)["entry"]
    from ..audit import default_log

    disp = display_name()
    extra = {"display_name": disp} if disp and disp != os_account() else {}
    return default_log().append(action, actor=os_account(), **details, **extra)


class GuardPseudonymiser(Pseudonymiser):
    """Tokens computed by the guard: the loader never holds the key.

    Opens a load session (recorded, needs the ``load`` permission) and sends distinct values in
    batches of :data:`BATCH`."""

    def __init__(self, client: GuardClient, *, bundle: str | Path = "", store: str | Path = "") -> None:
        self._client = client
        reply = client.call("open_load", bundle=str(Path(bundle).resolve()) if bundle else "", store=str(store))
        self._key_id = reply["key_id"]
        self._key = b""  # never known here

    @property
    def key_id(self) -> str:
        return self._key_id

    def tokens(self, values: list[str]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(values), BATCH):
            out += self._client.call("tokenise", values=values[i:i + BATCH])["tokens"]
        return out

    def token(self, value: str) -> str:
        return self.tokens([value])[0]

    def series(self, s: pd.Series) -> pd.Series:
        mask = s.notna().to_numpy(bool)
        if not mask.any():
            return s
        codes, uniques = pd.factorize(s[mask])
        tokens = np.array(self.tokens([str(u) for u in uniques.tolist()]), dtype=object)
        out = pd.Series(None, index=s.index, dtype=object)
        out[mask] = tokens[codes]
        return out.astype(s.dtype if str(s.dtype) != "object" else object)

    def __del__(self) -> None:
        try:
            self._client.close()
        except Exception:  # noqa: BLE001
            pass


def pseudonymiser_for(bundle: str | Path | None, key: bytes | str | None = None, *,
                      allow_demo_key: bool | None = None, store: str | Path = "") -> Pseudonymiser:
    """The loader's pseudonymiser: a key given by calling code or in ``GRAPHKIT_PSEUDO_KEY``/``_FILE``
    (single-user install: no separation of duties), else the guard where one is configured, else
    the demo key for a generated demo bundle (or a clear error)."""
    if key is not None or os.environ.get("GRAPHKIT_PSEUDO_KEY") or os.environ.get("GRAPHKIT_PSEUDO_KEY_FILE"):
        return Pseudonymiser(resolve_key(key, allow_demo=False))  # a key is set: the demo seal is not read
    if guard_socket() is not None:
        return GuardPseudonymiser(GuardClient(), bundle=bundle or "", store=store)
    why = demo_key_refusal(bundle) if allow_demo_key is None else (None if allow_demo_key else "not allowed by the caller")
    try:
        return Pseudonymiser(resolve_key(None, allow_demo=why is None))
    except GraphkitError as e:
        raise GraphkitError(f"{e} (示范密钥不适用于此数据包 / the demo key does not serve this bundle: {why})") from None
