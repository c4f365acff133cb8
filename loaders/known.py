"""Keys already in the target store, which a bundle's references may point at:
:class:`KnownKeys` and how to get them from an embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping as MappingT

import pandas as pd
import pyarrow.compute as pc

from graphkit._fast import KeySet, arrow_strings
from graphkit.schema import TABLE_ORDER, TABLES
from graphkit.store.embedded import EmbeddedStore

__all__ = ["KnownKeys", "store_keys", "store_known_keys"]


class KnownKeys:
    """Primary keys already in the target store, per table, as :class:`KeySet` (built when first needed).

    >>> import pyarrow as pa
    >>> k = KnownKeys({"cards": pd.Index(["K1", "K2"])})
    >>> k.get("cards").contains(pa.array(["K2", "K3"])).tolist()
    [True, False]
    >>> k.get("patients") is None
    True
    """

    def __init__(self, indexes: MappingT[str, Any] | None = None, loader: Callable[[str], KeySet | None] | None = None) -> None:
        self._indexes = dict(indexes or {})
        self._loader = loader
        self._sets: dict[str, KeySet | None] = {}

    def get(self, table: str) -> KeySet | None:
        if table not in self._sets:
            ks: KeySet | None = None
            if table in self._indexes:
                ks = KeySet()
                ks.add(arrow_strings(pd.Index(self._indexes[table]).dropna().astype("string")))
            elif self._loader is not None:
                ks = self._loader(table)
            self._sets[table] = ks if ks is not None and len(ks) else None
        return self._sets[table]


def store_keys(store: str | Path) -> dict[str, pd.Index]:
    """Primary keys present in an existing store (for cross-bundle references), held in memory."""
    path = Path(store)
    if not (path / "manifest.json").exists():
        return {}
    st = EmbeddedStore(path)
    out = {}
    for t in TABLE_ORDER:
        pk = TABLES[t].primary_key
        if len(pk) == 1 and st.has_table(t):
            out[t] = pd.Index(st.table(t, [pk[0]])[pk[0]].dropna())
    return out


def store_known_keys(store: str | Path | EmbeddedStore | None) -> KnownKeys:
    """Primary keys of an existing store as :class:`~loaders.validate.KnownKeys`: each table's
    keys are streamed from its Parquet file into a :class:`~graphkit._fast.KeySet` when a
    reference first needs them."""
    if store is None:
        return KnownKeys()
    if not isinstance(store, EmbeddedStore):
        if not (Path(store) / "manifest.json").exists():
            return KnownKeys()
        store = EmbeddedStore(store)
    st = store

    def load(table: str) -> KeySet | None:
        pk = TABLES[table].primary_key if table in TABLES else ()
        if len(pk) != 1 or not st.has_table(table):
            return None
        ks = KeySet()
        for tbl in st.iter_table(table, [pk[0]]):
            col = tbl.column(0)
            ks.add(pc.drop_null(arrow_strings(col)))
        return ks

    return KnownKeys(loader=load)
