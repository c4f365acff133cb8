"""Stores: one interface (:class:`Store`), implemented by the embedded columnar store.

Examples
--------
>>> from graphkit.store import open_store  # doctest: +SKIP
>>> store = open_store("city-store")        # doctest: +SKIP
>>> store.table("institutions").shape      # doctest: +SKIP
"""

from .base import Store
from .embedded import EmbeddedStore
from .opening import open_store

__all__ = ["Store", "EmbeddedStore", "open_store"]
