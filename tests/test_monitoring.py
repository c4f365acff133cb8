"""Routine fund supervision (graphkit.monitoring): exact expectations on hand-made data, seeded
draws and their audit entries, the demo city's planted over-pace providers, and the notebook."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from graphkit import monitoring as M
from graphkit.audit import AuditLog
from graphkit.errors import ParameterError
from graphkit.monitoring import MonitoringError
from graphkit.workbench.lab import NOTEBOOKS

from conftest import tiny_tables, write_bundle

NOTEBOOK = NOTEBOOKS / "04_monitoring.ipynb"


def claim(cid, pid, when, fund, *, ctype="outpatient", end=None, total=None, patient="P1", dept=None, dx=None):
    ph = ctype == "pharmacy"
    return {"claim_id": cid, "claim_type": ctype, "institution_id": None if ph else pid, "pharmacy_id": pid if ph else None,
            "patient_id": patient, "department": dept, "start_time": when, "end_time": end, "diagnosis_code": dx,
            "total_amount": fund if total is None else total, "fund_amount": fund}


def source(claims, *, institutions=("H1", "H2", "H3", "H4", "H5"), pharmacies=("Y1",), budgets=None, patients=None):
    data = {"institutions": pd.DataFrame({"institution_id": list(institutions)}),
            "pharmacies": pd.DataFrame({"pharmacy_id": list(pharmacies)}),
            "claims": pd.DataFrame(claims)}
    if budgets is not None:
        data["budgets"] = pd.DataFrame(budgets, columns=["provider_type", "provider_id", "year", "amount"])
    if patients is not None:
        data["patients"] = pd.DataFrame(patients)
    return data


# ------------------------------------------------------------------------------------------------
# Budget pace 序时进度
# ------------------------------------------------------------------------------------------------
PACE_CLAIMS = [
    claim("C01", "H1", "2024-01-10 09:00:00", 1070.0),   # +7 %  → warn
    claim("C02", "H2", "2024-01-11 09:00:00", 1120.0),   # +12 % → refuse
    claim("C03", "H3", "2024-01-12 09:00:00", 1050.0),   # exactly +5 % → not above → ok
    claim("C04", "H4", "2024-01-28 10:00:00", 2110.0, ctype="inpatient", end="2024-02-03 10:00:00"),  # settled in Feb
    claim("C05", "Y1", "2024-01-20 15:00:00", 900.0, ctype="pharmacy"),
    claim("C06", "H1", "2024-02-10 09:00:00", 1070.0),
    claim("C07", "H3", "2024-02-12 09:00:00", 1060.0),
    claim("C08", "Y1", "2024-02-20 15:00:00", 1000.0, ctype="pharmacy"),
    claim("C09", "H5", "2024-02-21 15:00:00", 99999.0),  # no budget: not listed
]
PACE_BUDGETS = [("institution", p, 2024, 12000.0) for p in ("H1", "H2", "H3", "H4")] + [
    ("pharmacy", "Y1", 2024, 12000.0), ("institution", "H1", 2023, 1.0)]  # 2023: outside the months reported


def test_budget_pace_exact_levels_and_settlement_month():
    r = M.budget_pace(source(PACE_CLAIMS, budgets=PACE_BUDGETS))
    got = {(x.provider_id, x.month): (x.months_elapsed, x.spend, x.cumulative, x.expected, x.deviation, x.level)
           for x in r.itertuples()}
    assert got == {
        ("H1", "2024-01"): (1, 1070.0, 1070.0, 1000.0, 0.07, "warn"),
        ("H1", "2024-02"): (2, 1070.0, 2140.0, 2000.0, 0.07, "warn"),
        ("H2", "2024-01"): (1, 1120.0, 1120.0, 1000.0, 0.12, "refuse"),
        ("H2", "2024-02"): (2, 0.0, 1120.0, 2000.0, -0.44, "ok"),
        ("H3", "2024-01"): (1, 1050.0, 1050.0, 1000.0, 0.05, "ok"),
        ("H3", "2024-02"): (2, 1060.0, 2110.0, 2000.0, 0.055, "warn"),
        ("H4", "2024-01"): (1, 0.0, 0.0, 1000.0, -1.0, "ok"),          # the stay is settled at discharge
        ("H4", "2024-02"): (2, 2110.0, 2110.0, 2000.0, 0.055, "warn"),
        ("Y1", "2024-01"): (1, 900.0, 900.0, 1000.0, -0.1, "ok"),
        ("Y1", "2024-02"): (2, 1000.0, 1900.0, 2000.0, -0.05, "ok"),
    }
    assert r.loc[r["level"] == "warn", "action"].unique().tolist() == ["约谈提醒/暂缓支付"]
    assert r.loc[r["level"] == "refuse", "action"].unique().tolist() == ["拒付/限期整改"]
    assert set(r["provider_type"]) == {"institution", "pharmacy"} and set(r["year"]) == {2024}


def test_budget_pace_thresholds_and_through():
    data = source(PACE_CLAIMS, budgets=PACE_BUDGETS)
    r = M.budget_pace(data, warn_above=0.06, refuse_above=0.07)
    lv = dict(zip(r["provider_id"] + "@" + r["month"], r["level"]))
    assert lv["H1@2024-01"] == "warn" and lv["H2@2024-01"] == "refuse" and lv["H3@2024-02"] == "ok"
    jan = M.budget_pace(data, through="2024-01")
    assert set(jan["month"]) == {"2024-01"}
    with pytest.raises(ParameterError):
        M.budget_pace(data, warn_above=0.2, refuse_above=0.1)


def test_budget_pace_counts_months_from_the_first_reported_month():
    claims = [claim("C1", "H1", "2024-07-05 09:00:00", 1000.0), claim("C2", "H1", "2024-08-05 09:00:00", 1100.0)]
    r = M.budget_pace(source(claims, budgets=[("institution", "H1", 2024, 12000.0)]))
    assert r["months_elapsed"].tolist() == [1, 2]
    assert r["expected"].tolist() == [1000.0, 2000.0] and r["deviation"].tolist() == [0.0, 0.05]


def test_pace_alerts_summarise_each_provider_year():
    a = M.pace_alerts(M.budget_pace(source(PACE_CLAIMS, budgets=PACE_BUDGETS)))
    assert a["provider_id"].tolist() == ["H1", "H3", "H4", "H2"]  # latest level, then deviation, then id
    rows = {x.provider_id: x for x in a.itertuples()}
    assert (rows["H1"].level, rows["H1"].months_breached, rows["H1"].first_breach) == ("warn", 2, "2024-01")
    assert (rows["H2"].level, rows["H2"].peak_deviation, rows["H2"].peak_month) == ("ok", 0.12, "2024-01")
    assert (rows["H3"].first_breach, rows["H3"].months_breached) == ("2024-02", 1)
    assert "Y1" not in rows


@pytest.mark.parametrize("budgets, message", [
    ([("pharmacy", "Y9", 2024, 1.0)], "pharmacy:Y9"),
    ([("institution", "Y1", 2024, 1.0)], "institution:Y1"),  # a pharmacy id under the wrong type
    ([("institution", "H1", 2024, 1.0), ("institution", "H1", 2024, 2.0)], "duplicate"),
    ([("institution", "H1", 2024, -1.0)], "negative"),
    ([("hospital", "H1", 2024, 1.0)], "provider_type"),
])
def test_budget_problems_are_reported(budgets, message):
    with pytest.raises(MonitoringError, match=message):
        M.budget_pace(source(PACE_CLAIMS, budgets=budgets))


def test_missing_budgets_table_is_a_clear_error():
    with pytest.raises(MonitoringError, match="budgets"):
        M.budget_pace(source(PACE_CLAIMS))


def test_budgets_through_the_loader_and_store(tmp_path):
    from loaders import load_bundle
    from loaders.validate import validate_bundle

    from graphkit.store import open_store

    tables = tiny_tables()
    tables["budgets"] = [
        {"provider_type": "institution", "provider_id": "H0001", "year": "2024", "amount": "9000"},
        {"provider_type": "pharmacy", "provider_id": "Y0001", "year": "2024", "amount": "600"},
    ]
    bundle = write_bundle(tmp_path / "b", tables)
    load_bundle(bundle, tmp_path / "store")
    store = open_store(tmp_path / "store")
    assert store.row_counts()["budgets"] == 2
    r = M.budget_pace(store)
    h = r[(r["provider_id"] == "H0001")].set_index("month")
    # H0001: C0001 (fund 150, Jan) and the stay C0003 (fund 9000) discharged on 2024-03-01
    assert h["cumulative"].to_dict() == {"2024-01": 150.0, "2024-02": 150.0, "2024-03": 9150.0}
    assert h.loc["2024-03", "level"] == "refuse" and h.loc["2024-03", "expected"] == 2250.0
    no_amount = tiny_tables()
    no_amount["budgets"] = [{"provider_type": "institution", "provider_id": "H0001", "year": "2024"}]
    rep = validate_bundle(write_bundle(tmp_path / "b2", no_amount))
    assert ("budgets", "amount", "missing_column") in set(zip(rep.issues["table"], rep.issues["column"], rep.issues["rule"]))
    bad = tiny_tables()
    bad["budgets"] = [
        {"provider_type": "hospital", "provider_id": "H0001", "year": "2024", "amount": "1"},
        {"provider_type": "pharmacy", "provider_id": "Y0001", "year": "2024", "amount": "-5"},
        {"provider_type": "pharmacy", "provider_id": "Y0001", "year": "2024", "amount": "5"},
        {"provider_type": "pharmacy", "provider_id": "Y9999", "year": "2024", "amount": "5"},
    ]
    report = validate_bundle(write_bundle(tmp_path / "bad", bad))
    rules = set(report.issues.loc[report.issues["table"] == "budgets", "rule"])
    assert {"unknown_enum", "negative_amount", "duplicate_key", "dangling_reference"} <= rules


# ------------------------------------------------------------------------------------------------
# Monthly key indicators and the focus list
# ------------------------------------------------------------------------------------------------
PATIENTS = [
    {"patient_id": "P1", "insurance_type": "employee", "low_income": False},
    {"patient_id": "P2", "insurance_type": "resident", "low_income": False},
    {"patient_id": "P3", "insurance_type": "resident", "low_income": True},
    {"patient_id": "P4", "insurance_type": None, "low_income": None},
]
IND_CLAIMS = [
    claim("C1", "H1", "2024-01-03 09:00:00", 80.0, total=100.0, patient="P1", dept="内科", dx="I10"),
    claim("C2", "H1", "2024-01-04 09:00:00", 150.0, total=200.0, patient="P2", dept="内科", dx="J06.9"),
    claim("C3", "H1", "2024-01-05 09:00:00", 4000.0, total=5000.0, ctype="inpatient", end="2024-01-09 09:00:00", patient="P1", dept="内科"),
    claim("C4", "H1", "2024-01-06 09:00:00", 2500.0, total=3000.0, ctype="inpatient", end="2024-01-09 09:00:00", patient="P3", dept="内科"),
    claim("C5", "H1", "2024-01-07 09:00:00", 800.0, total=1000.0, ctype="inpatient", end="2024-01-09 09:00:00", patient="P4", dept="内科"),
    claim("C6", "H1", "2024-02-03 09:00:00", 300.0, total=330.0, patient="P1", dept="内科", dx="E11.9"),
    claim("C7", "H1", "2024-02-04 09:00:00", 3500.0, total=4000.0, ctype="inpatient", end="2024-02-08 09:00:00", patient="P2", dept="内科"),
    claim("C8", "H1", "2024-02-05 09:00:00", 60.0, total=90.0, patient="P2", dept="外科", dx="S61.0"),
    claim("C9", "Y1", "2024-01-05 09:00:00", 40.0, total=50.0, ctype="pharmacy", patient="P2"),
]


def test_monthly_indicators_per_provider_exact():
    r = M.monthly_indicators(source(IND_CLAIMS, patients=PATIENTS))
    h = r[r["provider_id"] == "H1"].set_index("month")
    jan, feb = h.loc["2024-01"], h.loc["2024-02"]
    assert (jan.visits, jan.admissions, jan.visit_cost, jan.avg_visit_cost) == (2, 3, 300.0, 150.0)
    assert np.isnan(jan.avg_visit_cost_growth)
    assert (jan.inpatient_cost, jan.avg_inpatient_cost) == (9000.0, 3000.0)
    assert (jan.avg_inpatient_cost_employee, jan.avg_inpatient_cost_low_income) == (5000.0, 3000.0)
    assert np.isnan(jan.avg_inpatient_cost_resident)  # P3 is low-income: counted there only; P4 in no group
    assert (jan.chronic_outpatient_cost, jan.fund_spend) == (100.0, 7530.0)
    assert (feb.visits, feb.admissions, feb.avg_visit_cost, feb.avg_visit_cost_growth) == (2, 1, 210.0, 0.4)
    assert (feb.avg_inpatient_cost_resident, feb.chronic_outpatient_cost, feb.fund_spend) == (4000.0, 330.0, 3860.0)
    y = r[r["provider_id"] == "Y1"].iloc[0]
    assert (y.provider_type, y.visits, y.admissions, y.avg_visit_cost) == ("pharmacy", 1, 0, 50.0)
    assert np.isnan(y.avg_inpatient_cost)


def test_monthly_indicators_per_department():
    r = M.monthly_indicators(source(IND_CLAIMS, patients=PATIENTS), by="department")
    k = {(x.provider_id, x.department if isinstance(x.department, str) else None, x.month): x for x in r.itertuples()}
    assert (k[("H1", "内科", "2024-02")].avg_visit_cost, k[("H1", "内科", "2024-02")].avg_visit_cost_growth) == (330.0, 1.2)
    assert np.isnan(k[("H1", "外科", "2024-02")].avg_visit_cost_growth)
    assert k[("Y1", None, "2024-01")].visits == 1
    with pytest.raises(ParameterError):
        M.monthly_indicators(source(IND_CLAIMS), by="doctor")


def test_focus_list_top3_per_criterion():
    ind = pd.DataFrame({
        "provider_type": "institution", "provider_id": [f"H{i}" for i in range(6)], "month": "2024-03",
        "visits": [100, 90, 80, 70, 5, 60], "avg_visit_cost_growth": [0.0, 0.1, 0.2, 0.3, 5.0, np.nan],
        "fund_spend": [1.0, 6.0, 5.0, 4.0, 3.0, 2.0],
    })
    older = ind.assign(month="2024-02", visits=1000)
    f = M.focus_list(pd.concat([older, ind]), min_visits=20)
    got = {c: f.loc[f["criterion"] == c, "provider_id"].tolist() for c in ("visits", "cost_growth", "fund_spend")}
    assert got == {"visits": ["H0", "H1", "H2"], "cost_growth": ["H3", "H2", "H1"], "fund_spend": ["H1", "H2", "H3"]}
    assert set(f["month"]) == {"2024-03"} and f["rank"].tolist() == [1, 2, 3] * 3
    assert M.focus_list(pd.concat([older, ind]), month="2024-02")["month"].eq("2024-02").all()


# ------------------------------------------------------------------------------------------------
# Double-random inspection 双随机
# ------------------------------------------------------------------------------------------------
def _population():
    return source([], institutions=[f"H{i:02d}" for i in range(30)], pharmacies=[f"Y{i:02d}" for i in range(20)])


RISK = dict(
    scores=pd.DataFrame({"entity_type": ["institution", "doctor"], "entity_id": ["H00", "D1"], "score": [1.0, 1.0]}),
    complaints=pd.DataFrame({"provider_id": ["H01", "H01", "H01"]}),
    violations=pd.DataFrame({"provider_type": ["pharmacy"], "provider_id": ["Y00"], "count": [5]}),
)


def test_inspection_weights_follow_risk():
    c = M.inspection_candidates(_population(), **RISK).set_index("provider_id")
    assert len(c) == 50
    assert (c.loc["H00", "weight"], c.loc["H01", "weight"], c.loc["Y00", "weight"], c.loc["H02", "weight"]) == (5.0, 2.5, 4.0, 1.0)
    assert c.loc["H01", "complaints"] == 3 and c.loc["Y00", "violations"] == 5
    assert abs(c.loc[c["provider_type"] == "pharmacy", "share"].sum() - 1) < 1e-5
    with pytest.raises(ParameterError):
        M.inspection_candidates(_population(), weights={"nonsense": 1})


def test_draw_is_reproducible_by_seed_and_audited(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    roster = [f"JC{i}" for i in range(6)]
    a = M.draw_inspection(_population(), roster, seed=11, n_targets={"institution": 3, "pharmacy": 2}, log=log, **RISK)
    b = M.draw_inspection(_population(), roster, seed=11, n_targets={"institution": 3, "pharmacy": 2}, log=log, **RISK)
    pd.testing.assert_frame_equal(a, b)
    others = [M.draw_inspection(_population(), roster, seed=s, n_targets=5, log=log, **RISK)["provider_id"].tolist()
              for s in (12, 13, 14)]
    assert any(o != a["provider_id"].tolist() for o in others)
    assert a["provider_type"].value_counts().to_dict() == {"institution": 3, "pharmacy": 2}
    assert a["order"].tolist() == [1, 2, 3, 4, 5] and a["draw_id"].nunique() == 1
    for s in a["inspectors"]:
        ids = s.split(";")
        assert len(ids) == 2 == len(set(ids)) and set(ids) <= set(roster)
    entries = log.find("inspection_draw")
    assert len(entries) == 5 and log.verify().ok
    d = entries[0]["details"]
    assert d["seed"] == 11 and d["draw_id"] == a["draw_id"].iloc[0] and d["candidates"] == 50
    assert [t["provider"] for t in d["targets"]] == (a["provider_type"] + ":" + a["provider_id"]).tolist()
    assert [";".join(t["inspectors"]) for t in d["targets"]] == a["inspectors"].tolist()


def test_draw_favours_high_risk_providers(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    data = source([], institutions=[f"H{i}" for i in range(10)], pharmacies=())
    sc = pd.DataFrame({"entity_type": ["institution"], "entity_id": ["H0"], "score": [1.0]})  # weight 5 of 14
    hits = sum(M.draw_inspection(data, ["A", "B"], seed=s, n_targets=1, scores=sc, log=log)["provider_id"].iloc[0] == "H0"
               for s in range(100))
    assert 20 < hits < 55  # expected 100 × 5/14 ≈ 36; uniform would give 10


def test_draw_respects_conflicts_and_limits(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    data = source([], institutions=["H1", "H2", "H3"], pharmacies=())
    conflicts = pd.DataFrame({"inspector_id": ["A", "A", "A"], "provider_id": ["H1", "H2", "H3"]})
    d = M.draw_inspection(data, pd.DataFrame({"inspector_id": ["A", "B", "C"]}), seed=1, n_targets=3,
                          conflicts=conflicts, log=log)
    assert d["inspectors"].tolist() == ["B;C"] * 3
    with pytest.raises(MonitoringError, match="conflict"):
        M.draw_inspection(data, ["A", "B"], seed=1, n_targets=1, conflicts=conflicts, log=log)
    with pytest.raises(ParameterError):
        M.draw_inspection(data, ["A", "B"], seed=1, n_targets=4, log=log)
    with pytest.raises(ParameterError):
        M.draw_inspection(data, ["A"], seed=1, n_targets=1, log=log)


# ------------------------------------------------------------------------------------------------
# Review sampling 审核抽查
# ------------------------------------------------------------------------------------------------
def _review_claims(extra: dict[str, list] | None = None):
    rows = [claim(f"C{i:03d}", "H1", "2024-03-01 09:00:00", 900.0, total=1000.0, ctype="inpatient",
                  end="2024-03-05 09:00:00") for i in range(41)]
    rows += [claim(f"C{i:03d}", "H1", "2024-03-02 09:00:00", 10.0, total=20.0) for i in range(41, 51)]
    rows += [claim("C900", "H2", "2024-03-03 09:00:00", 40000.0, total=50000.0),      # at the threshold
             claim("C901", "H2", "2024-03-03 09:00:00", 40000.0, total=49999.99),
             claim("C902", "H2", "2024-03-03 09:00:00", 70000.0, total=80000.0)]
    df = pd.DataFrame(rows)
    for k, v in (extra or {}).items():
        df[k] = v
    return {"claims": df, "institutions": pd.DataFrame({"institution_id": ["H1", "H2"]})}


def test_review_sample_without_manual_column_takes_every_large_claim(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    s = M.review_sample(_review_claims(), seed=3, log=log)
    rand = s[s["reason"] == "random_inpatient"]
    assert len(rand) == 3 == s.attrs["random_n"]  # ceil(5 % of 41)
    assert (rand["claim_type"] == "inpatient").all()
    assert s.loc[s["reason"] == "manual_large", "claim_id"].tolist() == ["C900", "C902"]
    assert s.attrs["manual_basis"].startswith("none") and s["manual"].isna().all()
    assert s["claim_id"].is_monotonic_increasing
    again = M.review_sample(_review_claims(), seed=3, log=log)
    pd.testing.assert_frame_equal(s, again)
    other = [set(M.review_sample(_review_claims(), seed=k, log=log)["claim_id"]) for k in (4, 5, 6)]
    assert any(o != set(s["claim_id"]) for o in other)
    e = log.find("review_sample")
    assert len(e) == 5 and e[0]["details"]["claims"] == s["claim_id"].tolist()
    assert e[0]["details"]["seed"] == 3 and e[0]["details"]["sample_id"] == s.attrs["sample_id"]
    assert e[0]["details"]["inpatient_claims"] == 41 and log.verify().ok


@pytest.mark.parametrize("column, values", [
    ("manual", [False] * 51 + [True, True, False]),
    ("manual", ["否"] * 51 + ["是", "yes", "no"]),
    ("settlement_mode", ["direct"] * 51 + ["手工报销", "manual", "联网结算"]),
])
def test_review_sample_manual_column(tmp_path, column, values):
    s = M.review_sample(_review_claims({column: values}), seed=3, log=AuditLog(tmp_path / "a.jsonl"))
    assert s.loc[s["reason"].str.contains("manual_large"), "claim_id"].tolist() == ["C900"]  # C902 is not manual
    assert s.attrs["manual_basis"] == column
    assert s.set_index("claim_id").loc["C900", "manual"] == True  # noqa: E712


def test_review_sample_options(tmp_path):
    log = AuditLog(tmp_path / "a.jsonl")
    s = M.review_sample(_review_claims(), seed=3, rate=0.5, amount_column="fund_amount", manual_threshold=70000, log=log)
    assert s.attrs["random_n"] == 21 and s.loc[s["reason"] == "manual_large", "claim_id"].tolist() == ["C902"]
    assert M.review_sample(_review_claims(), seed=3, end="2024-03-02", log=log)["reason"].eq("random_inpatient").all()
    with pytest.raises(MonitoringError):
        M.review_sample(_review_claims(), seed=3, manual_column="manual", log=log)
    with pytest.raises(ParameterError):
        M.review_sample(_review_claims(), seed=3, rate=0, log=log)


def test_review_sample_reads_an_extra_column_from_the_store(tmp_path):
    from loaders import load_bundle

    from graphkit.store import open_store

    tables = tiny_tables()
    for i, r in enumerate(tables["claims"]):
        r["settlement_mode"] = "零星报销" if i == 2 else "联网结算"
    tables["claims"][2]["total_amount"] = "60000"
    tables["claims"][4]["total_amount"] = "70000"  # large but not manual
    load_bundle(write_bundle(tmp_path / "b", tables), tmp_path / "store")
    s = M.review_sample(open_store(tmp_path / "store"), seed=1, log=AuditLog(tmp_path / "a.jsonl"))
    assert s.attrs["manual_basis"] == "settlement_mode"
    assert set(s["claim_id"]) == {"C0003"} and s["reason"].iloc[0] == "random_inpatient;manual_large"


# ------------------------------------------------------------------------------------------------
# Penalties and ranking
# ------------------------------------------------------------------------------------------------
def test_penalty_multiples_follow_the_rulebook_tiers(tmp_path):
    v = pd.DataFrame({"provider_id": list("ABCDEF"), "amount": [0.0, 10000.0, 10000.01, 50000.0, 100000.0, 100000.01]})
    p = M.penalties(v)
    assert p["penalty_multiple"].tolist() == [2, 2, 3, 3, 4, 5]
    assert p["penalty_amount"].tolist() == [0.0, 20000.0, 30000.03, 150000.0, 400000.0, 500000.05]
    assert p["tier"].tolist() == ["≤10,000", "≤10,000", "≤50,000", "≤50,000", "≤100,000", ">100,000"]
    assert p["provider_id"].tolist() == list("ABCDEF")
    custom = M.penalties(v, tiers=[(20000, 1), (None, 2)])
    assert custom["penalty_multiple"].tolist() == [1, 1, 1, 2, 2, 2]
    from importlib import resources

    text = resources.files("graphkit").joinpath("data/rulebook.toml").read_text("utf-8")
    path = tmp_path / "rb.toml"
    path.write_text(text.replace("upto = 10000.0\nmultiple = 2", "upto = 10000.0\nmultiple = 1"), "utf-8")
    assert M.penalties(v, rulebook=path)["penalty_multiple"].tolist() == [1, 1, 3, 3, 4, 5]
    with pytest.raises(ParameterError):
        M.penalties(v, tiers=[(100, 1)])
    with pytest.raises(MonitoringError):
        M.penalties(pd.DataFrame({"amount": [-1.0]}))


def test_bottom_ranking_shares_bounds_and_ties():
    ph = pd.DataFrame({"provider_type": "pharmacy", "provider_id": [f"Y{i:03d}" for i in range(100)], "year": 2024,
                       "score": np.arange(100, dtype=float)})
    few = pd.DataFrame({"provider_type": "institution", "provider_id": [f"H{i}" for i in range(10)], "year": 2024,
                        "score": [50.0, 60.0] + [90.0] * 8})
    many = pd.DataFrame({"provider_type": "institution", "provider_id": [f"H{i:03d}" for i in range(200)], "year": 2025,
                         "score": np.arange(200, dtype=float)})
    b = M.bottom_ranking(pd.concat([ph, few, many]))
    got = {k: g["provider_id"].tolist() for k, g in b.groupby(["year", "provider_type"])}
    assert got == {(2024, "pharmacy"): ["Y000", "Y001", "Y002"], (2024, "institution"): ["H0"],
                   (2025, "institution"): ["H000", "H001", "H002"]}
    assert {k: g["rank"].tolist() for k, g in b.groupby(["year", "provider_type"])} == {
        (2024, "pharmacy"): [1, 2, 3], (2024, "institution"): [1], (2025, "institution"): [1, 2, 3]}
    assert set(zip(b["provider_type"], b["of"])) == {("pharmacy", 100), ("institution", 10), ("institution", 200)}
    tie = pd.DataFrame({"provider_type": "pharmacy", "provider_id": ["Y1", "Y2", "Y3"], "year": 2024, "score": [5.0, 5.0, 9.0]})
    assert M.bottom_ranking(tie)["provider_id"].tolist() == ["Y1", "Y2"]
    assert M.bottom_ranking(tie, include_ties=False)["provider_id"].tolist() == ["Y1"]


def test_yearly_scores_deductions():
    data = source([claim("C1", "H1", "2024-05-01 09:00:00", 1.0)], institutions=["H1", "H2", "H3"], pharmacies=["Y1"])
    pace = pd.DataFrame({"provider_type": ["institution"] * 3, "provider_id": ["H1", "H1", "H2"], "year": [2024, 2024, 2023],
                         "level": ["warn", "refuse", "refuse"]})
    scores = pd.DataFrame({"entity_type": ["pharmacy"], "entity_id": ["Y1"], "score": [0.5]})
    viol = pd.DataFrame({"provider_id": ["H2"] * 6 + ["H3"], "year": [2024] * 6 + [2023]})
    comp = pd.DataFrame({"provider_type": ["institution"], "provider_id": ["H3"], "count": [30]})
    y = M.yearly_scores(data, scores=scores, pace=pace, violations=viol, complaints=comp).set_index("provider_id")
    assert set(y["year"]) == {2024}
    assert y["score"].to_dict() == {"H1": 90.0, "H2": 80.0, "H3": 90.0, "Y1": 85.0}
    assert y.loc["H2", "violation_deduction"] == 20.0 and y.loc["H3", "complaint_deduction"] == 10.0


# ------------------------------------------------------------------------------------------------
# The demo city and the notebook
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from graphkit.workbench.testing import make_demo

    paths = make_demo(tmp_path_factory.mktemp("mon-demo") / "city", patients=2000, seed=5)
    paths["truth"] = json.loads((paths["out"] / "bundle" / "truth.json").read_text("utf-8"))
    return paths


def test_demo_city_over_pace_providers_are_found(demo):
    from graphkit.store import open_store

    truth = demo["truth"]["monitoring"]
    assert len(truth["over_pace"]) >= 4 and {o["level"] for o in truth["over_pace"]} == {"warn", "refuse"}
    alerts = M.pace_alerts(M.budget_pace(open_store(demo["store"])))
    found = {(a.provider_type, a.provider_id, a.year): (a.level, a.deviation, a.month) for a in alerts.itertuples()}
    planted = {(o["provider_type"], o["provider_id"], o["year"]): (o["level"], o["deviation"], o["month"])
               for o in truth["over_pace"]}
    assert set(found) == set(planted)  # every planted provider, and no other (near-pace ones stay below +5 %)
    for k, (level, dev, month) in planted.items():
        assert found[k][0] == level and found[k][2] == month and abs(found[k][1] - dev) < 1e-5, k
    assert not {(n["provider_type"], n["provider_id"], n["year"]) for n in truth["near_pace"]} & set(found)


def test_notebook_is_thin_and_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and nb.metadata["kernelspec"]["name"] == "python3"
    for c in code:
        assert c.outputs == [] and c.execution_count is None
        assert len(c.source.splitlines()) <= 6
    assert "from graphkit import monitoring" in code[0].source


def test_notebook_runs_headless(demo, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    audit = tmp_path / "audit.jsonl"
    for k, v in {"GRAPHKIT_STORE": str(demo["store"]), "GRAPHKIT_FINDINGS": str(demo["findings"]),
                 "GRAPHKIT_AUDIT_LOG": str(audit), "GRAPHKIT_USER": "nbclient", "NEO4J_URI": ""}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("GRAPHKIT_SCORES", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "assert len(alerts) == len({o['provider_id'] for o in __import__('json').load(open(%r))['monitoring']['over_pace']})\n"
        "assert scores is not None and len(draw) == 6 and len(focus) == 9 and len(bottom) >= 2"
        % str(demo["out"] / "bundle" / "truth.json")))
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    images = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"{out.get('ename')}: {out.get('evalue')}"
            if out.output_type == "stream" and out.name == "stderr":
                assert "Traceback" not in out.text, out.text
            images += "image/png" in out.get("data", {})
    assert images == 6
    log = AuditLog(audit)
    assert [e["action"] for e in log.entries()] == ["inspection_draw", "review_sample"]
    from graphkit.identity import os_account
    # the actor is the OS account; GRAPHKIT_USER is only a display name recorded beside it
    assert all(e["actor"] == os_account() for e in log.entries()) and log.verify().ok
