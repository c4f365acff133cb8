"""Stores: one interface (:class:`Store`), implemented by the embedded columnar store.

Examples
--------
>>> from graphkit.store import open_store  # doctest: +SKIP
>>> store = open_store("city-store")        # doctest: +SKIP
>>> store.table("institutions").shape      # doctest: +SKIP
"""

from .base import Store, open_store
from .embedded import EmbeddedStore

__all__ = ["Store", "EmbeddedStore", "open_store"]
