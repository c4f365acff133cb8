"""duplicate_claim (重复结算) on hand-made bundles: overlapping stays and identical claims minutes
apart are found at the provider that billed them; the legal look-alikes (interim settlement in
segments, a newborn under the mother's identity, twice-daily sessions) are not counted; with dates
only the identical-claims shape is not compared and the finding says so; the score comes from the
city's own rate (the same duplicates score lower in a city full of them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphkit.detectors import REGISTRY, run_detector
from graphkit.detectors.duplicates import double_settlements, duplicate_claims, overlapping_stays

from conftest import tiny_tables
from test_detectors_more import _claim, _day, _inst, _people, _store


def _stay(c: list, cid: str, pid: str, inst: str, d0: int, los: int, dx: str = "J18.9", *, fund: float = 3000.0,
          hour: int = 9) -> None:
    c.append(_claim(cid, pid, str(_day(d0) + pd.Timedelta(hours=hour)), inst=inst, ctype="inpatient",
                    end=str(_day(d0 + los) + pd.Timedelta(hours=10)), dx=dx, fund=fund))


def _visit(c: list, cid: str, pid: str, inst: str, when: pd.Timestamp, *, dx: str = "M54.5", fund: float = 60.0,
           total: float = 80.0) -> None:
    c.append(_claim(cid, pid, str(when), inst=inst, dx=dx, fund=fund, total=total))


def _city(*, natural: int = 0, dates_only: bool = False) -> dict:
    """Two hospitals H0011 (clean) and H0012, 120 ordinary inpatients and outpatients. H0012 re-bills
    5 stays (overlapping copies) and settles 4 visits twice within minutes. Look-alikes: a long stay
    settled in monthly segments at H0011, a mother's delivery stay with her newborn's stay under her
    identity at H0011, twice-daily physiotherapy at H0011. ``natural`` more hospitals, each re-billing
    2 of its 25 stays, make duplicates common in the city."""
    t = tiny_tables()
    t["institutions"] += [_inst("H0011", 2, "hospital"), _inst("H0012", 2, "hospital")]
    pids = [f"P{i:04d}" for i in range(160)]
    _people(t, pids)
    c = t["claims"]
    for i, pid in enumerate(pids[:120]):
        inst = "H0011" if i % 2 else "H0012"
        _stay(c, f"S{i:04d}", pid, inst, (i * 7) % 300, 3 + i % 6)
        _visit(c, f"V{i:04d}", pid, inst, _day((i * 11) % 300) + pd.Timedelta(hours=9, minutes=i % 50))
    for k in range(5):  # planted: H0012 re-bills stays of its own patients (one an identical copy minutes later)
        i = 2 * k
        if k == 4:
            _stay(c, f"DUP{k}", pids[i], "H0012", (i * 7) % 300, 3 + i % 6, hour=9)
            c[-1]["start_time"] = c[-1]["start_time"][:11] + "09:05:00"
            continue
        _stay(c, f"DUP{k}", pids[i], "H0012", (i * 7) % 300 + 1, 3 + i % 6, fund=2900.0)
    for k in range(4):  # planted: H0012 settles visits twice, minutes apart
        i = 2 * (k + 10)
        when = _day((i * 11) % 300) + pd.Timedelta(hours=9, minutes=i % 50 + 3)
        _visit(c, f"TWICE{k}", pids[i], "H0012", when)
    # look-alikes at H0011
    p = pids[120]
    for k in range(3):  # one 90-day stay settled monthly: segments meet on the boundary day
        _stay(c, f"SEG{k}", p, "H0011", 100 + 30 * k, 30, "Z50.1")
    mother = pids[121]
    _stay(c, "MOTHER", mother, "H0011", 50, 4, "O80")
    _stay(c, "BABY", mother, "H0011", 51, 6, "P07.3")
    for k, pid in enumerate(pids[122:137]):  # physiotherapy twice a day, five hours apart
        for d in range(3):
            for h in (8, 13):
                _visit(c, f"PT{k}-{d}-{h}", pid, "H0011", _day(200 + d) + pd.Timedelta(hours=h), dx="M54.5")
    for k in range(natural):  # hospitals where re-billed stays are common (a city-wide export artefact)
        h = f"H00{20 + k}"
        t["institutions"].append(_inst(h, 2, "hospital"))
        for j in range(25):
            _stay(c, f"N{k}-{j}", pids[j], h, 5 + 11 * j, 4)
        for j in range(2):  # 2 of 25 stays settled again (8 %)
            _stay(c, f"N{k}-{j}d", pids[j], h, 6 + 11 * j, 4)
    if dates_only:
        for row in c:
            row["start_time"] = row["start_time"][:10]
            row["end_time"] = row["end_time"][:10]
    return t


def test_shapes_on_frames():
    t = pd.to_datetime
    adm = pd.DataFrame({"claim_id": ["a", "b", "c", "d"], "patient_id": ["p", "p", "p", "q"],
                        "institution_id": ["H", "H", "H", "H"], "doctor_id": [None] * 4,
                        "start_time": t(["2024-01-01", "2024-01-02", "2024-01-20", "2024-01-02"]),
                        "end_time": t(["2024-01-10", "2024-01-04", "2024-01-22", "2024-01-05"]),
                        "diagnosis_code": ["J18"] * 4, "fund_amount": [1.0] * 4})
    pairs, touching = overlapping_stays(adm)
    assert pairs[["claim_id", "duplicate_of", "overlap_days"]].values.tolist() == [["b", "a", 2]]
    assert touching == 0
    # a stay inside a long one is paired with the long one (furthest-reaching), not the last one
    adm2 = pd.concat([adm, adm.iloc[[1]].assign(claim_id="e", start_time=t(["2024-01-05"]), end_time=t(["2024-01-08"]))])
    pairs2, _ = overlapping_stays(adm2)
    assert dict(zip(pairs2["claim_id"], pairs2["duplicate_of"])) == {"b": "a", "e": "a"}
    # one minute over the window is two settlements, not one billed twice
    c = pd.DataFrame({"claim_id": ["x", "y"], "patient_id": ["p", "p"], "provider_type": ["institution"] * 2, "provider_id": ["H", "H"],
                      "doctor_id": [None, None], "claim_type": ["outpatient"] * 2,
                      "start_time": t(["2024-01-01 09:00", "2024-01-01 09:11"]), "diagnosis_code": ["M54"] * 2,
                      "total_amount": [80.0, 80.0], "fund_amount": [60.0, 60.0]})
    assert double_settlements(c, window_s=600)[0].empty and double_settlements(c, window_s=660)[0]["claim_id"].tolist() == ["y"]
    # a different amount is a different service
    c2 = c.assign(start_time=t(["2024-01-01 09:00", "2024-01-01 09:02"]), fund_amount=[60.0, 61.0])
    assert double_settlements(c2, window_s=600)[0].empty


def test_planted_duplicates_found_look_alikes_not(tmp_path):
    store = _store(tmp_path, _city())
    fs = duplicate_claims(store)
    assert [f.entity_ids("institution", "venue") for f in fs] == [["H0012"]]
    f = fs[0]
    assert f.evidence["overlapping_stays"] == 5 and f.evidence["double_settlements"] == 4
    assert {f"DUP{k}" for k in range(5)} | {f"TWICE{k}" for k in range(4)} <= set(f.claims)
    assert not any(c.startswith(("SEG", "PT", "MOTHER", "BABY")) for c in f.claims)
    assert f.amount_at_risk == 4 * 2900.0 + 3000.0 + 4 * 60.0  # the later claim of each pair, each pair once
    checks = {c["check"]: c["outcome"] for c in f.evidence["benign_checks"]}
    assert checks == {"newborn_with_mother": "ruled_out", "interim_settlement": "ruled_out",
                      "reversal_resettlement": "not_testable", "separate_sessions": "ruled_out"}
    assert f.score > 0.05 and f.evidence["null"]["model"] == "poisson"


def test_dates_only_compares_stays_only_and_says_so(tmp_path):
    store = _store(tmp_path, _city(dates_only=True))
    (f,) = duplicate_claims(store)
    assert f.evidence["time_precision"] == "day" and f.evidence["double_settlements"] == 0
    assert f.evidence["overlapping_stays"] == 5 and not any(c.startswith("TWICE") for c in f.claims)
    checks = {c["check"]: c["outcome"] for c in f.evidence["benign_checks"]}
    assert checks["separate_sessions"] == "not_testable"
    assert "time:minute" in dict(REGISTRY["duplicate_claim"].prefers)


def test_score_is_calibrated_on_the_city(tmp_path):
    """The same re-billed stays at H0012 are less surprising where other hospitals re-bill too; several
    heavy re-billers do not hide each other (the background leaves out providers beyond the bar)."""
    quiet = duplicate_claims(_store(tmp_path, _city(), "quiet"))
    busy = duplicate_claims(_store(tmp_path, _city(natural=12), "busy"))
    h12 = {tuple(f.entity_ids("institution", "venue")): f for f in busy}[("H0012",)]
    assert h12.evidence["null"]["expected"] > quiet[0].evidence["null"]["expected"]
    assert h12.score < quiet[0].score
    # the city's own re-billers (8 % of stays each) are the background: none of them is beyond the bar
    assert all(f.score < 0.05 for f in busy if f.entity_ids("institution", "venue") != ["H0012"])
    findings, used = run_detector("duplicate_claim", _store(tmp_path, _city(), "p"), {"min_overlap_days": 30})
    assert used["min_overlap_days"] == 30 and all(f.evidence["overlapping_stays"] == 0 for f in findings)


def test_heavy_rebillers_do_not_hide_each_other():
    from graphkit.detectors.duplicates import background_null

    # five hospitals re-bill 3-6 % of their stays, forty have none: each of the five stands out
    prov = pd.DataFrame({"ds": [20, 15, 12, 10, 9] + [0] * 40, "dc": 0, "ns": [400, 300, 300, 250, 150] + [200] * 40,
                         "nc": 0}, index=[f"H{i}" for i in range(45)])
    lam, lp, out = background_null(prov, 45)
    assert out == 5 and (lp.iloc[:5] < -np.log10(45)).all()
    # leave-one-out alone (no iteration) would hide them behind each other's duplicates
    naive = (prov["ds"].sum() - prov["ds"] + 0.5) / (prov["ns"].sum() - prov["ns"] + 1) * prov["ns"]
    assert (naive.iloc[:5] > lam.iloc[:5] * 50).all()
