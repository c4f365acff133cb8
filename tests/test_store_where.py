"""Store.table_where: the embedded store's Arrow row-group filter gives exactly the rows, order
and dtypes of the table read whole and filtered in pandas (the base path)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from graphkit.store.base import Store
from graphkit.store.embedded import EmbeddedStore
from graphkit.store.where import normalize_where, where_mask


@pytest.fixture()
def store(tmp_path, monkeypatch):
    import graphkit.store.embedded as E

    monkeypatch.setattr(E, "ROW_GROUP_ROWS", 64)  # many row groups, some without a match
    rng = np.random.default_rng(3)
    n = 1000
    types = np.array(["inpatient", "outpatient", "pharmacy", None], dtype=object)
    ct = types[rng.integers(0, 4, n)]
    ct[:200] = "outpatient"  # the first row groups hold no inpatient claim
    claims = pd.DataFrame({
        "claim_id": [f"C{i:05d}" for i in range(n)],
        "patient_id": pd.Series([f"P{i % 37}" if i % 11 else None for i in range(n)], dtype="string"),
        "claim_type": pd.Series(ct, dtype="string"),
        "institution_id": pd.Series([f"H{i % 5}" if i % 3 else None for i in range(n)], dtype="string"),
        "start_time": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s"),
        "fund_amount": rng.random(n).round(2),
    })
    EmbeddedStore.write(tmp_path / "s", {"claims": claims})
    return EmbeddedStore(tmp_path / "s")


FILTERS = [
    [("claim_type", "==", "inpatient"), ("institution_id", "notnull")],
    [("claim_type", "!=", "inpatient")],
    [("patient_id", "in", ["P3", "P5", "nobody", None])],
    [[("patient_id", "in", {"P1"})], [("institution_id", "isnull"), ("claim_type", "==", "pharmacy")]],
    [("claim_type", "==", "no such type")],
]


@pytest.mark.parametrize("where", FILTERS)
def test_embedded_filter_equals_pandas_filter(store, where):
    cols = ["claim_id", "patient_id", "start_time", "fund_amount"]
    assert pq.ParquetFile(store.table_file("claims")).metadata.num_row_groups > 10
    got = store.table_where("claims", cols, where)
    whole = store.table("claims", None)
    want = whole.loc[where_mask(whole, where), cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)
    assert got.equals(Store.table_where(store, "claims", cols, where))  # the base (read, then filter) path


def test_semantics_of_nulls_and_in(store):
    whole = store.table("claims", None)
    got = store.table_where("claims", ["claim_id", "claim_type"], [("claim_type", "!=", "inpatient")])
    assert got["claim_type"].notna().all() and (got["claim_type"] != "inpatient").all()
    assert len(got) == int(((whole["claim_type"] != "inpatient") & whole["claim_type"].notna()).sum())
    got = store.table_where("claims", ["patient_id"], [("patient_id", "in", ["P3", None])])
    assert set(got["patient_id"]) == {"P3"} and len(got) > 0


def test_absent_column_and_table(store, tmp_path):
    got = store.table_where("claims", ["claim_id", "terminal_id"], [("claim_type", "==", "inpatient")])
    assert got["terminal_id"].isna().all() and len(got) > 0
    # a filter on a column the store lacks: all null, so only isnull matches
    assert store.table_where("claims", ["claim_id"], [("terminal_id", "notnull")]).empty
    assert len(store.table_where("claims", ["claim_id"], [("terminal_id", "isnull")])) == 1000
    empty = store.table_where("referrals", ["referral_id"], [("patient_id", "in", ["P1"])])
    assert empty.empty and list(empty.columns) == ["referral_id"]


def test_bad_filters():
    with pytest.raises(ValueError, match="unknown filter operator"):
        normalize_where([("a", "<>", 1)])
    with pytest.raises(ValueError, match="empty"):
        normalize_where([])
