"""The one store interface every detector reads through.

Detectors ask a store for *tables* (small dimension tables, or column subsets of the
fact tables) and for named *projections* (aggregated views such as card-user pairs).
The embedded store computes projections with pandas (see :mod:`graphkit.projections`);
a server-backed store overrides :meth:`Store.projection` to compute them server-side.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd


__all__ = ["Store", "with_claim_id"]


class Store(ABC):
    """Read interface of a loaded claims graph."""

    #: content fingerprint of the loaded data (sha256 hex)
    fingerprint: str

    @abstractmethod
    def table(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Return a bundle table (typed) with only ``columns`` if given; empty if absent."""

    @abstractmethod
    def has_table(self, name: str) -> bool:
        """True when the table was loaded (even with zero rows)."""

    @abstractmethod
    def row_counts(self) -> dict[str, int]:
        """Rows per loaded table."""

    def columns(self, name: str) -> list[str]:
        """Column names available for a table (spec columns plus any extra ones)."""
        from ..schema import TABLES

        return list(TABLES[name].column_names) if name in TABLES else []

    def profile(self) -> dict[str, Any]:
        """What the data supports (:func:`graphkit.profile.data_profile`), computed once per
        store object; stores that persist it (the embedded manifest, the Neo4j meta node)
        override this to read it back."""
        cached = getattr(self, "_data_profile", None)
        if cached is None:
            from ..profile import data_profile

            cached = data_profile(self)
            self._data_profile = cached
        return cached

    def describe(self) -> dict[str, Any]:
        """A short description for reports and dossiers."""
        return {"fingerprint": self.fingerprint, "rows": self.row_counts()}

    def table_where(self, name: str, columns: Sequence[str], where: Any) -> pd.DataFrame:
        """The rows of table ``name`` that match ``where`` (conditions in disjunctive normal form,
        see :mod:`graphkit.store.where`), columns ``columns``, in stored order, index 0..n-1:
        ``table(name, columns)`` filtered, typed alike. Here: the table read, then filtered; the
        embedded store filters in Arrow, row group by row group, before any pandas conversion.

        >>> import tempfile
        >>> from graphkit.store.embedded import EmbeddedStore
        >>> d = tempfile.mkdtemp()
        >>> EmbeddedStore.write(d, {"claims": pd.DataFrame({"claim_id": ["C1", "C2"], "claim_type": ["inpatient", "outpatient"]})})
        >>> EmbeddedStore(d).table_where("claims", ["claim_id"], [("claim_type", "==", "inpatient")]).to_dict("records")
        [{'claim_id': 'C1'}]
        """
        from .where import where_columns, where_mask

        cols = list(columns)
        df = self.table(name, list(dict.fromkeys([*cols, *where_columns(where)])))
        return df.loc[where_mask(df, where), cols].reset_index(drop=True)

    def table_codes(self, name: str, columns: Sequence[str]) -> dict[str, pd.Categorical]:
        """String ``columns`` of table ``name`` as categoricals in stored row order (code -1: null):
        a claim's provider or diagnosis as a small integer, without a string per row. The
        categories' order is unspecified. Here: the table read, then factorized; the embedded
        store reads a column of few distinct values (providers, terminals, diagnoses) from
        Parquet's dictionaries without building its strings.

        >>> import tempfile
        >>> from graphkit.store.embedded import EmbeddedStore
        >>> d = tempfile.mkdtemp()
        >>> EmbeddedStore.write(d, {"claims": pd.DataFrame({"claim_id": ["C1", "C2", "C3"], "institution_id": ["H2", None, "H2"]})})
        >>> c = EmbeddedStore(d).table_codes("claims", ["institution_id"])["institution_id"]
        >>> c.codes.tolist(), list(c.categories)
        ([0, -1, 0], ['H2'])
        """
        from ..allocator import release_arrow

        df = self.table(name, list(columns))
        out = {}
        for c in columns:
            arr = getattr(df[c].array, "_pa_array", None)
            if arr is not None and arr.num_chunks:  # Arrow strings: encoded in Arrow (quicker than pandas)
                import pyarrow.compute as pc

                enc = pc.dictionary_encode(arr).combine_chunks()
                codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
                uniq = enc.dictionary.to_numpy(zero_copy_only=False)
                del enc
            else:
                codes, uniq = pd.factorize(df[c], use_na_sentinel=True)
            out[c] = pd.Categorical.from_codes(codes, categories=pd.Index(np.asarray(uniq, dtype=object), dtype=object),
                                               validate=False)
        del df
        release_arrow()
        return out

    def table_rows(self, name: str, columns: Sequence[str], rows: np.ndarray) -> pd.DataFrame:
        """``table(name, columns)``'s rows at positions ``rows`` (stored order, from 0), in the
        order given, index 0..len(rows)-1. Here: the table read, then taken; the embedded store
        decodes one row group at a time and keeps only the wanted rows.

        >>> import tempfile
        >>> from graphkit.store.embedded import EmbeddedStore
        >>> d = tempfile.mkdtemp()
        >>> EmbeddedStore.write(d, {"claims": pd.DataFrame({"claim_id": ["C1", "C2", "C3"], "card_id": ["K1", "K2", "K3"]})})
        >>> EmbeddedStore(d).table_rows("claims", ["card_id"], np.array([2, 0, 2]))["card_id"].tolist()
        ['K3', 'K1', 'K3']
        """
        return self.table(name, list(columns)).iloc[np.asarray(rows, dtype=np.int64)].reset_index(drop=True)

    def claims_by_id(self, claim_ids: Iterable[str], columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The claims with these ids (any order), typed like :meth:`table`."""
        return self._by_claim("claims", claim_ids, columns)

    def items_by_claim(self, claim_ids: Iterable[str], columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The claim items of these claims (grouped by claim), typed like :meth:`table`;
        empty when the store has no ``claim_items``."""
        return self._by_claim("claim_items", claim_ids, columns)

    def _by_claim(self, name: str, claim_ids: Iterable[str], columns: Sequence[str] | None) -> pd.DataFrame:
        """Rows of ``claims`` or ``claim_items`` whose ``claim_id`` is one of ``claim_ids``, with
        ``claim_id`` plus ``columns`` (all columns if None). Here: the table filtered; a store
        overrides this to read only those rows."""
        ids = pd.Index(pd.unique(pd.Series(list(claim_ids), dtype="string")))
        rows = self.table(name, with_claim_id(columns))
        return rows[rows["claim_id"].isin(ids)].reset_index(drop=True)

    def projection(self, name: str, **params: Any) -> pd.DataFrame:
        """A named, aggregated view of the data (see :mod:`graphkit.projections`)."""
        from .. import projections

        return projections.compute(self, name, **params)


def with_claim_id(columns: Sequence[str] | None) -> list[str] | None:
    """``columns`` with ``claim_id`` first (once); None (all columns) stays None."""
    return None if columns is None else list(dict.fromkeys(["claim_id", *columns]))
