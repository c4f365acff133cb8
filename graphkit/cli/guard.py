"""``graphkit guard serve|status``: the parser lives with the guard (:mod:`graphkit.guard.cli`)."""

from __future__ import annotations

from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``guard`` to the subparsers."""
    from ..guard.cli import add_guard_parser

    add_guard_parser(sub)
