"""indicator_outlier (监控指标异常): an up-coder of ordinary case mix is found, a dialysis-like
specialty of the same size is not; the risk model and evaluate treat the kind like any other."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphkit.detectors import run_detector
from graphkit.evaluate import evaluate
from graphkit.risk import provider_risk
from graphkit.risk.shared import shared_indicators
from graphkit.store.embedded import EmbeddedStore


def _store(tmp_path):
    """24 clinics: 50 patients with two J06.9 visits each and 20 with one N18.5 visit, every
    visit 100 yuan. H_UP: the same patients and visits, its J06.9 visits billed at 450 (an
    up-coder). Three dialysis centres D1–D3: 40 N18.5 patients, three sessions each at 450."""
    provs: dict[str, list[tuple[str, float, int, int]]] = {}  # id -> (dx, cost, patients, visits each)
    for i in range(24):
        provs[f"H{i:02d}"] = [("J06.9", 100.0, 50, 2), ("N18.5", 100.0, 20, 1)]
    provs["H_UP"] = [("J06.9", 450.0, 50, 2), ("N18.5", 100.0, 20, 1)]
    for i in (1, 2, 3):
        provs[f"D{i}"] = [("N18.5", 450.0, 40, 3)]
    inst, docs, rows, pats = [], [], [], []
    day0 = np.datetime64("2024-01-01T00:00:00")
    cid = pid = 0
    for hid, blocks in provs.items():
        inst.append({"institution_id": hid, "name": hid, "level": 1, "ownership": "private", "kind": "clinic", "region": "R1"})
        docs.append({"doctor_id": f"D_{hid}", "institution_id": hid, "department": "全科", "name": None})
        for dx, cost, npat, visits in blocks:
            for _ in range(npat):
                pid += 1
                pats.append(f"P{pid:05d}")
                for v in range(visits):
                    cid += 1
                    rows.append({"claim_id": f"C{cid:06d}", "card_id": f"K{pid:05d}", "patient_id": f"P{pid:05d}",
                                 "claim_type": "outpatient", "institution_id": hid, "pharmacy_id": None,
                                 "doctor_id": f"D_{hid}", "start_time": day0 + np.timedelta64(pid % 60 + 7 * v, "D"),
                                 "diagnosis_code": dx, "total_amount": cost, "fund_amount": cost * 0.7})
    patients = pd.DataFrame({"patient_id": pats, "sex": "F", "region": "R1", "birth_date": pd.to_datetime("1970-01-01")})
    claims = pd.DataFrame(rows).assign(start_time=lambda d: pd.to_datetime(d["start_time"]))
    EmbeddedStore.write(tmp_path, {"institutions": pd.DataFrame(inst), "doctors": pd.DataFrame(docs), "patients": patients,
                                   "claims": claims})
    return EmbeddedStore(tmp_path), claims


def test_upcoder_found_dialysis_specialty_not(tmp_path):
    store, claims = _store(tmp_path)
    fs, used = run_detector("indicator_outlier", store)
    assert [f.entity_ids("institution", "venue") for f in fs] == [["H_UP"]]
    f = fs[0]
    up = claims[claims["institution_id"] == "H_UP"]
    # the claims above their case-mix expectation: the 100 J06.9 visits (315 yuan against the cell's 70)
    assert f.claims == sorted(up.loc[up["diagnosis_code"] == "J06.9", "claim_id"])
    assert f.amount_at_risk == pytest.approx(100 * (315.0 - 70.0))
    assert [(e.type, e.id, e.role) for e in f.entities] == [("institution", "H_UP", "venue"), ("doctor", "D_H_UP", "treating")]
    assert 0 < f.score < 1 and " / " in f.summary
    null = f.evidence["null"]
    assert {"peer_group", "peer_size", "peer_median", "robust_scale", "z", "p_one_sided", "fence", "n_tests"} <= set(null)
    assert null["peer_group"] == "institution|clinic|L1|private|R1" and null["peer_size"] == 28
    # 28 clinics × 7 indicator families the data supports (one doctor each: no one-doctor concentration)
    assert null["z"] > null["fence"] and null["n_tests"] == 28 * 7
    checks = {c["check"]: c["outcome"] for c in f.evidence["benign_checks"]}
    assert checks == {"case_mix": "ruled_out", "specialty": "ruled_out", "small_provider": "ruled_out",
                      "referral_hub": "not_testable", "data_coverage": "ruled_out",
                      "institution_residents": "not_testable", "group_event": "ruled_out"}
    assert used["min_peers"] == 10


def test_dialysis_centres_are_beyond_the_clinics_but_explained_by_their_specialty(tmp_path):
    store, _ = _store(tmp_path)
    res = provider_risk(store, [])
    ents = res.activity.entities
    rows = {ents.at[i, "entity_id"]: i for i in range(len(ents)) if ents.at[i, "entity_type"] == "institution"}
    hit = res.excess[res.excess["excess"] > 0]
    assert {rows["D1"], rows["D2"], rows["D3"], rows["H_UP"]} <= set(hit["row"])  # all four past a fence
    fs, _ = run_detector("indicator_outlier", store)
    assert {i for f in fs for i in f.entity_ids("institution")} == {"H_UP"}
    # in the score's blind share only what the benign checks leave counts: the up-coder's, not theirs
    sc = res.scores.set_index("entity_id")
    assert sc.loc["H_UP", "indicator_hazard"] > 0.5
    assert (sc.loc[["D1", "D2", "D3"], "indicator_hazard"] == 0).all()


def test_risk_model_leaves_the_kind_out_of_findings_and_prior_labels(tmp_path):
    """Measured: counting indicator_outlier in F lowered every variant's provider AUC (docs/risk-model.md);
    its evidence enters through the prior and the blind share (benign-checked), never F — the same
    whether the scan ran the kind or the risk model runs it."""
    store, _ = _store(tmp_path)
    fs, _ = run_detector("indicator_outlier", store)
    with_kind = provider_risk(store, fs).scores
    without = provider_risk(store, []).scores
    pd.testing.assert_frame_equal(with_kind, without)
    sc = with_kind.set_index("entity_id")
    assert (sc["findings"] == 0).all()
    assert sc.at["H_UP", "indicators"] > 0
    parts = sc["intercept"] + sc["exposure"] + sc["indicators"] + sc["network"]
    assert np.allclose(parts, sc["prior_logit"], atol=1e-5)


def test_indicators_computed_once_per_scan(tmp_path):
    store, _ = _store(tmp_path)
    a = shared_indicators(store)
    run_detector("indicator_outlier", store)
    assert shared_indicators(store)[0] is a[0]  # the detector used the same arrays
    provider_risk(store, [])                    # the risk model takes them and lets them go
    assert shared_indicators(store)[0] is not a[0]


def test_evaluate_counts_provider_fraud_as_the_kind_and_lookalikes_as_hard_negatives(tmp_path):
    store, claims = _store(tmp_path)
    fs, _ = run_detector("indicator_outlier", store)
    truth = {"instances": [], "provider_fraud": [
        {"kind": "provider_overbilling", "entity": {"type": "institution", "id": "H_UP"},
         "modes": {"inflated_cost": {"claims": ["C999999"], "patients": 1, "fund": 1.0}}},
        {"kind": "provider_overbilling", "entity": {"type": "institution", "id": "H03"}, "modes": {}}],
        "hard_negatives": [{"kind": "dialysis_centre", "entities": [{"type": "institution", "id": "D1", "role": "venue"}],
                            "claims": []}]}
    ev = evaluate(truth, fs)["kinds"]["indicator_outlier"]
    assert (ev["instances"], ev["findings"], ev["recall"], ev["precision_at_k"], ev["k"]) == (2, 1, 0.5, 1.0, 2)  # P@k over the findings there are
    assert ev["missed"] == ["provider_fraud:1:institution:H03"]
    # a finding at a look-alike's venue counts as that look-alike in the top k
    import dataclasses

    from graphkit.findings import Entity

    fake = dataclasses.replace(fs[0], entities=[Entity("institution", "D1", "venue")], id="x")
    ev2 = evaluate(truth, [fake])["kinds"]["indicator_outlier"]
    assert ev2["recall"] == 0.0 and ev2["hard_negatives_in_top_k"] == {"dialysis_centre": 1}
