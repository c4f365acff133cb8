"""Failpoints for crash and concurrency tests. Unset: no effect.

- ``GRAPHKIT_FAILPOINT=name`` makes the process die at once (``os._exit(137)``, like
  ``kill -9``) when it reaches that point.
- ``GRAPHKIT_PAUSEPOINT=name`` with ``GRAPHKIT_PAUSEPOINT_FILE=path`` makes it write its pid
  to ``path`` at that point and wait (up to 120 s) until a test removes the file, so another
  process can act while this one is, say, between writing a generation and publishing it.
"""

from __future__ import annotations

import os
import time

__all__ = ["failpoint"]


def failpoint(name: str) -> None:
    """Die (or pause) here when ``GRAPHKIT_FAILPOINT`` (``GRAPHKIT_PAUSEPOINT``) names this point."""
    if os.environ.get("GRAPHKIT_FAILPOINT") == name:
        os._exit(137)
    if os.environ.get("GRAPHKIT_PAUSEPOINT") == name and os.environ.get("GRAPHKIT_PAUSEPOINT_FILE"):
        flag = os.environ["GRAPHKIT_PAUSEPOINT_FILE"]
        with open(flag + ".tmp", "w") as fh:
            fh.write(str(os.getpid()))
        os.replace(flag + ".tmp", flag)
        deadline = time.monotonic() + 120
        while os.path.exists(flag) and time.monotonic() < deadline:
            time.sleep(0.02)
