"""The rule shapes' lean helpers give exactly what the hash- and pandas-based forms they replace
give: quantiles value for value, pair counts dense or hashed, repeated keys, inferred supply."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphkit.rules import shapes, shapes_data

groups = st.lists(st.integers(-3, 40), min_size=1, max_size=300)


@settings(max_examples=150, deadline=None)
@given(groups, st.data())
def test_quantiles_by_equals_pandas_groupby_quantile_value_for_value(keys, data):
    n = len(keys)
    v = np.array(data.draw(st.lists(st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.1, 0.2, 0.3, np.nan])),
                                    min_size=n, max_size=n)), dtype="float64")
    key = np.array(keys, dtype=np.int64)
    qs = (0.25, 0.5, 0.75, 0.95, 0.99)
    got = shapes_data.quantiles_by(key, v, qs)
    g = pd.DataFrame({"k": key, "v": v}).groupby("k")["v"]
    for q in qs:
        assert np.array_equal(got[q].to_numpy(), g.quantile(q).to_numpy(), equal_nan=True), q
    assert got["n"].tolist() == g.size().tolist()
    assert got.index.tolist() == sorted(set(keys))


@settings(max_examples=150, deadline=None)
@given(groups, st.data())
def test_sorted_pairs_equals_lexsort(keys, data):
    n = len(keys)
    v = np.array(data.draw(st.lists(st.one_of(st.floats(-1e9, 1e9), st.sampled_from([0.0, -0.0, 0.1, 0.2])),
                                    min_size=n, max_size=n)), dtype="float64")
    for dtype in (np.int64, np.int32):
        key = np.array(keys, dtype=dtype)
        o = np.lexsort((v, key))
        sk, sv = shapes_data.sorted_pairs(key, v)
        assert sk.dtype == key.dtype and sk.tolist() == key[o].tolist()
        assert sv.tolist() == v[o].tolist()  # -0.0 == 0.0: the order of equal values is free


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(-1, 12)), min_size=1, max_size=300))
def test_pair_counts_and_distinct_counts_are_the_same_dense_or_hashed(pairs):
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    dense = shapes_data._pair_counts(a, b), shapes_data._distinct_counts(a, b)
    assert shapes_data._dense_pair_counts(a, b) is not None
    old = shapes_data._DENSE_PER_ROW, shapes_data._DENSE_MIN
    shapes_data._DENSE_PER_ROW, shapes_data._DENSE_MIN = 0, 0
    try:
        assert shapes_data._dense_pair_counts(a, b) is None
        hashed = shapes_data._pair_counts(a, b), shapes_data._distinct_counts(a, b)
    finally:
        shapes_data._DENSE_PER_ROW, shapes_data._DENSE_MIN = old
    assert dense[0][0].tolist() == hashed[0][0].tolist()
    assert dense[0][1].tolist() == hashed[0][1].tolist()
    assert dense[1].tolist() == hashed[1].tolist()
    # against the plain definition
    cnt = pd.Series(list(zip(a, b))).value_counts()
    assert dense[0][0].tolist() == [cnt[(x, y)] for x, y in zip(a, b)]
    assert dense[1].tolist() == [len({y for x, y in zip(a, b) if x == g}) for g in range(a.max() + 1)]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["p1", "p2", None]), st.integers(0, 4), st.integers(0, 3)), min_size=1,
                max_size=200))
def test_combined_key_and_repeated_agree_with_group_sizes(rows):
    d = pd.DataFrame(rows, columns=["p", "c", "day"])
    d["p"] = pd.Categorical(d["p"], categories=["p1", "p2"])
    key = shapes.combined_key(d, ["p", "c", "day"])
    gid = shapes.group_ids(d, ["p", "c", "day"])
    # equal keys exactly where the rows are equal (nulls their own value)
    assert pd.factorize(key)[0].tolist() == pd.factorize(gid)[0].tolist()
    n = np.bincount(gid)[gid]
    assert shapes.repeated(key).tolist() == (n > 1).tolist()


def test_inferred_supply_is_the_same_with_one_key_or_numbered_pairs(monkeypatch):
    rng = np.random.default_rng(3)
    n = 4000
    pat = rng.integers(0, 60, n)
    code = rng.integers(0, 5, n)
    day = (pat * 7 + code * 3 + rng.integers(0, 200, n)) % 180
    sub = pd.DataFrame({
        "patient_id": pd.Categorical.from_codes(pat, categories=[f"P{i:03d}" for i in range(60)]),
        "item_code": pd.Categorical.from_codes(code, categories=list("ABCDE")),
        "sday": day.astype(np.int32), "quantity": rng.choice([10.0, 20.0, 30.0], n)})
    # a regular refill for code A: every 30 days, 30 units
    reg = np.flatnonzero(code == 0)
    sub.loc[reg, "sday"] = ((pat[reg] % 5) + 30 * (np.arange(reg.size) % 6)).astype(np.int32)
    sub.loc[reg, "quantity"] = 30.0
    rows = np.flatnonzero(rng.random(n) < 0.8)
    one = shapes_data._inferred_supply(sub, 5, 0.5, rows)
    monkeypatch.setattr(shapes_data, "_ONE_KEY", 1)
    numbered = shapes_data._inferred_supply(sub, 5, 0.5, rows)
    assert np.array_equal(one, numbered, equal_nan=True)
    assert np.isfinite(one).any()  # the regular code is learnt
    whole = shapes_data._inferred_supply(sub.iloc[rows].reset_index(drop=True), 5, 0.5)
    assert np.array_equal(one, whole, equal_nan=True)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(-5, 5), st.sampled_from([0.5, -2.0, 7.25, np.nan]), st.integers(0, 10**12),
                          st.booleans()), min_size=1, max_size=200))
def test_lexsort_packed_equals_lexsort(rows):
    a = np.array([r[0] for r in rows], dtype=np.int32)
    b = np.array([r[1] for r in rows], dtype="float64")
    c = np.array([r[2] for r in rows], dtype=np.int64)  # sparse: numbered by rank
    d = np.array([r[3] for r in rows], dtype=bool)
    for keys in ([a], [b, a], [c, d, a], [d, c, b, a], [a, a, a, a, a, a, c, c]):
        assert shapes.lexsort_packed(keys).tolist() == np.lexsort(keys).tolist()
