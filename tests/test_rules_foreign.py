"""Item codes no catalogue holds (the ``foreign_item_codes`` export quirk, variant
``item_rules_foreign``): the quirk renames codes and names one-to-one and keeps everything else;
on such a bundle the catalogue rules find nothing and the rules that learn from the data still do."""

from __future__ import annotations

import pandas as pd
import pytest

from graphkit.demo.config import VARIANTS
from graphkit.demo.quirks import apply_quirks
from graphkit.rules import load_kb, run_rules


@pytest.fixture(scope="module")
def foreign(small_rule_city, tmp_path_factory):
    out = tmp_path_factory.mktemp("foreign") / "b"
    apply_quirks(small_rule_city / "b", ["foreign_item_codes"], out=out)
    return small_rule_city / "b", out


def test_variant_is_item_rules_with_foreign_codes():
    v, base = VARIANTS["item_rules_foreign"], VARIANTS["item_rules"]
    assert v.config.rule_items and set(base.quirks) | {"foreign_item_codes"} == set(v.quirks)


def test_codes_and_names_are_renamed_one_to_one_and_nothing_else_changes(foreign):
    src, out = foreign
    a, b = pd.read_parquet(src / "claim_items.parquet"), pd.read_parquet(out / "claim_items.parquet")
    kb = load_kb().items
    assert not set(b["item_code"]) & set(kb.index.astype(str)) and not set(b["item_name"]) & set(kb["name"])
    assert set(a["item_code"]) & set(kb.index.astype(str))  # the source did use the catalogue
    for col in ("item_code", "item_name"):  # same value → same new value, distinct stay distinct
        pairs = pd.DataFrame({"old": a[col], "new": b[col]}).drop_duplicates()
        assert pairs["old"].is_unique and pairs["new"].is_unique and len(pairs) == a[col].nunique()
    keep = [c for c in a.columns if c not in ("item_code", "item_name")]
    pd.testing.assert_frame_equal(a[keep], b[keep])


def test_same_code_gets_the_same_new_code_in_another_bundle(foreign, tmp_path):
    src, out = foreign
    again = tmp_path / "again"
    apply_quirks(src, ["foreign_item_codes"], out=again)
    a, b = pd.read_parquet(out / "claim_items.parquet"), pd.read_parquet(again / "claim_items.parquet")
    assert (a["item_code"] == b["item_code"]).all()


def test_catalogue_rules_find_nothing_and_data_rules_still_do(foreign, tmp_path):
    from loaders import load_bundle

    from graphkit.store import open_store

    _, out = foreign
    load_bundle(out, tmp_path / "s", allow_demo_key=True)
    run = run_rules(open_store(tmp_path / "s"))
    hits = {k: s.get("hits", 0) for k, s in run.summary.items()}
    assert hits["BZ-001"] == hits["CF-001"] == hits["XJ-002"] == hits["CL-001"] == 0
    # beds beyond the stay (category), per-day codes learned from the data, items dated after the stay
    assert hits["XJ-001"] > 0 and hits["XJ-005"] > 0 and hits["XJ-003"] > 0


def test_peer_quantity_keeps_only_provider_months_flagged_beyond_their_volume():
    import numpy as np

    from graphkit.rules.shapes_data import _concentrated

    # one code; a big pharmacy (500 lines, 2 flagged: its volume predicts ~2.4) and a small clinic
    # (10 lines, 3 flagged: its volume predicts 0.06)
    prov = ["BIG"] * 500 + ["SMALL"] * 10
    sub = pd.DataFrame({"item_code": "C1", "provider_id": prov, "month": "2024-03"})
    hit = np.zeros(510, bool)
    hit[[0, 1, 500, 501, 502]] = True
    kept = _concentrated(sub, hit, 0.01)
    assert kept[500:503].all() and not kept[:500].any()
    # at the city's rate everywhere, nobody is kept
    even = np.zeros(510, bool)
    even[[0, 100, 200, 300, 400, 505]] = True
    assert not _concentrated(sub, even, 0.01).any()
