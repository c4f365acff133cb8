"""Failpoints for crash tests: ``GRAPHKIT_FAILPOINT=name`` makes the process die at once
(``os._exit(137)``, like ``kill -9``) when it reaches that point. Unset: no effect."""

from __future__ import annotations

import os

__all__ = ["failpoint"]


def failpoint(name: str) -> None:
    """Die here when ``GRAPHKIT_FAILPOINT`` names this point."""
    if os.environ.get("GRAPHKIT_FAILPOINT") == name:
        os._exit(137)
