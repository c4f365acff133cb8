"""Every rule of the shipped pack on a real loaded store: a violating case is hit, its
just-compliant look-alike is not (tests/rules_cases.py), with exact 违规金额 where the rule
defines it; the findings, the scan summary and the skip-with-reason behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import write_bundle
from graphkit.rules import load_pack, rule_findings, run_rules
from rules_cases import build, hits_by_rule

PACK = load_pack()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from loaders import load_bundle

    from graphkit.store import open_store

    root = tmp_path_factory.mktemp("rules")
    with pytest.MonkeyPatch.context() as mp:  # module scope: the per-test audit fixture does not reach here
        mp.setenv("GRAPHKIT_AUDIT_LOG", str(root / "audit.jsonl"))
        b = build()
        load_bundle(write_bundle(root / "bundle", b.tables()), root / "store", allow_demo_key=True)
    store = open_store(root / "store")
    run = run_rules(store, PACK)
    return b, store, run, hits_by_rule(run)


def test_pack_has_25_rules_in_every_category_and_every_rule_has_a_case(loaded):
    b, _, run, _ = loaded
    assert len(PACK.rules) >= 25
    assert {r.category for r in PACK.rules} >= {"超支付范围", "超支付标准", "重复计费", "分解计费", "串换项目", "虚记项目",
                                                 "超量开药", "低标准入院"}
    assert sorted(b.cases) == sorted(r.id for r in PACK.rules)
    assert all(s["status"] == "ran" for s in run.summary.values()), {k: s["reason"] for k, s in run.summary.items()}


@pytest.mark.parametrize("rule_id", [r.id for r in PACK.rules])
def test_rule_hits_the_violation_and_spares_the_lookalike(loaded, rule_id):
    b, _, _, hits = loaded
    bad, good = b.cases[rule_id]
    got = hits.get(rule_id, set())
    assert set(bad) <= got, f"{rule_id} missed {set(bad) - got}"
    assert not (set(good) & got), f"{rule_id} hit the compliant {set(good) & got}"


def _deduct(run, rule_id: str, claim: str) -> float:
    df = run.frame.df
    h = run.hits[run.hits["rule_id"] == rule_id]
    m = df["claim_id"].to_numpy()[h["row"].to_numpy()] == claim
    return round(float(h["deduct"].to_numpy()[m].sum()), 2)


@pytest.mark.parametrize("rule_id,claim,expected", [
    ("BZ-001", "BZ1B", 1.00),     # (18.50 − 18.00) × 2
    ("BZ-002", "BZ2B", 15.00),    # 45.00 − Q3 30.00
    ("BZ-002", "BZ2C", 10.00),    # 60.00 − the price acting as a ceiling, 50.00
    ("CF-006", "CF6B", 12.00),    # one of two units
    ("CF-007", "CF7B", 20.00),    # one of two admission assessments
    ("XJ-005", "XJ5B", 60.00),    # two nursing days too many
    ("XJ-006", "XJ6B", 4.00),     # 40 × (5 − 1.5 · 3) / 5
    ("CL-007", "CL7B", 7.50),     # 30 × (60 − 1.5 · 30) / 60
    ("CL-009", "CL9B", 15.00),    # 60 × (4 − 1.5 · 2) / 4
    ("CF-001", "CF1B", 5.00),     # the contained single item
    ("CF-002", "CF2B", 45.00),    # the cheaper of two beds on one day
    ("CF-003", "CF3B", 20.00),    # one of two units
    ("XJ-001", "XJ1B", 45.00),    # one bed day too many
    ("XJ-002", "XJ2B", 60.00),    # two nursing days too many
    ("CL-001", "CL1B", 92.00),    # 120 × (30 − 7) / 30
    ("CL-002", "CL2B", 18.50),    # one unit of five over the limit of four
    ("CL-003", "CL3B2", 18.90),   # 27 × 21 overlapped days / 30
    ("FW-004", "FW4B", 128.00),   # the whole non-payable line
    ("DB-001", "DB1B", 345.00),   # the whole stay
])
def test_amount_to_deduct(loaded, rule_id, claim, expected):
    assert _deduct(loaded[2], rule_id, claim) == expected


def test_findings_grouped_per_provider_rule_month(loaded):
    _, _, run, _ = loaded
    found = rule_findings(run)
    keys = [(f.evidence["rule_id"], f.entities[0].type, f.entities[0].id, f.evidence["month"]) for f in found]
    assert len(keys) == len(set(keys))
    f = next(f for f in found if f.evidence["rule_id"] == "BZ-001")
    assert f.kind == "rule_violation" and f.claims == ["BZ1B"] and f.entities[0].id == "H1"
    assert f.evidence["level"] == "违规" and f.evidence["obligation"].startswith("直接扣款")
    assert f.evidence["deduct_amount"] == 1.0 and f.amount_at_risk == 0.7   # fund share 70 %
    assert f.evidence["items"][0]["item_code"] == "250101001" and "第三十八条" in f.evidence["basis"]
    fj = next(f for f in found if f.evidence["rule_id"] == "FJ-002")
    assert fj.evidence["level"] == "可疑" and fj.evidence["obligation"].startswith("人工复核")
    assert fj.claims == ["FJ2B2", "FJ2B3"]


def test_a_scan_keeps_no_hits_of_common_practice_rules_and_finds_the_same(loaded, monkeypatch):
    from graphkit.rules import engine

    _, store, run, _ = loaded
    monkeypatch.setattr(engine, "MIN_COMMON", 1)  # this store has a handful of providers
    lean = run_rules(store, PACK, drop_common=0.5)
    common = {k for k, s in lean.summary.items() if engine._is_common(s, 0.5)}
    assert common and common < set(run.hits["rule_id"])
    assert set(lean.hits["rule_id"]) == set(run.hits["rule_id"]) - common
    assert {k: s["hits"] for k, s in lean.summary.items()} == {k: s["hits"] for k, s in run.summary.items()}
    key = [(f.id, f.score, f.claims) for f in rule_findings(run)]
    assert key and key == [(f.id, f.score, f.claims) for f in rule_findings(lean)]


def test_every_declarative_shape_names_the_frame_columns_it_reads(loaded):
    from graphkit.rules.shapes import SHAPE_COLUMNS, SHAPES

    _, _, run, _ = loaded
    assert set(SHAPE_COLUMNS) == set(SHAPES) - {"code"}
    assert {c for cols in SHAPE_COLUMNS.values() for c in cols} <= set(run.frame.df.columns)


def test_item_frame_gives_the_same_values_whole_sliced_gathered_and_after_eviction(loaded):
    """The column-by-column frame: a slice, positions and a re-read after the cache dropped a
    column give exactly the whole frame's values; claim ids are a sorted categorical."""
    import numpy as np
    import pandas as pd

    from graphkit.rules.frame import build_frame

    _, store, _, _ = loaded
    fr = build_frame(store, cache_bytes_per_line=0)  # room for no spread column: every read is fresh
    whole = fr.df
    assert list(whole.columns) == fr.columns and len(whole) == len(fr)
    assert fr.lazy and not fr._cache  # the 8-byte item columns are read again from the store
    rows = np.array([len(fr) - 1, 3, 0, 7])
    for cols in (["quantity", "patient_id", "iday", "claim_id"], ["unit_price", "fund_ratio", "month"]):
        got = fr.take(cols, rows)
        assert got.index.tolist() == rows.tolist()
        pd.testing.assert_frame_equal(got.astype(object), whole[cols].iloc[rows].astype(object))
        part = fr.take(cols, slice(2, 9))
        pd.testing.assert_frame_equal(part.astype(object), whole[cols].iloc[2:9].astype(object))
    cid = fr.take(["claim_id"])["claim_id"]
    assert list(cid.cat.categories) == sorted(cid.cat.categories)
    assert (cid.astype(str).to_numpy() == whole["claim_id"].astype(str).to_numpy()).all()
    big = build_frame(store)  # a cache that fits keeps a spread column for the next rule
    a = big.column("patient_id")
    assert big.column("patient_id") is a


def test_code_rule_gets_only_the_columns_its_function_declares(loaded, monkeypatch):
    from graphkit.rules import coded

    _, store, _, _ = loaded
    seen = []
    fn = coded.low_standard_admission

    def spy(sub, rule, ctx):
        seen.append(list(sub.columns))
        return fn(sub, rule, ctx)

    spy.columns = fn.columns
    monkeypatch.setattr(coded, "low_standard_admission", spy)
    run = run_rules(store, PACK, rules=["DB-001"])
    assert seen == [[c for c in fn.columns]] and run.summary["DB-001"]["status"] == "ran"
    del spy.columns  # undeclared: every column of the frame
    seen.clear()
    run_rules(store, PACK, rules=["DB-001"])
    assert set(seen[0]) == set(run.frame.columns)


def test_rule_missing_a_column_says_so_and_does_not_run(tmp_path):
    from loaders import load_bundle

    from graphkit.store import open_store

    b = build()
    t = b.tables()
    for r in t["claim_items"]:
        del r["days_supply"], r["item_time"]
    load_bundle(write_bundle(tmp_path / "b", t), tmp_path / "s")
    run = run_rules(open_store(tmp_path / "s"), PACK, rules=["CL-001", "CL-003", "XJ-003", "BZ-001"])
    assert run.summary["CL-001"]["status"] == "skipped" and "days_supply" in run.summary["CL-001"]["reason"]
    assert run.summary["XJ-003"]["status"] == "skipped" and "item_time" in run.summary["XJ-003"]["reason"]
    assert run.summary["BZ-001"]["status"] == "ran" and run.summary["BZ-001"]["hits"] == 1


def test_scan_runs_the_pack_by_default_and_reports_per_rule_counts(loaded, tmp_path):
    from graphkit.scan import scan, write_scan

    _, store, run, _ = loaded
    res = scan(store, kinds=["rule_violation"])
    assert "rule_violation" in res.parameters
    summ = res.summaries["rule_violation"]["rules"]
    assert summ["BZ-001"] == run.summary["BZ-001"] and summ["BZ-001"]["deduct_amount"] == 1.0
    paths = write_scan(res, tmp_path / "scan")
    doc = json.loads(Path(paths["findings"]).read_text("utf-8"))
    assert doc["rule_summary"]["rules"]["CF-001"]["hits"] == 1
    assert {f["kind"] for f in doc["findings"]} == {"rule_violation"}


def test_scan_skips_rules_without_items(tiny_bundle, tmp_path):
    from loaders import load_bundle

    from graphkit.scan import scan
    from graphkit.store import open_store

    (tiny_bundle / "claim_items.csv").unlink()
    load_bundle(tiny_bundle, tmp_path / "s")
    res = scan(open_store(tmp_path / "s"), kinds=["rule_violation"])
    assert res.findings == [] and "费用明细" in res.skipped["rule_violation"]


@pytest.mark.parametrize("clear", [False, True])
def test_age_limits_judge_only_what_a_birth_month_decides(tmp_path, clear):
    """A pseudonymised store keeps birth dates to the month (#16): an age limit is judged only
    where every day of the birth month gives the same verdict; a clear load judges the day."""
    from loaders import load_bundle

    from graphkit.store import open_store
    from rules_cases import LEVO, Builder

    child = ("ZR05XER011", "小儿肺热咳喘口服液", "drug")  # age_max 14 (儿童专用)
    b = Builder()
    when = "2024-03-10 09:00:00"
    b.claim("OLD15", b.person("P1", birth="2009-02-20"), when, [(*child, 1, 30.0)])   # 15 on every day of Feb 2009
    b.claim("OPEN", b.person("P2", birth="2009-03-05"), when, [(*child, 1, 30.0)])    # 15 (born ≤ Mar 10) or 14
    b.claim("YOUNG", b.person("P3", birth="2006-03-20"), when, [(*LEVO, 1, 22.0)])    # 17: under 18 (限成人)
    load_bundle(write_bundle(tmp_path / "b", b.tables()), tmp_path / "s", pseudonymise=not clear, allow_demo_key=True)
    run = run_rules(open_store(tmp_path / "s"), PACK, rules=["FW-002"])
    hit = set(run.frame.claim_id(run.hits["row"].to_numpy()))
    assert hit == ({"OLD15", "OPEN", "YOUNG"} if clear else {"OLD15"})


def test_rules_run_at_once_give_the_same_hits_and_summary(loaded, monkeypatch):
    import threading
    import time

    from graphkit.rules import engine

    _, store, run, _ = loaded
    monkeypatch.setattr(engine, "_working_budget", lambda lines: float("inf"))  # every rule beside another
    lock, active, most = threading.Lock(), [0], [0]

    def watched(fn):
        def shape(sub, rule, ctx):  # counts the rules running at this moment
            with lock:
                active[0] += 1
                most[0] = max(most[0], active[0])
            try:
                time.sleep(0.01)
                return fn(sub, rule, ctx)
            finally:
                with lock:
                    active[0] -= 1
        return shape

    for name, fn in list(engine.SHAPES.items()):
        monkeypatch.setitem(engine.SHAPES, name, watched(fn))
    both = run_rules(store, PACK, threads=2)
    assert most[0] == 2  # the threads really overlapped
    most[0] = 0
    one = run_rules(store, PACK, threads=1)
    assert most[0] == 1
    most[0] = 0
    monkeypatch.setattr(engine, "_working_budget", lambda lines: 0.0)  # no memory beside a rule: one at a time
    run_rules(store, PACK, threads=2, rules=["BZ-001", "BZ-002", "CF-001"])
    assert most[0] == 1
    for r in (both, one):
        assert list(r.hits["rule_id"].astype(str)) == list(run.hits["rule_id"].astype(str))  # the pack's order
        assert r.hits.reset_index(drop=True).equals(run.hits.reset_index(drop=True))
        assert _own(r.summary) == _own(run.summary)


def _own(summary: dict) -> dict:
    """A run's summary without what ``common_practice`` adds to it later (other tests call it)."""
    return {k: {c: v for c, v in s.items() if c not in ("leads", "reason")} for k, s in summary.items()}


def test_a_failing_rule_stops_the_run_with_its_error(loaded, monkeypatch):
    from graphkit.rules import engine

    _, store, _, _ = loaded
    monkeypatch.setattr(engine, "_working_budget", lambda lines: float("inf"))

    def boom(sub, rule, ctx):
        raise RuntimeError(f"rule {rule.id} failed")

    monkeypatch.setitem(engine.SHAPES, "peer_price", boom)
    with pytest.raises(RuntimeError, match="failed"):
        run_rules(store, PACK, threads=2)
