"""Lookups by claim id in the embedded store read only the row groups that can hold the ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest

import graphkit.store.embedded as embedded
from graphkit.store import open_store
from graphkit.store.base import Store
from loaders import load_bundle


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    from graphkit.demo import generate_city

    root = tmp_path_factory.mktemp("lookup")
    generate_city(root / "city", patients=1000, seed=3, months=2, fmt="parquet")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(embedded, "ROW_GROUP_ROWS", 500)  # many row groups in a small city
        load_bundle(root / "city", root / "store", chunk_rows=2000)
    return open_store(root / "store")


def _wanted(store) -> list[str]:
    ids = store.table("claims", ["claim_id"])["claim_id"]
    return [ids.iloc[5], ids.iloc[len(ids) // 2], ids.iloc[-1], "C-not-there"]


def test_lookups_equal_filtering_the_whole_table(store) -> None:
    ids = _wanted(store)
    for cols in (None, ["fund_amount", "start_time"]):
        got = store.claims_by_id(ids, cols)
        want = Store.claims_by_id(store, ids, cols)  # the interface's reference: filter the whole table
        pd.testing.assert_frame_equal(got, want)
        assert len(got) == 3
    with_items = store.table("claim_items", ["claim_id"])["claim_id"].unique().tolist()
    claims_with_items = [with_items[0], with_items[7], with_items[-1]]
    for cols in (None, ["category", "amount"]):
        got = store.items_by_claim(claims_with_items + ["C-not-there"], cols)
        pd.testing.assert_frame_equal(got, Store.items_by_claim(store, claims_with_items, cols))
        assert set(got["claim_id"]) == set(claims_with_items)
    assert store.items_by_claim([]).empty and list(store.items_by_claim([], ["amount"]).columns) == ["claim_id", "amount"]


@pytest.mark.parametrize("table", ["claims", "claim_items"])
def test_claim_id_statistics_prune_row_groups(store, table: str) -> None:
    ids = _wanted(store)
    dataset = ds.dataset(store.table_file(table), format="parquet")
    groups = [rg for frag in dataset.get_fragments() for rg in frag.split_by_row_group()]
    kept = [rg for frag in dataset.get_fragments(filter=ds.field("claim_id").isin(ids))
            for rg in frag.split_by_row_group(filter=ds.field("claim_id").isin(ids))]
    assert len(groups) >= 8
    assert 1 <= len(kept) <= 4  # three ids live in at most a few row groups (an id may straddle two)


def test_codes_and_rows_equal_the_interface_reference(store) -> None:
    """The embedded store's dictionary codes and row reads give what reading the table gives."""
    cols = ["terminal_id", "institution_id", "pharmacy_id", "diagnosis_code", "claim_id", "not_a_column"]
    whole = store.table("claims", cols)
    got = store.table_codes("claims", cols)
    assert list(got) == cols
    for c in cols:
        cat = got[c]
        assert len(cat) == len(whole)
        assert cat.codes.dtype.kind == "i" and (cat.codes >= -1).all()
        expect = whole[c].astype(object).where(whole[c].notna(), None).tolist()
        assert pd.Series(cat).astype(object).where(pd.Series(cat).notna(), None).tolist() == expect
    assert (got["pharmacy_id"].codes == -1).any() and (got["pharmacy_id"].codes >= 0).any()
    assert (got["not_a_column"].codes == -1).all()
    n = len(whole)
    rows = np.array([n - 1, 0, 7, 7, n // 2, 1])  # any order, repeats, across row groups
    for columns in (["card_id", "fund_amount", "start_time"], ["claim_id", "not_a_column"], ["not_a_column"]):
        got_rows = store.table_rows("claims", columns, rows)
        pd.testing.assert_frame_equal(got_rows, Store.table_rows(store, "claims", columns, rows))
        assert len(got_rows) == rows.size
    assert store.table_rows("claims", ["card_id"], np.zeros(0, np.int64)).empty
    with pytest.raises(IndexError, match="claims"):
        store.table_rows("claims", ["card_id"], np.array([n]))


def test_a_loaded_stores_few_valued_columns_are_read_as_dictionaries(store, monkeypatch) -> None:
    """The loader writes Arrow large strings: a column of few values is still read from Parquet's
    dictionaries, never through the whole-table fallback."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert pa.types.is_large_string(pq.ParquetFile(store.table_file("claims")).schema_arrow.field("institution_id").type)
    whole = store.table("claims", ["institution_id", "claim_type"])

    def fallback(*a, **k):
        raise AssertionError("read through the whole table")

    monkeypatch.setattr(Store, "table_codes", fallback)
    got = store.table_codes("claims", ["institution_id", "claim_type"])
    for c in ("institution_id", "claim_type"):
        assert pd.Series(got[c]).astype(object).where(pd.Series(got[c]).notna(), None).tolist() == \
            whole[c].astype(object).where(whole[c].notna(), None).tolist()
