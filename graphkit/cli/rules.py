"""``graphkit rules run|check|list``: the parser lives with the rule engine (:mod:`graphkit.rules.cli`)."""

from __future__ import annotations

from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``rules`` to the subparsers."""
    from ..rules.cli import add_parser

    add_parser(sub)
