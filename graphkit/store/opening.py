"""Opening a store by its location (kept apart from :mod:`.base`, which the stores import)."""

from __future__ import annotations

from pathlib import Path

from ..errors import StoreError
from .base import Store
from .embedded import EmbeddedStore

__all__ = ["open_store"]


def open_store(location: str | Path) -> Store:
    """Open a store: a folder written by ``graphkit load``.

    Examples
    --------
    >>> open_store("/nonexistent")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    graphkit.errors.StoreError: no store at /nonexistent
    """
    path = Path(location)
    if not (path / "manifest.json").exists():
        raise StoreError(f"no store at {path} (missing manifest.json; run `graphkit load` first)")
    return EmbeddedStore(path)
