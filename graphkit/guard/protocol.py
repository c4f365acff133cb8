"""Wire format of the guard and how it learns who is calling.

A message is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON (an object).
A request names an ``op``; a reply is ``{"ok": true, ...}`` or ``{"ok": false, "error": "...",
"code": "denied" | "refused" | "bad_request" | "unavailable"}``. Messages are limited to
:data:`MAX_MESSAGE` bytes, so a loader sends many values per request (a batch of 100,000 ID
numbers is about 2.5 MB) but never an unbounded one.

The caller is identified by the kernel, never by what it says: :func:`peer_credentials` reads
``SO_PEERCRED`` (pid, uid, gid of the process that connected) from the accepted Unix socket.

Examples
--------
>>> import socket
>>> a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
>>> send_message(a, {"op": "status", "values": ["张三"]})
>>> recv_message(b)
{'op': 'status', 'values': ['张三']}
>>> import os
>>> peer_credentials(b).uid == os.geteuid()
True
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass
from typing import Any

from ..errors import GraphkitError

__all__ = ["MAX_MESSAGE", "ProtocolError", "PeerCredentials", "peer_credentials", "send_message", "recv_message",
           "encode", "decode"]

#: the largest message either side accepts (bytes of JSON)
MAX_MESSAGE = 64 * 1024 * 1024
_HEADER = struct.Struct(">I")
_UCRED = struct.Struct("3i")  # struct ucred {pid_t pid; uid_t uid; gid_t gid;} on Linux


class ProtocolError(GraphkitError):
    """A malformed, oversized or truncated message."""


@dataclass(frozen=True)
class PeerCredentials:
    """The connecting process as the kernel reports it."""

    pid: int
    uid: int
    gid: int


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The pid, uid and gid of the process at the other end of a connected Unix socket
    (``SO_PEERCRED``; Linux). Raises :class:`ProtocolError` where the platform has no such option."""
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:
        raise ProtocolError("this platform has no SO_PEERCRED: the guard needs Linux to identify callers")
    pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, opt, _UCRED.size))
    return PeerCredentials(pid, uid, gid)


def encode(obj: dict[str, Any]) -> bytes:
    """One framed message.

    >>> m = encode({"op": "status"})
    >>> int.from_bytes(m[:4], "big"), m[4:]
    (15, b'{"op":"status"}')
    """
    data = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
    if len(data) > MAX_MESSAGE:
        raise ProtocolError(f"message of {len(data):,} bytes exceeds the limit of {MAX_MESSAGE:,}; send smaller batches")
    return _HEADER.pack(len(data)) + data


def decode(data: bytes) -> dict[str, Any]:
    """The object in one message body (without its length header).

    >>> decode(b'{"op":"status"}')
    {'op': 'status'}
    >>> decode(b'[1]')
    Traceback (most recent call last):
    ...
    graphkit.guard.protocol.ProtocolError: a message must be a JSON object, got list
    """
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"unreadable message ({exc})") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"a message must be a JSON object, got {type(obj).__name__}")
    return obj


def send_message(sock: socket.socket, obj: dict[str, Any]) -> None:
    """Send one framed message."""
    sock.sendall(encode(obj))


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            if not buf:
                return None
            raise ProtocolError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_message(sock: socket.socket) -> dict[str, Any] | None:
    """Receive one framed message; ``None`` when the other side closed the connection cleanly."""
    head = _recv_exact(sock, _HEADER.size)
    if head is None:
        return None
    (n,) = _HEADER.unpack(head)
    if n > MAX_MESSAGE:
        raise ProtocolError(f"message of {n:,} bytes exceeds the limit of {MAX_MESSAGE:,}")
    body = _recv_exact(sock, n)
    if body is None:
        raise ProtocolError("connection closed before the message body")
    return decode(body)
