"""Concurrency for the embedded store: one writer at a time, readers pin a generation.

*Writers* (a load, anything that replaces the manifest) hold an exclusive, non-blocking
``flock`` on ``<store>/.lock`` for the whole read-old → write → commit span; a second writer
gets :class:`StoreBusy` naming the holder (pid, user, host, since, what), written into the
lock file by the holder. The lock is per process re-entrant (a load that writes its
generation through :class:`~graphkit.store.embedded.GenerationWriter` takes it once).
The kernel drops the lock when the holder dies (``kill -9`` included), so a crashed load
never leaves the store locked; the stale holder text is ignored then.

*Readers* pin the generation they opened: a shared ``flock`` on ``<store>/gen-N/.pin``,
held for the life of the :class:`~graphkit.store.embedded.EmbeddedStore`. A writer removes
an older generation only when it gets the exclusive lock on its pin without waiting; a
pinned generation stays until a later commit (or the reader's :func:`GenerationPin.release`)
finds it free. A reader that loses the race (its generation replaced between reading the
manifest and pinning) simply re-reads the manifest.

Uses ``fcntl.flock`` (Linux, macOS); where it does not exist locking is a no-op, which is
documented in docs/security.md. ``flock`` locks belong to an open file description, so two
handles of one process exclude each other like two processes do.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> with writer_lock(d, what="demo"):
...     with writer_lock(d):   # re-entrant in one process
...         holder(d)["what"]
'demo'
"""

from __future__ import annotations

import errno
import getpass
import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import StoreError

try:  # pragma: no cover - platform dependent
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["StoreBusy", "writer_lock", "holder", "GenerationPin", "try_remove_generation", "LOCK_NAME", "PIN_NAME"]

LOCK_NAME = ".lock"
PIN_NAME = ".pin"

_held: dict[str, list[Any]] = {}  # realpath -> [fd, depth]
_guard = threading.Lock()


class StoreBusy(StoreError):
    """Another process is writing the store."""


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "?"


def holder(root: str | Path) -> dict[str, Any]:
    """What the current (or last) writer wrote into the lock file ({} when unknown)."""
    try:
        return json.loads((Path(root) / LOCK_NAME).read_text("utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def _busy_message(root: Path) -> str:
    h = holder(root)
    who = (f"pid {h.get('pid', '?')}, 用户 user {h.get('user', '?')}@{h.get('host', '?')}, "
           f"自 since {h.get('since', '?')}" + (f", {h['what']}" if h.get("what") else "")) if h else "持有者未知 / holder unknown"
    return (f"存储正被另一进程写入 / store is busy: another process is writing {root} ({who}). "
            "请等待其完成后重试 / wait for it to finish and retry.")


@contextmanager
def writer_lock(root: str | Path, *, what: str = "") -> Iterator[None]:
    """Hold the store's writer lock (creates the folder); raise :class:`StoreBusy` if taken."""
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(path)
    with _guard:
        entry = _held.get(key)
        if entry is not None:
            entry[1] += 1
    if entry is not None:
        try:
            yield
        finally:
            with _guard:
                entry[1] -= 1
        return
    if fcntl is None:  # pragma: no cover
        yield
        return
    while True:
        fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise StoreBusy(_busy_message(path)) from None
            raise
        try:  # the file may have been unlinked by the previous holder after we opened it
            same = os.stat(path / LOCK_NAME).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    info = {"pid": os.getpid(), "user": _user(), "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S"), "what": what}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    with _guard:
        _held[key] = [fd, 1]
    try:
        yield
    finally:
        with _guard:
            _held.pop(key, None)
        try:
            os.ftruncate(fd, 0)
            if not (path / "manifest.json").exists():  # no store here (a failed first load): leave nothing
                (path / LOCK_NAME).unlink()
        except OSError:  # the folder may be gone (an aborted first load removes it)
            pass
        os.close(fd)  # releases the flock


def holds_writer_lock(root: str | Path) -> bool:
    """Whether this process holds the writer lock of ``root``."""
    with _guard:
        return os.path.realpath(root) in _held


class GenerationPin:
    """A shared lock on one generation folder, so that no writer removes it while it is read."""

    def __init__(self, gen_dir: Path) -> None:
        self.gen_dir = gen_dir
        self.fd: int | None = None
        if fcntl is None:  # pragma: no cover
            return
        try:
            fd = os.open(gen_dir / PIN_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:  # another account's store (e.g. loaded by the data steward): flock needs only a read fd
            try:
                fd = os.open(gen_dir / PIN_NAME, os.O_RDONLY)
            except FileNotFoundError:
                return  # a read-only store without a pin file: nothing to pin with
        fcntl.flock(fd, fcntl.LOCK_SH)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self) -> None:  # the fd is closed with the store object
        try:
            self.release()
        except Exception:
            pass


def try_remove_generation(gen_dir: Path) -> bool:
    """Remove an old generation folder unless a reader pins it; True when removed."""
    import shutil

    if fcntl is None:  # pragma: no cover
        shutil.rmtree(gen_dir, ignore_errors=True)
        return True
    try:
        fd = os.open(gen_dir / PIN_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return not gen_dir.exists()
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a reader holds it; a later commit removes it
        shutil.rmtree(gen_dir, ignore_errors=True)
        return not gen_dir.exists()
    finally:
        os.close(fd)
